// The errors of the AWS KMS JSON 1.1 API as `envelope serve` answers them: an
// HTTP status, a `__type` that SDKs turn into their exception classes, and a
// message. Our own error vocabulary (src/errors.ts) maps onto them here, once.

import { EnvelopeError, IntegrityError, FormatError, KeyAccessError, KeyServiceError, NoKeyError } from '../errors.js';
import { BlobIntegrityError } from '../keystore/blob.js';
import { KeyStateError } from '../keystore/keystore.js';

export type KmsErrorType =
  | 'AccessDeniedException'
  | 'AlreadyExistsException'
  | 'DisabledException'
  | 'IncorrectKeyException'
  | 'InvalidAliasNameException'
  | 'InvalidCiphertextException'
  | 'InvalidKeyUsageException'
  | 'InvalidMarkerException'
  | 'KMSInternalException'
  | 'KMSInvalidStateException'
  | 'LimitExceededException'
  | 'MalformedPolicyDocumentException'
  | 'NotFoundException'
  | 'SerializationException'
  | 'TagException'
  | 'ThrottlingException'
  | 'UnknownOperationException'
  | 'UnsupportedOperationException'
  | 'ValidationException'
  | 'RequestEntityTooLargeException';

export class KmsError extends Error {
  constructor(
    readonly type: KmsErrorType,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export const notFound = (message: string) => new KmsError('NotFoundException', message);
export const invalid = (message: string) => new KmsError('ValidationException', message);

/**
 * Our errors as KMS names them. Key state refusals are DisabledException or
 * KMSInvalidStateException, policy refusals AccessDeniedException, a blob that
 * does not authenticate (wrong encryption context included) is
 * InvalidCiphertextException, as KMS answers. Anything else is a bug of ours:
 * KMSInternalException, 500.
 */
export function toKmsError(error: unknown): KmsError {
  if (error instanceof KmsError) return error;
  if (error instanceof KeyStateError) {
    const state = { Enabled: 'enabled', Disabled: 'disabled', PendingDeletion: 'pending deletion', PendingImport: 'pending import' }[error.state];
    return new KmsError(error.state === 'Disabled' ? 'DisabledException' : 'KMSInvalidStateException', `Key ${error.keyId} is ${state}.`);
  }
  if (error instanceof BlobIntegrityError || error instanceof FormatError) {
    return new KmsError('InvalidCiphertextException', 'The ciphertext does not authenticate, or was not made by this service.');
  }
  if (error instanceof KeyAccessError) return new KmsError('AccessDeniedException', sentence(error.message));
  if (error instanceof NoKeyError) return notFound(sentence(error.message));
  if (error instanceof KeyServiceError) return new KmsError('KMSInternalException', sentence(error.message), 500);
  if (error instanceof IntegrityError) return new KmsError('KMSInternalException', sentence(error.message), 500);
  if (error instanceof EnvelopeError && error.code === 'usage') return invalid(sentence(error.message));
  return new KmsError('KMSInternalException', 'An internal error occurred.', 500);
}

/** KMS messages are sentences; ours are lowercase phrases. */
function sentence(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}
