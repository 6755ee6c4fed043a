// The single-file executable (npm run build:binary): built from the local Node
// offline, it runs the commands without node_modules or dist/ beside it. The
// AWS SDK and chalk are assets of the executable, compiled when first used:
// a KMS key and forced colors load them here.

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, workdirs } from './helpers.js';
import { startKmsServer } from './support/kms-server.js';

const workdir = workdirs('envelope-binary-');
let binary: string;
let dir: string;

beforeAll(() => {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-binary.mjs')], { stdio: 'pipe' });
  // Run a copy from elsewhere: it must not need the repository beside it.
  dir = workdir();
  binary = join(dir, 'envelope');
  copyFileSync(join(REPO_ROOT, 'dist', 'envelope'), binary);
}, 180_000);

function run(args: string[], stdin?: Buffer | string, env: Record<string, string> = {}) {
  const r = spawnSync(binary, args, { cwd: dir, input: stdin ?? '', env: { ...process.env, ENVELOPE_KEYSTORE: join(dir, 'ks'), ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

describe('single-file executable', () => {
  it('prints the version of package.json', () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe(`${version}\n`);
    expect(r.stderr).toBe('');
  });

  it('creates a key, encrypts and decrypts through pipes, and inspects', () => {
    expect(run(['keygen', 'demo']).code).toBe(0);
    const plaintext = Buffer.from('sealed by the single-file executable');
    const message = run(['encrypt', '-k', 'alias/demo', '-c', 'purpose=test'], plaintext);
    expect(message.code).toBe(0);
    const opened = run(['decrypt', '-c', 'purpose=test'], message.stdout);
    expect(opened.code).toBe(0);
    expect(opened.stdout.equals(plaintext)).toBe(true);
    const summary = run(['inspect', '--json'], message.stdout);
    expect(summary.code).toBe(0);
    expect(JSON.parse(summary.stdout.toString())).toMatchObject({ version: 2, suite: { id: '0x0478' }, encryptionContext: { purpose: 'test' } });
  });

  it('reads a YAML config, and names the problem with a JavaScript one', () => {
    writeFileSync(join(dir, '.enveloperc.yaml'), 'frameSize: 2K\n');
    const message = run(['encrypt', '-k', 'alias/demo'], 'x').stdout;
    expect(JSON.parse(run(['inspect', '--json'], message).stdout.toString()).frameLength).toBe(2048);
    unlinkSync(join(dir, '.enveloperc.yaml'));
    writeFileSync(join(dir, 'envelope.config.cjs'), 'module.exports = { frameSize: "2K" };');
    const r = run(['encrypt', '-k', 'alias/demo'], 'x');
    unlinkSync(join(dir, 'envelope.config.cjs'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^envelope: error: config .*envelope\.config\.cjs is JavaScript, which the single executable cannot load\n/);
  });

  it('wraps data keys with an AWS KMS key through the AWS SDK it carries', async () => {
    const kms = await startKmsServer();
    try {
      const { arn } = await kms.createKey();
      const { ENVELOPE_KEYSTORE: _, ...env } = kms.env();
      const plaintext = Buffer.from('sealed under a KMS key by the single-file executable');
      const message = run(['encrypt', '-k', arn], plaintext, env);
      expect(message.code, message.stderr).toBe(0);
      expect(kms.requests()).toMatchObject({ GenerateDataKey: 1 });
      const opened = run(['decrypt', '-k', arn], message.stdout, env);
      expect(opened.code, opened.stderr).toBe(0);
      expect(opened.stdout.equals(plaintext)).toBe(true);
      expect(kms.requests()).toMatchObject({ Decrypt: 1 });
    } finally {
      await kms.stop();
    }
  });

  it('colors its errors when asked to (FORCE_COLOR), and not otherwise', () => {
    const colored = run(['decrypt'], 'not a message', { FORCE_COLOR: '1' });
    expect(colored.code).toBe(4);
    expect(colored.stderr).toMatch(/^envelope: \x1b\[31m/);
    expect(run(['decrypt'], 'not a message').stderr).toMatch(/^envelope: error: /);
  });

  it('maps errors to the same exit codes', () => {
    expect(run(['decrypt'], 'not a message').code).toBe(4);
    expect(run(['encrypt', '--bogus']).code).toBe(2);
  });
});
