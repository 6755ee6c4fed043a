// Where data comes from: a file, or stdin when no file (or `-`) is named.

import { constants, createReadStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { ioError } from '../errors.js';

const READ_CHUNK = 1024 * 1024;

export function isStdio(path: string | undefined): boolean {
  return path === undefined || path === '-';
}

/**
 * Checks now that the file can be read, so a missing input fails before any
 * output exists; opens it only when the stream is first read, so a command
 * that fails before then leaves no descriptor open.
 */
export async function openInput(path: string | undefined): Promise<AsyncIterable<Uint8Array>> {
  if (isStdio(path)) return guard(process.stdin, 'read', 'standard input');
  const file = path!;
  try {
    if ((await stat(file)).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    await access(file, constants.R_OK);
  } catch (e) {
    throw ioError(e, 'read', file);
  }
  return guard(
    (async function* () {
      yield* createReadStream(file, { highWaterMark: READ_CHUNK });
    })(),
    'read',
    file,
  );
}

/** Re-throws system errors of a stream as IoErrors that name the file. */
async function* guard(source: AsyncIterable<Uint8Array>, action: string, name: string): AsyncGenerator<Uint8Array> {
  try {
    yield* source;
  } catch (e) {
    throw ioError(e, action, name);
  }
}
