// CLI transcripts: the real bin/envelope, run through pipes in temporary
// directories. Each test states one promise of README/DESIGN §1, §2, §5, §6.

import { spawn, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, it, type ExpectStatic } from 'vitest';
import { type CliResult, ENVELOPE, REPO_ROOT, runCli, workdirs } from './helpers.js';

// ---------------------------------------------------------------- fixtures

/** A fresh directory for one test, removed after the file. */
const workdir = workdirs('envelope-cli-');

let keys: {
  /** raw-aes key "test-ns/aes-1" (32 raw bytes in its file). */
  aes: string;
  /** The same key material as aes, written as hex text. */
  aesHex: string;
  /** The same key material as aes, written as base64 text. */
  aesBase64: string;
  /** A 128-bit key "test-ns/aes-128", as hex text. */
  aes128: string;
  /** A second raw-aes key "test-ns/aes-2". */
  aes2: string;
  /** Other key material under the same name as aes: the wrong key. */
  aesWrong: string;
  rsaPublic: (padding?: string) => string;
  rsaPrivate: (padding?: string) => string;
};

beforeAll(() => {
  const dir = workdir();
  const file = (name: string, data: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, data);
    return path;
  };
  const material = randomBytes(32);
  const aesFile = file('aes.key', material);
  const hexFile = file('aes.hex', `${material.toString('hex')}\n`);
  const b64File = file('aes.b64', `${material.toString('base64')}\n`);
  const aes128File = file('aes128.hex', randomBytes(16).toString('hex'));
  const aes2File = file('aes2.key', randomBytes(32));
  const wrongFile = file('wrong.key', randomBytes(32));
  const pair = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const pub = file('rsa.pub.pem', pair.publicKey);
  const priv = file('rsa.pem', pair.privateKey);
  const aes = (path: string, name = 'aes-1') => `raw-aes:file=${path},namespace=test-ns,name=${name}`;
  const rsa = (path: string) => (padding?: string) =>
    `raw-rsa:file=${path},namespace=test-rsa,name=rsa-1${padding ? `,padding=${padding}` : ''}`;
  keys = {
    aes: aes(aesFile),
    aesHex: aes(hexFile),
    aesBase64: aes(b64File),
    aes128: aes(aes128File, 'aes-128'),
    aes2: aes(aes2File, 'aes-2'),
    aesWrong: aes(wrongFile),
    rsaPublic: rsa(pub),
    rsaPrivate: rsa(priv),
  };
});

/** Deterministic bytes that are not a message (the first byte is neither 0x01, 0x02 nor "A"). */
function noise(length: number): Buffer {
  const out: Buffer[] = [];
  let block = createHash('sha512').update('envelope cli noise').digest();
  for (let n = 0; n < length; n += block.length) {
    out.push(block);
    block = createHash('sha512').update(block).digest();
  }
  const bytes = Buffer.concat(out).subarray(0, length);
  bytes[0] = 0x9c;
  return bytes;
}

/** Memoizes a promise, so concurrent tests can share one fixture. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

const run = (args: readonly string[], options: { stdin?: Uint8Array | string; cwd?: string } = {}) =>
  runCli(args, { timeoutMs: 45_000, ...options });

/** Encrypts stdin to stdout; fails the test unless it worked. */
async function encryptBytes(expect: ExpectStatic, plaintext: Uint8Array | string, args: readonly string[]): Promise<Buffer> {
  const r = await run(['encrypt', ...args], { stdin: plaintext });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

async function inspectJson(expect: ExpectStatic, message: Uint8Array, dir = workdir()): Promise<any> {
  const path = join(dir, `inspect-${randomBytes(4).toString('hex')}.enc`);
  writeFileSync(path, message);
  const r = await run(['inspect', '--json', path]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.toString('utf8'));
}

/**
 * Checks the failure contract of DESIGN §6: the exit code, and stderr being
 * exactly one `envelope: error: …` line plus `hint:` lines, lowercase after the
 * prefix, no trailing period, no stack trace. Returns the lines.
 */
function expectError(expect: ExpectStatic, r: CliResult, code: number, message?: RegExp): string[] {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).not.toContain('    at ');
  expect(r.stderr.endsWith('\n'), JSON.stringify(r.stderr)).toBe(true);
  const lines = r.stderr.slice(0, -1).split('\n');
  expect(lines[0]).toMatch(/^envelope: error: \S/);
  for (const line of lines.slice(1)) expect(line, r.stderr).toMatch(/^hint: /);
  for (const line of lines) {
    const text = line.replace(/^(envelope: error|hint): +/, '');
    expect(text[0], `not lowercase: ${line}`).not.toMatch(/[A-Z]/);
    expect(line, 'trailing period').not.toMatch(/\.$/);
  }
  if (message) expect(lines[0]).toMatch(message);
  return lines;
}

