// The manual page envelope(1), in roff with the man(7) macros, generated from
// the commander program (every command, argument and option with its help
// text) and the fixed sections below; `npm run docs` writes man/envelope.1.

import type { EventEmitter } from 'node:events';
import type { Command } from 'commander';
import { allCommands, type CommandSpec, describeProgram, type FlagSpec, globalFlags } from './completions.js';
import { EXIT_STATUS_TABLE } from './exit-codes.js';

export interface ManPageOptions {
  /** The package version, for the page footer. */
  readonly version: string;
  /** YYYY-MM-DD: when the page last changed (the generator keeps it while the text stays the same). */
  readonly date: string;
}

// ---------------------------------------------------------------- roff

/**
 * Escapes running text: a backslash is \(rs, every hyphen a \- (so options and
 * commands copy and paste as typed), and characters outside ASCII are named.
 */
export function roffText(text: string): string {
  let out = '';
  for (const ch of text) {
    if (ch === '\\') out += '\\(rs';
    else if (ch === '-') out += '\\-';
    else if (ch === '\u2026') out += '\\&...';
    else if (ch === '\u2014') out += '\\(em';
    else if (ch === '\u2013') out += '\\(en';
    else if (ch === '\u2192') out += '\\(->';
    else if (ch === '\u2264') out += '\\(<=';
    else if (ch.codePointAt(0)! > 0x7e) {
      out += `\\[u${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`;
    } else out += ch;
  }
  return out;
}

const bold = (s: string) => `\\fB${roffText(s)}\\fR`;
const italic = (s: string) => `\\fI${roffText(s)}\\fR`;

/** Escaped text as filled text lines, one per line of the text, none read as a request. */
function paragraph(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map(roffLine);
}

