// A data-key cache for the messages of one encrypt run (--cache): one data-key
// generation serves several messages until a limit is hit. It follows the
// AWS Encryption SDK's caching CMM over its local materials cache
// (framework/caching-cmm.md; framework/local-cryptographic-materials-cache.md;
// developer guide, "Setting cache security thresholds"):
//
// - An entry is found by what makes materials interchangeable: the master keys
//   (here the keyring objects themselves, the caching CMM's partition), the
//   algorithm suite and the caller's encryption context (caching-cmm.md,
//   Appendix A, "Encryption Materials, With Algorithm Suite").
// - Suites with the identity KDF are never cached: their data key is the
//   message key itself, so reuse would repeat AES-GCM keys across messages.
// - Limits are checked before an entry is lent: its age, messages + 1, and
//   bytes + this message's length. The first use of a data key is exempt, but
//   materials already over a limit are not cached.
// - Signed suites are cached with their signing key pair, as the SDK's entries
//   are ("What is in a data key cache entry?"): the wrapped keys bind the
//   context, and the context names the public key, so the wrapped keys can
//   only be reused with that key pair. Each message still signs its own bytes.
//
// Where this differs: the SDK does not cache at all when the plaintext length
// is unknown (a stream). Here such a message may use an entry with bytes to
// spare, its bytes are counted as they are encrypted, and the entry is retired
// once over the limit, so max-bytes is exceeded by at most that one message.
//
// The cache owns every plaintext data key it hands out: a key is zeroed when
// its entry expires (a timer fires at max-age, so an idle run holds no stale
// key), is evicted or is spent (once no message still holds it), and at close().

import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import { PUBLIC_KEY_CONTEXT_KEY } from '../format/constants.js';
import type { EncryptionContext } from '../format/encryption-context.js';
import { serializeContext } from '../format/encryption-context.js';
import { generateSigningKey, type SigningKey } from '../format/footer.js';
import type { EncryptedDataKey } from '../format/header.js';
import { wipe } from '../format/kdf.js';
import type { Keyring } from '../keyring/keyring.js';
import { generateDataKey } from '../keyring/multi.js';
import type { DataKeyLease, DataKeyLeaseRequest, DataKeySource } from './encrypt.js';

/** The SDK's default and ceiling for messages per cached data key. */
export const MAX_CACHE_MESSAGES = 2 ** 32;
/** The SDK allows up to 2^63-1 bytes; a JavaScript number counts exactly up to this, far beyond any input. */
export const MAX_CACHE_BYTES = Number.MAX_SAFE_INTEGER;
/**
 * Entries kept at once, least recently used evicted first. One run has one
 * suite and one context, so it uses one entry; the rest is headroom.
 */
export const DEFAULT_CACHE_CAPACITY = 16;

export interface CacheLimits {
  /** How long an entry serves from its creation, in milliseconds; required and above 0 (the SDK's TTL). */
  readonly maxAgeMs: number;
  /** Messages per data key: 1 to 2^32 (default 2^32). */
  readonly maxMessages?: number;
  /** Plaintext bytes per data key: 0 to MAX_CACHE_BYTES (default). */
  readonly maxBytes?: number;
}

export interface DataKeyCacheOptions {
  /** Milliseconds on a monotonic clock; injectable so tests can age entries. */
  readonly now?: () => number;
  readonly capacity?: number;
  /**
   * Calls `fire` after `ms` milliseconds and returns what cancels it;
   * injectable so tests can expire entries. The default timer does not keep
   * the process alive.
   */
  readonly setTimer?: (ms: number, fire: () => void) => () => void;
}

