// Interoperability with the AWS Encryption SDK for JavaScript
// (@aws-crypto/client-node v5), the oracle for the message format, in both
// directions: envelope encrypts and the ESDK decrypts, the ESDK encrypts and
// envelope decrypts. Each case checks the plaintext, the suite, the frame length
// and the encryption context that the reader sees.
//
// The full cross product (11 suites × 5 frame sizes × 7 lengths × context ×
// 6 wrapping keys) is far too slow: 20 MB at frame size 1 is 20 million frames.
// The matrix covers every value of every dimension instead:
//   boundaries  every suite × every frame size × 0, 1, frame−1, frame, frame+1, 3×frame bytes
//               (frame−1 dropped where it is 0), with context
//   no context  every suite × every frame size × 0 and frame+1 bytes, empty context
//   large       20 MB at 64 KiB and 1 MiB frames, committing (0x0478) and signed (0x0578, 0x0378)
//   keys        raw AES-128/192/256 and raw RSA OAEP-SHA1, OAEP-SHA256, PKCS#1 v1.5,
//               each with a v1 unsigned, a v1 signed and a v2 signed suite
//   several     one message wrapped for AES, RSA OAEP and RSA PKCS#1, read with each one
//   sorting     a context whose keys' UTF-8 byte order differs from String#localeCompare
//
// Node 20 refuses RSA PKCS#1 v1.5 private decryption (CVE-2023-46809). envelope
// works around it; the ESDK does not, so for "envelope encrypts with pkcs1" the
// ESDK decrypts in a child process started with --security-revert.

import { execFile } from 'node:child_process';
import { constants, createCipheriv, createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  type KeyringNode,
  MultiKeyringNode,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
  RawRsaKeyringNode,
} from '@aws-crypto/client-node';
import { describe, expect, it } from 'vitest';
import { decrypt } from '../src/core/decrypt.js';
import { encrypt } from '../src/core/encrypt.js';
import { PUBLIC_KEY_CONTEXT_KEY } from '../src/format/constants.js';
import type { EncryptionContext } from '../src/format/encryption-context.js';
import type { MessageHeader } from '../src/format/header.js';
import { hex4, suiteById } from '../src/format/suites.js';
import type { Keyring } from '../src/keyring/keyring.js';
import { RawAesKeyring } from '../src/keyring/raw-aes.js';
import { RawRsaKeyring, type RsaPadding } from '../src/keyring/raw-rsa.js';
import { chunks, collect, REPO_ROOT, tempDir } from './helpers.js';

const SUITE_IDS = [0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378, 0x0478, 0x0578] as const;
const MiB = 1024 * 1024;
const FRAME_LENGTHS = [1, 512, 4096, 64 * 1024, MiB] as const;
const LARGE = 20_000_000;

type KeyKind = 'aes-128' | 'aes-192' | 'aes-256' | 'rsa-oaep-sha1' | 'rsa-oaep-sha256' | 'rsa-pkcs1';
const KEY_KINDS: readonly KeyKind[] = ['aes-128', 'aes-192', 'aes-256', 'rsa-oaep-sha1', 'rsa-oaep-sha256', 'rsa-pkcs1'];

const CONTEXTS = {
  ctx: { purpose: 'interop', tenant: 'ünïcødé ✓ 🔑', zone: '' },
  'no ctx': {},
  // 'Zulu' < '_x' < 'alpha' < 'émigré' in UTF-8 bytes, the spec's order and the header's;
  // localeCompare gives '_x' < 'alpha' < 'émigré' < 'Zulu'. The ESDK for JS binds raw AES
  // wrapped keys to the localeCompare order unless utf8Sorting is set
  // (aws-encryption-sdk-javascript#428), so these cases set it; see esdkKeyring.
  'mixed-order ctx': { Zulu: '1', alpha: '2', émigré: '3', _x: '4' },
} as const satisfies Record<string, EncryptionContext>;
type ContextName = keyof typeof CONTEXTS;

interface Case {
  readonly name: string;
  readonly suiteId: number;
  readonly frameLength: number;
  readonly length: number;
  readonly contextName: ContextName;
  /** The key that decrypts. */
  readonly key: KeyKind;
  /** The keys that the message is wrapped for, the first making the data key. */
  readonly writers: readonly KeyKind[];
}

