// Commitment policies (client-apis/client.md, "Commitment Policy").

import { FormatError, UsageError } from '../errors.js';
import { type AlgorithmSuite, hex4 } from '../format/suites.js';

export const COMMITMENT_POLICIES = [
  'require-encrypt-require-decrypt',
  'require-encrypt-allow-decrypt',
  'forbid-encrypt-allow-decrypt',
] as const;
export type CommitmentPolicy = (typeof COMMITMENT_POLICIES)[number];
export const DEFAULT_COMMITMENT_POLICY: CommitmentPolicy = 'require-encrypt-require-decrypt';

export function assertEncryptSuite(policy: CommitmentPolicy, suite: AlgorithmSuite): void {
  const forbid = policy === 'forbid-encrypt-allow-decrypt';
  if (suite.committing === forbid) {
    throw new UsageError(
      forbid
        ? `commitment policy ${policy} does not allow the committing suite 0x${hex4(suite.id)}`
        : `suite 0x${hex4(suite.id)} does not commit to its key; the commitment policy ${policy} refuses it`,
      { hints: forbid ? [] : ['use a committing suite (0x0478, 0x0578) or --commitment-policy forbid-encrypt-allow-decrypt'] },
    );
  }
}

export function assertDecryptSuite(policy: CommitmentPolicy, suite: AlgorithmSuite): void {
  if (policy === 'require-encrypt-require-decrypt' && !suite.committing) {
    throw new FormatError(`message uses suite 0x${hex4(suite.id)}, which does not commit to its key`, {
      hints: ['an older ESDK wrote it; to read it anyway use --commitment-policy require-encrypt-allow-decrypt'],
    });
  }
}
