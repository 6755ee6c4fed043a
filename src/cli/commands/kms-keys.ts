// keygen --kms, rotate and keys … for AWS KMS keys: the same commands as the
// local keystore's (keys.ts), through the KMS API (src/aws/key-management.ts),
// printed the way keys.ts prints local keys. keys.ts imports this module only
// for --kms or a kms:/arn:aws:kms: key, and this module imports the SDK only
// once a command has passed its checks.

import { EnvelopeError, UsageError } from '../../errors.js';
import { parseKmsArn, parseKmsIdentifier } from '../../keyring/kms-arn.js';
import { assertAliasName } from '../../keystore/key-ref.js';
import { DEFAULT_ROTATION_DAYS } from '../../keystore/rotation.js';
import type { KmsKeyMetadata, RotationStatus } from '../../aws/key-management.js';
import { type KmsFlags, kmsSettings } from '../kms-options.js';
import { collectTags, parseCount } from '../options.js';
import { note, out, problem } from '../terminal.js';

type KeyManagement = typeof import('../../aws/key-management.js');

/** Runs `work` with the SDK-backed key management loaded, and closes the KMS connections after. */
async function withKms<T>(work: (km: KeyManagement) => Promise<T>): Promise<T> {
  const [km, client] = await Promise.all([import('../../aws/key-management.js'), import('../../aws/client.js')]);
  try {
    return await work(km);
  } finally {
    client.closeKmsClients();
  }
}

export interface KmsKeyFlags extends KmsFlags {
  kms?: boolean;
  json?: boolean;
}

export interface KmsKeyTarget {
  /** KMS's KeyId parameter: a key id, alias/NAME, key ARN or alias ARN. */
  readonly keyId: string;
  /** The ARN's region, else --region, AWS_REGION or the config's; undefined leaves it to the SDK. */
  readonly region?: string;
  readonly profile?: string;
}

const KEY_ID = /^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * The KMS key a name means, and where to call it: `kms:` is dropped; an ARN
 * is called in its own region; a bare NAME that is not a key id is
 * alias/NAME, as for local keys.
 */
export function kmsKeyTarget(name: string, flags: KmsFlags): KmsKeyTarget {
  const text = name.startsWith('kms:') ? name.slice('kms:'.length) : name;
  const keyId = /^[A-Za-z0-9_-]+$/.test(text) && !KEY_ID.test(text) ? `alias/${text}` : text;
  const identifier = parseKmsIdentifier(keyId);
  if (!identifier) {
    throw new UsageError(`"${name}" is not an AWS KMS key`, {
      hints: ['a kms key is kms:alias/NAME, kms:KEY-ID, arn:aws:kms:REGION:ACCOUNT:key/ID or arn:aws:kms:REGION:ACCOUNT:alias/NAME'],
    });
  }
  const settings = kmsSettings(flags);
  return { ...settings, ...(identifier.kind === 'arn' ? { region: identifier.arn.region } : {}), keyId };
}

/**
 * The target with KeyId a key id or key ARN. KMS's management calls
 * (EnableKey, ScheduleKeyDeletion, EnableKeyRotation, GetKeyPolicy,
 * CreateAlias's target, …) take only those, so an alias is first turned into
 * its key's ARN with DescribeKey.
 */
async function byKeyArn(km: KeyManagement, target: KmsKeyTarget): Promise<KmsKeyTarget> {
  const alias = target.keyId.startsWith('alias/') || parseKmsArn(target.keyId)?.resourceType === 'alias';
  if (!alias) return target;
  const m = await km.describeKey(target, target.keyId);
  return { ...target, keyId: m.Arn ?? m.KeyId ?? target.keyId };
}

/** alias/NAME from NAME, alias/NAME or kms:alias/NAME, checked as KMS checks alias names. */
function aliasFor(name: string): string {
  const text = name.startsWith('kms:') ? name.slice('kms:'.length) : name;
  const alias = text.startsWith('alias/') ? text : `alias/${text}`;
  assertAliasName(alias);
  return alias;
}

