// The parallel data path (src/stream/seal-parallel.ts, open-parallel.ts,
// frame-pool.ts): the same sealed bytes as the single-thread path for the same
// key and message id, the same plaintext and the same error for every
// tampering when opening, no worker for a small message, and none left busy,
// nor a process left hanging, when a run stops early. The same again when the
// workers write to the output themselves (src/stream/direct-output.ts).
//
// The stream functions run from src/ with the worker as the builds inline it:
// its bundled source (scripts/frame-worker-source.mjs), started with eval.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readdirSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readStream } from '../src/cli/input.js';
import { ioError } from '../src/errors.js';
import { ContentType, FINAL_FRAME_MARKER, MAX_FRAMES } from '../src/format/constants.js';
import type { AlgorithmSuite } from '../src/format/suites.js';
import { suiteById } from '../src/format/suites.js';
import { dearmor } from '../src/stream/armor.js';
import { ByteReader } from '../src/stream/byte-reader.js';
import { type DirectOutput, WriteTurns, writeFully } from '../src/stream/direct-output.js';
import { keyCopy } from '../src/stream/frame-batch.js';
import { framePool, runningFramePool } from '../src/stream/frame-pool.js';
import { InputRing } from '../src/stream/input-ring.js';
import { openBody } from '../src/stream/open.js';
import type { HandedOver, HandsOver } from '../src/stream/hand-over.js';
import { framesPerBatch, PARALLEL_THRESHOLD, type ParallelOptions, startReaderThread } from '../src/stream/parallel.js';
import { ReaderThread } from '../src/stream/reader-thread.js';
import { sealFrame, sealFrames } from '../src/stream/seal.js';
import { sealFromRing } from '../src/stream/seal-from-ring.js';
import { sealInParallel } from '../src/stream/seal-parallel.js';
import { chunks, collect, ENVELOPE, REPO_ROOT, runCli, tempDir, workdirs } from './helpers.js';
import { fifoFeeding } from './support/fifo.js';

/** The worker's bundled source, as scripts/build.mjs and build-binary.mjs put it in the bundle. */
const WORKER = {
  source: execFileSync(
    process.execPath,
    ['--input-type=module', '-e', "process.stdout.write(await (await import('./scripts/frame-worker-source.mjs')).frameWorkerSource())"],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  ),
};
const SUITE = suiteById(0x0478);
const KEY = createHash('sha256').update('frame key').digest();
const MESSAGE_ID = createHash('sha256').update('message id').digest();
const MiB = 1024 * 1024;

/** This thread alone. */
const ONE_THREAD: ParallelOptions = { threads: 1, threshold: 0 };
/** Workers as soon as one chunk has gone by (threads - 1 of them), waited for: they take over there. */
const workersAtOnce = (threads = 2): ParallelOptions => ({ threads, threshold: 0, waitForWorkers: true, worker: WORKER });

/** Deterministic bytes: AES-CTR of zeros. */
function bytes(n: number, seed = 0): Buffer {
  return createCipheriv('aes-128-ctr', Buffer.alloc(16, seed), Buffer.alloc(16)).update(Buffer.alloc(n));
}

/** `first` bytes, then pieces of an odd size that straddle frames and batches. */
async function* pieces(data: Buffer, first: number): AsyncGenerator<Uint8Array> {
  if (data.length === 0) return;
  yield data.subarray(0, first);
  yield* chunks(data.subarray(first), 7777);
}

function seal(plaintext: Buffer, frameLength: number, options: ParallelOptions, first = 1, suite: AlgorithmSuite = SUITE) {
  return collect(sealFrames(pieces(plaintext, first), { suite, key: KEY, messageId: MESSAGE_ID, frameLength }, options));
}

interface Outcome {
  readonly plaintext: Buffer;
  readonly error?: string;
}

