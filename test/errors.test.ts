// The one line an I/O error is reported in (src/errors.ts ioError): what the
// system said, without Node's code, system call and path around it, whether
// the error was thrown here or posted from a worker thread (posted-error.ts).

import { describe, expect, it } from 'vitest';
import { ioError, systemErrorReason } from '../src/errors.js';
import { postable, revived } from '../src/stream/posted-error.js';

describe('the one line of an I/O error (errors.ts)', () => {
  /** A system error as Node makes one. */
  const systemError = (code: string, text: string, syscall: string, path?: string) =>
    Object.assign(new Error(`${code}: ${text}, ${syscall}${path ? ` '${path}'` : ''}`), { code, syscall, ...(path ? { path } : {}) });

  it('says what the system said, without its code, system call or path around it', () => {
    expect(ioError(systemError('ECONNRESET', 'connection reset by peer', 'read'), 'read', 'the input').message).toBe(
      'cannot read the input: connection reset by peer',
    );
    expect(ioError(systemError('EBUSY', 'resource busy or locked', 'open', '/x/y'), 'write', '/x/y').message).toBe('cannot write /x/y: resource busy or locked');
    expect(ioError(systemError('EBUSY', 'resource busy or locked', 'open', '/x, open y'), 'write', 'z').message).toBe('cannot write z: resource busy or locked');
    expect(ioError(systemError('ENOSPC', 'no space left on device', 'write'), 'write', 'out').message).toBe('cannot write out: no space left on device');
  });

  it('says the same of an error posted from a worker thread', () => {
    const posted = structuredClone(postable(systemError('ECONNRESET', 'connection reset by peer', 'read')));
    expect(ioError(revived(posted), 'read', 'the input').message).toBe('cannot read the input: connection reset by peer');
  });

  it('words a known code the same whatever Node wrote beside it', () => {
    expect(systemErrorReason(systemError('EACCES', 'Permission Denied (as one libuv words it)', 'open', '/k'))).toBe('permission denied');
    expect(systemErrorReason('not an Error')).toBe('not an Error');
  });

  it('keeps any other error whole, in lower case', () => {
    expect(ioError(new Error('Something Odd'), 'read', 'f').message).toBe('cannot read f: something odd');
  });
});
