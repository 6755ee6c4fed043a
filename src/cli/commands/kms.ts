// envelope kms …: the AWS KMS primitives on local keys, shaped like `aws kms`
// (same option names where they fit; JSON output with base64 blobs). With a
// kms:/arn:aws:kms: key, or --kms, the same call goes to AWS KMS
// (src/aws/kms-passthrough.ts, imported only then) and prints the same way.

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
import { isKmsKeyName, wantsKms } from '../kms-key-name.js';
import type { KmsFlags as AwsFlags } from '../kms-options.js';
import { parseContextPairs, parseCount } from '../options.js';
import { out } from '../terminal.js';
import type { KmsKeyTarget } from './kms-keys.js';

type OutputMode = 'json' | 'text' | 'binary';

interface KmsFlags extends KeystoreFlags, AwsFlags {
  /** Names without kms: or an ARN are AWS KMS keys too; decrypt sends any blob to AWS KMS. */
  kms?: boolean;
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

const isLocalBlob = (blob: Uint8Array) => Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).subarray(0, 3).toString('latin1') === 'EVK';

/**
 * A blob as base64 text (what --output json/text printed) or raw bytes: a
 * local blob starts with EVK, and an AWS KMS blob in binary is no base64 text.
 */
async function readBlob(source: string | undefined): Promise<Buffer> {
  const data = await readSource(source, Math.ceil((MAX_BLOB_LENGTH * 4) / 3) + 4096, 'ciphertext blob');
  if (isLocalBlob(data)) return data;
  const text = data.toString('latin1').replace(/\s+/g, '');
  if (text.length === 0) throw new FormatError('the ciphertext blob is empty');
  return /^[A-Za-z0-9+/]*={0,2}$/.test(text) ? Buffer.from(text, 'base64') : data;
}

/** A blob for the local keystore: anything else is refused here, with the way to AWS KMS. */
function localBlob(blob: Buffer): Buffer {
  if (!isLocalBlob(blob)) {
    throw new FormatError('not an envelope ciphertext blob', {
      hints: ['local blobs start with EVK; base64 is accepted too', 'for an AWS KMS blob add --kms, or give --key-id kms:… or arn:aws:kms:…'],
    });
  }
  return blob;
}

type Passthrough = typeof import('../../aws/kms-passthrough.js');

interface AwsCalls {
  /** KeyId, region and profile of a KMS key named on the command line. */
  key(name: string): KmsKeyTarget;
  /** Region and profile of a call that names no key. */
  readonly settings: { region?: string; profile?: string };
}

