// What a run loads of Node's own modules (README, Speed): the modules that
// only some runs need are loaded where they are used, not at start-up. A
// local decrypt of a file must not load commander's node:child_process (made
// lazy by the build, scripts/esbuild-options.mjs), node:tty (passphrase.ts,
// output.ts), node:v8 (free-memory.ts) or node:sea (config.ts, for a config
// file in JavaScript), and one that writes to stdout
// must not load node:fs/promises (with it readline and fs watchers: eleven
// modules), which only writing a file uses. node:net is not checked: a test's
// stdout is a pipe, and Node's process.stdout of a pipe is a net.Socket.

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVELOPE, runCli, workdirs } from './helpers.js';

const workdir = workdirs('envelope-start-up-');

/** A preload that writes process.moduleLoadList to a file at exit: its path and the file's. */
function loadsReporter(dir: string): { preload: string; report: string } {
  const preload = join(dir, 'loads.cjs');
  const report = join(dir, 'loads.txt');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(report)}, process.moduleLoadList.join('\\n')));`);
  return { preload, report };
}

/** Node's built-in modules that a run of `args` loaded, from process.moduleLoadList at exit. */
async function builtinsLoaded(dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const { preload, report } = loadsReporter(dir);
  const r = await runCli(args, { env, nodeArgs: ['--require', preload] });
  expect(r.code, r.stderr).toBe(0);
  return modulesIn(report);
}

/** The built-in modules a loadsReporter report names. */
function modulesIn(report: string): string[] {
  const loaded = readFileSync(report, 'utf8').split('\n');
  // The list is there at all: node:fs, which every run needs, is in it.
  expect(loaded).toContain('NativeModule fs');
  return loaded.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
}

/** A keystore with a local key and a message of 'a secret' under it, in a new directory. */
async function localMessage(): Promise<{ dir: string; env: NodeJS.ProcessEnv; message: string }> {
  const dir = workdir();
  const env = { ENVELOPE_KEYSTORE: join(dir, 'keystore') };
  expect((await runCli(['keygen', 'k'], { env })).code).toBe(0);
  writeFileSync(join(dir, 'secret'), 'a secret');
  const message = join(dir, 'secret.enc');
  expect((await runCli(['encrypt', '-k', 'alias/k', join(dir, 'secret'), '-o', message], { env })).code).toBe(0);
  return { dir, env, message };
}

describe('start-up', () => {
  it('a local decrypt of a file to a file loads neither child_process, dgram, tty, v8 nor sea', async () => {
    const { dir, env, message } = await localMessage();
    const loaded = await builtinsLoaded(dir, ['decrypt', message, '-o', join(dir, 'out')], env);
    expect(loaded).toContain('crypto');
    for (const lazy of ['child_process', 'dgram', 'tty', 'v8', 'sea']) expect(loaded, lazy).not.toContain(lazy);
  });

  it('a local decrypt of a file to stdout loads neither node:fs/promises nor readline', async () => {
    const { dir, env, message } = await localMessage();
    const loaded = await builtinsLoaded(dir, ['decrypt', message, '-o', '-'], env);
    expect(loaded).toContain('crypto');
    for (const lazy of ['fs/promises', 'internal/fs/promises', 'internal/readline/interface']) expect(loaded, lazy).not.toContain(lazy);
  });

  it('a quiet local decrypt whose stderr is a pipe does not load node:net: stderr is never made a stream', async () => {
    const { dir, env, message } = await localMessage();
    const { preload, report } = loadsReporter(dir);
    // stdout to a file: a test's pipes would load node:net for stdout's sake.
    const out = openSync(join(dir, 'out'), 'w');
    const r = spawnSync(process.execPath, ['--require', preload, ENVELOPE, 'decrypt', message, '-o', '-'], {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', out, 'pipe'],
    });
    closeSync(out);
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('a secret');
    const loaded = modulesIn(report);
    expect(loaded).toContain('crypto');
    expect(loaded).not.toContain('net');
  });
});
