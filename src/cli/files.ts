// Several inputs and directory trees for encrypt and decrypt (DESIGN §5): the
// names of outputs, which files a walk with -r takes, and the run over all of
// them with one summary line per file. A file that fails does not stop the
// others; the exit status is then the first failure's.

import type { Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EnvelopeError, type ErrorCode, IoError, ioError, UsageError } from '../errors.js';
import { isStdio } from './input.js';
import { assertNotSameFile, type Output, refuseExisting, writeFileAtomically, writeStdout } from './output.js';
import { loadColors, note, palette, problem } from './terminal.js';

export type Direction = 'encrypt' | 'decrypt';

/** How output names are made: encrypt adds `suffixes[0]`; decrypt strips the first of `suffixes` that fits, else adds `.dec`. */
export interface Naming {
  readonly direction: Direction;
  readonly suffixes: readonly string[];
}

const DECRYPTED_FALLBACK_SUFFIX = '.dec';

/** `--suffix`: encrypt's defaults to `.enc`; decrypt's to stripping `.enc` or `.encrypted`. */
export function naming(direction: Direction, suffix: string | undefined): Naming {
  if (suffix !== undefined && (suffix.length === 0 || suffix.includes('/') || suffix.includes('\0') || /^\.*$/.test(suffix))) {
    throw new UsageError(`--suffix takes a file name ending such as .enc, not "${suffix}"`);
  }
  if (suffix !== undefined) return { direction, suffixes: [suffix] };
  return { direction, suffixes: direction === 'encrypt' ? ['.enc'] : ['.enc', '.encrypted'] };
}

/** The suffix `name` (a file name or a path) ends in, with something before it; else undefined. */
function suffixOf(name: string, { suffixes }: Naming): string | undefined {
  const base = basename(name);
  return suffixes.find((s) => base.length > s.length && base.endsWith(s));
}

/** The output beside `path`: `a.txt` → `a.txt.enc`; `a.txt.enc` → `a.txt`, `c.bin` → `c.bin.dec`. Spelled as the input is. */
export function outputPath(path: string, names: Naming): string {
  if (names.direction === 'encrypt') return `${path}${names.suffixes[0]}`;
  const suffix = suffixOf(path, names);
  return suffix ? path.slice(0, -suffix.length) : `${path}${DECRYPTED_FALLBACK_SUFFIX}`;
}

/** Why a file found in a tree is left alone, or undefined to process it. */
function skipReason(name: string, names: Naming): string | undefined {
  const suffix = suffixOf(name, names);
  if (names.direction === 'encrypt') return suffix ? `already ends in ${suffix}` : undefined;
  return suffix ? undefined : `does not end in ${names.suffixes.join(' or ')}`;
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await fsp.stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw ioError(e, 'read', path);
  }
}

/**
 * The output of one input named alone: -o as given, except that an existing
 * directory receives FILE under its output name, as with several inputs.
 */
async function singleOutput(file: string | undefined, output: string | undefined, names: Naming): Promise<string> {
  if (output === undefined) return isStdio(file) ? '-' : outputPath(file!, names);
  if (output === '-' || isStdio(file)) return output;
  const existing = await statOrUndefined(output);
  return existing?.isDirectory() ? join(output, outputPath(basename(file!), names)) : output;
}

export interface BatchOptions {
  readonly names: Naming;
  /** -o: the directory the outputs go into; beside each input when undefined (not with -r). */
  readonly output?: string;
  readonly recursive: boolean;
  readonly force: boolean;
  /** Mode of the directories made for outputs, before umask: 0o700 for plaintext, 0o777 for ciphertext. */
  readonly directoryMode: number;
}

/**
 * Where the outputs of one encrypt or decrypt run go: several inputs (or -r)
 * make a batch; one input goes to its own output. Checked before any key is
 * opened, so a usage error costs nothing.
 */
export type OutputPlan =
  | { readonly kind: 'batch'; readonly inputs: readonly string[]; readonly options: BatchOptions }
  | { readonly kind: 'single'; readonly input: string | undefined; readonly output: string; readonly force: boolean };

export async function planOutputs(inputs: readonly string[], options: BatchOptions): Promise<OutputPlan> {
  if (isBatch(inputs, options.recursive)) {
    await checkBatchUsage(inputs, options);
    return { kind: 'batch', inputs, options };
  }
  const [input] = inputs;
  const output = await singleOutput(input, options.output, options.names);
  if (output !== '-') {
    await assertNotSameFile(isStdio(input) ? undefined : input, output);
    await refuseExisting(output, options.force);
  }
  return { kind: 'single', input, output, force: options.force };
}

