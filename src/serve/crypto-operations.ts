// The cryptographic operations of KMS on the keystore's symmetric keys:
// Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext),
// GenerateRandom, and GetPublicKey of RSA keys. Blobs are the keystore's
// versioned EVK blobs (src/keystore/blob.ts), which bind the encryption context
// as AAD. Every plaintext and data key is zeroed once it is encoded.

import { createPublicKey } from 'node:crypto';
import type { EncryptionContext } from '../format/encryption-context.js';
import { readBlobHeader, type BlobHeader } from '../keystore/blob.js';
import { wrongState } from '../keystore/keystore.js';
import { kmsDecrypt, kmsEncrypt, kmsGenerateDataKey, kmsGenerateRandom, kmsReEncrypt } from '../keystore/kms-primitives.js';
import { encryptionAlgorithms, kmsKeySpec } from './key-metadata.js';
import { findServedKey, type FoundKey } from './key-lookup.js';
import { invalid, KmsError, toKmsError } from './kms-error.js';
import { type Body, encryptionContext, optionalBoolean, optionalInteger, optionalString, requiredBlob, requiredString } from './params.js';
import type { RequestScope } from './scope.js';

/** KMS: a CiphertextBlob is at most 6144 bytes, a plaintext to Encrypt at most 4096. */
const MAX_CIPHERTEXT = 6144;
const MAX_PLAINTEXT = 4096;
const SYMMETRIC_DEFAULT = 'SYMMETRIC_DEFAULT';

function unsupported(body: Body): void {
  if (optionalBoolean(body, 'DryRun')) throw new KmsError('UnsupportedOperationException', 'DryRun is not supported by envelope serve.');
  if (body.Recipient !== undefined) throw new KmsError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not supported by envelope serve.');
}

/** The key for a new blob: symmetric, used with SYMMETRIC_DEFAULT. */
async function symmetricKey(scope: RequestScope, body: Body, keyParam: string, algorithmParam?: string): Promise<FoundKey> {
  const key = await findServedKey(scope, requiredString(body, keyParam));
  if (key.record.KeySpec !== 'AES_256') {
    throw new KmsError('InvalidKeyUsageException', `Key ${key.arn} is ${key.record.KeySpec}: envelope serve encrypts with symmetric keys only; use GetPublicKey to encrypt with it.`);
  }
  if (algorithmParam) checkAlgorithm(body, algorithmParam);
  return key;
}

function checkAlgorithm(body: Body, name: string): void {
  const algorithm = optionalString(body, name, 64) ?? SYMMETRIC_DEFAULT;
  if (algorithm !== SYMMETRIC_DEFAULT) throw new KmsError('InvalidKeyUsageException', `${name} ${algorithm} is not valid for a symmetric key.`);
}

function withContext(scope: RequestScope, body: Body, name: string): EncryptionContext {
  const context = encryptionContext(body, name);
  scope.trace.contextKeys = Object.keys(context);
  return context;
}

/** The blob's header, or InvalidCiphertextException (another format, another service, cut short). */
function blobHeader(blob: Buffer): BlobHeader {
  try {
    return readBlobHeader(blob);
  } catch (e) {
    throw toKmsError(e);
  }
}

/**
 * The key that made a blob, which must be `expected` when the caller named one
 * (KMS IncorrectKeyException). A backing version the key never had means the
 * blob was altered: InvalidCiphertextException, as when its tag fails.
 */
async function blobKey(scope: RequestScope, header: BlobHeader, expected: string | undefined): Promise<FoundKey> {
  const key = await findServedKey(scope, expected ?? header.keyId);
  if (key.record.KeyId !== header.keyId) throw new KmsError('IncorrectKeyException', `The ciphertext was not made by key ${key.arn}.`);
  if (!key.record.Versions.some((v) => v.Version === header.version)) {
    throw new KmsError('InvalidCiphertextException', 'The ciphertext names a key version that does not exist.');
  }
  return key;
}

function base64AndWipe(bytes: Buffer): string {
  try {
    return bytes.toString('base64');
  } finally {
    bytes.fill(0);
  }
}

export async function encrypt(scope: RequestScope, body: Body) {
  unsupported(body);
  const key = await symmetricKey(scope, body, 'KeyId', 'EncryptionAlgorithm');
  const context = withContext(scope, body, 'EncryptionContext');
  const plaintext = requiredBlob(body, 'Plaintext', MAX_PLAINTEXT);
  try {
    const sealed = await kmsEncrypt(scope.keystore, key.record.KeyId, plaintext, context);
    return { CiphertextBlob: sealed.ciphertextBlob.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: SYMMETRIC_DEFAULT };
  } finally {
    plaintext.fill(0);
  }
}

