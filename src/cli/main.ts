// The entry point of the envelope command line, and the one place that turns
// errors into exit codes and calls for the process to end.

import { CommanderError } from 'commander';
import { EnvelopeError, InterruptedError, UsageError } from '../errors.js';
import { EXIT_CODES } from './exit-codes.js';
import { childStatus, mayEndNow } from './exit-status.js';
import { removeTemporariesSync } from './output.js';
import { buildProgram } from './program.js';
import { clearStatus, loadColors, report } from './terminal.js';

/**
 * Commander words its errors as sentences ("… is invalid. Allowed choices are …",
 * "(Did you mean --armor?)"); ours are one lowercase line plus hints.
 */
function usageFromCommander(text: string): UsageError {
  const [first = '', ...rest] = text
    .replace(/^error: /, '')
    // An unknown `--flag=value` may be a secret typed in the wrong place: never echo the value.
    .replace(/'(--?[^\s'=]+)=[^']*'/g, "'$1=…'")
    .split(/\.\s+|\n/)
    .map((s) => s.trim().replace(/^\((.*)\)$/, '$1').replace(/\.$/, ''))
    .filter(Boolean);
  const lower = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
  return new UsageError(lower(first), { hints: [...rest.map(lower), 'see envelope --help'] });
}

declare const ENVELOPE_VERSION: string;

async function main(argv: string[]): Promise<number> {
  // Only as the sole argument: subcommands have a --version of their own (keys export KEY --version N).
  const only = argv.slice(2);
  if (only.length === 1 && (only[0] === '--version' || only[0] === '-V')) {
    process.stdout.write(`${ENVELOPE_VERSION}\n`);
    return EXIT_CODES.ok;
  }
  // A reader that goes away (`envelope … | head`) is not an error of ours.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_CODES.ok);
  });
  const debug = argv.includes('--debug');
  const program = buildProgram(argv);
  const interrupt = (signal: NodeJS.Signals) => {
    removeTemporariesSync();
    report(new InterruptedError(`interrupted by ${signal}`), false);
    // Then the process ends by the signal itself, as a shell expects of an
    // interrupted program (it reports 128 + the signal's number: 130, 143). And
    // at once: exit() would first wait for the worker threads, and one may be
    // blocked writing to a reader that has stopped reading (src/stream/direct-output.ts).
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    process.exit(signal === 'SIGTERM' ? 143 : EXIT_CODES.interrupted);
  };
  process.on('exit', removeTemporariesSync);
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    await program.parseAsync(argv);
    clearStatus();
    return childStatus.value ?? EXIT_CODES.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return 0;
      if (e.code === 'commander.help') return 0;
      await loadColors();
      report(usageFromCommander(e.message), false);
      return EXIT_CODES.usage;
    }
    await loadColors();
    report(e, debug);
    return e instanceof EnvelopeError ? EXIT_CODES[e.code] : EXIT_CODES.internal;
  }
}

void main(process.argv).then((code) => {
  process.exitCode = code;
  // exit() runs the 'exit' listeners all the same; otherwise Node ends the process once the rest is done.
  if (mayEndNow(process.getActiveResourcesInfo())) process.exit();
});
