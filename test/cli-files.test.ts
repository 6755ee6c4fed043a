// Several inputs and directory trees for encrypt and decrypt (DESIGN §5): the
// real bin/envelope in temporary directories. Output names, -o DIR, -r mirrors,
// per-file summary lines, and a failed file that does not stop the others.

import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { type CliResult, runCli, tempDir } from './helpers.js';

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));

function workdir(): string {
  const dir = tempDir('envelope-files-');
  cleanups.push(dir.cleanup);
  return dir.path;
}

let key: string;
let wrongKey: string;
let keystore: string;

beforeAll(() => {
  const dir = workdir();
  writeFileSync(join(dir, 'aes.key'), randomBytes(32));
  writeFileSync(join(dir, 'wrong.key'), randomBytes(32));
  key = `raw-aes:file=${join(dir, 'aes.key')},namespace=files,name=k`;
  wrongKey = `raw-aes:file=${join(dir, 'wrong.key')},namespace=files,name=k`;
  keystore = join(dir, 'keystore');
});

/** bin/envelope in cwd, with a keystore of its own (never the user's). */
const run = (args: readonly string[], cwd?: string, stdin?: Uint8Array | string) =>
  runCli(args, { cwd, stdin, timeoutMs: 30_000, env: { ENVELOPE_KEYSTORE: keystore, ENVELOPE_PASSPHRASE: undefined } });

/** Decrypts a file to stdout, as a check independent of the batch code. */
async function plaintextOf(path: string): Promise<string> {
  return (await run(['decrypt', '-k', key], undefined, readFileSync(path))).stdout.toString();
}

const lines = (r: CliResult) => r.stderr.split('\n').filter(Boolean);

/** Writes files (path → contents) under dir, making directories as needed. */
function files(dir: string, tree: Record<string, string | Buffer>): void {
  for (const [path, data] of Object.entries(tree)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), data);
  }
}

