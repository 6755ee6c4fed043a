// envelope re-encrypt (DESIGN §5): new master keys for a message without
// touching its body. The data key is unwrapped once, wrapped under the new keys,
// the header re-authenticated and the body copied byte for byte; a signed
// message is re-signed once its old signature verifies. --new-data-key decrypts
// and encrypts everything instead.
//
//   core         reEncrypt / reEncryptWithNewDataKey in process, raw AES and RSA
//                keys, suites 0x0478, 0x0578, 0x0378, several frames with a
//                partial final frame, and an empty plaintext; the ESDK for
//                JavaScript reads every result (interop proof)
//   cli          the real bin/envelope against a local keystore of its own
//   memory       a 64 MiB message re-encrypts without being held in memory
//
// Body lengths are computed from the format (frame sizes), not with the walker
// re-encrypt itself uses, so "the body is copied byte for byte" is checked
// independently.

import { execFile, spawn } from 'node:child_process';
import { createCipheriv, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  buildClient,
  CommitmentPolicy as EsdkCommitmentPolicy,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommitmentPolicy } from '../src/core/commitment-policy.js';
import { decrypt } from '../src/core/decrypt.js';
import { encrypt } from '../src/core/encrypt.js';
import { DEFAULT_LIMITS } from '../src/core/limits.js';
import { reEncrypt, reEncryptWithNewDataKey, type ReEncryptOptions, rewrapHeader } from '../src/core/re-encrypt.js';
import { fitsInPlace, reEncryptFileByCopy } from '../src/cli/re-encrypt-file.js';
import { ByteReader } from '../src/stream/byte-reader.js';
import { EnvelopeError, IntegrityError, IoError, NoKeyError, UsageError } from '../src/errors.js';
import { ContentType, PUBLIC_KEY_CONTEXT_KEY } from '../src/format/constants.js';
import type { EncryptionContext } from '../src/format/encryption-context.js';
import {
  type DecodedHeader,
  decodeHeader,
  encodeHeaderAuth,
  encodeHeaderBody,
  HEADER_IV,
  type MessageHeader,
} from '../src/format/header.js';
import { headerTag } from '../src/format/header-auth.js';
import { deriveKeys } from '../src/format/kdf.js';
import { hex4, suiteById } from '../src/format/suites.js';
import type { Keyring } from '../src/keyring/keyring.js';
import { RawAesKeyring } from '../src/keyring/raw-aes.js';
import { RawRsaKeyring } from '../src/keyring/raw-rsa.js';
import { sealFrames } from '../src/stream/seal.js';
import { type CliResult, chunks, collect, ENVELOPE, runCli, tempDir } from './helpers.js';

// ---------------------------------------------------------------- fixtures

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));

function workdir(prefix = 'envelope-reencrypt-'): string {
  const dir = tempDir(prefix);
  cleanups.push(dir.cleanup);
  return dir.path;
}

/** Deterministic bytes (AES-CTR over zeros from a seed), so a failure reproduces. */
function pseudoRandom(length: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

const NS = 'reencrypt-test';
const OLD_AES = pseudoRandom(32, 'old key');
const NEW_AES = pseudoRandom(32, 'new key');
const OTHER_AES = pseudoRandom(32, 'other key');
const RSA = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

const oldKey = (): Keyring => new RawAesKeyring(NS, 'old', OLD_AES);
const newKey = (): Keyring => new RawAesKeyring(NS, 'new', NEW_AES);
const otherKey = (): Keyring => new RawAesKeyring('elsewhere', 'other', OTHER_AES);
const rsaKey = (): Keyring => new RawRsaKeyring(NS, 'rsa', RSA.privateKey, 'oaep-sha256');

/** Lowercase ASCII keys: UTF-8 byte order and the ESDK's localeCompare order agree. */
const CONTEXT: EncryptionContext = { app: 'billing', purpose: 're-encrypt test', tenant: 'ünïcødé ✓' };
const FRAME = 1024;
const FRAMED_LENGTH = 3 * FRAME + 300; // three full frames and a partial final frame
const PLAINTEXTS = {
  framed: pseudoRandom(FRAMED_LENGTH, 'plaintext'),
  empty: Buffer.alloc(0),
} as const;
type PlaintextName = keyof typeof PLAINTEXTS;

const SUITES = [0x0478, 0x0578, 0x0378] as const;

/** Encrypt and decrypt policies that admit the suite (a non-committing one needs the legacy policies). */
function policies(suiteId: number): { encrypt: CommitmentPolicy; decrypt: CommitmentPolicy } {
  return suiteById(suiteId).committing
    ? { encrypt: 'require-encrypt-require-decrypt', decrypt: 'require-encrypt-require-decrypt' }
    : { encrypt: 'forbid-encrypt-allow-decrypt', decrypt: 'require-encrypt-allow-decrypt' };
}

async function seal(
  suiteId: number,
  plaintext: Uint8Array,
  keyrings: readonly Keyring[] = [oldKey()],
  context: EncryptionContext = CONTEXT,
): Promise<Buffer> {
  return collect(
    encrypt(chunks(plaintext, 1000), {
      keyrings,
      suite: suiteById(suiteId),
      context,
      frameLength: FRAME,
      commitmentPolicy: policies(suiteId).encrypt,
    }),
  );
}

function header(message: Uint8Array): DecodedHeader {
  const decoded = decodeHeader(message, DEFAULT_LIMITS);
  if (!decoded) throw new Error('test bug: incomplete header');
  return decoded;
}

/** Body length from the format: full frames of 4 + 12 + F + 16, a final frame of 4 + 4 + 12 + 4 + r + 16. */
function framedBodyLength(plaintextLength: number, frameLength: number): number {
  const full = Math.floor(plaintextLength / frameLength);
  const rest = plaintextLength - full * frameLength;
  return full * (4 + 12 + frameLength + 16) + (4 + 4 + 12 + 4 + rest + 16);
}

interface Split {
  header: DecodedHeader;
  body: Buffer;
  footer: Buffer;
}

function split(message: Buffer, plaintextLength: number): Split {
  const h = header(message);
  const end = h.length + framedBodyLength(plaintextLength, h.header.frameLength);
  return { header: h, body: message.subarray(h.length, end), footer: message.subarray(end) };
}

function withoutPublicKey(context: EncryptionContext): EncryptionContext {
  const copy = { ...context };
  delete copy[PUBLIC_KEY_CONTEXT_KEY];
  return copy;
}

async function open(message: Uint8Array, keyrings: readonly Keyring[], policy: CommitmentPolicy): Promise<Buffer> {
  return collect(decrypt(chunks(message, 777), { keyrings, commitmentPolicy: policy }));
}

/** Runs a generator to its end or its error, keeping what it yielded before. */
async function drain(source: AsyncIterable<Uint8Array>): Promise<{ out: Buffer; error: unknown }> {
  const out: Buffer[] = [];
  try {
    for await (const piece of source) out.push(Buffer.from(piece));
    return { out: Buffer.concat(out), error: undefined };
  } catch (error) {
    return { out: Buffer.concat(out), error };
  }
}

function flipBit(bytes: Buffer, at: number, mask = 0x01): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ mask;
  return copy;
}

