// Inspect: what a message says about itself, without any key. The header is
// decoded; with `walkBody` the body's frame structure is walked too (frame
// count, body size) without decrypting anything.

import { ContentType, PUBLIC_KEY_CONTEXT_KEY } from '../format/constants.js';
import type { MessageHeader } from '../format/header.js';
import { hex4 } from '../format/suites.js';
import { edkKeyName } from '../keyring/describe.js';
import { release } from '../stream/buffer-pool.js';
import { ByteReader } from '../stream/byte-reader.js';
import { readHeader } from '../stream/read-header.js';
import { assertEnd, readSignature, walkBody } from '../stream/walk.js';
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
  const walk = walkBody(reader, decoded.header);
  let step = await walk.next();
  while (!step.done) {
    release(step.value);
    step = await walk.next();
  }
  if (decoded.header.suite.signature) await readSignature(reader);
  await assertEnd(reader);
  return { ...summary, body: step.value };
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
