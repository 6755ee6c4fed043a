// The body scanner (src/stream/body-scanner.ts) checks a body's frame structure
// over chunks of any size. Bodies here are drawn by hand from the layout in
// message-body.md (the scanner never looks inside IVs, content or tags), then
// fed whole, a byte at a time and at every split point; each feeding must agree
// on where the body ends and what it holds.

import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../src/errors.js';
import { ContentType, FINAL_FRAME_MARKER } from '../src/format/constants.js';
import type { MessageHeader } from '../src/format/header.js';
import { BodyScanner } from '../src/stream/body-scanner.js';
import { SCAN_WINDOW, scanBodyAt } from '../src/stream/walk.js';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};
const filler = (n: number) => Buffer.alloc(n, 0xa5);

/** Regular frames before the final one: a final frame holds 1 … frameLength bytes (0 only for an empty message). */
const regularFrames = (frameLength: number, plaintextLength: number) => Math.max(0, Math.ceil(plaintextLength / frameLength) - 1);

function framedBody(frameLength: number, plaintextLength: number, sequence = (i: number) => i): Buffer {
  const parts: Buffer[] = [];
  const regular = regularFrames(frameLength, plaintextLength);
  for (let seq = 1; seq <= regular; seq++) parts.push(u32(sequence(seq)), filler(12), filler(frameLength), filler(16));
  const last = plaintextLength - regular * frameLength;
  parts.push(u32(FINAL_FRAME_MARKER), u32(sequence(regular + 1)), filler(12), u32(last), filler(last), filler(16));
  return Buffer.concat(parts);
}

function nonFramedBody(length: number): Buffer {
  return Buffer.concat([filler(12), u64(length), filler(length), filler(16)]);
}

const header = (contentType: number, frameLength: number) => ({ contentType, frameLength }) as unknown as MessageHeader;

/** Feeds `bytes` in pieces of the given sizes (the last piece takes the rest); returns the body length found. */
function feed(scanner: BodyScanner, bytes: Buffer, sizes: number[]): number {
  let at = 0;
  let body = 0;
  for (let i = 0; at < bytes.length && !scanner.done; i++) {
    const size = sizes[i] ?? bytes.length - at;
    const piece = bytes.subarray(at, at + size);
    const n = scanner.scan(piece);
    expect(n).toBeLessThanOrEqual(piece.length);
    if (n < piece.length) expect(scanner.done).toBe(true);
    body += n;
    at += piece.length;
  }
  return body;
}

describe('body scanner', () => {
  const footer = Buffer.from([0x00, 0x03, 1, 2, 3]);

  for (const [frameLength, plaintextLength] of [
    [16, 0],
    [16, 1],
    [16, 15],
    [16, 16],
    [16, 17],
    [16, 48],
    [5, 23],
    [1, 3],
  ] as const) {
    it(`framed, frame ${frameLength}, ${plaintextLength} bytes: every split agrees`, () => {
      const body = framedBody(frameLength, plaintextLength);
      const message = Buffer.concat([body, footer]);
      const expected = { frames: regularFrames(frameLength, plaintextLength) + 1, plaintextLength, bodyLength: body.length };
      const feedings = [[], new Array<number>(message.length).fill(1), [3, 1, 7, 2, 11, 5]];
      for (let split = 1; split < message.length; split++) feedings.push([split]);
      for (const sizes of feedings) {
        const scanner = new BodyScanner(header(ContentType.Framed, frameLength));
        expect(feed(scanner, message, sizes)).toBe(body.length);
        expect(scanner.done).toBe(true);
        expect(scanner.layout).toEqual(expected);
      }
    });
  }

  it('non-framed: every split agrees', () => {
    const body = nonFramedBody(40);
    const message = Buffer.concat([body, footer]);
    for (let split = 1; split < message.length; split++) {
      const scanner = new BodyScanner(header(ContentType.NonFramed, 0));
      expect(feed(scanner, message, [split, 1])).toBe(body.length);
      expect(scanner.layout).toEqual({ frames: 1, plaintextLength: 40, bodyLength: body.length });
    }
  });

  it('a truncated body is not done, and says where it ends', () => {
    const body = framedBody(16, 40);
    const cases: [number, string][] = [
      [2, 'frame header'],
      [4 + 12 + 5, 'frame 1'],
      [2 * (4 + 12 + 16 + 16) + 6, 'final frame header'],
      [body.length - 1, 'final frame'],
    ];
    for (const [length, where] of cases) {
      const scanner = new BodyScanner(header(ContentType.Framed, 16));
      expect(scanner.scan(body.subarray(0, length))).toBe(length);
      expect(scanner.done).toBe(false);
      expect(scanner.where).toBe(where);
    }
    const nonFramed = new BodyScanner(header(ContentType.NonFramed, 0));
    nonFramed.scan(nonFramedBody(10).subarray(0, 15));
    expect(nonFramed.where).toBe('body header');
  });

  it('refuses frames out of order, an oversized final frame and an oversized non-framed body', () => {
    const swapped = framedBody(16, 40, (i) => (i === 2 ? 3 : i));
    expect(() => new BodyScanner(header(ContentType.Framed, 16)).scan(swapped)).toThrow(new IntegrityError('frame 3 found where frame 2 belongs'));
    const badFinal = framedBody(16, 40, (i) => (i === 3 ? 7 : i));
    expect(() => new BodyScanner(header(ContentType.Framed, 16)).scan(badFinal)).toThrow(/final frame has sequence number 7, expected 3/);
    const oversized = Buffer.concat([u32(FINAL_FRAME_MARKER), u32(1), filler(12), u32(17), filler(17), filler(16)]);
    expect(() => new BodyScanner(header(ContentType.Framed, 16)).scan(oversized)).toThrow(/final frame claims 17 bytes, more than the frame length/);
    const huge = Buffer.concat([filler(12), Buffer.from('0000001000000000', 'hex')]);
    expect(() => new BodyScanner(header(ContentType.NonFramed, 0)).scan(huge)).toThrow(/non-framed body claims more than 2\^36 - 32 bytes/);
  });
});

