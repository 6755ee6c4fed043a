import { encrypt } from '../../core/encrypt.js';
import { UsageError } from '../../errors.js';
import { DEFAULT_NON_COMMITTING_SUITE_ID, DEFAULT_SIGNED_SUITE_ID, DEFAULT_SUITE_ID, suiteById } from '../../format/suites.js';
import { KEY_USAGES, openKeyrings } from '../../keyring/registry.js';
import { armor } from '../../stream/armor.js';
import { deliver, naming, planOutputs } from '../files.js';
import { isStdio } from '../input.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { parseCommitmentPolicy, parseContextPairs, parseSize, parseSuite } from '../options.js';
import { openInputWithProgress } from '../progress.js';
import { watchMessage } from '../verbose.js';

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
  recursive?: boolean;
  suffix?: string;
}

export async function run(files: string[], flags: EncryptFlags): Promise<void> {
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
  const plan = await planOutputs(files, {
    names: naming('encrypt', flags.suffix),
    output: flags.output,
    recursive: !!flags.recursive,
    force: !!flags.force,
    directoryMode: 0o777,
  });

  // The keys are opened once; encrypt() makes a fresh data key for each message.
  const keystore = openKeystore(flags);
  const keyrings = await openKeyrings(keys, { keystore: () => keystore });
  // One message from `path` to its destination; with -v, its keys and timing.
  await deliver(plan, { mode: 0o644, binary: !flags.armor }, async (path, destination) => {
    const watch = watchMessage(isStdio(path) ? undefined : path, { wrappedBy: keyrings });
    const message = encrypt(await openInputWithProgress(path), { keyrings, suite, context, frameLength, commitmentPolicy });
    await destination.write(flags.armor ? armor(message) : message);
    watch?.done();
  });
}
