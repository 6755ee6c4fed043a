// How a key is named: `alias/NAME`, a KeyId (UUID) or the key's ARN-like id
// `arn:envelope:local:<keystore id>:key/<KeyId>`.

import { NoKeyError, UsageError } from '../errors.js';
import type { KeyRecord, StoreFile } from './schema.js';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
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
  // A bare NAME is the alias keygen NAME created.
  if (/^[A-Za-z0-9_-]+$/.test(ref) && !UUID.test(ref)) return store?.aliases[`alias/${ref}`];
  if (UUID.test(ref)) return ref.toLowerCase();
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
