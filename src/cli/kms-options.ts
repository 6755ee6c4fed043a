// AWS KMS as the commands use it (DESIGN §2, §4): the region and profile from
// --region/--profile, else AWS_REGION/AWS_PROFILE, else the config; the
// discovery keyring of --discovery; and the SDK, imported only when a KMS key
// is actually called, so a local decrypt never reads it.

import { UsageError } from '../errors.js';
import type { Keyring } from '../keyring/keyring.js';
import { type DiscoveryFilter, KmsDiscoveryKeyring, type KmsService, type KmsServices } from '../keyring/kms.js';
import type { Config } from './config.js';
import { startSpinner } from './progress.js';

export interface KmsFlags {
  region?: string;
  profile?: string;
  /** The configuration file's settings (added by the program, not a flag). */
  settings?: Config;
}

export interface DiscoveryFlags extends KmsFlags {
  discovery?: boolean;
  discoveryAccount?: string[];
  discoveryPartition?: string;
}

export interface KmsSettings {
  readonly region?: string;
  readonly profile?: string;
}

const REGION = /^[a-z]{2}(-[a-z0-9]+)+$/;
const ACCOUNT = /^\d{12}$/;
const PARTITION = /^aws(-[a-z]+)*$/;

/** Flags beat the environment, which beats the config; what is still unset is left to the SDK (the profile's region). */
export function kmsSettings(flags: KmsFlags, env: NodeJS.ProcessEnv = process.env): KmsSettings {
  const region = flags.region ?? (env.AWS_REGION || undefined) ?? flags.settings?.region;
  const profile = flags.profile ?? (env.AWS_PROFILE || undefined) ?? flags.settings?.profile;
  if (region !== undefined && !REGION.test(region)) {
    throw new UsageError(`"${region}" is not an AWS region`, { hints: ['a region is written like us-east-1 or eu-west-2'] });
  }
  return { ...(region ? { region } : {}), ...(profile ? { profile } : {}) };
}

type KmsModule = typeof import('../aws/kms-service.js');
let loaded: KmsModule | undefined;

/**
 * KMS by region for the keyrings: the settings are read and the SDK module is
 * imported on the first call, which a keyring makes only when it needs KMS
 * (so a stray AWS_REGION cannot fail a local decrypt), and one service is
 * kept per region.
 */
export function kmsServices(flags: KmsFlags): KmsServices {
  let settings: KmsSettings | undefined;
  const services = new Map<string, KmsService>();
  return async (region) => {
    settings ??= kmsSettings(flags);
    const where = region ?? settings.region;
    let service = services.get(where ?? '');
    if (!service) {
      loaded ??= await import('../aws/kms-service.js');
      service = withSpinner(loaded.kmsService({ ...settings, ...(where ? { region: where } : {}) }));
      services.set(where ?? '', service);
    }
    return service;
  };
}

/**
 * A network call can take a while (and the SDK retries with backoff): on a
 * terminal a spinner says what is being waited for. startSpinner does
 * nothing when stderr is not a TTY, with -q, or in CI.
 */
function withSpinner(service: KmsService): KmsService {
  const spin = <T>(what: string, call: () => Promise<T>): Promise<T> => {
    const spinner = startSpinner(`AWS KMS ${what}`);
    return call().finally(() => spinner.stop());
  };
  return {
    generateDataKey: (keyId, bytes, context) => spin(`GenerateDataKey ${keyId}`, () => service.generateDataKey(keyId, bytes, context)),
    encrypt: (keyId, plaintext, context) => spin(`Encrypt ${keyId}`, () => service.encrypt(keyId, plaintext, context)),
    decrypt: (keyId, ciphertext, context) => spin(`Decrypt ${keyId}`, () => service.decrypt(keyId, ciphertext, context)),
  };
}

/** Closes the KMS clients' connections, if KMS was used, so the process exits as soon as its work is done. */
export function closeKms(): void {
  loaded?.closeKmsClients();
}

/**
 * --discovery with its filter (the ESDK's DiscoveryFilter: a partition and at
 * least one account): accounts from --discovery-account, else the config's
 * discoveryAccounts; the partition from --discovery-partition, else aws.
 */
export function discoveryKeyrings(flags: DiscoveryFlags, services: KmsServices): Keyring[] {
  const given = flags.discoveryAccount ?? [];
  if (!flags.discovery) {
    if (given.length > 0) throw new UsageError('--discovery-account needs --discovery');
    if (flags.discoveryPartition) throw new UsageError('--discovery-partition needs --discovery');
    return [];
  }
  const accounts = given.length > 0 ? given : (flags.settings?.discoveryAccounts ?? []);
  for (const account of accounts) {
    if (!ACCOUNT.test(account)) throw new UsageError(`--discovery-account takes a 12-digit AWS account id, not "${account}"`);
  }
  if (accounts.length === 0) {
    if (flags.discoveryPartition) {
      throw new UsageError('--discovery-partition needs --discovery-account: a discovery filter is a partition and its accounts');
    }
    return [new KmsDiscoveryKeyring(services)];
  }
  const partition = flags.discoveryPartition ?? 'aws';
  if (!PARTITION.test(partition)) {
    throw new UsageError(`--discovery-partition takes an AWS partition such as aws, aws-cn or aws-us-gov, not "${partition}"`);
  }
  const filter: DiscoveryFilter = { partition, accounts: [...new Set(accounts)] };
  return [new KmsDiscoveryKeyring(services, filter)];
}
