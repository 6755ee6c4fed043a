// Encrypt: one data key per message, wrapped by every given master key; the
// plaintext streams through framed AES-GCM (DESIGN §1; client-apis/encrypt.md).

import { randomBytes } from 'node:crypto';
import { ContentType, MAX_FRAME_LENGTH, MESSAGE_ID_LENGTH, PUBLIC_KEY_CONTEXT_KEY } from '../format/constants.js';
import { assertUserContext, type EncryptionContext } from '../format/encryption-context.js';
import { createSigner, type Signer, type SigningKey } from '../format/footer.js';
import { type EncryptedDataKey, encodeHeaderAuth, encodeHeaderBody, HEADER_IV, type MessageHeader } from '../format/header.js';
import { headerTag } from '../format/header-auth.js';
import { type DerivedKeys, deriveKeys, wipe } from '../format/kdf.js';
import type { AlgorithmSuite } from '../format/suites.js';
import type { Keyring } from '../keyring/keyring.js';
import { generateDataKey } from '../keyring/multi.js';
import type { DirectOutput } from '../stream/direct-output.js';
import { sealFrames } from '../stream/seal.js';
import { UsageError } from '../errors.js';
import { assertEncryptSuite, type CommitmentPolicy, DEFAULT_COMMITMENT_POLICY } from './commitment-policy.js';

/**
 * Chosen by benchmark (DESIGN §1). A frame costs a cipher set-up and an output
 * buffer of its own whatever its length: node:crypto seals 64 KiB frames at
 * 2.35 GB/s on one core, 256 KiB at 2.73 and 1 MiB at 2.80 (measured here).
 * Through pipes, 1 GiB took 0.90 s of user CPU in 256 KiB frames against
 * 1.00 s in 64 KiB ones (decrypt: 0.94 against 1.08 s), and 1.29 s instead of
 * 1.50 s on one thread. 1 MiB frames save a little more on the workers, but on
 * the main thread each 1 MiB output is mapped and faulted in afresh (500,000
 * page faults per GiB on one thread, against 8,600), which costs more than that.
 */
export const DEFAULT_FRAME_LENGTH = 256 * 1024;

export interface EncryptOptions {
  readonly keyrings: readonly Keyring[];
  readonly suite: AlgorithmSuite;
  readonly context?: EncryptionContext;
  readonly frameLength?: number;
  readonly commitmentPolicy?: CommitmentPolicy;
  /** Source of message ids; injectable so tests are deterministic. */
  readonly random?: (n: number) => Uint8Array;
  /**
   * Where the data key comes from instead of a fresh generation: a data-key
   * cache (--cache). The key it lends stays its own: encrypt derives the
   * message's keys from it and never wipes it.
   */
  readonly dataKeys?: DataKeySource;
  /** The plaintext's length when known before encrypting (a file's size), for the byte limit of `dataKeys`. */
  readonly plaintextLength?: number;
  /**
   * A descriptor the consumer writes every chunk to, offered so that worker
   * threads write the frames they seal there themselves (src/stream/direct-output.ts).
   * Not used for signed suites: their footer signs every byte, hashed on this thread.
   */
  readonly direct?: DirectOutput;
}

export interface DataKeyLeaseRequest {
  readonly keyrings: readonly Keyring[];
  readonly suite: AlgorithmSuite;
  /** The caller's encryption context, without the signing key's entry. */
  readonly context: EncryptionContext;
  readonly plaintextLength?: number;
}

/** A data key lent for one message, with what must be reused along with it. */
export interface DataKeyLease {
  /** Owned by the source: not to be wiped by the borrower. */
  readonly dataKey: Uint8Array;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  /** For signed suites: the key pair whose public half the wrapped keys' context names. */
  readonly signingKey?: SigningKey;
  /** Whether an earlier message already used this data key. */
  readonly reused: boolean;
  /** The message is over, sealed or failed, after `plaintextBytes` went under the key. Called once. */
  release(plaintextBytes: number): void;
}

export interface DataKeySource {
  lease(request: DataKeyLeaseRequest): Promise<DataKeyLease>;
}

