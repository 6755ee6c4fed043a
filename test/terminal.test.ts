// Terminal manners (DESIGN §5): colors only on a terminal and never with
// NO_COLOR (FORCE_COLOR forces them); a spinner while a passphrase unlocks the
// keystore or re-encrypt has the file system copy a large file, and a progress
// line for inputs over 64 MiB, only on a terminal that is not a CI log; -q
// keeps only errors; -v adds keys and timings. Terminals
// are real ptys made by util-linux `script`; everything else runs through pipes.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { countingProgress, PROGRESS_THRESHOLD, progressLine } from '../src/cli/progress.js';
import { colorsWanted, formatError, PLAIN } from '../src/cli/terminal.js';
import { IoError } from '../src/errors.js';
import { collect, distFilesLoaded, ENVELOPE, REPO_ROOT, runCli, TRACE_LOADS, workdirs } from './helpers.js';
import { startKmsServer } from './support/kms-server.js';

const workdir = workdirs('envelope-terminal-');

/** An SGR sequence (a color or weight). */
const SGR = /\x1b\[[\d;]*m/;
/** A frame of ora's default spinner (braille dots), or its line-drawing fallback with our text. */
const SPINNER = /[\u2800-\u28ff]|unlocking the keystore/;

/** The environment of a person at a terminal: no NO_COLOR, FORCE_COLOR or CI from wherever the tests run. */
const PLAIN_ENV = { NO_COLOR: undefined, FORCE_COLOR: undefined, CI: undefined, TERM: 'xterm-256color', ENVELOPE_PASSPHRASE: undefined };

let dir: string;
let key: string;
let keystore: string;
/** 80 MiB, more than the 64 MiB from which a progress line is shown. */
let big: string;
/** A keystore protected by the passphrase "correct horse", with alias/p, and a message under it. */
let protectedKeystore: string;
let protectedMessage: string;

const run = (args: readonly string[], env: NodeJS.ProcessEnv = {}, stdin?: string) =>
  runCli(args, { cwd: dir, stdin, timeoutMs: 30_000, env: { ...PLAIN_ENV, ENVELOPE_KEYSTORE: keystore, ...env } });

beforeAll(async () => {
  dir = workdir();
  writeFileSync(join(dir, 'aes.key'), randomBytes(32));
  key = `raw-aes:file=${join(dir, 'aes.key')},namespace=terminal,name=k`;
  keystore = join(dir, 'keystore');
  big = join(dir, 'big.bin');
  writeFileSync(big, Buffer.alloc(80 * 1024 * 1024, 0x5a));
  for (const name of ['a.txt', 'b.txt']) writeFileSync(join(dir, name), `${name}\n`);
  protectedKeystore = join(dir, 'protected');
  const env = { ENVELOPE_KEYSTORE: protectedKeystore, ENVELOPE_PASSPHRASE: 'correct horse' };
  const made = await run(['keygen', 'p'], env);
  expect(made.code, made.stderr).toBe(0);
  protectedMessage = join(dir, 'p.enc');
  const sealed = await run(['encrypt', '-k', 'alias/p', '-o', protectedMessage, join(dir, 'a.txt')], env);
  expect(sealed.code, sealed.stderr).toBe(0);
});

// ---------------------------------------------------------------- terminals

const HAS_SCRIPT = (() => {
  const r = spawnSync('script', ['--version'], { encoding: 'utf8' });
  return r.status === 0 && `${r.stdout}${r.stderr}`.includes('util-linux');
})();
const onTerminal = (title: string) => (HAS_SCRIPT ? title : `${title} (SKIPPED: util-linux \`script\` not found)`);
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs bin/envelope on a pty of 100 columns (stdout and stderr both the
 * terminal, as a person's shell has them); returns what the terminal showed.
 */
function onPty(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const command = `stty cols 100 rows 30; exec ${[process.execPath, ENVELOPE, ...args].map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: Object.fromEntries(
        Object.entries({ ...process.env, ...PLAIN_ENV, ENVELOPE_KEYSTORE: keystore, ...env }).filter(([, v]) => v !== undefined),
      ),
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The lines a progress line drew: each `\r`-started piece that names the input. */
const progressDraws = (out: string, label: string) => out.split('\r').filter((piece) => piece.startsWith(`envelope: ${label}  `));

describe('on a terminal', () => {
  it.skipIf(!HAS_SCRIPT).concurrent(onTerminal('an error has a colored prefix and hint; NO_COLOR (even empty) turns colors off'), async () => {
    const colored = await onPty(['decrypt', 'missing.enc']);
    expect(colored.code, colored.out).toBe(3);
    expect(colored.out).toMatch(/envelope: (\x1b\[[\d;]*m)+error:\x1b\[[\d;]*m/);
    for (const value of ['1', '']) {
      const plain = await onPty(['decrypt', 'missing.enc'], { NO_COLOR: value });
      expect(plain.code, plain.out).toBe(3);
      expect(plain.out).toContain('envelope: error: cannot read missing.enc');
      expect(plain.out).not.toMatch(SGR);
    }
  });

  it.skipIf(!HAS_SCRIPT).concurrent(onTerminal('an 80 MiB file shows one progress line (bytes of the total), cleared at the end; -q shows none'), async () => {
    const r = await onPty(['encrypt', '-k', key, '-o', 'big.enc', big]);
    expect(r.code, r.out).toBe(0);
    const draws = progressDraws(r.out, big);
    expect(draws.length, JSON.stringify(r.out.slice(0, 400))).toBeGreaterThan(0);
    for (const line of draws) expect(line).toMatch(/^envelope: \S+ {2}\d+\.\d MiB \/ 80\.0 MiB \(\d+%\)/);
    // Drawn in place (\r … erase to the end), and erased when done: nothing is left on the screen.
    expect(r.out.trimEnd().endsWith('\r\x1b[K'), JSON.stringify(r.out.slice(-80))).toBe(true);
    expect(r.out).not.toContain('\n');

    const quiet = await onPty(['-q', 'encrypt', '-k', key, '-o', 'big-quiet.enc', big]);
    expect(quiet.code, quiet.out).toBe(0);
    expect(quiet.out).toBe('');
  });

  it.skipIf(!HAS_SCRIPT).concurrent(onTerminal('a spinner shows while the passphrase unlocks the keystore; not with -q, not in CI'), async () => {
    const env = { ENVELOPE_KEYSTORE: protectedKeystore, ENVELOPE_PASSPHRASE: 'correct horse' };
    const r = await onPty(['decrypt', protectedMessage, '-o', '-'], env);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(SPINNER);
    expect(r.out).toContain('a.txt');
    for (const extra of [{ args: ['-q'] }, { args: [], env: { CI: 'true' } }]) {
      const calm = await onPty([...extra.args, 'decrypt', protectedMessage, '-o', '-'], { ...env, ...extra.env });
      expect(calm.code, calm.out).toBe(0);
      expect(calm.out).not.toMatch(SPINNER);
      expect(calm.out.replace(/\x1b\[\?25h/g, '')).toBe('a.txt\r\n');
    }
  });

  it.skipIf(!HAS_SCRIPT).concurrent(onTerminal('a spinner names the AWS KMS call while it waits (here on retries); not with -q'), async () => {
    // Throttled twice, the SDK backs off before each retry: the call lasts long enough to see.
    const kms = await startKmsServer({ throttle: 0 });
    try {
      const { arn } = await kms.createKey();
      const slow = await startKmsServer({ keystore: kms.keystore, throttle: 2, region: kms.region, account: kms.account });
      try {
        const r = await onPty(['encrypt', '-k', arn, '-o', 'kms.enc', join(dir, 'a.txt')], slow.env());
        expect(r.code, r.out).toBe(0);
        expect(r.out).toContain(`AWS KMS GenerateDataKey ${arn}`);
        expect(r.out).toMatch(/[\u2800-\u28ff]/);
        const quiet = await onPty(['-q', 'encrypt', '-k', arn, '-o', 'kms-quiet.enc', join(dir, 'a.txt')], slow.env());
        expect(quiet.code, quiet.out).toBe(0);
        expect(quiet.out.replace(/\x1b\[\?25h/g, '')).toBe('');
      } finally {
        await slow.stop();
      }
    } finally {
      await kms.stop();
    }
  });

  it.skipIf(!HAS_SCRIPT).concurrent(onTerminal('re-encrypt of an 80 MiB file copied by the file system shows a spinner naming it; not with -q'), async () => {
    const sealed = await run(['encrypt', '-k', key, '-o', 'big-re.enc', big]);
    expect(sealed.code, sealed.stderr).toBe(0);
    const r = await onPty(['re-encrypt', '--from', key, '--to', key, '-o', 'big-re.out', 'big-re.enc']);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('re-encrypting big-re.enc (a copy made by the file system)');
    expect(r.out).toMatch(/[\u2800-\u28ff]/);
    const quiet = await onPty(['-q', 're-encrypt', '--from', key, '--to', key, '-o', 'big-re-quiet.out', 'big-re.enc']);
    expect(quiet.code, quiet.out).toBe(0);
    expect(quiet.out.replace(/\x1b\[\?25h/g, '')).toBe('');
  });

  it.skipIf(!HAS_SCRIPT).concurrent(onTerminal('in CI (CI set) a terminal gets no progress line'), async () => {
    const r = await onPty(['encrypt', '-k', key, '-o', 'big-ci.enc', big], { CI: 'true' });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toBe('');
  });
});

// ---------------------------------------------------------------- pipes

describe('through pipes (scripts, CI logs)', () => {
  it.concurrent('no color codes, no \\r progress, no spinner frames', async () => {
    const large = await run(['encrypt', '-k', key, '-o', 'big-pipe.enc', big]);
    expect(large.code, large.stderr).toBe(0);
    expect(large.stderr).toBe('');
    const failed = await run(['encrypt', '-k', key, 'a.txt', 'missing.txt', '-o', '.']);
    expect(failed.code, failed.stderr).toBe(3);
    const unlocked = await run(['-v', 'decrypt', protectedMessage, '-o', '-'], {
      ENVELOPE_KEYSTORE: protectedKeystore,
      ENVELOPE_PASSPHRASE: 'correct horse',
    });
    expect(unlocked.code, unlocked.stderr).toBe(0);
    for (const r of [large, failed, unlocked]) {
      expect(r.stderr).not.toMatch(SGR);
      expect(r.stderr).not.toContain('\r');
      expect(r.stderr).not.toContain('\x1b');
      expect(r.stderr).not.toMatch(SPINNER);
    }
    expect(failed.stderr).toContain('envelope: missing.txt: error: cannot read missing.txt');
  });

  it.concurrent('FORCE_COLOR=1 colors stderr without a terminal; NO_COLOR wins over it', async () => {
    const forced = await run(['decrypt', '--bogus'], { FORCE_COLOR: '1' });
    expect(forced.code).toBe(2);
    expect(forced.stderr).toMatch(/^envelope: (\x1b\[[\d;]*m)+error:(\x1b\[[\d;]*m)+ unknown option '--bogus'\n/);
    expect(forced.stderr).toMatch(/\n(\x1b\[[\d;]*m)+hint:(\x1b\[[\d;]*m)+ see envelope --help\n$/);
    const both = await run(['decrypt', '--bogus'], { FORCE_COLOR: '1', NO_COLOR: '1' });
    expect(both.stderr).not.toMatch(SGR);
    expect(both.stderr).toBe(forced.stderr.replace(/\x1b\[[\d;]*m/g, ''));
  });
});

// ---------------------------------------------------------------- -q and -v

describe('-q and -v', () => {
  it.concurrent('-q silences the summary lines of several files, but not their errors', async () => {
    const sub = workdir();
    for (const name of ['a.txt', 'b.txt']) writeFileSync(join(sub, name), name);
    writeFileSync(join(sub, 'b.txt.enc'), 'in the way');
    const loud = await runCli(['encrypt', '-k', key, 'a.txt', 'b.txt'], { cwd: sub });
    expect(loud.stderr).toContain('envelope: a.txt -> a.txt.enc');
    expect(loud.stderr).toContain('envelope: 2 files: 1 done, 1 failed');
    const quiet = await runCli(['encrypt', '-q', '-k', key, '--force', 'a.txt', 'b.txt', 'c.txt'], { cwd: sub });
    expect(quiet.code).toBe(3);
    expect(quiet.stderr).toBe(
      'envelope: c.txt: error: cannot read c.txt: no such file or directory\n' +
        'envelope: error: 1 of 3 files could not be encrypted\n' +
        'hint: c.txt: cannot read c.txt: no such file or directory\n',
    );
    expect(readdirSync(sub).sort()).toEqual(['a.txt', 'a.txt.enc', 'b.txt', 'b.txt.enc']);
  });

  it.concurrent('-q silences notes (keygen\'s "created …") but not errors', async () => {
    const env = { ENVELOPE_KEYSTORE: join(workdir(), 'ks') };
    const made = await run(['-q', 'keygen', 'quiet'], env);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toBe('');
    expect(made.stdout.toString()).toMatch(/^[0-9a-f-]{36}\n$/);
    const again = await run(['keygen', 'quiet', '--quiet'], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^envelope: error: /);
  });

  it.concurrent('-v names the key that unwrapped the data key (or wrapped it) and times the message', async () => {
    const sealed = await run(['encrypt', '-v', '-k', key], {}, 'verbose\n');
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(sealed.stderr).toMatch(/^envelope: data key wrapped by raw-aes terminal\/k\nenvelope: total \d+\.\d ms\n$/);
    writeFileSync(join(dir, 'v.enc'), sealed.stdout);
    const opened = await run(['--verbose', 'decrypt', '-k', key, 'v.enc', '-o', '-']);
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout.toString()).toBe('verbose\n');
    expect(opened.stderr).toMatch(
      /^envelope: v\.enc: data key unwrapped by raw-aes terminal\/k\nenvelope: v\.enc: header read and data key unwrapped in \d+\.\d ms; total \d+\.\d ms\n$/,
    );
    // A local key: the keystore's keyring, and the key id and version it was offered.
    const local = await run(['decrypt', protectedMessage, '-o', '-', '-v'], { ENVELOPE_KEYSTORE: protectedKeystore, ENVELOPE_PASSPHRASE: 'correct horse' });
    expect(local.code, local.stderr).toBe(0);
    expect(local.stderr).toMatch(/data key unwrapped by local keystore \S+ \(envelope-local [0-9a-f-]{36}\/1\)\n/);
  });

  it.concurrent('-q with -v is a usage error (exit 2), before or after the command', async () => {
    for (const args of [['-q', '-v', 'decrypt', 'x.enc'], ['decrypt', 'x.enc', '--verbose', '--quiet']]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^envelope: error: option '-q, --quiet' cannot be used with option '-v, --verbose'\n/);
    }
  });

  it.concurrent('--help lists -q and -v and says where output goes', async () => {
    const r = await run(['--help']);
    const help = r.stdout.toString();
    expect(help).toMatch(/-q, --quiet +print nothing on stderr but errors/);
    expect(help).toMatch(/-v, --verbose +also print which key unwrapped/);
    expect(help).toContain('NO_COLOR');
    expect(help).toContain('FORCE_COLOR');
  });
});

// ---------------------------------------------------------------- pieces

describe('the pieces', () => {
  it('colors: never with NO_COLOR, forced by FORCE_COLOR, else only on a terminal', () => {
    expect(colorsWanted({}, true)).toBe(true);
    expect(colorsWanted({}, false)).toBe(false);
    expect(colorsWanted({ NO_COLOR: '' }, true)).toBe(false);
    expect(colorsWanted({ NO_COLOR: '1', FORCE_COLOR: '1' }, true)).toBe(false);
    expect(colorsWanted({ FORCE_COLOR: '1' }, false)).toBe(true);
  });

  it('formatError without colors is the plain text', () => {
    const e = new IoError('cannot read x', { hints: ['check the name'] });
    expect(formatError(e, false, PLAIN)).toBe('envelope: error: cannot read x\nhint: check the name\n');
  });

  it('the progress line: bytes of the total, rate and time left once measurable', () => {
    const MiB = 1024 * 1024;
    expect(progressLine('big.bin', MiB, 80 * MiB, 5)).toBe('envelope: big.bin  1.0 MiB / 80.0 MiB (1%)');
    expect(progressLine('big.bin', 40 * MiB, 80 * MiB, 2000)).toBe('envelope: big.bin  40.0 MiB / 80.0 MiB (50%)  20.0 MiB/s  ETA 2s');
    expect(progressLine('standard input', 100 * MiB, undefined, 1000)).toBe('envelope: standard input  100.0 MiB  100.0 MiB/s');
  });

  it('counting passes the bytes through; draws past 64 MiB (or of a larger total) and clears at the end', async () => {
    const MiB = 1024 * 1024;
    const source = async function* (n: number) {
      for (let i = 0; i < n; i++) yield new Uint8Array(MiB);
    };
    let clock = 0;
    const lines: string[] = [];
    let cleared = 0;
    const options = { label: 'x', now: () => (clock += 50), show: (l: string) => lines.push(l), clear: () => cleared++, columns: 200 };

    expect((await collect(countingProgress(source(10), { ...options }))).length).toBe(10 * MiB);
    expect(lines).toEqual([]);
    expect(cleared).toBe(0);

    await collect(countingProgress(source(70), { ...options }));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => /^envelope: x {2}(6[5-9]|70)\.0 MiB/.test(l))).toBe(true);
    expect(cleared).toBe(1);

    lines.length = 0;
    await collect(countingProgress(source(3), { ...options, total: PROGRESS_THRESHOLD + 1 }));
    expect(lines[0]).toMatch(/^envelope: x {2}1\.0 MiB \/ 64\.0 MiB \(1%\)/);
    expect(cleared).toBe(2);
  });

  it('chalk and ora are imported by src/cli only, lazily, and by nothing at start-up', () => {
    const files = (sub: string): string[] =>
      readdirSync(join(REPO_ROOT, sub), { withFileTypes: true, recursive: true })
        .filter((e) => e.isFile() && e.name.endsWith('.ts'))
        .map((e) => join(e.parentPath, e.name));
    for (const file of files('src')) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(/^import[^;]*from '(chalk|ora)'/m);
      if (!file.includes('/src/cli/')) expect(text, file).not.toMatch(/['"](chalk|ora|commander)['"]/);
    }
    // The bundle holds neither: they are files of their own (scripts/build.mjs),
    // read only when used. The bundle is minified (no comments naming sources),
    // so each is known by a name of its own code, found in its own file.
    const dist = (file: string) => readFileSync(join(REPO_ROOT, 'dist', file), 'utf8');
    const bundle = dist('envelope.cjs');
    expect(bundle).toMatch(/"node_modules\/commander\/lib\/command\.js"/);
    const marks: [string, RegExp][] = [
      ['chalk.cjs', /function createChalk\b/],
      ['ora.cjs', /\bOra=class\b|\bclass Ora\b/],
      ['ora.cjs', /\bdots12:/], // cli-spinners, which ora bundles
    ];
    for (const [file, mark] of marks) {
      expect(dist(file)).toMatch(mark);
      expect(bundle).not.toMatch(mark);
    }
  });

  it('a run through pipes never loads chalk or ora; FORCE_COLOR loads chalk alone', async () => {
    const plain = await run(['decrypt', 'missing.enc'], TRACE_LOADS);
    expect(plain.code).toBe(3);
    expect(distFilesLoaded(plain.stderr)).toEqual([]);
    const colored = await run(['decrypt', 'missing.enc'], { ...TRACE_LOADS, FORCE_COLOR: '1' });
    expect(colored.code).toBe(3);
    expect(distFilesLoaded(colored.stderr)).toEqual(['chalk.cjs']);
  });
});
