// Walks a message body and footer without decrypting: checks the frame
// structure (body-scanner.ts) and the end of the input, and passes every byte
// through unchanged. inspect counts with it; re-encrypt copies with it.

import { IntegrityError } from '../errors.js';
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

/** Reads the footer of a signed message: its signature bytes. */
export async function readSignature(reader: ByteReader): Promise<Buffer> {
  const length = await reader.u16('footer');
  if (length > MAX_SIGNATURE_LENGTH) throw new IntegrityError(`footer claims a ${length}-byte signature`);
  return reader.read(length, 'signature');
}

export async function assertEnd(reader: ByteReader): Promise<void> {
  if (!(await reader.atEnd())) throw new IntegrityError('unexpected data after the end of the message');
}
