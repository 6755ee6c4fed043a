// The local keystore through the real bin/envelope (README "The local keystore",
// DESIGN §3). Every test has a keystore of its own and states one promise.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import {
  buildClient,
  CommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { describe, expect, it, type ExpectStatic } from 'vitest';
import { DEFAULT_LIMITS } from '../src/core/limits.js';
import { decodeHeader } from '../src/format/header.js';
import { RawAesKeyring } from '../src/keyring/raw-aes.js';
import { type CliResult, ENVELOPE, REPO_ROOT, runCli, workdirs } from './helpers.js';

// ---------------------------------------------------------------- fixtures

/** A fresh 0700 directory, removed after the file. */
const workdir = workdirs('envelope-keystore-');

/**
 * Nothing leaks in from the developer's shell: no passphrase, no keystore, and a
 * data home that is not theirs.
 */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  ENVELOPE_PASSPHRASE: undefined,
  ENVELOPE_NEW_PASSPHRASE: undefined,
  ENVELOPE_KEYSTORE: undefined,
  XDG_DATA_HOME: workdir(),
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DAY_MS = 24 * 60 * 60 * 1000;

interface RunOptions {
  stdin?: string | Uint8Array;
  env?: NodeJS.ProcessEnv;
}

/** A keystore directory of its own, and bin/envelope run against it with --keystore. */
interface Ks {
  readonly dir: string;
  run(args: readonly string[], options?: RunOptions): Promise<CliResult>;
}

function newKeystore(dir = workdir()): Ks {
  return {
    dir,
    run: (args, options = {}) =>
      runCli(['--keystore', dir, ...args], { ...(options.stdin !== undefined ? { stdin: options.stdin } : {}), env: { ...CLEAN_ENV, ...options.env } }),
  };
}

