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

/** Every exit status and what it means, in order: --help, README and the man page say these words. */
export const EXIT_STATUS_TABLE: readonly { readonly code: number; readonly meaning: string }[] = [
  { code: EXIT_CODES.ok, meaning: 'ok' },
  { code: EXIT_CODES.internal, meaning: 'internal error' },
  { code: EXIT_CODES.usage, meaning: 'usage: unknown flag, bad value, conflicting options' },
  { code: EXIT_CODES.io, meaning: 'I/O: missing file, permission, disk full, output exists' },
  { code: EXIT_CODES.format, meaning: 'not a valid message: bad magic, unsupported version or suite, over a limit' },
  { code: EXIT_CODES.integrity, meaning: 'integrity: tag, commitment, signature, truncation, trailing data, context requirement' },
  { code: EXIT_CODES['no-key'], meaning: 'no key could unwrap the data key' },
  { code: EXIT_CODES['key-access'], meaning: 'key access: disabled, pending deletion, policy, access denied' },
  { code: EXIT_CODES['key-service'], meaning: 'key service unavailable: network, throttled after retries' },
  { code: EXIT_CODES.interrupted, meaning: 'interrupted' },
];

/** The exit-code section of --help, README and the man page. */
export const EXIT_CODE_HELP = `Exit codes:\n${EXIT_STATUS_TABLE.map(({ code, meaning }) => `  ${String(code).padEnd(5)}${meaning}`).join('\n')}`;
