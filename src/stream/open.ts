// Decryption of a message body (data-format/message-body.md; layouts drawn in
// src/format/frame.ts). Each frame's plaintext is released only after its tag
// verifies. The final frame is held back until the footer (if any) verifies and
// the input is known to end there, so a truncated, extended or forged message
// never yields its last bytes.

import { createDecipheriv } from 'node:crypto';
import { FormatError, IntegrityError } from '../errors.js';
import { ContentType, FINAL_FRAME_MARKER, IV_LENGTH, MAX_FRAMES, MAX_NON_FRAMED_LENGTH, TAG_LENGTH } from '../format/constants.js';
import type { Verifier } from '../format/footer.js';
import { type BodyAadKind, bodyAad } from '../format/frame.js';
import type { AlgorithmSuite } from '../format/suites.js';
import type { ByteReader } from './byte-reader.js';
import { assertEnd, readSignature } from './walk.js';

export interface OpenParams {
  readonly suite: AlgorithmSuite;
  readonly key: Uint8Array;
  readonly messageId: Uint8Array;
  readonly contentType: ContentType;
  readonly frameLength: number;
  /** Largest non-framed body accepted (framed lengths are bounded by the header). */
  readonly maxBodyLength: number;
  /** Present for signed suites; already fed with the header bytes. */
  readonly verifier?: Verifier;
}

function openFrame(
  p: OpenParams,
  kind: BodyAadKind,
  sequenceNumber: number,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
): Buffer {
  const decipher = createDecipheriv(p.suite.cipher, p.key, iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(bodyAad(p.messageId, kind, sequenceNumber, ciphertext.length));
  decipher.setAuthTag(tag);
  const plaintext = decipher.update(ciphertext);
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    throw new IntegrityError(
      kind === 'NonFramed'
        ? 'message body does not authenticate: the message was altered'
        : `frame ${sequenceNumber} does not authenticate: the message was altered`,
    );
  }
  return plaintext;
}

export async function* openBody(reader: ByteReader, p: OpenParams): AsyncGenerator<Buffer> {
  if (p.verifier) reader.observer = (b) => p.verifier!.update(b);
  const last = p.contentType === ContentType.Framed ? yield* openFrames(reader, p) : await openNonFramed(reader, p);
  if (p.verifier) {
    reader.observer = undefined;
    p.verifier.verify(await readSignature(reader));
  }
  await assertEnd(reader);
  yield last;
}

/** Yields every frame but the final one, and returns the final frame's plaintext. */
async function* openFrames(reader: ByteReader, p: OpenParams): AsyncGenerator<Buffer, Buffer> {
  for (let expected = 1; ; expected++) {
    const first = await reader.u32('frame header');
    if (first === FINAL_FRAME_MARKER) {
      const sequenceNumber = await reader.u32('final frame header');
      if (sequenceNumber !== expected) {
        throw new IntegrityError(`final frame has sequence number ${sequenceNumber}, expected ${expected}`);
      }
      const iv = await reader.read(IV_LENGTH, 'final frame header');
      const length = await reader.u32('final frame header');
      if (length > p.frameLength) {
        throw new IntegrityError(`final frame claims ${length} bytes, more than the frame length ${p.frameLength}`);
      }
      const ciphertext = await reader.read(length, 'final frame');
      const tag = await reader.read(TAG_LENGTH, 'final frame');
      return openFrame(p, 'FinalFrame', sequenceNumber, iv, ciphertext, tag);
    }
    if (first !== expected) throw new IntegrityError(`frame ${first} found where frame ${expected} belongs`);
    if (expected >= MAX_FRAMES) throw new IntegrityError('message has more frames than the format allows');
    const iv = await reader.read(IV_LENGTH, `frame ${expected}`);
    const ciphertext = await reader.read(p.frameLength, `frame ${expected}`);
    const tag = await reader.read(TAG_LENGTH, `frame ${expected}`);
    yield openFrame(p, 'Frame', expected, iv, ciphertext, tag);
  }
}

async function openNonFramed(reader: ByteReader, p: OpenParams): Promise<Buffer> {
  const iv = await reader.read(IV_LENGTH, 'body header');
  const length = (await reader.read(8, 'body header')).readBigUInt64BE(0);
  if (length > BigInt(MAX_NON_FRAMED_LENGTH)) throw new IntegrityError('non-framed body claims more than 2^36 - 32 bytes');
  if (length > BigInt(p.maxBodyLength)) {
    throw new FormatError(`non-framed body of ${length} bytes is over the limit of ${p.maxBodyLength} bytes`, {
      hints: ['raise it with --max-frame-size if you trust the sender'],
    });
  }
  const ciphertext = await reader.read(Number(length), 'body');
  const tag = await reader.read(TAG_LENGTH, 'body');
  return openFrame(p, 'NonFramed', 1, iv, ciphertext, tag);
}
