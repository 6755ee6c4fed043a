// Where data goes: stdout, or a file written atomically. A file is written to a
// temporary sibling (O_EXCL, the final mode from the start), synced, and only
// then renamed into place; on any failure or interruption the temporary file is
// removed, so no partial output ever appears and an existing file is untouched.

import { randomBytes } from 'node:crypto';
import { constants as fsConstants, type Stats, unlinkSync, writevSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { IoError, ioError, UsageError } from '../errors.js';
import { isPipeOrSocket, statDescriptor } from './descriptor.js';
import { release, WRITER_HOLDS } from '../stream/buffer-pool.js';
import { type DirectOutput, unwritten } from '../stream/direct-output.js';

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

/**
 * Makes the bytes to write, given a descriptor that worker threads may write
 * to themselves (src/stream/direct-output.ts), or undefined where there is none.
 */
export type Producer = (direct: DirectOutput | undefined) => AsyncIterable<Uint8Array>;

/** What a writer writes: bytes, or a producer of bytes that may be offered the descriptor. */
export type Output = AsyncIterable<Uint8Array> | Producer;

function bytesOf(output: Output, direct?: DirectOutput): AsyncIterable<Uint8Array> {
  return typeof output === 'function' ? output(direct) : output;
}

export interface FileOutputOptions {
  readonly force: boolean;
  /** Mode of the new file: 0o600 for plaintext, 0o644 for ciphertext (before umask). */
  readonly mode: number;
}

/** Refuses to replace an existing file without --force. A device or pipe (-o /dev/null) is written, not replaced. */
export async function refuseExisting(path: string, force: boolean): Promise<void> {
  if (!force) refuseIfThere(path, await fsp.stat(path).catch(() => undefined));
}

function refuseIfThere(path: string, existing: Stats | undefined): void {
  if (existing && (existing.isFile() || existing.isDirectory())) {
    throw new IoError(`${path} already exists`, { hints: ['use --force to overwrite it'] });
  }
}

/**
 * Refuses what is at `path` (`existing`, its stat) as the place of a file
 * renamed there: a directory, and without `force` an existing file too.
 */
function refuseTarget(path: string, existing: Stats | undefined, force: boolean): void {
  if (existing?.isDirectory()) throw new IoError(`${path} is a directory`);
  if (!force) refuseIfThere(path, existing);
}

/** Creates a temporary sibling of `path` (temporaryFor) with `mode`, open for writing. */
async function createTemporary(path: string, mode: number): Promise<{ temporary: string; handle: FileHandle }> {
  const temporary = temporaryFor(path);
  try {
    return { temporary, handle: await fsp.open(temporary, 'wx', mode) };
  } catch (e) {
    throw ioError(e, 'create', path);
  }
}

export async function writeFileAtomically(path: string, source: Output, options: FileOutputOptions): Promise<void> {
  // A device or pipe (-o /dev/null, a FIFO) cannot be replaced by rename: write to it as it is.
  const existing = await fsp.stat(path).catch(() => undefined);
  if (existing && !existing.isFile() && !existing.isDirectory()) return writeSpecial(path, bytesOf(source));
  refuseTarget(path, existing, options.force);
  const { temporary, handle } = await createTemporary(path, options.mode);
  await publishAtomically(temporary, path, options.force, async () => {
    try {
      await writeDurably(handle, source, path);
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
    await handle.close();
  });
}

/** A temporary sibling of `path`, hidden and named at random. */
function temporaryFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Runs `write`, which completes and syncs the temporary file this process
 * just created (and closes it), then moves it into place at `path`; on any
 * failure, or an interruption (removeTemporariesSync), the temporary file is
 * removed and `path` left as it was.
 */
async function publishAtomically(temporary: string, path: string, force: boolean, write: () => Promise<void>): Promise<void> {
  pendingTemporaries.add(temporary);
  try {
    await write();
    await publish(temporary, path, force);
    await syncDirectory(dirname(path));
  } catch (e) {
    await fsp.unlink(temporary).catch(() => undefined);
    throw e;
  } finally {
    pendingTemporaries.delete(temporary);
  }
}

/**
 * Writes `path` as writeFileAtomically does, with as its content a copy of
 * the file `from` made by the file system: fs.copyFile, which clones the file
 * where the file system can (FICLONE: btrfs, XFS) and otherwise copies it
 * inside the kernel (copy_file_range). `change.patch` then changes the copy
 * in place, through a handle open for reading and writing, and `change.check`
 * checks it while it is synced (the disk writes while the check reads). Only
 * for a regular file or a new name at `path` (the caller checks).
 */
export async function copyFileAtomically(
  from: string,
  path: string,
  change: { readonly patch: (handle: FileHandle) => Promise<void>; readonly check: (handle: FileHandle) => Promise<void> },
  options: FileOutputOptions,
): Promise<void> {
  refuseTarget(path, await fsp.stat(path).catch(() => undefined), options.force);
  // The copy would take the mode of `from`; the output gets the one a written
  // file gets (options.mode less the umask), learnt from a file made with it.
  const { temporary, handle: probe } = await createTemporary(path, options.mode);
  await publishAtomically(temporary, path, options.force, async () => {
    const handle = await copyInto(probe, temporary, from, path);
    try {
      await change.patch(handle);
      // The disk writes the copy while the check reads it; a failed sync is the one reported first.
      const [synced, checked] = await Promise.allSettled([handle.sync(), change.check(handle)]);
      if (synced.status === 'rejected') throw ioError(synced.reason, 'write', path);
      if (checked.status === 'rejected') throw checked.reason;
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
    await handle.close();
  });
}

/**
 * Makes `temporary`, now the probe (a file made with the output's mode), a
 * copy of `from` with that mode, and opens it for reading and writing.
 */
async function copyInto(probe: FileHandle, temporary: string, from: string, path: string): Promise<FileHandle> {
  let handle: FileHandle | undefined;
  try {
    const mode = (await probe.stat()).mode & 0o7777;
    await probe.close();
    await fsp.unlink(temporary);
    // COPYFILE_EXCL: made anew, never through whatever took the name meanwhile.
    await fsp.copyFile(from, temporary, fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE);
    handle = await fsp.open(temporary, 'r+');
    await handle.chmod(mode);
    return handle;
  } catch (e) {
    await probe.close().catch(() => undefined);
    await handle?.close().catch(() => undefined);
    throw ioError(e, 'write', path);
  }
}

async function writeSpecial(path: string, source: AsyncIterable<Uint8Array>): Promise<void> {
  const handle = await fsp.open(path, 'w').catch((e) => {
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

/** What writeDurably needs of a file handle (a FileHandle; tests give a stand-in, without a descriptor). */
export type WritableFile = Pick<FileHandle, 'writev' | 'datasync' | 'sync'> & Partial<Pick<FileHandle, 'fd'>>;

/**
 * Writes all of `source` to `handle` and fsyncs it, flushing in the background
 * as it goes; any failure, a background flush's included, is an IoError naming
 * `path`. A producer is offered the handle's descriptor, and what workers
 * write there counts towards the flushes as well.
 */
export async function writeDurably(handle: WritableFile, source: Output, path: string): Promise<void> {
  let unflushed = 0;
  let flushing: Promise<void> | undefined;
  // Linux reports a failed write-back once per descriptor: to the flush that
  // saw it, not to a later fsync. So a flush's failure is kept and fails the file.
  let flushFailure: unknown;
  const count = (written: number) => {
    unflushed += written;
    if (unflushed >= FLUSH_EVERY && !flushing) {
      unflushed = 0;
      flushing = handle
        .datasync()
        .catch((e: unknown) => void (flushFailure ??= e))
        .finally(() => (flushing = undefined));
    }
  };
  try {
    await writeBatched(
      source,
      async (batch) => {
        if (flushFailure !== undefined) throw flushFailure;
        const written = (await handle.writev(batch)).bytesWritten;
        count(written);
        return written;
      },
      handle.fd === undefined ? undefined : { fd: handle.fd, wrote: count },
    );
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

/** Chunks gathered into batches of about BATCH_BYTES (or BATCH_BUFFERS chunks); empty ones are left out. */
class Batcher {
  private batch: Uint8Array[] = [];
  private size = 0;

  /** Adds `chunk`; returns the batch if that filled it. */
  add(chunk: Uint8Array): Uint8Array[] | undefined {
    if (chunk.length === 0) return undefined;
    this.batch.push(chunk);
    this.size += chunk.length;
    return this.size >= BATCH_BYTES || this.batch.length >= BATCH_BUFFERS ? this.take() : undefined;
  }

  /** Whatever is held, as a batch (possibly empty). */
  take(): Uint8Array[] {
    const batch = this.batch;
    this.batch = [];
    this.size = 0;
    return batch;
  }
}

/** Where workers may write as well, and who to tell what they wrote. */
interface SharedDescriptor {
  readonly fd: number;
  readonly wrote?: (bytes: number) => void;
}

/**
 * Gathers the chunks of `source` into batches and hands each to `writev`, which
 * returns how many bytes it wrote; a short write is continued with the rest.
 * Written chunks are released (src/stream/buffer-pool.ts): the last to use
 * them, this lets pooled buffers be filled again. A producer is offered
 * `shared` as a DirectOutput: `writev` must then write to that descriptor.
 */
export async function writeBatched(
  source: Output,
  writev: (buffers: Uint8Array[]) => Promise<number> | number,
  shared?: SharedDescriptor,
): Promise<void> {
  const batcher = new Batcher();
  const write = async (batch: Uint8Array[]) => {
    let pending = batch;
    while (pending.length > 0) pending = unwritten(pending, await writev(pending));
    for (const chunk of batch) release(chunk);
  };
  // One batch is written while the next is gathered, so the source runs on
  // meanwhile; one write at a time, so that they land in order.
  let writing: Promise<void> = Promise.resolve();
  const queue = async (batch: Uint8Array[]) => {
    await writing;
    writing = write(batch);
    // Its failure is thrown where it is awaited next, not reported as unhandled before.
    writing.catch(() => undefined);
  };
  // flush() is called by the producer between two chunks, while this loop waits for the next one.
  const direct: DirectOutput | undefined = shared && {
    fd: shared.fd,
    flush: async () => {
      await queue(batcher.take());
      await writing;
    },
    wrote: (bytes) => shared.wrote?.(bytes),
  };
  let done = false;
  try {
    for await (const chunk of bytesOf(source, direct)) {
      const full = batcher.add(chunk);
      if (full) await queue(full);
    }
    await queue(batcher.take());
    await writing;
    done = true;
  } finally {
    // A write still going when the source failed finishes before the caller closes the output.
    if (!done) await writing.catch(() => undefined);
  }
}

/** Moves the finished file into place; without --force, never over a file that appeared meanwhile. */
async function publish(temporary: string, path: string, force: boolean): Promise<void> {
  try {
    if (force) {
      await fsp.rename(temporary, path);
      return;
    }
    try {
      await fsp.link(temporary, path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new IoError(`${path} already exists`, { hints: ['use --force to overwrite it'] });
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw e;
      // File systems without hard links: check and rename.
      await refuseExisting(path, false);
      await fsp.rename(temporary, path);
      return;
    }
    await fsp.unlink(temporary);
  } catch (e) {
    throw ioError(e, 'write', path);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r').catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}

/**
 * Writes to stdout. A pipe or socket goes through Node's stream (see
 * writeToStream); anything else (a file, /dev/null, a terminal) takes
 * synchronous writev(2) on descriptor 1, batched, and falls back to the stream
 * if that ever says EAGAIN. A producer is offered descriptor 1 for its workers
 * to write to, where it can take their blocking writes (sharedStdout). A
 * reader that has gone away (EPIPE: `| head`) ends the output quietly.
 */
export async function writeStdout(output: Output, binary: boolean): Promise<void> {
  if (binary && process.stdout.isTTY) {
    throw new UsageError('refusing to write binary ciphertext to a terminal', {
      hints: ['redirect it, name a file with -o, or use --armor for base64 text'],
    });
  }
  const stdout = statDescriptor(1);
  const shared = typeof output === 'function' ? sharedStdout(stdout) : undefined;
  try {
    if (isPipeOrSocket(stdout)) {
      await writeToStream(output, process.stdout, shared);
      return;
    }
    let blocking = true;
    await writeBatched(
      output,
      (buffers) => {
        if (blocking) {
          try {
            return writevSync(1, buffers);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
            blocking = false;
          }
        }
        return writeConcatenated(buffers);
      },
      shared,
    );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return;
    throw ioError(e, 'write', 'standard output');
  } finally {
    shared?.restore();
  }
}

/** Node's handle of a pipe or socket: libuv's uv_stream_set_blocking, which Node gives it (not in @types/node). */
interface StreamHandle {
  setBlocking?(blocking: boolean): number;
}

/** Descriptor 1 as offered to workers: a pipe or socket is made blocking when they start (handOver). */
interface SharedStdout extends SharedDescriptor {
  handOver(): void;
  restore(): void;
}

/**
 * Whether descriptor 1 can take blocking writes from worker threads, and so be
 * offered to them: a regular file or a device that is not a terminal can. A
 * pipe or socket can once made blocking: Node's process.stdout made it
 * non-blocking, for libuv's event loop, and this thread writes through that
 * stream until the workers start. Not when it is also standard input (a socket
 * on both): reading it on the event loop needs it non-blocking.
 */
function sharedStdout(out: Stats | undefined): SharedStdout | undefined {
  if (!out) return undefined;
  const nothing = () => undefined;
  // process.stdout.isTTY, not node:tty's isatty: loading node:tty (and the
  // node:net it requires) costs ~5 ms of start-up, and the stream exists
  // already (writeStdout asks it the same).
  if (out.isFile() || (out.isCharacterDevice() && !process.stdout.isTTY)) return { fd: 1, handOver: nothing, restore: nothing };
  if (!isPipeOrSocket(out)) return undefined;
  const input = statDescriptor(0);
  if (input && input.dev === out.dev && input.ino === out.ino) return undefined;
  const handle = (process.stdout as unknown as { _handle?: StreamHandle })._handle;
  if (typeof handle?.setBlocking !== 'function') return undefined;
  let blocking = false;
  return {
    fd: 1,
    handOver: () => {
      if (handle.setBlocking!(true) !== 0) throw new Error('standard output cannot be made blocking for the workers');
      blocking = true;
    },
    restore: () => {
      if (blocking) handle.setBlocking!(false);
    },
  };
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
 * written (src/stream/buffer-pool.ts). A producer is offered `shared` for its
 * workers: flush() waits until the stream has written everything, then hands
 * the descriptor over, blocking, and the workers write to it in its place.
 */
export async function writeToStream(output: Output, out: Writable, shared?: SharedStdout): Promise<void> {
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
  const batcher = new Batcher();
  const send = (batch: Uint8Array[]) => {
    out.cork();
    for (const chunk of batch) out.write(chunk, (e) => (e ? fail(e) : release(chunk)));
    out.uncork();
  };
  /** Sends what is held and waits until the stream has written everything. */
  const emptied = async () => {
    send(batcher.take());
    await new Promise<void>((resolve) =>
      out.write(Buffer.alloc(0), (e) => {
        if (e) fail(e);
        resolve();
      }),
    );
    if (failure) throw failure;
  };
  const direct: DirectOutput | undefined = shared && {
    fd: shared.fd,
    flush: async () => {
      await emptied();
      shared.handOver();
    },
    wrote: () => undefined,
  };
  try {
    for await (const chunk of bytesOf(output, direct)) {
      const full = batcher.add(chunk);
      if (!full) continue;
      send(full);
      if (out.writableLength > WRITE_BEHIND && !failure) await settled();
      if (failure) throw failure;
    }
    // The source is done; wait until the stream has written everything it holds.
    await emptied();
  } finally {
    out.off('error', fail);
  }
}

/** Refuses to write over the input: same device and inode. */
export async function assertNotSameFile(input: string | undefined, output: string): Promise<void> {
  if (input === undefined) return;
  const [a, b] = await Promise.all([fsp.stat(input).catch(() => undefined), fsp.stat(output).catch(() => undefined)]);
  if (a && b && a.dev === b.dev && a.ino === b.ino) {
    throw new UsageError(`input and output are the same file: ${output}`);
  }
}
