// envelope kms …: the AWS-KMS-shaped primitives on local keystore keys (README,
// "The local keystore", "KMS primitives"). CLI transcripts through the real
// bin/envelope, each with its own keystore, then in-process tests of the blob
// (src/keystore/blob.ts) and of kmsDecrypt against every one-bit change.

import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, type ExpectStatic } from 'vitest';
import { EXIT_CODES } from '../src/cli/exit-codes.js';
import { EnvelopeError, FormatError, IntegrityError, NoKeyError } from '../src/errors.js';
import {
  MAX_BLOB_LENGTH,
  MAX_PLAINTEXT,
  MIN_BLOB_LENGTH,
  openBlob,
  readBlobHeader,
  sealBlob,
} from '../src/keystore/blob.js';
import { Keystore } from '../src/keystore/keystore.js';
import { kmsDecrypt, kmsEncrypt } from '../src/keystore/kms-primitives.js';
import { rotateKey } from '../src/keystore/lifecycle.js';
import { type CliResult, runCli, workdirs } from './helpers.js';

// ---------------------------------------------------------------- fixtures

const workdir = workdirs('envelope-kms-');

const MAGIC = Buffer.from('EVK\x01', 'latin1');
const HEADER = 24;
const IV = 12;
const TAG = 16;

type RunOptions = { stdin?: Uint8Array | string };

interface Key {
  keyId: string;
  arn: string;
}

/** A fresh keystore of its own, with the named keys (keygen NAME) and a runner bound to it. */
interface Store {
  dir: string;
  /** Where test files go (beside the keystore, not in it). */
  files: string;
  run(args: readonly string[], options?: RunOptions): Promise<CliResult>;
  key(name: string): Key;
  /** Writes a file in `files` and returns its absolute path. */
  file(name: string, data: Uint8Array | string): string;
}

async function keystore(expect: ExpectStatic, names: readonly string[], options: { rsa?: readonly string[] } = {}): Promise<Store> {
  const files = workdir();
  const dir = join(files, 'keystore');
  const run = (args: readonly string[], o: RunOptions = {}) => runCli(['--keystore', dir, ...args], { timeoutMs: 45_000, ...o });
  const keys = new Map<string, Key>();
  const keygen = async (name: string) => {
    const made = await run(['keygen', name, ...(options.rsa?.includes(name) ? ['--type', 'RSA_2048'] : []), '--json']);
    expect(made.code, made.stderr).toBe(0);
    const meta = JSON.parse(made.stdout.toString('utf8')).KeyMetadata;
    keys.set(name, { keyId: meta.KeyId, arn: meta.Arn });
  };
  // The first keygen creates the keystore; the others may then run side by side.
  const [first, ...rest] = [...names, ...(options.rsa ?? [])];
  if (first !== undefined) await keygen(first);
  await Promise.all(rest.map(keygen));
  return {
    dir,
    files,
    run,
    key: (name) => keys.get(name)!,
    file: (name, data) => {
      const path = join(files, name);
      writeFileSync(path, data);
      return path;
    },
  };
}

/** The failure contract: the exit code, one `envelope: error:` line (plus hint lines), nothing on stdout. */
function expectError(expect: ExpectStatic, r: CliResult, code: number, message?: RegExp): string[] {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stdout.length, `stdout: ${r.stdout.toString('latin1')}`).toBe(0);
  expect(r.stderr).not.toContain('    at ');
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  expect(lines[0]).toMatch(/^envelope: error: \S/);
  for (const line of lines.slice(1)) expect(line, r.stderr).toMatch(/^hint: /);
  if (message) expect(lines[0]).toMatch(message);
  return lines;
}

function ok(expect: ExpectStatic, r: CliResult): CliResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

function json(r: CliResult): Record<string, string> {
  return JSON.parse(r.stdout.toString('utf8'));
}

const b64 = (text: string) => Buffer.from(text, 'base64');
const uuidBytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex');

/** A blob as raw bytes, via `kms encrypt --output binary`. */
async function encryptBinary(expect: ExpectStatic, s: Store, key: string, plaintext: Uint8Array | string, context: string[] = []): Promise<Buffer> {
  const r = ok(expect, await s.run(['kms', 'encrypt', '--key-id', key, ...context.flatMap((c) => ['-c', c]), '--output', 'binary'], { stdin: plaintext }));
  expect(r.stdout.subarray(0, 4)).toEqual(MAGIC);
  return r.stdout;
}

/** `kms decrypt --output binary` of a blob given on stdin. */
function decryptRaw(s: Store, blob: Uint8Array | string, args: readonly string[] = []): Promise<CliResult> {
  return s.run(['kms', 'decrypt', ...args, '--output', 'binary'], { stdin: blob });
}

function flip(blob: Uint8Array, byte: number, bit = 0): Buffer {
  const out = Buffer.from(blob);
  out[byte]! ^= 1 << bit;
  return out;
}

// ---------------------------------------------------------------- encrypt and decrypt