/** Every regular file under dir (symlinks not followed), relative path → contents. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out[relative(dir, p)] = readFileSync(p).toString('hex');
    }
  };
  walk(dir);
  return out;
}

const temporaries = (dir: string) => Object.keys(snapshot(dir)).filter((p) => /(^|\/)\..*\.tmp$/.test(p));

async function expectOk(expect: ExpectStatic, r: Promise<CliResult>): Promise<string[]> {
  const result = await r;
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout.length).toBe(0);
  return lines(result);
}

/** Encrypts stdin to stdout. */
async function message(expect: ExpectStatic, plaintext: string | Buffer, k = key): Promise<Buffer> {
  const r = await run(['encrypt', '-k', k], undefined, plaintext);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

// ---------------------------------------------------------------- several inputs

describe('several inputs', () => {
  it.concurrent('encrypt a b c writes a.enc, b.enc, c.enc, one line per file and a count', async ({ expect }) => {
    const dir = workdir();
    files(dir, { a: 'alpha', b: 'bravo', c: 'charlie' });
    expect(await expectOk(expect, run(['encrypt', 'a', 'b', 'c', '-k', key], dir))).toEqual([
      'envelope: a -> a.enc',
      'envelope: b -> b.enc',
      'envelope: c -> c.enc',
      'envelope: 3 files: 3 done, 0 failed',
    ]);
    // Each is a message of its own, under a data key of its own.
    const ids = new Set<string>();
    for (const name of ['a', 'b', 'c']) {
      const inspect = await run(['inspect', '--json', `${name}.enc`], dir);
      ids.add(JSON.parse(inspect.stdout.toString()).messageId);
      expect(await plaintextOf(join(dir, `${name}.enc`))).toBe(readFileSync(join(dir, name), 'utf8'));
    }
    expect(ids.size).toBe(3);
  });

  it.concurrent('decrypt a.enc b.encrypted c.bin writes a, b and c.bin.dec (mode 0600)', async ({ expect }) => {
    const dir = workdir();
    files(dir, {
      'a.enc': await message(expect, 'alpha'),
      'b.encrypted': await message(expect, 'bravo'),
      'c.bin': await message(expect, 'charlie'),
    });
    expect(await expectOk(expect, run(['decrypt', 'a.enc', 'b.encrypted', 'c.bin', '-k', key], dir))).toEqual([
      'envelope: a.enc -> a',
      'envelope: b.encrypted -> b',
      'envelope: c.bin -> c.bin.dec',
      'envelope: 3 files: 3 done, 0 failed',
    ]);
    expect([readFileSync(join(dir, 'a'), 'utf8'), readFileSync(join(dir, 'b'), 'utf8'), readFileSync(join(dir, 'c.bin.dec'), 'utf8')]).toEqual([
      'alpha',
      'bravo',
      'charlie',
    ]);
    expect((statSync(join(dir, 'a')).mode & 0o777).toString(8)).toBe('600');
  });

  it.concurrent('--suffix .age: encrypt writes a.age; decrypt --suffix .age strips it and gives other names .dec', async ({ expect }) => {
    const dir = workdir();
    files(dir, { a: 'alpha', 'sub/b': 'bravo' });
    expect(await expectOk(expect, run(['encrypt', 'a', 'sub/b', '--suffix', '.age', '-k', key], dir))).toEqual([
      'envelope: a -> a.age',
      'envelope: sub/b -> sub/b.age',
      'envelope: 2 files: 2 done, 0 failed',
    ]);
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'x.enc'), readFileSync(join(dir, 'a.age')));
    expect(await expectOk(expect, run(['decrypt', 'a.age', 'sub/b.age', 'x.enc', '--suffix', '.age', '-o', 'out', '-k', key], dir))).toEqual([
      'envelope: a.age -> out/a',
      'envelope: sub/b.age -> out/b',
      'envelope: x.enc -> out/x.enc.dec',
      'envelope: 3 files: 3 done, 0 failed',
    ]);
    expect(snapshot(join(dir, 'out'))).toEqual({
      a: Buffer.from('alpha').toString('hex'),
      b: Buffer.from('bravo').toString('hex'),
      'x.enc.dec': Buffer.from('alpha').toString('hex'),
    });
    // One input takes --suffix too, quietly.
    expect(await expectOk(expect, run(['encrypt', 'a', '--suffix', '.sealed', '-k', key], dir))).toEqual([]);
    expect(existsSync(join(dir, 'a.sealed'))).toBe(true);
  });

  it.concurrent('-o DIR with several inputs puts each output in DIR under its own name', async ({ expect }) => {
    const dir = workdir();
    files(dir, { 'x/one.txt': '1', 'y/two.txt': '2' });
    mkdirSync(join(dir, 'vault'));
    expect(await expectOk(expect, run(['encrypt', 'x/one.txt', 'y/two.txt', '-o', 'vault', '-k', key], dir))).toEqual([
      'envelope: x/one.txt -> vault/one.txt.enc',
      'envelope: y/two.txt -> vault/two.txt.enc',
      'envelope: 2 files: 2 done, 0 failed',
    ]);
    expect(readdirSync(join(dir, 'vault')).sort()).toEqual(['one.txt.enc', 'two.txt.enc']);
  });

  it.concurrent('one input stays quiet, and an -o that is a directory receives its output', async ({ expect }) => {
    const dir = workdir();
    files(dir, { 'a.txt': 'alone' });
    mkdirSync(join(dir, 'd'));
    expect(await expectOk(expect, run(['encrypt', 'a.txt', '-k', key], dir))).toEqual([]);
    expect(await expectOk(expect, run(['encrypt', 'a.txt', '-o', 'd', '-k', key], dir))).toEqual([]);
    expect(await expectOk(expect, run(['decrypt', 'd/a.txt.enc', '-o', 'd', '-k', key], dir))).toEqual([]);
    expect(readFileSync(join(dir, 'd', 'a.txt'), 'utf8')).toBe('alone');
  });

  it.concurrent('two inputs with the same output: the second fails (exit 2), the first is written', async ({ expect }) => {
    const dir = workdir();
    files(dir, { 'x/f': 'from x', 'y/f': 'from y' });
    mkdirSync(join(dir, 'd'));
    const r = await run(['encrypt', 'x/f', 'y/f', '-o', 'd', '-k', key, '--force'], dir);
    expect(r.code, r.stderr).toBe(2);
    expect(lines(r).slice(0, 3)).toEqual([
      'envelope: x/f -> d/f.enc',
      'envelope: y/f: error: d/f.enc is already the output of x/f',
      'envelope: 2 files: 1 done, 1 failed',
    ]);
    expect(await plaintextOf(join(dir, 'd', 'f.enc'))).toBe('from x');
  });
});

// ---------------------------------------------------------------- failures