const temporaries = (dir: string) => readdirSync(dir).filter((name) => /^\..*\.tmp$/.test(name));

// ---------------------------------------------------------------- round trips

describe('stdin to stdout round trips', () => {
  const sizes: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['small', Buffer.from('attack at dawn\n')],
    ['~3 MB', randomBytes(3 * 1024 * 1024 + 17)],
  ];
  for (const [label, plaintext] of sizes) {
    it.concurrent(`encrypt | decrypt returns ${label} input unchanged`, async ({ expect }) => {
      const message = await encryptBytes(expect, plaintext, ['-k', keys.aes]);
      expect(message.length).toBeGreaterThan(plaintext.length);
      const r = await run(['decrypt', '-k', keys.aes], { stdin: message });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.equals(plaintext)).toBe(true);
    });
  }

  const multiKey = once(async () => {
    const r = await run(['encrypt', '-k', keys.aes, '-k', keys.rsaPublic(), '-k', keys.aes2], { stdin: 'for several keys' });
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout;
  });
  const decryptors: [string, () => string][] = [
    ['the first raw AES key', () => keys.aes],
    ['the second raw AES key', () => keys.aes2],
    ['the RSA private key', () => keys.rsaPrivate()],
  ];
  for (const [label, key] of decryptors) {
    it.concurrent(`a message for several -k keys decrypts with ${label} alone`, async ({ expect }) => {
      const r = await run(['decrypt', '-k', key()], { stdin: await multiKey() });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.toString()).toBe('for several keys');
    });
  }

  it.concurrent('an RSA public key encrypts but cannot decrypt (exit 6)', async ({ expect }) => {
    const message = await encryptBytes(expect, 'x', ['-k', keys.rsaPublic()]);
    const r = await run(['decrypt', '-k', keys.rsaPublic()], { stdin: message });
    expectError(expect, r, 6);
    expect(r.stdout.length).toBe(0);
  });

  for (const padding of ['oaep-sha1', 'oaep-sha256', 'oaep-sha384', 'oaep-sha512', 'pkcs1']) {
    it.concurrent(`raw RSA with padding=${padding} round trips`, async ({ expect }) => {
      const message = await encryptBytes(expect, 'padded', ['-k', keys.rsaPublic(padding)]);
      const r = await run(['decrypt', '-k', keys.rsaPrivate(padding)], { stdin: message });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.toString()).toBe('padded');
    });
  }

  it.concurrent('an AES key file may hold raw bytes, hex or base64 text of the same key', async ({ expect }) => {
    const message = await encryptBytes(expect, 'key forms', ['-k', keys.aes]);
    for (const key of [keys.aesHex, keys.aesBase64]) {
      const r = await run(['decrypt', '-k', key], { stdin: message });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.toString()).toBe('key forms');
    }
    const m128 = await encryptBytes(expect, 'aes-128', ['-k', keys.aes128]);
    const r = await run(['decrypt', '-k', keys.aes128], { stdin: m128 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toBe('aes-128');
  });

  it.concurrent('--buffer with stdout round trips a signed message', async ({ expect }) => {
    const plaintext = randomBytes(200_000);
    const message = await encryptBytes(expect, plaintext, ['-k', keys.aes, '--sign']);
    const r = await run(['decrypt', '-k', keys.aes, '--buffer'], { stdin: message });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(plaintext)).toBe(true);
  });
});

// ---------------------------------------------------------------- files

