// Where data comes from: a file, or stdin when no file (or `-`) is named.
//
// A regular file (named, or redirected to stdin) is read synchronously, 1 MiB at
// a time, straight from its descriptor into fresh buffers: a stream would cost a
// thread-pool hand-off per 64 KiB, most of the system time of a 1 GiB run, and a
// file read never waits long. A pipe or terminal is read through Node's stream,
// on the event loop: a blocking read there would keep SIGINT from being handled
// while the writer is idle.

import { closeSync, constants, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { ioError } from '../errors.js';

const READ_SIZE = 1024 * 1024;

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
    const regular = (() => {
      try {
        return fstatSync(0).isFile();
      } catch {
        return false;
      }
    })();
    return regular ? readDescriptor(0, 'standard input', () => process.stdin) : guard(process.stdin, 'standard input');
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
  for (;;) {
    const buffer = Buffer.allocUnsafe(READ_SIZE);
    let n: number;
    try {
      n = readSync(fd, buffer, 0, READ_SIZE, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        yield* guard(fallback(), name);
        return;
      }
      throw ioError(e, 'read', name);
    }
    if (n === 0) return;
    yield n === READ_SIZE ? buffer : buffer.subarray(0, n);
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