/** Where one message's bytes go: the writer, and whether it is stdout (where --buffer applies). */
export interface Destination {
  readonly toStdout: boolean;
  write(bytes: Output): Promise<void>;
}

/**
 * Runs `work` for every input of the plan, with its destination: an atomic file
 * of `mode`, or stdout (`binary`: refused on a terminal).
 */
export function deliver(
  plan: OutputPlan,
  { mode, binary }: { mode: number; binary: boolean },
  work: (input: string | undefined, destination: Destination) => Promise<void>,
): Promise<void> {
  const force = plan.kind === 'batch' ? plan.options.force : plan.force;
  const toFile = (out: string): Destination => ({
    toStdout: false,
    write: (bytes) => writeFileAtomically(out, bytes, { force, mode }),
  });
  if (plan.kind === 'batch') return runBatch(plan.inputs, plan.options, (input, out) => work(input, toFile(out)));
  if (plan.output === '-') return work(plan.input, { toStdout: true, write: (bytes) => writeStdout(bytes, binary) });
  return work(plan.input, toFile(plan.output));
}

/** Several inputs, or -r: the batch mode with summary lines. */
function isBatch(inputs: readonly string[], recursive: boolean | undefined): boolean {
  return inputs.length > 1 || !!recursive;
}

/** The usage errors of a batch, found before any key is opened or any file read. */
async function checkBatchUsage(inputs: readonly string[], options: Pick<BatchOptions, 'output' | 'recursive'>): Promise<void> {
  const { output, recursive } = options;
  if (inputs.length === 0) throw new UsageError('-r needs files or directories to walk');
  if (inputs.some((i) => isStdio(i))) {
    throw new UsageError(recursive ? '-r reads files and directories, not standard input (-)' : 'standard input (-) cannot be one of several inputs');
  }
  if (output === '-') {
    if (recursive) throw new UsageError('-r writes files: -o DIR, not -o -');
    throw new UsageError('-o - (standard output) takes one input, not several', {
      hints: ['name a directory for the outputs with -o DIR, or leave -o out to write each output beside its input'],
    });
  }
  if (recursive && output === undefined) {
    throw new UsageError('-r needs -o DIR, the directory the trees are mirrored into');
  }
  if (output === undefined) return;
  const existing = await statOrUndefined(output);
  if (existing && !existing.isDirectory()) {
    throw new UsageError(`-o ${output} is not a directory`, { hints: ['several inputs go into a directory: -o DIR'] });
  }
  if (!existing && !recursive) {
    throw new UsageError(`-o ${output}: no such directory`, { hints: ['several inputs go into an existing directory: create it first (-r creates it)'] });
  }
}

/** One file of a batch: where it goes, or why it is skipped, or the error found while looking for it. */
interface Item {
  readonly input: string;
  readonly output?: string;
  readonly skip?: string;
  readonly error?: EnvelopeError;
}

/**
 * The files of a batch in order: each input as named (a symbolic link named
 * on the command line is followed), and with -r the regular files under each
 * directory, depth first in name order. Walking never follows a symbolic link
 * and never enters the output directory. Everything is listed before anything
 * is written, so outputs written into a tree are not walked in turn.
 */
async function plan(inputs: readonly string[], options: BatchOptions): Promise<Item[]> {
  const { names, output, recursive } = options;
  const items: Item[] = [];
  const outputDir = output === undefined ? undefined : await statOrUndefined(output).catch(() => undefined);
  const isOutputDir = (s: Stats) => outputDir !== undefined && s.dev === outputDir.dev && s.ino === outputDir.ino;

  const walk = async (dir: string, into: string): Promise<void> => {
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (e) {
      items.push({ input: dir, error: ioError(e, 'read', dir) });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isSymbolicLink()) items.push({ input: path, skip: 'symbolic link, not followed' });
      else if (entry.isDirectory()) {
        const s = await fsp.stat(path).catch(() => undefined);
        if (!(s && isOutputDir(s))) await walk(path, join(into, entry.name));
      } else if (!entry.isFile()) items.push({ input: path, skip: 'not a regular file' });
      else {
        const skip = skipReason(entry.name, names);
        items.push(skip ? { input: path, skip } : { input: path, output: join(into, outputPath(entry.name, names)) });
      }
    }
  };

  for (const input of inputs) {
    let s: Stats;
    try {
      s = await fsp.stat(input);
    } catch (e) {
      items.push({ input, error: ioError(e, 'read', input) });
      continue;
    }
    if (s.isDirectory()) {
      if (!recursive) {
        items.push({ input, error: new IoError(`cannot read ${input}: is a directory`, { hints: ['use -r and -o DIR to walk a directory'] }) });
        continue;
      }
      // The tree lands in DIR under its own name; `.` (or `..`, `/`) puts its contents in DIR itself.
      const name = basename(input.replace(/\/+$/, ''));
      await walk(input, name === '' || name === '.' || name === '..' ? output! : join(output!, name));
    } else {
      items.push({ input, output: output === undefined ? outputPath(input, names) : join(output, outputPath(basename(input), names)) });
    }
  }
  return items;
}

