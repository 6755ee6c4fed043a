// The audit log: one JSON line per keystore operation, hash-chained.
//
//   audit.log    {"time","operation","keyId","version","contextKeys","outcome",
//                 "error","user","pid","prev","hash"}\n  …
//   audit.head   {"hash": hash of the newest line; an earlier one after a crash}
//
// hash = SHA-256(prev || the line's JSON without "hash"), prev of the first line
// is 64 zeros. Editing or deleting a line breaks the chain; cutting lines off the
// end leaves audit.head pointing at a hash that is no longer there. The log never
// holds plaintext, keys or passphrases: only key ids, versions and context KEYS.
//
// Every local decrypt appends a line, so an append is on the start-up budget of
// a 1 KiB decrypt (DESIGN §8): one fsync (the line's), the head rewritten in
// place (writeHead says why that is safe), no Date.toISOString (isoTime).

import { hash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { IntegrityError, ioError } from '../errors.js';
import { FILE_MODE, readFileIfExists, writeFileDurably } from './files.js';

export interface AuditEvent {
  readonly operation: string;
  readonly keyId?: string;
  readonly version?: number;
  readonly contextKeys?: readonly string[];
  readonly outcome: 'success' | 'failure';
  /** The stable error code of a failure (errors.ts), never its message. */
  readonly error?: string;
}

export interface AuditRecord extends AuditEvent {
  readonly time: string;
  readonly user: string;
  readonly pid: number;
  readonly prev: string;
  readonly hash: string;
}

const GENESIS = '0'.repeat(64);
/**
 * How much of the log's end is read for its last line: first a little (a line
 * is ~330 bytes), and more only if that holds no whole line. Every decrypt with
 * a local key appends a line, and the 64 KiB read each time had been a tenth
 * of the garbage of a 1 KiB decrypt's start.
 */
const TAIL_READS = [4 * 1024, 64 * 1024];

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? '?'}`;
  }
}

/**
 * date.toISOString(), from the UTC getters. V8 sets up its time-zone cache at
 * a Date's first toISOString (it reads /etc/localtime and ICU's zone data),
 * though an ISO time needs no zone: ~1 ms of every local decrypt, where the
 * getters take microseconds (2026-12-07). Years outside 0-9999, and invalid
 * dates, are left to toISOString (its expanded years, its RangeError).
 */
export function isoTime(date: Date): string {
  const year = date.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) return date.toISOString();
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${String(year).padStart(4, '0')}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}` +
    `T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}.${String(date.getUTCMilliseconds()).padStart(3, '0')}Z`
  );
}

/**
 * SHA-256 of prev || body. The one-shot crypto.hash, not a Hash object: the
 * first createHash of a process sets up Node's Hash class and its stream
 * machinery (~0.4 ms more of each local decrypt, which appends one line).
 */
function hashLine(prev: string, body: string): string {
  return hash('sha256', prev + body, 'hex');
}

export class AuditLog {
  readonly logPath: string;
  readonly headPath: string;

  constructor(dir: string) {
    this.logPath = join(dir, 'audit.log');
    this.headPath = join(dir, 'audit.head');
  }

