// keygen, rotate and keys …: the local keystore's key lifecycle. AWS KMS keys
// (--kms, kms:…, arn:aws:kms:…) go to kms-keys.ts, imported only for them.

import { UsageError } from '../../errors.js';
import { decodeSymmetricKey, readKeyFile } from '../../keyring/key-file.js';
import { aliasesOf, assertAliasName, findKey } from '../../keystore/key-ref.js';
import {
  assertExportable,
  cancelDeletion as cancelKeyDeletion,
  deleteAlias,
  disableKey,
  enableKey,
  importMaterial as importKeyMaterial,
  rotateDue,
  rotateKey,
  scheduleDeletion as scheduleKeyDeletion,
  scheduleRotation,
  setAlias,
  setPolicy,
} from '../../keystore/lifecycle.js';
import { importedMaterial, rsaPublicPem, unsealVersion } from '../../keystore/material.js';
import { keyMetadata, type KeyMetadata } from '../../keystore/metadata.js';
import { DEFAULT_ROTATION_DAYS } from '../../keystore/rotation.js';
import { type ContextCondition, type KeySpec, OPERATIONS, type Operation } from '../../keystore/schema.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { wantsKms } from '../kms-key-name.js';
import { collectTags, parseContextRequirements, parseCount } from '../options.js';
import { writeFileAtomically } from '../output.js';
import { note, out } from '../terminal.js';
import type { KmsKeyFlags } from './kms-keys.js';

/** The KMS side of these commands, when they are for AWS KMS: it loads the SDK, so only then. */
function kmsSide(flags: KmsKeyFlags, ...names: (string | undefined)[]): Promise<typeof import('./kms-keys.js')> | undefined {
  return wantsKms(flags, ...names) ? import('./kms-keys.js') : undefined;
}

interface KeygenFlags extends KeystoreFlags {
  /** SYMMETRIC_DEFAULT is KMS's name for AES_256. */
  type: KeySpec | 'SYMMETRIC_DEFAULT';
  description?: string;
  tag: string[];
  rotationPeriod?: string;
  import?: string;
  origin?: 'external';
  exportable?: boolean;
  multiRegion?: boolean;
  json?: boolean;
}

function aliasFor(name: string): string {
  const alias = name.startsWith('alias/') ? name : `alias/${name}`;
  assertAliasName(alias);
  return alias;
}

async function readMaterial(spec: KeySpec, file: string) {
  const bytes = decodeSymmetricKey(await readKeyFile(file));
  if (!bytes) throw new UsageError(`${file} does not hold 256-bit key material (raw, hex or base64)`);
  return importedMaterial(spec, bytes);
}

export async function keygen([name]: string[], flags: KeygenFlags): Promise<void> {
  const kms = await kmsSide(flags, name);
  if (kms) return kms.keygen(name === undefined ? [] : [name], flags);
  if (flags.import && flags.origin) throw new UsageError('--import and --origin external conflict: import later with keys import');
  const alias = name ? aliasFor(name) : undefined;
  const period = flags.rotationPeriod === undefined ? undefined : parseCount('--rotation-period', flags.rotationPeriod, 90, 2560);
  const spec: KeySpec = flags.type === 'SYMMETRIC_DEFAULT' ? 'AES_256' : flags.type;
  const ks = openKeystore(flags);
  const record = await ks.createKey({
    spec,
    ...(alias ? { alias } : {}),
    ...(flags.description ? { description: flags.description } : {}),
    tags: collectTags(flags.tag),
    exportable: !!flags.exportable,
    multiRegion: !!flags.multiRegion,
    ...(flags.import ? { material: await readMaterial(spec, flags.import) } : {}),
    pendingImport: flags.origin === 'external',
    ...(period ? { rotationPeriodDays: period } : {}),
  });
  const store = (await ks.read())!;
  if (flags.json) return out(JSON.stringify({ KeyMetadata: keyMetadata(store, record) }, null, 2));
  out(record.KeyId);
  note(`envelope: created ${record.KeySpec} key ${alias ?? record.KeyId} in ${ks.dir}`);
}

