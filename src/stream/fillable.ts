// An input that reads straight into its consumer's buffer. Through pipes, the
// parallel paths copied every byte from the buffer a read landed in into the
// batch they send to a worker: a fifth of this thread's time, on the thread
// that does all the reading (src/cli/input.ts reads pipes this way).

export interface Fillable {
  /**
   * Reads into `target` until it is full or the input ends; resolves to the
   * bytes read, fewer than target.length only at the end. Bytes already read
   * ahead are copied in first. Until it resolves, `target` is the reader's.
   */
  fill(target: Uint8Array): Promise<number>;
  /** Whether more bytes follow: waits for one to arrive, or for the end. */
  more(): Promise<boolean>;
}

/** `source` as a Fillable, if it is one (an iterator wrapped by another generator is not). */
export function asFillable(source: object): Fillable | undefined {
  const candidate = source as Partial<Fillable>;
  return typeof candidate.fill === 'function' && typeof candidate.more === 'function' ? (source as Fillable) : undefined;
}