function unrefTimer(ms: number, fire: () => void): () => void {
  const timer = setTimeout(fire, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

interface Materials {
  readonly dataKey: Uint8Array;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly signingKey?: SigningKey;
}

interface Entry extends Materials {
  readonly id: string;
  readonly createdAt: number;
  messages: number;
  bytes: number;
  /** Messages under way with this data key. */
  leases: number;
  /** No longer lent; its key is wiped once `leases` is 0. */
  retired: boolean;
  /** Cancels the timer that retires the entry at max-age. */
  cancelExpiry: () => void;
}

export class DataKeyCache implements DataKeySource {
  readonly maxAgeMs: number;
  readonly maxMessages: number;
  readonly maxBytes: number;
  private readonly now: () => number;
  private readonly capacity: number;
  private readonly setTimer: (ms: number, fire: () => void) => () => void;
  /** In least-recently-used order: a Map iterates in insertion order, and a use re-inserts. */
  private readonly entries = new Map<string, Entry>();
  /** Retired entries still held by a message, and uncached keys lent out: what close() must still wipe. */
  private readonly outstanding = new Set<Materials>();
  /** The partition of each keyring object: same objects, same master keys. */
  private readonly keyringIds = new WeakMap<Keyring, number>();
  private nextKeyringId = 0;
  private closed = false;

  constructor(limits: CacheLimits, options: DataKeyCacheOptions = {}) {
    const { maxAgeMs, maxMessages = MAX_CACHE_MESSAGES, maxBytes = MAX_CACHE_BYTES } = limits;
    if (!(maxAgeMs > 0) || !Number.isFinite(maxAgeMs)) throw new UsageError('data-key cache max-age must be above 0');
    if (!Number.isInteger(maxMessages) || maxMessages < 1 || maxMessages > MAX_CACHE_MESSAGES) {
      throw new UsageError(`data-key cache max-messages must be from 1 to ${MAX_CACHE_MESSAGES}`);
    }
    if (!Number.isInteger(maxBytes) || maxBytes < 0 || maxBytes > MAX_CACHE_BYTES) {
      throw new UsageError(`data-key cache max-bytes must be from 0 to ${MAX_CACHE_BYTES}`);
    }
    this.maxAgeMs = maxAgeMs;
    this.maxMessages = maxMessages;
    this.maxBytes = maxBytes;
    this.now = options.now ?? (() => performance.now());
    this.capacity = options.capacity ?? DEFAULT_CACHE_CAPACITY;
    this.setTimer = options.setTimer ?? unrefTimer;
    if (!Number.isInteger(this.capacity) || this.capacity < 1) throw new UsageError('data-key cache capacity must be at least 1');
  }

  /** Entries that can still be lent. */
  get size(): number {
    return this.entries.size;
  }

  async lease(request: DataKeyLeaseRequest): Promise<DataKeyLease> {
    this.assertOpen();
    const { suite, plaintextLength } = request;
    if (plaintextLength !== undefined && (!Number.isSafeInteger(plaintextLength) || plaintextLength < 0)) {
      throw new Error(`plaintext length must be a whole number of bytes, not ${plaintextLength}`);
    }
    this.prune();
    if (suite.kdf === 'identity') return this.lendUncached(await this.generate(request));

    const id = this.entryId(request);
    const found = this.entries.get(id);
    if (found) {
      if (this.admits(found, plaintextLength)) {
        this.entries.delete(id);
        this.entries.set(id, found);
        return this.lendEntry(found, plaintextLength, true);
      }
      this.retire(found);
    }

    const materials = await this.generate(request);
    if (this.closed) {
      this.wipeMaterials(materials);
      this.assertOpen();
    }
    // Over the byte limit on its first use: this message may have the key, the cache may not.
    if (plaintextLength !== undefined && plaintextLength > this.maxBytes) return this.lendUncached(materials);
    const entry: Entry = { ...materials, id, createdAt: this.now(), messages: 0, bytes: 0, leases: 0, retired: false, cancelExpiry: () => {} };
    entry.cancelExpiry = this.setTimer(this.maxAgeMs, () => this.retire(entry));
    const racing = this.entries.get(id);
    if (racing) this.retire(racing);
    this.entries.set(id, entry);
    for (const [, oldest] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      this.retire(oldest);
    }
    return this.lendEntry(entry, plaintextLength, false);
  }

  /** Retires every entry past its age; lease() does this first, as the SDK's cache prunes on every access. */
  prune(): void {
    const now = this.now();
    for (const entry of [...this.entries.values()]) {
      if (now - entry.createdAt >= this.maxAgeMs) this.retire(entry);
    }
  }

  /** Zeroes every data key the cache holds or has lent, and refuses further leases. Safe to call twice. */
  close(): void {
    this.closed = true;
    for (const entry of [...this.entries.values()]) this.retire(entry);
    for (const materials of this.outstanding) this.wipeMaterials(materials);
    this.outstanding.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the data-key cache is closed');
  }

  /** Whether one more message of `length` bytes (unknown: counted later) fits the entry's limits. */
  private admits(entry: Entry, length: number | undefined): boolean {
    if (this.now() - entry.createdAt >= this.maxAgeMs) return false;
    if (entry.messages + 1 > this.maxMessages) return false;
    // A message of unknown length needs bytes to spare; its count comes at release.
    return length === undefined ? entry.bytes < this.maxBytes : entry.bytes + length <= this.maxBytes;
  }

  private lendEntry(entry: Entry, declared: number | undefined, reused: boolean): DataKeyLease {
    entry.messages += 1;
    entry.bytes += declared ?? 0;
    entry.leases += 1;
    this.retireIfSpent(entry);
    let released = false;
    return {
      dataKey: entry.dataKey,
      encryptedDataKeys: entry.encryptedDataKeys,
      ...(entry.signingKey ? { signingKey: entry.signingKey } : {}),
      reused,
      release: (plaintextBytes) => {
        if (released) return;
        released = true;
        // The declared length was counted when lent; the bytes actually encrypted count.
        entry.bytes += plaintextBytes - (declared ?? 0);
        entry.leases -= 1;
        this.retireIfSpent(entry);
        if (entry.retired && entry.leases === 0) this.forget(entry);
      },
    };
  }

  /** Materials that serve one message only: wiped when it ends. */
  private lendUncached(materials: Materials): DataKeyLease {
    this.outstanding.add(materials);
    let released = false;
    return {
      dataKey: materials.dataKey,
      encryptedDataKeys: materials.encryptedDataKeys,
      ...(materials.signingKey ? { signingKey: materials.signingKey } : {}),
      reused: false,
      release: () => {
        if (released) return;
        released = true;
        this.forget(materials);
      },
    };
  }

  /** An entry no further message can use is retired at once, so its key does not wait for close(). */
  private retireIfSpent(entry: Entry): void {
    if (entry.messages >= this.maxMessages || entry.bytes > this.maxBytes) this.retire(entry);
  }

  /** Out of the cache; the key is wiped now, or when the last message holding it ends. */
  private retire(entry: Entry): void {
    if (this.entries.get(entry.id) === entry) this.entries.delete(entry.id);
    entry.cancelExpiry();
    if (entry.retired) return;
    entry.retired = true;
    if (entry.leases === 0) this.forget(entry);
    else this.outstanding.add(entry);
  }

  private forget(materials: Materials): void {
    this.outstanding.delete(materials);
    this.wipeMaterials(materials);
  }

  private wipeMaterials(materials: Materials): void {
    // The signing key is a KeyObject, which JavaScript cannot zero: dropping the entry drops it.
    wipe(materials.dataKey);
  }

  /** One generation, as encrypt makes it without a cache: a signing key pair first, since the wrapping binds its public half. */
  private async generate(request: DataKeyLeaseRequest): Promise<Materials> {
    const { keyrings, suite, context } = request;
    const signingKey = suite.signature ? generateSigningKey(suite.signature) : undefined;
    const fullContext: EncryptionContext = signingKey ? { ...context, [PUBLIC_KEY_CONTEXT_KEY]: signingKey.publicKey } : context;
    const { dataKey, encryptedDataKeys } = await generateDataKey(keyrings, { suite, context: fullContext });
    return { dataKey, encryptedDataKeys, ...(signingKey ? { signingKey } : {}) };
  }

  /**
   * SHA-512(SHA-512(partition) || 0x01 || suite id || SHA-512(serialized context)),
   * the SDK's identifier for encryption materials with a suite (caching-cmm.md,
   * Appendix A), with the keyrings in order as the partition.
   */
  private entryId({ keyrings, suite, context }: DataKeyLeaseRequest): string {
    const partition = keyrings.map((k) => this.keyringId(k)).join(',');
    return createHash('sha512')
      .update(createHash('sha512').update(partition, 'utf8').digest())
      .update(Uint8Array.of(0x01, suite.id >> 8, suite.id & 0xff))
      .update(createHash('sha512').update(serializeContext(context)).digest())
      .digest('hex');
  }

  private keyringId(keyring: Keyring): number {
    let id = this.keyringIds.get(keyring);
    if (id === undefined) {
      id = this.nextKeyringId++;
      this.keyringIds.set(keyring, id);
    }
    return id;
  }
}
