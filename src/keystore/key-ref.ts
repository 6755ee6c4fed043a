// How a key is named: `alias/NAME`, a KeyId (a UUID, or for a multi-region key
// `mrk-` and 32 hex digits, as KMS makes them) or the key's ARN-like id
// `arn:envelope:local:<keystore id>:key/<KeyId>`.

import { NoKeyError, UsageError } from '../errors.js';
import type { KeyRecord, StoreFile } from './schema.js';

// Case-insensitive by their classes, not by the i flag: a process's first
// regular expression with that flag sets up case folding (~0.2 ms), and these
// are matched on every local decrypt (the same holds in local.ts, options.ts;
// test/names.test.ts holds them to their i-flag forms).
export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const MRK_ID = /^[mM][rR][kK]-[0-9a-fA-F]{32}$/;
/** Either form of KeyId. */
export const KEY_ID = new RegExp(`${UUID.source}|${MRK_ID.source}`);
const ALIAS = /^alias\/[A-Za-z0-9/_-]{1,250}$/;

export function keyArn(keystoreId: string, keyId: string): string {
  return `arn:envelope:local:${keystoreId}:key/${keyId}`;
}

export function assertAliasName(alias: string): void {
  if (!ALIAS.test(alias) || alias.startsWith('alias/aws/')) {
    throw new UsageError(`"${alias}" is not a valid alias`, {
      hints: ['an alias is alias/NAME with letters, digits, /, _ and -; alias/aws/ is reserved'],
    });
  }
}

/** Finds a key by alias, KeyId or ARN; NoKeyError when there is none. */
export function findKey(store: StoreFile | undefined, ref: string): KeyRecord {
  const id = keyIdOf(store, ref);
  const record = id ? store?.keys[id] : undefined;
  if (!record) {
    throw new NoKeyError(`no key ${ref} in the local keystore`, [], {
      hints: ['list keys with: envelope keys list', 'create one with: envelope keygen NAME'],
    });
  }
  return record;
}

function keyIdOf(store: StoreFile | undefined, ref: string): string | undefined {
  if (ref.startsWith('alias/')) return store?.aliases[ref];
  if (KEY_ID.test(ref)) return ref.toLowerCase();
  // A bare NAME is the alias keygen NAME created.
  if (/^[A-Za-z0-9_-]+$/.test(ref)) return store?.aliases[`alias/${ref}`];
  const arn = /^arn:envelope:local:([^:]*):key\/(.+)$/.exec(ref);
  if (arn && (!store || arn[1] === store.keystoreId)) return arn[2];
  return undefined;
}

export function aliasesOf(store: StoreFile, keyId: string): string[] {
  return Object.entries(store.aliases)
    .filter(([, id]) => id === keyId)
    .map(([alias]) => alias)
    .sort();
}
