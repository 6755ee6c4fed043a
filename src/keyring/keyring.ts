// The keyring contract. A keyring is one master key: it wraps data keys for new
// messages and unwraps the wrapped keys it recognises. "Not mine" is an ordinary
// answer (`claims` returns false) that moves decryption on to the next key.

import type { EncryptionContext } from '../format/encryption-context.js';
import type { EncryptedDataKey } from '../format/header.js';
import type { AlgorithmSuite } from '../format/suites.js';

export interface DataKeyRequest {
  readonly suite: AlgorithmSuite;
  /** The full encryption context of the message: the AAD a wrapping should bind. */
  readonly context: EncryptionContext;
}

export interface GeneratedDataKey {
  /** The plaintext data key; the caller zeroes it after use. */
  readonly dataKey: Uint8Array;
  readonly encryptedDataKey: EncryptedDataKey;
}

export interface Keyring {
  /** How reports name this key, e.g. `raw-aes:backup/k1`. */
  readonly description: string;
  /**
   * Makes the data key of a new message, when the key's home can do it itself
   * (KMS GenerateDataKey). Keyrings without it get a CSPRNG key that they wrap.
   */
  generate?(request: DataKeyRequest): Promise<GeneratedDataKey>;
  /** Wraps a data key for a new message. */
  wrap(dataKey: Uint8Array, request: DataKeyRequest): Promise<EncryptedDataKey>;
  /** Whether a wrapped key is addressed to this master key. */
  claims(edk: EncryptedDataKey): boolean;
  /** Unwraps a wrapped key it claims; throws an EnvelopeError that says why it could not. */
  unwrap(edk: EncryptedDataKey, request: DataKeyRequest): Promise<Uint8Array>;
}
