// Walks a message body and footer without decrypting: checks the frame
// structure (sequence numbers, lengths, the end of the input) and passes every
// byte through unchanged. inspect counts with it; re-encrypt copies with it.

import { IntegrityError } from '../errors.js';
import { ContentType, FINAL_FRAME_MARKER, IV_LENGTH, MAX_NON_FRAMED_LENGTH, TAG_LENGTH } from '../format/constants.js';
import { MAX_SIGNATURE_LENGTH } from '../format/footer.js';
import type { MessageHeader } from '../format/header.js';
import type { ByteReader } from './byte-reader.js';

export interface BodyLayout {
  readonly frames: number;
  readonly plaintextLength: number;
  /** Bytes of body (frames), without the footer. */
  readonly bodyLength: number;
}

/** Yields the body's bytes as they are read; returns its layout. Stops before the footer. */
export async function* walkBody(reader: ByteReader, h: MessageHeader): AsyncGenerator<Buffer, BodyLayout> {
  const start = reader.position;
  let frames = 0;
  let plaintextLength = 0;
  const field = async function* (n: number, what: string) {
    const bytes = await reader.read(n, what);
    yield bytes;
    return bytes;
  };
  if (h.contentType === ContentType.NonFramed) {
    yield* field(IV_LENGTH, 'body header');
    const length = Number((yield* field(8, 'body header')).readBigUInt64BE(0));
    if (length > MAX_NON_FRAMED_LENGTH) throw new IntegrityError('non-framed body claims more than 2^36 - 32 bytes');
    yield* reader.pass(length + TAG_LENGTH, 'body');
    return { frames: 1, plaintextLength: length, bodyLength: reader.position - start };
  }
  for (let expected = 1; ; expected++) {
    const first = (yield* field(4, 'frame header')).readUInt32BE(0);
    frames++;
    if (first === FINAL_FRAME_MARKER) {
      const sequenceNumber = (yield* field(4, 'final frame header')).readUInt32BE(0);
      if (sequenceNumber !== expected) throw new IntegrityError(`final frame has sequence number ${sequenceNumber}, expected ${expected}`);
      yield* reader.pass(IV_LENGTH, 'final frame header');
      const length = (yield* field(4, 'final frame header')).readUInt32BE(0);
      if (length > h.frameLength) throw new IntegrityError(`final frame claims ${length} bytes, more than the frame length`);
      yield* reader.pass(length + TAG_LENGTH, 'final frame');
      plaintextLength += length;
      return { frames, plaintextLength, bodyLength: reader.position - start };
    }
    if (first !== expected) throw new IntegrityError(`frame ${first} found where frame ${expected} belongs`);
    yield* reader.pass(IV_LENGTH + h.frameLength + TAG_LENGTH, `frame ${expected}`);
    plaintextLength += h.frameLength;
  }
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
