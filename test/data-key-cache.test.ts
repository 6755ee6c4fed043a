// The data-key cache of encrypt --cache (src/core/data-key-cache.ts), with an
// injected clock: what makes entries interchangeable, each limit retiring an
// entry, the zeroing of cached keys, and messages made from a shared data key.

import { buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier } from '@aws-crypto/client-node';
import { describe, expect, it } from 'vitest';
import { DataKeyCache, MAX_CACHE_MESSAGES } from '../src/core/data-key-cache.js';
import { decrypt } from '../src/core/decrypt.js';
import { type DataKeyLease, type DataKeyLeaseRequest, type DataKeySource, encrypt } from '../src/core/encrypt.js';
import { PUBLIC_KEY_CONTEXT_KEY } from '../src/format/constants.js';
import type { EncryptionContext } from '../src/format/encryption-context.js';
import { decodeHeader, type MessageHeader } from '../src/format/header.js';
import { suiteById } from '../src/format/suites.js';
import type { Keyring } from '../src/keyring/keyring.js';
import { RawAesKeyring } from '../src/keyring/raw-aes.js';
import { chunks, collect } from './helpers.js';

const COMMITTING = suiteById(0x0478);
const SIGNED = suiteById(0x0578);
const HKDF_SHA256 = suiteById(0x0178);
const IDENTITY_KDF = suiteById(0x0078);

const wrappingKey = (name: string) => Buffer.alloc(32, name.length);

/** A raw AES keyring that counts how many data keys it wrapped: one per generation. */
function countingKeyring(name = 'k'): Keyring & { wraps: number } {
  const inner = new RawAesKeyring('cache-test', name, wrappingKey(name));
  const keyring = {
    wraps: 0,
    description: inner.description,
    wrap: (dataKey: Uint8Array, request: Parameters<Keyring['wrap']>[1]) => {
      keyring.wraps++;
      return inner.wrap(dataKey, request);
    },
    claims: (edk: Parameters<Keyring['claims']>[0]) => inner.claims(edk),
    unwrap: (edk: Parameters<Keyring['unwrap']>[0], request: Parameters<Keyring['unwrap']>[1]) => inner.unwrap(edk, request),
  };
  return keyring;
}

function clock() {
  const c = { t: 1000, now: () => c.t };
  return c;
}

const isZero = (key: Uint8Array) => key.every((b) => b === 0);

function request(keyring: Keyring, overrides: Partial<DataKeyLeaseRequest> = {}): DataKeyLeaseRequest {
  return { keyrings: [keyring], suite: COMMITTING, context: { purpose: 'test' }, ...overrides };
}

/** Leases a key for one message of `length` bytes and ends the message at once. */
async function oneMessage(cache: DataKeyCache, req: DataKeyLeaseRequest, bytes = req.plaintextLength ?? 0): Promise<DataKeyLease> {
  const lease = await cache.lease(req);
  lease.release(bytes);
  return lease;
}