function makeCase(
  suiteId: number,
  frameLength: number,
  length: number,
  contextName: ContextName,
  key: KeyKind,
  writers: readonly KeyKind[] = [key],
): Case {
  const keys = writers.length === 1 ? key : `${key} of ${writers.join('+')}`;
  const name = `0x${hex4(suiteId)} frame ${frameLength} length ${length} ${contextName} ${keys}`;
  return { name, suiteId, frameLength, length, contextName, key, writers };
}

function boundaryLengths(frame: number): number[] {
  return [...new Set([0, 1, frame - 1, frame, frame + 1, 3 * frame])];
}

const BOUNDARY_CASES = SUITE_IDS.flatMap((s) =>
  FRAME_LENGTHS.flatMap((f) => boundaryLengths(f).map((n) => makeCase(s, f, n, 'ctx', 'aes-256'))),
);
const NO_CONTEXT_CASES = SUITE_IDS.flatMap((s) =>
  FRAME_LENGTHS.flatMap((f) => [0, f + 1].map((n) => makeCase(s, f, n, 'no ctx', 'aes-256'))),
);
const LARGE_CASES = [0x0478, 0x0578, 0x0378].flatMap((s) =>
  [64 * 1024, MiB].map((f) => makeCase(s, f, LARGE, 'ctx', 'aes-256')),
);
const KEY_CASES = KEY_KINDS.flatMap((k) => [0x0014, 0x0346, 0x0578].map((s) => makeCase(s, 512, 1500, 'ctx', k)));
const SEVERAL: readonly KeyKind[] = ['aes-256', 'rsa-oaep-sha1', 'rsa-pkcs1'];
const SEVERAL_CASES = [0x0146, 0x0578].flatMap((s) => SEVERAL.map((k) => makeCase(s, 4096, 10_000, 'ctx', k, SEVERAL)));
const SORTING_CASES = [0x0178, 0x0578].flatMap((s) =>
  (['aes-128', 'rsa-oaep-sha256'] as const).map((k) => makeCase(s, 4096, 5000, 'mixed-order ctx', k)),
);

const MATRIX: readonly (readonly [string, readonly Case[]])[] = [
  ['boundaries', BOUNDARY_CASES],
  ['no context', NO_CONTEXT_CASES],
  ['large', LARGE_CASES],
  ['keys', KEY_CASES],
  ['several keys', SEVERAL_CASES],
  ['sorting', SORTING_CASES],
];

// Keys and plaintexts are deterministic (AES-CTR over zeros from a fixed seed), so a
// failure reproduces; only the RSA key pair, data keys and message ids are random.
function pseudoRandom(length: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

const NAMESPACE = 'interop-esdk';
const AES_KEYS: Record<'aes-128' | 'aes-192' | 'aes-256', Buffer> = {
  'aes-128': pseudoRandom(16, 'aes-128'),
  'aes-192': pseudoRandom(24, 'aes-192'),
  'aes-256': pseudoRandom(32, 'aes-256'),
};
const RSA = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

function rsaPadding(key: KeyKind): RsaPadding | undefined {
  return key.startsWith('rsa-') ? (key.slice('rsa-'.length) as RsaPadding) : undefined;
}

function envelopeKeyring(key: KeyKind): Keyring {
  const padding = rsaPadding(key);
  if (padding) return new RawRsaKeyring(NAMESPACE, key, RSA.privateKey, padding);
  return new RawAesKeyring(NAMESPACE, key, AES_KEYS[key as keyof typeof AES_KEYS]);
}

const AES_WRAPPING = {
  'aes-128': RawAesWrappingSuiteIdentifier.AES128_GCM_IV12_TAG16_NO_PADDING,
  'aes-192': RawAesWrappingSuiteIdentifier.AES192_GCM_IV12_TAG16_NO_PADDING,
  'aes-256': RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
};

function esdkKeyring(c: Case, key: KeyKind = c.key): KeyringNode {
  const padding = rsaPadding(key);
  if (padding) {
    return new RawRsaKeyringNode({
      keyNamespace: NAMESPACE,
      keyName: key,
      rsaKey: { privateKey: RSA.privateKey, publicKey: RSA.publicKey },
      ...(padding === 'pkcs1'
        ? { padding: constants.RSA_PKCS1_PADDING }
        : { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: padding === 'oaep-sha1' ? 'sha1' : 'sha256' }),
    });
  }
  const kind = key as keyof typeof AES_KEYS;
  return new RawAesKeyringNode({
    keyNamespace: NAMESPACE,
    keyName: key,
    // An isolated copy: the ESDK reads the key's whole ArrayBuffer.
    unencryptedMasterKey: new Uint8Array(AES_KEYS[kind]),
    wrappingSuite: AES_WRAPPING[kind],
    // The spec's order (UTF-8 bytes) where the ESDK's legacy default differs; see CONTEXTS.
    ...(c.contextName === 'mixed-order ctx' ? { utf8Sorting: true } : {}),
  });
}

const esdkStrict = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const esdkLegacyWriter = buildClient(CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT);
const esdkLegacyReader = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT);

