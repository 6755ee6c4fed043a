// Opening one frame (or a non-framed body) on this thread, and reading the
// final frame, which always is opened here: it is held back until the end of
// the message checks out (open.ts), whichever thread opened the frames before it.

import { createDecipheriv } from 'node:crypto';
import { IntegrityError } from '../errors.js';
import { type ContentType, IV_LENGTH, TAG_LENGTH } from '../format/constants.js';
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
    throw new IntegrityError(
      kind === 'NonFramed'
        ? 'message body does not authenticate: the message was altered'
        : `frame ${sequenceNumber} does not authenticate: the message was altered`,
    );
  }
  // The writer frees each frame's plaintext once written (buffer-pool.ts).
  return markFreeable(plaintext);
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