export async function* encrypt(input: AsyncIterable<Uint8Array>, options: EncryptOptions): AsyncGenerator<Uint8Array> {
  const { suite, keyrings } = options;
  const context = options.context ?? {};
  const frameLength = options.frameLength ?? DEFAULT_FRAME_LENGTH;
  const random = options.random ?? randomBytes;
  if (keyrings.length === 0) throw new UsageError('encrypt needs at least one key (-k)');
  if (!Number.isInteger(frameLength) || frameLength < 1 || frameLength > MAX_FRAME_LENGTH) {
    throw new UsageError(`frame size must be between 1 and ${MAX_FRAME_LENGTH} bytes`);
  }
  assertEncryptSuite(options.commitmentPolicy ?? DEFAULT_COMMITMENT_POLICY, suite);
  assertUserContext(context);

  if (options.dataKeys) {
    yield* encryptWithLease(input, options.dataKeys, {
      keyrings,
      suite,
      context,
      frameLength,
      random,
      plaintextLength: options.plaintextLength,
      direct: options.direct,
    });
    return;
  }

  const signer = suite.signature ? createSigner(suite.signature) : undefined;
  const fullContext: EncryptionContext = signer ? { ...context, [PUBLIC_KEY_CONTEXT_KEY]: signer.publicKey } : { ...context };
  const { dataKey, encryptedDataKeys } = await generateDataKey(keyrings, { suite, context: fullContext });
  const messageId = random(MESSAGE_ID_LENGTH[suite.messageVersion]);
  const derived = deriveKeys(suite, dataKey, messageId);
  wipe(dataKey);
  yield* writeMessage(input, { suite, messageId, context: fullContext, encryptedDataKeys, frameLength, derived, signer, direct: options.direct });
}

/**
 * A message under a lent data key. The message id is still fresh, so the keys
 * derived from the shared data key are this message's own (client-apis/encrypt.md,
 * "Derive Key"); the plaintext is counted for the source's byte limit.
 */
async function* encryptWithLease(
  input: AsyncIterable<Uint8Array>,
  source: DataKeySource,
  options: {
    keyrings: readonly Keyring[];
    suite: AlgorithmSuite;
    context: EncryptionContext;
    frameLength: number;
    random: (n: number) => Uint8Array;
    plaintextLength: number | undefined;
    direct: DirectOutput | undefined;
  },
): AsyncGenerator<Uint8Array> {
  const { suite, context, frameLength, random } = options;
  const lease = await source.lease({
    keyrings: options.keyrings,
    suite,
    context,
    ...(options.plaintextLength === undefined ? {} : { plaintextLength: options.plaintextLength }),
  });
  let plaintextBytes = 0;
  try {
    if (!suite.signature !== !lease.signingKey) throw new Error('a lent data key must come with a signing key exactly when the suite signs');
    const signer = suite.signature ? createSigner(suite.signature, lease.signingKey) : undefined;
    const fullContext: EncryptionContext = signer ? { ...context, [PUBLIC_KEY_CONTEXT_KEY]: signer.publicKey } : { ...context };
    const messageId = random(MESSAGE_ID_LENGTH[suite.messageVersion]);
    const derived = deriveKeys(suite, lease.dataKey, messageId);
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of input) {
        plaintextBytes += chunk.length;
        yield chunk;
      }
    }
    yield* writeMessage(counted(), {
      suite,
      messageId,
      context: fullContext,
      encryptedDataKeys: lease.encryptedDataKeys,
      frameLength,
      derived,
      signer,
      direct: options.direct,
    });
  } finally {
    lease.release(plaintextBytes);
  }
}

/** Header, frames and footer of one message under derived keys, which it wipes when done. */
async function* writeMessage(
  input: AsyncIterable<Uint8Array>,
  m: {
    suite: AlgorithmSuite;
    messageId: Uint8Array;
    context: EncryptionContext;
    encryptedDataKeys: readonly EncryptedDataKey[];
    frameLength: number;
    derived: DerivedKeys;
    signer: Signer | undefined;
    direct: DirectOutput | undefined;
  },
): AsyncGenerator<Uint8Array> {
  const { suite, messageId, frameLength, derived, signer } = m;
  try {
    const header: MessageHeader = {
      version: suite.messageVersion,
      suite,
      messageId,
      context: m.context,
      encryptedDataKeys: m.encryptedDataKeys,
      contentType: ContentType.Framed,
      frameLength,
      ...(derived.commitment ? { commitment: derived.commitment } : {}),
    };
    const body = encodeHeaderBody(header);
    const auth = encodeHeaderAuth(
      suite.messageVersion,
      headerTag(suite, derived.encryptionKey, HEADER_IV, body, new Uint8Array(0)),
    );
    signer?.update(body);
    signer?.update(auth);
    yield body;
    yield auth;
    const params = { suite, key: derived.encryptionKey, messageId, frameLength };
    for await (const frame of sealFrames(input, params, undefined, signer ? undefined : m.direct)) {
      signer?.update(frame);
      yield frame;
    }
    if (signer) yield signer.footer();
  } finally {
    wipe(derived.encryptionKey, derived.commitment);
  }
}
