// Keys of the local keystore as a keyring. Wrapping is the ESDK raw AES keyring
// (AES_256 keys) or raw RSA keyring with OAEP-SHA256 (RSA keys), under the fixed
// namespace `envelope-local` and the key name `<KeyId>/<version>` (DESIGN §3):
// with one exported version and those two strings any ESDK can decrypt.

import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import type { EncryptedDataKey } from '../format/header.js';
import { wipe } from '../format/kdf.js';
import { KEY_ID } from '../keystore/key-ref.js';
import type { Keystore } from '../keystore/keystore.js';
import type { KeyRecord, KeyVersion, Operation } from '../keystore/schema.js';
import type { DataKeyRequest, GeneratedDataKey, Keyring } from './keyring.js';
import { parseRawAesProviderInfo, RawAesKeyring } from './raw-aes.js';
import { RawRsaKeyring } from './raw-rsa.js';

export const LOCAL_NAMESPACE = 'envelope-local';
const RSA_PADDING = 'oaep-sha256';

/** `<KeyId>/<version>` from a wrapped key's provider info, if it is one of ours. */
export function localKeyName(edk: EncryptedDataKey): { keyId: string; version: number } | undefined {
  if (edk.providerId !== LOCAL_NAMESPACE) return undefined;
  const aes = parseRawAesProviderInfo(edk.providerInfo);
  const name = Buffer.from(aes ? aes.name : edk.providerInfo).toString('utf8');
  const m = /^([0-9a-zA-Z-]{36})\/(\d{1,9})$/.exec(name); // no i flag: key-ref.ts says why
  if (!m || !KEY_ID.test(m[1]!)) return undefined;
  return { keyId: m[1]!.toLowerCase(), version: Number(m[2]) };
}

function versionKeyring(record: KeyRecord, version: KeyVersion, secret: Buffer): Keyring {
  const name = `${record.KeyId}/${version.Version}`;
  if (record.KeySpec === 'AES_256') return new RawAesKeyring(LOCAL_NAMESPACE, name, secret);
  const key =
    secret.length > 0
      ? createPrivateKey({ key: secret, format: 'der', type: 'pkcs8' })
      : createPublicKey(version.PublicKey ?? '');
  return new RawRsaKeyring(LOCAL_NAMESPACE, name, key, RSA_PADDING);
}

export class LocalKeyring implements Keyring {
  readonly description: string;

  /**
   * `keyId` undefined: the keyring of decryption that accepts any local key the
   * message names (DESIGN §2: local keys need no -k on decrypt).
   */
  private constructor(
    private readonly keystore: Keystore,
    private readonly keyId: string | undefined,
    label: string,
  ) {
    this.description = label;
  }

  static async open(keystore: Keystore, ref: string): Promise<LocalKeyring> {
    const { record } = await keystore.key(ref);
    const label = ref === record.KeyId ? `local key ${ref}` : `local key ${ref} (${record.KeyId})`;
    return new LocalKeyring(keystore, record.KeyId, label);
  }

  static anyKey(keystore: Keystore): LocalKeyring {
    return new LocalKeyring(keystore, undefined, `local keystore ${keystore.dir}`);
  }

  async generate(request: DataKeyRequest): Promise<GeneratedDataKey> {
    const dataKey = randomBytes(request.suite.keyLength);
    try {
      return { dataKey, encryptedDataKey: await this.wrapAs(dataKey, request, 'generate-data-key') };
    } catch (e) {
      wipe(dataKey);
      throw e;
    }
  }

  wrap(dataKey: Uint8Array, request: DataKeyRequest): Promise<EncryptedDataKey> {
    return this.wrapAs(dataKey, request, 'encrypt');
  }

  private async wrapAs(dataKey: Uint8Array, request: DataKeyRequest, operation: Operation): Promise<EncryptedDataKey> {
    if (!this.keyId) throw new Error('the any-key local keyring cannot encrypt');
    const { record } = await this.keystore.key(this.keyId);
    return this.keystore.withKeyForEncrypt(
      this.keyId,
      operation,
      request.context,
      (use) => versionKeyring(use.record, use.version, use.secret).wrap(dataKey, request),
      // An RSA key wraps with its public half: no passphrase needed to encrypt.
      { needSecret: record.KeySpec === 'AES_256' },
    );
  }

  claims(edk: EncryptedDataKey): boolean {
    const name = localKeyName(edk);
    return name !== undefined && (this.keyId === undefined || name.keyId === this.keyId);
  }

  async unwrap(edk: EncryptedDataKey, request: DataKeyRequest): Promise<Uint8Array> {
    const name = localKeyName(edk)!;
    return this.keystore.withKeyForDecrypt(name.keyId, name.version, 'decrypt', request.context, (use) =>
      versionKeyring(use.record, use.version, use.secret).unwrap(edk, request),
    );
  }
}
