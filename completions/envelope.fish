# Fish completion for envelope(1).
# Generated from the command definitions by `npm run docs` (or `envelope completion fish`); do not edit.
# Use: copy this file to ~/.config/fish/completions/envelope.fish, or `envelope completion fish | source`.
# Keys (-k, --to, --from, --key-id, KEY arguments) are completed from `envelope keys list --json`
# of the keystore that the command line names with --keystore or --config, else the usual one.

# Succeeds when FLAG takes a value at PATH ('keys list').
function __envelope_takes_value --argument-names path flag
    switch "$path/$flag"
        case 'encrypt/-k' 'encrypt/--key' 'encrypt/-c' 'encrypt/--context' 'encrypt/-o' 'encrypt/--output' 'encrypt/--suffix' 'encrypt/--algorithm' 'encrypt/--frame-size' 'encrypt/--commitment-policy' 'encrypt/--cache'
            return 0
        case 'decrypt/-k' 'decrypt/--key' 'decrypt/--discovery-account' 'decrypt/--discovery-partition' 'decrypt/-c' 'decrypt/--context' 'decrypt/-o' 'decrypt/--output' 'decrypt/--suffix' 'decrypt/--commitment-policy' 'decrypt/--max-encrypted-data-keys' 'decrypt/--max-frame-size' 'decrypt/--max-header-size' 'decrypt/--format'
            return 0
        case 'inspect/--max-encrypted-data-keys' 'inspect/--max-frame-size' 'inspect/--max-header-size'
            return 0
        case 'exec/-k' 'exec/--key' 'exec/--discovery-account' 'exec/--discovery-partition' 'exec/-c' 'exec/--context' 'exec/--commitment-policy'
            return 0
        case 're-encrypt/--to' 're-encrypt/--from' 're-encrypt/--discovery-account' 're-encrypt/--discovery-partition' 're-encrypt/-o' 're-encrypt/--output' 're-encrypt/--commitment-policy' 're-encrypt/--max-encrypted-data-keys' 're-encrypt/--max-frame-size' 're-encrypt/--max-header-size'
            return 0
        case 'keygen/--type' 'keygen/--description' 'keygen/--tag' 'keygen/--rotation-period' 'keygen/--import' 'keygen/--origin'
            return 0
        case 'rotate/--schedule'
            return 0
        case 'keys delete/--days'
            return 0
        case 'keys policy/--allow' 'keys policy/--require-context'
            return 0
        case 'keys export/--version' 'keys export/-o' 'keys export/--output'
            return 0
        case 'keys export-public/--version'
            return 0
        case 'kms encrypt/--key-id' 'kms encrypt/--plaintext' 'kms encrypt/-c' 'kms encrypt/--encryption-context' 'kms encrypt/--output'
            return 0
        case 'kms decrypt/--ciphertext-blob' 'kms decrypt/--key-id' 'kms decrypt/-c' 'kms decrypt/--encryption-context' 'kms decrypt/--output'
            return 0
        case 'kms re-encrypt/--ciphertext-blob' 'kms re-encrypt/--source-key-id' 'kms re-encrypt/--destination-key-id' 'kms re-encrypt/--source-encryption-context' 'kms re-encrypt/--destination-encryption-context' 'kms re-encrypt/--output'
            return 0
        case 'kms generate-data-key/--key-id' 'kms generate-data-key/--key-spec' 'kms generate-data-key/--number-of-bytes' 'kms generate-data-key/-c' 'kms generate-data-key/--encryption-context' 'kms generate-data-key/--output'
            return 0
        case 'kms generate-data-key-without-plaintext/--key-id' 'kms generate-data-key-without-plaintext/--key-spec' 'kms generate-data-key-without-plaintext/--number-of-bytes' 'kms generate-data-key-without-plaintext/-c' 'kms generate-data-key-without-plaintext/--encryption-context' 'kms generate-data-key-without-plaintext/--output'
            return 0
        case 'kms generate-random/--number-of-bytes' 'kms generate-random/--output'
            return 0
        case 'serve/--listen' 'serve/--account' 'serve/--token-file' 'serve/--throttle'
            return 0
        case '*/--config' '*/--keystore' '*/--region' '*/--profile' '*/--passphrase-fd' '*/--passphrase-file'
            return 0
    end
    return 1
end