/** Opens a body (no header: the stream layer's view), keeping what came out before any error. */
async function open(body: Buffer, frameLength: number, options: ParallelOptions): Promise<Outcome> {
  const out: Buffer[] = [];
  const reader = new ByteReader(chunks(body, 7777));
  const p = { suite: SUITE, key: KEY, messageId: MESSAGE_ID, contentType: ContentType.Framed, frameLength, maxBodyLength: 64 * MiB };
  try {
    for await (const c of openBody(reader, p, options)) out.push(Buffer.from(c));
    return { plaintext: Buffer.concat(out) };
  } catch (e) {
    return { plaintext: Buffer.concat(out), error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

/** Jobs the workers answered while `run` ran (the pool may be replaced by one of another size). */
async function jobsDuring(run: () => Promise<unknown>): Promise<number> {
  const pool = runningFramePool();
  const before = pool?.answered ?? 0;
  await run();
  const after = runningFramePool();
  return after === pool ? (after?.answered ?? 0) - before : (after?.answered ?? 0);
}

beforeAll(async () => {
  const pool = framePool(1, WORKER);
  await pool.whenSettled();
  expect(pool.ready, String(pool.failure)).toBe(true);
});

afterAll(async () => {
  await runningFramePool()?.close();
});

describe('sealing on workers writes the bytes one thread writes', () => {
  const F = 4096;
  const B = framesPerBatch(F) * F; // plaintext of one batch: 1 MiB
  const sizes = [0, 1, F - 1, F, F + 1, B - 1, B, B + 1, 2 * B, 3 * B + F / 2 + 3];

  for (const first of [1, F]) {
    for (const size of sizes) {
      it(`${size} bytes in ${F}-byte frames, the first piece ${first} bytes`, async () => {
        const plaintext = bytes(size);
        const expected = await seal(plaintext, F, ONE_THREAD, first);
        let actual: Buffer = Buffer.alloc(0);
        const jobs = await jobsDuring(async () => (actual = await seal(plaintext, F, workersAtOnce(), first)));
        expect(actual.equals(expected)).toBe(true);
        // Past the first piece, everything is sealed by the worker, the final frame included.
        if (size > 0) expect(jobs).toBeGreaterThan(0);
        expect((await open(actual, F, ONE_THREAD)).plaintext.equals(plaintext)).toBe(true);
      });
    }
  }

  it('in 64 KiB frames (the default), around and across batch boundaries', async () => {
    for (const size of [MiB - 1, MiB + 1, 2.5 * MiB]) {
      const plaintext = bytes(size, 1);
      expect((await seal(plaintext, 65536, workersAtOnce())).equals(await seal(plaintext, 65536, ONE_THREAD))).toBe(true);
    }
  });

  it('in 1-byte frames (a batch bounded by the frames overhead)', async () => {
    const plaintext = bytes(40_000, 2);
    expect((await seal(plaintext, 1, workersAtOnce())).equals(await seal(plaintext, 1, ONE_THREAD))).toBe(true);
  });

  it('with two workers, batches finishing out of turn are written in order', async () => {
    const plaintext = bytes(9 * MiB + 12345, 3);
    const expected = await seal(plaintext, F, ONE_THREAD);
    expect((await seal(plaintext, F, workersAtOnce(3))).equals(expected)).toBe(true);
    expect(runningFramePool()?.workers).toBe(2);
  });
});

describe('opening on workers', () => {
  const F = 4096;
  const frames = 5 * framesPerBatch(F) + 10; // five batches and a bit
  const plaintext = bytes(frames * F - 100, 4);
  const record = F + 32;
  let body: Buffer;
  const final = (frames - 1) * record; // offset of the final frame

  beforeAll(async () => {
    body = await seal(plaintext, F, ONE_THREAD);
    expect(body.readUInt32BE(final)).toBe(FINAL_FRAME_MARKER);
  });

  it('gives the plaintext one thread gives, with one worker and with two', async () => {
    for (const options of [workersAtOnce(2), workersAtOnce(3)]) {
      let outcome: Outcome | undefined;
      expect(await jobsDuring(async () => (outcome = await open(body, F, options)))).toBeGreaterThan(5);
      expect(outcome!.error).toBeUndefined();
      expect(outcome!.plaintext.equals(plaintext)).toBe(true);
    }
  });

  const late = 4 * framesPerBatch(F) + 3; // in the fifth batch
  const tamperings = alterations(record, late, final);

  for (const [name, tamper] of Object.entries(tamperings)) {
    it(`${name}: the same plaintext out, then the same error, as one thread`, async () => {
      const tampered = tamper(body);
      const expected = await open(tampered, F, ONE_THREAD);
      expect(expected.error).toMatch(/^IntegrityError: /);
      const actual = await open(tampered, F, workersAtOnce());
      expect(actual.error).toBe(expected.error);
      expect(actual.plaintext.length).toBe(expected.plaintext.length);
      expect(actual.plaintext.equals(expected.plaintext)).toBe(true);
    });
  }
});

/**
 * Ways to alter or cut a body whose regular frames are `record` bytes, frame
 * `late` among them (an early one, 4, too), its final frame at offset `final`:
 * frame k (1-based, regular) starts at (k - 1) * record with its sequence
 * number, then IV, ciphertext and tag.
 */
function alterations(record: number, late: number, final: number): Record<string, (b: Buffer) => Buffer> {
  return {
    'an early frame flipped': (b) => flip(b, 3 * record + 40),
    'a bit of a late frame flipped': (b) => flip(b, (late - 1) * record + 16 + 100),
    'a bit of a late tag flipped': (b) => flip(b, late * record - 1),
    'a bit of a late IV flipped': (b) => flip(b, (late - 1) * record + 5),
    'a late frame’s sequence number changed': (b) => flip(b, (late - 1) * record + 3),
    'two late frames swapped': (b) =>
      Buffer.concat([b.subarray(0, (late - 1) * record), b.subarray(late * record, (late + 1) * record), b.subarray((late - 1) * record, late * record), b.subarray((late + 1) * record)]),
    'a late frame dropped': (b) => Buffer.concat([b.subarray(0, (late - 1) * record), b.subarray(late * record)]),
    'cut inside a late frame': (b) => b.subarray(0, (late - 1) * record + 700),
    'cut after a late frame’s sequence number': (b) => b.subarray(0, (late - 1) * record + 4),
    'cut before the final frame': (b) => b.subarray(0, final),
    'cut inside the final frame': (b) => b.subarray(0, b.length - 5),
    'data after the final frame': (b) => Buffer.concat([b, Buffer.from([0])]),
    'a late frame marked final': (b) => {
      const c = Buffer.from(b);
      c.writeUInt32BE(FINAL_FRAME_MARKER, (late - 1) * record);
      return c;
    },
    'a bit of the final frame flipped': (b) => flip(b, b.length - 20),
    'an early frame flipped and a late one cut': (b) => flip(b, 3 * record + 40).subarray(0, (late - 1) * record + 9),
  };
}

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at]! ^= 0x01;
  return c;
}

/**
 * Runs `produce` against a file as src/cli/output.ts does: what it yields is
 * written to the same descriptor the workers write to, and flush() writes what
 * is held. What was yielded before an error is written too, so the file is all
 * that came out, as in `open`.
 */
async function throughDescriptor(produce: (direct: DirectOutput) => AsyncIterable<Uint8Array>, flags = 'w') {
  const dir = tempDir('envelope-direct-');
  const path = join(dir.path, 'out');
  closeSync(openSync(path, 'w'));
  const fd = openSync(path, flags);
  let held: Uint8Array[] = [];
  let byWorkers = 0;
  let byConsumer = 0;
  const flush = async () => {
    byConsumer += writeFully(fd, held);
    held = [];
  };
  const direct: DirectOutput = { fd, flush, wrote: (n) => (byWorkers += n) };
  let error: string | undefined;
  try {
    for await (const chunk of produce(direct)) held.push(Buffer.from(chunk));
  } catch (e) {
    error = `${(e as Error).name}: ${(e as Error).message}`;
  }
  try {
    await flush();
  } catch {
    // a descriptor that takes no writes: the error above says so
  }
  closeSync(fd);
  const written = readFileSync(path);
  dir.cleanup();
  return { written, error, byWorkers, byConsumer };
}

describe('workers writing their batches themselves', () => {
  const F = 4096;
  const B = framesPerBatch(F) * F;
  const params = { suite: SUITE, key: KEY, messageId: MESSAGE_ID, frameLength: F };

  it('seal: the bytes one thread yields, in order, with one worker and with two', async () => {
    for (const size of [0, 1, F, B - 1, B, B + 1, 5 * B + 3 * F + 7]) {
      const plaintext = bytes(size, 9);
      const expected = await seal(plaintext, F, ONE_THREAD, 1);
      for (const threads of [2, 3]) {
        const out = await throughDescriptor((direct) => sealFrames(pieces(plaintext, 1), params, workersAtOnce(threads), direct));
        expect(out.error).toBeUndefined();
        expect(out.written.equals(expected), `${size} bytes, ${threads - 1} workers`).toBe(true);
        // Past the first piece, the workers wrote everything, the final frame included.
        expect(out.byWorkers + out.byConsumer).toBe(expected.length);
        expect(out.byConsumer).toBeLessThan(F + 64);
      }
    }
  });

  describe('open', () => {
    const frames = 5 * framesPerBatch(F) + 10;
    const plaintext = bytes(frames * F - 100, 10);
    const record = F + 32;
    const late = 4 * framesPerBatch(F) + 3; // in the fifth batch
    let body: Buffer;

    beforeAll(async () => {
      body = await seal(plaintext, F, ONE_THREAD);
    });

    const opened = (b: Buffer, threads: number) =>
      throughDescriptor((direct) =>
        openBody(new ByteReader(chunks(b, 7777)), { ...params, contentType: ContentType.Framed, maxBodyLength: MiB }, workersAtOnce(threads), direct),
      );

    it('the plaintext one thread gives, with one worker and with two', async () => {
      for (const threads of [2, 3]) {
        const out = await opened(body, threads);
        expect(out.error).toBeUndefined();
        expect(out.written.equals(plaintext)).toBe(true);
        expect(out.byWorkers).toBeGreaterThan(plaintext.length - F - 8000);
      }
    });

    const tamperings: Record<string, (b: Buffer) => Buffer> = {
      'an early frame flipped': (b) => flip(b, 3 * record + 40),
      'a late frame flipped': (b) => flip(b, (late - 1) * record + 16 + 100),
      'a late frame dropped': (b) => Buffer.concat([b.subarray(0, (late - 1) * record), b.subarray(late * record)]),
      'cut inside a late frame': (b) => b.subarray(0, (late - 1) * record + 700),
      'the final frame flipped': (b) => flip(b, b.length - 20),
    };
    for (const [name, tamper] of Object.entries(tamperings)) {
      it(`${name}: the frames before it are written, none after, then the same error as one thread`, async () => {
        const tampered = tamper(body);
        const expected = await open(tampered, F, ONE_THREAD);
        expect(expected.error).toMatch(/^IntegrityError: /);
        for (const threads of [2, 3]) {
          const out = await opened(tampered, threads);
          expect(out.error).toBe(expected.error);
          expect(out.written.length).toBe(expected.plaintext.length);
          expect(out.written.equals(expected.plaintext)).toBe(true);
        }
      });
    }
  });

  it('a batch with a frame that does not authenticate writes the frames before it, and stops the batches after it', async () => {
    const pool = runningFramePool() ?? framePool(1, WORKER);
    await pool.whenSettled();
    const body = await seal(bytes(9 * F, 14), F, ONE_THREAD);
    const record = F + 32;
    const tampered = flip(body, record + 100); // frame 2
    const turns = new WriteTurns();
    const dir = tempDir('envelope-direct-');
    const path = join(dir.path, 'out');
    const fd = openSync(path, 'w');
    try {
      // Both batches are in flight before either is answered.
      const batch = (index: number, first: number) =>
        pool.run({
          kind: 'open',
          id: 0,
          cipher: SUITE.cipher,
          key: keyCopy(KEY),
          messageId: new Uint8Array(MESSAGE_ID),
          frameLength: F,
          firstSequence: first,
          input: new Uint8Array(tampered.subarray((first - 1) * record, (first + 3) * record)).buffer,
          frames: 4,
          direct: { fd, turns: turns.memory, index },
        });
      const [failed, after] = await Promise.all([batch(0, 1), batch(1, 5)]);
      expect(failed).toMatchObject({ length: F, failedSequence: 2 });
      expect(after).toMatchObject({ length: 0, unwritten: true });
      expect(readFileSync(path).equals((await open(body, F, ONE_THREAD)).plaintext.subarray(0, F))).toBe(true);
    } finally {
      closeSync(fd);
      dir.cleanup();
    }
  });

  it('a write that fails (a read-only descriptor) fails the run with its system error, and leaves no job in flight', async () => {
    const plaintext = bytes(6 * B, 11);
    const out = await throughDescriptor((direct) => sealFrames(pieces(plaintext, 1), params, workersAtOnce(3), direct), 'r');
    expect(out.error).toMatch(/EBADF/);
    expect(out.written.length).toBe(0);
    expect(runningFramePool()?.idle).toBe(true);
  });

  it('a run given up part way returns only once no worker writes any more', async () => {
    const plaintext = bytes(12 * B, 12);
    const dir = tempDir('envelope-direct-');
    const fd = openSync(join(dir.path, 'out'), 'w');
    try {
      let wrote = 0;
      const direct: DirectOutput = { fd, flush: async () => undefined, wrote: (n) => (wrote += n) };
      // Nothing is yielded past the first piece: the run is stopped by its input.
      let fed = 0;
      async function* input(): AsyncGenerator<Uint8Array> {
        for await (const c of pieces(plaintext, 1)) {
          yield c;
          fed += c.length;
          if (fed > 4 * B) throw new Error('input failed');
        }
      }
      const failing = sealFrames(input(), params, workersAtOnce(3), direct);
      await expect(collect(failing)).rejects.toThrow('input failed');
      expect(runningFramePool()?.idle).toBe(true);
      expect(wrote).toBeGreaterThan(0);
    } finally {
      closeSync(fd);
      dir.cleanup();
    }
  });
});

describe('writeFully', () => {
  it('writes everything to a descriptor left non-blocking, waiting out EAGAIN', async () => {
    const dir = tempDir('envelope-direct-');
    const path = join(dir.path, 'out');
    // A slow reader on the far side of a pipe whose near end libuv made non-blocking.
    const child = spawn('sh', ['-c', `sleep 0.2; cat > '${path}'`], { stdio: ['pipe', 'ignore', 'inherit'] });
    const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const data = bytes(4 * MiB, 13);
    expect(writeFully(fd, [data.subarray(0, 100), data.subarray(100)])).toBe(data.length);
    child.stdin.end();
    await new Promise((resolve) => child.on('exit', resolve));
    expect(readFileSync(path).equals(data)).toBe(true);
    dir.cleanup();
  });
});

describe('when workers start', () => {
  it('a 1 KiB message is sealed and opened without one', async () => {
    await runningFramePool()?.close();
    const options: ParallelOptions = { threads: 2, threshold: PARALLEL_THRESHOLD, worker: WORKER };
    const small = bytes(1024, 5);
    const sealed = await seal(small, 65536, options, 1024);
    expect((await open(sealed, 65536, options)).plaintext.equals(small)).toBe(true);
    expect(runningFramePool()).toBeUndefined();
  });

  it('past the threshold this thread goes on while they start, and they take over once they run: the same bytes', async () => {
    await runningFramePool()?.close();
    const options: ParallelOptions = { threads: 2, threshold: PARALLEL_THRESHOLD, worker: WORKER };
    const large = bytes(PARALLEL_THRESHOLD + 8 * MiB, 6);
    // Past the threshold the source waits for the event loop, as a file or a
    // pipe does, and counts what it gives before the workers run (this
    // thread's part), until they run; then 8 MiB more, for them.
    let beforeRunning = 0;
    async function* paced(data: Buffer): AsyncGenerator<Uint8Array> {
      let at = 0;
      for await (const piece of chunks(data, 64 * 1024)) {
        if (at > PARALLEL_THRESHOLD) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          if (!runningFramePool()?.ready) beforeRunning += piece.length;
        }
        at += piece.length;
        yield piece;
      }
    }
    const params = { suite: SUITE, key: KEY, messageId: MESSAGE_ID, frameLength: 65536 };
    const sealedLarge = await collect(sealFrames(paced(large), params, options));
    expect(beforeRunning).toBeGreaterThan(0);
    expect(runningFramePool()?.answered).toBeGreaterThan(0);
    expect(sealedLarge.equals(await seal(large, 65536, ONE_THREAD, 64 * 1024))).toBe(true);

    await runningFramePool()?.close();
    beforeRunning = 0;
    const out: Buffer[] = [];
    const p = { ...params, contentType: ContentType.Framed, maxBodyLength: 64 * MiB };
    for await (const c of openBody(new ByteReader(paced(sealedLarge)), p, options)) out.push(Buffer.from(c));
    expect(beforeRunning).toBeGreaterThan(0);
    expect(runningFramePool()?.answered).toBeGreaterThan(0);
    expect(Buffer.concat(out).equals(large)).toBe(true);
  });

  it('a message that ends while they start is sealed and opened by this thread alone', async () => {
    await runningFramePool()?.close();
    const options: ParallelOptions = { threads: 2, threshold: PARALLEL_THRESHOLD, worker: WORKER };
    // No wait in the source: the message is done before a worker runs.
    const large = bytes(PARALLEL_THRESHOLD + 4 * MiB, 6);
    const sealedLarge = await seal(large, 65536, options, 64 * 1024);
    expect(sealedLarge.equals(await seal(large, 65536, ONE_THREAD, 64 * 1024))).toBe(true);
    expect((await open(sealedLarge, 65536, options)).plaintext.equals(large)).toBe(true);
    const pool = runningFramePool();
    expect(pool?.answered ?? 0).toBe(0);
  });

  it('one thread, or a frame longer than a batch, starts none', async () => {
    await runningFramePool()?.close();
    const plaintext = bytes(3 * MiB, 7);
    await seal(plaintext, 65536, { threads: 1, threshold: 0, worker: WORKER });
    await seal(plaintext, 2 * MiB, workersAtOnce());
    expect(runningFramePool()).toBeUndefined();
  });
});

