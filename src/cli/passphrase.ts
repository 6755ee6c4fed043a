// Where a keystore passphrase comes from (DESIGN §3): ENVELOPE_PASSPHRASE,
// --passphrase-fd N, --passphrase-file PATH, or a no-echo prompt on the
// terminal. Never argv, where every user of the machine can read it.

import { closeSync, openSync, readFileSync } from 'node:fs';
import { ioError, KeyAccessError, UsageError } from '../errors.js';
import type { PassphraseSource } from '../keystore/keystore.js';

export interface PassphraseFlags {
  passphraseFd?: string;
  passphraseFile?: string;
}

/** The first line of what was read; a passphrase never ends in a newline. */
function firstLine(text: string): string {
  return text.split(/\r?\n/)[0] ?? '';
}

function fromFd(fdText: string): string {
  const fd = Number(fdText);
  if (!Number.isInteger(fd) || fd < 0) throw new UsageError(`--passphrase-fd takes a file descriptor number, not "${fdText}"`);
  try {
    return firstLine(readFileSync(fd, 'utf8'));
  } catch (e) {
    throw ioError(e, 'read passphrase from file descriptor', String(fd));
  }
}

function fromFile(path: string): string {
  try {
    return firstLine(readFileSync(path, 'utf8'));
  } catch (e) {
    throw ioError(e, 'read passphrase file', path);
  }
}

/** Reads a line from the controlling terminal without echo; undefined when there is none. */
export function promptHidden(prompt: string): Promise<string | undefined> {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    return Promise.resolve(undefined);
  }
  // Loaded here, not imported: node:tty (and node:net with it) is ~5 ms of every start-up otherwise.
  const { ReadStream } = process.getBuiltinModule('node:tty');
  const input = new ReadStream(fd);
  process.stderr.write(prompt);
  input.setRawMode(true);
  return new Promise((resolve, reject) => {
    let answer = '';
    const done = (value: string | undefined, error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.destroy();
      try {
        closeSync(fd);
      } catch {
        // already closed by the stream
      }
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    input.on('data', (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(answer);
        if (ch === '\u0003') return done(undefined, new KeyAccessError('passphrase entry interrupted'));
        if (ch === '\u007f' || ch === '\b') answer = answer.slice(0, -1);
        else answer += ch;
      }
    });
  });
}

export function passphraseSource(flags: PassphraseFlags, env: NodeJS.ProcessEnv = process.env): PassphraseSource {
  let cached: string | undefined;
  const given = async () => {
    if (cached !== undefined) return cached;
    if (flags.passphraseFd !== undefined) cached = fromFd(flags.passphraseFd);
    else if (flags.passphraseFile !== undefined) cached = fromFile(flags.passphraseFile);
    else if (env.ENVELOPE_PASSPHRASE !== undefined) cached = env.ENVELOPE_PASSPHRASE;
    return cached;
  };
  return {
    given,
    ask: async () => {
      const known = await given();
      if (known !== undefined) return known;
      const typed = await promptHidden('envelope: keystore passphrase: ');
      if (typed === undefined) {
        throw new KeyAccessError('the keystore is protected by a passphrase and none was given', {
          hints: ['set ENVELOPE_PASSPHRASE, or use --passphrase-fd N or --passphrase-file PATH'],
        });
      }
      cached = typed;
      return typed;
    },
  };
}
