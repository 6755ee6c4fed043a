// Where data goes: stdout, or a file written atomically. A file is written to a
// temporary sibling (O_EXCL, the final mode from the start), synced, and only
// then renamed into place; on any failure or interruption the temporary file is
// removed, so no partial output ever appears and an existing file is untouched.

import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { type FileHandle, link, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { IoError, ioError, UsageError } from '../errors.js';

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

export async function refuseExisting(path: string, force: boolean): Promise<void> {
  if (force) return;
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) throw new IoError(`${path} already exists`, { hints: ['use --force to overwrite it'] });
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
    await writeAll(handle, source, path);
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
    for await (const chunk of source) await handle.write(chunk).catch((e) => Promise.reject(ioError(e, 'write', path)));
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, source: AsyncIterable<Uint8Array>, path: string): Promise<void> {
  let chunk: Uint8Array | undefined;
  try {
    for await (chunk of source) await handle.write(chunk);
    await handle.sync();
  } catch (e) {
    throw ioError(e, 'write', path);
  }
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

export async function writeStdout(source: AsyncIterable<Uint8Array>, binary: boolean): Promise<void> {
  if (binary && process.stdout.isTTY) {
    throw new UsageError('refusing to write binary ciphertext to a terminal', {
      hints: ['redirect it, name a file with -o, or use --armor for base64 text'],
    });
  }
  await pipeline(source, process.stdout).catch((e) => {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return;
    throw ioError(e, 'write', 'standard output');
  });
}

/** Refuses to write over the input: same device and inode. */
export async function assertNotSameFile(input: string | undefined, output: string): Promise<void> {
  if (input === undefined) return;
  const [a, b] = await Promise.all([stat(input).catch(() => undefined), stat(output).catch(() => undefined)]);
  if (a && b && a.dev === b.dev && a.ino === b.ino) {
    throw new UsageError(`input and output are the same file: ${output}`);
  }
}
