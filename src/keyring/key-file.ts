// Reading key material from files named in key specifiers.

import { readFile } from 'node:fs/promises';
import { ioError } from '../errors.js';

export async function readKeyFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw ioError(e, 'read key file', path);
  }
}

const AES_KEY_LENGTHS = new Set([16, 24, 32]);

/**
 * A symmetric key file holds the key as raw bytes, hex or base64. Text forms are
 * tried first (after trimming a trailing newline); a file is raw only when it is
 * exactly 16, 24 or 32 bytes and not such text.
 */
export function decodeSymmetricKey(file: Buffer): Buffer | undefined {
  const text = file.toString('latin1').trim();
  if (/^[0-9a-fA-F]+$/.test(text) && AES_KEY_LENGTHS.has(text.length / 2)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0) {
    const decoded = Buffer.from(text, 'base64');
    if (AES_KEY_LENGTHS.has(decoded.length)) return decoded;
  }
  if (AES_KEY_LENGTHS.has(file.length)) return Buffer.from(file);
  return undefined;
}
