// Re-encrypt: give a message new master keys without touching its body
// (DESIGN §5). The data key is unwrapped once, wrapped under the new keys, the
// header rebuilt and re-authenticated under the same derived key, and the body
// copied byte for byte (rewrapHeader, then reEncryptBody). A file whose new
// header is as long as the old one is copied by the file system and its header
// replaced in the copy (src/cli/re-encrypt-file.ts). A signed message is hashed on
// the way through: its old signature must verify, and a new signer (whose key
// goes into the new header's context) signs the result.

import { IntegrityError, UsageError } from '../errors.js';
import { PUBLIC_KEY_CONTEXT_KEY } from '../format/constants.js';
import type { EncryptionContext } from '../format/encryption-context.js';
import { createSigner, createVerifier, type Signer, type Verifier } from '../format/footer.js';
import { type DecodedHeader, encodeHeaderAuth, encodeHeaderBody, HEADER_IV, type MessageHeader } from '../format/header.js';
import { headerTag, headerTagVerifies } from '../format/header-auth.js';
import { deriveKeys, verifyCommitment, wipe } from '../format/kdf.js';
import type { Keyring } from '../keyring/keyring.js';
import { unwrapDataKey } from '../keyring/multi.js';
import { ByteReader } from '../stream/byte-reader.js';
import { readHeader } from '../stream/read-header.js';
import { assertEnd, readSignature, walkBody } from '../stream/walk.js';
import { DEFAULT_SIGNED_SUITE_ID, DEFAULT_SUITE_ID, suiteById } from '../format/suites.js';
import { assertDecryptSuite, type CommitmentPolicy, DEFAULT_COMMITMENT_POLICY } from './commitment-policy.js';
import { assertSigningContext, decrypt } from './decrypt.js';
import { DEFAULT_FRAME_LENGTH, encrypt } from './encrypt.js';
import { DEFAULT_LIMITS, type MessageLimits } from './limits.js';

export interface ReEncryptOptions {
  /** Keys that may unwrap the current data key. */
  readonly from: readonly Keyring[];
  /** Keys to wrap it under instead; the old wrapped keys are dropped. */
  readonly to: readonly Keyring[];
  readonly commitmentPolicy?: CommitmentPolicy;
  readonly limits?: Partial<MessageLimits>;
  readonly onHeader?: (header: MessageHeader, unwrappedBy: Keyring) => void;
}

/**
 * A message's header under its new master keys, the old one's data key still
 * at hand: what reEncrypt writes in place of the old header before the body.
 */
export interface RewrappedHeader {
  readonly old: DecodedHeader;
  /** The new header: its body, then its authentication. */
  readonly bytes: readonly [Uint8Array, Uint8Array];
  /** Hashes what a signed message's old signature covers, to check it at the end. */
  readonly verifier: Verifier | undefined;
  /** Signs the new message (the new header is already in it). */
  readonly signer: Signer | undefined;
}

/**
 * Reads the header from `reader`, unwraps its data key with one of `from`,
 * checks the header under it, wraps it under every key of `to` and builds and
 * authenticates the new header. A signed message gets a new signer, whose
 * public key replaces the old one in the context. The data key is wiped
 * before this returns: the body is copied as it is.
 */
export async function rewrapHeader(reader: ByteReader, options: ReEncryptOptions): Promise<RewrappedHeader> {
  if (options.to.length === 0) throw new UsageError('re-encrypt needs at least one new key (--to)');
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const decoded = await readHeader(reader, limits);
  const old = decoded.header;
  const { suite } = old;
  assertDecryptSuite(options.commitmentPolicy ?? DEFAULT_COMMITMENT_POLICY, suite);
  assertSigningContext(old);

  const { dataKey, keyring } = await unwrapDataKey(options.from, old.encryptedDataKeys, { suite, context: old.context });
  const derived = deriveKeys(suite, dataKey, old.messageId);
  try {
    verifyCommitment(derived, old.commitment);
    const empty = new Uint8Array(0);
    if (!headerTagVerifies(suite, derived.encryptionKey, decoded.auth.iv, decoded.body, empty, decoded.auth.tag)) {
      throw new IntegrityError('header does not authenticate: the message was altered or the data key is wrong');
    }
    options.onHeader?.(old, keyring);

    const verifier = suite.signature ? createVerifier(suite.signature, old.context[PUBLIC_KEY_CONTEXT_KEY]) : undefined;
    const signer = suite.signature ? createSigner(suite.signature) : undefined;
    const context: EncryptionContext = signer ? { ...old.context, [PUBLIC_KEY_CONTEXT_KEY]: signer.publicKey } : old.context;
    const encryptedDataKeys = [];
    for (const k of options.to) encryptedDataKeys.push(await k.wrap(dataKey, { suite, context }));
    const header: MessageHeader = { ...old, context, encryptedDataKeys };
    const body = encodeHeaderBody(header);
    const auth = encodeHeaderAuth(header.version, headerTag(suite, derived.encryptionKey, HEADER_IV, body, empty));
    verifier?.update(decoded.raw);
    signer?.update(body);
    signer?.update(auth);
    return { old: decoded, bytes: [body, auth], verifier, signer };
  } finally {
    wipe(dataKey, derived.encryptionKey, derived.commitment);
  }
}

/**
 * The rest of the message after rewrapHeader: the new header, then the body
 * from `reader` byte for byte (its structure checked as it goes), then a new
 * signature for a signed message, once the old one verified.
 */
export async function* reEncryptBody(reader: ByteReader, rewrapped: RewrappedHeader): AsyncGenerator<Uint8Array> {
  const { verifier, signer } = rewrapped;
  yield* rewrapped.bytes;
  for await (const piece of walkBody(reader, rewrapped.old.header)) {
    verifier?.update(piece);
    signer?.update(piece);
    yield piece;
  }
  if (verifier) verifier.verify(await readSignature(reader));
  await assertEnd(reader);
  if (signer) yield signer.footer();
}

export async function* reEncrypt(input: AsyncIterable<Uint8Array>, options: ReEncryptOptions): AsyncGenerator<Uint8Array> {
  const reader = new ByteReader(input);
  yield* reEncryptBody(reader, await rewrapHeader(reader, options));
}

/**
 * Re-encrypt with a new data key: decrypt and encrypt again, keeping the
 * encryption context and frame length. A committing suite is kept; a legacy
 * (non-committing) message is upgraded to 0x0478, or 0x0578 if it was signed.
 */
export async function* reEncryptWithNewDataKey(
  input: AsyncIterable<Uint8Array>,
  options: ReEncryptOptions,
): AsyncGenerator<Uint8Array> {
  if (options.to.length === 0) throw new UsageError('re-encrypt needs at least one new key (--to)');
  let header: MessageHeader | undefined;
  const plaintext = decrypt(input, {
    keyrings: options.from,
    ...(options.commitmentPolicy ? { commitmentPolicy: options.commitmentPolicy } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    onHeader: (h, k) => {
      header = h;
      options.onHeader?.(h, k);
    },
  });
  const first = await plaintext.next();
  const old = header!;
  const suite = old.suite.committing
    ? old.suite
    : suiteById(old.suite.signature ? DEFAULT_SIGNED_SUITE_ID : DEFAULT_SUITE_ID);
  const context = { ...old.context };
  delete context[PUBLIC_KEY_CONTEXT_KEY];
  yield* encrypt(
    (async function* () {
      if (!first.done) yield first.value;
      yield* plaintext;
    })(),
    { keyrings: options.to, suite, context, frameLength: old.frameLength || DEFAULT_FRAME_LENGTH },
  );
}
