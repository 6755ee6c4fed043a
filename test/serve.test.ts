// envelope serve: the local keystore behind the AWS KMS JSON 1.1 API. Every
// operation goes through the real @aws-sdk/client-kms against the built CLI
// (test/support/kms-server.ts), with KMS's success shapes and error codes;
// then the HTTP edges (body cap, JSON, unknown targets, timeouts), the options
// (--token-file, --throttle, --listen), the audit log, the AWS Encryption SDK
// for JavaScript through serve, and multi-region keys in the CLI.

import { spawn } from 'node:child_process';
import { createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  buildAwsKmsMrkAwareStrictMultiKeyringNode,
  buildClient,
  CommitmentPolicy,
  KMS,
  KmsKeyringNode,
} from '@aws-crypto/client-node';
import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  PutKeyPolicyCommand,
  ReEncryptCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeHeader } from '../src/format/header.js';
import { openBlob, readBlobHeader, sealBlob } from '../src/keystore/blob.js';
import { Keystore } from '../src/keystore/keystore.js';
import { startServer } from '../src/serve/server.js';
import { parsePolicyDocument, policyDocument } from '../src/serve/policy-document.js';
import { parseSigV4Credential } from '../src/serve/sigv4-credential.js';
import { ENVELOPE, REPO_ROOT, runCli, workdirs } from './helpers.js';
import { type KmsServer, startKmsServer } from './support/kms-server.js';

const workdir = workdirs('envelope-serve-');

function client(kms: KmsServer, options: { region?: string; accessKeyId?: string; maxAttempts?: number } = {}): KMSClient {
  return new KMSClient({
    endpoint: kms.endpoint,
    region: options.region ?? kms.region,
    credentials: { accessKeyId: options.accessKeyId ?? kms.env().AWS_ACCESS_KEY_ID!, secretAccessKey: 'x' },
    maxAttempts: options.maxAttempts ?? 1,
  });
}

/** The KMS error name a call fails with. */
async function failure(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (e) {
    return (e as Error).name;
  }
  throw new Error('the call succeeded');
}