/** Runs `work` with the AWS KMS primitives loaded, and closes the KMS connections after. */
async function withAws<T>(flags: KmsFlags, work: (aws: Passthrough, at: AwsCalls) => Promise<T>): Promise<T> {
  const [aws, client, keys, options] = await Promise.all([
    import('../../aws/kms-passthrough.js'),
    import('../../aws/client.js'),
    import('./kms-keys.js'),
    import('../kms-options.js'),
  ]);
  try {
    return await work(aws, { key: (name) => keys.kmsKeyTarget(name, flags), settings: options.kmsSettings(flags) });
  } finally {
    client.closeKmsClients();
  }
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
  const key = needKey(flags);
  const plaintext = await readSource(flags.plaintext, MAX_PLAINTEXT, 'plaintext');
  try {
    const r = wantsKms(flags, key)
      ? await withAws(flags, (aws, at) => {
          if (plaintext.length === 0) throw new UsageError('the plaintext is empty: KMS encrypts 1 to 4096 bytes');
          const target = at.key(key);
          return aws.kmsEncrypt(target, target.keyId, plaintext, context(flags));
        })
      : await kmsEncrypt(openKeystore(flags), key, plaintext, context(flags));
    print(flags.output, { CiphertextBlob: b64(r.ciphertextBlob), KeyId: r.keyArn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' }, ['CiphertextBlob'], r.ciphertextBlob);
  } finally {
    plaintext.fill(0);
  }
}

export async function decrypt(_: string[], flags: KmsFlags): Promise<void> {
  const blob = await readBlob(flags.ciphertextBlob);
  const r = wantsKms(flags, flags.keyId)
    ? await withAws(flags, (aws, at) => {
        const target = flags.keyId ? at.key(flags.keyId) : undefined;
        return aws.kmsDecrypt(target ?? at.settings, blob, context(flags), target?.keyId);
      })
    : await kmsDecrypt(openKeystore(flags), localBlob(blob), context(flags), flags.keyId);
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

/**
 * ReEncrypt. Between two AWS KMS keys it is KMS's ReEncrypt (the plaintext
 * stays in KMS); between two local keys the local one. Between the local
 * keystore and AWS KMS, the blob is decrypted where it was made and encrypted
 * where it goes, and the plaintext between is zeroed. The blob is KMS's when
 * --kms or --source-key-id says so, or when it is not a local (EVK) blob and
 * the destination is in KMS.
 */
export async function reEncrypt(_: string[], flags: ReEncryptFlags): Promise<void> {
  const destination = flags.destinationKeyId;
  if (!destination) throw new UsageError('--destination-key-id is required');
  const blob = await readBlob(flags.ciphertextBlob);
  const source = { context: parseContextPairs(flags.sourceEncryptionContext), ...(flags.sourceKeyId ? { key: flags.sourceKeyId } : {}) };
  const to = { key: destination, context: parseContextPairs(flags.destinationEncryptionContext) };
  const toKms = wantsKms(flags, destination);
  const fromKms = !!flags.kms || isKmsKeyName(flags.sourceKeyId) || (!flags.sourceKeyId && toKms && !isLocalBlob(blob));
  let r: { ciphertextBlob: Buffer; keyArn: string; sourceKeyArn: string };
  if (!fromKms && !toKms) {
    r = await kmsReEncrypt(openKeystore(flags), localBlob(blob), source, to);
  } else {
    r = await withAws(flags, async (aws, at) => {
      const sourceTarget = source.key ? at.key(source.key) : undefined;
      if (fromKms && toKms) {
        const target = at.key(destination);
        return aws.kmsReEncrypt(target, blob, { context: source.context, ...(sourceTarget ? { keyId: sourceTarget.keyId } : {}) }, { keyId: target.keyId, context: to.context });
      }
      const opened = fromKms
        ? await aws.kmsDecrypt(sourceTarget ?? at.settings, blob, source.context, sourceTarget?.keyId)
        : await kmsDecrypt(openKeystore(flags), localBlob(blob), source.context, source.key, 're-encrypt');
      try {
        const target = toKms ? at.key(destination) : undefined;
        const sealed = target
          ? await aws.kmsEncrypt(target, target.keyId, opened.plaintext, to.context)
          : await kmsEncrypt(openKeystore(flags), destination, opened.plaintext, to.context);
        return { ciphertextBlob: sealed.ciphertextBlob, keyArn: sealed.keyArn, sourceKeyArn: opened.keyArn };
      } finally {
        opened.plaintext.fill(0);
      }
    });
  }
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

function generate(flags: DataKeyFlags, withPlaintext: boolean): Promise<{ ciphertextBlob: Buffer; plaintext?: Buffer; keyArn: string }> {
  const key = needKey(flags);
  const bytes = dataKeyBytes(flags);
  if (wantsKms(flags, key)) {
    return withAws(flags, (aws, at) => {
      const target = at.key(key);
      return aws.kmsGenerateDataKey(target, target.keyId, bytes, context(flags), { withPlaintext });
    });
  }
  return kmsGenerateDataKey(openKeystore(flags), key, bytes, context(flags), { withPlaintext });
}

export async function generateDataKey(_: string[], flags: DataKeyFlags): Promise<void> {
  if (flags.output === 'binary') throw new UsageError('generate-data-key prints two values: use --output json or text');
  const r = await generate(flags, true);
  try {
    print(flags.output, { CiphertextBlob: b64(r.ciphertextBlob), Plaintext: b64(r.plaintext!), KeyId: r.keyArn }, ['CiphertextBlob', 'Plaintext']);
  } finally {
    r.plaintext?.fill(0);
  }
}

export async function generateDataKeyWithoutPlaintext(_: string[], flags: DataKeyFlags): Promise<void> {
  const r = await generate(flags, false);
  print(flags.output, { CiphertextBlob: b64(r.ciphertextBlob), KeyId: r.keyArn }, ['CiphertextBlob'], r.ciphertextBlob);
}

/** The local CSPRNG, or with --kms AWS KMS's GenerateRandom. */
export async function generateRandom(_: string[], flags: KmsFlags & { numberOfBytes?: string }): Promise<void> {
  const n = parseCount('--number-of-bytes', flags.numberOfBytes ?? '32', 1, 1024);
  const bytes = flags.kms ? await withAws(flags, (aws, at) => aws.kmsGenerateRandom(at.settings, n)) : kmsGenerateRandom(n);
  try {
    print(flags.output, { Plaintext: b64(bytes) }, ['Plaintext'], bytes);
  } finally {
    bytes.fill(0);
  }
}
