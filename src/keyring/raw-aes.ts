// Raw AES keyring, byte-compatible with the ESDKs' (framework/raw-aes-keyring.md).
//
// Encrypted data key:
//   provider id    the key namespace (UTF-8)
//   provider info  key name (UTF-8) | tag length in bits (4, BE) = 128 | IV length (4, BE) = 12 | IV (12)
//   ciphertext     AES-GCM(wrapping key, IV, AAD = serialized encryption context)(data key) || tag (16)

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { IntegrityError, NoKeyError, UsageError } from '../errors.js';
import { ByteBuilder, utf8 } from '../format/bytes.js';
import { IV_LENGTH, TAG_LENGTH } from '../format/constants.js';
import { serializeContext } from '../format/encryption-context.js';
import type { EncryptedDataKey } from '../format/header.js';
import type { DataKeyRequest, Keyring } from './keyring.js';

const INFO_SUFFIX_LENGTH = 4 + 4 + IV_LENGTH;
const CIPHERS = { 16: 'aes-128-gcm', 24: 'aes-192-gcm', 32: 'aes-256-gcm' } as const;

/** Splits raw AES provider info into key name and IV; undefined if it is not of that shape. */
export function parseRawAesProviderInfo(info: Uint8Array): { name: Uint8Array; iv: Uint8Array } | undefined {
  if (info.length < INFO_SUFFIX_LENGTH) return undefined;
  const at = info.length - INFO_SUFFIX_LENGTH;
  const view = new DataView(info.buffer, info.byteOffset, info.byteLength);
  if (view.getUint32(at) !== TAG_LENGTH * 8 || view.getUint32(at + 4) !== IV_LENGTH) return undefined;
  return { name: info.subarray(0, at), iv: info.subarray(at + 8) };
}

export class RawAesKeyring implements Keyring {
  readonly description: string;
  private readonly nameBytes: Uint8Array;
  private readonly cipher: (typeof CIPHERS)[keyof typeof CIPHERS];

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly wrappingKey: Uint8Array,
    private readonly random: (n: number) => Uint8Array = randomBytes,
  ) {
    const cipher = CIPHERS[wrappingKey.length as keyof typeof CIPHERS];
    if (!cipher) throw new UsageError(`raw AES key must be 16, 24 or 32 bytes, got ${wrappingKey.length}`);
    if (namespace === 'aws-kms') throw new UsageError('the namespace "aws-kms" is reserved for AWS KMS keys');
    this.cipher = cipher;
    this.nameBytes = utf8.encode(name);
    this.description = `raw-aes ${namespace}/${name}`;
  }

  async wrap(dataKey: Uint8Array, request: DataKeyRequest): Promise<EncryptedDataKey> {
    const iv = this.random(IV_LENGTH);
    const cipher = createCipheriv(this.cipher, this.wrappingKey, iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(serializeContext(request.context));
    const ciphertext = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
    const providerInfo = new ByteBuilder()
      .raw(this.nameBytes)
      .u32(TAG_LENGTH * 8)
      .u32(IV_LENGTH)
      .raw(iv)
      .build();
    return { providerId: this.namespace, providerInfo, ciphertext };
  }

  claims(edk: EncryptedDataKey): boolean {
    if (edk.providerId !== this.namespace) return false;
    const parsed = parseRawAesProviderInfo(edk.providerInfo);
    return parsed !== undefined && Buffer.from(parsed.name).equals(this.nameBytes);
  }

  async unwrap(edk: EncryptedDataKey, request: DataKeyRequest): Promise<Uint8Array> {
    const parsed = parseRawAesProviderInfo(edk.providerInfo);
    if (!parsed) throw new IntegrityError('wrapped key has malformed provider info');
    if (edk.ciphertext.length !== request.suite.keyLength + TAG_LENGTH) {
      throw new NoKeyError('wrapped key has the wrong length for the suite', []);
    }
    const aad = serializeContext(request.context);
    const dataKey = this.open(edk.ciphertext, parsed.iv, aad) ?? this.openLocaleSorted(edk.ciphertext, parsed.iv, request.context, aad);
    if (!dataKey) throw new NoKeyError('wrong key, or the encryption context differs from the one it was wrapped with', []);
    return dataKey;
  }

  private open(ciphertext: Uint8Array, iv: Uint8Array, aad: Uint8Array): Buffer | undefined {
    const split = ciphertext.length - TAG_LENGTH;
    const decipher = createDecipheriv(this.cipher, this.wrappingKey, iv, { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(ciphertext.subarray(split));
    const out = decipher.update(ciphertext.subarray(0, split));
    try {
      return Buffer.concat([out, decipher.final()]);
    } catch {
      return undefined;
    } finally {
      out.fill(0);
    }
  }

  /**
   * The ESDK for JavaScript, unless told `utf8Sorting`, binds a raw AES wrapped
   * key to the context sorted with localeCompare rather than by UTF-8 bytes
   * (aws-encryption-sdk-javascript#428). Where the two orders differ, its
   * messages open only with that serialization, so it is tried second.
   */
  private openLocaleSorted(ciphertext: Uint8Array, iv: Uint8Array, context: DataKeyRequest['context'], specAad: Uint8Array) {
    const aad = serializeContext(context, (a, b) => a.localeCompare(b));
    return Buffer.compare(aad, specAad) === 0 ? undefined : this.open(ciphertext, iv, aad);
  }
}
