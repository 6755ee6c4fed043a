// Reads and decodes the message header from the front of a stream, buffering
// no more than the header can legally need under the given limits.

import { FormatError, IntegrityError } from '../errors.js';
import { type DecodedHeader, decodeHeaderStep, type HeaderLimits, newHeaderProgress } from '../format/header.js';
import type { ByteReader } from './byte-reader.js';

export interface ReadHeaderLimits extends HeaderLimits {
  /** Refuse a header larger than this many bytes. */
  readonly maxHeaderLength: number;
}

export async function readHeader(reader: ByteReader, limits: ReadHeaderLimits): Promise<DecodedHeader> {
  if (!(await reader.fill(1))) throw new FormatError('input is empty: not an encrypted message');
  // Each attempt resumes where the last stopped and asks for exactly the bytes
  // its next field needs: linear in the header's size however it is chunked, and
  // a small message on a pipe that stays open is answered without waiting.
  const progress = newHeaderProgress();
  for (;;) {
    const step = decodeHeaderStep(reader.peek(), limits, progress);
    // The limit holds whether the header arrived whole or in pieces.
    const size = 'decoded' in step ? step.decoded.length : step.needed;
    if (size > limits.maxHeaderLength) {
      throw new FormatError(`message header is larger than the limit of ${limits.maxHeaderLength} bytes`, {
        hints: ['raise it with --max-header-size if you trust the sender'],
      });
    }
    if ('decoded' in step) {
      reader.consume(step.decoded.length);
      return step.decoded;
    }
    if (!(await reader.fill(step.needed))) {
      throw new IntegrityError('message is truncated (it ends inside the header)');
    }
  }
}
