// The key management operations of KMS on the keystore: keys, aliases, states,
// rotation, tags and policy, each a call into src/keystore (which locks,
// checks state and policy, and audits) after the checks KMS makes on its
// parameters.

import {
  cancelDeletion,
  deleteAlias,
  disableKey,
  enableKey,
  MAX_DELETION_DAYS,
  MIN_DELETION_DAYS,
  rotateKey,
  scheduleDeletion,
  scheduleRotation,
  setAlias,
  setPolicy,
} from '../keystore/lifecycle.js';
import { DEFAULT_ROTATION_DAYS, MAX_ROTATION_DAYS, MIN_ROTATION_DAYS } from '../keystore/rotation.js';
import type { KeyRecord, KeySpec } from '../keystore/schema.js';
import { epochSeconds, wireKeyMetadata } from './key-metadata.js';
import { aliasArnOf, aliasFrom, aliasName, arnOf, findServedKey, type FoundKey, visible } from './key-lookup.js';
import { invalid, KmsError, notFound } from './kms-error.js';
import { type Body, optionalBoolean, optionalInteger, optionalString, page, requiredString } from './params.js';
import { parsePolicyDocument, policyDocument, MAX_POLICY_LENGTH } from './policy-document.js';
import type { RequestScope } from './scope.js';

const unsupported = (what: string) => new KmsError('UnsupportedOperationException', `${what} is not supported by envelope serve.`);

const KEY_SPECS: Readonly<Record<string, KeySpec>> = {
  SYMMETRIC_DEFAULT: 'AES_256',
  RSA_2048: 'RSA_2048',
  RSA_3072: 'RSA_3072',
  RSA_4096: 'RSA_4096',
};

const key = (scope: RequestScope, body: Body): Promise<FoundKey> => findServedKey(scope, requiredString(body, 'KeyId'));

// ------------------------------------------------------------------ keys

export async function createKey(scope: RequestScope, body: Body) {
  const specName = optionalString(body, 'KeySpec', 32) ?? optionalString(body, 'CustomerMasterKeySpec', 32) ?? 'SYMMETRIC_DEFAULT';
  const spec = KEY_SPECS[specName];
  if (!spec) throw unsupported(`KeySpec ${specName.slice(0, 32)} (SYMMETRIC_DEFAULT, RSA_2048, RSA_3072 and RSA_4096 are)`);
  const usage = optionalString(body, 'KeyUsage', 32) ?? 'ENCRYPT_DECRYPT';
  if (usage !== 'ENCRYPT_DECRYPT') throw unsupported(`KeyUsage ${usage}`);
  const origin = optionalString(body, 'Origin', 32) ?? 'AWS_KMS';
  if (origin !== 'AWS_KMS') throw unsupported(`Origin ${origin} (import material with envelope keygen --origin external and envelope keys import)`);
  if (body.CustomKeyStoreId !== undefined || body.XksKeyId !== undefined) throw unsupported('A custom key store');
  const description = optionalString(body, 'Description', 8192) ?? '';
  const policyText = optionalString(body, 'Policy', MAX_POLICY_LENGTH);
  const policy = policyText === undefined ? undefined : parsePolicyDocument(policyText, scope.served.account);
  const record = await scope.keystore.createKey({
    spec,
    description,
    tags: tagsFrom(body.Tags ?? [], {}),
    multiRegion: !!optionalBoolean(body, 'MultiRegion'),
    ...(policy ? { policy } : {}),
  });
  scope.trace.keyId = record.KeyId;
  return { KeyMetadata: wireKeyMetadata(scope, record) };
}

export async function describeKey(scope: RequestScope, body: Body) {
  const { record } = await key(scope, body);
  return { KeyMetadata: wireKeyMetadata(scope, record) };
}

async function visibleKeys(scope: RequestScope): Promise<KeyRecord[]> {
  const store = await scope.keystore.read();
  return Object.values(store?.keys ?? {})
    .filter((record) => visible(scope, record))
    .sort((a, b) => (a.CreationDate < b.CreationDate ? -1 : a.CreationDate > b.CreationDate ? 1 : a.KeyId < b.KeyId ? -1 : 1));
}

export async function listKeys(scope: RequestScope, body: Body) {
  const { items, ...rest } = page(body, await visibleKeys(scope));
  return { Keys: items.map((r) => ({ KeyId: r.KeyId, KeyArn: arnOf(scope, r.KeyId) })), ...rest };
}

