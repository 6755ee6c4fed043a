// The pure parts of the AWS KMS keyrings: identifiers as the ESDK reads them
// (aws-kms-key-arn.md), the multi-Region key match (aws-kms-mrk-match-for-decrypt.md),
// which wrapped keys each keyring claims, and the hints when none does. No
// KMS is called here: test/kms-keyring.test.ts calls one over HTTP.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../src/errors.js';
import { utf8 } from '../src/format/bytes.js';
import type { EncryptedDataKey } from '../src/format/header.js';
import { suiteById, DEFAULT_SUITE_ID } from '../src/format/suites.js';
import {
  arnInRegion,
  explainKmsArn,
  isMultiRegionArn,
  isMultiRegionIdentifier,
  mrkMatch,
  parseKmsArn,
  parseKmsIdentifier,
} from '../src/keyring/kms-arn.js';
import { KmsDiscoveryKeyring, KmsKeyring, type KmsServices, unclaimedKmsHints } from '../src/keyring/kms.js';
import { REPO_ROOT } from './helpers.js';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const MRK_EAST = 'arn:aws:kms:us-east-1:111122223333:key/mrk-4321abcd12ab34cd56ef1234567890ab';
const MRK_WEST = 'arn:aws:kms:us-west-2:111122223333:key/mrk-4321abcd12ab34cd56ef1234567890ab';

describe('parsing KMS ARNs', () => {
  it('reads a key ARN into its parts', () => {
    expect(parseKmsArn(KEY)).toEqual({
      partition: 'aws',
      region: 'us-east-1',
      account: '111122223333',
      resourceType: 'key',
      resourceId: '1234abcd-12ab-34cd-56ef-1234567890ab',
      text: KEY,
    });
  });

  it('reads alias ARNs, keeping every "/" after the first in the alias name', () => {
    const arn = parseKmsArn('arn:aws:kms:eu-west-1:111122223333:alias/team/prod');
    expect(arn?.resourceType).toBe('alias');
    expect(arn?.resourceId).toBe('team/prod');
  });

  it.each(['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b'])('takes the %s partition', (partition) => {
    expect(parseKmsArn(`arn:${partition}:kms:r-1:111122223333:key/k`)?.partition).toBe(partition);
  });

  it.each([
    ['arn:aws:kms:us-east-1:111122223333', 'six parts'],
    ['arn:aws:kms:us-east-1:111122223333:key/k:extra', 'six parts'],
    ['arx:aws:kms:us-east-1:111122223333:key/k', 'start with "arn:"'],
    ['arn::kms:us-east-1:111122223333:key/k', 'partition is empty'],
    ['arn:aws:s3:us-east-1:111122223333:key/k', 'not "kms"'],
    ['arn:aws:kms::111122223333:key/k', 'region is empty'],
    ['arn:aws:kms:us-east-1::key/k', 'account is empty'],
    ['arn:aws:kms:us-east-1:111122223333:grant/k', 'neither key/ID nor alias/NAME'],
    ['arn:aws:kms:us-east-1:111122223333:key', 'key id is empty'],
    ['arn:aws:kms:us-east-1:111122223333:key/', 'key id is empty'],
    ['arn:aws:kms:us-east-1:111122223333:alias/', 'alias name is empty'],
    [`arn:aws:kms:us-east-1:111122223333:key/${'k'.repeat(2100)}`, 'longer than 2048'],
  ])('refuses %s: %s', (text, why) => {
    expect(parseKmsArn(text)).toBeUndefined();
    expect(explainKmsArn(text)).toContain(why);
  });
});

describe('parsing KMS identifiers', () => {
  it('tells ARNs, aliases and key ids apart', () => {
    expect(parseKmsIdentifier(KEY)?.kind).toBe('arn');
    expect(parseKmsIdentifier('alias/backups')).toEqual({ kind: 'alias', text: 'alias/backups' });
    expect(parseKmsIdentifier('alias/a/b')?.kind).toBe('alias');
    expect(parseKmsIdentifier('1234abcd-12ab-34cd-56ef-1234567890ab')?.kind).toBe('key-id');
    expect(parseKmsIdentifier('mrk-4321abcd12ab34cd56ef1234567890ab')?.kind).toBe('key-id');
  });

  it.each(['', 'alias/', 'a:b', 'key/abc', 'arn:aws:kms:us-east-1:111122223333:key/'])('refuses "%s"', (text) => {
    expect(parseKmsIdentifier(text)).toBeUndefined();
  });
});

