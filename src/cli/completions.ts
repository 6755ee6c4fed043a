// Shell completions for bash, zsh and fish, generated from the commander
// program itself (program.ts), so a new command, flag or choice is completed
// the moment it is defined. `envelope completion SHELL` prints them; the
// checked-in copies in completions/ are refreshed by `npm run docs`.
//
// What a value completes to is read off its definition: `.choices()` give the
// choices; a placeholder <file>, <path> or <source> (and an argument named
// file or files) gives file names, <dir> directories, <key> (and an argument
// named key) the keys of the local keystore, found at completion time with
// `envelope keys list --json`.

import type { Argument, Command, Option } from 'commander';

/** What the value of a flag or a positional argument completes to. */
export type ValueKind =
  | { readonly kind: 'none' }
  | { readonly kind: 'choices'; readonly values: readonly string[] }
  | { readonly kind: 'file' }
  | { readonly kind: 'dir' }
  /** Keys of the local keystore; with `specifiers`, also the raw-aes:, raw-rsa: and local: forms of -k. */
  | { readonly kind: 'key'; readonly specifiers: boolean }
  /** Aliases of the local keystore. */
  | { readonly kind: 'alias' }
  /** A program to run, then its arguments (file names). */
  | { readonly kind: 'command' };

export interface FlagSpec {
  readonly short?: string;
  readonly long?: string;
  /** Undefined for a flag that takes no value. */
  readonly value?: ValueKind;
  /** Given by its placeholder, e.g. `key` for `--key <key>`. */
  readonly placeholder?: string;
  readonly repeatable: boolean;
  readonly description: string;
  readonly option: Option;
}

export interface ArgSpec {
  readonly name: string;
  readonly required: boolean;
  readonly variadic: boolean;
  readonly value: ValueKind;
  readonly description: string;
}

export interface CommandSpec {
  readonly name: string;
  /** Subcommand names from the program down, e.g. ['keys', 'list']; [] for the program. */
  readonly path: readonly string[];
  readonly summary: string;
  readonly description: string;
  /** Its own flags and -h, --help (and, for the program, -V, --version). */
  readonly flags: readonly FlagSpec[];
  readonly args: readonly ArgSpec[];
  /** Subcommands, the implicit `help` command last where commander adds one. */
  readonly commands: readonly CommandSpec[];
  /** Commander's implicit `help [command]`. */
  readonly isHelp: boolean;
  readonly command: Command;
}

/** The flags whose values are master-key specifiers (src/keyring/registry.ts), not only local keys. */
export const KEY_SPECIFIER_FLAGS: ReadonlySet<string> = new Set(['--key', '--to', '--from']);
/** The forms of a -k value that are not a bare key of the local keystore. */
export const KEY_SPECIFIER_PREFIXES = ['raw-aes:', 'raw-rsa:', 'local:'] as const;

const NONE: ValueKind = { kind: 'none' };

function placeholderOf(option: Option): string | undefined {
  return /<([^>]+)>|\[([^\]]+)\]/.exec(option.flags)?.slice(1).find((s) => s !== undefined);
}

function flagValue(option: Option, placeholder: string | undefined): ValueKind | undefined {
  if (!option.required && !option.optional) return undefined;
  if (option.argChoices) return { kind: 'choices', values: option.argChoices };
  switch (placeholder) {
    case 'file':
    case 'path':
    case 'source':
      return { kind: 'file' };
    case 'dir':
      return { kind: 'dir' };
    case 'key':
      return { kind: 'key', specifiers: KEY_SPECIFIER_FLAGS.has(option.long ?? '') };
    case 'alias':
      return { kind: 'alias' };
    default:
      return NONE;
  }
}

function argValue(argument: Argument): ValueKind {
  if (argument.argChoices) return { kind: 'choices', values: argument.argChoices };
  switch (argument.name()) {
    case 'file':
    case 'files':
      return { kind: 'file' };
    case 'dir':
      return { kind: 'dir' };
    case 'key':
      return { kind: 'key', specifiers: false };
    case 'alias':
      return { kind: 'alias' };
    case 'command':
      return { kind: 'command' };
    default:
      return NONE;
  }
}

function flagSpec(option: Option): FlagSpec {
  const placeholder = placeholderOf(option);
  const value = flagValue(option, placeholder);
  return {
    ...(option.short ? { short: option.short } : {}),
    ...(option.long ? { long: option.long } : {}),
    ...(value ? { value } : {}),
    ...(placeholder ? { placeholder } : {}),
    repeatable: option.variadic || Array.isArray(option.defaultValue),
    description: option.description,
    option,
  };
}

