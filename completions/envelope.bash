# Bash completion for envelope(1).
# Generated from the command definitions by `npm run docs` (or `envelope completion bash`); do not edit.
# Use: `source <(envelope completion bash)` in ~/.bashrc, or copy this file to
# ${BASH_COMPLETION_USER_DIR:-${XDG_DATA_HOME:-~/.local/share}/bash-completion}/completions/envelope.
# Needs bash 4 or newer; bash-completion is not needed.
# Keys (-k, --to, --from, --key-id, KEY arguments) are completed from `envelope keys list --json`
# of the keystore that the command line names with --keystore or --config, else the usual one.

# _envelope_command PATH: the subcommands (cmds), flags and positional argument
# kinds (args) of the command PATH, e.g. 'keys list'; false when there is none.
_envelope_command() {
  case $1 in
    '') cmds='encrypt decrypt inspect exec re-encrypt keygen rotate keys kms audit keystore serve completion help' flags='-q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file -V --version -h --help' args='' ;;
    'encrypt') cmds='' flags='-k --key -c --context -o --output -r --recursive --suffix --sign --algorithm --frame-size --commitment-policy --armor --force --cache -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='file...' ;;
    'decrypt') cmds='' flags='-k --key --discovery --discovery-account --discovery-partition -c --context -o --output -r --recursive --suffix --commitment-policy --max-encrypted-data-keys --max-frame-size --max-header-size --buffer --format --force -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='file...' ;;
    'inspect') cmds='' flags='--json --max-encrypted-data-keys --max-frame-size --max-header-size -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='file' ;;
    'exec') cmds='' flags='-k --key --discovery --discovery-account --discovery-partition -c --context --commitment-policy --pristine -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='file command...' ;;
    're-encrypt') cmds='' flags='--to --from --discovery --discovery-account --discovery-partition -o --output --in-place --new-data-key --commitment-policy --max-encrypted-data-keys --max-frame-size --max-header-size --force -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='file...' ;;
    'keygen') cmds='' flags='--type --kms --description --tag --rotation-period --import --origin --exportable --multi-region --json -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='none' ;;
    'rotate') cmds='' flags='--kms --schedule --no-schedule --status --due --json -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='key' ;;
    'keys') cmds='list show enable disable delete cancel-deletion alias policy export export-public import help' flags='-h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'keys list') cmds='' flags='--json --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'keys show') cmds='' flags='--json --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='key' ;;
    'keys enable') cmds='' flags='--kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='key' ;;
    'keys disable') cmds='' flags='--kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='key' ;;
    'keys delete') cmds='' flags='--days --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='key' ;;
    'keys cancel-deletion') cmds='' flags='--kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='key' ;;
    'keys alias') cmds='' flags='--delete --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='alias key' ;;
    'keys policy') cmds='' flags='--allow --require-context --reset --json --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='key' ;;
    'keys export') cmds='' flags='--version -o --output --force --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='key' ;;
    'keys export-public') cmds='' flags='--version --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='key' ;;
    'keys import') cmds='' flags='--kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='key file' ;;
    'keys help') cmds='' flags='-q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='choice:list,show,enable,disable,delete,cancel-deletion,alias,policy,export,export-public,import' ;;
    'kms') cmds='encrypt decrypt re-encrypt generate-data-key generate-data-key-without-plaintext generate-random help' flags='-h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'kms encrypt') cmds='' flags='--key-id --plaintext -c --encryption-context --output --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'kms decrypt') cmds='' flags='--ciphertext-blob --key-id -c --encryption-context --output --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'kms re-encrypt') cmds='' flags='--ciphertext-blob --source-key-id --destination-key-id --source-encryption-context --destination-encryption-context --output --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'kms generate-data-key') cmds='' flags='--key-id --key-spec --number-of-bytes -c --encryption-context --output --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'kms generate-data-key-without-plaintext') cmds='' flags='--key-id --key-spec --number-of-bytes -c --encryption-context --output --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'kms generate-random') cmds='' flags='--number-of-bytes --output --kms -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'kms help') cmds='' flags='-q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='choice:encrypt,decrypt,re-encrypt,generate-data-key,generate-data-key-without-plaintext,generate-random' ;;
    'audit') cmds='' flags='--verify --json -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'keystore') cmds='info protect unprotect change-passphrase help' flags='-h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'keystore info') cmds='' flags='--json -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'keystore protect') cmds='' flags='-h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'keystore unprotect') cmds='' flags='-h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'keystore change-passphrase') cmds='' flags='-h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'keystore help') cmds='' flags='-q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='choice:info,protect,unprotect,change-passphrase' ;;
    'serve') cmds='' flags='--listen --account --token-file --throttle -h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='' ;;
    'completion') cmds='' flags='-h --help -q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='choice:bash,zsh,fish' ;;
    'help') cmds='' flags='-q --quiet -v --verbose --debug --config --keystore --region --profile --allow-insecure-permissions --passphrase-fd --passphrase-file' args='choice:encrypt,decrypt,inspect,exec,re-encrypt,keygen,rotate,keys,kms,audit,keystore,serve,completion' ;;
    *) return 1 ;;
  esac
}

