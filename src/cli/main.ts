// The envelope command line: commander definitions for every command, each
// implemented in src/cli/commands and imported only when it runs, and the one
// place that turns errors into exit codes.

import { Command, CommanderError, Option } from 'commander';
import { EnvelopeError, InterruptedError, UsageError } from '../errors.js';
import { EXIT_CODE_HELP, EXIT_CODES } from './exit-codes.js';
import { collect } from './options.js';
import { removeTemporariesSync } from './output.js';
import { formatError } from './terminal.js';

declare const ENVELOPE_VERSION: string;

const KEY_HELP = `Keys (-k, repeatable):
  raw-aes:file=PATH,namespace=NS,name=NAME          AES-128/192/256 key file (raw bytes, hex or base64)
  raw-rsa:file=PEM,namespace=NS,name=NAME[,padding=P]
                                                    RSA key in PEM; public encrypts only; P is pkcs1,
                                                    oaep-sha1, oaep-sha256 (default), oaep-sha384, oaep-sha512`;

function buildProgram(): Command {
  const program = new Command('envelope')
    .description('Envelope encryption: AWS Encryption SDK messages under master keys that never leave their home')
    .version(ENVELOPE_VERSION, '-V, --version')
    .option('--debug', 'print stack traces with errors')
    .showHelpAfterError(false)
    .addHelpText('after', `\n${EXIT_CODE_HELP}`)
    .configureOutput({ outputError: () => undefined })
    .exitOverride();

  program
    .command('encrypt')
    .summary('encrypt a file or stdin into an AWS Encryption SDK message')
    .description('Encrypt FILE (or stdin) under one or more master keys. Output goes to FILE.enc, to -o, or to stdout.')
    .argument('[file]', 'input file; stdin when omitted or -')
    .option('-k, --key <key>', 'master key to wrap the data key (repeatable; the first one makes it)', collect, [])
    .option('-c, --context <key=value>', 'encryption context pair, authenticated and stored in the header (repeatable)', collect, [])
    .option('-o, --output <path>', 'output file, or - for stdout')
    .option('--sign', 'sign the message with ECDSA P-384 (suite 0x0578)')
    .option('--algorithm <suite>', 'algorithm suite id (0x0478) or ESDK name')
    .option('--frame-size <size>', 'plaintext bytes per frame, e.g. 64K, 1M', '64K')
    .addOption(commitmentOption())
    .option('--armor', 'write base64 text in 76-column lines')
    .option('--force', 'overwrite an existing output file')
    .addHelpText(
      'after',
      `\n${KEY_HELP}\n\nExamples:\n  envelope encrypt -k raw-aes:file=backup.key,namespace=backups,name=2026 < db.dump > db.dump.enc\n  envelope encrypt secrets.env -k raw-rsa:file=team.pub.pem,namespace=team,name=ops -c app=web --armor`,
    )
    .action(lazy(() => import('./commands/encrypt.js')));

  program
    .command('decrypt')
    .summary('decrypt an AWS Encryption SDK message')
    .description(
      'Decrypt FILE (or stdin), binary or base64. Output goes to FILE without .enc, to -o, or to stdout.\nNo plaintext is written before it authenticates; a file output appears only once the whole message has.',
    )
    .argument('[file]', 'input file; stdin when omitted or -')
    .option('-k, --key <key>', 'master key that may unwrap the data key (repeatable)', collect, [])
    .option('-c, --context <key[=value]>', 'require a context pair (key=value) or key (key) (repeatable)', collect, [])
    .option('-o, --output <path>', 'output file, or - for stdout')
    .addOption(commitmentOption())
    .option('--max-encrypted-data-keys <n>', 'refuse messages with more wrapped data keys', '10')
    .option('--max-frame-size <size>', 'refuse frames larger than this', '64M')
    .option('--buffer', 'with stdout: hold all plaintext until the whole message (and signature) verifies')
    .option('--force', 'overwrite an existing output file')
    .addHelpText(
      'after',
      `\n${KEY_HELP}\n\nExamples:\n  envelope decrypt db.dump.enc -k raw-aes:file=backup.key,namespace=backups,name=2026 -o db.dump\n  envelope decrypt -k raw-rsa:file=ops.pem,namespace=team,name=ops -c app=web < secrets.env.enc`,
    )
    .action(lazy(() => import('./commands/decrypt.js')));

  program
    .command('inspect')
    .summary('show what a message says about itself, without any key')
    .description(
      'Print a message header: version, suite, message id, encryption context, wrapped keys, frame length.\nFor a file, the body is walked too: frame count and body size. Nothing is decrypted or verified.',
    )
    .argument('[file]', 'input file; stdin when omitted or -')
    .option('--json', 'print JSON')
    .option('--max-encrypted-data-keys <n>', 'refuse messages with more wrapped data keys', '10')
    .option('--max-frame-size <size>', 'refuse frames larger than this', '64M')
    .action(lazy(() => import('./commands/inspect.js')));

  return program;
}

function commitmentOption(): Option {
  return new Option('--commitment-policy <policy>', 'key commitment policy')
    .choices(['require-encrypt-require-decrypt', 'require-encrypt-allow-decrypt', 'forbid-encrypt-allow-decrypt'])
    .default('require-encrypt-require-decrypt');
}

/** Imports a command's module only when that command runs. */
function lazy<Flags>(load: () => Promise<{ run(file: string | undefined, flags: Flags): Promise<void> }>) {
  return async (file: string | undefined, flags: Flags) => {
    const module = await load();
    await module.run(file, flags);
  };
}

/**
 * Commander words its errors as sentences ("… is invalid. Allowed choices are …",
 * "(Did you mean --armor?)"); ours are one lowercase line plus hints.
 */
function usageFromCommander(text: string): UsageError {
  const [first = '', ...rest] = text
    .replace(/^error: /, '')
    .split(/\.\s+|\n/)
    .map((s) => s.trim().replace(/^\((.*)\)$/, '$1').replace(/\.$/, ''))
    .filter(Boolean);
  const lower = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
  return new UsageError(lower(first), { hints: [...rest.map(lower), 'see envelope --help'] });
}

async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const program = buildProgram();
  const interrupt = (signal: NodeJS.Signals) => {
    removeTemporariesSync();
    process.stderr.write(formatError(new InterruptedError(`interrupted by ${signal}`), false));
    process.exit(signal === 'SIGTERM' ? 143 : EXIT_CODES.interrupted);
  };
  process.on('exit', removeTemporariesSync);
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    await program.parseAsync(argv);
    return EXIT_CODES.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return 0;
      if (e.code === 'commander.help') return 0;
      process.stderr.write(formatError(usageFromCommander(e.message), false));
      return EXIT_CODES.usage;
    }
    process.stderr.write(formatError(e, debug));
    return e instanceof EnvelopeError ? EXIT_CODES[e.code] : EXIT_CODES.internal;
  }
}

process.exitCode = await main(process.argv);
