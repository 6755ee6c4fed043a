// Configuration files: where they are found, what they may say, and how they
// rank against the environment and flags.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findConfigFile, loadConfig, validateConfig } from '../src/cli/config.js';
import { discoveryKeyrings, kmsServices, kmsSettings } from '../src/cli/kms-options.js';
import { UsageError } from '../src/errors.js';
import { runCli, tempDir } from './helpers.js';

const dirs: (() => void)[] = [];
afterAll(() => dirs.forEach((c) => c()));
function tree(): string {
  const t = tempDir('envelope-config-');
  dirs.push(t.cleanup);
  mkdirSync(join(t.path, 'home', 'project', 'sub'), { recursive: true });
  return t.path;
}

describe('finding the config file', () => {
  it('searches from the working directory up to the home directory, nearest first', () => {
    const root = tree();
    const home = join(root, 'home');
    writeFileSync(join(home, '.enveloperc.json'), '{"frameSize": "1K"}');
    expect(findConfigFile(join(home, 'project', 'sub'), home)).toBe(join(home, '.enveloperc.json'));
    writeFileSync(join(home, 'project', '.enveloperc.yaml'), 'frameSize: 2K\n');
    expect(findConfigFile(join(home, 'project', 'sub'), home)).toBe(join(home, 'project', '.enveloperc.yaml'));
  });

  it('does not look above the home directory', () => {
    const root = tree();
    writeFileSync(join(root, '.enveloperc.json'), '{}');
    expect(findConfigFile(join(root, 'home', 'project'), join(root, 'home'))).toBeUndefined();
  });

  it('takes package.json only when it has an "envelope" field', async () => {
    const root = tree();
    const project = join(root, 'home', 'project');
    writeFileSync(join(project, 'package.json'), '{"name": "x"}');
    expect(findConfigFile(project, join(root, 'home'))).toBeUndefined();
    writeFileSync(join(project, 'package.json'), '{"name": "x", "envelope": {"algorithm": "0x0578"}}');
    expect(findConfigFile(project, join(root, 'home'))).toBe(join(project, 'package.json'));
    expect((await loadConfig(join(project, 'package.json'))).algorithm).toBe('0x0578');
  });

  it('loads YAML, JSON and CommonJS files; keystore paths are relative to the file', async () => {
    const root = tree();
    const project = join(root, 'home', 'project');
    for (const [name, text] of [
      ['.enveloperc.yaml', 'keystore: ks\nkeys: [alias/a]\n'],
      ['.enveloperc.json', '{"keystore": "ks", "keys": ["alias/a"]}'],
      ['envelope.config.cjs', 'module.exports = { keystore: "ks", keys: ["alias/a"] };'],
    ] as const) {
      writeFileSync(join(project, name), text);
      const config = await loadConfig(join(project, name));
      expect(config.keystore).toBe(join(project, 'ks'));
      expect(config.keys).toEqual(['alias/a']);
    }
  });
});

describe('validation names the file and the field', () => {
  it('an unknown setting', () => {
    expect(() => validateConfig({ bogus: 1 }, '/x/.enveloperc')).toThrow(/config \/x\/\.enveloperc: field "bogus" is not a setting/);
  });
  it('a wrong type', () => {
    expect(() => validateConfig({ keys: 'alias/a' }, '/x/c')).toThrow(/field "keys" must be a list of strings/);
    expect(() => validateConfig({ frameSize: true }, '/x/c')).toThrow(/field "frameSize" must be a size/);
    expect(() => validateConfig([1], '/x/c')).toThrow(UsageError);
  });
  it('AWS settings: region and profile are strings, discoveryAccounts 12-digit account ids', () => {
    expect(validateConfig({ region: 'eu-west-1', profile: 'ops', discoveryAccounts: ['111122223333'] }, '/x/c')).toMatchObject({
      region: 'eu-west-1',
      profile: 'ops',
      discoveryAccounts: ['111122223333'],
    });
    expect(() => validateConfig({ region: 1 }, '/x/c')).toThrow(/field "region" must be a string/);
    expect(() => validateConfig({ profile: ['a'] }, '/x/c')).toThrow(/field "profile" must be a string/);
    expect(() => validateConfig({ discoveryAccounts: [111122223333] }, '/x/c')).toThrow(/field "discoveryAccounts" must be a list of 12-digit/);
    expect(() => validateConfig({ discoveryAccounts: ['1111'] }, '/x/c')).toThrow(/field "discoveryAccounts"/);
  });
  it('a missing --config file', async () => {
    await expect(loadConfig('/does/not/exist')).rejects.toThrow(/config \/does\/not\/exist does not exist/);
  });
  it('a config that does not parse: one line naming the file, as a usage error', async () => {
    const root = tree();
    const cases: [string, string][] = [
      ['package.json', '{"envelope": '],
      ['.enveloperc.json', '{"keys": ["alias/a"'],
      ['.enveloperc.yaml', 'keys: [alias/a\n'],
    ];
    for (const [name, text] of cases) {
      const path = join(root, name);
      writeFileSync(path, text);
      const error = await loadConfig(path).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(new RegExp(`^config ${path.replace(/[.]/g, '\\.')} cannot be read: \\S[^\\n]*$`));
    }
  });
  it.runIf(process.platform === 'linux')('a config the system will not read is worded as any other I/O error', async () => {
    // /proc/self/mem is a regular file whose first page is never mapped: read
    // fails with EIO, even for root, who can read any file left unreadable.
    await expect(loadConfig('/proc/self/mem')).rejects.toThrow(/^config \/proc\/self\/mem cannot be read: input\/output error$/);
  });
});

