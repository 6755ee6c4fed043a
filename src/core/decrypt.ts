// Decrypt: read the header, unwrap the data key with the given master keys,
// check commitment and header authentication, then stream the body out frame by
// frame (client-apis/decrypt.md). Nothing is released before it authenticates.

import { IntegrityError, NoKeyError, printable } from '../errors.js';
import { PUBLIC_KEY_CONTEXT_KEY } from '../format/constants.js';
import { type EncryptionContext, serializeContext } from '../format/encryption-context.js';
import { createVerifier } from '../format/footer.js';
import type { MessageHeader } from '../format/header.js';
import { headerTagVerifies } from '../format/header-auth.js';
import { deriveKeys, verifyCommitment, wipe } from '../format/kdf.js';
import type { Keyring } from '../keyring/keyring.js';
import { unwrapDataKey } from '../keyring/multi.js';
import { ByteReader } from '../stream/byte-reader.js';
import type { DirectOutput } from '../stream/direct-output.js';
import { openBody } from '../stream/open.js';
import { readHeader } from '../stream/read-header.js';
import { assertDecryptSuite, type CommitmentPolicy, DEFAULT_COMMITMENT_POLICY } from './commitment-policy.js';
import { DEFAULT_LIMITS, type MessageLimits } from './limits.js';

/** `-c key=value` (must match) or `-c key` (must be present). */
export interface ContextRequirement {
  readonly key: string;
  readonly value?: string;
}

export interface DecryptOptions {
  readonly keyrings: readonly Keyring[];
  readonly commitmentPolicy?: CommitmentPolicy;
  readonly requiredContext?: readonly ContextRequirement[];
  readonly limits?: Partial<MessageLimits>;
  /** Called once the header has authenticated, before any plaintext. */
  readonly onHeader?: (header: MessageHeader, unwrappedBy: Keyring) => void;
  /**
   * A descriptor the consumer writes every chunk to, offered so that worker
   * threads write the plaintext of the frames they open there themselves
   * (src/stream/direct-output.ts).
   */
  readonly direct?: DirectOutput;
}

export async function* decrypt(input: AsyncIterable<Uint8Array>, options: DecryptOptions): AsyncGenerator<Buffer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const reader = new ByteReader(input);
  const decoded = await readHeader(reader, limits);
  const { header } = decoded;
  const { suite } = header;
  assertDecryptSuite(options.commitmentPolicy ?? DEFAULT_COMMITMENT_POLICY, suite);
  assertSigningContext(header);
  const reproduced = checkRequirements(header.context, options.requiredContext ?? []);
  const verifier = suite.signature ? createVerifier(suite.signature, header.context[PUBLIC_KEY_CONTEXT_KEY]) : undefined;

  const { dataKey, keyring } = await unwrapForContext(options.keyrings, header, reproduced);
  const derived = deriveKeys(suite, dataKey, header.messageId);
  wipe(dataKey);
  try {
    verifyCommitment(derived, header.commitment);
    const authOnly = serializeContext(reproduced);
    const verifies = (extra: Uint8Array) =>
      headerTagVerifies(suite, derived.encryptionKey, decoded.auth.iv, decoded.body, extra, decoded.auth.tag);
    if (!verifies(authOnly)) {
      if (authOnly.length > 0 && verifies(new Uint8Array(0))) throw missingContext(reproduced);
      throw new IntegrityError('header does not authenticate: the message was altered or the data key is wrong');
    }
    options.onHeader?.(header, keyring);
    verifier?.update(decoded.raw);
    const params = {
      suite,
      key: derived.encryptionKey,
      messageId: header.messageId,
      contentType: header.contentType,
      frameLength: header.frameLength,
      maxBodyLength: limits.maxFrameLength,
      ...(verifier ? { verifier } : {}),
    };
    yield* openBody(reader, params, undefined, options.direct);
  } finally {
    wipe(derived.encryptionKey, derived.commitment);
  }
}

/** A signed suite needs its verification key in the context; an unsigned one must not carry one (default-cmm.md). */
export function assertSigningContext(header: MessageHeader): void {
  if (!header.suite.signature && Object.hasOwn(header.context, PUBLIC_KEY_CONTEXT_KEY)) {
    throw new IntegrityError('unsigned message carries a signing key in its encryption context');
  }
}

/**
 * Checks `-c` requirements against the stored context. Pairs whose keys the
 * header does not store are returned: they may have been authenticated without
 * being stored (the ESDK's required encryption context), which the header tag
 * and the key unwrapping then prove or refute.
 */
function checkRequirements(stored: EncryptionContext, required: readonly ContextRequirement[]): Record<string, string> {
  // Object.create(null): a required key named "__proto__" must be an ordinary key.
  const reproduced: Record<string, string> = Object.create(null);
  for (const { key, value } of required) {
    if (Object.hasOwn(stored, key)) {
      if (value !== undefined && stored[key] !== value) {
        throw new IntegrityError(
          `encryption context ${printable(key)} is "${printable(stored[key]!)}", not the required "${printable(value)}"`,
        );
      }
    } else if (value === undefined) {
      throw missingContext({ [key]: '' });
    } else {
      reproduced[key] = value;
    }
  }
  return reproduced;
}

function missingContext(pairs: Record<string, string>): IntegrityError {
  const keys = Object.keys(pairs).map(printable).join(', ');
  return new IntegrityError(`message does not have the required encryption context ${keys}`);
}

async function unwrapForContext(keyrings: readonly Keyring[], header: MessageHeader, reproduced: Record<string, string>) {
  const context = { ...header.context, ...reproduced };
  try {
    return await unwrapDataKey(keyrings, header.encryptedDataKeys, { suite: header.suite, context });
  } catch (e) {
    // Wrapping binds the whole context. If the key opens only without the
    // reproduced pairs, the message was never bound to them: a context error.
    if (!(e instanceof NoKeyError) || Object.keys(reproduced).length === 0) throw e;
    const plain = await unwrapDataKey(keyrings, header.encryptedDataKeys, { suite: header.suite, context: header.context }).catch(
      () => undefined,
    );
    if (!plain) throw e;
    wipe(plain.dataKey);
    throw missingContext(reproduced);
  }
}

