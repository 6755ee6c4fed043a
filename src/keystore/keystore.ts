// The local keystore: a small KMS in one directory (DESIGN §3).
//
//   <dir>/keystore.json   keys, aliases, protection (schema.ts)        0600
//   <dir>/audit.log       hash-chained operation log (audit.ts)       0600
//   <dir>/audit.head      the newest audit hash                       0600
//   <dir>/keystore.lock   present while a process updates the store   0600
//
// Reads need no lock: keystore.json is only ever replaced by rename. Every
// update takes the lock, re-reads the file, applies one change, writes it
// durably and appends its audit events before letting go.

import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EnvelopeError, KeyAccessError, NoKeyError, UsageError } from '../errors.js';
import type { EncryptionContext } from '../format/encryption-context.js';
import { AuditLog, type AuditEvent } from './audit.js';
import { assertPrivate, ensureDirectory, readFileIfExists, writeFileDurably } from './files.js';
import { findKey, keyArn } from './key-ref.js';
import { acquireLock, whileLocked } from './lock.js';
import { generateMaterial, type NewMaterial, sealVersion, unsealVersion } from './material.js';
import { checkPolicy } from './policy.js';
import { DEFAULT_SCRYPT, newStoreKey, protect, unlock } from './protection.js';
import { isRotationDue, nextRotationDate } from './rotation.js';
import {
  DEFAULT_POLICY,
  type KeyRecord,
  type KeySpec,
  type KeyPolicy,
  type KeyVersion,
  type Operation,
  type Origin,
  parseStoreFile,
  type RotationType,
  type StoreFile,
} from './schema.js';

type Draft<T> = T extends readonly (infer U)[] ? Draft<U>[] : T extends object ? { -readonly [K in keyof T]: Draft<T[K]> } : T;
export type DraftStore = Draft<StoreFile>;
export type DraftKey = Draft<KeyRecord>;

export interface PassphraseSource {
  /** A passphrase given without asking (environment, fd, file), or undefined. */
  given(): Promise<string | undefined>;
  /** A passphrase from wherever it can come, prompting on a terminal if need be. */
  ask(): Promise<string>;
}

export interface KeystoreOptions {
  readonly dir: string;
  readonly allowInsecurePermissions?: boolean;
  readonly passphrase?: PassphraseSource;
  readonly now?: () => Date;
  readonly scryptCost?: { N: number; r: number; p: number };
  readonly onWarning?: (message: string) => void;
}

/** Key material ready for one operation; the caller zeroes `secret`. */
export interface KeyInUse {
  readonly record: KeyRecord;
  readonly version: KeyVersion;
  readonly secret: Buffer;
}

export interface CreateKeyRequest {
  readonly spec: KeySpec;
  readonly description?: string;
  readonly tags?: Record<string, string>;
  readonly alias?: string;
  readonly exportable?: boolean;
  /** Imported material; with `pendingImport`, the key waits for it (KMS Origin EXTERNAL). */
  readonly material?: NewMaterial;
  readonly pendingImport?: boolean;
  readonly rotationPeriodDays?: number;
  /** KeyId mrk-… (KMS multi-region keys), so the key answers in every region `envelope serve` shows. */
  readonly multiRegion?: boolean;
  readonly policy?: KeyPolicy;
}

export class Keystore {
  readonly dir: string;
  readonly audit: AuditLog;
  private readonly file: string;
  private readonly lockPath: string;
  private readonly now: () => Date;
  private storeKey: Buffer | undefined;

  constructor(private readonly options: KeystoreOptions) {
    this.dir = options.dir;
    this.file = join(this.dir, 'keystore.json');
    this.lockPath = join(this.dir, 'keystore.lock');
    this.audit = new AuditLog(this.dir);
    this.now = options.now ?? (() => new Date());
  }

  /** The keystore as it is now; undefined when it has not been created yet. */
  async read(): Promise<StoreFile | undefined> {
    const text = readFileIfExists(this.file);
    if (text === undefined) return undefined;
    assertPrivate([this.dir, this.file, this.audit.logPath, this.audit.headPath], !!this.options.allowInsecurePermissions);
    return parseStoreFile(text.toString('utf8'), this.file);
  }

  async key(ref: string): Promise<{ store: StoreFile; record: KeyRecord }> {
    const store = await this.read();
    return { store: store!, record: findKey(store, ref) };
  }