# The subcommands of PATH, one per line.
function __envelope_subcommands --argument-names path
    switch "$path"
        case ''
            printf '%s\n' encrypt decrypt inspect exec re-encrypt keygen rotate keys kms audit keystore serve completion help
        case 'keys'
            printf '%s\n' list show enable disable delete cancel-deletion alias policy export export-public import help
        case 'kms'
            printf '%s\n' encrypt decrypt re-encrypt generate-data-key generate-data-key-without-plaintext generate-random help
        case 'keystore'
            printf '%s\n' info protect unprotect change-passphrase help
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
            printf '%s\n' raw-aes: raw-rsa:
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
        for key in ($cmd $ks keys list --json 2>/dev/null </dev/null | tr -d '\n' | grep -oE '"KeyId": *"[^"]*"|"Aliases": *\[[^]]*\]' | grep -oE '"[^"]*"' | tr -d '"' | grep -vxE 'KeyId|Aliases')
            test $kind = alias; and not string match -q -- 'alias/*' $key; and continue
            echo $pre$key
        end
    end
    test $kind = key+; and test -z "$pre"; and printf '%s\n' raw-aes: raw-rsa: local:
    return 0
end

complete -c envelope -f
complete -c envelope -s q -l quiet -d 'print nothing on stderr but errors: no notes, summary lines, warnings, spinner or progress'
complete -c envelope -s v -l verbose -d 'also print which key unwrapped (or wrapped) the data key, and timings'
complete -c envelope -l debug -d 'print stack traces with errors'
complete -c envelope -l config -r -F -d 'read settings from this file instead of searching for .enveloperc and the like'
complete -c envelope -l keystore -x -a '(__fish_complete_directories (commandline -ct))' -d 'the local keystore directory'
complete -c envelope -l region -x -d 'AWS region of kms: keys given without an ARN (default: $AWS_REGION, the config, the profile), and the region serve serves'
complete -c envelope -l profile -x -d 'AWS profile for credentials and region (default: $AWS_PROFILE, the config)'
complete -c envelope -l allow-insecure-permissions -d 'use a keystore that group or others can read'
complete -c envelope -l passphrase-fd -x -d 'read the keystore passphrase from this file descriptor'
complete -c envelope -l passphrase-file -r -F -d 'read the keystore passphrase from the first line of this file'
complete -c envelope -s h -l help -d 'display help for command'

# envelope
complete -c envelope -n "__envelope_at '' 0" -f -a 'encrypt' -d 'encrypt files, directory trees or stdin into AWS Encryption SDK messages'
complete -c envelope -n "__envelope_at '' 0" -f -a 'decrypt' -d 'decrypt AWS Encryption SDK messages: files, directory trees or stdin'
complete -c envelope -n "__envelope_at '' 0" -f -a 'inspect' -d 'show what a message says about itself, without any key'
complete -c envelope -n "__envelope_at '' 0" -f -a 'exec' -d 'run a command with a dotenv message decrypted into its environment'
complete -c envelope -n "__envelope_at '' 0" -f -a 're-encrypt' -d 'give messages new master keys without re-encrypting their bodies'
complete -c envelope -n "__envelope_at '' 0" -f -a 'keygen' -d 'create a key in the local keystore, or in AWS KMS with --kms'
complete -c envelope -n "__envelope_at '' 0" -f -a 'rotate' -d 'rotate a key (local or AWS KMS), or set its rotation schedule'
complete -c envelope -n "__envelope_at '' 0" -f -a 'keys' -d 'list and manage the keys of the local keystore, or of AWS KMS'
complete -c envelope -n "__envelope_at '' 0" -f -a 'kms' -d 'the AWS KMS primitives on local keys (or passed to AWS KMS): encrypt, decrypt, re-encrypt, generate-data-key, …'
complete -c envelope -n "__envelope_at '' 0" -f -a 'audit' -d 'show or verify the audit log of the local keystore'
complete -c envelope -n "__envelope_at '' 0" -f -a 'keystore' -d 'protect the local keystore with a passphrase'
complete -c envelope -n "__envelope_at '' 0" -f -a 'serve' -d 'serve the local keystore as AWS KMS (JSON 1.1 API) to AWS SDKs, the AWS CLI and envelope'
complete -c envelope -n "__envelope_at '' 0" -f -a 'completion' -d 'print the completion script for bash, zsh or fish'
complete -c envelope -n "__envelope_at '' 0" -f -a 'help' -d 'display help for command'
complete -c envelope -n "__envelope_at ''" -s V -l version -d 'print the version (alone on the command line)'

