import { encrypt } from '../../core/encrypt.js';
import { UsageError } from '../../errors.js';
import { DEFAULT_NON_COMMITTING_SUITE_ID, DEFAULT_SIGNED_SUITE_ID, DEFAULT_SUITE_ID, suiteById } from '../../format/suites.js';
import { KEY_USAGES, openKeyrings } from '../../keyring/registry.js';
import { armor } from '../../stream/armor.js';
import { isStdio, openInput } from '../input.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { parseCommitmentPolicy, parseContextPairs, parseSize, parseSuite } from '../options.js';
import { assertNotSameFile, refuseExisting, writeFileAtomically, writeStdout } from '../output.js';

interface EncryptFlags extends KeystoreFlags {
  key: string[];
  context: string[];
  output?: string;
  sign?: boolean;
  algorithm?: string;
  frameSize?: string;
  commitmentPolicy: string;
  armor?: boolean;
  force?: boolean;
}

export async function run([file]: string[], flags: EncryptFlags): Promise<void> {
  const keys = flags.key.length > 0 ? flags.key : (flags.settings?.keys ?? []);
  if (keys.length === 0) {
    throw new UsageError('encrypt needs a key: -k KEY (or "keys" in a config file)', { hints: KEY_USAGES.map((u) => `a key is ${u}`) });
  }
  const commitmentPolicy = parseCommitmentPolicy(flags.commitmentPolicy);
  const algorithm = flags.algorithm ?? (flags.sign ? undefined : flags.settings?.algorithm);
  const suite = algorithm
    ? parseSuite(algorithm)
    : suiteById(
        commitmentPolicy === 'forbid-encrypt-allow-decrypt'
          ? DEFAULT_NON_COMMITTING_SUITE_ID
          : flags.sign
            ? DEFAULT_SIGNED_SUITE_ID
            : DEFAULT_SUITE_ID,
      );
  if (flags.sign && !suite.signature) {
    throw new UsageError(`--sign conflicts with --algorithm ${flags.algorithm}, which does not sign`);
  }
  const frameLength = parseSize('--frame-size', flags.frameSize ?? flags.settings?.frameSize ?? '64K');
  const context = parseContextPairs(flags.context);
  const output = flags.output ?? (isStdio(file) ? '-' : `${file}.enc`);
  if (output !== '-') {
    await assertNotSameFile(isStdio(file) ? undefined : file, output);
    await refuseExisting(output, !!flags.force);
  }

  const keystore = openKeystore(flags);
  const keyrings = await openKeyrings(keys, { keystore: () => keystore });
  const input = await openInput(file);
  const message = encrypt(input, { keyrings, suite, context, frameLength, commitmentPolicy });
  const bytes = flags.armor ? armor(message) : message;
  if (output === '-') return writeStdout(bytes, !flags.armor);
  await writeFileAtomically(output, bytes, { force: !!flags.force, mode: 0o644 });
}