describe('scanBodyAt: a body in a file, its frame headers read, the rest passed over', () => {
  /** readAt over `bytes`, counting the reads and the bytes read. */
  function reading(bytes: Buffer) {
    const counter = { read: 0, calls: 0 };
    const readAt = async (position: number, length: number) => {
      counter.calls++;
      const got = bytes.subarray(position, position + length);
      counter.read += got.length;
      return got;
    };
    return { readAt, counter };
  }
  const start = 7; // a header's worth of bytes before the body

  /** The layout the scanner finds when the body is fed to it whole. */
  function streamedLayout(h: MessageHeader, body: Buffer) {
    const streamed = new BodyScanner(h);
    streamed.scan(body);
    return streamed.layout;
  }

  it('frames of a window and more: the end and layout the scanner finds, reading only the fields', async () => {
    for (const [h, body] of [
      [header(ContentType.Framed, SCAN_WINDOW), framedBody(SCAN_WINDOW, 3 * SCAN_WINDOW + 100)],
      [header(ContentType.Framed, SCAN_WINDOW), framedBody(SCAN_WINDOW, 0)],
      [header(ContentType.NonFramed, 0), nonFramedBody(40)],
    ] as const) {
      const file = Buffer.concat([filler(start), body]);
      const { readAt, counter } = reading(file);
      const { end, layout } = await scanBodyAt(readAt, start, file.length, h);
      expect(end).toBe(file.length);
      expect(layout).toEqual(streamedLayout(h, body));
      // 4 bytes per regular frame, 12 for the final one's marker, number and length (non-framed: 8 for its length).
      const fields = h.contentType === ContentType.NonFramed ? 8 : 4 * (layout.frames - 1) + 12;
      expect(counter.read).toBe(fields);
    }
  });

  it('smaller frames: the same, read a window at a time, not a read per frame', async () => {
    for (const [frameLength, plaintextLength] of [
      [16, 40],
      [5, 23],
      [4096, 300_000],
      [SCAN_WINDOW - 1, 3 * SCAN_WINDOW],
    ] as const) {
      const h = header(ContentType.Framed, frameLength);
      const body = framedBody(frameLength, plaintextLength);
      const file = Buffer.concat([filler(start), body]);
      const { readAt, counter } = reading(file);
      const { end, layout } = await scanBodyAt(readAt, start, file.length, h);
      expect(end).toBe(file.length);
      expect(layout).toEqual(streamedLayout(h, body));
      expect(counter.calls, `frame ${frameLength}`).toBeLessThanOrEqual(Math.ceil(body.length / SCAN_WINDOW));
    }
  });

  it('stops where the body ends: what follows is the caller\'s (a footer, or data after the message)', async () => {
    const body = framedBody(16, 40);
    const file = Buffer.concat([filler(start), body, Buffer.from('after')]);
    expect((await scanBodyAt(reading(file).readAt, start, file.length, header(ContentType.Framed, 16))).end).toBe(start + body.length);
  });

  it('a file cut anywhere in the body is the error the streamed walk gives, frames read or passed over', async () => {
    const small = framedBody(16, 40);
    const large = framedBody(SCAN_WINDOW, 2 * SCAN_WINDOW + 50);
    const frame = 4 + 12 + SCAN_WINDOW + 16;
    // Every cut of the small body; around every field and frame boundary of the large one.
    const nearLarge = [0, frame, 2 * frame, 2 * frame + 4, 2 * frame + 8, 2 * frame + 20, 2 * frame + 24, large.length].flatMap((b) =>
      Array.from({ length: 41 }, (_, i) => b - 20 + i),
    );
    for (const [frameLength, body, cuts] of [
      [16, small, Array.from({ length: small.length }, (_, i) => i)],
      [SCAN_WINDOW, large, nearLarge.filter((c) => c >= 0 && c < large.length)],
    ] as const) {
      const h = header(ContentType.Framed, frameLength);
      for (const cut of cuts) {
        const file = Buffer.concat([filler(start), body.subarray(0, cut)]);
        const streamed = new BodyScanner(h);
        streamed.scan(body.subarray(0, cut));
        await expect(scanBodyAt(reading(file).readAt, start, file.length, h), `frame ${frameLength}, cut at ${cut}`).rejects.toThrow(
          new IntegrityError(`message is truncated (it ends inside the ${streamed.where})`),
        );
      }
    }
  });

  it('refuses frames out of order as the scanner does', async () => {
    const swapped = Buffer.concat([filler(start), framedBody(16, 40, (i) => (i === 2 ? 3 : i))]);
    await expect(scanBodyAt(reading(swapped).readAt, start, swapped.length, header(ContentType.Framed, 16))).rejects.toThrow(
      new IntegrityError('frame 3 found where frame 2 belongs'),
    );
  });
});