describe('data-key cache: entries', () => {
  it('serves several messages from one generation within the limits', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000, maxMessages: 10 }, { now: clock().now });
    const leases = [];
    for (let i = 0; i < 3; i++) leases.push(await oneMessage(cache, request(keyring, { plaintextLength: 5 })));
    expect(keyring.wraps).toBe(1);
    expect(leases.map((l) => l.reused)).toEqual([false, true, true]);
    expect(leases[1]!.dataKey).toBe(leases[0]!.dataKey);
    expect(leases[2]!.encryptedDataKeys).toEqual(leases[0]!.encryptedDataKeys);
    expect(isZero(leases[0]!.dataKey)).toBe(false);
    cache.close();
  });

  it('a different encryption context gets a different entry', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000 }, { now: clock().now });
    const a = await oneMessage(cache, request(keyring, { context: { purpose: 'a' } }));
    const b = await oneMessage(cache, request(keyring, { context: { purpose: 'b' } }));
    const empty = await oneMessage(cache, request(keyring, { context: {} }));
    expect(keyring.wraps).toBe(3);
    expect(new Set([a.dataKey, b.dataKey, empty.dataKey]).size).toBe(3);
    expect((await oneMessage(cache, request(keyring, { context: { purpose: 'a' } }))).dataKey).toBe(a.dataKey);
    expect(keyring.wraps).toBe(3);
    cache.close();
  });

  it('a different algorithm suite gets a different entry', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000 }, { now: clock().now });
    const committing = await oneMessage(cache, request(keyring, { suite: COMMITTING }));
    const hkdf = await oneMessage(cache, request(keyring, { suite: HKDF_SHA256 }));
    expect(keyring.wraps).toBe(2);
    expect(hkdf.dataKey).not.toBe(committing.dataKey);
    expect((await oneMessage(cache, request(keyring, { suite: HKDF_SHA256 }))).reused).toBe(true);
    cache.close();
  });

  it('a different set of master keys gets a different entry', async () => {
    const first = countingKeyring('first');
    const second = countingKeyring('second');
    const cache = new DataKeyCache({ maxAgeMs: 60_000 }, { now: clock().now });
    await oneMessage(cache, { ...request(first), keyrings: [first] });
    const both = await oneMessage(cache, { ...request(first), keyrings: [first, second] });
    const swapped = await oneMessage(cache, { ...request(first), keyrings: [second, first] });
    expect([both.reused, swapped.reused]).toEqual([false, false]);
    expect(both.encryptedDataKeys).toHaveLength(2);
    expect(first.wraps + second.wraps).toBe(5);
    cache.close();
  });

  it('suites without a KDF are not cached: every message gets a fresh key, zeroed when it ends', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000 }, { now: clock().now });
    const a = await cache.lease(request(keyring, { suite: IDENTITY_KDF, plaintextLength: 1 }));
    const b = await cache.lease(request(keyring, { suite: IDENTITY_KDF, plaintextLength: 1 }));
    expect(keyring.wraps).toBe(2);
    expect([a.reused, b.reused]).toEqual([false, false]);
    expect(cache.size).toBe(0);
    expect(isZero(a.dataKey)).toBe(false);
    a.release(1);
    expect(isZero(a.dataKey)).toBe(true);
    expect(isZero(b.dataKey)).toBe(false);
    cache.close();
    expect(isZero(b.dataKey)).toBe(true);
  });

  it('signed suites reuse the signing key pair with the data key, since the wrapped keys bind its public half', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000 }, { now: clock().now });
    const a = await oneMessage(cache, request(keyring, { suite: SIGNED }));
    const b = await oneMessage(cache, request(keyring, { suite: SIGNED }));
    expect(keyring.wraps).toBe(1);
    expect(a.signingKey).toBeDefined();
    expect(b.signingKey).toBe(a.signingKey);
    expect((await oneMessage(cache, request(keyring))).signingKey).toBeUndefined();
    cache.close();
  });
});