  /** Appends events; the caller holds the keystore lock. */
  append(events: readonly AuditEvent[], now: Date): void {
    if (events.length === 0) return;
    let prev = this.lastHash();
    let text = '';
    for (const event of events) {
      const entry = { time: isoTime(now), ...event, user: currentUser(), pid: process.pid, prev };
      const body = JSON.stringify(entry);
      prev = hashLine(prev, body);
      text += `${JSON.stringify({ ...entry, hash: prev })}\n`;
    }
    try {
      const fd = openSync(this.logPath, 'a', FILE_MODE);
      try {
        writeFileSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw ioError(e, 'write', this.logPath);
    }
    this.writeHead(prev);
  }

  /**
   * Points audit.head at the newest line, which is on disk already (the fsync
   * above). The head itself is not synced: the kernel writes it back within
   * seconds, and a crash before then leaves it on an earlier line, which
   * verify() accepts, as it must anyway after a crash between the line and the
   * head. It is rewritten in place, 75 bytes at offset 0, inside one disk
   * sector (the old bytes or the new ones, never a mix), where a temporary
   * file, its fsync, a rename and the directory's fsync cost 1.4-2.3 ms of
   * each local decrypt (2026-12-07). Readers of the head hold the keystore
   * lock (Keystore.verifyAudit), so none sees it half written. A head made for
   * the first time is made durably: lines without a head are a broken chain.
   */
  private writeHead(newest: string): void {
    const text = JSON.stringify({ hash: newest });
    let fd: number;
    try {
      fd = openSync(this.headPath, 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, 'write', this.headPath);
      writeFileDurably(this.headPath, text);
      return;
    }
    try {
      const length = writeSync(fd, text, 0);
      if (length !== text.length) throw new Error(`${length} of ${text.length} bytes written`);
      ftruncateSync(fd, length);
    } catch (e) {
      throw ioError(e, 'write', this.headPath);
    } finally {
      closeSync(fd);
    }
  }

  private lastHash(): string {
    let fd: number;
    try {
      fd = openSync(this.logPath, 'r');
    } catch {
      return GENESIS;
    }
    try {
      const { size } = fstatSync(fd);
      if (size === 0) return GENESIS;
      for (const tail of TAIL_READS) {
        const length = Math.min(size, tail);
        const buffer = Buffer.alloc(length);
        readSync(fd, buffer, 0, length, size - length);
        let end = length;
        while (end > 0 && (buffer[end - 1] === 0x0a || buffer[end - 1] === 0x0d || buffer[end - 1] === 0x20)) end--;
        const start = buffer.lastIndexOf(0x0a, end - 1) + 1;
        // No line break before the last line: it may begin before the tail read.
        if (start === 0 && length < size && tail !== TAIL_READS[TAIL_READS.length - 1]) continue;
        const last = JSON.parse(buffer.toString('utf8', start, end) || '{}') as Partial<AuditRecord>;
        return typeof last.hash === 'string' ? last.hash : GENESIS;
      }
      return GENESIS;
    } catch {
      return GENESIS;
    } finally {
      closeSync(fd);
    }
  }

  async read(): Promise<AuditRecord[]> {
    const text = readFileIfExists(this.logPath)?.toString('utf8') ?? '';
    return text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l, i) => {
        try {
          return JSON.parse(l) as AuditRecord;
        } catch {
          throw new IntegrityError(`audit log line ${i + 1} is not valid JSON`);
        }
      });
  }

  /**
   * Checks the chain; throws IntegrityError naming the first bad line. Returns
   * the line count. Call it with the keystore lock held (Keystore.verifyAudit):
   * an append half done is not a broken chain.
   */
  async verify(): Promise<number> {
    const text = readFileIfExists(this.logPath)?.toString('utf8') ?? '';
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    let prev = GENESIS;
    const hashes: string[] = [];
    lines.forEach((line, i) => {
      let record: Partial<AuditRecord>;
      try {
        record = JSON.parse(line) as Partial<AuditRecord>;
      } catch {
        throw new IntegrityError(`audit log line ${i + 1} is not valid JSON`);
      }
      const { hash, ...entry } = record;
      if (record.prev !== prev) throw new IntegrityError(`audit log line ${i + 1} does not follow line ${i}: a line was removed or changed`);
      if (hash !== hashLine(prev, JSON.stringify(entry))) throw new IntegrityError(`audit log line ${i + 1} was altered`);
      prev = hash;
      hashes.push(hash);
    });
    const head = readFileIfExists(this.headPath);
    if (head) {
      const headHash = (JSON.parse(head.toString('utf8')) as { hash?: string }).hash;
      // Normally the newest line. A process killed between appending and updating the
      // head leaves it on an earlier line (the next append does not look at the head);
      // cutting lines off the end removes the line it names.
      if (!hashes.includes(headHash ?? '')) {
        throw new IntegrityError(`audit log ends at line ${lines.length}, but lines after it were removed`);
      }
    } else if (lines.length > 0) {
      throw new IntegrityError('audit log head (audit.head) is missing');
    }
    return lines.length;
  }
}
