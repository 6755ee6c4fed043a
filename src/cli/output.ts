// Where data goes: stdout, or a file written atomically. A file is written to a
// temporary sibling (O_EXCL, the final mode from the start), synced, and only
// then renamed into place; on any failure or interruption the temporary file is
// removed, so no partial output ever appears and an existing file is untouched.

import { randomBytes } from 'node:crypto';
import { fstatSync, unlinkSync, writevSync } from 'node:fs';
import { type FileHandle, link, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { IoError, ioError, UsageError } from '../errors.js';
import { release, WRITER_HOLDS } from '../stream/buffer-pool.js';

/** Temporary files to remove if the process is interrupted. */
const pendingTemporaries = new Set<string>();

export function removeTemporariesSync(): void {
  for (const path of pendingTemporaries) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
  pendingTemporaries.clear();
}

export interface FileOutputOptions {
  readonly force: boolean;
  /** Mode of the new file: 0o600 for plaintext, 0o644 for ciphertext (before umask). */
  readonly mode: number;
}

/** Refuses to replace an existing file without --force. A device or pipe (-o /dev/null) is written, not replaced. */
export async function refuseExisting(path: string, force: boolean): Promise<void> {
  if (force) return;
  const existing = await stat(path).catch(() => undefined);
  if (existing && (existing.isFile() || existing.isDirectory())) {
    throw new IoError(`${path} already exists`, { hints: ['use --force to overwrite it'] });
  }
}

export async function writeFileAtomically(
  path: string,
  source: AsyncIterable<Uint8Array>,
  options: FileOutputOptions,
): Promise<void> {
  // A device or pipe (-o /dev/null, a FIFO) cannot be replaced by rename: write to it as it is.
  const existing = await stat(path).catch(() => undefined);
  if (existing && !existing.isFile() && !existing.isDirectory()) return writeSpecial(path, source);
  if (existing?.isDirectory()) throw new IoError(`${path} is a directory`);
  await refuseExisting(path, options.force);
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporary, 'wx', options.mode);
  } catch (e) {
    throw ioError(e, 'create', path);
  }
  pendingTemporaries.add(temporary);
  try {
    await writeDurably(handle, source, path);
    await handle.close();
    handle = undefined;
    await publish(temporary, path, options.force);
    await syncDirectory(dirname(path));
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw e;
  } finally {
    pendingTemporaries.delete(temporary);
  }
}

