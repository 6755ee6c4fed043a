// Encryption context serialization (data-format/message-header.md, "AAD";
// structures/encryption-context.md).
//
//   offset  length  field
//   0       2       key-value pair count (n > 0)
//   2       …       n × { key length (2) | key (UTF-8) | value length (2) | value (UTF-8) }
//
// Pairs are sorted by the UTF-8 bytes of their keys. An empty context serializes
// to zero bytes (and the header's AAD length field is then 0).

import { FormatError, printable, UsageError } from '../errors.js';
import { ByteBuilder, ByteCursor, compareBytes, decodeUtf8, NeedMoreData, utf8 } from './bytes.js';
import { RESERVED_CONTEXT_PREFIX } from './constants.js';

export type EncryptionContext = Readonly<Record<string, string>>;

const MAX_FIELD = 0xffff;

/**
 * Serializes a context; the result is empty for an empty context. Pairs are
 * sorted by UTF-8 bytes; `order` exists only to reproduce other SDKs' mistakes.
 */
export function serializeContext(context: EncryptionContext, order?: (a: string, b: string) => number): Uint8Array {
  const entries = Object.entries(context);
  if (order) entries.sort((a, b) => order(a[0], b[0]));
  const pairs = entries.map(([k, v]) => [utf8.encode(k), utf8.encode(v)] as const);
  if (pairs.length === 0) return new Uint8Array(0);
  if (pairs.length > MAX_FIELD) throw new UsageError(`encryption context has more than ${MAX_FIELD} pairs`);
  if (!order) pairs.sort((a, b) => compareBytes(a[0], b[0]));
  const out = new ByteBuilder().u16(pairs.length);
  for (const [k, v] of pairs) {
    if (k.length > MAX_FIELD || v.length > MAX_FIELD) {
      throw new UsageError('an encryption context key or value is longer than 65535 bytes');
    }
    out.short(k).short(v);
  }
  const bytes = out.build();
  if (bytes.length > MAX_FIELD) throw new UsageError('encryption context is longer than 65535 bytes serialized');
  return bytes;
}

/** Parses the AAD field of a header; `bytes` is exactly the field (possibly empty). */
export function parseContext(bytes: Uint8Array): Record<string, string> {
  const context: Record<string, string> = Object.create(null);
  if (bytes.length === 0) return context;
  const cursor = new ByteCursor(bytes);
  try {
    const count = cursor.u16();
    if (count === 0) throw new FormatError('encryption context has a length but no pairs');
    for (let i = 0; i < count; i++) {
      const key = decodeUtf8(cursor.take(cursor.u16()));
      const value = decodeUtf8(cursor.take(cursor.u16()));
      if (key === undefined || value === undefined) throw new FormatError('encryption context is not valid UTF-8');
      if (Object.hasOwn(context, key)) throw new FormatError(`encryption context repeats the key "${printable(key)}"`);
      context[key] = value;
    }
  } catch (e) {
    if (e instanceof NeedMoreData) throw new FormatError('encryption context is shorter than its pair count says');
    throw e;
  }
  if (cursor.remaining !== 0) throw new FormatError('encryption context has bytes after its last pair');
  return context;
}

/** Refuses context that a user may not set: keys in the reserved `aws-crypto-` namespace. */
export function assertUserContext(context: EncryptionContext): void {
  for (const key of Object.keys(context)) {
    if (key.startsWith(RESERVED_CONTEXT_PREFIX)) {
      throw new UsageError(`encryption context key "${printable(key)}" is reserved (keys may not start with "${RESERVED_CONTEXT_PREFIX}")`);
    }
  }
}
