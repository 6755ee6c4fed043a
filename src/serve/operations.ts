// The table of KMS operations `envelope serve` answers (X-Amz-Target
// TrentService.<Operation>). Anything else is UnknownOperationException.

import * as crypto from './crypto-operations.js';
import * as keys from './key-operations.js';
import type { Body } from './params.js';
import type { RequestScope } from './scope.js';

export type Operation = (scope: RequestScope, body: Body) => Promise<Record<string, unknown>>;

export const OPERATIONS: Readonly<Record<string, Operation>> = {
  CreateKey: keys.createKey,
  DescribeKey: keys.describeKey,
  ListKeys: keys.listKeys,
  EnableKey: keys.enable,
  DisableKey: keys.disable,
  ScheduleKeyDeletion: keys.scheduleKeyDeletion,
  CancelKeyDeletion: keys.cancelKeyDeletion,
  CreateAlias: keys.createAlias,
  UpdateAlias: keys.updateAlias,
  DeleteAlias: keys.removeAlias,
  ListAliases: keys.listAliases,
  EnableKeyRotation: keys.enableKeyRotation,
  DisableKeyRotation: keys.disableKeyRotation,
  GetKeyRotationStatus: keys.getKeyRotationStatus,
  RotateKeyOnDemand: keys.rotateKeyOnDemand,
  ListKeyRotations: keys.listKeyRotations,
  TagResource: keys.tagResource,
  UntagResource: keys.untagResource,
  ListResourceTags: keys.listResourceTags,
  GetKeyPolicy: keys.getKeyPolicy,
  PutKeyPolicy: keys.putKeyPolicy,
  Encrypt: crypto.encrypt,
  Decrypt: crypto.decrypt,
  ReEncrypt: crypto.reEncrypt,
  GenerateDataKey: crypto.generateDataKey,
  GenerateDataKeyWithoutPlaintext: crypto.generateDataKeyWithoutPlaintext,
  GenerateRandom: crypto.generateRandom,
  GetPublicKey: crypto.getPublicKey,
};

/** The operation an X-Amz-Target names, or undefined. */
export function operationNamed(target: string | undefined): string | undefined {
  const m = /^TrentService\.([A-Za-z]{1,64})$/.exec(target ?? '');
  return m && Object.hasOwn(OPERATIONS, m[1]!) ? m[1] : undefined;
}
