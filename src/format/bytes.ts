// Big-endian byte cursor and builder shared by the codecs. The cursor reads
// through a DataView that honours the view's byteOffset, so it works on any
// slice of a larger buffer without copying.

/** Thrown by ByteCursor when the input ends before a field does. */
export class NeedMoreData extends Error {
  constructor(readonly needed: number) {
    super('need more data');
  }
}

export class ByteCursor {
  private readonly view: DataView;
  offset = 0;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.byteLength - this.offset;
  }

  private need(n: number): void {
    if (this.remaining < n) throw new NeedMoreData(this.offset + n);
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.offset++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }
  /** uint64 as a JS number; values above 2^53 - 1 are returned as Infinity so a bound check rejects them. */
  u64(): number {
    this.need(8);
    const hi = this.view.getUint32(this.offset);
    const lo = this.view.getUint32(this.offset + 4);
    this.offset += 8;
    return hi >= 0x200000 ? Number.POSITIVE_INFINITY : hi * 0x1_0000_0000 + lo;
  }
  /** A view (not a copy) of the next n bytes. */
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}

export class ByteBuilder {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  u8(v: number): this {
    return this.raw(Uint8Array.of(v));
  }
  u16(v: number): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v);
    return this.raw(b);
  }
  u32(v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    return this.raw(b);
  }
  u64(v: number): this {
    const b = new Uint8Array(8);
    const view = new DataView(b.buffer);
    view.setUint32(0, Math.floor(v / 0x1_0000_0000));
    view.setUint32(4, v >>> 0);
    return this.raw(b);
  }
  raw(b: Uint8Array): this {
    this.parts.push(b);
    this.length += b.byteLength;
    return this;
  }
  /** A 2-byte length prefix followed by the bytes. */
  short(b: Uint8Array): this {
    return this.u16(b.byteLength).raw(b);
  }
  build(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}

export const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 strictly; returns undefined for invalid sequences. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Byte-wise comparison, the order the format sorts context keys in. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