/** A raw POST to the server, for what SDKs never send. */
async function post(kms: KmsServer, body: string | Uint8Array, target = 'TrentService.ListKeys') {
  const response = await fetch(kms.endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': target },
    body,
  });
  return { status: response.status, type: response.headers.get('x-amzn-errortype'), body: await response.json() };
}

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('envelope serve through @aws-sdk/client-kms', () => {
  let kms: KmsServer;
  let sdk: KMSClient;
  beforeAll(async () => {
    kms = await startKmsServer({ region: 'us-west-2', account: '111122223333' });
    sdk = client(kms);
  });
  afterAll(async () => {
    sdk.destroy();
    await kms.stop();
  });

  it('CreateKey and DescribeKey answer KeyMetadata with ARNs, epoch dates and KMS key specs', async () => {
    const made = await sdk.send(new CreateKeyCommand({ Description: 'app key', Tags: [{ TagKey: 'team', TagValue: 'ops' }] }));
    const meta = made.KeyMetadata!;
    expect(meta.KeyId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(meta.Arn).toBe(`arn:aws:kms:us-west-2:111122223333:key/${meta.KeyId}`);
    expect(meta).toMatchObject({
      AWSAccountId: '111122223333',
      Enabled: true,
      KeyState: 'Enabled',
      KeySpec: 'SYMMETRIC_DEFAULT',
      KeyUsage: 'ENCRYPT_DECRYPT',
      Origin: 'AWS_KMS',
      KeyManager: 'CUSTOMER',
      MultiRegion: false,
      Description: 'app key',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    });
    expect(meta.CreationDate).toBeInstanceOf(Date);
    expect(Math.abs(meta.CreationDate!.getTime() - Date.now())).toBeLessThan(60_000);
    for (const form of [meta.KeyId!, meta.Arn!]) {
      const described = await sdk.send(new DescribeKeyCommand({ KeyId: form }));
      expect(described.KeyMetadata!.Arn).toBe(meta.Arn);
    }
    const tags = await sdk.send(new ListResourceTagsCommand({ KeyId: meta.KeyId }));
    expect(tags.Tags).toEqual([{ TagKey: 'team', TagValue: 'ops' }]);
  });

  it('CreateKey refuses what it cannot serve: UnsupportedOperationException', async () => {
    expect(await failure(sdk.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' })))).toBe('UnsupportedOperationException');
    expect(await failure(sdk.send(new CreateKeyCommand({ Origin: 'EXTERNAL' })))).toBe('UnsupportedOperationException');
  });

  it('aliases: create, resolve in every KeyId form, list, update, delete, and the alias rules', async () => {
    const a = await kms.createKey();
    const b = await kms.createKey();
    await sdk.send(new CreateAliasCommand({ AliasName: 'alias/orders', TargetKeyId: a.arn }));
    for (const form of ['alias/orders', 'arn:aws:kms:us-west-2:111122223333:alias/orders']) {
      expect((await sdk.send(new DescribeKeyCommand({ KeyId: form }))).KeyMetadata!.KeyId).toBe(a.keyId);
    }
    const listed = await sdk.send(new ListAliasesCommand({ KeyId: a.keyId }));
    expect(listed.Aliases).toEqual([
      { AliasName: 'alias/orders', AliasArn: 'arn:aws:kms:us-west-2:111122223333:alias/orders', TargetKeyId: a.keyId },
    ]);
    expect(await failure(sdk.send(new CreateAliasCommand({ AliasName: 'alias/orders', TargetKeyId: b.keyId })))).toBe('AlreadyExistsException');
    expect(await failure(sdk.send(new CreateAliasCommand({ AliasName: 'alias/aws/orders', TargetKeyId: b.keyId })))).toBe('InvalidAliasNameException');
    expect(await failure(sdk.send(new CreateAliasCommand({ AliasName: 'orders2', TargetKeyId: b.keyId })))).toBe('InvalidAliasNameException');
    expect(await failure(sdk.send(new CreateAliasCommand({ AliasName: 'alias/bad name', TargetKeyId: b.keyId })))).toBe('InvalidAliasNameException');
    // As KMS: an alias targets a key, not another alias.
    expect(await failure(sdk.send(new CreateAliasCommand({ AliasName: 'alias/other', TargetKeyId: 'alias/orders' })))).toBe('ValidationException');
    expect(await failure(sdk.send(new UpdateAliasCommand({ AliasName: 'alias/missing', TargetKeyId: b.keyId })))).toBe('NotFoundException');
    await sdk.send(new UpdateAliasCommand({ AliasName: 'alias/orders', TargetKeyId: b.keyId }));
    expect((await sdk.send(new DescribeKeyCommand({ KeyId: 'alias/orders' }))).KeyMetadata!.KeyId).toBe(b.keyId);
    await sdk.send(new DeleteAliasCommand({ AliasName: 'alias/orders' }));
    expect(await failure(sdk.send(new DescribeKeyCommand({ KeyId: 'alias/orders' })))).toBe('NotFoundException');
    expect(await failure(sdk.send(new DeleteAliasCommand({ AliasName: 'alias/orders' })))).toBe('NotFoundException');
  });

  it('ListKeys and ListAliases page with Limit and Marker', async () => {
    for (let i = 0; i < 3; i++) await kms.createKey({ alias: `alias/page-${i}` });
    const all = (await sdk.send(new ListKeysCommand({}))).Keys!;
    expect(all.length).toBeGreaterThanOrEqual(3);
    const seen: string[] = [];
    let marker: string | undefined;
    do {
      const page = await sdk.send(new ListKeysCommand({ Limit: 2, ...(marker ? { Marker: marker } : {}) }));
      expect(page.Keys!.length).toBeLessThanOrEqual(2);
      seen.push(...page.Keys!.map((k) => k.KeyId!));
      for (const k of page.Keys!) expect(k.KeyArn).toBe(`arn:aws:kms:us-west-2:111122223333:key/${k.KeyId}`);
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    expect(seen).toEqual(all.map((k) => k.KeyId));
    const aliases = await sdk.send(new ListAliasesCommand({ Limit: 1 }));
    expect(aliases.Aliases).toHaveLength(1);
    expect(aliases.Truncated).toBe(true);
    expect(await failure(sdk.send(new ListKeysCommand({ Marker: 'not-ours' })))).toBe('InvalidMarkerException');
  });

  it('Encrypt, Decrypt and ReEncrypt round-trip with the encryption context bound', async () => {
    const a = await kms.createKey({ alias: 'alias/round-a' });
    const b = await kms.createKey();
    const context = { purpose: 'test', tenant: 't1' };
    const sealed = await sdk.send(new EncryptCommand({ KeyId: 'alias/round-a', Plaintext: utf8('hello'), EncryptionContext: context }));
    expect(sealed.KeyId).toBe(a.arn);
    expect(sealed.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    const opened = await sdk.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: context }));
    expect(Buffer.from(opened.Plaintext!).toString()).toBe('hello');
    expect(opened.KeyId).toBe(a.arn);
    const moved = await sdk.send(
      new ReEncryptCommand({
        CiphertextBlob: sealed.CiphertextBlob,
        SourceEncryptionContext: context,
        DestinationKeyId: b.keyId,
        DestinationEncryptionContext: { purpose: 'moved' },
      }),
    );
    expect(moved).toMatchObject({ SourceKeyId: a.arn, KeyId: b.arn, SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    const reopened = await sdk.send(new DecryptCommand({ CiphertextBlob: moved.CiphertextBlob, KeyId: b.arn, EncryptionContext: { purpose: 'moved' } }));
    expect(Buffer.from(reopened.Plaintext!).toString()).toBe('hello');
    expect(reopened.KeyId).toBe(b.arn);
  });

  it('wrong encryption context, a tampered blob and a foreign blob are InvalidCiphertextException', async () => {
    const a = await kms.createKey();
    const sealed = await sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: utf8('secret'), EncryptionContext: { k: 'v' } }));
    const blob = Buffer.from(sealed.CiphertextBlob!);
    expect(await failure(sdk.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { k: 'w' } })))).toBe('InvalidCiphertextException');
    expect(await failure(sdk.send(new DecryptCommand({ CiphertextBlob: blob })))).toBe('InvalidCiphertextException');
    for (const at of [30, blob.length - 1]) {
      const tampered = Buffer.from(blob);
      tampered[at]! ^= 1;
      expect(await failure(sdk.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: { k: 'v' } })))).toBe('InvalidCiphertextException');
    }
    expect(await failure(sdk.send(new DecryptCommand({ CiphertextBlob: Buffer.alloc(64, 7) })))).toBe('InvalidCiphertextException');
  });

  it('a one-bit change anywhere in a blob is refused: NotFoundException in the key id, InvalidCiphertextException elsewhere', async () => {
    const a = await kms.createKey();
    const blob = Buffer.from((await sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: utf8('bits'), EncryptionContext: { c: '1' } }))).CiphertextBlob!);
    const answers = await Promise.all(
      Array.from({ length: blob.length }, (_, at) => {
        const flipped = Buffer.from(blob);
        flipped[at]! ^= 1 << (at % 8);
        return failure(sdk.send(new DecryptCommand({ CiphertextBlob: flipped, EncryptionContext: { c: '1' } })));
      }),
    );
    answers.forEach((name, at) => expect(name, `byte ${at}`).toBe(at >= 4 && at < 20 ? 'NotFoundException' : 'InvalidCiphertextException'));
  });

  it('a blob of another key with KeyId given is IncorrectKeyException; an unknown key is NotFoundException', async () => {
    const a = await kms.createKey();
    const b = await kms.createKey();
    const sealed = await sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: utf8('x') }));
    expect(await failure(sdk.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, KeyId: b.arn })))).toBe('IncorrectKeyException');
    expect(await failure(sdk.send(new ReEncryptCommand({ CiphertextBlob: sealed.CiphertextBlob, SourceKeyId: b.keyId, DestinationKeyId: b.keyId })))).toBe(
      'IncorrectKeyException',
    );
    for (const id of ['00000000-0000-4000-8000-000000000000', 'alias/none', 'mrk-00000000000000000000000000000000', 'some-name']) {
      expect(await failure(sdk.send(new EncryptCommand({ KeyId: id, Plaintext: utf8('x') })))).toBe('NotFoundException');
    }
  });

  it('key states: disabled is DisabledException, pending deletion KMSInvalidStateException, and back', async () => {
    const a = await kms.createKey();
    const sealed = await sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: utf8('x') }));
    await sdk.send(new DisableKeyCommand({ KeyId: a.keyId }));
    expect((await sdk.send(new DescribeKeyCommand({ KeyId: a.keyId }))).KeyMetadata).toMatchObject({ Enabled: false, KeyState: 'Disabled' });
    expect(await failure(sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: utf8('x') })))).toBe('DisabledException');
    expect(await failure(sdk.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob })))).toBe('DisabledException');
    expect(await failure(sdk.send(new GenerateDataKeyCommand({ KeyId: a.keyId, KeySpec: 'AES_256' })))).toBe('DisabledException');
    await sdk.send(new EnableKeyCommand({ KeyId: a.keyId }));
    const deletion = await sdk.send(new ScheduleKeyDeletionCommand({ KeyId: a.keyId, PendingWindowInDays: 7 }));
    expect(deletion).toMatchObject({ KeyId: a.arn, KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect(deletion.DeletionDate!.getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect(await failure(sdk.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob })))).toBe('KMSInvalidStateException');
    expect(await failure(sdk.send(new EnableKeyCommand({ KeyId: a.keyId })))).toBe('KMSInvalidStateException');
    expect(await failure(sdk.send(new ScheduleKeyDeletionCommand({ KeyId: a.keyId, PendingWindowInDays: 3 })))).toBe('ValidationException');
    expect((await sdk.send(new CancelKeyDeletionCommand({ KeyId: a.keyId }))).KeyId).toBe(a.arn);
    // As KMS: a cancelled deletion leaves the key Disabled.
    expect((await sdk.send(new DescribeKeyCommand({ KeyId: a.keyId }))).KeyMetadata!.KeyState).toBe('Disabled');
    await sdk.send(new EnableKeyCommand({ KeyId: a.keyId }));
    const opened = await sdk.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob }));
    expect(Buffer.from(opened.Plaintext!).toString()).toBe('x');
  });

  it('GenerateDataKey (KeySpec or NumberOfBytes), WithoutPlaintext and GenerateRandom', async () => {
    const a = await kms.createKey();
    const k256 = await sdk.send(new GenerateDataKeyCommand({ KeyId: a.arn, KeySpec: 'AES_256', EncryptionContext: { x: '1' } }));
    expect(k256.Plaintext).toHaveLength(32);
    expect(k256.KeyId).toBe(a.arn);
    const opened = await sdk.send(new DecryptCommand({ CiphertextBlob: k256.CiphertextBlob, EncryptionContext: { x: '1' } }));
    expect(Buffer.from(opened.Plaintext!)).toEqual(Buffer.from(k256.Plaintext!));
    expect((await sdk.send(new GenerateDataKeyCommand({ KeyId: a.arn, KeySpec: 'AES_128' }))).Plaintext).toHaveLength(16);
    expect((await sdk.send(new GenerateDataKeyCommand({ KeyId: a.arn, NumberOfBytes: 64 }))).Plaintext).toHaveLength(64);
    expect(await failure(sdk.send(new GenerateDataKeyCommand({ KeyId: a.arn })))).toBe('ValidationException');
    expect(await failure(sdk.send(new GenerateDataKeyCommand({ KeyId: a.arn, KeySpec: 'AES_256', NumberOfBytes: 32 })))).toBe('ValidationException');
    expect(await failure(sdk.send(new GenerateDataKeyCommand({ KeyId: a.arn, NumberOfBytes: 1025 })))).toBe('ValidationException');
    const blind = await sdk.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: a.keyId, KeySpec: 'AES_256' }));
    expect('Plaintext' in blind).toBe(false);
    expect((await sdk.send(new DecryptCommand({ CiphertextBlob: blind.CiphertextBlob }))).Plaintext).toHaveLength(32);
    const random = await sdk.send(new GenerateRandomCommand({ NumberOfBytes: 48 }));
    expect(random.Plaintext).toHaveLength(48);
    expect(await failure(sdk.send(new GenerateRandomCommand({ NumberOfBytes: 0 })))).toBe('ValidationException');
    expect(await failure(sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: new Uint8Array(4097) })))).toBe('ValidationException');
  });

  it('rotation: EnableKeyRotation with a period, status, RotateKeyOnDemand, ListKeyRotations; old blobs still open', async () => {
    const a = await kms.createKey();
    const before = await sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: utf8('v1') }));
    expect(await sdk.send(new GetKeyRotationStatusCommand({ KeyId: a.keyId }))).toMatchObject({ KeyRotationEnabled: false, KeyId: a.arn });
    await sdk.send(new EnableKeyRotationCommand({ KeyId: a.keyId, RotationPeriodInDays: 180 }));
    const status = await sdk.send(new GetKeyRotationStatusCommand({ KeyId: a.keyId }));
    expect(status).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 180 });
    expect(status.NextRotationDate!.getTime() - Date.now()).toBeGreaterThan(179 * 86_400_000);
    expect(await failure(sdk.send(new EnableKeyRotationCommand({ KeyId: a.keyId, RotationPeriodInDays: 30 })))).toBe('ValidationException');
    expect((await sdk.send(new ListKeyRotationsCommand({ KeyId: a.keyId }))).Rotations).toEqual([]);
    expect((await sdk.send(new RotateKeyOnDemandCommand({ KeyId: a.keyId }))).KeyId).toBe(a.arn);
    const rotations = (await sdk.send(new ListKeyRotationsCommand({ KeyId: a.keyId }))).Rotations!;
    expect(rotations).toHaveLength(1);
    expect(rotations[0]).toMatchObject({ KeyId: a.arn, RotationType: 'ON_DEMAND' });
    await sdk.send(new DisableKeyRotationCommand({ KeyId: a.keyId }));
    expect((await sdk.send(new GetKeyRotationStatusCommand({ KeyId: a.keyId }))).KeyRotationEnabled).toBe(false);
    expect(Buffer.from((await sdk.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext!).toString()).toBe('v1');
    const after = await sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: utf8('v2') }));
    expect(Buffer.from(after.CiphertextBlob!).readUInt32BE(20)).toBe(2);
  });

  it('tags: TagResource, UntagResource, ListResourceTags, and the tag rules', async () => {
    const a = await kms.createKey();
    await sdk.send(new TagResourceCommand({ KeyId: a.keyId, Tags: [{ TagKey: 'b', TagValue: '2' }, { TagKey: 'a', TagValue: '1' }] }));
    await sdk.send(new TagResourceCommand({ KeyId: a.arn, Tags: [{ TagKey: 'b', TagValue: '3' }] }));
    expect((await sdk.send(new ListResourceTagsCommand({ KeyId: a.keyId }))).Tags).toEqual([
      { TagKey: 'a', TagValue: '1' },
      { TagKey: 'b', TagValue: '3' },
    ]);
    await sdk.send(new UntagResourceCommand({ KeyId: a.keyId, TagKeys: ['a'] }));
    expect((await sdk.send(new ListResourceTagsCommand({ KeyId: a.keyId }))).Tags).toEqual([{ TagKey: 'b', TagValue: '3' }]);
    expect(await failure(sdk.send(new TagResourceCommand({ KeyId: a.keyId, Tags: [{ TagKey: 'aws:x', TagValue: '1' }] })))).toBe('TagException');
  });

  it('GetKeyPolicy and PutKeyPolicy carry the envelope policy as a KMS policy document', async () => {
    const a = await kms.createKey();
    const got = await sdk.send(new GetKeyPolicyCommand({ KeyId: a.keyId, PolicyName: 'default' }));
    expect(got.PolicyName).toBe('default');
    const doc = JSON.parse(got.Policy!);
    expect(doc.Version).toBe('2012-10-17');
    expect(doc.Statement.flatMap((s: { Action: string[] }) => s.Action)).toEqual(expect.arrayContaining(['kms:Encrypt', 'kms:Decrypt', 'kms:ScheduleKeyDeletion']));
    await sdk.send(new PutKeyPolicyCommand({ KeyId: a.keyId, PolicyName: 'default', Policy: got.Policy }));
    expect((await sdk.send(new GetKeyPolicyCommand({ KeyId: a.keyId }))).Policy).toBe(got.Policy);

    const guarded = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:root' },
          Action: ['kms:Encrypt', 'kms:Decrypt'],
          Resource: '*',
          Condition: { StringEquals: { 'kms:EncryptionContext:purpose': 'backup' } },
        },
      ],
    };
    await sdk.send(new PutKeyPolicyCommand({ KeyId: a.keyId, Policy: JSON.stringify(guarded) }));
    expect(await failure(sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: utf8('x') })))).toBe('AccessDeniedException');
    expect(await failure(sdk.send(new GenerateDataKeyCommand({ KeyId: a.keyId, KeySpec: 'AES_256', EncryptionContext: { purpose: 'backup' } })))).toBe(
      'AccessDeniedException',
    );
    expect(await failure(sdk.send(new DisableKeyCommand({ KeyId: a.keyId })))).toBe('AccessDeniedException');
    const sealed = await sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: utf8('x'), EncryptionContext: { purpose: 'backup' } }));
    expect(sealed.KeyId).toBe(a.arn);
    const policy = JSON.parse((await sdk.send(new GetKeyPolicyCommand({ KeyId: a.keyId }))).Policy!);
    expect(policy.Statement.find((s: { Sid: string }) => s.Sid === 'EnvelopeUse').Condition).toEqual({
      StringEquals: { 'kms:EncryptionContext:purpose': 'backup' },
    });

    const cannot = [
      { ...guarded, Statement: [{ ...guarded.Statement[0], Effect: 'Deny' }] },
      { ...guarded, Statement: [{ ...guarded.Statement[0], Principal: { AWS: 'arn:aws:iam::444455556666:root' } }] },
      { ...guarded, Statement: [{ ...guarded.Statement[0], Action: 'kms:GenerateDataKey' }] },
      { ...guarded, Statement: [{ ...guarded.Statement[0], Condition: { StringLike: { 'kms:EncryptionContext:purpose': 'b*' } } }] },
      { ...guarded, Statement: [{ ...guarded.Statement[0], Action: ['kms:Encrypt', 'kms:Sign'] }] },
    ];
    for (const document of cannot) {
      expect(await failure(sdk.send(new PutKeyPolicyCommand({ KeyId: a.keyId, Policy: JSON.stringify(document) })))).toBe('MalformedPolicyDocumentException');
    }
    expect(await failure(sdk.send(new PutKeyPolicyCommand({ KeyId: a.keyId, Policy: '{not json' })))).toBe('MalformedPolicyDocumentException');
    expect(await failure(sdk.send(new GetKeyPolicyCommand({ KeyId: a.keyId, PolicyName: 'other' })))).toBe('NotFoundException');
  });

  it('GetPublicKey gives an RSA key\'s SubjectPublicKeyInfo DER; a symmetric key has none', async () => {
    const rsa = await kms.createKey({ keySpec: 'RSA_2048' });
    const got = await sdk.send(new GetPublicKeyCommand({ KeyId: rsa.keyId }));
    expect(got).toMatchObject({ KeyId: rsa.arn, KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    const key = createPublicKey({ key: Buffer.from(got.PublicKey!), format: 'der', type: 'spki' });
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const aes = await kms.createKey();
    expect(await failure(sdk.send(new GetPublicKeyCommand({ KeyId: aes.keyId })))).toBe('UnsupportedOperationException');
    expect(await failure(sdk.send(new EncryptCommand({ KeyId: rsa.keyId, Plaintext: utf8('x') })))).toBe('InvalidKeyUsageException');
  });

  it('ARNs of another account, another region, or another partition name nothing: NotFoundException', async () => {
    const a = await kms.createKey({ alias: 'alias/home' });
    for (const id of [
      a.arn.replace('111122223333', '444455556666'),
      a.arn.replace('us-west-2', 'eu-west-1'),
      a.arn.replace('arn:aws:', 'arn:aws-cn:'),
      'arn:aws:kms:us-west-2:444455556666:alias/home',
    ]) {
      expect(await failure(sdk.send(new DescribeKeyCommand({ KeyId: id })))).toBe('NotFoundException');
    }
  });

  it('regions: a normal key exists only in the served region; a multi-region key answers everywhere under that region\'s ARN', async () => {
    const normal = await kms.createKey({ alias: 'alias/regional' });
    const mrk = await kms.createKey({ alias: 'alias/global', multiRegion: true });
    expect(mrk.keyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    const home = await sdk.send(new DescribeKeyCommand({ KeyId: mrk.keyId }));
    expect(home.KeyMetadata).toMatchObject({ MultiRegion: true, MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY' } });
    const sealed = await sdk.send(new EncryptCommand({ KeyId: mrk.arn, Plaintext: utf8('everywhere'), EncryptionContext: { r: '1' } }));

    const away = client(kms, { region: 'eu-west-1' });
    try {
      expect(await failure(away.send(new DescribeKeyCommand({ KeyId: normal.keyId })))).toBe('NotFoundException');
      expect(await failure(away.send(new DescribeKeyCommand({ KeyId: 'alias/regional' })))).toBe('NotFoundException');
      expect(await failure(away.send(new EncryptCommand({ KeyId: normal.arn, Plaintext: utf8('x') })))).toBe('NotFoundException');
      const replicaArn = mrk.arn.replace('us-west-2', 'eu-west-1');
      const described = await away.send(new DescribeKeyCommand({ KeyId: replicaArn }));
      expect(described.KeyMetadata).toMatchObject({ Arn: replicaArn, MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: { Arn: mrk.arn, Region: 'us-west-2' } } });
      // The us-west-2 ARN names nothing in eu-west-1, as in KMS.
      expect(await failure(away.send(new DescribeKeyCommand({ KeyId: mrk.arn })))).toBe('NotFoundException');
      const opened = await away.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { r: '1' } }));
      expect(opened.KeyId).toBe(replicaArn);
      expect(Buffer.from(opened.Plaintext!).toString()).toBe('everywhere');
      expect((await away.send(new GenerateDataKeyCommand({ KeyId: 'alias/global', KeySpec: 'AES_256' }))).KeyId).toBe(replicaArn);
      const keys = (await away.send(new ListKeysCommand({}))).Keys!.map((k) => k.KeyId);
      expect(keys).toContain(mrk.keyId);
      expect(keys).not.toContain(normal.keyId);
    } finally {
      away.destroy();
    }
  });

  it('a message envelope wrote under a local key cannot be taken for a serve blob, nor a blob for a message', async () => {
    const made = await runCli(['keygen', 'local-x'], { env: kms.env() });
    expect(made.code, made.stderr).toBe(0);
    const message = await runCli(['encrypt', '-k', 'alias/local-x'], { env: kms.env(), stdin: 'message body' });
    expect(message.code, message.stderr).toBe(0);
    expect(await failure(sdk.send(new DecryptCommand({ CiphertextBlob: message.stdout.subarray(0, 6144) })))).toBe('InvalidCiphertextException');
    const edk = decodeHeader(message.stdout, { maxEncryptedDataKeys: 10, maxFrameLength: 1 << 20 })!.header.encryptedDataKeys[0]!;
    expect(edk.providerId).toBe('envelope-local');
    expect(await failure(sdk.send(new DecryptCommand({ CiphertextBlob: edk.ciphertext })))).toBe('InvalidCiphertextException');
    const blob = await sdk.send(new EncryptCommand({ KeyId: 'alias/local-x', Plaintext: utf8('blob') }));
    const asMessage = await runCli(['decrypt'], { env: kms.env(), stdin: Buffer.from(blob.CiphertextBlob!) });
    expect(asMessage.code).toBe(4);
    expect(asMessage.stdout).toHaveLength(0);
  });

  it('the AWS Encryption SDK for JavaScript encrypts and decrypts through serve, MRK-aware keyrings included', async () => {
    const a = await kms.createKey({ alias: 'alias/esdk' });
    const mrk = await kms.createKey({ multiRegion: true });
    const env = kms.env();
    const clientProvider = (region: string) =>
      new KMS({ region, endpoint: kms.endpoint, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: 'x' } });
    const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    kms.resetCounts();
    const keyring = new KmsKeyringNode({ generatorKeyId: a.arn, keyIds: [mrk.arn], clientProvider });
    const { result } = await encrypt(keyring, 'through serve', { encryptionContext: { app: 'esdk' } });
    const out = await decrypt(new KmsKeyringNode({ keyIds: [a.arn], clientProvider }), result);
    expect(out.plaintext.toString()).toBe('through serve');
    expect(out.messageHeader.encryptionContext).toMatchObject({ app: 'esdk' });
    const counts = kms.requests();
    expect(counts.GenerateDataKey).toBe(1);
    expect(counts.Encrypt).toBe(1);
    expect(counts.Decrypt).toBe(1);
    // The replica ARN in another region unwraps what the primary wrapped (MRK matching against one server).
    const replica = mrk.arn.replace('us-west-2', 'eu-west-1');
    const viaReplica = await decrypt(buildAwsKmsMrkAwareStrictMultiKeyringNode({ generatorKeyId: replica, clientProvider }), result);
    expect(viaReplica.plaintext.toString()).toBe('through serve');
  });

  it('the audit log holds a line for every request and no plaintext or data key', async () => {
    const a = await kms.createKey();
    kms.resetCounts();
    const before = readFileSync(join(kms.keystore, 'audit.log'), 'utf8').split('\n').filter(Boolean).length;
    const secrets: Buffer[] = [];
    const key = await sdk.send(new GenerateDataKeyCommand({ KeyId: a.keyId, KeySpec: 'AES_256', EncryptionContext: { who: 'me' } }));
    secrets.push(Buffer.from(key.Plaintext!));
    const opened = await sdk.send(new DecryptCommand({ CiphertextBlob: key.CiphertextBlob, EncryptionContext: { who: 'me' } }));
    secrets.push(Buffer.from(opened.Plaintext!));
    secrets.push(Buffer.from((await sdk.send(new GenerateRandomCommand({ NumberOfBytes: 32 }))).Plaintext!));
    const plaintext = Buffer.from('a very particular plaintext 1234567890');
    secrets.push(plaintext);
    await sdk.send(new EncryptCommand({ KeyId: a.keyId, Plaintext: plaintext }));
    await failure(sdk.send(new DecryptCommand({ CiphertextBlob: key.CiphertextBlob, EncryptionContext: { who: 'you' } })));
    await sdk.send(new DescribeKeyCommand({ KeyId: a.keyId }));
    await sdk.send(new ListKeysCommand({}));

    const text = readFileSync(join(kms.keystore, 'audit.log'), 'utf8');
    const lines = text.split('\n').filter(Boolean).slice(before).map((l) => JSON.parse(l));
    const served = lines.filter((l) => l.operation.startsWith('kms:'));
    const sent = Object.values(kms.requests()).reduce((a, b) => a + b, 0);
    expect(sent).toBe(7);
    expect(served.map((l) => l.operation)).toEqual([
      'kms:GenerateDataKey',
      'kms:Decrypt',
      'kms:GenerateRandom',
      'kms:Encrypt',
      'kms:Decrypt',
      'kms:DescribeKey',
      'kms:ListKeys',
    ]);
    expect(served[0]).toMatchObject({ keyId: a.keyId, contextKeys: ['who'], outcome: 'success' });
    expect(served[4]).toMatchObject({ keyId: a.keyId, outcome: 'failure', error: 'InvalidCiphertextException' });
    for (const secret of secrets) {
      for (const encoding of ['base64', 'hex', 'base64url'] as const) expect(text).not.toContain(secret.toString(encoding));
    }
    expect(text).not.toContain(plaintext.toString('utf8'));
    const verified = await runCli(['audit', '--verify'], { env: kms.env() });
    expect(verified.code, verified.stderr).toBe(0);
  });

  it('concurrent requests are all served and all audited', async () => {
    const a = await kms.createKey();
    kms.resetCounts();
    const results = await Promise.all([
      ...Array.from({ length: 12 }, () => sdk.send(new GenerateDataKeyCommand({ KeyId: a.keyId, KeySpec: 'AES_256' }))),
      ...Array.from({ length: 4 }, (_, i) => kms.createKey({ alias: `alias/concurrent-${i}` })),
    ]);
    expect(results).toHaveLength(16);
    const aliases = (await sdk.send(new ListAliasesCommand({}))).Aliases!.map((x) => x.AliasName);
    for (let i = 0; i < 4; i++) expect(aliases).toContain(`alias/concurrent-${i}`);
    expect(kms.requests().GenerateDataKey).toBe(12);
    const verified = await runCli(['audit', '--verify'], { env: kms.env() });
    expect(verified.code, verified.stderr).toBe(0);
  });

  it('HTTP edges: oversized body 413, malformed JSON SerializationException, unknown target UnknownOperationException', async () => {
    const big = await post(kms, new Uint8Array(1024 * 1024 + 1).fill(0x20));
    expect(big.status).toBe(413);
    const bad = await post(kms, '{"KeyId": ');
    expect(bad).toMatchObject({ status: 400, type: 'SerializationException', body: { __type: 'SerializationException' } });
    const notObject = await post(kms, '[1,2]');
    expect(notObject.type).toBe('SerializationException');
    const unknown = await post(kms, '{}', 'TrentService.Sign');
    expect(unknown).toMatchObject({ status: 400, type: 'UnknownOperationException' });
    const wrongType = await post(kms, '{"KeyId": 5}', 'TrentService.DescribeKey');
    expect(wrongType).toMatchObject({ status: 400, type: 'ValidationException' });
    const get = await fetch(kms.endpoint);
    expect(get.status).toBe(404);
    await get.arrayBuffer();
    const counts = kms.requests();
    expect(counts.UnknownOperation).toBeGreaterThanOrEqual(2);
  });
});

