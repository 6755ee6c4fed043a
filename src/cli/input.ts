// Where data comes from: a file, or stdin when no file (or `-`) is named.

import { open } from 'node:fs/promises';
import { ioError } from '../errors.js';

const READ_CHUNK = 1024 * 1024;

export function isStdio(path: string | undefined): boolean {
  return path === undefined || path === '-';
}

export async function openInput(path: string | undefined): Promise<AsyncIterable<Uint8Array>> {
  if (isStdio(path)) return guard(process.stdin, 'read', 'standard input');
  const file = path!;
  try {
    const handle = await open(file, 'r');
    if ((await handle.stat()).isDirectory()) {
      await handle.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    return guard(handle.createReadStream({ highWaterMark: READ_CHUNK }), 'read', file);
  } catch (e) {
    throw ioError(e, 'read', file);
  }
}

/** Re-throws system errors of a stream as IoErrors that name the file. */
async function* guard(source: AsyncIterable<Uint8Array>, action: string, name: string): AsyncGenerator<Uint8Array> {
  try {
    yield* source;
  } catch (e) {
    throw ioError(e, action, name);
  }
}