function plaintextFor(c: Case): Buffer {
  return pseudoRandom(c.length, `plaintext ${c.length}`);
}

// Both sides stream: plaintext and ciphertext reach envelope in chunks that line up
// with neither frames nor the header.
const PLAINTEXT_CHUNK = 8191;
const CIPHERTEXT_CHUNK = 4093;

async function envelopeEncrypt(c: Case, plaintext: Buffer): Promise<Buffer> {
  const suite = suiteById(c.suiteId);
  return collect(
    encrypt(chunks(plaintext, PLAINTEXT_CHUNK), {
      keyrings: c.writers.map(envelopeKeyring),
      suite,
      context: CONTEXTS[c.contextName],
      frameLength: c.frameLength,
      commitmentPolicy: suite.committing ? 'require-encrypt-require-decrypt' : 'forbid-encrypt-allow-decrypt',
    }),
  );
}

async function envelopeDecrypt(c: Case, message: Buffer): Promise<{ plaintext: Buffer; header: MessageHeader }> {
  let header: MessageHeader | undefined;
  const plaintext = await collect(
    decrypt(chunks(message, CIPHERTEXT_CHUNK), {
      keyrings: [envelopeKeyring(c.key)],
      commitmentPolicy: suiteById(c.suiteId).committing ? 'require-encrypt-require-decrypt' : 'require-encrypt-allow-decrypt',
      onHeader: (h) => {
        header = h;
      },
    }),
  );
  if (!header) throw new Error('decrypt never reported the header');
  return { plaintext, header };
}

async function esdkEncrypt(c: Case, plaintext: Buffer): Promise<Buffer> {
  const client = suiteById(c.suiteId).committing ? esdkStrict : esdkLegacyWriter;
  const [generator, ...children] = c.writers.map((k) => esdkKeyring(c, k));
  const keyring = children.length === 0 ? generator! : new MultiKeyringNode({ generator, children });
  const { result } = await client.encrypt(keyring, plaintext, {
    suiteId: c.suiteId as AlgorithmSuiteIdentifier,
    encryptionContext: { ...CONTEXTS[c.contextName] },
    frameLength: c.frameLength,
  });
  return result;
}

interface EsdkView {
  readonly plaintext: Buffer;
  readonly context: Record<string, string>;
  readonly suiteId: number;
  readonly frameLength: number;
  readonly wrappedKeys: number;
}

async function esdkDecrypt(c: Case, message: Buffer): Promise<EsdkView> {
  if (c.key === 'rsa-pkcs1') return esdkDecryptInChild(c, message);
  const client = suiteById(c.suiteId).committing ? esdkStrict : esdkLegacyReader;
  const { plaintext, messageHeader } = await client.decrypt(esdkKeyring(c), message);
  return {
    plaintext,
    context: messageHeader.encryptionContext,
    suiteId: messageHeader.suiteId,
    frameLength: messageHeader.frameLength,
    wrappedKeys: messageHeader.encryptedDataKeys.length,
  };
}

