// Sealing one frame (data-format/message-body.md; layouts drawn in
// src/format/frame.ts): on this thread (seal.ts) and on the workers
// (frame-batch.ts), so both write the same bytes.

import { createCipheriv } from 'node:crypto';
import { UsageError } from '../errors.js';
import { FINAL_FRAME_MARKER, MAX_FRAMES, TAG_LENGTH } from '../format/constants.js';
import { bodyAad, FINAL_FRAME_HEADER_LENGTH, frameIv, REGULAR_FRAME_HEADER_LENGTH } from '../format/frame.js';
import type { AlgorithmSuite } from '../format/suites.js';

/** What sealing a frame of a message needs. */
export interface FrameKey {
  readonly cipher: AlgorithmSuite['cipher'];
  /** The message's derived data key. */
  readonly key: Uint8Array;
  readonly messageId: Uint8Array;
}

/**
 * Seals one frame as its three parts: frame header, ciphertext, tag. Kept apart
 * (writers gather them with writev) so a frame costs one large allocation, the
 * ciphertext, rather than two. The ciphertext spans a buffer of its own, which
 * the caller may free once written (free-memory.ts).
 */
export function sealFrameParts(k: FrameKey, sequenceNumber: number, plaintext: Uint8Array, final: boolean): Buffer[] {
  const iv = frameIv(sequenceNumber);
  const cipher = createCipheriv(k.cipher, k.key, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(bodyAad(k.messageId, final ? 'FinalFrame' : 'Frame', sequenceNumber, plaintext.length));
  const header = Buffer.allocUnsafe(final ? FINAL_FRAME_HEADER_LENGTH : REGULAR_FRAME_HEADER_LENGTH);
  let at = 0;
  if (final) at = header.writeUInt32BE(FINAL_FRAME_MARKER, at);
  at = header.writeUInt32BE(sequenceNumber, at);
  at += iv.copy(header, at);
  if (final) header.writeUInt32BE(plaintext.length, at);
  const ciphertext = cipher.update(plaintext);
  cipher.final(); // GCM: no output
  return [header, ciphertext, cipher.getAuthTag()];
}

/** Whether `frames` frames numbered from `firstSequence` go past the last sequence number the format allows. */
export function exceedsFrameLimit(firstSequence: number, frames: number): boolean {
  return firstSequence + frames - 1 >= MAX_FRAMES;
}

/** The error for a plaintext that needs more frames than its frame size allows. */
export function tooManyFrames(): UsageError {
  return new UsageError('input is too large for this frame size: use a larger --frame-size');
}
