import { stat } from 'node:fs/promises';
import { type CacheLimits, DataKeyCache, MAX_CACHE_BYTES, MAX_CACHE_MESSAGES } from '../../core/data-key-cache.js';
import { type DataKeySource, DEFAULT_FRAME_LENGTH, encrypt } from '../../core/encrypt.js';
import { UsageError } from '../../errors.js';
import { DEFAULT_NON_COMMITTING_SUITE_ID, DEFAULT_SIGNED_SUITE_ID, DEFAULT_SUITE_ID, suiteById } from '../../format/suites.js';
import { KEY_USAGES, openKeyrings } from '../../keyring/registry.js';
import { armor } from '../../stream/armor.js';
import { deliver, naming, planOutputs } from '../files.js';
import { isStdio } from '../input.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { closeKms, type KmsFlags, kmsServices } from '../kms-options.js';
import { parseCommitmentPolicy, parseContextPairs, parseCount, parseSize, parseSuite } from '../options.js';
import { openInputWithProgress } from '../progress.js';
import { detail, isVerbose } from '../terminal.js';
import { watchMessage } from '../verbose.js';

interface EncryptFlags extends KeystoreFlags, KmsFlags {
  key: string[];
  context: string[];
  output?: string;
  sign?: boolean;
  algorithm?: string;
  frameSize?: string;
  commitmentPolicy: string;
  armor?: boolean;
  force?: boolean;
  recursive?: boolean;
  suffix?: string;
  cache?: string;
}

export async function run(files: string[], flags: EncryptFlags): Promise<void> {
  const keys = flags.key.length > 0 ? flags.key : (flags.settings?.keys ?? []);
  if (keys.length === 0) {
    throw new UsageError('encrypt needs a key: -k KEY (or "keys" in a config file)', { hints: KEY_USAGES.map((u) => `a key is ${u}`) });
  }
  const commitmentPolicy = parseCommitmentPolicy(flags.commitmentPolicy);
  const algorithm = flags.algorithm ?? (flags.sign ? undefined : flags.settings?.algorithm);
  const suite = algorithm
    ? parseSuite(algorithm)
    : suiteById(
        commitmentPolicy === 'forbid-encrypt-allow-decrypt'
          ? DEFAULT_NON_COMMITTING_SUITE_ID
          : flags.sign
            ? DEFAULT_SIGNED_SUITE_ID
            : DEFAULT_SUITE_ID,
      );
  if (flags.sign && !suite.signature) {
    throw new UsageError(`--sign conflicts with --algorithm ${flags.algorithm}, which does not sign`);
  }
  const frameSize = flags.frameSize ?? flags.settings?.frameSize;
  const frameLength = frameSize === undefined ? DEFAULT_FRAME_LENGTH : parseSize('--frame-size', frameSize);
  const context = parseContextPairs(flags.context);
  const cacheLimits = flags.cache === undefined ? undefined : parseCacheLimits(flags.cache);
  const plan = await planOutputs(files, {
    names: naming('encrypt', flags.suffix),
    output: flags.output,
    recursive: !!flags.recursive,
    force: !!flags.force,
    directoryMode: 0o777,
  });

  // The keys are opened once; encrypt() makes a fresh data key for each message,
  // unless --cache lends one to several.
  const keystore = openKeystore(flags);
  const keyrings = await openKeyrings(keys, { keystore: () => keystore, kms: kmsServices(flags) });
  const cache = cacheLimits && new DataKeyCache(cacheLimits);
  // The cached data keys are zeroed however the run ends: here, and on exit (an interrupt exits at once).
  const closeCache = () => cache?.close();
  if (cache) process.once('exit', closeCache);
  try {
    // One message from `path` to its destination; with -v, its keys and timing.
    await deliver(plan, { mode: 0o644, binary: !flags.armor }, async (path, destination) => {
      const label = isStdio(path) ? undefined : path;
      const watch = watchMessage(label, { wrappedBy: keyrings });
      const input = await openInputWithProgress(path);
      const options = {
        keyrings,
        suite,
        context,
        frameLength,
        commitmentPolicy,
        ...(cache ? { dataKeys: noteReuse(cache, label), plaintextLength: await regularFileSize(path) } : {}),
      };
      // Armored, the bytes go through base64 here; raw, workers may write the frames they seal themselves.
      await destination.write(flags.armor ? armor(encrypt(input, options)) : (direct) => encrypt(input, { ...options, ...(direct ? { direct } : {}) }));
      watch?.done();
    });
  } finally {
    closeCache();
    closeKms();
    process.removeListener('exit', closeCache);
  }
}

