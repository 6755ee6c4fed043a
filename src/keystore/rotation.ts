// Automatic rotation (DESIGN §3, as KMS): a period of 90–2560 days, default 365;
// a key past its date rotates on first use or with `rotate --due`. Keys with
// imported material rotate only by a new import.

import type { KeyRecord } from './schema.js';

export const MIN_ROTATION_DAYS = 90;
export const MAX_ROTATION_DAYS = 2560;
export const DEFAULT_ROTATION_DAYS = 365;
const DAY_MS = 24 * 60 * 60 * 1000;

export function nextRotationDate(from: Date, days: number): string {
  return new Date(from.getTime() + days * DAY_MS).toISOString();
}

export function isRotationDue(record: KeyRecord, now: Date): boolean {
  return (
    record.Origin === 'ENVELOPE' &&
    record.KeyState === 'Enabled' &&
    record.Rotation.Enabled &&
    record.Rotation.NextRotationDate !== undefined &&
    new Date(record.Rotation.NextRotationDate) <= now
  );
}
