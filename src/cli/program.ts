// The commander definitions of every command and flag. Each command's code
// lives in src/cli/commands and is imported only when that command runs, so
// start-up parses argv and loads one command.

import { Command, Option } from 'commander';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { loadConfig } from './config.js';
import { EXIT_CODE_HELP } from './exit-codes.js';
import { collect } from './options.js';
import { configureTerminal, loadColors } from './terminal.js';

const KEY_HELP = `Keys (-k, repeatable):
  alias/NAME, NAME, KEY-ID, local:alias/NAME, local:KEY-ID
                                 a key of the local keystore (envelope keygen NAME makes one)
  raw-aes:file=PATH,namespace=NS,name=NAME
                                 AES-128/192/256 key file (raw bytes, hex or base64)
  raw-rsa:file=PEM,namespace=NS,name=NAME[,padding=P]
                                 RSA key in PEM; a public key encrypts only; P is oaep-sha256
                                 (default), oaep-sha1, oaep-sha384, oaep-sha512 or pkcs1
  arn:aws:kms:REGION:ACCOUNT:key/ID, arn:aws:kms:REGION:ACCOUNT:alias/NAME (any partition)
                                 an AWS KMS key, in the ARN's region
  kms:alias/NAME, kms:KEY-ID     an AWS KMS key in the configured region (see envelope --help);
                                 to decrypt, give the key ARN: a message records key ARNs only`;

const KMS_HELP = `AWS KMS: the region of a key without an ARN is --region, else $AWS_REGION, else the config's
region, else the profile's. Credentials come from the AWS SDK's chain (environment; --profile, else
$AWS_PROFILE, else the config's profile; SSO; container and instance roles); the endpoint from
$AWS_ENDPOINT_URL_KMS or $AWS_ENDPOINT_URL. Throttled calls and transient failures are retried with
backoff, $AWS_MAX_ATTEMPTS times in all (default 3). Encrypt calls GenerateDataKey for the first KMS
key and Encrypt for each further one. To decrypt a KMS data key give -k KEY-ARN (only that key, or its
multi-Region replica in another region, is called) or --discovery (the key the message names, limited
to --discovery-account IDs in --discovery-partition, default aws); decrypt stops at the first key
that unwraps.`;

const CONFIG_HELP = `Settings: flags beat the environment, which beats a config file: --config FILE, else the first of
package.json#envelope, .enveloperc, .enveloperc.json|.yaml|.yml, envelope.config.js|mjs|cjs from the
working directory up to the home directory. Settings: keys, decryptKeys, keystore, frameSize,
algorithm, requiredContext, region, profile, discoveryAccounts.`;

const OUTPUT_HELP = `Output: data goes to stdout, words for people to stderr. -q keeps only errors on stderr; -v adds which
key unwrapped (or wrapped) the data key, and timings. Colors only when stderr is a terminal, never with
NO_COLOR set; FORCE_COLOR=1 forces them (FORCE_COLOR=0 turns them off). On a terminal, and not in CI, a
spinner shows while a passphrase unlocks the keystore or an AWS KMS call is waited on, and a progress
line (bytes, rate, time left) shows inputs over 64 MiB.`;

const KEYSTORE_HELP = `Keystore: --keystore DIR, else $ENVELOPE_KEYSTORE, else \${XDG_DATA_HOME:-~/.local/share}/envelope.
Passphrase of a protected keystore: $ENVELOPE_PASSPHRASE, --passphrase-fd N, --passphrase-file PATH,
or a prompt on the terminal; never on the command line.`;

/** What encrypt and decrypt --help say about several inputs and -r. */
function filesHelp(command: 'encrypt' | 'decrypt'): string {
  if (command === 'encrypt') {
    return `Several inputs: each output goes beside its input (a.txt.enc), or into -o DIR, an existing directory.
With -r, directories are walked and mirrored into -o DIR (required; made if missing, with the usual
umask modes): photos/2024/x.jpg becomes DIR/photos/2024/x.jpg.enc, and the contents of . go into DIR
itself. Only regular files are encrypted, in name order; symbolic links inside a tree are not
followed, DIR itself is not entered, and files already ending in the suffix are skipped.
The keys are opened once; each file gets a fresh data key (with --cache, several files may share
one). An output that exists (without --force) or that is an input fails that file, and the others go
on. Each file gets a line on stderr (envelope: a.txt -> a.txt.enc, envelope: b.txt: error: …, or …:
skipped: …), then a count; the exit status is the first failure's, else 0. A single input prints
nothing but its error, as always.`;
  }
  return `Several inputs: each output goes beside its input (a.txt.enc gives a.txt), or into -o DIR, an
existing directory. With -r, directories are walked and mirrored into -o DIR (required; made if
missing, mode 0700 like every directory made for plaintext): vault/2024/x.jpg.enc becomes
DIR/vault/2024/x.jpg, and the contents of . go into DIR itself. Only regular files are decrypted, in
name order; symbolic links inside a tree are not followed, DIR itself is not entered, and files that
do not end in the suffix (.enc or .encrypted) are skipped.
The keys are opened once. An output that exists (without --force) or that is an input fails that
file, and the others go on. Each file gets a line on stderr (envelope: a.txt.enc -> a.txt, envelope:
b.enc: error: …, or …: skipped: …), then a count; the exit status is the first failure's, else 0.
A single input prints nothing but its error, as always.`;
}

