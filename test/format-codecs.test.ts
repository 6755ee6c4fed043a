// Unit and property tests of the byte codecs in src/format and the base64 armor
// in src/stream/armor.ts (STYLE §5, §8): round trips, every strict prefix of a
// header, each precondition under the words its error uses, key derivation
// against an HKDF written here from HMAC, and armor under arbitrary chunking.

import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FormatError, UsageError } from '../src/errors.js';
import { ContentType, MessageVersion } from '../src/format/constants.js';
import { assertUserContext, type EncryptionContext, parseContext, serializeContext } from '../src/format/encryption-context.js';
import {
  type DecodedHeader,
  decodeHeader,
  type EncryptedDataKey,
  encodeHeaderAuth,
  encodeHeaderBody,
  type HeaderLimits,
  type MessageHeader,
} from '../src/format/header.js';
import { deriveKeys } from '../src/format/kdf.js';
import { type AlgorithmSuite, SUITES, suiteById } from '../src/format/suites.js';
import { armor, dearmor } from '../src/stream/armor.js';
import { chunks, collect, splitAt } from './helpers.js';

/** Fixed so a failure reproduces; override with FC_SEED=… to explore. */
const SEED = Number(process.env.FC_SEED ?? 0x0e7e10e);
const RUNS = { seed: SEED, numRuns: 100 } as const;

const NO_LIMITS: HeaderLimits = { maxEncryptedDataKeys: 0xffff, maxFrameLength: 0xffffffff };
const DEFAULTS: HeaderLimits = { maxEncryptedDataKeys: 10, maxFrameLength: 64 * 1024 * 1024 };

// ---------------------------------------------------------------------------
// Test-side byte helpers, written independently of src/format/bytes.ts.

const u8 = (v: number) => Buffer.of(v);
const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
const short = (b: Uint8Array) => Buffer.concat([u16(b.length), b]);
const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

/** The format's context serialization, from the spec: pairs sorted by the UTF-8 bytes of their keys. */
function referenceSerialize(context: EncryptionContext): Buffer {
  const pairs = Object.entries(context).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const);
  if (pairs.length === 0) return Buffer.alloc(0);
  pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
  return Buffer.concat([u16(pairs.length), ...pairs.flatMap(([k, v]) => [short(k), short(v)])]);
}

interface RawEdk {
  providerId: Uint8Array;
  providerInfo: Uint8Array;
  ciphertext: Uint8Array;
}
const rawEdk = (e: Partial<RawEdk> = {}): Buffer =>
  Buffer.concat([
    short(e.providerId ?? Buffer.from('ns')),
    short(e.providerInfo ?? Buffer.from('info')),
    short(e.ciphertext ?? Buffer.alloc(48, 0xcc)),
  ]);

interface RawHeader {
  version: number;
  type: number; // v1 only
  suiteId: number;
  messageId: Uint8Array;
  aad: Uint8Array;
  edkCount: number;
  edks: Uint8Array;
  contentType: number;
  reserved: number; // v1 only
  ivLength: number; // v1 only
  frameLength: number;
  commitment: Uint8Array; // v2 only
}

/**
 * A header body laid out field by field from the table in the spec
 * (data-format/message-header.md), with every field overridable so malformed
 * headers can be built.
 */
function rawHeaderBody(version: 1 | 2, o: Partial<RawHeader> = {}): Buffer {
  const v = o.version ?? version;
  const parts: Buffer[] = [u8(v)];
  if (version === 1) parts.push(u8(o.type ?? 0x80));
  parts.push(u16(o.suiteId ?? (version === 1 ? 0x0178 : 0x0478)));
  parts.push(Buffer.from(o.messageId ?? Buffer.alloc(version === 1 ? 16 : 32, 0x11)));
  parts.push(short(o.aad ?? Buffer.alloc(0)));
  parts.push(u16(o.edkCount ?? 1));
  parts.push(Buffer.from(o.edks ?? rawEdk()));
  parts.push(u8(o.contentType ?? ContentType.Framed));
  if (version === 1) parts.push(u32(o.reserved ?? 0), u8(o.ivLength ?? 12));
  parts.push(u32(o.frameLength ?? 4096));
  if (version === 2) parts.push(Buffer.from(o.commitment ?? Buffer.alloc(32, 0x22)));
  return Buffer.concat(parts);
}

/** Body plus header authentication: v1 carries a 12-byte IV before the tag, v2 only the tag. */
function withAuth(version: 1 | 2, body: Uint8Array): Buffer {
  return Buffer.concat([body, version === 1 ? Buffer.alloc(12) : Buffer.alloc(0), Buffer.alloc(16, 0xaa)]);
}

