// Message header codec (aws-encryption-sdk-specification data-format/message-header.md).
//
// Version 1 (non-committing suites)         Version 2 (committing suites)
//   off  len  field                           off  len  field
//   0    1    version 0x01                    0    1    version 0x02
//   1    1    type 0x80                       1    2    algorithm suite id
//   2    2    algorithm suite id              3    32   message id
//   4    16   message id                      35   2    AAD length (0 = no context)
//   20   2    AAD length (0 = no context)     37   …    AAD (encryption-context.ts)
//   22   …    AAD (encryption-context.ts)     …    2    encrypted data key count (≥ 1)
//   …    2    encrypted data key count (≥ 1)  …    …    encrypted data keys (below)
//   …    …    encrypted data keys (below)     …    1    content type (1 non-framed, 2 framed)
//   …    1    content type                    …    4    frame length
//   …    4    reserved, 0                     …    32   algorithm suite data: commitment
//   …    1    IV length, 12                   ---- header authentication ----
//   …    4    frame length                    …    16   tag (IV is 12 zero bytes, not written)
//   ---- header authentication ----
//   …    12   IV
//   …    16   tag
//
// Encrypted data key: provider id length (2) | provider id (UTF-8) |
//   provider info length (2) | provider info | ciphertext length (2) | ciphertext
//
// The tag authenticates, with an empty plaintext, the header body followed by the
// serialized "encryption context to only authenticate" (required context that is
// not stored in the header).

import { FormatError } from '../errors.js';
import { ByteBuilder, ByteCursor, decodeUtf8, NeedMoreData, utf8 } from './bytes.js';
import {
  COMMITMENT_LENGTH,
  ContentType,
  IV_LENGTH,
  MESSAGE_ID_LENGTH,
  MessageVersion,
  TAG_LENGTH,
  V1_MESSAGE_TYPE,
} from './constants.js';
import { type EncryptionContext, parseContext, serializeContext } from './encryption-context.js';
import { type AlgorithmSuite, hex4, suiteById } from './suites.js';

