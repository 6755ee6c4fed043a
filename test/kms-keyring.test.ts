// The AWS KMS keyrings end to end: the built envelope, through the real AWS
// SDK over HTTP, against `envelope serve` (test/support/kms-server.ts), with
// the server's request counts as the witness of which KMS calls were made
// (DESIGN §4: encrypt = 1 GenerateDataKey + 1 Encrypt per further KMS key;
// decrypt = 1 Decrypt). The ESDK for JavaScript's KMS keyring, pointed at the
// same server, checks byte compatibility both ways.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildClient, CommitmentPolicy, KMS, KmsKeyringNode } from '@aws-crypto/client-node';
import { DisableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arnInRegion, parseKmsArn } from '../src/keyring/kms-arn.js';
import { type CliOptions, distFilesLoaded, runCli, TRACE_LOADS, workdirs } from './helpers.js';
import { type KmsServer, startKmsServer } from './support/kms-server.js';

const workdir = workdirs('envelope-kms-keyring-');
const ACCOUNT = '111122223333';
const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);

let kms: KmsServer;
let dir: string;
/** The keystore of the CLI's local keys: not the one the server serves, so a local key is only a local key. */
let localKeystore: string;
let key1: { keyId: string; arn: string; aliasArn?: string };
let key2: { keyId: string; arn: string };
let mrk: { keyId: string; arn: string };

beforeAll(async () => {
  kms = await startKmsServer();
  dir = workdir();
  localKeystore = join(dir, 'local-keystore');
  [key1, key2, mrk] = await Promise.all([kms.createKey({ alias: 'alias/app' }), kms.createKey(), kms.createKey({ multiRegion: true })]);
  expect((await envelope(['keygen', 'local'])).code).toBe(0);
});

afterAll(() => kms?.stop());

/** Runs envelope against the server, local keys in their own keystore. */
function envelope(args: readonly string[], options: CliOptions = {}) {
  return runCli(args, {
    cwd: dir,
    ...options,
    env: { ...kms.env(), ENVELOPE_KEYSTORE: localKeystore, AWS_PROFILE: '', ...options.env },
  });
}

