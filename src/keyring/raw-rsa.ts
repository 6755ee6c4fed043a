// Raw RSA keyring, byte-compatible with the ESDKs' (framework/raw-rsa-keyring.md).
//
// Encrypted data key:
//   provider id    the key namespace (UTF-8)
//   provider info  the key name (UTF-8)
//   ciphertext     RSA-encrypt(public key, padding)(data key)
//
// A public key can only wrap; unwrapping needs the private key.

import {
  constants,
  createPrivateKey,
  createPublicKey,
  KeyObject,
  privateDecrypt,
  publicEncrypt,
} from 'node:crypto';
import { NoKeyError, UsageError } from '../errors.js';
import { utf8 } from '../format/bytes.js';
import type { EncryptedDataKey } from '../format/header.js';
import type { DataKeyRequest, Keyring } from './keyring.js';

export const RSA_PADDINGS = ['pkcs1', 'oaep-sha1', 'oaep-sha256', 'oaep-sha384', 'oaep-sha512'] as const;
export type RsaPadding = (typeof RSA_PADDINGS)[number];

export class RawRsaKeyring implements Keyring {
  readonly description: string;
  private readonly nameBytes: Uint8Array;
  private readonly publicKey: KeyObject;
  private readonly privateKey: KeyObject | undefined;

  constructor(
    readonly namespace: string,
    readonly name: string,
    key: string | Buffer | KeyObject,
    readonly padding: RsaPadding,
  ) {
    if (namespace === 'aws-kms') throw new UsageError('the namespace "aws-kms" is reserved for AWS KMS keys');
    try {
      if (key instanceof KeyObject) {
        this.privateKey = key.type === 'private' ? key : undefined;
        this.publicKey = key.type === 'private' ? createPublicKey(key) : key;
      } else if (/-----BEGIN (RSA |ENCRYPTED )?PRIVATE KEY-----/.test(key.toString())) {
        this.privateKey = createPrivateKey(key);
        this.publicKey = createPublicKey(this.privateKey);
      } else {
        this.publicKey = createPublicKey(key);
      }
    } catch (e) {
      throw new UsageError(`raw RSA key ${name} is not a PEM RSA key: ${(e as Error).message.toLowerCase()}`);
    }
    if (this.publicKey.asymmetricKeyType !== 'rsa') throw new UsageError(`raw RSA key ${name} is not an RSA key`);
    this.nameBytes = utf8.encode(name);
    this.description = `raw-rsa ${namespace}/${name}`;
  }

  async wrap(dataKey: Uint8Array, _request: DataKeyRequest): Promise<EncryptedDataKey> {
    const ciphertext = publicEncrypt(this.paddingOptions(this.publicKey), dataKey);
    return { providerId: this.namespace, providerInfo: this.nameBytes, ciphertext };
  }

  claims(edk: EncryptedDataKey): boolean {
    return edk.providerId === this.namespace && Buffer.from(edk.providerInfo).equals(this.nameBytes);
  }

  async unwrap(edk: EncryptedDataKey, request: DataKeyRequest): Promise<Uint8Array> {
    if (!this.privateKey) throw new NoKeyError('a public key can only encrypt: give the private key to decrypt', []);
    let dataKey: Uint8Array | undefined;
    try {
      dataKey =
        this.padding === 'pkcs1'
          ? unpadPkcs1(privateDecrypt({ key: this.privateKey, padding: constants.RSA_NO_PADDING }, edk.ciphertext), request.suite.keyLength)
          : privateDecrypt(this.paddingOptions(this.privateKey), edk.ciphertext);
    } catch {
      dataKey = undefined;
    }
    if (!dataKey) throw new NoKeyError(`wrong key or padding (${this.padding})`, []);
    return dataKey;
  }

  private paddingOptions(key: KeyObject) {
    if (this.padding === 'pkcs1') return { key, padding: constants.RSA_PKCS1_PADDING };
    return { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: this.padding.slice('oaep-'.length) };
  }
}

/**
 * EME-PKCS1-v1_5 decoding (RFC 8017 §7.2.2) of a raw RSA decryption. Node 20
 * refuses PKCS#1 v1.5 private decryption (CVE-2023-46809, the Marvin attack on
 * servers that answer many chosen ciphertexts). The ESDKs still write such
 * messages, so decoding is done here without data-dependent branches on the
 * padding bytes and with the expected data key length, so a malformed block and
 * a wrong-length key look the same. Returns undefined on any error.
 */
function unpadPkcs1(block: Buffer, expectedLength: number): Uint8Array | undefined {
  const k = block.length;
  let bad = (block[0]! ^ 0x00) | (block[1]! ^ 0x02);
  // Find the first zero byte after the 0x00 0x02 prefix in constant time.
  let separator = 0;
  let found = 0;
  for (let i = 2; i < k; i++) {
    const isZero = ((block[i]! | -block[i]!) >>> 31) ^ 1; // 1 when block[i] == 0
    const take = isZero & (found ^ 1);
    separator |= -take & i;
    found |= isZero;
  }
  bad |= found ^ 1;
  bad |= separator < 10 ? 1 : 0; // at least 8 bytes of non-zero padding
  bad |= k - separator - 1 !== expectedLength ? 1 : 0;
  const out = Buffer.from(block.subarray(k - expectedLength));
  block.fill(0);
  if (bad !== 0) {
    out.fill(0);
    return undefined;
  }
  return out;
}
