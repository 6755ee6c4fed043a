// AWS KMS keys as keyrings, byte-compatible with the ESDK's
// (aws-encryption-sdk-specification, framework/aws-kms/aws-kms-mrk-keyring.md,
// aws-kms-discovery-keyring.md):
//
//   provider id    "aws-kms"
//   provider info  the key ARN KMS answered with (UTF-8)
//   ciphertext     KMS's CiphertextBlob, bound to the message's encryption context
//
// The keyrings talk to KMS through `KmsService`, three calls in one region, so
// src/keyring never imports the AWS SDK: src/aws/kms-service.ts implements it.

import { IntegrityError, KeyServiceError, NoKeyError, printable, UsageError } from '../errors.js';
import { utf8 } from '../format/bytes.js';
import type { EncryptionContext } from '../format/encryption-context.js';
import type { EncryptedDataKey } from '../format/header.js';
import { wipe } from '../format/kdf.js';
import type { DataKeyRequest, GeneratedDataKey, Keyring } from './keyring.js';
import { explainKmsArn, type KmsArn, type KmsIdentifier, mrkMatch, parseKmsArn } from './kms-arn.js';

export const KMS_PROVIDER_ID = 'aws-kms';

/** KMS in one region: the three calls the keyrings make. Errors are EnvelopeErrors naming the key. */
export interface KmsService {
  generateDataKey(keyId: string, numberOfBytes: number, context: EncryptionContext): Promise<{ keyId: string; plaintext: Uint8Array; ciphertext: Uint8Array }>;
  encrypt(keyId: string, plaintext: Uint8Array, context: EncryptionContext): Promise<{ keyId: string; ciphertext: Uint8Array }>;
  decrypt(keyId: string, ciphertext: Uint8Array, context: EncryptionContext): Promise<{ keyId: string; plaintext: Uint8Array }>;
}

/** The KmsService of a region; undefined: the configured one (--region, AWS_REGION, the config, the profile). */
export type KmsServices = (region: string | undefined) => Promise<KmsService>;

/** The ESDK's DiscoveryFilter: only keys of these accounts in this partition. */
export interface DiscoveryFilter {
  readonly partition: string;
  readonly accounts: readonly string[];
}

/** The provider info of a KMS wrapped key as an ARN, or why it is not a key ARN. */
function edkArn(edk: EncryptedDataKey): KmsArn | string {
  const text = Buffer.from(edk.providerInfo).toString('utf8');
  const arn = parseKmsArn(text);
  if (arn?.resourceType === 'key') return arn;
  return `wrapped key names no KMS key ARN (${printable(text)}): ${arn ? 'it is an alias ARN' : explainKmsArn(text)}`;
}

/** A KMS response's KeyId must be a key ARN: it becomes the provider info that decryption relies on. */
function responseArn(keyId: string | undefined, asked: string): string {
  if (!keyId || parseKmsArn(keyId)?.resourceType !== 'key') {
    throw new KeyServiceError(`kms key ${asked}: KMS answered with "${printable(String(keyId))}", not a key ARN`);
  }
  return keyId;
}

/** The data key KMS returned must have the suite's length (the spec's Plaintext length check). */
function checkedPlaintext(plaintext: Uint8Array, request: DataKeyRequest, key: string): Uint8Array {
  if (plaintext.length !== request.suite.keyLength) {
    wipe(plaintext);
    throw new KeyServiceError(`kms key ${key}: KMS returned a ${plaintext.length}-byte data key, the suite needs ${request.suite.keyLength}`);
  }
  return plaintext;
}

function kmsEdk(arn: string, ciphertext: Uint8Array): EncryptedDataKey {
  return { providerId: KMS_PROVIDER_ID, providerInfo: utf8.encode(arn), ciphertext };
}

/**
 * One KMS key named by -k: the strict, multi-Region-key aware keyring
 * (aws-kms-mrk-keyring.md). On decrypt it only calls KMS for wrapped keys whose
 * ARN matches its own (mrkMatch), and always with its own identifier, so a
 * replica in another region unwraps what its primary wrapped.
 */
export class KmsKeyring implements Keyring {
  readonly description: string;
  /** The region of its ARN; undefined for an alias or key id (the configured region). */
  private readonly region: string | undefined;

  constructor(
    readonly identifier: KmsIdentifier,
    private readonly services: KmsServices,
  ) {
    this.region = identifier.kind === 'arn' ? identifier.arn.region : undefined;
    this.description = `kms key ${identifier.text}`;
  }

  /** An alias or key id cannot select a wrapped key: those record key ARNs. */
  get canDecrypt(): boolean {
    return this.identifier.kind === 'arn' && this.identifier.arn.resourceType === 'key';
  }

  async generate(request: DataKeyRequest): Promise<GeneratedDataKey> {
    const kms = await this.services(this.region);
    const id = this.identifier.text;
    const response = await kms.generateDataKey(id, request.suite.keyLength, request.context);
    try {
      const arn = responseArn(response.keyId, id);
      return { dataKey: checkedPlaintext(response.plaintext, request, id), encryptedDataKey: kmsEdk(arn, response.ciphertext) };
    } catch (e) {
      wipe(response.plaintext);
      throw e;
    }
  }

