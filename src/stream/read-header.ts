// Reads and decodes the message header from the front of a stream, buffering
// no more than the header can legally need under the given limits.

import { FormatError, IntegrityError } from '../errors.js';
import { type DecodedHeader, decodeHeader, type HeaderLimits } from '../format/header.js';
import type { ByteReader } from './byte-reader.js';

export interface ReadHeaderLimits extends HeaderLimits {
  /** Refuse a header larger than this many bytes. */
  readonly maxHeaderLength: number;
}

export async function readHeader(reader: ByteReader, limits: ReadHeaderLimits): Promise<DecodedHeader> {
  if (!(await reader.fill(1))) throw new FormatError('input is empty: not an encrypted message');
  // Decode after every chunk, so a small message on a pipe that stays open is
  // answered at once rather than when the writer closes it.
  for (;;) {
    const decoded = decodeHeader(reader.peek(), limits);
    if (decoded) {
      reader.consume(decoded.length);
      return decoded;
    }
    if (reader.available >= limits.maxHeaderLength) {
      throw new FormatError(`message header is larger than the limit of ${limits.maxHeaderLength} bytes`);
    }
    if (!(await reader.fill(reader.available + 1))) {
      throw new IntegrityError('message is truncated (it ends inside the header)');
    }
  }
}
