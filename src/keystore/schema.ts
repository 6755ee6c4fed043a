// The keystore file, keystore.json (mode 0600, in a 0700 directory):
//
//   { "format": "envelope-keystore", "version": 1, "keystoreId": UUID,
//     "created": ISO date, "protection": Protection (protection.ts),
//     "keys": { KeyId: KeyRecord }, "aliases": { "alias/NAME": KeyId } }
//
// Key records use AWS KMS KeyMetadata field names where one exists, so
// `keys show --json` reads like `aws kms describe-key`.

import { IntegrityError } from '../errors.js';
import type { Protection, Sealed } from './protection.js';

export const KEY_SPECS = ['AES_256', 'RSA_2048', 'RSA_3072', 'RSA_4096'] as const;
export type KeySpec = (typeof KEY_SPECS)[number];
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'PendingImport';
/** Generated here, or imported material (KMS: AWS_KMS / EXTERNAL). */
export type Origin = 'ENVELOPE' | 'EXTERNAL';

export const OPERATIONS = ['encrypt', 'decrypt', 'generate-data-key', 're-encrypt', 'rotate', 'manage'] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface ContextCondition {
  readonly key: string;
  readonly value?: string;
}

export interface KeyPolicy {
  readonly allow: readonly Operation[];
  readonly requireContext: readonly ContextCondition[];
}

export interface KeyVersion {
  readonly Version: number;
  readonly CreationDate: string;
  readonly Origin: Origin;
  /** Sealed raw key (AES) or PKCS#8 DER private key (RSA); absent once destroyed. */
  readonly Material?: Sealed;
  /** RSA only: SPKI PEM, so public operations need no unsealing. */
  readonly PublicKey?: string;
  /** How a version after the first came to be (KMS ListKeyRotations); absent for imports and older keystores. */
  readonly RotationType?: RotationType;
}

export type RotationType = 'AUTOMATIC' | 'ON_DEMAND';

export interface KeyRecord {
  readonly KeyId: string;
  readonly Arn: string;
  readonly Description: string;
  readonly Tags: Readonly<Record<string, string>>;
  readonly CreationDate: string;
  readonly KeySpec: KeySpec;
  readonly KeyUsage: 'ENCRYPT_DECRYPT';
  readonly Origin: Origin;
  readonly KeyState: KeyState;
  readonly DeletionDate?: string;
  readonly Exportable: boolean;
  readonly Rotation: { readonly Enabled: boolean; readonly PeriodDays: number; readonly NextRotationDate?: string };
  readonly PrimaryVersion: number;
  readonly Versions: readonly KeyVersion[];
  readonly Policy: KeyPolicy;
  /** A multi-region key (KeyId mrk-…): `envelope serve` shows it in every region. */
  readonly MultiRegion?: boolean;
}

export interface StoreFile {
  readonly format: 'envelope-keystore';
  readonly version: 1;
  readonly keystoreId: string;
  readonly created: string;
  readonly protection: Protection;
  readonly keys: Readonly<Record<string, KeyRecord>>;
  readonly aliases: Readonly<Record<string, string>>;
}

export const DEFAULT_POLICY: KeyPolicy = { allow: OPERATIONS, requireContext: [] };

/** Checks the shape of a parsed keystore.json; a hand-edited file that does not fit is refused. */
export function parseStoreFile(text: string, path: string): StoreFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new IntegrityError(`keystore file ${path} is not valid JSON`);
  }
  const bad = (what: string) => new IntegrityError(`keystore file ${path} is malformed: ${what}`);
  const s = data as Partial<StoreFile>;
  if (typeof s !== 'object' || s === null || s.format !== 'envelope-keystore') throw bad('not an envelope keystore');
  if (s.version !== 1) throw bad(`unsupported version ${String(s.version)}`);
  if (typeof s.keystoreId !== 'string' || typeof s.keys !== 'object' || s.keys === null) throw bad('missing fields');
  if (typeof s.aliases !== 'object' || s.aliases === null) throw bad('missing aliases');
  const p = s.protection as Protection | undefined;
  if (!p || (p.kind !== 'none' && p.kind !== 'passphrase')) throw bad('unknown protection');
  for (const [id, k] of Object.entries(s.keys)) {
    if (!k || k.KeyId !== id || !KEY_SPECS.includes(k.KeySpec) || !Array.isArray(k.Versions)) throw bad(`key ${id}`);
  }
  for (const [alias, id] of Object.entries(s.aliases)) {
    if (!s.keys[id]) throw bad(`alias ${alias} names a missing key`);
  }
  return s as StoreFile;
}
