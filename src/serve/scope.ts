// What one served request works with: the keystore, the server's identity
// (region, account), the region the request was signed for, and what the
// request touched, for its log line and audit line.

import type { Keystore } from '../keystore/keystore.js';

export interface ServedIdentity {
  /** The region normal keys live in. */
  readonly region: string;
  /** The 12-digit account in every ARN. */
  readonly account: string;
}

export interface RequestScope {
  readonly keystore: Keystore;
  readonly served: ServedIdentity;
  /** The region of the request's SigV4 credential scope; the server's region when unsigned. */
  readonly region: string;
  readonly now: () => Date;
  /** Filled in as the request is served: the key it used and its encryption context keys. */
  readonly trace: { keyId?: string; contextKeys?: readonly string[] };
}