# envelope encrypt
complete -c envelope -n "__envelope_at 'encrypt'" -s k -l key -x -a '(__envelope_keys key+)' -d 'master key to wrap the data key (repeatable; the first one makes it)'
complete -c envelope -n "__envelope_at 'encrypt'" -s c -l context -x -d 'encryption context pair, authenticated and stored in the header (repeatable)'
complete -c envelope -n "__envelope_at 'encrypt'" -s o -l output -r -F -d 'output file, - for stdout, or an existing directory to put the outputs in'
complete -c envelope -n "__envelope_at 'encrypt'" -s r -l recursive -d 'walk directories and mirror their trees into -o DIR'
complete -c envelope -n "__envelope_at 'encrypt'" -l suffix -x -d 'added to output file names (default: .enc)'
complete -c envelope -n "__envelope_at 'encrypt'" -l sign -d 'sign the message with ECDSA P-384 (suite 0x0578)'
complete -c envelope -n "__envelope_at 'encrypt'" -l algorithm -x -d 'algorithm suite id (0x0478) or ESDK name'
complete -c envelope -n "__envelope_at 'encrypt'" -l frame-size -x -d 'plaintext bytes per frame, e.g. 64K, 1M (default: 256K)'
complete -c envelope -n "__envelope_at 'encrypt'" -l commitment-policy -x -a 'require-encrypt-require-decrypt require-encrypt-allow-decrypt forbid-encrypt-allow-decrypt' -d 'key commitment policy'
complete -c envelope -n "__envelope_at 'encrypt'" -l armor -d 'write base64 text in 76-column lines'
complete -c envelope -n "__envelope_at 'encrypt'" -l force -d 'overwrite existing output files'
complete -c envelope -n "__envelope_at 'encrypt'" -l cache -x -d 'reuse a data key for several files of this run (the ESDK caching CMM; off by default) until a limit: max-age=DUR (required; 30s, 5m, 1h or seconds), max-messages=N (1 to 2^32; default 2^32), max-bytes=SIZE of plaintext (e.g. 1G; default no limit). Fewer key calls (KMS requests and their cost), but one data key then protects several files, so one exposed key exposes them all. A file is checked against max-bytes before it is encrypted; stdin is counted as it goes, and the key retired once over. Suites without a KDF (0x0014, 0x0046, 0x0078) are never cached.'
complete -c envelope -n "__envelope_at 'encrypt' 0+" -F

# envelope decrypt
complete -c envelope -n "__envelope_at 'decrypt'" -s k -l key -x -a '(__envelope_keys key+)' -d 'master key that may unwrap the data key (repeatable)'
complete -c envelope -n "__envelope_at 'decrypt'" -l discovery -d 'unwrap a KMS data key with the KMS key the message names (any account unless filtered)'
complete -c envelope -n "__envelope_at 'decrypt'" -l discovery-account -x -d 'with --discovery: only KMS keys of this AWS account (repeatable)'
complete -c envelope -n "__envelope_at 'decrypt'" -l discovery-partition -x -d 'with --discovery-account: the accounts\' partition (default: aws)'
complete -c envelope -n "__envelope_at 'decrypt'" -s c -l context -x -d 'require a context pair (key=value) or key (key) (repeatable)'
complete -c envelope -n "__envelope_at 'decrypt'" -s o -l output -r -F -d 'output file, - for stdout, or an existing directory to put the outputs in'
complete -c envelope -n "__envelope_at 'decrypt'" -s r -l recursive -d 'walk directories and mirror their trees into -o DIR'
complete -c envelope -n "__envelope_at 'decrypt'" -l suffix -x -d 'stripped from output file names (default: .enc or .encrypted; a name without it gets .dec)'
complete -c envelope -n "__envelope_at 'decrypt'" -l commitment-policy -x -a 'require-encrypt-require-decrypt require-encrypt-allow-decrypt forbid-encrypt-allow-decrypt' -d 'key commitment policy'
complete -c envelope -n "__envelope_at 'decrypt'" -l max-encrypted-data-keys -x -d 'refuse messages with more wrapped data keys'
complete -c envelope -n "__envelope_at 'decrypt'" -l max-frame-size -x -d 'refuse frames larger than this'
complete -c envelope -n "__envelope_at 'decrypt'" -l max-header-size -x -d 'refuse message headers larger than this'
complete -c envelope -n "__envelope_at 'decrypt'" -l buffer -d 'with stdout: hold all plaintext until the whole message (and signature) verifies'
complete -c envelope -n "__envelope_at 'decrypt'" -l format -x -a 'dotenv json' -d 'check that the plaintext is dotenv or JSON before writing any of it'
complete -c envelope -n "__envelope_at 'decrypt'" -l force -d 'overwrite existing output files'
complete -c envelope -n "__envelope_at 'decrypt' 0+" -F

