// AWS KMS key management from the command line (keygen --kms, rotate, keys …
// on KMS keys) and `envelope kms …` passed through to AWS KMS, all through the
// real bin/envelope and the real @aws-sdk/client-kms against `envelope serve`
// (test/support/kms-server.ts). The server counts requests per operation, so
// each case also says exactly which KMS calls it made. The cases share one
// server and run one after another: the counts are the server's.

import { KMSClient, ListAliasesCommand, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import { createPublicKey, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../src/cli/exit-codes.js';
import { type CliResult, distFilesLoaded, runCli, TRACE_LOADS, workdirs } from './helpers.js';
import { type KmsServer, startKmsServer } from './support/kms-server.js';

let kms: KmsServer;
let sdk: KMSClient;
const workdir = workdirs('envelope-kms-management-');
/** An empty local keystore: a command that wrongly went local instead of to KMS finds no key there. */
let emptyKeystore: string;

beforeAll(async () => {
  kms = await startKmsServer();
  sdk = new KMSClient({
    endpoint: kms.endpoint,
    region: kms.region,
    credentials: { accessKeyId: kms.env().AWS_ACCESS_KEY_ID!, secretAccessKey: kms.env().AWS_SECRET_ACCESS_KEY! },
  });
  emptyKeystore = join(workdir(), 'keystore');
});

afterAll(async () => {
  sdk?.destroy();
  await kms?.stop();
});

interface RunOptions {
  stdin?: string | Uint8Array;
  env?: NodeJS.ProcessEnv;
}

function run(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return runCli(args, { env: { ...kms.env(), ...options.env }, ...(options.stdin === undefined ? {} : { stdin: options.stdin }) });
}

function ok(r: CliResult): CliResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** The failure contract: the exit code, `envelope: error: …` (after any lines about what did happen), hints. */
function failed(r: CliResult, code: number, message?: RegExp): string {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(/^envelope: error: \S/m);
  expect(r.stderr).not.toContain('    at ');
  if (message) expect(r.stderr).toMatch(message);
  return r.stderr;
}

const text = (r: CliResult) => r.stdout.toString('utf8');
const json = (r: CliResult) => JSON.parse(text(r));

let names = 0;
/** A fresh alias name for each case, so the cases do not see each other's keys. */
const fresh = (base: string) => `${base}-${++names}-${randomBytes(3).toString('hex')}`;

/**
 * The requests the server saw while `work` ran. The server logs a request as
 * it answers it, so its lines may trail the child's exit a little: wait until
 * the counts stop changing.
 */
async function requestsDuring(work: () => Promise<unknown>): Promise<Record<string, number>> {
  kms.resetCounts();
  await work();
  let last = JSON.stringify(kms.requests());
  for (let quiet = 0; quiet < 4; ) {
    await new Promise((r) => setTimeout(r, 25));
    const now = JSON.stringify(kms.requests());
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
  return kms.requests();
}

const ARN = (region: string, account: string) => new RegExp(`^arn:aws:kms:${region}:${account}:key/[0-9a-f-]{36}$`);

/** keygen --kms NAME: the key ARN. */
async function kmsKey(name: string, ...args: string[]): Promise<string> {
  const r = ok(await run(['keygen', '--kms', name, ...args]));
  return text(r).trim();
}

async function rotations(key: string): Promise<unknown[]> {
  return json(ok(await run(['rotate', key, '--status', '--json']))).Rotations;
}

describe('keygen --kms', () => {
  it('keygen --kms NAME is exactly CreateKey + CreateAlias, prints the key ARN, and the key encrypts under kms:alias/NAME', async () => {
    const name = fresh('app');
    let r!: CliResult;
    const calls = await requestsDuring(async () => {
      r = await run(['keygen', '--kms', name]);
    });
    ok(r);
    expect(calls).toEqual({ CreateKey: 1, CreateAlias: 1 });
    const arn = text(r).trim();
    expect(arn).toMatch(ARN(kms.region, kms.account));
    expect(r.stderr).toContain(`created SYMMETRIC_DEFAULT key alias/${name} in AWS KMS`);

    const aliases = await sdk.send(new ListAliasesCommand({}));
    expect(aliases.Aliases?.find((a) => a.AliasName === `alias/${name}`)?.TargetKeyId).toBe(arn.split('/').pop());

    const encrypted = json(ok(await run(['--keystore', emptyKeystore, 'kms', 'encrypt', '--key-id', `kms:alias/${name}`, '-c', 'purpose=test'], { stdin: 'secret' })));
    expect(encrypted.KeyId).toBe(arn);
    const decrypted = json(
      ok(await run(['--keystore', emptyKeystore, 'kms', 'decrypt', '--kms', '-c', 'purpose=test'], { stdin: encrypted.CiphertextBlob })),
    );
    expect(Buffer.from(decrypted.Plaintext, 'base64').toString()).toBe('secret');
  });

  it('--json prints KMS KeyMetadata with the alias; --description and --tag reach KMS; AES_256 is SYMMETRIC_DEFAULT', async () => {
    const name = fresh('meta');
    const r = ok(await run(['keygen', '--kms', name, '--type', 'AES_256', '--description', 'for the tests', '--tag', 'team=ops', '--json']));
    const m = json(r).KeyMetadata;
    expect(m).toMatchObject({
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeyState: 'Enabled',
      Description: 'for the tests',
      Aliases: [`alias/${name}`],
      MultiRegion: false,
    });
    expect(m.Arn).toMatch(ARN(kms.region, kms.account));
    expect(typeof m.CreationDate).toBe('string');
    const tags = await sdk.send(new ListResourceTagsCommand({ KeyId: m.KeyId }));
    expect(tags.Tags).toEqual([{ TagKey: 'team', TagValue: 'ops' }]);
  });

  it('--multi-region makes a multi-Region key: its id is mrk- and 32 hex digits', async () => {
    const m = json(ok(await run(['keygen', '--kms', fresh('mrk'), '--multi-region', '--json']))).KeyMetadata;
    expect(m.KeyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    expect(m.MultiRegion).toBe(true);
  });

  it('--rotation-period adds one EnableKeyRotation with the period', async () => {
    const name = fresh('periodic');
    const calls = await requestsDuring(async () => ok(await run(['keygen', '--kms', name, '--rotation-period', '180'])));
    expect(calls).toEqual({ CreateKey: 1, CreateAlias: 1, EnableKeyRotation: 1 });
    const status = json(ok(await run(['rotate', `kms:alias/${name}`, '--status', '--json'])));
    expect(status).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180 });
  });

  it('local-only flags, and what KMS cannot do, exit 2 naming the flag, before any KMS call', async () => {
    const cases: [string[], RegExp][] = [
      [['keygen', '--kms', 'x', '--import', 'key.bin'], /--import is for keys of the local keystore/],
      [['keygen', '--kms', 'x', '--origin', 'external'], /--origin is for keys of the local keystore/],
      [['keygen', '--kms', 'x', '--exportable'], /--exportable is for keys of the local keystore/],
      [['keygen', '--kms', 'x', '--type', 'RSA_2048', '--rotation-period', '365'], /--rotation-period: AWS KMS rotates symmetric keys only/],
      [['keygen', '--kms', 'alias/aws/x'], /not a valid alias/],
      [['rotate', '--due', '--kms'], /--due is for the local keystore/],
      [['keys', 'export', 'kms:alias/x'], /never exports key material/],
      [['keys', 'export', '--kms', 'alias/x'], /never exports key material/],
      [['keys', 'import', 'kms:alias/x', 'key.bin'], /not implemented for AWS KMS keys/],
      [['keys', 'policy', 'kms:alias/x', '--allow', 'encrypt'], /a KMS key policy is an IAM policy document/],
      [['keys', 'export-public', 'kms:alias/x', '--version', '2'], /--version is for local keys/],
    ];
    const results: CliResult[] = [];
    const calls = await requestsDuring(async () => {
      results.push(...(await Promise.all(cases.map(([args]) => run(args)))));
    });
    results.forEach((r, i) => failed(r, EXIT_CODES.usage, cases[i]![1]));
    expect(calls).toEqual({});
  });

  it('an alias that exists already: the key is made and its ARN printed, and the error says the key exists and how to finish or undo', async () => {
    const name = fresh('taken');
    await kmsKey(name);
    let r!: CliResult;
    const calls = await requestsDuring(async () => {
      r = await run(['keygen', '--kms', name]);
    });
    expect(calls).toEqual({ CreateKey: 1, CreateAlias: 1 });
    const stderr = failed(r, EXIT_CODES.usage, /AlreadyExistsException/);
    const arn = text(r).trim();
    expect(arn).toMatch(ARN(kms.region, kms.account));
    expect(stderr).toContain(`created kms key ${arn}, but creating its alias alias/${name} failed: the key exists`);
    expect(stderr).toContain(`hint: finish with: envelope keys alias --kms alias/ANOTHER-NAME ${arn}`);
    expect(stderr).toContain(`hint: or schedule the key's deletion with: envelope keys delete ${arn} --days 7`);
    // The key is there, aliasless, as the error said.
    expect(json(ok(await run(['keys', 'show', arn, '--json']))).KeyMetadata).toMatchObject({ KeyState: 'Enabled', Aliases: [] });
  });
});

describe('rotate on KMS keys', () => {
  it('rotate kms:alias/NAME is DescribeKey (KMS rotates by key id or ARN only) + one RotateKeyOnDemand, and the list of rotations grows', async () => {
    const name = fresh('rot');
    await kmsKey(name);
    const key = `kms:alias/${name}`;
    expect(await rotations(key)).toEqual([]);
    const before = json(ok(await run(['kms', 'encrypt', '--key-id', key], { stdin: 'old material' }))).CiphertextBlob;
    const calls = await requestsDuring(async () => ok(await run(['rotate', key])));
    expect(calls).toEqual({ DescribeKey: 1, RotateKeyOnDemand: 1 });
    const after = await rotations(key);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ RotationType: 'ON_DEMAND' });
    ok(await run(['rotate', '--kms', name]));
    expect(await rotations(key)).toHaveLength(2);
    // What the key encrypted before its rotations still decrypts.
    const opened = json(ok(await run(['kms', 'decrypt', '--key-id', key], { stdin: before })));
    expect(Buffer.from(opened.Plaintext, 'base64').toString()).toBe('old material');
  });

  it('--schedule 180 is EnableKeyRotation, --status shows it, --no-schedule is DisableKeyRotation', async () => {
    const name = fresh('sched');
    const arn = await kmsKey(name);
    expect(await requestsDuring(async () => ok(await run(['rotate', arn, '--schedule', '180'])))).toEqual({ EnableKeyRotation: 1 });
    let status!: CliResult;
    expect(await requestsDuring(async () => (status = ok(await run(['rotate', arn, '--status']))))).toEqual({
      GetKeyRotationStatus: 1,
      ListKeyRotations: 1,
    });
    expect(text(status)).toMatch(/^automatic rotation every 180 days, next on \d{4}-\d\d-\d\dT[^;]+; 0 rotations\n$/);
    expect(await requestsDuring(async () => ok(await run(['rotate', '--kms', name, '--no-schedule'])))).toEqual({ DescribeKey: 1, DisableKeyRotation: 1 });
    expect(text(ok(await run(['rotate', arn, '--status'])))).toBe('automatic rotation off; 0 rotations\n');
    failed(await run(['rotate', arn, '--schedule', '30']), EXIT_CODES.usage, /--schedule takes a whole number from 90 to 2560/);
  });
});