export interface EncryptedDataKey {
  /** Who can unwrap it: a raw keyring's namespace, `aws-kms`, `envelope-local`. */
  readonly providerId: string;
  /** Provider-specific: a key name with wrapping parameters, a KMS key ARN. */
  readonly providerInfo: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export interface MessageHeader {
  readonly version: MessageVersion;
  readonly suite: AlgorithmSuite;
  readonly messageId: Uint8Array;
  readonly context: EncryptionContext;
  readonly encryptedDataKeys: readonly EncryptedDataKey[];
  readonly contentType: ContentType;
  /** Plaintext bytes per frame; 0 for a non-framed body. */
  readonly frameLength: number;
  /** v2 only: the key commitment value. */
  readonly commitment?: Uint8Array;
}

export interface HeaderAuthentication {
  readonly iv: Uint8Array;
  readonly tag: Uint8Array;
}

export interface DecodedHeader {
  readonly header: MessageHeader;
  /** The serialized header body: the bytes the header tag authenticates. */
  readonly body: Uint8Array;
  readonly auth: HeaderAuthentication;
  /** The whole serialized header: body and authentication. */
  readonly raw: Uint8Array;
  /** Bytes consumed: body plus authentication. */
  readonly length: number;
}

export interface HeaderLimits {
  /** Refuse messages with more wrapped data keys than this, before reading them. */
  readonly maxEncryptedDataKeys: number;
  /** Refuse framed messages whose frame length exceeds this. */
  readonly maxFrameLength: number;
}

const ZERO_IV = new Uint8Array(IV_LENGTH);

/**
 * Decodes a header from the start of `bytes`. Returns undefined when `bytes` is a
 * valid prefix that ends too soon.
 */
export function decodeHeader(bytes: Uint8Array, limits: HeaderLimits): DecodedHeader | undefined {
  const step = decodeHeaderStep(bytes, limits, newHeaderProgress());
  return 'decoded' in step ? step.decoded : undefined;
}

/**
 * What a streaming decode has read so far: the fixed prefix and the wrapped keys
 * already complete. With it, each attempt resumes where the last one stopped, so
 * a header that arrives in many small pieces is read in linear time.
 */
export interface HeaderProgress {
  prefix?: HeaderPrefix;
  readonly encryptedDataKeys: EncryptedDataKey[];
  /** Where the next unread field starts. */
  offset: number;
}

interface HeaderPrefix {
  readonly version: MessageVersion;
  readonly suite: AlgorithmSuite;
  readonly messageId: Uint8Array;
  readonly context: EncryptionContext;
  readonly edkCount: number;
}

export function newHeaderProgress(): HeaderProgress {
  return { encryptedDataKeys: [], offset: 0 };
}

/** One attempt: the header, or how many bytes of input it needs before the next attempt. */
export function decodeHeaderStep(
  bytes: Uint8Array,
  limits: HeaderLimits,
  progress: HeaderProgress,
): { decoded: DecodedHeader } | { needed: number } {
  const c = new ByteCursor(bytes);
  c.offset = progress.offset;
  try {
    if (!progress.prefix) {
      progress.prefix = readPrefix(c, limits);
      progress.offset = c.offset;
    }
    while (progress.encryptedDataKeys.length < progress.prefix.edkCount) {
      progress.encryptedDataKeys.push(readEncryptedDataKey(c));
      progress.offset = c.offset;
    }
    return { decoded: readRest(c, limits, progress.prefix, progress.encryptedDataKeys) };
  } catch (e) {
    if (e instanceof NeedMoreData) return { needed: e.needed };
    throw e;
  }
}

function readPrefix(c: ByteCursor, limits: HeaderLimits): HeaderPrefix {
  const version = c.u8();
  if (version !== MessageVersion.V1 && version !== MessageVersion.V2) {
    throw new FormatError(
      version === 0x41 || version === 0x0a
        ? 'not an encrypted message (it looks like text)'
        : `not an encrypted message (unknown version byte 0x${version.toString(16).padStart(2, '0')})`,
    );
  }
  if (version === MessageVersion.V1) {
    const type = c.u8();
    if (type !== V1_MESSAGE_TYPE) throw new FormatError(`unsupported message type 0x${type.toString(16)}`);
  }
  const suite = suiteById(c.u16());
  if (suite.messageVersion !== version) {
    throw new FormatError(`algorithm suite 0x${hex4(suite.id)} cannot appear in a version ${version} header`);
  }
  const messageId = c.take(MESSAGE_ID_LENGTH[version]);
  const context = parseContext(c.take(c.u16()));

  const edkCount = c.u16();
  if (edkCount === 0) throw new FormatError('message has no encrypted data keys');
  if (edkCount > limits.maxEncryptedDataKeys) {
    throw new FormatError(
      `message has ${edkCount} encrypted data keys, more than the limit of ${limits.maxEncryptedDataKeys}`,
      { hints: ['raise it with --max-encrypted-data-keys if you trust the sender'] },
    );
  }
  return { version, suite, messageId, context, edkCount };
}

function readEncryptedDataKey(c: ByteCursor): EncryptedDataKey {
  const providerId = decodeUtf8(c.take(c.u16()));
  if (providerId === undefined) throw new FormatError('an encrypted data key has a provider id that is not UTF-8');
  const providerInfo = c.take(c.u16());
  const ciphertext = c.take(c.u16());
  return { providerId, providerInfo, ciphertext };
}

function readRest(
  c: ByteCursor,
  limits: HeaderLimits,
  { version, suite, messageId, context }: HeaderPrefix,
  encryptedDataKeys: readonly EncryptedDataKey[],
): DecodedHeader {
  const contentType = c.u8();
  if (contentType !== ContentType.Framed && contentType !== ContentType.NonFramed) {
    throw new FormatError(`unknown content type ${contentType}`);
  }
  if (version === MessageVersion.V1) {
    if (c.u32() !== 0) throw new FormatError('reserved header field is not zero');
    const ivLength = c.u8();
    if (ivLength !== IV_LENGTH) throw new FormatError(`header IV length is ${ivLength}, not ${IV_LENGTH}`);
  }
  const frameLength = c.u32();
  if (contentType === ContentType.Framed) {
    if (frameLength === 0) throw new FormatError('framed message with a frame length of 0');
    if (frameLength > limits.maxFrameLength) {
      throw new FormatError(`frame length ${frameLength} is over the limit of ${limits.maxFrameLength} bytes`, {
        hints: ['raise it with --max-frame-size if you trust the sender'],
      });
    }
  } else if (frameLength !== 0) {
    throw new FormatError('non-framed message with a non-zero frame length');
  }
  const commitment = version === MessageVersion.V2 ? c.take(COMMITMENT_LENGTH) : undefined;
  const bodyEnd = c.offset;
  const iv = version === MessageVersion.V1 ? c.take(IV_LENGTH) : ZERO_IV;
  const tag = c.take(TAG_LENGTH);

  const header: MessageHeader = {
    version,
    suite,
    messageId,
    context,
    encryptedDataKeys: [...encryptedDataKeys],
    contentType,
    frameLength,
    ...(commitment ? { commitment } : {}),
  };
  return {
    header,
    body: c.bytes.subarray(0, bodyEnd),
    auth: { iv, tag },
    raw: c.bytes.subarray(0, c.offset),
    length: c.offset,
  };
}

/** Serializes the header body (everything the header tag covers). */
export function encodeHeaderBody(h: MessageHeader): Uint8Array {
  const b = new ByteBuilder().u8(h.version);
  if (h.version === MessageVersion.V1) b.u8(V1_MESSAGE_TYPE);
  b.u16(h.suite.id).raw(h.messageId).short(serializeContext(h.context)).u16(h.encryptedDataKeys.length);
  for (const edk of h.encryptedDataKeys) {
    b.short(utf8.encode(edk.providerId)).short(edk.providerInfo).short(edk.ciphertext);
  }
  b.u8(h.contentType);
  if (h.version === MessageVersion.V1) b.u32(0).u8(IV_LENGTH);
  b.u32(h.frameLength);
  if (h.version === MessageVersion.V2) {
    if (h.commitment?.length !== COMMITMENT_LENGTH) throw new Error('v2 header needs a 32-byte commitment');
    b.raw(h.commitment);
  }
  return b.build();
}

/** Serializes the header authentication that follows the body. */
export function encodeHeaderAuth(version: MessageVersion, tag: Uint8Array): Uint8Array {
  if (version === MessageVersion.V2) return tag;
  return new ByteBuilder().raw(ZERO_IV).raw(tag).build();
}

/** The IV of the header tag: written in v1 (always zeros from us), implicit zeros in v2. */
export const HEADER_IV = ZERO_IV;