type Action = (positionals: string[], flags: never) => Promise<void>;

/**
 * Imports a command's module only when that command runs, and calls `name` in
 * it with the positional arguments and the flags, to which the configuration
 * file's settings are added as `settings`.
 */
function lazy<M>(load: () => Promise<M>, name: keyof M) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const positionals = args.slice(0, -2).flatMap((a) => (a === undefined ? [] : Array.isArray(a) ? a : [a])) as string[];
    const flags = command.optsWithGlobals();
    configureTerminal(flags);
    // -v lines are painted from synchronous callbacks: colors (if on) are loaded beside the command.
    const [module, settings] = await Promise.all([
      load(),
      loadConfig(flags.config as string | undefined),
      flags.verbose ? loadColors() : undefined,
    ]);
    await (module[name] as Action)(positionals, { ...flags, settings } as never);
  };
}

/** The default of a size limit flag, from DEFAULT_LIMITS (src/core/limits.ts), so the two cannot disagree. */
function mebibytes(bytes: number): string {
  return `${bytes / (1024 * 1024)}M`;
}

/** commander's Command with addOptions, for the groups of options that several commands share. */
class EnvelopeCommand extends Command {
  override createCommand(name?: string): EnvelopeCommand {
    return new EnvelopeCommand(name);
  }

  addOptions(options: readonly Option[]): this {
    for (const option of options) this.addOption(option);
    return this;
  }
}

/** --discovery and its filter (the ESDK's discovery filter), for the commands that unwrap data keys. */
function discoveryOptions(): Option[] {
  return [
    new Option('--discovery', 'unwrap a KMS data key with the KMS key the message names (any account unless filtered)'),
    new Option('--discovery-account <id>', 'with --discovery: only KMS keys of this AWS account (repeatable)').argParser(collect).default([]),
    new Option('--discovery-partition <partition>', "with --discovery-account: the accounts' partition (default: aws)"),
  ];
}

/** The limits on what a message may claim (src/core/limits.ts), for the commands that read messages. */
function limitOptions(): Option[] {
  return [
    new Option('--max-encrypted-data-keys <n>', 'refuse messages with more wrapped data keys').default(String(DEFAULT_LIMITS.maxEncryptedDataKeys)),
    new Option('--max-frame-size <size>', 'refuse frames larger than this').default(mebibytes(DEFAULT_LIMITS.maxFrameLength)),
    new Option('--max-header-size <size>', 'refuse message headers larger than this').default(mebibytes(DEFAULT_LIMITS.maxHeaderLength)),
  ];
}

function commitmentOption(): Option {
  return new Option('--commitment-policy <policy>', 'key commitment policy')
    .choices(['require-encrypt-require-decrypt', 'require-encrypt-allow-decrypt', 'forbid-encrypt-allow-decrypt'])
    .default('require-encrypt-require-decrypt');
}

const keysModule = () => import('./commands/keys.js');