describe('kms encrypt: inputs and output forms', () => {
  it.concurrent('encrypts stdin, fileb://PATH and PATH; json names the key by its Arn', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const shown = json(ok(expect, await s.run(['keys', 'show', 'alias/k', '--json']))) as unknown as { KeyMetadata: { Arn: string; KeyId: string } };
    expect(shown.KeyMetadata.Arn).toBe(s.key('k').arn);
    expect(shown.KeyMetadata.Arn).toMatch(/^arn:envelope:local:[0-9a-f-]{36}:key\/[0-9a-f-]{36}$/);
    const plaintext = Buffer.from('db password: hunter2\n\x00\xff binary too', 'latin1');
    const path = s.file('secret.bin', plaintext);
    const runs = await Promise.all([
      s.run(['kms', 'encrypt', '--key-id', 'alias/k'], { stdin: plaintext }),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--plaintext', '-'], { stdin: plaintext }),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--plaintext', `fileb://${path}`]),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--plaintext', path]),
    ]);
    const blobs: Buffer[] = [];
    for (const r of runs) {
      const out = json(ok(expect, r));
      expect(Object.keys(out).sort()).toEqual(['CiphertextBlob', 'EncryptionAlgorithm', 'KeyId']);
      expect(out.KeyId).toBe(shown.KeyMetadata.Arn);
      expect(out.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
      expect(out.CiphertextBlob).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      const blob = b64(out.CiphertextBlob!);
      expect(blob.subarray(0, 4)).toEqual(MAGIC);
      expect(blob.subarray(4, 20)).toEqual(uuidBytes(shown.KeyMetadata.KeyId));
      expect(blob.readUInt32BE(20)).toBe(1);
      expect(blob.length).toBe(HEADER + IV + plaintext.length + TAG);
      expect(blob.includes(plaintext)).toBe(false);
      blobs.push(blob);
    }
    // A fresh IV every time: no two blobs of the same plaintext are alike.
    expect(new Set(blobs.map((b) => b.toString('hex'))).size).toBe(blobs.length);
    for (const r of await Promise.all(blobs.map((blob) => decryptRaw(s, blob)))) expect(ok(expect, r).stdout).toEqual(plaintext);
  });

  it.concurrent('--output text prints the base64 blob only; --output binary its raw bytes', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const plaintext = 'the text output';
    const [text, binary] = await Promise.all([
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--output', 'text'], { stdin: plaintext }),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--output', 'binary'], { stdin: plaintext }),
    ]);
    const line = ok(expect, text).stdout.toString('latin1');
    expect(line).toMatch(/^[A-Za-z0-9+/]+={0,2}\n$/);
    const fromText = b64(line);
    expect(fromText.subarray(0, 4)).toEqual(MAGIC);
    expect(fromText.length).toBe(HEADER + IV + plaintext.length + TAG);

    const raw = ok(expect, binary).stdout;
    expect(raw.subarray(0, 4).toString('latin1')).toBe('EVK\x01');
    expect(raw.length).toBe(HEADER + IV + plaintext.length + TAG);
    expect(raw.subarray(4, 20)).toEqual(uuidBytes(s.key('k').keyId));
    expect(raw.readUInt32BE(20)).toBe(1);
  });

  it.concurrent('the key can be named by alias, bare name, KeyId or Arn; a missing or absent --key-id fails', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const k = s.key('k');
    const runs = await Promise.all(
      ['alias/k', 'k', k.keyId, k.arn].map((ref) => s.run(['kms', 'encrypt', '--key-id', ref, '--output', 'binary'], { stdin: 'x' })),
    );
    for (const r of runs) expect(ok(expect, r).stdout.subarray(4, 20)).toEqual(uuidBytes(k.keyId));
    const [none, missing, noFile] = await Promise.all([
      s.run(['kms', 'encrypt'], { stdin: 'x' }),
      s.run(['kms', 'encrypt', '--key-id', 'alias/nope'], { stdin: 'x' }),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--plaintext', `fileb://${join(s.files, 'absent')}`]),
    ]);
    expectError(expect, none, EXIT_CODES.usage, /--key-id/);
    expectError(expect, missing, EXIT_CODES['no-key'], /alias\/nope/);
    expectError(expect, noFile, EXIT_CODES.io, /absent/);
  });
});

describe('kms decrypt', () => {
  it.concurrent('decrypts binary, base64 and wrapped base64 blobs from stdin and files', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const plaintext = randomBytes(200);
    const blob = await encryptBinary(expect, s, 'alias/k', plaintext);
    const base64 = blob.toString('base64');
    const wrapped = `${base64.match(/.{1,40}/g)!.join('\n')}\n`;
    const crlf = `${base64.match(/.{1,64}/g)!.join('\r\n')}\r\n`;
    const binPath = s.file('blob.bin', blob);
    const textPath = s.file('blob.b64', wrapped);
    const inputs: [string, Promise<CliResult>][] = [
      ['binary stdin', decryptRaw(s, blob)],
      ['base64 stdin', decryptRaw(s, base64)],
      ['base64 + newline stdin', decryptRaw(s, `${base64}\n`)],
      ['wrapped base64 stdin', decryptRaw(s, wrapped)],
      ['CRLF-wrapped base64 stdin', decryptRaw(s, crlf)],
      ['fileb:// binary', decryptRaw(s, '', ['--ciphertext-blob', `fileb://${binPath}`])],
      ['path binary', decryptRaw(s, '', ['--ciphertext-blob', binPath])],
      ['file:// base64', decryptRaw(s, '', ['--ciphertext-blob', `file://${textPath}`])],
    ];
    for (const [what, pending] of inputs) {
      const r = await pending;
      expect(r.code, `${what}: ${r.stderr}`).toBe(0);
      expect(r.stdout.equals(plaintext), what).toBe(true);
    }
  });

  it.concurrent('json prints Plaintext in base64 and the KeyId Arn; text prints the base64 only', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const plaintext = 'json and text forms';
    const blob = await encryptBinary(expect, s, 'alias/k', plaintext);
    const [asJson, asText] = await Promise.all([
      s.run(['kms', 'decrypt'], { stdin: blob.toString('base64') }),
      s.run(['kms', 'decrypt', '--output', 'text'], { stdin: blob }),
    ]);
    const out = json(ok(expect, asJson));
    expect(out).toEqual({ KeyId: s.key('k').arn, Plaintext: Buffer.from(plaintext).toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    expect(ok(expect, asText).stdout.toString('latin1')).toBe(`${Buffer.from(plaintext).toString('base64')}\n`);
  });

  it.concurrent('--key-id must name the key that made the blob: another key is exit 2, the right one (any name) decrypts', async ({ expect }) => {
    const s = await keystore(expect, ['a', 'b']);
    const blob = await encryptBinary(expect, s, 'alias/a', 'whose blob');
    const a = s.key('a');
    const [wrong, wrongArn, missing, ...right] = await Promise.all([
      decryptRaw(s, blob, ['--key-id', 'alias/b']),
      decryptRaw(s, blob, ['--key-id', s.key('b').arn]),
      decryptRaw(s, blob, ['--key-id', 'alias/none']),
      decryptRaw(s, blob, ['--key-id', 'alias/a']),
      decryptRaw(s, blob, ['--key-id', 'a']),
      decryptRaw(s, blob, ['--key-id', a.keyId]),
      decryptRaw(s, blob, ['--key-id', a.arn]),
    ]);
    expectError(expect, wrong!, EXIT_CODES.usage, new RegExp(a.keyId));
    expectError(expect, wrongArn!, EXIT_CODES.usage);
    expectError(expect, missing!, EXIT_CODES['no-key']);
    for (const r of right) expect(ok(expect, r).stdout.toString()).toBe('whose blob');
  });
});

