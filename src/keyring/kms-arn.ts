// AWS KMS key identifiers as the ESDK reads them (aws-encryption-sdk-specification,
// framework/aws-kms/aws-kms-key-arn.md and aws-kms-mrk-match-for-decrypt.md):
//
//   arn:PARTITION:kms:REGION:ACCOUNT:key/KEY-ID      a key ARN (KEY-ID `mrk-…`: a multi-Region key)
//   arn:PARTITION:kms:REGION:ACCOUNT:alias/NAME      an alias ARN
//   alias/NAME                                        an alias, in the configured region
//   KEY-ID                                            a key id, in the configured region
//
// Provider info of a KMS wrapped key is the key ARN KMS answered with, so this
// also parses text from untrusted messages: it is bounded before it is split.

const KMS_SERVICE = 'kms';
const MRK_PREFIX = 'mrk-';
/** KMS's own limit on a KeyId parameter (API_Decrypt.html: KeyId, 1-2048 characters). */
export const MAX_KMS_IDENTIFIER_LENGTH = 2048;

export interface KmsArn {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly resourceType: 'key' | 'alias';
  /** The key id, or the alias name without `alias/`. */
  readonly resourceId: string;
  /** The ARN as written. */
  readonly text: string;
}

export type KmsIdentifier =
  | { readonly kind: 'arn'; readonly arn: KmsArn; readonly text: string }
  | { readonly kind: 'alias'; readonly text: string }
  | { readonly kind: 'key-id'; readonly text: string };

/**
 * A valid AWS KMS ARN (aws-kms-key-arn.md "A valid AWS KMS ARN"): six parts
 * split by `:`, `arn`, a non-empty partition, `kms`, non-empty region and
 * account, and a resource `key/ID` or `alias/NAME` split at its first `/`.
 * Undefined when `text` is not one; the reason is `explainKmsArn`'s.
 */
export function parseKmsArn(text: string): KmsArn | undefined {
  const read = readKmsArn(text);
  return typeof read === 'string' ? undefined : read;
}

/** Why `text` is not a valid AWS KMS ARN, or undefined when it is one. */
export function explainKmsArn(text: string): string | undefined {
  const read = readKmsArn(text);
  return typeof read === 'string' ? read : undefined;
}

function readKmsArn(text: string): KmsArn | string {
  if (text.length > MAX_KMS_IDENTIFIER_LENGTH) return `longer than ${MAX_KMS_IDENTIFIER_LENGTH} characters`;
  const parts = text.split(':');
  if (parts.length !== 6) return 'an ARN has six parts separated by ":"';
  const [arn, partition, service, region, account, resource] = parts as [string, string, string, string, string, string];
  if (arn !== 'arn') return 'it does not start with "arn:"';
  if (!partition) return 'the partition is empty';
  if (service !== KMS_SERVICE) return `the service is "${service}", not "kms"`;
  if (!region) return 'the region is empty';
  if (!account) return 'the account is empty';
  const slash = resource.indexOf('/');
  const resourceType = slash < 0 ? resource : resource.slice(0, slash);
  const resourceId = slash < 0 ? '' : resource.slice(slash + 1);
  if (resourceType !== 'key' && resourceType !== 'alias') return 'the resource is neither key/ID nor alias/NAME';
  if (!resourceId) return `the ${resourceType} ${resourceType === 'key' ? 'id' : 'name'} is empty`;
  return { partition, region, account, resourceType, resourceId, text };
}

/**
 * A valid AWS KMS identifier (aws-kms-key-arn.md "A valid AWS KMS identifier"):
 * an ARN, an alias `alias/NAME`, or a key id; an identifier that is not an ARN
 * has no `:` (the ESDK's parseAwsKmsResource), and a key id has no `/`.
 */
export function parseKmsIdentifier(text: string): KmsIdentifier | undefined {
  if (!text || text.length > MAX_KMS_IDENTIFIER_LENGTH) return undefined;
  if (text.startsWith('arn:')) {
    const arn = parseKmsArn(text);
    return arn ? { kind: 'arn', arn, text } : undefined;
  }
  if (text.includes(':')) return undefined;
  if (text.startsWith('alias/')) return text.length > 'alias/'.length ? { kind: 'alias', text } : undefined;
  return text.includes('/') ? undefined : { kind: 'key-id', text };
}

/** aws-kms-key-arn.md "Identifying an AWS KMS multi-Region ARN": a key ARN whose id starts with `mrk-`. */
export function isMultiRegionArn(arn: KmsArn): boolean {
  return arn.resourceType === 'key' && arn.resourceId.startsWith(MRK_PREFIX);
}

/**
 * aws-kms-key-arn.md "Identifying an AWS KMS multi-Region identifier": an ARN
 * as above; an alias never (even one named `mrk-…`); a key id starting `mrk-`.
 */
export function isMultiRegionIdentifier(text: string): boolean {
  if (text.startsWith('arn:')) {
    const arn = parseKmsArn(text);
    return arn !== undefined && isMultiRegionArn(arn);
  }
  if (text.startsWith('alias/')) return false;
  return text.startsWith(MRK_PREFIX);
}

/**
 * aws-kms-mrk-match-for-decrypt.md: two identifiers match when they are
 * identical, or when both are multi-Region key ARNs equal in every part but
 * the region (a replica of the same key). Aliases and key ids match only
 * themselves, so they can never select a wrapped key, which records a key ARN.
 */
export function mrkMatch(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseKmsArn(a);
  const y = parseKmsArn(b);
  if (!x || !y || !isMultiRegionArn(x) || !isMultiRegionArn(y)) return false;
  return x.partition === y.partition && x.account === y.account && x.resourceType === y.resourceType && x.resourceId === y.resourceId;
}

/** The ARN of the same multi-Region key in another region (the ESDK's constructArnInOtherRegion). */
export function arnInRegion(arn: KmsArn, region: string): string {
  if (!isMultiRegionArn(arn)) throw new Error('only a multi-Region key ARN has replicas in other regions');
  return `arn:${arn.partition}:${KMS_SERVICE}:${region}:${arn.account}:key/${arn.resourceId}`;
}
