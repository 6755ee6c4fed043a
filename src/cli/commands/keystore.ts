// keystore info | protect | unprotect | change-passphrase

import { KeyAccessError, UsageError } from '../../errors.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { promptHidden } from '../passphrase.js';
import { note, out } from '../terminal.js';

interface InfoFlags extends KeystoreFlags {
  json?: boolean;
}

export async function info(_: string[], flags: InfoFlags): Promise<void> {
  const ks = openKeystore(flags);
  const store = await ks.read();
  const summary = {
    path: ks.dir,
    exists: !!store,
    ...(store
      ? {
          keystoreId: store.keystoreId,
          created: store.created,
          protection: store.protection.kind,
          ...(store.protection.kind === 'passphrase' ? { kdf: { ...store.protection.kdf, salt: undefined } } : {}),
          keys: Object.keys(store.keys).length,
          aliases: Object.keys(store.aliases).length,
        }
      : {}),
  };
  if (flags.json) return out(JSON.stringify(summary, null, 2));
  if (!store) return out(`${ks.dir}: no keystore yet (envelope keygen NAME creates it)`);
  out(`path        ${ks.dir}`);
  out(`id          ${store.keystoreId}`);
  out(`protection  ${store.protection.kind === 'passphrase' ? `passphrase (scrypt N=${store.protection.kdf.N}, r=${store.protection.kdf.r}, p=${store.protection.kdf.p})` : 'none: key material is guarded by file permissions only'}`);
  out(`keys        ${Object.keys(store.keys).length}`);
}

/** The new passphrase: ENVELOPE_NEW_PASSPHRASE, else typed twice on the terminal. */
async function newPassphrase(): Promise<string> {
  const fromEnv = process.env.ENVELOPE_NEW_PASSPHRASE;
  if (fromEnv !== undefined) {
    if (fromEnv.length === 0) throw new UsageError('ENVELOPE_NEW_PASSPHRASE is empty');
    return fromEnv;
  }
  const first = await promptHidden('envelope: new keystore passphrase: ');
  if (first === undefined) {
    throw new KeyAccessError('no new passphrase given', { hints: ['set ENVELOPE_NEW_PASSPHRASE, or run it on a terminal'] });
  }
  if (first.length === 0) throw new UsageError('the passphrase is empty');
  if ((await promptHidden('envelope: again: ')) !== first) throw new UsageError('the passphrases differ');
  return first;
}

export async function protect(_: string[], flags: KeystoreFlags): Promise<void> {
  const ks = openKeystore(flags);
  const store = await ks.read();
  if (store?.protection.kind === 'passphrase') {
    throw new UsageError('the keystore already has a passphrase', { hints: ['use envelope keystore change-passphrase'] });
  }
  await ks.setPassphrase(await newPassphrase());
  note(`envelope: ${ks.dir} is now protected by a passphrase`);
}

export async function unprotect(_: string[], flags: KeystoreFlags): Promise<void> {
  const ks = openKeystore(flags);
  const store = await ks.read();
  if (store?.protection.kind !== 'passphrase') throw new UsageError('the keystore has no passphrase');
  await ks.unlockStore(store);
  await ks.setPassphrase(undefined);
  note(`envelope: ${ks.dir} has no passphrase now: key material is guarded by file permissions only`);
}

export async function changePassphrase(_: string[], flags: KeystoreFlags): Promise<void> {
  const ks = openKeystore(flags);
  const store = await ks.read();
  if (store?.protection.kind !== 'passphrase') throw new UsageError('the keystore has no passphrase', { hints: ['use envelope keystore protect'] });
  await ks.unlockStore(store);
  await ks.setPassphrase(await newPassphrase());
  note('envelope: passphrase changed');
}
