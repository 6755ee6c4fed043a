import { reEncrypt, reEncryptBody, reEncryptWithNewDataKey, rewrapHeader } from '../../core/re-encrypt.js';
import { stat } from 'node:fs/promises';
import { EnvelopeError, UsageError } from '../../errors.js';
import { openKeyrings } from '../../keyring/registry.js';
import { armor, dearmor } from '../../stream/armor.js';
import { ByteReader } from '../../stream/byte-reader.js';
import { BatchError } from '../files.js';
import { isStdio } from '../input.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { closeKms, type DiscoveryFlags, kmsServices } from '../kms-options.js';
import { openUnwrappingKeyrings } from '../unwrapping-keys.js';
import { parseCommitmentPolicy, type LimitFlags, parseLimits } from '../options.js';
import { assertNotSameFile, refuseExisting, writeFileAtomically, writeStdout } from '../output.js';
import { openInputWithProgress, PROGRESS_THRESHOLD, startSpinner } from '../progress.js';
import { fitsInPlace, reEncryptFileByCopy } from '../re-encrypt-file.js';
import { problem } from '../terminal.js';
import { describeKeyrings, watchMessage } from '../verbose.js';

interface ReEncryptFlags extends KeystoreFlags, LimitFlags, DiscoveryFlags {
  to: string[];
  from: string[];
  output?: string;
  inPlace?: boolean;
  newDataKey?: boolean;
  commitmentPolicy: string;
  force?: boolean;
}

export async function run(files: string[], flags: ReEncryptFlags): Promise<void> {
  try {
    await reEncryptAll(files, flags);
  } finally {
    closeKms();
  }
}

async function reEncryptAll(files: string[], flags: ReEncryptFlags): Promise<void> {
  if (flags.to.length === 0) throw new UsageError('re-encrypt needs the new keys: --to KEY');
  if (flags.inPlace && flags.output) throw new UsageError('--in-place and -o conflict');
  if (flags.inPlace && files.length === 0) throw new UsageError('--in-place needs files');
  if (files.length > 1 && !flags.inPlace) throw new UsageError('several files need --in-place');
  if (files.length === 1 && !isStdio(files[0]) && !flags.inPlace && !flags.output) {
    throw new UsageError('say where the result goes: -o OUT (or -o - for stdout), or --in-place');
  }
  const commitmentPolicy = parseCommitmentPolicy(flags.commitmentPolicy);
  const limits = parseLimits(flags);
  const keystore = openKeystore(flags);
  const kms = kmsServices(flags);
  const to = await openKeyrings(flags.to, { keystore: () => keystore, kms });
  const from = await openUnwrappingKeyrings(flags.from.length > 0 ? flags.from : (flags.settings?.decryptKeys ?? []), flags, keystore, kms);
  const run = flags.newDataKey ? reEncryptWithNewDataKey : reEncrypt;
  const options = { from, to, commitmentPolicy, limits };
  const afterUnwrap = flags.newDataKey ? `a new data key is wrapped by ${describeKeyrings(to)}` : `data key wrapped anew by ${describeKeyrings(to)}`;
  const watched = (path: string | undefined) => {
    const watch = watchMessage(path, { afterUnwrap });
    return { watch, watchedOptions: watch ? { ...options, onHeader: watch.unwrapped } : options };
  };

  if (files.length === 0 || (files.length === 1 && isStdio(files[0]))) {
    const { watch, watchedOptions } = watched(undefined);
    const message = run(dearmor(await openInputWithProgress(undefined)), watchedOptions);
    if (!flags.output || flags.output === '-') await writeStdout(message, true);
    else {
      await refuseExisting(flags.output, !!flags.force);
      await writeFileAtomically(flags.output, message, { force: !!flags.force, mode: 0o644 });
    }
    return watch?.done();
  }
  let failed = 0;
  let firstError: EnvelopeError | undefined;
  for (const file of files) {
    const output = flags.inPlace ? file : flags.output!;
    try {
      if (!flags.inPlace) {
        if (output !== '-') {
          await assertNotSameFile(file, output);
          await refuseExisting(output, !!flags.force);
        }
      }
      // In place, a base64 message stays base64 (it may live in a CI variable or YAML).
      let armored = false;
      const { watch, watchedOptions } = watched(file);
      const input = dearmor(await openInputWithProgress(file), (a) => (armored = a));
      const fileOptions = { force: !!flags.inPlace || !!flags.force, mode: 0o644 };
      let message: AsyncIterable<Uint8Array>;
      if (flags.newDataKey) message = reEncryptWithNewDataKey(input, watchedOptions);
      else {
        const reader = new ByteReader(input);
        const rewrapped = await rewrapHeader(reader, watchedOptions).catch(async (e: unknown) => {
          await reader.close();
          throw e;
        });
        const size = !armored && fitsInPlace(rewrapped) && output !== '-' ? await copyableSize(file, output) : undefined;
        if (size !== undefined) {
          await reader.close();
          watch?.note('copied by the file system, the new header written over the old and the body checked in place');
          // The copy has no progress to show: a large one gets a spinner.
          const spinner = size > PROGRESS_THRESHOLD ? startSpinner(`re-encrypting ${file} (a copy made by the file system)`) : undefined;
          try {
            await reEncryptFileByCopy(file, output, rewrapped, fileOptions);
          } finally {
            spinner?.stop();
          }
          watch?.done();
          continue;
        }
        message = reEncryptBody(reader, rewrapped);
      }
      const bytes = flags.inPlace ? armorLike(message, () => armored) : message;
      if (output === '-') await writeStdout(bytes, true);
      else await writeFileAtomically(output, bytes, fileOptions);
      watch?.done();
    } catch (e) {
      if (files.length === 1 || !(e instanceof EnvelopeError)) throw e;
      failed++;
      firstError ??= e;
      // A failure is reported even with -q.
      problem(`envelope: ${file}: ${e.message}`);
    }
  }
  if (firstError) {
    // The exit status is the first failure's; the message counts them all.
    throw new BatchError(`${failed} of ${files.length} files were not re-encrypted`, firstError, [`first: ${firstError.message}`]);
  }
}

/**
 * The size of `input` when it is a regular file and `output` one too or a new
 * name (what the file system can copy into place); else undefined.
 */
async function copyableSize(input: string, output: string): Promise<number | undefined> {
  const [from, to] = await Promise.all([stat(input).catch(() => undefined), stat(output).catch(() => undefined)]);
  return from?.isFile() && (to === undefined || to.isFile()) ? from.size : undefined;
}

/** Armors the output if the input turned out to be armored (known once the first bytes are read). */
async function* armorLike(message: AsyncIterable<Uint8Array>, armored: () => boolean): AsyncGenerator<Uint8Array> {
  const it = message[Symbol.asyncIterator]();
  const first = await it.next();
  const all = (async function* () {
    if (!first.done) yield first.value;
    yield* { [Symbol.asyncIterator]: () => it };
  })();
  yield* armored() ? armor(all) : all;
}
