// The ciphertext blob of the KMS primitives on local keys (`envelope kms …`,
// and `envelope serve`): versioned, self-describing, bound to its context.
//
//   off  len  field
//   0    3    magic "EVK"
//   3    1    blob format version: 0x01 (KeyId a UUID) or 0x02 (KeyId mrk-…)
//   4    16   KeyId: the UUID's 16 bytes, or the 16 bytes whose hex follows mrk-
//   20   4    backing-key version (BE)
//   24   12   IV
//   36   …    ciphertext (AES-256-GCM under that version's material)
//   …    16   tag
//
// AAD = bytes 0..24 || serialized encryption context (the message format's
// serialization, src/format/encryption-context.ts), so a blob opens only with
// the key, version and context it was made with.

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { FormatError, IntegrityError } from '../errors.js';
import { IV_LENGTH, TAG_LENGTH } from '../format/constants.js';
import { type EncryptionContext, serializeContext } from '../format/encryption-context.js';

const MAGIC = Buffer.from('EVK', 'latin1');
const UUID_KEY_BLOB = 0x01;
const MRK_KEY_BLOB = 0x02;
const MRK_PREFIX = 'mrk-';
const HEADER_LENGTH = 3 + 1 + 16 + 4;
export const MIN_BLOB_LENGTH = HEADER_LENGTH + IV_LENGTH + TAG_LENGTH;
/** As KMS: Encrypt takes at most 4096 bytes of plaintext. */
export const MAX_PLAINTEXT = 4096;
export const MAX_BLOB_LENGTH = MIN_BLOB_LENGTH + MAX_PLAINTEXT;

export interface BlobHeader {
  readonly keyId: string;
  readonly version: number;
}

function keyIdBytes(id: string): Buffer {
  const bytes = Buffer.from(id.startsWith(MRK_PREFIX) ? id.slice(MRK_PREFIX.length) : id.replace(/-/g, ''), 'hex');
  if (bytes.length !== 16) throw new Error(`key id ${id} is neither a UUID nor mrk- and 32 hex digits`);
  return bytes;
}

function keyIdText(blobVersion: number, bytes: Uint8Array): string {
  const h = Buffer.from(bytes).toString('hex');
  if (blobVersion === MRK_KEY_BLOB) return `${MRK_PREFIX}${h}`;
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function encodeHeader(h: BlobHeader): Buffer {
  const out = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(out, 0);
  // Keys with a UUID keep writing version 1, so blobs stay what older envelopes read.
  out[3] = h.keyId.startsWith(MRK_PREFIX) ? MRK_KEY_BLOB : UUID_KEY_BLOB;
  keyIdBytes(h.keyId).copy(out, 4);
  out.writeUInt32BE(h.version, 20);
  return out;
}

/** Reads who made a blob, before any key is involved. */
export function readBlobHeader(blob: Uint8Array): BlobHeader {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < MIN_BLOB_LENGTH || !b.subarray(0, 3).equals(MAGIC)) {
    throw new FormatError('not an envelope ciphertext blob', { hints: ['blobs start with EVK; base64 is accepted too'] });
  }
  if (b[3] !== UUID_KEY_BLOB && b[3] !== MRK_KEY_BLOB) throw new FormatError(`unsupported ciphertext blob version ${b[3]}`);
  if (b.length > MAX_BLOB_LENGTH) throw new FormatError(`ciphertext blob is longer than ${MAX_BLOB_LENGTH} bytes`);
  return { keyId: keyIdText(b[3]!, b.subarray(4, 20)), version: b.readUInt32BE(20) };
}

export function sealBlob(key: Uint8Array, header: BlobHeader, plaintext: Uint8Array, context: EncryptionContext): Buffer {
  if (plaintext.length > MAX_PLAINTEXT) throw new FormatError(`plaintext is ${plaintext.length} bytes; the limit is ${MAX_PLAINTEXT}`);
  const head = encodeHeader(header);
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(Buffer.concat([head, serializeContext(context)]));
  return Buffer.concat([head, iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** The blob does not open: wrong encryption context, or altered (KMS InvalidCiphertextException). */
export class BlobIntegrityError extends IntegrityError {}

export function openBlob(key: Uint8Array, blob: Uint8Array, context: EncryptionContext): Buffer {
  readBlobHeader(blob);
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const decipher = createDecipheriv('aes-256-gcm', key, b.subarray(HEADER_LENGTH, HEADER_LENGTH + IV_LENGTH), {
    authTagLength: TAG_LENGTH,
  });
  decipher.setAAD(Buffer.concat([b.subarray(0, HEADER_LENGTH), serializeContext(context)]));
  decipher.setAuthTag(b.subarray(b.length - TAG_LENGTH));
  const out = decipher.update(b.subarray(HEADER_LENGTH + IV_LENGTH, b.length - TAG_LENGTH));
  try {
    decipher.final();
    return out;
  } catch {
    out.fill(0);
    throw new BlobIntegrityError('ciphertext blob does not authenticate: wrong encryption context, or the blob was altered');
  }
}
