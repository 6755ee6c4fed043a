// Message footer and the ECDSA signature of signed suites
// (data-format/message-footer.md; framework/algorithm-suites.md, "Signature Algorithm").
//
//   off  len  field
//   0    2    signature length
//   2    …    signature: DER-encoded ECDSA over the SHA-256/384 of header and body
//
// The verification key travels in the encryption context under
// `aws-crypto-public-key`, as the base64 of the compressed curve point.

import { createPublicKey, createSign, createVerify, ECDH, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { FormatError, IntegrityError } from '../errors.js';
import { ByteBuilder } from './bytes.js';
import type { AlgorithmSuite } from './suites.js';

const CURVE_NAMES = { 'P-256': 'prime256v1', 'P-384': 'secp384r1' } as const;
const COORDINATE_LENGTH = { 'P-256': 32, 'P-384': 48 } as const;
/** A DER ECDSA signature over P-384 is at most 104 bytes; anything far larger is hostile. */
export const MAX_SIGNATURE_LENGTH = 256;

type Signature = NonNullable<AlgorithmSuite['signature']>;

export interface Signer {
  /** base64 of the compressed public point, for the encryption context. */
  readonly publicKey: string;
  update(bytes: Uint8Array): void;
  /** The serialized footer. */
  footer(): Uint8Array;
}

/** An ECDSA key pair for message signatures: the private key, and the public one as the context carries it. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  /** base64 of the compressed public point. */
  readonly publicKey: string;
}

export function generateSigningKey(sig: Signature): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: sig.curve });
  const jwk = publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  const y = Buffer.from(jwk.y!, 'base64url');
  const compressed = Buffer.concat([Uint8Array.of(2 + (y[y.length - 1]! & 1)), x]);
  return { privateKey, publicKey: compressed.toString('base64') };
}

/**
 * A signer for one message, under a fresh key pair unless `key` is given (a
 * data-key cache reuses the pair with the data key whose context names it).
 */
export function createSigner(sig: Signature, key: SigningKey = generateSigningKey(sig)): Signer {
  const { privateKey, publicKey } = key;
  const sign = createSign(sig.hash);
  return {
    publicKey,
    update: (bytes) => void sign.update(bytes),
    footer: () => {
      const signature = sign.sign({ key: privateKey, dsaEncoding: 'der' });
      return new ByteBuilder().short(signature).build();
    },
  };
}

export interface Verifier {
  update(bytes: Uint8Array): void;
  /** Throws IntegrityError unless `signature` is valid for everything passed to update. */
  verify(signature: Uint8Array): void;
}

export function createVerifier(sig: Signature, publicKeyBase64: string | undefined): Verifier {
  if (publicKeyBase64 === undefined) {
    throw new FormatError('signed message has no aws-crypto-public-key in its encryption context');
  }
  const key = importCompressedPoint(sig, publicKeyBase64);
  const verify = createVerify(sig.hash);
  return {
    update: (bytes) => void verify.update(bytes),
    verify: (signature) => {
      let ok = false;
      try {
        ok = verify.verify({ key, dsaEncoding: 'der' }, signature);
      } catch {
        ok = false;
      }
      if (!ok) throw new IntegrityError('signature does not verify: the message was altered');
    },
  };
}

function importCompressedPoint(sig: Signature, base64: string): KeyObject {
  const point = Buffer.from(base64, 'base64');
  const n = COORDINATE_LENGTH[sig.curve];
  if (point.length !== n + 1 || (point[0] !== 2 && point[0] !== 3)) {
    throw new FormatError('aws-crypto-public-key is not a compressed curve point');
  }
  try {
    const full = ECDH.convertKey(point, CURVE_NAMES[sig.curve], undefined, undefined, 'uncompressed') as Buffer;
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: sig.curve,
        x: full.subarray(1, 1 + n).toString('base64url'),
        y: full.subarray(1 + n).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    throw new FormatError('aws-crypto-public-key is not a point on the curve');
  }
}