  /**
   * Applies one change under the lock. `change` edits a fresh copy of the store
   * and returns its result and audit events; the store is written only if
   * `change` returns without throwing. Expired deletions are carried out first.
   */
  async update<T>(
    change: (draft: DraftStore, storeKey: () => Promise<Buffer>) => Promise<{ result: T; audit: AuditEvent[] }>,
    { unlockFirst = false }: { unlockFirst?: boolean } = {},
  ): Promise<T> {
    ensureDirectory(this.dir);
    assertPrivate([this.dir], !!this.options.allowInsecurePermissions);
    // A change that needs the store key asks for the passphrase before taking the
    // lock, so a person slow to type it does not hold up every other process.
    if (unlockFirst && !this.storeKey) {
      const existing = await this.read();
      if (existing?.protection.kind === 'passphrase') await this.unlockStore(existing);
    }
    const lock = await acquireLock(this.lockPath);
    try {
      const current = (await this.read()) ?? (await this.create());
      const draft = structuredClone(current) as DraftStore;
      const purged = await this.purgeExpired(draft);
      const { result, audit } = await change(draft, () => this.unlockStore(draft));
      writeFileDurably(this.file, `${JSON.stringify(draft, null, 2)}\n`);
      this.audit.append([...purged, ...audit], this.now());
      return result;
    } finally {
      await lock.release();
    }
  }

  /**
   * Checks the audit log's chain (AuditLog.verify) while no process appends to
   * it; returns its line count. A keystore this process cannot write to (a
   * read-only copy, another user's) is checked without the lock, which it
   * could not take: nor can it be appended to by this user then.
   */
  async verifyAudit(): Promise<number> {
    if (!existsSync(this.dir)) return this.audit.verify(); // no keystore: nothing to lock, nothing to check
    let lock: Awaited<ReturnType<typeof acquireLock>>;
    try {
      lock = await acquireLock(this.lockPath);
    } catch (e) {
      const code = ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return this.audit.verify();
      throw e;
    }
    try {
      return await this.audit.verify();
    } finally {
      await lock.release();
    }
  }

  /** Records events that changed nothing in the store (uses, refusals). */
  async record(events: AuditEvent[]): Promise<void> {
    ensureDirectory(this.dir);
    await whileLocked(this.lockPath, () => this.audit.append(events, this.now()));
  }

  private async create(): Promise<StoreFile> {
    const keystoreId = randomUUID();
    const storeKey = newStoreKey();
    const passphrase = await this.options.passphrase?.given();
    this.storeKey = storeKey;
    return {
      format: 'envelope-keystore',
      version: 1,
      keystoreId,
      created: this.now().toISOString(),
      protection: await protect(keystoreId, storeKey, passphrase, this.options.scryptCost ?? DEFAULT_SCRYPT),
      keys: {},
      aliases: {},
    };
  }

  async unlockStore(store: Pick<StoreFile, 'keystoreId' | 'protection'>): Promise<Buffer> {
    if (this.storeKey) return this.storeKey;
    const ask = async () => {
      if (!this.options.passphrase) throw new KeyAccessError('the keystore is protected by a passphrase and none was given');
      return this.options.passphrase.ask();
    };
    this.storeKey = await unlock(store.keystoreId, store.protection, ask);
    return this.storeKey;
  }

  /** Re-protects the store key: with a new passphrase, or none. */
  async setPassphrase(passphrase: string | undefined): Promise<void> {
    await this.update(async (draft, storeKey) => {
      const key = await storeKey();
      draft.protection = (await protect(draft.keystoreId, key, passphrase, this.options.scryptCost ?? DEFAULT_SCRYPT)) as DraftStore['protection'];
      return { result: undefined, audit: [{ operation: passphrase ? 'protect-keystore' : 'unprotect-keystore', outcome: 'success' }] };
    }, { unlockFirst: true });
  }

  /** Forgets the unlocked store key. */
  close(): void {
    this.storeKey?.fill(0);
    this.storeKey = undefined;
  }

  async createKey(request: CreateKeyRequest): Promise<KeyRecord> {
    return this.update(async (draft, storeKey) => {
      if (request.alias && draft.aliases[request.alias]) throw aliasTaken(request.alias);
      const now = this.now();
      const keyId = request.multiRegion ? `mrk-${randomBytes(16).toString('hex')}` : randomUUID();
      const ids = { keystoreId: draft.keystoreId, keyId, spec: request.spec };
      const origin: Origin = request.material || request.pendingImport ? 'EXTERNAL' : 'ENVELOPE';
      const versions: KeyVersion[] = [];
      if (!request.pendingImport) {
        const material = request.material ?? generateMaterial(request.spec);
        try {
          versions.push(sealVersion(await storeKey(), ids, 1, material, origin, now));
        } finally {
          material.secret.fill(0);
        }
      }
      const period = request.rotationPeriodDays;
      const record: KeyRecord = {
        KeyId: keyId,
        Arn: keyArn(draft.keystoreId, keyId),
        Description: request.description ?? '',
        Tags: request.tags ?? {},
        CreationDate: now.toISOString(),
        KeySpec: request.spec,
        KeyUsage: 'ENCRYPT_DECRYPT',
        Origin: origin,
        KeyState: request.pendingImport ? 'PendingImport' : 'Enabled',
        Exportable: !!request.exportable,
        Rotation: period
          ? { Enabled: true, PeriodDays: period, NextRotationDate: nextRotationDate(now, period) }
          : { Enabled: false, PeriodDays: 365 },
        PrimaryVersion: request.pendingImport ? 0 : 1,
        Versions: versions,
        Policy: request.policy ?? DEFAULT_POLICY,
        ...(request.multiRegion ? { MultiRegion: true } : {}),
      };
      draft.keys[keyId] = record as DraftKey;
      if (request.alias) draft.aliases[request.alias] = keyId;
      return { result: record, audit: [{ operation: 'create-key', keyId, version: record.PrimaryVersion, outcome: 'success' }] };
    }, { unlockFirst: !request.pendingImport });
  }