function addEncrypt(program: EnvelopeCommand): void {
  program
    .command('encrypt')
    .summary('encrypt files, directory trees or stdin into AWS Encryption SDK messages')
    .description(
      'Encrypt each FILE (or stdin) under one or more master keys, each under a fresh data key (unless --cache). ' +
        'Output goes to FILE.enc (FILE and --suffix), into -o DIR, or for one input to -o FILE or stdout.',
    )
    .argument('[files...]', 'input files (and directories with -r); stdin when none or -')
    .option('-k, --key <key>', 'master key to wrap the data key (repeatable; the first one makes it)', collect, [])
    .option('-c, --context <key=value>', 'encryption context pair, authenticated and stored in the header (repeatable)', collect, [])
    .option('-o, --output <path>', 'output file, - for stdout, or an existing directory to put the outputs in')
    .option('-r, --recursive', 'walk directories and mirror their trees into -o DIR')
    .option('--suffix <suffix>', 'added to output file names (default: .enc)')
    .option('--sign', 'sign the message with ECDSA P-384 (suite 0x0578)')
    .option('--algorithm <suite>', 'algorithm suite id (0x0478) or ESDK name')
    .option('--frame-size <size>', 'plaintext bytes per frame, e.g. 64K, 1M (default: 256K)')
    .addOption(commitmentOption())
    .option('--armor', 'write base64 text in 76-column lines')
    .option('--force', 'overwrite existing output files')
    .option(
      '--cache <limits>',
      'reuse a data key for several files of this run (the ESDK caching CMM; off by default) until a limit: ' +
        'max-age=DUR (required; 30s, 5m, 1h or seconds), max-messages=N (1 to 2^32; default 2^32), ' +
        'max-bytes=SIZE of plaintext (e.g. 1G; default no limit). Fewer key calls (KMS requests and their cost), ' +
        'but one data key then protects several files, so one exposed key exposes them all. A file is checked ' +
        'against max-bytes before it is encrypted; stdin is counted as it goes, and the key retired once over. ' +
        'Suites without a KDF (0x0014, 0x0046, 0x0078) are never cached.',
    )
    .addHelpText(
      'after',
      `\n${filesHelp('encrypt')}\n\n${KEY_HELP}\n\nExamples:\n` +
        '  envelope encrypt -k alias/backups < db.dump > db.dump.enc      # after: envelope keygen backups\n' +
        '  envelope encrypt secrets.env -k raw-rsa:file=team.pub.pem,namespace=team,name=ops -c app=web --armor\n' +
        '  envelope encrypt -k alias/backups a.txt b.txt                   # writes a.txt.enc and b.txt.enc\n' +
        '  envelope encrypt -k alias/backups -r photos notes.txt -o vault  # vault/photos/…/x.jpg.enc, vault/notes.txt.enc',
    )
    .action(lazy(() => import('./commands/encrypt.js'), 'run'));
}

function addDecrypt(program: EnvelopeCommand): void {
  program
    .command('decrypt')
    .summary('decrypt AWS Encryption SDK messages: files, directory trees or stdin')
    .description(
      'Decrypt each FILE (or stdin), binary or base64. Output goes to FILE without .enc or .encrypted (else FILE.dec), ' +
        'into -o DIR, or for one input to -o FILE or stdout.\n' +
        'Local keystore keys are found from the message itself; other keys need -k (KMS keys: -k KEY-ARN or --discovery).\n' +
        'No plaintext is written before it authenticates; a file output appears only once the whole message has.',
    )
    .argument('[files...]', 'messages (and directories with -r); stdin when none or -')
    .option('-k, --key <key>', 'master key that may unwrap the data key (repeatable)', collect, [])
    .addOptions(discoveryOptions())
    .option('-c, --context <key[=value]>', 'require a context pair (key=value) or key (key) (repeatable)', collect, [])
    .option('-o, --output <path>', 'output file, - for stdout, or an existing directory to put the outputs in')
    .option('-r, --recursive', 'walk directories and mirror their trees into -o DIR')
    .option('--suffix <suffix>', 'stripped from output file names (default: .enc or .encrypted; a name without it gets .dec)')
    .addOption(commitmentOption())
    .addOptions(limitOptions())
    .option('--buffer', 'with stdout: hold all plaintext until the whole message (and signature) verifies')
    .addOption(
      new Option('--format <format>', 'check that the plaintext is dotenv or JSON before writing any of it').choices(['dotenv', 'json']),
    )
    .option('--force', 'overwrite existing output files')
    .addHelpText(
      'after',
      `\n${filesHelp('decrypt')}\n\n${KEY_HELP}\n\nExamples:\n` +
        '  envelope decrypt db.dump.enc -o db.dump\n' +
        '  envelope decrypt -k raw-rsa:file=ops.pem,namespace=team,name=ops -c app=web < secrets.env.enc\n' +
        '  envelope decrypt a.txt.enc b.txt.encrypted c.bin                # writes a.txt, b.txt and c.bin.dec\n' +
        '  envelope decrypt -r vault/photos -o restored                    # restored/photos/…/x.jpg',
    )
    .action(lazy(() => import('./commands/decrypt.js'), 'run'));
}

function addInspect(program: EnvelopeCommand): void {
  program
    .command('inspect')
    .summary('show what a message says about itself, without any key')
    .description(
      'Print a message header: version, suite, message id, encryption context, wrapped keys, frame length.\nFor a file, the body is walked too: frame count and body size. Nothing is decrypted or verified.',
    )
    .argument('[file]', 'input file; stdin when omitted or -')
    .option('--json', 'print JSON')
    .addOptions(limitOptions())
    .action(lazy(() => import('./commands/inspect.js'), 'run'));
}