/** A text line that is never read as a request: \& before a leading . or '. */
function roffLine(escaped: string): string {
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

/** Inline markup for the fixed sections: *bold*, _italic_, the rest escaped. */
function md(text: string): string {
  return text
    .split(/(\*[^*]+\*|\b_[^_]+_\b)/)
    .map((part) => {
      if (/^\*[^*]+\*$/.test(part)) return bold(part.slice(1, -1));
      if (/^_[^_]+_$/.test(part)) return italic(part.slice(1, -1));
      return roffText(part);
    })
    .join('');
}

/** Paragraphs separated by blank lines, lines as given; a paragraph starting with '$ ' is an example. */
function prose(text: string): string[] {
  const out: string[] = [];
  for (const block of text.trim().split(/\n\s*\n/)) {
    const lines = block.split('\n');
    if (lines[0]!.startsWith('$ ')) out.push(...example(lines.map((l) => l.replace(/^\$ /, ''))));
    else out.push('.PP', ...lines.map((l) => roffLine(md(l.trim()))));
  }
  return out;
}

function example(lines: readonly string[]): string[] {
  return ['.PP', '.RS 4', '.EX', ...lines.map((l) => roffLine(roffText(l))), '.EE', '.RE'];
}

/** `.TP` items: a term (already marked up) and its text. */
function item(term: string, text: string | readonly string[]): string[] {
  return ['.TP', roffLine(term), ...(typeof text === 'string' ? paragraph(text) : text)];
}

// ---------------------------------------------------------------- commands

function title(spec: CommandSpec): string {
  return ['envelope', ...spec.path].join(' ');
}

/** The command and its arguments as in its usage line: `envelope keys alias alias [key]`. */
function heading(spec: CommandSpec): string {
  const args = spec.args.map((a) => {
    const name = `${a.name}${a.variadic ? '...' : ''}`;
    return a.required ? name : `[${name}]`;
  });
  return [title(spec), ...args].join(' ');
}

function flagTerm(f: FlagSpec): string {
  const names = [f.short, f.long].filter((n): n is string => n !== undefined).map(bold);
  return `${names.join(', ')}${valueTerm(f, ' ')}`;
}

/** ` key`, or ` [key]` for a value that may be left out. */
function valueTerm(f: FlagSpec, space: string): string {
  if (!f.placeholder) return '';
  return f.option.required ? `${space}${italic(f.placeholder)}` : `${space}[${italic(f.placeholder)}]`;
}

/** The help text, then what commander's --help adds: the choices and the default. */
function flagText(f: FlagSpec): string[] {
  const extra: string[] = [];
  const choices = f.option.argChoices;
  if (choices) extra.push(`one of ${choices.map(bold).join(', ')}`);
  const def: unknown = f.option.defaultValue;
  if ((typeof def === 'string' || typeof def === 'number') && f.value) extra.push(`default ${bold(String(def))}`);
  const text = roffText(f.description);
  return paragraph(extra.length > 0 ? `${text} (${extra.join('; ')})` : text);
}

function flagList(flags: readonly FlagSpec[]): string[] {
  return flags.flatMap((f) => item(flagTerm(f), flagText(f)));
}

function synopsisArgs(spec: CommandSpec): string {
  return spec.args
    .map((a) => {
      const name = `${italic(a.name)}${a.variadic ? '...' : ''}`;
      return a.required ? name : `[${name}]`;
    })
    .join(' ');
}

function synopsis(spec: CommandSpec): string[] {
  const options = spec.flags
    .filter((f) => f.long !== '--help')
    .map((f) => {
      return `[${bold(f.short ?? f.long ?? '')}${valueTerm(f, '\\ ')}]${f.repeatable ? '...' : ''}`;
    });
  const args = synopsisArgs(spec);
  return [`.SY ${quoteArg(roffText(title(spec)))}`, ...[...options, ...(args ? [args] : [])].map(roffLine), '.YS'];
}

/** A macro argument in double quotes. */
function quoteArg(escaped: string): string {
  return `"${escaped.replace(/"/g, '\\(dq')}"`;
}

/**
 * What `addHelpText('after', …)` adds to a command's --help: examples and
 * notes, read through the event commander emits for it. The -k list is the
 * KEY SPECIFIERS section here.
 */
function helpAfter(command: Command): string[] {
  let text = '';
  // commander's Command is an EventEmitter at run time, though its typings do not say so.
  (command as unknown as EventEmitter).emit('afterHelp', { error: false, command, write: (s: string) => (text += s) });
  const out: string[] = [];
  for (const block of text.trim().split(/\n\s*\n/)) {
    const [head = '', ...rest] = block.split('\n');
    if (!head) continue;
    if (head.startsWith('Keys (-k')) {
      out.push('.PP', `Keys: see ${bold('KEY SPECIFIERS')} below.`);
    } else if (head.endsWith(':') && rest.length > 0 && rest.every((l) => /^\s/.test(l))) {
      const indent = Math.min(...rest.map((l) => /^\s*/.exec(l)![0].length));
      out.push('.PP', roffLine(roffText(head)), ...example(rest.map((l) => l.slice(indent))).slice(1));
    } else {
      out.push('.PP', ...paragraph(roffText(block)));
    }
  }
  return out;
}

function commandSection(spec: CommandSpec): string[] {
  const out = [`.SS ${quoteArg(roffText(heading(spec)))}`, ...paragraph(roffText(spec.description || spec.summary))];
  const args = spec.args.filter((a) => a.description);
  if (args.length > 0) {
    out.push('.PP', 'Arguments:', '.RS 4');
    for (const a of args) out.push(...item(italic(a.name), roffText(a.description)));
    out.push('.RE');
  }
  const flags = spec.flags.filter((f) => f.long !== '--help');
  if (flags.length > 0) out.push('.PP', 'Options:', '.RS 4', ...flagList(flags), '.RE');
  if (spec.commands.length > 0) {
    const names = spec.commands.filter((c) => !c.isHelp).map((c) => bold(c.name));
    out.push('.PP', `Subcommands: ${names.join(', ')}; ${bold(`${title(spec)} help`)} [${italic('command')}] prints their help.`);
  }
  out.push(...helpAfter(spec.command));
  return out;
}

// ---------------------------------------------------------------- fixed sections

const DESCRIPTION = `
*envelope* encrypts files and streams with envelope encryption. Every message gets a fresh data key; a master key that never leaves its home wraps it; the wrapped key travels inside the ciphertext.
The ciphertext is the AWS Encryption SDK message format, byte for byte, so what *envelope* writes the AWS Encryption SDKs read, and the other way round.
Master keys live in a local keystore, a directory that behaves like a small KMS (see *FILES*), or in key files (see *KEY SPECIFIERS*).

With no _file_ (or *-*), input is stdin; with no *-o*, output is stdout for stdin, and for a file _file_*.enc* when encrypting and _file_ without *.enc* or *.encrypted* (else _file_*.dec*) when decrypting; *--suffix* changes the suffix added or stripped. An *-o* that is an existing directory receives the output under that name.
*encrypt* and *decrypt* take several files, and with *-r* directory trees, which they mirror into *-o* _dir_; the keys are opened once, each file that fails is reported and the others go on, and the exit status is that of the first failure.
Output files are written to a temporary file in the same directory and renamed into place when everything has verified: a failed decrypt leaves nothing behind, and an existing file is only replaced with *--force*.
Binary ciphertext is not written to a terminal.

Data goes to stdout, messages for people to stderr; *--json* prints what a script wants to parse.
Errors are one line on stderr, *envelope: error:* followed by what went wrong, with *hint:* lines where they help; *--debug* adds a stack trace.
*-q* keeps only errors on stderr; *-v* adds which key unwrapped (or wrapped) each data key, and how long the header and the whole message took.
Colors are used only when stderr is a terminal, and never with NO_COLOR set; FORCE_COLOR forces them.
On a terminal that is not a CI log, a spinner shows while a passphrase unlocks the keystore, and a line updated in place shows the progress of an input over 64 MiB (bytes, of the total for a file, rate and time left); neither ever reaches a pipe or a log.
*envelope help* [_command_] and *envelope* _command_ *--help* print the help of a command.
`;

const KEY_SPECIFIERS: readonly [string, string][] = [
  [
    `${bold('alias/')}${italic('NAME')}, ${italic('NAME')}, ${italic('KEY-ID')}`,
    'A key of the local keystore, by alias (with or without alias/) or by key id. envelope keygen NAME makes one.',
  ],
  [`${bold('local:alias/')}${italic('NAME')}, ${bold('local:')}${italic('KEY-ID')}`, 'The same, explicitly a key of the local keystore.'],
  [
    `${bold('raw-aes:file=')}${italic('PATH')}${bold(',namespace=')}${italic('NS')}${bold(',name=')}${italic('NAME')}`,
    'An AES-128, AES-192 or AES-256 key in a file (raw bytes, hex or base64): the AWS Encryption SDK raw AES keyring with key namespace NS and key name NAME.',
  ],
  [
    `${bold('raw-rsa:file=')}${italic('PEM')}${bold(',namespace=')}${italic('NS')}${bold(',name=')}${italic('NAME')}[${bold(',padding=')}${italic('P')}]`,
    'An RSA key in PEM, public (encrypt only) or private: the AWS Encryption SDK raw RSA keyring. P is oaep-sha256 (the default), oaep-sha1, oaep-sha384, oaep-sha512 or pkcs1.',
  ],
];

const KEY_TEXT = `
On encrypt the first key makes the data key and every further key wraps the same one, so any of them can decrypt.
On decrypt each wrapped key in the message is offered to each *-k* key that it is addressed to; when none works, the error lists every attempt.
Keys of the local keystore need no *-k* on decrypt: the message names the key id and version.

A local AES key wraps as the raw AES keyring with namespace *envelope-local* and key name _KEY-ID_*/*_VERSION_; a local RSA key as the raw RSA keyring with OAEP-SHA256 under the same names.
So the material that *keys export* hands out for a key created with *keygen --exportable* decrypts without the keystore, as *raw-aes:* with that namespace and name; and *keys export-public* gives *raw-rsa:* what it needs to encrypt where the keystore is not.
`;

const CONFIGURATION = `
Settings come from flags, else the environment, else a configuration file: *--config* _file_, or the first of *package.json* (its *envelope* field), *.enveloperc*, *.enveloperc.json*, *.enveloperc.yaml*, *.enveloperc.yml*, *envelope.config.js*, *envelope.config.mjs* or *envelope.config.cjs* found from the working directory up to the home directory.
An unknown setting or a value of the wrong type is exit status 2, naming the file and the field.
`;

const SETTINGS: readonly [string, string][] = [
  ['keys', 'Keys for encrypt when no -k is given.'],
  ['decryptKeys', 'Keys for decrypt and re-encrypt --from when none are given.'],
  ['keystore', 'The keystore directory, relative to the configuration file; --keystore and ENVELOPE_KEYSTORE win.'],
  ['frameSize', 'Frame size for encrypt, e.g. "1M".'],
  ['algorithm', 'Algorithm suite for encrypt, e.g. "0x0578".'],
  ['requiredContext', 'Encryption context every decrypt requires, e.g. ["app=web", "env"], unless -c is given.'],
  ['region', 'AWS region of kms: keys; --region and AWS_REGION win.'],
  ['profile', 'AWS profile; --profile and AWS_PROFILE win.'],
  ['discoveryAccounts', 'AWS accounts that --discovery accepts when no --discovery-account is given.'],
];

const CONFIG_EXAMPLE = `
$ # .enveloperc.yaml
$ keys: [alias/backups]
$ requiredContext: [purpose=backup]
`;

const ENVIRONMENT: readonly [string, string][] = [
  ['ENVELOPE_KEYSTORE', 'The keystore directory when --keystore is not given; it wins over the keystore setting of a configuration file.'],
  [
    'ENVELOPE_PASSPHRASE',
    'The passphrase of a protected keystore, when neither --passphrase-fd nor --passphrase-file is given. Without any of them, envelope asks on the terminal.',
  ],
  ['ENVELOPE_NEW_PASSPHRASE', 'The new passphrase for keystore protect and keystore change-passphrase; without it, envelope asks on the terminal, twice.'],
  ['XDG_DATA_HOME', 'The default keystore is $XDG_DATA_HOME/envelope, or ~/.local/share/envelope when it is unset or empty.'],
  ['NO_COLOR', 'When set, whatever its value, envelope writes no colors, even with FORCE_COLOR.'],
  ['FORCE_COLOR', 'Colors on stderr even when it is not a terminal (1, 2 or 3 for 16, 256 or 16 million colors); 0 turns them off.'],
  ['CI', 'When set, envelope shows no spinner or progress line, even on a terminal.'],
  ['ENVELOPE_THREADS', 'Threads that seal and open the frames of inputs over 16 MiB: the main thread and N-1 workers (default: one per core); 1 keeps everything on one thread. With workers, a pipe being encrypted, or an unsigned message being decrypted from a pipe, is read by one more thread, which only waits for the pipe.'],
  ['AWS_REGION', 'The region of kms: keys when --region is not given; it wins over the region setting.'],
  ['AWS_PROFILE', 'The AWS profile when --profile is not given; it wins over the profile setting. Credentials come from the AWS SDK\'s chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the profile, SSO, container and instance roles.'],
  ['AWS_ENDPOINT_URL_KMS', 'The AWS KMS endpoint (also AWS_ENDPOINT_URL), e.g. http://127.0.0.1:4599 for envelope serve.'],
  ['AWS_MAX_ATTEMPTS', 'Attempts per AWS KMS call, retries with backoff included (default 3); AWS_RETRY_MODE=adaptive also paces calls.'],
  ['TERM', 'With TERM=dumb, envelope shows no spinner or progress line, and no colors unless FORCE_COLOR is set.'],
];

const EXIT_TEXT = `
Terminated by SIGTERM, envelope exits with 143.
On an error, SIGINT or SIGTERM, temporary output files are removed: no partial output file is left behind.
`;

const FILES: readonly [string, string][] = [
  [
    '${XDG_DATA_HOME:-~/.local/share}/envelope/',
    'The keystore directory, unless --keystore, ENVELOPE_KEYSTORE or the keystore setting names another; created on first use with mode 0700. A keystore that group or others can read is refused unless --allow-insecure-permissions.',
  ],
  ['keystore.json', 'In the keystore: keys, aliases, versions, states, policies and the protection of the store key (mode 0600). Replaced only by rename, so readers need no lock.'],
  ['audit.log', 'In the keystore: the hash-chained audit log, one JSON line per operation (mode 0600).'],
  ['audit.head', 'In the keystore: the hash of the newest audit line, so that cutting lines off the end is detected (mode 0600).'],
  ['keystore.lock', 'In the keystore: present while a process updates the store; a lock whose holder died is detected.'],
  ['.enveloperc*, envelope.config.*', 'Configuration files, searched from the working directory up to the home directory; see CONFIGURATION.'],
];

const EXAMPLES = `
A key in the local keystore, and a file encrypted and decrypted with it:

$ envelope keygen backups --rotation-period 365
$ envelope encrypt -k alias/backups report.pdf          # writes report.pdf.enc
$ envelope decrypt report.pdf.enc                       # writes report.pdf

A directory tree encrypted into a mirror of itself, and restored from it:

$ envelope encrypt -k alias/backups -r projects -o /backup/vault        # writes /backup/vault/projects/…/*.enc
$ envelope decrypt -r /backup/vault/projects -o restored                # writes restored/projects/…

Backups piped through encrypt, with an encryption context that decrypt then requires:

$ pg_dump shop | envelope encrypt -k alias/backups -c purpose=backup > shop.sql.enc
$ envelope decrypt -c purpose=backup < shop.sql.enc | psql shop
$ tar -C /srv -cf - data | envelope encrypt -k alias/backups -o data.tar.enc

A secret for CI: encrypt it under a key file whose contents are stored as a CI secret, commit the ciphertext, and decrypt it in the job:

$ head -c 32 /dev/urandom | base64 > ci.key
$ envelope encrypt -k raw-aes:file=ci.key,namespace=ci,name=deploy --armor deploy.env
$ # in the job, with the key file written from the CI secret:
$ envelope decrypt -k raw-aes:file="$RUNNER_TEMP/ci.key",namespace=ci,name=deploy deploy.env.enc -o - > .env

A shell script that tells a tampered file from a missing key by the exit status:

$ status=0
$ envelope decrypt -o config.json config.json.enc || status=$?
$ case $status in
$   0) ;;
$   5) echo "config.json.enc was modified" >&2; exit 1 ;;
$   6) echo "no key here decrypts config.json.enc" >&2; exit 1 ;;
$   *) exit "$status" ;;
$ esac

New master keys for old backups, rewrapping the data keys without re-encrypting the bodies, and rotation from cron:

$ envelope re-encrypt backups/*.enc --to alias/backups-2027 --in-place
$ envelope rotate --due

A protected keystore in a non-interactive job, the passphrase read from a file:

$ envelope --passphrase-file /run/secrets/envelope decrypt secrets.env.enc -o -
`;

const SECURITY = `
*A key policy is a guard rail, not a security boundary.* In a file keystore whoever can read the files can also edit them, policy included; *keys policy* prevents mistakes, such as a backup key used to encrypt application data.

*The passphrase is never taken from the command line*, where every user of the machine can read it: it comes from ENVELOPE_PASSPHRASE, *--passphrase-fd*, *--passphrase-file* or a prompt without echo. A wrong passphrase is exit status 7.

*Without a passphrase, the keystore protects key material only by its file permissions.* Every record is sealed with AES-256-GCM under a store key, but that store key then sits in keystore.json beside them: anyone who can read the directory, or a backup of it, can use every key, as with an ssh private key or an age identity. *envelope keystore protect* wraps the store key under scrypt (N=2^17, r=8, p=1) of a passphrase; *keystore unprotect* undoes it. Records are bound to the keystore, key id, version and key spec, so an edited or swapped record is detected (exit status 5) and never used.

*The encryption context is authenticated, not secret.* It is stored in the message header in plain text, and *inspect* shows it without any key. The audit log records the keys of a context but never its values, and never plaintext, data keys or passphrases.

*Decrypt writes no plaintext that has not been authenticated*: each frame is released only after its tag verifies, and a file output appears only once the whole message has. A signed message's signature covers the whole message and is checked at its end; with stdout, *--buffer* holds all plaintext until it has.
`;

// ---------------------------------------------------------------- page

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

export function manPage(program: Command, { version, date }: ManPageOptions): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`man page date must be YYYY-MM-DD, not ${JSON.stringify(date)}`);
  const root = describeProgram(program);
  const commands = allCommands(root).filter((c) => c !== root && !c.isHelp);
  const leaves = commands.filter((c) => c.commands.length === 0);

  const lines = [
    `.\\" Generated from the envelope command definitions (src/cli/program.ts, src/cli/manpage.ts)`,
    `.\\" by \`npm run docs\`; do not edit.`,
    `.TH ENVELOPE 1 ${date} ${quoteArg(`envelope ${roffText(version)}`)} "User Commands"`,
    // Ragged right, and no hyphenation (groff's man macros read HY at every paragraph): commands and options stay whole.
    '.ad l',
    '.nr HY 0',
    '.hy 0',
    '.SH NAME',
    `envelope \\- ${roffText(lowerFirst(root.description))}`,
    '.SH SYNOPSIS',
    '.SY envelope',
    `[${italic('global-options')}]`,
    italic('command'),
    `[${italic('options')}]`,
    `[${italic('arguments')}]`,
    '.YS',
    ...leaves.flatMap(synopsis),
    '.SY envelope',
    bold('--version'),
    '.YS',
    '.SY envelope',
    bold('help'),
    `[${italic('command')}...]`,
    '.YS',
    '.SH DESCRIPTION',
    ...prose(DESCRIPTION),
    '.SH OPTIONS',
    'Global options, accepted before or after the command:',
    ...flagList(globalFlags(root)),
    ...flagList(root.flags.filter((f) => !globalFlags(root).includes(f))),
    '.SH COMMANDS',
    ...commands.flatMap(commandSection),
    '.SH KEY SPECIFIERS',
    `The ${bold('-k')}, ${bold('--key')}, ${bold('--to')} and ${bold('--from')} options take a master key in one of these forms:`,
    ...KEY_SPECIFIERS.flatMap(([term, text]) => item(term, roffText(text))),
    ...prose(KEY_TEXT),
    '.SH CONFIGURATION',
    ...prose(CONFIGURATION),
    '.PP',
    'Settings:',
    '.RS 4',
    ...SETTINGS.flatMap(([name, text]) => item(bold(name), roffText(text))),
    '.RE',
    ...prose(CONFIG_EXAMPLE),
    '.SH ENVIRONMENT',
    ...ENVIRONMENT.flatMap(([name, text]) => item(bold(name), roffText(text))),
    '.SH EXIT STATUS',
    ...EXIT_STATUS_TABLE.flatMap(({ code, meaning }) => item(bold(String(code)), roffText(meaning))),
    ...prose(EXIT_TEXT),
    '.SH FILES',
    ...FILES.flatMap(([name, text]) => item(italic(name), roffText(text))),
    '.SH EXAMPLES',
    ...prose(EXAMPLES),
    '.SH SECURITY',
    ...prose(SECURITY),
  ];
  return `${tidy(lines).join('\n')}\n`;
}

/**
 * What mandoc -T lint asks for: no paragraph macro right after a heading or
 * another paragraph macro, and filled text lines of at most 80 bytes, broken
 * at (unescaped) spaces. Lines between .EX and .EE and .TP tags are left as they are.
 */
function tidy(lines: readonly string[]): string[] {
  const out: string[] = [];
  let nofill = false;
  for (const line of lines) {
    if (line === '.EX') nofill = true;
    if (line === '.EE') nofill = false;
    const previous = out[out.length - 1] ?? '';
    if (line === '.PP' && /^\.(SH|SS|PP|TP)\b/.test(previous)) continue;
    // The line after .TP is its tag, which must stay one line.
    if (nofill || previous === '.TP' || line.startsWith('.') || line.length <= 80) {
      out.push(line);
      continue;
    }
    let current = '';
    for (const word of line.split(/(?<!\\) /)) {
      if (current && current.length + 1 + word.length > 80) {
        out.push(roffLine(current));
        current = word;
      } else current = current ? `${current} ${word}` : word;
    }
    if (current) out.push(roffLine(current));
  }
  return out;
}
