// Key lifecycle operations of the local keystore, each one locked update
// (DESIGN §3; KMS EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion,
// CreateAlias/UpdateAlias/DeleteAlias, PutKeyPolicy, ImportKeyMaterial,
// RotateKeyOnDemand, EnableKeyRotation/DisableKeyRotation).

import { NoKeyError, UsageError } from '../errors.js';
import { aliasTaken, type DraftKey, type Keystore, rotateDraft, wrongState } from './keystore.js';
import { assertAliasName, findKey } from './key-ref.js';
import { type NewMaterial, sealVersion } from './material.js';
import { isRotationDue, MAX_ROTATION_DAYS, MIN_ROTATION_DAYS, nextRotationDate } from './rotation.js';
import type { KeyPolicy, KeyRecord, RotationType, StoreFile } from './schema.js';

export const MIN_DELETION_DAYS = 7;
export const MAX_DELETION_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

export function enableKey(ks: Keystore, ref: string): Promise<void> {
  return ks.editKey(ref, { name: 'enable-key', policy: 'manage', states: ['Enabled', 'Disabled'] }, (key) => {
    key.KeyState = 'Enabled';
  });
}

export function disableKey(ks: Keystore, ref: string): Promise<void> {
  return ks.editKey(ref, { name: 'disable-key', policy: 'manage', states: ['Enabled', 'Disabled'] }, (key) => {
    key.KeyState = 'Disabled';
  });
}

export function scheduleDeletion(ks: Keystore, ref: string, days: number, now: Date): Promise<string> {
  if (!Number.isInteger(days) || days < MIN_DELETION_DAYS || days > MAX_DELETION_DAYS) {
    throw new UsageError(`the waiting period is ${MIN_DELETION_DAYS} to ${MAX_DELETION_DAYS} days, not ${days}`);
  }
  return ks.editKey(ref, { name: 'schedule-key-deletion', policy: 'manage', states: ['Enabled', 'Disabled', 'PendingImport'] }, (key) => {
    key.KeyState = 'PendingDeletion';
    key.DeletionDate = new Date(now.getTime() + days * DAY_MS).toISOString();
    return key.DeletionDate;
  });
}

export function cancelDeletion(ks: Keystore, ref: string): Promise<void> {
  return ks.editKey(ref, { name: 'cancel-key-deletion', policy: 'manage', states: ['PendingDeletion'] }, (key) => {
    key.KeyState = 'Disabled';
    delete key.DeletionDate;
  });
}

/** Points an alias at a key, creating or moving it. */
export function setAlias(ks: Keystore, alias: string, ref: string, { move }: { move: boolean }): Promise<void> {
  assertAliasName(alias);
  return ks.editKey(ref, { name: 'create-alias', policy: 'manage' }, (key, draft) => {
    const current = draft.aliases[alias];
    if (current && current !== key.KeyId && !move) throw aliasTaken(alias);
    draft.aliases[alias] = key.KeyId;
  });
}

export function deleteAlias(ks: Keystore, alias: string): Promise<void> {
  assertAliasName(alias);
  return ks.update(async (draft) => {
    const keyId = draft.aliases[alias];
    if (!keyId) throw new NoKeyError(`no alias ${alias} in the local keystore`, []);
    delete draft.aliases[alias];
    return { result: undefined, audit: [{ operation: 'delete-alias', keyId, outcome: 'success' }] };
  });
}

/** Sets a key's policy. Always allowed, so a key cannot lock itself out of its own guard rail. */
export function setPolicy(ks: Keystore, ref: string, policy: KeyPolicy): Promise<void> {
  return ks.update(async (draft) => {
    const key = findKey(draft as StoreFile, ref) as DraftKey;
    key.Policy = { allow: [...policy.allow], requireContext: policy.requireContext.map((c) => ({ ...c })) };
    return { result: undefined, audit: [{ operation: 'put-key-policy', keyId: key.KeyId, outcome: 'success' }] };
  });
}

/** A new primary backing version (KMS RotateKeyOnDemand). Keys with imported material rotate by import only. */
export function rotateKey(ks: Keystore, ref: string, now: Date, type: RotationType = 'ON_DEMAND'): Promise<number> {
  return ks.editKey(ref, { name: 'rotate-key', policy: 'rotate', states: ['Enabled'], unlockFirst: true }, (key, draft, storeKey) => {
    if (key.Origin === 'EXTERNAL') {
      throw new UsageError(`key ${key.KeyId} has imported material: rotate it by importing new material`, {
        hints: [`envelope keys import ${key.KeyId} FILE`],
      });
    }
    return rotateDraft(draft, key, storeKey, now, type);
  });
}

/** Turns automatic rotation on with a period, or off (KMS EnableKeyRotation / DisableKeyRotation). */
export function scheduleRotation(ks: Keystore, ref: string, days: number | undefined, now: Date): Promise<void> {
  if (days !== undefined && (!Number.isInteger(days) || days < MIN_ROTATION_DAYS || days > MAX_ROTATION_DAYS)) {
    throw new UsageError(`the rotation period is ${MIN_ROTATION_DAYS} to ${MAX_ROTATION_DAYS} days, not ${days}`);
  }
  return ks.editKey(ref, { name: days === undefined ? 'disable-key-rotation' : 'enable-key-rotation', policy: 'rotate', states: ['Enabled', 'Disabled'] }, (key) => {
    if (key.Origin === 'EXTERNAL' && days !== undefined) {
      throw new UsageError(`key ${key.KeyId} has imported material: it cannot rotate automatically`);
    }
    key.Rotation =
      days === undefined
        ? { Enabled: false, PeriodDays: key.Rotation.PeriodDays }
        : { Enabled: true, PeriodDays: days, NextRotationDate: nextRotationDate(now, days) };
  });
}

/** Rotates every key whose automatic rotation is due (`rotate --due`). */
export async function rotateDue(ks: Keystore, now: Date): Promise<{ keyId: string; version: number }[]> {
  const store = await ks.read();
  const due = Object.values(store?.keys ?? {}).filter((k) => isRotationDue(k, now));
  const rotated: { keyId: string; version: number }[] = [];
  for (const key of due) rotated.push({ keyId: key.KeyId, version: await rotateKey(ks, key.KeyId, now, 'AUTOMATIC') });
  return rotated;
}

/** Imports material: the first of a PendingImport key, or a new primary version of an EXTERNAL key. */
export function importMaterial(ks: Keystore, ref: string, material: NewMaterial, now: Date): Promise<number> {
  return ks.editKey(ref, { name: 'import-key-material', policy: 'manage', states: ['Enabled', 'Disabled', 'PendingImport'], unlockFirst: true }, async (key, draft, storeKey) => {
    if (key.Origin !== 'EXTERNAL') {
      throw new UsageError(`key ${key.KeyId} was generated here: only keys of origin EXTERNAL take imported material`);
    }
    const version = Math.max(0, ...key.Versions.map((v) => v.Version)) + 1;
    key.Versions.push(
      sealVersion(await storeKey(), { keystoreId: draft.keystoreId, keyId: key.KeyId, spec: key.KeySpec }, version, material, 'EXTERNAL', now) as never,
    );
    key.PrimaryVersion = version;
    if (key.KeyState === 'PendingImport') key.KeyState = 'Enabled';
    return version;
  });
}

export function assertExportable(record: KeyRecord): void {
  if (!record.Exportable) {
    throw new UsageError(`key ${record.KeyId} was not created --exportable: its material never leaves the keystore`);
  }
  // A key that is not Enabled refuses every operation (DESIGN §3), handing out its material included.
  if (record.KeyState !== 'Enabled') throw wrongState(record, 'export');
}
