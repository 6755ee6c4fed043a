import { describe, expect, it } from 'vitest';
import { decrypt } from '../src/core/decrypt.js';
import { encrypt } from '../src/core/encrypt.js';
import { suiteById } from '../src/format/suites.js';
import { RawAesKeyring } from '../src/keyring/raw-aes.js';
import { chunks, collect } from './helpers.js';

describe('core round trip', () => {
  it('decrypts what it encrypts', async () => {
    const keyring = new RawAesKeyring('ns', 'k', Buffer.alloc(32, 7));
    const plaintext = Buffer.from('attack at dawn');
    const message = await collect(
      encrypt(chunks(plaintext), { keyrings: [keyring], suite: suiteById(0x0478), context: { a: 'b' } }),
    );
    expect(await collect(decrypt(chunks(message), { keyrings: [keyring] }))).toEqual(plaintext);
  });
});