function addExec(program: EnvelopeCommand): void {
  program
    .command('exec')
    .summary('run a command with a dotenv message decrypted into its environment')
    .description(
      'Decrypt FILE (a dotenv message), check the whole message, and run COMMAND with its variables added to the ' +
        'environment (only those with --pristine). The plaintext is never written to disk. COMMAND\'s exit status is ' +
        "envelope's; signals are passed on to it. Dotenv rules: KEY=VALUE lines, optional `export `, # comments, " +
        "'single quotes' literal, \"double quotes\" with \\n \\r \\t \\\\ \\\" \\$ escapes, quoted values may span lines, " +
        'no $VAR expansion, the last of a repeated key wins.',
    )
    .argument('<file>', 'the encrypted dotenv file')
    .argument('<command...>', 'the command and its arguments, after -- (so that its options are not taken for envelope\'s)')
    .option('-k, --key <key>', 'master key that may unwrap the data key (repeatable)', collect, [])
    .addOptions(discoveryOptions())
    .option('-c, --context <key[=value]>', 'require a context pair (key=value) or key (key) (repeatable)', collect, [])
    .addOption(commitmentOption())
    .option('--pristine', 'give COMMAND only the decrypted variables, not envelope\'s environment')
    .addHelpText('after', '\nExamples:\n  envelope exec secrets.env.enc -- node server.js\n  envelope exec --pristine ci.env.enc -- ./deploy.sh --prod')
    .action(lazy(() => import('./commands/exec.js'), 'run'));
}

function addReEncrypt(program: EnvelopeCommand): void {
  program
    .command('re-encrypt')
    .summary('give messages new master keys without re-encrypting their bodies')
    .description(
      'Unwrap the data key once, wrap it under the --to keys, re-authenticate the header and copy the body byte for byte ' +
        '(a signed message is re-signed after its old signature verifies). A file into a file whose new header is as long ' +
        'as the old (keys of the same kinds) is copied by the file system (cloned where it can) and its header replaced in ' +
        'the copy, whose body is then checked. --new-data-key decrypts and encrypts everything ' +
        'instead, upgrading non-committing suites. The old wrapped keys are dropped.',
    )
    .argument('[files...]', 'messages; stdin when none or -')
    .option('--to <key>', 'new master key (repeatable)', collect, [])
    .option('--from <key>', 'key that may unwrap the current data key (repeatable; local keys are found without it)', collect, [])
    .addOptions(discoveryOptions())
    .option('-o, --output <path>', 'output file, or - for stdout (one input)')
    .option('--in-place', 'replace each file atomically')
    .option('--new-data-key', 're-encrypt the body under a fresh data key')
    .addOption(commitmentOption())
    .addOptions(limitOptions())
    .option('--force', 'overwrite an existing output file')
    .addHelpText('after', `\n${KEY_HELP}\n\nExamples:\n  envelope re-encrypt backups/*.enc --to alias/backups-2027 --in-place\n  envelope re-encrypt old.enc --from raw-aes:file=old.key,namespace=ns,name=k --to alias/new -o new.enc`)
    .action(lazy(() => import('./commands/re-encrypt.js'), 'run'));
}

function addKeygen(program: EnvelopeCommand): void {
  program
    .command('keygen')
    .summary('create a key in the local keystore, or in AWS KMS with --kms')
    .description(
      'Create a master key in the local keystore, with the alias alias/NAME when NAME is given. Prints its key id.\n' +
        'With --kms, create it in AWS KMS instead (CreateKey for ENCRYPT_DECRYPT, then CreateAlias, then EnableKeyRotation ' +
        'with --rotation-period) and print its key ARN. Should a step after CreateKey fail, the error says so and names the key.',
    )
    .argument('[name]', 'alias name: NAME or alias/NAME')
    .addOption(
      new Option('--type <spec>', 'key spec (SYMMETRIC_DEFAULT is KMS\'s name for AES_256)')
        .choices(['AES_256', 'SYMMETRIC_DEFAULT', 'RSA_2048', 'RSA_3072', 'RSA_4096'])
        .default('AES_256'),
    )
    .option('--kms', 'create the key in AWS KMS (region: --region, $AWS_REGION, the config); not with --import, --origin or --exportable')
    .option('--description <text>', 'what the key is for')
    .option('--tag <key=value>', 'tag (repeatable)', collect, [])
    .option('--rotation-period <days>', 'rotate automatically every DAYS (90-2560)')
    .option('--import <file>', 'use this 256-bit key material (raw, hex or base64) instead of generating it')
    .addOption(new Option('--origin <origin>', 'external: create the key without material, to import later').choices(['external']))
    .option('--exportable', 'allow keys export of its raw material (irreversible)')
    .option('--multi-region', 'a multi-region key: key id mrk-…, served by envelope serve in every region (with --kms: CreateKey MultiRegion)')
    .option('--json', 'print the key metadata as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  envelope keygen backups --rotation-period 365\n  envelope keygen team --type RSA_3072 && envelope keys export-public alias/team > team.pem\n' +
        '  envelope keygen --kms backups --region eu-west-1 --tag team=ops   # prints arn:aws:kms:eu-west-1:…:key/…',
    )
    .action(lazy(keysModule, 'keygen'));
}

