// The AWS Encryption SDK for JavaScript at its defaults (0x0578, 4 KiB frames),
// stdin to stdout, with a raw AES keyring: the ESDK column of npm run bench.
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { buildClient, CommitmentPolicy, RawAesKeyringNode, RawAesWrappingSuiteIdentifier } from '@aws-crypto/client-node';

const { encryptStream } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
const keyring = new RawAesKeyringNode({
  keyName: 'bench',
  keyNamespace: 'bench',
  unencryptedMasterKey: new Uint8Array(randomBytes(32)),
  wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
});
await pipeline(process.stdin, encryptStream(keyring), process.stdout);
