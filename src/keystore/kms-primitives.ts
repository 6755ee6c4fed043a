// The KMS primitives on local keys, shaped like AWS KMS's Encrypt, Decrypt,
// ReEncrypt, GenerateDataKey(WithoutPlaintext) and GenerateRandom. Blobs are
// blob.ts; symmetric (AES_256) keys only, as KMS's SYMMETRIC_DEFAULT.

import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { EncryptionContext } from '../format/encryption-context.js';
import { openBlob, readBlobHeader, sealBlob } from './blob.js';
import type { Keystore } from './keystore.js';
import type { Operation } from './schema.js';

export interface BlobResult {
  readonly ciphertextBlob: Buffer;
  readonly keyArn: string;
  readonly keyId: string;
}

async function assertSymmetric(ks: Keystore, ref: string): Promise<void> {
  const { record } = await ks.key(ref);
  if (record.KeySpec !== 'AES_256') {
    throw new UsageError(`key ${record.KeyId} is ${record.KeySpec}: the kms primitives take symmetric keys (AES_256)`);
  }
}

async function sealWith(ks: Keystore, ref: string, plaintext: Uint8Array, context: EncryptionContext, operation: Operation): Promise<BlobResult> {
  await assertSymmetric(ks, ref);
  return ks.withKeyForEncrypt(ref, operation, context, (use) => ({
    ciphertextBlob: sealBlob(use.secret, { keyId: use.record.KeyId, version: use.version.Version }, plaintext, context),
    keyArn: use.record.Arn,
    keyId: use.record.KeyId,
  }));
}

export function kmsEncrypt(ks: Keystore, ref: string, plaintext: Uint8Array, context: EncryptionContext): Promise<BlobResult> {
  if (plaintext.length === 0) throw new UsageError('the plaintext is empty: KMS encrypts 1 to 4096 bytes');
  return sealWith(ks, ref, plaintext, context, 'encrypt');
}

export interface DecryptResult {
  readonly plaintext: Buffer;
  readonly keyArn: string;
  readonly keyId: string;
}

/** Opens a blob with the key it names; `expectedKey`, when given, must be that key (as KMS's KeyId parameter). */
export async function kmsDecrypt(
  ks: Keystore,
  blob: Uint8Array,
  context: EncryptionContext,
  expectedKey?: string,
  operation: Operation = 'decrypt',
): Promise<DecryptResult> {
  const header = readBlobHeader(blob);
  if (expectedKey) {
    const { record } = await ks.key(expectedKey);
    if (record.KeyId !== header.keyId) {
      throw new UsageError(`the blob was made by key ${header.keyId}, not ${expectedKey}`);
    }
  }
  return ks.withKeyForDecrypt(header.keyId, header.version, operation, context, (use) => ({
    plaintext: openBlob(use.secret, blob, context),
    keyArn: use.record.Arn,
    keyId: use.record.KeyId,
  }));
}

export async function kmsReEncrypt(
  ks: Keystore,
  blob: Uint8Array,
  source: { context: EncryptionContext; key?: string },
  destination: { key: string; context: EncryptionContext },
): Promise<BlobResult & { sourceKeyArn: string }> {
  // Check the destination first, so a refusal there does not log a use of the source.
  await assertSymmetric(ks, destination.key);
  const opened = await kmsDecrypt(ks, blob, source.context, source.key, 're-encrypt');
  try {
    const sealed = await sealWith(ks, destination.key, opened.plaintext, destination.context, 're-encrypt');
    return { ...sealed, sourceKeyArn: opened.keyArn };
  } finally {
    opened.plaintext.fill(0);
  }
}

export interface DataKeyResult extends BlobResult {
  /** Absent for GenerateDataKeyWithoutPlaintext. The caller zeroes it. */
  readonly plaintext?: Buffer;
}

export async function kmsGenerateDataKey(
  ks: Keystore,
  ref: string,
  numberOfBytes: number,
  context: EncryptionContext,
  { withPlaintext }: { withPlaintext: boolean },
): Promise<DataKeyResult> {
  if (!Number.isInteger(numberOfBytes) || numberOfBytes < 1 || numberOfBytes > 1024) {
    throw new UsageError('a data key is 1 to 1024 bytes');
  }
  const plaintext = randomBytes(numberOfBytes);
  try {
    const sealed = await sealWith(ks, ref, plaintext, context, 'generate-data-key');
    return withPlaintext ? { ...sealed, plaintext } : sealed;
  } finally {
    if (!withPlaintext) plaintext.fill(0);
  }
}

export function kmsGenerateRandom(numberOfBytes: number): Buffer {
  if (!Number.isInteger(numberOfBytes) || numberOfBytes < 1 || numberOfBytes > 1024) {
    throw new UsageError('generate-random takes 1 to 1024 bytes');
  }
  return randomBytes(numberOfBytes);
}
