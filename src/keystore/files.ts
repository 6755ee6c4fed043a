// Durable small-file writes for the keystore: write a temporary sibling (O_EXCL,
// mode 0600), fsync it, rename it over the target, fsync the directory. A crash
// at any point leaves either the old file or the new one, never a mix.
//
// The keystore's files are small, so they are read and written with synchronous
// calls: one system call each, where fs.promises sends each through libuv's
// thread pool (started for it, four threads) and back. A decrypt with a local
// key makes ~30 of them (store, lock, audit log and head): 175 context switches
// became 89, and `envelope serve` holds its event loop for as long as a write
// and its fsync take (the keystore lock serializes those writes anyway).

import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ioError, KeyAccessError } from '../errors.js';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

export function writeFileDurably(path: string, data: string | Uint8Array): void {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(temporary, 'wx', FILE_MODE);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (e) {
    removeQuietly(temporary); // if it was made and not yet renamed
    throw ioError(e, 'write', path);
  }
  syncDirectory(dirname(path));
}

/** Removes a file, or nothing if it is not there. */
export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already, or never made
  }
}

export function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // a file system that cannot sync a directory
  } finally {
    closeSync(fd);
  }
}

export function readFileIfExists(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(e, 'read', path);
  }
}

/** Creates the keystore directory with mode 0700, whatever the umask. */
export function ensureDirectory(dir: string): void {
  try {
    const created = mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    if (created !== undefined) chmodSync(dir, DIR_MODE);
  } catch (e) {
    throw ioError(e, 'create keystore', dir);
  }
}

/**
 * Refuses a keystore that others can read (as ssh refuses a readable private key).
 * Checks the directory and every file given.
 */
export function assertPrivate(paths: readonly string[], allowInsecure: boolean): void {
  if (allowInsecure) return;
  for (const path of paths) {
    let s;
    try {
      s = statSync(path);
    } catch {
      continue;
    }
    if ((s.mode & 0o077) !== 0) {
      const mode = (s.mode & 0o777).toString(8).padStart(3, '0');
      const wanted = s.isDirectory() ? '700' : '600';
      throw new KeyAccessError(`keystore ${path} is accessible by group or others (mode ${mode})`, {
        hints: [`chmod ${wanted} ${path}`, 'or pass --allow-insecure-permissions to use it anyway'],
      });
    }
  }
}