describe('a file that fails does not stop the others', () => {
  it.concurrent('a tampered message among several: the others are decrypted, exit 5 (its class), nothing left of it', async ({ expect }) => {
    const dir = workdir();
    const tampered = await message(expect, randomBytes(100_000));
    tampered[tampered.length - 200]! ^= 1;
    files(dir, {
      'a.enc': await message(expect, 'alpha'),
      'bad.enc': tampered,
      'junk.enc': 'not a message at all',
      'c.enc': await message(expect, 'charlie'),
    });
    const r = await run(['decrypt', 'a.enc', 'bad.enc', 'junk.enc', 'c.enc', '-k', key], dir);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stdout.length).toBe(0);
    const out = lines(r);
    expect(out[0]).toBe('envelope: a.enc -> a');
    expect(out[1]).toMatch(/^envelope: bad\.enc: error: \S/);
    expect(out[2]).toMatch(/^envelope: junk\.enc: error: \S/);
    expect(out[3]).toBe('envelope: c.enc -> c');
    expect(out[4]).toBe('envelope: 4 files: 2 done, 2 failed');
    expect(out[5]).toBe('envelope: error: 2 of 4 files could not be decrypted');
    expect(out[6]).toMatch(/^hint: first: bad\.enc: /);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('alpha');
    expect(readFileSync(join(dir, 'c'), 'utf8')).toBe('charlie');
    expect(existsSync(join(dir, 'bad'))).toBe(false);
    expect(existsSync(join(dir, 'junk'))).toBe(false);
    expect(temporaries(dir)).toEqual([]);
  });

  it.concurrent('the exit status is the first failure\'s: no key (6) before a bad message (4)', async ({ expect }) => {
    const dir = workdir();
    files(dir, { 'other.enc': await message(expect, 'other key', wrongKey), 'junk.enc': 'junk', 'ok.enc': await message(expect, 'ok') });
    const r = await run(['decrypt', 'other.enc', 'junk.enc', 'ok.enc', '-k', key], dir);
    expect(r.code, r.stderr).toBe(6);
    expect(readFileSync(join(dir, 'ok'), 'utf8')).toBe('ok');
    const swapped = await run(['decrypt', 'junk.enc', 'other.enc', '-k', key, '-o', '.'], dir);
    expect(swapped.code, swapped.stderr).toBe(4);
  });

  it.concurrent('existing outputs are untouched without --force (that file fails, exit 3) and replaced with it', async ({ expect }) => {
    const dir = workdir();
    files(dir, { a: 'alpha', b: 'bravo', c: 'charlie', 'b.enc': 'old ciphertext' });
    const r = await run(['encrypt', 'a', 'b', 'c', '-k', key], dir);
    expect(r.code, r.stderr).toBe(3);
    expect(lines(r)).toEqual([
      'envelope: a -> a.enc',
      'envelope: b: error: b.enc already exists',
      'envelope: c -> c.enc',
      'envelope: 3 files: 2 done, 1 failed',
      'envelope: error: 1 of 3 files could not be encrypted',
      'hint: b: b.enc already exists',
      'hint: use --force to overwrite it',
    ]);
    expect(readFileSync(join(dir, 'b.enc'), 'utf8')).toBe('old ciphertext');
    const forced = await run(['encrypt', 'a', 'b', 'c', '-k', key, '--force'], dir);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await plaintextOf(join(dir, 'b.enc'))).toBe('bravo');
    expect(temporaries(dir)).toEqual([]);
  });

  it.concurrent('an output that is an input is refused for that file (exit 2), even with --force', async ({ expect }) => {
    const dir = workdir();
    files(dir, { a: 'alpha', 'a.enc': 'an input too', b: 'bravo' });
    const r = await run(['encrypt', 'a', 'a.enc', '-k', key, '--force'], dir);
    expect(r.code, r.stderr).toBe(2);
    expect(lines(r).slice(0, 3)).toEqual([
      'envelope: a: error: a.enc is one of the inputs',
      'envelope: a.enc -> a.enc.enc',
      'envelope: 2 files: 1 done, 1 failed',
    ]);
    expect(readFileSync(join(dir, 'a.enc'), 'utf8')).toBe('an input too');

    // The same file under another name: out/b.enc is a link to the input b.
    mkdirSync(join(dir, 'out'));
    symlinkSync('../b', join(dir, 'out', 'b.enc'));
    const same = await run(['encrypt', 'a', 'b', '-o', 'out', '-k', key, '--force'], dir);
    expect(same.code, same.stderr).toBe(2);
    expect(lines(same)[1]).toMatch(/^envelope: b: error: input and output are the same file/);
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('bravo');
    expect(existsSync(join(dir, 'out', 'a.enc'))).toBe(true);
  });

  it.concurrent('a directory among several inputs without -r fails that input (exit 3) with a hint at -r', async ({ expect }) => {
    const dir = workdir();
    files(dir, { a: 'alpha', 'd/x': 'x' });
    const r = await run(['encrypt', 'd', 'a', '-k', key], dir);
    expect(r.code, r.stderr).toBe(3);
    expect(lines(r)[0]).toBe('envelope: d: error: cannot read d: is a directory');
    expect(lines(r)).toContain('hint: use -r and -o DIR to walk a directory');
    expect(existsSync(join(dir, 'a.enc'))).toBe(true);
  });
});

