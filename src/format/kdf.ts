// Key derivation (framework/algorithm-suites.md, "Key Derivation";
// client-apis/encrypt.md, "Derive Key" and key commitment).
//
//   identity      encryption key = data key
//   HKDF-SHA256/  encryption key = HKDF(hash, salt = none, IKM = data key,
//   HKDF-SHA384                       info = suite id (2, BE) || message id (16), L = key length)
//   HKDF-SHA512   PRK = HKDF-Extract(salt = message id (32), IKM = data key)
//   (committing)  encryption key = HKDF-Expand(PRK, suite id (2, BE) || "DERIVEKEY", 32)
//                 commitment     = HKDF-Expand(PRK, "COMMITKEY", 32)

import { hkdfSync, timingSafeEqual } from 'node:crypto';
import { IntegrityError } from '../errors.js';
import { ByteBuilder, utf8 } from './bytes.js';
import { COMMIT_KEY_LABEL, COMMITMENT_LENGTH, DERIVE_KEY_LABEL } from './constants.js';
import { type AlgorithmSuite, hex4 } from './suites.js';

export interface DerivedKeys {
  /** The AES-GCM key for header authentication and body frames. Zero it after use. */
  readonly encryptionKey: Buffer;
  /** The key commitment of committing suites. */
  readonly commitment?: Buffer;
}

export function deriveKeys(suite: AlgorithmSuite, dataKey: Uint8Array, messageId: Uint8Array): DerivedKeys {
  if (dataKey.length !== suite.keyLength) {
    throw new IntegrityError(`data key is ${dataKey.length} bytes, suite 0x${hex4(suite.id)} needs ${suite.keyLength}`);
  }
  const suiteId = new ByteBuilder().u16(suite.id).build();
  switch (suite.kdf) {
    case 'identity':
      return { encryptionKey: Buffer.from(dataKey) };
    case 'hkdf-sha256':
    case 'hkdf-sha384': {
      const hash = suite.kdf === 'hkdf-sha256' ? 'sha256' : 'sha384';
      const info = new ByteBuilder().raw(suiteId).raw(messageId).build();
      return { encryptionKey: Buffer.from(hkdfSync(hash, dataKey, new Uint8Array(0), info, suite.keyLength)) };
    }
    case 'hkdf-sha512': {
      const info = new ByteBuilder().raw(suiteId).raw(utf8.encode(DERIVE_KEY_LABEL)).build();
      const encryptionKey = Buffer.from(hkdfSync('sha512', dataKey, messageId, info, suite.keyLength));
      const commitment = Buffer.from(
        hkdfSync('sha512', dataKey, messageId, utf8.encode(COMMIT_KEY_LABEL), COMMITMENT_LENGTH),
      );
      return { encryptionKey, commitment };
    }
  }
}

/**
 * Checks a message's stored commitment against the derived one, in constant time,
 * before anything is decrypted (client-apis/decrypt.md, "Verify the key commitment").
 */
export function verifyCommitment(derived: DerivedKeys, stored: Uint8Array | undefined): void {
  if (!derived.commitment) return;
  if (!stored || stored.length !== derived.commitment.length || !timingSafeEqual(derived.commitment, stored)) {
    throw new IntegrityError('key commitment does not match: the message was altered or the data key is wrong');
  }
}

export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}