  async wrap(dataKey: Uint8Array, request: DataKeyRequest): Promise<EncryptedDataKey> {
    const kms = await this.services(this.region);
    const response = await kms.encrypt(this.identifier.text, dataKey, request.context);
    return kmsEdk(responseArn(response.keyId, this.identifier.text), response.ciphertext);
  }

  /**
   * The spec's filter: provider id "aws-kms" and an ARN that MRK-matches the
   * configured identifier. A KMS wrapped key without a valid key ARN is claimed
   * so that unwrap reports it (the spec: OnDecrypt MUST fail).
   */
  claims(edk: EncryptedDataKey): boolean {
    if (edk.providerId !== KMS_PROVIDER_ID) return false;
    const arn = edkArn(edk);
    return typeof arn === 'string' || mrkMatch(this.identifier.text, arn.text);
  }

  async unwrap(edk: EncryptedDataKey, request: DataKeyRequest): Promise<Uint8Array> {
    const arn = edkArn(edk);
    if (typeof arn === 'string') throw new IntegrityError(arn);
    const id = this.identifier.text;
    const kms = await this.services(this.region);
    // KeyId is the configured key, not the message's ARN: for a multi-Region
    // key that is the replica in this keyring's region.
    const response = await kms.decrypt(id, edk.ciphertext, request.context);
    if (response.keyId !== id) {
      wipe(response.plaintext);
      throw new NoKeyError(`kms key ${id}: KMS decrypted with ${printable(String(response.keyId))}, not the requested key`, []);
    }
    return checkedPlaintext(response.plaintext, request, id);
  }
}

/**
 * --discovery: any KMS key a wrapped key names, restricted by the discovery
 * filter (aws-kms-discovery-keyring.md), each called in its own ARN's region.
 * Decrypt only.
 */
export class KmsDiscoveryKeyring implements Keyring {
  readonly description: string;

  constructor(
    private readonly services: KmsServices,
    readonly filter?: DiscoveryFilter,
  ) {
    this.description = filter
      ? `kms discovery (account ${filter.accounts.join(', ')} in partition ${filter.partition})`
      : 'kms discovery (any account)';
  }

  async wrap(): Promise<EncryptedDataKey> {
    throw new UsageError('--discovery finds keys to decrypt with: it cannot encrypt');
  }

  /** Whether the filter admits this key ARN. */
  admits(arn: KmsArn): boolean {
    return !this.filter || (arn.partition === this.filter.partition && this.filter.accounts.includes(arn.account));
  }

  claims(edk: EncryptedDataKey): boolean {
    if (edk.providerId !== KMS_PROVIDER_ID) return false;
    const arn = edkArn(edk);
    return typeof arn === 'string' || this.admits(arn);
  }

  async unwrap(edk: EncryptedDataKey, request: DataKeyRequest): Promise<Uint8Array> {
    const arn = edkArn(edk);
    if (typeof arn === 'string') throw new IntegrityError(arn);
    const kms = await this.services(arn.region);
    const response = await kms.decrypt(arn.text, edk.ciphertext, request.context);
    if (response.keyId !== arn.text) {
      wipe(response.plaintext);
      throw new NoKeyError(`kms key ${arn.text}: KMS decrypted with ${printable(String(response.keyId))}, not the key the message names`, []);
    }
    return checkedPlaintext(response.plaintext, request, arn.text);
  }
}

/**
 * What to tell a user whose message has KMS wrapped keys that none of the
 * given keyrings claimed: which -k or --discovery would, and why an alias or
 * key id given with -k cannot (the ESDK matches key ARNs only).
 */
export function unclaimedKmsHints(keyrings: readonly Keyring[], edks: readonly EncryptedDataKey[]): string[] {
  const unclaimed = edks
    .filter((edk) => edk.providerId === KMS_PROVIDER_ID && !keyrings.some((k) => k.claims(edk)))
    .map(edkArn)
    .filter((arn): arn is KmsArn => typeof arn !== 'string');
  if (unclaimed.length === 0) return [];
  const hints: string[] = [];
  for (const k of keyrings) {
    if (k instanceof KmsKeyring && !k.canDecrypt) {
      hints.push(
        `${k.description}: an alias or key id cannot select a wrapped key, which records the key ARN: give -k the key ARN (envelope inspect shows it)`,
      );
    }
  }
  const discovery = keyrings.find((k): k is KmsDiscoveryKeyring => k instanceof KmsDiscoveryKeyring);
  const first = unclaimed[0]!;
  if (discovery?.filter) {
    const where = [...new Set(unclaimed.map((a) => `account ${a.account} in partition ${a.partition}`))].join(', ');
    hints.push(`${discovery.description} admits none of the message's kms keys (${where}): add --discovery-account ${first.account}${first.partition === discovery.filter.partition ? '' : ` --discovery-partition ${first.partition}`}`);
  } else if (!discovery) {
    hints.push(`to use that kms key: -k ${first.text}`);
    hints.push(`or let the message name it: --discovery --discovery-account ${first.account}${first.partition === 'aws' ? '' : ` --discovery-partition ${first.partition}`}`);
  }
  return hints;
}
