// Walks a message body and footer without decrypting: checks the frame
// structure (body-scanner.ts) and the end of the input, and passes every byte
// through unchanged. inspect counts with it; re-encrypt copies with it, or,
// where the file system copied the body, checks it in place (scanBodyAt).

import { IntegrityError } from '../errors.js';
import { ContentType } from '../format/constants.js';
import { MAX_SIGNATURE_LENGTH } from '../format/footer.js';
import type { MessageHeader } from '../format/header.js';
import { type BodyLayout, BodyScanner } from './body-scanner.js';
import type { ByteReader } from './byte-reader.js';

/**
 * Yields the body's bytes as they are read, a buffered chunk at a time (whole
 * chunks stay whole, so their pooled memory can be released by the writer);
 * returns its layout. Stops before the footer.
 */
export async function* walkBody(reader: ByteReader, h: MessageHeader): AsyncGenerator<Buffer, BodyLayout> {
  const scanner = new BodyScanner(h);
  while (!scanner.done) {
    if (!(await reader.fill(1))) throw new IntegrityError(`message is truncated (it ends inside the ${scanner.where})`);
    yield reader.consume(scanner.scan(reader.firstChunk()));
  }
  return scanner.layout;
}

/**
 * Frames shorter than this are read whole, this many bytes at a time, rather
 * than passed over: one read per frame header would cost more than reading
 * them all (the ESDKs' default frames are 4 KiB: 262,144 frames per GiB).
 */
export const SCAN_WINDOW = 64 * 1024;

/**
 * Checks the structure of a body that lies in a file from byte `start`;
 * returns where it ends and its layout. Frames of SCAN_WINDOW bytes and more
 * (envelope's default is 256 KiB) are passed over unseen, only their headers
 * read (one small read per frame); smaller ones are read a window at a time.
 * `readAt(position, length)` reads up to `length` bytes at `position`, fewer
 * only at the end of the file, which is `size` bytes long; what it returns
 * need only last until it is called again.
 */
export async function scanBodyAt(
  readAt: (position: number, length: number) => Promise<Uint8Array>,
  start: number,
  size: number,
  h: MessageHeader,
): Promise<{ end: number; layout: BodyLayout }> {
  const scanner = new BodyScanner(h);
  const truncated = () => new IntegrityError(`message is truncated (it ends inside the ${scanner.where})`);
  const windowed = h.contentType === ContentType.Framed && h.frameLength < SCAN_WINDOW;
  let at = start;
  for (let next = scanner.next; next; next = scanner.next) {
    if ('pass' in next && !windowed) {
      const n = Math.min(next.pass, size - at);
      if (n === 0) throw truncated();
      scanner.passOver(n);
      at += n;
    } else {
      const bytes = await readAt(at, 'see' in next && !windowed ? next.see : Math.min(SCAN_WINDOW, size - at));
      if (bytes.length === 0) throw truncated();
      at += scanner.scan(bytes);
    }
  }
  return { end: at, layout: scanner.layout };
}

/** Reads the footer of a signed message: its signature bytes. */
export async function readSignature(reader: ByteReader): Promise<Buffer> {
  const length = await reader.u16('footer');
  if (length > MAX_SIGNATURE_LENGTH) throw new IntegrityError(`footer claims a ${length}-byte signature`);
  return reader.read(length, 'signature');
}

export async function assertEnd(reader: ByteReader): Promise<void> {
  if (!(await reader.atEnd())) throw new IntegrityError('unexpected data after the end of the message');
}
