// Constants of the AWS Encryption SDK message format
// (aws-encryption-sdk-specification data-format/message-header.md, message-body.md).

export const MessageVersion = { V1: 0x01, V2: 0x02 } as const;
export type MessageVersion = (typeof MessageVersion)[keyof typeof MessageVersion];

/** Header v1 "type" byte: customer authenticated encrypted data. */
export const V1_MESSAGE_TYPE = 0x80;

export const ContentType = { NonFramed: 0x01, Framed: 0x02 } as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

export const MESSAGE_ID_LENGTH = { [MessageVersion.V1]: 16, [MessageVersion.V2]: 32 } as const;

export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
/** Length of the commitment value carried in a v2 header's algorithm suite data. */
export const COMMITMENT_LENGTH = 32;

/** Sequence number that marks the final frame ("Sequence Number End"). */
export const FINAL_FRAME_MARKER = 0xffffffff;

/** Body AAD content strings (message-body-aad.md). */
export const BodyAadContent = {
  NonFramed: 'AWSKMSEncryptionClient Single Block',
  Frame: 'AWSKMSEncryptionClient Frame',
  FinalFrame: 'AWSKMSEncryptionClient Final Frame',
} as const;

/** Context key under which signed suites carry the signer's public key. */
export const PUBLIC_KEY_CONTEXT_KEY = 'aws-crypto-public-key';
/** Context keys with this prefix are reserved for the format itself. */
export const RESERVED_CONTEXT_PREFIX = 'aws-crypto-';

/** Frame length limits: a frame may not be empty, and 2^32-1 is the largest the field holds. */
export const MAX_FRAME_LENGTH = 0xffffffff;
/** Largest non-framed content the format allows: 2^36 - 32 bytes. */
export const MAX_NON_FRAMED_LENGTH = 2 ** 36 - 32;
/** Largest number of frames in one message (sequence numbers 1 … 2^32-1). */
export const MAX_FRAMES = 0xfffffffe;

/** KDF labels for committing suites (framework/algorithm-suites.md, key derivation). */
export const DERIVE_KEY_LABEL = 'DERIVEKEY';
export const COMMIT_KEY_LABEL = 'COMMITKEY';
