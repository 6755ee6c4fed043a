// How served keys are named (AWS KMS resource names):
//
//   arn:aws:kms:REGION:ACCOUNT:key/KEY-ID       KEY-ID a UUID, or mrk- + 32 hex digits
//   arn:aws:kms:REGION:ACCOUNT:alias/NAME
//
// A KeyId parameter takes any of: KEY-ID, a key ARN, alias/NAME, an alias ARN.

export interface ServedArn {
  readonly region: string;
  readonly account: string;
  readonly resource: { readonly kind: 'key'; readonly keyId: string } | { readonly kind: 'alias'; readonly alias: string };
}

export function keyArn(region: string, account: string, keyId: string): string {
  return `arn:aws:kms:${region}:${account}:key/${keyId}`;
}

/** `alias` is `alias/NAME`. */
export function aliasArn(region: string, account: string, alias: string): string {
  return `arn:aws:kms:${region}:${account}:${alias}`;
}

const ARN = /^arn:aws:kms:([a-z0-9-]{1,32}):(\d{12}):(key\/[^\s]+|alias\/[^\s]+)$/;

/** A KMS ARN in the `aws` partition; undefined when `text` is not one. */
export function parseArn(text: string): ServedArn | undefined {
  const m = ARN.exec(text);
  if (!m) return undefined;
  const resource = m[3]!;
  return {
    region: m[1]!,
    account: m[2]!,
    resource: resource.startsWith('key/') ? { kind: 'key', keyId: resource.slice(4) } : { kind: 'alias', alias: resource },
  };
}
