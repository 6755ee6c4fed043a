// Finding and opening the local keystore from flags and environment (DESIGN §3):
// --keystore DIR, else ENVELOPE_KEYSTORE, else the config's keystore, else
// ${XDG_DATA_HOME:-~/.local/share}/envelope.

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Keystore } from '../keystore/keystore.js';
import type { Config } from './config.js';
import { type PassphraseFlags, passphraseSource } from './passphrase.js';

export interface KeystoreFlags extends PassphraseFlags {
  keystore?: string;
  allowInsecurePermissions?: boolean;
  /** The configuration file's settings (added by the program, not a flag). */
  settings?: Config;
}

export function keystoreDir(flags: KeystoreFlags, env: NodeJS.ProcessEnv = process.env): string {
  if (flags.keystore) return resolve(flags.keystore);
  if (env.ENVELOPE_KEYSTORE) return resolve(env.ENVELOPE_KEYSTORE);
  if (flags.settings?.keystore) return flags.settings.keystore;
  const dataHome = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(dataHome, 'envelope');
}

export function openKeystore(flags: KeystoreFlags): Keystore {
  return new Keystore({
    dir: keystoreDir(flags),
    allowInsecurePermissions: !!flags.allowInsecurePermissions,
    passphrase: passphraseSource(flags),
    onWarning: (message) => process.stderr.write(`envelope: warning: ${message}\n`),
  });
}