interface RotateFlags extends KeystoreFlags {
  schedule?: string | boolean;
  status?: boolean;
  due?: boolean;
  json?: boolean;
}

export async function rotate([ref]: string[], flags: RotateFlags): Promise<void> {
  const kms = await kmsSide(flags, ref);
  if (kms) return kms.rotate(ref === undefined ? [] : [ref], flags);
  const ks = openKeystore(flags);
  const now = new Date();
  if (flags.due) {
    if (ref) throw new UsageError('--due rotates every due key: give no key with it');
    const rotated = await rotateDue(ks, now);
    if (flags.json) return out(JSON.stringify(rotated));
    for (const r of rotated) out(`${r.keyId} ${r.version}`);
    return note(`envelope: rotated ${rotated.length} key${rotated.length === 1 ? '' : 's'}`);
  }
  if (!ref) throw new UsageError('rotate needs a key, or --due');
  if (flags.status) {
    const { store, record } = await ks.key(ref);
    const status = keyMetadata(store, record).KeyRotationStatus;
    if (flags.json) return out(JSON.stringify({ KeyId: record.KeyId, ...status, PrimaryVersion: record.PrimaryVersion }));
    return out(
      status.KeyRotationEnabled
        ? `automatic rotation every ${status.RotationPeriodInDays} days, next on ${status.NextRotationDate}; primary version ${record.PrimaryVersion}`
        : `automatic rotation off; primary version ${record.PrimaryVersion}`,
    );
  }
  if (flags.schedule === false) {
    await scheduleRotation(ks, ref, undefined, now);
    return note('envelope: automatic rotation off');
  }
  if (typeof flags.schedule === 'string') {
    const days = parseCount('--schedule', flags.schedule || String(DEFAULT_ROTATION_DAYS), 90, 2560);
    await scheduleRotation(ks, ref, days, now);
    return note(`envelope: the key rotates automatically every ${days} days`);
  }
  const version = await rotateKey(ks, ref, now);
  out(String(version));
  note(`envelope: version ${version} is now primary; older versions still decrypt`);
}

interface JsonFlags extends KeystoreFlags {
  json?: boolean;
}