  /**
   * Edits one key under the lock. `operation` is checked against the key's
   * policy (and `states` against its state) before `edit` runs; an edit the
   * keystore makes by itself (automatic rotation) names no policy operation.
   */
  async editKey<T>(
    ref: string,
    operation: { name: string; policy: Operation | undefined; states?: readonly KeyRecord['KeyState'][]; unlockFirst?: boolean },
    edit: (key: DraftKey, draft: DraftStore, storeKey: () => Promise<Buffer>) => Promise<T> | T,
  ): Promise<T> {
    try {
      return await this.update(async (draft, storeKey) => {
        const key = findKey(draft as StoreFile, ref) as DraftKey;
        if (operation.states && !operation.states.includes(key.KeyState)) throw wrongState(key as KeyRecord, operation.name);
        if (operation.policy) checkPolicy(key as KeyRecord, operation.policy, undefined);
        const result = await edit(key, draft, storeKey);
        return { result, audit: [{ operation: operation.name, keyId: key.KeyId, version: key.PrimaryVersion, outcome: 'success' }] };
      }, { unlockFirst: !!operation.unlockFirst });
    } catch (e) {
      await this.recordFailure(operation.name, ref, e);
      throw e;
    }
  }

  /**
   * Runs `use` with the material of the key's primary version, for wrapping a
   * new data key. Rotates first when automatic rotation is due (lazily, on
   * first use past the date). The outcome of `use` is what the audit log
   * records; the material is zeroed afterwards.
   */
  async withKeyForEncrypt<T>(
    ref: string,
    operation: Operation,
    context: EncryptionContext,
    use: (key: KeyInUse) => Promise<T> | T,
    { needSecret = true }: { needSecret?: boolean } = {},
  ): Promise<T> {
    let { store, record } = await this.key(ref);
    return this.withAudit(operation, record.KeyId, context, async () => {
      assertUsable(record, operation);
      checkPolicy(record, operation, context);
      if (isRotationDue(record, this.now())) {
        // Automatic rotation is the key's own schedule, not a caller's permission (as in KMS).
        await this.editKey(record.KeyId, { name: 'rotate-key', policy: undefined, unlockFirst: true }, (key, draft, storeKey) =>
          rotateDraft(draft, key, storeKey, this.now(), 'AUTOMATIC'),
        );
        ({ store, record } = await this.key(record.KeyId));
      }
      const version = record.Versions.find((v) => v.Version === record.PrimaryVersion);
      if (!version) throw new NoKeyError(`key ${record.KeyId} has no primary version`, []);
      const secret = needSecret ? unsealVersion(await this.unlockStore(store), this.ids(store, record), version) : Buffer.alloc(0);
      try {
        return { version: version.Version, result: await use({ record, version, secret }) };
      } finally {
        secret.fill(0);
      }
    });
  }

  /** Runs `use` with the material of one version, for unwrapping what it wrapped; audited and zeroed as above. */
  async withKeyForDecrypt<T>(
    keyId: string,
    versionNumber: number,
    operation: Operation,
    context: EncryptionContext,
    use: (key: KeyInUse) => Promise<T> | T,
  ): Promise<T> {
    const { store, record } = await this.key(keyId);
    return this.withAudit(operation, record.KeyId, context, async () => {
      assertUsable(record, operation);
      checkPolicy(record, operation, context);
      const version = record.Versions.find((v) => v.Version === versionNumber);
      if (!version) throw new NoKeyError(`key ${keyId} has no version ${versionNumber}`, []);
      const secret = unsealVersion(await this.unlockStore(store), this.ids(store, record), version);
      try {
        return { version: versionNumber, result: await use({ record, version, secret }) };
      } finally {
        secret.fill(0);
      }
    });
  }

  private ids(store: StoreFile, record: KeyRecord) {
    return { keystoreId: store.keystoreId, keyId: record.KeyId, spec: record.KeySpec };
  }