describe('file mode', () => {
  it.concurrent('encrypt FILE writes FILE.enc and nothing to stdout', async ({ expect }) => {
    const dir = workdir();
    writeFileSync(join(dir, 'notes.txt'), 'file mode');
    const r = await run(['encrypt', 'notes.txt', '-k', keys.aes], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBe(0);
    const dec = await run(['decrypt', '-k', keys.aes], { stdin: readFileSync(join(dir, 'notes.txt.enc')) });
    expect(dec.stdout.toString()).toBe('file mode');
  });

  it.concurrent('decrypt FILE.enc writes FILE', async ({ expect }) => {
    const dir = workdir();
    writeFileSync(join(dir, 'notes.txt.enc'), await encryptBytes(expect, 'from .enc', ['-k', keys.aes]));
    const r = await run(['decrypt', 'notes.txt.enc', '-k', keys.aes], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('from .enc');
  });

  it.concurrent('decrypt other.bin (no .enc suffix) writes other.bin.dec', async ({ expect }) => {
    const dir = workdir();
    writeFileSync(join(dir, 'other.bin'), await encryptBytes(expect, 'from .bin', ['-k', keys.aes]));
    const r = await run(['decrypt', 'other.bin', '-k', keys.aes], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'other.bin.dec'), 'utf8')).toBe('from .bin');
  });

  it.concurrent('-o PATH writes the output to PATH on encrypt and decrypt', async ({ expect }) => {
    const dir = workdir();
    writeFileSync(join(dir, 'in.txt'), 'to a path');
    const enc = await run(['encrypt', 'in.txt', '-k', keys.aes, '-o', 'sealed.msg'], { cwd: dir });
    expect(enc.code, enc.stderr).toBe(0);
    expect(existsSync(join(dir, 'in.txt.enc'))).toBe(false);
    const dec = await run(['decrypt', 'sealed.msg', '-k', keys.aes, '-o', 'opened.txt'], { cwd: dir });
    expect(dec.code, dec.stderr).toBe(0);
    expect(existsSync(join(dir, 'sealed.msg.dec'))).toBe(false);
    expect(readFileSync(join(dir, 'opened.txt'), 'utf8')).toBe('to a path');
  });

  it.concurrent('-o - writes to stdout even with a file input', async ({ expect }) => {
    const dir = workdir();
    writeFileSync(join(dir, 'in.txt'), 'to stdout');
    const enc = await run(['encrypt', 'in.txt', '-k', keys.aes, '-o', '-'], { cwd: dir });
    expect(enc.code, enc.stderr).toBe(0);
    expect(existsSync(join(dir, 'in.txt.enc'))).toBe(false);
    writeFileSync(join(dir, 'in.txt.enc'), enc.stdout);
    const dec = await run(['decrypt', 'in.txt.enc', '-k', keys.aes, '-o', '-'], { cwd: dir });
    expect(dec.code, dec.stderr).toBe(0);
    expect(dec.stdout.toString()).toBe('to stdout');
    expect(readFileSync(join(dir, 'in.txt'), 'utf8')).toBe('to stdout');
  });

  it.concurrent('an existing output is untouched without --force: exit 3, one error line, a hint naming --force', async ({ expect }) => {
    const dir = workdir();
    writeFileSync(join(dir, 'in.txt'), 'new');
    writeFileSync(join(dir, 'in.txt.enc'), 'old ciphertext');
    const enc = await run(['encrypt', 'in.txt', '-k', keys.aes], { cwd: dir });
    const lines = expectError(expect, enc, 3, /in\.txt\.enc/);
    expect(lines.filter((l) => l.startsWith('envelope: error:'))).toHaveLength(1);
    expect(lines.slice(1).some((l) => l.includes('--force'))).toBe(true);
    expect(readFileSync(join(dir, 'in.txt.enc'), 'utf8')).toBe('old ciphertext');

    writeFileSync(join(dir, 'msg'), await encryptBytes(expect, 'new', ['-k', keys.aes]));
    writeFileSync(join(dir, 'out'), 'old plaintext');
    const dec = await run(['decrypt', 'msg', '-k', keys.aes, '-o', 'out'], { cwd: dir });
    expect(expectError(expect, dec, 3).slice(1).some((l) => l.includes('--force'))).toBe(true);
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('old plaintext');
    expect(temporaries(dir)).toEqual([]);
  });

  it.concurrent('an existing output is replaced with --force', async ({ expect }) => {
    const dir = workdir();
    writeFileSync(join(dir, 'in.txt'), 'replacement');
    writeFileSync(join(dir, 'in.txt.enc'), 'old ciphertext');
    const enc = await run(['encrypt', 'in.txt', '-k', keys.aes, '--force'], { cwd: dir });
    expect(enc.code, enc.stderr).toBe(0);
    writeFileSync(join(dir, 'out'), 'old plaintext');
    const dec = await run(['decrypt', 'in.txt.enc', '-k', keys.aes, '-o', 'out', '--force'], { cwd: dir });
    expect(dec.code, dec.stderr).toBe(0);
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('replacement');
    expect(temporaries(dir)).toEqual([]);
  });

  it.concurrent('decrypt creates output files with mode 0600', async ({ expect }) => {
    const dir = workdir();
    writeFileSync(join(dir, 'secret.enc'), await encryptBytes(expect, 'private', ['-k', keys.aes]));
    const byName = await run(['decrypt', 'secret.enc', '-k', keys.aes], { cwd: dir });
    expect(byName.code, byName.stderr).toBe(0);
    const byFlag = await run(['decrypt', '-k', keys.aes, '-o', 'chosen'], { cwd: dir, stdin: readFileSync(join(dir, 'secret.enc')) });
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect((statSync(join(dir, 'secret')).mode & 0o777).toString(8)).toBe('600');
    expect((statSync(join(dir, 'chosen')).mode & 0o777).toString(8)).toBe('600');
  });

  it.concurrent('input and output the same file is refused with exit 2 (decrypt x -o x), even with --force', async ({ expect }) => {
    const dir = workdir();
    const message = await encryptBytes(expect, 'same', ['-k', keys.aes]);
    writeFileSync(join(dir, 'x'), message);
    for (const args of [
      ['decrypt', 'x', '-k', keys.aes, '-o', 'x'],
      ['decrypt', 'x', '-k', keys.aes, '-o', './x', '--force'],
      ['encrypt', 'x', '-k', keys.aes, '-o', 'x', '--force'],
    ]) {
      const r = await run(args, { cwd: dir });
      expectError(expect, r, 2);
      expect(readFileSync(join(dir, 'x')).equals(message), args.join(' ')).toBe(true);
    }
    expect(temporaries(dir)).toEqual([]);
  });
});

