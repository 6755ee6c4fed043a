// Where data comes from: a file, or stdin when no file (or `-`) is named.
//
// A regular file (named, or redirected to stdin) is read synchronously, 1 MiB at
// a time, straight from its descriptor: a stream would cost a thread-pool
// hand-off per 64 KiB, most of the system time of a 1 GiB run, and a file read
// never waits long. A pipe or socket is read on the event loop (a blocking read
// there would keep SIGINT from being handled while the writer is idle) into
// buffers of our own, not Node's fresh one per read. A terminal is read through
// process.stdin.
//
// File and pipe chunks are lent from a pool (src/stream/buffer-pool.ts): the
// encrypt and decrypt data paths release each one once copied, and it is read
// into again, so a large input leaves no trail of dead buffers (~32 MiB of
// them, with a fresh buffer per read).

import { closeSync, constants, createReadStream, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { type OnReadOpts, Socket, type SocketConstructorOpts } from 'node:net';
import { ioError } from '../errors.js';
import { BufferPool, buffersHeldByWriter } from '../stream/buffer-pool.js';

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
    const stdin = (() => {
      try {
        return fstatSync(0);
      } catch {
        return undefined;
      }
    })();
    if (stdin?.isFile()) return readDescriptor(0, 'standard input', () => process.stdin);
    if (isStream(stdin)) return readStream(0, 'standard input');
    return guard(process.stdin, 'standard input');
  }
  const file = path!;
  try {
    if ((await stat(file)).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    await access(file, constants.R_OK);
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
        pool.give(buffer);
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
          yield* guard(fallback(), name);
          return;
        }
        throw ioError(e, 'read', name);
      }
      if (n === 0) {
        pool.give(buffer);
        return;
      }
      yield pool.lend(buffer, n);
    }
  } finally {
    pool.close();
  }
}

function isStream(s: Stats | undefined): boolean {
  return !!s && (s.isFIFO() || s.isSocket());
}

/**
 * Reads a pipe or socket on the event loop, each read going into a pooled
 * buffer (net.Socket's `onread`); the socket pauses while PIPE_READ_AHEAD
 * chunks wait for the consumer.
 */
async function* readStream(fd: number, name: string): AsyncGenerator<Uint8Array> {
  const pool = new BufferPool(PIPE_READ_SIZE, PIPE_READ_AHEAD + 2 + buffersHeldByWriter(PIPE_READ_SIZE));
  const queue: Buffer[] = [];
  let paused = false;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  // The constructor takes `onread` as connect() does (lib/net.js); @types/node lists it for connect() only.
  const options: SocketConstructorOpts & { onread: OnReadOpts } = {
    fd,
    readable: true,
    writable: false,
    onread: {
      buffer: () => new Uint8Array(pool.takeArrayBuffer()),
      callback: (n: number, buffer: Uint8Array) => {
        queue.push(pool.lend(buffer.buffer as ArrayBuffer, n));
        wake?.();
        paused = queue.length >= PIPE_READ_AHEAD;
        return !paused;
      },
    },
  };
  const socket = new Socket(options);
  socket.on('end', () => {
    ended = true;
    wake?.();
  });
  socket.on('error', (e) => {
    failure = e;
    wake?.();
  });
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk) {
        if (paused && queue.length < PIPE_READ_AHEAD / 2) {
          paused = false;
          socket.resume();
        }
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw ioError(failure, 'read', name);
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    // Standard input's descriptor stays open: libuv never closes 0, 1 or 2.
    socket.destroy();
    pool.close();
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
