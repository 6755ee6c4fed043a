// Base64 "armor" for messages pasted into CI variables and YAML: standard
// base64 in 76-column lines on output; on input, base64 with any line breaks is
// recognised without a flag. A binary message starts with 0x01 or 0x02, a
// base64 one with "A" (the encoding of those bytes), so one byte tells them apart.

import { FormatError } from '../errors.js';
import { release } from './buffer-pool.js';
import { asHandsOver, type HandedOver, type HandsOver } from './hand-over.js';

const LINE_BYTES = 57; // 57 bytes encode to one 76-character line

export async function* armor(input: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let carry = Buffer.alloc(0);
  for await (const chunk of input) {
    const data = carry.length ? Buffer.concat([carry, chunk]) : Buffer.from(chunk);
    release(chunk); // copied: its buffer may be filled again
    const whole = data.length - (data.length % LINE_BYTES);
    if (whole > 0) yield encodeLines(data.subarray(0, whole));
    carry = Buffer.from(data.subarray(whole));
  }
  if (carry.length) yield encodeLines(carry);
}

function encodeLines(bytes: Buffer): Buffer {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += LINE_BYTES) {
    lines.push(bytes.subarray(at, at + LINE_BYTES).toString('base64'));
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'latin1');
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
/** Every message starts with byte 0x01 or 0x02, so its base64 starts with "A". */
const BASE64_FIRST = 0x41;
const BASE64_CHAR = /^[A-Za-z0-9+/=]*$/;

/**
 * Decodes base64 input; passes anything else through for the header parser to
 * judge. `onForm` learns which it was before the first byte comes out. Binary
 * input passes through as it came: a pipe's reader may still hand its
 * descriptor over (hand-over.ts).
 */
export function dearmor(input: AsyncIterable<Uint8Array>, onForm?: (armored: boolean) => void): AsyncIterable<Uint8Array> {
  return { [Symbol.asyncIterator]: () => new Dearmoring(input[Symbol.asyncIterator](), onForm) };
}

class Dearmoring implements AsyncIterator<Uint8Array>, HandsOver {
  /** Known once the first byte has been seen: binary input's first chunks, not yet passed on. */
  private head: Uint8Array[] | undefined;
  /** Known once the first byte has been seen: base64 input, decoded. */
  private decoded: AsyncIterator<Uint8Array> | undefined;

  constructor(
    private readonly source: AsyncIterator<Uint8Array>,
    private readonly onForm: ((armored: boolean) => void) | undefined,
  ) {}

  async next(): Promise<IteratorResult<Uint8Array>> {
    if (!this.head && !this.decoded) await this.sniff();
    if (this.decoded) return this.decoded.next();
    const held = this.head!.shift();
    return held ? { value: held, done: false } : this.source.next();
  }

  /** Reads up to the first byte that is not whitespace: it tells binary from base64. */
  private async sniff(): Promise<void> {
    let firstByte: number | undefined;
    const head: Uint8Array[] = [];
    while (firstByte === undefined) {
      const next = await this.source.next();
      if (next.done) break;
      head.push(next.value);
      firstByte = next.value.find((b) => !WHITESPACE.has(b));
    }
    this.onForm?.(firstByte === BASE64_FIRST);
    if (firstByte !== BASE64_FIRST) {
      this.head = head;
      return;
    }
    const first = Buffer.concat(head);
    head.forEach(release);
    this.decoded = decodeBase64(first, { [Symbol.asyncIterator]: () => this.source });
  }

  /** Binary input only, once its form is known: the source's descriptor, with the chunks not yet passed on going first. */
  handOver(): HandedOver | undefined {
    if (!this.head) return undefined;
    const handed = asHandsOver(this.source)?.handOver();
    if (!handed) return undefined;
    return { ...handed, held: [...this.head.splice(0), ...handed.held] };
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    await this.source.return?.();
    return { value: undefined, done: true };
  }
}

async function* decodeBase64(first: Uint8Array, rest: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let carry = '';
  let sawPadding = false;
  const take = (chunk: Uint8Array): Buffer | undefined => {
    const text = carry + Buffer.from(chunk).toString('latin1').replace(/[ \t\r\n]/g, '');
    if (!BASE64_CHAR.test(text)) throw new FormatError('input is neither a binary message nor base64 text');
    if (sawPadding && text.length > 0) throw new FormatError('base64 input continues after its padding');
    const whole = text.length - (text.length % 4);
    carry = text.slice(whole);
    const body = text.slice(0, whole);
    const pad = body.indexOf('=');
    if (pad >= 0) {
      if (pad < body.length - 2 || !/^=*$/.test(body.slice(pad)) || carry.length) {
        throw new FormatError('base64 input has padding in the middle');
      }
      sawPadding = true;
    }
    return body.length ? Buffer.from(body, 'base64') : undefined;
  };
  const out = take(first);
  if (out) yield out;
  for await (const chunk of rest) {
    const decoded = take(chunk);
    release(chunk); // decoded into a buffer of its own
    if (decoded) yield decoded;
  }
  if (carry.length) throw new FormatError('base64 input is truncated (its length is not a multiple of 4)');
}
