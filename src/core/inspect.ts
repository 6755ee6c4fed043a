// Inspect: what a message says about itself, without any key. The header is
// decoded; with `walkBody` the body's frame structure is walked too (frame
// count, body size) without decrypting anything.

import { IntegrityError } from '../errors.js';
import {
  ContentType,
  FINAL_FRAME_MARKER,
  IV_LENGTH,
  MAX_NON_FRAMED_LENGTH,
  PUBLIC_KEY_CONTEXT_KEY,
  TAG_LENGTH,
} from '../format/constants.js';
import { MAX_SIGNATURE_LENGTH } from '../format/footer.js';
import type { MessageHeader } from '../format/header.js';
import { hex4 } from '../format/suites.js';
import { edkKeyName } from '../keyring/describe.js';
import { ByteReader } from '../stream/byte-reader.js';
import { readHeader } from '../stream/read-header.js';
import { DEFAULT_LIMITS, type MessageLimits } from './limits.js';

export interface MessageSummary {
  readonly version: number;
  readonly suite: { readonly id: string; readonly name: string; readonly committing: boolean; readonly signed: boolean };
  readonly messageId: string;
  readonly encryptionContext: Record<string, string>;
  readonly encryptedDataKeys: { readonly providerId: string; readonly keyName: string }[];
  readonly contentType: 'framed' | 'non-framed';
  readonly frameLength: number;
  readonly headerLength: number;
  /** Present when the body was walked. */
  readonly body?: { readonly frames: number; readonly bodyLength: number; readonly plaintextLength: number };
}

export interface InspectOptions {
  readonly walkBody?: boolean;
  readonly limits?: Partial<MessageLimits>;
}

export async function inspect(input: AsyncIterable<Uint8Array>, options: InspectOptions = {}): Promise<MessageSummary> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const reader = new ByteReader(input);
  const decoded = await readHeader(reader, limits);
  const summary = summarize(decoded.header, decoded.length);
  if (!options.walkBody) return summary;
  const start = reader.position;
  const { frames, plaintextLength, bodyEnd } = await walkBody(reader, decoded.header);
  return { ...summary, body: { frames, bodyLength: bodyEnd - start, plaintextLength } };
}

export function summarize(h: MessageHeader, headerLength: number): MessageSummary {
  const context = { ...h.context };
  delete context[PUBLIC_KEY_CONTEXT_KEY];
  return {
    version: h.version,
    suite: { id: `0x${hex4(h.suite.id)}`, name: h.suite.name, committing: h.suite.committing, signed: !!h.suite.signature },
    messageId: Buffer.from(h.messageId).toString('hex'),
    encryptionContext: context,
    encryptedDataKeys: h.encryptedDataKeys.map((edk) => ({ providerId: edk.providerId, keyName: edkKeyName(edk) })),
    contentType: h.contentType === ContentType.Framed ? 'framed' : 'non-framed',
    frameLength: h.frameLength,
    headerLength,
  };
}

async function walkBody(reader: ByteReader, h: MessageHeader) {
  let frames = 0;
  let plaintextLength = 0;
  if (h.contentType === ContentType.NonFramed) {
    await reader.skip(IV_LENGTH, 'body header');
    const length = Number((await reader.read(8, 'body header')).readBigUInt64BE(0));
    if (length > MAX_NON_FRAMED_LENGTH) throw new IntegrityError('non-framed body claims more than 2^36 - 32 bytes');
    await reader.skip(length + TAG_LENGTH, 'body');
    frames = 1;
    plaintextLength = length;
  } else {
    for (let expected = 1; ; expected++) {
      const first = await reader.u32('frame header');
      frames++;
      if (first === FINAL_FRAME_MARKER) {
        const sequenceNumber = await reader.u32('final frame header');
        if (sequenceNumber !== expected) throw new IntegrityError(`final frame has sequence number ${sequenceNumber}, expected ${expected}`);
        await reader.skip(IV_LENGTH, 'final frame header');
        const length = await reader.u32('final frame header');
        if (length > h.frameLength) throw new IntegrityError(`final frame claims ${length} bytes, more than the frame length`);
        await reader.skip(length + TAG_LENGTH, 'final frame');
        plaintextLength += length;
        break;
      }
      if (first !== expected) throw new IntegrityError(`frame ${first} found where frame ${expected} belongs`);
      await reader.skip(IV_LENGTH + h.frameLength + TAG_LENGTH, `frame ${expected}`);
      plaintextLength += h.frameLength;
    }
  }
  const bodyEnd = reader.position;
  if (h.suite.signature) {
    const length = await reader.u16('footer');
    if (length > MAX_SIGNATURE_LENGTH) throw new IntegrityError(`footer claims a ${length}-byte signature`);
    await reader.skip(length, 'signature');
  }
  if (!(await reader.atEnd())) throw new IntegrityError('unexpected data after the end of the message');
  return { frames, plaintextLength, bodyEnd };
}