describe('multi-Region keys', () => {
  it('are key ARNs and key ids starting mrk-, never aliases', () => {
    expect(isMultiRegionArn(parseKmsArn(MRK_EAST)!)).toBe(true);
    expect(isMultiRegionArn(parseKmsArn(KEY)!)).toBe(false);
    expect(isMultiRegionArn(parseKmsArn('arn:aws:kms:us-east-1:111122223333:alias/mrk-looks-like-one')!)).toBe(false);
    expect(isMultiRegionIdentifier('mrk-4321abcd12ab34cd56ef1234567890ab')).toBe(true);
    expect(isMultiRegionIdentifier('alias/mrk-4321')).toBe(false);
    expect(isMultiRegionIdentifier(MRK_WEST)).toBe(true);
    expect(isMultiRegionIdentifier(KEY)).toBe(false);
    expect(isMultiRegionIdentifier('1234abcd-12ab-34cd-56ef-1234567890ab')).toBe(false);
  });

  it('have the same ARN in another region but for the region', () => {
    expect(arnInRegion(parseKmsArn(MRK_EAST)!, 'us-west-2')).toBe(MRK_WEST);
    expect(() => arnInRegion(parseKmsArn(KEY)!, 'us-west-2')).toThrow(/multi-Region/);
  });
});

describe('MRK match for decrypt', () => {
  it('matches identical identifiers, whatever they are', () => {
    expect(mrkMatch(KEY, KEY)).toBe(true);
    expect(mrkMatch('alias/x', 'alias/x')).toBe(true);
  });

  it('matches replicas of one multi-Region key in any region', () => {
    expect(mrkMatch(MRK_EAST, MRK_WEST)).toBe(true);
    expect(mrkMatch(MRK_WEST, MRK_EAST)).toBe(true);
  });

  it('does not match a multi-Region key of another account, partition or id', () => {
    expect(mrkMatch(MRK_EAST, MRK_WEST.replace('111122223333', '444455556666'))).toBe(false);
    expect(mrkMatch(MRK_EAST, MRK_WEST.replace('arn:aws:', 'arn:aws-cn:'))).toBe(false);
    expect(mrkMatch(MRK_EAST, MRK_WEST.replace('mrk-4321', 'mrk-9999'))).toBe(false);
  });

  it('does not match a single-Region key in another region, nor an alias or key id with an ARN', () => {
    expect(mrkMatch(KEY, KEY.replace('us-east-1', 'us-west-2'))).toBe(false);
    expect(mrkMatch(MRK_EAST, KEY)).toBe(false);
    expect(mrkMatch('alias/x', 'arn:aws:kms:us-east-1:111122223333:alias/x')).toBe(false);
    expect(mrkMatch('mrk-4321abcd12ab34cd56ef1234567890ab', MRK_EAST)).toBe(false);
    expect(mrkMatch('not an arn', MRK_EAST)).toBe(false);
  });
});

const noKms: KmsServices = () => {
  throw new Error('no KMS call was expected');
};

function edk(info: string, providerId = 'aws-kms'): EncryptedDataKey {
  return { providerId, providerInfo: utf8.encode(info), ciphertext: new Uint8Array(64) };
}

function strict(text: string): KmsKeyring {
  return new KmsKeyring(parseKmsIdentifier(text)!, noKms);
}

