// Finding the key a KeyId parameter names, in any of KMS's forms, as seen from
// the request's region: a normal key exists only in the server's region; a
// multi-region key answers in every region, under an ARN of that region (as if
// replicated everywhere). An ARN of another account or region names nothing here.

import { assertAliasName, KEY_ID } from '../keystore/key-ref.js';
import type { KeyRecord, StoreFile } from '../keystore/schema.js';
import { aliasArn, keyArn, parseArn } from './arn.js';
import { invalid, KmsError, notFound } from './kms-error.js';
import type { RequestScope } from './scope.js';

export interface FoundKey {
  readonly store: StoreFile;
  readonly record: KeyRecord;
  /** The key's ARN in the request's region. */
  readonly arn: string;
}

/** Whether a key is visible from the request's region. */
export function visible(scope: RequestScope, record: KeyRecord): boolean {
  return !!record.MultiRegion || scope.region === scope.served.region;
}

export function arnOf(scope: RequestScope, keyId: string): string {
  return keyArn(scope.region, scope.served.account, keyId);
}

export function aliasArnOf(scope: RequestScope, alias: string): string {
  return aliasArn(scope.region, scope.served.account, alias);
}

/** `alias/NAME` after the checks KMS makes: InvalidAliasNameException when malformed or reserved. */
export function aliasName(text: string): string {
  try {
    assertAliasName(text);
  } catch {
    throw new KmsError('InvalidAliasNameException', `Alias ${JSON.stringify(text.slice(0, 300))} is not a valid alias name: alias/ then letters, digits, /, _ and -; alias/aws/ is reserved.`);
  }
  return text;
}

/** The alias (alias/NAME) an alias name or alias ARN names in this account and region. */
export function aliasFrom(scope: RequestScope, text: string): string {
  const arn = parseArn(text);
  if (!arn) return aliasName(text);
  if (arn.resource.kind !== 'alias' || arn.account !== scope.served.account || arn.region !== scope.region) {
    throw notFound(`Alias ${text} is not found.`);
  }
  return aliasName(arn.resource.alias);
}

/** Reads the keystore and finds the key; NotFoundException when there is none to see. */
export async function findServedKey(scope: RequestScope, text: string, { aliases = true }: { aliases?: boolean } = {}): Promise<FoundKey> {
  const store = await scope.keystore.read();
  const keyId = keyIdOf(scope, store, text, aliases);
  const record = keyId === undefined ? undefined : store?.keys[keyId];
  if (!store || !record || !visible(scope, record)) throw notFound(`Key '${arnOrText(scope, text)}' does not exist.`);
  scope.trace.keyId = record.KeyId;
  return { store, record, arn: arnOf(scope, record.KeyId) };
}

function keyIdOf(scope: RequestScope, store: StoreFile | undefined, text: string, aliases: boolean): string | undefined {
  const arn = parseArn(text);
  if (arn) {
    if (arn.account !== scope.served.account || arn.region !== scope.region) return undefined;
    if (arn.resource.kind === 'key') return KEY_ID.test(arn.resource.keyId) ? arn.resource.keyId.toLowerCase() : undefined;
    text = arn.resource.alias;
  }
  if (text.startsWith('alias/')) {
    if (!aliases) throw invalid('Give the key id or key ARN here, not an alias.');
    return store?.aliases[text];
  }
  if (arn) return undefined;
  return KEY_ID.test(text) ? text.toLowerCase() : undefined;
}

function arnOrText(scope: RequestScope, text: string): string {
  const shown = text.slice(0, 300);
  return KEY_ID.test(shown) ? arnOf(scope, shown.toLowerCase()) : shown;
}
