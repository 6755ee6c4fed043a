// A FIFO written by another process in pieces of random sizes, with pauses,
// for tests of reading pipes (test/input-stream.test.ts, reader-thread.test.ts).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { constants, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Opens a FIFO in `dir` that another process fills with `data`, in pieces of
 * up to `piece` bytes with a pause now and then; past `stallAfter` bytes, the
 * writer stops writing but keeps the FIFO open until it is killed.
 */
export async function fifoFeeding(
  dir: string,
  data: Buffer,
  seed: number,
  piece: number,
  stallAfter = Number.POSITIVE_INFINITY,
): Promise<{ fd: number; done: Promise<void>; writer: ChildProcess }> {
  const fifo = join(dir, 'fifo');
  const source = join(dir, 'data');
  writeFileSync(source, data);
  execFileSync('mkfifo', [fifo]);
  const writer = `
    const fs = require('fs');
    const data = fs.readFileSync(${JSON.stringify(source)});
    const out = fs.openSync(${JSON.stringify(fifo)}, 'w');
    process.stdout.write('open');
    let state = ${seed} >>> 0;
    const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    let at = 0;
    const step = () => {
      while (at < data.length) {
        if (at >= ${stallAfter}) return setInterval(() => undefined, 60_000);
        const n = Math.max(1, Math.floor(next() * ${piece}));
        at += fs.writeSync(out, data, at, Math.min(n, data.length - at));
        if (next() < 0.05) return setTimeout(step, 2);
      }
      fs.closeSync(out);
    };
    step();`;
  const child = spawn(process.execPath, ['-e', writer], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Non-blocking, so that opening does not wait for the writer (libuv reads it
  // on the event loop); read only once the writer has it open, as until then
  // a FIFO reads as ended.
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  await new Promise((resolve) => child.stdout.once('data', resolve));
  const done = new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`)))));
  return { fd, done, writer: child };
}
