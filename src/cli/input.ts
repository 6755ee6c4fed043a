// Where data comes from: a file, or stdin when no file (or `-`) is named.
//
// A regular file (named, or redirected to stdin) is read synchronously, 1 MiB at
// a time, straight from its descriptor: a stream would cost a thread-pool
// hand-off per 64 KiB, most of the system time of a 1 GiB run, and a file read
// never waits long. A pipe or socket is read on the event loop (a blocking read
// there would keep SIGINT from being handled while the writer is idle) into
// buffers of our own, not Node's fresh one per read, or straight into the
// buffer of a consumer that fills one (src/stream/fillable.ts: the batches the
// workers seal). Once a large input is sealed by workers, a pipe's descriptor
// is handed over to a thread that reads it with blocking reads
// (src/stream/hand-over.ts, input-ring.ts). A terminal is read through process.stdin.
//
// File and pipe chunks are lent from a pool (src/stream/buffer-pool.ts): the
// encrypt and decrypt data paths release each one once copied, and it is read
// into again, so a large input leaves no trail of dead buffers (~32 MiB of
// them, with a fresh buffer per read).

import { accessSync, closeSync, constants, createReadStream, openSync, readSync, statSync } from 'node:fs';
import type { OnReadOpts, Socket, SocketConstructorOpts } from 'node:net';
import { ioError } from '../errors.js';
import { isPipeOrSocket, statDescriptor } from './descriptor.js';
import { BufferPool, buffersHeldByWriter, release } from '../stream/buffer-pool.js';
import type { Fillable } from '../stream/fillable.js';
import type { HandedOver, HandsOver } from '../stream/hand-over.js';

const READ_SIZE = 1024 * 1024;
/** A pipe holds 64 KiB (Linux default), so a read returns at most that. */
const PIPE_READ_SIZE = 64 * 1024;
/** Chunks read ahead of the consumer before a pipe is paused. */
const PIPE_READ_AHEAD = 16;

export function isStdio(path: string | undefined): boolean {
  return path === undefined || path === '-';
}

/**
 * Checks now that the file can be read, so a missing input fails before any
 * output exists; opens it only when the stream is first read, so a command
 * that fails before then leaves no descriptor open.
 */
export async function openInput(path: string | undefined): Promise<AsyncIterable<Uint8Array>> {
  if (isStdio(path)) {
    const stdin = statDescriptor(0);
    if (stdin?.isFile()) return readDescriptor(0, 'standard input', () => process.stdin);
    if (isPipeOrSocket(stdin)) return readStream(0, 'standard input');
    return guard(process.stdin, 'standard input');
  }
  const file = path!;
  try {
    if (statSync(file).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    accessSync(file, constants.R_OK);
  } catch (e) {
    throw ioError(e, 'read', file);
  }
  return (async function* () {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      throw ioError(e, 'read', file);
    }
    try {
      yield* readDescriptor(fd, file, () => createReadStream(file));
    } finally {
      closeSync(fd);
    }
  })();
}

/** Reads a regular file's descriptor to its end; EAGAIN (a non-blocking descriptor) falls back to a stream. */
async function* readDescriptor(fd: number, name: string, fallback: () => AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const pool = new BufferPool(READ_SIZE, 4 + buffersHeldByWriter(READ_SIZE));
  try {
    for (;;) {
      const buffer = pool.takeArrayBuffer();
      let n: number;
      try {
        n = readSync(fd, new Uint8Array(buffer), 0, READ_SIZE, null);
      } catch (e) {
        pool.give(buffer, 0);
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
          yield* guard(fallback(), name);
          return;
        }
        throw ioError(e, 'read', name);
      }
      if (n === 0) {
        pool.give(buffer, 0);
        return;
      }
      yield pool.lend(buffer, n);
    }
  } finally {
    pool.close();
  }
}

/** A pipe or socket's reader (StreamReader): exported for its tests. */
export function readStream(fd: number, name: string): AsyncIterable<Uint8Array> {
  return { [Symbol.asyncIterator]: () => new StreamReader(fd, name) };
}

/**
 * Reads a pipe or socket on the event loop, each read going into a pooled
 * buffer (net.Socket's `onread`), or into the consumer's own while it fills one
 * (Fillable). The socket pauses while PIPE_READ_AHEAD chunks wait for the consumer.
 */
class StreamReader implements AsyncIterator<Uint8Array>, Fillable, HandsOver {
  private readonly pool = new BufferPool(PIPE_READ_SIZE, PIPE_READ_AHEAD + 2 + buffersHeldByWriter(PIPE_READ_SIZE));
  private readonly queue: Buffer[] = [];
  /** Bytes of the queue's first chunk already copied out by fill(). */
  private taken = 0;
  private readonly socket: Socket;
  private paused = false;
  private ended = false;
  private failure: unknown;
  private wake: (() => void) | undefined;
  /** The consumer's buffer being filled, and how much of it is. */
  private target: { readonly view: Uint8Array; filled: number } | undefined;
  /** The buffer the next read goes into, as last given to the socket. */
  private readsInto: Uint8Array | undefined;
  /** The descriptor is another thread's: nothing here reads it again. */
  private handedOver = false;

  constructor(
    private readonly fd: number,
    private readonly name: string,
  ) {
    // The constructor takes `onread` as connect() does (lib/net.js); @types/node lists it for connect() only.
    const options: SocketConstructorOpts & { onread: OnReadOpts } = {
      fd,
      readable: true,
      writable: false,
      onread: { buffer: () => this.nextBuffer(), callback: (n: number, buffer: Uint8Array) => this.onRead(n, buffer) },
    };
    // Loaded here, not imported: a file's reader needs no node:net, a few ms of start-up.
    const { Socket } = process.getBuiltinModule('node:net');
    this.socket = new Socket(options);
    this.socket.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    this.socket.on('error', (e) => {
      this.failure = e;
      this.wake?.();
    });
  }