describe('precedence: flags beat the environment, which beats the config', () => {
  it('keystore: --keystore over ENVELOPE_KEYSTORE over the config file', async () => {
    const root = tree();
    const project = join(root, 'home', 'project');
    writeFileSync(join(project, '.enveloperc.json'), '{"keystore": "from-config"}');
    const env = { HOME: join(root, 'home'), ENVELOPE_KEYSTORE: '' };
    const info = async (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      JSON.parse((await runCli(['keystore', 'info', '--json', ...args], { cwd: project, env: { ...env, ...extra } })).stdout.toString()).path;
    expect(await info([])).toBe(join(project, 'from-config'));
    expect(await info([], { ENVELOPE_KEYSTORE: join(root, 'from-env') })).toBe(join(root, 'from-env'));
    expect(await info(['--keystore', join(root, 'from-flag')], { ENVELOPE_KEYSTORE: join(root, 'from-env') })).toBe(join(root, 'from-flag'));
  });

  it('encrypt: config keys and frame size apply unless flags say otherwise; a bad config is exit 2', async () => {
    const root = tree();
    const project = join(root, 'home', 'project');
    const env = { HOME: join(root, 'home'), ENVELOPE_KEYSTORE: join(root, 'ks') };
    expect((await runCli(['keygen', 'a'], { cwd: project, env })).code).toBe(0);
    writeFileSync(join(project, '.enveloperc.json'), '{"keys": ["alias/a"], "frameSize": "1K"}');
    const frameLength = async (args: string[]) => {
      const message = (await runCli(['encrypt', ...args], { cwd: project, env, stdin: 'x' })).stdout;
      return JSON.parse((await runCli(['inspect', '--json'], { cwd: project, env, stdin: message })).stdout.toString()).frameLength;
    };
    expect(await frameLength([])).toBe(1024);
    expect(await frameLength(['--frame-size', '2K'])).toBe(2048);
    writeFileSync(join(project, '.enveloperc.json'), '{"keys": "alias/a"}');
    const bad = await runCli(['encrypt'], { cwd: project, env, stdin: 'x' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^envelope: error: config .*\.enveloperc\.json: field "keys"/);
  });

  it('AWS region and profile: --region/--profile over AWS_REGION/AWS_PROFILE over the config', () => {
    const settings = validateConfig({ region: 'eu-west-1', profile: 'config' }, '/x/c');
    expect(kmsSettings({ settings }, {})).toEqual({ region: 'eu-west-1', profile: 'config' });
    expect(kmsSettings({ settings }, { AWS_REGION: 'us-east-2', AWS_PROFILE: 'env' })).toEqual({ region: 'us-east-2', profile: 'env' });
    expect(kmsSettings({ settings, region: 'ap-south-1', profile: 'flag' }, { AWS_REGION: 'us-east-2', AWS_PROFILE: 'env' })).toEqual({
      region: 'ap-south-1',
      profile: 'flag',
    });
    // Unset everywhere: left to the SDK (the profile's region), not invented.
    expect(kmsSettings({}, {})).toEqual({});
    expect(() => kmsSettings({ region: 'us east 1' }, {})).toThrow(/"us east 1" is not an AWS region/);
  });

  it('discovery accounts: --discovery-account over the config; the partition defaults to aws', () => {
    const services = kmsServices({});
    const settings = validateConfig({ discoveryAccounts: ['111122223333'] }, '/x/c');
    const description = (flags: Parameters<typeof discoveryKeyrings>[0]) => discoveryKeyrings(flags, services).map((k) => k.description);
    expect(description({ settings })).toEqual([]);
    expect(description({ settings, discovery: true })).toEqual(['kms discovery (account 111122223333 in partition aws)']);
    expect(description({ settings, discovery: true, discoveryAccount: ['444455556666'], discoveryPartition: 'aws-cn' })).toEqual([
      'kms discovery (account 444455556666 in partition aws-cn)',
    ]);
    expect(description({ discovery: true })).toEqual(['kms discovery (any account)']);
    expect(() => description({ discoveryAccount: ['111122223333'] })).toThrow(/--discovery-account needs --discovery/);
    expect(() => description({ discovery: true, discoveryPartition: 'aws' })).toThrow(/--discovery-partition needs --discovery-account/);
    expect(() => description({ discovery: true, discoveryAccount: ['12'] })).toThrow(/12-digit AWS account id, not "12"/);
  });
});