async function writeSpecial(path: string, source: AsyncIterable<Uint8Array>): Promise<void> {
  const handle = await open(path, 'w').catch((e) => {
    throw ioError(e, 'open', path);
  });
  try {
    for await (const chunk of source) {
      await handle.write(chunk).catch((e) => Promise.reject(ioError(e, 'write', path)));
      release(chunk);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Bytes written between two background flushes. The kernel starts writing
 * dirty pages back only past dirty_background_ratio (10% of memory: GiBs here),
 * so without these a large output would reach the disk only at the final
 * fsync, after the whole copy; with them the disk writes while we read.
 */
export const FLUSH_EVERY = 64 * 1024 * 1024;

/** What writeDurably needs of a file handle (a FileHandle; tests give a stand-in). */
export type WritableFile = Pick<FileHandle, 'writev' | 'datasync' | 'sync'>;

/**
 * Writes all of `source` to `handle` and fsyncs it, flushing in the background
 * as it goes; any failure, a background flush's included, is an IoError naming `path`.
 */
export async function writeDurably(handle: WritableFile, source: AsyncIterable<Uint8Array>, path: string): Promise<void> {
  let unflushed = 0;
  let flushing: Promise<void> | undefined;
  // Linux reports a failed write-back once per descriptor: to the flush that
  // saw it, not to a later fsync. So a flush's failure is kept and fails the file.
  let flushFailure: unknown;
  try {
    await writeBatched(source, async (batch) => {
      if (flushFailure !== undefined) throw flushFailure;
      const written = (await handle.writev(batch)).bytesWritten;
      unflushed += written;
      if (unflushed >= FLUSH_EVERY && !flushing) {
        unflushed = 0;
        flushing = handle
          .datasync()
          .catch((e: unknown) => void (flushFailure ??= e))
          .finally(() => (flushing = undefined));
      }
      return written;
    });
    await flushing;
    if (flushFailure !== undefined) throw flushFailure;
    await handle.sync();
  } catch (e) {
    await flushing;
    throw ioError(e, 'write', path);
  }
}

/** Output is written in batches of about this many bytes: one writev(2) per batch, not per frame. */
const BATCH_BYTES = 1024 * 1024;
const BATCH_BUFFERS = 256;

/**
 * Gathers the chunks of `source` into batches and hands each to `writev`, which
 * returns how many bytes it wrote; a short write is continued with the rest.
 * Written chunks are released (src/stream/buffer-pool.ts): the last to use
 * them, this lets pooled buffers be filled again.
 */
export async function writeBatched(
  source: AsyncIterable<Uint8Array>,
  writev: (buffers: Uint8Array[]) => Promise<number> | number,
): Promise<void> {
  for await (const batch of batches(source)) {
    let pending = batch;
    while (pending.length > 0) {
      let written = await writev(pending);
      let i = 0;
      while (i < pending.length && written >= pending[i]!.length) written -= pending[i++]!.length;
      pending = pending.slice(i);
      if (written > 0) pending[0] = pending[0]!.subarray(written);
    }
    for (const chunk of batch) release(chunk);
  }
}

/** The non-empty chunks of `source`, gathered into batches of about BATCH_BYTES (or BATCH_BUFFERS chunks). */
async function* batches(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array[]> {
  let batch: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    batch.push(chunk);
    size += chunk.length;
    if (size >= BATCH_BYTES || batch.length >= BATCH_BUFFERS) {
      yield batch;
      batch = [];
      size = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

/** Moves the finished file into place; without --force, never over a file that appeared meanwhile. */
async function publish(temporary: string, path: string, force: boolean): Promise<void> {
  try {
    if (force) {
      await rename(temporary, path);
      return;
    }
    try {
      await link(temporary, path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new IoError(`${path} already exists`, { hints: ['use --force to overwrite it'] });
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw e;
      // File systems without hard links: check and rename.
      await refuseExisting(path, false);
      await rename(temporary, path);
      return;
    }
    await unlink(temporary);
  } catch (e) {
    throw ioError(e, 'write', path);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}

/**
 * Writes to stdout. A pipe or socket goes through Node's stream (see
 * writeToStream); anything else (a file, /dev/null, a terminal) takes
 * synchronous writev(2) on descriptor 1, batched, and falls back to the stream
 * if that ever says EAGAIN. A reader that has gone away (EPIPE: `| head`) ends
 * the output quietly.
 */
export async function writeStdout(source: AsyncIterable<Uint8Array>, binary: boolean): Promise<void> {
  if (binary && process.stdout.isTTY) {
    throw new UsageError('refusing to write binary ciphertext to a terminal', {
      hints: ['redirect it, name a file with -o, or use --armor for base64 text'],
    });
  }
  try {
    if (isStreamDescriptor(1)) {
      await writeToStream(source, process.stdout);
      return;
    }
    let blocking = true;
    await writeBatched(source, (buffers) => {
      if (blocking) {
        try {
          return writevSync(1, buffers);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
          blocking = false;
        }
      }
      return writeConcatenated(buffers);
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return;
    throw ioError(e, 'write', 'standard output');
  }
}

function isStreamDescriptor(fd: number): boolean {
  try {
    const s = fstatSync(fd);
    return s.isFIFO() || s.isSocket();
  } catch {
    return false;
  }
}

function writeConcatenated(buffers: Uint8Array[]): Promise<number> {
  const all = Buffer.concat(buffers);
  return new Promise((resolve, reject) => {
    process.stdout.write(all, (e) => (e ? reject(e) : resolve(all.length)));
  });
}

/**
 * Bytes left queued in a stream while more is read and sealed: two batches,
 * so that with the batch being written the writer holds at most WRITER_HOLDS
 * (pools keep buffers for that much: buffer-pool.ts).
 */
const WRITE_BEHIND = WRITER_HOLDS - 2 * BATCH_BYTES;

/**
 * Writes to a pipe or socket through Node's stream: a batch of chunks at a
 * time as one writev(2), corked; libuv waits for room with epoll. Node makes
 * a pipe on descriptor 1 non-blocking once process.stdout exists, so a
 * synchronous writev would spin on EAGAIN; and a blocking one sleeps and wakes
 * for each 64 KiB the reader takes (measured: ~1.8 s per GiB, against ~0.9 s
 * this way). Up to WRITE_BEHIND bytes stay queued while the source produces
 * the next batch, so reading and writing overlap. Each chunk is released once
 * written (src/stream/buffer-pool.ts).
 */
export async function writeToStream(source: AsyncIterable<Uint8Array>, out: Writable): Promise<void> {
  let failure: Error | undefined;
  const fail = (e: Error) => (failure ??= e);
  out.on('error', fail);
  const settled = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        out.off('error', done);
        resolve();
      };
      out.on('drain', done).on('close', done).on('error', done);
    });
  try {
    for await (const batch of batches(source)) {
      out.cork();
      for (const chunk of batch) out.write(chunk, (e) => (e ? fail(e) : release(chunk)));
      out.uncork();
      if (out.writableLength > WRITE_BEHIND && !failure) await settled();
      if (failure) throw failure;
    }
    // The source is done; wait until the stream has written everything it holds.
    await new Promise<void>((resolve) =>
      out.write(Buffer.alloc(0), (e) => {
        if (e) fail(e);
        resolve();
      }),
    );
    if (failure) throw failure;
  } finally {
    out.off('error', fail);
  }
}

/** Refuses to write over the input: same device and inode. */
export async function assertNotSameFile(input: string | undefined, output: string): Promise<void> {
  if (input === undefined) return;
  const [a, b] = await Promise.all([stat(input).catch(() => undefined), stat(output).catch(() => undefined)]);
  if (a && b && a.dev === b.dev && a.ino === b.ino) {
    throw new UsageError(`input and output are the same file: ${output}`);
  }
}