describe('encryption context', () => {
  it.concurrent('decrypts with the same pairs; a changed value, a missing pair or an extra pair is exit 5 with no plaintext', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const plaintext = 'bound to its context';
    const blob = await encryptBinary(expect, s, 'alias/k', plaintext, ['app=web', 'stage=prod']);
    const good = await Promise.all([
      decryptRaw(s, blob, ['-c', 'app=web', '-c', 'stage=prod']),
      decryptRaw(s, blob, ['-c', 'stage=prod', '--encryption-context', 'app=web']),
    ]);
    for (const r of good) expect(ok(expect, r).stdout.toString()).toBe(plaintext);
    const bad: [string, string[]][] = [
      ['other value', ['-c', 'app=web', '-c', 'stage=dev']],
      ['value case', ['-c', 'app=Web', '-c', 'stage=prod']],
      ['missing pair', ['-c', 'app=web']],
      ['no context', []],
      ['extra pair', ['-c', 'app=web', '-c', 'stage=prod', '-c', 'extra=1']],
      ['key renamed', ['-c', 'ap=pweb', '-c', 'stage=prod']],
    ];
    const results = await Promise.all(bad.map(([, c]) => decryptRaw(s, blob, c)));
    results.forEach((r, i) => {
      const lines = expectError(expect, r, EXIT_CODES.integrity);
      expect(lines, bad[i]![0]).toHaveLength(1);
      expect(r.stderr).not.toContain(plaintext);
    });
    // json output too: nothing on stdout.
    expectError(expect, await s.run(['kms', 'decrypt', '-c', 'app=web'], { stdin: blob }), EXIT_CODES.integrity);
  });

  it.concurrent('a blob without context does not decrypt with one', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const blob = await encryptBinary(expect, s, 'alias/k', 'no context');
    const [plain, withContext, keyOnly] = await Promise.all([decryptRaw(s, blob), decryptRaw(s, blob, ['-c', 'a=b']), decryptRaw(s, blob, ['-c', 'novalue'])]);
    expect(ok(expect, plain).stdout.toString()).toBe('no context');
    expectError(expect, withContext!, EXIT_CODES.integrity);
    expectError(expect, keyOnly!, EXIT_CODES.usage);
  });
});

// ---------------------------------------------------------------- rotation, re-encrypt

describe('rotation', () => {
  it.concurrent('a blob made before rotate still decrypts; a new blob records version 2', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const before = await encryptBinary(expect, s, 'alias/k', 'made at version 1', ['c=1']);
    expect(before.readUInt32BE(20)).toBe(1);
    ok(expect, await s.run(['rotate', 'k']));
    const after = await encryptBinary(expect, s, 'alias/k', 'made at version 2', ['c=1']);
    expect(after.readUInt32BE(20)).toBe(2);
    expect(after.subarray(4, 20)).toEqual(before.subarray(4, 20));
    const [old, fresh] = await Promise.all([decryptRaw(s, before, ['-c', 'c=1']), decryptRaw(s, after, ['-c', 'c=1'])]);
    expect(ok(expect, old).stdout.toString()).toBe('made at version 1');
    expect(ok(expect, fresh).stdout.toString()).toBe('made at version 2');
    // The version is authenticated: version-2 bytes with the number 1 do not open under version 1.
    const relabelled = Buffer.from(after);
    relabelled.writeUInt32BE(1, 20);
    expectError(expect, await decryptRaw(s, relabelled, ['-c', 'c=1']), EXIT_CODES.integrity);
  });
});

describe('kms re-encrypt', () => {
  it.concurrent('moves a blob to another key and context; the result opens with the destination context only', async ({ expect }) => {
    const s = await keystore(expect, ['src', 'dst']);
    const plaintext = 'moving house';
    const blob = await encryptBinary(expect, s, 'alias/src', plaintext, ['from=a']);
    const r = ok(
      expect,
      await s.run(
        ['kms', 're-encrypt', '--destination-key-id', 'alias/dst', '--source-encryption-context', 'from=a', '--destination-encryption-context', 'to=b'],
        { stdin: blob },
      ),
    );
    const out = json(r);
    expect(out.SourceKeyId).toBe(s.key('src').arn);
    expect(out.KeyId).toBe(s.key('dst').arn);
    expect(r.stdout.toString()).not.toContain(Buffer.from(plaintext).toString('base64'));
    expect(r.stdout.toString()).not.toContain(plaintext);
    const moved = b64(out.CiphertextBlob!);
    expect(moved.subarray(0, 4)).toEqual(MAGIC);
    expect(moved.subarray(4, 20)).toEqual(uuidBytes(s.key('dst').keyId));
    expect(moved.readUInt32BE(20)).toBe(1);

    const [good, srcCtx, noCtx, both, pinnedDst, pinnedSrc, original] = await Promise.all([
      decryptRaw(s, moved, ['-c', 'to=b']),
      decryptRaw(s, moved, ['-c', 'from=a']),
      decryptRaw(s, moved),
      decryptRaw(s, moved, ['-c', 'from=a', '-c', 'to=b']),
      decryptRaw(s, moved, ['-c', 'to=b', '--key-id', 'alias/dst']),
      decryptRaw(s, moved, ['-c', 'to=b', '--key-id', 'alias/src']),
      decryptRaw(s, blob, ['-c', 'from=a']),
    ]);
    expect(ok(expect, good).stdout.toString()).toBe(plaintext);
    expectError(expect, srcCtx!, EXIT_CODES.integrity);
    expectError(expect, noCtx!, EXIT_CODES.integrity);
    expectError(expect, both!, EXIT_CODES.integrity);
    expect(ok(expect, pinnedDst).stdout.toString()).toBe(plaintext);
    expectError(expect, pinnedSrc!, EXIT_CODES.usage);
    // The source blob is untouched and still opens.
    expect(ok(expect, original).stdout.toString()).toBe(plaintext);
  });

  it.concurrent('refuses a wrong source context, a wrong --source-key-id and a missing destination', async ({ expect }) => {
    const s = await keystore(expect, ['src', 'dst']);
    const blob = await encryptBinary(expect, s, 'alias/src', 'stay', ['from=a']);
    const base = ['kms', 're-encrypt', '--destination-key-id', 'alias/dst', '--destination-encryption-context', 'to=b'];
    const [wrongCtx, noCtx, wrongSource, rightSource, noDest, text] = await Promise.all([
      s.run([...base, '--source-encryption-context', 'from=x'], { stdin: blob }),
      s.run(base, { stdin: blob }),
      s.run([...base, '--source-encryption-context', 'from=a', '--source-key-id', 'alias/dst'], { stdin: blob }),
      s.run([...base, '--source-encryption-context', 'from=a', '--source-key-id', 'alias/src', '--output', 'binary'], { stdin: blob }),
      s.run(['kms', 're-encrypt', '--source-encryption-context', 'from=a'], { stdin: blob }),
      s.run([...base, '--source-encryption-context', 'from=a', '--output', 'text'], { stdin: blob.toString('base64') }),
    ]);
    expectError(expect, wrongCtx!, EXIT_CODES.integrity);
    expectError(expect, noCtx!, EXIT_CODES.integrity);
    expectError(expect, wrongSource!, EXIT_CODES.usage);
    expectError(expect, noDest!, EXIT_CODES.usage, /--destination-key-id/);
    const raw = ok(expect, rightSource).stdout;
    expect(raw.subarray(4, 20)).toEqual(uuidBytes(s.key('dst').keyId));
    const fromText = b64(ok(expect, text).stdout.toString('latin1'));
    for (const r of await Promise.all([raw, fromText].map((moved) => decryptRaw(s, moved, ['-c', 'to=b'])))) {
      expect(ok(expect, r).stdout.toString()).toBe('stay');
    }
  });
});

