// envelope kms …: the AWS KMS primitives on local keys, shaped like `aws kms`
// (same option names where they fit; JSON output with base64 blobs).

import { readFile } from 'node:fs/promises';
import { FormatError, ioError, UsageError } from '../../errors.js';
import type { EncryptionContext } from '../../format/encryption-context.js';
import { MAX_BLOB_LENGTH, MAX_PLAINTEXT } from '../../keystore/blob.js';
import {
  kmsDecrypt,
  kmsEncrypt,
  kmsGenerateDataKey,
  kmsGenerateRandom,
  kmsReEncrypt,
} from '../../keystore/kms-primitives.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { parseContextPairs, parseCount } from '../options.js';
import { out } from '../terminal.js';

type OutputMode = 'json' | 'text' | 'binary';

interface KmsFlags extends KeystoreFlags {
  keyId?: string;
  plaintext?: string;
  ciphertextBlob?: string;
  encryptionContext: string[];
  output: OutputMode;
}

/** `fileb://PATH`, `file://PATH`, a path, or `-` / nothing for stdin; read whole, up to `limit` bytes. */
async function readSource(source: string | undefined, limit: number, what: string): Promise<Buffer> {
  const path = source?.replace(/^fileb?:\/\//, '');
  let data: Buffer;
  if (path === undefined || path === '-') {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of process.stdin) {
      total += (chunk as Buffer).length;
      if (total > limit) throw new FormatError(`${what} is larger than ${limit} bytes`);
      chunks.push(chunk as Buffer);
    }
    data = Buffer.concat(chunks);
  } else {
    data = await readFile(path).catch((e) => {
      throw ioError(e, 'read', path);
    });
    if (data.length > limit) throw new FormatError(`${what} is larger than ${limit} bytes`);
  }
  return data;
}

/** A blob as raw bytes or base64 text (what --output json/text printed). */
async function readBlob(source: string | undefined): Promise<Buffer> {
  const data = await readSource(source, Math.ceil((MAX_BLOB_LENGTH * 4) / 3) + 4096, 'ciphertext blob');
  if (data.subarray(0, 3).toString('latin1') === 'EVK') return data;
  const text = data.toString('latin1').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new FormatError('ciphertext blob is neither binary nor base64');
  return Buffer.from(text, 'base64');
}

/**
 * json: the whole response, blobs in base64; text: the main values in base64,
 * tab-separated (as `aws … --query … --output text`); binary: the main value's bytes.
 */
function print(mode: OutputMode, json: Record<string, string>, main: string[], binary?: Buffer): void {
  if (mode === 'json') return out(JSON.stringify(json, null, 2));
  if (mode === 'text') return out(main.map((k) => json[k]).join('\t'));
  if (!binary) throw new UsageError('--output binary is not available here; use json or text');
  if (process.stdout.isTTY) {
    throw new UsageError('refusing to write binary output to a terminal', { hints: ['use --output json or text, or redirect'] });
  }
  process.stdout.write(binary);
}

function context(flags: { encryptionContext: string[] }): EncryptionContext {
  return parseContextPairs(flags.encryptionContext);
}

function needKey(flags: KmsFlags): string {
  if (!flags.keyId) throw new UsageError('--key-id is required');
  return flags.keyId;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

export async function encrypt(_: string[], flags: KmsFlags): Promise<void> {
  const ks = openKeystore(flags);
  const plaintext = await readSource(flags.plaintext, MAX_PLAINTEXT, 'plaintext');
  try {
    const r = await kmsEncrypt(ks, needKey(flags), plaintext, context(flags));
    print(flags.output, { CiphertextBlob: b64(r.ciphertextBlob), KeyId: r.keyArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, ['CiphertextBlob'], r.ciphertextBlob);
  } finally {
    plaintext.fill(0);
  }
}

export async function decrypt(_: string[], flags: KmsFlags): Promise<void> {
  const ks = openKeystore(flags);
  const r = await kmsDecrypt(ks, await readBlob(flags.ciphertextBlob), context(flags), flags.keyId);
  try {
    print(flags.output, { KeyId: r.keyArn, Plaintext: b64(r.plaintext), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, ['Plaintext'], r.plaintext);
  } finally {
    r.plaintext.fill(0);
  }
}

interface ReEncryptFlags extends KmsFlags {
  destinationKeyId?: string;
  sourceKeyId?: string;
  sourceEncryptionContext: string[];
  destinationEncryptionContext: string[];
}

export async function reEncrypt(_: string[], flags: ReEncryptFlags): Promise<void> {
  if (!flags.destinationKeyId) throw new UsageError('--destination-key-id is required');
  const ks = openKeystore(flags);
  const r = await kmsReEncrypt(
    ks,
    await readBlob(flags.ciphertextBlob),
    { context: parseContextPairs(flags.sourceEncryptionContext), ...(flags.sourceKeyId ? { key: flags.sourceKeyId } : {}) },
    { key: flags.destinationKeyId, context: parseContextPairs(flags.destinationEncryptionContext) },
  );
  print(flags.output, { CiphertextBlob: b64(r.ciphertextBlob), SourceKeyId: r.sourceKeyArn, KeyId: r.keyArn }, ['CiphertextBlob'], r.ciphertextBlob);
}

interface DataKeyFlags extends KmsFlags {
  keySpec?: 'AES_256' | 'AES_128';
  numberOfBytes?: string;
}

function dataKeyBytes(flags: DataKeyFlags): number {
  if (flags.keySpec && flags.numberOfBytes) throw new UsageError('--key-spec and --number-of-bytes conflict');
  if (flags.numberOfBytes) return parseCount('--number-of-bytes', flags.numberOfBytes, 1, 1024);
  return flags.keySpec === 'AES_128' ? 16 : 32;
}

export async function generateDataKey(_: string[], flags: DataKeyFlags): Promise<void> {
  if (flags.output === 'binary') throw new UsageError('generate-data-key prints two values: use --output json or text');
  const ks = openKeystore(flags);
  const r = await kmsGenerateDataKey(ks, needKey(flags), dataKeyBytes(flags), context(flags), { withPlaintext: true });
  try {
    print(flags.output, { CiphertextBlob: b64(r.ciphertextBlob), Plaintext: b64(r.plaintext!), KeyId: r.keyArn }, ['CiphertextBlob', 'Plaintext']);
  } finally {
    r.plaintext?.fill(0);
  }
}

export async function generateDataKeyWithoutPlaintext(_: string[], flags: DataKeyFlags): Promise<void> {
  const ks = openKeystore(flags);
  const r = await kmsGenerateDataKey(ks, needKey(flags), dataKeyBytes(flags), context(flags), { withPlaintext: false });
  print(flags.output, { CiphertextBlob: b64(r.ciphertextBlob), KeyId: r.keyArn }, ['CiphertextBlob'], r.ciphertextBlob);
}

export async function generateRandom(_: string[], flags: KmsFlags & { numberOfBytes?: string }): Promise<void> {
  const n = parseCount('--number-of-bytes', flags.numberOfBytes ?? '32', 1, 1024);
  const bytes = kmsGenerateRandom(n);
  print(flags.output, { Plaintext: b64(bytes) }, ['Plaintext'], bytes);
}
