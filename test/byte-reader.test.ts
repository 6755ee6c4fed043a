// ByteReader.close (src/stream/byte-reader.ts): re-encrypt reads a file's header
// through a ByteReader and then, when the file system copies the file
// (src/cli/re-encrypt-file.ts), stops reading it: the source must be returned,
// so that the input's descriptor is closed, and nothing buffered kept.

import { describe, expect, it } from 'vitest';
import { ByteReader } from '../src/stream/byte-reader.js';

describe('ByteReader.close', () => {
  it('returns the source part way (its finally runs) and drops what was buffered', async () => {
    let closed = false;
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          pulled++;
          yield Buffer.alloc(16, pulled);
        }
      } finally {
        closed = true;
      }
    }
    const reader = new ByteReader(source());
    expect((await reader.read(20, 'test')).length).toBe(20);
    expect(closed).toBe(false);
    await reader.close();
    expect(closed).toBe(true);
    expect(reader.available).toBe(0);
    expect(await reader.atEnd()).toBe(true);
    expect(pulled).toBe(2);
  });
});
