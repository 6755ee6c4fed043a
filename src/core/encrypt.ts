// Encrypt: one data key per message, wrapped by every given master key; the
// plaintext streams through framed AES-GCM (DESIGN §1; client-apis/encrypt.md).

import { randomBytes } from 'node:crypto';
import { ContentType, MAX_FRAME_LENGTH, MESSAGE_ID_LENGTH, PUBLIC_KEY_CONTEXT_KEY } from '../format/constants.js';
import { assertUserContext, type EncryptionContext } from '../format/encryption-context.js';
import { createSigner } from '../format/footer.js';
import { encodeHeaderAuth, encodeHeaderBody, HEADER_IV, type MessageHeader } from '../format/header.js';
import { headerTag } from '../format/header-auth.js';
import { deriveKeys, wipe } from '../format/kdf.js';
import type { AlgorithmSuite } from '../format/suites.js';
import type { Keyring } from '../keyring/keyring.js';
import { generateDataKey } from '../keyring/multi.js';
import { sealFrames } from '../stream/seal.js';
import { UsageError } from '../errors.js';
import { assertEncryptSuite, type CommitmentPolicy, DEFAULT_COMMITMENT_POLICY } from './commitment-policy.js';

/** Chosen by benchmark: 64 KiB frames keep node:crypto near its peak (DESIGN §1). */
export const DEFAULT_FRAME_LENGTH = 64 * 1024;

export interface EncryptOptions {
  readonly keyrings: readonly Keyring[];
  readonly suite: AlgorithmSuite;
  readonly context?: EncryptionContext;
  readonly frameLength?: number;
  readonly commitmentPolicy?: CommitmentPolicy;
  /** Source of message ids; injectable so tests are deterministic. */
  readonly random?: (n: number) => Uint8Array;
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

  const signer = suite.signature ? createSigner(suite.signature) : undefined;
  const fullContext: EncryptionContext = signer ? { ...context, [PUBLIC_KEY_CONTEXT_KEY]: signer.publicKey } : { ...context };
  const { dataKey, encryptedDataKeys } = await generateDataKey(keyrings, { suite, context: fullContext });
  const messageId = random(MESSAGE_ID_LENGTH[suite.messageVersion]);
  const derived = deriveKeys(suite, dataKey, messageId);
  wipe(dataKey);
  try {
    const header: MessageHeader = {
      version: suite.messageVersion,
      suite,
      messageId,
      context: fullContext,
      encryptedDataKeys,
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
    for await (const frame of sealFrames(input, { suite, key: derived.encryptionKey, messageId, frameLength })) {
      signer?.update(frame);
      yield frame;
    }
    if (signer) yield signer.footer();
  } finally {
    wipe(derived.encryptionKey, derived.commitment);
  }
}