// ---------------------------------------------------------------- -r

describe('-r mirrors trees into -o DIR', () => {
  it.concurrent('nested directories are mirrored; symlinks and files already ending in .enc are skipped and said so', async ({ expect }) => {
    const dir = workdir();
    files(dir, {
      'tree/top.txt': 'top',
      'tree/sub/mid.txt': 'mid',
      'tree/sub/deep/low.txt': 'low',
      'tree/sub/done.enc': 'already encrypted',
      'elsewhere/secret': 'outside the tree',
    });
    symlinkSync('../top.txt', join(dir, 'tree', 'sub', 'link.txt'));
    symlinkSync('../elsewhere', join(dir, 'tree', 'linked-dir'));
    const r = await run(['encrypt', '-r', 'tree', '-o', 'vault', '-k', key], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r)).toEqual([
      'envelope: tree/linked-dir: skipped: symbolic link, not followed',
      'envelope: tree/sub/deep/low.txt -> vault/tree/sub/deep/low.txt.enc',
      'envelope: tree/sub/done.enc: skipped: already ends in .enc',
      'envelope: tree/sub/link.txt: skipped: symbolic link, not followed',
      'envelope: tree/sub/mid.txt -> vault/tree/sub/mid.txt.enc',
      'envelope: tree/top.txt -> vault/tree/top.txt.enc',
      'envelope: 6 files: 3 done, 0 failed, 3 skipped',
    ]);
    expect(Object.keys(snapshot(join(dir, 'vault'))).sort()).toEqual(['tree/sub/deep/low.txt.enc', 'tree/sub/mid.txt.enc', 'tree/top.txt.enc']);
    expect(lstatSync(join(dir, 'vault', 'tree', 'sub')).isDirectory()).toBe(true);

    // decrypt -r skips what does not end in .enc or .encrypted; its directories are 0700.
    writeFileSync(join(dir, 'vault', 'tree', 'README'), 'not a message');
    const d = await run(['decrypt', '-r', 'vault/tree', '-o', 'plain', '-k', key], dir);
    expect(d.code, d.stderr).toBe(0);
    expect(lines(d)).toContain('envelope: vault/tree/README: skipped: does not end in .enc or .encrypted');
    expect(lines(d).at(-1)).toBe('envelope: 4 files: 3 done, 0 failed, 1 skipped');
    expect(readFileSync(join(dir, 'plain', 'tree', 'sub', 'deep', 'low.txt'), 'utf8')).toBe('low');
    for (const sub of ['plain', 'plain/tree', 'plain/tree/sub', 'plain/tree/sub/deep']) {
      expect((statSync(join(dir, sub)).mode & 0o777).toString(8), sub).toBe('700');
    }
    expect((statSync(join(dir, 'plain', 'tree', 'top.txt')).mode & 0o777).toString(8)).toBe('600');
  });

  it.concurrent('encrypt -r then decrypt -r gives back the identical tree, also from . into DIR itself', async ({ expect }) => {
    const dir = workdir();
    const tree: Record<string, Buffer> = {};
    for (const path of ['a', 'b.txt', 'empty', 'x/1.bin', 'x/y/2.bin', 'x/y/z/3.bin', 'dots.in.name', 'x/y/big']) {
      tree[`src/${path}`] = path === 'empty' ? Buffer.alloc(0) : randomBytes(path === 'x/y/big' ? 300_000 : 100 + path.length);
    }
    files(dir, tree);
    const enc = await run(['encrypt', '-r', 'src', '-o', 'enc', '-k', key, '--frame-size', '4K'], dir);
    expect(enc.code, enc.stderr).toBe(0);
    const dec = await run(['decrypt', '-r', 'enc/src', '-o', 'dec', '-k', key], dir);
    expect(dec.code, dec.stderr).toBe(0);
    expect(snapshot(join(dir, 'dec', 'src'))).toEqual(snapshot(join(dir, 'src')));

    // `.` mirrors its contents into DIR itself; relative paths are kept.
    const dot = await run(['encrypt', '-r', '.', '-o', '../enc2', '-k', key], join(dir, 'src'));
    expect(dot.code, dot.stderr).toBe(0);
    expect(Object.keys(snapshot(join(dir, 'enc2'))).sort()).toEqual(Object.keys(snapshot(join(dir, 'src'))).map((p) => `${p}.enc`).sort());
    const back = await run(['decrypt', '-r', '.', '-o', join(dir, 'dec2'), '-k', key], join(dir, 'enc2'));
    expect(back.code, back.stderr).toBe(0);
    expect(snapshot(join(dir, 'dec2'))).toEqual(snapshot(join(dir, 'src')));
  });

  it.concurrent('the output directory inside the tree is not walked, and a second run refuses every existing output', async ({ expect }) => {
    const dir = workdir();
    files(dir, { 'one': '1', 'sub/two': '2' });
    expect(await expectOk(expect, run(['encrypt', '-r', '.', '-o', 'vault', '-k', key], dir))).toEqual([
      'envelope: one -> vault/one.enc',
      'envelope: sub/two -> vault/sub/two.enc',
      'envelope: 2 files: 2 done, 0 failed',
    ]);
    const again = await run(['encrypt', '-r', '.', '-o', 'vault', '-k', key], dir);
    expect(again.code, again.stderr).toBe(3);
    expect(lines(again).slice(0, 3)).toEqual([
      'envelope: one: error: vault/one.enc already exists',
      'envelope: sub/two: error: vault/sub/two.enc already exists',
      'envelope: 2 files: 0 done, 2 failed',
    ]);
  });

  it.concurrent('a file named on the command line is processed even where a walk would skip it', async ({ expect }) => {
    const dir = workdir();
    files(dir, { 'named.enc': 'plaintext that happens to end in .enc', 't/inner.enc': 'skipped' });
    expect(await expectOk(expect, run(['encrypt', '-r', 'named.enc', 't', '-o', 'v', '-k', key], dir))).toEqual([
      'envelope: named.enc -> v/named.enc.enc',
      'envelope: t/inner.enc: skipped: already ends in .enc',
      'envelope: 2 files: 1 done, 0 failed, 1 skipped',
    ]);
  });

  it.concurrent('a directory made for a file that then failed is not left behind', async ({ expect }) => {
    const dir = workdir();
    files(dir, { 'v/good.enc': await message(expect, 'good'), 'v/sub/junk.enc': 'junk' });
    const r = await run(['decrypt', '-r', 'v', '-o', 'out', '-k', key], dir);
    expect(r.code, r.stderr).toBe(4);
    expect(readFileSync(join(dir, 'out', 'v', 'good'), 'utf8')).toBe('good');
    expect(existsSync(join(dir, 'out', 'v', 'sub'))).toBe(false);
    const none = await run(['decrypt', '-r', 'v/sub', '-o', 'out2', '-k', key], dir);
    expect(none.code, none.stderr).toBe(4);
    expect(existsSync(join(dir, 'out2'))).toBe(false);
  });
});