function addRotate(program: EnvelopeCommand): void {
  program
    .command('rotate')
    .summary('rotate a key (local or AWS KMS), or set its rotation schedule')
    .description(
      'Add a new backing version that becomes primary for new encryptions; older versions keep decrypting.\n' +
        'With --schedule, --no-schedule or --status, manage automatic rotation instead. --due rotates every local key past its date.\n' +
        'An AWS KMS key (kms:…, arn:aws:kms:…, or any key with --kms) rotates with RotateKeyOnDemand; --schedule is ' +
        'EnableKeyRotation, --no-schedule DisableKeyRotation, --status GetKeyRotationStatus and ListKeyRotations.',
    )
    .argument('[key]', 'the key')
    .option('--kms', 'the key is in AWS KMS (for alias/NAME, NAME or a key id)')
    .option('--schedule <days>', 'rotate automatically every DAYS (90-2560; 365 is usual)')
    .option('--no-schedule', 'stop automatic rotation')
    .option('--status', 'show the rotation settings')
    .option('--due', 'rotate every key whose automatic rotation is due')
    .option('--json', 'print JSON')
    .action(lazy(keysModule, 'rotate'));
}

function addKeys(program: EnvelopeCommand): void {
  const keys = program
    .command('keys')
    .summary('list and manage the keys of the local keystore, or of AWS KMS')
    .addHelpText(
      'after',
      '\nA key given as kms:alias/NAME, kms:KEY-ID or arn:aws:kms:… (or any key with --kms) is an AWS KMS key:\n' +
        'list, show, enable, disable, delete, cancel-deletion, alias, policy (to show it) and export-public call\n' +
        'the KMS API (region: the ARN\'s, else --region, $AWS_REGION, the config). export is refused: KMS never\n' +
        'exports key material. import and setting a policy are left to the AWS CLI.',
    );
  const kmsKeyOption = () => new Option('--kms', 'the key is in AWS KMS (for alias/NAME, NAME or a key id)');
  keys
    .command('list')
    .description('List the keys (with --kms: the AWS KMS keys of the region and their aliases)')
    .option('--json', 'print JSON')
    .addOption(new Option('--kms', 'list the keys of AWS KMS instead (ListKeys, ListAliases)'))
    .action(lazy(keysModule, 'list'));
  keys
    .command('show')
    .description('Show a key (KMS KeyMetadata fields, aliases, versions, policy; for a KMS key: DescribeKey, its aliases and rotation)')
    .argument('<key>')
    .option('--json', 'print JSON')
    .addOption(kmsKeyOption())
    .action(lazy(keysModule, 'show'));
  keys.command('enable').description('Enable a key').argument('<key>').addOption(kmsKeyOption()).action(lazy(keysModule, 'enable'));
  keys
    .command('disable')
    .description('Disable a key: every operation with it is refused')
    .argument('<key>')
    .addOption(kmsKeyOption())
    .action(lazy(keysModule, 'disable'));
  keys
    .command('delete')
    .description(
      'Schedule a key for deletion after DAYS (7-30); its material is destroyed on the first keystore write after that date ' +
        '(a KMS key: ScheduleKeyDeletion, KMS deletes it on that date)',
    )
    .argument('<key>')
    .option('--days <n>', 'waiting period in days', '30')
    .addOption(kmsKeyOption())
    .action(lazy(keysModule, 'scheduleDeletion'));
  keys
    .command('cancel-deletion')
    .description('Cancel a scheduled deletion; the key becomes Disabled (as in KMS)')
    .argument('<key>')
    .addOption(kmsKeyOption())
    .action(lazy(keysModule, 'cancelDeletion'));
  keys
    .command('alias')
    .description('Point alias/NAME at a key (moving it if it exists), or remove it with --delete')
    .argument('<alias>', 'alias/NAME')
    .argument('[key]', 'the key it names')
    .option('--delete', 'remove the alias')
    .addOption(new Option('--kms', 'the alias and key are in AWS KMS (CreateAlias, UpdateAlias, DeleteAlias)'))
    .action(lazy(keysModule, 'alias'));
  keys
    .command('policy')
    .description('Show or set what a key allows: operations and required encryption context (a KMS key: show its key policy document)')
    .argument('<key>')
    .option('--allow <operation>', 'allow an operation (repeatable): encrypt, decrypt, generate-data-key, re-encrypt, rotate, manage', collect, [])
    .option('--require-context <key[=value]>', 'require this context on every use (repeatable)', collect, [])
    .option('--reset', 'back to the default: everything allowed, no context required')
    .option('--json', 'print JSON')
    .addOption(kmsKeyOption())
    .addHelpText('after', '\nIn a file keystore its user can edit, a policy is a guard rail against mistakes, not a security boundary.')
    .action(lazy(keysModule, 'policy'));
  keys
    .command('export')
    .description('Print the raw material of one version (base64) of a key created with --exportable')
    .argument('<key>')
    .option('--version <n>', 'backing version (default: primary)')
    .option('-o, --output <path>', 'write the raw 32 bytes to this file (mode 0600) instead')
    .option('--force', 'overwrite an existing output file')
    .addOption(new Option('--kms', 'refused: AWS KMS never exports key material'))
    .action(lazy(keysModule, 'exportMaterial'));
  keys
    .command('export-public')
    .description("Print an RSA key's public key (PEM), for encrypting with raw-rsa: where the keystore is not (a KMS key: GetPublicKey)")
    .argument('<key>')
    .option('--version <n>', 'backing version (default: primary)')
    .addOption(kmsKeyOption())
    .action(lazy(keysModule, 'exportPublic'));
  keys
    .command('import')
    .description('Import 256-bit material into a key of origin EXTERNAL: its first material, or a new primary version')
    .argument('<key>')
    .argument('<file>', 'raw, hex or base64 key material')
    .addOption(new Option('--kms', 'refused: import material into KMS keys with the AWS CLI'))
    .action(lazy(keysModule, 'importMaterial'));
}

