// Durable small-file writes for the keystore: write a temporary sibling (O_EXCL,
// mode 0600), fsync it, rename it over the target, fsync the directory. A crash
// at any point leaves either the old file or the new one, never a mix.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ioError, KeyAccessError } from '../errors.js';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

export async function writeFileDurably(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temporary, 'wx', FILE_MODE);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (e) {
    await unlink(temporary).catch(() => undefined);
    throw ioError(e, 'write', path);
  }
  await syncDirectory(dirname(path));
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}

export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(e, 'read', path);
  }
}

/** Creates the keystore directory with mode 0700, whatever the umask. */
export async function ensureDirectory(dir: string): Promise<void> {
  try {
    const created = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (created !== undefined) await chmod(dir, DIR_MODE);
  } catch (e) {
    throw ioError(e, 'create keystore', dir);
  }
}

/**
 * Refuses a keystore that others can read (as ssh refuses a readable private key).
 * Checks the directory and every file given.
 */
export async function assertPrivate(paths: readonly string[], allowInsecure: boolean): Promise<void> {
  if (allowInsecure) return;
  for (const path of paths) {
    const s = await stat(path).catch(() => undefined);
    if (!s) continue;
    if ((s.mode & 0o077) !== 0) {
      const mode = (s.mode & 0o777).toString(8).padStart(3, '0');
      const wanted = s.isDirectory() ? '700' : '600';
      throw new KeyAccessError(`keystore ${path} is accessible by group or others (mode ${mode})`, {
        hints: [`chmod ${wanted} ${path}`, 'or pass --allow-insecure-permissions to use it anyway'],
      });
    }
  }
}
