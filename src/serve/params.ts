// Reading the parameters of a KMS request body (a JSON object, blobs in
// base64), each check failing with the ValidationException KMS gives. Lengths
// are KMS's own limits, checked before anything is decoded.

import type { EncryptionContext } from '../format/encryption-context.js';
import { invalid, KmsError } from './kms-error.js';

export type Body = Readonly<Record<string, unknown>>;

export function optionalString(body: Body, name: string, max = 2048): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${name} must be a string.`);
  if (value.length > max) throw invalid(`${name} must be at most ${max} characters.`);
  return value;
}

export function requiredString(body: Body, name: string, max = 2048): string {
  const value = optionalString(body, name, max);
  if (value === undefined || value.length === 0) throw invalid(`${name} is required.`);
  return value;
}

export function optionalInteger(body: Body, name: string, min: number, max: number): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be a whole number from ${min} to ${max}.`);
  }
  return value;
}

export function optionalBoolean(body: Body, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(`${name} must be true or false.`);
  return value;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A base64 blob of 1 to `max` bytes. */
export function requiredBlob(body: Body, name: string, max: number): Buffer {
  const value = body[name];
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${name} is required.`);
  if (value.length > Math.ceil(max / 3) * 4 || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw invalid(`${name} must be base64 of 1 to ${max} bytes.`);
  }
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 0 || bytes.length > max) throw invalid(`${name} must be base64 of 1 to ${max} bytes.`);
  return bytes;
}

/** A string-to-string map (EncryptionContext); absent is empty. */
export function encryptionContext(body: Body, name: string): EncryptionContext {
  const value = body[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${name} must be a map of strings.`);
  const context: Record<string, string> = Object.create(null);
  let total = 0;
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' || k.length === 0) throw invalid(`${name} must be a map of non-empty keys to strings.`);
    total += k.length + v.length;
    context[k] = v;
  }
  // KMS: an encryption context is at most 8,192 characters.
  if (total > 8192) throw invalid(`${name} must be at most 8192 characters.`);
  return context;
}

/** KMS's Limit parameter of List* operations. */
export function limit(body: Body): number {
  return optionalInteger(body, 'Limit', 1, 1000) ?? 100;
}

/** A list page: `Marker` is the decimal offset of the previous page's end, as we hand it out. */
export function page<T>(body: Body, items: readonly T[]): { items: T[]; NextMarker?: string; Truncated: boolean } {
  const marker = optionalString(body, 'Marker', 320);
  const start = marker === undefined ? 0 : Number(marker);
  if (marker !== undefined && (!/^\d{1,9}$/.test(marker) || start > items.length)) {
    throw new KmsError('InvalidMarkerException', 'The marker is not one this service handed out.');
  }
  const end = start + limit(body);
  return end < items.length
    ? { items: items.slice(start, end), NextMarker: String(end), Truncated: true }
    : { items: items.slice(start), Truncated: false };
}