describe('which wrapped keys the KMS keyrings claim', () => {
  it('a strict key claims only aws-kms keys whose ARN MRK-matches its own', () => {
    expect(strict(KEY).claims(edk(KEY))).toBe(true);
    expect(strict(KEY).claims(edk(KEY, 'raw'))).toBe(false);
    expect(strict(KEY).claims(edk(KEY.replace('1234abcd', '9999abcd')))).toBe(false);
    expect(strict(MRK_WEST).claims(edk(MRK_EAST))).toBe(true);
    expect(strict(KEY.replace('us-east-1', 'us-west-2')).claims(edk(KEY))).toBe(false);
  });

  it('an alias or key id claims no wrapped key (they record key ARNs), as in the ESDK', () => {
    expect(strict('alias/backups').claims(edk(KEY))).toBe(false);
    expect(strict('1234abcd-12ab-34cd-56ef-1234567890ab').claims(edk(KEY))).toBe(false);
  });

  it('discovery claims every aws-kms key its filter admits', () => {
    const any = new KmsDiscoveryKeyring(noKms);
    expect(any.claims(edk(KEY))).toBe(true);
    expect(any.claims(edk(KEY, 'envelope-local'))).toBe(false);
    const filtered = new KmsDiscoveryKeyring(noKms, { partition: 'aws', accounts: ['111122223333'] });
    expect(filtered.claims(edk(KEY))).toBe(true);
    expect(filtered.claims(edk(KEY.replace('111122223333', '444455556666')))).toBe(false);
    expect(filtered.claims(edk(KEY.replace('arn:aws:', 'arn:aws-cn:')))).toBe(false);
  });

  it('a KMS wrapped key without a key ARN is claimed, and fails to unwrap without calling KMS', async () => {
    const request = { suite: suiteById(DEFAULT_SUITE_ID), context: {} };
    for (const keyring of [strict(KEY), new KmsDiscoveryKeyring(noKms)]) {
      for (const info of ['arn:aws:kms:us-east-1:111122223333:alias/x', 'garbage\n']) {
        expect(keyring.claims(edk(info))).toBe(true);
        await expect(keyring.unwrap(edk(info), request)).rejects.toThrow(IntegrityError);
      }
    }
    await expect(strict(KEY).unwrap(edk('garbage\n'), request)).rejects.toThrow(/no KMS key ARN \(garbage\\n\)/);
  });
});

describe('hints when no keyring claims a KMS wrapped key', () => {
  it('show both -k with the key ARN and --discovery with its account', () => {
    expect(unclaimedKmsHints([], [edk(KEY)])).toEqual([
      `to use that kms key: -k ${KEY}`,
      'or let the message name it: --discovery --discovery-account 111122223333',
    ]);
  });

  it('name the partition when it is not aws', () => {
    const cn = KEY.replace('arn:aws:', 'arn:aws-cn:');
    expect(unclaimedKmsHints([], [edk(cn)])[1]).toBe('or let the message name it: --discovery --discovery-account 111122223333 --discovery-partition aws-cn');
  });

  it('say why an alias given with -k cannot select the key', () => {
    const hints = unclaimedKmsHints([strict('alias/backups')], [edk(KEY)]);
    expect(hints[0]).toMatch(/^kms key alias\/backups: an alias or key id cannot select a wrapped key.*give -k the key ARN/);
  });

  it('say which account a discovery filter lacks', () => {
    const filtered = new KmsDiscoveryKeyring(noKms, { partition: 'aws', accounts: ['444455556666'] });
    expect(unclaimedKmsHints([filtered], [edk(KEY)])).toEqual([
      "kms discovery (account 444455556666 in partition aws) admits none of the message's kms keys (account 111122223333 in partition aws): add --discovery-account 111122223333",
    ]);
  });

  it('are empty when every KMS wrapped key was claimed, or there is none', () => {
    expect(unclaimedKmsHints([strict(KEY)], [edk(KEY)])).toEqual([]);
    expect(unclaimedKmsHints([], [edk('x', 'envelope-local')])).toEqual([]);
  });
});

describe('the AWS SDK stays in src/aws (DESIGN §4, STYLE: boundaries you can check)', () => {
  const sources = (readdirSync(join(REPO_ROOT, 'src'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(REPO_ROOT, 'src', f));

  it('only src/aws imports @aws-sdk', () => {
    expect(sources.length).toBeGreaterThan(20);
    const importers = sources.filter((f) => /from '@aws-sdk\/|import\('@aws-sdk\//.test(readFileSync(f, 'utf8')));
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.map((f) => relative(REPO_ROOT, f)).filter((f) => !f.startsWith('src/aws/'))).toEqual([]);
  });

  it('everything else reaches src/aws with import() or for types only, so the SDK loads only when called', () => {
    const eager = sources
      .filter((f) => !relative(REPO_ROOT, f).startsWith('src/aws/'))
      .filter((f) => /^import\s+(?!type\b)[^;]*?from\s+'(\.\.\/)+aws\//m.test(readFileSync(f, 'utf8')));
    expect(eager.map((f) => relative(REPO_ROOT, f))).toEqual([]);
  });
});
