// Builds dist/ for bin/envelope. Start-up is the budget here (a local decrypt
// of a 1 KiB secret within 1.5x of `node -e 0`, DESIGN §8), so:
//
//   dist/envelope.cjs         the whole command line in one CommonJS file: one
//                             read, where the ESM loader resolved and linked
//                             ~20 chunks. Modules that the source import()s
//                             still run only when first imported (esbuild
//                             wraps them), so a command pays only for itself.
//                             The file is written inside the function that
//                             Node's CommonJS loader wraps a module in
//                             (MODULE_WRAPPER), so that bin/envelope compiles
//                             it as it lies: wrapping it at run time made V8
//                             copy its 400 KB once more at every start.
//   dist/envelope.cjs.cache   V8's code cache for it, from a training run of a
//                             local decrypt: what that run compiled is loaded
//                             precompiled by bin/envelope, which compiles as
//                             usual when V8 rejects the cache (another Node,
//                             other V8 flags).
//   dist/aws-sdk.cjs          @aws-sdk/client-kms, ora and chalk, each a file of
//   dist/ora.cjs              its own, required only when a KMS key is called, a
//   dist/chalk.cjs            spinner starts, or colors are wanted.
//
// cosmiconfig stays a real package (it loads config modules with require and
// import of its own). The frame worker's source is inlined, as in the single
// executable (frame-worker-source.mjs).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildSeparateFiles, CJS_FOR_NODE as common, lazyChildProcessForCommander, lazyFsPromises, ROOT as root, separatePackages } from './esbuild-options.mjs';
import { frameWorkerSource } from './frame-worker-source.mjs';

const dist = join(root, 'dist');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// The code cache goes first: V8 checks a cache against the source's length,
// not its bytes, so a cache must never outlive the bundle it was made from
// (say, when this build fails half-way).
const cache = join(dist, 'envelope.cjs.cache');
rmSync(cache, { force: true });
// What earlier layouts left (chunks/, envelope.js) would only mislead.
rmSync(join(dist, 'chunks'), { recursive: true, force: true });
for (const stale of ['envelope.js', 'envelope.js.map', 'frame-worker.js', 'frame-worker.js.map']) rmSync(join(dist, stale), { force: true });
mkdirSync(dist, { recursive: true });

// As Module.wrap (lib/internal/modules/cjs/loader.js) writes it.
const MODULE_WRAPPER = ['(function (exports, require, module, __filename, __dirname) { ', '\n});'];

await build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: join(dist, 'envelope.cjs'),
  sourcemap: 'linked',
  banner: { js: MODULE_WRAPPER[0] },
  footer: { js: MODULE_WRAPPER[1] },
  // Each separate package's file is required from beside the bundle; cosmiconfig from node_modules.
  plugins: [separatePackages((file) => `require(${JSON.stringify(`./${file}`)})`, ['cosmiconfig']), lazyChildProcessForCommander, lazyFsPromises],
  define: {
    ENVELOPE_VERSION: JSON.stringify(version),
    ENVELOPE_FRAME_WORKER_SOURCE: JSON.stringify(await frameWorkerSource()),
  },
});
await buildSeparateFiles(dist);

// The training run: a local key, a 1 KiB message, and its decrypt, in a
// scratch keystore. bin/envelope writes the cache when
// ENVELOPE_CODE_CACHE_TRAINING names the file.
const scratch = mkdtempSync(join(tmpdir(), 'envelope-build-'));
try {
  const env = { ...process.env, ENVELOPE_KEYSTORE: join(scratch, 'keystore'), NO_COLOR: '1', HOME: scratch, XDG_DATA_HOME: scratch };
  delete env.ENVELOPE_PASSPHRASE;
  const cli = (args, extra = {}) =>
    execFileSync(process.execPath, [join(root, 'bin', 'envelope'), ...args], { cwd: scratch, env: { ...env, ...extra }, stdio: ['pipe', 'pipe', 'pipe'], ...extra.options });
  cli(['keygen', 'training']);
  writeFileSync(join(scratch, 'secret'), Buffer.alloc(1024, 0x61));
  cli(['encrypt', '-k', 'alias/training', '-o', join(scratch, 'secret.enc'), join(scratch, 'secret')]);
  cli(['decrypt', '-o', join(scratch, 'secret.out'), join(scratch, 'secret.enc')], { ENVELOPE_CODE_CACHE_TRAINING: cache });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (!readdirSync(dist).includes('envelope.cjs.cache')) throw new Error('the training run wrote no code cache');
const bundle = readFileSync(join(dist, 'envelope.cjs'));
if (/[^\w$.]import\(/.test(bundle.toString('latin1'))) throw new Error('dist/envelope.cjs holds an import(): see separatePackages in esbuild-options.mjs');
// bin/envelope reads the bundle as Latin-1, a copy byte for byte: right only while esbuild escapes all else (its default charset).
if (bundle.some((byte) => byte > 0x7f)) throw new Error('dist/envelope.cjs holds bytes beyond ASCII: bin/envelope reads it as Latin-1');