# envelope inspect
complete -c envelope -n "__envelope_at 'inspect'" -l json -d 'print JSON'
complete -c envelope -n "__envelope_at 'inspect'" -l max-encrypted-data-keys -x -d 'refuse messages with more wrapped data keys'
complete -c envelope -n "__envelope_at 'inspect'" -l max-frame-size -x -d 'refuse frames larger than this'
complete -c envelope -n "__envelope_at 'inspect'" -l max-header-size -x -d 'refuse message headers larger than this'
complete -c envelope -n "__envelope_at 'inspect' 0" -F

# envelope exec
complete -c envelope -n "__envelope_at 'exec'" -s k -l key -x -a '(__envelope_keys key+)' -d 'master key that may unwrap the data key (repeatable)'
complete -c envelope -n "__envelope_at 'exec'" -l discovery -d 'unwrap a KMS data key with the KMS key the message names (any account unless filtered)'
complete -c envelope -n "__envelope_at 'exec'" -l discovery-account -x -d 'with --discovery: only KMS keys of this AWS account (repeatable)'
complete -c envelope -n "__envelope_at 'exec'" -l discovery-partition -x -d 'with --discovery-account: the accounts\' partition (default: aws)'
complete -c envelope -n "__envelope_at 'exec'" -s c -l context -x -d 'require a context pair (key=value) or key (key) (repeatable)'
complete -c envelope -n "__envelope_at 'exec'" -l commitment-policy -x -a 'require-encrypt-require-decrypt require-encrypt-allow-decrypt forbid-encrypt-allow-decrypt' -d 'key commitment policy'
complete -c envelope -n "__envelope_at 'exec'" -l pristine -d 'give COMMAND only the decrypted variables, not envelope\'s environment'
complete -c envelope -n "__envelope_at 'exec' 0" -F
complete -c envelope -n "__envelope_at 'exec' 1" -x -a '(__fish_complete_command)'
complete -c envelope -n "__envelope_at 'exec' 2+" -F

# envelope re-encrypt
complete -c envelope -n "__envelope_at 're-encrypt'" -l to -x -a '(__envelope_keys key+)' -d 'new master key (repeatable)'
complete -c envelope -n "__envelope_at 're-encrypt'" -l from -x -a '(__envelope_keys key+)' -d 'key that may unwrap the current data key (repeatable; local keys are found without it)'
complete -c envelope -n "__envelope_at 're-encrypt'" -l discovery -d 'unwrap a KMS data key with the KMS key the message names (any account unless filtered)'
complete -c envelope -n "__envelope_at 're-encrypt'" -l discovery-account -x -d 'with --discovery: only KMS keys of this AWS account (repeatable)'
complete -c envelope -n "__envelope_at 're-encrypt'" -l discovery-partition -x -d 'with --discovery-account: the accounts\' partition (default: aws)'
complete -c envelope -n "__envelope_at 're-encrypt'" -s o -l output -r -F -d 'output file, or - for stdout (one input)'
complete -c envelope -n "__envelope_at 're-encrypt'" -l in-place -d 'replace each file atomically'
complete -c envelope -n "__envelope_at 're-encrypt'" -l new-data-key -d 're-encrypt the body under a fresh data key'
complete -c envelope -n "__envelope_at 're-encrypt'" -l commitment-policy -x -a 'require-encrypt-require-decrypt require-encrypt-allow-decrypt forbid-encrypt-allow-decrypt' -d 'key commitment policy'
complete -c envelope -n "__envelope_at 're-encrypt'" -l max-encrypted-data-keys -x -d 'refuse messages with more wrapped data keys'
complete -c envelope -n "__envelope_at 're-encrypt'" -l max-frame-size -x -d 'refuse frames larger than this'
complete -c envelope -n "__envelope_at 're-encrypt'" -l max-header-size -x -d 'refuse message headers larger than this'
complete -c envelope -n "__envelope_at 're-encrypt'" -l force -d 'overwrite an existing output file'
complete -c envelope -n "__envelope_at 're-encrypt' 0+" -F