/** The cache, saying with -v when a message reuses a data key. */
function noteReuse(cache: DataKeyCache, label: string | undefined): DataKeySource {
  return {
    lease: async (request) => {
      const lease = await cache.lease(request);
      if (lease.reused && isVerbose()) detail(`${label === undefined ? '' : `${label}: `}data key reused (cache)`);
      return lease;
    },
  };
}

/**
 * A named regular file's size, which the cache checks against max-bytes before
 * encrypting; undefined for stdin, whose bytes are counted as they go.
 */
async function regularFileSize(path: string | undefined): Promise<number | undefined> {
  if (isStdio(path)) return undefined;
  try {
    const s = await stat(path!);
    return s.isFile() ? s.size : undefined;
  } catch {
    // The input's own open reports why it cannot be read.
    return undefined;
  }
}

const CACHE_FIELDS = ['max-age', 'max-messages', 'max-bytes'] as const;
const DURATION_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600 };

/**
 * `--cache max-age=DUR[,max-messages=N][,max-bytes=SIZE]`: max-age is required,
 * as the ESDK's caching CMM requires a TTL; the others default to the SDK's
 * ceilings (2^32 messages; bytes up to what a number counts exactly).
 */
export function parseCacheLimits(text: string): CacheLimits {
  const fields = new Map<string, string>();
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    const name = (eq < 0 ? item : item.slice(0, eq)).trim();
    if (name === '') throw new UsageError(`--cache takes max-age=DUR,max-messages=N,max-bytes=SIZE, not "${text}"`);
    if (!(CACHE_FIELDS as readonly string[]).includes(name)) {
      throw new UsageError(`--cache has no field "${name}"`, { hints: ['--cache takes max-age=DUR (required), max-messages=N and max-bytes=SIZE, e.g. --cache max-age=5m,max-messages=100'] });
    }
    if (eq < 0) throw new UsageError(`--cache ${name} needs a value: ${name}=…`);
    if (fields.has(name)) throw new UsageError(`--cache gives ${name} twice`);
    fields.set(name, item.slice(eq + 1).trim());
  }
  const age = fields.get('max-age');
  if (age === undefined) {
    throw new UsageError('--cache needs max-age, how long a data key may be reused', { hints: ['e.g. --cache max-age=5m,max-messages=100'] });
  }
  const messages = fields.get('max-messages');
  const bytes = fields.get('max-bytes');
  const maxBytes = bytes === undefined ? undefined : parseSize('--cache max-bytes', bytes);
  if (maxBytes !== undefined && maxBytes > MAX_CACHE_BYTES) {
    throw new UsageError(`--cache max-bytes can be at most ${MAX_CACHE_BYTES}, not "${bytes}"`);
  }
  return {
    maxAgeMs: parseDuration('--cache max-age', age),
    ...(messages === undefined ? {} : { maxMessages: parseCount('--cache max-messages', messages, 1, MAX_CACHE_MESSAGES) }),
    ...(maxBytes === undefined ? {} : { maxBytes }),
  };
}

/** `30s`, `5m`, `1h`, or plain seconds, above 0; in milliseconds. */
function parseDuration(flag: string, text: string): number {
  const m = /^(\d+)\s*([smh]?)$/i.exec(text.trim());
  const ms = m ? Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]! * 1000 : NaN;
  if (!(ms > 0) || !Number.isSafeInteger(ms)) {
    throw new UsageError(`${flag} takes a duration above 0 such as 30s, 5m or 1h, not "${text}"`);
  }
  return ms;
}