/** Runs envelope and expects exit 0; returns stdout. */
async function ok(args: readonly string[], options: CliOptions = {}): Promise<Buffer> {
  const result = await envelope(args, options);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

/** KMS requests made by `action`, per operation. */
async function counted(action: () => Promise<unknown>): Promise<Record<string, number>> {
  kms.resetCounts();
  await action();
  return kms.requests();
}

async function inspect(message: Uint8Array) {
  return JSON.parse((await ok(['inspect', '--json'], { stdin: message })).toString()) as {
    encryptedDataKeys: { providerId: string; keyName: string }[];
    encryptionContext: Record<string, string>;
    headerLength: number;
  };
}

function esdkKeyring(options: { generatorKeyId?: string; keyIds?: string[]; discovery?: true }) {
  const clientProvider = (region: string) =>
    new KMS({
      region: region || kms.region,
      endpoint: kms.endpoint,
      credentials: { accessKeyId: kms.env().AWS_ACCESS_KEY_ID!, secretAccessKey: kms.env().AWS_SECRET_ACCESS_KEY! },
    });
  return new KmsKeyringNode({ clientProvider, ...options });
}

const SECRET = 'DATABASE_URL=postgres://app@db/prod\n';

describe('a strict KMS key (-k ARN)', () => {
  it('encrypts with 1 GenerateDataKey and decrypts with 1 Decrypt, the context bound', async () => {
    let message: Buffer = Buffer.alloc(0);
    expect(await counted(async () => (message = await ok(['encrypt', '-k', key1.arn, '-c', 'app=web'], { stdin: SECRET })))).toEqual({
      GenerateDataKey: 1,
    });
    const header = await inspect(message);
    expect(header.encryptedDataKeys).toEqual([{ providerId: 'aws-kms', keyName: key1.arn }]);
    expect(header.encryptionContext).toEqual({ app: 'web' });
    let plaintext: Buffer = Buffer.alloc(0);
    expect(await counted(async () => (plaintext = await ok(['decrypt', '-k', key1.arn, '-c', 'app=web'], { stdin: message })))).toEqual({
      Decrypt: 1,
    });
    expect(plaintext.toString()).toBe(SECRET);
  });

  it('does not call KMS for a message wrapped under another key: exit 6, hints naming -k and --discovery', async () => {
    const message = await ok(['encrypt', '-k', key1.arn], { stdin: SECRET });
    let result = await envelope([]);
    expect(await counted(async () => (result = await envelope(['decrypt', '-k', key2.arn], { stdin: message })))).toEqual({});
    expect(result.code).toBe(6);
    expect(result.stderr).toContain('envelope: error: none of the given keys can unwrap the data key');
    expect(result.stderr).toContain(`hint: message has a data key for aws-kms ${key1.arn}`);
    expect(result.stderr).toContain(`hint: to use that kms key: -k ${key1.arn}`);
    expect(result.stderr).toContain(`hint: or let the message name it: --discovery --discovery-account ${ACCOUNT}`);
  });

  it('a KMS message decrypted with no key given: exit 6 with both ways to give one', async () => {
    const message = await ok(['encrypt', '-k', key1.arn], { stdin: SECRET });
    const result = await envelope(['decrypt'], { stdin: message });
    expect(result.code).toBe(6);
    expect(result.stderr).toContain(`hint: to use that kms key: -k ${key1.arn}`);
    expect(result.stderr).toContain(`--discovery --discovery-account ${ACCOUNT}`);
  });

  it('an alias encrypts in the configured region, records the key ARN, and cannot select it on decrypt', async () => {
    const message = await ok(['encrypt', '-k', 'kms:alias/app'], { stdin: SECRET });
    expect((await inspect(message)).encryptedDataKeys[0]!.keyName).toBe(key1.arn);
    expect((await inspect(await ok(['encrypt', '-k', key1.aliasArn!], { stdin: SECRET }))).encryptedDataKeys[0]!.keyName).toBe(key1.arn);
    let result = await envelope([]);
    expect(await counted(async () => (result = await envelope(['decrypt', '-k', 'kms:alias/app'], { stdin: message })))).toEqual({});
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/hint: kms key alias\/app: an alias or key id cannot select a wrapped key.*give -k the key ARN/);
    expect(await ok(['decrypt', '-k', key1.arn], { stdin: message })).toEqual(Buffer.from(SECRET));
  });

  it('the region of kms:alias/NAME: --region over AWS_REGION over the config', async () => {
    // alias/app names a key that exists only in the server's region (us-west-2).
    const elsewhere = { AWS_REGION: 'eu-central-1' };
    const wrong = await envelope(['encrypt', '-k', 'kms:alias/app'], { stdin: SECRET, env: elsewhere });
    expect(wrong.code).toBe(6);
    expect(wrong.stderr).toMatch(/^envelope: error: kms key alias\/app: NotFoundException: /);
    await ok(['encrypt', '-k', 'kms:alias/app', '--region', kms.region], { stdin: SECRET, env: elsewhere });
    const project = workdir();
    writeFileSync(join(project, '.enveloperc.json'), JSON.stringify({ region: kms.region }));
    await ok(['encrypt', '-k', 'kms:alias/app'], { stdin: SECRET, cwd: project, env: { AWS_REGION: '' } });
    expect((await envelope(['encrypt', '-k', 'kms:alias/app'], { stdin: SECRET, cwd: project, env: elsewhere })).code).toBe(6);
  });
});

