// The error vocabulary of envelope. Every failure the core can report is one of
// these classes; each carries a stable `code` that src/cli/exit-codes.ts maps to
// the process exit status (DESIGN §6). Messages are lowercase, without a
// trailing period, and never contain secret material.

export type ErrorCode =
  | 'usage'
  | 'io'
  | 'format'
  | 'integrity'
  | 'no-key'
  | 'key-access'
  | 'key-service'
  | 'interrupted';

export abstract class EnvelopeError extends Error {
  abstract readonly code: ErrorCode;
  /** Extra lines printed as `hint: …` under the error. */
  readonly hints: string[];

  constructor(message: string, options: { hints?: string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.hints = options.hints ?? [];
  }
  override get name(): string {
    return this.constructor.name;
  }
}

/** The command line was wrong: unknown flag, bad value, conflicting options. */
export class UsageError extends EnvelopeError {
  readonly code = 'usage';
}

/** Reading or writing a file or stream failed (missing, permission, disk full). */
export class IoError extends EnvelopeError {
  readonly code = 'io';
}

/** The input is not a message we accept: bad magic, unsupported version or suite, over a limit. */
export class FormatError extends EnvelopeError {
  readonly code = 'format';
}

/** The message fails authentication: tag, commitment, signature, truncation, trailing data, context. */
export class IntegrityError extends EnvelopeError {
  readonly code = 'integrity';
}

/** One attempt to unwrap the data key, as listed in a NoKeyError report. */
export interface UnwrapAttempt {
  key: string;
  reason: string;
}

/** No available master key could unwrap the data key. */
export class NoKeyError extends EnvelopeError {
  readonly code = 'no-key';
  readonly attempts: UnwrapAttempt[];
  constructor(message: string, attempts: UnwrapAttempt[], options: { hints?: string[] } = {}) {
    super(message, {
      hints: [...attempts.map((a) => `${a.key}: ${a.reason}`), ...(options.hints ?? [])],
    });
    this.attempts = attempts;
  }
}

/** A master key exists but may not be used: disabled, pending deletion, policy, access denied. */
export class KeyAccessError extends EnvelopeError {
  readonly code = 'key-access';
}

/** The service holding a master key could not be reached or kept throttling. */
export class KeyServiceError extends EnvelopeError {
  readonly code = 'key-service';
}

/** The user interrupted the operation (SIGINT, SIGTERM). */
export class InterruptedError extends EnvelopeError {
  readonly code = 'interrupted';
}

/**
 * Precondition helper in the style of the ESDK's `needs`: the message is both the
 * error text and the words the tests use.
 */
export function needs<E extends EnvelopeError>(
  condition: unknown,
  make: new (message: string) => E,
  message: string,
): asserts condition {
  if (!condition) throw new make(message);
}

/** Turns a Node.js system error (ENOENT, EACCES, ENOSPC, …) into an IoError that names the path. */
export function ioError(error: unknown, action: string, path: string): EnvelopeError {
  if (error instanceof EnvelopeError) return error;
  return new IoError(`cannot ${action} ${path}: ${systemErrorReason(error)}`, { cause: error });
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
  EIO: 'input/output error',
};

/**
 * What a system error says, in lower case and without the code and system
 * call around it: Node words them "EBUSY: resource busy or locked, open '/a/b'"
 * (the system call, and any path, after the description, which has no such
 * comma of its own), and the one line we print names the action and the file
 * already.
 */
export function systemErrorReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code, syscall } = error as NodeJS.ErrnoException;
  if (code && REASONS[code]) return REASONS[code];
  let text = error.message;
  if (code && text.startsWith(`${code}: `)) text = text.slice(code.length + 2);
  const at = syscall ? text.indexOf(`, ${syscall}`) : -1;
  return (at > 0 ? text.slice(0, at) : text).toLowerCase();
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text that comes from a message (a context key or value, a provider id), made
 * safe to print: control characters become visible escapes, so a hostile
 * message can neither split an error line nor drive the terminal.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
