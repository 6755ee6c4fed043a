// A batch of frames sealed or opened in one go, off the main thread: the
// messages a worker receives and answers (see frame-pool.ts), and the work
// itself. Frames are laid out exactly as in the message body
// (data-format/message-body.md; src/format/frame.ts draws them), so a sealed
// batch is written out as it is, and a batch to open is copied in as read.
// The worker either copies its result into the job's output buffer, or writes
// it to the job's descriptor itself (direct-output.ts says why).
//
// Every ArrayBuffer in a job travels by transfer, never by copy: the key (which
// the worker zeroes when the job ends), the input, and the output to fill. A
// plaintext read by the reader thread comes in a slot of its ring, which is
// shared memory (input-ring.ts): shared, neither transferred nor copied.

import { createDecipheriv } from 'node:crypto';
import { IV_LENGTH, TAG_LENGTH } from '../format/constants.js';
import { bodyAad, FINAL_FRAME_HEADER_LENGTH, REGULAR_FRAME_HEADER_LENGTH } from '../format/frame.js';
import type { AlgorithmSuite } from '../format/suites.js';
import type { DirectWrite } from './direct-output.js';
import type { PostedError } from './posted-error.js';
import { sealFrameParts } from './seal-frame.js';

/** Bytes a regular frame adds to its plaintext: sequence number, IV, tag. */
export const FRAME_OVERHEAD = REGULAR_FRAME_HEADER_LENGTH + TAG_LENGTH;

/** What every job carries: which frames of which message, under which key. */
export interface FrameWork {
  readonly id: number;
  readonly cipher: AlgorithmSuite['cipher'];
  /** The frame key, transferred; zeroed by the worker when the job ends. */
  readonly key: ArrayBuffer;
  readonly messageId: Uint8Array;
  readonly frameLength: number;
  /** Sequence number of the job's first frame. */
  readonly firstSequence: number;
}

/**
 * A job's FrameWork for a message sealed or opened under `p` (the pool sets the
 * id): a fresh copy of the key, and `messageId` as given (a compact copy, made
 * once: a view would post its whole underlying buffer with every job).
 */
export function frameWork(
  p: { readonly suite: AlgorithmSuite; readonly key: Uint8Array; readonly frameLength: number },
  messageId: Uint8Array,
  firstSequence: number,
): FrameWork {
  return { id: 0, cipher: p.suite.cipher, key: keyCopy(p.key), messageId, frameLength: p.frameLength, firstSequence };
}

interface JobBase extends FrameWork {
  /** Where the worker copies its result; sized by the main thread (see sealedLength). */
  readonly output?: ArrayBuffer;
  /** Or: where and when the worker writes its result itself. */
  readonly direct?: DirectWrite;
}

export interface SealJob extends JobBase {
  readonly kind: 'seal';
  /** Plaintext of the batch's frames, back to back, in the first `length` bytes. */
  readonly input: ArrayBuffer | SharedArrayBuffer;
  readonly length: number;
  /** The batch ends the message: its last frame is the final frame (possibly short or, for an empty message, empty). */
  readonly final: boolean;
}

export interface OpenJob extends JobBase {
  readonly kind: 'open';
  /** `frames` regular frames as they appear in the message (their sequence numbers already checked), from its start. */
  readonly input: ArrayBuffer | SharedArrayBuffer;
  readonly frames: number;
}

export type FrameJob = SealJob | OpenJob;

export interface FrameResult {
  readonly id: number;
  /** The job's input and output buffers, handed back (a ring's sealer has none). */
  readonly input?: ArrayBuffer | SharedArrayBuffer;
  readonly output?: ArrayBuffer;
  /** Bytes copied to output or written: sealed frames, or plaintext of the frames that authenticated. */
  readonly length: number;
  /** Direct: the batch was not written, as writing had stopped before its turn. */
  readonly unwritten?: boolean;
  /** Direct: the write failed with this system error. */
  readonly writeError?: PostedError;
  /** Open: the sequence number of the first frame whose tag did not verify; nothing of it or after it is in output. */
  readonly failedSequence?: number;
  /** A ring's sealer: the message needs more frames than its frame size allows. */
  readonly tooLong?: boolean;
  /** A ring's opener: where the final frame starts, counted from the start of the ring (its frames before are written). */
  readonly finalAt?: number;
  /** A ring's opener: what is wrong with the message where its frames stop making sense (its frames before are written). */
  readonly broken?: string;
  /** Something went wrong that is not the message's fault (a bug, out of memory). */
  readonly error?: string;
}

/** The buffers of a job or answer that travel by transfer: all but shared memory. */
export function transferable(...buffers: (ArrayBuffer | SharedArrayBuffer | undefined)[]): ArrayBuffer[] {
  return buffers.filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
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
 * Where a batch's frames go, one frame at a time, as they are sealed or opened
 * (frame-worker.ts: copied into the job's output, or written): a frame's
 * buffers are the sink's from then on.
 */
export interface FrameSink {
  take(parts: readonly Buffer[]): void;
}

/** Seals the batch into `sink`, frame by frame: each frame's parts (seal-frame.ts). */
export function sealBatch(job: SealJob, sink: FrameSink): void {
  const k = { cipher: job.cipher, key: new Uint8Array(job.key), messageId: job.messageId };
  const input = new Uint8Array(job.input, 0, job.length);
  const frames = sealedFrames(job.frameLength, job.length, job.final);
  for (let i = 0; i < frames; i++) {
    const final = job.final && i === frames - 1;
    const plaintext = input.subarray(i * job.frameLength, Math.min((i + 1) * job.frameLength, job.length));
    sink.take(sealFrameParts(k, job.firstSequence + i, plaintext, final));
  }
}

/**
 * Opens the batch into `sink`, frame by frame, stopping at the first frame that
 * does not authenticate: returns its sequence number, and nothing of it goes to the sink.
 */
export function openBatch(job: OpenJob, sink: FrameSink): number | undefined {
  const key = new Uint8Array(job.key);
  const input = new Uint8Array(job.input);
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
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      return sequenceNumber;
    }
    sink.take([plaintext]);
  }
  return undefined;
}