describe('envelope serve options', () => {
  it('--token-file: the matching access key id is served, any other AccessDeniedException', async () => {
    const kms = await startKmsServer({ token: 'AKIATOKEN1234' });
    const good = client(kms);
    const bad = client(kms, { accessKeyId: 'AKIAOTHER' });
    try {
      expect(kms.env().AWS_ACCESS_KEY_ID).toBe('AKIATOKEN1234');
      const made = await good.send(new CreateKeyCommand({}));
      expect(made.KeyMetadata!.KeyId).toBeTruthy();
      expect(await failure(bad.send(new DescribeKeyCommand({ KeyId: made.KeyMetadata!.KeyId })))).toBe('AccessDeniedException');
      expect(await failure(bad.send(new ListKeysCommand({})))).toBe('AccessDeniedException');
      const unsigned = await post(kms, '{}');
      expect(unsigned.type).toBe('AccessDeniedException');
    } finally {
      good.destroy();
      bad.destroy();
      await kms.stop();
    }
  });

  it('--token-file must be private and not empty', async () => {
    const dir = workdir();
    const token = join(dir, 'token');
    writeFileSync(token, 'AKIA\n');
    chmodSync(token, 0o644);
    const open = await runCli(['serve', '--listen', '127.0.0.1:0', '--keystore', join(dir, 'ks'), '--token-file', token]);
    expect(open.code).toBe(7);
    expect(open.stderr).toContain('chmod 600');
    writeFileSync(token, '\n', { mode: 0o600 });
    chmodSync(token, 0o600);
    const empty = await runCli(['serve', '--listen', '127.0.0.1:0', '--keystore', join(dir, 'ks'), '--token-file', token]);
    expect(empty.code).toBe(2);
  });

  it('--throttle N: the first N requests are ThrottlingException; an SDK with N+1 attempts gets through', async () => {
    const kms = await startKmsServer({ throttle: 2 });
    const patient = client(kms, { maxAttempts: 3 });
    const hasty = client(kms, { maxAttempts: 1 });
    try {
      const made = await patient.send(new CreateKeyCommand({}));
      expect(made.KeyMetadata!.KeyState).toBe('Enabled');
      expect(kms.requests().CreateKey).toBe(3);
      const counted = kms.requests();
      expect(counted).toEqual({ CreateKey: 3 });
      // The budget is spent: nothing more is throttled.
      await hasty.send(new ListKeysCommand({}));
    } finally {
      patient.destroy();
      hasty.destroy();
      await kms.stop();
    }
    const again = await startKmsServer({ throttle: 1 });
    const once = client(again, { maxAttempts: 1 });
    try {
      expect(await failure(once.send(new ListKeysCommand({})))).toBe('ThrottlingException');
    } finally {
      once.destroy();
      await again.stop();
    }
  });

  it('--listen: loopback unless an address is named; a named other address is served with a warning; host names are refused', async () => {
    const dir = workdir();
    const hostName = await runCli(['serve', '--listen', 'example.com:0', '--keystore', join(dir, 'ks')]);
    expect(hostName.code).toBe(2);
    expect(hostName.stderr).toContain('IP address');
    const bad = await runCli(['serve', '--listen', '127.0.0.1:99999', '--keystore', join(dir, 'ks')]);
    expect(bad.code).toBe(2);
    const badAccount = await runCli(['serve', '--listen', '127.0.0.1:0', '--account', '12345', '--keystore', join(dir, 'ks')]);
    expect(badAccount.code).toBe(2);

    const portOnly = await startKmsServer({ args: ['--listen', ':0'] });
    try {
      expect(portOnly.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await portOnly.stop();
    }
    const everywhere = await serveProcess(['--listen', '0.0.0.0:0', '--keystore', join(dir, 'ks')]);
    try {
      expect(everywhere.startLine).toMatch(/at http:\/\/0\.0\.0\.0:\d+ /);
      expect(everywhere.stderr()).toContain('warning: listening on http://0.0.0.0:');
      expect(everywhere.stderr()).toContain('anyone who can reach it can use the keys');
    } finally {
      expect(await everywhere.stop()).toBe(0);
    }
  });

  it('SIGINT and SIGTERM stop the server cleanly: exit 0', async () => {
    const dir = workdir();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const server = await serveProcess(['--listen', '127.0.0.1:0', '--keystore', join(dir, 'ks')]);
      expect(await server.stop(signal)).toBe(0);
    }
  });

  it('a passphrase-protected keystore is unlocked once at start, then serves without asking', async () => {
    const dir = workdir();
    const keystore = join(dir, 'ks');
    const passphrase = join(dir, 'pass');
    writeFileSync(passphrase, 'correct horse\n', { mode: 0o600 });
    const made = await runCli(['--keystore', keystore, '--passphrase-file', passphrase, 'keygen', 'locked'], { env: { ENVELOPE_PASSPHRASE: undefined } });
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(keystore, 'keystore.json'), 'utf8')).protection.kind).toBe('passphrase');
    const kms = await startKmsServer({ keystore, args: ['--passphrase-file', passphrase] });
    const sdk = client(kms);
    try {
      writeFileSync(passphrase, 'wrong now\n');
      const key = await sdk.send(new GenerateDataKeyCommand({ KeyId: 'alias/locked', KeySpec: 'AES_256' }));
      expect(key.Plaintext).toHaveLength(32);
    } finally {
      sdk.destroy();
      await kms.stop();
    }
    const wrong = await runCli(['serve', '--listen', '127.0.0.1:0', '--keystore', keystore, '--passphrase-file', passphrase], { detached: true });
    expect(wrong.code).toBe(7);
  });
});

