// From key specifiers to keyrings. Adding a key provider is one file and one
// line in PROVIDERS.

import { UsageError } from '../errors.js';
import { decodeSymmetricKey, readKeyFile } from './key-file.js';
import type { Keyring } from './keyring.js';
import { RawAesKeyring } from './raw-aes.js';
import { RSA_PADDINGS, RawRsaKeyring, type RsaPadding } from './raw-rsa.js';
import { type KeySpecifier, parseFields, splitSpecifier } from './specifier.js';

interface KeyProvider {
  readonly scheme: string;
  readonly usage: string;
  open(spec: KeySpecifier): Promise<Keyring>;
}

const rawAes: KeyProvider = {
  scheme: 'raw-aes',
  usage: 'raw-aes:file=PATH,namespace=NS,name=NAME',
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
  scheme: 'raw-rsa',
  usage: 'raw-rsa:file=PEM,namespace=NS,name=NAME[,padding=oaep-sha256]',
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

const PROVIDERS: readonly KeyProvider[] = [rawAes, rawRsa];

export async function openKeyring(text: string): Promise<Keyring> {
  const spec = splitSpecifier(text);
  const provider = PROVIDERS.find((p) => p.scheme === spec.scheme);
  if (!provider) {
    throw new UsageError(`unknown key "${text}"`, {
      hints: PROVIDERS.map((p) => `a key is ${p.usage}`),
    });
  }
  return provider.open(spec);
}

export function openKeyrings(texts: readonly string[]): Promise<Keyring[]> {
  return Promise.all(texts.map(openKeyring));
}
