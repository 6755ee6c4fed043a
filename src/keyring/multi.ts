// Several keyrings acting as one: the first makes the data key, every further
// one wraps the same key; on decrypt each wrapped key is offered, in message
// order, to every keyring that claims it, and the first success wins.

import { randomBytes } from 'node:crypto';
import {
  EnvelopeError,
  IntegrityError,
  KeyAccessError,
  KeyServiceError,
  NoKeyError,
  type UnwrapAttempt,
} from '../errors.js';
import type { EncryptedDataKey } from '../format/header.js';
import { wipe } from '../format/kdf.js';
import { describeEdk } from './describe.js';
import type { DataKeyRequest, Keyring } from './keyring.js';
import { unclaimedKmsHints } from './kms.js';

export interface WrappedDataKey {
  readonly dataKey: Uint8Array;
  readonly encryptedDataKeys: EncryptedDataKey[];
}

export async function generateDataKey(keyrings: readonly Keyring[], request: DataKeyRequest): Promise<WrappedDataKey> {
  const [first, ...rest] = keyrings;
  if (!first) throw new Error('generateDataKey needs at least one keyring');
  let dataKey: Uint8Array;
  const encryptedDataKeys: EncryptedDataKey[] = [];
  if (first.generate) {
    const generated = await first.generate(request);
    dataKey = generated.dataKey;
    encryptedDataKeys.push(generated.encryptedDataKey);
  } else {
    dataKey = randomBytes(request.suite.keyLength);
    try {
      encryptedDataKeys.push(await first.wrap(dataKey, request));
    } catch (e) {
      wipe(dataKey);
      throw e;
    }
  }
  try {
    for (const keyring of rest) encryptedDataKeys.push(await keyring.wrap(dataKey, request));
  } catch (e) {
    wipe(dataKey);
    throw e;
  }
  return { dataKey, encryptedDataKeys };
}

export interface UnwrappedDataKey {
  readonly dataKey: Uint8Array;
  /** The keyring that unwrapped it. */
  readonly keyring: Keyring;
}

export async function unwrapDataKey(
  keyrings: readonly Keyring[],
  encryptedDataKeys: readonly EncryptedDataKey[],
  request: DataKeyRequest,
): Promise<UnwrappedDataKey> {
  const attempts: UnwrapAttempt[] = [];
  const failures: EnvelopeError[] = [];
  for (const edk of encryptedDataKeys) {
    for (const keyring of keyrings) {
      if (!keyring.claims(edk)) continue;
      try {
        const dataKey = await keyring.unwrap(edk, request);
        if (dataKey.length !== request.suite.keyLength) {
          wipe(dataKey);
          throw new NoKeyError(`unwrapped data key has the wrong length`, []);
        }
        return { dataKey, keyring };
      } catch (e) {
        if (!(e instanceof EnvelopeError)) throw e;
        attempts.push({ key: keyring.description, reason: e.message });
        failures.push(e);
      }
    }
  }
  // A key that exists but may not be used, a service that did not answer, or a
  // key store record that fails to authenticate is a different problem from
  // "no key fits": report it as such, listing the rest.
  for (const kind of [KeyAccessError, KeyServiceError, IntegrityError] as const) {
    const first = failures.find((f) => f instanceof kind);
    if (first) {
      const others = attempts.filter((a) => a.reason !== first.message).map((a) => `${a.key}: ${a.reason}`);
      throw new kind(first.message, { hints: [...first.hints, ...others] });
    }
  }
  if (attempts.length === 0) {
    const wrappedFor = encryptedDataKeys.map((edk) => `message has a data key for ${describeEdk(edk)}`);
    const given = keyrings.length === 0 ? ['no key was given: use -k'] : keyrings.map((k) => `tried ${k.description}: not addressed to it`);
    const kms = unclaimedKmsHints(keyrings, encryptedDataKeys);
    throw new NoKeyError('none of the given keys can unwrap the data key', [], { hints: [...wrappedFor, ...given, ...kms] });
  }
  throw new NoKeyError('no key could unwrap the data key', attempts, { hints: unclaimedKmsHints(keyrings, encryptedDataKeys) });
}