  /** Where the next read goes: the rest of the consumer's buffer, or a pooled one. */
  private nextBuffer(): Uint8Array {
    this.readsInto = this.target ? this.target.view.subarray(this.target.filled) : new Uint8Array(this.pool.takeArrayBuffer());
    return this.readsInto;
  }

  private onRead(n: number, buffer: Uint8Array): boolean {
    const target = this.target;
    if (target && buffer === this.readsInto && buffer.buffer === target.view.buffer) {
      target.filled += n;
    } else if (target) {
      // Given its buffer before fill() began: copied in now, before the socket
      // is given the rest of the target for the read after it.
      const take = Math.min(n, target.view.length - target.filled);
      target.view.set(buffer.subarray(0, take), target.filled);
      target.filled += take;
      if (take < n) {
        this.queue.push(this.pool.lend(buffer.buffer as ArrayBuffer, n));
        this.taken = take;
      } else this.pool.give(buffer.buffer as ArrayBuffer, n);
    } else {
      this.queue.push(this.pool.lend(buffer.buffer as ArrayBuffer, n));
    }
    this.wake?.();
    if (target && target.filled === target.view.length) {
      // Filled: the next bytes wait in the pipe for the next fill() rather than
      // be read ahead into a pooled buffer, only to be copied out of it.
      this.target = undefined;
      this.paused = true;
    } else this.paused = this.queue.length >= PIPE_READ_AHEAD;
    return !this.paused;
  }

  /** Waits for a read, the end, or a failure. */
  private async arrival(): Promise<void> {
    await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
  }

  private resumeIfDrained(): void {
    if (this.paused && !this.handedOver && this.queue.length < PIPE_READ_AHEAD / 2) {
      this.paused = false;
      this.socket.resume();
    }
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      let chunk = this.queue.shift();
      if (chunk) {
        // After a fill() that took part of it: the rest, which no longer releases the whole (buffer-pool.ts).
        if (this.taken > 0) chunk = chunk.subarray(this.taken);
        this.taken = 0;
        this.resumeIfDrained();
        return { value: chunk, done: false };
      }
      if (this.failure !== undefined) throw ioError(this.failure, 'read', this.name);
      if (this.ended) return { value: undefined, done: true };
      this.resumeIfDrained();
      await this.arrival();
    }
  }

  async fill(view: Uint8Array): Promise<number> {
    let filled = 0;
    // What was read ahead goes first.
    while (filled < view.length && this.queue.length > 0) {
      const chunk = this.queue[0]!;
      const n = Math.min(chunk.length - this.taken, view.length - filled);
      view.set(chunk.subarray(this.taken, this.taken + n), filled);
      filled += n;
      this.taken += n;
      if (this.taken === chunk.length) {
        this.queue.shift();
        this.taken = 0;
        release(chunk);
      }
    }
    this.resumeIfDrained();
    if (filled === view.length || this.ended) return filled;
    if (this.failure !== undefined) throw ioError(this.failure, 'read', this.name);
    // The queue is empty: reads land in `view` from now on (onRead).
    const target = { view, filled };
    this.target = target;
    this.resumeIfDrained();
    try {
      while (this.target === target && !this.ended && this.failure === undefined) await this.arrival();
    } finally {
      if (this.target === target) this.target = undefined;
    }
    if (target.filled < view.length && this.failure !== undefined) throw ioError(this.failure, 'read', this.name);
    return target.filled;
  }

  async more(): Promise<boolean> {
    for (;;) {
      if (this.queue.length > 0) return true;
      if (this.failure !== undefined) throw ioError(this.failure, 'read', this.name);
      if (this.ended) return false;
      this.resumeIfDrained();
      await this.arrival();
    }
  }

  handOver(): HandedOver | undefined {
    if (this.target || this.ended || this.failure !== undefined) return undefined;
    // uv_stream_set_blocking, on the socket's libuv handle: not in @types/node, as for stdout (src/cli/output.ts).
    const handle = (this.socket as unknown as { _handle?: { setBlocking?: (blocking: boolean) => number } })._handle;
    if (typeof handle?.setBlocking !== 'function') return undefined;
    // The socket stops reading (readStop) before the descriptor turns blocking under it.
    this.socket.pause();
    this.paused = true;
    if (handle.setBlocking(true) !== 0) return undefined;
    this.handedOver = true;
    const held = this.queue.splice(0);
    // A chunk a fill() took the start of: the rest (which no longer releases the whole, buffer-pool.ts).
    if (this.taken > 0) held[0] = held[0]!.subarray(this.taken);
    this.taken = 0;
    return { fd: this.fd, held, failure: (e) => ioError(e, 'read', this.name) };
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    // Standard input's descriptor stays open: libuv never closes 0, 1 or 2.
    this.socket.destroy();
    for (const chunk of this.queue.splice(0)) release(chunk);
    this.pool.close();
    return { value: undefined, done: true };
  }
}

/** Re-throws system errors of a stream as IoErrors that name the file. */
async function* guard(source: AsyncIterable<Uint8Array>, name: string): AsyncGenerator<Uint8Array> {
  try {
    yield* source;
  } catch (e) {
    throw ioError(e, 'read', name);
  }
}