/** A batch that had failures: the count, with the exit status of the first failure's class. */
export class BatchError extends EnvelopeError {
  readonly code: ErrorCode;
  constructor(message: string, first: EnvelopeError, hints: string[]) {
    super(message, { hints, cause: first });
    this.code = first.code;
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Runs `work` for each file of the batch, after the checks every output gets:
 * not the input itself, not another input, not the output of an earlier file,
 * not an existing file without --force. Prints one line per file and a count;
 * throws a BatchError when any file failed.
 */
async function runBatch(
  inputs: readonly string[],
  options: BatchOptions,
  work: (input: string, output: string) => Promise<void>,
): Promise<void> {
  const items = await plan(inputs, options);
  const inputPaths = new Set(items.filter((i) => i.output !== undefined).map((i) => resolve(i.input)));
  const outputs = new Map<string, string>();
  const created: string[] = [];
  let done = 0;
  let failed = 0;
  let skipped = 0;
  let first: { input: string; error: EnvelopeError } | undefined;
  await loadColors();
  const p = palette();

  for (const item of items) {
    if (item.skip !== undefined) {
      skipped++;
      note(`envelope: ${item.input}: ${p.skipped('skipped:')} ${item.skip}`);
      continue;
    }
    try {
      if (item.error) throw item.error;
      const output = item.output!;
      const key = resolve(output);
      const earlier = outputs.get(key);
      if (earlier !== undefined) throw new UsageError(`${output} is already the output of ${earlier}`);
      outputs.set(key, item.input);
      if (inputPaths.has(key) && key !== resolve(item.input)) throw new UsageError(`${output} is one of the inputs`);
      await assertNotSameFile(item.input, output);
      await refuseExisting(output, options.force);
      await makeDirectories(dirname(output), options.directoryMode, created);
      await work(item.input, output);
      done++;
      note(`envelope: ${item.input} ${p.done('->')} ${output}`);
    } catch (e) {
      if (!(e instanceof EnvelopeError)) throw e;
      failed++;
      first ??= { input: item.input, error: e };
      // A failure is reported even with -q.
      problem(`envelope: ${item.input}: ${p.error('error:')} ${e.message}`);
    }
  }
  // Directories made for files that then failed are not left behind empty.
  if (failed > 0) await removeEmptyDirectories(created);

  const total = done + failed + skipped;
  note(p.summary(`envelope: ${plural(total, 'file')}: ${done} done, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`));
  if (first) {
    const verb = options.names.direction === 'encrypt' ? 'encrypted' : 'decrypted';
    // The first failure again, which a long run has scrolled away, with its hints.
    throw new BatchError(`${failed} of ${plural(done + failed, 'file')} could not be ${verb}`, first.error, [
      `${failed > 1 ? 'first: ' : ''}${first.input}: ${first.error.message}`,
      ...first.error.hints,
    ]);
  }
}

/** mkdir -p with `mode` for what it creates; records each directory it made. */
async function makeDirectories(dir: string, mode: number, created: string[]): Promise<void> {
  let firstMade: string | undefined;
  try {
    firstMade = await fsp.mkdir(dir, { recursive: true, mode });
  } catch (e) {
    throw ioError(e, 'create directory', dir);
  }
  if (firstMade === undefined) return;
  const top = resolve(firstMade);
  for (let d = resolve(dir); ; d = dirname(d)) {
    created.push(d);
    if (d === top || dirname(d) === d) break;
  }
}

async function removeEmptyDirectories(dirs: readonly string[]): Promise<void> {
  for (const dir of [...dirs].sort((a, b) => b.length - a.length)) await fsp.rmdir(dir).catch(() => undefined);
}
