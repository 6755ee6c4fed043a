// Decrypts one message with the AWS Encryption SDK for JavaScript and a raw RSA
// key, in a process of its own. Node 20 refuses RSA PKCS#1 v1.5 private
// decryption (CVE-2023-46809) and the ESDK has no workaround, so
// test/interop-esdk.test.ts runs this with --security-revert=CVE-2023-46809
// instead of reverting the fix in the test process.
//
//   node --security-revert=CVE-2023-46809 esdk-decrypt-child.mjs \
//     NAMESPACE NAME PADDING PRIVATE_KEY_PEM_FILE CIPHERTEXT_FILE PLAINTEXT_FILE HEADER_FILE
//
// PADDING is pkcs1, oaep-sha1, oaep-sha256, oaep-sha384 or oaep-sha512. Writes
// the plaintext to PLAINTEXT_FILE and what the ESDK read from the header (context,
// suite id, frame length, number of wrapped keys) to HEADER_FILE as JSON: stdout
// carries Node's security-revert warning. On failure, one line on stderr and exit 1.

import { constants } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { buildClient, CommitmentPolicy, RawRsaKeyringNode } from '@aws-crypto/client-node';

const [keyNamespace, keyName, padding, keyFile, ciphertextFile, plaintextFile, headerFile] = process.argv.slice(2);
if (!headerFile) {
  process.stderr.write('usage: esdk-decrypt-child.mjs NAMESPACE NAME PADDING KEY_PEM CIPHERTEXT PLAINTEXT HEADER\n');
  process.exit(2);
}

const rsaPadding =
  padding === 'pkcs1'
    ? { padding: constants.RSA_PKCS1_PADDING }
    : { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: padding.replace(/^oaep-/, '') };

try {
  const keyring = new RawRsaKeyringNode({
    keyNamespace,
    keyName,
    rsaKey: { privateKey: readFileSync(keyFile, 'utf8') },
    ...rsaPadding,
  });
  const { decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT);
  const { plaintext, messageHeader } = await decrypt(keyring, readFileSync(ciphertextFile));
  writeFileSync(plaintextFile, plaintext);
  const { encryptionContext, suiteId, frameLength, encryptedDataKeys } = messageHeader;
  const header = { context: encryptionContext, suiteId, frameLength, wrappedKeys: encryptedDataKeys.length };
  writeFileSync(headerFile, JSON.stringify(header));
} catch (e) {
  process.stderr.write(`esdk-decrypt-child: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
