// Opening one frame (or a non-framed body) on this thread, and reading the
// final frame, which always is opened here: it is held back until the end of
// the message checks out (open.ts), whichever thread opened the frames before it.

import { createDecipheriv } from 'node:crypto';
import { IntegrityError } from '../errors.js';
import { type ContentType, IV_LENGTH, MAX_FRAMES, TAG_LENGTH } from '../format/constants.js';
import type { Verifier } from '../format/footer.js';
import { type BodyAadKind, bodyAad } from '../format/frame.js';
import type { AlgorithmSuite } from '../format/suites.js';
import { markFreeable } from './buffer-pool.js';
import type { ByteReader } from './byte-reader.js';

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

export function openFrame(
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
    throw kind === 'NonFramed' ? new IntegrityError('message body does not authenticate: the message was altered') : frameNotAuthentic(sequenceNumber);
  }
  // The writer frees each frame's plaintext once written (buffer-pool.ts).
  return markFreeable(plaintext);
}

/** The error for frame `sequenceNumber`, whose tag did not verify (whichever thread opened it). */
export function frameNotAuthentic(sequenceNumber: number): IntegrityError {
  return new IntegrityError(`frame ${sequenceNumber} does not authenticate: the message was altered`);
}

/**
 * What is wrong with a regular frame numbered `found` where frame `expected`
 * belongs, if anything: the same words from every path that reads frames.
 */
export function sequenceProblem(found: number, expected: number): string | undefined {
  if (found !== expected) return `frame ${found} found where frame ${expected} belongs`;
  if (expected >= MAX_FRAMES) return 'message has more frames than the format allows';
  return undefined;
}

/** Reads the final frame after its marker (0xFFFFFFFF, already consumed) and opens it. */
export async function openFinalFrame(reader: ByteReader, p: OpenParams, expected: number): Promise<Buffer> {
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