// ---------------------------------------------------------------- data keys, random

describe('kms generate-data-key', () => {
  it.concurrent('json has CiphertextBlob, Plaintext and KeyId; lengths follow --key-spec and --number-of-bytes', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const cases: [string[], number][] = [
      [[], 32],
      [['--key-spec', 'AES_256'], 32],
      [['--key-spec', 'AES_128'], 16],
      [['--number-of-bytes', '64'], 64],
      [['--number-of-bytes', '1'], 1],
      [['--number-of-bytes', '1024'], 1024],
    ];
    const runs = await Promise.all(cases.map(([args]) => s.run(['kms', 'generate-data-key', '--key-id', 'alias/k', '-c', 'use=disk', ...args])));
    const made = runs.map((r, i) => {
      const out = json(ok(expect, r));
      expect(Object.keys(out).sort()).toEqual(['CiphertextBlob', 'KeyId', 'Plaintext']);
      expect(out.KeyId).toBe(s.key('k').arn);
      const dataKey = b64(out.Plaintext!);
      expect(dataKey.length, cases[i]![0].join(' ')).toBe(cases[i]![1]);
      const blob = b64(out.CiphertextBlob!);
      expect(blob.subarray(0, 4)).toEqual(MAGIC);
      expect(blob.length).toBe(HEADER + IV + dataKey.length + TAG);
      return { dataKey, blob };
    });
    expect(new Set(made.map((m) => m.dataKey.toString('hex'))).size).toBe(cases.length);
    // Decrypting each blob gives back its data key, with the same context only.
    const [noContext, ...back] = await Promise.all([
      decryptRaw(s, made[0]!.blob),
      ...made.map((m) => decryptRaw(s, m.blob, ['-c', 'use=disk'])),
    ]);
    back.forEach((r, i) => expect(ok(expect, r).stdout.equals(made[i]!.dataKey), cases[i]![0].join(' ')).toBe(true));
    expectError(expect, noContext!, EXIT_CODES.integrity);
  });

  it.concurrent('--output text is blob TAB plaintext; bad sizes and conflicting options are exit 2', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const [text, conflict, zero, tooMany, notNumber, binary, badSpec] = await Promise.all([
      s.run(['kms', 'generate-data-key', '--key-id', 'alias/k', '--output', 'text']),
      s.run(['kms', 'generate-data-key', '--key-id', 'alias/k', '--key-spec', 'AES_128', '--number-of-bytes', '16']),
      s.run(['kms', 'generate-data-key', '--key-id', 'alias/k', '--number-of-bytes', '0']),
      s.run(['kms', 'generate-data-key', '--key-id', 'alias/k', '--number-of-bytes', '1025']),
      s.run(['kms', 'generate-data-key', '--key-id', 'alias/k', '--number-of-bytes', 'many']),
      s.run(['kms', 'generate-data-key', '--key-id', 'alias/k', '--output', 'binary']),
      s.run(['kms', 'generate-data-key', '--key-id', 'alias/k', '--key-spec', 'AES_512']),
    ]);
    const line = ok(expect, text).stdout.toString('latin1');
    expect(line).toMatch(/^[A-Za-z0-9+/]+={0,2}\t[A-Za-z0-9+/]+={0,2}\n$/);
    const [blobText, keyText] = line.trimEnd().split('\t') as [string, string];
    const dataKey = b64(keyText);
    expect(dataKey.length).toBe(32);
    expect(ok(expect, await decryptRaw(s, blobText)).stdout.equals(dataKey)).toBe(true);
    expectError(expect, conflict!, EXIT_CODES.usage, /--key-spec/);
    expectError(expect, zero!, EXIT_CODES.usage);
    expectError(expect, tooMany!, EXIT_CODES.usage);
    expectError(expect, notNumber!, EXIT_CODES.usage);
    expectError(expect, binary!, EXIT_CODES.usage);
    expectError(expect, badSpec!, EXIT_CODES.usage);
  });

  it.concurrent('generate-data-key-without-plaintext prints no Plaintext; its blob decrypts to a key of the requested length', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const cases: [string[], number][] = [
      [[], 32],
      [['--key-spec', 'AES_128'], 16],
      [['--number-of-bytes', '48'], 48],
    ];
    const runs = await Promise.all(
      cases.map(([args]) => s.run(['kms', 'generate-data-key-without-plaintext', '--key-id', 'alias/k', '-c', 'p=q', ...args])),
    );
    const blobs = runs.map((r) => {
      const out = json(ok(expect, r));
      expect(Object.keys(out).sort()).toEqual(['CiphertextBlob', 'KeyId']);
      expect(out.KeyId).toBe(s.key('k').arn);
      return b64(out.CiphertextBlob!);
    });
    const backs = await Promise.all(blobs.map((blob) => decryptRaw(s, blob, ['-c', 'p=q'])));
    backs.forEach((r, i) => expect(ok(expect, r).stdout.length, cases[i]![0].join(' ')).toBe(cases[i]![1]));
  });

  it.concurrent('generate-data-key-without-plaintext: text and binary output; conflicting options are exit 2', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const [text, binary, conflict] = await Promise.all([
      s.run(['kms', 'generate-data-key-without-plaintext', '--key-id', 'alias/k', '--output', 'text']),
      s.run(['kms', 'generate-data-key-without-plaintext', '--key-id', 'alias/k', '--output', 'binary']),
      s.run(['kms', 'generate-data-key-without-plaintext', '--key-id', 'alias/k', '--key-spec', 'AES_256', '--number-of-bytes', '32']),
    ]);
    const line = ok(expect, text).stdout.toString('latin1');
    expect(line).toMatch(/^[A-Za-z0-9+/]+={0,2}\n$/);
    const raw = ok(expect, binary).stdout;
    expect(raw.subarray(0, 4)).toEqual(MAGIC);
    const backs = await Promise.all([decryptRaw(s, line), decryptRaw(s, raw)]);
    for (const r of backs) expect(ok(expect, r).stdout.length).toBe(32);
    expectError(expect, conflict, EXIT_CODES.usage);
  });
});