/**
 * A step that failed after CreateKey succeeded: the key exists, so the error
 * says which key and how to finish or undo, and its ARN is on stdout already.
 */
function afterCreate(error: unknown, arn: string, what: string, finish: string): unknown {
  problem(`envelope: created kms key ${arn}, but ${what} failed: the key exists`);
  if (error instanceof EnvelopeError) {
    error.hints.push(`finish with: ${finish}`, `or schedule the key's deletion with: envelope keys delete ${arn} --days 7`);
  }
  return error;
}

export interface KmsKeygenFlags extends KmsKeyFlags {
  type: string;
  description?: string;
  tag: string[];
  rotationPeriod?: string;
  multiRegion?: boolean;
  import?: string;
  origin?: string;
  exportable?: boolean;
}

const LOCAL_ONLY: readonly [keyof KmsKeygenFlags, string, string][] = [
  ['import', '--import', 'to bring your own key material to KMS use the AWS CLI: aws kms get-parameters-for-import, then aws kms import-key-material'],
  ['origin', '--origin', 'to create a KMS key without material use the AWS CLI: aws kms create-key --origin EXTERNAL'],
  ['exportable', '--exportable', 'AWS KMS never exports key material'],
];

const KMS_SPECS: Record<string, 'SYMMETRIC_DEFAULT' | 'RSA_2048' | 'RSA_3072' | 'RSA_4096'> = {
  AES_256: 'SYMMETRIC_DEFAULT',
  SYMMETRIC_DEFAULT: 'SYMMETRIC_DEFAULT',
  RSA_2048: 'RSA_2048',
  RSA_3072: 'RSA_3072',
  RSA_4096: 'RSA_4096',
};

/** CreateKey (+ CreateAlias alias/NAME, + EnableKeyRotation with --rotation-period). */
export async function keygen([name]: string[], flags: KmsKeygenFlags): Promise<void> {
  for (const [field, flag, hint] of LOCAL_ONLY) {
    if (flags[field] !== undefined && flags[field] !== false) {
      throw new UsageError(`${flag} is for keys of the local keystore, not with --kms`, { hints: [hint] });
    }
  }
  const keySpec = KMS_SPECS[flags.type];
  if (!keySpec) throw new UsageError(`--type ${flags.type} is not a KMS key spec for encryption`);
  const alias = name ? aliasFor(name) : undefined;
  const period = flags.rotationPeriod === undefined ? undefined : parseCount('--rotation-period', flags.rotationPeriod, 90, 2560);
  if (period && keySpec !== 'SYMMETRIC_DEFAULT') {
    throw new UsageError(`--rotation-period: AWS KMS rotates symmetric keys only, not ${keySpec}`);
  }
  const settings = kmsSettings(flags);
  await withKms(async (km) => {
    const metadata = await km.createKey(settings, {
      keySpec,
      ...(flags.description ? { description: flags.description } : {}),
      tags: collectTags(flags.tag),
      multiRegion: !!flags.multiRegion,
    });
    const arn = metadata.Arn ?? metadata.KeyId!;
    if (!flags.json) out(arn);
    if (alias) {
      await km.createAlias(settings, alias, metadata.KeyId!).catch((e: unknown) => {
        // An alias that names another key would be moved by keys alias: the hint must not suggest that blindly.
        const taken = km.kmsErrorName(e) === 'AlreadyExistsException';
        const finish = taken
          ? `envelope keys alias --kms alias/ANOTHER-NAME ${arn} (${alias} names another key; keys alias ${alias} would move it)`
          : `envelope keys alias --kms ${alias} ${arn}`;
        throw afterCreate(e, arn, `creating its alias ${alias}`, finish);
      });
    }
    if (period) {
      await km.enableKeyRotation(settings, metadata.KeyId!, period).catch((e: unknown) => {
        throw afterCreate(e, arn, 'enabling its rotation', `envelope rotate ${arn} --schedule ${period}`);
      });
    }
    if (flags.json) {
      return out(JSON.stringify({ KeyMetadata: { ...metadata, Aliases: alias ? [alias] : [] } }, null, 2));
    }
    note(`envelope: created ${keySpec} key ${alias ?? metadata.KeyId} in AWS KMS${metadata.MultiRegion ? ' (multi-Region)' : ''}`);
  });
}

