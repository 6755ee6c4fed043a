// The local keystore in process (src/keystore, src/keyring/local.ts), with an
// injected clock and a cheap scrypt: automatic rotation, deletion, the local
// keyring under the core encrypt/decrypt, sealing at rest and the lock.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decrypt } from '../src/core/decrypt.js';
import { encrypt } from '../src/core/encrypt.js';
import { DEFAULT_LIMITS } from '../src/core/limits.js';
import { IntegrityError, IoError, KeyAccessError, KeyServiceError, NoKeyError } from '../src/errors.js';
import type { EncryptionContext } from '../src/format/encryption-context.js';
import { decodeHeader, type EncryptedDataKey } from '../src/format/header.js';
import { DEFAULT_SUITE_ID, suiteById } from '../src/format/suites.js';
import { LOCAL_NAMESPACE, LocalKeyring } from '../src/keyring/local.js';
import { RawAesKeyring } from '../src/keyring/raw-aes.js';
import type { Keyring } from '../src/keyring/keyring.js';
import { Keystore, type KeystoreOptions, type PassphraseSource } from '../src/keystore/keystore.js';
import type { Operation } from '../src/keystore/schema.js';
import { disableKey, rotateDue, scheduleDeletion, setAlias } from '../src/keystore/lifecycle.js';
import { acquireLock, whileLocked } from '../src/keystore/lock.js';
import { materialAad, open, protect, seal, unlock } from '../src/keystore/protection.js';
import { chunks, collect, workdirs } from './helpers.js';

const workdir = workdirs('envelope-keystore-core-');

const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };
const DAY_MS = 24 * 60 * 60 * 1000;
const T0 = Date.parse('2031-03-01T00:00:00.000Z');

/** A keystore in a fresh directory whose clock the test moves. */
function clockedKeystore(options: Partial<KeystoreOptions> = {}) {
  const clock = { now: new Date(T0) };
  const ks = new Keystore({ dir: workdir(), now: () => clock.now, scryptCost: FAST_SCRYPT, ...options });
  return { ks, clock, at: (ms: number) => (clock.now = new Date(T0 + ms)) };
}

interface Use {
  readonly version: number;
  readonly primary: number;
  /** A copy of the material the keystore handed to the work (and zeroed after it). */
  readonly secret: Buffer;
  /** The keystore's own buffer, after the work. */
  readonly handed: Buffer;
}

/** The material of a key's primary version, as a wrapping would get it. */
async function forEncrypt(ks: Keystore, ref: string, operation: Operation = 'encrypt', context: EncryptionContext = {}): Promise<Use> {
  let handed: Buffer = Buffer.alloc(0);
  const use = await ks.withKeyForEncrypt(ref, operation, context, ({ record, version, secret }) => {
    handed = secret;
    return { version: version.Version, primary: record.PrimaryVersion, secret: Buffer.from(secret) };
  });
  return { ...use, handed };
}

/** The material of one version, as an unwrapping would get it. */
async function forDecrypt(ks: Keystore, keyId: string, versionNumber: number, context: EncryptionContext = {}): Promise<Use> {
  let handed: Buffer = Buffer.alloc(0);
  const use = await ks.withKeyForDecrypt(keyId, versionNumber, 'decrypt', context, ({ record, version, secret }) => {
    handed = secret;
    return { version: version.Version, primary: record.PrimaryVersion, secret: Buffer.from(secret) };
  });
  return { ...use, handed };
}

const suite = suiteById(DEFAULT_SUITE_ID);

function encryptWith(keyrings: Keyring[], plaintext: Uint8Array, context: EncryptionContext = {}): Promise<Buffer> {
  return collect(encrypt(chunks(plaintext, 97), { keyrings, suite, context }));
}

function decryptWith(keyrings: Keyring[], message: Uint8Array): Promise<Buffer> {
  return collect(decrypt(chunks(message, 61), { keyrings }));
}

// ---------------------------------------------------------------- rotation

