// Shared test utilities: stream plumbing, a temp directory, and a runner for the
// real bin/envelope through pipes.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ENVELOPE = join(REPO_ROOT, 'bin', 'envelope');
/** ../shared/testdata/esdk beside the repository (present in CI). */
export const ESDK_VECTORS = resolve(REPO_ROOT, '..', 'shared', 'testdata', 'esdk');

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** The bytes as a stream of chunks of `size` bytes (the whole thing in one chunk by default). */
export async function* chunks(bytes: Uint8Array, size = bytes.length || 1): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'envelope-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A maker of fresh temporary directories for one test file, all removed after
 * it (registers an afterAll hook: call it at the top level of the file).
 */
export function workdirs(prefix: string): () => string {
  const cleanups: (() => void)[] = [];
  afterAll(() => cleanups.forEach((c) => c()));
  return () => {
    const dir = tempDir(prefix);
    cleanups.push(dir.cleanup);
    return dir.path;
  };
}

/** Splits bytes at cut points (taken modulo length + 1; repeated points give empty chunks). */
export async function* splitAt(bytes: Uint8Array, cuts: readonly number[]): AsyncGenerator<Uint8Array> {
  const points = cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
  let at = 0;
  for (const p of points) {
    yield bytes.subarray(at, p);
    at = p;
  }
  yield bytes.subarray(at);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

export interface CliOptions {
  stdin?: Uint8Array | string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Written to the child's descriptor 3 (a pipe), for --passphrase-fd 3. */
  fd3?: string;
  /** In a session of its own: no controlling terminal, so no prompt can wait for a person. */
  detached?: boolean;
  /** Under `sh -c 'umask 000; exec …'`. */
  umask000?: boolean;
  /** Flags for node itself, before bin/envelope. */
  nodeArgs?: readonly string[];
}

/** The environment that makes Node log each file it loads (`load "PATH"`) on stderr. */
export const TRACE_LOADS = { NODE_DEBUG: 'module' } as const;

/**
 * The files of dist/ that a run with TRACE_LOADS required, by name: the
 * separately built packages aws-sdk.cjs, ora.cjs and chalk.cjs
 * (scripts/build.mjs; bin/envelope reads envelope.cjs itself). Checks that the
 * trace worked at all, so a test built on it cannot pass by seeing nothing.
 */
export function distFilesLoaded(stderr: string): string[] {
  // Node colors the pid when it thinks stderr takes colors (FORCE_COLOR).
  const plain = stderr.replace(/\x1b\[[\d;]*m/g, '');
  const loaded = [...plain.matchAll(/^MODULE \d+: load "([^"]+)"/gm)].map((m) => m[1]!);
  expect(loaded, 'NODE_DEBUG=module traced nothing').toContain(ENVELOPE);
  const dist = join(REPO_ROOT, 'dist');
  return [...new Set(loaded.filter((f) => f.startsWith(`${dist}/`)).map((f) => f.slice(dist.length + 1)))];
}

/** Runs bin/envelope with args, feeding `stdin` (closed at once when omitted). */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const argv = [...(options.nodeArgs ?? []), ENVELOPE, ...args];
  const [command, commandArgs] = options.umask000
    ? ['sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, ...argv]]
    : [process.execPath, argv];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, commandArgs, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: options.fd3 === undefined ? ['pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe', 'pipe'],
      detached: !!options.detached,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
    if (options.fd3 !== undefined) {
      const fd3 = child.stdio[3] as Writable;
      fd3.on('error', () => undefined);
      fd3.end(options.fd3);
    }
    child.stdin!.on('error', () => undefined); // the child may exit before reading everything
    child.stdin!.end(options.stdin ?? '');
  });
}
