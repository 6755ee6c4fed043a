// The lifecycle of AWS KMS keys (DESIGN §4): create, alias, enable and
// disable, schedule and cancel deletion, rotate and schedule rotation,
// describe and list. Each function is one KMS call (or one paginated listing)
// whose answer comes back as a plain object: dates as ISO strings, no SDK
// types, so the CLI prints it as it prints the local keystore's metadata.
// Loaded with `await import()` only when a KMS key is in play.

import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DeleteAliasCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  DisableKeyRotationCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  GetPublicKeyCommand,
  type KeyMetadata,
  type KeySpec,
  type KMSClient,
  paginateListAliases,
  paginateListKeyRotations,
  paginateListKeys,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms';
import { createPublicKey } from 'node:crypto';
import { type EnvelopeError, KeyServiceError, printable, UsageError } from '../errors.js';
import { type KmsClientSettings, kmsClient, kmsError } from './client.js';

/** An SDK shape as JSON gives it: dates become ISO strings. */
type Plain<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Plain<U>[]
    : T extends object
      ? { [K in keyof T]: Plain<T[K]> }
      : T;

function plain<T>(value: T): Plain<T> {
  // JSON drops undefined fields and writes dates with toISOString, as `aws kms` prints them.
  return JSON.parse(JSON.stringify(value)) as Plain<T>;
}

export type KmsKeyMetadata = Plain<KeyMetadata>;

/**
 * KMS refusing a management request for a reason the user can fix on the
 * command line (an alias that exists, a name KMS reserves, an operation the
 * key spec does not support) is a usage error, exit 2. Everything else is
 * kmsError's mapping, shared with the keyring.
 */
const USAGE = new Set([
  'AlreadyExistsException',
  'InvalidAliasNameException',
  'UnsupportedOperationException',
  'MalformedPolicyDocumentException',
  'TagException',
  'InvalidMarkerException',
]);

export function managementError(error: unknown, key: string): EnvelopeError {
  const name = (error as { name?: string } | undefined)?.name;
  if (name && USAGE.has(name)) {
    const text = printable(String((error as { message?: string }).message ?? '').split('\n')[0]!.replace(/\.$/, ''));
    return new UsageError(`kms key ${key}: ${name}: ${text}`, { cause: error });
  }
  return kmsError(error, key);
}

/** The KMS error's name (AlreadyExistsException, …), when the error came from KMS. */
export function kmsErrorName(error: unknown): string | undefined {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  return (cause as { name?: string } | undefined)?.name;
}

async function call<T>(settings: KmsClientSettings, key: string, send: (client: KMSClient) => Promise<T>): Promise<T> {
  try {
    return await send(kmsClient(settings));
  } catch (e) {
    throw managementError(e, key);
  }
}

export interface NewKey {
  readonly keySpec: 'SYMMETRIC_DEFAULT' | 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly multiRegion: boolean;
}

/** CreateKey for encryption (KeyUsage ENCRYPT_DECRYPT): the new key's metadata. */
export async function createKey(settings: KmsClientSettings, key: NewKey): Promise<KmsKeyMetadata> {
  const r = await call(settings, '(CreateKey)', (c) =>
    c.send(
      new CreateKeyCommand({
        KeySpec: key.keySpec as KeySpec,
        KeyUsage: 'ENCRYPT_DECRYPT',
        ...(key.description ? { Description: key.description } : {}),
        ...(Object.keys(key.tags).length
          ? { Tags: Object.entries(key.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) }
          : {}),
        MultiRegion: key.multiRegion,
      }),
    ),
  );
  if (!r.KeyMetadata?.KeyId) throw new KeyServiceError('kms: CreateKey answered without the new key\'s metadata');
  return plain(r.KeyMetadata);
}

export async function createAlias(settings: KmsClientSettings, alias: string, keyId: string): Promise<void> {
  await call(settings, keyId, (c) => c.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId })));
}

/** Points an alias at a key: CreateAlias, or UpdateAlias when it names another key already. */
export async function setAlias(settings: KmsClientSettings, alias: string, keyId: string): Promise<'created' | 'moved'> {
  try {
    await createAlias(settings, alias, keyId);
    return 'created';
  } catch (e) {
    if (kmsErrorName(e) !== 'AlreadyExistsException') throw e;
  }
  await call(settings, keyId, (c) => c.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: keyId })));
  return 'moved';
}

export async function deleteAlias(settings: KmsClientSettings, alias: string): Promise<void> {
  await call(settings, alias, (c) => c.send(new DeleteAliasCommand({ AliasName: alias })));
}

export async function enableKey(settings: KmsClientSettings, keyId: string): Promise<void> {
  await call(settings, keyId, (c) => c.send(new EnableKeyCommand({ KeyId: keyId })));
}

export async function disableKey(settings: KmsClientSettings, keyId: string): Promise<void> {
  await call(settings, keyId, (c) => c.send(new DisableKeyCommand({ KeyId: keyId })));
}

export interface ScheduledDeletion {
  readonly keyArn: string;
  readonly deletionDate?: string;
  readonly keyState?: string;
}

export async function scheduleKeyDeletion(settings: KmsClientSettings, keyId: string, days: number): Promise<ScheduledDeletion> {
  const r = await call(settings, keyId, (c) => c.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: days })));
  return {
    keyArn: r.KeyId ?? keyId,
    ...(r.DeletionDate ? { deletionDate: r.DeletionDate.toISOString() } : {}),
    ...(r.KeyState ? { keyState: r.KeyState } : {}),
  };
}

