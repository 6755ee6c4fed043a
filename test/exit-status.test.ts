// When main ends the process at once (src/cli/exit-status.ts, main.ts): only
// with nothing in flight but idle handles, never with a write still queued.

import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mayEndNow } from '../src/cli/exit-status.js';
import { workdirs } from './helpers.js';

const workdir = workdirs('envelope-exit-status-');

describe('mayEndNow', () => {
  it('ends with nothing open, or only standard streams, idle worker ports and a closing descriptor', () => {
    expect(mayEndNow([])).toBe(true);
    expect(mayEndNow(['PipeWrap', 'TTYWrap', 'TCPWrap', 'MessagePort', 'CloseReq'])).toBe(true);
    for (const busy of ['Timeout', 'ProcessWrap', 'FSReqCallback', 'WriteWrap', 'SimpleWriteWrap', 'ShutdownWrap']) {
      expect(mayEndNow(['PipeWrap', busy]), busy).toBe(false);
    }
  });

  it('does not end while a write waits on a full pipe, and does once it is written', async () => {
    const path = join(workdir(), 'socket');
    const server = createServer();
    server.listen(path);
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const writer = createConnection(path);
    await once(writer, 'connect');
    const [reader] = await accepted;
    reader.pause();
    server.close();
    // More than the socket's buffers hold: the rest waits in Node, as a write to a full stdout pipe would.
    const written = new Promise<void>((resolve) => writer.write(Buffer.alloc(16 * 1024 * 1024), () => resolve()));
    const inFlight = process.getActiveResourcesInfo();
    expect(inFlight.some((r) => r.endsWith('WriteWrap')), inFlight.join(' ')).toBe(true);
    expect(mayEndNow(inFlight)).toBe(false);
    reader.on('data', () => undefined);
    reader.resume();
    await written;
    writer.destroy();
    reader.destroy();
    await new Promise((r) => setImmediate(r));
    expect(process.getActiveResourcesInfo().some((r) => r.endsWith('WriteWrap'))).toBe(false);
  });
});