describe('kms generate-random', () => {
  it.concurrent('32 bytes by default, 1 to 1024 on request, anything else exit 2; two calls differ', async ({ expect }) => {
    const s = await keystore(expect, []);
    const [def, again, one, max, zero, over, text, binary, negative] = await Promise.all([
      s.run(['kms', 'generate-random']),
      s.run(['kms', 'generate-random']),
      s.run(['kms', 'generate-random', '--number-of-bytes', '1', '--output', 'binary']),
      s.run(['kms', 'generate-random', '--number-of-bytes', '1024']),
      s.run(['kms', 'generate-random', '--number-of-bytes', '0']),
      s.run(['kms', 'generate-random', '--number-of-bytes', '1025']),
      s.run(['kms', 'generate-random', '--output', 'text']),
      s.run(['kms', 'generate-random', '--number-of-bytes', '100', '--output', 'binary']),
      s.run(['kms', 'generate-random', '--number-of-bytes', '-1']),
    ]);
    const first = json(ok(expect, def!));
    expect(Object.keys(first)).toEqual(['Plaintext']);
    const a = b64(first.Plaintext!);
    const b = b64(json(ok(expect, again!)).Plaintext!);
    expect(a.length).toBe(32);
    expect(b.length).toBe(32);
    expect(a.equals(b)).toBe(false);
    expect(ok(expect, one!).stdout.length).toBe(1);
    expect(b64(json(ok(expect, max!)).Plaintext!).length).toBe(1024);
    expectError(expect, zero!, EXIT_CODES.usage);
    expectError(expect, over!, EXIT_CODES.usage);
    expectError(expect, negative!, EXIT_CODES.usage);
    const line = ok(expect, text!).stdout.toString('latin1');
    expect(line).toMatch(/^[A-Za-z0-9+/]+={0,2}\n$/);
    expect(b64(line).length).toBe(32);
    expect(ok(expect, binary!).stdout.length).toBe(100);
  });
});

// ---------------------------------------------------------------- limits and bad input

describe('limits and bad input', () => {
  it.concurrent('4096 bytes of plaintext encrypt; 4097 are exit 4 from stdin and from a file', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const max = randomBytes(MAX_PLAINTEXT);
    const over = randomBytes(MAX_PLAINTEXT + 1);
    const overPath = s.file('over.bin', over);
    const [okRun, overStdin, overFile, overPath2] = await Promise.all([
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--output', 'binary'], { stdin: max }),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--output', 'binary'], { stdin: over }),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--plaintext', `fileb://${overPath}`]),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--plaintext', overPath]),
    ]);
    const blob = ok(expect, okRun!).stdout;
    expect(blob.length).toBe(MAX_BLOB_LENGTH);
    // The binary blob and its base64 form (5,488 characters) both decrypt.
    for (const r of await Promise.all([decryptRaw(s, blob), decryptRaw(s, blob.toString('base64'))])) {
      expect(ok(expect, r).stdout.equals(max)).toBe(true);
    }
    expectError(expect, overStdin!, EXIT_CODES.format, /4096/);
    expectError(expect, overFile!, EXIT_CODES.format, /4096/);
    expectError(expect, overPath2!, EXIT_CODES.format, /4096/);
  });

  it.concurrent('an empty plaintext is refused with exit 2, as KMS takes 1 to 4096 bytes', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    expectError(expect, await s.run(['kms', 'encrypt', '--key-id', 'alias/k'], { stdin: '' }), EXIT_CODES.usage, /empty/);
  });

  it.concurrent('random bytes, empty input, an envelope message and malformed blobs are exit 4', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const [messageRun, armoredRun, blob] = await Promise.all([
      s.run(['encrypt', '-k', 'alias/k'], { stdin: 'a message, not a blob' }),
      s.run(['encrypt', '-k', 'alias/k', '--armor'], { stdin: 'armored message' }),
      encryptBinary(expect, s, 'alias/k', 'x'),
    ]);
    const message = ok(expect, messageRun).stdout;
    const armored = ok(expect, armoredRun).stdout;
    expect(armored.toString('latin1')).toMatch(/^[A-Za-z0-9+/=\r\n]+$/);
    const tooLong = Buffer.concat([blob.subarray(0, HEADER), randomBytes(MAX_BLOB_LENGTH - HEADER + 1)]);
    const cases: [string, Uint8Array | string][] = [
      ['random bytes', Buffer.concat([Buffer.from([0x9c]), randomBytes(100)])],
      ['empty', ''],
      ['whitespace', '\n \n'],
      ['envelope message', message],
      ['armored envelope message', armored],
      ['base64 of random bytes', randomBytes(80).toString('base64')],
      ['not base64 text', 'this is not a blob!'],
      ['magic only', 'EVK\x01'],
      ['shorter than header+iv+tag', blob.subarray(0, MIN_BLOB_LENGTH - 1)],
      ['blob format version 3', Buffer.concat([Buffer.from('EVK\x03', 'latin1'), blob.subarray(4)])],
      ['longer than the largest blob', tooLong],
    ];
    const results = await Promise.all(cases.map(([, input]) => decryptRaw(s, input)));
    results.forEach((r, i) => {
      expect(r.code, `${cases[i]![0]}: ${r.stderr}`).toBe(EXIT_CODES.format);
      expectError(expect, r, EXIT_CODES.format);
    });
    // re-encrypt reads blobs the same way.
    expectError(expect, await s.run(['kms', 're-encrypt', '--destination-key-id', 'alias/k'], { stdin: message }), EXIT_CODES.format);
  });

  it.concurrent('a tampered blob through the CLI: magic and version exit 4, key id exit 6, IV, ciphertext and tag exit 5', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const plaintext = 'tamper with me';
    const blob = await encryptBinary(expect, s, 'alias/k', plaintext, ['a=b']);
    const cases: [string, Buffer, number][] = [
      ['magic', flip(blob, 0, 0), EXIT_CODES.format],
      ['magic (base64)', Buffer.from(flip(blob, 2, 5).toString('base64')), EXIT_CODES.format],
      ['format version', flip(blob, 3, 1), EXIT_CODES.format],
      ['key id', flip(blob, 9, 3), EXIT_CODES['no-key']],
      ['backing version', flip(blob, 23, 2), EXIT_CODES['no-key']],
      ['iv', flip(blob, 30, 7), EXIT_CODES.integrity],
      ['ciphertext', flip(blob, HEADER + IV + 3, 0), EXIT_CODES.integrity],
      ['ciphertext (base64)', Buffer.from(flip(blob, HEADER + IV, 4).toString('base64')), EXIT_CODES.integrity],
      ['tag', flip(blob, blob.length - 1, 6), EXIT_CODES.integrity],
      ['truncated tag', blob.subarray(0, blob.length - 1), EXIT_CODES.integrity],
      ['appended byte', Buffer.concat([blob, Buffer.from([0])]), EXIT_CODES.integrity],
    ];
    const results = await Promise.all(cases.map(([, input]) => decryptRaw(s, input, ['-c', 'a=b'])));
    results.forEach((r, i) => {
      expect(r.code, `${cases[i]![0]}: ${r.stderr}`).toBe(cases[i]![2]);
      expectError(expect, r, cases[i]![2]);
      expect(r.stderr).not.toContain(plaintext);
    });
    expect(ok(expect, await decryptRaw(s, blob, ['-c', 'a=b'])).stdout.toString()).toBe(plaintext);
  });
});