describe('several keys', () => {
  let message: Buffer;

  it('-k arn1 -k arn2 -k alias/local: 1 GenerateDataKey, 1 Encrypt, three wrapped keys', async () => {
    expect(await counted(async () => (message = await ok(['encrypt', '-k', key1.arn, '-k', key2.arn, '-k', 'alias/local'], { stdin: SECRET })))).toEqual({
      GenerateDataKey: 1,
      Encrypt: 1,
    });
    const edks = (await inspect(message)).encryptedDataKeys;
    expect(edks.map((e) => e.providerId)).toEqual(['aws-kms', 'aws-kms', 'envelope-local']);
    expect(edks.slice(0, 2).map((e) => e.keyName)).toEqual([key1.arn, key2.arn]);
  });

  it('decrypt stops at the first key that unwraps: 1 Decrypt, of the key given', async () => {
    expect(await counted(async () => expect((await ok(['decrypt', '-k', key2.arn], { stdin: message })).toString()).toBe(SECRET))).toEqual({
      Decrypt: 1,
    });
    expect(await counted(async () => expect((await ok(['decrypt', '--discovery'], { stdin: message })).toString()).toBe(SECRET))).toEqual({
      Decrypt: 1,
    });
  });

  it('without flags the local key unwraps, and KMS is not called (nor its settings read)', async () => {
    expect(await counted(async () => expect((await ok(['decrypt'], { stdin: message })).toString()).toBe(SECRET))).toEqual({});
    expect((await ok(['decrypt'], { stdin: message, env: { AWS_REGION: 'Not A Region' } })).toString()).toBe(SECRET);
  });

  it('--max-encrypted-data-keys refuses the message before any KMS call', async () => {
    let result = await envelope([]);
    expect(await counted(async () => (result = await envelope(['decrypt', '--discovery', '--max-encrypted-data-keys', '2'], { stdin: message })))).toEqual({});
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^envelope: error: message has 3 encrypted data keys, more than the limit of 2/);
  });
});

describe('discovery (--discovery)', () => {
  let message: Buffer;
  beforeAll(async () => {
    message = await ok(['encrypt', '-k', key1.arn, '-c', 'app=web'], { stdin: SECRET });
  });

  it('unwraps with the key the message names, in any admitted account', async () => {
    for (const flags of [['--discovery'], ['--discovery', '--discovery-account', ACCOUNT], ['--discovery', '--discovery-account', '444455556666', '--discovery-account', ACCOUNT, '--discovery-partition', 'aws']]) {
      expect(await counted(async () => expect((await ok(['decrypt', ...flags], { stdin: message })).toString()).toBe(SECRET))).toEqual({ Decrypt: 1 });
    }
  });

  it('an account or partition the filter does not admit: exit 6 and no call', async () => {
    for (const [flags, hint] of [
      [['--discovery-account', '444455556666'], `add --discovery-account ${ACCOUNT}`],
      [['--discovery-account', ACCOUNT, '--discovery-partition', 'aws-cn'], `add --discovery-account ${ACCOUNT} --discovery-partition aws`],
    ] as const) {
      let result = await envelope([]);
      expect(await counted(async () => (result = await envelope(['decrypt', '--discovery', ...flags], { stdin: message })))).toEqual({});
      expect(result.code).toBe(6);
      expect(result.stderr).toContain(hint);
    }
  });

  it('the config\'s discoveryAccounts apply to --discovery', async () => {
    const project = workdir();
    writeFileSync(join(project, '.enveloperc.json'), JSON.stringify({ discoveryAccounts: ['444455556666'] }));
    expect((await envelope(['decrypt', '--discovery'], { stdin: message, cwd: project })).code).toBe(6);
    writeFileSync(join(project, '.enveloperc.json'), JSON.stringify({ discoveryAccounts: [ACCOUNT] }));
    expect((await ok(['decrypt', '--discovery'], { stdin: message, cwd: project })).toString()).toBe(SECRET);
  });

  it('exec and re-encrypt take it too', async () => {
    const envMessage = await ok(['encrypt', '-k', key1.arn], { stdin: 'FROM_KMS=yes\n' });
    const file = join(workdir(), 'app.env.enc');
    writeFileSync(file, envMessage);
    const out = await ok(['exec', file, '--discovery', '--', process.execPath, '-e', 'process.stdout.write(process.env.FROM_KMS)']);
    expect(out.toString()).toBe('yes');
    await ok(['re-encrypt', file, '--discovery', '--to', 'alias/local', '-o', `${file}.local`]);
    expect((await ok(['decrypt', `${file}.local`, '-o', '-'])).toString()).toBe('FROM_KMS=yes\n');
  });
});

