// How envelope talks to a person: one line `envelope: error: …` (lowercase, no
// trailing period), optional `hint:` lines, stack traces only with --debug.

import { EnvelopeError } from '../errors.js';

export function formatError(error: unknown, debug: boolean): string {
  const lines: string[] = [];
  if (error instanceof EnvelopeError) {
    lines.push(`envelope: error: ${error.message}`);
    for (const hint of error.hints) lines.push(`hint: ${hint}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    lines.push(`envelope: error: internal error: ${message}`);
    if (!debug) lines.push('hint: run again with --debug for details, and report it');
  }
  if (debug && error instanceof Error && error.stack) lines.push(error.stack);
  return `${lines.join('\n')}\n`;
}

/** Data a script may read: stdout, one trailing newline. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Words for the person at the terminal: stderr. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}