# envelope keygen
complete -c envelope -n "__envelope_at 'keygen'" -l type -x -a 'AES_256 SYMMETRIC_DEFAULT RSA_2048 RSA_3072 RSA_4096' -d 'key spec (SYMMETRIC_DEFAULT is KMS\'s name for AES_256)'
complete -c envelope -n "__envelope_at 'keygen'" -l kms -d 'create the key in AWS KMS (region: --region, $AWS_REGION, the config); not with --import, --origin or --exportable'
complete -c envelope -n "__envelope_at 'keygen'" -l description -x -d 'what the key is for'
complete -c envelope -n "__envelope_at 'keygen'" -l tag -x -d 'tag (repeatable)'
complete -c envelope -n "__envelope_at 'keygen'" -l rotation-period -x -d 'rotate automatically every DAYS (90-2560)'
complete -c envelope -n "__envelope_at 'keygen'" -l import -r -F -d 'use this 256-bit key material (raw, hex or base64) instead of generating it'
complete -c envelope -n "__envelope_at 'keygen'" -l origin -x -a 'external' -d 'external: create the key without material, to import later'
complete -c envelope -n "__envelope_at 'keygen'" -l exportable -d 'allow keys export of its raw material (irreversible)'
complete -c envelope -n "__envelope_at 'keygen'" -l multi-region -d 'a multi-region key: key id mrk-…, served by envelope serve in every region (with --kms: CreateKey MultiRegion)'
complete -c envelope -n "__envelope_at 'keygen'" -l json -d 'print the key metadata as JSON'

# envelope rotate
complete -c envelope -n "__envelope_at 'rotate'" -l kms -d 'the key is in AWS KMS (for alias/NAME, NAME or a key id)'
complete -c envelope -n "__envelope_at 'rotate'" -l schedule -x -d 'rotate automatically every DAYS (90-2560; 365 is usual)'
complete -c envelope -n "__envelope_at 'rotate'" -l no-schedule -d 'stop automatic rotation'
complete -c envelope -n "__envelope_at 'rotate'" -l status -d 'show the rotation settings'
complete -c envelope -n "__envelope_at 'rotate'" -l due -d 'rotate every key whose automatic rotation is due'
complete -c envelope -n "__envelope_at 'rotate'" -l json -d 'print JSON'
complete -c envelope -n "__envelope_at 'rotate' 0" -f -a '(__envelope_keys key)'

# envelope keys
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'list' -d 'List the keys (with --kms: the AWS KMS keys of the region and their aliases)'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'show' -d 'Show a key (KMS KeyMetadata fields, aliases, versions, policy; for a KMS key: DescribeKey, its aliases and rotation)'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'enable' -d 'Enable a key'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'disable' -d 'Disable a key: every operation with it is refused'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'delete' -d 'Schedule a key for deletion after DAYS (7-30); its material is destroyed on the first keystore write after that date (a KMS key: ScheduleKeyDeletion, KMS deletes it on that date)'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'cancel-deletion' -d 'Cancel a scheduled deletion; the key becomes Disabled (as in KMS)'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'alias' -d 'Point alias/NAME at a key (moving it if it exists), or remove it with --delete'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'policy' -d 'Show or set what a key allows: operations and required encryption context (a KMS key: show its key policy document)'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'export' -d 'Print the raw material of one version (base64) of a key created with --exportable'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'export-public' -d 'Print an RSA key\'s public key (PEM), for encrypting with raw-rsa: where the keystore is not (a KMS key: GetPublicKey)'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'import' -d 'Import 256-bit material into a key of origin EXTERNAL: its first material, or a new primary version'
complete -c envelope -n "__envelope_at 'keys' 0" -f -a 'help' -d 'display help for command'

# envelope keys list
complete -c envelope -n "__envelope_at 'keys list'" -l json -d 'print JSON'
complete -c envelope -n "__envelope_at 'keys list'" -l kms -d 'list the keys of AWS KMS instead (ListKeys, ListAliases)'

# envelope keys show
complete -c envelope -n "__envelope_at 'keys show'" -l json -d 'print JSON'
complete -c envelope -n "__envelope_at 'keys show'" -l kms -d 'the key is in AWS KMS (for alias/NAME, NAME or a key id)'
complete -c envelope -n "__envelope_at 'keys show' 0" -f -a '(__envelope_keys key)'

