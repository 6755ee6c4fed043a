// From key specifiers to keyrings (DESIGN §2). Adding a key provider is one
// file and one line in PROVIDERS.

import { UsageError } from '../errors.js';
import type { Keystore } from '../keystore/keystore.js';
import { decodeSymmetricKey, readKeyFile } from './key-file.js';
import type { Keyring } from './keyring.js';
import { KmsKeyring, type KmsServices } from './kms.js';
import { explainKmsArn, parseKmsIdentifier } from './kms-arn.js';
import { LocalKeyring } from './local.js';
import { RawAesKeyring } from './raw-aes.js';
import { RSA_PADDINGS, RawRsaKeyring, type RsaPadding } from './raw-rsa.js';
import { type KeySpecifier, parseFields, splitSpecifier } from './specifier.js';

/** What providers may need from the command that opens them. */
export interface KeyringEnvironment {
  /** The local keystore, opened on first use. */
  keystore(): Keystore;
  /**
   * AWS KMS by region (undefined: the configured region), the SDK loaded on
   * first use; absent where KMS keys cannot be used.
   */
  kms?: KmsServices;
}

interface KeyProvider {
  readonly usage: string;
  matches(spec: KeySpecifier): boolean;
  open(spec: KeySpecifier, env: KeyringEnvironment): Promise<Keyring>;
}

const rawAes: KeyProvider = {
  usage: 'raw-aes:file=PATH,namespace=NS,name=NAME',
  matches: (spec) => spec.scheme === 'raw-aes',
  async open(spec) {
    const f = parseFields(spec, ['file', 'namespace', 'name'], ['file', 'namespace', 'name']);
    const key = decodeSymmetricKey(await readKeyFile(f.file!));
    if (!key) {
      throw new UsageError(`key file ${f.file} does not hold a 128, 192 or 256-bit AES key`, {
        hints: ['write the key as 16, 24 or 32 raw bytes, or as hex or base64 text'],
      });
    }
    return new RawAesKeyring(f.namespace!, f.name!, key);
  },
};

const rawRsa: KeyProvider = {
  usage: 'raw-rsa:file=PEM,namespace=NS,name=NAME[,padding=oaep-sha256]',
  matches: (spec) => spec.scheme === 'raw-rsa',
  async open(spec) {
    const f = parseFields(spec, ['file', 'namespace', 'name', 'padding'], ['file', 'namespace', 'name']);
    const padding = (f.padding ?? 'oaep-sha256').toLowerCase();
    if (!RSA_PADDINGS.includes(padding as RsaPadding)) {
      throw new UsageError(`bad key specifier "${spec.text}": unknown padding "${f.padding}"`, {
        hints: [`padding is one of ${RSA_PADDINGS.join(', ')}`],
      });
    }
    return new RawRsaKeyring(f.namespace!, f.name!, await readKeyFile(f.file!), padding as RsaPadding);
  },
};

const KMS_ARN = /^arn:[^:]+:kms:/;

/** A KMS key ARN or alias ARN (any partition), or `kms:` and an alias, key id or ARN. */
const kms: KeyProvider = {
  usage: 'arn:aws:kms:REGION:ACCOUNT:key/ID, arn:aws:kms:REGION:ACCOUNT:alias/NAME, kms:alias/NAME or kms:KEY-ID (AWS KMS)',
  matches: (spec) => spec.scheme === 'kms' || KMS_ARN.test(spec.text),
  async open(spec, env) {
    const text = spec.scheme === 'kms' ? spec.rest : spec.text;
    const identifier = parseKmsIdentifier(text);
    if (!identifier) {
      const why = text.startsWith('arn:') ? explainKmsArn(text) : 'a kms key is alias/NAME, a key id or an ARN';
      throw new UsageError(`bad key specifier "${spec.text}": ${why}`, {
        hints: ['a kms key is arn:aws:kms:REGION:ACCOUNT:key/ID, arn:aws:kms:REGION:ACCOUNT:alias/NAME, kms:alias/NAME or kms:KEY-ID'],
      });
    }
    if (!env.kms) throw new UsageError(`kms key ${spec.text} cannot be used here`);
    return new KmsKeyring(identifier, env.kms);
  },
};

/** `alias/NAME`, a KeyId, their `local:` forms, or a local key ARN. */
const local: KeyProvider = {
  usage: 'alias/NAME, a key id, local:alias/NAME or local:KEY-ID (the local keystore)',
  matches: (spec) => spec.scheme === 'local' || spec.scheme === '' || spec.text.startsWith('arn:envelope:local:'),
  open(spec, env) {
    const ref = spec.scheme === 'local' ? spec.rest : spec.text;
    return LocalKeyring.open(env.keystore(), ref);
  },
};

const PROVIDERS: readonly KeyProvider[] = [rawAes, rawRsa, kms, local];

export const KEY_USAGES: readonly string[] = PROVIDERS.map((p) => p.usage);

export function isLocalSpecifier(text: string): boolean {
  return local.matches(splitSpecifier(text));
}

export async function openKeyring(text: string, env: KeyringEnvironment): Promise<Keyring> {
  const spec = splitSpecifier(text);
  const provider = PROVIDERS.find((p) => p.matches(spec));
  if (!provider) {
    throw new UsageError(`unknown key "${text}"`, { hints: KEY_USAGES.map((u) => `a key is ${u}`) });
  }
  return provider.open(spec, env);
}

export function openKeyrings(texts: readonly string[], env: KeyringEnvironment): Promise<Keyring[]> {
  return Promise.all(texts.map((t) => openKeyring(t, env)));
}