export interface KmsRotateFlags extends KmsKeyFlags {
  schedule?: string | boolean;
  status?: boolean;
  due?: boolean;
}

/** RotateKeyOnDemand; --schedule EnableKeyRotation, --no-schedule DisableKeyRotation; --status GetKeyRotationStatus + ListKeyRotations. */
export async function rotate([ref]: string[], flags: KmsRotateFlags): Promise<void> {
  if (flags.due) {
    throw new UsageError('--due is for the local keystore: AWS KMS rotates its keys on their schedule itself', {
      hints: ['envelope rotate --due, without --kms'],
    });
  }
  if (!ref) throw new UsageError('rotate needs a key');
  const named = kmsKeyTarget(ref, flags);
  await withKms(async (km) => {
    const target = await byKeyArn(km, named);
    if (flags.status) {
      const [status, rotations] = await Promise.all([
        km.keyRotationStatus(target, target.keyId),
        km.listKeyRotations(target, target.keyId),
      ]);
      if (flags.json) return out(JSON.stringify({ KeyId: status.KeyId ?? target.keyId, ...status, Rotations: rotations }));
      out(
        `${rotationText(status)}; ${rotations.length} rotation${rotations.length === 1 ? '' : 's'}` +
          (status.OnDemandRotationStartDate ? `; an on-demand rotation started on ${status.OnDemandRotationStartDate}` : ''),
      );
      for (const r of rotations) out(`${r.RotationDate ?? '-'}  ${r.RotationType ?? '-'}`);
      return;
    }
    if (flags.schedule === false) {
      await km.disableKeyRotation(target, target.keyId);
      return note('envelope: automatic rotation off');
    }
    if (typeof flags.schedule === 'string') {
      const days = parseCount('--schedule', flags.schedule || String(DEFAULT_ROTATION_DAYS), 90, 2560);
      await km.enableKeyRotation(target, target.keyId, days);
      return note(`envelope: the key rotates automatically every ${days} days`);
    }
    const arn = await km.rotateKeyOnDemand(target, target.keyId);
    if (flags.json) return out(JSON.stringify({ KeyId: arn }));
    note(`envelope: rotation of ${arn} started; the new key material becomes primary once KMS has made it, and older material still decrypts`);
  });
}

function rotationText(status: RotationStatus): string {
  if (!status.KeyRotationEnabled) return 'automatic rotation off';
  return `automatic rotation every ${status.RotationPeriodInDays ?? DEFAULT_ROTATION_DAYS} days` +
    (status.NextRotationDate ? `, next on ${status.NextRotationDate}` : '');
}

