// Bounds on what a message may make us allocate or call (DESIGN §1, §2).

export interface MessageLimits {
  /** Wrapped data keys in one message; checked before any key is called. */
  readonly maxEncryptedDataKeys: number;
  /** Largest frame (and non-framed body) accepted, in bytes. */
  readonly maxFrameLength: number;
  /** Largest header accepted, in bytes. */
  readonly maxHeaderLength: number;
}

export const DEFAULT_LIMITS: MessageLimits = {
  maxEncryptedDataKeys: 10,
  maxFrameLength: 64 * 1024 * 1024,
  maxHeaderLength: 4 * 1024 * 1024,
};