export async function enable(scope: RequestScope, body: Body) {
  await enableKey(scope.keystore, (await key(scope, body)).record.KeyId);
  return {};
}

export async function disable(scope: RequestScope, body: Body) {
  await disableKey(scope.keystore, (await key(scope, body)).record.KeyId);
  return {};
}

export async function scheduleKeyDeletion(scope: RequestScope, body: Body) {
  const found = await key(scope, body);
  const days = optionalInteger(body, 'PendingWindowInDays', MIN_DELETION_DAYS, MAX_DELETION_DAYS) ?? MAX_DELETION_DAYS;
  const date = await scheduleDeletion(scope.keystore, found.record.KeyId, days, scope.now());
  return { KeyId: found.arn, DeletionDate: epochSeconds(date), KeyState: 'PendingDeletion', PendingWindowInDays: days };
}

export async function cancelKeyDeletion(scope: RequestScope, body: Body) {
  const found = await key(scope, body);
  await cancelDeletion(scope.keystore, found.record.KeyId);
  return { KeyId: found.arn };
}

// ---------------------------------------------------------------- aliases

export async function createAlias(scope: RequestScope, body: Body) {
  const alias = aliasName(requiredString(body, 'AliasName', 256));
  const target = await findServedKey(scope, requiredString(body, 'TargetKeyId'), { aliases: false });
  if (target.store.aliases[alias]) throw new KmsError('AlreadyExistsException', `An alias with the name ${aliasArnOf(scope, alias)} already exists.`);
  await setAlias(scope.keystore, alias, target.record.KeyId, { move: false });
  return {};
}

export async function updateAlias(scope: RequestScope, body: Body) {
  const alias = aliasName(requiredString(body, 'AliasName', 256));
  await findServedKey(scope, alias); // the alias must exist, and name a key seen from here
  const target = await findServedKey(scope, requiredString(body, 'TargetKeyId'), { aliases: false });
  await setAlias(scope.keystore, alias, target.record.KeyId, { move: true });
  return {};
}

export async function removeAlias(scope: RequestScope, body: Body) {
  const alias = aliasFrom(scope, requiredString(body, 'AliasName', 256));
  try {
    await findServedKey(scope, alias);
  } catch {
    throw notFound(`Alias ${aliasArnOf(scope, alias)} is not found.`);
  }
  await deleteAlias(scope.keystore, alias);
  return {};
}

export async function listAliases(scope: RequestScope, body: Body) {
  const keyParam = optionalString(body, 'KeyId');
  const only = keyParam === undefined ? undefined : (await findServedKey(scope, keyParam, { aliases: false })).record.KeyId;
  const store = await scope.keystore.read();
  const aliases = Object.entries(store?.aliases ?? {})
    .filter(([, keyId]) => (only === undefined || keyId === only) && store!.keys[keyId] && visible(scope, store!.keys[keyId]!))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const { items, ...rest } = page(body, aliases);
  return {
    Aliases: items.map(([alias, keyId]) => ({ AliasName: alias, AliasArn: aliasArnOf(scope, alias), TargetKeyId: keyId })),
    ...rest,
  };
}

// --------------------------------------------------------------- rotation

function notImported(found: FoundKey, what: string): void {
  if (found.record.Origin === 'EXTERNAL') throw unsupported(`${what} of a key with imported material`);
  if (found.record.KeySpec !== 'AES_256') throw unsupported(`${what} of an asymmetric key`);
}

export async function enableKeyRotation(scope: RequestScope, body: Body) {
  const found = await key(scope, body);
  notImported(found, 'Automatic rotation');
  const days = optionalInteger(body, 'RotationPeriodInDays', MIN_ROTATION_DAYS, MAX_ROTATION_DAYS) ?? DEFAULT_ROTATION_DAYS;
  await scheduleRotation(scope.keystore, found.record.KeyId, days, scope.now());
  return {};
}

export async function disableKeyRotation(scope: RequestScope, body: Body) {
  const found = await key(scope, body);
  notImported(found, 'Automatic rotation');
  await scheduleRotation(scope.keystore, found.record.KeyId, undefined, scope.now());
  return {};
}