function addKms(program: EnvelopeCommand): void {
  const kms = program
    .command('kms')
    .summary('the AWS KMS primitives on local keys (or passed to AWS KMS): encrypt, decrypt, re-encrypt, generate-data-key, …')
    .description(
      'Shaped like `aws kms`. Output: the response as JSON with base64 blobs (--output json, the default), ' +
        'the main value in base64 (--output text; generate-data-key prints blob TAB plaintext), or its raw bytes (--output binary). ' +
        'Inputs are fileb://PATH, a path, or stdin (-); a blob may be binary or base64. ' +
        'Encrypt takes at most 4096 bytes, as KMS. Symmetric (AES_256) local keys only.\n' +
        'A key given as kms:alias/NAME, kms:KEY-ID or arn:aws:kms:… (or any key with --kms) sends the call to AWS KMS, ' +
        'with the same inputs and output; decrypt --kms sends the blob to AWS KMS, generate-random --kms calls GenerateRandom. ' +
        're-encrypt between a local key and a KMS key decrypts on one side and encrypts on the other.',
    );
  const kmsModule = () => import('./commands/kms.js');
  const outputOption = () => new Option('--output <format>', 'json, text or binary').choices(['json', 'text', 'binary']).default('json');
  const CONTEXT_HELP = 'encryption context pair (repeatable)';
  const kmsCallOption = () => new Option('--kms', 'the keys are in AWS KMS (for alias/NAME, NAME or a key id)');
  kms
    .command('encrypt')
    .description('Encrypt up to 4096 bytes under a key into a ciphertext blob')
    .option('--key-id <key>', 'the key')
    .option('--plaintext <source>', 'fileb://PATH, PATH or - (stdin, the default)')
    .option('-c, --encryption-context <key=value>', CONTEXT_HELP, collect, [])
    .addOption(outputOption())
    .addOption(kmsCallOption())
    .action(lazy(kmsModule, 'encrypt'));
  kms
    .command('decrypt')
    .description('Decrypt a ciphertext blob; the blob names its key')
    .option('--ciphertext-blob <source>', 'fileb://PATH, PATH or - (stdin, the default)')
    .option('--key-id <key>', 'refuse unless the blob was made by this key')
    .option('-c, --encryption-context <key=value>', CONTEXT_HELP, collect, [])
    .addOption(outputOption())
    .addOption(new Option('--kms', 'the blob is an AWS KMS blob: send it to AWS KMS (Decrypt)'))
    .action(lazy(kmsModule, 'decrypt'));
  kms
    .command('re-encrypt')
    .description('Decrypt a blob and encrypt its plaintext under another key, without printing it')
    .option('--ciphertext-blob <source>', 'fileb://PATH, PATH or - (stdin, the default)')
    .option('--source-key-id <key>', 'refuse unless the blob was made by this key')
    .option('--destination-key-id <key>', 'the new key')
    .option('--source-encryption-context <key=value>', CONTEXT_HELP, collect, [])
    .option('--destination-encryption-context <key=value>', CONTEXT_HELP, collect, [])
    .addOption(outputOption())
    .addOption(kmsCallOption())
    .action(lazy(kmsModule, 'reEncrypt'));
  for (const [name, fn, what] of [
    ['generate-data-key', 'generateDataKey', 'a data key: its plaintext and a blob of it'],
    ['generate-data-key-without-plaintext', 'generateDataKeyWithoutPlaintext', 'a data key as a blob only'],
  ] as const) {
    kms
      .command(name)
      .description(`Generate ${what}`)
      .option('--key-id <key>', 'the key')
      .addOption(new Option('--key-spec <spec>', 'AES_256 (default) or AES_128').choices(['AES_256', 'AES_128']))
      .option('--number-of-bytes <n>', 'length of the data key, 1-1024')
      .option('-c, --encryption-context <key=value>', CONTEXT_HELP, collect, [])
      .addOption(outputOption())
      .addOption(kmsCallOption())
      .action(lazy(kmsModule, fn));
  }
  kms
    .command('generate-random')
    .description('Random bytes from the CSPRNG (with --kms, from AWS KMS GenerateRandom)')
    .option('--number-of-bytes <n>', '1-1024', '32')
    .addOption(outputOption())
    .addOption(new Option('--kms', 'ask AWS KMS (GenerateRandom)'))
    .action(lazy(kmsModule, 'generateRandom'));
}

