// Backing-key material: generated, imported, sealed into a version record and
// unsealed for use. Plaintext material is zeroed by the caller after use.

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { IntegrityError, UsageError } from '../errors.js';
import { materialAad, open, seal } from './protection.js';
import type { KeySpec, KeyVersion, Origin } from './schema.js';

export interface NewMaterial {
  /** AES key bytes, or PKCS#8 DER of an RSA private key. */
  readonly secret: Buffer;
  readonly publicKey?: string;
}

const RSA_BITS: Record<Exclude<KeySpec, 'AES_256'>, number> = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 };

export function generateMaterial(spec: KeySpec): NewMaterial {
  if (spec === 'AES_256') return { secret: randomBytes(32) };
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: RSA_BITS[spec] });
  return {
    secret: privateKey.export({ format: 'der', type: 'pkcs8' }),
    publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** Checks imported material: 256-bit for AES_256 keys (as KMS imports). */
export function importedMaterial(spec: KeySpec, bytes: Buffer): NewMaterial {
  if (spec !== 'AES_256') throw new UsageError('only AES_256 keys take imported material');
  if (bytes.length !== 32) throw new UsageError(`imported key material must be 256 bits, got ${bytes.length * 8}`);
  return { secret: Buffer.from(bytes) };
}

export function sealVersion(
  storeKey: Uint8Array,
  ids: { keystoreId: string; keyId: string; spec: KeySpec },
  version: number,
  material: NewMaterial,
  origin: Origin,
  now: Date,
): KeyVersion {
  return {
    Version: version,
    CreationDate: now.toISOString(),
    Origin: origin,
    Material: seal(storeKey, material.secret, materialAad(ids.keystoreId, ids.keyId, version, ids.spec)),
    ...(material.publicKey ? { PublicKey: material.publicKey } : {}),
  };
}

export function unsealVersion(
  storeKey: Uint8Array,
  ids: { keystoreId: string; keyId: string; spec: KeySpec },
  version: KeyVersion,
): Buffer {
  if (!version.Material) throw new IntegrityError(`key ${ids.keyId} version ${version.Version} has no material`);
  const secret = open(storeKey, version.Material, materialAad(ids.keystoreId, ids.keyId, version.Version, ids.spec));
  if (!secret) {
    throw new IntegrityError(`key ${ids.keyId} version ${version.Version} does not authenticate: the keystore record was edited or swapped`);
  }
  return secret;
}

export function rsaPublicPem(version: KeyVersion, secret?: Buffer): string {
  if (version.PublicKey) return version.PublicKey;
  if (!secret) throw new IntegrityError('RSA key version has no public key');
  return createPublicKey(createPrivateKey({ key: secret, format: 'der', type: 'pkcs8' }))
    .export({ format: 'pem', type: 'spki' })
    .toString();
}
