// encrypt --cache through the real bin/envelope. With local keystore keys the
// keystore's audit log counts the data-key generations; with KMS keys the
// requests to a KMS-compatible server (`envelope serve`) do. inspect and the
// message headers show the shared wrapped key, and everything decrypts.

import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_KEY_CONTEXT_KEY } from '../src/format/constants.js';
import { decodeHeader, type MessageHeader } from '../src/format/header.js';
import { type CliResult, runCli, workdirs } from './helpers.js';
import { type KmsServer, startKmsServer } from './support/kms-server.js';

const workdir = workdirs('envelope-cache-');

/** bin/envelope with a keystore of its own (never the user's), unprotected. */
const run = (keystore: string, args: readonly string[], stdin?: string) =>
  runCli(args, { stdin, env: { ENVELOPE_KEYSTORE: keystore, ENVELOPE_PASSPHRASE: undefined } });

function ok(r: CliResult): CliResult {
  expect(r.stderr.split('\n').filter((l) => l.includes('error')), r.stderr).toEqual([]);
  expect(r.code).toBe(0);
  return r;
}

/** A fresh keystore with key alias/cache, and `count` input files in a directory of their own. */
async function setup(count: number): Promise<{ keystore: string; inputs: string[]; out: string }> {
  const dir = workdir();
  const keystore = join(dir, 'keystore');
  ok(await run(keystore, ['keygen', 'cache']));
  const inputs = Array.from({ length: count }, (_, i) => {
    const path = join(dir, `file-${i}.txt`);
    writeFileSync(path, `contents of file ${i}\n`.repeat(i + 1));
    return path;
  });
  return { keystore, inputs, out: workdir() };
}

