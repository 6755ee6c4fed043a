// A batch of frames sealed or opened in one go, off the main thread: the
// messages a worker receives and answers (see frame-pool.ts), and the work
// itself. Frames are laid out exactly as in the message body
// (data-format/message-body.md; src/format/frame.ts draws them), so a sealed
// batch is written out as it is, and a batch to open is copied in as read.
//
// Every ArrayBuffer in a job travels by transfer, never by copy: the key (which
// the worker zeroes when the job ends), the input, and the output to fill.

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { FINAL_FRAME_MARKER, IV_LENGTH, TAG_LENGTH } from '../format/constants.js';
import { bodyAad, FINAL_FRAME_HEADER_LENGTH, frameIv, REGULAR_FRAME_HEADER_LENGTH } from '../format/frame.js';
import type { AlgorithmSuite } from '../format/suites.js';

/** Bytes a regular frame adds to its plaintext: sequence number, IV, tag. */
export const FRAME_OVERHEAD = REGULAR_FRAME_HEADER_LENGTH + TAG_LENGTH;

interface JobBase {
  readonly id: number;
  readonly cipher: AlgorithmSuite['cipher'];
  /** The frame key, transferred; zeroed by the worker when the job ends. */
  readonly key: ArrayBuffer;
  readonly messageId: Uint8Array;
  readonly frameLength: number;
  /** Sequence number of the batch's first frame. */
  readonly firstSequence: number;
  /** Where the worker writes; sized by the main thread (see sealedLength). */
  readonly output: ArrayBuffer;
}

export interface SealJob extends JobBase {
  readonly kind: 'seal';
  /** Plaintext of the batch's frames, back to back, in the first `length` bytes. */
  readonly input: ArrayBuffer;
  readonly length: number;
  /** The batch ends the message: its last frame is the final frame (possibly short or, for an empty message, empty). */
  readonly final: boolean;
}

export interface OpenJob extends JobBase {
  readonly kind: 'open';
  /** `frames` regular frames as they appear in the message (their sequence numbers already checked). */
  readonly input: ArrayBuffer;
  readonly frames: number;
}

export type FrameJob = SealJob | OpenJob;

export interface FrameResult {
  readonly id: number;
  /** The job's input and output buffers, handed back. */
  readonly input: ArrayBuffer;
  readonly output: ArrayBuffer;
  /** Bytes written to output: sealed frames, or plaintext of the frames that authenticated. */
  readonly length: number;
  /** Open: the sequence number of the first frame whose tag did not verify; nothing of it or after it is in output. */
  readonly failedSequence?: number;
  /** Something went wrong that is not the message's fault (a bug, out of memory). */
  readonly error?: string;
}

/** A copy of the frame key for one job, to be transferred (and zeroed by the worker). */
export function keyCopy(key: Uint8Array): ArrayBuffer {
  const copy = new ArrayBuffer(key.length);
  new Uint8Array(copy).set(key);
  return copy;
}

/** Frames in a sealed batch of `length` plaintext bytes. */
export function sealedFrames(frameLength: number, length: number, final: boolean): number {
  return final ? Math.max(1, Math.ceil(length / frameLength)) : length / frameLength;
}

/** Exact size of a sealed batch. */
export function sealedLength(frameLength: number, length: number, final: boolean): number {
  const frames = sealedFrames(frameLength, length, final);
  return length + frames * FRAME_OVERHEAD + (final ? FINAL_FRAME_HEADER_LENGTH - REGULAR_FRAME_HEADER_LENGTH : 0);
}

/**
 * Called with every buffer node:crypto returned, once its bytes are copied out:
 * the worker frees them at once (see frame-worker.ts) rather than leave them to
 * the garbage collector.
 */
export type Dispose = (buffer: Buffer) => void;

/** Seals the batch into job.output; returns the bytes written. */
export function sealBatch(job: SealJob, dispose: Dispose): number {
  const key = new Uint8Array(job.key);
  const input = new Uint8Array(job.input, 0, job.length);
  const out = Buffer.from(job.output);
  const frames = sealedFrames(job.frameLength, job.length, job.final);
  let at = 0;
  for (let i = 0; i < frames; i++) {
    const sequenceNumber = job.firstSequence + i;
    const final = job.final && i === frames - 1;
    const plaintext = input.subarray(i * job.frameLength, Math.min((i + 1) * job.frameLength, job.length));
    const iv = frameIv(sequenceNumber);
    const cipher = createCipheriv(job.cipher, key, iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(bodyAad(job.messageId, final ? 'FinalFrame' : 'Frame', sequenceNumber, plaintext.length));
    if (final) at = out.writeUInt32BE(FINAL_FRAME_MARKER, at);
    at = out.writeUInt32BE(sequenceNumber, at);
    at += iv.copy(out, at);
    if (final) at = out.writeUInt32BE(plaintext.length, at);
    const ciphertext = cipher.update(plaintext);
    at += ciphertext.copy(out, at);
    dispose(ciphertext);
    cipher.final(); // GCM: no output
    at += cipher.getAuthTag().copy(out, at);
  }
  return at;
}

/** Opens the batch into job.output, stopping at the first frame that does not authenticate. */
export function openBatch(job: OpenJob, dispose: Dispose): { length: number; failedSequence?: number } {
  const key = new Uint8Array(job.key);
  const input = new Uint8Array(job.input);
  const out = new Uint8Array(job.output);
  const record = job.frameLength + FRAME_OVERHEAD;
  for (let i = 0; i < job.frames; i++) {
    const sequenceNumber = job.firstSequence + i;
    const at = i * record + 4;
    const iv = input.subarray(at, at + IV_LENGTH);
    const ciphertext = input.subarray(at + IV_LENGTH, at + IV_LENGTH + job.frameLength);
    const tag = input.subarray(at + IV_LENGTH + job.frameLength, at + record - 4);
    const decipher = createDecipheriv(job.cipher, key, iv, { authTagLength: TAG_LENGTH });
    decipher.setAAD(bodyAad(job.messageId, 'Frame', sequenceNumber, job.frameLength));
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(ciphertext);
    let verified = false;
    try {
      decipher.final();
      verified = true;
    } catch {
      // the tag does not match: reported below, nothing of this frame is kept
    }
    if (verified) out.set(plaintext, i * job.frameLength);
    else plaintext.fill(0);
    dispose(plaintext);
    if (!verified) return { length: i * job.frameLength, failedSequence: sequenceNumber };
  }
  return { length: job.frames * job.frameLength };
}