function normalize(h: MessageHeader) {
  return {
    version: h.version,
    suiteId: h.suite.id,
    messageId: hex(h.messageId),
    context: { ...h.context },
    encryptedDataKeys: h.encryptedDataKeys.map((e) => ({
      providerId: e.providerId,
      providerInfo: hex(e.providerInfo),
      ciphertext: hex(e.ciphertext),
    })),
    contentType: h.contentType,
    frameLength: h.frameLength,
    commitment: hex(h.commitment),
  };
}

function expectFormatError(run: () => unknown, words: RegExp): void {
  let thrown: unknown;
  try {
    run();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a FormatError').toBeInstanceOf(FormatError);
  expect((thrown as Error).message).toMatch(words);
}

// ---------------------------------------------------------------------------
// Arbitraries

/** Keys that stress the sort order (UTF-16 order differs from UTF-8 order above U+D7FF) and object keys. */
const trickyKey = fc.constantFrom(
  '',
  'a',
  'ab',
  'b',
  'B',
  '\u007f',
  '\u0080',
  'é',
  '\uE000',
  '\uFFFF',
  '\u{10000}',
  '\u{1F600}',
  '\u{10FFFF}',
  '__proto__',
  'constructor',
  'toString',
  'aws-crypto-public-key',
);
const contextKey = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), trickyKey);
const contextValue = fc.oneof(fc.string({ unit: 'binary', maxLength: 24 }), fc.string({ maxLength: 4 }));
const contextArb = fc.dictionary(contextKey, contextValue, { maxKeys: 8 });

const edkArb: fc.Arbitrary<EncryptedDataKey> = fc.record({
  providerId: fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('aws-kms', 'raw-aes-ns', '')),
  providerInfo: fc.uint8Array({ maxLength: 64 }),
  ciphertext: fc.uint8Array({ maxLength: 96 }),
});

const frameLengthArb = fc.oneof(
  fc.integer({ min: 1, max: 0xffffffff }),
  fc.constantFrom(1, 4095, 4096, 65536, 0x7fffffff, 0xffffffff),
);

function headerArb(suites: readonly AlgorithmSuite[] = SUITES): fc.Arbitrary<MessageHeader> {
  return fc.constantFrom(...suites).chain((suite) => {
    const idLength = suite.messageVersion === MessageVersion.V1 ? 16 : 32;
    return fc
      .record({
        messageId: fc.uint8Array({ minLength: idLength, maxLength: idLength }),
        context: contextArb,
        encryptedDataKeys: fc.array(edkArb, { minLength: 1, maxLength: 5 }),
        framed: fc.boolean(),
        frameLength: frameLengthArb,
        commitment: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      })
      .map(
        (r): MessageHeader => ({
          version: suite.messageVersion,
          suite,
          messageId: r.messageId,
          context: r.context,
          encryptedDataKeys: r.encryptedDataKeys,
          contentType: r.framed ? ContentType.Framed : ContentType.NonFramed,
          frameLength: r.framed ? r.frameLength : 0,
          ...(suite.messageVersion === MessageVersion.V2 ? { commitment: r.commitment } : {}),
        }),
      );
  });
}

const tagArb = fc.uint8Array({ minLength: 16, maxLength: 16 });

// ---------------------------------------------------------------------------

