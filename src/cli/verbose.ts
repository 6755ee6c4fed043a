// What -v adds to encrypt, decrypt, exec and re-encrypt, on stderr: which key
// unwrapped the data key (or which keys wrapped it), and how long the header
// and the whole message took.

import type { MessageHeader } from '../format/header.js';
import { describeEdk, edkKeyName } from '../keyring/describe.js';
import type { Keyring } from '../keyring/keyring.js';
import { detail, isVerbose } from './terminal.js';

const ms = (t: number) => `${t.toFixed(1)} ms`;

/**
 * The keyring's description, and the name of the wrapped key it opened when
 * that adds something: the local keystore's keyring names no key, and a local
 * key's description no version.
 */
export function unwrappedBy(header: MessageHeader, keyring: Keyring): string {
  const claimed = header.encryptedDataKeys.filter((edk) => keyring.claims(edk));
  const only = claimed.length === 1 ? claimed[0]! : undefined;
  return only && !keyring.description.includes(edkKeyName(only)) ? `${keyring.description} (${describeEdk(only)})` : keyring.description;
}

export function describeKeyrings(keyrings: readonly Keyring[]): string {
  return keyrings.map((k) => k.description).join(', ');
}

export interface MessageWatch {
  /** For decrypt's and re-encrypt's onHeader: the header has authenticated under the unwrapped data key. */
  readonly unwrapped: (header: MessageHeader, keyring: Keyring) => void;
  /** Says how the message is being written, when it is not the usual way. */
  readonly note: (text: string) => void;
  /** The message has been written. */
  readonly done: () => void;
}

/**
 * Times one message from the moment its input is opened; undefined without -v.
 * `label` names the input when there are several (or a file), else undefined.
 */
export function watchMessage(
  label: string | undefined,
  options: {
    /** encrypt: the keys that wrap the data key, said at once. */
    wrappedBy?: readonly Keyring[];
    /** re-encrypt: what happens to the data key once it is unwrapped. */
    afterUnwrap?: string;
    now?: () => number;
  } = {},
): MessageWatch | undefined {
  if (!isVerbose()) return undefined;
  const now = options.now ?? (() => performance.now());
  const say = (text: string) => detail(label === undefined ? text : `${label}: ${text}`);
  const start = now();
  let header: number | undefined;
  if (options.wrappedBy) say(`data key wrapped by ${describeKeyrings(options.wrappedBy)}`);
  return {
    unwrapped: (h, keyring) => {
      header = now() - start;
      say(`data key unwrapped by ${unwrappedBy(h, keyring)}`);
      if (options.afterUnwrap) say(options.afterUnwrap);
    },
    note: say,
    done: () => {
      const total = now() - start;
      say(header === undefined ? `total ${ms(total)}` : `header read and data key unwrapped in ${ms(header)}; total ${ms(total)}`);
    },
  };
}
