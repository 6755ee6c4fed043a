// The AWS Encryption SDK's published decrypt test vectors (awses-decrypt manifest
// version 4), read in place from ../shared/testdata/esdk (see its README.md):
//   v4-Net-4.0.1       every raw-key test decrypts to its plaintext, through the CLI
//                      and in-process through the core; AWS KMS tests are skipped offline
//   invalid-Net-4.0.0  written by a buggy SDK release: every one must fail with an
//                      integrity error (exit 5) and write nothing, whatever the manifest says

import { createPublicKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decrypt } from '../src/core/decrypt.js';
import { IntegrityError } from '../src/errors.js';
import type { Keyring } from '../src/keyring/keyring.js';
import { RawAesKeyring } from '../src/keyring/raw-aes.js';
import { RawRsaKeyring, type RsaPadding } from '../src/keyring/raw-rsa.js';
import { chunks, collect, ESDK_VECTORS, runCli, tempDir } from './helpers.js';

const VALID = 'v4-Net-4.0.1';
const INVALID = 'invalid-Net-4.0.0';
const EXPECTED = { valid: 132, defaultRaw: 66, requiredContextRaw: 33, kms: 33, invalid: 28 } as const;
const POLICY = ['--commitment-policy', 'require-encrypt-allow-decrypt'] as const;

// ---- manifest and keys.json, as published ----

interface ManifestMasterKey {
  type: string;
  key: string;
  'provider-id'?: string;
  'encryption-algorithm'?: string;
  'padding-algorithm'?: string;
  'padding-hash'?: string;
}

interface ManifestTest {
  ciphertext: string;
  'master-keys': ManifestMasterKey[];
  cmm?: string;
  'encryption-context'?: Record<string, string>;
  result: { output?: { plaintext: string }; error?: unknown };
}

interface Manifest {
  manifest: { type: string; version: number };
  keys: string;
  tests: Record<string, ManifestTest>;
}

interface KeyEntry {
  type: string;
  'key-id': string;
  encoding?: string;
  material?: string;
}

// ---- loaded vectors ----

type RawKey =
  | { kind: 'aes'; namespace: string; name: string; material: Buffer; file: string }
  | { kind: 'rsa'; namespace: string; name: string; pem: string; padding: RsaPadding; file: string };

interface Vector {
  id: string;
  ciphertext: string;
  /** Absolute path of the expected plaintext, when the manifest names one. */
  plaintext: string | undefined;
  cmm: string;
  context: Record<string, string>;
  /** Every raw master key the test lists, in manifest order. */
  keys: RawKey[];
  /** The first master key is AWS KMS: not decryptable offline. */
  kms: boolean;
}

interface KeyFile {
  file: string;
  contents: string;
}

interface VectorSet {
  vectors: Vector[];
  keyFiles: KeyFile[];
}