export async function cancelKeyDeletion(settings: KmsClientSettings, keyId: string): Promise<void> {
  await call(settings, keyId, (c) => c.send(new CancelKeyDeletionCommand({ KeyId: keyId })));
}

/** EnableKeyRotation: automatic rotation every `days` (KMS takes 90-2560). */
export async function enableKeyRotation(settings: KmsClientSettings, keyId: string, days: number): Promise<void> {
  await call(settings, keyId, (c) => c.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: days })));
}

export async function disableKeyRotation(settings: KmsClientSettings, keyId: string): Promise<void> {
  await call(settings, keyId, (c) => c.send(new DisableKeyRotationCommand({ KeyId: keyId })));
}

/** RotateKeyOnDemand: the key's ARN. KMS rotates asynchronously; ListKeyRotations shows it once done. */
export async function rotateKeyOnDemand(settings: KmsClientSettings, keyId: string): Promise<string> {
  const r = await call(settings, keyId, (c) => c.send(new RotateKeyOnDemandCommand({ KeyId: keyId })));
  return r.KeyId ?? keyId;
}

export interface RotationStatus {
  readonly KeyId?: string;
  readonly KeyRotationEnabled: boolean;
  readonly RotationPeriodInDays?: number;
  readonly NextRotationDate?: string;
  readonly OnDemandRotationStartDate?: string;
}

export async function keyRotationStatus(settings: KmsClientSettings, keyId: string): Promise<RotationStatus> {
  const r = await call(settings, keyId, (c) => c.send(new GetKeyRotationStatusCommand({ KeyId: keyId })));
  const { $metadata: _, ...status } = r;
  return { ...plain(status), KeyRotationEnabled: !!r.KeyRotationEnabled };
}

export interface Rotation {
  readonly RotationDate?: string;
  readonly RotationType?: string;
  readonly KeyMaterialId?: string;
}

/** ListKeyRotations, every page: the key's completed rotations, oldest first as KMS lists them. */
export async function listKeyRotations(settings: KmsClientSettings, keyId: string): Promise<Rotation[]> {
  return call(settings, keyId, async (client) => {
    const rotations: Rotation[] = [];
    for await (const page of paginateListKeyRotations({ client }, { KeyId: keyId })) {
      for (const r of page.Rotations ?? []) {
        rotations.push(
          plain({
            RotationDate: r.RotationDate,
            RotationType: r.RotationType,
            ...(r.KeyMaterialId ? { KeyMaterialId: r.KeyMaterialId } : {}),
          }),
        );
      }
    }
    return rotations;
  });
}

export async function describeKey(settings: KmsClientSettings, keyId: string): Promise<KmsKeyMetadata> {
  const r = await call(settings, keyId, (c) => c.send(new DescribeKeyCommand({ KeyId: keyId })));
  return plain(r.KeyMetadata ?? { KeyId: keyId });
}

export interface ListedKey {
  readonly KeyId: string;
  readonly KeyArn?: string;
}

/** ListKeys, every page. */
export async function listKeys(settings: KmsClientSettings): Promise<ListedKey[]> {
  return call(settings, '(ListKeys)', async (client) => {
    const keys: ListedKey[] = [];
    for await (const page of paginateListKeys({ client }, {})) {
      for (const k of page.Keys ?? []) if (k.KeyId) keys.push({ KeyId: k.KeyId, ...(k.KeyArn ? { KeyArn: k.KeyArn } : {}) });
    }
    return keys;
  });
}

export interface ListedAlias {
  readonly AliasName: string;
  readonly AliasArn?: string;
  readonly TargetKeyId?: string;
}

/** ListAliases, every page: all of the account's aliases in the region, or those of one key. */
export async function listAliases(settings: KmsClientSettings, keyId?: string): Promise<ListedAlias[]> {
  return call(settings, keyId ?? '(ListAliases)', async (client) => {
    const aliases: ListedAlias[] = [];
    for await (const page of paginateListAliases({ client }, keyId ? { KeyId: keyId } : {})) {
      for (const a of page.Aliases ?? []) {
        if (!a.AliasName) continue;
        aliases.push({
          AliasName: a.AliasName,
          ...(a.AliasArn ? { AliasArn: a.AliasArn } : {}),
          ...(a.TargetKeyId ? { TargetKeyId: a.TargetKeyId } : {}),
        });
      }
    }
    return aliases;
  });
}

export interface PublicKey {
  readonly keyArn: string;
  readonly keySpec?: string;
  readonly encryptionAlgorithms: string[];
  /** SubjectPublicKeyInfo in PEM, as `keys export-public` prints a local key's. */
  readonly pem: string;
}

export async function getPublicKey(settings: KmsClientSettings, keyId: string): Promise<PublicKey> {
  const r = await call(settings, keyId, (c) => c.send(new GetPublicKeyCommand({ KeyId: keyId })));
  if (!r.PublicKey) throw new UsageError(`kms key ${keyId} has no public key: it is symmetric`);
  const pem = createPublicKey({ key: Buffer.from(r.PublicKey), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }) as string;
  return {
    keyArn: r.KeyId ?? keyId,
    ...(r.KeySpec ? { keySpec: r.KeySpec } : {}),
    encryptionAlgorithms: [...(r.EncryptionAlgorithms ?? [])],
    pem,
  };
}

/** GetKeyPolicy of the policy KMS keys have (its only name is "default"): the JSON document as KMS returns it. */
export async function getKeyPolicy(settings: KmsClientSettings, keyId: string): Promise<string> {
  const r = await call(settings, keyId, (c) => c.send(new GetKeyPolicyCommand({ KeyId: keyId, PolicyName: 'default' })));
  return r.Policy ?? '';
}
