// Key policy (DESIGN §3): the operations a key allows and the encryption-context
// conditions they need. In a file keystore the user can edit, a policy is a
// guard rail against mistakes, not a security boundary.

import { KeyAccessError } from '../errors.js';
import type { EncryptionContext } from '../format/encryption-context.js';
import type { KeyRecord, Operation } from './schema.js';

export function checkPolicy(record: KeyRecord, operation: Operation, context: EncryptionContext | undefined): void {
  const policy = record.Policy;
  if (!policy.allow.includes(operation)) {
    throw new KeyAccessError(`the policy of key ${record.KeyId} does not allow ${operation}`, {
      hints: [`it allows: ${policy.allow.join(', ') || 'nothing'}`],
    });
  }
  if (context === undefined || operation === 'manage' || operation === 'rotate') return;
  for (const condition of policy.requireContext) {
    const value = context[condition.key];
    if (value === undefined || (condition.value !== undefined && value !== condition.value)) {
      const wanted = condition.value === undefined ? condition.key : `${condition.key}=${condition.value}`;
      throw new KeyAccessError(`the policy of key ${record.KeyId} requires encryption context ${wanted}`, {
        hints: [`add -c ${condition.value === undefined ? `${condition.key}=…` : wanted}`],
      });
    }
  }
}
