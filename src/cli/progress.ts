// Signs of life on a terminal (DESIGN §5): a progress line for large inputs and
// a spinner while a slow key operation runs. Both only when stderr is a person's
// terminal (not a pipe, not a CI log) and without -q; otherwise the input goes
// through untouched and ora is never imported.

import { fstatSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isStdio, openInput } from './input.js';
import { clearStatus, colorsOn, interactive, loadColors, setStatus } from './terminal.js';

/** Inputs up to this size finish before a progress line would say anything. */
export const PROGRESS_THRESHOLD = 64 * 1024 * 1024;
/** Redraws per second, at most. */
const REDRAW_INTERVAL_MS = 100;

/** The size of an input that is a regular file (named, or stdin redirected from one); else undefined. */
async function inputSize(path: string | undefined): Promise<number | undefined> {
  try {
    const s = isStdio(path) ? fstatSync(0) : await stat(path!);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let unit = 0;
  while (n >= 1024 && unit < UNITS.length - 1) {
    n /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${n.toFixed(1)} ${UNITS[unit]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The progress line: bytes (of the total when known), then the rate and, with
 * a total, the time left, once there has been time enough to measure a rate.
 */
export function progressLine(label: string, done: number, total: number | undefined, elapsedMs: number): string {
  const parts = [`envelope: ${label}`];
  if (total !== undefined && total > 0) {
    parts.push(`${formatBytes(done)} / ${formatBytes(total)} (${Math.floor((done / total) * 100)}%)`);
  } else {
    parts.push(formatBytes(done));
  }
  if (elapsedMs >= REDRAW_INTERVAL_MS && done > 0) {
    const rate = (done / elapsedMs) * 1000;
    parts.push(`${formatBytes(Math.round(rate))}/s`);
    if (total !== undefined) parts.push(`ETA ${formatDuration(Math.max(0, total - done) / rate)}`);
  }
  return parts.join('  ');
}

export interface ProgressOptions {
  readonly label: string;
  /** The input's size when known (a regular file). */
  readonly total?: number;
  readonly now?: () => number;
  /** Where the line goes; the terminal's status line by default. */
  readonly show?: (line: string) => void;
  readonly clear?: () => void;
  /** Width of the terminal: the line is cut to fit, so that `\r` returns to its start. */
  readonly columns?: number;
}

/**
 * Passes `source` through, counting its bytes, and keeps one line on stderr
 * up to date (at most every 100 ms) once more than PROGRESS_THRESHOLD bytes
 * are expected or have gone by. The line is cleared when the input ends, fails
 * or is abandoned.
 */
export async function* countingProgress(source: AsyncIterable<Uint8Array>, options: ProgressOptions): AsyncGenerator<Uint8Array> {
  const now = options.now ?? (() => performance.now());
  const show = options.show ?? setStatus;
  const clear = options.clear ?? clearStatus;
  const total = options.total;
  const start = now();
  let done = 0;
  let drawn = false;
  let last = -Infinity;
  try {
    for await (const chunk of source) {
      done += chunk.length;
      const t = now();
      if (t - last >= REDRAW_INTERVAL_MS && ((total ?? 0) > PROGRESS_THRESHOLD || done > PROGRESS_THRESHOLD)) {
        last = t;
        const line = progressLine(options.label, done, total, t - start);
        // A terminal of unknown size (a pty with no size set) says 0 columns.
        const columns = options.columns ?? (process.stderr.columns || 80);
        show(line.length < columns ? line : line.slice(0, Math.max(1, columns - 1)));
        drawn = true;
      }
      yield chunk;
    }
  } finally {
    if (drawn) clear();
  }
}

/**
 * openInput, with a progress line when stderr is a person's terminal and the
 * input is large (more than 64 MiB, or of unknown size: a pipe shows its line
 * once that much has gone by).
 */
export async function openInputWithProgress(path: string | undefined): Promise<AsyncIterable<Uint8Array>> {
  const input = await openInput(path);
  if (!interactive()) return input;
  const total = await inputSize(path);
  if (total !== undefined && total <= PROGRESS_THRESHOLD) return input;
  return countingProgress(input, { label: isStdio(path) ? 'standard input' : path!, ...(total !== undefined ? { total } : {}) });
}

/** A spinner that may not have started yet (ora loads asynchronously); stop() is safe at any time. */
export interface Spinner {
  stop(): void;
}

const NO_SPINNER: Spinner = { stop: () => undefined };

/**
 * Starts a spinner on stderr with `text`, when stderr is a person's terminal
 * and there is no -q. Returns at once: ora is imported in the background, and
 * the spinner never appears if stop() comes first.
 */
export function startSpinner(text: string): Spinner {
  // A terminal that reports no width (a pty nobody sized) would have ora count its line as endless.
  if (!interactive() || !process.stderr.columns) return NO_SPINNER;
  let stopped = false;
  let stopSpinner: (() => void) | undefined;
  void Promise.all([import('ora'), loadColors()])
    .then(([{ default: ora }]) => {
      if (stopped) return;
      // discardStdin off: stdin may be the data being encrypted; the passphrase prompt reads /dev/tty.
      const spinner = ora({ text, stream: process.stderr, discardStdin: false, color: colorsOn() ? 'cyan' : false }).start();
      stopSpinner = () => spinner.stop();
    })
    .catch(() => undefined);
  return {
    stop: () => {
      stopped = true;
      stopSpinner?.();
      stopSpinner = undefined;
    },
  };
}