export async function list(_: string[], flags: JsonFlags): Promise<void> {
  const kms = await kmsSide(flags);
  if (kms) return kms.list([], flags);
  const ks = openKeystore(flags);
  const store = await ks.read();
  const keys = Object.values(store?.keys ?? {}).sort((a, b) => a.CreationDate.localeCompare(b.CreationDate));
  if (flags.json) return out(JSON.stringify({ Keys: store ? keys.map((k) => keyMetadata(store, k)) : [] }, null, 2));
  if (!store || keys.length === 0) return note(`envelope: no keys in ${ks.dir}; create one with: envelope keygen NAME`);
  const rows = keys.map((k) => [k.KeyId, k.KeySpec, k.KeyState, `v${k.PrimaryVersion}`, aliasesOf(store, k.KeyId).join(',') || '-']);
  out(table([['KEY ID', 'SPEC', 'STATE', 'PRIMARY', 'ALIASES'], ...rows]));
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export async function show([ref]: string[], flags: JsonFlags): Promise<void> {
  const kms = await kmsSide(flags, ref);
  if (kms) return kms.show([ref!], flags);
  const ks = openKeystore(flags);
  const { store, record } = await ks.key(ref!);
  const m = keyMetadata(store, record);
  if (flags.json) return out(JSON.stringify({ KeyMetadata: m }, null, 2));
  out(renderMetadata(m));
}

function renderMetadata(m: KeyMetadata): string {
  const rows: [string, string][] = [
    ['key id', m.KeyId],
    ['arn', m.Arn],
    ['aliases', m.Aliases.join(', ') || '-'],
    ['spec', `${m.KeySpec} (${m.EncryptionAlgorithms.join(', ')})`],
    ['state', m.KeyState + (m.DeletionDate ? ` (destroyed on ${m.DeletionDate})` : '')],
    ['origin', m.Origin],
    ['created', m.CreationDate],
    ['description', m.Description || '-'],
    ['rotation', m.KeyRotationStatus.KeyRotationEnabled ? `every ${m.KeyRotationStatus.RotationPeriodInDays} days, next ${m.KeyRotationStatus.NextRotationDate}` : 'off'],
    ['exportable', m.Exportable ? 'yes' : 'no'],
    ['tags', m.Tags.map((t) => `${t.TagKey}=${t.TagValue}`).join(', ') || '-'],
    ['policy', `allows ${m.Policy.Allow.join(', ') || 'nothing'}${m.Policy.RequireContext.length ? `; requires ${m.Policy.RequireContext.map((c) => (c.value === undefined ? c.key : `${c.key}=${c.value}`)).join(', ')}` : ''}`],
  ];
  m.Versions.forEach((v, i) =>
    rows.push([i === 0 ? 'versions' : '', `${v.Version}  ${v.CreationDate}  ${v.Origin}${v.Primary ? '  primary' : ''}${v.Destroyed ? '  destroyed' : ''}`]),
  );
  return rows.map(([k, v]) => `${k.padEnd(12)}${v}`).join('\n');
}

export async function enable([ref]: string[], flags: KeystoreFlags): Promise<void> {
  const kms = await kmsSide(flags, ref);
  if (kms) return kms.enable([ref!], flags);
  await enableKey(openKeystore(flags), ref!);
  note(`envelope: key ${ref} is enabled`);
}

export async function disable([ref]: string[], flags: KeystoreFlags): Promise<void> {
  const kms = await kmsSide(flags, ref);
  if (kms) return kms.disable([ref!], flags);
  await disableKey(openKeystore(flags), ref!);
  note(`envelope: key ${ref} is disabled; every operation with it is refused until keys enable`);
}

export async function scheduleDeletion([ref]: string[], flags: KeystoreFlags & { days: string }): Promise<void> {
  const kms = await kmsSide(flags, ref);
  if (kms) return kms.scheduleDeletion([ref!], flags);
  const days = parseCount('--days', flags.days, 7, 30);
  const date = await scheduleKeyDeletion(openKeystore(flags), ref!, days, new Date());
  note(`envelope: key ${ref} will be destroyed on ${date}; until then keys cancel-deletion keeps it`);
}

export async function cancelDeletion([ref]: string[], flags: KeystoreFlags): Promise<void> {
  const kms = await kmsSide(flags, ref);
  if (kms) return kms.cancelDeletion([ref!], flags);
  await cancelKeyDeletion(openKeystore(flags), ref!);
  note(`envelope: deletion cancelled; key ${ref} is disabled (enable it with keys enable)`);
}

export async function alias([name, ref]: string[], flags: KeystoreFlags & { delete?: boolean }): Promise<void> {
  const kms = await kmsSide(flags, name, ref);
  if (kms) return kms.alias(ref === undefined ? [name!] : [name!, ref], flags);
  const ks = openKeystore(flags);
  const aliasName = aliasFor(name!);
  if (flags.delete) {
    if (ref) throw new UsageError('--delete takes only the alias');
    await deleteAlias(ks, aliasName);
    return note(`envelope: removed ${aliasName}`);
  }
  if (!ref) throw new UsageError('keys alias needs the key the alias should name (or --delete)');
  await setAlias(ks, aliasName, ref, { move: true });
  note(`envelope: ${aliasName} names key ${ref}`);
}

interface PolicyFlags extends JsonFlags {
  allow: string[];
  requireContext: string[];
  reset?: boolean;
}

export async function policy([ref]: string[], flags: PolicyFlags): Promise<void> {
  const kms = await kmsSide(flags, ref);
  if (kms) return kms.policy([ref!], flags);
  const ks = openKeystore(flags);
  const changing = flags.reset || flags.allow.length > 0 || flags.requireContext.length > 0;
  if (changing) {
    if (flags.reset && (flags.allow.length || flags.requireContext.length)) throw new UsageError('--reset conflicts with --allow and --require-context');
    for (const op of flags.allow) {
      if (!OPERATIONS.includes(op as Operation)) throw new UsageError(`unknown operation "${op}"`, { hints: [`one of ${OPERATIONS.join(', ')}`] });
    }
    const { record } = await ks.key(ref!);
    const allow = flags.reset ? [...OPERATIONS] : flags.allow.length ? (flags.allow as Operation[]) : [...record.Policy.allow];
    const requireContext: ContextCondition[] = flags.reset
      ? []
      : flags.requireContext.length
        ? parseContextRequirements(flags.requireContext)
        : [...record.Policy.requireContext];
    await setPolicy(ks, ref!, { allow, requireContext });
  }
  const { store, record } = await ks.key(ref!);
  const p = keyMetadata(store, record).Policy;
  if (flags.json) return out(JSON.stringify({ KeyId: record.KeyId, Policy: p }, null, 2));
  out(`allow            ${p.Allow.join(', ') || '(nothing)'}`);
  out(`require context  ${p.RequireContext.map((c) => (c.value === undefined ? c.key : `${c.key}=${c.value}`)).join(', ') || '(none)'}`);
}

interface ExportFlags extends KeystoreFlags {
  version?: string;
  output?: string;
  force?: boolean;
}

export async function exportMaterial([ref]: string[], flags: ExportFlags): Promise<void> {
  const kms = await kmsSide(flags, ref);
  if (kms) return kms.exportMaterial();
  const ks = openKeystore(flags);
  const { store, record } = await ks.key(ref!);
  assertExportable(record);
  if (record.KeySpec !== 'AES_256') throw new UsageError('export is for AES_256 keys; RSA keys have keys export-public');
  const number = flags.version ? parseCount('--version', flags.version, 1, 1e9) : record.PrimaryVersion;
  const version = record.Versions.find((v) => v.Version === number);
  if (!version) throw new UsageError(`key ${record.KeyId} has no version ${number}`);
  const secret = unsealVersion(await ks.unlockStore(store), { keystoreId: store.keystoreId, keyId: record.KeyId, spec: record.KeySpec }, version);
  try {
    await ks.record([{ operation: 'export-key-material', keyId: record.KeyId, version: number, outcome: 'success' }]);
    if (flags.output) {
      await writeFileAtomically(flags.output, (async function* () { yield secret; })(), { force: !!flags.force, mode: 0o600 });
    } else {
      out(secret.toString('base64'));
    }
    note(`envelope: to decrypt with an ESDK raw AES keyring use namespace envelope-local, key name ${record.KeyId}/${number}`);
  } finally {
    secret.fill(0);
  }
}

export async function exportPublic([ref]: string[], flags: ExportFlags): Promise<void> {
  const kms = await kmsSide(flags, ref);
  if (kms) return kms.exportPublic([ref!], flags);
  const ks = openKeystore(flags);
  const { record } = await ks.key(ref!);
  if (record.KeySpec === 'AES_256') throw new UsageError(`key ${record.KeyId} is symmetric: it has no public key`);
  const number = flags.version ? parseCount('--version', flags.version, 1, 1e9) : record.PrimaryVersion;
  const version = record.Versions.find((v) => v.Version === number);
  if (!version) throw new UsageError(`key ${record.KeyId} has no version ${number}`);
  out(rsaPublicPem(version));
  note(`envelope: encrypt with -k raw-rsa:file=PEM,namespace=envelope-local,name=${record.KeyId}/${number}`);
}

export async function importMaterial([ref, file]: string[], flags: KeystoreFlags): Promise<void> {
  const kms = await kmsSide(flags, ref);
  if (kms) return kms.importMaterial();
  const ks = openKeystore(flags);
  const { record } = await ks.key(ref!);
  const version = await importKeyMaterial(ks, ref!, await readMaterial(record.KeySpec, file!), new Date());
  note(`envelope: imported material as version ${version} of key ${findKey((await ks.read())!, ref!).KeyId}`);
}
