// The KMS primitives passed through to AWS KMS (`envelope kms …` with a
// `kms:` or `arn:aws:kms:` key, or --kms): Encrypt, Decrypt, ReEncrypt,
// GenerateDataKey(WithoutPlaintext) and GenerateRandom with the inputs the
// local primitives take (src/keystore/kms-primitives.ts), answering in the
// same shapes, so the CLI prints either the same way. Loaded with
// `await import()` only when a KMS key is in play.

import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  GenerateDataKeyWithoutPlaintextCommand,
  GenerateRandomCommand,
  type KMSClient,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { IntegrityError, KeyServiceError } from '../errors.js';
import type { EncryptionContext } from '../format/encryption-context.js';
import { type KmsClientSettings, kmsClient, kmsError } from './client.js';

export interface KmsBlobResult {
  readonly ciphertextBlob: Buffer;
  /** The key ARN KMS answered with. */
  readonly keyArn: string;
}

export interface KmsPlaintextResult {
  /** The caller zeroes it once written. */
  readonly plaintext: Buffer;
  readonly keyArn: string;
}

/** The SDK's bytes as a Buffer over the same memory, so zeroing it zeroes what the SDK returned. */
function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function required<T>(value: T | undefined, operation: string, field: string): T {
  if (value === undefined) throw new KeyServiceError(`kms: ${operation} answered without ${field}`);
  return value;
}

async function call<T>(settings: KmsClientSettings, key: string, send: (client: KMSClient) => Promise<T>): Promise<T> {
  try {
    return await send(kmsClient(settings));
  } catch (e) {
    // For a blob, KMS's InvalidCiphertextException is what a local blob that
    // fails its tag is: the wrong encryption context or an altered blob (exit 5).
    if ((e as { name?: string } | undefined)?.name === 'InvalidCiphertextException') {
      throw new IntegrityError(`kms key ${key}: InvalidCiphertextException: the blob does not decrypt with this encryption context`, {
        cause: e,
        hints: ['wrong encryption context, or the blob was altered or made in another region or account'],
      });
    }
    throw kmsError(e, key);
  }
}

/** A context only when there is one: KMS treats an empty map and none alike, and `aws kms` sends none. */
function contextField(context: EncryptionContext): { EncryptionContext?: Record<string, string> } {
  return Object.keys(context).length ? { EncryptionContext: { ...context } } : {};
}

export async function kmsEncrypt(
  settings: KmsClientSettings,
  keyId: string,
  plaintext: Uint8Array,
  context: EncryptionContext,
): Promise<KmsBlobResult> {
  const r = await call(settings, keyId, (c) => c.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, ...contextField(context) })));
  return { ciphertextBlob: view(required(r.CiphertextBlob, 'Encrypt', 'CiphertextBlob')), keyArn: r.KeyId ?? keyId };
}

/** Decrypt; `keyId`, when given, is KMS's KeyId parameter: the blob must be that key's. */
export async function kmsDecrypt(
  settings: KmsClientSettings,
  blob: Uint8Array,
  context: EncryptionContext,
  keyId?: string,
): Promise<KmsPlaintextResult> {
  const r = await call(settings, keyId ?? 'named by the blob', (c) =>
    c.send(new DecryptCommand({ CiphertextBlob: blob, ...contextField(context), ...(keyId ? { KeyId: keyId } : {}) })),
  );
  const plaintext = view(required(r.Plaintext, 'Decrypt', 'Plaintext'));
  return { plaintext, keyArn: r.KeyId ?? keyId ?? '' };
}

/** ReEncrypt, sent to the destination key's region: the plaintext never leaves KMS. */
export async function kmsReEncrypt(
  settings: KmsClientSettings,
  blob: Uint8Array,
  source: { context: EncryptionContext; keyId?: string },
  destination: { keyId: string; context: EncryptionContext },
): Promise<KmsBlobResult & { sourceKeyArn: string }> {
  const r = await call(settings, destination.keyId, (c) =>
    c.send(
      new ReEncryptCommand({
        CiphertextBlob: blob,
        DestinationKeyId: destination.keyId,
        ...(source.keyId ? { SourceKeyId: source.keyId } : {}),
        ...(Object.keys(source.context).length ? { SourceEncryptionContext: { ...source.context } } : {}),
        ...(Object.keys(destination.context).length ? { DestinationEncryptionContext: { ...destination.context } } : {}),
      }),
    ),
  );
  return {
    ciphertextBlob: view(required(r.CiphertextBlob, 'ReEncrypt', 'CiphertextBlob')),
    keyArn: r.KeyId ?? destination.keyId,
    sourceKeyArn: r.SourceKeyId ?? source.keyId ?? '',
  };
}

export interface KmsDataKeyResult extends KmsBlobResult {
  /** Absent for GenerateDataKeyWithoutPlaintext. The caller zeroes it. */
  readonly plaintext?: Buffer;
}

/** GenerateDataKey(WithoutPlaintext) of `numberOfBytes` (1-1024), as the local primitive takes it. */
export async function kmsGenerateDataKey(
  settings: KmsClientSettings,
  keyId: string,
  numberOfBytes: number,
  context: EncryptionContext,
  { withPlaintext }: { withPlaintext: boolean },
): Promise<KmsDataKeyResult> {
  // KMS's KeySpec AES_256/AES_128 is NumberOfBytes 32/16: one form for both.
  const input = { KeyId: keyId, NumberOfBytes: numberOfBytes, ...contextField(context) };
  if (!withPlaintext) {
    const r = await call(settings, keyId, (c) => c.send(new GenerateDataKeyWithoutPlaintextCommand(input)));
    return { ciphertextBlob: view(required(r.CiphertextBlob, 'GenerateDataKeyWithoutPlaintext', 'CiphertextBlob')), keyArn: r.KeyId ?? keyId };
  }
  const r = await call(settings, keyId, (c) => c.send(new GenerateDataKeyCommand(input)));
  const plaintext = r.Plaintext ? view(r.Plaintext) : undefined;
  if (!plaintext || !r.CiphertextBlob) {
    plaintext?.fill(0);
    throw new KeyServiceError('kms: GenerateDataKey answered without Plaintext or CiphertextBlob');
  }
  return { ciphertextBlob: view(r.CiphertextBlob), plaintext, keyArn: r.KeyId ?? keyId };
}

export async function kmsGenerateRandom(settings: KmsClientSettings, numberOfBytes: number): Promise<Buffer> {
  const r = await call(settings, '(GenerateRandom)', (c) => c.send(new GenerateRandomCommand({ NumberOfBytes: numberOfBytes })));
  return view(required(r.Plaintext, 'GenerateRandom', 'Plaintext'));
}
