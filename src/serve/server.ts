// The HTTP side of `envelope serve`: the AWS KMS JSON 1.1 protocol over
// node:http. POST / with `X-Amz-Target: TrentService.<Operation>` and a JSON
// body; the answer is JSON (`application/x-amz-json-1.1`), or an error as KMS
// sends it: status 400 (500 for our bugs), `x-amzn-ErrorType`, and
// `{"__type": …, "message": …}`.
//
// Each request is read whole, up to MAX_BODY bytes (413 beyond, before any
// parsing), within the request timeout (so a slow client cannot hold a
// connection), and gets exactly one `kms:<Operation>` audit line in the
// keystore's log (the request: who, which key, the outcome), written before
// the answer is sent: an answer whose audit line cannot be written is not sent
// (500 instead). A key the request uses is also audited by the keystore, as
// for any caller, so `envelope audit` shows local and served uses alike.

import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IoError } from '../errors.js';
import type { Keystore } from '../keystore/keystore.js';
import { KmsError, toKmsError } from './kms-error.js';
import { operationNamed, OPERATIONS } from './operations.js';
import type { Body } from './params.js';
import type { RequestScope, ServedIdentity } from './scope.js';
import { parseSigV4Credential } from './sigv4-credential.js';

export const MAX_BODY = 1024 * 1024;
const CONTENT_TYPE = 'application/x-amz-json-1.1';

export interface ServedRequest {
  /** The KMS operation, or UnknownOperation. */
  readonly operation: string;
  readonly status: number;
  readonly keyId?: string;
  /** The KMS error type of a failure. */
  readonly error?: string;
}

export interface ServeOptions {
  readonly keystore: Keystore;
  readonly served: ServedIdentity;
  readonly host: string;
  readonly port: number;
  /** --token-file: the access key id every request must be signed with. */
  readonly token?: string;
  /** --throttle: answer this many requests with ThrottlingException first. */
  readonly throttle?: number;
  readonly now?: () => Date;
  /** Whole-request and header deadlines, milliseconds. */
  readonly requestTimeoutMs?: number;
  readonly headersTimeoutMs?: number;
  readonly onRequest?: (request: ServedRequest) => void;
  /** A bug of ours answered with KMSInternalException; the error never holds a secret. */
  readonly onInternalError?: (operation: string, error: unknown) => void;
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** Stops accepting, lets requests in flight finish (at most `graceMs`), then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly error?: KmsError;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const server = createServer({
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    headersTimeout,
    keepAliveTimeout: 5_000,
    // How often those deadlines are checked (Node's default is 30 s).
    connectionsCheckingInterval: 500,
  });
  const tokenDigest = options.token === undefined ? undefined : digest(options.token);
  let throttleLeft = options.throttle ?? 0;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    void serve(req, res).finally(() => {
      inFlight--;
      if (inFlight === 0) idle?.();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.headers['x-amz-target'];
    const operation = operationNamed(typeof target === 'string' ? target : undefined);
    const credential = parseSigV4Credential(req.headers.authorization);
    const scope: RequestScope = {
      keystore: options.keystore,
      served: options.served,
      region: credential?.region ?? options.served.region,
      now: options.now ?? (() => new Date()),
      trace: {},
    };
    const label = operation ?? 'UnknownOperation';
    let answer: Answer;
    try {
      if (req.method !== 'POST' || req.url !== '/') {
        throw new KmsError('UnknownOperationException', 'envelope serve answers POST / with X-Amz-Target: TrentService.<Operation>.', 404);
      }
      const bytes = await readBody(req);
      if (!operation) throw new KmsError('UnknownOperationException', 'X-Amz-Target names no operation envelope serve knows.');
      if (tokenDigest && !timingSafeEqual(tokenDigest, digest(credential?.accessKeyId ?? ''))) {
        throw new KmsError('AccessDeniedException', 'The request is not signed with the access key id this server accepts.');
      }
      if (throttleLeft > 0) {
        throttleLeft--;
        throw new KmsError('ThrottlingException', 'Rate exceeded (envelope serve --throttle).');
      }
      answer = { status: 200, body: await OPERATIONS[operation]!(scope, parseBody(bytes)) };
    } catch (e) {
      const error = toKmsError(e);
      if (error.status >= 500) options.onInternalError?.(label, e);
      answer = { status: error.status, body: { __type: error.type, message: error.message }, error };
    }
    answer = await audited(scope, label, answer);
    // Reported before the answer goes out, so a client that has its answer finds the line already written.
    options.onRequest?.({
      operation: label,
      status: answer.status,
      ...(scope.trace.keyId ? { keyId: scope.trace.keyId } : {}),
      ...(answer.error ? { error: answer.error.type } : {}),
    });
    send(res, answer);
  }

  async function audited(scope: RequestScope, label: string, answer: Answer): Promise<Answer> {
    try {
      await options.keystore.record([
        {
          operation: `kms:${label}`,
          ...(scope.trace.keyId ? { keyId: scope.trace.keyId } : {}),
          ...(scope.trace.contextKeys ? { contextKeys: scope.trace.contextKeys } : {}),
          outcome: answer.error ? 'failure' : 'success',
          ...(answer.error ? { error: answer.error.type } : {}),
        },
      ]);
      return answer;
    } catch (e) {
      options.onInternalError?.(label, e);
      const error = new KmsError('KMSInternalException', 'The audit log could not be written.', 500);
      return { status: 500, body: { __type: error.type, message: error.message }, error };
    }
  }

  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the address is in use' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.message;
      reject(new IoError(`cannot listen on ${options.host}:${options.port}: ${why}`, { cause: e }));
    };
    server.once('error', failed);
    server.listen(options.port, options.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `http://${host}:${address.port}`,
    close: (graceMs = 10_000) => close(server, graceMs, () => inFlight, (f) => (idle = f)),
  };
}

function close(server: Server, graceMs: number, inFlight: () => number, onIdle: (f: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    const drained = new Promise<void>((r) => (inFlight() === 0 ? r() : onIdle(r)));
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    void drained.then(() => {
      clearTimeout(timer);
      // Keep-alive connections that went idle after their last answer.
      server.closeAllConnections();
    });
  });
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  const tooLarge = () => new KmsError('RequestEntityTooLargeException', `The request body is larger than ${MAX_BODY} bytes.`, 413);
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY) {
      req.resume();
      return reject(tooLarge());
    }
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > MAX_BODY) {
        chunks.length = 0;
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseBody(bytes: Buffer): Body {
  if (bytes.length === 0) return {};
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new KmsError('SerializationException', 'The request body is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new KmsError('SerializationException', 'The request body is not a JSON object.');
  }
  return body as Body;
}

function send(res: ServerResponse, answer: Answer): void {
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'Content-Type': CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
    ...(answer.error ? { 'x-amzn-ErrorType': answer.error.type } : {}),
    // A body left unread (413) cannot be skipped on a kept-alive connection.
    ...(answer.status === 413 ? { Connection: 'close' } : {}),
  });
  res.end(text);
}