describe('a run that stops early', () => {
  it('leaves no job in flight once what was sent is done (sealing and opening)', async () => {
    const plaintext = bytes(8 * MiB, 8);
    const sealing = sealFrames(pieces(plaintext, 1), { suite: SUITE, key: KEY, messageId: MESSAGE_ID, frameLength: 4096 }, workersAtOnce());
    for (let i = 0; i < 3; i++) await sealing.next();
    await sealing.return(undefined);

    const body = await seal(plaintext, 4096, ONE_THREAD);
    const reader = new ByteReader(chunks(body, 65536));
    const p = { suite: SUITE, key: KEY, messageId: MESSAGE_ID, contentType: ContentType.Framed, frameLength: 4096, maxBodyLength: MiB };
    const opening = openBody(reader, p, workersAtOnce());
    for (let i = 0; i < 3; i++) await opening.next();
    await opening.return(undefined);
    await vi.waitFor(() => expect(runningFramePool()?.idle).toBe(true));
  });
});

describe('a pipe read by a thread of its own', () => {
  const F = 4096;
  const B = framesPerBatch(F) * F;
  const params = { suite: SUITE, key: KEY, messageId: MESSAGE_ID, frameLength: F };
  const workdir = workdirs('envelope-ring-');

  /** A reader thread, started as sealFrames starts one. */
  async function readerThread(): Promise<ReaderThread> {
    const thread = await startReaderThread(WORKER);
    expect(thread).toBeDefined();
    return thread!;
  }

  /** A FIFO's reader (src/cli/input.ts), with a spy on its hand-over. */
  function pipeSource(fd: number) {
    const reader = readStream(fd, 'fifo')[Symbol.asyncIterator]() as AsyncIterator<Uint8Array> & HandsOver;
    const handOver = vi.spyOn(reader, 'handOver');
    return { source: reader, handedOver: () => handOver.mock.results.some((r) => r.value !== undefined) };
  }

  /** The run of sealFromRing, as a producer for throughDescriptor. */
  async function* fromRing(run: () => Promise<void>): AsyncGenerator<Uint8Array> {
    await run();
  }

  /**
   * Seals `held`, then the rest of a FIFO fed `data` (its writer stalling past
   * `stallAfter` bytes), handed over to a reader thread, the workers writing
   * to a file (or to a read-only descriptor).
   */
  async function sealPipe(
    held: Buffer,
    data: Buffer,
    threads: number,
    options: { stallAfter?: number; flags?: string; firstSequence?: number } = {},
  ) {
    const feeding = await fifoFeeding(workdir(), data, data.length, 200_000, options.stallAfter);
    feeding.done.catch(() => undefined); // a stalled writer is killed
    const pool = framePool(threads - 1, WORKER);
    await pool.whenSettled();
    const thread = await readerThread();
    // Handed over before anything was read (no await between): the input cannot have ended.
    const { source } = pipeSource(feeding.fd);
    const before = held.length > 0 ? [Uint8Array.from(held)] : [];
    try {
      const handed = source.handOver();
      expect(handed).toBeDefined();
      const started = performance.now();
      const out = await throughDescriptor(
        (direct) => fromRing(() => sealFromRing(before, handed!, thread, params, options.firstSequence ?? 1, pool, direct)),
        options.flags,
      );
      const elapsed = performance.now() - started;
      if (options.stallAfter === undefined) await feeding.done;
      return { ...out, elapsed, pool };
    } finally {
      thread.close();
      feeding.writer.kill();
      await source.return?.();
    }
  }

  it('seals the bytes one thread seals, wherever the input ends against the batches, with one worker and with two', async () => {
    for (const heldBytes of [0, 1, B + 5]) {
      for (const size of [0, 1, B - 1, B, B + 1, 2 * B - heldBytes, 3 * B + 3 * F + 7]) {
        const held = bytes(heldBytes, 12);
        const data = bytes(size, 13);
        const expected = await seal(Buffer.concat([held, data]), F, ONE_THREAD);
        for (const threads of [2, 3]) {
          const what = `${heldBytes} held, ${size} piped, ${threads - 1} workers`;
          const out = await sealPipe(held, data, threads);
          expect(out.error, what).toBeUndefined();
          expect(out.written.equals(expected), what).toBe(true);
          // Every byte the workers wrote was counted (a file's writer flushes by these counts).
          expect(out.byWorkers + out.byConsumer, what).toBe(expected.length);
        }
      }
    }
  });

  it('sealFrames hands a pipe over only when the workers write the output, with the same bytes either way', async () => {
    const data = bytes(3 * B + 5, 14);
    const expected = await seal(data, F, ONE_THREAD);
    for (const direct of [true, false]) {
      const feeding = await fifoFeeding(workdir(), data, 3, 200_000);
      const { source, handedOver } = pipeSource(feeding.fd);
      const input = { [Symbol.asyncIterator]: () => source };
      try {
        const out = direct
          ? (await throughDescriptor((d) => sealFrames(input, params, workersAtOnce(), d))).written
          : await collect(sealFrames(input, params, workersAtOnce()));
        await feeding.done;
        expect(handedOver(), `workers writing: ${direct}`).toBe(direct);
        expect(out.equals(expected), `workers writing: ${direct}`).toBe(true);
      } finally {
        await source.return?.();
      }
    }
  });

  /** A source that hands over `fd` as it is, as a pipe's reader would once it made it blocking. */
  function handing(fd: number): AsyncIterator<Uint8Array> & HandsOver {
    return {
      next: () => Promise.reject(new Error('read after the hand-over')),
      handOver: (): HandedOver => ({ fd, held: [], failure: (e) => ioError(e, 'read', 'the input') }),
    };
  }

  /** Seals what `source` hands over, the workers writing to a file. */
  async function sealHandedOver(source: AsyncIterator<Uint8Array> & HandsOver) {
    const pool = framePool(1, WORKER);
    await pool.whenSettled();
    const thread = await readerThread();
    try {
      const handed = source.handOver()!;
      return { ...(await throughDescriptor((direct) => fromRing(() => sealFromRing([], handed, thread, params, 1, pool, direct)))), pool };
    } finally {
      thread.close();
    }
  }

  /**
   * A TCP connection on loopback, `sent` written to it: the descriptor of its
   * accepting end, paused from the start so that this thread's event loop never
   * reads it (the reader thread does, a non-blocking descriptor), and the
   * connecting end, left open to write more, reset or close.
   */
  async function connection(sent: Buffer) {
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    const socket = await accepted;
    client.write(sent);
    return {
      fd: (socket as unknown as { _handle: { fd: number } })._handle.fd,
      client,
      close: async () => {
        client.destroy();
        socket.destroy();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  /** Kills the reader thread as a crash would, after 100 ms (time enough to read what there is, if it was given a ring). */
  async function crash(thread: ReaderThread): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 100));
    await (thread as unknown as { worker: Worker }).worker.terminate();
  }

  /**
   * Seals what a connection gives (`sent`, then nothing), its reader thread
   * killed before it is given the ring, or while it reads.
   */
  async function sealWithReaderKilled(sent: Buffer, when: 'before the ring' | 'while reading') {
    const peer = await connection(sent);
    const pool = framePool(1, WORKER);
    await pool.whenSettled();
    const thread = await readerThread();
    try {
      if (when === 'before the ring') await crash(thread);
      const handed = handing(peer.fd).handOver()!;
      const [out] = await Promise.all([
        throughDescriptor((direct) => fromRing(() => sealFromRing([], handed, thread, params, 1, pool, direct))),
        when === 'while reading' ? crash(thread) : undefined,
      ]);
      return { ...out, pool };
    } finally {
      thread.close();
      await peer.close();
    }
  }

  it('sealing: a reader thread that dies fails the run, the workers not waiting for what it would have read', async () => {
    const out = await sealWithReaderKilled(bytes(B + 5, 30), 'while reading');
    expect(out.error).toBe('IoError: cannot read the input: the reader thread exited with code 1');
    expect(out.pool.idle).toBe(true);
  });

  it('sealing: a reader thread that died before it was given the ring fails the run at once', async () => {
    const out = await sealWithReaderKilled(bytes(B + 5, 32), 'before the ring');
    expect(out.error).toBe('IoError: cannot read the input: the reader thread exited with code 1');
    expect(out.written.length).toBe(0);
    expect(out.pool.idle).toBe(true);
  });

  it('a descriptor left non-blocking is still read whole: EAGAIN is waited out', async () => {
    const data = bytes(2 * B + 3, 16);
    const { fd, done } = await fifoFeeding(workdir(), data, 5, 20_000);
    try {
      const out = await sealHandedOver(handing(fd));
      await done;
      expect(out.error).toBeUndefined();
      expect(out.written.equals(await seal(data, F, ONE_THREAD))).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it('a read that fails fails the run with the error of the input that failed', async () => {
    const fd = openSync(workdir(), constants.O_RDONLY);
    try {
      const out = await sealHandedOver(handing(fd));
      expect(out.error).toBe('IoError: cannot read the input: is a directory');
      expect(out.pool.idle).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it('a message numbered past the last sequence number the format allows is refused, from the ring and from batches', async () => {
    // Three frames from two short of the last: the third is one too many.
    const data = bytes(3 * F, 18);
    const firstSequence = MAX_FRAMES - 2;
    const fromRing = await sealPipe(Buffer.alloc(0), data, 2, { firstSequence });
    expect(fromRing.error).toBe('UsageError: input is too large for this frame size: use a larger --frame-size');
    const pool = framePool(1, WORKER);
    await expect(collect(sealInParallel([data], chunks(Buffer.alloc(0)), params, firstSequence, pool))).rejects.toThrow(
      'input is too large for this frame size: use a larger --frame-size',
    );
    // Two frames fit.
    expect((await sealPipe(Buffer.alloc(0), data.subarray(0, 2 * F), 2, { firstSequence })).error).toBeUndefined();
  });

  it('a write that fails ends the run at once with its error, the reader waiting on a writer gone quiet', async () => {
    // With two workers, the other's batch is left unwritten: the failed write is the error reported.
    for (const threads of [2, 3]) {
      const out = await sealPipe(Buffer.alloc(0), bytes(8 * B, 17), threads, { stallAfter: 3 * B, flags: 'r' });
      expect(out.error, `${threads - 1} workers`).toMatch(/EBADF/);
      expect(out.elapsed).toBeLessThan(1000);
      expect(out.pool.idle).toBe(true);
    }
  });

  describe('opening: the frames where the reader thread reads them', () => {
    const record = F + 32;
    const slot = framesPerBatch(F) * record;
    const openParams = { ...params, contentType: ContentType.Framed, maxBodyLength: MiB };

    /** A body of `regular` full frames and a final frame of `finalLength` bytes, as one thread seals it. */
    function body(regular: number, finalLength: number, seed: number): { body: Buffer; plaintext: Buffer } {
      const plaintext = bytes(regular * F + finalLength, seed);
      const frames = Array.from({ length: regular }, (_, i) => sealFrame(params, i + 1, plaintext.subarray(i * F, (i + 1) * F), false));
      frames.push(sealFrame(params, regular + 1, plaintext.subarray(regular * F), true));
      return { body: Buffer.concat(frames), plaintext };
    }

    /**
     * A source that gives `head` first, as read before the workers start, and
     * then hands over `fd` for what follows (the FIFO's own reader may read
     * small inputs to their end before a hand-over: see the test of openBody's).
     */
    function headThenDescriptor(head: Buffer, fd: number): AsyncIterator<Uint8Array> & HandsOver {
      let given = false;
      return {
        next: async () => {
          if (given) throw new Error('read after the head');
          given = true;
          return { value: Buffer.from(head), done: false };
        },
        handOver: handing(fd).handOver,
      };
    }

    /**
     * Opens `message` as decrypt does: the first `headBytes` come first (the
     * first frame is opened here, then the workers start), the rest through a
     * FIFO (its writer stalling past `stallAfter` bytes), or read from a file
     * (quicker: no writer to start), the workers writing to a file.
     */
    async function openPipe(
      message: Buffer,
      headBytes: number,
      threads: number,
      options: { stallAfter?: number; flags?: string; fromFile?: boolean } = {},
    ) {
      const rest = message.subarray(headBytes);
      const feeding = options.fromFile ? fileFeeding(rest) : await fifoFeeding(workdir(), rest, rest.length + threads, 200_000, options.stallAfter);
      feeding.done.catch(() => undefined); // a stalled writer, or one nobody reads after an error, is killed
      const pool = framePool(threads - 1, WORKER);
      await pool.whenSettled();
      const source = headThenDescriptor(message.subarray(0, headBytes), feeding.fd);
      const handOver = vi.spyOn(source, 'handOver');
      try {
        const started = performance.now();
        const out = await throughDescriptor(
          (direct) => openBody(new ByteReader({ [Symbol.asyncIterator]: () => source }), openParams, workersAtOnce(threads), direct),
          options.flags,
        );
        const elapsed = performance.now() - started;
        if (options.stallAfter === undefined && out.error === undefined) await feeding.done;
        return { ...out, elapsed, pool, handedOver: handOver.mock.calls.length > 0 };
      } finally {
        feeding.writer.kill();
        closeSync(feeding.fd);
      }
    }

    /** `data` in a file, open for reading, as fifoFeeding gives a FIFO. */
    function fileFeeding(data: Buffer) {
      const path = join(workdir(), 'rest');
      writeFileSync(path, data);
      return { fd: openSync(path, 'r'), done: Promise.resolve(), writer: { kill: () => undefined } };
    }

    it('gives the plaintext one thread gives, wherever the final frame falls against the slots, with one worker and with two', async () => {
      // The ring starts after frame 1: regular frame k + 1 is its record k.
      const ends = [1, 2, framesPerBatch(F), framesPerBatch(F) + 1, framesPerBatch(F) + 2, 2 * framesPerBatch(F) + 1];
      for (const regular of ends) {
        for (const finalLength of [0, 1, F]) {
          const message = body(regular, finalLength, regular + finalLength);
          expect((await open(message.body, F, ONE_THREAD)).plaintext.equals(message.plaintext)).toBe(true);
          // What comes first: frame 1 alone, a part record more, more than a slot more; each with one worker or two.
          for (const [headBytes, threads] of [
            [record, 2],
            [record + 5000, 3],
            [record + slot + 100, 2],
          ] as const) {
            const what = `${regular} regular frames, a final of ${finalLength}, ${headBytes} bytes first, ${threads - 1} workers`;
            const out = await openPipe(message.body, Math.min(headBytes, message.body.length), threads, { fromFile: true });
            expect(out.error, what).toBeUndefined();
            expect(out.handedOver, what).toBe(true);
            expect(out.written.equals(message.plaintext), what).toBe(true);
            // Every byte the workers wrote was counted (a file's writer flushes by these counts).
            expect(out.byWorkers + out.byConsumer, what).toBe(message.plaintext.length);
            if (regular > 2) expect(out.byWorkers, what).toBeGreaterThan(0);
          }
        }
      }
    });

    describe('a message altered or cut', () => {
      const frames = 3 * framesPerBatch(F) + 10;
      const late = 2 * framesPerBatch(F) + 3; // in the ring's third slot
      const message = body(frames - 1, F - 100, 21);
      const final = (frames - 1) * record;
      const tamperings: Record<string, (b: Buffer) => Buffer> = {
        ...alterations(record, late, final),
        'cut inside a late frame’s sequence number': (b) => b.subarray(0, (late - 1) * record + 2),
        'cut at the end of a slot': (b) => b.subarray(0, record + slot),
        'cut inside the final frame’s header': (b) => b.subarray(0, final + 10),
        'a slot’s worth of data after the final frame': (b) => Buffer.concat([b, bytes(slot + 7, 22)]),
        'the final frame’s sequence number changed': (b) => flip(b, final + 7),
      };
      for (const [name, tamper] of Object.entries(tamperings)) {
        it(`${name}: the frames before it are written, none after, then the same error as one thread`, async () => {
          const tampered = tamper(message.body);
          const expected = await open(tampered, F, ONE_THREAD);
          expect(expected.error).toMatch(/^IntegrityError: /);
          for (const threads of [2, 3]) {
            const out = await openPipe(tampered, record + 100, threads);
            expect(out.handedOver).toBe(true);
            expect(out.error, `${threads - 1} workers`).toBe(expected.error);
            expect(out.written.length, `${threads - 1} workers`).toBe(expected.plaintext.length);
            expect(out.written.equals(expected.plaintext), `${threads - 1} workers`).toBe(true);
            expect(out.pool.idle).toBe(true);
          }
        });
      }
    });

    it('a final frame that spills into the next slot, then data after it, its writer then quiet: the same error at once as one thread', async () => {
      // The ring starts at frame 2; frame 257, the final one, is slot 0's last record and
      // 8 bytes longer than one. Slot 0 is complete (and opened) once a byte of slot 1 is
      // read; this thread then needs the rest of the final frame and the byte after it,
      // which come in a read of their own that completes no slot.
      const message = body(framesPerBatch(F), F, 27);
      const extended = Buffer.concat([message.body, Buffer.from([7])]);
      const expected = await open(extended, F, ONE_THREAD);
      expect(expected.error).toBe('IntegrityError: unexpected data after the end of the message');
      const ringBytes = extended.subarray(record);
      expect(ringBytes.readUInt32BE(slot - record)).toBe(FINAL_FRAME_MARKER);
      const fifo = join(workdir(), 'fifo');
      execFileSync('mkfifo', [fifo]);
      const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const wfd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      /** Writes all of `bytes` to the FIFO, waiting out a full pipe. */
      const writeAll = async (bytes: Buffer) => {
        for (let at = 0; at < bytes.length; ) {
          try {
            at += writeSync(wfd, bytes, at, bytes.length - at);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        }
      };
      const pool = framePool(1, WORKER);
      await pool.whenSettled();
      const source = headThenDescriptor(extended.subarray(0, record), rfd);
      let wroteAll = 0;
      const writer = (async () => {
        await writeAll(ringBytes.subarray(0, slot + 1));
        await new Promise((resolve) => setTimeout(resolve, 200));
        await writeAll(ringBytes.subarray(slot + 1));
        wroteAll = performance.now();
      })();
      // Should this thread wait for a whole slot, it would wait for ever: the writer stays open.
      const giveUp = setTimeout(() => closeSync(wfd), 5000);
      try {
        const out = await throughDescriptor((direct) =>
          openBody(new ByteReader({ [Symbol.asyncIterator]: () => source }), openParams, workersAtOnce(), direct),
        );
        const finished = performance.now();
        await writer;
        expect(out.error).toBe(expected.error);
        expect(out.written.equals(expected.plaintext)).toBe(true);
        expect(finished - wroteAll).toBeLessThan(1000);
        expect(pool.idle).toBe(true);
      } finally {
        clearTimeout(giveUp);
        try {
          closeSync(wfd);
        } catch {
          // closed by giveUp
        }
        closeSync(rfd);
      }
    });

    it('a read that fails fails the run with the error of the input that failed', async () => {
      const message = body(3, 10, 23);
      const fd = openSync(workdir(), constants.O_RDONLY);
      const pool = framePool(1, WORKER);
      await pool.whenSettled();
      // Frame 1, then a directory for the rest.
      const source = headThenDescriptor(message.body.subarray(0, record), fd);
      try {
        const out = await throughDescriptor((direct) => openBody(new ByteReader({ [Symbol.asyncIterator]: () => source }), openParams, workersAtOnce(), direct));
        expect(out.error).toBe('IoError: cannot read the input: is a directory');
        expect(out.written.equals(message.plaintext.subarray(0, F))).toBe(true);
        expect(pool.idle).toBe(true);
      } finally {
        closeSync(fd);
      }
    });

    it('a read that fails while this thread reads the final frame from the ring fails the run with its error, nothing of that frame written', async () => {
      // Frame 1 comes first; the ring then holds frames 2…n of the first slot
      // and the final frame at its end, 8 bytes longer than a record: the slot
      // is complete and the workers find the final frame in it, whose tail is
      // then read from the ring on this thread (ringBytes, open-from-ring.ts). A TCP connection
      // reset by its peer after part of that tail: a read that fails mid-way,
      // which neither a pipe nor a file gives.
      const n = framesPerBatch(F);
      const message = body(n, F, 29);
      const peer = await connection(message.body.subarray(record, record + slot + 4));
      const tailFromRing = vi.spyOn(InputRing.prototype, 'wantEveryRead');
      // Reset once this thread has begun to read the tail from the ring (or, failing that, after 5 s).
      const givenUp = Date.now() + 5000;
      const reset = setInterval(() => {
        if (tailFromRing.mock.calls.length === 0 && Date.now() < givenUp) return;
        clearInterval(reset);
        peer.client.resetAndDestroy();
      }, 5);
      const pool = framePool(1, WORKER);
      await pool.whenSettled();
      try {
        const source = headThenDescriptor(message.body.subarray(0, record), peer.fd);
        const out = await throughDescriptor((direct) => openBody(new ByteReader({ [Symbol.asyncIterator]: () => source }), openParams, workersAtOnce(), direct));
        expect(out.error).toBe('IoError: cannot read the input: connection reset by peer');
        expect(tailFromRing).toHaveBeenCalled();
        // Every regular frame, and nothing of the final one.
        expect(out.written.equals(message.plaintext.subarray(0, n * F))).toBe(true);
        expect(pool.idle).toBe(true);
      } finally {
        clearInterval(reset);
        tailFromRing.mockRestore();
        await peer.close();
      }
    });

    it('a reader thread that dies fails the run, the workers not waiting for what it would have read', async () => {
      // Frame 1 first, then two regular frames and part of the final one, the writer gone quiet.
      const message = body(3, 10, 31);
      const peer = await connection(message.body.subarray(record, message.body.length - 20));
      const started: Promise<ReaderThread | undefined>[] = [];
      const start = ReaderThread.start;
      const spy = vi.spyOn(ReaderThread, 'start').mockImplementation((location) => {
        const thread = start.call(ReaderThread, location);
        started.push(thread);
        return thread;
      });
      const pool = framePool(1, WORKER);
      await pool.whenSettled();
      try {
        const source = headThenDescriptor(message.body.subarray(0, record), peer.fd);
        const run = throughDescriptor((direct) => openBody(new ByteReader({ [Symbol.asyncIterator]: () => source }), openParams, workersAtOnce(), direct));
        while (started.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        await crash((await started[0])!);
        const out = await run;
        expect(out.error).toBe('IoError: cannot read the input: the reader thread exited with code 1');
        // Frame 1 only: the workers had no complete slot.
        expect(out.written.equals(message.plaintext.subarray(0, F))).toBe(true);
        expect(pool.idle).toBe(true);
      } finally {
        spy.mockRestore();
        await peer.close();
      }
    });

    it('a write that fails ends the run at once with its error, the reader waiting on a writer gone quiet', async () => {
      const message = body(8 * framesPerBatch(F), 5, 24);
      for (const threads of [2, 3]) {
        const out = await openPipe(message.body, record, threads, { stallAfter: 3 * slot, flags: 'r' });
        expect(out.error, `${threads - 1} workers`).toMatch(/EBADF/);
        expect(out.elapsed).toBeLessThan(1000);
        expect(out.pool.idle).toBe(true);
      }
    });

    it('openBody hands a pipe over only when the workers write the output, with the same plaintext either way', async () => {
      const message = body(3 * framesPerBatch(F), 7, 25);
      for (const direct of [true, false]) {
        const feeding = await fifoFeeding(workdir(), message.body, 3, 200_000);
        feeding.done.catch(() => undefined);
        const { source, handedOver } = pipeSource(feeding.fd);
        const reader = new ByteReader({ [Symbol.asyncIterator]: () => source });
        try {
          const out = direct
            ? await throughDescriptor((d) => openBody(reader, openParams, workersAtOnce(), d))
            : { written: await collect(openBody(reader, openParams, workersAtOnce())), error: undefined };
          expect(out.error).toBeUndefined();
          await feeding.done;
          expect(handedOver(), `workers writing: ${direct}`).toBe(direct);
          expect(out.written.equals(message.plaintext), `workers writing: ${direct}`).toBe(true);
        } finally {
          feeding.writer.kill();
          await source.return?.();
        }
      }
    });

    it('a reader whose every byte is observed (a signature) keeps its input; so does base64 input, while binary input passes the hand-over through', async () => {
      const data = bytes(100_000, 26);
      data[0] = 0x02; // a message's first byte: its base64 starts with "A"
      for (const form of ['observed', 'base64', 'binary'] as const) {
        const input = form === 'base64' ? Buffer.from(data.toString('base64')) : data;
        const feeding = await fifoFeeding(workdir(), input, 4, 20_000);
        feeding.done.catch(() => undefined);
        const { source, handedOver } = pipeSource(feeding.fd);
        const iterable = { [Symbol.asyncIterator]: () => source };
        const reader = new ByteReader(form === 'observed' ? iterable : dearmor(iterable));
        try {
          if (form === 'observed') reader.observer = () => undefined;
          const first = await reader.read(10, 'test');
          expect(reader.mayHandOver, form).toBe(form !== 'observed');
          const handed = reader.handOver();
          expect(handed !== undefined, form).toBe(form === 'binary');
          expect(handedOver(), form).toBe(form === 'binary');
          if (!handed) {
            // Read on here, as before.
            expect(Buffer.concat([first, await reader.read(data.length - 10, 'test')]).equals(data), form).toBe(true);
          } else {
            // What was read ahead comes first, then the descriptor's bytes.
            const rest = handed.held.map((c) => Buffer.from(c));
            for (;;) {
              const b = Buffer.alloc(65536);
              const n = readSync(handed.fd, b);
              if (n === 0) break;
              rest.push(b.subarray(0, n));
            }
            expect(Buffer.concat([first, ...rest]).equals(data), form).toBe(true);
            expect(await reader.atEnd()).toBe(true);
          }
          await feeding.done;
        } finally {
          feeding.writer.kill();
          await source.return?.();
        }
      }
    });
  });
});

describe('bin/envelope', () => {
  const workdir = workdirs('envelope-parallel-');
  let dir: string;
  let key: string;
  // Past PARALLEL_THRESHOLD, so the workers of dist/ take over the rest.
  const plaintext = randomBytes(40 * MiB);
  const run = (args: string[], stdin: Uint8Array, env: NodeJS.ProcessEnv = {}) =>
    runCli(args, { stdin, cwd: dir, env: { ENVELOPE_KEYSTORE: join(dir, 'ks'), ...env }, timeoutMs: 60_000 });

  beforeAll(() => {
    // A working directory away from the repository: the worker is found beside the bundle.
    dir = workdir();
    writeFileSync(join(dir, 'aes.key'), randomBytes(32));
    key = `raw-aes:file=${join(dir, 'aes.key')},namespace=test,name=k`;
  });

  for (const sign of [false, true]) {
    it(`${sign ? 'signed' : 'unsigned'}: messages sealed on workers open on one thread, and the other way round`, async () => {
      const flags = ['-k', key, ...(sign ? ['--sign'] : [])];
      for (const [sealEnv, openEnv] of [
        [{}, { ENVELOPE_THREADS: '1' }],
        [{ ENVELOPE_THREADS: '1' }, {}],
      ] as const) {
        const message = await run(['encrypt', ...flags], plaintext, sealEnv);
        expect(message.stderr).toBe('');
        expect(message.code).toBe(0);
        const opened = await run(['decrypt', '-k', key], message.stdout, openEnv);
        expect(opened.stderr).toBe('');
        expect(opened.code).toBe(0);
        expect(opened.stdout.equals(plaintext)).toBe(true);
      }
    });
  }

  it('a message that ends while the workers start, or soon after: it exits once done, the workers and reader thread never used', async () => {
    // A started Worker that never had a job must not hold the process open
    // (frame-pool.ts, reader-thread.ts: a 'message' listener ref()s it).
    for (const size of [PARALLEL_THRESHOLD + 64 * 1024, PARALLEL_THRESHOLD + 8 * MiB]) {
      const input = plaintext.subarray(0, size);
      const message = await runCli(['encrypt', '-k', key], { stdin: input, cwd: dir, timeoutMs: 10_000 });
      expect({ code: message.code, signal: message.signal, stderr: message.stderr }, `encrypt ${size}`).toEqual({ code: 0, signal: null, stderr: '' });
      const opened = await runCli(['decrypt', '-k', key], { stdin: message.stdout, cwd: dir, timeoutMs: 10_000 });
      expect({ code: opened.code, signal: opened.signal, stderr: opened.stderr }, `decrypt ${size}`).toEqual({ code: 0, signal: null, stderr: '' });
      expect(opened.stdout.equals(input)).toBe(true);
    }
  });

  it('workers write to -o FILE and to a file on stdout as they do to a pipe', async () => {
    const plain = join(dir, 'plain');
    writeFileSync(plain, plaintext);
    const sealed = join(dir, 'sealed.enc');
    const encrypted = await run(['encrypt', '-k', key, plain, '-o', sealed], new Uint8Array(0));
    expect(encrypted.stderr).toBe('');
    expect(encrypted.code).toBe(0);
    for (const threads of ['1', '2']) {
      const out = join(dir, `opened-${threads}`);
      const fd = openSync(out, 'w');
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, [ENVELOPE, 'decrypt', '-k', key, sealed, '-o', '-'], {
          cwd: dir,
          env: { ...process.env, ENVELOPE_THREADS: threads },
          stdio: ['ignore', fd, 'inherit'],
        });
        child.on('error', reject).on('exit', resolve);
      });
      closeSync(fd);
      expect(code).toBe(0);
      expect(readFileSync(out).equals(plaintext), `${threads} thread(s)`).toBe(true);
    }
  });

  it('a frame flipped late in the message: exit 5 and the same error with workers and without', async () => {
    const message = (await run(['encrypt', '-k', key], plaintext)).stdout;
    const tampered = flip(message, message.length - 5 * MiB);
    const parallel = await run(['decrypt', '-k', key], tampered);
    const single = await run(['decrypt', '-k', key], tampered, { ENVELOPE_THREADS: '1' });
    expect(parallel.code).toBe(5);
    expect(parallel.stderr).toMatch(/^envelope: error: frame \d+ does not authenticate: the message was altered\n/);
    expect(parallel.stderr).toBe(single.stderr);
  });

  it('exits at once when its reader goes away, and when interrupted, in the middle of the parallel part', async () => {
    const message = (await run(['encrypt', '-k', key], plaintext)).stdout;
    for (const stop of ['close stdout', 'SIGINT', 'stop reading, then SIGINT'] as const) {
      const child = spawn(process.execPath, [ENVELOPE, 'decrypt', '-k', key], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin.on('error', () => undefined);
      child.stdin.end(message);
      const { code, signal, elapsed } = await stopPartWay(child, 24 * MiB, stop);
      expect({ code, signal }, stop).toEqual(stop === 'close stdout' ? { code: 0, signal: null } : { code: null, signal: 'SIGINT' });
      expect(elapsed).toBeLessThan(5000);
    }
  });
  it('encrypting or decrypting from a writer that has gone quiet: SIGINT and SIGTERM end it at once, its reader thread blocked in read(2)', async () => {
    const message = (await run(['encrypt', '-k', key], plaintext)).stdout;
    for (const [command, input] of [
      ['encrypt', plaintext],
      ['decrypt', message],
    ] as const) {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        const child = spawn(process.execPath, [ENVELOPE, command, '-k', key, '-o', join(dir, `quiet.${command}`), '--force'], {
          cwd: dir,
          env: { ...process.env, ENVELOPE_KEYSTORE: join(dir, 'ks') },
          stdio: ['pipe', 'ignore', 'pipe'],
        });
        // Past the threshold, so that the reader thread reads; then nothing more, the pipe left open.
        child.stdin.on('error', () => undefined);
        child.stdin.write(input.subarray(0, 24 * MiB));
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const started = performance.now();
        const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
          child.on('exit', (code, signal) => resolve({ code, signal })),
        );
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        expect(await exited).toEqual({ code: null, signal });
        clearTimeout(timer);
        expect(performance.now() - started).toBeLessThan(2000);
        child.stdin.destroy();
        // Nothing is left behind: no output, no temporary.
        expect(readdirSync(dir).filter((name) => name.includes('quiet'))).toEqual([]);
      }
    }
  });
});

/**
 * Once `after` bytes came out, closes the child's stdout, or interrupts it, or
 * stops reading and interrupts it a second later (its workers are then blocked
 * writing to a full pipe); resolves when it exits.
 */
function stopPartWay(child: ChildProcess, after: number, how: 'close stdout' | 'SIGINT' | 'stop reading, then SIGINT') {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; elapsed: number }>((resolve, reject) => {
    let seen = 0;
    let stoppedAt = 0;
    let stopping = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      seen += d.length;
      if (seen < after || stopping) return;
      stopping = true;
      const stop = () => {
        stoppedAt = performance.now();
        if (how === 'close stdout') child.stdout!.destroy();
        else child.kill('SIGINT');
      };
      if (how === 'stop reading, then SIGINT') {
        child.stdout!.pause();
        setTimeout(stop, 1000);
      } else stop();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, elapsed: stoppedAt ? performance.now() - stoppedAt : Number.POSITIVE_INFINITY });
    });
  });
}
