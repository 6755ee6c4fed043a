// A keystore key as KMS's KeyMetadata on the wire: timestamps in epoch seconds
// (the JSON 1.1 protocol), ARNs of the request's region, KMS's names for key
// specs and origins.

import type { KeyRecord, KeySpec } from '../keystore/schema.js';
import { arnOf } from './key-lookup.js';
import type { RequestScope } from './scope.js';

export function epochSeconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/** KMS calls a 256-bit AES key SYMMETRIC_DEFAULT. */
export function kmsKeySpec(spec: KeySpec): string {
  return spec === 'AES_256' ? 'SYMMETRIC_DEFAULT' : spec;
}

export function encryptionAlgorithms(spec: KeySpec): string[] {
  return spec === 'AES_256' ? ['SYMMETRIC_DEFAULT'] : ['RSAES_OAEP_SHA_256'];
}

export function wireKeyMetadata(scope: RequestScope, record: KeyRecord): Record<string, unknown> {
  const spec = kmsKeySpec(record.KeySpec);
  return {
    AWSAccountId: scope.served.account,
    KeyId: record.KeyId,
    Arn: arnOf(scope, record.KeyId),
    CreationDate: epochSeconds(record.CreationDate),
    Enabled: record.KeyState === 'Enabled',
    Description: record.Description,
    KeyUsage: record.KeyUsage,
    KeyState: record.KeyState,
    ...(record.DeletionDate ? { DeletionDate: epochSeconds(record.DeletionDate) } : {}),
    Origin: record.Origin === 'ENVELOPE' ? 'AWS_KMS' : 'EXTERNAL',
    ...(record.Origin === 'EXTERNAL' ? { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' } : {}),
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: spec,
    KeySpec: spec,
    EncryptionAlgorithms: encryptionAlgorithms(record.KeySpec),
    MultiRegion: !!record.MultiRegion,
    ...(record.MultiRegion ? { MultiRegionConfiguration: multiRegionConfiguration(scope, record) } : {}),
  };
}

/**
 * A multi-region key is served as if replicated to every region: the copy in
 * the server's region is the primary, any other region's is a replica.
 */
function multiRegionConfiguration(scope: RequestScope, record: KeyRecord) {
  const home = scope.served.region;
  return {
    MultiRegionKeyType: scope.region === home ? 'PRIMARY' : 'REPLICA',
    PrimaryKey: { Arn: `arn:aws:kms:${home}:${scope.served.account}:key/${record.KeyId}`, Region: home },
    ReplicaKeys: scope.region === home ? [] : [{ Arn: arnOf(scope, record.KeyId), Region: scope.region }],
  };
}
