// The KmsService of src/keyring/kms.ts over the AWS SDK: GenerateDataKey,
// Encrypt and Decrypt in one region, with the requests the ESDK's KMS keyring
// sends (aws-kms-mrk-keyring.md), errors mapped by kmsError to one line that
// names the key and the KMS error code. Loaded with `await import()` only when
// a KMS key is in play.

import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { KeyServiceError } from '../errors.js';
import type { EncryptionContext } from '../format/encryption-context.js';
import type { KmsService } from '../keyring/kms.js';
import { type KmsClientSettings, kmsClient, kmsError } from './client.js';

export { closeKmsClients } from './client.js';

/** The SDK's bytes as a Buffer over the same memory, so zeroing it zeroes what the SDK returned. */
function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function required<T>(value: T | undefined, key: string, operation: string, field: string): T {
  if (value === undefined) throw new KeyServiceError(`kms key ${key}: ${operation} answered without ${field}`);
  return value;
}

async function call<T>(settings: KmsClientSettings, key: string, send: (client: KMSClient) => Promise<T>): Promise<T> {
  try {
    return await send(kmsClient(settings));
  } catch (e) {
    throw kmsError(e, key);
  }
}

/** KMS in `settings.region` (undefined: the SDK's region from AWS_REGION or the profile). */
export function kmsService(settings: KmsClientSettings): KmsService {
  return {
    async generateDataKey(keyId: string, numberOfBytes: number, context: EncryptionContext) {
      const out = await call(settings, keyId, (c) =>
        c.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: numberOfBytes, EncryptionContext: { ...context } })),
      );
      return {
        keyId: required(out.KeyId, keyId, 'GenerateDataKey', 'KeyId'),
        plaintext: view(required(out.Plaintext, keyId, 'GenerateDataKey', 'Plaintext')),
        ciphertext: required(out.CiphertextBlob, keyId, 'GenerateDataKey', 'CiphertextBlob'),
      };
    },

    async encrypt(keyId: string, plaintext: Uint8Array, context: EncryptionContext) {
      const out = await call(settings, keyId, (c) =>
        c.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: { ...context } })),
      );
      return {
        keyId: required(out.KeyId, keyId, 'Encrypt', 'KeyId'),
        ciphertext: required(out.CiphertextBlob, keyId, 'Encrypt', 'CiphertextBlob'),
      };
    },

    async decrypt(keyId: string, ciphertext: Uint8Array, context: EncryptionContext) {
      const out = await call(settings, keyId, (c) =>
        c.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: ciphertext, EncryptionContext: { ...context } })),
      );
      return {
        keyId: required(out.KeyId, keyId, 'Decrypt', 'KeyId'),
        plaintext: view(required(out.Plaintext, keyId, 'Decrypt', 'Plaintext')),
      };
    },
  };
}
