// A KMS-compatible server for tests: the built `envelope serve` on a free
// loopback port, over a fresh temporary keystore (or one given). Every KMS test
// points its SDK clients or child `envelope` processes at it with env().
//
//   const kms = await startKmsServer();
//   const { arn } = await kms.createKey({ alias: 'alias/app' });
//   await runCli(['encrypt', '-k', arn], { env: kms.env(), stdin: 'x' });
//   expect(kms.requests().GenerateDataKey).toBe(1);
//   await kms.stop();
//
// A server a test forgets to stop is stopped after the test file (afterAll),
// or when the test process exits.

import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAliasCommand, CreateKeyCommand, KMSClient, type KeySpec } from '@aws-sdk/client-kms';
import { afterAll } from 'vitest';
import { ENVELOPE, REPO_ROOT } from '../helpers.js';

export interface KmsServer {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** The keystore directory it serves. */
  readonly keystore: string;
  readonly region: string;
  readonly account: string;
  /**
   * AWS_ENDPOINT_URL_KMS, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
   * ENVELOPE_KEYSTORE, AWS_EC2_METADATA_DISABLED=true, AWS_CONFIG_FILE and
   * AWS_SHARED_CREDENTIALS_FILE pointing at nothing: everything a child
   * `envelope` or an SDK client needs.
   */
  env(): Record<string, string>;
  /**
   * Requests per operation so far, counted from the server's stderr lines.
   * The server writes each line before it answers, and its stderr is a file
   * read here synchronously, so a request a client has seen answered is counted.
   */
  requests(): Record<string, number>;
  resetCounts(): void;
  /** Creates a key (and an alias) through the real SDK. */
  createKey(opts?: { alias?: string; multiRegion?: boolean; keySpec?: string }): Promise<{ keyId: string; arn: string; aliasArn?: string }>;
  stop(): Promise<void>;
}

export interface KmsServerOptions {
  keystore?: string;
  region?: string;
  account?: string;
  throttle?: number;
  /** Run with --token-file holding this; env() then uses it as the access key id. */
  token?: string;
  /** More arguments for `envelope serve`. */
  args?: string[];
}

// The SDK's notice about future Node versions would only clutter test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const running = new Set<() => Promise<void>>();

afterAll(async () => {
  await Promise.all([...running].map((stop) => stop()));
});
process.on('exit', () => {
  for (const stop of running) void stop();
});

const START_LINE = /envelope: serving the keystore .* as AWS KMS at (http:\/\/\S+) \(region (\S+), account (\d{12})\)/;
const REQUEST_LINE = /^envelope: kms ([A-Za-z]+) (\d{3})/;

export async function startKmsServer(opts: KmsServerOptions = {}): Promise<KmsServer> {
  const scratch = mkdtempSync(join(tmpdir(), 'envelope-kms-server-'));
  const keystore = opts.keystore ?? join(scratch, 'keystore');
  const region = opts.region ?? 'us-west-2';
  const account = opts.account ?? '111122223333';
  const accessKeyId = opts.token ?? 'AKIAENVELOPETEST';
  const args = ['serve', '--listen', '127.0.0.1:0', '--keystore', keystore, '--region', region, '--account', account];
  if (opts.throttle !== undefined) args.push('--throttle', String(opts.throttle));
  if (opts.token !== undefined) {
    const tokenFile = join(scratch, 'token');
    writeFileSync(tokenFile, `${opts.token}\n`, { mode: 0o600 });
    args.push('--token-file', tokenFile);
  }
  args.push(...(opts.args ?? []));

  // stderr goes to a file rather than a pipe: what the server wrote before
  // answering is then in the file when the client has its answer, whereas a
  // pipe's data could still be waiting in this process's event loop.
  const logPath = join(scratch, 'serve.log');
  const logFd = openSync(logPath, 'w');
  const child = spawn(process.execPath, [ENVELOPE, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', logFd],
  });
  closeSync(logFd);
  const log = (): string => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  let countedFrom = 0;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const endpoint = await new Promise<string>((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const start = START_LINE.exec(log());
      if (start) {
        clearInterval(poll);
        resolve(start[1]!);
      } else if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(poll);
        reject(new Error(`envelope serve exited with ${child.exitCode ?? child.signalCode} before it started:\n${log()}`));
      } else if (Date.now() - started > 15_000) {
        clearInterval(poll);
        reject(new Error(`envelope serve did not start within 15 s:\n${log()}`));
      }
    }, 20);
  });

  const counts = (): Record<string, number> => {
    const result: Record<string, number> = {};
    const text = log();
    for (const line of text.slice(countedFrom).split('\n')) {
      const request = REQUEST_LINE.exec(line);
      if (request) result[request[1]!] = (result[request[1]!] ?? 0) + 1;
    }
    return result;
  };

  const nothing = join(scratch, 'no-such-aws-file');
  const env = (): Record<string, string> => ({
    AWS_ENDPOINT_URL_KMS: endpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: 'envelope-test-secret',
    ENVELOPE_KEYSTORE: keystore,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: nothing,
    AWS_SHARED_CREDENTIALS_FILE: nothing,
  });

  let client: KMSClient | undefined;
  const sdk = () =>
    (client ??= new KMSClient({
      endpoint,
      region,
      credentials: { accessKeyId, secretAccessKey: 'envelope-test-secret' },
      maxAttempts: (opts.throttle ?? 0) + 3,
    }));

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      running.delete(stop);
      client?.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(scratch, { recursive: true, force: true });
    })());
  running.add(stop);

  return {
    endpoint,
    keystore,
    region,
    account,
    env,
    requests: counts,
    resetCounts: () => {
      countedFrom = log().length;
    },
    async createKey(o = {}) {
      const made = await sdk().send(
        new CreateKeyCommand({ ...(o.multiRegion ? { MultiRegion: true } : {}), ...(o.keySpec ? { KeySpec: o.keySpec as KeySpec } : {}) }),
      );
      const keyId = made.KeyMetadata!.KeyId!;
      const arn = made.KeyMetadata!.Arn!;
      if (!o.alias) return { keyId, arn };
      const alias = o.alias.startsWith('alias/') ? o.alias : `alias/${o.alias}`;
      await sdk().send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
      return { keyId, arn, aliasArn: `arn:aws:kms:${region}:${account}:${alias}` };
    },
    stop,
  };
}