// ---------------------------------------------------------------- usage

describe('usage errors exit 2 before any file is read or written', () => {
  const cases: [string, string[]][] = [
    ['-r without -o', ['encrypt', '-r', 'tree']],
    ['-r with -o -', ['encrypt', '-r', 'tree', '-o', '-']],
    ['-o - with several inputs', ['encrypt', 'a', 'b', '-o', '-']],
    ['-o FILE (a regular file) with several inputs', ['encrypt', 'a', 'b', '-o', 'c']],
    ['-o DIR that does not exist, without -r', ['encrypt', 'a', 'b', '-o', 'nowhere']],
    ['stdin (-) among several inputs', ['encrypt', 'a', '-']],
    ['an empty --suffix', ['encrypt', 'a', 'b', '--suffix', '']],
    ['a --suffix with a slash', ['decrypt', 'a', 'b', '--suffix', 'x/y']],
    ['decrypt -r without -o', ['decrypt', '-r', 'tree']],
    ['decrypt -o FILE with several inputs', ['decrypt', 'a', 'b', '-o', 'c']],
  ];
  for (const [label, args] of cases) {
    it.concurrent(label, async ({ expect }) => {
      const dir = workdir();
      files(dir, { a: 'alpha', b: 'bravo', c: 'charlie', 'tree/x': 'x' });
      const before = snapshot(dir);
      const r = await run([...args, '-k', key], dir);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^envelope: error: \S[^\n]*\n(hint: [^\n]+\n)*$/);
      expect(snapshot(dir)).toEqual(before);
      expect(existsSync(join(dir, 'nowhere'))).toBe(false);
    });
  }
});
