// Key metadata as `aws kms describe-key` shows it (KeyMetadata field names),
// plus what KMS keeps elsewhere: aliases, backing versions, policy, tags.

import { aliasesOf } from './key-ref.js';
import type { KeyRecord, StoreFile } from './schema.js';

export function keyMetadata(store: StoreFile, record: KeyRecord) {
  return {
    KeyId: record.KeyId,
    Arn: record.Arn,
    CreationDate: record.CreationDate,
    Enabled: record.KeyState === 'Enabled',
    Description: record.Description,
    KeyUsage: record.KeyUsage,
    KeyState: record.KeyState,
    ...(record.DeletionDate ? { DeletionDate: record.DeletionDate } : {}),
    Origin: record.Origin,
    KeyManager: 'CUSTOMER',
    KeySpec: record.KeySpec,
    EncryptionAlgorithms: record.KeySpec === 'AES_256' ? ['SYMMETRIC_DEFAULT'] : ['RSAES_OAEP_SHA_256'],
    KeyRotationStatus: {
      KeyRotationEnabled: record.Rotation.Enabled,
      ...(record.Rotation.Enabled ? { RotationPeriodInDays: record.Rotation.PeriodDays } : {}),
      ...(record.Rotation.NextRotationDate && record.Rotation.Enabled ? { NextRotationDate: record.Rotation.NextRotationDate } : {}),
    },
    Exportable: record.Exportable,
    MultiRegion: !!record.MultiRegion,
    Aliases: aliasesOf(store, record.KeyId),
    Tags: Object.entries(record.Tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
    PrimaryVersion: record.PrimaryVersion,
    Versions: record.Versions.map((v) => ({
      Version: v.Version,
      CreationDate: v.CreationDate,
      Origin: v.Origin,
      Primary: v.Version === record.PrimaryVersion,
      ...(v.Material ? {} : { Destroyed: true }),
    })),
    Policy: { Allow: [...record.Policy.allow], RequireContext: record.Policy.requireContext.map((c) => ({ ...c })) },
  };
}

export type KeyMetadata = ReturnType<typeof keyMetadata>;