# envelope keys enable
complete -c envelope -n "__envelope_at 'keys enable'" -l kms -d 'the key is in AWS KMS (for alias/NAME, NAME or a key id)'
complete -c envelope -n "__envelope_at 'keys enable' 0" -f -a '(__envelope_keys key)'

# envelope keys disable
complete -c envelope -n "__envelope_at 'keys disable'" -l kms -d 'the key is in AWS KMS (for alias/NAME, NAME or a key id)'
complete -c envelope -n "__envelope_at 'keys disable' 0" -f -a '(__envelope_keys key)'

# envelope keys delete
complete -c envelope -n "__envelope_at 'keys delete'" -l days -x -d 'waiting period in days'
complete -c envelope -n "__envelope_at 'keys delete'" -l kms -d 'the key is in AWS KMS (for alias/NAME, NAME or a key id)'
complete -c envelope -n "__envelope_at 'keys delete' 0" -f -a '(__envelope_keys key)'

# envelope keys cancel-deletion
complete -c envelope -n "__envelope_at 'keys cancel-deletion'" -l kms -d 'the key is in AWS KMS (for alias/NAME, NAME or a key id)'
complete -c envelope -n "__envelope_at 'keys cancel-deletion' 0" -f -a '(__envelope_keys key)'

# envelope keys alias
complete -c envelope -n "__envelope_at 'keys alias'" -l delete -d 'remove the alias'
complete -c envelope -n "__envelope_at 'keys alias'" -l kms -d 'the alias and key are in AWS KMS (CreateAlias, UpdateAlias, DeleteAlias)'
complete -c envelope -n "__envelope_at 'keys alias' 0" -f -a '(__envelope_keys alias)'
complete -c envelope -n "__envelope_at 'keys alias' 1" -f -a '(__envelope_keys key)'

# envelope keys policy
complete -c envelope -n "__envelope_at 'keys policy'" -l allow -x -d 'allow an operation (repeatable): encrypt, decrypt, generate-data-key, re-encrypt, rotate, manage'
complete -c envelope -n "__envelope_at 'keys policy'" -l require-context -x -d 'require this context on every use (repeatable)'
complete -c envelope -n "__envelope_at 'keys policy'" -l reset -d 'back to the default: everything allowed, no context required'
complete -c envelope -n "__envelope_at 'keys policy'" -l json -d 'print JSON'
complete -c envelope -n "__envelope_at 'keys policy'" -l kms -d 'the key is in AWS KMS (for alias/NAME, NAME or a key id)'
complete -c envelope -n "__envelope_at 'keys policy' 0" -f -a '(__envelope_keys key)'

# envelope keys export
complete -c envelope -n "__envelope_at 'keys export'" -l version -x -d 'backing version (default: primary)'
complete -c envelope -n "__envelope_at 'keys export'" -s o -l output -r -F -d 'write the raw 32 bytes to this file (mode 0600) instead'
complete -c envelope -n "__envelope_at 'keys export'" -l force -d 'overwrite an existing output file'
complete -c envelope -n "__envelope_at 'keys export'" -l kms -d 'refused: AWS KMS never exports key material'
complete -c envelope -n "__envelope_at 'keys export' 0" -f -a '(__envelope_keys key)'

# envelope keys export-public
complete -c envelope -n "__envelope_at 'keys export-public'" -l version -x -d 'backing version (default: primary)'
complete -c envelope -n "__envelope_at 'keys export-public'" -l kms -d 'the key is in AWS KMS (for alias/NAME, NAME or a key id)'
complete -c envelope -n "__envelope_at 'keys export-public' 0" -f -a '(__envelope_keys key)'

# envelope keys import
complete -c envelope -n "__envelope_at 'keys import'" -l kms -d 'refused: import material into KMS keys with the AWS CLI'
complete -c envelope -n "__envelope_at 'keys import' 0" -f -a '(__envelope_keys key)'
complete -c envelope -n "__envelope_at 'keys import' 1" -F

# envelope keys help
complete -c envelope -n "__envelope_at 'keys help' 0" -f -a 'list show enable disable delete cancel-deletion alias policy export export-public import'