export async function getKeyRotationStatus(scope: RequestScope, body: Body) {
  const { record, arn } = await key(scope, body);
  const rotation = record.Rotation;
  return {
    KeyId: arn,
    KeyRotationEnabled: rotation.Enabled,
    ...(rotation.Enabled ? { RotationPeriodInDays: rotation.PeriodDays } : {}),
    ...(rotation.Enabled && rotation.NextRotationDate ? { NextRotationDate: epochSeconds(rotation.NextRotationDate) } : {}),
  };
}

export async function rotateKeyOnDemand(scope: RequestScope, body: Body) {
  const found = await key(scope, body);
  notImported(found, 'On-demand rotation');
  await rotateKey(scope.keystore, found.record.KeyId, scope.now());
  return { KeyId: found.arn };
}

export async function listKeyRotations(scope: RequestScope, body: Body) {
  const { record, arn } = await key(scope, body);
  const rotations = record.Versions.filter((v) => v.Version > 1)
    .sort((a, b) => a.Version - b.Version)
    .map((v) => ({
      KeyId: arn,
      RotationDate: epochSeconds(v.CreationDate),
      ...(v.RotationType ? { RotationType: v.RotationType } : v.Origin === 'EXTERNAL' ? { RotationType: 'ON_DEMAND' } : {}),
    }));
  const { items, ...rest } = page(body, rotations);
  return { Rotations: items, ...rest };
}

// ------------------------------------------------------------------- tags

/** KMS: at most 50 tags, keys of 1–128 characters not starting aws:, values of 0–256. */
function tagsFrom(raw: unknown, existing: Readonly<Record<string, string>>): Record<string, string> {
  if (!Array.isArray(raw)) throw invalid('Tags must be a list of {TagKey, TagValue}.');
  const tags: Record<string, string> = Object.assign(Object.create(null), existing);
  for (const tag of raw as { TagKey?: unknown; TagValue?: unknown }[]) {
    const k = tag?.TagKey;
    const v = tag?.TagValue;
    if (typeof k !== 'string' || typeof v !== 'string' || k.length < 1 || k.length > 128 || v.length > 256) {
      throw new KmsError('TagException', 'A tag is {TagKey: 1 to 128 characters, TagValue: 0 to 256 characters}.');
    }
    if (k.toLowerCase().startsWith('aws:')) throw new KmsError('TagException', 'Tag keys starting with aws: are reserved.');
    tags[k] = v;
  }
  if (Object.keys(tags).length > 50) throw new KmsError('LimitExceededException', 'A key has at most 50 tags.');
  return tags;
}

export async function tagResource(scope: RequestScope, body: Body) {
  const found = await key(scope, body);
  tagsFrom(body.Tags, found.record.Tags); // checked before the lock, and again inside it
  await scope.keystore.editKey(found.record.KeyId, { name: 'tag-resource', policy: 'manage' }, (draft) => {
    draft.Tags = tagsFrom(body.Tags, draft.Tags);
  });
  return {};
}

export async function untagResource(scope: RequestScope, body: Body) {
  const found = await key(scope, body);
  const keys = body.TagKeys;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw invalid('TagKeys must be a list of strings.');
  await scope.keystore.editKey(found.record.KeyId, { name: 'untag-resource', policy: 'manage' }, (draft) => {
    const tags: Record<string, string> = Object.assign(Object.create(null), draft.Tags);
    for (const k of keys as string[]) delete tags[k];
    draft.Tags = tags;
  });
  return {};
}

export async function listResourceTags(scope: RequestScope, body: Body) {
  const { record } = await key(scope, body);
  const tags = Object.entries(record.Tags)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
  const { items, ...rest } = page(body, tags);
  return { Tags: items, ...rest };
}

// ----------------------------------------------------------------- policy

function policyName(body: Body): string {
  const name = optionalString(body, 'PolicyName', 128) ?? 'default';
  if (name !== 'default') throw notFound(`Key policy ${name} does not exist: a key has one policy, named default.`);
  return name;
}

export async function getKeyPolicy(scope: RequestScope, body: Body) {
  const { record } = await key(scope, body);
  return { Policy: policyDocument(record.Policy, scope.served.account), PolicyName: policyName(body) };
}

export async function putKeyPolicy(scope: RequestScope, body: Body) {
  const found = await key(scope, body);
  policyName(body);
  const policy = parsePolicyDocument(requiredString(body, 'Policy', MAX_POLICY_LENGTH), scope.served.account);
  await setPolicy(scope.keystore, found.record.KeyId, policy);
  return {};
}

