// Protection at rest (DESIGN §3). All key material is sealed with AES-256-GCM
// under a random 32-byte store key. Without a passphrase the store key sits in
// the keystore file (plaintext at rest, guarded by mode 0600, like an age
// identity); with one, it is wrapped under scrypt(passphrase) and the scrypt
// parameters are recorded beside it.
//
// Each sealed record binds, as AAD, the keystore id, key id, version and key
// spec, so a record edited, or moved to another key or version, fails to open.

import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { IntegrityError, KeyAccessError } from '../errors.js';
import { utf8 } from '../format/bytes.js';

export interface Sealed {
  /** base64 of IV (12) || ciphertext || tag (16) */
  readonly sealed: string;
}

export interface ScryptParams {
  readonly name: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string;
}

export type Protection =
  | { readonly kind: 'none'; readonly storeKey: string }
  | { readonly kind: 'passphrase'; readonly kdf: ScryptParams; readonly wrappedStoreKey: Sealed };

/** scrypt cost for new passphrases: N = 2^17 (128 MiB, about 0.3 s here), as age's default order. */
export const DEFAULT_SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;
const MAX_SCRYPT_N = 2 ** 22;

export function seal(key: Uint8Array, plaintext: Uint8Array, aad: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(utf8.encode(aad));
  const body = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { sealed: body.toString('base64') };
}

/** Opens a sealed record; undefined when it does not authenticate. */
export function open(key: Uint8Array, record: Sealed, aad: string): Buffer | undefined {
  const body = Buffer.from(record.sealed ?? '', 'base64');
  if (body.length < 28) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, 12));
  decipher.setAAD(utf8.encode(aad));
  decipher.setAuthTag(body.subarray(body.length - 16));
  const out = decipher.update(body.subarray(12, body.length - 16));
  try {
    decipher.final();
    return out;
  } catch {
    out.fill(0);
    return undefined;
  }
}

export function materialAad(keystoreId: string, keyId: string, version: number, keySpec: string): string {
  return `envelope-keystore/v1 material ${keystoreId} ${keyId} ${version} ${keySpec}`;
}

function storeKeyAad(keystoreId: string): string {
  return `envelope-keystore/v1 store-key ${keystoreId}`;
}

function deriveKek(passphrase: string, kdf: ScryptParams): Promise<Buffer> {
  if (kdf.name !== 'scrypt' || !(kdf.N > 1 && kdf.N <= MAX_SCRYPT_N) || kdf.r < 1 || kdf.r > 32 || kdf.p < 1 || kdf.p > 16) {
    throw new IntegrityError('keystore records scrypt parameters out of range');
  }
  return new Promise((resolve, reject) =>
    scryptCallback(
      passphrase.normalize('NFC'),
      Buffer.from(kdf.salt, 'base64'),
      32,
      { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

export function newStoreKey(): Buffer {
  return randomBytes(32);
}

export async function protect(
  keystoreId: string,
  storeKey: Uint8Array,
  passphrase: string | undefined,
  cost: { N: number; r: number; p: number } = DEFAULT_SCRYPT,
): Promise<Protection> {
  if (passphrase === undefined) return { kind: 'none', storeKey: Buffer.from(storeKey).toString('base64') };
  const kdf: ScryptParams = { name: 'scrypt', ...cost, salt: randomBytes(16).toString('base64') };
  const kek = await deriveKek(passphrase, kdf);
  try {
    return { kind: 'passphrase', kdf, wrappedStoreKey: seal(kek, storeKey, storeKeyAad(keystoreId)) };
  } finally {
    kek.fill(0);
  }
}

/** Recovers the store key; `getPassphrase` is asked only for a protected keystore. */
export async function unlock(
  keystoreId: string,
  protection: Protection,
  getPassphrase: () => Promise<string>,
): Promise<Buffer> {
  if (protection.kind === 'none') {
    const key = Buffer.from(protection.storeKey, 'base64');
    if (key.length !== 32) throw new IntegrityError('keystore store key is malformed');
    return key;
  }
  const kek = await deriveKek(await getPassphrase(), protection.kdf);
  try {
    const key = open(kek, protection.wrappedStoreKey, storeKeyAad(keystoreId));
    if (!key) throw new KeyAccessError('wrong passphrase for the keystore');
    return key;
  } finally {
    kek.fill(0);
  }
}