# envelope kms
complete -c envelope -n "__envelope_at 'kms' 0" -f -a 'encrypt' -d 'Encrypt up to 4096 bytes under a key into a ciphertext blob'
complete -c envelope -n "__envelope_at 'kms' 0" -f -a 'decrypt' -d 'Decrypt a ciphertext blob; the blob names its key'
complete -c envelope -n "__envelope_at 'kms' 0" -f -a 're-encrypt' -d 'Decrypt a blob and encrypt its plaintext under another key, without printing it'
complete -c envelope -n "__envelope_at 'kms' 0" -f -a 'generate-data-key' -d 'Generate a data key: its plaintext and a blob of it'
complete -c envelope -n "__envelope_at 'kms' 0" -f -a 'generate-data-key-without-plaintext' -d 'Generate a data key as a blob only'
complete -c envelope -n "__envelope_at 'kms' 0" -f -a 'generate-random' -d 'Random bytes from the CSPRNG (with --kms, from AWS KMS GenerateRandom)'
complete -c envelope -n "__envelope_at 'kms' 0" -f -a 'help' -d 'display help for command'

# envelope kms encrypt
complete -c envelope -n "__envelope_at 'kms encrypt'" -l key-id -x -a '(__envelope_keys key)' -d 'the key'
complete -c envelope -n "__envelope_at 'kms encrypt'" -l plaintext -r -F -d 'fileb://PATH, PATH or - (stdin, the default)'
complete -c envelope -n "__envelope_at 'kms encrypt'" -s c -l encryption-context -x -d 'encryption context pair (repeatable)'
complete -c envelope -n "__envelope_at 'kms encrypt'" -l output -x -a 'json text binary' -d 'json, text or binary'
complete -c envelope -n "__envelope_at 'kms encrypt'" -l kms -d 'the keys are in AWS KMS (for alias/NAME, NAME or a key id)'

# envelope kms decrypt
complete -c envelope -n "__envelope_at 'kms decrypt'" -l ciphertext-blob -r -F -d 'fileb://PATH, PATH or - (stdin, the default)'
complete -c envelope -n "__envelope_at 'kms decrypt'" -l key-id -x -a '(__envelope_keys key)' -d 'refuse unless the blob was made by this key'
complete -c envelope -n "__envelope_at 'kms decrypt'" -s c -l encryption-context -x -d 'encryption context pair (repeatable)'
complete -c envelope -n "__envelope_at 'kms decrypt'" -l output -x -a 'json text binary' -d 'json, text or binary'
complete -c envelope -n "__envelope_at 'kms decrypt'" -l kms -d 'the blob is an AWS KMS blob: send it to AWS KMS (Decrypt)'

# envelope kms re-encrypt
complete -c envelope -n "__envelope_at 'kms re-encrypt'" -l ciphertext-blob -r -F -d 'fileb://PATH, PATH or - (stdin, the default)'
complete -c envelope -n "__envelope_at 'kms re-encrypt'" -l source-key-id -x -a '(__envelope_keys key)' -d 'refuse unless the blob was made by this key'
complete -c envelope -n "__envelope_at 'kms re-encrypt'" -l destination-key-id -x -a '(__envelope_keys key)' -d 'the new key'
complete -c envelope -n "__envelope_at 'kms re-encrypt'" -l source-encryption-context -x -d 'encryption context pair (repeatable)'
complete -c envelope -n "__envelope_at 'kms re-encrypt'" -l destination-encryption-context -x -d 'encryption context pair (repeatable)'
complete -c envelope -n "__envelope_at 'kms re-encrypt'" -l output -x -a 'json text binary' -d 'json, text or binary'
complete -c envelope -n "__envelope_at 'kms re-encrypt'" -l kms -d 'the keys are in AWS KMS (for alias/NAME, NAME or a key id)'

# envelope kms generate-data-key
complete -c envelope -n "__envelope_at 'kms generate-data-key'" -l key-id -x -a '(__envelope_keys key)' -d 'the key'
complete -c envelope -n "__envelope_at 'kms generate-data-key'" -l key-spec -x -a 'AES_256 AES_128' -d 'AES_256 (default) or AES_128'
complete -c envelope -n "__envelope_at 'kms generate-data-key'" -l number-of-bytes -x -d 'length of the data key, 1-1024'
complete -c envelope -n "__envelope_at 'kms generate-data-key'" -s c -l encryption-context -x -d 'encryption context pair (repeatable)'
complete -c envelope -n "__envelope_at 'kms generate-data-key'" -l output -x -a 'json text binary' -d 'json, text or binary'
complete -c envelope -n "__envelope_at 'kms generate-data-key'" -l kms -d 'the keys are in AWS KMS (for alias/NAME, NAME or a key id)'

