// Secrets hygiene through the real bin/envelope (DESIGN §3, §5, §6; SECURITY.md
// "Not yet verified": a scan of child environments and --debug output for key
// bytes). Known secrets are planted — a raw AES key, the material of a local key
// (made --exportable so that `keys export` tells us its bytes), a passphrase and a
// plaintext marker — and every output of a set of operations, failures included,
// with and without --debug, is searched for them, in every form we know.
//
// What the code promises:
//   passphrase.ts  the passphrase comes from ENVELOPE_PASSPHRASE, --passphrase-fd N,
//                  --passphrase-file PATH or a no-echo prompt; never argv.
//   protection.ts  key material is sealed (AES-256-GCM) in keystore.json.
//   audit.ts       the audit log holds key ids, versions and context KEYS only.
//   exec.ts        --pristine gives the command only the dotenv variables.
//   files.ts, output.ts  keystore files, their temporaries and plaintext outputs
//                  are created O_EXCL with mode 0600, whatever the umask.
//
// Not tested here: constant-time comparisons (reading the code is not a test).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, ENVELOPE, runCli, workdirs } from './helpers.js';

// ---------------------------------------------------------------- fixtures

const workdir = workdirs('envelope-secrets-');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Nothing leaks in from the developer's shell: no passphrase, no keystore. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  ENVELOPE_PASSPHRASE: undefined,
  ENVELOPE_NEW_PASSPHRASE: undefined,
  ENVELOPE_KEYSTORE: undefined,
  XDG_DATA_HOME: workdir(),
};

interface RunOptions {
  stdin?: string | Uint8Array;
  env?: NodeJS.ProcessEnv;
  /** Written to the child's descriptor 3 (a pipe), for --passphrase-fd 3. */
  fd3?: string;
  /** Runs under `sh -c 'umask 000; exec …'`. */
  umask000?: boolean;
  nodeArgs?: readonly string[];
  cwd?: string;
}

/** Runs bin/envelope without a controlling terminal (so it never prompts), as CLEAN_ENV plus `env`. */
function envelope(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return runCli(args, { ...options, env: { ...CLEAN_ENV, ...options.env }, detached: true, timeoutMs: 45_000 });
}