/**
 * `envelope --version` is answered by main.ts before the program is built (so
 * that subcommands keep a --version of their own); it is still a flag of the
 * program to complete and document.
 */
function versionFlag(program: Command): FlagSpec {
  const option = program.createOption('-V, --version', 'print the version (alone on the command line)');
  return flagSpec(option);
}

/**
 * One command and, recursively, its subcommands. `helpFor` is set for
 * commander's implicit `help [command]`: the names its argument may take.
 */
function describe(command: Command, path: readonly string[], helpFor?: readonly string[]): CommandSpec {
  const help = command.createHelp();
  const flags = help.visibleOptions(command).map(flagSpec);
  if (path.length === 0 && !flags.some((f) => f.long === '--version')) flags.splice(flags.length - 1, 0, versionFlag(command));
  const children = help.visibleCommands(command);
  const names = command.commands.map((c) => c.name());
  const commands = children.map((c) => describe(c, [...path, c.name()], command.commands.includes(c) ? undefined : names));
  const args = command.registeredArguments.map((a): ArgSpec => ({
    name: a.name(),
    required: a.required,
    variadic: a.variadic,
    value: helpFor ? { kind: 'choices', values: helpFor } : argValue(a),
    description: a.description,
  }));
  return {
    name: command.name(),
    path,
    summary: command.summary() || firstLine(command.description()),
    description: command.description(),
    flags,
    args,
    commands,
    isHelp: helpFor !== undefined,
    command,
  };
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

/** The program as a tree of commands with their flags and arguments. */
export function describeProgram(program: Command): CommandSpec {
  return describe(program, []);
}

/** Every command of the tree, the program first, depth first in definition order. */
export function allCommands(root: CommandSpec): CommandSpec[] {
  return [root, ...root.commands.flatMap(allCommands)];
}

/** Flags of the program accepted by every subcommand too (commander parses them anywhere). */
export function globalFlags(root: CommandSpec): FlagSpec[] {
  return root.flags.filter((f) => f.long !== '--help' && f.long !== '--version');
}

/** A command's own flags, then the global ones it does not shadow. */
function flagsAt(spec: CommandSpec, root: CommandSpec): FlagSpec[] {
  if (spec === root) return [...spec.flags];
  const names = new Set(spec.flags.flatMap(flagNames));
  return [...spec.flags, ...globalFlags(root).filter((g) => !flagNames(g).some((n) => names.has(n)))];
}

function flagNames(f: FlagSpec): string[] {
  return [f.short, f.long].filter((n): n is string => n !== undefined);
}

function assertWord(text: string, what: string): string {
  if (!/^[A-Za-z0-9_./+-]+$/.test(text)) throw new Error(`${what} ${JSON.stringify(text)} cannot be completed: not a plain word`);
  return text;
}

/**
 * The keys of the local keystore, one per line: aliases and key ids from
 * `envelope keys list --json`, without jq or node. The JSON is joined into one
 * line so its layout does not matter; only the strings of "KeyId" and of the
 * "Aliases" arrays are kept. Each script puts the envelope command as typed,
 * with the --keystore and --config of the command line, in front of it.
 */
const KEYS_PIPELINE =
  ` keys list --json 2>/dev/null </dev/null | tr -d '\\n' | grep -oE '"KeyId": *"[^"]*"|"Aliases": *\\[[^]]*\\]' | grep -oE '"[^"]*"' | tr -d '"' | grep -vxE 'KeyId|Aliases'`;

const HEADER = (shell: string, install: string) =>
  `${shell} completion for envelope(1).
Generated from the command definitions by \`npm run docs\` (or \`envelope completion ${shell.toLowerCase()}\`); do not edit.
${install}
Keys (-k, --to, --from, --key-id, KEY arguments) are completed from \`envelope keys list --json\`
of the keystore that the command line names with --keystore or --config, else the usual one.`;

function comment(text: string): string {
  return text
    .split('\n')
    .map((l) => (l ? `# ${l}` : '#'))
    .join('\n');
}

// ------------------------------------------------------------------ bash

function bashKind(value: ValueKind): string {
  switch (value.kind) {
    case 'choices':
      return `choice:${value.values.map((v) => assertWord(v, 'choice')).join(',')}`;
    case 'key':
      return value.specifiers ? 'key+' : 'key';
    default:
      return value.kind;
  }
}

function bashQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function bashCompletion(program: Command): string {
  const root = describeProgram(program);
  const commands = allCommands(root);
  const specCases = commands.map((c) => {
    const cmds = c.commands.map((s) => assertWord(s.name, 'command')).join(' ');
    const flags = flagsAt(c, root).flatMap(flagNames).join(' ');
    const args = c.args.map((a) => `${bashKind(a.value)}${a.variadic ? '...' : ''}`).join(' ');
    return `    ${bashQuote(c.path.join(' '))}) cmds=${bashQuote(cmds)} flags=${bashQuote(flags)} args=${bashQuote(args)} ;;`;
  });
  const valueCases: string[] = [];
  const globals = globalFlags(root);
  for (const c of commands) {
    for (const f of c.flags) {
      if (!f.value || globals.includes(f)) continue;
      const patterns = flagNames(f).map((n) => bashQuote(`${c.path.join(' ')}/${n}`));
      valueCases.push(`    ${patterns.join(' | ')}) kind=${bashKind(f.value)} ;;`);
    }
  }
  for (const g of globals) {
    if (!g.value) continue;
    valueCases.push(`    ${flagNames(g).map((n) => `*${bashQuote(`/${n}`)}`).join(' | ')}) kind=${bashKind(g.value)} ;;`);
  }

  return `${comment(
    HEADER(
      'Bash',
      `Use: \`source <(envelope completion bash)\` in ~/.bashrc, or copy this file to
\${BASH_COMPLETION_USER_DIR:-\${XDG_DATA_HOME:-~/.local/share}/bash-completion}/completions/envelope.
Needs bash 4 or newer; bash-completion is not needed.`,
    ),
  )}