// ---------------------------------------------------------------- key state, policy, key type

describe('key access', () => {
  it.concurrent('a disabled key refuses every primitive with exit 7 until enabled again', async ({ expect }) => {
    const s = await keystore(expect, ['k', 'other']);
    const blob = await encryptBinary(expect, s, 'alias/k', 'before disable');
    const toOther = await encryptBinary(expect, s, 'alias/other', 'for re-encrypt');
    ok(expect, await s.run(['keys', 'disable', 'alias/k']));
    const refused = await Promise.all([
      s.run(['kms', 'encrypt', '--key-id', 'alias/k'], { stdin: 'x' }),
      decryptRaw(s, blob),
      s.run(['kms', 'generate-data-key', '--key-id', 'alias/k']),
      s.run(['kms', 'generate-data-key-without-plaintext', '--key-id', 'alias/k']),
      s.run(['kms', 're-encrypt', '--destination-key-id', 'alias/other'], { stdin: blob }),
      s.run(['kms', 're-encrypt', '--destination-key-id', 'alias/k'], { stdin: toOther }),
    ]);
    for (const r of refused) expectError(expect, r, EXIT_CODES['key-access'], /disabled/);
    ok(expect, await s.run(['keys', 'enable', 'alias/k']));
    expect(ok(expect, await decryptRaw(s, blob)).stdout.toString()).toBe('before disable');
  });

  it.concurrent('a policy without decrypt refuses kms decrypt with exit 7; a required context is enforced', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const blob = await encryptBinary(expect, s, 'alias/k', 'policy bound', ['purpose=backup']);
    ok(expect, await s.run(['keys', 'policy', 'alias/k', '--allow', 'encrypt', '--allow', 'generate-data-key']));
    const [decrypt, encrypt, dataKey, reEncrypt] = await Promise.all([
      decryptRaw(s, blob, ['-c', 'purpose=backup']),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '--output', 'binary'], { stdin: 'still allowed' }),
      s.run(['kms', 'generate-data-key', '--key-id', 'alias/k']),
      s.run(['kms', 're-encrypt', '--destination-key-id', 'alias/k', '--source-encryption-context', 'purpose=backup'], { stdin: blob }),
    ]);
    expectError(expect, decrypt!, EXIT_CODES['key-access'], /decrypt/);
    expect(ok(expect, encrypt!).stdout.subarray(0, 4)).toEqual(MAGIC);
    ok(expect, dataKey!);
    expectError(expect, reEncrypt!, EXIT_CODES['key-access']);

    ok(expect, await s.run(['keys', 'policy', 'alias/k', '--reset']));
    ok(expect, await s.run(['keys', 'policy', 'alias/k', '--require-context', 'purpose=backup']));
    const [noCtx, wrongCtx, rightCtx, decryptOk] = await Promise.all([
      s.run(['kms', 'encrypt', '--key-id', 'alias/k'], { stdin: 'x' }),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '-c', 'purpose=other'], { stdin: 'x' }),
      s.run(['kms', 'encrypt', '--key-id', 'alias/k', '-c', 'purpose=backup'], { stdin: 'x' }),
      decryptRaw(s, blob, ['-c', 'purpose=backup']),
    ]);
    expectError(expect, noCtx!, EXIT_CODES['key-access'], /purpose=backup/);
    expectError(expect, wrongCtx!, EXIT_CODES['key-access']);
    ok(expect, rightCtx!);
    expect(ok(expect, decryptOk!).stdout.toString()).toBe('policy bound');
  });

  it.concurrent('an RSA key is exit 2 for the symmetric primitives', async ({ expect }) => {
    const s = await keystore(expect, ['aes'], { rsa: ['r'] });
    const blob = await encryptBinary(expect, s, 'alias/aes', 'to rsa?');
    const results = await Promise.all([
      s.run(['kms', 'encrypt', '--key-id', 'alias/r'], { stdin: 'x' }),
      s.run(['kms', 'generate-data-key', '--key-id', 'alias/r']),
      s.run(['kms', 'generate-data-key-without-plaintext', '--key-id', 'alias/r']),
      s.run(['kms', 're-encrypt', '--destination-key-id', 'alias/r'], { stdin: blob }),
    ]);
    for (const r of results) expectError(expect, r, EXIT_CODES.usage, /RSA_2048/);
  });
});

// ---------------------------------------------------------------- audit

