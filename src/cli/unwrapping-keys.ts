// The keys that decrypt, exec and re-encrypt offer a message's wrapped data
// keys to: the -k (or --from) keys, the --discovery keyring, and, unless -k
// names a local key, any key of the local keystore (DESIGN §2: local keys are
// found from the ids in the message, without flags).

import type { KmsServices } from '../keyring/kms.js';
import type { Keyring } from '../keyring/keyring.js';
import { LocalKeyring } from '../keyring/local.js';
import { isLocalSpecifier, openKeyrings } from '../keyring/registry.js';
import type { Keystore } from '../keystore/keystore.js';
import { type DiscoveryFlags, discoveryKeyrings } from './kms-options.js';

export async function openUnwrappingKeyrings(
  keys: readonly string[],
  flags: DiscoveryFlags,
  keystore: Keystore,
  kms: KmsServices,
): Promise<Keyring[]> {
  const keyrings = [...(await openKeyrings(keys, { keystore: () => keystore, kms })), ...discoveryKeyrings(flags, kms)];
  if (!keys.some(isLocalSpecifier)) keyrings.push(LocalKeyring.anyKey(keystore));
  return keyrings;
}