function addAudit(program: EnvelopeCommand): void {
  program
    .command('audit')
    .summary('show or verify the audit log of the local keystore')
    .option('--verify', 'check the hash chain; exit 5 naming the first bad line')
    .option('--json', 'print the entries as JSON lines')
    .action(lazy(() => import('./commands/audit.js'), 'run'));
}

function addKeystore(program: EnvelopeCommand): void {
  const keystore = program.command('keystore').summary('protect the local keystore with a passphrase');
  const keystoreModule = () => import('./commands/keystore.js');
  keystore.command('info').description('Where the keystore is, how it is protected, how many keys').option('--json', 'print JSON').action(lazy(keystoreModule, 'info'));
  keystore
    .command('protect')
    .description('Encrypt the keystore at rest under a passphrase (new passphrase: $ENVELOPE_NEW_PASSPHRASE or a prompt)')
    .action(lazy(keystoreModule, 'protect'));
  keystore.command('unprotect').description('Remove the passphrase: key material is then protected by file permissions only').action(lazy(keystoreModule, 'unprotect'));
  keystore
    .command('change-passphrase')
    .description('Replace the passphrase (new passphrase: $ENVELOPE_NEW_PASSPHRASE or a prompt)')
    .action(lazy(keystoreModule, 'changePassphrase'));
}

function addServe(program: EnvelopeCommand): void {
  program
    .command('serve')
    .summary('serve the local keystore as AWS KMS (JSON 1.1 API) to AWS SDKs, the AWS CLI and envelope')
    .description(
      'Answer the AWS KMS API over HTTP with the keys of the local keystore, until SIGINT or SIGTERM (exit 0 once the ' +
        'requests in flight are answered). Point a client at it with AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4599 and any ' +
        'credentials. Operations: CreateKey, DescribeKey, ListKeys, Enable/DisableKey, Schedule/CancelKeyDeletion, ' +
        'Create/Update/DeleteAlias, ListAliases, Enable/DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ' +
        'ListKeyRotations, Tag/UntagResource, ListResourceTags, Get/PutKeyPolicy, Encrypt, Decrypt, ReEncrypt, ' +
        'GenerateDataKey(WithoutPlaintext), GenerateRandom, GetPublicKey. Encrypt and the data-key operations take ' +
        'symmetric keys; ciphertext blobs are the keystore\'s own (those of envelope kms), not AWS KMS\'s.\n' +
        'Keys are arn:aws:kms:REGION:ACCOUNT:key/ID: a key exists only in the served region, a multi-region key ' +
        '(CreateKey MultiRegion, keygen --multi-region) in every region, under that region\'s ARN. The region of a ' +
        'request is the one its SigV4 signature names. The served region is the global --region, else $AWS_REGION, else ' +
        '$AWS_DEFAULT_REGION, else us-east-1.',
    )
    .option('--listen <host:port>', 'address to listen on; port 0 picks a free port; another address than loopback only when named here, by IP', '127.0.0.1:4599')
    .option('--account <id>', 'the 12-digit account in the ARNs', '111122223333')
    .option(
      '--token-file <path>',
      'refuse (AccessDeniedException) requests whose access key id is not the first line of this file (mode 0600); ' +
        'only the access key id is compared, the SigV4 signature is not checked',
    )
    .option('--throttle <n>', 'answer the first N requests with ThrottlingException, to test that clients retry', '0')
    .addHelpText(
      'after',
      '\nOn start one line on stderr names the address (--listen PORT or :PORT is 127.0.0.1); then one line per\n' +
        'request, envelope: kms Operation STATUS [KEY-ID][: ErrorType], unless -q. Every request gets a line in the\n' +
        'audit log (envelope audit). A request is at most 1 MiB and 30 s. A passphrase-protected keystore is unlocked\n' +
        'once, at start. GetKeyPolicy gives the key policy as a KMS policy document; PutKeyPolicy takes one that\n' +
        'says no more than an envelope policy can (Allow statements for this account, whole groups of actions,\n' +
        'StringEquals and Null conditions on kms:EncryptionContext:KEY) and refuses any other with\n' +
        'MalformedPolicyDocumentException. Reads and PutKeyPolicy are always allowed.\n\nExamples:\n' +
        '  envelope serve &\n' +
        '  AWS_ENDPOINT_URL_KMS=http://127.0.0.1:4599 aws kms create-key --multi-region\n' +
        '  envelope serve --listen 127.0.0.1:0 --region eu-west-1 --token-file ~/.config/envelope/serve-token',
    )
    .action(lazy(() => import('./commands/serve.js'), 'run'));
}

