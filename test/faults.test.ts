// Fault injection through the real bin/envelope (DESIGN §5, §6; SECURITY.md "Not
// yet verified"): a reader that goes away, signals, a full disk, a read-only
// directory, an input that vanishes or shrinks while it is read, and many
// processes sharing one keystore while its key rotates.
//
// What the code promises:
//   main.ts    EPIPE on stdout is "not an error of ours": exit 0, nothing on stderr;
//              SIGINT and SIGTERM end the process by the signal (a shell
//              sees 130, 143), after removing temporary files.
//   output.ts  a file is written to an O_EXCL temporary sibling and published by
//              link/rename only when complete; on any failure the temporary is
//              removed and an existing file is untouched. A device (-o /dev/null,
//              /dev/full) is written as it is. EPIPE ends stdout output quietly.
//   input.ts   a regular file is read with 1 MiB synchronous reads from a
//              descriptor opened on the first read.
//   errors     I/O failures (ENOSPC, EROFS) are exit 3 in one `envelope: error:` line.
//
// Mounts (tmpfs, read-only binds) need root and CAP_SYS_ADMIN: they are probed at
// load, and the tests that need one say so in their title when skipped.

import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, ENVELOPE, REPO_ROOT, runCli, workdirs } from './helpers.js';

// ---------------------------------------------------------------- fixtures

const workdir = workdirs('envelope-faults-');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Nothing leaks in from the developer's shell. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  ENVELOPE_PASSPHRASE: undefined,
  ENVELOPE_NEW_PASSPHRASE: undefined,
  ENVELOPE_KEYSTORE: undefined,
  XDG_DATA_HOME: workdir(),
};

const run = (args: readonly string[], options: { stdin?: Uint8Array | string; cwd?: string; timeoutMs?: number } = {}) =>
  runCli(args, { timeoutMs: 45_000, ...options, env: CLEAN_ENV });