describe('data-key cache: limits', () => {
  it('max-age: an entry serves until its age, then is retired and its key zeroed', async () => {
    const keyring = countingKeyring();
    const time = clock();
    const cache = new DataKeyCache({ maxAgeMs: 5000 }, { now: time.now });
    const first = await oneMessage(cache, request(keyring));
    time.t += 4999;
    expect((await oneMessage(cache, request(keyring))).dataKey).toBe(first.dataKey);
    time.t += 1;
    cache.prune();
    expect(isZero(first.dataKey)).toBe(true);
    expect(cache.size).toBe(0);
    const next = await oneMessage(cache, request(keyring));
    expect(next.reused).toBe(false);
    expect(keyring.wraps).toBe(2);
    cache.close();
  });

  it('max-age: an idle entry is retired by its timer, with no further lease', async () => {
    const keyring = countingKeyring();
    const timers: { ms: number; fire: () => void; cancelled: boolean }[] = [];
    const setTimer = (ms: number, fire: () => void) => {
      const t = { ms, fire, cancelled: false };
      timers.push(t);
      return () => (t.cancelled = true);
    };
    const cache = new DataKeyCache({ maxAgeMs: 5000 }, { now: clock().now, setTimer });
    const first = await oneMessage(cache, request(keyring));
    expect(timers.map((t) => t.ms)).toEqual([5000]);
    expect(isZero(first.dataKey)).toBe(false);
    timers[0]!.fire();
    expect(isZero(first.dataKey)).toBe(true);
    expect(cache.size).toBe(0);
    // An entry retired otherwise (here: at close) cancels its timer.
    await oneMessage(cache, request(keyring));
    cache.close();
    expect(timers[1]!.cancelled).toBe(true);
  });

  it('max-age: a key that expires while a message uses it is zeroed when that message ends', async () => {
    const keyring = countingKeyring();
    const time = clock();
    const cache = new DataKeyCache({ maxAgeMs: 5000 }, { now: time.now });
    const lease = await cache.lease(request(keyring));
    time.t += 6000;
    cache.prune();
    expect(isZero(lease.dataKey)).toBe(false);
    lease.release(10);
    expect(isZero(lease.dataKey)).toBe(true);
  });

  it('max-messages: an entry serves N messages, then is retired and its key zeroed', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000, maxMessages: 2 }, { now: clock().now });
    const first = await oneMessage(cache, request(keyring));
    const second = await cache.lease(request(keyring));
    expect(second.dataKey).toBe(first.dataKey);
    expect(cache.size).toBe(0);
    expect(isZero(first.dataKey)).toBe(false);
    second.release(0);
    expect(isZero(first.dataKey)).toBe(true);
    const third = await oneMessage(cache, request(keyring));
    expect(third.reused).toBe(false);
    expect(keyring.wraps).toBe(2);
    cache.close();
  });

  it('max-bytes known before: a message that would go over the limit gets a new data key', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000, maxBytes: 100 }, { now: clock().now });
    const first = await oneMessage(cache, request(keyring, { plaintextLength: 60 }));
    expect((await oneMessage(cache, request(keyring, { plaintextLength: 40 }))).reused).toBe(true);
    const over = await oneMessage(cache, request(keyring, { plaintextLength: 1 }));
    expect(over.reused).toBe(false);
    expect(isZero(first.dataKey)).toBe(true);
    expect(keyring.wraps).toBe(2);
    cache.close();
  });

  it('max-bytes: a message longer than the limit on first use gets a key that is not cached', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000, maxBytes: 10 }, { now: clock().now });
    const big = await cache.lease(request(keyring, { plaintextLength: 11 }));
    expect(cache.size).toBe(0);
    big.release(11);
    expect(isZero(big.dataKey)).toBe(true);
    expect((await oneMessage(cache, request(keyring, { plaintextLength: 10 }))).reused).toBe(false);
    expect(keyring.wraps).toBe(2);
    cache.close();
  });

  it('max-bytes counted after: a message of unknown length that goes over retires the entry and zeroes its key', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000, maxBytes: 100 }, { now: clock().now });
    const small = await oneMessage(cache, request(keyring), 50);
    const large = await cache.lease(request(keyring));
    expect(large.reused).toBe(true);
    expect(cache.size).toBe(1);
    large.release(51);
    expect(cache.size).toBe(0);
    expect(isZero(small.dataKey)).toBe(true);
    expect((await oneMessage(cache, request(keyring))).reused).toBe(false);
    cache.close();
  });

  it('max-bytes counted after: a file that grew after its size was taken counts what was encrypted', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000, maxBytes: 100 }, { now: clock().now });
    await oneMessage(cache, request(keyring, { plaintextLength: 10 }), 95);
    expect((await oneMessage(cache, request(keyring, { plaintextLength: 10 }))).reused).toBe(false);
    cache.close();
  });

  it('limits are checked: max-age above 0, max-messages from 1 to 2^32, max-bytes from 0', () => {
    expect(() => new DataKeyCache({ maxAgeMs: 0 })).toThrow(/max-age/);
    expect(() => new DataKeyCache({ maxAgeMs: 1, maxMessages: 0 })).toThrow(/max-messages/);
    expect(() => new DataKeyCache({ maxAgeMs: 1, maxMessages: MAX_CACHE_MESSAGES + 1 })).toThrow(/max-messages/);
    expect(() => new DataKeyCache({ maxAgeMs: 1, maxBytes: -1 })).toThrow(/max-bytes/);
    expect(new DataKeyCache({ maxAgeMs: 1 }).maxMessages).toBe(MAX_CACHE_MESSAGES);
    expect(new DataKeyCache({ maxAgeMs: 1, maxBytes: 0 }).maxBytes).toBe(0);
  });
});

