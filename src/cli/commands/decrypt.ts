import { type DecryptOptions, decrypt } from '../../core/decrypt.js';
import { parseDotenv } from '../../core/dotenv.js';
import { FormatError } from '../../errors.js';
import { dearmor } from '../../stream/armor.js';
import type { DirectOutput } from '../../stream/direct-output.js';
import { deliver, naming, planOutputs } from '../files.js';
import { isStdio } from '../input.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { closeKms, type DiscoveryFlags, kmsServices } from '../kms-options.js';
import { openUnwrappingKeyrings } from '../unwrapping-keys.js';
import { parseCommitmentPolicy, parseContextRequirements, type LimitFlags, parseLimits } from '../options.js';
import { openInputWithProgress } from '../progress.js';
import { watchMessage } from '../verbose.js';

interface DecryptFlags extends KeystoreFlags, LimitFlags, DiscoveryFlags {
  key: string[];
  context: string[];
  output?: string;
  commitmentPolicy: string;
  buffer?: boolean;
  format?: 'dotenv' | 'json';
  force?: boolean;
  recursive?: boolean;
  suffix?: string;
}

export async function run(files: string[], flags: DecryptFlags): Promise<void> {
  const commitmentPolicy = parseCommitmentPolicy(flags.commitmentPolicy);
  const requiredContext = parseContextRequirements(flags.context.length > 0 ? flags.context : (flags.settings?.requiredContext ?? []));
  const keys = flags.key.length > 0 ? flags.key : (flags.settings?.decryptKeys ?? []);
  const limits = parseLimits(flags);
  // Directories made for plaintext are the user's alone, as the files in them (0600).
  const plan = await planOutputs(files, {
    names: naming('decrypt', flags.suffix),
    output: flags.output,
    recursive: !!flags.recursive,
    force: !!flags.force,
    directoryMode: 0o700,
  });

  // The keys are opened once for all files.
  const keystore = openKeystore(flags);
  const keyrings = await openUnwrappingKeyrings(keys, flags, keystore, kmsServices(flags));
  try {
    await decryptEach(plan, flags, { keyrings, commitmentPolicy, requiredContext, limits });
  } finally {
    closeKms();
  }
}

/** Each message from its path to its destination; with -v, its keys and timings. */
async function decryptEach(
  plan: Awaited<ReturnType<typeof planOutputs>>,
  flags: DecryptFlags,
  options: Pick<DecryptOptions, 'keyrings' | 'commitmentPolicy' | 'requiredContext' | 'limits'>,
): Promise<void> {
  await deliver(plan, { mode: 0o600, binary: false }, async (path, destination) => {
    const watch = watchMessage(isStdio(path) ? undefined : path);
    const input = dearmor(await openInputWithProgress(path));
    const plaintext = (direct?: DirectOutput) =>
      decrypt(input, { ...options, ...(watch ? { onHeader: watch.unwrapped } : {}), ...(direct ? { direct } : {}) });
    // Held back whole, the plaintext is written here; streamed, workers may write the frames they open themselves.
    if (flags.format) await destination.write(await checkedFormat(plaintext(), flags.format));
    else if (flags.buffer && destination.toStdout) await destination.write(await buffered(plaintext()));
    else await destination.write(plaintext);
    watch?.done();
  });
}

async function* replay(chunks: readonly Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks;
}

/** Holds the whole plaintext until the message has verified to its end. */
async function buffered(source: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer>> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return replay(chunks);
}

/** --format: the whole plaintext must parse as dotenv or JSON before any of it is written. */
async function checkedFormat(source: AsyncIterable<Buffer>, format: 'dotenv' | 'json'): Promise<AsyncIterable<Buffer>> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if (format === 'dotenv') parseDotenv(text);
  else {
    try {
      JSON.parse(text);
    } catch {
      throw new FormatError('the decrypted plaintext is not valid JSON (--format json)');
    }
  }
  return replay(chunks);
}