describe('audit log', () => {
  it.concurrent('records each operation with key id and context keys, never plaintexts, data keys or context values', async ({ expect }) => {
    const s = await keystore(expect, ['k', 'k2']);
    const k = s.key('k').keyId;
    const k2 = s.key('k2').keyId;
    const secrets: Buffer[] = [];
    const plaintext = Buffer.from(`top secret ${randomBytes(12).toString('hex')}`);
    secrets.push(plaintext);
    const ctx = ['tenant=acme-9f3e1c', 'purpose=payroll-77aa'];
    const enc = json(ok(expect, await s.run(['kms', 'encrypt', '--key-id', 'alias/k', '-c', ctx[0]!, '-c', ctx[1]!], { stdin: plaintext })));
    const dec = json(ok(expect, await s.run(['kms', 'decrypt', '-c', ctx[0]!, '-c', ctx[1]!], { stdin: enc.CiphertextBlob! })));
    expect(b64(dec.Plaintext!).equals(plaintext)).toBe(true);
    ok(expect, await s.run(['kms', 're-encrypt', '--destination-key-id', 'alias/k2', '--source-encryption-context', ctx[0]!, '--source-encryption-context', ctx[1]!, '--destination-encryption-context', 'dest=moved-5c2b'], { stdin: enc.CiphertextBlob! }));
    const dk = json(ok(expect, await s.run(['kms', 'generate-data-key', '--key-id', 'alias/k2', '-c', 'vol=disk-0bd4'])));
    secrets.push(b64(dk.Plaintext!));
    const dkText = ok(expect, await s.run(['kms', 'generate-data-key', '--key-id', 'alias/k', '--output', 'text', '--number-of-bytes', '48'])).stdout.toString('latin1');
    secrets.push(b64(dkText.trimEnd().split('\t')[1]!));
    const dkHidden = json(ok(expect, await s.run(['kms', 'generate-data-key-without-plaintext', '--key-id', 'alias/k'])));
    secrets.push(ok(expect, await decryptRaw(s, dkHidden.CiphertextBlob!)).stdout);

    const audit = ok(expect, await s.run(['audit', '--json']));
    const records = audit.stdout
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { operation: string; keyId?: string; version?: number; contextKeys?: string[]; outcome: string });
    const uses = records.filter((r) => ['encrypt', 'decrypt', 're-encrypt', 'generate-data-key'].includes(r.operation));
    const find = (operation: string, keyId: string) => uses.filter((r) => r.operation === operation && r.keyId === keyId);
    expect(find('encrypt', k)).toEqual([expect.objectContaining({ version: 1, outcome: 'success', contextKeys: expect.arrayContaining(['tenant', 'purpose']) })]);
    expect(find('encrypt', k)[0]!.contextKeys).toHaveLength(2);
    expect(find('decrypt', k)[0]).toMatchObject({ version: 1, outcome: 'success' });
    expect([...find('decrypt', k)[0]!.contextKeys!].sort()).toEqual(['purpose', 'tenant']);
    // re-encrypt: once for the source key (with its context keys), once for the destination.
    expect([...find('re-encrypt', k)[0]!.contextKeys!].sort()).toEqual(['purpose', 'tenant']);
    expect(find('re-encrypt', k2)[0]).toMatchObject({ outcome: 'success', contextKeys: ['dest'] });
    expect(find('generate-data-key', k2)[0]).toMatchObject({ outcome: 'success', contextKeys: ['vol'] });
    expect(find('generate-data-key', k)).toHaveLength(2);
    ok(expect, await s.run(['audit', '--verify']));

    const log = readFileSync(join(s.dir, 'audit.log'), 'utf8');
    expect(log).toBe(audit.stdout.toString('utf8'));
    for (const secret of secrets) {
      for (const form of [secret.toString('base64'), secret.toString('hex'), secret.toString('base64url'), secret.toString('hex').toUpperCase()]) {
        expect(log.includes(form), `audit.log holds ${form}`).toBe(false);
      }
    }
    expect(log).not.toContain(plaintext.toString('utf8'));
    for (const value of ['acme-9f3e1c', 'payroll-77aa', 'moved-5c2b', 'disk-0bd4']) expect(log).not.toContain(value);
    // Neither the blobs: they are not secret, but the log is no place for them.
    expect(log).not.toContain(enc.CiphertextBlob!);
  });

  it.concurrent('records a decrypt that does not authenticate as a failure (integrity), not a success', async ({ expect }) => {
    const s = await keystore(expect, ['k']);
    const blob = await encryptBinary(expect, s, 'alias/k', 'audit me', ['a=1']);
    expectError(expect, await decryptRaw(s, blob, ['-c', 'a=2']), EXIT_CODES.integrity);
    const records = ok(expect, await s.run(['audit', '--json']))
      .stdout.toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { operation: string; outcome: string; error?: string });
    const decrypts = records.filter((r) => r.operation === 'decrypt');
    expect(decrypts).toEqual([expect.objectContaining({ outcome: 'failure', error: 'integrity' })]);
  });
});

// ---------------------------------------------------------------- in-process: every one-bit change

describe('kmsDecrypt against every one-bit change of a blob (in-process)', () => {
  let ks: Keystore;
  let keyId: string;
  let blob: Buffer;
  const plaintext = Buffer.from('flip!');
  const context = { app: 'bits' };

  beforeAll(async () => {
    ks = new Keystore({ dir: join(workdir(), 'keystore') });
    keyId = (await ks.createKey({ spec: 'AES_256', alias: 'alias/bits' })).KeyId;
    blob = (await kmsEncrypt(ks, 'alias/bits', plaintext, context)).ciphertextBlob;
    // Versions 1..3 exist, so a changed version number can name another real version (exit 5) or none (exit 6).
    await rotateKey(ks, 'alias/bits', new Date());
    await rotateKey(ks, 'alias/bits', new Date());
  });

  it('the untouched blob decrypts (with version 1 after two rotations)', async () => {
    expect(readBlobHeader(blob)).toEqual({ keyId, version: 1 });
    expect((await kmsDecrypt(ks, blob, context)).plaintext).toEqual(plaintext);
  });

  it('no flipped bit decrypts; each fails as its field says', async () => {
    const versions = new Set([1, 2, 3]);
    const expected = (tampered: Buffer, byte: number): number => {
      if (byte < 4) return EXIT_CODES.format; // magic, blob format version
      if (byte < 20) return EXIT_CODES['no-key']; // a KeyId the keystore does not have
      if (byte < 24) return versions.has(tampered.readUInt32BE(20)) ? EXIT_CODES.integrity : EXIT_CODES['no-key'];
      return EXIT_CODES.integrity; // IV, ciphertext, tag
    };
    const failures: string[] = [];
    const tally: Record<number, number> = {};
    for (let byte = 0; byte < blob.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const tampered = flip(blob, byte, bit);
        let code: number;
        try {
          const r = await kmsDecrypt(ks, tampered, context);
          failures.push(`byte ${byte} bit ${bit}: decrypted to ${r.plaintext.toString('hex')}`);
          continue;
        } catch (e) {
          if (!(e instanceof EnvelopeError)) throw e;
          code = EXIT_CODES[e.code];
        }
        tally[code] = (tally[code] ?? 0) + 1;
        const want = expected(tampered, byte);
        if (code !== want) failures.push(`byte ${byte} bit ${bit}: exit ${code}, expected ${want}`);
      }
    }
    expect(failures).toEqual([]);
    // 4 header bytes → 4; 16 key-id bytes → 6; the version: one flip gives 3 (→ 5), the other 31 → 6.
    expect(tally).toEqual({
      [EXIT_CODES.format]: 32,
      [EXIT_CODES['no-key']]: 16 * 8 + 31,
      [EXIT_CODES.integrity]: 1 + (blob.length - HEADER) * 8,
    });
  });

  it('the wrong context and a different key are refused too', async () => {
    await expect(kmsDecrypt(ks, blob, {})).rejects.toBeInstanceOf(IntegrityError);
    await expect(kmsDecrypt(ks, blob, { app: 'bytes' })).rejects.toBeInstanceOf(IntegrityError);
    await expect(kmsDecrypt(ks, blob, { ...context, more: 'x' })).rejects.toBeInstanceOf(IntegrityError);
    const other = await ks.createKey({ spec: 'AES_256', alias: 'alias/other' });
    await expect(kmsDecrypt(ks, blob, context, other.KeyId)).rejects.toMatchObject({ code: 'usage' });
    const moved = Buffer.from(blob);
    uuidBytes(other.KeyId).copy(moved, 4);
    await expect(kmsDecrypt(ks, moved, context)).rejects.toBeInstanceOf(IntegrityError);
  });
});

