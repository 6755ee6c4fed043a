// What `envelope serve` reads from a request's SigV4 Authorization header:
//
//   AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/kms/aws4_request, SignedHeaders=…, Signature=…
//
// the access key id (for --token-file) and the region the request was signed
// for (which region's keys it sees). The signature itself is not checked: the
// server does not know any secret access key.

export interface SigV4Credential {
  readonly accessKeyId: string;
  readonly region: string;
}

const CREDENTIAL = /(?:^|[\s,])Credential=([^/\s,]{1,128})\/\d{8}\/([a-z0-9-]{1,32})\/kms\/aws4_request(?:[\s,]|$)/;

export function parseSigV4Credential(authorization: string | undefined): SigV4Credential | undefined {
  if (!authorization || !authorization.startsWith('AWS4-HMAC-SHA256 ') || authorization.length > 4096) return undefined;
  const m = CREDENTIAL.exec(authorization.slice('AWS4-HMAC-SHA256 '.length));
  return m ? { accessKeyId: m[1]!, region: m[2]! } : undefined;
}