  /** Records one audit line for a use: success with its version, or failure with its error code. */
  private async withAudit<T>(
    operation: Operation,
    keyId: string,
    context: EncryptionContext,
    run: () => Promise<{ version: number; result: T }>,
  ): Promise<T> {
    const contextKeys = Object.keys(context);
    try {
      const { version, result } = await run();
      await this.record([{ operation, keyId, version, contextKeys, outcome: 'success' }]);
      return result;
    } catch (e) {
      if (e instanceof EnvelopeError) {
        await this.record([{ operation, keyId, contextKeys, outcome: 'failure', error: e.code }]).catch(() => undefined);
      }
      throw e;
    }
  }

  private async recordFailure(operation: string, keyRef: string, error: unknown, context?: EncryptionContext): Promise<void> {
    if (!(error instanceof EnvelopeError) || error.code === 'usage') return;
    const store = await this.read().catch(() => undefined);
    if (!store) return;
    let keyId: string | undefined;
    try {
      keyId = findKey(store, keyRef).KeyId;
    } catch {
      keyId = undefined;
    }
    await this.record([
      {
        operation,
        ...(keyId ? { keyId } : {}),
        ...(context ? { contextKeys: Object.keys(context) } : {}),
        outcome: 'failure',
        error: error.code,
      },
    ]).catch(() => undefined);
  }

  /** Destroys the material of keys whose deletion date has passed (KMS semantics). */
  private async purgeExpired(draft: DraftStore): Promise<AuditEvent[]> {
    const now = this.now();
    const events: AuditEvent[] = [];
    for (const key of Object.values(draft.keys)) {
      if (key.KeyState !== 'PendingDeletion' || !key.DeletionDate || new Date(key.DeletionDate) > now) continue;
      const wrapped = (await this.audit.read().catch(() => []))
        .filter((r) => r.keyId === key.KeyId && r.outcome === 'success' && (r.operation === 'encrypt' || r.operation === 'generate-data-key'))
        .length;
      this.options.onWarning?.(
        `key ${key.KeyId} reached its deletion date and was destroyed; ${wrapped} message${wrapped === 1 ? '' : 's'} wrapped under it can no longer be decrypted`,
      );
      delete draft.keys[key.KeyId];
      for (const [alias, id] of Object.entries(draft.aliases)) if (id === key.KeyId) delete draft.aliases[alias];
      events.push({ operation: 'delete-key-material', keyId: key.KeyId, outcome: 'success' });
    }
    return events;
  }
}

/** Adds a new primary backing version to a key (rotation). */
export async function rotateDraft(
  draft: DraftStore,
  key: DraftKey,
  storeKey: () => Promise<Buffer>,
  now: Date,
  type: RotationType,
): Promise<number> {
  const version = Math.max(0, ...key.Versions.map((v) => v.Version)) + 1;
  const material = generateMaterial(key.KeySpec);
  try {
    const sealed = sealVersion(await storeKey(), { keystoreId: draft.keystoreId, keyId: key.KeyId, spec: key.KeySpec }, version, material, 'ENVELOPE', now);
    key.Versions.push({ ...sealed, RotationType: type } as Draft<KeyVersion>);
  } finally {
    material.secret.fill(0);
  }
  key.PrimaryVersion = version;
  if (key.Rotation.Enabled) key.Rotation.NextRotationDate = nextRotationDate(now, key.Rotation.PeriodDays);
  return version;
}

function assertUsable(record: KeyRecord, operation: string): void {
  if (record.KeyState !== 'Enabled') throw wrongState(record, operation);
}

/** A refusal because of the key's state, which `envelope serve` answers as KMS does (DisabledException, KMSInvalidStateException). */
export class KeyStateError extends KeyAccessError {
  constructor(
    message: string,
    readonly keyId: string,
    readonly state: KeyRecord['KeyState'],
    options: { hints?: string[] },
  ) {
    super(message, options);
  }
}

export function wrongState(record: KeyRecord, operation: string): KeyStateError {
  const hints: Record<KeyRecord['KeyState'], string> = {
    Enabled: '',
    Disabled: `enable it with: envelope keys enable ${record.KeyId}`,
    PendingDeletion: `it will be destroyed on ${record.DeletionDate}; keep it with: envelope keys cancel-deletion ${record.KeyId}`,
    PendingImport: `import its material with: envelope keys import ${record.KeyId} FILE`,
  };
  return new KeyStateError(`key ${record.KeyId} is ${stateWords(record.KeyState)}: ${operation} refused`, record.KeyId, record.KeyState, {
    hints: [hints[record.KeyState]].filter(Boolean),
  });
}

function stateWords(state: KeyRecord['KeyState']): string {
  return { Enabled: 'enabled', Disabled: 'disabled', PendingDeletion: 'pending deletion', PendingImport: 'pending import' }[state];
}

export function aliasTaken(alias: string): EnvelopeError {
  return new UsageError(`alias ${alias} already names a key`, { hints: ['pick another name, or move it with: envelope keys alias'] });
}
