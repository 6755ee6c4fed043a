import { decrypt } from '../../core/decrypt.js';
import { parseDotenv } from '../../core/dotenv.js';
import { FormatError } from '../../errors.js';
import { LocalKeyring } from '../../keyring/local.js';
import { isLocalSpecifier, openKeyrings } from '../../keyring/registry.js';
import { dearmor } from '../../stream/armor.js';
import { isStdio, openInput } from '../input.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { parseCommitmentPolicy, parseContextRequirements, parseCount, parseSize } from '../options.js';
import { assertNotSameFile, refuseExisting, writeFileAtomically, writeStdout } from '../output.js';

interface DecryptFlags extends KeystoreFlags {
  key: string[];
  context: string[];
  output?: string;
  commitmentPolicy: string;
  maxEncryptedDataKeys: string;
  maxFrameSize: string;
  buffer?: boolean;
  format?: 'dotenv' | 'json';
  force?: boolean;
}

/** `x.enc` → `x`, `x.encrypted` → `x`, anything else → `x.dec`. */
export function decryptedName(file: string): string {
  const m = /^(.+)\.(enc|encrypted)$/.exec(file);
  return m ? m[1]! : `${file}.dec`;
}

export async function run([file]: string[], flags: DecryptFlags): Promise<void> {
  const commitmentPolicy = parseCommitmentPolicy(flags.commitmentPolicy);
  const requiredContext = parseContextRequirements(flags.context.length > 0 ? flags.context : (flags.settings?.requiredContext ?? []));
  const keys = flags.key.length > 0 ? flags.key : (flags.settings?.decryptKeys ?? []);
  const limits = {
    maxEncryptedDataKeys: parseCount('--max-encrypted-data-keys', flags.maxEncryptedDataKeys, 1, 65535),
    maxFrameLength: parseSize('--max-frame-size', flags.maxFrameSize),
  };
  const output = flags.output ?? (isStdio(file) ? '-' : decryptedName(file!));
  if (output !== '-') {
    await assertNotSameFile(isStdio(file) ? undefined : file, output);
    await refuseExisting(output, !!flags.force);
  }

  const keystore = openKeystore(flags);
  const keyrings = await openKeyrings(keys, { keystore: () => keystore });
  // Local keys are found from the ids in the message (DESIGN §2), unless -k names local keys.
  if (!keys.some(isLocalSpecifier)) keyrings.push(LocalKeyring.anyKey(keystore));
  const input = await openInput(file);
  let plaintext: AsyncIterable<Buffer> = decrypt(dearmor(input), { keyrings, commitmentPolicy, requiredContext, limits });
  if (flags.format) plaintext = await checkedFormat(plaintext, flags.format);
  else if (flags.buffer && output === '-') plaintext = await buffered(plaintext);
  if (output === '-') return writeStdout(plaintext, false);
  await writeFileAtomically(output, plaintext, { force: !!flags.force, mode: 0o600 });
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