# _envelope_value PATH FLAG: what FLAG takes at PATH, in kind; empty when nothing.
_envelope_value() {
  kind=
  case $1/$2 in
    'encrypt/-k' | 'encrypt/--key') kind=key+ ;;
    'encrypt/-c' | 'encrypt/--context') kind=none ;;
    'encrypt/-o' | 'encrypt/--output') kind=file ;;
    'encrypt/--suffix') kind=none ;;
    'encrypt/--algorithm') kind=none ;;
    'encrypt/--frame-size') kind=none ;;
    'encrypt/--commitment-policy') kind=choice:require-encrypt-require-decrypt,require-encrypt-allow-decrypt,forbid-encrypt-allow-decrypt ;;
    'encrypt/--cache') kind=none ;;
    'decrypt/-k' | 'decrypt/--key') kind=key+ ;;
    'decrypt/--discovery-account') kind=none ;;
    'decrypt/--discovery-partition') kind=none ;;
    'decrypt/-c' | 'decrypt/--context') kind=none ;;
    'decrypt/-o' | 'decrypt/--output') kind=file ;;
    'decrypt/--suffix') kind=none ;;
    'decrypt/--commitment-policy') kind=choice:require-encrypt-require-decrypt,require-encrypt-allow-decrypt,forbid-encrypt-allow-decrypt ;;
    'decrypt/--max-encrypted-data-keys') kind=none ;;
    'decrypt/--max-frame-size') kind=none ;;
    'decrypt/--max-header-size') kind=none ;;
    'decrypt/--format') kind=choice:dotenv,json ;;
    'inspect/--max-encrypted-data-keys') kind=none ;;
    'inspect/--max-frame-size') kind=none ;;
    'inspect/--max-header-size') kind=none ;;
    'exec/-k' | 'exec/--key') kind=key+ ;;
    'exec/--discovery-account') kind=none ;;
    'exec/--discovery-partition') kind=none ;;
    'exec/-c' | 'exec/--context') kind=none ;;
    'exec/--commitment-policy') kind=choice:require-encrypt-require-decrypt,require-encrypt-allow-decrypt,forbid-encrypt-allow-decrypt ;;
    're-encrypt/--to') kind=key+ ;;
    're-encrypt/--from') kind=key+ ;;
    're-encrypt/--discovery-account') kind=none ;;
    're-encrypt/--discovery-partition') kind=none ;;
    're-encrypt/-o' | 're-encrypt/--output') kind=file ;;
    're-encrypt/--commitment-policy') kind=choice:require-encrypt-require-decrypt,require-encrypt-allow-decrypt,forbid-encrypt-allow-decrypt ;;
    're-encrypt/--max-encrypted-data-keys') kind=none ;;
    're-encrypt/--max-frame-size') kind=none ;;
    're-encrypt/--max-header-size') kind=none ;;
    'keygen/--type') kind=choice:AES_256,SYMMETRIC_DEFAULT,RSA_2048,RSA_3072,RSA_4096 ;;
    'keygen/--description') kind=none ;;
    'keygen/--tag') kind=none ;;
    'keygen/--rotation-period') kind=none ;;
    'keygen/--import') kind=file ;;
    'keygen/--origin') kind=choice:external ;;
    'rotate/--schedule') kind=none ;;
    'keys delete/--days') kind=none ;;
    'keys policy/--allow') kind=none ;;
    'keys policy/--require-context') kind=none ;;
    'keys export/--version') kind=none ;;
    'keys export/-o' | 'keys export/--output') kind=file ;;
    'keys export-public/--version') kind=none ;;
    'kms encrypt/--key-id') kind=key ;;
    'kms encrypt/--plaintext') kind=file ;;
    'kms encrypt/-c' | 'kms encrypt/--encryption-context') kind=none ;;
    'kms encrypt/--output') kind=choice:json,text,binary ;;
    'kms decrypt/--ciphertext-blob') kind=file ;;
    'kms decrypt/--key-id') kind=key ;;
    'kms decrypt/-c' | 'kms decrypt/--encryption-context') kind=none ;;
    'kms decrypt/--output') kind=choice:json,text,binary ;;
    'kms re-encrypt/--ciphertext-blob') kind=file ;;
    'kms re-encrypt/--source-key-id') kind=key ;;
    'kms re-encrypt/--destination-key-id') kind=key ;;
    'kms re-encrypt/--source-encryption-context') kind=none ;;
    'kms re-encrypt/--destination-encryption-context') kind=none ;;
    'kms re-encrypt/--output') kind=choice:json,text,binary ;;
    'kms generate-data-key/--key-id') kind=key ;;
    'kms generate-data-key/--key-spec') kind=choice:AES_256,AES_128 ;;
    'kms generate-data-key/--number-of-bytes') kind=none ;;
    'kms generate-data-key/-c' | 'kms generate-data-key/--encryption-context') kind=none ;;
    'kms generate-data-key/--output') kind=choice:json,text,binary ;;
    'kms generate-data-key-without-plaintext/--key-id') kind=key ;;
    'kms generate-data-key-without-plaintext/--key-spec') kind=choice:AES_256,AES_128 ;;
    'kms generate-data-key-without-plaintext/--number-of-bytes') kind=none ;;
    'kms generate-data-key-without-plaintext/-c' | 'kms generate-data-key-without-plaintext/--encryption-context') kind=none ;;
    'kms generate-data-key-without-plaintext/--output') kind=choice:json,text,binary ;;
    'kms generate-random/--number-of-bytes') kind=none ;;
    'kms generate-random/--output') kind=choice:json,text,binary ;;
    'serve/--listen') kind=none ;;
    'serve/--account') kind=none ;;
    'serve/--token-file') kind=file ;;
    'serve/--throttle') kind=none ;;
    *'/--config') kind=file ;;
    *'/--keystore') kind=dir ;;
    *'/--region') kind=none ;;
    *'/--profile') kind=none ;;
    *'/--passphrase-fd') kind=none ;;
    *'/--passphrase-file') kind=file ;;
  esac
}