describe('multi-Region keys', () => {
  it('a message wrapped by the us-east-1 replica is unwrapped by -k the us-west-2 replica, in us-west-2', async () => {
    const east = arnInRegion(parseKmsArn(mrk.arn)!, 'us-east-1');
    expect(parseKmsArn(mrk.arn)!.region).toBe('us-west-2');
    const message = await ok(['encrypt', '-k', east], { stdin: SECRET });
    expect((await inspect(message)).encryptedDataKeys[0]!.keyName).toBe(east);
    // The server answers with the ARN of the region asked, and the keyring
    // accepts only its own ARN back: success means us-west-2 was called.
    expect(await counted(async () => expect((await ok(['decrypt', '-k', mrk.arn], { stdin: message })).toString()).toBe(SECRET))).toEqual({
      Decrypt: 1,
    });
  });

  it('a single-Region key with the same id in another region does not match', async () => {
    const message = await ok(['encrypt', '-k', key1.arn], { stdin: SECRET });
    const east = key1.arn.replace(':us-west-2:', ':us-east-1:');
    let result = await envelope([]);
    expect(await counted(async () => (result = await envelope(['decrypt', '-k', east], { stdin: message })))).toEqual({});
    expect(result.code).toBe(6);
  });
});

describe('the AWS Encryption SDK for JavaScript', () => {
  const context = { purpose: 'interop', tenant: 'ünïcødé' };

  it('decrypts what envelope encrypts under two KMS keys', async () => {
    const message = await ok(['encrypt', '-k', key1.arn, '-k', key2.arn, '-c', 'purpose=interop', '-c', 'tenant=ünïcødé'], { stdin: SECRET });
    for (const keyIds of [[key1.arn], [key2.arn]]) {
      const { plaintext, messageHeader } = await esdk.decrypt(esdkKeyring({ keyIds }), message);
      expect(plaintext.toString()).toBe(SECRET);
      expect(messageHeader.encryptionContext).toEqual(context);
      expect(messageHeader.encryptedDataKeys).toHaveLength(2);
    }
  });

  it('encrypts what envelope decrypts', async () => {
    const { result } = await esdk.encrypt(esdkKeyring({ generatorKeyId: key1.arn, keyIds: [key2.arn] }), SECRET, { encryptionContext: context });
    const edks = (await inspect(result)).encryptedDataKeys;
    expect(edks).toEqual([
      { providerId: 'aws-kms', keyName: key1.arn },
      { providerId: 'aws-kms', keyName: key2.arn },
    ]);
    expect((await ok(['decrypt', '-k', key2.arn, '-c', 'purpose=interop'], { stdin: result })).toString()).toBe(SECRET);
    expect((await ok(['decrypt', '--discovery'], { stdin: result })).toString()).toBe(SECRET);
  });
});

describe('re-encrypt between local and KMS keys', () => {
  it('local → KMS → local keeps the body byte for byte, with 1 Encrypt and 1 Decrypt', async () => {
    const d = workdir();
    const [local, toKms, back] = ['a.enc', 'b.enc', 'c.enc'].map((n) => join(d, n)) as [string, string, string];
    writeFileSync(join(d, 'a'), SECRET.repeat(1000));
    await ok(['encrypt', join(d, 'a'), '-k', 'alias/local', '-c', 'app=web', '-o', local]);
    expect(await counted(() => ok(['re-encrypt', local, '--to', key1.arn, '-o', toKms]))).toEqual({ Encrypt: 1 });
    expect(await counted(() => ok(['re-encrypt', toKms, '--from', key1.arn, '--to', 'alias/local', '-o', back]))).toEqual({ Decrypt: 1 });

    const body = async (file: string) => {
      const bytes = readFileSync(file);
      return bytes.subarray((await inspect(bytes)).headerLength);
    };
    expect((await inspect(readFileSync(toKms))).encryptedDataKeys).toEqual([{ providerId: 'aws-kms', keyName: key1.arn }]);
    expect(await body(toKms)).toEqual(await body(local));
    expect(await body(back)).toEqual(await body(local));

    const { plaintext, messageHeader } = await esdk.decrypt(esdkKeyring({ keyIds: [key1.arn] }), readFileSync(toKms));
    expect(plaintext.toString()).toBe(SECRET.repeat(1000));
    expect(messageHeader.encryptionContext).toEqual({ app: 'web' });
    expect((await ok(['decrypt', back, '-o', '-'])).toString()).toBe(SECRET.repeat(1000));
  });
});