function describeRun(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}, stderr: ${r.stderr}`;
}

async function ok(expect: ExpectStatic, pending: Promise<CliResult>): Promise<CliResult> {
  const r = await pending;
  expect(r.code, describeRun(r)).toBe(0);
  return r;
}

/** Exit `code`, nothing on stdout, and the house error form: one error line, then only hints. */
async function fails(expect: ExpectStatic, pending: Promise<CliResult>, code: number): Promise<CliResult> {
  const r = await pending;
  expect(r.code, describeRun(r)).toBe(code);
  expect(r.stdout.length, 'nothing on stdout').toBe(0);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^envelope: error: \S/);
  expect(lines.slice(1).filter((l) => !l.startsWith('hint: ')), r.stderr).toEqual([]);
  return r;
}

/** As fails, and the error is one single line (no hints). */
async function failsInOneLine(expect: ExpectStatic, pending: Promise<CliResult>, code: number): Promise<CliResult> {
  const r = await fails(expect, pending, code);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  return r;
}

async function keygen(expect: ExpectStatic, ks: Ks, args: readonly string[]): Promise<string> {
  const r = await ok(expect, ks.run(['keygen', ...args]));
  const keyId = r.stdout.toString('utf8').trim();
  expect(keyId).toMatch(UUID);
  return keyId;
}

function encrypt(ks: Ks, key: string, plaintext: string | Uint8Array, extra: readonly string[] = []): Promise<CliResult> {
  return ks.run(['encrypt', '-k', key, ...extra], { stdin: plaintext });
}

async function encrypted(expect: ExpectStatic, ks: Ks, key: string, plaintext: string | Uint8Array, extra: readonly string[] = []): Promise<Buffer> {
  return (await ok(expect, encrypt(ks, key, plaintext, extra))).stdout;
}

/** Decrypts with no -k (local keys are found from the message) and checks the plaintext. */
async function decryptsTo(expect: ExpectStatic, ks: Ks, message: Uint8Array, plaintext: string | Uint8Array, extra: readonly string[] = []): Promise<void> {
  const r = await ok(expect, ks.run(['decrypt', ...extra], { stdin: message }));
  expect(r.stdout).toEqual(Buffer.from(plaintext));
}

/** providerId and keyName of each wrapped data key, from inspect --json. */
async function wrappedKeys(expect: ExpectStatic, message: Uint8Array): Promise<{ providerId: string; keyName: string }[]> {
  const r = await ok(expect, runCli(['inspect', '--json'], { stdin: message, env: CLEAN_ENV }));
  return (JSON.parse(r.stdout.toString('utf8')) as { encryptedDataKeys: { providerId: string; keyName: string }[] }).encryptedDataKeys;
}

interface Metadata {
  KeyId: string;
  Arn: string;
  KeyState: string;
  KeySpec: string;
  KeyUsage: string;
  Origin: string;
  CreationDate: string;
  Description: string;
  DeletionDate?: string;
  KeyRotationStatus: { KeyRotationEnabled: boolean; RotationPeriodInDays?: number; NextRotationDate?: string };
  Aliases: string[];
  PrimaryVersion: number;
  Versions: { Version: number; Primary: boolean; Origin: string }[];
  Policy: { Allow: string[]; RequireContext: { key: string; value?: string }[] };
}

async function show(expect: ExpectStatic, ks: Ks, key: string): Promise<Metadata> {
  const r = await ok(expect, ks.run(['keys', 'show', key, '--json']));
  return (JSON.parse(r.stdout.toString('utf8')) as { KeyMetadata: Metadata }).KeyMetadata;
}

// keystore.json edited by hand

interface StoreJson {
  keystoreId: string;
  keys: Record<string, { Versions: { Version: number; Material?: { sealed: string } }[] }>;
  aliases: Record<string, string>;
}

function readStore(ks: Ks): StoreJson {
  return JSON.parse(readFileSync(join(ks.dir, 'keystore.json'), 'utf8')) as StoreJson;
}

function writeStore(ks: Ks, store: StoreJson): void {
  writeFileSync(join(ks.dir, 'keystore.json'), `${JSON.stringify(store, null, 2)}\n`);
}

function material(store: StoreJson, keyId: string, version: number): { sealed: string } {
  const m = store.keys[keyId]?.Versions.find((v) => v.Version === version)?.Material;
  if (!m) throw new Error(`no material for ${keyId}/${version}`);
  return m;
}

function auditLines(ks: Ks): string[] {
  return readFileSync(join(ks.dir, 'audit.log'), 'utf8').trimEnd().split('\n');
}

/** bin/envelope with no controlling terminal, so no prompt can wait for a person. */
function runWithoutTerminal(args: readonly string[], options: RunOptions & { fd3?: string } = {}): Promise<CliResult> {
  return runCli(args, { ...options, env: { ...CLEAN_ENV, ...options.env }, detached: true });
}

/** bin/envelope under `umask 000`. */
function runUnderUmask000(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, ENVELOPE, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...CLEAN_ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolvePromise({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(3, '0');
}

// ---------------------------------------------------------------- lifecycle

describe('keys of the local keystore encrypt and decrypt', () => {
  it.concurrent('keygen NAME prints the KeyId; after rotate, messages under version 1 and 2 both decrypt with no -k', async ({ expect }) => {
    const dir = workdir();
    // This test finds its keystore through ENVELOPE_KEYSTORE rather than --keystore.
    const ks: Ks = { dir, run: (args, o = {}) => runCli(args, { ...(o.stdin !== undefined ? { stdin: o.stdin } : {}), env: { ...CLEAN_ENV, ENVELOPE_KEYSTORE: dir } }) };
    const created = await ok(expect, ks.run(['keygen', 'life']));
    expect(created.stdout.toString('utf8')).toMatch(/^[0-9a-f-]{36}\n$/);
    const keyId = created.stdout.toString('utf8').trim();
    expect(keyId).toMatch(UUID);
    expect((await show(expect, ks, 'alias/life')).KeyId).toBe(keyId);
    expect(existsSync(join(dir, 'keystore.json'))).toBe(true);

    const first = await encrypted(expect, ks, 'alias/life', 'under version one');
    const rotated = await ok(expect, ks.run(['rotate', 'life']));
    expect(rotated.stdout.toString('utf8')).toBe('2\n');
    const second = await encrypted(expect, ks, 'alias/life', 'under version two');

    expect(await wrappedKeys(expect, first)).toEqual([{ providerId: 'envelope-local', keyName: `${keyId}/1` }]);
    expect(await wrappedKeys(expect, second)).toEqual([{ providerId: 'envelope-local', keyName: `${keyId}/2` }]);
    await decryptsTo(expect, ks, first, 'under version one');
    await decryptsTo(expect, ks, second, 'under version two');

    const meta = await show(expect, ks, keyId);
    expect(meta.PrimaryVersion).toBe(2);
    expect(meta.Versions.map((v) => [v.Version, v.Primary])).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  it.concurrent('-k NAME, KEY-ID, local:alias/NAME, local:KEY-ID and the key ARN all encrypt under the same key', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['forms']);
    const { Arn } = await show(expect, ks, 'forms');
    expect(Arn).toMatch(new RegExp(`^arn:envelope:local:[0-9a-f-]{36}:key/${keyId}$`));
    const specifiers = ['forms', keyId, 'local:alias/forms', `local:${keyId}`, Arn, 'alias/forms'];
    await Promise.all(
      specifiers.map(async (k) => {
        const message = await encrypted(expect, ks, k, `with -k ${k}`);
        expect(await wrappedKeys(expect, message)).toEqual([{ providerId: 'envelope-local', keyName: `${keyId}/1` }]);
        await decryptsTo(expect, ks, message, `with -k ${k}`);
      }),
    );
  });
});

// ---------------------------------------------------------------- states

describe('key states', () => {
  it.concurrent('a disabled key refuses encrypt and decrypt with exit 7 and a hint naming keys enable; enabled again it works', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['off']);
    const message = await encrypted(expect, ks, 'off', 'before disable');
    await ok(expect, ks.run(['keys', 'disable', 'off']));
    expect((await show(expect, ks, 'off')).KeyState).toBe('Disabled');

    const enc = await fails(expect, encrypt(ks, 'off', 'refused'), 7);
    expect(enc.stderr).toContain(`keys enable ${keyId}`);
    const dec = await fails(expect, ks.run(['decrypt'], { stdin: message }), 7);
    expect(dec.stderr).toContain(`keys enable ${keyId}`);

    await ok(expect, ks.run(['keys', 'enable', 'off']));
    expect((await show(expect, ks, 'off')).KeyState).toBe('Enabled');
    await decryptsTo(expect, ks, message, 'before disable');
    await decryptsTo(expect, ks, await encrypted(expect, ks, 'off', 'after enable'), 'after enable');
  });

  it.concurrent('keys delete --days 7 refuses every use (exit 7, hint cancel-deletion); cancel-deletion leaves it Disabled until keys enable', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['doomed']);
    const message = await encrypted(expect, ks, 'doomed', 'keep me');
    const before = Date.now();
    await ok(expect, ks.run(['keys', 'delete', 'doomed', '--days', '7']));
    const pending = await show(expect, ks, 'doomed');
    expect(pending.KeyState).toBe('PendingDeletion');
    expect(Math.abs(Date.parse(pending.DeletionDate!) - (before + 7 * DAY_MS))).toBeLessThan(60_000);

    const enc = await fails(expect, encrypt(ks, 'doomed', 'refused'), 7);
    expect(enc.stderr).toContain(`keys cancel-deletion ${keyId}`);
    const dec = await fails(expect, ks.run(['decrypt'], { stdin: message }), 7);
    expect(dec.stderr).toContain(`keys cancel-deletion ${keyId}`);

    await ok(expect, ks.run(['keys', 'cancel-deletion', 'doomed']));
    const cancelled = await show(expect, ks, 'doomed');
    expect(cancelled.KeyState).toBe('Disabled');
    expect(cancelled.DeletionDate).toBeUndefined();
    await fails(expect, encrypt(ks, 'doomed', 'still disabled'), 7);

    await ok(expect, ks.run(['keys', 'enable', 'doomed']));
    await decryptsTo(expect, ks, message, 'keep me');
    await decryptsTo(expect, ks, await encrypted(expect, ks, 'doomed', 'usable again'), 'usable again');
  });

  it.concurrent('keys delete takes a waiting period of 7 to 30 days: --days 6 and --days 31 are exit 2 and change nothing; the default is 30', async ({ expect }) => {
    const ks = newKeystore();
    await keygen(expect, ks, ['kept']);
    await fails(expect, ks.run(['keys', 'delete', 'kept', '--days', '6']), 2);
    await fails(expect, ks.run(['keys', 'delete', 'kept', '--days', '31']), 2);
    expect((await show(expect, ks, 'kept')).KeyState).toBe('Enabled');

    const before = Date.now();
    await ok(expect, ks.run(['keys', 'delete', 'kept']));
    const meta = await show(expect, ks, 'kept');
    expect(meta.KeyState).toBe('PendingDeletion');
    expect(Math.abs(Date.parse(meta.DeletionDate!) - (before + 30 * DAY_MS))).toBeLessThan(60_000);
  });
});

// ---------------------------------------------------------------- imported material

describe('imported key material', () => {
  it.concurrent('keygen --import takes 32 bytes as raw, hex or base64, and the key wraps with exactly that material', async ({ expect }) => {
    const ks = newKeystore();
    const files = workdir();
    const bytes = randomBytes(32);
    const raw = join(files, 'material.key');
    writeFileSync(raw, bytes);
    writeFileSync(join(files, 'material.hex'), `${bytes.toString('hex')}\n`);
    writeFileSync(join(files, 'material.b64'), `${bytes.toString('base64')}\n`);
    const empty = newKeystore();

    for (const [name, file] of [
      ['imp', raw],
      ['imphex', join(files, 'material.hex')],
      ['impb64', join(files, 'material.b64')],
    ] as const) {
      const keyId = await keygen(expect, ks, [name, '--import', file]);
      const meta = await show(expect, ks, name);
      expect(meta.Origin).toBe('EXTERNAL');
      expect(meta.KeyState).toBe('Enabled');
      const message = await encrypted(expect, ks, name, `imported from ${file}`);
      await decryptsTo(expect, ks, message, `imported from ${file}`);
      // The ESDK raw AES keyring with the same bytes, without the keystore, opens it too.
      await decryptsTo(expect, empty, message, `imported from ${file}`, ['-k', `raw-aes:file=${raw},namespace=envelope-local,name=${keyId}/1`]);
    }

    const short = join(files, 'short.key');
    writeFileSync(short, randomBytes(16));
    await fails(expect, ks.run(['keygen', 'short', '--import', short]), 2);
    expect(Object.keys(readStore(ks).keys)).toHaveLength(3);
  });

  it.concurrent('keygen --origin external is PendingImport (encrypt exit 7) until keys import; rotate is exit 2; a second import makes version 2 primary and version 1 still decrypts', async ({ expect }) => {
    const ks = newKeystore();
    const files = workdir();
    const first = join(files, 'first.key');
    const second = join(files, 'second.hex');
    writeFileSync(first, randomBytes(32));
    writeFileSync(second, randomBytes(32).toString('hex'));

    const keyId = await keygen(expect, ks, ['ext', '--origin', 'external']);
    const waiting = await show(expect, ks, 'ext');
    expect(waiting.KeyState).toBe('PendingImport');
    expect(waiting.Origin).toBe('EXTERNAL');
    expect(waiting.Versions).toEqual([]);
    const refused = await fails(expect, encrypt(ks, 'ext', 'too early'), 7);
    expect(refused.stderr).toContain('keys import');

    await ok(expect, ks.run(['keys', 'import', 'ext', first]));
    const imported = await show(expect, ks, 'ext');
    expect(imported.KeyState).toBe('Enabled');
    expect(imported.PrimaryVersion).toBe(1);
    const one = await encrypted(expect, ks, 'ext', 'under the first import');
    expect(await wrappedKeys(expect, one)).toEqual([{ providerId: 'envelope-local', keyName: `${keyId}/1` }]);

    await fails(expect, ks.run(['rotate', 'ext']), 2);
    await fails(expect, ks.run(['rotate', 'ext', '--schedule', '90']), 2);
    expect((await show(expect, ks, 'ext')).PrimaryVersion).toBe(1);

    await ok(expect, ks.run(['keys', 'import', 'ext', second]));
    const reimported = await show(expect, ks, 'ext');
    expect(reimported.PrimaryVersion).toBe(2);
    expect(reimported.Versions.map((v) => [v.Version, v.Origin, v.Primary])).toEqual([
      [1, 'EXTERNAL', false],
      [2, 'EXTERNAL', true],
    ]);
    const two = await encrypted(expect, ks, 'ext', 'under the second import');
    expect(await wrappedKeys(expect, two)).toEqual([{ providerId: 'envelope-local', keyName: `${keyId}/2` }]);
    await decryptsTo(expect, ks, one, 'under the first import');
    await decryptsTo(expect, ks, two, 'under the second import');
  });
});

// ---------------------------------------------------------------- export

describe('keys export and export-public', () => {
  it.concurrent('keys export --version 1 of an --exportable key lets the AWS Encryption SDK decrypt as a raw AES keyring (envelope-local, <KeyId>/1)', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['x', '--exportable']);
    const plaintext = 'the ESDK reads this without envelope';
    const message = await encrypted(expect, ks, 'x', plaintext, ['-c', 'purpose=export-test']);
    await ok(expect, ks.run(['rotate', 'x']));

    const exported = await ok(expect, ks.run(['keys', 'export', 'x', '--version', '1']));
    const text = exported.stdout.toString('utf8');
    expect(text).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    const key = Buffer.from(text.trim(), 'base64');
    expect(key).toHaveLength(32);
    const primary = Buffer.from((await ok(expect, ks.run(['keys', 'export', 'x']))).stdout.toString('utf8').trim(), 'base64');
    expect(primary).toHaveLength(32);
    expect(primary.equals(key)).toBe(false);

    const keyring = new RawAesKeyringNode({
      keyNamespace: 'envelope-local',
      keyName: `${keyId}/1`,
      // An isolated copy: the ESDK reads the key's whole ArrayBuffer.
      unencryptedMasterKey: new Uint8Array(key),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    });
    const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const { plaintext: recovered, messageHeader } = await esdk.decrypt(keyring, message);
    expect(Buffer.from(recovered).toString('utf8')).toBe(plaintext);
    expect(messageHeader.encryptionContext).toEqual({ purpose: 'export-test' });
  });

  it.concurrent('keys export with no --version prints the primary version, with which the AWS Encryption SDK decrypts', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['y', '--exportable']);
    await ok(expect, ks.run(['rotate', 'y']));
    const message = await encrypted(expect, ks, 'y', 'under the primary version');
    const exported = await ok(expect, ks.run(['keys', 'export', 'y']));
    expect(exported.stderr).toContain(`${keyId}/2`);
    const key = Buffer.from(exported.stdout.toString('utf8').trim(), 'base64');
    expect(key).toHaveLength(32);
    const keyring = new RawAesKeyringNode({
      keyNamespace: 'envelope-local',
      keyName: `${keyId}/2`,
      unencryptedMasterKey: new Uint8Array(key),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    });
    const { plaintext } = await buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT).decrypt(keyring, message);
    expect(Buffer.from(plaintext).toString('utf8')).toBe('under the primary version');
  });

  it.concurrent('keys export of a key not created --exportable is exit 2 and prints nothing on stdout', async ({ expect }) => {
    const ks = newKeystore();
    await keygen(expect, ks, ['sealed']);
    await fails(expect, ks.run(['keys', 'export', 'sealed']), 2);
    await fails(expect, ks.run(['keys', 'export', 'sealed', '--version', '1']), 2);
  });

  it.concurrent("an RSA key's public PEM encrypts with raw-rsa: where there is no keystore, and the keystore decrypts with no -k", async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['team', '--type', 'RSA_2048']);
    expect((await show(expect, ks, 'team')).KeySpec).toBe('RSA_2048');
    const pem = (await ok(expect, ks.run(['keys', 'export-public', 'team']))).stdout.toString('utf8');
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    expect(pem).not.toContain('PRIVATE');
    const pemFile = join(workdir(), 'team.pem');
    writeFileSync(pemFile, pem);

    const elsewhere = newKeystore();
    const message = await encrypted(expect, elsewhere, `raw-rsa:file=${pemFile},namespace=envelope-local,name=${keyId}/1`, 'for the team');
    expect(readdirSync(elsewhere.dir), 'the keystore-less path creates no keystore').toEqual([]);
    expect(await wrappedKeys(expect, message)).toEqual([{ providerId: 'envelope-local', keyName: `${keyId}/1` }]);
    await decryptsTo(expect, ks, message, 'for the team');
  });

  it.concurrent('keys export-public --version 1 prints the PEM of that version', async ({ expect }) => {
    const ks = newKeystore();
    await keygen(expect, ks, ['pub', '--type', 'RSA_2048']);
    const primary = (await ok(expect, ks.run(['keys', 'export-public', 'pub']))).stdout.toString('utf8');
    expect(primary).toContain('-----BEGIN PUBLIC KEY-----');
    const one = await ok(expect, ks.run(['keys', 'export-public', 'pub', '--version', '1']));
    expect(one.stdout.toString('utf8')).toBe(primary);
    await fails(expect, ks.run(['keys', 'export-public', 'pub', '--version', '2']), 2);
  });
});

// ---------------------------------------------------------------- policy

describe('key policy', () => {
  it.concurrent('keys policy --allow decrypt refuses encrypt with exit 7 and still decrypts', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['ro']);
    const message = await encrypted(expect, ks, 'ro', 'written before the policy');
    await ok(expect, ks.run(['keys', 'policy', 'ro', '--allow', 'decrypt']));
    const policy = JSON.parse((await ok(expect, ks.run(['keys', 'policy', 'ro', '--json']))).stdout.toString('utf8')) as { KeyId: string; Policy: Metadata['Policy'] };
    expect(policy).toEqual({ KeyId: keyId, Policy: { Allow: ['decrypt'], RequireContext: [] } });

    const refused = await fails(expect, encrypt(ks, 'ro', 'refused'), 7);
    expect(refused.stderr).toContain('policy');
    await decryptsTo(expect, ks, message, 'written before the policy');
  });

  it.concurrent('keys policy --require-context purpose=backup refuses uses without that pair (exit 7) and allows those with it; --reset restores', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['backup']);
    const untagged = await encrypted(expect, ks, 'backup', 'no context');
    const tagged = await encrypted(expect, ks, 'backup', 'for backup', ['-c', 'purpose=backup']);

    await ok(expect, ks.run(['keys', 'policy', 'backup', '--require-context', 'purpose=backup']));
    const policy = JSON.parse((await ok(expect, ks.run(['keys', 'policy', 'backup', '--json']))).stdout.toString('utf8')) as { KeyId: string; Policy: Metadata['Policy'] };
    expect(policy.KeyId).toBe(keyId);
    expect(policy.Policy.RequireContext).toEqual([{ key: 'purpose', value: 'backup' }]);
    expect(policy.Policy.Allow).toEqual(['encrypt', 'decrypt', 'generate-data-key', 're-encrypt', 'rotate', 'manage']);

    expect((await fails(expect, encrypt(ks, 'backup', 'no context'), 7)).stderr).toContain('purpose=backup');
    await fails(expect, encrypt(ks, 'backup', 'wrong value', ['-c', 'purpose=other']), 7);
    await fails(expect, ks.run(['decrypt'], { stdin: untagged }), 7);
    await decryptsTo(expect, ks, tagged, 'for backup');
    await decryptsTo(expect, ks, await encrypted(expect, ks, 'backup', 'allowed', ['-c', 'purpose=backup']), 'allowed');

    await ok(expect, ks.run(['keys', 'policy', 'backup', '--reset']));
    const reset = JSON.parse((await ok(expect, ks.run(['keys', 'policy', 'backup', '--json']))).stdout.toString('utf8')) as { Policy: Metadata['Policy'] };
    expect(reset.Policy).toEqual({ Allow: ['encrypt', 'decrypt', 'generate-data-key', 're-encrypt', 'rotate', 'manage'], RequireContext: [] });
    await decryptsTo(expect, ks, untagged, 'no context');
    await decryptsTo(expect, ks, await encrypted(expect, ks, 'backup', 'free again'), 'free again');
  });
});

// ---------------------------------------------------------------- passphrase

describe('a keystore protected by a passphrase', () => {
  /** Every output and file of a test, to check that a passphrase appears in none of them. */
  function transcript() {
    const seen: string[] = [];
    return {
      async run(args: readonly string[], options: RunOptions & { fd3?: string } = {}): Promise<CliResult> {
        const r = await runWithoutTerminal(args, options);
        seen.push(r.stdout.toString('utf8'), r.stderr);
        return r;
      },
      expectNowhere(expect: ExpectStatic, ks: string, secrets: readonly string[]): void {
        const files = [readFileSync(join(ks, 'keystore.json'), 'utf8'), readFileSync(join(ks, 'audit.log'), 'utf8')];
        for (const secret of secrets) {
          for (const text of [...seen, ...files]) expect(text.includes(secret), `"${secret}" leaked`).toBe(false);
        }
      },
    };
  }

  function passphrase(label: string): string {
    return `${label} ${randomBytes(6).toString('hex')}`;
  }

  it.concurrent('ENVELOPE_PASSPHRASE at the first keygen protects the keystore; a wrong one is exit 7 in one line; none and no terminal is exit 7 naming ENVELOPE_PASSPHRASE', async ({ expect }) => {
    const dir = workdir();
    const t = transcript();
    const secret = passphrase('correct horse');
    const wrong = passphrase('wrong horse');
    const created = await ok(expect, t.run(['--keystore', dir, 'keygen', 'vault'], { env: { ENVELOPE_PASSPHRASE: secret } }));
    expect(created.stdout.toString('utf8').trim()).toMatch(UUID);
    const info = JSON.parse((await ok(expect, t.run(['--keystore', dir, 'keystore', 'info', '--json']))).stdout.toString('utf8')) as {
      protection: string;
      kdf?: { N: number; r: number; p: number };
    };
    expect(info.protection).toBe('passphrase');
    expect(info.kdf).toMatchObject({ N: 2 ** 17, r: 8, p: 1 });

    const message = (await ok(expect, t.run(['--keystore', dir, 'encrypt', '-k', 'vault'], { stdin: 'locked away', env: { ENVELOPE_PASSPHRASE: secret } }))).stdout;
    const opened = await ok(expect, t.run(['--keystore', dir, 'decrypt'], { stdin: message, env: { ENVELOPE_PASSPHRASE: secret } }));
    expect(opened.stdout.toString('utf8')).toBe('locked away');

    const bad = await failsInOneLine(expect, t.run(['--keystore', dir, 'decrypt'], { stdin: message, env: { ENVELOPE_PASSPHRASE: wrong } }), 7);
    expect(bad.stderr).toContain('passphrase');
    const none = await fails(expect, t.run(['--keystore', dir, 'decrypt'], { stdin: message }), 7);
    expect(none.stderr).toContain('ENVELOPE_PASSPHRASE');
    await fails(expect, t.run(['--keystore', dir, 'encrypt', '-k', 'vault'], { stdin: 'x' }), 7);

    t.expectNowhere(expect, dir, [secret, wrong]);
  });

  it.concurrent('--passphrase-file and --passphrase-fd 3 unlock the keystore', async ({ expect }) => {
    const dir = workdir();
    const t = transcript();
    const secret = passphrase('fd and file');
    await ok(expect, t.run(['--keystore', dir, 'keygen', 'vault'], { env: { ENVELOPE_PASSPHRASE: secret } }));
    const file = join(workdir(), 'passphrase.txt');
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });

    const message = (await ok(expect, t.run(['--keystore', dir, 'encrypt', '-k', 'vault', '--passphrase-file', file], { stdin: 'by file' }))).stdout;
    const byFd = await ok(expect, t.run(['--keystore', dir, 'decrypt', '--passphrase-fd', '3'], { stdin: message, fd3: `${secret}\n` }));
    expect(byFd.stdout.toString('utf8')).toBe('by file');
    const byFile = await ok(expect, t.run(['--keystore', dir, '--passphrase-file', file, 'decrypt'], { stdin: message }));
    expect(byFile.stdout.toString('utf8')).toBe('by file');
    await fails(expect, t.run(['--keystore', dir, 'decrypt', '--passphrase-fd', '3'], { stdin: message, fd3: 'not it\n' }), 7);

    t.expectNowhere(expect, dir, [secret]);
  });

  it.concurrent('keystore change-passphrase, unprotect and protect (ENVELOPE_NEW_PASSPHRASE) keep the same keys usable', async ({ expect }) => {
    const dir = workdir();
    const t = transcript();
    const [first, second, third] = [passphrase('first'), passphrase('second'), passphrase('third')];
    const protection = async () =>
      (JSON.parse((await ok(expect, t.run(['--keystore', dir, 'keystore', 'info', '--json']))).stdout.toString('utf8')) as { protection: string }).protection;
    await ok(expect, t.run(['--keystore', dir, 'keygen', 'vault'], { env: { ENVELOPE_PASSPHRASE: first } }));
    const message = (await ok(expect, t.run(['--keystore', dir, 'encrypt', '-k', 'vault'], { stdin: 'same keys', env: { ENVELOPE_PASSPHRASE: first } }))).stdout;

    await ok(expect, t.run(['--keystore', dir, 'keystore', 'change-passphrase'], { env: { ENVELOPE_PASSPHRASE: first, ENVELOPE_NEW_PASSPHRASE: second } }));
    await fails(expect, t.run(['--keystore', dir, 'decrypt'], { stdin: message, env: { ENVELOPE_PASSPHRASE: first } }), 7);
    expect((await ok(expect, t.run(['--keystore', dir, 'decrypt'], { stdin: message, env: { ENVELOPE_PASSPHRASE: second } }))).stdout.toString('utf8')).toBe('same keys');

    await ok(expect, t.run(['--keystore', dir, 'keystore', 'unprotect'], { env: { ENVELOPE_PASSPHRASE: second } }));
    expect(await protection()).toBe('none');
    expect((await ok(expect, t.run(['--keystore', dir, 'decrypt'], { stdin: message }))).stdout.toString('utf8')).toBe('same keys');

    await ok(expect, t.run(['--keystore', dir, 'keystore', 'protect'], { env: { ENVELOPE_NEW_PASSPHRASE: third } }));
    expect(await protection()).toBe('passphrase');
    await fails(expect, t.run(['--keystore', dir, 'decrypt'], { stdin: message }), 7);
    expect((await ok(expect, t.run(['--keystore', dir, 'decrypt'], { stdin: message, env: { ENVELOPE_PASSPHRASE: third } }))).stdout.toString('utf8')).toBe('same keys');

    t.expectNowhere(expect, dir, [first, second, third]);
  });
});

// ---------------------------------------------------------------- tampering

describe('a keystore edited by hand', () => {
  it.concurrent("one base64 character changed in a version's sealed material: encrypt and decrypt are exit 5 in one line", async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['t']);
    const message = await encrypted(expect, ks, 't', 'sealed');
    const store = readStore(ks);
    const m = material(store, keyId, 1);
    const at = 20;
    m.sealed = m.sealed.slice(0, at) + (m.sealed[at] === 'A' ? 'B' : 'A') + m.sealed.slice(at + 1);
    writeStore(ks, store);

    await failsInOneLine(expect, encrypt(ks, 't', 'refused'), 5);
    await failsInOneLine(expect, ks.run(['decrypt'], { stdin: message }), 5);
  });

  it.concurrent('the material of version 1 and version 2 swapped: every use is exit 5', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['s']);
    const one = await encrypted(expect, ks, 's', 'one');
    await ok(expect, ks.run(['rotate', 's']));
    const two = await encrypted(expect, ks, 's', 'two');
    const store = readStore(ks);
    const versions = store.keys[keyId]!.Versions;
    [versions[0]!.Material, versions[1]!.Material] = [versions[1]!.Material, versions[0]!.Material];
    writeStore(ks, store);

    await failsInOneLine(expect, encrypt(ks, 's', 'refused'), 5);
    await failsInOneLine(expect, ks.run(['decrypt'], { stdin: one }), 5);
    await failsInOneLine(expect, ks.run(['decrypt'], { stdin: two }), 5);
  });

  it.concurrent('the material of two keys swapped: every use is exit 5', async ({ expect }) => {
    const ks = newKeystore();
    const a = await keygen(expect, ks, ['a']);
    const b = await keygen(expect, ks, ['b']);
    const message = await encrypted(expect, ks, 'a', 'under a');
    const store = readStore(ks);
    const [va, vb] = [store.keys[a]!.Versions[0]!, store.keys[b]!.Versions[0]!];
    [va.Material, vb.Material] = [vb.Material, va.Material];
    writeStore(ks, store);

    await failsInOneLine(expect, encrypt(ks, 'a', 'refused'), 5);
    await failsInOneLine(expect, encrypt(ks, 'b', 'refused'), 5);
    await failsInOneLine(expect, ks.run(['decrypt'], { stdin: message }), 5);
  });

  it.concurrent('a keystore.json that is not valid JSON is exit 5 for every command, and is not replaced', async ({ expect }) => {
    const ks = newKeystore();
    await keygen(expect, ks, ['m']);
    const message = await encrypted(expect, ks, 'm', 'unreadable store');
    const path = join(ks.dir, 'keystore.json');
    const broken = readFileSync(path, 'utf8').slice(0, 100);
    writeFileSync(path, broken);

    await failsInOneLine(expect, encrypt(ks, 'm', 'refused'), 5);
    await failsInOneLine(expect, ks.run(['keys', 'list']), 5);
    await failsInOneLine(expect, ks.run(['keygen', 'another']), 5);
    expect(readFileSync(path, 'utf8')).toBe(broken);
    await failsInOneLine(expect, ks.run(['decrypt'], { stdin: message }), 5);
  });
});

// ---------------------------------------------------------------- permissions

describe('file permissions of the keystore', () => {
  it.concurrent('a keystore directory with mode 755 is refused with exit 7 and a chmod 700 hint; --allow-insecure-permissions uses it', async ({ expect }) => {
    const ks = newKeystore();
    await keygen(expect, ks, ['p']);
    const message = await encrypted(expect, ks, 'p', 'private');
    chmodSync(ks.dir, 0o755);

    for (const pending of [encrypt(ks, 'p', 'refused'), ks.run(['decrypt'], { stdin: message }), ks.run(['keygen', 'q']), ks.run(['keys', 'list'])]) {
      const r = await fails(expect, pending, 7);
      expect(r.stderr).toContain(`chmod 700 ${ks.dir}`);
      expect(r.stderr).toContain('--allow-insecure-permissions');
    }
    const insecure = ['--allow-insecure-permissions'];
    await decryptsTo(expect, ks, message, 'private', insecure);
    await decryptsTo(expect, ks, await encrypted(expect, ks, 'p', 'anyway', insecure), 'anyway', insecure);
    await ok(expect, ks.run(['keygen', 'q', ...insecure]));
  });

  it.concurrent('keystore.json with mode 644 is refused with exit 7 and a chmod 600 hint; --allow-insecure-permissions uses it', async ({ expect }) => {
    const ks = newKeystore();
    await keygen(expect, ks, ['p']);
    const message = await encrypted(expect, ks, 'p', 'private');
    const file = join(ks.dir, 'keystore.json');
    chmodSync(file, 0o644);

    for (const pending of [encrypt(ks, 'p', 'refused'), ks.run(['decrypt'], { stdin: message })]) {
      const r = await fails(expect, pending, 7);
      expect(r.stderr).toContain(`chmod 600 ${file}`);
    }
    await decryptsTo(expect, ks, message, 'private', ['--allow-insecure-permissions']);
    await decryptsTo(expect, ks, await encrypted(expect, ks, 'p', 'anyway', ['--allow-insecure-permissions']), 'anyway', ['--allow-insecure-permissions']);
  });

  it.concurrent('a new keystore is created with mode 0700 and files 0600 even under umask 000', async ({ expect }) => {
    const dir = join(workdir(), 'nested', 'keystore');
    const keyId = (await ok(expect, runUnderUmask000(['--keystore', dir, 'keygen', 'u']))).stdout.toString('utf8').trim();
    expect(keyId).toMatch(UUID);
    await ok(expect, runUnderUmask000(['--keystore', dir, 'rotate', 'u']));
    await ok(expect, runUnderUmask000(['--keystore', dir, 'keys', 'disable', 'u']));
    expect(mode(dir)).toBe('700');
    expect(readdirSync(dir).sort()).toEqual(['audit.head', 'audit.log', 'keystore.json']);
    for (const file of readdirSync(dir)) expect([file, mode(join(dir, file))]).toEqual([file, '600']);
  });
});

// ---------------------------------------------------------------- audit

describe('the audit log', () => {
  const FIELDS = ['time', 'operation', 'keyId', 'version', 'contextKeys', 'outcome', 'error', 'user', 'pid', 'prev', 'hash'];

  /** A keystore with a few lines of audit log: create, use, decrypt, rotate, use. */
  async function auditedKeystore(expect: ExpectStatic): Promise<Ks> {
    const ks = newKeystore();
    await keygen(expect, ks, ['aud']);
    const message = await encrypted(expect, ks, 'aud', 'logged');
    await decryptsTo(expect, ks, message, 'logged');
    await ok(expect, ks.run(['rotate', 'aud']));
    await encrypted(expect, ks, 'aud', 'logged again');
    expect(auditLines(ks)).toHaveLength(5);
    await ok(expect, ks.run(['audit', '--verify']));
    return ks;
  }

  it.concurrent('after several operations audit --verify exits 0, and audit --json lines carry context keys but never their values', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['aud']);
    const value = `value-${randomBytes(6).toString('hex')}`;
    const message = await encrypted(expect, ks, 'aud', 'audited', ['-c', `department=${value}`]);
    await decryptsTo(expect, ks, message, 'audited');
    await ok(expect, ks.run(['rotate', 'aud']));
    await ok(expect, ks.run(['keys', 'alias', 'alias/other', 'aud']));
    await ok(expect, ks.run(['keys', 'disable', 'aud']));
    await ok(expect, ks.run(['keys', 'enable', 'aud']));

    const verified = await ok(expect, ks.run(['audit', '--verify']));
    expect(verified.stdout.length).toBe(0);
    const lines = (await ok(expect, ks.run(['audit', '--json']))).stdout.toString('utf8').trimEnd().split('\n');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.operation)).toEqual([
      'create-key',
      'generate-data-key',
      'decrypt',
      'rotate-key',
      'create-alias',
      'disable-key',
      'enable-key',
    ]);
    let prev = '0'.repeat(64);
    for (const r of records) {
      expect(Object.keys(r).filter((k) => !FIELDS.includes(k))).toEqual([]);
      expect(new Date(r.time as string).toISOString()).toBe(r.time);
      expect(r).toMatchObject({ keyId, outcome: 'success', user: expect.any(String), pid: expect.any(Number) });
      expect(r.prev).toBe(prev);
      expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
      prev = r.hash as string;
    }
    for (const use of records.filter((r) => r.operation === 'generate-data-key' || r.operation === 'decrypt')) {
      expect(use).toMatchObject({ version: 1, contextKeys: ['department'] });
    }
    const text = readFileSync(join(ks.dir, 'audit.log'), 'utf8');
    expect(text).toContain('department');
    expect(text).not.toContain(value);
  });

  it.concurrent('a refused use of a disabled key is logged with outcome failure and error key-access', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['off']);
    const message = await encrypted(expect, ks, 'off', 'x');
    await ok(expect, ks.run(['keys', 'disable', 'off']));
    await fails(expect, encrypt(ks, 'off', 'refused', ['-c', 'team=ops']), 7);
    await fails(expect, ks.run(['decrypt'], { stdin: message }), 7);

    const records = auditLines(ks).map((l) => JSON.parse(l) as Record<string, unknown>);
    const failures = records.filter((r) => r.outcome === 'failure');
    expect(failures).toEqual([
      expect.objectContaining({ operation: 'generate-data-key', keyId, contextKeys: ['team'], outcome: 'failure', error: 'key-access' }),
      expect.objectContaining({ operation: 'decrypt', keyId, outcome: 'failure', error: 'key-access' }),
    ]);
    await ok(expect, ks.run(['audit', '--verify']));
  });

  it.concurrent('no plaintext, data key, key material or context value ever reaches audit.log', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['x', '--exportable']);
    const plaintext = `plaintext-${randomBytes(8).toString('hex')}`;
    const value = `value-${randomBytes(8).toString('hex')}`;
    const message = await encrypted(expect, ks, 'x', plaintext, ['-c', `k=${value}`]);
    await decryptsTo(expect, ks, message, plaintext);
    const wrappingKey = Buffer.from((await ok(expect, ks.run(['keys', 'export', 'x']))).stdout.toString('utf8').trim(), 'base64');

    // The message's data key, recovered with the exported version.
    const decoded = decodeHeader(message, DEFAULT_LIMITS);
    expect(decoded).toBeDefined();
    const { header } = decoded!;
    const dataKey = Buffer.from(
      await new RawAesKeyring('envelope-local', `${keyId}/1`, wrappingKey).unwrap(header.encryptedDataKeys[0]!, { suite: header.suite, context: header.context }),
    );
    expect(dataKey).toHaveLength(32);

    const text = readFileSync(join(ks.dir, 'audit.log'), 'utf8');
    const head = readFileSync(join(ks.dir, 'audit.head'), 'utf8');
    for (const secret of [plaintext, value, ...[dataKey, wrappingKey].flatMap((b) => [b.toString('hex'), b.toString('base64'), b.toString('base64url')])]) {
      expect(text.includes(secret), `${secret} in audit.log`).toBe(false);
      expect(head.includes(secret), `${secret} in audit.head`).toBe(false);
    }
  });

  it.concurrent('an edited line makes audit --verify exit 5 naming that line', async ({ expect }) => {
    const ks = await auditedKeystore(expect);
    const lines = auditLines(ks);
    expect(lines[2]).toContain('"outcome":"success"');
    lines[2] = lines[2]!.replace('"outcome":"success"', '"outcome":"failure"');
    writeFileSync(join(ks.dir, 'audit.log'), `${lines.join('\n')}\n`);
    const r = await fails(expect, ks.run(['audit', '--verify']), 5);
    expect(r.stderr).toMatch(/\bline 3\b/);
  });

  it.concurrent('a deleted middle line makes audit --verify exit 5 naming where', async ({ expect }) => {
    const ks = await auditedKeystore(expect);
    const lines = auditLines(ks);
    lines.splice(2, 1);
    writeFileSync(join(ks.dir, 'audit.log'), `${lines.join('\n')}\n`);
    const r = await fails(expect, ks.run(['audit', '--verify']), 5);
    expect(r.stderr).toMatch(/\bline 3\b/);
  });

  it.concurrent('a deleted last line makes audit --verify exit 5', async ({ expect }) => {
    const ks = await auditedKeystore(expect);
    const copy = newKeystore(join(workdir(), 'copy'));
    cpSync(ks.dir, copy.dir, { recursive: true });
    const lines = auditLines(ks);
    writeFileSync(join(ks.dir, 'audit.log'), `${lines.slice(0, -1).join('\n')}\n`);
    await fails(expect, ks.run(['audit', '--verify']), 5);
    // The untouched copy still verifies.
    await ok(expect, copy.run(['audit', '--verify']));
  });
});

// ---------------------------------------------------------------- keys list, show, alias, rotate

describe('keys list, show, alias and rotation settings', () => {
  it.concurrent('keys list prints a table, and --json the KMS metadata of every key', async ({ expect }) => {
    const ks = newKeystore();
    const empty = await ok(expect, ks.run(['keys', 'list']));
    expect(empty.stdout.length).toBe(0);
    expect(empty.stderr).toContain('keygen');
    expect(JSON.parse((await ok(expect, ks.run(['keys', 'list', '--json']))).stdout.toString('utf8'))).toEqual({ Keys: [] });

    const a = await keygen(expect, ks, ['first']);
    const b = await keygen(expect, ks, ['second', '--origin', 'external']);
    const c = await keygen(expect, ks, []);
    const table = (await ok(expect, ks.run(['keys', 'list']))).stdout.toString('utf8').trimEnd().split('\n');
    expect(table[0]!.split(/\s{2,}/)).toEqual(['KEY ID', 'SPEC', 'STATE', 'PRIMARY', 'ALIASES']);
    expect(table.slice(1).map((row) => row.split(/\s+/))).toEqual(
      expect.arrayContaining([
        [a, 'AES_256', 'Enabled', 'v1', 'alias/first'],
        [b, 'AES_256', 'PendingImport', 'v0', 'alias/second'],
        [c, 'AES_256', 'Enabled', 'v1', '-'],
      ]),
    );
    expect(table).toHaveLength(4);

    const { Keys } = JSON.parse((await ok(expect, ks.run(['keys', 'list', '--json']))).stdout.toString('utf8')) as { Keys: Metadata[] };
    expect(Keys.map((k) => k.KeyId).sort()).toEqual([a, b, c].sort());
    expect(Keys.find((k) => k.KeyId === b)).toMatchObject({ KeyState: 'PendingImport', Origin: 'EXTERNAL', Aliases: ['alias/second'] });
  });

  it.concurrent('keys show prints KMS KeyMetadata field names with --json, and a readable form without', async ({ expect }) => {
    const ks = newKeystore();
    const before = Date.now();
    const keyId = await keygen(expect, ks, ['shown', '--description', 'for the tests', '--rotation-period', '365']);
    const meta = await show(expect, ks, 'shown');
    for (const field of ['KeyId', 'Arn', 'KeyState', 'KeySpec', 'KeyUsage', 'Origin', 'CreationDate', 'Description', 'KeyRotationStatus', 'Aliases', 'Versions']) {
      expect(meta).toHaveProperty(field);
    }
    const { keystoreId } = readStore(ks);
    expect(meta).toMatchObject({
      KeyId: keyId,
      Arn: `arn:envelope:local:${keystoreId}:key/${keyId}`,
      KeyState: 'Enabled',
      KeySpec: 'AES_256',
      KeyUsage: 'ENCRYPT_DECRYPT',
      Origin: 'ENVELOPE',
      Description: 'for the tests',
      KeyRotationStatus: { KeyRotationEnabled: true, RotationPeriodInDays: 365 },
      Aliases: ['alias/shown'],
      Versions: [expect.objectContaining({ Version: 1, Primary: true })],
    });
    expect(Math.abs(Date.parse(meta.CreationDate) - before)).toBeLessThan(60_000);
    expect(Math.abs(Date.parse(meta.KeyRotationStatus.NextRotationDate!) - (Date.parse(meta.CreationDate) + 365 * DAY_MS))).toBeLessThan(1000);

    const human = (await ok(expect, ks.run(['keys', 'show', keyId]))).stdout.toString('utf8');
    for (const text of [keyId, meta.Arn, 'alias/shown', 'AES_256', 'Enabled', 'for the tests', '365 days']) expect(human).toContain(text);
  });

  it.concurrent('keys alias points another alias at a key (encrypt works through it), moves it, and --delete removes it', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['named']);
    const otherId = await keygen(expect, ks, ['spare']);
    await ok(expect, ks.run(['keys', 'alias', 'alias/other', 'named']));
    expect((await show(expect, ks, keyId)).Aliases).toEqual(['alias/named', 'alias/other']);
    const message = await encrypted(expect, ks, 'alias/other', 'through another alias');
    expect(await wrappedKeys(expect, message)).toEqual([{ providerId: 'envelope-local', keyName: `${keyId}/1` }]);
    await decryptsTo(expect, ks, message, 'through another alias');

    await ok(expect, ks.run(['keys', 'alias', 'alias/other', otherId]));
    expect((await show(expect, ks, keyId)).Aliases).toEqual(['alias/named']);
    expect(await wrappedKeys(expect, await encrypted(expect, ks, 'alias/other', 'moved'))).toEqual([{ providerId: 'envelope-local', keyName: `${otherId}/1` }]);

    await ok(expect, ks.run(['keys', 'alias', 'alias/other', '--delete']));
    expect((await show(expect, ks, otherId)).Aliases).toEqual(['alias/spare']);
    const gone = await encrypt(ks, 'alias/other', 'no such alias');
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('alias/other');
    expect(readStore(ks).aliases).toEqual({ 'alias/named': keyId, 'alias/spare': otherId });
  });

  it.concurrent('keygen with an alias that already names a key fails with one error line and creates nothing', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['taken']);
    const before = readFileSync(join(ks.dir, 'keystore.json'), 'utf8');
    const r = await ks.run(['keygen', 'taken']);
    expect(r.code, describeRun(r)).not.toBe(0);
    expect(r.code, 'not an internal error').not.toBe(1);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('envelope: error: '))).toHaveLength(1);
    expect(r.stderr).toContain('alias/taken');
    expect(readFileSync(join(ks.dir, 'keystore.json'), 'utf8')).toBe(before);
    expect(Object.keys(readStore(ks).keys)).toEqual([keyId]);
  });

  it.concurrent('rotate --schedule 90, --status and --no-schedule manage automatic rotation; --schedule 30 is exit 2', async ({ expect }) => {
    const ks = newKeystore();
    const keyId = await keygen(expect, ks, ['auto']);
    const status = async () => JSON.parse((await ok(expect, ks.run(['rotate', 'auto', '--status', '--json']))).stdout.toString('utf8')) as Record<string, unknown>;
    expect(await status()).toEqual({ KeyId: keyId, KeyRotationEnabled: false, PrimaryVersion: 1 });
    expect((await ok(expect, ks.run(['rotate', 'auto', '--status']))).stdout.toString('utf8')).toContain('off');

    const before = Date.now();
    await ok(expect, ks.run(['rotate', 'auto', '--schedule', '90']));
    const on = await status();
    expect(on).toMatchObject({ KeyId: keyId, KeyRotationEnabled: true, RotationPeriodInDays: 90, PrimaryVersion: 1 });
    expect(Math.abs(Date.parse(on.NextRotationDate as string) - (before + 90 * DAY_MS))).toBeLessThan(60_000);
    expect((await ok(expect, ks.run(['rotate', 'auto', '--status']))).stdout.toString('utf8')).toContain('every 90 days');
    expect((await show(expect, ks, 'auto')).KeyRotationStatus).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90 });

    await fails(expect, ks.run(['rotate', 'auto', '--schedule', '30']), 2);
    await fails(expect, ks.run(['rotate', 'auto', '--schedule', '2561']), 2);
    expect((await status()).RotationPeriodInDays).toBe(90);

    await ok(expect, ks.run(['rotate', 'auto', '--no-schedule']));
    expect(await status()).toEqual({ KeyId: keyId, KeyRotationEnabled: false, PrimaryVersion: 1 });
    // Managing the schedule adds no version.
    expect((await show(expect, ks, 'auto')).Versions).toHaveLength(1);
  });
});

describe('a passphrase being typed does not hold the keystore lock', () => {
  it('while one process waits for its passphrase to rotate, another updates the keystore', async () => {
    const dir = join(workdir(), 'ks');
    const env = { ...CLEAN_ENV, ENVELOPE_PASSPHRASE: 'slow typist' };
    for (const args of [['keygen', 'a'], ['keygen', 'b']]) {
      expect((await runCli(['--keystore', dir, ...args], { env })).code).toBe(0);
    }
    // The passphrase comes on descriptor 3, which stays open and silent until we write it.
    const waiting = spawn(process.execPath, [ENVELOPE, '--keystore', dir, '--passphrase-fd', '3', 'rotate', 'a'], {
      env: { ...process.env, ...CLEAN_ENV },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => waiting.on('close', resolve));
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    const other = await runCli(['--keystore', dir, 'keys', 'disable', 'b'], { env: CLEAN_ENV });
    expect(other.code, other.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    (waiting.stdio[3] as Writable).end('slow typist\n');
    expect(await exited).toBe(0);
  }, 60_000);
});
