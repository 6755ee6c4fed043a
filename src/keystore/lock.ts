// An exclusive lock on the keystore, held while it is read-modified-written.
//
// Node has no flock(2), so the lock is a file created exclusively (link(2) of a
// file already written) that records its holder (`pid@host nonce`); the holder
// touches it every few seconds while it holds it. A holder killed with SIGKILL leaves the file behind, so a waiter
// may break a lock whose holder is dead (same host) or that has not been
// touched for STALE_MS. Breaking is itself serialized by a second such file,
// `<lock>.break`, and the staleness is judged again inside it: only a breaker
// holding `.break` or the lock's live holder ever removes the lock file, so a
// lock taken meanwhile by someone else is never removed by mistake.
//
// The lock's files are tiny: read and written with synchronous calls, as all of
// the keystore's (files.ts says why); only the wait between tries and the
// heartbeat are timers.

import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, type Stats, statSync, writeFileSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { ioError, KeyServiceError } from '../errors.js';
import { removeQuietly } from './files.js';

const STALE_MS = 30_000;
const HEARTBEAT_MS = 5_000;
/** A breaker holds `.break` for microseconds; one this old belongs to a breaker that died. */
const BREAK_STALE_MS = 5_000;
const WAIT_MS = 30_000;

export interface Lock {
  release(): Promise<void>;
}

export async function acquireLock(path: string, waitMs = WAIT_MS): Promise<Lock> {
  return held(path, await take(path, waitMs));
}

/**
 * Runs `use` with the lock held, for work that does not wait on anything: the
 * event loop does not turn before the lock is let go, so no heartbeat could
 * run, and none is set up (a local decrypt's audit line had its first timer
 * from it, ~0.3 ms of setting up Node's timers).
 */
export async function whileLocked<T>(path: string, use: () => T extends PromiseLike<unknown> ? never : T): Promise<T> {
  const owner = await take(path, WAIT_MS);
  try {
    return use();
  } finally {
    letGo(path, owner);
  }
}

/** Creates the lock file, waiting and breaking stale locks as needed; returns its content. */
async function take(path: string, waitMs: number): Promise<string> {
  const deadline = Date.now() + waitMs;
  const owner = `${process.pid}@${hostname()} ${randomBytes(8).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    if (createExclusive(path, owner)) return owner;
    if (isStale(path)) breakStale(path);
    if (Date.now() > deadline) {
      throw new KeyServiceError(`keystore is locked by another process (${path})`, {
        hints: ['if no envelope process is running, remove the lock file'],
      });
    }
    await new Promise((r) => setTimeout(r, Math.min(5 + attempt * 5, 100) * (0.5 + Math.random())));
  }
}

/**
 * Creates `path` holding `content`, or returns false if it exists. The content
 * is written to a private file first and hard-linked into place, so a lock file
 * is never seen empty, even if its creator is killed half way.
 */
function createExclusive(path: string, content: string): boolean {
  const draft = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fd = openSync(draft, 'wx', 0o600);
    try {
      writeFileSync(fd, content);
    } finally {
      closeSync(fd);
    }
    linkSync(draft, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError(e, 'lock', path);
  } finally {
    removeQuietly(draft);
  }
}

/** Reads a file, or undefined if it cannot be read (gone, say). */
function readQuietly(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function statQuietly(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function held(path: string, owner: string): Lock {
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    release: async () => {
      clearInterval(heartbeat);
      letGo(path, owner);
    },
  };
}

/** Removes the lock file if it is still ours (it could only be gone if it had been judged stale). */
function letGo(path: string, owner: string): void {
  if (readQuietly(path) === owner) removeQuietly(path);
}

function isStale(path: string): boolean {
  const content = readQuietly(path);
  const info = statQuietly(path);
  if (!info) return false; // released meanwhile: just retry
  if (Date.now() - info.mtimeMs > STALE_MS) return true;
  if (content === undefined) return false; // released meanwhile
  const [pid, host] = content.split(' ')[0]!.split('@');
  if (host !== hostname()) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function breakStale(path: string): void {
  const breakPath = `${path}.break`;
  if (!createExclusive(breakPath, `${process.pid}@${hostname()}`)) {
    const info = statQuietly(breakPath);
    if (info && Date.now() - info.mtimeMs > BREAK_STALE_MS) removeQuietly(breakPath);
    return;
  }
  try {
    // Judged again under `.break`: the lock may have been released and taken since.
    if (isStale(path)) removeQuietly(path);
  } finally {
    removeQuietly(breakPath);
  }
}