describe('KMS failures: one line naming the key and the KMS error', () => {
  it('a disabled key: exit 7 on encrypt and on decrypt', async () => {
    const key = await kms.createKey();
    const message = await ok(['encrypt', '-k', key.arn], { stdin: SECRET });
    const client = new KMSClient({ endpoint: kms.endpoint, region: kms.region, credentials: { accessKeyId: kms.env().AWS_ACCESS_KEY_ID!, secretAccessKey: kms.env().AWS_SECRET_ACCESS_KEY! } });
    await client.send(new DisableKeyCommand({ KeyId: key.keyId }));
    client.destroy();
    for (const args of [['encrypt', '-k', key.arn], ['decrypt', '-k', key.arn]]) {
      const result = await envelope(args, { stdin: args[0] === 'encrypt' ? SECRET : message });
      expect(result.code).toBe(7);
      expect(result.stderr.split('\n')[0]).toMatch(new RegExp(`^envelope: error: kms key ${key.arn}: DisabledException: `));
    }
  });

  it('access denied: exit 7', async () => {
    // A second server over the same keystore that takes only another access key id.
    const guarded = await startKmsServer({ keystore: kms.keystore, token: 'the-right-access-key' });
    try {
      const result = await runCli(['decrypt', '-k', key1.arn], {
        stdin: await ok(['encrypt', '-k', key1.arn], { stdin: SECRET }),
        env: { ...guarded.env(), AWS_ACCESS_KEY_ID: 'AKIAWRONGKEY' },
      });
      expect(result.code).toBe(7);
      expect(result.stderr.split('\n')[0]).toMatch(new RegExp(`^envelope: error: kms key ${key1.arn}: AccessDeniedException: `));
    } finally {
      await guarded.stop();
    }
  });

  it('throttled twice: the SDK retries and succeeds', async () => {
    // A second server over the first one's keystore: key1 is there, and no other request takes the throttles.
    const throttled = await startKmsServer({ throttle: 2, keystore: kms.keystore });
    try {
      const result = await runCli(['encrypt', '-k', key1.arn], { stdin: SECRET, env: throttled.env() });
      expect(result.code).toBe(0);
      expect(throttled.requests()).toEqual({ GenerateDataKey: 3 });
    } finally {
      await throttled.stop();
    }
  });

  it('throttled beyond AWS_MAX_ATTEMPTS: exit 8, one line naming the key and ThrottlingException', async () => {
    // Every answer is ThrottlingException, so the key need not exist.
    const always = await startKmsServer({ throttle: 1000 });
    try {
      const arn = `arn:aws:kms:${always.region}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
      const result = await runCli(['encrypt', '-k', arn], { stdin: SECRET, env: { ...always.env(), AWS_MAX_ATTEMPTS: '2' } });
      expect(result.code).toBe(8);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^envelope: error: kms key ${arn}: ThrottlingException after 2 attempts: `));
      expect(lines.filter((l) => l.startsWith('envelope:'))).toHaveLength(1);
      expect(always.requests()).toEqual({ GenerateDataKey: 2 });
    } finally {
      await always.stop();
    }
  });

  it('a server that is gone: exit 8, at once', async () => {
    const gone = await startKmsServer();
    const env = gone.env();
    await gone.stop();
    const started = Date.now();
    const result = await runCli(['encrypt', '-k', `arn:aws:kms:us-west-2:${ACCOUNT}:key/${key1.keyId}`], { stdin: SECRET, env });
    expect(result.code).toBe(8);
    expect(result.stderr).toMatch(/^envelope: error: kms key arn:aws:kms:us-west-2:\d+:key\/[-0-9a-f]+: ECONNREFUSED/);
    // Three attempts with the SDK's backoff: well under a second here; no hang.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('no credentials: exit 7', async () => {
    const none = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '', AWS_CONTAINER_CREDENTIALS_FULL_URI: '', AWS_WEB_IDENTITY_TOKEN_FILE: '' };
    const result = await envelope(['encrypt', '-k', key1.arn], { stdin: SECRET, env: none });
    expect(result.code).toBe(7);
    expect(result.stderr).toMatch(new RegExp(`^envelope: error: kms key ${key1.arn}: no AWS credentials`));
  });

  it('--profile (and AWS_PROFILE) pick the credentials and region of a profile; an unknown profile is exit 7', async () => {
    // The server takes only the profile's access key id, so success proves the profile's credentials were used;
    // the region comes from the profile alone (no AWS_REGION), which kms:alias/app needs.
    const guarded = await startKmsServer({ keystore: kms.keystore, token: 'AKIAPROFILEKEY' });
    try {
      const d = workdir();
      writeFileSync(join(d, 'credentials'), '[ops]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = profile-secret\n');
      writeFileSync(join(d, 'config'), `[profile ops]\nregion = ${guarded.region}\n`);
      const env = {
        ...guarded.env(),
        ENVELOPE_KEYSTORE: localKeystore,
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_REGION: undefined,
        AWS_DEFAULT_REGION: undefined,
        AWS_PROFILE: undefined,
        AWS_SHARED_CREDENTIALS_FILE: join(d, 'credentials'),
        AWS_CONFIG_FILE: join(d, 'config'),
      };
      for (const [args, extra] of [[['--profile', 'ops'], {}], [[], { AWS_PROFILE: 'ops' }]] as const) {
        const sealed = await runCli([...args, 'encrypt', '-k', 'kms:alias/app'], { cwd: dir, stdin: SECRET, env: { ...env, ...extra } });
        expect(sealed.code, sealed.stderr).toBe(0);
        const opened = await runCli([...args, 'decrypt', '-k', key1.arn], { cwd: dir, stdin: sealed.stdout, env: { ...env, ...extra } });
        expect(opened.code, opened.stderr).toBe(0);
        expect(opened.stdout.toString()).toBe(SECRET);
      }
      const unknown = await runCli(['--profile', 'nosuch', 'encrypt', '-k', key1.arn], { cwd: dir, stdin: SECRET, env });
      expect(unknown.code, unknown.stderr).toBe(7);
      expect(unknown.stderr).toMatch(new RegExp(`^envelope: error: kms key ${key1.arn}: no AWS credentials`));
    } finally {
      await guarded.stop();
    }
  });

  it('no region for kms:alias/NAME: exit 2', async () => {
    const result = await envelope(['encrypt', '-k', 'kms:alias/app'], { stdin: SECRET, env: { AWS_REGION: '', AWS_DEFAULT_REGION: '' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^envelope: error: kms key alias\/app: no AWS region/);
  });

  it('a malformed KMS key: exit 2 saying what is wrong, before any call', async () => {
    let result = await envelope([]);
    expect(await counted(async () => (result = await envelope(['encrypt', '-k', `arn:aws:kms:us-west-2:${ACCOUNT}:grant/x`], { stdin: SECRET })))).toEqual({});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^envelope: error: bad key specifier "arn:aws:kms:[^"]+": the resource is neither key\/ID nor alias\/NAME/);
  });

  it('a key KMS does not know: exit 6 on encrypt, as for a missing local key', async () => {
    const arn = `arn:aws:kms:${kms.region}:${ACCOUNT}:key/00000000-0000-4000-8000-000000000000`;
    const result = await envelope(['encrypt', '-k', arn], { stdin: SECRET });
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(new RegExp(`^envelope: error: kms key ${arn}: NotFoundException: `));
  });
});

describe('the AWS SDK is loaded only when a KMS key is in play', () => {
  it('a local decrypt never reads the SDK; a KMS decrypt does', async () => {
    const local = await ok(['encrypt', '-k', 'alias/local'], { stdin: SECRET });
    const both = await ok(['encrypt', '-k', key1.arn, '-k', 'alias/local'], { stdin: SECRET });
    const withKms = await ok(['encrypt', '-k', key1.arn], { stdin: SECRET });

    for (const message of [local, both]) {
      const r = await envelope(['decrypt'], { stdin: message, env: TRACE_LOADS });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.toString()).toBe(SECRET);
      expect(distFilesLoaded(r.stderr)).not.toContain('aws-sdk.cjs');
    }
    const r = await envelope(['decrypt', '-k', key1.arn], { stdin: withKms, env: TRACE_LOADS });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toBe(SECRET);
    expect(distFilesLoaded(r.stderr)).toContain('aws-sdk.cjs');
  });
});
