import { inspect, type MessageSummary } from '../../core/inspect.js';
import { printable } from '../../errors.js';
import { dearmor } from '../../stream/armor.js';
import { isStdio, openInput } from '../input.js';
import { type LimitFlags, parseLimits } from '../options.js';
import { openInputWithProgress } from '../progress.js';

interface InspectFlags extends LimitFlags {
  json?: boolean;
}

export async function run([file]: string[], flags: InspectFlags): Promise<void> {
  const limits = parseLimits(flags);
  // A file's body is walked to its end (with a progress line if it is large); stdin is read only up to the header.
  const walkBody = !isStdio(file);
  const input = walkBody ? await openInputWithProgress(file) : await openInput(file);
  const summary = await inspect(dearmor(input), { walkBody, limits });
  process.stdout.write(flags.json ? `${JSON.stringify(summary, null, 2)}\n` : render(summary));
}

function render(s: MessageSummary): string {
  const rows: [string, string][] = [
    ['version', String(s.version)],
    ['suite', `${s.suite.id} ${s.suite.name}`],
    ['', `${s.suite.committing ? 'key-committing' : 'not key-committing'}, ${s.suite.signed ? 'signed' : 'unsigned'}`],
    ['message id', s.messageId],
  ];
  const context = Object.entries(s.encryptionContext);
  if (context.length === 0) rows.push(['context', '(none)']);
  // Keys, values and provider ids come from the message: escaped, so they cannot drive the terminal.
  context.forEach(([k, v], i) => rows.push([i === 0 ? 'context' : '', `${printable(k)}=${printable(v)}`]));
  s.encryptedDataKeys.forEach((k, i) => rows.push([i === 0 ? 'data keys' : '', `${printable(k.providerId)}  ${k.keyName}`]));
  rows.push(['body', s.contentType === 'framed' ? `framed, ${s.frameLength}-byte frames` : 'non-framed']);
  rows.push(['header', `${s.headerLength} bytes`]);
  if (s.body) {
    rows.push(['frames', String(s.body.frames)]);
    rows.push(['body size', `${s.body.bodyLength} bytes (${s.body.plaintextLength} bytes of plaintext)`]);
  }
  return rows.map(([k, v]) => `${k.padEnd(12)}${v}`).join('\n') + '\n';
}