# Sets words and cword from COMP_WORDS, joining again what bash split at = and :
# (COMP_WORDBREAKS) where COMP_LINE has no blank in between: local:alias/x, --to=x.
_envelope_words() {
  local i j=-1 w blank line=${COMP_LINE-}
  words=() cword=0
  for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
    w=${COMP_WORDS[i]}
    blank=
    [[ $line == [[:blank:]]* ]] && blank=1
    line=${line#"${line%%[![:blank:]]*}"}
    if ((j > 0)) && [[ -z $blank ]] && [[ $w =~ ^[=:]+$ || ${words[j]} =~ [=:]$ ]]; then
      words[j]+=$w
    else
      words[++j]=$w
    fi
    line=${line#"$w"}
    ((i == COMP_CWORD)) && cword=$j
  done
}

# _envelope_keys KIND WORD: keys of the local keystore, one per line; for key+
# (-k, --to, --from) also the raw-aes:, raw-rsa: and local: forms.
_envelope_keys() {
  local cmd=${words[0]} i v ks=() pre=
  [[ $cmd == '~/'* ]] && cmd=$HOME/${cmd#'~/'}
  if [[ $1 == key+ ]]; then
    case $2 in
      raw-*) printf '%s\n' raw-aes: raw-rsa:; return ;;
      local:*) pre=local: ;;
    esac
  fi
  for ((i = 1; i < ${#words[@]}; i++)); do
    case ${words[i]} in
      --keystore | --config)
        v=${words[i + 1]-}
        [[ $v == '~/'* ]] && v=$HOME/${v#'~/'}
        ks+=("${words[i]}" "$v") ;;
      --keystore=* | --config=*) ks+=("${words[i]}") ;;
    esac
  done
  local key
  while IFS= read -r key; do
    [[ $1 == alias && $key != alias/* ]] && continue
    printf '%s\n' "$pre$key"
  done < <("$cmd" "${ks[@]}" keys list --json 2>/dev/null </dev/null | tr -d '\n' | grep -oE '"KeyId": *"[^"]*"|"Aliases": *\[[^]]*\]' | grep -oE '"[^"]*"' | tr -d '"' | grep -vxE 'KeyId|Aliases')
  [[ $1 == key+ && -z $pre ]] && printf '%s\n' raw-aes: raw-rsa: local:
  return 0
}

# _envelope_complete KIND WORD [PREFIX]: COMPREPLY for a value of KIND.
_envelope_complete() {
  local IFS=$'\n' choices
  case $1 in
    file) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$2")) ;;
    command) COMPREPLY=($(compgen -c -- "$2")) ;;
    dir) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$2")) ;;
    key | key+ | alias) COMPREPLY=($(compgen -W "$(_envelope_keys "$1" "$2")" -- "$2")) ;;
    choice:*) choices=${1#choice:}; COMPREPLY=($(IFS=,; compgen -W "$choices" -- "$2")) ;;
    *) COMPREPLY=() ;;
  esac
  local i
  for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]=${3-}${COMPREPLY[i]}; done
  return 0
}

_envelope() {
  local words cword cur path= n=0 i w kind= cmds flags args valuekind= dashdash= argkinds arg
  _envelope_words
  cur=${words[cword]}
  COMPREPLY=()
  # Walk to the cursor: subcommands, flags (and the values they take), positional arguments.
  for ((i = 1; i < cword; i++)); do
    w=${words[i]}
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
          path=${path:+$path }$w
        else
          ((n++))
        fi ;;
    esac
  done
  _envelope_command "$path" || return 0

  if [[ -n $valuekind ]]; then
    _envelope_complete "$valuekind" "$cur"
  elif [[ -z $dashdash && $cur == --*=* ]]; then
    _envelope_value "$path" "${cur%%=*}"
    [[ -n $kind ]] && _envelope_complete "$kind" "${cur#*=}" "${cur%%=*}="
  elif [[ -z $dashdash && $cur == -* && $cur != - ]]; then
    local IFS=$' \t\n'
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif ((n == 0)) && [[ -n $cmds && -z $dashdash ]]; then
    local IFS=$' \t\n'
    COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
  else
    read -ra argkinds <<<"$args"
    arg=
    if ((n < ${#argkinds[@]})); then
      arg=${argkinds[n]}
    elif ((${#argkinds[@]} > 0)) && [[ ${argkinds[${#argkinds[@]} - 1]} == *... ]]; then
      arg=${argkinds[${#argkinds[@]} - 1]}
      [[ $arg == command... ]] && arg=file
    fi
    [[ -n $arg ]] && _envelope_complete "${arg%...}" "$cur"
  fi

  # Bash replaces only the text after the last = or : of COMP_WORDBREAKS.
  local breaks=${COMP_WORDBREAKS//[^=:]/}
  if [[ -n $breaks && $cur == *[$breaks]* && ${#COMPREPLY[@]} -gt 0 ]]; then
    local joined=${cur%"${cur##*[$breaks]}"}
    COMPREPLY=("${COMPREPLY[@]#"$joined"}")
  fi
  [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]] && compopt -o nospace 2>/dev/null
  return 0
}

complete -F _envelope envelope