function readJson<T>(path: string): T {
  if (!existsSync(path)) throw new Error(`${path} is missing`);
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** `file://ciphertexts/x` is relative to the manifest's folder. */
function fileUri(folder: string, uri: string): string {
  if (!uri.startsWith('file://')) throw new Error(`${folder}: unsupported URI ${uri}`);
  return join(folder, uri.slice('file://'.length));
}

function rsaPadding(mk: ManifestMasterKey, where: string): RsaPadding {
  const algorithm = mk['padding-algorithm'];
  if (algorithm === 'pkcs1') return 'pkcs1';
  const hash = mk['padding-hash'];
  if (algorithm === 'oaep-mgf1' && (hash === 'sha1' || hash === 'sha256' || hash === 'sha384' || hash === 'sha512')) {
    return `oaep-${hash}`;
  }
  throw new Error(`${where}: unsupported RSA padding ${algorithm}/${hash}`);
}

/** The DER public key of a PEM key, public or private. */
function spki(pem: string): Buffer {
  return createPublicKey(pem).export({ type: 'spki', format: 'der' });
}

function loadFolder(name: string): VectorSet {
  const folder = join(ESDK_VECTORS, name);
  const manifest = readJson<Manifest>(join(folder, 'manifest.json'));
  if (manifest.manifest?.type !== 'awses-decrypt' || manifest.manifest.version !== 4) {
    throw new Error(`${name}/manifest.json: expected an awses-decrypt manifest version 4`);
  }
  const keys = readJson<{ keys: Record<string, KeyEntry> }>(fileUri(folder, manifest.keys)).keys;
  const tests = Object.entries(manifest.tests ?? {});
  if (tests.length === 0) throw new Error(`${name}/manifest.json lists no tests`);

  const keyFiles = new Map<string, KeyFile>();
  const keyFile = (keyName: string, contents: string): string => {
    const file = `${name}-${keyName}`;
    keyFiles.set(file, { file, contents });
    return file;
  };
  /** The PEM of the private key whose public half is `publicPem`: keys wrapped with a public key open with it. */
  const privateFor = (publicPem: string, where: string): { keyName: string; pem: string } => {
    const wanted = spki(publicPem);
    for (const [keyName, entry] of Object.entries(keys)) {
      if (entry.type !== 'private' || !entry.material) continue;
      if (spki(entry.material).equals(wanted)) {
        return { keyName, pem: entry.material };
      }
    }
    throw new Error(`${where}: no private key in keys.json matches the public key`);
  };

  const vectors = tests.map(([id, test]): Vector => {
    const where = `${name}/${id}`;
    const masterKeys = test['master-keys'] ?? [];
    if (masterKeys.length === 0) throw new Error(`${where}: no master keys`);
    const raw: RawKey[] = [];
    for (const mk of masterKeys) {
      if (mk.type !== 'raw') continue;
      const entry = keys[mk.key];
      const namespace = mk['provider-id'];
      if (!entry?.material || !namespace) throw new Error(`${where}: raw key ${mk.key} has no material or provider-id`);
      if (mk['encryption-algorithm'] === 'aes') {
        if (entry.type !== 'symmetric' || entry.encoding !== 'base64') throw new Error(`${where}: ${mk.key} is not a base64 symmetric key`);
        raw.push({
          kind: 'aes',
          namespace,
          name: entry['key-id'],
          material: Buffer.from(entry.material, 'base64'),
          file: keyFile(mk.key, entry.material),
        });
      } else if (mk['encryption-algorithm'] === 'rsa') {
        const { keyName, pem } = entry.type === 'private' ? { keyName: mk.key, pem: entry.material } : privateFor(entry.material, where);
        raw.push({ kind: 'rsa', namespace, name: entry['key-id'], pem, padding: rsaPadding(mk, where), file: keyFile(keyName, pem) });
      } else {
        throw new Error(`${where}: unsupported raw key algorithm ${mk['encryption-algorithm']}`);
      }
    }
    const kms = masterKeys[0]!.type === 'aws-kms';
    if (!kms && raw.length === 0) throw new Error(`${where}: no raw key and not AWS KMS`);
    return {
      id,
      ciphertext: fileUri(folder, test.ciphertext),
      plaintext: test.result?.output ? fileUri(folder, test.result.output.plaintext) : undefined,
      cmm: test.cmm ?? 'Default',
      context: test['encryption-context'] ?? {},
      keys: raw,
      kms,
    };
  });
  return { vectors, keyFiles: [...keyFiles.values()] };
}

type Loaded = { valid: Vector[]; invalid: Vector[]; keyFiles: KeyFile[]; error?: undefined } | { error: Error };

function load(): Loaded {
  try {
    const valid = loadFolder(VALID);
    const invalid = loadFolder(INVALID);
    return { valid: valid.vectors, invalid: invalid.vectors, keyFiles: [...valid.keyFiles, ...invalid.keyFiles] };
  } catch (e) {
    return { error: e instanceof Error ? e : new Error(String(e)) };
  }
}

// ---- what the tests do with a vector ----

function requiredContext(v: Vector): { key: string; value: string }[] {
  return v.cmm === 'RequiredEncryptionContext' ? Object.entries(v.context).map(([key, value]) => ({ key, value })) : [];
}

function cliArgs(v: Vector, keyDir: string): string[] {
  const args: string[] = [];
  for (const k of v.keys) {
    const file = join(keyDir, k.file);
    args.push(
      '-k',
      k.kind === 'aes'
        ? `raw-aes:file=${file},namespace=${k.namespace},name=${k.name}`
        : `raw-rsa:file=${file},namespace=${k.namespace},name=${k.name},padding=${k.padding}`,
    );
  }
  for (const { key, value } of requiredContext(v)) args.push('-c', `${key}=${value}`);
  return [...args, ...POLICY];
}

function keyring(k: RawKey): Keyring {
  return k.kind === 'aes' ? new RawAesKeyring(k.namespace, k.name, k.material) : new RawRsaKeyring(k.namespace, k.name, k.pem, k.padding);
}

function coreDecrypt(v: Vector, keys: readonly RawKey[]): AsyncGenerator<Buffer> {
  return decrypt(chunks(readFileSync(v.ciphertext)), {
    keyrings: keys.map(keyring),
    commitmentPolicy: 'require-encrypt-allow-decrypt',
    requiredContext: requiredContext(v),
  });
}

const plaintexts = new Map<string, Buffer>();
function expectedPlaintext(v: Vector): Buffer {
  if (!v.plaintext) throw new Error(`${v.id}: the manifest expects no plaintext`);
  let p = plaintexts.get(v.plaintext);
  if (!p) plaintexts.set(v.plaintext, (p = readFileSync(v.plaintext)));
  return p;
}

// ---- the suite ----

const present = existsSync(ESDK_VECTORS);
const loaded: Loaded = present ? load() : { valid: [], invalid: [], keyFiles: [] };
const valid = loaded.error ? [] : loaded.valid;
const invalid = loaded.error ? [] : loaded.invalid;
const offline = valid.filter((v) => !v.kms);
const kmsCount = valid.length - offline.length;
/** `[id, vector]` rows: `%s` puts the whole id in the title (`%s` would truncate it). */
const cases = (vs: readonly Vector[]) => vs.map((v): [string, Vector] => [v.id, v]);

describe.skipIf(!present)(
  present
    ? 'ESDK decrypt test vectors (../shared/testdata/esdk)'
    : 'ESDK decrypt test vectors: SKIPPED, ../shared/testdata/esdk does not exist (a clone without ../shared)',
  () => {
    let keyDir: { path: string; cleanup: () => void } | undefined;
    beforeAll(() => {
      keyDir = tempDir('envelope-esdk-keys-');
      for (const k of loaded.error ? [] : loaded.keyFiles) writeFileSync(join(keyDir.path, k.file), k.contents, { mode: 0o600 });
    });
    afterAll(() => keyDir?.cleanup());
    const keyPath = () => {
      if (!keyDir) throw new Error('key directory not set up');
      return keyDir.path;
    };

    it('loads both manifests with their keys and files', () => {
      if (loaded.error) throw loaded.error;
      for (const v of [...valid, ...invalid]) {
        expect(existsSync(v.ciphertext), v.ciphertext).toBe(true);
        if (v.plaintext) expect(existsSync(v.plaintext), v.plaintext).toBe(true);
      }
    });

    it(`finds the ${EXPECTED.valid} tests of ${VALID}: ${EXPECTED.defaultRaw} Default raw-key, ${EXPECTED.requiredContextRaw} RequiredEncryptionContext raw-key, ${EXPECTED.kms} AWS KMS (skipped offline)`, () => {
      expect(valid).toHaveLength(EXPECTED.valid);
      expect(offline.filter((v) => v.cmm === 'Default')).toHaveLength(EXPECTED.defaultRaw);
      expect(offline.filter((v) => v.cmm === 'RequiredEncryptionContext')).toHaveLength(EXPECTED.requiredContextRaw);
      expect(offline).toHaveLength(EXPECTED.defaultRaw + EXPECTED.requiredContextRaw);
      expect(kmsCount).toBe(EXPECTED.kms);
      for (const v of offline) expect(v.plaintext, v.id).toBeDefined();
    });

    it(`finds the ${EXPECTED.invalid} raw-key tests of ${INVALID}`, () => {
      expect(invalid).toHaveLength(EXPECTED.invalid);
      for (const v of invalid) expect(v.kms, v.id).toBe(false);
    });

    describe(`${VALID} through bin/envelope`, () => {
      it.concurrent.for(cases(offline))('decrypts %s to the expected plaintext', async ([, v], { expect }) => {
        const result = await runCli(['decrypt', v.ciphertext, '-o', '-', ...cliArgs(v, keyPath())]);
        expect(result.code, result.stderr).toBe(0);
        expect(result.stdout.equals(expectedPlaintext(v)), 'stdout is the expected plaintext').toBe(true);
      });
    });

    describe(`${VALID} in-process through the core`, () => {
      it.for(cases(offline))('decrypts %s to the expected plaintext with every listed raw key', async ([, v]) => {
        expect((await collect(coreDecrypt(v, v.keys))).equals(expectedPlaintext(v))).toBe(true);
      });

      const multi = offline.filter((v) => v.keys.length > 1);
      it.for(cases(multi))('decrypts %s to the expected plaintext with each listed raw key alone', async ([, v]) => {
        for (const k of v.keys) {
          const plaintext = await collect(coreDecrypt(v, [k])).catch((e: unknown) => {
            throw new Error(`${k.kind} ${k.namespace}/${k.name} (${k.kind === 'rsa' ? k.padding : 'gcm'}): ${String(e)}`);
          });
          expect(plaintext.equals(expectedPlaintext(v)), `${k.name} alone`).toBe(true);
        }
      });
    });

    describe(`${INVALID} through bin/envelope`, () => {
      it.concurrent.for(cases(invalid))('rejects %s with exit 5 and writes nothing', async ([, v], { expect }) => {
        const out = tempDir('envelope-esdk-out-');
        try {
          const result = await runCli(['decrypt', v.ciphertext, '-o', join(out.path, 'out'), ...cliArgs(v, keyPath())]);
          expect(result.code, result.stderr).toBe(5);
          expect(result.stdout).toHaveLength(0);
          expect(existsSync(join(out.path, 'out'))).toBe(false);
          expect(readdirSync(out.path)).toEqual([]);
        } finally {
          out.cleanup();
        }
      });
    });

    describe(`${INVALID} in-process through the core`, () => {
      it.for(cases(invalid))('rejects %s with an integrity error before any plaintext', async ([, v]) => {
        let released = 0;
        let error: unknown;
        try {
          for await (const chunk of coreDecrypt(v, v.keys)) released += chunk.length;
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(IntegrityError);
        expect(released).toBe(0);
      });
    });
  },
);
