import { printable } from '../errors.js';
import type { EncryptedDataKey } from '../format/header.js';
import { parseRawAesProviderInfo } from './raw-aes.js';

const PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * The key name a wrapped key is addressed to: a raw AES key name (without its IV
 * suffix), a raw RSA key name, a KMS key ARN, or hex when it is none of these.
 */
export function edkKeyName(edk: EncryptedDataKey): string {
  const rawAes = parseRawAesProviderInfo(edk.providerInfo);
  const name = Buffer.from(rawAes ? rawAes.name : edk.providerInfo);
  return PRINTABLE.test(name.toString('latin1')) ? name.toString('utf8') : `0x${name.toString('hex')}`;
}

export function describeEdk(edk: EncryptedDataKey): string {
  return `${printable(edk.providerId)} ${edkKeyName(edk)}`;
}