describe('automatic rotation', () => {
  it('a key with a 90-day period is not rotated before its date; the first use past it rotates, rotateDue rotates the rest, and old versions still unseal', async () => {
    const { ks, at } = clockedKeystore();
    const lazy = await ks.createKey({ spec: 'AES_256', alias: 'alias/lazy', rotationPeriodDays: 90 });
    const cron = await ks.createKey({ spec: 'AES_256', alias: 'alias/cron', rotationPeriodDays: 90 });
    const manual = await ks.createKey({ spec: 'AES_256', alias: 'alias/manual' });
    expect(lazy.Rotation).toEqual({ Enabled: true, PeriodDays: 90, NextRotationDate: new Date(T0 + 90 * DAY_MS).toISOString() });

    at(90 * DAY_MS - 1);
    const early = await forEncrypt(ks, 'alias/lazy');
    expect([early.version, early.primary]).toEqual([1, 1]);
    expect(early.secret).toHaveLength(32);
    expect(early.handed.every((b) => b === 0), 'the keystore zeroes the material after the work').toBe(true);
    expect(await rotateDue(ks, new Date(T0 + 90 * DAY_MS - 1))).toEqual([]);
    expect((await ks.key('alias/lazy')).record.PrimaryVersion).toBe(1);

    const past = at(90 * DAY_MS + 60_000);
    const late = await forEncrypt(ks, 'alias/lazy');
    expect([late.version, late.primary]).toEqual([2, 2]);
    expect(late.secret.equals(early.secret)).toBe(false);
    const rotated = (await ks.key(lazy.KeyId)).record;
    expect(rotated.PrimaryVersion).toBe(2);
    expect(rotated.Versions.map((v) => v.Version)).toEqual([1, 2]);
    expect(rotated.Rotation.NextRotationDate).toBe(new Date(past.getTime() + 90 * DAY_MS).toISOString());
    // Using it again the same day does not rotate again.
    expect((await forEncrypt(ks, 'alias/lazy')).secret.equals(late.secret)).toBe(true);

    expect(await rotateDue(ks, past)).toEqual([{ keyId: cron.KeyId, version: 2 }]);
    expect(await rotateDue(ks, past)).toEqual([]);
    expect((await ks.key(manual.KeyId)).record.PrimaryVersion).toBe(1);

    const old = await forDecrypt(ks, lazy.KeyId, 1);
    expect([old.version, old.primary]).toEqual([1, 2]);
    expect(old.secret.equals(early.secret)).toBe(true);
    expect((await forDecrypt(ks, lazy.KeyId, 2)).secret.equals(late.secret)).toBe(true);
    expect((await forDecrypt(ks, cron.KeyId, 1)).secret).toHaveLength(32);

    const rotations = (await ks.audit.read()).filter((r) => r.operation === 'rotate-key');
    expect(rotations.map((r) => [r.keyId, r.version, r.outcome])).toEqual([
      [lazy.KeyId, 2, 'success'],
      [cron.KeyId, 2, 'success'],
    ]);
    expect(await ks.audit.verify()).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- deletion

describe('scheduled deletion', () => {
  it('keeps the material until the date; the first write after it destroys the key and its aliases, warns with the count of wrapped messages, and logs delete-key-material', async () => {
    const warnings: string[] = [];
    const { ks, at } = clockedKeystore({ onWarning: (m) => warnings.push(m) });
    const doomed = await ks.createKey({ spec: 'AES_256', alias: 'alias/doomed' });
    await setAlias(ks, 'alias/doomed-too', doomed.KeyId, { move: false });
    const kept = await ks.createKey({ spec: 'AES_256', alias: 'alias/kept' });
    await forEncrypt(ks, doomed.KeyId, 'generate-data-key');
    await forEncrypt(ks, doomed.KeyId, 'encrypt', { purpose: 'a' });
    await forEncrypt(ks, 'alias/doomed', 'generate-data-key');
    await forDecrypt(ks, doomed.KeyId, 1);
    await forEncrypt(ks, kept.KeyId, 'generate-data-key');

    const date = await scheduleDeletion(ks, 'alias/doomed', 7, new Date(T0));
    expect(date).toBe(new Date(T0 + 7 * DAY_MS).toISOString());
    await expect(forEncrypt(ks, 'alias/doomed')).rejects.toBeInstanceOf(KeyAccessError);
    await expect(forDecrypt(ks, doomed.KeyId, 1)).rejects.toBeInstanceOf(KeyAccessError);

    at(7 * DAY_MS - 60_000);
    await ks.createKey({ spec: 'AES_256', alias: 'alias/before' });
    const before = (await ks.read())!;
    expect(before.keys[doomed.KeyId]?.KeyState).toBe('PendingDeletion');
    expect(before.keys[doomed.KeyId]?.Versions[0]?.Material).toBeDefined();
    expect(before.aliases['alias/doomed']).toBe(doomed.KeyId);
    expect(warnings).toEqual([]);

    at(7 * DAY_MS + 60_000);
    await ks.createKey({ spec: 'AES_256', alias: 'alias/after' });
    const after = (await ks.read())!;
    expect(after.keys[doomed.KeyId]).toBeUndefined();
    expect(Object.values(after.aliases)).not.toContain(doomed.KeyId);
    expect(Object.keys(after.aliases).sort()).toEqual(['alias/after', 'alias/before', 'alias/kept']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(doomed.KeyId);
    expect(warnings[0]).toMatch(/\b3 messages\b/);

    const destroyed = (await ks.audit.read()).filter((r) => r.operation === 'delete-key-material');
    expect(destroyed).toEqual([expect.objectContaining({ keyId: doomed.KeyId, outcome: 'success' })]);
    await expect(forDecrypt(ks, doomed.KeyId, 1)).rejects.toBeInstanceOf(NoKeyError);
    expect((await forEncrypt(ks, 'alias/kept')).secret).toHaveLength(32);

    // Nothing is left to destroy: the next write warns no more.
    await ks.createKey({ spec: 'AES_256' });
    expect(warnings).toHaveLength(1);
    expect(await ks.audit.verify()).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- the local keyring

describe('LocalKeyring under the core encrypt and decrypt', () => {
  it('round trips through an AES key and an RSA key; decrypt needs no key named', async () => {
    const { ks } = clockedKeystore();
    await ks.createKey({ spec: 'AES_256', alias: 'alias/aes' });
    const rsa = await ks.createKey({ spec: 'RSA_2048', alias: 'alias/rsa' });
    const plaintext = randomBytes(5000);
    const aes = await LocalKeyring.open(ks, 'alias/aes');
    const message = await encryptWith([aes, await LocalKeyring.open(ks, rsa.KeyId)], plaintext, { purpose: 'core test' });

    expect(await decryptWith([LocalKeyring.anyKey(ks)], message)).toEqual(plaintext);
    expect(await decryptWith([aes], message)).toEqual(plaintext);
    // The RSA key alone unwraps its own copy of the data key.
    expect(await decryptWith([await LocalKeyring.open(ks, 'alias/rsa')], message)).toEqual(plaintext);
  });

  it('claims only envelope-local wrapped keys named <uuid>/<n>, and a keyring opened on one key only that key', async () => {
    const { ks } = clockedKeystore();
    const a = await ks.createKey({ spec: 'AES_256', alias: 'alias/a' });
    await ks.createKey({ spec: 'AES_256', alias: 'alias/b' });
    const ringA = await LocalKeyring.open(ks, 'alias/a');
    const ringB = await LocalKeyring.open(ks, 'alias/b');
    const any = LocalKeyring.anyKey(ks);
    const message = await encryptWith([ringA], Buffer.from('claimed'));
    const edk = decodeHeader(message, DEFAULT_LIMITS)!.header.encryptedDataKeys[0]!;
    expect(edk.providerId).toBe(LOCAL_NAMESPACE);
    expect([any.claims(edk), ringA.claims(edk), ringB.claims(edk)]).toEqual([true, true, false]);

    const named = (providerId: string, name: string): EncryptedDataKey => ({
      providerId,
      providerInfo: Buffer.from(name),
      ciphertext: new Uint8Array(256),
    });
    // RSA wrapped keys carry the bare key name as provider info.
    expect(any.claims(named(LOCAL_NAMESPACE, `${a.KeyId}/1`))).toBe(true);
    expect(any.claims(named(LOCAL_NAMESPACE, `${a.KeyId.toUpperCase()}/12`))).toBe(true);
    for (const [providerId, name] of [
      ['other-namespace', `${a.KeyId}/1`],
      ['aws-kms', `${a.KeyId}/1`],
      [LOCAL_NAMESPACE, a.KeyId],
      [LOCAL_NAMESPACE, `${a.KeyId}/`],
      [LOCAL_NAMESPACE, `${a.KeyId}/x`],
      [LOCAL_NAMESPACE, `${a.KeyId}/1/2`],
      [LOCAL_NAMESPACE, `alias/a/1`],
      [LOCAL_NAMESPACE, `${'-'.repeat(36)}/1`],
      [LOCAL_NAMESPACE, `x${a.KeyId}/1`],
    ] as const) {
      expect(any.claims(named(providerId, name)), `${providerId} ${name}`).toBe(false);
    }
    // A raw AES wrapping in the envelope-local namespace under a name that is not <uuid>/<n>.
    const foreign = await new RawAesKeyring(LOCAL_NAMESPACE, 'some-key', randomBytes(32)).wrap(randomBytes(32), { suite, context: {} });
    expect(any.claims(foreign)).toBe(false);

    await expect(decryptWith([ringB], message)).rejects.toBeInstanceOf(NoKeyError);
  });

  it('a disabled key gives KeyAccessError through decrypt and encrypt, and the refusal is audited', async () => {
    const { ks } = clockedKeystore();
    const key = await ks.createKey({ spec: 'AES_256', alias: 'alias/off' });
    const ring = await LocalKeyring.open(ks, 'alias/off');
    const message = await encryptWith([ring], Buffer.from('before'), { team: 'ops' });
    await disableKey(ks, 'alias/off');

    await expect(decryptWith([LocalKeyring.anyKey(ks)], message)).rejects.toBeInstanceOf(KeyAccessError);
    await expect(encryptWith([ring], Buffer.from('after'))).rejects.toBeInstanceOf(KeyAccessError);
    const failures = (await ks.audit.read()).filter((r) => r.outcome === 'failure');
    expect(failures).toEqual([
      expect.objectContaining({ operation: 'decrypt', keyId: key.KeyId, contextKeys: ['team'], error: 'key-access' }),
      expect.objectContaining({ operation: 'generate-data-key', keyId: key.KeyId, error: 'key-access' }),
    ]);
  });
  it('a version record edited in keystore.json is IntegrityError through encrypt and decrypt, and audited as such', async () => {
    const { ks } = clockedKeystore();
    const key = await ks.createKey({ spec: 'AES_256', alias: 'alias/t' });
    const ring = await LocalKeyring.open(ks, 'alias/t');
    const message = await encryptWith([ring], Buffer.from('sealed at rest'));
    const path = join(ks.dir, 'keystore.json');
    const store = JSON.parse(readFileSync(path, 'utf8')) as { keys: Record<string, { Versions: { Material: { sealed: string } }[] }> };
    const m = store.keys[key.KeyId]!.Versions[0]!.Material;
    m.sealed = m.sealed.slice(0, 20) + (m.sealed[20] === 'A' ? 'B' : 'A') + m.sealed.slice(21);
    writeFileSync(path, JSON.stringify(store));

    await expect(encryptWith([ring], Buffer.from('refused'))).rejects.toBeInstanceOf(IntegrityError);
    const failures = () => ks.audit.read().then((all) => all.filter((r) => r.outcome === 'failure').map((r) => [r.operation, r.error]));
    expect(await failures()).toEqual([['generate-data-key', 'integrity']]);
    await expect(decryptWith([LocalKeyring.anyKey(ks)], message)).rejects.toBeInstanceOf(IntegrityError);
    expect(await failures()).toEqual([
      ['generate-data-key', 'integrity'],
      ['decrypt', 'integrity'],
    ]);
  });
});

// ---------------------------------------------------------------- protection at rest

describe('sealing at rest', () => {
  const KEYSTORE = '7e0f5b9c-1d2a-4f3e-8a6b-0c9d8e7f6a5b';
  const KEY = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

  it('the sealing AAD binds keystore id, key id, version and key spec: any other opens nothing', () => {
    const storeKey = randomBytes(32);
    const secret = randomBytes(32);
    const aad = materialAad(KEYSTORE, KEY, 1, 'AES_256');
    const sealed = seal(storeKey, secret, aad);
    expect(open(storeKey, sealed, aad)).toEqual(secret);
    expect(seal(storeKey, secret, aad).sealed).not.toBe(sealed.sealed);

    const others = [
      materialAad('7e0f5b9c-1d2a-4f3e-8a6b-0c9d8e7f6a5c', KEY, 1, 'AES_256'),
      materialAad(KEYSTORE, '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4e', 1, 'AES_256'),
      materialAad(KEYSTORE, KEY, 2, 'AES_256'),
      materialAad(KEYSTORE, KEY, 1, 'RSA_2048'),
    ];
    expect(new Set([aad, ...others]).size).toBe(5);
    for (const other of others) expect(open(storeKey, sealed, other), other).toBeUndefined();
    expect(open(randomBytes(32), sealed, aad)).toBeUndefined();
  });

  it('a sealed record with any bit flipped, truncated or empty opens nothing', () => {
    const storeKey = randomBytes(32);
    const aad = materialAad(KEYSTORE, KEY, 3, 'AES_256');
    const body = Buffer.from(seal(storeKey, randomBytes(32), aad).sealed, 'base64');
    expect(body).toHaveLength(12 + 32 + 16);
    for (let i = 0; i < body.length; i++) {
      const flipped = Buffer.from(body);
      flipped[i]! ^= 1 << i % 8;
      expect(open(storeKey, { sealed: flipped.toString('base64') }, aad), `byte ${i}`).toBeUndefined();
    }
    expect(open(storeKey, { sealed: body.subarray(0, body.length - 1).toString('base64') }, aad)).toBeUndefined();
    expect(open(storeKey, { sealed: body.subarray(0, 27).toString('base64') }, aad)).toBeUndefined();
    expect(open(storeKey, { sealed: '' }, aad)).toBeUndefined();
  });

  it('a passphrase-wrapped store key opens only with that passphrase and that keystore id', async () => {
    const storeKey = randomBytes(32);
    const protection = await protect(KEYSTORE, storeKey, 'right passphrase', FAST_SCRYPT);
    expect(protection.kind).toBe('passphrase');
    expect(JSON.stringify(protection)).not.toContain('right passphrase');
    expect(await unlock(KEYSTORE, protection, async () => 'right passphrase')).toEqual(storeKey);
    await expect(unlock(KEYSTORE, protection, async () => 'wrong passphrase')).rejects.toBeInstanceOf(KeyAccessError);
    await expect(unlock('another-keystore', protection, async () => 'right passphrase')).rejects.toBeInstanceOf(KeyAccessError);
  });

  it('a keystore made with a passphrase unlocks with it and refuses a wrong or missing one', async () => {
    const source = (p: string | undefined): PassphraseSource => ({
      given: async () => p,
      ask: async () => {
        if (p === undefined) throw new KeyAccessError('no passphrase');
        return p;
      },
    });
    const dir = workdir();
    const writer = new Keystore({ dir, scryptCost: FAST_SCRYPT, passphrase: source('open sesame') });
    const key = await writer.createKey({ spec: 'AES_256', alias: 'alias/p' });
    const { secret } = await forEncrypt(writer, 'alias/p');
    const file = readFileSync(join(dir, 'keystore.json'), 'utf8');
    expect(JSON.parse(file).protection).toMatchObject({ kind: 'passphrase', kdf: { name: 'scrypt', ...FAST_SCRYPT } });
    expect(file).not.toContain('open sesame');
    expect(file).not.toContain(secret.toString('base64'));

    const reader = new Keystore({ dir, passphrase: source('open sesame') });
    expect((await forDecrypt(reader, key.KeyId, 1)).secret.equals(secret)).toBe(true);
    await expect(forDecrypt(new Keystore({ dir, passphrase: source('close sesame') }), key.KeyId, 1)).rejects.toBeInstanceOf(KeyAccessError);
    await expect(forDecrypt(new Keystore({ dir }), key.KeyId, 1)).rejects.toBeInstanceOf(KeyAccessError);
  });
});

// ---------------------------------------------------------------- the lock

describe('the keystore lock', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('a second acquire waits until the first is released', async () => {
    const path = join(workdir(), 'keystore.lock');
    const first = await acquireLock(path);
    expect(readFileSync(path, 'utf8')).toMatch(new RegExp(`^${process.pid}@${hostname()} [0-9a-f]{16}$`));
    let acquired = false;
    const second = acquireLock(path).then((lock) => {
      acquired = true;
      return lock;
    });
    await sleep(400);
    expect(acquired).toBe(false);
    await first.release();
    const lock = await second;
    expect(acquired).toBe(true);
    expect(existsSync(path)).toBe(true);
    await lock.release();
    expect(existsSync(path)).toBe(false);
  });

  it('whileLocked runs its work with the lock held, waits for a holder, and lets go even when the work throws', async () => {
    const path = join(workdir(), 'keystore.lock');
    const mine = new RegExp(`^${process.pid}@${hostname()} [0-9a-f]{16}$`);
    expect(await whileLocked(path, () => readFileSync(path, 'utf8'))).toMatch(mine);
    expect(existsSync(path)).toBe(false);
    await expect(
      whileLocked(path, () => {
        throw new IoError('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    expect(existsSync(path)).toBe(false);
    const holder = await acquireLock(path);
    let ran = false;
    const waiting = whileLocked(path, () => (ran = true));
    await sleep(300);
    expect(ran).toBe(false);
    await holder.release();
    expect(await waiting).toBe(true);
    expect(existsSync(path)).toBe(false);
  });

  it('a waiter gives up with KeyServiceError when the live holder keeps the lock', async () => {
    const path = join(workdir(), 'keystore.lock');
    const held = await acquireLock(path);
    await expect(acquireLock(path, 300)).rejects.toBeInstanceOf(KeyServiceError);
    await held.release();
  });

  it('a stale lock file whose holder pid is dead is broken', async () => {
    const path = join(workdir(), 'keystore.lock');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    expect(dead).toBeGreaterThan(0);
    writeFileSync(path, `${dead}@${hostname()}`);
    const lock = await acquireLock(path, 2000);
    expect(readFileSync(path, 'utf8')).toMatch(new RegExp(`^${process.pid}@${hostname()} [0-9a-f]{16}$`));
    await lock.release();
  });

  it('a lock held on another host is broken only once older than a minute', async () => {
    const path = join(workdir(), 'keystore.lock');
    writeFileSync(path, `1@elsewhere.invalid`);
    await expect(acquireLock(path, 300)).rejects.toBeInstanceOf(KeyServiceError);
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(path, old, old);
    const lock = await acquireLock(path, 2000);
    await lock.release();
  });

  it('concurrent updates through two Keystore objects lose nothing', async () => {
    const dir = workdir();
    const [one, two] = [new Keystore({ dir }), new Keystore({ dir })];
    await one.createKey({ spec: 'AES_256', alias: 'alias/first' });
    const created = await Promise.all(
      Array.from({ length: 16 }, (_, i) => (i % 2 ? one : two).createKey({ spec: 'AES_256', alias: `alias/k${i}` })),
    );
    const store = (await one.read())!;
    expect(Object.keys(store.keys).sort()).toEqual(expect.arrayContaining(created.map((k) => k.KeyId).sort()));
    expect(Object.keys(store.keys)).toHaveLength(17);
    expect(Object.keys(store.aliases)).toHaveLength(17);
    expect(await one.audit.verify()).toBe(17);
  });
});

describe('audit log', () => {
  it('chains each line to the one before, whatever the lengths of the lines before it', async () => {
    // The last line is found in the log's last 4 KiB, or else in its last 64
    // KiB (audit.ts): lines longer than the first read must still chain.
    const { AuditLog } = await import('../src/keystore/audit.js');
    const audit = new AuditLog(workdir());
    const now = new Date(T0);
    const event = (keys: number) => ({
      operation: 'decrypt',
      keyId: 'k',
      contextKeys: Array.from({ length: keys }, (_, i) => `context-key-${i}`),
      outcome: 'success' as const,
    });
    audit.append([event(1)], now);
    audit.append([event(600)], now); // a line of ~10 KiB
    audit.append([event(1)], now);
    audit.append([event(600), event(600)], now);
    audit.append([event(0)], now);
    expect(readFileSync(audit.logPath, 'utf8').split('\n')[1]!.length).toBeGreaterThan(8 * 1024);
    expect(await audit.verify()).toBe(6);
  });

  it('writes each line\'s time as toISOString does, without it', async () => {
    const { isoTime } = await import('../src/keystore/audit.js');
    fc.assert(
      fc.property(fc.date({ min: new Date('0000-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (date) => {
        expect(isoTime(date)).toBe(date.toISOString());
      }),
      { numRuns: 2000 },
    );
    for (const date of [new Date(T0), new Date(0), new Date('0000-01-01T00:00:00.000Z'), new Date(-1), new Date('+010000-01-01T00:00:00.000Z'), new Date(8.64e15)]) {
      expect(isoTime(date)).toBe(date.toISOString());
    }
    expect(() => isoTime(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('rewrites audit.head in place, to the newest line\'s hash and nothing else', async () => {
    const { AuditLog } = await import('../src/keystore/audit.js');
    const audit = new AuditLog(workdir());
    const event = { operation: 'decrypt', keyId: 'k', outcome: 'success' as const };
    const head = () => JSON.parse(readFileSync(audit.headPath, 'utf8')) as { hash: string };
    const newest = () => (JSON.parse(readFileSync(audit.logPath, 'utf8').trimEnd().split('\n').pop()!) as { hash: string }).hash;
    audit.append([event], new Date(T0)); // made durably, by rename
    const inode = statSync(audit.headPath).ino;
    audit.append([event, event], new Date(T0));
    expect(statSync(audit.headPath).ino).toBe(inode);
    expect(head().hash).toBe(newest());
    // A head longer than one (written by hand, say) is cut to the new one.
    writeFileSync(audit.headPath, `${JSON.stringify(head(), null, 8)}\n\n`);
    audit.append([event], new Date(T0));
    expect(readFileSync(audit.headPath, 'utf8')).toBe(JSON.stringify({ hash: newest() }));
    expect(statSync(audit.headPath).ino).toBe(inode);
    expect(await audit.verify()).toBe(4);
    // A head that is gone is made again.
    unlinkSync(audit.headPath);
    audit.append([event], new Date(T0));
    expect(head().hash).toBe(newest());
    expect(await audit.verify()).toBe(5);
  });

  it('verifyAudit waits for the keystore lock: an append half done is not a broken chain', async () => {
    const { ks } = clockedKeystore();
    await ks.createKey({ spec: 'AES_256', alias: 'alias/k' });
    const lock = await acquireLock(join(ks.dir, 'keystore.lock'));
    let verified: number | undefined;
    const verifying = ks.verifyAudit().then((n) => (verified = n));
    await new Promise((r) => setTimeout(r, 150));
    expect(verified).toBeUndefined();
    await lock.release();
    expect(await verifying).toBe(1);
    expect(existsSync(join(ks.dir, 'keystore.lock'))).toBe(false);
  });

  it('a write to the log that fails is an I/O error naming the log, not an internal one', async () => {
    const { AuditLog } = await import('../src/keystore/audit.js');
    const audit = new AuditLog(workdir());
    // Opens for appending, and every write says ENOSPC.
    symlinkSync('/dev/full', audit.logPath);
    const append = () => audit.append([{ operation: 'decrypt', keyId: 'k', outcome: 'success' }], new Date(T0));
    expect(append).toThrow(IoError);
    expect(append).toThrow(`cannot write ${audit.logPath}: no space left on device`);
  });
});