// ---------------------------------------------------------------- failed decrypts

describe('a failed decrypt leaves nothing behind', () => {
  // Several frames, so plaintext of the earlier frames reaches the temporary
  // file before the damage in the last frame is found.
  const plaintext = randomBytes(200_000);
  const message = once(async () => {
    const r = await run(['encrypt', '-k', keys.aes, '--frame-size', '64K'], { stdin: plaintext });
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout;
  });
  const failures: [string, number, () => Promise<{ bytes: Buffer; key: string }>][] = [
    ['a wrong key', 6, async () => ({ bytes: await message(), key: keys.aesWrong })],
    [
      'a tampered byte in the body',
      5,
      async () => {
        const bytes = Buffer.from(await message());
        bytes[bytes.length - 20]! ^= 0x01; // in the last frame's ciphertext
        return { bytes, key: keys.aes };
      },
    ],
    ['a truncated message', 5, async () => ({ bytes: (await message()).subarray(0, -30), key: keys.aes })],
  ];
  for (const [label, code, make] of failures) {
    it.concurrent(`${label} exits ${code} and -o out is never created, nor any temporary file`, async ({ expect }) => {
      const dir = workdir();
      const { bytes, key } = await make();
      writeFileSync(join(dir, 'msg'), bytes);
      const r = await run(['decrypt', 'msg', '-k', key, '-o', 'out'], { cwd: dir });
      expectError(expect, r, code);
      expect(readdirSync(dir).sort()).toEqual(['msg']);
    });

    it.concurrent(`${label} exits ${code} and an existing out keeps its content even with --force`, async ({ expect }) => {
      const dir = workdir();
      const { bytes, key } = await make();
      writeFileSync(join(dir, 'msg'), bytes);
      writeFileSync(join(dir, 'out'), 'precious');
      const r = await run(['decrypt', 'msg', '-k', key, '-o', 'out', '--force'], { cwd: dir });
      expectError(expect, r, code);
      expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('precious');
      expect(readdirSync(dir).sort()).toEqual(['msg', 'out']);
    });
  }
});

// ---------------------------------------------------------------- armor

describe('--armor', () => {
  const plaintext = randomBytes(5000);
  const armored = once(async () => {
    const r = await run(['encrypt', '-k', keys.aes, '--armor'], { stdin: plaintext });
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout.toString('latin1');
  });

  it.concurrent('--armor writes base64 lines of at most 76 characters', async ({ expect }) => {
    const text = await armored();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) {
      expect(line).toMatch(/^[A-Za-z0-9+/=]+$/);
      expect(line.length).toBeLessThanOrEqual(76);
    }
    const binary = Buffer.from(lines.join(''), 'base64');
    expect(binary[0]).toBe(0x02);
    expect(binary.length).toBeGreaterThan(plaintext.length);
  });

  it.concurrent('decrypt accepts armored input from stdin without a flag', async ({ expect }) => {
    const r = await run(['decrypt', '-k', keys.aes], { stdin: await armored() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(plaintext)).toBe(true);
  });

  it.concurrent('decrypt accepts armored input from a file without a flag', async ({ expect }) => {
    const dir = workdir();
    writeFileSync(join(dir, 'msg.txt'), await armored());
    const r = await run(['decrypt', 'msg.txt', '-k', keys.aes, '-o', 'plain'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'plain')).equals(plaintext)).toBe(true);
  });

  it.concurrent('decrypt accepts armored input with CRLF line endings', async ({ expect }) => {
    const r = await run(['decrypt', '-k', keys.aes], { stdin: (await armored()).replace(/\n/g, '\r\n') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(plaintext)).toBe(true);
  });
});

// ---------------------------------------------------------------- encryption context