describe('data-key cache: zeroing', () => {
  it('the least recently used entry is evicted past capacity, and its key zeroed', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000 }, { now: clock().now, capacity: 2 });
    const a = await oneMessage(cache, request(keyring, { context: { n: 'a' } }));
    const b = await oneMessage(cache, request(keyring, { context: { n: 'b' } }));
    await oneMessage(cache, request(keyring, { context: { n: 'a' } }));
    await oneMessage(cache, request(keyring, { context: { n: 'c' } }));
    expect(cache.size).toBe(2);
    expect(isZero(b.dataKey)).toBe(true);
    expect(isZero(a.dataKey)).toBe(false);
    cache.close();
  });

  it('an entry evicted while a message uses it keeps its key until that message ends', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000 }, { now: clock().now, capacity: 1 });
    const held = await cache.lease(request(keyring, { context: { n: 'a' } }));
    await oneMessage(cache, request(keyring, { context: { n: 'b' } }));
    expect(isZero(held.dataKey)).toBe(false);
    held.release(0);
    expect(isZero(held.dataKey)).toBe(true);
    cache.close();
  });

  it('close zeroes every key: cached, in use, and uncached; then refuses to lend', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000, maxBytes: 10 }, { now: clock().now });
    const cached = await oneMessage(cache, request(keyring, { context: { n: 'cached' } }));
    const inUse = await cache.lease(request(keyring, { context: { n: 'in use' } }));
    const uncached = await cache.lease(request(keyring, { context: { n: 'too big' }, plaintextLength: 11 }));
    const noKdf = await cache.lease(request(keyring, { suite: IDENTITY_KDF }));
    const keys = [cached, inUse, uncached, noKdf].map((l) => l.dataKey);
    expect(keys.some(isZero)).toBe(false);
    cache.close();
    expect(keys.every(isZero)).toBe(true);
    expect(cache.size).toBe(0);
    inUse.release(0);
    cache.close();
    await expect(cache.lease(request(keyring))).rejects.toThrow(/closed/);
  });
});

/** The cache as encrypt sees it, keeping every lease it hands out. */
function watched(cache: DataKeyCache): DataKeySource & { leases: DataKeyLease[] } {
  const leases: DataKeyLease[] = [];
  return {
    leases,
    lease: async (req) => {
      const lease = await cache.lease(req);
      leases.push(lease);
      return lease;
    },
  };
}

const header = (message: Uint8Array): MessageHeader =>
  decodeHeader(message, { maxEncryptedDataKeys: 10, maxFrameLength: 2 ** 32 - 1 })!.header;

async function* failingAfter(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
  throw new Error('the input broke');
}