describe('the HTTP server in-process', () => {
  it('a client that sends its request too slowly is cut off', async () => {
    const dir = workdir();
    const server = await startServer({
      keystore: new Keystore({ dir: join(dir, 'ks') }),
      served: { region: 'us-east-1', account: '111122223333' },
      host: '127.0.0.1',
      port: 0,
      requestTimeoutMs: 600,
      headersTimeoutMs: 600,
    });
    try {
      const started = Date.now();
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const socket = connect(server.port, '127.0.0.1', () => socket.write('POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: TrentService.ListKeys\r\n'));
        socket.on('data', () => undefined);
        socket.on('close', () => resolve(Date.now() - started));
        socket.on('error', reject);
        setTimeout(() => reject(new Error('still open after 5 s')), 5_000);
      });
      expect(closedAfter).toBeLessThan(4_000);
    } finally {
      await server.close(100);
    }
  });

  it('reads the access key id and region of a SigV4 Authorization header', () => {
    const header =
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/eu-central-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc';
    expect(parseSigV4Credential(header)).toEqual({ accessKeyId: 'AKIDEXAMPLE', region: 'eu-central-1' });
    expect(parseSigV4Credential('AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-central-1/s3/aws4_request')).toBeUndefined();
    expect(parseSigV4Credential(undefined)).toBeUndefined();
    expect(parseSigV4Credential('Basic abc')).toBeUndefined();
  });

  it('policy documents round-trip every policy the keystore can hold', () => {
    const policies = [
      { allow: ['encrypt', 'decrypt', 'generate-data-key', 're-encrypt', 'rotate', 'manage'] as const, requireContext: [] },
      { allow: ['decrypt'] as const, requireContext: [{ key: 'purpose', value: 'backup' }, { key: 'tenant' }] },
      { allow: [] as const, requireContext: [] },
      { allow: ['manage', 'rotate'] as const, requireContext: [] },
    ];
    for (const policy of policies) {
      const back = parsePolicyDocument(policyDocument({ allow: [...policy.allow], requireContext: policy.requireContext }, '111122223333'), '111122223333');
      expect([...back.allow].sort()).toEqual([...policy.allow].sort());
      expect([...back.requireContext].sort((a, b) => (a.key < b.key ? -1 : 1))).toEqual(policy.requireContext);
    }
    expect(parsePolicyDocument(JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' }] }), '1').allow).toHaveLength(6);
  });
});