export async function decrypt(scope: RequestScope, body: Body) {
  unsupported(body);
  checkAlgorithm(body, 'EncryptionAlgorithm');
  const blob = requiredBlob(body, 'CiphertextBlob', MAX_CIPHERTEXT);
  const context = withContext(scope, body, 'EncryptionContext');
  const key = await blobKey(scope, blobHeader(blob), optionalString(body, 'KeyId'));
  const opened = await kmsDecrypt(scope.keystore, blob, context);
  return { KeyId: key.arn, Plaintext: base64AndWipe(opened.plaintext), EncryptionAlgorithm: SYMMETRIC_DEFAULT };
}

export async function reEncrypt(scope: RequestScope, body: Body) {
  unsupported(body);
  checkAlgorithm(body, 'SourceEncryptionAlgorithm');
  const blob = requiredBlob(body, 'CiphertextBlob', MAX_CIPHERTEXT);
  const source = await blobKey(scope, blobHeader(blob), optionalString(body, 'SourceKeyId'));
  const sourceContext = encryptionContext(body, 'SourceEncryptionContext');
  const destination = await symmetricKey(scope, body, 'DestinationKeyId', 'DestinationEncryptionAlgorithm');
  const destinationContext = withContext(scope, body, 'DestinationEncryptionContext');
  scope.trace.contextKeys = [...new Set([...Object.keys(sourceContext), ...Object.keys(destinationContext)])];
  const sealed = await kmsReEncrypt(scope.keystore, blob, { context: sourceContext }, { key: destination.record.KeyId, context: destinationContext });
  return {
    CiphertextBlob: sealed.ciphertextBlob.toString('base64'),
    SourceKeyId: source.arn,
    KeyId: destination.arn,
    SourceEncryptionAlgorithm: SYMMETRIC_DEFAULT,
    DestinationEncryptionAlgorithm: SYMMETRIC_DEFAULT,
  };
}

const DATA_KEY_SPECS: Readonly<Record<string, number>> = { AES_256: 32, AES_128: 16 };

function dataKeyLength(body: Body): number {
  const spec = optionalString(body, 'KeySpec', 16);
  const count = optionalInteger(body, 'NumberOfBytes', 1, 1024);
  if ((spec === undefined) === (count === undefined)) throw invalid('Give either KeySpec or NumberOfBytes, not both.');
  if (spec !== undefined && DATA_KEY_SPECS[spec] === undefined) throw invalid('KeySpec must be AES_256 or AES_128.');
  return count ?? DATA_KEY_SPECS[spec!]!;
}

async function generateDataKeyWith(scope: RequestScope, body: Body, withPlaintext: boolean) {
  unsupported(body);
  const key = await symmetricKey(scope, body, 'KeyId');
  const length = dataKeyLength(body);
  const context = withContext(scope, body, 'EncryptionContext');
  const made = await kmsGenerateDataKey(scope.keystore, key.record.KeyId, length, context, { withPlaintext });
  return {
    CiphertextBlob: made.ciphertextBlob.toString('base64'),
    ...(made.plaintext ? { Plaintext: base64AndWipe(made.plaintext) } : {}),
    KeyId: key.arn,
  };
}

export const generateDataKey = (scope: RequestScope, body: Body) => generateDataKeyWith(scope, body, true);
export const generateDataKeyWithoutPlaintext = (scope: RequestScope, body: Body) => generateDataKeyWith(scope, body, false);

export async function generateRandom(_scope: RequestScope, body: Body) {
  unsupported(body);
  if (body.CustomKeyStoreId !== undefined) throw new KmsError('UnsupportedOperationException', 'Custom key stores are not served.');
  const count = optionalInteger(body, 'NumberOfBytes', 1, 1024);
  if (count === undefined) throw invalid('NumberOfBytes is required.');
  return { Plaintext: base64AndWipe(kmsGenerateRandom(count)) };
}

export async function getPublicKey(scope: RequestScope, body: Body) {
  const key = await findServedKey(scope, requiredString(body, 'KeyId'));
  const { record } = key;
  if (record.KeySpec === 'AES_256') throw new KmsError('UnsupportedOperationException', `Key ${key.arn} is symmetric: it has no public key.`);
  if (record.KeyState !== 'Enabled') throw toKmsError(wrongState(record, 'get-public-key'));
  const pem = record.Versions.find((v) => v.Version === record.PrimaryVersion)?.PublicKey;
  if (!pem) throw new KmsError('KMSInternalException', `Key ${key.arn} has no public key recorded.`, 500);
  return {
    KeyId: key.arn,
    PublicKey: createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('base64'),
    CustomerMasterKeySpec: kmsKeySpec(record.KeySpec),
    KeySpec: kmsKeySpec(record.KeySpec),
    KeyUsage: record.KeyUsage,
    EncryptionAlgorithms: encryptionAlgorithms(record.KeySpec),
  };
}
