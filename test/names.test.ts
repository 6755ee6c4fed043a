// KeyIds, local key names and sizes are matched whatever their case, by
// character classes rather than the i flag (src/keystore/key-ref.ts says why):
// each pattern must accept exactly what its i-flag form accepted.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSize } from '../src/cli/options.js';
import { LOCAL_NAMESPACE, localKeyName } from '../src/keyring/local.js';
import { KEY_ID, MRK_ID, UUID } from '../src/keystore/key-ref.js';

/** Strings near the patterns: their characters in either case, and some that are not theirs. */
const nearly = (alphabet: string, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...alphabet.split('')), maxLength });

const HEXISH = '0123456789abcdefABCDEFgG-mMrRkK/x';
/** n hex digits in either case, mostly; now and then something near them. */
const hexOr = (n: number) =>
  fc.oneof({ arbitrary: fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'.split('')), minLength: n, maxLength: n }), weight: 4 }, nearly(HEXISH, n + 1));

describe('case-insensitive names without the i flag', () => {
  it('KEY_ID, UUID and MRK_ID accept what their i-flag forms did', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    const mrk = /^mrk-[0-9a-f]{32}$/i;
    const either = new RegExp(`${uuid.source}|${mrk.source}`, 'i');
    const uuidLike = fc
      .tuple(...[8, 4, 4, 4, 12].map((n) => hexOr(n)))
      .map((parts) => parts.join('-'));
    const mrkLike = fc.tuple(fc.constantFrom('mrk-', 'MRK-', 'mRk-', 'mrk', 'mrx-'), hexOr(32)).map(([p, h]) => p + h);
    fc.assert(
      fc.property(fc.oneof(uuidLike, mrkLike, nearly(HEXISH, 40)), (s) => {
        expect(UUID.test(s)).toBe(uuid.test(s));
        expect(MRK_ID.test(s)).toBe(mrk.test(s));
        expect(KEY_ID.test(s)).toBe(either.test(s));
      }),
      { numRuns: 5000 },
    );
    expect(KEY_ID.test('2AE5D1A4-5F7B-4BB1-9C2E-0D8F0A3B8C11')).toBe(true);
    expect(KEY_ID.test(`MRK-${'A'.repeat(32)}`)).toBe(true);
  });

  it('localKeyName reads a KeyId/version name as before, in any case', () => {
    const named = (name: string) => localKeyName({ providerId: LOCAL_NAMESPACE, providerInfo: Buffer.from(name), ciphertext: Buffer.alloc(0) });
    expect(named('2AE5D1A4-5F7B-4BB1-9C2E-0D8F0A3B8C11/7')).toEqual({ keyId: '2ae5d1a4-5f7b-4bb1-9c2e-0d8f0a3b8c11', version: 7 });
    expect(named(`MRK-${'ab'.repeat(16)}/1`)).toEqual({ keyId: `mrk-${'ab'.repeat(16)}`, version: 1 });
    const reference = /^([0-9a-z-]{36})\/(\d{1,9})$/i;
    fc.assert(
      fc.property(fc.tuple(fc.oneof(hexOr(36), nearly(`${HEXISH}zZ`, 37), fc.constantFrom('2AE5D1A4-5F7B-4BB1-9C2E-0D8F0A3B8C11', `MrK-${'aB'.repeat(16)}`)), fc.constantFrom('/1', '/123456789', '/1234567890', '/', '')), ([id, version]) => {
        const name = id + version;
        const m = reference.exec(name);
        if (!m || !KEY_ID.test(m[1]!)) expect(named(name)).toBeUndefined();
        else expect(named(name)).toEqual({ keyId: m[1]!.toLowerCase(), version: Number(m[2]) });
      }),
      { numRuns: 3000 },
    );
  });

  it('parseSize takes units in any case, as before', () => {
    const reference = /^(\d+)\s*([kmg]?)(i?b)?$/i;
    fc.assert(
      fc.property(fc.tuple(fc.constantFrom('0', '1', '64', '65536'), fc.constantFrom('', ' '), nearly('kKmMgGiIbBx', 3)), ([n, space, unit]) => {
        const text = n + space + unit;
        const m = reference.exec(text);
        const valid = !!m && !(m[3] && !m[2] && m[3].toLowerCase() !== 'b');
        if (valid) expect(parseSize('--size', text)).toBe(Number(n) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m![2]!.toLowerCase()]!);
        else expect(() => parseSize('--size', text)).toThrow(/takes a size/);
      }),
      { numRuns: 3000 },
    );
  });
});
