// envelope serve: the local keystore behind the AWS KMS JSON 1.1 API
// (src/serve), until SIGINT or SIGTERM.

import { stat, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { ioError, KeyAccessError, UsageError } from '../../errors.js';
import { startServer, type ServedRequest } from '../../serve/server.js';
import { type KeystoreFlags, openKeystore } from '../keystore-options.js';
import { parseCount } from '../options.js';
import { note, problem } from '../terminal.js';

interface ServeFlags extends KeystoreFlags {
  listen?: string;
  region?: string;
  account?: string;
  tokenFile?: string;
  throttle?: string;
  quiet?: boolean;
  debug?: boolean;
}

export const DEFAULT_LISTEN = '127.0.0.1:4599';
export const DEFAULT_ACCOUNT = '111122223333';

/**
 * `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT`. Without a host, loopback: a
 * server that hands out keys is reachable from elsewhere only when the
 * command line names the address it binds, and only by IP address (a host
 * name could resolve to anything).
 */
export function parseListen(text: string): { host: string; port: number; loopback: boolean } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text) ?? /^()()(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen takes HOST:PORT (port 0 picks a free port), not "${text}"`);
  const named = m[1] ?? m[2] ?? '';
  const host = named === '' || named === 'localhost' ? '127.0.0.1' : named;
  if (!isIP(host)) {
    throw new UsageError(`--listen takes an IP address, not the host name "${named}"`, {
      hints: ['127.0.0.1 (the default) keeps the keys on this machine; name another address to serve it elsewhere'],
    });
  }
  const loopback = host === '::1' || /^127\./.test(host) || host === '::ffff:127.0.0.1';
  return { host, port, loopback };
}

function regionFrom(flags: ServeFlags): string {
  const region = flags.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  if (!/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/.test(region)) throw new UsageError(`"${region}" is not an AWS region name such as us-east-1`);
  return region;
}

/** The first line of a file only its owner can read. */
async function readToken(path: string): Promise<string> {
  const info = await stat(path).catch((e) => {
    throw ioError(e, 'read', path);
  });
  if ((info.mode & 0o077) !== 0) {
    throw new KeyAccessError(`token file ${path} is accessible by group or others (mode ${(info.mode & 0o777).toString(8)})`, {
      hints: [`chmod 600 ${path}`],
    });
  }
  const token = (await readFile(path, 'utf8').catch((e) => {
    throw ioError(e, 'read', path);
  })).split(/\r?\n/)[0]!;
  if (token.length === 0) throw new UsageError(`token file ${path} is empty: its first line is the access key id clients must use`);
  return token;
}

export async function run(_: string[], flags: ServeFlags): Promise<void> {
  const listen = parseListen(flags.listen ?? DEFAULT_LISTEN);
  const region = regionFrom(flags);
  const account = flags.account ?? DEFAULT_ACCOUNT;
  if (!/^\d{12}$/.test(account)) throw new UsageError(`--account takes a 12-digit AWS account id, not "${account}"`);
  const throttle = flags.throttle === undefined ? 0 : parseCount('--throttle', flags.throttle, 0, 1_000_000);
  const token = flags.tokenFile === undefined ? undefined : await readToken(flags.tokenFile);

  const keystore = openKeystore(flags);
  // Unlocked once, now, rather than per request: no request can wait on a prompt.
  const store = await keystore.read();
  if (store?.protection.kind === 'passphrase') await keystore.unlockStore(store);

  const server = await startServer({
    keystore,
    served: { region, account },
    host: listen.host,
    port: listen.port,
    ...(token !== undefined ? { token } : {}),
    throttle,
    onRequest: (r: ServedRequest) => note(`envelope: kms ${r.operation} ${r.status}${r.keyId ? ` ${r.keyId}` : ''}${r.error ? `: ${r.error}` : ''}`),
    onInternalError: (operation, error) => {
      const message = error instanceof Error ? error.message : String(error);
      problem(`envelope: error: kms ${operation}: internal error: ${message}`);
      if (flags.debug && error instanceof Error && error.stack) problem(error.stack);
    },
  });
  // Always printed, even with -q: it is how a caller of `--listen HOST:0` learns the port.
  process.stderr.write(`envelope: serving the keystore ${keystore.dir} as AWS KMS at ${server.url} (region ${region}, account ${account})\n`);
  // Printed even with -q: this is not a warning to miss.
  if (!listen.loopback) problem(`envelope: warning: listening on ${server.url}: anyone who can reach it can use the keys`);

  await new Promise<void>((resolve) => {
    const stop = () => {
      note('envelope: stopping: finishing the requests in flight');
      void server.close().then(() => {
        keystore.close();
        resolve();
      });
    };
    // The server ends itself cleanly (exit 0 once drained), rather than as an interrupted command.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeAllListeners(signal);
      process.once(signal, stop);
    }
  });
}
