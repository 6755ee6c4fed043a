// The AWS KMS client (DESIGN §4). src/aws is the only place that imports the
// AWS SDK, and callers reach it with `await import()`, so the SDK's ~2 MB is
// read only when a KMS key is in play. Credentials come from the SDK's default
// chain (environment, profiles, SSO, IMDS/ECS); the endpoint from the SDK's
// own AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL; retries from its own settings:
// standard mode (exponential backoff with jitter on throttling) unless
// AWS_RETRY_MODE says adaptive, AWS_MAX_ATTEMPTS or three attempts.

import { KMSClient } from '@aws-sdk/client-kms';
import {
  EnvelopeError,
  KeyAccessError,
  KeyServiceError,
  NoKeyError,
  printable,
  UsageError,
} from '../errors.js';

export interface KmsClientSettings {
  /** --region, else the config's region; undefined leaves it to the SDK (AWS_REGION, the profile). */
  readonly region?: string;
  /** --profile, else the config's profile; undefined leaves it to the SDK (AWS_PROFILE, default). */
  readonly profile?: string;
}

const clients = new Map<string, KMSClient>();

/** One client per region and profile for the whole invocation, so connections are reused. */
export function kmsClient(settings: KmsClientSettings): KMSClient {
  const id = `${settings.region ?? ''}\0${settings.profile ?? ''}`;
  let client = clients.get(id);
  if (!client) {
    client = withoutSdkNodeWarning(
      () =>
        new KMSClient({
          ...(settings.region ? { region: settings.region } : {}),
          ...(settings.profile ? { profile: settings.profile } : {}),
          // A server that never answers must not hang a deploy step.
          requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
        }),
    );
    clients.set(id, client);
  }
  return client;
}

/** Closes the clients' sockets, so the process can exit as soon as its work is done. */
export function closeKmsClients(): void {
  for (const client of clients.values()) client.destroy();
  clients.clear();
}

/**
 * The SDK warns on stderr about Node versions it will drop in future releases;
 * envelope supports Node 20.19+ and says so itself, and a warning on stderr
 * would land in every script's logs. The switch is the SDK's own.
 */
function withoutSdkNodeWarning<T>(make: () => T): T {
  const name = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
  const before = process.env[name];
  process.env[name] = 'true';
  try {
    return make();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

const ACCESS = new Set([
  'AccessDeniedException',
  'DisabledException',
  'KMSInvalidStateException',
  'InvalidGrantTokenException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
]);

const SERVICE = new Set([
  'ThrottlingException',
  'LimitExceededException',
  'KMSInternalException',
  'KeyUnavailableException',
  'DependencyTimeoutException',
  'ServiceUnavailableException',
  'InternalFailure',
  'TimeoutError',
  'RequestTimeout',
]);

/** Why a wrapped key did not open under this KMS key: ordinary "not this key" answers. */
const NOT_THIS_KEY = new Set(['InvalidCiphertextException', 'IncorrectKeyException', 'InvalidKeyUsageException']);

const NETWORK = /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE)$/;

/**
 * Maps an error from the SDK to the error vocabulary (DESIGN §6): access → 7,
 * not found → 6, service or network after the SDK's retries → 8, KMS rejecting
 * the parameters → 2. `key` names the key in the one line the user sees, with
 * the KMS error code beside it.
 */
export function kmsError(error: unknown, key: string): EnvelopeError {
  if (error instanceof EnvelopeError) return error;
  const e = error as { name?: string; code?: string; message?: string; $metadata?: { attempts?: number } };
  const name = e?.name ?? 'Error';
  const text = printable(String(e?.message ?? error).split('\n')[0]!.replace(/\.$/, ''));
  const attempts = e?.$metadata?.attempts;
  const tries = attempts && attempts > 1 ? ` after ${attempts} attempts` : '';
  if (name === 'CredentialsProviderError') {
    return new KeyAccessError(`kms key ${key}: no AWS credentials (${text.toLowerCase()})`, {
      cause: error,
      hints: ['set AWS_PROFILE or use --profile, run aws configure or aws sso login, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY'],
    });
  }
  // AWS_REGION set but empty reaches the SDK as the region "": no region either.
  if (/region is missing|region not accepted: region="" /i.test(text)) {
    return new UsageError(`kms key ${key}: no AWS region`, {
      cause: error,
      hints: ['give the key as a full ARN, or set --region, AWS_REGION or the config\'s region'],
    });
  }
  if (/region not accepted/i.test(text)) return new UsageError(`kms key ${key}: ${text}`, { cause: error });
  if (ACCESS.has(name)) return new KeyAccessError(`kms key ${key}: ${name}: ${text}`, { cause: error });
  if (name === 'NotFoundException') {
    return new NoKeyError(`kms key ${key}: ${name}: ${text}`, [], { hints: ['check the key id, alias and region'] });
  }
  if (NOT_THIS_KEY.has(name)) return new NoKeyError(`kms key ${key}: ${name}: ${text}`, []);
  const code = e?.code ?? (error as { cause?: { code?: string } })?.cause?.code;
  if (SERVICE.has(name) || (code && NETWORK.test(code)) || (e as { $fault?: string }).$fault === 'server') {
    return new KeyServiceError(`kms key ${key}: ${code && NETWORK.test(code) ? code : name}${tries}: ${text}`, {
      cause: error,
      hints: ['AWS KMS could not be reached or kept refusing: try again later'],
    });
  }
  if (name === 'ValidationException' || name === 'InvalidArnException') {
    return new UsageError(`kms key ${key}: ${name}: ${text}`, { cause: error });
  }
  return new KeyServiceError(`kms key ${key}: ${name}: ${text}`, { cause: error });
}
