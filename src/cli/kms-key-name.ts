// Which key names on the command line are AWS KMS keys (DESIGN §2). keys.ts
// and kms.ts ask on every run whether to import their KMS side (which loads
// the SDK), so this module imports nothing.

/** `kms:…` or an ARN of the kms service (any partition), as the keyring registry reads -k. */
const KMS_NAME = /^(kms:|arn:[^:]+:kms:)/;

export function isKmsKeyName(name: string | undefined): boolean {
  return name !== undefined && KMS_NAME.test(name);
}

/** Whether a command is for AWS KMS: --kms, or a key it names is a KMS key. */
export function wantsKms(flags: { kms?: boolean }, ...names: (string | undefined)[]): boolean {
  return !!flags.kms || names.some(isKmsKeyName);
}