describe('encryption context codec', () => {
  it('round trips random unicode contexts, sorted by UTF-8 bytes', () => {
    fc.assert(
      fc.property(contextArb, (context) => {
        const bytes = serializeContext(context);
        expect(hex(bytes)).toBe(hex(referenceSerialize(context)));
        const parsed = parseContext(bytes);
        expect({ ...parsed }).toEqual({ ...context });
        expect(Object.keys(parsed).sort()).toEqual(Object.keys(context).sort());
        // serialize(parse(b)) equals b
        expect(hex(serializeContext(parsed))).toBe(hex(bytes));
      }),
      RUNS,
    );
  });

  it('serialize(parse(b)) equals b for any well-formed serialized context', () => {
    fc.assert(
      fc.property(contextArb, (context) => {
        const b = referenceSerialize(context);
        expect(hex(serializeContext(parseContext(b)))).toBe(hex(b));
      }),
      RUNS,
    );
  });

  it('sorts by UTF-8 bytes, not UTF-16 code units', () => {
    // UTF-16: "\u{10000}" (D800 DC00) < "\uFFFF"; UTF-8: EF BF BF < F0 90 80 80.
    const bytes = serializeContext({ '\u{10000}': 'astral', '\uFFFF': 'bmp', b: '2', a: '1' });
    const keys: string[] = [];
    let at = 2;
    for (let i = 0; i < bytes[1]!; i++) {
      const kl = Buffer.from(bytes).readUInt16BE(at);
      keys.push(Buffer.from(bytes.subarray(at + 2, at + 2 + kl)).toString('utf8'));
      at += 2 + kl;
      at += 2 + Buffer.from(bytes).readUInt16BE(at);
    }
    expect(at).toBe(bytes.length);
    expect(keys).toEqual(['a', 'b', '\uFFFF', '\u{10000}']);
  });

  it('an empty context is zero bytes, and zero bytes is an empty context', () => {
    expect(serializeContext({}).length).toBe(0);
    expect(Object.keys(parseContext(new Uint8Array(0)))).toEqual([]);
  });

  it('keeps "__proto__" as an ordinary key', () => {
    const parsed = parseContext(referenceSerialize(JSON.parse('{"__proto__":"x","a":"b"}') as EncryptionContext));
    expect(Object.hasOwn(parsed, '__proto__')).toBe(true);
    expect(parsed['__proto__']).toBe('x');
  });

  it('refuses an encryption context that repeats the key', () => {
    const dup = Buffer.concat([u16(2), short(Buffer.from('k')), short(Buffer.from('1')), short(Buffer.from('k')), short(Buffer.from('2'))]);
    expectFormatError(() => parseContext(dup), /repeats the key/);
    expectFormatError(() => decodeHeader(withAuth(2, rawHeaderBody(2, { aad: dup })), DEFAULTS), /repeats the key/);
  });

  it('refuses an encryption context that is not valid UTF-8', () => {
    for (const bad of [Buffer.of(0xff), Buffer.of(0xc3), Buffer.of(0xed, 0xa0, 0x80) /* a surrogate */, Buffer.of(0xc0, 0x80)]) {
      const asKey = Buffer.concat([u16(1), short(bad), short(Buffer.from('v'))]);
      const asValue = Buffer.concat([u16(1), short(Buffer.from('k')), short(bad)]);
      expectFormatError(() => parseContext(asKey), /not valid UTF-8/);
      expectFormatError(() => parseContext(asValue), /not valid UTF-8/);
      expectFormatError(() => decodeHeader(withAuth(1, rawHeaderBody(1, { aad: asValue })), DEFAULTS), /not valid UTF-8/);
    }
  });

  it('refuses an encryption context that has a length but no pairs', () => {
    expectFormatError(() => parseContext(u16(0)), /has a length but no pairs/);
  });

  it('refuses an encryption context shorter than its pair count says', () => {
    const two = Buffer.concat([u16(2), short(Buffer.from('k')), short(Buffer.from('v'))]);
    expectFormatError(() => parseContext(two), /shorter than its pair count/);
    expectFormatError(() => parseContext(Buffer.of(0)), /shorter than its pair count/);
  });

  it('refuses an encryption context with bytes after its last pair', () => {
    const extra = Buffer.concat([u16(1), short(Buffer.from('k')), short(Buffer.from('v')), Buffer.of(0)]);
    expectFormatError(() => parseContext(extra), /bytes after its last pair/);
  });

  it('refuses a reserved key (aws-crypto-) in user context: assertUserContext', () => {
    expect(() => assertUserContext({ 'aws-crypto-public-key': 'x' })).toThrow(UsageError);
    expect(() => assertUserContext({ a: 'b', 'aws-crypto-anything': '' })).toThrow(/is reserved/);
    expect(() => assertUserContext({ a: 'b', 'AWS-CRYPTO-x': '', 'aws-crypto': '', 'x-aws-crypto-': '' })).not.toThrow();
  });

  it('refuses to serialize a key or value longer than 65535 bytes', () => {
    expect(() => serializeContext({ k: 'x'.repeat(0x10000) })).toThrow(UsageError);
    expect(() => serializeContext({ ['é'.repeat(0x8000)]: 'v' })).toThrow(/longer than 65535 bytes/);
    expect(() => serializeContext({ a: 'x'.repeat(40000), b: 'y'.repeat(40000) })).toThrow(/65535 bytes serialized/);
  });
});