/** How many data keys the local keystore generated, from its audit log (one JSON line per operation). */
function generations(keystore: string): number {
  return readFileSync(join(keystore, 'audit.log'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as { operation: string; outcome: string })
    .filter((r) => r.operation === 'generate-data-key' && r.outcome === 'success').length;
}

const headerOf = (path: string): MessageHeader =>
  decodeHeader(readFileSync(path), { maxEncryptedDataKeys: 10, maxFrameLength: 2 ** 32 - 1 })!.header;

/** Every output decrypts to its input. */
async function allDecrypt(keystore: string, inputs: readonly string[], out: string): Promise<void> {
  for (const input of inputs) {
    const name = input.split('/').pop()!;
    const r = ok(await run(keystore, ['decrypt', join(out, `${name}.enc`), '-o', '-']));
    expect(r.stdout.toString()).toBe(readFileSync(input, 'utf8'));
  }
}

describe('encrypt --cache', () => {
  it('one generate-data-key serves three files; the outputs share the wrapped key, not the message id, and all decrypt', async () => {
    const { keystore, inputs, out } = await setup(3);
    ok(await run(keystore, ['encrypt', '-k', 'alias/cache', '--cache', 'max-age=1h,max-messages=10', ...inputs, '-o', out]));
    expect(generations(keystore)).toBe(1);

    const [a, b] = await Promise.all(
      inputs.slice(0, 2).map(async (input) => {
        const name = input.split('/').pop()!;
        return JSON.parse(ok(await run(keystore, ['inspect', '--json', join(out, `${name}.enc`)])).stdout.toString()) as {
          messageId: string;
          encryptedDataKeys: unknown[];
        };
      }),
    );
    expect(b!.encryptedDataKeys).toEqual(a!.encryptedDataKeys);
    expect(b!.messageId).not.toBe(a!.messageId);
    // inspect names the wrapping key; the headers show the wrapped bytes are the very same.
    const headers = readdirSync(out).sort().map((f) => headerOf(join(out, f)));
    expect(headers).toHaveLength(3);
    for (const h of headers.slice(1)) expect(h.encryptedDataKeys).toEqual(headers[0]!.encryptedDataKeys);
    await allDecrypt(keystore, inputs, out);
  });

  it('max-messages=2 over five files makes three data keys', async () => {
    const { keystore, inputs, out } = await setup(5);
    ok(await run(keystore, ['encrypt', '-k', 'alias/cache', '--cache', 'max-age=1h,max-messages=2', ...inputs, '-o', out]));
    expect(generations(keystore)).toBe(3);
    const ciphertexts = readdirSync(out)
      .sort()
      .map((f) => Buffer.from(headerOf(join(out, f)).encryptedDataKeys[0]!.ciphertext).toString('hex'));
    expect(new Set(ciphertexts).size).toBe(3);
    expect(ciphertexts[0]).toBe(ciphertexts[1]);
    expect(ciphertexts[2]).toBe(ciphertexts[3]);
    await allDecrypt(keystore, inputs, out);
  });

  it('max-bytes: a file that would take the key past the limit gets a new one', async () => {
    const { keystore, inputs, out } = await setup(3);
    const sizes = inputs.map((p) => readFileSync(p).length);
    // The first two files fit, the third does not.
    const limit = sizes[0]! + sizes[1]! + sizes[2]! - 1;
    ok(await run(keystore, ['encrypt', '-k', 'alias/cache', '--cache', `max-age=1h,max-bytes=${limit}`, ...inputs, '-o', out]));
    expect(generations(keystore)).toBe(2);
    await allDecrypt(keystore, inputs, out);
  });

  it('without --cache each file gets its own data key', async () => {
    const { keystore, inputs, out } = await setup(3);
    ok(await run(keystore, ['encrypt', '-k', 'alias/cache', ...inputs, '-o', out]));
    expect(generations(keystore)).toBe(3);
  });

  it('with --sign the key pair is reused with the data key, and every signed message verifies', async () => {
    const { keystore, inputs, out } = await setup(3);
    ok(await run(keystore, ['encrypt', '-k', 'alias/cache', '--sign', '--cache', 'max-age=10m', '-c', 'app=web', ...inputs, '-o', out]));
    expect(generations(keystore)).toBe(1);
    const keys = readdirSync(out).map((f) => headerOf(join(out, f)).context[PUBLIC_KEY_CONTEXT_KEY]);
    expect(new Set(keys).size).toBe(1);
    await allDecrypt(keystore, inputs, out);
  });

  it('-v says which messages reused a data key', async () => {
    const { keystore, inputs, out } = await setup(3);
    const r = ok(await run(keystore, ['-v', 'encrypt', '-k', 'alias/cache', '--cache', 'max-age=1h', ...inputs, '-o', out]));
    const reused = r.stderr.split('\n').filter((l) => l.endsWith('data key reused (cache)'));
    expect(reused).toEqual(inputs.slice(1).map((p) => `envelope: ${p}: data key reused (cache)`));
  });

  it('stdin with --cache is one message, which decrypts', async () => {
    const { keystore } = await setup(0);
    const r = ok(await run(keystore, ['encrypt', '-k', 'alias/cache', '--cache', 'max-age=30s,max-bytes=4'], 'longer than four bytes'));
    expect(generations(keystore)).toBe(1);
    const dir = workdir();
    writeFileSync(join(dir, 'm.enc'), r.stdout);
    expect(ok(await run(keystore, ['decrypt', join(dir, 'm.enc'), '-o', '-'])).stdout.toString()).toBe('longer than four bytes');
  });

  describe('bad --cache values exit 2 with one line naming the field, before any key is used', () => {
    let keystore: string;
    let inputs: string[];
    let out: string;
    beforeAll(async () => {
      ({ keystore, inputs, out } = await setup(2));
    });
    const cases: [string, RegExp][] = [
      ['max-messages=5', /--cache needs max-age/],
      ['max-age=0', /--cache max-age takes a duration/],
      ['max-age=5x', /--cache max-age takes a duration/],
      ['max-age=', /--cache max-age takes a duration/],
      ['max-age', /--cache max-age needs a value/],
      ['max-age=1h,max-messages=0', /--cache max-messages takes a whole number from 1 to 4294967296/],
      ['max-age=1h,max-messages=4294967297', /--cache max-messages takes a whole number from 1 to 4294967296/],
      ['max-age=1h,max-bytes=lots', /--cache max-bytes takes a size/],
      ['max-age=1h,max-bytes=99999999999999999999', /--cache max-bytes can be at most/],
      ['max-age=1h,max-age=2h', /--cache gives max-age twice/],
      ['max-age=1h,ttl=5', /--cache has no field "ttl"/],
      ['max-age=1h,', /--cache takes max-age=DUR/],
    ];
    for (const [value, message] of cases) {
      it(`--cache "${value}"`, async () => {
        const r = await run(keystore, ['encrypt', '-k', 'alias/cache', '--cache', value, ...inputs, '-o', out]);
        expect(r.code).toBe(2);
        const [first, ...rest] = r.stderr.split('\n').filter(Boolean);
        expect(first).toMatch(/^envelope: error: /);
        expect(first).toMatch(message);
        expect(rest.every((l) => l.startsWith('hint: '))).toBe(true);
        expect(r.stdout.length).toBe(0);
        expect(readdirSync(out)).toEqual([]);
        expect(generations(keystore)).toBe(0);
      });
    }
  });
});

describe('encrypt --cache with AWS KMS keys', () => {
  let kms: KmsServer;
  let keys: { arn: string }[];
  let tree: string;
  const names = ['a.txt', 'b.txt', 'sub/c.txt', 'sub/deeper/d.txt'];

  beforeAll(async () => {
    kms = await startKmsServer();
    keys = await Promise.all([kms.createKey({ alias: 'alias/cache-first' }), kms.createKey()]);
    tree = join(workdir(), 'tree');
    for (const name of names) {
      mkdirSync(join(tree, name, '..'), { recursive: true });
      writeFileSync(join(tree, name), `kms file ${name}\n`);
    }
  });
  afterAll(() => kms?.stop());

  /** envelope against the server; the local keystore is an empty one of its own. */
  const envelope = (args: readonly string[]) =>
    runCli(args, { env: { ...kms.env(), ENVELOPE_KEYSTORE: join(workdir(), 'keystore'), AWS_PROFILE: '' } });

  async function encryptTree(extra: readonly string[]): Promise<{ out: string; requests: Record<string, number> }> {
    const out = join(workdir(), 'out');
    kms.resetCounts();
    ok(await envelope(['encrypt', '-r', tree, '-o', out, '-k', keys[0]!.arn, '-k', keys[1]!.arn, ...extra]));
    return { out, requests: kms.requests() };
  }

  it('a directory of files takes exactly one GenerateDataKey (and one Encrypt for the second key)', async () => {
    const { out, requests } = await encryptTree(['--cache', 'max-age=5m']);
    expect(requests).toEqual({ GenerateDataKey: 1, Encrypt: 1 });
    const headers = names.map((n) => headerOf(join(out, 'tree', `${n}.enc`)));
    for (const h of headers.slice(1)) expect(h.encryptedDataKeys).toEqual(headers[0]!.encryptedDataKeys);
    for (const name of names) {
      const r = ok(await envelope(['decrypt', '-k', keys[1]!.arn, join(out, 'tree', `${name}.enc`), '-o', '-']));
      expect(r.stdout.toString()).toBe(`kms file ${name}\n`);
    }
  });

  it('without --cache every file makes its own calls', async () => {
    const { requests } = await encryptTree([]);
    expect(requests).toEqual({ GenerateDataKey: names.length, Encrypt: names.length });
  });
});
