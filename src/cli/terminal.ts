// How envelope talks to a person (DESIGN §5): data on stdout, words on stderr.
// Errors are one line `envelope: error: …` (lowercase, no trailing period) with
// optional `hint:` lines, stack traces only with --debug. -q keeps only errors;
// -v adds details. Colors only when stderr is a terminal (or FORCE_COLOR says
// so), never with NO_COLOR. chalk costs a few milliseconds to load, so it is
// imported only when colors are on and a colored line is coming: an error, a
// run over several files, -v. A run in a pipe or a CI log never loads it.

import { EnvelopeError } from '../errors.js';
import { statDescriptor } from './descriptor.js';

/** How the few colored words are painted; the plain palette leaves them as they are. */
export interface Palette {
  readonly error: (s: string) => string;
  readonly hint: (s: string) => string;
  readonly warning: (s: string) => string;
  /** The arrow of a file done, in a run over several files. */
  readonly done: (s: string) => string;
  readonly skipped: (s: string) => string;
  /** The count that ends a run over several files. */
  readonly summary: (s: string) => string;
  /** What -v adds. */
  readonly detail: (s: string) => string;
}

const same = (s: string) => s;
export const PLAIN: Palette = { error: same, hint: same, warning: same, done: same, skipped: same, summary: same, detail: same };

const state = { quiet: false, verbose: false, palette: PLAIN, colors: undefined as Promise<void> | undefined };

/** -q and -v, as given to this run. */
export function configureTerminal(flags: { quiet?: boolean; verbose?: boolean }): void {
  state.quiet = !!flags.quiet;
  state.verbose = !!flags.verbose && !flags.quiet;
}

export function isVerbose(): boolean {
  return state.verbose;
}

export function palette(): Palette {
  return state.palette;
}

export function colorsOn(): boolean {
  return state.palette !== PLAIN;
}

/**
 * Whether colors are wanted on stderr: never with NO_COLOR (whatever its
 * value); with FORCE_COLOR, as chalk reads it (FORCE_COLOR=0 turns them off);
 * else only on a terminal, where chalk still says no to TERM=dumb.
 */
export function colorsWanted(env: NodeJS.ProcessEnv, stderrIsTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined) return false;
  if (env.FORCE_COLOR !== undefined) return true;
  return stderrIsTTY;
}

/**
 * Whether stderr is a terminal, asked of the descriptor first: only a character
 * device can be one. Asked first, process.stderr is built as a stream, which
 * for a pipe loads node:net and its bindings (~8 ms of a 1 KiB decrypt whose
 * stderr is a pipe, as in CI, cron mail or the bench); a run that writes
 * nothing to stderr then never builds it.
 */
export function stderrIsTerminal(): boolean {
  stderrTerminal ??= !!statDescriptor(2)?.isCharacterDevice() && !!process.stderr.isTTY;
  return stderrTerminal;
}

/** stderrIsTerminal's answer, asked once: the descriptor stays what it is for the run. */
let stderrTerminal: boolean | undefined;

/**
 * Whether stderr is a person watching a terminal: a TTY that is not dumb and
 * not a CI job's log (CI set, as ora and is-interactive read it). Spinners and
 * progress lines need this, and no -q.
 */
export function interactive(env: NodeJS.ProcessEnv = process.env, stderrIsTTY = stderrIsTerminal()): boolean {
  return stderrIsTTY && env.TERM !== 'dumb' && env.CI === undefined && !state.quiet;
}

/** Imports chalk when colors are wanted, once; until then (and otherwise) the palette is plain. */
export function loadColors(): Promise<void> {
  if (!colorsWanted(process.env, stderrIsTerminal())) return Promise.resolve();
  state.colors ??= import('chalk').then(
    ({ chalkStderr: c }) => {
      if (c.level === 0) return;
      state.palette = {
        error: c.red.bold,
        hint: c.cyan,
        warning: c.yellow.bold,
        done: c.green,
        skipped: c.yellow,
        summary: c.bold,
        detail: c.dim,
      };
    },
    // Colors are a nicety: without chalk, words stay plain.
    () => undefined,
  );
  return state.colors;
}

export function formatError(error: unknown, debug: boolean, p: Palette = state.palette): string {
  const lines: string[] = [];
  const prefix = `envelope: ${p.error('error:')} `;
  if (error instanceof EnvelopeError) {
    lines.push(`${prefix}${error.message}`);
    for (const hint of error.hints) lines.push(`${p.hint('hint:')} ${hint}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    lines.push(`${prefix}internal error: ${message}`);
    if (!debug) lines.push(`${p.hint('hint:')} run again with --debug for details, and report it`);
  }
  if (debug && error instanceof Error && error.stack) lines.push(error.stack);
  return `${lines.join('\n')}\n`;
}

/** Data a script may read: stdout, one trailing newline. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/**
 * A line in place on stderr (a progress line), which every other line written
 * here clears first; undefined when there is none.
 */
let statusLine: string | undefined;

export function setStatus(text: string): void {
  statusLine = text;
  process.stderr.write(`\r${text}\x1b[K`);
}

export function clearStatus(): void {
  if (statusLine === undefined) return;
  statusLine = undefined;
  process.stderr.write('\r\x1b[K');
}

function writeLine(text: string): void {
  clearStatus();
  process.stderr.write(`${text}\n`);
}

/** Words for the person at the terminal, on stderr; -q silences them. */
export function note(text: string): void {
  if (!state.quiet) writeLine(text);
}

/**
 * `envelope: warning: …`; -q silences it. The keystore warns from inside an
 * update, where nothing can wait for chalk: the word is colored only if chalk
 * is loaded already.
 */
export function warn(message: string): void {
  note(`envelope: ${state.palette.warning('warning:')} ${message}`);
}

/** A line about something that failed (one file of several): printed even with -q. */
export function problem(text: string): void {
  writeLine(text);
}

/** What -v adds: which keys, how long. */
export function detail(text: string): void {
  if (state.verbose) writeLine(state.palette.detail(`envelope: ${text}`));
}

/** An error, as main reports it: on stderr, whatever -q says. */
export function report(error: unknown, debug: boolean): void {
  writeLine(formatError(error, debug).slice(0, -1));
}
