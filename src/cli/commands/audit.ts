// audit: show or verify the keystore's hash-chained audit log.

import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { note, out } from '../terminal.js';

interface AuditFlags extends KeystoreFlags {
  verify?: boolean;
  json?: boolean;
}

export async function run(_: string[], flags: AuditFlags): Promise<void> {
  const ks = openKeystore(flags);
  if (flags.verify) {
    const lines = await ks.verifyAudit();
    return note(`envelope: audit log verified: ${lines} line${lines === 1 ? '' : 's'}, chain intact`);
  }
  const records = await ks.audit.read();
  if (flags.json) {
    for (const r of records) out(JSON.stringify(r));
    return;
  }
  for (const r of records) {
    const key = r.keyId ? ` ${r.keyId}${r.version ? `/${r.version}` : ''}` : '';
    const context = r.contextKeys?.length ? ` context=${r.contextKeys.join(',')}` : '';
    out(`${r.time} ${r.operation}${key} ${r.outcome}${r.error ? ` (${r.error})` : ''}${context} ${r.user} pid=${r.pid}`);
  }
}
