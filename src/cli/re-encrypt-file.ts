// Re-encrypting a file into a file by having the file system copy it. When the
// new header is exactly as long as the old one (new keys of the same kinds as
// the old: a local key for a local key, a rotated key), the new message is the
// old file with its header replaced: the file system copies the file
// (copy-on-write where it can, else inside the kernel: output.ts,
// copyFileAtomically), the new header is written over the old one in the copy,
// and the copy's body is checked in place as reEncryptBody checks a body it
// streams (frame structure, the end of the message) before the copy is
// renamed into place. `cp` copies this way; reading and writing the body
// through this process cost a copy to and from its memory.
//
//   input    ┌ old header (n bytes) ┬ body ……………………………………………… ┐
//   copy     ┌ new header (n bytes) ┬ the same body, checked in place ┐
//
// Not for a signed message (its new signature covers the body: it is hashed
// on the way through), base64 input, or a special file on either side.

import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { type RewrappedHeader } from '../core/re-encrypt.js';
import { IntegrityError, IoError, ioError } from '../errors.js';
import { SCAN_WINDOW, scanBodyAt } from '../stream/walk.js';
import { copyFileAtomically, type FileOutputOptions } from './output.js';

/** Whether the new header fits where the old one lies, for a message this module may copy. */
export function fitsInPlace(rewrapped: RewrappedHeader): boolean {
  const [body, auth] = rewrapped.bytes;
  return !rewrapped.signer && body.length + auth.length === rewrapped.old.raw.length;
}

/**
 * Writes `output` as a copy of `input` with the new header in place of the
 * old, once the copy checks out; `input` and `output` are regular files (or
 * `output` a new name) and fitsInPlace(rewrapped) holds.
 */
export async function reEncryptFileByCopy(input: string, output: string, rewrapped: RewrappedHeader, options: FileOutputOptions): Promise<void> {
  const { raw, header } = rewrapped.old;
  // Reads of a few bytes per frame (~4,100 per GiB) or of whole windows of
  // small frames (scanBodyAt), from pages the copy just wrote: synchronous,
  // into one buffer. Through libuv's thread pool each read cost a round trip,
  // ~0.3 s per GiB here.
  const window = Buffer.allocUnsafe(SCAN_WINDOW);
  const reading = (copy: FileHandle) => async (position: number, length: number) => {
    const buffer = length <= window.length ? window.subarray(0, length) : Buffer.allocUnsafe(length);
    try {
      return buffer.subarray(0, readSync(copy.fd, buffer, 0, length, position));
    } catch (e) {
      throw ioError(e, 'read', output);
    }
  };
  await copyFileAtomically(
    input,
    output,
    {
      patch: async (copy) => {
        // The copy is what gets checked and published: it must begin with the header
        // whose data key was rewrapped, or the input changed after it was read.
        const head = await reading(copy)(0, raw.length);
        if (!head.equals(raw)) throw new IoError(`${input} changed while it was being re-encrypted`, { hints: ['run it again'] });
        await copy.writev([...rewrapped.bytes], 0).catch((e: unknown) => Promise.reject(ioError(e, 'write', output)));
      },
      check: async (copy) => {
        const { size } = await copy.stat();
        const { end } = await scanBodyAt(reading(copy), raw.length, size, header);
        if (end !== size) throw new IntegrityError('unexpected data after the end of the message');
      },
    },
    options,
  );
}