const describeRun = (r: CliResult) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}, stderr: ${JSON.stringify(r.stderr)}`;

async function ok(pending: Promise<CliResult>): Promise<CliResult> {
  const r = await pending;
  expect(r.code, describeRun(r)).toBe(0);
  return r;
}

/** A secret and every form in which it could leak. */
interface Secret {
  readonly name: string;
  readonly forms: readonly Buffer[];
}

function secretOf(name: string, bytes: Buffer, text = false): Secret {
  if (text) return { name, forms: [bytes] };
  const hex = bytes.toString('hex');
  const b64 = bytes.toString('base64');
  return {
    name,
    forms: [bytes, Buffer.from(hex), Buffer.from(hex.toUpperCase()), Buffer.from(b64), Buffer.from(b64.replace(/=+$/, '')), Buffer.from(bytes.toString('base64url'))],
  };
}

/** The names of the secrets found in `haystack`. */
function leaks(haystack: string | Buffer, secrets: readonly Secret[]): string[] {
  const bytes = typeof haystack === 'string' ? Buffer.from(haystack, 'utf8') : haystack;
  return secrets.filter((s) => s.forms.some((f) => bytes.includes(f))).map((s) => s.name);
}

let ks: string;
let files: string;
let passphrase: string;
let wrongPassphrase: string;
let marker: string;
let contextValue: string;
let plaintext: string;
let rawKey: Buffer;
let material: Buffer;
let keys: { raw: string; hex: string; base64: string; wrong: string; malformed: string };
let messages: { local: string; raw: string; tampered: string; notJson: string; notDotenv: string };
let secrets: {
  rawKey: Secret;
  material: Secret;
  passphrase: Secret;
  wrongPassphrase: Secret;
  marker: Secret;
  contextValue: Secret;
};
let all: Secret[];

/** Runs against the protected keystore with the right passphrase, unless `env` says otherwise. */
const withKs = (args: readonly string[], options: RunOptions = {}) =>
  envelope(['--keystore', ks, ...args], { ...options, env: { ENVELOPE_PASSPHRASE: passphrase, ...options.env } });

beforeAll(async () => {
  files = workdir();
  ks = join(workdir(), 'ks');
  passphrase = `correct horse ${randomBytes(8).toString('hex')}`;
  wrongPassphrase = `wrong horse ${randomBytes(8).toString('hex')}`;
  marker = `PLAINTEXT-MARKER-${randomBytes(8).toString('hex')}`;
  contextValue = `context-value-${randomBytes(8).toString('hex')}`;
  plaintext = `APP_SECRET=${marker}\nOTHER=plain\n`;

  rawKey = randomBytes(32);
  const file = (name: string, data: string | Buffer) => {
    const path = join(files, name);
    writeFileSync(path, data, { mode: 0o600 });
    return path;
  };
  const aes = (path: string) => `raw-aes:file=${path},namespace=hygiene,name=aes-1`;
  keys = {
    raw: aes(file('aes.key', rawKey)),
    hex: aes(file('aes.hex', `${rawKey.toString('hex')}\n`)),
    base64: aes(file('aes.b64', `${rawKey.toString('base64')}\n`)),
    wrong: aes(file('wrong.key', randomBytes(32))),
    // 33 bytes as hex: refused; its text holds the whole key's hex, so an echo of it is found.
    malformed: aes(file('malformed.hex', `${rawKey.toString('hex')}00\n`)),
  };

  await ok(withKs(['keygen', 'app', '--exportable']));
  await ok(withKs(['keygen', 'sealed']));
  const exported = await ok(withKs(['keys', 'export', 'alias/app']));
  material = Buffer.from(exported.stdout.toString('utf8').trim(), 'base64');
  expect(material.length).toBe(32);

  const encrypt = async (name: string, args: readonly string[], text: string) => {
    const path = join(files, name);
    await ok(withKs(['encrypt', ...args, '-o', path], { stdin: text }));
    return path;
  };
  messages = {
    local: await encrypt('local.enc', ['-k', 'alias/app', '-c', `purpose=${contextValue}`], plaintext),
    raw: await encrypt('raw.enc', ['-k', keys.raw], plaintext),
    tampered: '',
    notJson: await encrypt('not-json.enc', ['-k', 'alias/app'], `{"value": ${marker}}`),
    notDotenv: await encrypt('not-dotenv.enc', ['-k', 'alias/app'], `GOOD=1\n${marker} is not a dotenv line\n`),
  };
  const bad = readFileSync(messages.local);
  bad[bad.length - 40]! ^= 0x01;
  messages.tampered = file('tampered.enc', bad);

  secrets = {
    rawKey: secretOf('raw AES key', rawKey),
    material: secretOf('local key material', material),
    passphrase: secretOf('passphrase', Buffer.from(passphrase), true),
    wrongPassphrase: secretOf('wrong passphrase', Buffer.from(wrongPassphrase), true),
    marker: secretOf('plaintext marker', Buffer.from(marker), true),
    contextValue: secretOf('context value', Buffer.from(contextValue), true),
  };
  all = [secrets.rawKey, secrets.material, secrets.passphrase, secrets.wrongPassphrase, secrets.marker];
});

// ---------------------------------------------------------------- passphrases: never argv

describe('passphrases are never taken from argv', () => {
  it('there is no --passphrase flag: `envelope --passphrase x keys list` is exit 2, unknown option, and x is not echoed', async () => {
    const secret = `argv-secret-${randomBytes(6).toString('hex')}`;
    for (const args of [
      ['--passphrase', secret, 'keys', 'list'],
      ['keys', 'list', '--passphrase', secret],
      ['--passphrase', secret, 'decrypt'],
    ]) {
      const r = await envelope(['--keystore', join(workdir(), 'none'), ...args]);
      expect(r.code, describeRun(r)).toBe(2);
      expect(r.stderr).toMatch(/^envelope: error: unknown option '--passphrase'/);
      expect(r.stderr).not.toContain(secret);
      expect(r.stdout.length).toBe(0);
    }
  });

  it('a passphrase given as --passphrase=VALUE by mistake is refused (exit 2) without echoing VALUE on stderr', async () => {
    const secret = `argv-secret-${randomBytes(6).toString('hex')}`;
    for (const args of [
      [`--passphrase=${secret}`, 'keys', 'list'],
      ['keys', 'list', `--passphrase=${secret}`],
    ]) {
      const r = await envelope(['--keystore', join(workdir(), 'none'), ...args]);
      expect(r.code, describeRun(r)).toBe(2);
      expect(r.stderr, 'the passphrase is echoed back on stderr (and so into CI logs)').not.toContain(secret);
    }
  });

  it('the documented sources work: ENVELOPE_PASSPHRASE, --passphrase-fd 3, --passphrase-file; a wrong one by each is exit 7', async () => {
    const file = join(workdir(), 'passphrase.txt');
    writeFileSync(file, `${passphrase}\n`, { mode: 0o600 });
    const wrongFile = join(workdir(), 'wrong.txt');
    writeFileSync(wrongFile, `${wrongPassphrase}\n`, { mode: 0o600 });
    const message = readFileSync(messages.local);
    const noEnv = { ENVELOPE_PASSPHRASE: undefined };
    const runs = await Promise.all([
      withKs(['decrypt'], { stdin: message }),
      withKs(['--passphrase-fd', '3', 'decrypt'], { stdin: message, fd3: `${passphrase}\n`, env: noEnv }),
      withKs(['--passphrase-file', file, 'decrypt'], { stdin: message, env: noEnv }),
    ]);
    for (const r of runs) {
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.stdout.toString('utf8')).toBe(plaintext);
    }
    const wrong = await Promise.all([
      withKs(['decrypt'], { stdin: message, env: { ENVELOPE_PASSPHRASE: wrongPassphrase } }),
      withKs(['--passphrase-fd', '3', 'decrypt'], { stdin: message, fd3: `${wrongPassphrase}\n`, env: noEnv }),
      withKs(['--passphrase-file', wrongFile, 'decrypt'], { stdin: message, env: noEnv }),
      withKs(['decrypt'], { stdin: message, env: noEnv }),
    ]);
    for (const r of wrong) {
      expect(r.code, describeRun(r)).toBe(7);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toMatch(/^envelope: error: /);
      expect(leaks(r.stderr, all)).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------- planted secrets, searched for

interface Step {
  readonly label: string;
  readonly args: readonly string[];
  readonly options?: RunOptions;
  readonly code: number;
  /** Secrets this command is meant to print on stdout (decrypt prints the plaintext). */
  readonly stdoutMayHold?: readonly (keyof typeof secrets)[];
}

interface Seen {
  readonly step: Step;
  readonly debug: boolean;
  readonly r: CliResult;
}

describe('planted secrets appear in no output, log or keystore file', () => {
  const seen: Seen[] = [];

  function steps(): { before: Step[]; disabled: Step[]; after: Step[] } {
    const bytes = readFileSync(messages.local);
    const noEnv = { ENVELOPE_PASSPHRASE: undefined };
    return {
      before: [
        { label: 'encrypt -k alias/app -c purpose=V', args: ['encrypt', '-k', 'alias/app', '-c', `purpose=${contextValue}`], options: { stdin: plaintext }, code: 0 },
        { label: 'encrypt -k raw-aes (raw bytes)', args: ['encrypt', '-k', keys.raw], options: { stdin: plaintext }, code: 0 },
        { label: 'encrypt --armor -k raw-aes (hex)', args: ['encrypt', '--armor', '-k', keys.hex], options: { stdin: plaintext }, code: 0 },
        { label: 'encrypt --sign -k raw-aes (base64) -k alias/app', args: ['encrypt', '--sign', '-k', keys.base64, '-k', 'alias/app'], options: { stdin: plaintext }, code: 0 },
        { label: 'inspect', args: ['inspect', messages.local], code: 0 },
        { label: 'inspect --json', args: ['inspect', '--json', messages.raw], code: 0 },
        { label: 'decrypt (local key)', args: ['decrypt', messages.local, '-o', '-'], code: 0, stdoutMayHold: ['marker'] },
        { label: 'decrypt -k raw-aes (base64)', args: ['decrypt', '-k', keys.base64, messages.raw, '-o', '-'], code: 0, stdoutMayHold: ['marker'] },
        { label: 're-encrypt --to raw-aes', args: ['re-encrypt', messages.local, '--to', keys.hex, '-o', '-'], code: 0 },
        { label: 'kms encrypt', args: ['kms', 'encrypt', '--key-id', 'alias/app'], options: { stdin: marker }, code: 0 },
        { label: 'keys list --json', args: ['keys', 'list', '--json'], code: 0 },
        { label: 'keys show --json', args: ['keys', 'show', 'alias/app', '--json'], code: 0 },
        { label: 'keystore info --json', args: ['keystore', 'info', '--json'], code: 0 },
        { label: 'keys export (exportable)', args: ['keys', 'export', 'alias/app'], code: 0, stdoutMayHold: ['material'] },
        // failures
        { label: 'decrypt with the wrong raw key', args: ['decrypt', '-k', keys.wrong, messages.raw, '-o', '-'], code: 6 },
        { label: 'decrypt a tampered message', args: ['decrypt', messages.tampered, '-o', '-'], code: 5 },
        { label: 'decrypt --buffer a tampered message', args: ['decrypt', '--buffer', messages.tampered, '-o', '-'], code: 5 },
        { label: 'decrypt with a context requirement not met', args: ['decrypt', '-c', 'purpose=other', messages.local, '-o', '-'], code: 5 },
        { label: 'decrypt with the wrong passphrase', args: ['decrypt', messages.local, '-o', '-'], options: { env: { ENVELOPE_PASSPHRASE: wrongPassphrase } }, code: 7 },
        { label: 'decrypt with the wrong passphrase on fd 3', args: ['--passphrase-fd', '3', 'decrypt'], options: { stdin: bytes, fd3: `${wrongPassphrase}\n`, env: noEnv }, code: 7 },
        { label: 'decrypt with no passphrase', args: ['decrypt', messages.local, '-o', '-'], options: { env: noEnv }, code: 7 },
        { label: 'decrypt --format json of a non-JSON plaintext', args: ['decrypt', '--format', 'json', messages.notJson, '-o', '-'], code: 4 },
        { label: 'decrypt --format dotenv of a non-dotenv plaintext', args: ['decrypt', '--format', 'dotenv', messages.notDotenv, '-o', '-'], code: 4 },
        { label: 'exec of a non-dotenv plaintext', args: ['exec', messages.notDotenv, '--', 'true'], code: 4 },
        { label: 'encrypt with a malformed raw key file', args: ['encrypt', '-k', keys.malformed], options: { stdin: plaintext }, code: 2 },
        { label: 'keys export of a key that is not exportable', args: ['keys', 'export', 'alias/sealed'], code: 2 },
        { label: 'kms decrypt of garbage', args: ['kms', 'decrypt'], options: { stdin: randomBytes(64) }, code: 4 },
      ],
      disabled: [
        { label: 'decrypt with a disabled key', args: ['decrypt', messages.local, '-o', '-'], code: 7 },
        { label: 'encrypt with a disabled key', args: ['encrypt', '-k', 'alias/app'], options: { stdin: plaintext }, code: 7 },
        { label: 'exec with a disabled key', args: ['exec', messages.local, '--', 'true'], code: 7 },
      ],
      after: [
        { label: 'audit', args: ['audit'], code: 0 },
        { label: 'audit --json', args: ['audit', '--json'], code: 0 },
        { label: 'audit --verify', args: ['audit', '--verify'], code: 0 },
      ],
    };
  }

  /** Runs each step with and without --debug, two at a time. */
  async function runAll(list: readonly Step[]): Promise<void> {
    const queue = list.flatMap((step) => [false, true].map((debug) => ({ step, debug })));
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { step, debug } = next;
        const r = await withKs([...(debug ? ['--debug'] : []), ...step.args], step.options);
        seen.push({ step, debug, r });
      }
    };
    await Promise.all([worker(), worker()]);
  }

  beforeAll(async () => {
    const { before, disabled, after } = steps();
    await runAll(before);
    await ok(withKs(['keys', 'disable', 'alias/app']));
    await runAll(disabled);
    await ok(withKs(['keys', 'enable', 'alias/app']));
    await runAll(after);
  }, 120_000);

  it('every step ended with its expected exit status (so the search below covers what it claims to)', () => {
    const wrong = seen.filter(({ step, r }) => r.code !== step.code).map(({ step, debug, r }) => `${step.label}${debug ? ' --debug' : ''}: ${describeRun(r)}`);
    expect(wrong).toEqual([]);
    // --debug really printed stack traces for the failures.
    const traces = seen.filter(({ step, debug, r }) => debug && step.code !== 0 && /^\s+at /m.test(r.stderr));
    expect(traces.length).toBeGreaterThan(10);
  });

  it('stderr of every run, with and without --debug (stack traces included), holds none of the secrets', () => {
    const found = seen.flatMap(({ step, debug, r }) => leaks(r.stderr, all).map((name) => `${name} in stderr of ${step.label}${debug ? ' --debug' : ''}`));
    expect(found).toEqual([]);
  });

  it('without --debug, no failure prints a stack trace', () => {
    const traced = seen.filter(({ debug, r }) => !debug && /^\s+at /m.test(r.stderr)).map(({ step }) => step.label);
    expect(traced).toEqual([]);
  });

  it('stdout holds only what the command is meant to print (the plaintext on decrypt, the material on keys export), never a key or a passphrase otherwise', () => {
    const found = seen.flatMap(({ step, debug, r }) => {
      const allowed = new Set((step.stdoutMayHold ?? []).map((k) => secrets[k].name));
      return leaks(r.stdout, all)
        .filter((name) => !allowed.has(name))
        .map((name) => `${name} on stdout of ${step.label}${debug ? ' --debug' : ''}`);
    });
    expect(found).toEqual([]);
    // And failures print nothing at all on stdout.
    const failedWithOutput = seen.filter(({ step, r }) => step.code !== 0 && r.stdout.length > 0).map(({ step }) => step.label);
    expect(failedWithOutput).toEqual([]);
  });

  it('the audit log and its head hold no secret and no context value, and record the failures', () => {
    const log = readFileSync(join(ks, 'audit.log'));
    const head = readFileSync(join(ks, 'audit.head'));
    expect(leaks(log, [...all, secrets.contextValue])).toEqual([]);
    expect(leaks(head, [...all, secrets.contextValue])).toEqual([]);
    const records = log
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { outcome: string; contextKeys?: string[] });
    expect(records.some((r) => r.outcome === 'failure')).toBe(true);
    expect(records.some((r) => r.contextKeys?.includes('purpose'))).toBe(true);
  });

  it('the material of a Disabled or PendingDeletion key is not exported: exit 7, nothing on stdout (DESIGN §3: a Disabled key refuses every operation)', async () => {
    const made = await ok(withKs(['keygen', 'paused', '--exportable']));
    const id = made.stdout.toString('utf8').trim();
    const material = secretOf('paused key material', Buffer.from((await ok(withKs(['keys', 'export', id]))).stdout.toString('utf8').trim(), 'base64'));
    await ok(withKs(['keys', 'disable', id]));
    const disabled = await withKs(['keys', 'export', id]);
    await ok(withKs(['keys', 'delete', id, '--days', '7']));
    const pending = await withKs(['keys', 'export', id]);
    const outcome = (r: CliResult) => ({ code: r.code, stdoutHoldsMaterial: leaks(r.stdout, [material]).length > 0 });
    expect({ disabled: outcome(disabled), pendingDeletion: outcome(pending) }).toEqual({
      disabled: { code: 7, stdoutHoldsMaterial: false },
      pendingDeletion: { code: 7, stdoutHoldsMaterial: false },
    });
  });

  it('keystore.json (and every other file of the keystore) holds the material sealed: not its bytes, hex or base64, and not the passphrase', () => {
    const names = readdirSync(ks);
    expect(names).toContain('keystore.json');
    for (const name of names) {
      const found = leaks(readFileSync(join(ks, name)), [...all, secrets.contextValue]);
      expect(found, name).toEqual([]);
    }
    const store = JSON.parse(readFileSync(join(ks, 'keystore.json'), 'utf8')) as { protection: { kind: string } };
    expect(store.protection.kind).toBe('passphrase');
  });
});

// ---------------------------------------------------------------- exec's child environment

describe('the environment of an exec child', () => {
  /** A child that prints its environment. */
  const reporter = [process.execPath, '-e', 'process.stdout.write(JSON.stringify({ env: process.env }))'];

  async function childEnv(args: readonly string[], options: RunOptions = {}): Promise<Record<string, string>> {
    const r = await withKs([...args, '--', ...reporter], options);
    expect(r.code, describeRun(r)).toBe(0);
    return (JSON.parse(r.stdout.toString('utf8')) as { env: Record<string, string> }).env;
  }

  it('--pristine: only the dotenv variables, and none of the keystore secrets', async () => {
    const env = await childEnv(['exec', '--pristine', messages.local], { env: { PARENT_ONLY: 'parent' } });
    expect(Object.keys(env).sort()).toEqual(['APP_SECRET', 'OTHER']);
    expect(env.APP_SECRET).toBe(marker);
    expect(leaks(JSON.stringify(env), [secrets.rawKey, secrets.material, secrets.passphrase])).toEqual([]);
  });

  it('without --pristine: the parent environment and the dotenv variables (dotenv wins)', async () => {
    const env = await childEnv(['exec', messages.local], { env: { PARENT_ONLY: 'parent', OTHER: 'from the parent' } });
    expect(env.PARENT_ONLY).toBe('parent');
    expect(env.APP_SECRET).toBe(marker);
    expect(env.OTHER).toBe('plain');
  });

  it('the keystore passphrase (ENVELOPE_PASSPHRASE, ENVELOPE_NEW_PASSPHRASE) is not passed on to the exec child', async () => {
    const env = await childEnv(['exec', messages.local], { env: { ENVELOPE_NEW_PASSPHRASE: wrongPassphrase } });
    expect(Object.keys(env).filter((k) => k === 'ENVELOPE_PASSPHRASE' || k === 'ENVELOPE_NEW_PASSPHRASE')).toEqual([]);
    expect(leaks(JSON.stringify(env), [secrets.passphrase, secrets.wrongPassphrase])).toEqual([]);
  });

  it('the --passphrase-fd descriptor is not inherited by the exec child', async () => {
    const r = await withKs(['--passphrase-fd', '3', 'exec', messages.local, '--', 'sh', '-c', '(exec 4<&3) 2>/dev/null && echo open || echo closed'], {
      fd3: `${passphrase}\n`,
      env: { ENVELOPE_PASSPHRASE: undefined },
    });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout.toString('utf8').trim()).toBe('closed');
  });
});

// ---------------------------------------------------------------- file modes

// A preload that records, in the real process, every open of a temporary file
// (its flags and mode) and, at each link/rename that publishes one, the mode of
// every file in the target directory at that moment: the temporaries are caught
// mid-write, complete but not yet in place.
const MODE_HOOK = `
import fs from 'node:fs';
import path from 'node:path';
import { syncBuiltinESMExports } from 'node:module';
const log = process.env.ENVELOPE_TEST_MODE_LOG;
const record = (entry) => fs.appendFileSync(log, JSON.stringify(entry) + '\\n');
const snapshot = (op, from, to) => {
  const dir = path.dirname(String(to));
  const files = {};
  for (const name of fs.readdirSync(dir)) {
    try { files[name] = fs.lstatSync(path.join(dir, name)).mode & 0o7777; } catch {}
  }
  record({ op, from: String(from), to: String(to), files });
};
// Both kinds: the keystore's files are written with synchronous calls, outputs with fs.promises.
for (const [api, names] of [[fs.promises, ['open', 'rename', 'link']], [fs, ['openSync', 'renameSync', 'linkSync']]]) {
  const [open, rename, link] = names.map((name) => api[name]);
  api[names[0]] = function (file, flags, mode) {
    if (/\\.tmp$/.test(String(file))) record({ op: 'open', file: String(file), flags, mode });
    return open.apply(this, arguments);
  };
  api[names[1]] = function (from, to) { snapshot('rename', from, to); return rename.apply(this, arguments); };
  api[names[2]] = function (from, to) { snapshot('link', from, to); return link.apply(this, arguments); };
}
syncBuiltinESMExports();
`;

interface ModeRecord {
  op: 'open' | 'rename' | 'link';
  file?: string;
  flags?: string | number;
  mode?: number;
  from?: string;
  to?: string;
  files?: Record<string, number>;
}

describe('files are created 0600 (O_EXCL) whatever the umask (run under umask 000)', () => {
  let hook: string[];
  beforeAll(() => {
    const path = join(workdir(), 'mode-hook.mjs');
    writeFileSync(path, MODE_HOOK);
    hook = ['--import', pathToFileURL(path).href];
  });

  const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');
  const modeOf = (path: string) => octal(statSync(path).mode);
  const readLog = (log: string): ModeRecord[] =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .trimEnd()
          .split('\n')
          .map((l) => JSON.parse(l) as ModeRecord)
      : [];
  const exclusive = (flags: string | number | undefined) =>
    typeof flags === 'string' ? flags.includes('x') : typeof flags === 'number' && (flags & 0o200) !== 0 && (flags & 0o100) !== 0;

  it('a new protected keystore, its key, a rotation and an export: dir 0700, keystore.json, audit.log, audit.head, the lock and every temporary 0600', async () => {
    const store = join(workdir(), 'ks');
    const log = join(workdir(), 'modes.jsonl');
    const opts = { umask000: true, nodeArgs: hook, env: { ENVELOPE_PASSPHRASE: passphrase, ENVELOPE_TEST_MODE_LOG: log } };
    await ok(envelope(['--keystore', store, 'keygen', 'k', '--exportable'], opts));
    await ok(envelope(['--keystore', store, 'rotate', 'k'], opts));
    const exported = join(workdir(), 'material.key');
    await ok(envelope(['--keystore', store, 'keys', 'export', 'alias/k', '-o', exported], opts));

    expect(modeOf(store)).toBe('0700');
    const names = readdirSync(store).sort();
    expect(names).toEqual(['audit.head', 'audit.log', 'keystore.json']);
    expect(Object.fromEntries(names.map((n) => [n, modeOf(join(store, n))]))).toEqual({
      'audit.head': '0600',
      'audit.log': '0600',
      'keystore.json': '0600',
    });
    expect(modeOf(exported)).toBe('0600');

    const records = readLog(log);
    const opens = records.filter((r) => r.op === 'open');
    // Caught mid-write: the keystore.json and audit.head temporaries and the lock's draft.
    expect(opens.some((r) => /\/\.keystore\.json\.[0-9a-f]+\.tmp$/.test(r.file!))).toBe(true);
    expect(opens.some((r) => /\/\.audit\.head\.[0-9a-f]+\.tmp$/.test(r.file!))).toBe(true);
    expect(opens.some((r) => /keystore\.lock\.[0-9a-f]+\.tmp$/.test(r.file!))).toBe(true);
    expect(opens.filter((r) => !exclusive(r.flags) || r.mode !== 0o600).map((r) => `${r.file} ${String(r.flags)} ${r.mode}`)).toEqual([]);
    const published = records.filter((r) => r.op !== 'open');
    expect(published.some((r) => Object.keys(r.files!).some((n) => n.endsWith('.tmp')))).toBe(true);
    expect(published.some((r) => 'keystore.lock' in r.files!)).toBe(true);
    // Every file beside a keystore file or the exported key, at each publication.
    const loose = published.flatMap((r) =>
      Object.entries(r.files!)
        .filter(([, mode]) => mode !== 0o600)
        .map(([name, mode]) => `${name} ${octal(mode)} at ${r.op} to ${r.to}`),
    );
    expect(loose).toEqual([]);
    expect(readdirSync(store).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('decrypt -o FILE: the temporary is 0600 while it is written (caught from outside, mid-stream) and the output 0600; --force over a 0644 file gives 0600', async () => {
    const cwd = workdir();
    const message = readFileSync(messages.raw);
    // Fed slowly: the temporary exists while stdin stays open.
    const child = spawn('sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, ENVELOPE, 'decrypt', '-k', keys.raw, '-o', 'out'], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ...CLEAN_ENV },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stdin.write(message.subarray(0, 100));
    const deadline = Date.now() + 20_000;
    const temporaries = () => readdirSync(cwd).filter((n) => /^\.out\..*\.tmp$/.test(n));
    while (temporaries().length === 0 && Date.now() < deadline && child.exitCode === null) await sleep(10);
    expect(temporaries(), stderr).toHaveLength(1);
    expect(modeOf(join(cwd, temporaries()[0]!))).toBe('0600');
    child.stdin.end(message.subarray(100));
    expect(await closed, stderr).toBe(0);
    expect(readdirSync(cwd)).toEqual(['out']);
    expect(modeOf(join(cwd, 'out'))).toBe('0600');
    expect(readFileSync(join(cwd, 'out'), 'utf8')).toBe(plaintext);

    // --force over an existing world-readable file: replaced by a 0600 one.
    const log = join(workdir(), 'modes.jsonl');
    writeFileSync(join(cwd, 'existing'), 'old', { mode: 0o644 });
    await ok(
      envelope(['decrypt', '--force', '-k', keys.raw, '-o', join(cwd, 'existing'), messages.raw], {
        umask000: true,
        nodeArgs: hook,
        env: { ENVELOPE_TEST_MODE_LOG: log },
      }),
    );
    expect(modeOf(join(cwd, 'existing'))).toBe('0600');
    const records = readLog(log);
    expect(records.filter((r) => r.op === 'open').map((r) => [exclusive(r.flags), r.mode])).toEqual([[true, 0o600]]);
    const atRename = records.find((r) => r.op === 'rename')!;
    const temp = Object.entries(atRename.files!).filter(([n]) => n.endsWith('.tmp'));
    expect(temp.map(([, mode]) => octal(mode))).toEqual(['0600']);
    expect(readdirSync(cwd).sort()).toEqual(['existing', 'out']);
  });

  it('an output path that is a symbolic link is replaced with --force, never written through', async () => {
    const cwd = workdir();
    const victim = join(workdir(), 'victim');
    writeFileSync(victim, 'victim contents', { mode: 0o644 });
    symlinkSync(victim, join(cwd, 'out'));
    const refused = await envelope(['decrypt', '-k', keys.raw, '-o', join(cwd, 'out'), messages.raw], { umask000: true });
    expect(refused.code, describeRun(refused)).toBe(3);
    await ok(envelope(['decrypt', '--force', '-k', keys.raw, '-o', join(cwd, 'out'), messages.raw], { umask000: true }));
    expect(readFileSync(victim, 'utf8')).toBe('victim contents');
    expect(lstatSync(join(cwd, 'out')).isFile()).toBe(true);
    expect(modeOf(join(cwd, 'out'))).toBe('0600');
  });
});