describe('keys … on KMS keys', () => {
  it('keys list --kms is ListKeys + ListAliases and shows each key with its aliases', async () => {
    const name = fresh('listed');
    const keyId = (await kmsKey(name)).split('/').pop()!;
    let r!: CliResult;
    expect(await requestsDuring(async () => (r = ok(await run(['keys', 'list', '--kms']))))).toEqual({ ListKeys: 1, ListAliases: 1 });
    const lines = text(r).split('\n');
    expect(lines[0]).toMatch(/^KEY ID +ALIASES$/);
    expect(lines.find((l) => l.startsWith(keyId))).toMatch(new RegExp(`^${keyId} +alias/${name}$`));
    const listed = json(ok(await run(['keys', 'list', '--kms', '--json']))).Keys;
    expect(listed.find((k: { KeyId: string }) => k.KeyId === keyId)).toEqual({
      KeyId: keyId,
      KeyArn: `arn:aws:kms:${kms.region}:${kms.account}:key/${keyId}`,
      Aliases: [`alias/${name}`],
    });
  });

  it('keys show is DescribeKey + the key\'s ListAliases + GetKeyRotationStatus, printed as for local keys; an ARN is called in its region', async () => {
    const name = fresh('shown');
    const arn = await kmsKey(name, '--description', 'shown key');
    let r!: CliResult;
    expect(await requestsDuring(async () => (r = ok(await run(['keys', 'show', `kms:alias/${name}`]))))).toEqual({
      DescribeKey: 1,
      ListAliases: 1,
      GetKeyRotationStatus: 1,
    });
    const shown = text(r);
    expect(shown).toMatch(new RegExp(`^key id +${arn.split('/').pop()}$`, 'm'));
    expect(shown).toMatch(new RegExp(`^arn +${arn}$`, 'm'));
    expect(shown).toMatch(new RegExp(`^aliases +alias/${name}$`, 'm'));
    expect(shown).toMatch(/^spec +SYMMETRIC_DEFAULT \(SYMMETRIC_DEFAULT\)$/m);
    expect(shown).toMatch(/^state +Enabled$/m);
    expect(shown).toMatch(/^description +shown key$/m);
    expect(shown).toMatch(/^rotation +automatic rotation off$/m);
    const m = json(ok(await run(['keys', 'show', '--kms', name, '--json']))).KeyMetadata;
    expect(m).toMatchObject({ Arn: arn, KeyState: 'Enabled', Aliases: [`alias/${name}`], KeyRotationStatus: { KeyRotationEnabled: false } });
    // The same key named in another region is not there (a normal key lives in one region).
    const elsewhere = arn.replace(`:${kms.region}:`, ':eu-central-1:');
    failed(await run(['keys', 'show', elsewhere]), EXIT_CODES['no-key'], /NotFoundException/);
    // --region, for a name without one, beats AWS_REGION.
    failed(await run(['--region', 'eu-central-1', 'keys', 'show', '--kms', name]), EXIT_CODES['no-key'], /NotFoundException/);
  });

  it('disable makes kms encrypt exit 7 until enable', async () => {
    const name = fresh('toggle');
    await kmsKey(name);
    const key = `kms:alias/${name}`;
    expect(await requestsDuring(async () => ok(await run(['keys', 'disable', key])))).toEqual({ DescribeKey: 1, DisableKey: 1 });
    expect(json(ok(await run(['keys', 'show', key, '--json']))).KeyMetadata.KeyState).toBe('Disabled');
    failed(await run(['kms', 'encrypt', '--key-id', key], { stdin: 'x' }), EXIT_CODES['key-access'], /DisabledException/);
    expect(await requestsDuring(async () => ok(await run(['keys', 'enable', '--kms', name])))).toEqual({ DescribeKey: 1, EnableKey: 1 });
    ok(await run(['kms', 'encrypt', '--key-id', key], { stdin: 'x' }));
  });

  it('delete --days 7 puts the key in PendingDeletion with its date; cancel-deletion leaves it Disabled', async () => {
    const name = fresh('doomed');
    const arn = await kmsKey(name);
    let r!: CliResult;
    expect(await requestsDuring(async () => (r = ok(await run(['keys', 'delete', arn, '--days', '7']))))).toEqual({ ScheduleKeyDeletion: 1 });
    const pending = json(ok(await run(['keys', 'show', arn, '--json']))).KeyMetadata;
    expect(pending.KeyState).toBe('PendingDeletion');
    const days = (Date.parse(pending.DeletionDate) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    expect(r.stderr).toContain(`will be deleted on ${pending.DeletionDate}`);
    failed(await run(['kms', 'encrypt', '--key-id', arn], { stdin: 'x' }), EXIT_CODES['key-access'], /KMSInvalidStateException/);
    failed(await run(['keys', 'delete', arn, '--days', '6']), EXIT_CODES.usage, /--days takes a whole number from 7 to 30/);
    expect(await requestsDuring(async () => ok(await run(['keys', 'cancel-deletion', arn])))).toEqual({ CancelKeyDeletion: 1 });
    const back = json(ok(await run(['keys', 'show', arn, '--json']))).KeyMetadata;
    expect(back.KeyState).toBe('Disabled');
    expect(back.DeletionDate).toBeUndefined();
  });

  it('keys alias --kms creates an alias, moves it with UpdateAlias, and --delete removes it', async () => {
    const firstName = fresh('first');
    const [a, b] = [await kmsKey(firstName), await kmsKey(fresh('second'))];
    const alias = `alias/${fresh('pointer')}`;
    const target = async () => (await sdk.send(new ListAliasesCommand({}))).Aliases?.find((x) => x.AliasName === alias)?.TargetKeyId;
    expect(await requestsDuring(async () => ok(await run(['keys', 'alias', alias, a])))).toEqual({ CreateAlias: 1 });
    expect(await target()).toBe(a.split('/').pop());
    expect(await requestsDuring(async () => ok(await run(['keys', 'alias', alias, b])))).toEqual({ CreateAlias: 1, UpdateAlias: 1 });
    expect(await target()).toBe(b.split('/').pop());
    expect(await requestsDuring(async () => ok(await run(['keys', 'alias', '--kms', alias, '--delete'])))).toEqual({ DeleteAlias: 1 });
    expect(await target()).toBeUndefined();
    // Named by an alias, the key is first looked up: CreateAlias takes a key id or ARN only.
    expect(await requestsDuring(async () => ok(await run(['keys', 'alias', alias, `kms:alias/${firstName}`])))).toEqual({ DescribeKey: 1, CreateAlias: 1 });
    expect(await target()).toBe(a.split('/').pop());
  });

  it('an RSA key: export-public is GetPublicKey in PEM, show says it does not rotate, policy shows the key policy document', async () => {
    const name = fresh('rsa');
    const arn = await kmsKey(name, '--type', 'RSA_2048');
    let pem!: CliResult;
    expect(await requestsDuring(async () => (pem = ok(await run(['keys', 'export-public', `kms:alias/${name}`]))))).toEqual({ GetPublicKey: 1 });
    expect(text(pem)).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(createPublicKey(text(pem)).asymmetricKeyDetails?.modulusLength).toBe(2048);
    const shown = text(ok(await run(['keys', 'show', arn])));
    expect(shown).toMatch(/^spec +RSA_2048 \(RSAES_OAEP_SHA_\d+(, RSAES_OAEP_SHA_\d+)*\)$/m);
    expect(shown).toMatch(/^rotation +none \(RSA_2048 keys do not rotate\)$/m);
    const policy = json(ok(await run(['keys', 'policy', arn, '--json'])));
    expect(policy.KeyId).toBe(arn);
    expect(typeof policy.Policy).toBe('object');
    // A symmetric key has no public key.
    failed(await run(['keys', 'export-public', await kmsKey(fresh('sym'))]), EXIT_CODES.usage);
  });
});

describe('envelope kms … passed through to AWS KMS', () => {
  it('encrypt and decrypt with an encryption context: one Encrypt, one Decrypt; a wrong context exits 5, another key 6', async () => {
    const name = fresh('pass');
    const arn = await kmsKey(name);
    const other = await kmsKey(fresh('other'));
    const local = ['--keystore', emptyKeystore, 'kms'];
    let encrypted!: CliResult;
    expect(
      await requestsDuring(async () => {
        encrypted = ok(await run([...local, 'encrypt', '--key-id', arn, '-c', 'app=web', '-c', 'stage=prod', '--output', 'binary'], { stdin: 'a secret' }));
      }),
    ).toEqual({ Encrypt: 1 });
    const blob = encrypted.stdout;
    let decrypted!: CliResult;
    expect(
      await requestsDuring(async () => {
        decrypted = ok(await run([...local, 'decrypt', '--key-id', `kms:alias/${name}`, '-c', 'stage=prod', '-c', 'app=web', '--output', 'binary'], { stdin: blob }));
      }),
    ).toEqual({ Decrypt: 1 });
    expect(text(decrypted)).toBe('a secret');
    // Without a key: --kms sends the blob to KMS, which knows its key.
    const text64 = json(ok(await run([...local, 'decrypt', '--kms', '-c', 'app=web', '-c', 'stage=prod'], { stdin: blob.toString('base64') })));
    expect(text64).toMatchObject({ KeyId: arn, Plaintext: Buffer.from('a secret').toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });

    const wrong = await run([...local, 'decrypt', '--kms', '-c', 'app=api', '-c', 'stage=prod', '--output', 'binary'], { stdin: blob });
    failed(wrong, EXIT_CODES.integrity, /InvalidCiphertextException/);
    expect(wrong.stdout.length).toBe(0);
    failed(await run([...local, 'decrypt', '--kms'], { stdin: blob }), EXIT_CODES.integrity);
    failed(await run([...local, 'decrypt', '--key-id', other, '-c', 'app=web', '-c', 'stage=prod'], { stdin: blob }), EXIT_CODES['no-key'], /IncorrectKeyException/);
    // Without --kms or a KMS key the blob goes to the local keystore, which has no such key.
    failed(await run([...local, 'decrypt', '-c', 'app=web', '-c', 'stage=prod'], { stdin: blob }), EXIT_CODES['no-key']);
  });

  it('a blob that is not a local one, sent to the local keystore, exits 4 with a hint naming --kms', async () => {
    const r = await run(['--keystore', emptyKeystore, 'kms', 'decrypt'], { stdin: Buffer.concat([Buffer.from([0x01, 0x02, 0x02, 0x00]), randomBytes(150)]) });
    const stderr = failed(r, EXIT_CODES.format, /not an envelope ciphertext blob/);
    expect(stderr).toContain('for an AWS KMS blob add --kms');
  });

  it('re-encrypt between KMS keys is one ReEncrypt; generate-data-key(-without-plaintext) blobs decrypt to the data key; generate-random --kms', async () => {
    const [from, to] = [await kmsKey(fresh('from')), await kmsKey(fresh('to'))];
    const local = ['--keystore', emptyKeystore, 'kms'];
    const blob = json(ok(await run([...local, 'encrypt', '--key-id', from, '-c', 'a=1'], { stdin: 'moving' }))).CiphertextBlob;
    let moved!: CliResult;
    expect(
      await requestsDuring(async () => {
        moved = ok(
          await run([...local, 're-encrypt', '--destination-key-id', to, '--source-encryption-context', 'a=1', '--destination-encryption-context', 'b=2', '--kms'], {
            stdin: blob,
          }),
        );
      }),
    ).toEqual({ ReEncrypt: 1 });
    const r = json(moved);
    expect(r).toMatchObject({ SourceKeyId: from, KeyId: to });
    const back = json(ok(await run([...local, 'decrypt', '--key-id', to, '-c', 'b=2'], { stdin: r.CiphertextBlob })));
    expect(Buffer.from(back.Plaintext, 'base64').toString()).toBe('moving');
    failed(await run([...local, 'decrypt', '--key-id', to, '-c', 'a=1'], { stdin: r.CiphertextBlob }), EXIT_CODES.integrity);

    let dataKey!: CliResult;
    expect(
      await requestsDuring(async () => {
        dataKey = ok(await run([...local, 'generate-data-key', '--key-id', from, '-c', 'use=disk', '--key-spec', 'AES_128']));
      }),
    ).toEqual({ GenerateDataKey: 1 });
    const dk = json(dataKey);
    expect(dk.KeyId).toBe(from);
    expect(Buffer.from(dk.Plaintext, 'base64')).toHaveLength(16);
    const opened = json(ok(await run([...local, 'decrypt', '--kms', '-c', 'use=disk'], { stdin: dk.CiphertextBlob })));
    expect(opened.Plaintext).toBe(dk.Plaintext);

    const [cipherOnly] = text(ok(await run([...local, 'generate-data-key-without-plaintext', '--key-id', from, '--number-of-bytes', '48', '--output', 'text']))).trim().split('\t');
    const openedOnly = json(ok(await run([...local, 'decrypt', '--kms'], { stdin: cipherOnly })));
    expect(Buffer.from(openedOnly.Plaintext, 'base64')).toHaveLength(48);

    let random!: CliResult;
    expect(await requestsDuring(async () => (random = ok(await run([...local, 'generate-random', '--kms', '--number-of-bytes', '24', '--output', 'binary']))))).toEqual({
      GenerateRandom: 1,
    });
    expect(random.stdout).toHaveLength(24);
  });

  it('re-encrypt from a local key to a KMS key is a local decrypt and one Encrypt, and back is one Decrypt and a local encrypt', async () => {
    const localStore = join(workdir(), 'keystore');
    ok(await runCli(['--keystore', localStore, 'keygen', 'offline']));
    const arn = await kmsKey(fresh('bridge'));
    const mine = (args: string[], options: RunOptions = {}) => run(['--keystore', localStore, 'kms', ...args], options);
    const localBlob = json(ok(await mine(['encrypt', '--key-id', 'alias/offline', '-c', 'k=v'], { stdin: 'bridged' }))).CiphertextBlob;
    let toKms!: CliResult;
    expect(
      await requestsDuring(async () => {
        toKms = ok(await mine(['re-encrypt', '--destination-key-id', arn, '--source-encryption-context', 'k=v', '--destination-encryption-context', 'k=v'], { stdin: localBlob }));
      }),
    ).toEqual({ Encrypt: 1 });
    const inKms = json(toKms);
    expect(inKms.KeyId).toBe(arn);
    expect(inKms.SourceKeyId).toMatch(/^arn:envelope:local:/);
    let toLocal!: CliResult;
    expect(
      await requestsDuring(async () => {
        toLocal = ok(
          await mine(['re-encrypt', '--source-key-id', arn, '--destination-key-id', 'alias/offline', '--source-encryption-context', 'k=v'], {
            stdin: inKms.CiphertextBlob,
          }),
        );
      }),
    ).toEqual({ Decrypt: 1 });
    const local = json(toLocal);
    expect(local.SourceKeyId).toBe(arn);
    const plain = json(ok(await mine(['decrypt'], { stdin: local.CiphertextBlob })));
    expect(Buffer.from(plain.Plaintext, 'base64').toString()).toBe('bridged');
  });
});

describe('the AWS SDK is loaded only for KMS', () => {
  it('a local keys list never imports it; keys list --kms does (so the check can fail)', async () => {
    const dir = join(workdir(), 'keystore');
    ok(await runCli(['--keystore', dir, 'keygen', 'local-only']));
    const local = ok(await run(['--keystore', dir, 'keys', 'list'], { env: TRACE_LOADS }));
    expect(distFilesLoaded(local.stderr)).not.toContain('aws-sdk.cjs');
    const remote = ok(await run(['keys', 'list', '--kms'], { env: TRACE_LOADS }));
    expect(distFilesLoaded(remote.stderr)).toContain('aws-sdk.cjs');
  });
});