# envelope kms generate-data-key-without-plaintext
complete -c envelope -n "__envelope_at 'kms generate-data-key-without-plaintext'" -l key-id -x -a '(__envelope_keys key)' -d 'the key'
complete -c envelope -n "__envelope_at 'kms generate-data-key-without-plaintext'" -l key-spec -x -a 'AES_256 AES_128' -d 'AES_256 (default) or AES_128'
complete -c envelope -n "__envelope_at 'kms generate-data-key-without-plaintext'" -l number-of-bytes -x -d 'length of the data key, 1-1024'
complete -c envelope -n "__envelope_at 'kms generate-data-key-without-plaintext'" -s c -l encryption-context -x -d 'encryption context pair (repeatable)'
complete -c envelope -n "__envelope_at 'kms generate-data-key-without-plaintext'" -l output -x -a 'json text binary' -d 'json, text or binary'
complete -c envelope -n "__envelope_at 'kms generate-data-key-without-plaintext'" -l kms -d 'the keys are in AWS KMS (for alias/NAME, NAME or a key id)'

# envelope kms generate-random
complete -c envelope -n "__envelope_at 'kms generate-random'" -l number-of-bytes -x -d '1-1024'
complete -c envelope -n "__envelope_at 'kms generate-random'" -l output -x -a 'json text binary' -d 'json, text or binary'
complete -c envelope -n "__envelope_at 'kms generate-random'" -l kms -d 'ask AWS KMS (GenerateRandom)'

# envelope kms help
complete -c envelope -n "__envelope_at 'kms help' 0" -f -a 'encrypt decrypt re-encrypt generate-data-key generate-data-key-without-plaintext generate-random'

# envelope audit
complete -c envelope -n "__envelope_at 'audit'" -l verify -d 'check the hash chain; exit 5 naming the first bad line'
complete -c envelope -n "__envelope_at 'audit'" -l json -d 'print the entries as JSON lines'

# envelope keystore
complete -c envelope -n "__envelope_at 'keystore' 0" -f -a 'info' -d 'Where the keystore is, how it is protected, how many keys'
complete -c envelope -n "__envelope_at 'keystore' 0" -f -a 'protect' -d 'Encrypt the keystore at rest under a passphrase (new passphrase: $ENVELOPE_NEW_PASSPHRASE or a prompt)'
complete -c envelope -n "__envelope_at 'keystore' 0" -f -a 'unprotect' -d 'Remove the passphrase: key material is then protected by file permissions only'
complete -c envelope -n "__envelope_at 'keystore' 0" -f -a 'change-passphrase' -d 'Replace the passphrase (new passphrase: $ENVELOPE_NEW_PASSPHRASE or a prompt)'
complete -c envelope -n "__envelope_at 'keystore' 0" -f -a 'help' -d 'display help for command'

# envelope keystore info
complete -c envelope -n "__envelope_at 'keystore info'" -l json -d 'print JSON'

# envelope keystore protect

# envelope keystore unprotect

# envelope keystore change-passphrase

# envelope keystore help
complete -c envelope -n "__envelope_at 'keystore help' 0" -f -a 'info protect unprotect change-passphrase'

# envelope serve
complete -c envelope -n "__envelope_at 'serve'" -l listen -x -d 'address to listen on; port 0 picks a free port; another address than loopback only when named here, by IP'
complete -c envelope -n "__envelope_at 'serve'" -l account -x -d 'the 12-digit account in the ARNs'
complete -c envelope -n "__envelope_at 'serve'" -l token-file -r -F -d 'refuse (AccessDeniedException) requests whose access key id is not the first line of this file (mode 0600); only the access key id is compared, the SigV4 signature is not checked'
complete -c envelope -n "__envelope_at 'serve'" -l throttle -x -d 'answer the first N requests with ThrottlingException, to test that clients retry'

# envelope completion
complete -c envelope -n "__envelope_at 'completion' 0" -f -a 'bash zsh fish'

# envelope help
complete -c envelope -n "__envelope_at 'help' 0" -f -a 'encrypt decrypt inspect exec re-encrypt keygen rotate keys kms audit keystore serve completion'