describe('encryption context', () => {
  const withContext = once(async () => {
    const r = await run(['encrypt', '-k', keys.aes, '-c', 'a=b', '-c', 'purpose=test'], { stdin: 'in context' });
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout;
  });

  it.concurrent('encrypt -c a=b stores the pair in the header', async ({ expect }) => {
    const summary = await inspectJson(expect, await withContext());
    expect(summary.encryptionContext).toEqual({ a: 'b', purpose: 'test' });
  });

  const requirements: [string[], number][] = [
    [['-c', 'a=b'], 0],
    [['-c', 'a=c'], 5],
    [['-c', 'a'], 0],
    [['-c', 'z'], 5],
    [['-c', 'a=b', '-c', 'purpose'], 0],
    [['-c', 'a=b', '-c', 'z=1'], 5],
  ];
  for (const [flags, code] of requirements) {
    const promise = code === 0 ? 'is met: plaintext, exit 0' : `is not met: exit ${code} and no plaintext`;
    it.concurrent(`decrypt ${flags.join(' ')} ${promise}`, async ({ expect }) => {
      const r = await run(['decrypt', '-k', keys.aes, ...flags], { stdin: await withContext() });
      if (code === 0) {
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout.toString()).toBe('in context');
      } else {
        expectError(expect, r, code);
        expect(r.stdout.length).toBe(0);
      }
    });
  }

  const refused: [string, string[]][] = [
    ['a reserved aws-crypto- key', ['-c', 'aws-crypto-x=1']],
    ['a pair without =value', ['-c', 'novalue']],
    ['the same key twice', ['-c', 'a=1', '-c', 'a=2']],
  ];
  for (const [label, flags] of refused) {
    it.concurrent(`encrypt refuses ${label} (${flags.join(' ')}) with exit 2`, async ({ expect }) => {
      const r = await run(['encrypt', '-k', keys.aes, ...flags], { stdin: 'x' });
      expectError(expect, r, 2);
      expect(r.stdout.length).toBe(0);
    });
  }
});

// ---------------------------------------------------------------- inspect

describe('inspect', () => {
  const plaintext = randomBytes(3000);
  const message = once(async () => {
    const r = await run(['encrypt', '-k', keys.aes, '-k', keys.rsaPublic(), '-c', 'a=b', '--frame-size', '1K'], {
      stdin: plaintext,
    });
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout;
  });
  const messageFile = once(async () => {
    const path = join(workdir(), 'msg.enc');
    writeFileSync(path, await message());
    return path;
  });

  it.concurrent('inspect FILE shows suite id and name, context, key namespace and name, frame count', async ({ expect }) => {
    const r = await run(['inspect', await messageFile()]);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.toString();
    expect(text).toContain('0x0478');
    expect(text).toContain('AES_256_GCM_HKDF_SHA512_COMMIT_KEY');
    expect(text).toMatch(/a=b/);
    expect(text).toMatch(/test-ns\s+aes-1/);
    expect(text).toMatch(/test-rsa\s+rsa-1/);
    expect(text).toMatch(/^frames\s+3$/m);
  });

  it.concurrent('inspect --json FILE prints the header and body walk as JSON', async ({ expect }) => {
    const r = await run(['inspect', '--json', await messageFile()]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout.toString());
    expect(s.version).toBe(2);
    expect(s.suite.id).toBe('0x0478');
    expect(s.messageId).toMatch(/^[0-9a-f]{64}$/);
    expect(s.encryptionContext).toEqual({ a: 'b' });
    expect(s.encryptedDataKeys).toEqual([
      { providerId: 'test-ns', keyName: 'aes-1' },
      { providerId: 'test-rsa', keyName: 'rsa-1' },
    ]);
    expect(s.frameLength).toBe(1024);
    expect(s.body.frames).toBe(3);
    // two full frames (4 + 12 + 1024 + 16) and a final one (4 + 4 + 12 + 4 + 952 + 16)
    expect(s.body.bodyLength).toBe(2 * 1056 + 992);
    expect(s.body.plaintextLength).toBe(3000);
  });

  it.concurrent('inspect reads a message from stdin (header only, no body walk)', async ({ expect }) => {
    const r = await run(['inspect', '--json'], { stdin: await message() });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout.toString());
    expect(s.suite.id).toBe('0x0478');
    expect(s.encryptionContext).toEqual({ a: 'b' });
    expect(s.body).toBeUndefined();
    const human = await run(['inspect'], { stdin: await message() });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout.toString()).toContain('0x0478');
  });

  it.concurrent('inspect needs no key, and reads armored input too', async ({ expect }) => {
    // Only the public half of the RSA key ever existed on a command line.
    const m = await encryptBytes(expect, 'keyless', ['-k', keys.rsaPublic(), '--armor']);
    const r = await run(['inspect', '--json'], { stdin: m });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.toString()).encryptedDataKeys).toEqual([{ providerId: 'test-rsa', keyName: 'rsa-1' }]);
  });
});

