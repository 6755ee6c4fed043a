// An input that can give its descriptor to another thread, to be read there
// with blocking reads (input-ring.ts says why). src/cli/input.ts's pipe reader
// is one: it stops reading on the event loop, makes the descriptor blocking,
// and hands over whatever it had read ahead.

export interface HandedOver {
  /** Takes blocking reads from now on; nothing else reads it. */
  readonly fd: number;
  /** Bytes read ahead before the hand-over, to go before what the descriptor gives. */
  readonly held: readonly Uint8Array[];
  /** The error to throw for a read that failed with `error` (it names the input). */
  failure(error: unknown): Error;
}

export interface HandsOver {
  /** Hands the descriptor over, or keeps it (undefined) when it cannot be read that way. */
  handOver(): HandedOver | undefined;
}

/** `source` as an input that hands over, if it is one (an iterator wrapped by another generator is not). */
export function asHandsOver(source: object): HandsOver | undefined {
  return typeof (source as Partial<HandsOver>).handOver === 'function' ? (source as HandsOver) : undefined;
}
