// The 11 algorithm suites of the AWS Encryption SDK
// (aws-encryption-sdk-specification framework/algorithm-suites.md).

import { FormatError } from '../errors.js';
import { MessageVersion } from './constants.js';

export type Kdf = 'identity' | 'hkdf-sha256' | 'hkdf-sha384' | 'hkdf-sha512';
export type Curve = 'P-256' | 'P-384';

export interface AlgorithmSuite {
  readonly id: number;
  readonly name: string;
  readonly messageVersion: MessageVersion;
  /** node:crypto cipher name for the bulk AEAD. */
  readonly cipher: 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm';
  /** Data key and derived key length in bytes. */
  readonly keyLength: 16 | 24 | 32;
  readonly kdf: Kdf;
  readonly committing: boolean;
  /** ECDSA curve and hash of the footer signature, when the suite signs. */
  readonly signature?: { readonly curve: Curve; readonly hash: 'sha256' | 'sha384' };
}

function suite(
  id: number,
  name: string,
  keyLength: 16 | 24 | 32,
  kdf: Kdf,
  signature?: AlgorithmSuite['signature'],
): AlgorithmSuite {
  const committing = kdf === 'hkdf-sha512';
  return Object.freeze({
    id,
    name,
    messageVersion: committing ? MessageVersion.V2 : MessageVersion.V1,
    cipher: `aes-${keyLength * 8}-gcm` as AlgorithmSuite['cipher'],
    keyLength,
    kdf,
    committing,
    ...(signature ? { signature: Object.freeze(signature) } : {}),
  });
}

const P256 = { curve: 'P-256', hash: 'sha256' } as const;
const P384 = { curve: 'P-384', hash: 'sha384' } as const;

export const SUITES: readonly AlgorithmSuite[] = Object.freeze([
  suite(0x0014, 'AES_128_GCM_IV12_TAG16_NO_KDF', 16, 'identity'),
  suite(0x0046, 'AES_192_GCM_IV12_TAG16_NO_KDF', 24, 'identity'),
  suite(0x0078, 'AES_256_GCM_IV12_TAG16_NO_KDF', 32, 'identity'),
  suite(0x0114, 'AES_128_GCM_IV12_TAG16_HKDF_SHA256', 16, 'hkdf-sha256'),
  suite(0x0146, 'AES_192_GCM_IV12_TAG16_HKDF_SHA256', 24, 'hkdf-sha256'),
  suite(0x0178, 'AES_256_GCM_IV12_TAG16_HKDF_SHA256', 32, 'hkdf-sha256'),
  suite(0x0214, 'AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256', 16, 'hkdf-sha256', P256),
  suite(0x0346, 'AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384', 24, 'hkdf-sha384', P384),
  suite(0x0378, 'AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384', 32, 'hkdf-sha384', P384),
  suite(0x0478, 'AES_256_GCM_HKDF_SHA512_COMMIT_KEY', 32, 'hkdf-sha512'),
  suite(0x0578, 'AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384', 32, 'hkdf-sha512', P384),
]);

/** Default for encryption: committing, unsigned (DESIGN §1). */
export const DEFAULT_SUITE_ID = 0x0478;
/** Default when signing is asked for. */
export const DEFAULT_SIGNED_SUITE_ID = 0x0578;
/** Default under forbid-encrypt-allow-decrypt, as the ESDKs. */
export const DEFAULT_NON_COMMITTING_SUITE_ID = 0x0378;

const byId = new Map(SUITES.map((s) => [s.id, s]));

export function suiteById(id: number): AlgorithmSuite {
  const found = byId.get(id);
  if (!found) throw new FormatError(`unsupported algorithm suite 0x${hex4(id)}`);
  return found;
}

export function hex4(id: number): string {
  return id.toString(16).padStart(4, '0');
}

/**
 * Accepts a suite id in hex (`0x0578`, `0578`, `578`) or an ESDK name, case-insensitively.
 * Returns undefined for anything else so the caller can word a usage error.
 */
export function findSuite(text: string): AlgorithmSuite | undefined {
  const t = text.trim();
  const upper = t.toUpperCase();
  const named = SUITES.find((s) => s.name === upper);
  if (named) return named;
  if (/^(0x)?[0-9a-f]{1,4}$/i.test(t)) return byId.get(Number.parseInt(t.replace(/^0x/i, ''), 16));
  return undefined;
}