describe('boundaries', () => {
  it('src/serve imports neither the CLI, commander, chalk, ora nor the AWS SDK', () => {
    const dir = join(REPO_ROOT, 'src', 'serve');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect(text, file).not.toMatch(/from '(commander|chalk|ora|@aws-sdk\/[^']*)'/);
      expect(text, file).not.toMatch(/from '\.\.\/cli\//);
    }
  });
});

describe('multi-region keys in the local keystore', () => {
  it('blobs: version 2 names an mrk- key, version 1 a UUID key, and both round-trip', () => {
    const key = randomBytes(32);
    const mrk = `mrk-${randomBytes(16).toString('hex')}`;
    const uuid = randomUUID();
    for (const [keyId, version] of [[mrk, 2], [uuid, 1]] as const) {
      const blob = sealBlob(key, { keyId, version: 7 }, utf8('p'), { c: 'd' });
      expect(blob[3]).toBe(version);
      expect(readBlobHeader(blob)).toEqual({ keyId, version: 7 });
      expect(openBlob(key, blob, { c: 'd' }).toString()).toBe('p');
    }
  });

  it('the keystore finds an mrk- key by its id (any case), its ARN-like id and its alias', async () => {
    const ks = new Keystore({ dir: join(workdir(), 'ks') });
    const record = await ks.createKey({ spec: 'AES_256', alias: 'alias/m', multiRegion: true });
    expect(record.KeyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    expect(record.MultiRegion).toBe(true);
    for (const ref of [record.KeyId, record.KeyId.toUpperCase().replace('MRK-', 'mrk-'), record.Arn, 'alias/m', 'm']) {
      expect((await ks.key(ref)).record.KeyId).toBe(record.KeyId);
    }
  });

  it('keygen --multi-region makes an mrk- key that encrypts, decrypts and works with envelope kms', async () => {
    const dir = workdir();
    const env = { ENVELOPE_KEYSTORE: join(dir, 'ks') };
    const made = await runCli(['keygen', 'global', '--multi-region', '--json'], { env });
    expect(made.code, made.stderr).toBe(0);
    const meta = JSON.parse(made.stdout.toString()).KeyMetadata;
    expect(meta.KeyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    expect(meta.MultiRegion).toBe(true);
    const sealed = await runCli(['encrypt', '-k', 'alias/global'], { env, stdin: 'mrk secret' });
    expect(sealed.code, sealed.stderr).toBe(0);
    const opened = await runCli(['decrypt'], { env, stdin: sealed.stdout });
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout.toString()).toBe('mrk secret');
    for (const ref of [meta.KeyId, `local:${meta.KeyId}`]) {
      const byId = await runCli(['encrypt', '-k', ref], { env, stdin: 'by id' });
      expect(byId.code, byId.stderr).toBe(0);
      expect((await runCli(['decrypt'], { env, stdin: byId.stdout })).stdout.toString()).toBe('by id');
    }
    const blob = await runCli(['kms', 'encrypt', '--key-id', meta.KeyId, '--output', 'binary'], { env, stdin: 'blob' });
    expect(blob.code, blob.stderr).toBe(0);
    expect(blob.stdout.subarray(0, 4)).toEqual(Buffer.from('EVK\x02', 'latin1'));
    expect(blob.stdout.subarray(4, 20).toString('hex')).toBe(meta.KeyId.slice(4));
    const back = await runCli(['kms', 'decrypt', '--output', 'binary'], { env, stdin: blob.stdout });
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout.toString()).toBe('blob');
  });
});

interface ServeProcess {
  startLine: string;
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `envelope serve` with its own arguments, for what the support module does not show (warnings, exit status). */
async function serveProcess(args: string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [ENVELOPE, 'serve', ...args], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const startLine = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      text += d;
      const line = text.split('\n').find((l) => l.includes('as AWS KMS at'));
      if (line) resolve(line);
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${text}`)));
  });
  // The warning follows the start line.
  await new Promise((r) => setTimeout(r, 100));
  return {
    startLine,
    stderr: () => text,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}