function addCompletion(program: EnvelopeCommand): void {
  // The scripts are generated from this program itself (src/cli/completions.ts).
  program
    .command('completion')
    .summary('print the completion script for bash, zsh or fish')
    .description('Print a script that completes commands, flags, choices, file names and the keys of the local keystore.')
    .addArgument(program.createArgument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      '\nExamples:\n  source <(envelope completion bash)                                    # in ~/.bashrc\n' +
        '  envelope completion zsh > ~/.zfunc/_envelope                          # with fpath+=(~/.zfunc) before compinit\n' +
        '  envelope completion fish > ~/.config/fish/completions/envelope.fish',
    )
    .action(lazy(() => import('./commands/completion.js'), 'run'));
}

/** Every command, by name, in the order --help lists them. */
const COMMANDS: Readonly<Record<string, (program: EnvelopeCommand) => void>> = {
  encrypt: addEncrypt,
  decrypt: addDecrypt,
  inspect: addInspect,
  exec: addExec,
  're-encrypt': addReEncrypt,
  keygen: addKeygen,
  rotate: addRotate,
  keys: addKeys,
  kms: addKms,
  audit: addAudit,
  keystore: addKeystore,
  serve: addServe,
  completion: addCompletion,
};

/**
 * The command line: every command, or, given the run's argv, only the command
 * it runs, which is all that such a run parses argv against. Building the
 * other dozen commands, their options and help texts cost each run ~5 ms
 * (--cpu-prof of a 1 KiB decrypt) and young-generation garbage.
 */
export function buildProgram(argv?: readonly string[]): Command {
  const program = new EnvelopeCommand('envelope')
    .description('Envelope encryption: AWS Encryption SDK messages under master keys that never leave their home')
    .addOption(
      new Option('-q, --quiet', 'print nothing on stderr but errors: no notes, summary lines, warnings, spinner or progress').conflicts('verbose'),
    )
    .option('-v, --verbose', 'also print which key unwrapped (or wrapped) the data key, and timings')
    .option('--debug', 'print stack traces with errors')
    .option('--config <file>', 'read settings from this file instead of searching for .enveloperc and the like')
    .option('--keystore <dir>', 'the local keystore directory')
    .option('--region <region>', 'AWS region of kms: keys given without an ARN (default: $AWS_REGION, the config, the profile), and the region serve serves')
    .option('--profile <name>', 'AWS profile for credentials and region (default: $AWS_PROFILE, the config)')
    .option('--allow-insecure-permissions', 'use a keystore that group or others can read')
    .option('--passphrase-fd <n>', 'read the keystore passphrase from this file descriptor')
    .option('--passphrase-file <path>', 'read the keystore passphrase from the first line of this file')
    .showHelpAfterError(false)
    .addHelpText('after', `\nenvelope --version (or -V) prints the version.\n\n${OUTPUT_HELP}\n\n${KEYSTORE_HELP}\n\n${KMS_HELP}\n\n${CONFIG_HELP}\n\n${EXIT_CODE_HELP}`)
    .configureOutput({ outputError: () => undefined })
    .exitOverride();

  const only = argv && commandNamed(program, argv.slice(2));
  for (const [name, add] of Object.entries(COMMANDS)) if (only === undefined || only === name) add(program);
  return program;
}

/**
 * The command that `args` (argv after node and the script) runs, found as
 * commander finds it: the first word that is neither an option nor the value
 * of a global option. Undefined when that is no command of ours (help, or a
 * typo, which commander answers with suggestions from all of them) or there
 * is none.
 */
function commandNamed(program: Command, args: readonly string[]): string | undefined {
  const takeValues = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short]));
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') return undefined;
    if (!word.startsWith('-')) return Object.hasOwn(COMMANDS, word) ? word : undefined;
    if (takeValues.has(word)) i++;
  }
  return undefined;
}
