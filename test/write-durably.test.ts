// writeDurably (src/cli/output.ts): every file output is written, flushed in
// the background every FLUSH_EVERY bytes, and fsynced before it is published.
// Linux reports a failed write-back once per descriptor, to the flush that saw
// it: a later fsync succeeds. So a failed background flush must fail the file
// itself. A stand-in file handle makes the flush fail on demand.

import { describe, expect, it } from 'vitest';
import { FLUSH_EVERY, type WritableFile, writeBatched, writeDurably } from '../src/cli/output.js';
import { IoError } from '../src/errors.js';

const CHUNK = Buffer.alloc(1024 * 1024, 0x61);

/** FLUSH_EVERY and then `extra` more bytes, a 1 MiB chunk at a time (the same chunk: nothing is kept). */
async function* bytes(extra: number): AsyncGenerator<Uint8Array> {
  for (let left = FLUSH_EVERY + extra; left > 0; left -= CHUNK.length) yield CHUNK.subarray(0, Math.min(CHUNK.length, left));
}

function file(datasync: () => Promise<void>) {
  const calls = { written: 0, datasync: 0, sync: 0 };
  const handle = {
    writev: async (buffers: readonly NodeJS.ArrayBufferView[]) => {
      const n = buffers.reduce((sum, b) => sum + b.byteLength, 0);
      calls.written += n;
      return { bytesWritten: n, buffers };
    },
    datasync: () => {
      calls.datasync++;
      return datasync();
    },
    sync: async () => {
      calls.sync++;
    },
  } as unknown as WritableFile;
  return { handle, calls };
}

const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });

describe('writeDurably', () => {
  it('flushes in the background past FLUSH_EVERY bytes, then fsyncs', async () => {
    const { handle, calls } = file(async () => undefined);
    await writeDurably(handle, bytes(8 * 1024 * 1024), 'out.enc');
    expect(calls).toEqual({ written: FLUSH_EVERY + 8 * 1024 * 1024, datasync: 1, sync: 1 });
  });

  it('a background flush that fails fails the file, though the final fsync would succeed', async () => {
    const { handle, calls } = file(() => Promise.reject(eio()));
    const failure = writeDurably(handle, bytes(8 * 1024 * 1024), 'out.enc');
    await expect(failure).rejects.toThrow(IoError);
    await expect(failure).rejects.toThrow(/out\.enc.*input\/output error|input\/output error.*out\.enc/);
    expect(calls.sync).toBe(0);
  });

  it('a flush that fails as the last bytes are written still fails the file', async () => {
    let fail: (e: Error) => void = () => undefined;
    const { handle, calls } = file(() => new Promise<void>((_, reject) => (fail = reject)));
    const failure = writeDurably(handle, bytes(0), 'out.enc');
    setTimeout(() => fail(eio()), 20);
    await expect(failure).rejects.toThrow(IoError);
    expect(calls.sync).toBe(0);
  });
});

describe('writeBatched', () => {
  it('gathers the next batch while one is written, one write at a time, in order', async () => {
    const written: number[] = [];
    let writing = 0;
    let most = 0;
    let produced = 0;
    const producedDuringFirstWrite: number[] = [];
    async function* numbered(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 40; i++) {
        produced++;
        yield Buffer.alloc(256 * 1024, i);
      }
    }
    await writeBatched(numbered(), async (buffers) => {
      most = Math.max(most, ++writing);
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (written.length === 0) producedDuringFirstWrite.push(produced);
      for (const b of buffers) written.push(b[0]!);
      writing--;
      return buffers.reduce((sum, b) => sum + b.length, 0);
    });
    expect(written).toEqual([...Array(40).keys()]);
    expect(most).toBe(1);
    // Four chunks of 256 KiB make a batch: the second was gathered during the first write.
    expect(producedDuringFirstWrite[0]).toBeGreaterThanOrEqual(8);
  });

  it('a write that fails fails the run, and the source is closed', async () => {
    let closed = false;
    async function* endless(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) yield Buffer.alloc(256 * 1024);
      } finally {
        closed = true;
      }
    }
    let batches = 0;
    const run = writeBatched(endless(), async () => {
      if (++batches === 2) throw eio();
      return 1024 * 1024;
    });
    await expect(run).rejects.toThrow(/EIO/);
    expect(closed).toBe(true);
  });
});
