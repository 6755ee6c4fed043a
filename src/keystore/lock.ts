// An exclusive lock on the keystore, held while it is read-modified-written.
//
// Node has no flock(2), so the lock is a file created with O_EXCL that records
// the holder's pid. A holder killed with SIGKILL leaves it behind: a waiter that
// finds the recorded pid dead (or the lock older than STALE_MS) breaks it by
// renaming it away — rename succeeds for exactly one breaker — and retries.

import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ioError, KeyServiceError } from '../errors.js';

const STALE_MS = 60_000;
const WAIT_MS = 30_000;

export interface Lock {
  release(): Promise<void>;
}

export async function acquireLock(path: string, waitMs = WAIT_MS): Promise<Lock> {
  const deadline = Date.now() + waitMs;
  const owner = `${process.pid}@${hostname()}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(owner);
      await handle.close();
      return { release: () => unlink(path).catch(() => undefined) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(e, 'lock', path);
    }
    if (await isStale(path)) {
      const aside = `${path}.stale.${randomBytes(4).toString('hex')}`;
      if (await rename(path, aside).then(() => true, () => false)) await unlink(aside).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new KeyServiceError(`keystore is locked by another process (${path})`, {
        hints: ['if no envelope process is running, remove the lock file'],
      });
    }
    await new Promise((r) => setTimeout(r, Math.min(5 + attempt * 5, 100) * (0.5 + Math.random())));
  }
}

async function isStale(path: string): Promise<boolean> {
  const [content, info] = await Promise.all([readFile(path, 'utf8').catch(() => undefined), stat(path).catch(() => undefined)]);
  if (!info) return false; // released meanwhile: just retry
  if (Date.now() - info.mtimeMs > STALE_MS) return true;
  if (content === undefined || content === '') return Date.now() - info.mtimeMs > 2_000; // being written
  const [pid, host] = content.split('@');
  if (host !== hostname()) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