function esdkAesKeyring(name: string, key: Buffer): RawAesKeyringNode {
  return new RawAesKeyringNode({
    keyNamespace: NS,
    keyName: name,
    // An isolated copy: the ESDK reads the key's whole ArrayBuffer.
    unencryptedMasterKey: new Uint8Array(key),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
}
const esdkStrict = buildClient(EsdkCommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const esdkLegacyReader = buildClient(EsdkCommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT);

// ---------------------------------------------------------------- core

describe('reEncrypt (core)', () => {
  for (const suiteId of SUITES) {
    const suite = suiteById(suiteId);
    const policy = policies(suiteId).decrypt;
    const tag = `0x${hex4(suiteId)}`;

    for (const name of Object.keys(PLAINTEXTS) as PlaintextName[]) {
      const plaintext = PLAINTEXTS[name];

      it(`${tag} ${name}: opens with the new key only, to the same plaintext, context, message id, suite and frame length`, async () => {
        const original = await seal(suiteId, plaintext);
        const result = await collect(reEncrypt(chunks(original, 333), { from: [oldKey()], to: [newKey()], commitmentPolicy: policy }));

        expect(await open(result, [newKey()], policy)).toEqual(plaintext);
        await expect(open(result, [oldKey()], policy)).rejects.toBeInstanceOf(NoKeyError);

        const before = header(original).header;
        const after = header(result).header;
        expect(Buffer.from(after.messageId).equals(Buffer.from(before.messageId))).toBe(true);
        expect(after.suite.id).toBe(suiteId);
        expect(after.version).toBe(before.version);
        expect(after.frameLength).toBe(FRAME);
        expect(after.contentType).toBe(before.contentType);
        expect(withoutPublicKey(after.context)).toEqual(CONTEXT);
        expect(withoutPublicKey(after.context)).toEqual(withoutPublicKey(before.context));
        expect(after.encryptedDataKeys.map((k) => k.providerId)).toEqual([NS]);
        expect(newKey().claims(after.encryptedDataKeys[0]!)).toBe(true);
        expect(oldKey().claims(after.encryptedDataKeys[0]!)).toBe(false);
      });

      it(`${tag} ${name}: the body is copied byte for byte${suite.signature ? '; the footer and the signing key are new' : ', and nothing else follows the header'}`, async () => {
        const original = await seal(suiteId, plaintext);
        const result = await collect(reEncrypt(chunks(original, 4096), { from: [oldKey()], to: [newKey()], commitmentPolicy: policy }));
        const a = split(original, plaintext.length);
        const b = split(result, plaintext.length);
        expect(b.body.equals(a.body)).toBe(true);
        if (suite.signature) {
          expect(a.footer.length).toBeGreaterThan(2);
          expect(b.footer.length).toBeGreaterThan(2);
          expect(b.footer.equals(a.footer)).toBe(false);
          const oldPublic = a.header.header.context[PUBLIC_KEY_CONTEXT_KEY];
          const newPublic = b.header.header.context[PUBLIC_KEY_CONTEXT_KEY];
          expect(oldPublic).toBeTypeOf('string');
          expect(newPublic).toBeTypeOf('string');
          expect(newPublic).not.toBe(oldPublic);
        } else {
          expect(a.footer.length).toBe(0);
          expect(result.subarray(b.header.length).equals(original.subarray(a.header.length))).toBe(true);
          expect(PUBLIC_KEY_CONTEXT_KEY in b.header.header.context).toBe(false);
        }
      });

      it(`${tag} ${name}: the AWS Encryption SDK for JavaScript decrypts the result with the new key`, async () => {
        const original = await seal(suiteId, plaintext);
        const result = await collect(reEncrypt(chunks(original), { from: [oldKey()], to: [newKey()], commitmentPolicy: policy }));
        const client = suite.committing ? esdkStrict : esdkLegacyReader;
        const { plaintext: opened, messageHeader } = await client.decrypt(esdkAesKeyring('new', NEW_AES), result);
        expect(Buffer.from(opened).equals(plaintext)).toBe(true);
        expect(messageHeader.suiteId as number).toBe(suiteId);
        expect(Buffer.from(messageHeader.messageId).equals(Buffer.from(header(original).header.messageId))).toBe(true);
        for (const [k, v] of Object.entries(CONTEXT)) expect(messageHeader.encryptionContext[k]).toBe(v);
        await expect(client.decrypt(esdkAesKeyring('old', OLD_AES), result)).rejects.toThrow();
      });
    }

    it(`${tag}: with several --to keys, each one alone decrypts the result`, async () => {
      const plaintext = PLAINTEXTS.framed;
      const original = await seal(suiteId, plaintext);
      const result = await collect(
        reEncrypt(chunks(original, 500), { from: [oldKey()], to: [newKey(), rsaKey(), otherKey()], commitmentPolicy: policy }),
      );
      expect(header(result).header.encryptedDataKeys.map((k) => k.providerId)).toEqual([NS, NS, 'elsewhere']);
      for (const key of [newKey(), rsaKey(), otherKey()]) {
        expect(await open(result, [key], policy), key.description).toEqual(plaintext);
      }
      await expect(open(result, [oldKey()], policy)).rejects.toBeInstanceOf(NoKeyError);
    });
  }

  describe('refusals', () => {
    const MARK = 'flip-me-please';
    const markedContext: EncryptionContext = { ...CONTEXT, marker: MARK };
    const markAt = (message: Buffer) => {
      const at = message.indexOf(Buffer.from(MARK));
      expect(at).toBeGreaterThan(0);
      expect(at).toBeLessThan(header(message).length);
      return at;
    };

    for (const suiteId of SUITES) {
      const policy = policies(suiteId).decrypt;
      const tag = `0x${hex4(suiteId)}`;

      it(`${tag}: a bit flipped in the header's context is an IntegrityError with no output at all (RSA key: the wrapped key is not bound to the context)`, async () => {
        const original = await seal(suiteId, PLAINTEXTS.framed, [rsaKey()], markedContext);
        const tampered = flipBit(original, markAt(original));
        const { out, error } = await drain(reEncrypt(chunks(tampered, 100), { from: [rsaKey()], to: [newKey()], commitmentPolicy: policy }));
        expect(error).toBeInstanceOf(IntegrityError);
        expect(out.length).toBe(0);
      });

      it(`${tag}: a bit flipped in the header's message id is an IntegrityError with no output at all`, async () => {
        const original = await seal(suiteId, PLAINTEXTS.framed);
        const messageIdAt = suiteById(suiteId).messageVersion === 2 ? 3 : 4; // v2: version, suite (2); v1: version, type, suite (2)
        const tampered = flipBit(original, messageIdAt + 5);
        const { out, error } = await drain(reEncrypt(chunks(tampered), { from: [oldKey()], to: [newKey()], commitmentPolicy: policy }));
        expect(error).toBeInstanceOf(IntegrityError);
        expect(out.length).toBe(0);
      });

      it(`${tag}: a bit flipped in the context under a raw AES key (which binds the context) is refused with no output`, async () => {
        const original = await seal(suiteId, PLAINTEXTS.framed, [oldKey()], markedContext);
        const tampered = flipBit(original, markAt(original));
        const { out, error } = await drain(reEncrypt(chunks(tampered), { from: [oldKey()], to: [newKey()], commitmentPolicy: policy }));
        expect(error).toBeInstanceOf(NoKeyError);
        expect(out.length).toBe(0);
      });

      it(`${tag}: a truncated message is an IntegrityError wherever it is cut`, async () => {
        const original = await seal(suiteId, PLAINTEXTS.framed);
        const parts = split(original, PLAINTEXTS.framed.length);
        const cuts = [
          20, // inside the header
          parts.header.length - 1, // inside the header authentication
          parts.header.length, // no body at all
          parts.header.length + 100, // inside the first frame
          parts.header.length + parts.body.length - 1, // inside the final frame's tag
          ...(parts.footer.length ? [parts.header.length + parts.body.length, original.length - 1] : []), // no footer, half a signature
        ];
        for (const cut of cuts) {
          const { error } = await drain(reEncrypt(chunks(original.subarray(0, cut), 256), { from: [oldKey()], to: [newKey()], commitmentPolicy: policy }));
          expect(error, `cut at ${cut} of ${original.length}`).toBeInstanceOf(IntegrityError);
        }
      });

      it(`${tag}: trailing data after the message is an IntegrityError`, async () => {
        const original = await seal(suiteId, PLAINTEXTS.framed);
        for (const extra of [Buffer.from([0]), randomBytes(1000)]) {
          const { out, error } = await drain(
            reEncrypt(chunks(Buffer.concat([original, extra]), 512), { from: [oldKey()], to: [newKey()], commitmentPolicy: policy }),
          );
          expect(error, `${extra.length} extra bytes`).toBeInstanceOf(IntegrityError);
          // Whatever was yielded before the refusal is not a complete message with a new footer.
          if (suiteById(suiteId).signature) expect(out.length).toBeLessThan(original.length);
        }
      });

      it(`${tag}: a --from key that cannot unwrap the data key is a NoKeyError before any output`, async () => {
        const original = await seal(suiteId, PLAINTEXTS.framed);
        const { out, error } = await drain(reEncrypt(chunks(original), { from: [otherKey()], to: [newKey()], commitmentPolicy: policy }));
        expect(error).toBeInstanceOf(NoKeyError);
        expect(out.length).toBe(0);
        const wrongMaterial = new RawAesKeyring(NS, 'old', OTHER_AES); // same name, other key
        const again = await drain(reEncrypt(chunks(original), { from: [wrongMaterial], to: [newKey()], commitmentPolicy: policy }));
        expect(again.error).toBeInstanceOf(NoKeyError);
        expect(again.out.length).toBe(0);
      });

      it(`${tag}: to: [] is a UsageError`, async () => {
        const original = await seal(suiteId, PLAINTEXTS.framed);
        const { out, error } = await drain(reEncrypt(chunks(original), { from: [oldKey()], to: [], commitmentPolicy: policy }));
        expect(error).toBeInstanceOf(UsageError);
        expect(out.length).toBe(0);
        const other = await drain(reEncryptWithNewDataKey(chunks(original), { from: [oldKey()], to: [], commitmentPolicy: policy }));
        expect(other.error).toBeInstanceOf(UsageError);
      });
    }

    for (const suiteId of [0x0578, 0x0378] as const) {
      const policy = policies(suiteId).decrypt;
      it(`0x${hex4(suiteId)}: a tampered signature is an IntegrityError, thrown before the new footer is yielded`, async () => {
        const original = await seal(suiteId, PLAINTEXTS.framed);
        const parts = split(original, PLAINTEXTS.framed.length);
        // The footer is a 2-byte length and a DER signature: flip a byte inside r, and the last byte of s.
        const footerAt = parts.header.length + parts.body.length;
        for (const at of [footerAt + 2 + 10, original.length - 1]) {
          const tampered = flipBit(original, at, 0x10);
          const { out, error } = await drain(reEncrypt(chunks(tampered, 1000), { from: [oldKey()], to: [newKey()], commitmentPolicy: policy }));
          expect(error, `byte ${at} flipped`).toBeInstanceOf(IntegrityError);
          // The new header and the whole body may have come out; the footer never does.
          const newHeader = header(out);
          expect(out.length).toBe(newHeader.length + parts.body.length);
          expect(out.subarray(newHeader.length).equals(parts.body)).toBe(true);
        }
      });
    }

    it('0x0478: an unsigned message carrying aws-crypto-public-key in its context is refused, as decrypt refuses it', async () => {
      // Hand-built (encrypt refuses the reserved key): a well-formed, authenticated message otherwise.
      const suite = suiteById(0x0478);
      const dataKey = randomBytes(suite.keyLength);
      const messageId = randomBytes(32);
      const context: EncryptionContext = { ...CONTEXT, [PUBLIC_KEY_CONTEXT_KEY]: 'AzJ5ZW5vdCBhIHJlYWwga2V5' };
      const derived = deriveKeys(suite, dataKey, messageId);
      const h: MessageHeader = {
        version: suite.messageVersion,
        suite,
        messageId,
        context,
        encryptedDataKeys: [await oldKey().wrap(dataKey, { suite, context })],
        contentType: ContentType.Framed,
        frameLength: FRAME,
        ...(derived.commitment ? { commitment: derived.commitment } : {}),
      };
      const body = encodeHeaderBody(h);
      const auth = encodeHeaderAuth(h.version, headerTag(suite, derived.encryptionKey, HEADER_IV, body, new Uint8Array(0)));
      const frames = await collect(
        sealFrames(chunks(PLAINTEXTS.framed), { suite, key: derived.encryptionKey, messageId, frameLength: FRAME }),
      );
      const message = Buffer.concat([body, auth, frames]);
      await expect(open(message, [oldKey()], 'require-encrypt-require-decrypt')).rejects.toBeInstanceOf(IntegrityError);
      const { out, error } = await drain(reEncrypt(chunks(message), { from: [oldKey()], to: [newKey()] }));
      expect(error).toBeInstanceOf(IntegrityError);
      expect(out.length).toBe(0);
    });

    it('a message that is not a message is refused before any output', async () => {
      const { out, error } = await drain(reEncrypt(chunks(Buffer.from('hello, world\n')), { from: [oldKey()], to: [newKey()] }));
      expect(error).toBeInstanceOf(EnvelopeError);
      expect(out.length).toBe(0);
    });

    it('a non-committing message is refused under the default commitment policy', async () => {
      const original = await seal(0x0378, PLAINTEXTS.framed);
      const { out, error } = await drain(reEncrypt(chunks(original), { from: [oldKey()], to: [newKey()] }));
      expect(error).toBeInstanceOf(EnvelopeError);
      expect(out.length).toBe(0);
    });
  });

  describe('reEncryptWithNewDataKey', () => {
    const CASES = [
      [0x0478, 0x0478],
      [0x0578, 0x0578],
      [0x0378, 0x0578],
      [0x0178, 0x0478],
    ] as const;
    for (const [from, to] of CASES) {
      const policy = policies(from).decrypt;
      for (const name of Object.keys(PLAINTEXTS) as PlaintextName[]) {
        const plaintext = PLAINTEXTS[name];
        it(`0x${hex4(from)} ${name} comes out as 0x${hex4(to)} under a new message id, same context and frame length`, async () => {
          const original = await seal(from, plaintext);
          const options: ReEncryptOptions = { from: [oldKey()], to: [newKey()], commitmentPolicy: policy };
          const result = await collect(reEncryptWithNewDataKey(chunks(original, 999), options));
          const before = header(original).header;
          const after = header(result).header;
          expect(after.suite.id).toBe(to);
          expect(Buffer.from(after.messageId).equals(Buffer.from(before.messageId))).toBe(false);
          expect(after.frameLength).toBe(FRAME);
          expect(withoutPublicKey(after.context)).toEqual(CONTEXT);
          if (suiteById(to).signature) expect(after.context[PUBLIC_KEY_CONTEXT_KEY]).not.toBe(before.context[PUBLIC_KEY_CONTEXT_KEY]);
          else expect(PUBLIC_KEY_CONTEXT_KEY in after.context).toBe(false);
          // A committing result opens under the strictest policy.
          expect(await open(result, [newKey()], 'require-encrypt-require-decrypt')).toEqual(plaintext);
          await expect(open(result, [oldKey()], 'require-encrypt-require-decrypt')).rejects.toBeInstanceOf(NoKeyError);
          const { plaintext: viaEsdk } = await esdkStrict.decrypt(esdkAesKeyring('new', NEW_AES), result);
          expect(Buffer.from(viaEsdk).equals(plaintext)).toBe(true);
        });
      }
    }

    it('a wrong --from key is a NoKeyError before any output', async () => {
      const original = await seal(0x0478, PLAINTEXTS.framed);
      const { out, error } = await drain(reEncryptWithNewDataKey(chunks(original), { from: [otherKey()], to: [newKey()] }));
      expect(error).toBeInstanceOf(NoKeyError);
      expect(out.length).toBe(0);
    });
  });
});

// ---------------------------------------------------------------- cli

/** Nothing leaks in from the developer's shell: no passphrase (an unprotected keystore), no default keystore. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  ENVELOPE_PASSPHRASE: undefined,
  ENVELOPE_NEW_PASSPHRASE: undefined,
  ENVELOPE_KEYSTORE: undefined,
  XDG_DATA_HOME: workdir('envelope-reencrypt-xdg-'),
};

/** The environment runCli gives bin/envelope, for children spawned directly. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: '1', ...CLEAN_ENV })) if (v !== undefined) env[k] = v;
  return env;
}

function describeRun(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}, stderr: ${r.stderr}`;
}

/** A work directory with a keystore of its own holding alias/old and alias/new. */
interface World {
  readonly dir: string;
  readonly keystore: string;
  readonly oldId: string;
  readonly newId: string;
  run(args: readonly string[], stdin?: Uint8Array | string): Promise<CliResult>;
  ok(args: readonly string[], stdin?: Uint8Array | string): Promise<CliResult>;
  path(name: string): string;
  read(name: string): Buffer;
  write(name: string, bytes: Uint8Array | string): void;
  /** The key names `inspect --json` lists for a message file. */
  keyNames(name: string): Promise<{ providerId: string; keyName: string }[]>;
  messageId(name: string): Promise<string>;
  /** Decrypts with whatever local key fits (and optional extra -k keys). */
  plaintext(name: string, keys?: readonly string[]): Promise<Buffer>;
}

async function newWorld(): Promise<World> {
  const dir = workdir();
  const keystore = join(dir, 'keystore');
  const run = (args: readonly string[], stdin?: Uint8Array | string) =>
    runCli(['--keystore', keystore, ...args], { cwd: dir, env: CLEAN_ENV, ...(stdin !== undefined ? { stdin } : {}) });
  const ok = async (args: readonly string[], stdin?: Uint8Array | string) => {
    const r = await run(args, stdin);
    expect(r.code, `envelope ${args.join(' ')}: ${describeRun(r)}`).toBe(0);
    return r;
  };
  const oldId = (await ok(['keygen', 'old'])).stdout.toString().trim();
  const newId = (await ok(['keygen', 'new'])).stdout.toString().trim();
  expect(oldId).toMatch(/^[0-9a-f-]{36}$/);
  expect(newId).toMatch(/^[0-9a-f-]{36}$/);
  const world: World = {
    dir,
    keystore,
    oldId,
    newId,
    run,
    ok,
    path: (name) => join(dir, name),
    read: (name) => readFileSync(join(dir, name)),
    write: (name, bytes) => writeFileSync(join(dir, name), bytes),
    async keyNames(name) {
      const r = await ok(['inspect', name, '--json']);
      return (JSON.parse(r.stdout.toString()) as { encryptedDataKeys: { providerId: string; keyName: string }[] }).encryptedDataKeys;
    },
    async messageId(name) {
      const r = await ok(['inspect', name, '--json']);
      return (JSON.parse(r.stdout.toString()) as { messageId: string }).messageId;
    },
    async plaintext(name, keys = []) {
      return (await ok(['decrypt', name, ...keys.flatMap((k) => ['-k', k]), '-o', '-'])).stdout;
    },
  };
  return world;
}

const LOCAL = 'envelope-local';
const PLAIN_A = pseudoRandom(200_000, 'cli a'); // several 64 KiB frames and a partial one
const PLAIN_B = Buffer.from('a short secret\n');

/** Files in the directory other than the keystore: no temporaries left behind. */
function listing(w: World): string[] {
  return readdirSync(w.dir)
    .filter((n) => n !== 'keystore')
    .sort();
}

describe('envelope re-encrypt (cli)', () => {
  let w: World;
  beforeAll(async () => {
    w = await newWorld();
    w.write('a.txt', PLAIN_A);
    w.write('b.txt', PLAIN_B);
  });

  async function encryptUnderOld(input: string, output: string, extra: readonly string[] = []): Promise<void> {
    await w.ok(['encrypt', input, '-k', 'alias/old', '-o', output, ...extra]);
  }

  it('--in-place on two files: both name the new key, decrypt with old disabled, and no temporary files remain', async () => {
    const v = await newWorld();
    v.write('a.txt', PLAIN_A);
    v.write('b.txt', PLAIN_B);
    await v.ok(['encrypt', 'a.txt', '-k', 'alias/old', '-o', 'a.enc']);
    await v.ok(['encrypt', 'b.txt', '-k', 'old', '-o', 'b.enc', '--sign']);
    expect((await v.keyNames('a.enc')).map((k) => k.keyName)).toEqual([`${v.oldId}/1`]);
    const ids = [await v.messageId('a.enc'), await v.messageId('b.enc')];

    const r = await v.ok(['re-encrypt', 'a.enc', 'b.enc', '--to', 'new', '--in-place']);
    expect(r.stdout.length).toBe(0);
    for (const name of ['a.enc', 'b.enc']) {
      expect(await v.keyNames(name)).toEqual([{ providerId: LOCAL, keyName: `${v.newId}/1` }]);
    }
    expect([await v.messageId('a.enc'), await v.messageId('b.enc')]).toEqual(ids);
    await v.ok(['keys', 'disable', 'old']);
    const refused = await v.run(['encrypt', 'b.txt', '-k', 'alias/old', '-o', '-']);
    expect(refused.code, `old is disabled: ${describeRun(refused)}`).toBe(7);
    expect((await v.plaintext('a.enc')).equals(PLAIN_A)).toBe(true);
    expect((await v.plaintext('b.enc')).equals(PLAIN_B)).toBe(true);
    expect(listing(v)).toEqual(['a.enc', 'a.txt', 'b.enc', 'b.txt']);
  });

  it('-o FILE writes a new file and leaves the input as it was', async () => {
    await encryptUnderOld('a.txt', 'x.enc');
    const before = w.read('x.enc');
    await w.ok(['re-encrypt', 'x.enc', '--to', 'new', '-o', 'y.enc']);
    expect(w.read('x.enc').equals(before)).toBe(true);
    expect(await w.keyNames('y.enc')).toEqual([{ providerId: LOCAL, keyName: `${w.newId}/1` }]);
    expect((await w.plaintext('y.enc')).equals(PLAIN_A)).toBe(true);
    // Same body, same length: only the wrapped key changed.
    expect(w.read('y.enc').length).toBe(before.length);
    expect(w.read('y.enc').subarray(header(w.read('y.enc')).length).equals(before.subarray(header(before).length))).toBe(true);
    // An existing output is not overwritten without --force.
    const exists = await w.run(['re-encrypt', 'x.enc', '--to', 'new', '-o', 'y.enc']);
    expect(exists.code, describeRun(exists)).toBe(3);
    await w.ok(['re-encrypt', 'x.enc', '--to', 'new', '-o', 'y.enc', '--force']);
    expect(listing(w).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('-o - writes the message to stdout, and stdin goes to stdout', async () => {
    await encryptUnderOld('b.txt', 'std.enc');
    const message = w.read('std.enc');
    const viaFile = await w.ok(['re-encrypt', 'std.enc', '--to', 'new', '-o', '-']);
    const viaStdin = await w.ok(['re-encrypt', '--to', 'new'], message);
    const viaDashO = await w.ok(['re-encrypt', '--to', 'new', '-o', '-'], message);
    for (const r of [viaFile, viaStdin, viaDashO]) {
      expect(r.stdout.length).toBe(message.length);
      expect(header(r.stdout).header.encryptedDataKeys.length).toBe(1);
      const opened = await w.ok(['decrypt', '-k', 'alias/new', '-o', '-'], r.stdout);
      expect(opened.stdout.equals(PLAIN_B)).toBe(true);
    }
  });

  it('FILE "-" is stdin, and without -o the result goes to stdout (DESIGN §5: no -o with stdin means stdout)', async () => {
    await encryptUnderOld('b.txt', 'dash.enc');
    const message = w.read('dash.enc');
    const r = await w.ok(['re-encrypt', '-', '--to', 'new'], message);
    expect(r.stdout.length).toBe(message.length);
    const opened = await w.ok(['decrypt', '-k', 'alias/new', '-o', '-'], r.stdout);
    expect(opened.stdout.equals(PLAIN_B)).toBe(true);
  });

  it('usage errors exit 2 and write nothing', async () => {
    await encryptUnderOld('b.txt', 'u1.enc');
    await encryptUnderOld('b.txt', 'u2.enc');
    const snapshot = listing(w);
    const cases: [string, string[]][] = [
      ['no --to', ['re-encrypt', 'u1.enc', '-o', 'out.enc']],
      ['several files without --in-place', ['re-encrypt', 'u1.enc', 'u2.enc', '--to', 'new']],
      ['several files with -o', ['re-encrypt', 'u1.enc', 'u2.enc', '--to', 'new', '-o', 'out.enc']],
      ['one file without -o or --in-place', ['re-encrypt', 'u1.enc', '--to', 'new']],
      ['--in-place with -o', ['re-encrypt', 'u1.enc', '--to', 'new', '--in-place', '-o', 'out.enc']],
      ['--in-place without files', ['re-encrypt', '--to', 'new', '--in-place']],
      ['output is the input', ['re-encrypt', 'u1.enc', '--to', 'new', '-o', 'u1.enc', '--force']],
    ];
    for (const [what, args] of cases) {
      const r = await w.run(args, w.read('u1.enc'));
      expect(r.code, `${what}: ${describeRun(r)}`).toBe(2);
      expect(r.stdout.length, what).toBe(0);
      expect(r.stderr, what).toMatch(/error/);
    }
    expect(listing(w)).toEqual(snapshot);
  });

  it('--from raw-aes:… re-encrypts a raw-key message to a local key', async () => {
    w.write('raw.key', OLD_AES);
    const rawKey = `raw-aes:file=raw.key,namespace=${NS},name=old`;
    await w.ok(['encrypt', 'b.txt', '-k', rawKey, '-o', 'raw.enc']);
    // Without --from there is no key for it.
    const none = await w.run(['re-encrypt', 'raw.enc', '--to', 'alias/new', '-o', 'raw2.enc']);
    expect(none.code, describeRun(none)).toBe(6);
    await w.ok(['re-encrypt', 'raw.enc', '--from', rawKey, '--to', 'alias/new', '-o', 'raw2.enc']);
    expect(await w.keyNames('raw2.enc')).toEqual([{ providerId: LOCAL, keyName: `${w.newId}/1` }]);
    expect((await w.plaintext('raw2.enc')).equals(PLAIN_B)).toBe(true);
    // In process too: the old raw key no longer opens it.
    await expect(open(w.read('raw2.enc'), [oldKey()], 'require-encrypt-require-decrypt')).rejects.toBeInstanceOf(NoKeyError);
  });

  it('--in-place on several files that no key opens: exit 6 (the first failure\'s), not an internal error, files untouched', async () => {
    w.write('raw.key', OLD_AES);
    const rawKey = `raw-aes:file=raw.key,namespace=${NS},name=old`;
    await w.ok(['encrypt', 'b.txt', '-k', rawKey, '-o', 'nokey1.enc']);
    await w.ok(['encrypt', 'b.txt', '-k', rawKey, '-o', 'nokey2.enc']);
    const before = [w.read('nokey1.enc'), w.read('nokey2.enc')];
    const r = await w.run(['re-encrypt', 'nokey1.enc', 'nokey2.enc', '--to', 'alias/new', '--in-place']);
    expect(r.code, describeRun(r)).toBe(6);
    expect(r.stderr).toMatch(/^envelope: error: 2 of 2 files were not re-encrypted$/m);
    expect([w.read('nokey1.enc'), w.read('nokey2.enc')]).toEqual(before);
  });

  it('a local-key message re-encrypts to a raw RSA public key and decrypts with the private key', async () => {
    w.write('team.pub.pem', RSA.publicKey);
    w.write('team.pem', RSA.privateKey);
    await encryptUnderOld('a.txt', 'rsa-src.enc');
    await w.ok(['re-encrypt', 'rsa-src.enc', '--to', 'raw-rsa:file=team.pub.pem,namespace=team,name=ops', '-o', 'rsa.enc']);
    const names = await w.keyNames('rsa.enc');
    expect(names.map((k) => k.providerId)).toEqual(['team']);
    const opened = await w.ok(['decrypt', 'rsa.enc', '-k', 'raw-rsa:file=team.pem,namespace=team,name=ops', '-o', '-']);
    expect(opened.stdout.equals(PLAIN_A)).toBe(true);
    // And in process with the same key pair.
    const inProcess = await open(w.read('rsa.enc'), [new RawRsaKeyring('team', 'ops', RSA.privateKey, 'oaep-sha256')], 'require-encrypt-require-decrypt');
    expect(inProcess.equals(PLAIN_A)).toBe(true);
  });

  it('--in-place keeps an armored message base64 text and a binary message binary', async () => {
    await encryptUnderOld('b.txt', 'armored.enc', ['--armor']);
    await encryptUnderOld('b.txt', 'binary.enc');
    const armoredBefore = w.read('armored.enc').toString('latin1');
    expect(armoredBefore).toMatch(/^[A-Za-z0-9+/=\n]+$/);
    await w.ok(['re-encrypt', 'armored.enc', 'binary.enc', '--to', 'new', '--in-place']);
    const armored = w.read('armored.enc').toString('latin1');
    expect(armored).toMatch(/^A[A-Za-z0-9+/=\n]+\n$/);
    expect(armored.split('\n').every((line) => line.length <= 76)).toBe(true);
    expect(armored).not.toBe(armoredBefore);
    const binary = w.read('binary.enc');
    expect(binary[0]).toBe(0x02);
    for (const name of ['armored.enc', 'binary.enc']) {
      expect(await w.keyNames(name)).toEqual([{ providerId: LOCAL, keyName: `${w.newId}/1` }]);
      expect((await w.plaintext(name)).equals(PLAIN_B)).toBe(true);
    }
    // A base64 message on stdin comes out binary (no --in-place).
    const out = await w.ok(['re-encrypt', '--to', 'new'], w.read('armored.enc'));
    expect(out.stdout[0]).toBe(0x02);
  });

  it('--in-place with failing files: the good ones are re-encrypted, the bad ones untouched, the first failure sets the exit code, a stderr line each', async () => {
    await encryptUnderOld('a.txt', 'good1.enc');
    await encryptUnderOld('b.txt', 'good2.enc');
    await encryptUnderOld('b.txt', 'cut.enc');
    w.write('notes.enc', 'just some text, not a message\n');
    const cut = w.read('cut.enc').subarray(0, w.read('cut.enc').length - 7);
    w.write('cut.enc', cut);
    const notes = w.read('notes.enc');

    const r = await w.run(['re-encrypt', 'good1.enc', 'notes.enc', 'good2.enc', 'cut.enc', '--to', 'new', '--in-place']);
    expect(r.code, describeRun(r)).toBe(4); // not a message, the first failure; the cut one is 5
    expect(r.stdout.length).toBe(0);
    const lines = r.stderr.split('\n');
    expect(lines.filter((l) => l.startsWith('envelope: notes.enc: ')).length, r.stderr).toBe(1);
    expect(lines.filter((l) => l.startsWith('envelope: cut.enc: ')).length, r.stderr).toBe(1);
    expect(lines.some((l) => l.includes('good1.enc') || l.includes('good2.enc')), r.stderr).toBe(false);
    expect(r.stderr).toMatch(/2 of 4 files were not re-encrypted/);

    expect(w.read('notes.enc').equals(notes)).toBe(true);
    expect(w.read('cut.enc').equals(cut)).toBe(true);
    for (const [name, plain] of [['good1.enc', PLAIN_A], ['good2.enc', PLAIN_B]] as const) {
      expect(await w.keyNames(name)).toEqual([{ providerId: LOCAL, keyName: `${w.newId}/1` }]);
      expect((await w.plaintext(name)).equals(plain)).toBe(true);
    }
    expect(listing(w).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a failed re-encrypt leaves the original untouched: a wrong --from and no local key (exit 6), a message cut short mid-body (exit 5)', async () => {
    w.write('right.key', OLD_AES);
    w.write('wrong.key', OTHER_AES);
    await w.ok(['encrypt', 'a.txt', '-k', `raw-aes:file=right.key,namespace=${NS},name=old`, '-o', 'keep.enc']);
    const before = w.read('keep.enc');
    const snapshot = listing(w);
    const wrong = await w.run(['re-encrypt', 'keep.enc', '--from', `raw-aes:file=wrong.key,namespace=${NS},name=old`, '--to', 'new', '--in-place']);
    expect(wrong.code, describeRun(wrong)).toBe(6);
    expect(w.read('keep.enc').equals(before)).toBe(true);
    const toFile = await w.run(['re-encrypt', 'keep.enc', '--from', `raw-aes:file=wrong.key,namespace=${NS},name=old`, '--to', 'new', '-o', 'never.enc']);
    expect(toFile.code, describeRun(toFile)).toBe(6);
    expect(listing(w)).toEqual(snapshot);

    // Cut inside the last frame: the header and most of the body stream out before the failure.
    await encryptUnderOld('a.txt', 'short.enc');
    const short = w.read('short.enc').subarray(0, w.read('short.enc').length - 20);
    w.write('short.enc', short);
    const snapshot2 = listing(w);
    const truncated = await w.run(['re-encrypt', 'short.enc', '--to', 'new', '--in-place']);
    expect(truncated.code, describeRun(truncated)).toBe(5);
    expect(w.read('short.enc').equals(short)).toBe(true);
    const truncatedToFile = await w.run(['re-encrypt', 'short.enc', '--to', 'new', '-o', 'never.enc']);
    expect(truncatedToFile.code, describeRun(truncatedToFile)).toBe(5);
    expect(listing(w)).toEqual(snapshot2);
  });

  describe('a file into a file, the new header as long as the old: copied by the file system, the header replaced in the copy', () => {
    // src/cli/re-encrypt-file.ts. Two local keys wrap to headers of one length;
    // stdin to stdout (-o -) streams the same message through this process.
    const FRAME_BYTES = 4 + 12 + 4096 + 16;

    it('checks the copy as the streamed path checks what it reads: the same exit code and error, and nothing left behind', async () => {
      await w.ok(['encrypt', 'a.txt', '-k', 'alias/old', '-o', 'frames.enc', '--frame-size', '4K']);
      const good = w.read('frames.enc');
      const at = header(good).length;
      const frame = (n: number) => good.subarray(at + (n - 1) * FRAME_BYTES, at + n * FRAME_BYTES);
      const swapped = Buffer.concat([good.subarray(0, at), frame(2), frame(1), good.subarray(at + 2 * FRAME_BYTES)]);
      const cases: [string, Buffer, RegExp][] = [
        ['cut inside a frame', good.subarray(0, at + 3 * FRAME_BYTES + 100), /truncated \(it ends inside the frame 4\)/],
        ['cut at a frame boundary', good.subarray(0, at + 3 * FRAME_BYTES), /truncated \(it ends inside the frame header\)/],
        ['a byte after the end', Buffer.concat([good, Buffer.from('x')]), /unexpected data after the end of the message/],
        ['frames 1 and 2 swapped', swapped, /frame 2 found where frame 1 belongs/],
      ];
      for (const [name, bytes, error] of cases) {
        w.write('bad.enc', bytes);
        const snapshot = listing(w);
        const copied = await w.run(['re-encrypt', 'bad.enc', '--to', 'new', '-o', 'bad.out']);
        const streamed = await w.run(['re-encrypt', '--to', 'new', '-o', '-'], bytes);
        expect(copied.code, `${name}: ${describeRun(copied)}`).toBe(5);
        expect(copied.stderr, name).toMatch(error);
        expect(copied.stderr, name).toBe(streamed.stderr);
        expect(streamed.code, name).toBe(5);
        expect(listing(w), name).toEqual(snapshot);
      }
      // The intact message: the body copied byte for byte, the new key's header in place of the old.
      const copied = await w.ok(['-v', 're-encrypt', 'frames.enc', '--to', 'new', '-o', 'frames.out']);
      expect(copied.stderr).toMatch(/frames\.enc: copied by the file system/);
      const streamed = await w.ok(['-v', 're-encrypt', '--to', 'new', '-o', 'frames.streamed'], good);
      expect(streamed.stderr).not.toMatch(/copied by the file system/);
      const out = w.read('frames.out');
      expect(header(out).length).toBe(at);
      expect(out.subarray(at).equals(good.subarray(at))).toBe(true);
      expect(await w.keyNames('frames.out')).toEqual([{ providerId: LOCAL, keyName: `${w.newId}/1` }]);
      expect((await w.plaintext('frames.out')).equals(PLAIN_A)).toBe(true);
    });

    it('gives the copy the mode a written output gets (0644 less the umask), not the input\'s', async () => {
      await encryptUnderOld('a.txt', 'private.enc');
      chmodSync(w.path('private.enc'), 0o600);
      const modeOf = async (args: readonly string[], output: string, umask000: boolean, stdin?: Buffer) => {
        const r = await runCli(['--keystore', w.keystore, 're-encrypt', ...args, '--to', 'new', '-o', output, '--force'], {
          cwd: w.dir,
          env: CLEAN_ENV,
          umask000,
          ...(stdin ? { stdin } : {}),
        });
        expect(r.code, describeRun(r)).toBe(0);
        return statSync(w.path(output)).mode & 0o7777;
      };
      expect(await modeOf(['private.enc'], 'mode.out', true)).toBe(0o644);
      // Under the tests' own umask: what the streamed path (stdin to a file) gives.
      expect(await modeOf(['private.enc'], 'mode.out', false)).toBe(await modeOf([], 'streamed.out', false, w.read('private.enc')));
    });

    it('a copy that does not begin with the header read (the input changed meanwhile) is an I/O error, and nothing is left', async () => {
      const dir = workdir();
      const one = await collect(encrypt(chunks(PLAINTEXTS.framed), { keyrings: [oldKey()], suite: suiteById(0x0478), context: CONTEXT, frameLength: FRAME }));
      const other = await collect(encrypt(chunks(PLAINTEXTS.framed), { keyrings: [oldKey()], suite: suiteById(0x0478), context: CONTEXT, frameLength: FRAME }));
      writeFileSync(join(dir, 'in.enc'), other);
      const rewrapped = await rewrapHeader(new ByteReader(chunks(one)), { from: [oldKey()], to: [newKey()] });
      expect(fitsInPlace(rewrapped)).toBe(true);
      await expect(reEncryptFileByCopy(join(dir, 'in.enc'), join(dir, 'out.enc'), rewrapped, { force: false, mode: 0o644 })).rejects.toThrow(
        new IoError(`${join(dir, 'in.enc')} changed while it was being re-encrypted`, { hints: ['run it again'] }),
      );
      expect(readdirSync(dir)).toEqual(['in.enc']);
    });
  });

  it('interrupted (SIGINT) mid-stream: ended by SIGINT, the existing output untouched, no temporary file left', async () => {
    await encryptUnderOld('a.txt', 'int.enc');
    await encryptUnderOld('b.txt', 'int-out.enc');
    const message = w.read('int.enc');
    const existing = w.read('int-out.enc');
    const child = spawn(process.execPath, [ENVELOPE, '--keystore', w.keystore, 're-encrypt', '--to', 'new', '-o', 'int-out.enc', '--force'], {
      cwd: w.dir,
      env: childEnv(),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    // Half the message, and the pipe stays open: re-encrypt has started its temporary file and waits for more.
    child.stdin.write(message.subarray(0, message.length >> 1));
    const deadline = Date.now() + 10_000;
    while (!listing(w).some((n) => n.startsWith('.int-out.enc.') && n.endsWith('.tmp')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(listing(w).some((n) => n.endsWith('.tmp')), 'the temporary file appeared').toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe('SIGINT');
    expect(w.read('int-out.enc').equals(existing)).toBe(true);
    expect(listing(w).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('--new-data-key: a new message id, decrypts with the new key', async () => {
    await encryptUnderOld('a.txt', 'ndk.enc', ['-c', 'app=web']);
    const before = await w.messageId('ndk.enc');
    await w.ok(['re-encrypt', 'ndk.enc', '--to', 'new', '--new-data-key', '-o', 'ndk2.enc']);
    expect(await w.messageId('ndk2.enc')).not.toBe(before);
    expect(await w.keyNames('ndk2.enc')).toEqual([{ providerId: LOCAL, keyName: `${w.newId}/1` }]);
    const opened = await w.ok(['decrypt', 'ndk2.enc', '-k', 'alias/new', '-c', 'app=web', '-o', '-']);
    expect(opened.stdout.equals(PLAIN_A)).toBe(true);
    // In place as well.
    await w.ok(['re-encrypt', 'ndk.enc', '--to', 'new', '--new-data-key', '--in-place']);
    expect(await w.messageId('ndk.enc')).not.toBe(before);
    expect((await w.plaintext('ndk.enc', ['alias/new'])).equals(PLAIN_A)).toBe(true);
  });
});

// ---------------------------------------------------------------- memory

const TIME = '/usr/bin/time';
const HAVE_TIME = existsSync(TIME);
const MiB = 1024 * 1024;
const PEAK_RSS_LIMIT_KB = 150_000_000 / 1024; // 150 MB; GNU time reports %M in KiB

describe('memory', () => {
  it.skipIf(!HAVE_TIME)(
    HAVE_TIME
      ? 're-encrypting a 64 MiB message does not hold it in memory: peak RSS under 150 MB'
      : 'SKIPPED: /usr/bin/time is not installed, so the peak RSS of re-encrypting a 64 MiB message cannot be measured',
    async () => {
      const w = await newWorld();
      w.write('big', pseudoRandom(64 * MiB, 'big'));
      await w.ok(['encrypt', 'big', '-k', 'alias/old', '-o', 'big.enc']);
      // A file into a file is copied by the file system (src/cli/re-encrypt-file.ts); from stdin it streams through.
      const exec = promisify(execFile);
      for (const [how, script] of [
        ['copied', `exec "$@" big.enc -o big2.enc`],
        ['streamed', `exec "$@" -o big3.enc < big.enc`],
      ] as const) {
        const { stderr } = await exec(
          'sh',
          ['-c', script, 'sh', TIME, '-f', '%M', process.execPath, ENVELOPE, '--keystore', w.keystore, 're-encrypt', '--to', 'new'],
          { cwd: w.dir, env: childEnv() },
        );
        const peakKb = Number(stderr.trim().split('\n').pop());
        expect(Number.isFinite(peakKb) && peakKb > 0, `${how}: time output: ${stderr}`).toBe(true);
        expect(peakKb, `${how}: peak RSS ${Math.round(peakKb / 1024)} MiB`).toBeLessThan(PEAK_RSS_LIMIT_KB);
      }
      expect(w.read('big3.enc').subarray(header(w.read('big3.enc')).length).equals(w.read('big2.enc').subarray(header(w.read('big2.enc')).length))).toBe(true);

      const before = w.read('big.enc');
      const after = w.read('big2.enc');
      expect(after.length).toBe(before.length);
      expect(after.subarray(header(after).length).equals(before.subarray(header(before).length))).toBe(true);
      expect(await w.keyNames('big2.enc')).toEqual([{ providerId: LOCAL, keyName: `${w.newId}/1` }]);
    },
  );
});