# _envelope_command PATH: the subcommands (cmds), flags and positional argument
# kinds (args) of the command PATH, e.g. 'keys list'; false when there is none.
_envelope_command() {
  case $1 in
${specCases.join('\n')}
    *) return 1 ;;
  esac
}

# _envelope_value PATH FLAG: what FLAG takes at PATH, in kind; empty when nothing.
_envelope_value() {
  kind=
  case $1/$2 in
${valueCases.join('\n')}
  esac
}

# Sets words and cword from COMP_WORDS, joining again what bash split at = and :
# (COMP_WORDBREAKS) where COMP_LINE has no blank in between: local:alias/x, --to=x.
_envelope_words() {
  local i j=-1 w blank line=\${COMP_LINE-}
  words=() cword=0
  for ((i = 0; i < \${#COMP_WORDS[@]}; i++)); do
    w=\${COMP_WORDS[i]}
    blank=
    [[ $line == [[:blank:]]* ]] && blank=1
    line=\${line#"\${line%%[![:blank:]]*}"}
    if ((j > 0)) && [[ -z $blank ]] && [[ $w =~ ^[=:]+$ || \${words[j]} =~ [=:]$ ]]; then
      words[j]+=$w
    else
      words[++j]=$w
    fi
    line=\${line#"$w"}
    ((i == COMP_CWORD)) && cword=$j
  done
}

# _envelope_keys KIND WORD: keys of the local keystore, one per line; for key+
# (-k, --to, --from) also the raw-aes:, raw-rsa: and local: forms.
_envelope_keys() {
  local cmd=\${words[0]} i v ks=() pre=
  [[ $cmd == '~/'* ]] && cmd=$HOME/\${cmd#'~/'}
  if [[ $1 == key+ ]]; then
    case $2 in
      raw-*) printf '%s\\n' raw-aes: raw-rsa:; return ;;
      local:*) pre=local: ;;
    esac
  fi
  for ((i = 1; i < \${#words[@]}; i++)); do
    case \${words[i]} in
      --keystore | --config)
        v=\${words[i + 1]-}
        [[ $v == '~/'* ]] && v=$HOME/\${v#'~/'}
        ks+=("\${words[i]}" "$v") ;;
      --keystore=* | --config=*) ks+=("\${words[i]}") ;;
    esac
  done
  local key
  while IFS= read -r key; do
    [[ $1 == alias && $key != alias/* ]] && continue
    printf '%s\\n' "$pre$key"
  done < <("$cmd" "\${ks[@]}"${KEYS_PIPELINE})
  [[ $1 == key+ && -z $pre ]] && printf '%s\\n' ${KEY_SPECIFIER_PREFIXES.join(' ')}
  return 0
}

# _envelope_complete KIND WORD [PREFIX]: COMPREPLY for a value of KIND.
_envelope_complete() {
  local IFS=$'\\n' choices
  case $1 in
    file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$2")) ;;
    command) COMPREPLY=($(compgen -c -- "$2")) ;;
    dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$2")) ;;
    key | key+ | alias) COMPREPLY=($(compgen -W "$(_envelope_keys "$1" "$2")" -- "$2")) ;;
    choice:*) choices=\${1#choice:}; COMPREPLY=($(IFS=,; compgen -W "$choices" -- "$2")) ;;
    *) COMPREPLY=() ;;
  esac
  local i
  for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]=\${3-}\${COMPREPLY[i]}; done
  return 0
}

_envelope() {
  local words cword cur path= n=0 i w kind= cmds flags args valuekind= dashdash= argkinds arg
  _envelope_words
  cur=\${words[cword]}
  COMPREPLY=()
  # Walk to the cursor: subcommands, flags (and the values they take), positional arguments.
  for ((i = 1; i < cword; i++)); do
    w=\${words[i]}
    if [[ -n $dashdash ]]; then ((n++)); continue; fi
    case $w in
      --) dashdash=1 ;;
      -) ((n++)) ;;
      --*=*) ;;
      -? | --*)
        _envelope_value "$path" "$w"
        if [[ -n $kind ]]; then
          ((i + 1 == cword)) && valuekind=$kind
          ((i++))
        fi ;;
      -*) ;;
      *)
        if ((n == 0)) && _envelope_command "$path" && [[ " $cmds " == *" $w "* ]]; then
          path=\${path:+$path }$w
        else
          ((n++))
        fi ;;
    esac
  done
  _envelope_command "$path" || return 0

  if [[ -n $valuekind ]]; then
    _envelope_complete "$valuekind" "$cur"
  elif [[ -z $dashdash && $cur == --*=* ]]; then
    _envelope_value "$path" "\${cur%%=*}"
    [[ -n $kind ]] && _envelope_complete "$kind" "\${cur#*=}" "\${cur%%=*}="
  elif [[ -z $dashdash && $cur == -* && $cur != - ]]; then
    local IFS=$' \\t\\n'
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif ((n == 0)) && [[ -n $cmds && -z $dashdash ]]; then
    local IFS=$' \\t\\n'
    COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
  else
    read -ra argkinds <<<"$args"
    arg=
    if ((n < \${#argkinds[@]})); then
      arg=\${argkinds[n]}
    elif ((\${#argkinds[@]} > 0)) && [[ \${argkinds[\${#argkinds[@]} - 1]} == *... ]]; then
      arg=\${argkinds[\${#argkinds[@]} - 1]}
      [[ $arg == command... ]] && arg=file
    fi
    [[ -n $arg ]] && _envelope_complete "\${arg%...}" "$cur"
  fi

  # Bash replaces only the text after the last = or : of COMP_WORDBREAKS.
  local breaks=\${COMP_WORDBREAKS//[^=:]/}
  if [[ -n $breaks && $cur == *[$breaks]* && \${#COMPREPLY[@]} -gt 0 ]]; then
    local joined=\${cur%"\${cur##*[$breaks]}"}
    COMPREPLY=("\${COMPREPLY[@]#"$joined"}")
  fi
  [[ \${#COMPREPLY[@]} -eq 1 && \${COMPREPLY[0]} == *: ]] && compopt -o nospace 2>/dev/null
  return 0
}

complete -F _envelope envelope
`;
}

// ------------------------------------------------------------------ zsh

function zshQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Text inside the [...] of an _arguments spec. */
function zshExplanation(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/\\/g, '\\\\').replace(/([[\]:])/g, '\\$1');
}

function zshAction(value: ValueKind, variadic = false): string {
  switch (value.kind) {
    case 'none':
      return ' ';
    case 'choices':
      return `(${value.values.map((v) => assertWord(v, 'choice')).join(' ')})`;
    case 'file':
      return '_files';
    case 'dir':
      return '_files -/';
    case 'key':
      return value.specifiers ? '_envelope_keys key+' : '_envelope_keys key';
    case 'alias':
      return '_envelope_keys alias';
    case 'command':
      return variadic ? '_normal' : '_command_names -e';
  }
}

function zshMessage(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

function zshFlagSpecs(flags: readonly FlagSpec[], indent: string): string[] {
  return flags.map((f) => {
    const names = flagNames(f);
    const explanation = `[${zshExplanation(f.description)}]`;
    const value = f.value ? `:${zshMessage(f.placeholder ?? 'value')}:${zshAction(f.value)}` : '';
    const isHelp = f.long === '--help' || f.long === '--version';
    const form = (n: string) => (f.value ? (n.startsWith('--') ? `${n}=` : `${n}+`) : n);
    const exclusion = isHelp ? '(- *)' : f.repeatable ? '*' : names.length > 1 ? `(${names.join(' ')})` : '';
    if (names.length === 1) return `${indent}${zshQuote(`${exclusion}${form(names[0]!)}${explanation}${value}`)}`;
    return `${indent}${exclusion ? zshQuote(exclusion) : ''}{${names.map(form).join(',')}}${zshQuote(`${explanation}${value}`)}`;
  });
}

function zshFunctionName(spec: CommandSpec): string {
  return ['_envelope', ...spec.path].join('__').replace(/-/g, '_');
}

function zshFunction(spec: CommandSpec, root: CommandSpec): string {
  const name = spec === root ? '_envelope_main' : zshFunctionName(spec);
  const indent = '    ';
  const lines = zshFlagSpecs(flagsAt(spec, root), indent);
  if (spec.commands.length === 0) {
    const args = spec.args.map((a, i) => {
      const message = zshMessage(a.name);
      if (a.variadic) return `${indent}${zshQuote(`*${a.value.kind === 'command' ? ':' : ''}:${message}:${zshAction(a.value, true)}`)}`;
      return `${indent}${zshQuote(`${i + 1}:${a.required ? '' : ':'}${message}:${zshAction(a.value)}`)}`;
    });
    return `${name}() {
  _arguments -s -S \\
${[...lines, ...args].join(' \\\n')}
}`;
  }
  const described = spec.commands.map((c) => `      ${zshQuote(`${c.name.replace(/:/g, '\\:')}:${c.summary.replace(/\s+/g, ' ')}`)}`);
  const branches = spec.commands.map((c) => `        ${zshQuote(c.name)}) ${zshFunctionName(c)} && ret=0 ;;`);
  const title = ['envelope', ...spec.path].join(' ');
  return `${name}() {
  local curcontext=$curcontext state state_descr line ret=1
  local -A opt_args
  _arguments -C -s -S \\
${[...lines, `${indent}'1: :->command'`, `${indent}'*:: :->argument'`].join(' \\\n')} && ret=0
  case $state in
    command)
      local -a commands=(
${described.join('\n')}
      )
      _describe -t commands ${zshQuote(`${title} command`)} commands && ret=0 ;;
    argument)
      curcontext=\${curcontext%:*:*}:${['envelope', ...spec.path].join('-')}-$words[1]:
      case $words[1] in
${branches.join('\n')}
      esac ;;
  esac
  return ret
}`;
}

export function zshCompletion(program: Command): string {
  const root = describeProgram(program);
  const functions = allCommands(root).map((c) => zshFunction(c, root));
  return `#compdef envelope
${comment(
  HEADER(
    'Zsh',
    `Use: copy this file as _envelope into a directory of $fpath (before compinit),
or \`source <(envelope completion zsh)\` in ~/.zshrc after compinit.`,
  ),
)}

# _envelope_keys [COMPADD-OPTIONS] KIND: keys of the local keystore; for key+
# (-k, --to, --from) also the raw-aes:, raw-rsa: and local: forms. Reads the
# command line as typed, before a subcommand shifted $words: _envelope_line.
_envelope_keys() {
  local kind=\${@[-1]} cmd=\${_envelope_line[1]/#\\~/$HOME} i
  local -a opts=("\${@[1,-2]}") ks keys
  if [[ $kind == key+ ]]; then
    if [[ $PREFIX == raw-* ]]; then
      compadd "\${opts[@]}" -S '' -- raw-aes: raw-rsa:
      return
    fi
    compset -P 'local:' && kind=key
  fi
  for (( i = 2; i <= $#_envelope_line; i++ )); do
    case $_envelope_line[i] in
      --keystore|--config) ks+=($_envelope_line[i] \${_envelope_line[i+1]/#\\~/$HOME}) ;;
      --keystore=*|--config=*) ks+=($_envelope_line[i]) ;;
    esac
  done
  keys=(\${(f)"$($cmd $ks${KEYS_PIPELINE})"})
  [[ $kind == alias ]] && keys=(\${(M)keys:#alias/*})
  compadd "\${opts[@]}" -a keys
  [[ $kind == key+ ]] && compadd "\${opts[@]}" -S '' -- ${KEY_SPECIFIER_PREFIXES.join(' ')}
  return 0
}

${functions.join('\n\n')}

_envelope() {
  local -a _envelope_line=("\${words[@]}")
  _envelope_main "$@"
}

if [[ $funcstack[1] == _envelope ]]; then
  _envelope "$@"
else
  compdef _envelope envelope
fi
`;
}

// ------------------------------------------------------------------ fish

function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function fishValue(value: ValueKind): string {
  switch (value.kind) {
    case 'none':
      return '-x';
    case 'choices':
      return `-x -a ${fishQuote(value.values.map((v) => assertWord(v, 'choice')).join(' '))}`;
    case 'file':
      return '-r -F';
    case 'dir':
      return "-x -a '(__fish_complete_directories (commandline -ct))'";
    case 'key':
      return `-x -a '(__envelope_keys ${value.specifiers ? 'key+' : 'key'})'`;
    case 'alias':
      return "-x -a '(__envelope_keys alias)'";
    case 'command':
      return "-x -a '(__fish_complete_command)'";
  }
}

function fishDescription(text: string): string {
  return fishQuote(text.replace(/\s+/g, ' '));
}

/** A condition for complete -n, in double quotes so that the single-quoted words inside stay readable. */
function fishCondition(text: string): string {
  return `"${text.replace(/[\\"$]/g, '\\$&')}"`;
}

function fishFlag(f: FlagSpec, condition: string): string {
  const names = [f.short ? `-s ${f.short.slice(1)}` : '', f.long ? `-l ${f.long.slice(2)}` : ''].filter(Boolean).join(' ');
  const value = f.value ? ` ${fishValue(f.value)}` : '';
  return `complete -c envelope${condition ? ` -n ${fishCondition(condition)}` : ''} ${names}${value} -d ${fishDescription(f.description)}`;
}

export function fishCompletion(program: Command): string {
  const root = describeProgram(program);
  const commands = allCommands(root);
  const at = (spec: CommandSpec, position?: string) =>
    `__envelope_at ${fishQuote(spec.path.join(' '))}${position === undefined ? '' : ` ${position}`}`;

  const subcommandCases = commands
    .filter((c) => c.commands.length > 0)
    .map((c) => `        case ${fishQuote(c.path.join(' '))}\n            printf '%s\\n' ${c.commands.map((s) => assertWord(s.name, 'command')).join(' ')}`);
  const valueCases: string[] = [];
  const globals = globalFlags(root);
  for (const c of commands) {
    const patterns = c.flags.filter((f) => f.value && !globals.includes(f)).flatMap(flagNames);
    if (patterns.length > 0) valueCases.push(`        case ${patterns.map((n) => fishQuote(`${c.path.join(' ')}/${n}`)).join(' ')}\n            return 0`);
  }
  const globalsWithValue = globals.filter((g) => g.value);
  if (globalsWithValue.length > 0) {
    valueCases.push(`        case ${globalsWithValue.flatMap(flagNames).map((n) => fishQuote(`*/${n}`)).join(' ')}\n            return 0`);
  }

  const lines: string[] = [];
  const globalNames = new Set(globals.flatMap(flagNames));
  for (const c of commands) {
    lines.push('', `# envelope${c.path.map((p) => ` ${p}`).join('')}`);
    for (const s of c.commands) lines.push(`complete -c envelope -n ${fishCondition(at(c, '0'))} -f -a ${fishQuote(s.name)} -d ${fishDescription(s.summary)}`);
    for (const f of c.flags) {
      if (c === root && flagNames(f).some((n) => globalNames.has(n))) continue;
      if (f.long === '--help') continue;
      lines.push(fishFlag(f, at(c)));
    }
    c.args.forEach((a, i) => {
      const position = a.variadic ? `${i}+` : String(i);
      const condition = fishCondition(at(c, position));
      if (a.value.kind === 'command') {
        lines.push(`complete -c envelope -n ${fishCondition(at(c, String(i)))} -x -a '(__fish_complete_command)'`);
        lines.push(`complete -c envelope -n ${fishCondition(at(c, `${i + 1}+`))} -F`);
      } else if (a.value.kind === 'file') lines.push(`complete -c envelope -n ${condition} -F`);
      else if (a.value.kind !== 'none') lines.push(`complete -c envelope -n ${condition} ${fishValue(a.value).replace(/^-[xr] /, '-f ')}`);
    });
  }
  const everywhere = [
    ...globals.map((g) => fishFlag(g, '')),
    ...root.flags.filter((f) => f.long === '--help').map((f) => fishFlag(f, '')),
  ];

  return `${comment(
    HEADER('Fish', 'Use: copy this file to ~/.config/fish/completions/envelope.fish, or `envelope completion fish | source`.'),
  )}

# Succeeds when FLAG takes a value at PATH ('keys list').
function __envelope_takes_value --argument-names path flag
    switch "$path/$flag"
${valueCases.join('\n')}
    end
    return 1
end

# The subcommands of PATH, one per line.
function __envelope_subcommands --argument-names path
    switch "$path"
${subcommandCases.join('\n')}
    end
end

# The number of positional arguments before the cursor, then the subcommand path.
function __envelope_state
    set -l tokens (commandline -opc)
    set -l path ''
    set -l n 0
    set -l skip 0
    set -l dashdash 0
    for token in $tokens[2..-1]
        if test $skip = 1
            set skip 0
        else if test $dashdash = 1
            set n (math $n + 1)
        else
            switch $token
                case --
                    set dashdash 1
                case -
                    set n (math $n + 1)
                case '--*=*'
                case '-?' '--*'
                    __envelope_takes_value "$path" $token; and set skip 1
                case '-*'
                case '*'
                    if test $n = 0; and contains -- $token (__envelope_subcommands "$path")
                        set path (string trim -- "$path $token")
                    else
                        set n (math $n + 1)
                    end
            end
        end
    end
    echo $n
    echo $path
end

# __envelope_at PATH [N | N+]: the command line is at PATH, at its positional argument N (or later).
function __envelope_at --argument-names want position
    set -l line (commandline -pc)
    if test "$line" != "$__envelope_cached_line"
        set -g __envelope_cached_line $line
        set -g __envelope_cached_state (__envelope_state)
    end
    test "$__envelope_cached_state[2]" = "$want"; or return 1
    test -z "$position"; and return 0
    set -l n $__envelope_cached_state[1]
    if string match -q -- '*+' $position
        test $n -ge (string trim -c + -- $position)
    else
        test $n = $position
    end
end

# Keys of the local keystore; for key+ (-k, --to, --from) also the raw-aes:, raw-rsa: and local: forms.
function __envelope_keys --argument-names kind
    set -l token (commandline -ct)
    set -l pre ''
    if test $kind = key+
        if string match -q -- 'raw-*' $token
            printf '%s\\n' raw-aes: raw-rsa:
            return
        end
        string match -q -- 'local:*' $token; and set pre local:
    end
    set -l tokens (commandline -opc)
    set -l cmd (string replace -r '^~/' "$HOME/" -- $tokens[1])
    set -l ks
    for i in (seq 2 (count $tokens))
        switch $tokens[$i]
            case --keystore --config
                set -a ks $tokens[$i] (string replace -r '^~/' "$HOME/" -- $tokens[(math $i + 1)])
            case '--keystore=*' '--config=*'
                set -a ks $tokens[$i]
        end
    end
    if type -q -- $cmd
        for key in ($cmd $ks${KEYS_PIPELINE})
            test $kind = alias; and not string match -q -- 'alias/*' $key; and continue
            echo $pre$key
        end
    end
    test $kind = key+; and test -z "$pre"; and printf '%s\\n' ${KEY_SPECIFIER_PREFIXES.join(' ')}
    return 0
end

complete -c envelope -f
${everywhere.join('\n')}
${lines.join('\n')}
`;
}

export type Shell = 'bash' | 'zsh' | 'fish';
export const SHELLS: readonly Shell[] = ['bash', 'zsh', 'fish'];

export function completionScript(shell: Shell, program: Command): string {
  switch (shell) {
    case 'bash':
      return bashCompletion(program);
    case 'zsh':
      return zshCompletion(program);
    case 'fish':
      return fishCompletion(program);
  }
}