// ---------------------------------------------------------------- in-process: blob.ts

describe('blob.ts', () => {
  const key = randomBytes(32);
  const header = { keyId: randomUUID(), version: 7 };
  const context = { b: '2', a: '1', 'ünïcode': 'välue' };

  it('sealBlob/openBlob round trip; the layout is magic, version, key id, backing version, IV, ciphertext, tag', () => {
    for (const size of [0, 1, 31, 1000, MAX_PLAINTEXT]) {
      const plaintext = randomBytes(size);
      const blob = sealBlob(key, header, plaintext, context);
      expect(blob.length).toBe(MIN_BLOB_LENGTH + size);
      expect(blob.subarray(0, 4)).toEqual(MAGIC);
      expect(blob.subarray(4, 20)).toEqual(uuidBytes(header.keyId));
      expect(blob.readUInt32BE(20)).toBe(7);
      expect(openBlob(key, blob, context)).toEqual(plaintext);
      // Context order does not matter: it is serialized sorted.
      expect(openBlob(key, blob, { a: '1', 'ünïcode': 'välue', b: '2' })).toEqual(plaintext);
    }
    expect(MIN_BLOB_LENGTH).toBe(HEADER + IV + TAG);
    expect(MAX_BLOB_LENGTH).toBe(MIN_BLOB_LENGTH + MAX_PLAINTEXT);
    const one = sealBlob(key, header, Buffer.from('same'), context);
    const two = sealBlob(key, header, Buffer.from('same'), context);
    expect(one.equals(two)).toBe(false);
    expect(one.subarray(HEADER, HEADER + IV).equals(two.subarray(HEADER, HEADER + IV))).toBe(false);
  });

  it('opens a blob inside a larger buffer (a subarray with an offset)', () => {
    const blob = sealBlob(key, header, Buffer.from('offset'), {});
    const big = Buffer.concat([randomBytes(13), blob, randomBytes(7)]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 13, blob.length);
    expect(readBlobHeader(view)).toEqual(header);
    expect(openBlob(key, view, {}).toString()).toBe('offset');
  });

  it('readBlobHeader returns keyId and version before any key is involved', () => {
    const id = randomUUID();
    for (const version of [0, 1, 2, 0x01020304, 0xffffffff]) {
      expect(readBlobHeader(sealBlob(key, { keyId: id, version }, Buffer.from('h'), {}))).toEqual({ keyId: id, version });
    }
    const blob = sealBlob(key, header, Buffer.alloc(0), {});
    expect(() => readBlobHeader(blob.subarray(0, MIN_BLOB_LENGTH - 1))).toThrow(FormatError);
    expect(() => readBlobHeader(Buffer.alloc(0))).toThrow(FormatError);
    expect(() => readBlobHeader(flip(blob, 1, 0))).toThrow(FormatError);
    expect(() => readBlobHeader(flip(blob, 3, 1))).toThrow(/version 3/);
    expect(() => readBlobHeader(Buffer.concat([sealBlob(key, header, randomBytes(MAX_PLAINTEXT), {}), Buffer.alloc(1)]))).toThrow(FormatError);
  });

  it('a wrong key, context or header is an IntegrityError; a wrong magic or version a FormatError', () => {
    const plaintext = Buffer.from('guarded');
    const blob = sealBlob(key, header, plaintext, context);
    expect(() => openBlob(randomBytes(32), blob, context)).toThrow(IntegrityError);
    expect(() => openBlob(key, blob, { ...context, a: '2' })).toThrow(IntegrityError);
    expect(() => openBlob(key, blob, { a: '1', b: '2' })).toThrow(IntegrityError);
    expect(() => openBlob(key, blob, { ...context, c: '3' })).toThrow(IntegrityError);
    expect(() => openBlob(key, blob, {})).toThrow(IntegrityError);
    // Key names and values are delimited: moving a character from key to value is a different context.
    const split = sealBlob(key, header, plaintext, { ab: 'c' });
    expect(() => openBlob(key, split, { a: 'bc' })).toThrow(IntegrityError);
    // The header is AAD: another key id or version with the same bytes does not open.
    const otherId = Buffer.from(blob);
    uuidBytes(randomUUID()).copy(otherId, 4);
    expect(() => openBlob(key, otherId, context)).toThrow(IntegrityError);
    const otherVersion = Buffer.from(blob);
    otherVersion.writeUInt32BE(8, 20);
    expect(() => openBlob(key, otherVersion, context)).toThrow(IntegrityError);
    expect(() => openBlob(key, flip(blob, 0, 6), context)).toThrow(FormatError);
    expect(() => openBlob(key, flip(blob, 3, 0), context)).toThrow(FormatError);
    expect(() => openBlob(key, blob.subarray(0, MIN_BLOB_LENGTH - 1), context)).toThrow(FormatError);
    expect(() => openBlob(key, blob.subarray(0, blob.length - 1), context)).toThrow(IntegrityError);
  });

  it('every one-bit change fails with FormatError (blob format bytes) or IntegrityError (all else)', () => {
    const blob = sealBlob(key, header, Buffer.from('twelve bytes'), context);
    for (let byte = 0; byte < blob.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const want = byte < 4 ? FormatError : IntegrityError;
        expect(() => openBlob(key, flip(blob, byte, bit), context), `byte ${byte} bit ${bit}`).toThrow(want);
      }
    }
  });

  it('refuses plaintext over 4096 bytes', () => {
    expect(() => sealBlob(key, header, Buffer.alloc(MAX_PLAINTEXT + 1), {})).toThrow(FormatError);
    expect(() => sealBlob(key, header, Buffer.alloc(MAX_PLAINTEXT + 1), {})).toThrow(/4097.*4096/);
    expect(sealBlob(key, header, Buffer.alloc(MAX_PLAINTEXT), {}).length).toBe(MAX_BLOB_LENGTH);
  });

  it('error classes carry the codes of the exit-code table', () => {
    expect(EXIT_CODES[new FormatError('x').code]).toBe(4);
    expect(EXIT_CODES[new IntegrityError('x').code]).toBe(5);
    expect(EXIT_CODES[new NoKeyError('x', []).code]).toBe(6);
  });
});
