// Checks a message body's structure without decrypting it, as bytes arrive in
// chunks of any size: frame sequence numbers, frame lengths, where the body
// ends. It is synchronous and keeps no bytes but an 8-byte field that straddles
// two chunks, so a caller can hand it whole 1 MiB reads and pass them on
// unchanged (re-encrypt copies a body this way at the speed of the copy).
//
// Framed body (message-body.md), frame length L from the header:
//
//   regular frame   ┌ seq u32 (1,2,…) ┬ IV 12 ┬ content L ┬ tag 16 ┐
//   final frame     ┌ 0xFFFFFFFF ┬ seq u32 ┬ IV 12 ┬ length u32 (≤ L) ┬ content ┬ tag 16 ┐
//
// Non-framed body:  ┌ IV 12 ┬ length u64 (≤ 2^36 - 32) ┬ content ┬ tag 16 ┐

import { IntegrityError } from '../errors.js';
import { ContentType, FINAL_FRAME_MARKER, IV_LENGTH, MAX_NON_FRAMED_LENGTH, TAG_LENGTH } from '../format/constants.js';
import type { MessageHeader } from '../format/header.js';

export interface BodyLayout {
  readonly frames: number;
  readonly plaintextLength: number;
  /** Bytes of body (frames), without the footer. */
  readonly bodyLength: number;
}

/** What the scanner waits for next: a field of up to 8 bytes to decode, or opaque bytes to pass over. */
type Step =
  | { readonly field: 4 | 8; readonly what: string; readonly then: (value: number) => Step | undefined }
  | { readonly skip: number; readonly what: string; readonly then: () => Step | undefined };

export class BodyScanner {
  private step: Step | undefined;
  /** Bytes of a field read so far (a field may straddle two chunks). */
  private readonly field = Buffer.alloc(8);
  private fieldHave = 0;
  /** Bytes of the current skip step still to pass. */
  private skipLeft = 0;
  private frames = 0;
  private plaintextLength = 0;
  private bodyLength = 0;

  constructor(private readonly header: MessageHeader) {
    this.step = header.contentType === ContentType.NonFramed ? this.nonFramed() : this.frame(1);
    this.enter();
  }

  /** True once the whole body has been scanned. */
  get done(): boolean {
    return this.step === undefined;
  }

  /** The part of the body the next byte belongs to, for a truncation error. */
  get where(): string {
    return this.step?.what ?? 'footer';
  }

  get layout(): BodyLayout {
    return { frames: this.frames, plaintextLength: this.plaintextLength, bodyLength: this.bodyLength };
  }

  /**
   * What the scanner takes next: a field it must see (`see` bytes, fed with
   * scan), or bytes it may pass over unseen (`pass`, with passOver), so that a
   * body lying in a file can be checked by reading its frame headers alone
   * (walk.ts, scanBodyAt). Undefined once the body is done.
   */
  get next(): { readonly see: number } | { readonly pass: number } | undefined {
    const step = this.step;
    if (!step) return undefined;
    return 'skip' in step ? { pass: this.skipLeft } : { see: step.field - this.fieldHave };
  }

  /** Passes over `n` bytes, no more than `next.pass`, without seeing them. */
  passOver(n: number): void {
    const step = this.step;
    if (!step || !('skip' in step) || n > this.skipLeft) throw new Error('passOver: not that many bytes to pass');
    this.skipLeft -= n;
    this.bodyLength += n;
    if (this.skipLeft === 0) this.advance(step.then());
  }

  /**
   * Scans the start of `bytes`; returns how many of them belong to the body:
   * all of them, or fewer when the body ends inside (the rest is footer).
   * Throws IntegrityError at the first structural fault.
   */
  scan(bytes: Uint8Array): number {
    let at = 0;
    while (this.step && at < bytes.length) {
      const step = this.step;
      if ('skip' in step) {
        const take = Math.min(this.skipLeft, bytes.length - at);
        at += take;
        this.skipLeft -= take;
        if (this.skipLeft === 0) this.advance(step.then());
        continue;
      }
      const take = Math.min(step.field - this.fieldHave, bytes.length - at);
      this.field.set(bytes.subarray(at, at + take), this.fieldHave);
      at += take;
      this.fieldHave += take;
      if (this.fieldHave === step.field) {
        const value = step.field === 4 ? this.field.readUInt32BE(0) : this.field.readUInt32BE(0) * 2 ** 32 + this.field.readUInt32BE(4);
        this.advance(step.then(value));
      }
    }
    this.bodyLength += at;
    return at;
  }

  private advance(next: Step | undefined): void {
    this.step = next;
    this.enter();
  }

  private enter(): void {
    this.fieldHave = 0;
    if (this.step && 'skip' in this.step) this.skipLeft = this.step.skip;
  }

  private frame(expected: number): Step {
    const { frameLength } = this.header;
    return {
      field: 4,
      what: 'frame header',
      then: (first) => {
        this.frames++;
        if (first === FINAL_FRAME_MARKER) return this.finalFrame(expected);
        if (first !== expected) throw new IntegrityError(`frame ${first} found where frame ${expected} belongs`);
        this.plaintextLength += frameLength;
        return { skip: IV_LENGTH + frameLength + TAG_LENGTH, what: `frame ${expected}`, then: () => this.frame(expected + 1) };
      },
    };
  }

  private finalFrame(expected: number): Step {
    return {
      field: 4,
      what: 'final frame header',
      then: (sequenceNumber) => {
        if (sequenceNumber !== expected) throw new IntegrityError(`final frame has sequence number ${sequenceNumber}, expected ${expected}`);
        return { skip: IV_LENGTH, what: 'final frame header', then: () => this.finalFrameContent() };
      },
    };
  }

  private finalFrameContent(): Step {
    const { frameLength } = this.header;
    return {
      field: 4,
      what: 'final frame header',
      then: (length) => {
        if (length > frameLength) throw new IntegrityError(`final frame claims ${length} bytes, more than the frame length`);
        this.plaintextLength += length;
        return { skip: length + TAG_LENGTH, what: 'final frame', then: () => undefined };
      },
    };
  }

  private nonFramed(): Step {
    return {
      skip: IV_LENGTH,
      what: 'body header',
      then: (): Step => ({
        field: 8,
        what: 'body header',
        then: (length) => {
          if (length > MAX_NON_FRAMED_LENGTH) throw new IntegrityError('non-framed body claims more than 2^36 - 32 bytes');
          this.frames = 1;
          this.plaintextLength = length;
          return { skip: length + TAG_LENGTH, what: 'body', then: () => undefined };
        },
      }),
    };
  }
}