describe('header codec', () => {
  it('lays out v1 and v2 header bodies as the spec tables say', () => {
    const edk: EncryptedDataKey = { providerId: 'ns', providerInfo: Buffer.from('info'), ciphertext: Buffer.alloc(48, 0xcc) };
    const aad = referenceSerialize({ a: 'b' });
    const v1: MessageHeader = {
      version: 1,
      suite: suiteById(0x0178),
      messageId: Buffer.alloc(16, 0x11),
      context: { a: 'b' },
      encryptedDataKeys: [edk],
      contentType: ContentType.Framed,
      frameLength: 4096,
    };
    const v2: MessageHeader = { ...v1, version: 2, suite: suiteById(0x0478), messageId: Buffer.alloc(32, 0x11), commitment: Buffer.alloc(32, 0x22) };
    expect(hex(encodeHeaderBody(v1))).toBe(hex(rawHeaderBody(1, { aad })));
    expect(hex(encodeHeaderBody(v2))).toBe(hex(rawHeaderBody(2, { aad })));
    const tag = Buffer.alloc(16, 0xaa);
    expect(hex(encodeHeaderAuth(1, tag))).toBe(hex(Buffer.concat([Buffer.alloc(12), tag])));
    expect(hex(encodeHeaderAuth(2, tag))).toBe(hex(tag));
  });

  it('decode(encode(h)) equals h for v1 and v2, framed and non-framed, and raw equals the input', () => {
    fc.assert(
      fc.property(headerArb(), tagArb, fc.uint8Array({ maxLength: 40 }), (header, tag, trailing) => {
        const body = encodeHeaderBody(header);
        const auth = encodeHeaderAuth(header.version, tag);
        const full = Buffer.concat([body, auth]);
        const decoded = decodeHeader(full, NO_LIMITS);
        expect(decoded).toBeDefined();
        const d = decoded as DecodedHeader;
        expect(normalize(d.header)).toEqual(normalize(header));
        expect(d.header.suite).toBe(header.suite);
        expect(hex(d.raw)).toBe(hex(full));
        expect(hex(d.body)).toBe(hex(body));
        expect(d.length).toBe(full.length);
        expect(hex(d.auth.tag)).toBe(hex(tag));
        expect(hex(d.auth.iv)).toBe(hex(Buffer.alloc(12)));
        // encode(decode(b)) equals b
        expect(hex(encodeHeaderBody(d.header))).toBe(hex(body));

        // Followed by more of the message, the header ends where it ends.
        const withBody = Buffer.concat([full, trailing]);
        const again = decodeHeader(withBody, NO_LIMITS)!;
        expect(again.length).toBe(full.length);
        expect(hex(again.raw)).toBe(hex(full));
      }),
      RUNS,
    );
  });

  it('decodes from a view into a larger buffer (respects byteOffset)', () => {
    fc.assert(
      fc.property(headerArb(), tagArb, fc.nat({ max: 33 }), (header, tag, pad) => {
        const full = Buffer.concat([encodeHeaderBody(header), encodeHeaderAuth(header.version, tag)]);
        const big = new Uint8Array(pad + full.length + 7);
        big.fill(0xee);
        big.set(full, pad);
        const d = decodeHeader(big.subarray(pad, pad + full.length), NO_LIMITS)!;
        expect(normalize(d.header)).toEqual(normalize(header));
        // Fields are views of the input, not copies.
        expect(d.raw.buffer).toBe(big.buffer);
        expect(d.header.messageId.buffer).toBe(big.buffer);
      }),
      { ...RUNS, numRuns: 30 },
    );
  });

  it('every strict prefix of a valid header needs more data (undefined), never throws', () => {
    fc.assert(
      fc.property(headerArb(), tagArb, (header, tag) => {
        const full = Buffer.concat([encodeHeaderBody(header), encodeHeaderAuth(header.version, tag)]);
        for (let n = 0; n < full.length; n++) {
          let result: DecodedHeader | undefined;
          expect(() => {
            result = decodeHeader(full.subarray(0, n), NO_LIMITS);
          }, `prefix of ${n} of ${full.length} bytes`).not.toThrow();
          expect(result, `prefix of ${n} of ${full.length} bytes`).toBeUndefined();
        }
        expect(decodeHeader(full, NO_LIMITS)).toBeDefined();
      }),
      { ...RUNS, numRuns: 40 },
    );
  });

  it('prefixes of a header claiming the largest lengths allocate nothing proportional to the claims', () => {
    // 65535 data keys with 65535-byte fields would be ~12 GiB: claimed, never present.
    const claims = Buffer.concat([
      rawHeaderBody(2, { edkCount: 0xffff, edks: Buffer.alloc(0) }).subarray(0, 1 + 2 + 32 + 2 + 2),
      u16(0xffff),
      Buffer.alloc(100, 0x61),
    ]);
    const before = process.memoryUsage().arrayBuffers;
    for (let n = 0; n <= claims.length; n++) {
      expect(decodeHeader(claims.subarray(0, n), NO_LIMITS)).toBeUndefined();
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('refuses more encrypted data keys than maxEncryptedDataKeys before reading them', () => {
    // The header claims 65535 wrapped keys and then ends: a limit error, not "need more data".
    const claim = rawHeaderBody(2, { edkCount: 0xffff, edks: Buffer.alloc(0) });
    const upToCount = claim.subarray(0, 1 + 2 + 32 + 2 + 2);
    expectFormatError(() => decodeHeader(upToCount, DEFAULTS), /65535 encrypted data keys, more than the limit of 10/);
    const v1 = rawHeaderBody(1, { edkCount: 11, edks: Buffer.alloc(0) }).subarray(0, 1 + 1 + 2 + 16 + 2 + 2);
    expectFormatError(() => decodeHeader(v1, DEFAULTS), /more than the limit/);
    // At the limit exactly, the same prefix is merely incomplete.
    expect(decodeHeader(upToCount, { ...DEFAULTS, maxEncryptedDataKeys: 0xffff })).toBeUndefined();
    const three = withAuth(2, rawHeaderBody(2, { edkCount: 3, edks: Buffer.concat([rawEdk(), rawEdk(), rawEdk()]) }));
    expect(decodeHeader(three, { ...DEFAULTS, maxEncryptedDataKeys: 3 })).toBeDefined();
    expectFormatError(() => decodeHeader(three, { ...DEFAULTS, maxEncryptedDataKeys: 2 }), /more than the limit of 2/);
  });

  it('refuses a message with no encrypted data keys', () => {
    for (const version of [1, 2] as const) {
      expectFormatError(
        () => decodeHeader(withAuth(version, rawHeaderBody(version, { edkCount: 0, edks: Buffer.alloc(0) })), DEFAULTS),
        /no encrypted data keys/,
      );
    }
  });

  it('refuses a frame length over the limit (maxFrameLength)', () => {
    for (const version of [1, 2] as const) {
      const h = withAuth(version, rawHeaderBody(version, { frameLength: 4097 }));
      expect(decodeHeader(h, { ...DEFAULTS, maxFrameLength: 4097 })).toBeDefined();
      expectFormatError(() => decodeHeader(h, { ...DEFAULTS, maxFrameLength: 4096 }), /frame length 4097 is over the limit of 4096/);
      // Refused as soon as the field is read, before the rest of the header arrives.
      const upToFrameLength = h.subarray(0, h.length - (version === 2 ? 32 + 16 : 12 + 16));
      expectFormatError(() => decodeHeader(upToFrameLength, { ...DEFAULTS, maxFrameLength: 4096 }), /over the limit/);
    }
    expectFormatError(
      () => decodeHeader(withAuth(2, rawHeaderBody(2, { frameLength: 0xffffffff })), DEFAULTS),
      /over the limit of 67108864/,
    );
  });

  it('refuses a framed message with a frame length of 0', () => {
    expectFormatError(() => decodeHeader(withAuth(2, rawHeaderBody(2, { frameLength: 0 })), DEFAULTS), /frame length of 0/);
  });

  it('refuses a non-framed message with a non-zero frame length', () => {
    for (const version of [1, 2] as const) {
      const ok = withAuth(version, rawHeaderBody(version, { contentType: ContentType.NonFramed, frameLength: 0 }));
      expect(decodeHeader(ok, DEFAULTS)?.header.contentType).toBe(ContentType.NonFramed);
      expectFormatError(
        () => decodeHeader(withAuth(version, rawHeaderBody(version, { contentType: ContentType.NonFramed, frameLength: 1 })), DEFAULTS),
        /non-framed message with a non-zero frame length/,
      );
    }
  });

  it('refuses an unknown content type', () => {
    for (const contentType of [0, 3, 0xff]) {
      expectFormatError(() => decodeHeader(withAuth(2, rawHeaderBody(2, { contentType })), DEFAULTS), /unknown content type/);
    }
  });

  it('refuses a v2 header with a non-committing suite (cannot appear in a version 2 header)', () => {
    for (const suite of SUITES.filter((s) => !s.committing)) {
      expectFormatError(
        () => decodeHeader(withAuth(2, rawHeaderBody(2, { suiteId: suite.id })), DEFAULTS),
        /cannot appear in a version 2 header/,
      );
    }
    for (const suite of SUITES.filter((s) => s.committing)) {
      expectFormatError(
        () => decodeHeader(withAuth(1, rawHeaderBody(1, { suiteId: suite.id })), DEFAULTS),
        /cannot appear in a version 1 header/,
      );
    }
  });

  it('refuses an unsupported algorithm suite', () => {
    for (const suiteId of [0x0000, 0x0015, 0x0479, 0x0678, 0xffff]) {
      expectFormatError(() => decodeHeader(withAuth(2, rawHeaderBody(2, { suiteId })), DEFAULTS), /unsupported algorithm suite/);
      expectFormatError(() => decodeHeader(withAuth(1, rawHeaderBody(1, { suiteId })), DEFAULTS), /unsupported algorithm suite/);
    }
  });

  it('refuses an unknown version byte', () => {
    for (const version of [0x00, 0x03, 0x80, 0xff]) {
      expectFormatError(() => decodeHeader(withAuth(2, rawHeaderBody(2, { version })), DEFAULTS), /unknown version byte/);
      // One byte is enough to refuse.
      expectFormatError(() => decodeHeader(Buffer.of(version), DEFAULTS), /not an encrypted message/);
    }
    expectFormatError(() => decodeHeader(Buffer.from('AQIDBA=='), DEFAULTS), /looks like text/);
    expectFormatError(() => decodeHeader(Buffer.from('\nhello'), DEFAULTS), /looks like text/);
  });

  it('refuses an unsupported v1 message type, a non-zero reserved field and an IV length other than 12', () => {
    expectFormatError(() => decodeHeader(withAuth(1, rawHeaderBody(1, { type: 0x81 })), DEFAULTS), /unsupported message type/);
    expectFormatError(() => decodeHeader(withAuth(1, rawHeaderBody(1, { reserved: 1 })), DEFAULTS), /reserved header field/);
    expectFormatError(() => decodeHeader(withAuth(1, rawHeaderBody(1, { ivLength: 16 })), DEFAULTS), /IV length is 16/);
  });

  it('refuses an encrypted data key whose provider id is not UTF-8', () => {
    expectFormatError(
      () => decodeHeader(withAuth(2, rawHeaderBody(2, { edks: rawEdk({ providerId: Buffer.of(0xff, 0xfe) }) })), DEFAULTS),
      /provider id that is not UTF-8/,
    );
  });

  it('refuses a context whose AAD length runs past the pairs (via the header)', () => {
    const aad = referenceSerialize({ k: 'v' });
    const body = rawHeaderBody(2, { aad });
    // Claim one more AAD byte: the pairs parse and a byte of the EDK count is left over.
    const bad = Buffer.from(body);
    bad.writeUInt16BE(aad.length + 1, 1 + 2 + 32);
    expect(() => decodeHeader(withAuth(2, bad), DEFAULTS)).toThrow(FormatError);
  });
});

// ---------------------------------------------------------------------------
// Key derivation, checked against HKDF (RFC 5869) written here from HMAC.

const HASH_LENGTH = { sha256: 32, sha384: 48, sha512: 64 } as const;
type Hash = keyof typeof HASH_LENGTH;

function hkdfExtract(hash: Hash, salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac(hash, salt.length === 0 ? Buffer.alloc(HASH_LENGTH[hash]) : salt)
    .update(ikm)
    .digest();
}

function hkdfExpand(hash: Hash, prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let t: Buffer = Buffer.alloc(0);
  for (let i = 1; blocks.length * HASH_LENGTH[hash] < length; i++) {
    t = createHmac(hash, prk).update(Buffer.concat([t, info, Buffer.of(i)])).digest();
    blocks.push(t);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** Spec table (framework/algorithm-suites.md), keyed by suite id so it does not lean on src/format/suites.ts. */
const KDF_BY_ID: Record<number, { kdf: 'identity' | Hash; keyLength: number }> = {
  0x0014: { kdf: 'identity', keyLength: 16 },
  0x0046: { kdf: 'identity', keyLength: 24 },
  0x0078: { kdf: 'identity', keyLength: 32 },
  0x0114: { kdf: 'sha256', keyLength: 16 },
  0x0146: { kdf: 'sha256', keyLength: 24 },
  0x0178: { kdf: 'sha256', keyLength: 32 },
  0x0214: { kdf: 'sha256', keyLength: 16 },
  0x0346: { kdf: 'sha384', keyLength: 24 },
  0x0378: { kdf: 'sha384', keyLength: 32 },
  0x0478: { kdf: 'sha512', keyLength: 32 },
  0x0578: { kdf: 'sha512', keyLength: 32 },
};

function expectedKeys(suiteId: number, dataKey: Uint8Array, messageId: Uint8Array): { key: Buffer; commitment?: Buffer } {
  const { kdf, keyLength } = KDF_BY_ID[suiteId]!;
  if (kdf === 'identity') return { key: Buffer.from(dataKey) };
  if (kdf === 'sha512') {
    const prk = hkdfExtract('sha512', messageId, dataKey);
    return {
      key: hkdfExpand('sha512', prk, Buffer.concat([u16(suiteId), Buffer.from('DERIVEKEY')]), 32),
      commitment: hkdfExpand('sha512', prk, Buffer.from('COMMITKEY'), 32),
    };
  }
  const prk = hkdfExtract(kdf, Buffer.alloc(0), dataKey);
  return { key: hkdfExpand(kdf, prk, Buffer.concat([u16(suiteId), messageId]), keyLength) };
}

describe('key derivation', () => {
  it('the test-side HKDF matches RFC 5869 test cases 1 and 3', () => {
    const ikm = Buffer.alloc(22, 0x0b);
    const case1 = hkdfExpand(
      'sha256',
      hkdfExtract('sha256', Buffer.from('000102030405060708090a0b0c', 'hex'), ikm),
      Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex'),
      42,
    );
    expect(case1.toString('hex')).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
    const case3 = hkdfExpand('sha256', hkdfExtract('sha256', Buffer.alloc(0), ikm), Buffer.alloc(0), 42);
    expect(case3.toString('hex')).toBe('8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
  });

  it('covers exactly the 11 suites of the spec, with their KDFs and key lengths', () => {
    expect(SUITES.map((s) => s.id).sort((a, b) => a - b)).toEqual(Object.keys(KDF_BY_ID).map(Number).sort((a, b) => a - b));
    for (const s of SUITES) {
      const want = KDF_BY_ID[s.id]!;
      expect(s.keyLength).toBe(want.keyLength);
      expect(s.kdf).toBe(want.kdf === 'identity' ? 'identity' : `hkdf-${want.kdf}`);
      expect(s.committing).toBe(want.kdf === 'sha512');
      expect(s.messageVersion).toBe(want.kdf === 'sha512' ? 2 : 1);
    }
  });

  for (const suite of SUITES) {
    const id = `0x${suite.id.toString(16).padStart(4, '0')}`;
    it(`deriveKeys for ${id} (${KDF_BY_ID[suite.id]!.kdf}) matches an independent HKDF`, () => {
      const idLength = suite.messageVersion === 1 ? 16 : 32;
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: suite.keyLength, maxLength: suite.keyLength }),
          fc.uint8Array({ minLength: idLength, maxLength: idLength }),
          (dataKey, messageId) => {
            const derived = deriveKeys(suite, dataKey, messageId);
            const want = expectedKeys(suite.id, dataKey, messageId);
            expect(derived.encryptionKey.toString('hex')).toBe(want.key.toString('hex'));
            expect(derived.encryptionKey.length).toBe(suite.keyLength);
            expect(hex(derived.commitment)).toBe(hex(want.commitment));
          },
        ),
        { ...RUNS, numRuns: 20 },
      );
    });
  }

  it('deriveKeys refuses a data key of the wrong length', () => {
    expect(() => deriveKeys(suiteById(0x0478), new Uint8Array(16), new Uint8Array(32))).toThrow(/data key is 16 bytes/);
    expect(() => deriveKeys(suiteById(0x0014), new Uint8Array(32), new Uint8Array(16))).toThrow(/needs 16/);
  });

  it('the committing key depends on the message id (salt) and the suite id (info)', () => {
    const dataKey = Buffer.alloc(32, 9);
    const a = deriveKeys(suiteById(0x0478), dataKey, Buffer.alloc(32, 1));
    const b = deriveKeys(suiteById(0x0478), dataKey, Buffer.alloc(32, 2));
    const c = deriveKeys(suiteById(0x0578), dataKey, Buffer.alloc(32, 1));
    expect(a.encryptionKey.equals(b.encryptionKey)).toBe(false);
    expect(a.commitment!.equals(b.commitment!)).toBe(false);
    expect(a.encryptionKey.equals(c.encryptionKey)).toBe(false);
    // The commitment label carries no suite id.
    expect(a.commitment!.equals(c.commitment!)).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// Armor


/** Messages start with 0x01 or 0x02; armor recognises base64 by its first character "A". */
const messageLike = fc
  .tuple(fc.constantFrom(0x01, 0x02), fc.uint8Array({ maxLength: 600 }))
  .map(([first, rest]) => Buffer.concat([Buffer.of(first), rest]));
const cutsArb = fc.array(fc.nat({ max: 2000 }), { maxLength: 25 });

async function errorOf(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('armor', () => {
  it('dearmor(armor(x)) equals x for random bytes and random chunkings', async () => {
    await fc.assert(
      fc.asyncProperty(messageLike, cutsArb, cutsArb, async (x, cutsIn, cutsOut) => {
        const text = await collect(armor(splitAt(x, cutsIn)));
        const back = await collect(dearmor(splitAt(text, cutsOut)));
        expect(back.toString('hex')).toBe(x.toString('hex'));
      }),
      RUNS,
    );
  });

  it('writes standard base64 in 76-column lines, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(messageLike, cutsArb, async (x, cuts) => {
        const text = (await collect(armor(splitAt(x, cuts)))).toString('latin1');
        const b64 = x.toString('base64');
        const lines: string[] = [];
        for (let at = 0; at < b64.length; at += 76) lines.push(b64.slice(at, at + 76));
        expect(text).toBe(`${lines.join('\n')}\n`);
      }),
      RUNS,
    );
  });

  it('accepts base64 with arbitrary line breaks, CRLF, spaces and tabs', async () => {
    const ws = fc.constantFrom('\n', '\r\n', ' ', '\t', '\r', '\n\n', ' \r\n\t');
    await fc.assert(
      fc.asyncProperty(
        messageLike,
        fc.array(fc.tuple(fc.nat(), ws), { maxLength: 30 }),
        fc.constantFrom('', '\n', '\r\n', '  \n'),
        cutsArb,
        async (x, breaks, lead, cuts) => {
          const b64 = x.toString('base64');
          const sorted = breaks.map(([at, w]) => [at % (b64.length + 1), w] as const).sort((a, b) => a[0] - b[0]);
          let text = '';
          let at = 0;
          for (const [p, w] of sorted) {
            text += b64.slice(at, p) + w;
            at = p;
          }
          text = lead + text + b64.slice(at);
          const back = await collect(dearmor(splitAt(Buffer.from(text, 'latin1'), cuts)));
          expect(back.toString('hex')).toBe(x.toString('hex'));
        },
      ),
      RUNS,
    );
  });

  it('passes binary input through untouched', async () => {
    await fc.assert(
      fc.asyncProperty(messageLike, cutsArb, async (x, cuts) => {
        expect((await collect(dearmor(splitAt(x, cuts)))).toString('hex')).toBe(x.toString('hex'));
      }),
      { ...RUNS, numRuns: 50 },
    );
    expect((await collect(dearmor(chunks(new Uint8Array(0))))).length).toBe(0);
  });

  it('refuses invalid characters in base64 input', async () => {
    const good = Buffer.from(Buffer.concat([Buffer.of(1), Buffer.alloc(200, 7)]).toString('base64'), 'latin1');
    for (const bad of ['-', '_', '*', '.', '\u00e9', '\0', '\v']) {
      for (const at of [1, 50, good.length - 3]) {
        const text = Buffer.concat([good.subarray(0, at), Buffer.from(bad, 'latin1'), good.subarray(at)]);
        for (const size of [1, 7, text.length]) {
          const e = await errorOf(() => collect(dearmor(chunks(text, size))));
          expect(e, `"${bad}" at ${at}, chunks of ${size}`).toBeInstanceOf(FormatError);
          expect((e as Error).message).toMatch(/neither a binary message nor base64/);
        }
      }
    }
  });

  it('refuses base64 with padding in the middle', async () => {
    const cases = ['AQ==AQ==', 'AQ==\nAQID', 'A===', 'AQ=B', 'AQ=\n=AQID', 'AQI=AQI=', 'AQ==A', 'AQ==\n\nAQ'];
    for (const text of cases) {
      for (const size of [1, 2, 3, 5, text.length]) {
        const e = await errorOf(() => collect(dearmor(chunks(Buffer.from(text), size))));
        expect(e, `${JSON.stringify(text)} in chunks of ${size}`).toBeInstanceOf(FormatError);
        expect((e as Error).message).toMatch(/padding/);
      }
    }
  });

  it('refuses truncated base64 (length not a multiple of 4)', async () => {
    await fc.assert(
      fc.asyncProperty(messageLike, fc.integer({ min: 1, max: 3 }), cutsArb, async (x, drop, cuts) => {
        const b64 = x.toString('base64').replace(/=+$/, '');
        const truncated = b64.slice(0, b64.length - drop);
        fc.pre(truncated.length % 4 !== 0 && truncated.startsWith('A'));
        const e = await errorOf(() => collect(dearmor(splitAt(Buffer.from(`${truncated}\n`), cuts))));
        expect(e).toBeInstanceOf(FormatError);
        expect((e as Error).message).toMatch(/truncated/);
      }),
      { ...RUNS, numRuns: 50 },
    );
  });
});