const CHILD = join(REPO_ROOT, 'test', 'support', 'esdk-decrypt-child.mjs');

async function esdkDecryptInChild(c: Case, message: Buffer): Promise<EsdkView> {
  const dir = tempDir('envelope-interop-');
  try {
    const files = ['key.pem', 'message', 'plaintext', 'header.json'].map((f) => join(dir.path, f));
    const [keyFile, inFile, outFile, headerFile] = files as [string, string, string, string];
    writeFileSync(keyFile, RSA.privateKey, { mode: 0o600 });
    writeFileSync(inFile, message);
    const args = ['--security-revert=CVE-2023-46809', CHILD, NAMESPACE, c.key, rsaPadding(c.key)!, ...files];
    await new Promise<void>((resolve, reject) => {
      execFile(process.execPath, args, { encoding: 'utf8' }, (error, _stdout, stderr) =>
        error ? reject(new Error(`ESDK child failed: ${stderr.trim() || error.message}`)) : resolve(),
      );
    });
    const header = JSON.parse(readFileSync(headerFile, 'utf8')) as Omit<EsdkView, 'plaintext'>;
    return { ...header, plaintext: readFileSync(outFile) };
  } finally {
    dir.cleanup();
  }
}

function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.compare(actual, expected) === 0) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  expect.fail(`plaintext differs: ${actual.length} bytes, expected ${expected.length}; first difference at byte ${at}`);
}

/** The reader's context must be the writer's plus, exactly for signed suites, the public key. */
function expectContext(c: Case, seen: Readonly<Record<string, string>>): void {
  const { [PUBLIC_KEY_CONTEXT_KEY]: publicKey, ...user } = seen;
  expect(user).toEqual(CONTEXTS[c.contextName]);
  expect(publicKey !== undefined, 'aws-crypto-public-key present').toBe(suiteById(c.suiteId).signature !== undefined);
}

describe.each(MATRIX)('%s', (_, cases) => {
  // [name, case] rows: '%s' prints the whole name, where '$name' would truncate it.
  const rows = cases.map((c) => [c.name, c] as const);

  it.each(rows)('envelope → ESDK: %s', async (_name, c) => {
    const plaintext = plaintextFor(c);
    const seen = await esdkDecrypt(c, await envelopeEncrypt(c, plaintext));
    expectSameBytes(seen.plaintext, plaintext);
    expectContext(c, seen.context);
    expect(seen.suiteId).toBe(c.suiteId);
    expect(seen.frameLength).toBe(c.frameLength);
    expect(seen.wrappedKeys).toBe(c.writers.length);
  });

  it.each(rows)('ESDK → envelope: %s', async (_name, c) => {
    const plaintext = plaintextFor(c);
    const { plaintext: out, header } = await envelopeDecrypt(c, await esdkEncrypt(c, plaintext));
    expectSameBytes(out, plaintext);
    expectContext(c, header.context);
    expect(header.suite.id).toBe(c.suiteId);
    expect(header.frameLength).toBe(c.frameLength);
    expect(header.encryptedDataKeys).toHaveLength(c.writers.length);
  });
});

// The ESDK for JS at its defaults binds raw AES wrapped keys to the context in
// localeCompare order (aws-encryption-sdk-javascript#428); envelope reads those
// messages too, by trying that order after the spec's.
describe('ESDK for JS at its default (localeCompare) context order', () => {
  it('envelope decrypts a raw AES message whose context sorts differently by locale', async () => {
    const key = new Uint8Array(32).fill(9);
    const context = CONTEXTS['mixed-order ctx'];
    const esdkKeyringDefault = new RawAesKeyringNode({
      keyNamespace: NAMESPACE,
      keyName: 'locale',
      unencryptedMasterKey: new Uint8Array(key),
      wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
    });
    const plaintext = Buffer.from('sorted the other way');
    const { result } = await esdkStrict.encrypt(esdkKeyringDefault, plaintext, { encryptionContext: context });
    const ours = new RawAesKeyring(NAMESPACE, 'locale', Buffer.from(key));
    expect(await collect(decrypt(chunks(result), { keyrings: [ours] }))).toEqual(plaintext);
  });
});