const describeRun = (r: CliResult) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}, stderr: ${JSON.stringify(r.stderr)}`;

/** DESIGN §6: exit `code`, and stderr is one `envelope: error:` line plus hints, no stack trace. */
function expectError(r: { code: number | null; stderr: string }, code: number | null, message?: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0], r.stderr).toMatch(/^envelope: error: \S/);
  expect(lines.slice(1).filter((l) => !l.startsWith('hint: ')), r.stderr).toEqual([]);
  if (message) expect(lines[0]).toMatch(message);
}

const temporaries = (dir: string) => readdirSync(dir).filter((name) => /^\..*\.tmp$/.test(name));

let dir: string;
let key: string;
/** 20 MB of random plaintext, its message, and a 1 MB plaintext and message. */
let big: string;
let bigEnc: string;
let bigPlain: Buffer;
let mid: string;
let midEnc: string;

beforeAll(async () => {
  dir = workdir();
  const keyFile = join(dir, 'aes.key');
  writeFileSync(keyFile, randomBytes(32));
  key = `raw-aes:file=${keyFile},namespace=faults,name=aes-1`;
  bigPlain = randomBytes(20_000_000);
  big = join(dir, 'big');
  writeFileSync(big, bigPlain);
  bigEnc = join(dir, 'big.enc');
  mid = join(dir, 'mid');
  writeFileSync(mid, bigPlain.subarray(0, 1_000_000));
  midEnc = join(dir, 'mid.enc');
  for (const [input, output] of [
    [big, bigEnc],
    [mid, midEnc],
  ] as const) {
    const r = await run(['encrypt', '-k', key, '-o', output, input]);
    expect(r.code, describeRun(r)).toBe(0);
  }
});

/** A started envelope process: its stdout is left unread until the test asks for it. */
interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stderr: () => string;
  /** Reads stdout to its end and waits for the exit. */
  readonly finish: () => Promise<CliResult>;
}

function start(args: readonly string[], cwd = REPO_ROOT): Started {
  const child = spawn(process.execPath, [ENVELOPE, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', ...CLEAN_ENV },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  child.stdin.on('error', () => undefined);
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  return {
    child,
    stderr: () => stderr,
    finish: async () => {
      const out: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      const { code, signal } = await closed;
      clearTimeout(timer);
      return { code, signal, stdout: Buffer.concat(out), stderr };
    },
  };
}

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await sleep(2);
  }
  return condition();
}

// ---------------------------------------------------------------- mounts

/** Mounts made by this file, unmounted in afterAll if a test could not. */
const mounts = new Set<string>();

function mount(args: readonly string[]): string | undefined {
  const r = spawnSync('mount', args, { encoding: 'utf8' });
  if (r.error) return r.error.message;
  return r.status === 0 ? undefined : `${r.stderr}${r.stdout}`.trim() || `mount exited ${r.status}`;
}

function unmount(path: string): void {
  if (spawnSync('umount', [path]).status !== 0) spawnSync('umount', ['-l', path]);
  mounts.delete(path);
}

/** Why a mount of this kind cannot be made here, or undefined when it can (probed once, at load). */
function probe(kind: 'tmpfs' | 'ro-bind'): string | undefined {
  const path = mkdtempSync(join(tmpdir(), 'envelope-faults-probe-'));
  try {
    if (kind === 'tmpfs') {
      const error = mount(['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', path]);
      if (error) return `mount -t tmpfs is not permitted here: ${error.split('\n')[0]}`;
    } else {
      const error = mount(['--bind', path, path]) ?? mount(['-o', 'remount,ro,bind', path]);
      if (error) return `a read-only bind mount is not permitted here: ${error.split('\n')[0]}`;
      let writable = true;
      try {
        writeFileSync(join(path, 'x'), 'x');
      } catch {
        writable = false;
      }
      if (writable) return 'a read-only bind mount is still writable by root here';
    }
    unmount(path);
    return undefined;
  } finally {
    spawnSync('umount', [path]);
    rmSync(path, { recursive: true, force: true });
  }
}

const NO_TMPFS = process.platform === 'linux' ? probe('tmpfs') : 'mounts need Linux';
const NO_RO_BIND = process.platform === 'linux' ? probe('ro-bind') : 'mounts need Linux';
const NO_PROC = existsSync('/proc/self/fd') ? undefined : '/proc/PID/fd is not available to see when the input is open';
const NO_BASH = spawnSync('bash', ['-c', 'command -v head'], { encoding: 'utf8' }).status === 0 ? undefined : 'bash and head are not available';

const title = (text: string, skipped: string | undefined) => (skipped ? `${text} (SKIPPED: ${skipped})` : text);

/** A fresh tmpfs of `size` (and `options`), mounted for the duration of `body`. */
async function withTmpfs<T>(size: string, body: (mnt: string) => Promise<T>, options = ''): Promise<T> {
  const mnt = mkdtempSync(join(tmpdir(), 'envelope-faults-mnt-'));
  const error = mount(['-t', 'tmpfs', '-o', `size=${size}${options ? `,${options}` : ''}`, 'tmpfs', mnt]);
  if (error) throw new Error(`mount failed after the probe said it works: ${error}`);
  mounts.add(mnt);
  try {
    return await body(mnt);
  } finally {
    unmount(mnt);
    rmSync(mnt, { recursive: true, force: true });
  }
}

afterAll(() => {
  for (const mnt of [...mounts]) {
    unmount(mnt);
    rmSync(mnt, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- 1. a reader that goes away

describe('stdout closed early (| head -c 10) is a quiet exit 0 (main.ts, output.ts: EPIPE is not an error of ours)', () => {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const node = `${q(process.execPath)} ${q(ENVELOPE)}`;

  /** Runs `pipeline` in bash; exits with the status of the envelope stage (PIPESTATUS index `stage`). */
  function pipeline(script: string, stage: number): Promise<{ code: number | null; stderr: string; head: Buffer }> {
    const headOut = join(workdir(), 'head.out');
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-c', `${script} > ${q(headOut)}; exit "\${PIPESTATUS[${stage}]}"`], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: '1', ...CLEAN_ENV },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr, head: readFileSync(headOut) }));
    });
  }

  /** name, the pipeline (given the quoted key, big plaintext and big message), and the envelope stage. */
  const cases: [string, (k: string, plain: string, message: string) => string, number][] = [
    ['decrypt FILE -o - (20 MB) | head -c 10', (k, _p, m) => `${node} decrypt -k ${k} ${m} -o - | head -c 10`, 0],
    ['decrypt < FILE (20 MB) | head -c 10', (k, _p, m) => `${node} decrypt -k ${k} < ${m} | head -c 10`, 0],
    ['decrypt --buffer < FILE (20 MB) | head -c 10', (k, _p, m) => `${node} decrypt --buffer -k ${k} < ${m} | head -c 10`, 0],
    ['encrypt FILE -o - (20 MB) | head -c 10', (k, p) => `${node} encrypt -k ${k} ${p} -o - | head -c 10`, 0],
    ['cat FILE | encrypt (20 MB through a pipe) | head -c 10', (k, p) => `cat ${p} | ${node} encrypt -k ${k} | head -c 10`, 1],
    ['encrypt --armor < FILE (20 MB) | head -c 10', (k, p) => `${node} encrypt --armor -k ${k} < ${p} | head -c 10`, 0],
  ];
  for (const [name, script, stage] of cases) {
    it.skipIf(!!NO_BASH)(title(`${name}: exit 0, nothing on stderr`, NO_BASH), async () => {
      const r = await pipeline(script(q(key), q(big), q(bigEnc)), stage);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.head.length).toBe(10);
    });
  }

  it('a Node parent that destroys its end of stdout after the first chunk: exit 0, nothing on stderr', async () => {
    const p = start(['decrypt', '-k', key, bigEnc, '-o', '-']);
    const first = await new Promise<Buffer>((resolve) => p.child.stdout.once('data', (d: Buffer) => resolve(d)));
    p.child.stdout.destroy();
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      p.child.on('close', (c, s) => resolve({ code: c, signal: s })),
    );
    expect(first.length).toBeGreaterThan(0);
    expect({ code, signal, stderr: p.stderr() }).toEqual({ code: 0, signal: null, stderr: '' });
  });
});

// ---------------------------------------------------------------- 2. signals

describe('SIGINT and SIGTERM in the middle of writing -o FILE (main.ts: ended by the signal, temporaries removed)', () => {
  const cases = [
    ['SIGINT', 'encrypt'],
    ['SIGTERM', 'encrypt'],
    ['SIGINT', 'decrypt'],
    ['SIGTERM', 'decrypt'],
  ] as const;
  for (const [signal, command] of cases) {
    it(`${signal} during ${command} -o out, input fed slowly through a pipe: ended by ${signal}, one error line, no output and no temporary file`, async () => {
      const cwd = workdir();
      const p = start([command, '-k', key, '-o', 'out'], cwd);
      // Half the input, and stdin stays open: the command is mid-stream.
      const input = command === 'encrypt' ? bigPlain.subarray(0, 300_000) : readFileSync(midEnc).subarray(0, 300_000);
      p.child.stdin.write(input);
      expect(await waitFor(() => temporaries(cwd).length === 1 || p.child.exitCode !== null, 20_000), p.stderr()).toBe(true);
      expect(temporaries(cwd), p.stderr()).toHaveLength(1);
      await sleep(200);
      p.child.kill(signal);
      const r = await p.finish();
      expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: null, signal });
      expectError(r, null, new RegExp(`^envelope: error: interrupted by ${signal}$`));
      expect(r.stdout.length).toBe(0);
      expect(readdirSync(cwd)).toEqual([]);
    });
  }
});

// ---------------------------------------------------------------- 3. disk full

/** Encrypts `plain` and decrypts `enc` with -o into `mnt`, which cannot hold them: exit 3 each time, and nothing left there. */
async function overfill(mnt: string, plain: string, enc: string): Promise<void> {
  for (const [command, input, output] of [
    ['encrypt', plain, 'out.enc'],
    ['decrypt', enc, 'out'],
  ] as const) {
    const r = await run([command, '-k', key, '-o', join(mnt, output), input]);
    expectError(r, 3, /no space left on device/);
    expect(readdirSync(mnt)).toEqual([]);
  }
}

describe('a full disk is exit 3 and leaves nothing behind', () => {
  // --force: without it a device is refused as an existing output (see "device outputs" below).
  it('encrypt --force -o /dev/full (a device, written as it is): exit 3, "no space left on device"', async () => {
    const r = await run(['encrypt', '--force', '-k', key, '-o', '/dev/full', mid]);
    expectError(r, 3, /no space left on device/);
  });

  it('decrypt --force -o /dev/full: exit 3, "no space left on device"', async () => {
    const r = await run(['decrypt', '--force', '-k', key, '-o', '/dev/full', midEnc]);
    expectError(r, 3, /no space left on device/);
  });

  it.skipIf(!!NO_TMPFS)(title('encrypt, decrypt and re-encrypt of 1 MB into a 256 KiB tmpfs: exit 3, the directory stays empty', NO_TMPFS), async () => {
    await withTmpfs('256k', async (mnt) => {
      await overfill(mnt, mid, midEnc);
      // Input from a pipe: the same through the stream path.
      const piped = await run(['decrypt', '-k', key, '-o', join(mnt, 'piped')], { stdin: readFileSync(midEnc) });
      expectError(piped, 3, /no space left on device/);
      expect(readdirSync(mnt)).toEqual([]);
      // re-encrypt to a key of the same kind: the file system's copy fills the disk (src/cli/re-encrypt-file.ts).
      const copied = await run(['re-encrypt', '--from', key, '--to', key, '-o', join(mnt, 're.enc'), midEnc]);
      expectError(copied, 3, /cannot write .*re\.enc: no space left on device/);
      expect(readdirSync(mnt)).toEqual([]);
    });
  });

  it.skipIf(!!NO_TMPFS)(
    title('20 MB into an 18 MiB tmpfs, the disk filling while the workers write: exit 3, nothing left of -o, and stdout says so', NO_TMPFS),
    async () => {
      await withTmpfs('18m', async (mnt) => {
        // Past 16 MiB the workers write their frames themselves (src/stream/direct-output.ts).
        await overfill(mnt, big, bigEnc);
        // From a pipe: read by the reader thread into the ring the workers seal from (src/stream/seal-from-ring.ts).
        const piped = await run(['encrypt', '-k', key, '-o', join(mnt, 'piped.enc')], { stdin: readFileSync(big) });
        expectError(piped, 3, /no space left on device/);
        expect(readdirSync(mnt)).toEqual([]);
        // Standard output is written as it is: a file on the full disk.
        const out = openSync(join(mnt, 'stdout'), 'w');
        const r = spawnSync(process.execPath, [ENVELOPE, 'decrypt', '-k', key, bigEnc, '-o', '-'], {
          stdio: ['ignore', out, 'pipe'],
          encoding: 'utf8',
          timeout: 60_000,
        });
        closeSync(out);
        expectError({ code: r.status, stderr: r.stderr }, 3, /cannot write standard output: no space left on device/);
      });
    },
  );

  it.skipIf(!!NO_TMPFS)(title('--force over an existing file on a full tmpfs: exit 3, the existing file untouched, nothing else left', NO_TMPFS), async () => {
    await withTmpfs('256k', async (mnt) => {
      writeFileSync(join(mnt, 'keep'), 'existing contents\n');
      for (const args of [
        ['encrypt', '--force', '-k', key, '-o', join(mnt, 'keep'), mid],
        ['decrypt', '--force', '-k', key, '-o', join(mnt, 'keep'), midEnc],
      ]) {
        const r = await run(args);
        expectError(r, 3, /no space left on device/);
        expect(readdirSync(mnt)).toEqual(['keep']);
        expect(readFileSync(join(mnt, 'keep'), 'utf8')).toBe('existing contents\n');
      }
    });
  });

  it.skipIf(!!NO_TMPFS)(title('a keystore on a full tmpfs: rotate is exit 3, and the keystore stays loadable with its audit chain', NO_TMPFS), async () => {
    await withTmpfs('512k', async (mnt) => {
      const ks = join(mnt, 'ks');
      const made = await run(['--keystore', ks, 'keygen', 'disk']);
      expect(made.code, describeRun(made)).toBe(0);
      const message = await run(['--keystore', ks, 'encrypt', '-k', 'alias/disk'], { stdin: 'before the disk filled' });
      expect(message.code, describeRun(message)).toBe(0);
      const before = readdirSync(ks).sort();
      // Fill every remaining block.
      const filler = join(mnt, 'filler');
      writeFileSync(filler, '');
      for (;;) {
        try {
          writeFileSync(filler, Buffer.alloc(4096), { flag: 'a' });
        } catch {
          break;
        }
      }
      const rotate = await run(['--keystore', ks, 'rotate', 'disk']);
      expectError(rotate, 3, /no space left on device/);
      expect(readdirSync(ks).sort()).toEqual(before);
      unlinkSync(filler);
      const list = await run(['--keystore', ks, 'keys', 'show', 'alias/disk', '--json']);
      expect(list.code, describeRun(list)).toBe(0);
      expect((JSON.parse(list.stdout.toString('utf8')) as { KeyMetadata: { PrimaryVersion: number } }).KeyMetadata.PrimaryVersion).toBe(1);
      const opened = await run(['--keystore', ks, 'decrypt'], { stdin: message.stdout });
      expect(opened.stdout.toString('utf8'), describeRun(opened)).toBe('before the disk filled');
      const verify = await run(['--keystore', ks, 'audit', '--verify']);
      expect(verify.code, describeRun(verify)).toBe(0);
    });
  });
});

// ---------------------------------------------------------------- device outputs

describe('device outputs', () => {
  it('a device output needs no --force (output.ts: "-o /dev/null … write to it as it is"): encrypt and decrypt -o /dev/null exit 0', async () => {
    for (const args of [
      ['decrypt', '-k', key, '-o', '/dev/null', midEnc],
      ['encrypt', '-k', key, '-o', '/dev/null', mid],
    ]) {
      const r = await run(args);
      expect(r.code, `envelope ${args[0]} -o /dev/null: ${describeRun(r)}`).toBe(0);
      expect(r.stderr).toBe('');
    }
  });

});

// ---------------------------------------------------------------- 4. read-only output directory

describe('a read-only output directory is exit 3 and nothing is written (root ignores mode bits: a read-only mount)', () => {
  it.skipIf(!!NO_TMPFS)(title('encrypt and decrypt into a tmpfs mounted -o ro: exit 3, "read-only file system"', NO_TMPFS), async () => {
    await withTmpfs(
      '1m',
      async (mnt) => {
        for (const args of [
          ['encrypt', '-k', key, '-o', join(mnt, 'out.enc'), mid],
          ['decrypt', '-k', key, '-o', join(mnt, 'out'), midEnc],
        ]) {
          const r = await run(args);
          expectError(r, 3, /read-only file system/);
          expect(readdirSync(mnt)).toEqual([]);
        }
      },
      'ro',
    );
  });

  it.skipIf(!!NO_RO_BIND)(title('--force over an existing file in a read-only bind mount: exit 3, the file untouched', NO_RO_BIND), async () => {
    const target = join(workdir(), 'ro');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'existing contents\n');
    expect(mount(['--bind', target, target])).toBeUndefined();
    mounts.add(target);
    try {
      expect(mount(['-o', 'remount,ro,bind', target])).toBeUndefined();
      for (const args of [
        ['encrypt', '--force', '-k', key, '-o', join(target, 'keep'), mid],
        ['decrypt', '--force', '-k', key, '-o', join(target, 'keep'), midEnc],
        ['decrypt', '-k', key, '-o', join(target, 'new'), midEnc],
      ]) {
        const r = await run(args);
        expectError(r, 3, /read-only file system/);
        expect(readdirSync(target)).toEqual(['keep']);
        expect(readFileSync(join(target, 'keep'), 'utf8')).toBe('existing contents\n');
      }
    } finally {
      unmount(target);
    }
  });
});

describe('a keystore that cannot be written', () => {
  // audit --verify takes the keystore lock (so that it never reads an append
  // half done), which a read-only copy cannot hold: it is checked without it.
  it.skipIf(!!NO_RO_BIND)(title('audit --verify of a keystore in a read-only bind mount verifies it, and finds a line cut off', NO_RO_BIND), async () => {
    const target = join(workdir(), 'ro-keystore');
    const keystore = ['--keystore', target];
    expect((await run([...keystore, 'keygen', 'k'])).code).toBe(0);
    expect((await run([...keystore, 'rotate', 'k'])).code).toBe(0);
    const log = join(target, 'audit.log');
    const intact = readFileSync(log, 'utf8');
    expect(mount(['--bind', target, target])).toBeUndefined();
    mounts.add(target);
    try {
      expect(mount(['-o', 'remount,ro,bind', target])).toBeUndefined();
      const verified = await run([...keystore, 'audit', '--verify']);
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stderr).toMatch(/audit log verified: 2 lines/);
      expect(readdirSync(target).sort()).toEqual(['audit.head', 'audit.log', 'keystore.json']);
    } finally {
      unmount(target);
    }
    // The same check still fails on a log cut short, read-only or not.
    writeFileSync(log, `${intact.trimEnd().split('\n')[0]}\n`, { mode: 0o600 });
    expect(mount(['--bind', target, target])).toBeUndefined();
    mounts.add(target);
    try {
      expect(mount(['-o', 'remount,ro,bind', target])).toBeUndefined();
      expectError(await run([...keystore, 'audit', '--verify']), 5, /lines after it were removed/);
    } finally {
      unmount(target);
    }
  });
});

// ---------------------------------------------------------------- 5. an input that vanishes or shrinks

describe('an input deleted or shrunk while it is read', () => {
  /** True once process `pid` has `path` open (a descriptor links to it, or to "path (deleted)"). */
  function hasOpen(pid: number, path: string): boolean {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(path);
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  }

  /**
   * Starts `args` writing to a stdout nobody reads yet (so the reader stalls a
   * few MiB in), applies `fault` once the input is open, then reads everything.
   */
  async function faultWhileOpen(args: readonly string[], input: string, fault: () => void): Promise<CliResult> {
    const p = start(args);
    const opened = await waitFor(() => hasOpen(p.child.pid!, input) || p.child.exitCode !== null, 20_000);
    expect(opened && p.child.exitCode === null, `the input was never seen open; ${p.stderr()}`).toBe(true);
    fault();
    return p.finish();
  }

  /** A 48 MiB input of its own. */
  function bigInput(): { path: string; bytes: Buffer } {
    const bytes = randomBytes(48 * 1024 * 1024);
    const path = join(workdir(), 'input');
    writeFileSync(path, bytes);
    return { path, bytes };
  }

  it.skipIf(!!NO_PROC)(title('encrypt FILE unlinked after it was opened: the open descriptor reads on, and the message decrypts to the whole file', NO_PROC), async () => {
    const { path, bytes } = bigInput();
    const r = await faultWhileOpen(['encrypt', '-k', key, path, '-o', '-'], path, () => unlinkSync(path));
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toBe('');
    const back = await run(['decrypt', '-k', key], { stdin: r.stdout });
    expect(back.code, describeRun(back)).toBe(0);
    expect(back.stdout.equals(bytes)).toBe(true);
  });

  it.skipIf(!!NO_PROC)(title('decrypt FILE unlinked after it was opened: the whole plaintext, exit 0', NO_PROC), async () => {
    const { path: plain, bytes } = bigInput();
    const path = `${plain}.enc`;
    const made = await run(['encrypt', '-k', key, plain, '-o', path]);
    expect(made.code, describeRun(made)).toBe(0);
    const r = await faultWhileOpen(['decrypt', '-k', key, path, '-o', '-'], path, () => unlinkSync(path));
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout.equals(bytes)).toBe(true);
  });

  it.skipIf(!!NO_PROC)(
    title('encrypt FILE truncated to half after it was opened: a valid message of a prefix at least that long, or exit 3/5; never other bytes', NO_PROC),
    async () => {
      const { path, bytes } = bigInput();
      const half = bytes.length / 2;
      const r = await faultWhileOpen(['encrypt', '-k', key, path, '-o', '-'], path, () => truncateSync(path, half));
      if (r.code === 3 || r.code === 5) {
        expectError(r, r.code);
        return;
      }
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.stderr).toBe('');
      const back = await run(['decrypt', '-k', key], { stdin: r.stdout });
      expect(back.code, describeRun(back)).toBe(0);
      expect(back.stdout.length).toBeGreaterThanOrEqual(half);
      expect(back.stdout.length).toBeLessThanOrEqual(bytes.length);
      expect(back.stdout.equals(bytes.subarray(0, back.stdout.length)), 'the message holds other bytes than the input had').toBe(true);
    },
  );

  it.skipIf(!!NO_PROC)(
    title('encrypt -o FILE of an input truncated after it was opened: exit 0 with a valid message of a prefix, or exit 3/5 and no file', NO_PROC),
    async () => {
      const { path, bytes } = bigInput();
      const cwd = workdir();
      const out = join(cwd, 'out.enc');
      // To a file nothing stalls the reader: truncate as soon as the input is open.
      const p = start(['encrypt', '-k', key, path, '-o', out]);
      await waitFor(() => hasOpen(p.child.pid!, path) || p.child.exitCode !== null, 20_000);
      truncateSync(path, bytes.length / 4);
      const r = await p.finish();
      if (r.code === 3 || r.code === 5) {
        expectError(r, r.code);
        expect(readdirSync(cwd)).toEqual([]);
        return;
      }
      expect(r.code, describeRun(r)).toBe(0);
      expect(readdirSync(cwd)).toEqual(['out.enc']);
      const back = await run(['decrypt', '-k', key, out, '-o', '-']);
      expect(back.code, describeRun(back)).toBe(0);
      expect(back.stdout.length).toBeGreaterThanOrEqual(bytes.length / 4);
      expect(back.stdout.equals(bytes.subarray(0, back.stdout.length)), 'the message holds other bytes than the input had').toBe(true);
    },
  );

  it.skipIf(!!NO_PROC)(
    title('decrypt of a message truncated to half after it was opened: exit 5 (truncated), and what reached stdout is a prefix of the plaintext', NO_PROC),
    async () => {
      const { path: plain, bytes } = bigInput();
      const path = `${plain}.enc`;
      const made = await run(['encrypt', '-k', key, plain, '-o', path]);
      expect(made.code, describeRun(made)).toBe(0);
      const r = await faultWhileOpen(['decrypt', '-k', key, path, '-o', '-'], path, () => truncateSync(path, Math.floor(statSync(path).size / 2)));
      expectError(r, 5);
      expect(r.stdout.length).toBeLessThan(bytes.length / 2);
      expect(r.stdout.equals(bytes.subarray(0, r.stdout.length)), 'decrypt released other bytes than the plaintext').toBe(true);
    },
  );
});

// ---------------------------------------------------------------- 6. many processes, one keystore

describe('32 processes share one local keystore while its key rotates', () => {
  it('24 encrypt, then 24 decrypt processes, each wave started at once beside 8 rotating the key: all succeed, and every message decrypts afterwards', async () => {
    const ks = join(workdir(), 'ks');
    const cli = (args: readonly string[], stdin?: Buffer) => run(['--keystore', ks, ...args], stdin ? { stdin } : {});
    const made = await cli(['keygen', 'shared']);
    expect(made.code, describeRun(made)).toBe(0);

    const failures: string[] = [];
    const rotated: number[] = [];
    const rotators = () =>
      range(8).map(async (w) => {
        await sleep(25 * w);
        const r = await cli(['rotate', 'shared']);
        if (r.code !== 0) failures.push(`rotate ${w}: ${describeRun(r)}`);
        else rotated.push(Number(r.stdout.toString('utf8').trim()));
      });
    const plaintexts = range(24).map((w) => Buffer.concat([Buffer.from(`worker ${w}\n`), randomBytes(1 + ((w * 7919) % 150_000))]));

    // Wave 1: 24 encrypts and 8 rotations at once.
    const ciphertexts: (Buffer | undefined)[] = [];
    await Promise.all([
      ...plaintexts.map(async (plaintext, w) => {
        const enc = await cli(['encrypt', '-k', 'alias/shared'], plaintext);
        if (enc.code !== 0) failures.push(`encrypt ${w}: ${describeRun(enc)}`);
        else ciphertexts[w] = enc.stdout;
      }),
      ...rotators(),
    ]);
    expect(failures).toEqual([]);

    // Wave 2: 24 decrypts (the key found from the message) and 8 more rotations at once.
    await Promise.all([
      ...plaintexts.map(async (plaintext, w) => {
        const dec = await cli(['decrypt'], ciphertexts[w]);
        if (dec.code !== 0) failures.push(`decrypt ${w}: ${describeRun(dec)}`);
        else if (!dec.stdout.equals(plaintext)) failures.push(`decrypt ${w}: other bytes`);
      }),
      ...rotators(),
    ]);
    expect(failures).toEqual([]);
    expect(rotated.sort((a, b) => a - b)).toEqual(range(16).map((i) => i + 2));

    // Afterwards, every message decrypts, all in one process: -o DIR with 24 files.
    const messagesDir = workdir();
    const outDir = workdir();
    const files = plaintexts.map((_, w) => {
      const path = join(messagesDir, `m${w}.enc`);
      writeFileSync(path, ciphertexts[w]!);
      return path;
    });
    const later = await run(['--keystore', ks, 'decrypt', '-q', '-o', outDir, ...files]);
    expect(later.code, describeRun(later)).toBe(0);
    expect(plaintexts.map((p, w) => readFileSync(join(outDir, `m${w}`)).equals(p))).toEqual(plaintexts.map(() => true));
    const verify = await cli(['audit', '--verify']);
    expect(verify.code, describeRun(verify)).toBe(0);
    expect(readdirSync(ks).filter((n) => n.endsWith('.tmp') || n.includes('.lock'))).toEqual([]);
  });
});