describe('encrypt with a data-key cache', () => {
  for (const suite of [COMMITTING, SIGNED]) {
    it(`two messages from one entry (${suite.name}) share wrapped keys, not message ids, and both decrypt`, async () => {
      const keyring = countingKeyring();
      const cache = new DataKeyCache({ maxAgeMs: 60_000 }, { now: clock().now });
      const source = watched(cache);
      const context: EncryptionContext = { purpose: 'backup' };
      const plaintexts = [Buffer.from('first message'), Buffer.from('second message, longer')];
      const messages = [];
      for (const p of plaintexts) {
        messages.push(await collect(encrypt(chunks(p), { keyrings: [keyring], suite, context, dataKeys: source, plaintextLength: p.length })));
      }
      expect(keyring.wraps).toBe(1);
      // encrypt must not wipe the key it borrowed: the cache still holds it for the next message.
      expect(isZero(source.leases[0]!.dataKey)).toBe(false);
      const [h1, h2] = messages.map(header);
      expect(h2!.encryptedDataKeys).toEqual(h1!.encryptedDataKeys);
      expect(Buffer.from(h2!.messageId).equals(Buffer.from(h1!.messageId))).toBe(false);
      expect(Buffer.from(h2!.commitment!).equals(Buffer.from(h1!.commitment!))).toBe(false);
      expect(h2!.context[PUBLIC_KEY_CONTEXT_KEY]).toBe(h1!.context[PUBLIC_KEY_CONTEXT_KEY]);
      expect(h1!.context.purpose).toBe('backup');
      for (const [i, m] of messages.entries()) {
        expect(await collect(decrypt(chunks(m), { keyrings: [keyring] }))).toEqual(plaintexts[i]);
      }
      cache.close();
      expect(isZero(source.leases[0]!.dataKey)).toBe(true);
    });
  }

  it('signed messages from one entry decrypt and verify with the AWS Encryption SDK for JavaScript', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000 }, { now: clock().now });
    const plaintexts = [Buffer.from('one'), Buffer.from('two')];
    const messages = [];
    for (const p of plaintexts) {
      messages.push(await collect(encrypt(chunks(p), { keyrings: [keyring], suite: SIGNED, context: { a: 'b' }, dataKeys: cache, plaintextLength: p.length })));
    }
    cache.close();
    expect(keyring.wraps).toBe(1);
    const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
    const esdkKeyring = new RawAesKeyringNode({
      keyNamespace: 'cache-test',
      keyName: 'k',
      // An isolated copy: the ESDK reads the key's whole ArrayBuffer.
      unencryptedMasterKey: new Uint8Array(wrappingKey('k')),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    });
    for (const [i, m] of messages.entries()) {
      const { plaintext, messageHeader } = await esdk.decrypt(esdkKeyring, m);
      expect(Buffer.from(plaintext)).toEqual(plaintexts[i]);
      expect(messageHeader.suiteId).toBe(0x0578);
    }
  });

  it('encrypt counts the plaintext it sealed, so a stream over max-bytes retires the entry', async () => {
    const keyring = countingKeyring();
    const cache = new DataKeyCache({ maxAgeMs: 60_000, maxBytes: 50 }, { now: clock().now });
    const source = watched(cache);
    const message = await collect(encrypt(chunks(Buffer.alloc(51, 1), 7), { keyrings: [keyring], suite: COMMITTING, dataKeys: source }));
    expect(cache.size).toBe(0);
    expect(isZero(source.leases[0]!.dataKey)).toBe(true);
    expect(await collect(decrypt(chunks(message), { keyrings: [keyring] }))).toEqual(Buffer.alloc(51, 1));
  });

  it('a message that fails still ends its lease, so the key is zeroed when its entry expires', async () => {
    const keyring = countingKeyring();
    const time = clock();
    const cache = new DataKeyCache({ maxAgeMs: 5000 }, { now: time.now });
    const source = watched(cache);
    await expect(
      collect(encrypt(failingAfter(Buffer.alloc(10)), { keyrings: [keyring], suite: COMMITTING, dataKeys: source })),
    ).rejects.toThrow(/the input broke/);
    time.t += 5000;
    cache.prune();
    expect(isZero(source.leases[0]!.dataKey)).toBe(true);
  });

  it('without a cache, encrypt still makes a fresh data key per message', async () => {
    const keyring = countingKeyring();
    for (let i = 0; i < 2; i++) await collect(encrypt(chunks(Buffer.from('x')), { keyrings: [keyring], suite: COMMITTING }));
    expect(keyring.wraps).toBe(2);
  });
});
