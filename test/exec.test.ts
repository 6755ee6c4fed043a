// envelope exec: a dotenv message decrypted into a command's environment, never
// onto disk; the command's exit status passed on, and signals too.

import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVELOPE, runCli, tempDir } from './helpers.js';

const dir = tempDir('envelope-exec-');
const env = { ENVELOPE_KEYSTORE: join(dir.path, 'ks') };
const DOTENV = 'DB_PASS="s3cret\\nline two"\nexport API_KEY=abc123 # comment\nEMPTY=\n';
let message: Buffer;

beforeAll(async () => {
  expect((await runCli(['keygen', 'app'], { env })).code).toBe(0);
  message = (await runCli(['encrypt', '-k', 'alias/app', '-c', 'app=web'], { env, stdin: DOTENV })).stdout;
  writeFileSync(join(dir.path, 'secrets.env.enc'), message);
});
afterAll(() => dir.cleanup());

const file = () => join(dir.path, 'secrets.env.enc');
const printEnv = (names: string[]) => ['node', '-e', `process.stdout.write(JSON.stringify([${names.map((n) => `process.env.${n}`).join(',')}]))`];

describe('envelope exec', () => {
  it('adds the decrypted variables to the environment of the command', async () => {
    const r = await runCli(['exec', file(), '--', ...printEnv(['DB_PASS', 'API_KEY', 'EMPTY', 'PATH'])], { env });
    expect(r.code).toBe(0);
    const [pass, api, empty, path] = JSON.parse(r.stdout.toString()) as string[];
    expect([pass, api, empty]).toEqual(['s3cret\nline two', 'abc123', '']);
    expect(path).toBe(process.env.PATH);
  });

  it('--pristine gives the command only the decrypted variables', async () => {
    const r = await runCli(['exec', '--pristine', file(), '--', process.execPath, '-e', 'process.stdout.write(Object.keys(process.env).sort().join(","))'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('API_KEY,DB_PASS,EMPTY');
  });

  it("passes on the command's exit status", async () => {
    for (const status of [0, 3, 42]) {
      expect((await runCli(['exec', file(), '--', 'sh', '-c', `exit ${status}`], { env })).code).toBe(status);
    }
  });

  it('requires context like decrypt: a mismatch is exit 5 and the command never runs', async () => {
    const marker = join(dir.path, 'ran');
    const r = await runCli(['exec', file(), '-c', 'app=other', '--', 'touch', marker], { env });
    expect(r.code).toBe(5);
    expect(readdirSync(dir.path)).not.toContain('ran');
    expect((await runCli(['exec', file(), '-c', 'app=web', '--', 'true'], { env })).code).toBe(0);
  });

  it('a tampered message is exit 5 and the command never runs', async () => {
    const bad = Buffer.from(message);
    bad[bad.length - 20]! ^= 1;
    const path = join(dir.path, 'bad.enc');
    writeFileSync(path, bad);
    const r = await runCli(['exec', path, '--', 'touch', join(dir.path, 'ran-bad')], { env });
    expect(r.code).toBe(5);
    expect(readdirSync(dir.path)).not.toContain('ran-bad');
  });

  it('a plaintext that is not dotenv is exit 4 naming the line, not its text', async () => {
    const path = join(dir.path, 'notenv.enc');
    writeFileSync(path, (await runCli(['encrypt', '-k', 'alias/app'], { env, stdin: 'A=1\nsecret-text-here\n' })).stdout);
    const r = await runCli(['exec', path, '--', 'true'], { env });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe('envelope: error: dotenv line 2: not KEY=VALUE\n');
  });

  it('a command that does not exist is exit 3', async () => {
    const r = await runCli(['exec', file(), '--', 'no-such-command-xyz'], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^envelope: error: cannot run no-such-command-xyz: no such file or directory\n$/);
  });

  it('a missing command is a usage error', async () => {
    expect((await runCli(['exec', file()], { env })).code).toBe(2);
  });

  it('forwards SIGTERM to the command and exits as it did', async () => {
    const child = spawn(process.execPath, [ENVELOPE, 'exec', file(), '--', process.execPath, '-e',
      'process.on("SIGTERM", () => { process.stdout.write("got it"); process.exit(9) }); setInterval(() => {}, 1000); process.stdout.write("ready")'], {
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out === 'ready') child.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(out).toBe('readygot it');
    expect(code).toBe(9);
  });
});

describe('decrypt --format', () => {
  it('dotenv: a valid file is written; an invalid one is exit 4 and nothing is written', async () => {
    const ok = await runCli(['decrypt', file(), '--format', 'dotenv', '-o', '-'], { env });
    expect(ok.code).toBe(0);
    expect(ok.stdout.toString()).toBe(DOTENV);
    const out = join(dir.path, 'json-out');
    const bad = await runCli(['decrypt', file(), '--format', 'json', '-o', out], { env });
    expect(bad.code).toBe(4);
    expect(readdirSync(dir.path)).not.toContain('json-out');
  });

  it('json: valid JSON passes', async () => {
    const path = join(dir.path, 'cfg.json.enc');
    writeFileSync(path, (await runCli(['encrypt', '-k', 'alias/app'], { env, stdin: '{"a": [1, 2]}' })).stdout);
    const r = await runCli(['decrypt', path, '--format', 'json', '-o', '-'], { env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toEqual({ a: [1, 2] });
  });
});
