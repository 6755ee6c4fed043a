// Header authentication (data-format/message-header.md, "Header Authentication"):
// AES-GCM with the derived key over an empty plaintext, AAD = header body ||
// serialized encryption context to only authenticate.

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TAG_LENGTH } from './constants.js';
import type { AlgorithmSuite } from './suites.js';

export function headerTag(
  suite: AlgorithmSuite,
  key: Uint8Array,
  iv: Uint8Array,
  body: Uint8Array,
  authenticatedOnly: Uint8Array,
): Buffer {
  const cipher = createCipheriv(suite.cipher, key, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(Buffer.concat([body, authenticatedOnly]));
  cipher.final();
  return cipher.getAuthTag();
}

/** True when the tag verifies; OpenSSL compares it in constant time. */
export function headerTagVerifies(
  suite: AlgorithmSuite,
  key: Uint8Array,
  iv: Uint8Array,
  body: Uint8Array,
  authenticatedOnly: Uint8Array,
  tag: Uint8Array,
): boolean {
  const decipher = createDecipheriv(suite.cipher, key, iv, { authTagLength: TAG_LENGTH });
  decipher.setAAD(Buffer.concat([body, authenticatedOnly]));
  decipher.setAuthTag(tag);
  try {
    decipher.final();
    return true;
  } catch {
    return false;
  }
}
