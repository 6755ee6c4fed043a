// envelope exec FILE -- COMMAND …: decrypt a dotenv message into COMMAND's
// environment. The plaintext is held in memory only until it is parsed (never
// on disk) and the command starts only after the whole message verified.
// COMMAND's exit status is envelope's; signals to envelope are passed on.

import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { decrypt } from '../../core/decrypt.js';
import { parseDotenv } from '../../core/dotenv.js';
import { ioError, UsageError } from '../../errors.js';
import { dearmor } from '../../stream/armor.js';
import { childStatus } from '../exit-status.js';
import { openInput } from '../input.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { closeKms, type DiscoveryFlags, kmsServices } from '../kms-options.js';
import { openUnwrappingKeyrings } from '../unwrapping-keys.js';
import { parseCommitmentPolicy, parseContextRequirements } from '../options.js';
import { watchMessage } from '../verbose.js';

interface ExecFlags extends KeystoreFlags, DiscoveryFlags {
  key: string[];
  context: string[];
  commitmentPolicy: string;
  pristine?: boolean;
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/** envelope's own environment for the child, less the keystore passphrases: the command does not need them. */
function inheritedEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.ENVELOPE_PASSPHRASE;
  delete env.ENVELOPE_NEW_PASSPHRASE;
  return env;
}

export async function run([file, ...command]: string[], flags: ExecFlags): Promise<void> {
  if (!file || command.length === 0) throw new UsageError('exec needs a file and a command: envelope exec FILE -- COMMAND …');
  const keys = flags.key.length > 0 ? flags.key : (flags.settings?.decryptKeys ?? []);
  const keystore = openKeystore(flags);
  const keyrings = await openUnwrappingKeyrings(keys, flags, keystore, kmsServices(flags));
  const requiredContext = parseContextRequirements(flags.context.length > 0 ? flags.context : (flags.settings?.requiredContext ?? []));

  const watch = watchMessage(file);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of decrypt(dearmor(await openInput(file)), {
      keyrings,
      commitmentPolicy: parseCommitmentPolicy(flags.commitmentPolicy),
      requiredContext,
      ...(watch ? { onHeader: watch.unwrapped } : {}),
    })) {
      chunks.push(chunk);
    }
  } finally {
    // KMS is done with before COMMAND runs: no connection stays open for its lifetime.
    closeKms();
  }
  watch?.done();
  const plaintext = Buffer.concat(chunks);
  for (const c of chunks) c.fill(0);
  let vars: Record<string, string>;
  try {
    vars = parseDotenv(plaintext.toString('utf8'));
  } finally {
    plaintext.fill(0);
  }

  const env = flags.pristine ? { ...vars } : { ...inheritedEnvironment(), ...vars };
  const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env });
  // From here on a signal is the command's business: pass it on, do not die of it.
  for (const signal of FORWARDED) {
    process.removeAllListeners(signal);
    process.on(signal, () => child.kill(signal));
  }
  const status = await new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(ioError(e, 'run', command[0]!)));
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
  childStatus.value = status;
}