/** ListKeys + ListAliases, every page: each key with its aliases. */
export async function list(_: string[], flags: KmsKeyFlags): Promise<void> {
  const settings = kmsSettings(flags);
  const { keys, aliases } = await withKms(async (km) => {
    const [k, a] = await Promise.all([km.listKeys(settings), km.listAliases(settings)]);
    return { keys: k, aliases: a };
  });
  const aliasesOf = (keyId: string) => aliases.filter((a) => a.TargetKeyId === keyId).map((a) => a.AliasName).sort();
  if (flags.json) return out(JSON.stringify({ Keys: keys.map((k) => ({ ...k, Aliases: aliasesOf(k.KeyId) })) }, null, 2));
  if (keys.length === 0) return note('envelope: no keys in AWS KMS in this account and region; create one with: envelope keygen --kms NAME');
  out(table([['KEY ID', 'ALIASES'], ...keys.map((k) => [k.KeyId, aliasesOf(k.KeyId).join(',') || '-'])]));
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** What a KMS call that only adds to `show` answered: its value, or why there is none. */
type Extra<T> = { value: T } | { failed: string };

async function extra<T>(work: Promise<T>): Promise<Extra<T>> {
  try {
    return { value: await work };
  } catch (e) {
    // Showing a key needs only DescribeKey: a role without ListAliases or
    // GetKeyRotationStatus still sees the key, with those fields unknown.
    return { failed: e instanceof Error ? e.message : String(e) };
  }
}

/** DescribeKey, + ListAliases of the key, + GetKeyRotationStatus (symmetric keys). */
export async function show([ref]: string[], flags: KmsKeyFlags): Promise<void> {
  const target = kmsKeyTarget(ref!, flags);
  const { metadata, aliases, rotation } = await withKms(async (km) => {
    const m = await km.describeKey(target, target.keyId);
    const keyId = m.KeyId ?? target.keyId;
    const [a, r] = await Promise.all([
      extra(km.listAliases(target, keyId)),
      m.KeySpec === 'SYMMETRIC_DEFAULT' ? extra(km.keyRotationStatus(target, keyId)) : Promise.resolve(undefined),
    ]);
    return { metadata: m, aliases: a, rotation: r };
  });
  const aliasNames = 'value' in aliases ? aliases.value.map((a) => a.AliasName).sort() : undefined;
  const status = rotation && 'value' in rotation ? rotation.value : undefined;
  if (flags.json) {
    // As local keys show --json: KMS's KeyMetadata, with the key's aliases and rotation status in it.
    const keyMetadata = {
      ...metadata,
      ...(aliasNames ? { Aliases: aliasNames } : {}),
      ...(status
        ? {
            KeyRotationStatus: {
              KeyRotationEnabled: status.KeyRotationEnabled,
              ...(status.RotationPeriodInDays !== undefined ? { RotationPeriodInDays: status.RotationPeriodInDays } : {}),
              ...(status.NextRotationDate ? { NextRotationDate: status.NextRotationDate } : {}),
            },
          }
        : {}),
    };
    return out(JSON.stringify({ KeyMetadata: keyMetadata }, null, 2));
  }
  out(renderMetadata(metadata, aliasNames ?? `unknown (${'failed' in aliases ? aliases.failed : ''})`, rotation));
}

function renderMetadata(m: KmsKeyMetadata, aliases: string[] | string, rotation: Extra<RotationStatus> | undefined): string {
  const rows: [string, string][] = [
    ['key id', m.KeyId ?? '-'],
    ['arn', m.Arn ?? '-'],
    ['aliases', typeof aliases === 'string' ? aliases : aliases.join(', ') || '-'],
    ['spec', `${m.KeySpec ?? '-'} (${(m.EncryptionAlgorithms ?? []).join(', ') || m.KeyUsage || '-'})`],
    ['state', (m.KeyState ?? '-') + (m.DeletionDate ? ` (destroyed on ${m.DeletionDate})` : '')],
    ['origin', m.Origin ?? '-'],
    ['manager', m.KeyManager ?? '-'],
    ['created', m.CreationDate ?? '-'],
    ['description', m.Description || '-'],
    [
      'rotation',
      rotation === undefined ? `none (${m.KeySpec} keys do not rotate)` : 'value' in rotation ? rotationText(rotation.value) : `unknown (${rotation.failed})`,
    ],
    ['multi-region', m.MultiRegion ? `yes (${m.MultiRegionConfiguration?.MultiRegionKeyType ?? 'PRIMARY'})` : 'no'],
  ];
  return rows.map(([k, v]) => `${k.padEnd(13)}${v}`).join('\n');
}

export async function enable([ref]: string[], flags: KmsKeyFlags): Promise<void> {
  const target = kmsKeyTarget(ref!, flags);
  await withKms(async (km) => km.enableKey(target, (await byKeyArn(km, target)).keyId));
  note(`envelope: kms key ${ref} is enabled`);
}

export async function disable([ref]: string[], flags: KmsKeyFlags): Promise<void> {
  const target = kmsKeyTarget(ref!, flags);
  await withKms(async (km) => km.disableKey(target, (await byKeyArn(km, target)).keyId));
  note(`envelope: kms key ${ref} is disabled; every operation with it is refused until keys enable`);
}

export async function scheduleDeletion([ref]: string[], flags: KmsKeyFlags & { days: string }): Promise<void> {
  const days = parseCount('--days', flags.days, 7, 30);
  const target = kmsKeyTarget(ref!, flags);
  const r = await withKms(async (km) => km.scheduleKeyDeletion(target, (await byKeyArn(km, target)).keyId, days));
  note(`envelope: kms key ${ref} will be deleted on ${r.deletionDate ?? `a date ${days} days from now`}; until then keys cancel-deletion keeps it`);
}

export async function cancelDeletion([ref]: string[], flags: KmsKeyFlags): Promise<void> {
  const target = kmsKeyTarget(ref!, flags);
  await withKms(async (km) => km.cancelKeyDeletion(target, (await byKeyArn(km, target)).keyId));
  note(`envelope: deletion cancelled; kms key ${ref} is disabled (enable it with keys enable)`);
}

/** CreateAlias, UpdateAlias when the alias names another key already (as local `keys alias` moves it), or DeleteAlias. */
export async function alias([name, ref]: string[], flags: KmsKeyFlags & { delete?: boolean }): Promise<void> {
  const aliasName = aliasFor(name!);
  if (flags.delete) {
    if (ref) throw new UsageError('--delete takes only the alias');
    const settings = kmsSettings(flags);
    await withKms((km) => km.deleteAlias(settings, aliasName));
    return note(`envelope: removed ${aliasName} from AWS KMS`);
  }
  if (!ref) throw new UsageError('keys alias needs the key the alias should name (or --delete)');
  const target = kmsKeyTarget(ref, flags);
  const how = await withKms(async (km) => km.setAlias(target, aliasName, (await byKeyArn(km, target)).keyId));
  note(`envelope: ${aliasName} ${how === 'moved' ? 'now names' : 'names'} kms key ${ref}`);
}

interface KmsPolicyFlags extends KmsKeyFlags {
  allow: string[];
  requireContext: string[];
  reset?: boolean;
}

/** GetKeyPolicy. Setting one is the AWS CLI's job: a KMS key policy is an IAM policy document, not our allow list. */
export async function policy([ref]: string[], flags: KmsPolicyFlags): Promise<void> {
  if (flags.reset || flags.allow.length > 0 || flags.requireContext.length > 0) {
    throw new UsageError('--allow, --require-context and --reset set local key policies; a KMS key policy is an IAM policy document', {
      hints: ['set it with the AWS CLI: aws kms put-key-policy --key-id KEY --policy-name default --policy file://policy.json'],
    });
  }
  const target = kmsKeyTarget(ref!, flags);
  const document = await withKms(async (km) => km.getKeyPolicy(target, (await byKeyArn(km, target)).keyId));
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    parsed = undefined;
  }
  if (flags.json) return out(JSON.stringify({ KeyId: target.keyId, Policy: parsed ?? document }, null, 2));
  out(parsed === undefined ? document : JSON.stringify(parsed, null, 2));
}

export async function exportMaterial(): Promise<void> {
  throw new UsageError('AWS KMS never exports key material: a KMS key cannot leave KMS', {
    hints: ['for a copy that decrypts without KMS, encrypt under a local or raw key as well: envelope encrypt -k arn:aws:kms:… -k alias/offline'],
  });
}

/** GetPublicKey of an RSA key, in PEM. */
export async function exportPublic([ref]: string[], flags: KmsKeyFlags & { version?: string }): Promise<void> {
  if (flags.version) throw new UsageError('--version is for local keys: a KMS key has one public key');
  const target = kmsKeyTarget(ref!, flags);
  const key = await withKms((km) => km.getPublicKey(target, target.keyId));
  out(key.pem);
  note(`envelope: the public key of kms key ${key.keyArn} (${key.keySpec ?? 'RSA'}; KMS decrypts with ${key.encryptionAlgorithms.join(', ') || 'its key'})`);
}

export async function importMaterial(): Promise<void> {
  throw new UsageError('keys import is not implemented for AWS KMS keys', {
    hints: ['use the AWS CLI: aws kms get-parameters-for-import, then aws kms import-key-material'],
  });
}