// ---------------------------------------------------------------- suites and commitment

describe('algorithm suites and commitment policy', () => {
  const roundTrip = async (expect: ExpectStatic, encryptArgs: string[], suiteId: string) => {
    const plaintext = randomBytes(70_000);
    const message = await encryptBytes(expect, plaintext, ['-k', keys.aes, ...encryptArgs]);
    expect((await inspectJson(expect, message)).suite.id).toBe(suiteId);
    const r = await run(['decrypt', '-k', keys.aes], { stdin: message });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(plaintext)).toBe(true);
  };

  it.concurrent('the default suite is 0x0478', ({ expect }) => roundTrip(expect, [], '0x0478'));
  it.concurrent('--sign produces suite 0x0578 and round trips', ({ expect }) => roundTrip(expect, ['--sign'], '0x0578'));
  it.concurrent('--algorithm 0x0578 produces suite 0x0578 and round trips', ({ expect }) =>
    roundTrip(expect, ['--algorithm', '0x0578'], '0x0578'),
  );
  it.concurrent('--algorithm AES_256_GCM_HKDF_SHA512_COMMIT_KEY produces suite 0x0478', ({ expect }) =>
    roundTrip(expect, ['--algorithm', 'AES_256_GCM_HKDF_SHA512_COMMIT_KEY'], '0x0478'),
  );

  it.concurrent('--algorithm 0x0378 (non-committing) without --commitment-policy forbid-encrypt-allow-decrypt exits 2', async ({ expect }) => {
    const r = await run(['encrypt', '-k', keys.aes, '--algorithm', '0x0378'], { stdin: 'x' });
    expectError(expect, r, 2);
    expect(r.stdout.length).toBe(0);
  });

  const legacy = once(async () => {
    const r = await run(
      ['encrypt', '-k', keys.aes, '--algorithm', '0x0378', '--commitment-policy', 'forbid-encrypt-allow-decrypt'],
      { stdin: 'legacy' },
    );
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout;
  });

  it.concurrent('--algorithm 0x0378 with --commitment-policy forbid-encrypt-allow-decrypt writes suite 0x0378', async ({ expect }) => {
    const summary = await inspectJson(expect, await legacy());
    expect(summary.suite.id).toBe('0x0378');
    expect(summary.suite.committing).toBe(false);
  });

  it.concurrent('decrypting a non-committing message with the default policy exits 4 with a hint naming require-encrypt-allow-decrypt', async ({ expect }) => {
    const r = await run(['decrypt', '-k', keys.aes], { stdin: await legacy() });
    const lines = expectError(expect, r, 4);
    expect(lines.slice(1).join('\n')).toContain('require-encrypt-allow-decrypt');
    expect(r.stdout.length).toBe(0);
  });

  it.concurrent('decrypting a non-committing message with --commitment-policy require-encrypt-allow-decrypt works', async ({ expect }) => {
    const r = await run(['decrypt', '-k', keys.aes, '--commitment-policy', 'require-encrypt-allow-decrypt'], {
      stdin: await legacy(),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toBe('legacy');
  });

  it.concurrent('--sign with --algorithm 0x0478 (an unsigned suite) exits 2', async ({ expect }) => {
    const r = await run(['encrypt', '-k', keys.aes, '--sign', '--algorithm', '0x0478'], { stdin: 'x' });
    expectError(expect, r, 2);
    expect(r.stdout.length).toBe(0);
  });

  it.concurrent('an unknown --algorithm exits 2', async ({ expect }) => {
    const r = await run(['encrypt', '-k', keys.aes, '--algorithm', '0x9999'], { stdin: 'x' });
    expectError(expect, r, 2);
  });
});

// ---------------------------------------------------------------- frames and limits

describe('frame size and limits', () => {
  it.concurrent('--frame-size 1K gives frameLength 1024 and round trips', async ({ expect }) => {
    const plaintext = randomBytes(4096); // exactly four frames' worth
    const message = await encryptBytes(expect, plaintext, ['-k', keys.aes, '--frame-size', '1K']);
    const summary = await inspectJson(expect, message);
    expect(summary.frameLength).toBe(1024);
    expect(summary.body.plaintextLength).toBe(4096);
    const r = await run(['decrypt', '-k', keys.aes], { stdin: message });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.equals(plaintext)).toBe(true);
  });

  for (const size of ['0', 'abc']) {
    it.concurrent(`--frame-size ${size} exits 2`, async ({ expect }) => {
      const r = await run(['encrypt', '-k', keys.aes, '--frame-size', size], { stdin: 'x' });
      expectError(expect, r, 2);
      expect(r.stdout.length).toBe(0);
    });
  }

  it.concurrent('--max-encrypted-data-keys 1 refuses a message with 2 wrapped keys (exit 4) before trying any key', async ({ expect }) => {
    const message = await encryptBytes(expect, 'two keys', ['-k', keys.aes, '-k', keys.aes2]);
    // With the right key: refused, no plaintext.
    const right = await run(['decrypt', '-k', keys.aes, '--max-encrypted-data-keys', '1'], { stdin: message });
    expectError(expect, right, 4, /2/);
    expect(right.stdout.length).toBe(0);
    // With a wrong key: still exit 4, not 6, so the limit came before any unwrap.
    const wrong = await run(['decrypt', '-k', keys.aesWrong, '--max-encrypted-data-keys', '1'], { stdin: message });
    expectError(expect, wrong, 4);
    // And the limit is the only thing in the way.
    const ok = await run(['decrypt', '-k', keys.aes, '--max-encrypted-data-keys', '2'], { stdin: message });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.toString()).toBe('two keys');
  });

  it.concurrent('--max-frame-size 1K refuses a message with 256K frames, the default (exit 4)', async ({ expect }) => {
    const message = await encryptBytes(expect, 'big frames', ['-k', keys.aes]);
    expect((await inspectJson(expect, message)).frameLength).toBe(256 * 1024);
    const r = await run(['decrypt', '-k', keys.aes, '--max-frame-size', '1K'], { stdin: message });
    expectError(expect, r, 4);
    expect(r.stdout.length).toBe(0);
  });

  it.concurrent('--max-header-size refuses a larger header (exit 4) in decrypt, inspect and re-encrypt; raising it reads it', async ({ expect }) => {
    // An encryption context of ~2 KiB makes the header larger than 1K.
    const message = await encryptBytes(expect, 'wide header', ['-k', keys.aes, '-c', `note=${'x'.repeat(2000)}`]);
    for (const args of [['decrypt', '-k', keys.aes], ['inspect'], ['re-encrypt', '--from', keys.aes, '--to', keys.aes]]) {
      const r = await run([...args, '--max-header-size', '1K'], { stdin: message });
      expectError(expect, r, 4, /header is larger than the limit of 1024 bytes/);
      expect(r.stdout.length).toBe(0);
    }
    const ok = await run(['decrypt', '-k', keys.aes, '--max-header-size', '4K'], { stdin: message });
    expect(ok.code).toBe(0);
    expect(ok.stdout.toString()).toBe('wide header');
  });
});

