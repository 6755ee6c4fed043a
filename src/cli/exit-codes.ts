// The one table from error codes to exit statuses (DESIGN §6).

import type { ErrorCode } from '../errors.js';

export const EXIT_CODES: Readonly<Record<ErrorCode | 'ok' | 'internal', number>> = {
  ok: 0,
  internal: 1,
  usage: 2,
  io: 3,
  format: 4,
  integrity: 5,
  'no-key': 6,
  'key-access': 7,
  'key-service': 8,
  interrupted: 130,
};

/** The exit-code section of --help, README and the man page. */
export const EXIT_CODE_HELP = `Exit codes:
  0    ok
  1    internal error
  2    usage: unknown flag, bad value, conflicting options
  3    I/O: missing file, permission, disk full, output exists
  4    not a valid message: bad magic, unsupported version or suite, over a limit
  5    integrity: tag, commitment, signature, truncation, trailing data, context requirement
  6    no key could unwrap the data key
  7    key access: disabled, pending deletion, policy, access denied
  8    key service unavailable: network, throttled after retries
  130  interrupted`;
