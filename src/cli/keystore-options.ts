// Finding and opening the local keystore from flags and environment (DESIGN §3):
// --keystore DIR, else ENVELOPE_KEYSTORE, else the config's keystore, else
// ${XDG_DATA_HOME:-~/.local/share}/envelope.

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Keystore, type KeystoreOptions, type PassphraseSource } from '../keystore/keystore.js';
import type { StoreFile } from '../keystore/schema.js';
import type { Config } from './config.js';
import { type PassphraseFlags, passphraseSource } from './passphrase.js';
import { type Spinner, startSpinner } from './progress.js';
import { warn } from './terminal.js';

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

/**
 * The keystore as the command line uses it: on a terminal, a spinner shows
 * while scrypt turns the passphrase into the key that unlocks the store (about
 * 0.3 s), and while a new passphrase seals it. The passphrase source starts the
 * spinner once it has the passphrase (so never over the prompt); the unlock
 * stops it, however it ends.
 */
class TerminalKeystore extends Keystore {
  private readonly unlocking: { spinner?: Spinner };

  constructor(options: KeystoreOptions & { passphrase: PassphraseSource }) {
    const unlocking: { spinner?: Spinner } = {};
    const source = options.passphrase;
    super({
      ...options,
      passphrase: {
        given: () => source.given(),
        ask: async () => {
          const passphrase = await source.ask();
          unlocking.spinner ??= startSpinner('unlocking the keystore');
          return passphrase;
        },
      },
    });
    this.unlocking = unlocking;
  }

  override async unlockStore(store: Pick<StoreFile, 'keystoreId' | 'protection'>): Promise<Buffer> {
    try {
      return await super.unlockStore(store);
    } finally {
      this.unlocking.spinner?.stop();
      this.unlocking.spinner = undefined;
    }
  }

  override async setPassphrase(passphrase: string | undefined): Promise<void> {
    const spinner = passphrase === undefined ? undefined : startSpinner('sealing the keystore under the passphrase');
    try {
      await super.setPassphrase(passphrase);
    } finally {
      spinner?.stop();
    }
  }
}

export function openKeystore(flags: KeystoreFlags): Keystore {
  return new TerminalKeystore({
    dir: keystoreDir(flags),
    allowInsecurePermissions: !!flags.allowInsecurePermissions,
    passphrase: passphraseSource(flags),
    onWarning: warn,
  });
}