// ---------------------------------------------------------------- errors

describe('usage errors exit 2 with one error line and no stack trace', () => {
  const cases: [string, () => string[]][] = [
    ['an unknown flag', () => ['encrypt', '-k', keys.aes, '--frobnicate']],
    ['an unknown flag close to a real one (--armr)', () => ['encrypt', '-k', keys.aes, '--armr']],
    ['an unknown command', () => ['frobnicate']],
    ['an unknown command close to a real one (encrpyt)', () => ['encrpyt']],
    ['several inputs with -o - (stdout)', () => ['encrypt', 'a', 'b', '-k', keys.aes, '-o', '-']],
    ['a flag without its value', () => ['encrypt', '-k']],
    ['encrypt without a key', () => ['encrypt']],
    ['a bad key specifier (missing namespace)', () => ['encrypt', '-k', 'raw-aes:file=x.key,name=k']],
    ['a bad key specifier (unknown field)', () => ['encrypt', '-k', 'raw-aes:nonsense']],
    ['a bad RSA padding', () => ['encrypt', '-k', keys.rsaPublic('oaep-md5')]],
    ['an unknown -k scheme', () => ['encrypt', '-k', 'rot13:file=x,namespace=n,name=k']],
    ['a bad --commitment-policy', () => ['decrypt', '-k', keys.aes, '--commitment-policy', 'whatever']],
  ];
  for (const [label, args] of cases) {
    it.concurrent(`${label} exits 2`, async ({ expect }) => {
      const r = await run(args(), { stdin: 'x' });
      expectError(expect, r, 2);
      expect(r.stdout.length).toBe(0);
    });
  }

  it.concurrent('encrypt without a key hints at the key forms', async ({ expect }) => {
    const lines = expectError(expect, await run(['encrypt'], { stdin: 'x' }), 2);
    expect(lines.join('\n')).toContain('raw-aes:file=');
  });

  it.concurrent('--debug adds a stack trace to an error', async ({ expect }) => {
    const r = await run(['--debug', 'encrypt'], { stdin: 'x' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^envelope: error: /);
    expect(r.stderr).toContain('    at ');
  });
});

describe('I/O and format errors', () => {
  for (const command of ['encrypt', 'decrypt', 'inspect']) {
    it.concurrent(`${command} of a missing input file exits 3 and names the file`, async ({ expect }) => {
      const dir = workdir();
      const args = command === 'inspect' ? [] : ['-k', keys.aes];
      const r = await run([command, 'no-such-file', ...args], { cwd: dir });
      expectError(expect, r, 3, /no-such-file/);
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  const notMessages: [string, Buffer][] = [
    ['random bytes', noise(4096)],
    ['text', Buffer.from('this is not an encrypted message\n')],
    ['empty input', Buffer.alloc(0)],
  ];
  for (const [label, bytes] of notMessages) {
    for (const command of ['decrypt', 'inspect']) {
      it.concurrent(`${command} of ${label} exits 4 (not a message)`, async ({ expect }) => {
        const args = command === 'decrypt' ? ['-k', keys.aes] : [];
        const r = await run([command, ...args], { stdin: bytes });
        expectError(expect, r, 4);
        expect(r.stdout.length).toBe(0);
      });
    }
  }
});

// ---------------------------------------------------------------- help and version

describe('help and version', () => {
  it.concurrent('--version prints the package.json version', async ({ expect }) => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await run(['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString().trim()).toBe(version);
  });

  it.concurrent('--help lists the three commands and the exit-code table', async ({ expect }) => {
    const r = await run(['--help']);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.toString();
    for (const command of ['encrypt', 'decrypt', 'inspect']) expect(text).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    for (const code of [0, 1, 2, 3, 4, 5, 6, 7, 8, 130]) expect(text).toMatch(new RegExp(`^\\s+${code}\\s+\\w`, 'm'));
  });

  it.concurrent('encrypt --help shows the key forms and examples', async ({ expect }) => {
    const r = await run(['encrypt', '--help']);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.toString();
    expect(text).toContain('raw-aes:file=PATH,namespace=NS,name=NAME');
    expect(text).toContain('raw-rsa:file=PEM,namespace=NS,name=NAME');
    expect(text).toMatch(/Examples:\n\s+envelope encrypt /);
  });

  it.concurrent('decrypt --help shows the key forms and examples', async ({ expect }) => {
    const r = await run(['decrypt', '--help']);
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.toString();
    expect(text).toContain('raw-aes:file=PATH,namespace=NS,name=NAME');
    expect(text).toMatch(/Examples:\n\s+envelope decrypt /);
  });
});

// ---------------------------------------------------------------- terminals and signals

const HAS_SCRIPT = (() => {
  const r = spawnSync('script', ['--version'], { encoding: 'utf8' });
  return r.status === 0 && `${r.stdout}${r.stderr}`.includes('util-linux');
})();
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('terminals and signals', () => {
  it.skipIf(!HAS_SCRIPT)(
    HAS_SCRIPT
      ? 'binary output to a terminal is refused with exit 2'
      : 'binary output to a terminal is refused with exit 2 (SKIPPED: util-linux `script` not found)',
    async ({ expect }) => {
      const dir = workdir();
      writeFileSync(join(dir, 'plain'), 'for a terminal');
      const command = `${quote(process.execPath)} ${quote(ENVELOPE)} encrypt -k ${quote(keys.aes)} < plain`;
      const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn('script', ['-qec', command, '/dev/null'], {
          cwd: dir,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NO_COLOR: '1' },
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
        child.stderr.on('data', (d: Buffer) => (out += d.toString('latin1')));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, out }));
      });
      expect(r.code, r.out).toBe(2);
      expect(r.out).toContain('envelope: error: refusing to write binary ciphertext to a terminal');
      expect(r.out).not.toContain('    at ');
    },
  );

  it.concurrent('SIGINT during encrypt ends the process by SIGINT (a shell sees 130) and leaves neither the output nor a temporary file', async ({ expect }) => {
    const dir = workdir();
    const child = spawn(process.execPath, [ENVELOPE, 'encrypt', '-k', keys.aes, '-o', 'out'], {
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    child.stdin.on('error', () => undefined);
    child.stdin.write(randomBytes(10_000)); // and stdin stays open: the encrypt is mid-stream
    // Wait until the temporary output exists, so the interrupt has something to clean up.
    const deadline = Date.now() + 20_000;
    while (temporaries(dir).length === 0 && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(temporaries(dir), stderr).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    const { code, signal } = await closed;
    expect({ code, signal }, stderr).toEqual({ code: null, signal: 'SIGINT' });
    expect(stderr).toMatch(/^envelope: error: interrupted/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
