// npm run build:binary: dist/envelope, one executable file with Node inside,
// built offline from the Node that runs this script (Node's single executable
// applications, https://nodejs.org/api/single-executable-applications.html).
//
// A single executable application runs one CommonJS script and can require
// only Node's built-in modules, so everything (commander, cosmiconfig, every
// command) is bundled into one file without code splitting, except the heavy
// packages (the AWS SDK, ora, chalk): as in dist/, each is a file of its own,
// here an asset of the executable, compiled only when first required. Bundled
// in, they cost RSS at every start. The frame worker has no file beside it to
// start from either: its source is inlined (frame-worker-source.mjs). `pkg` is
// not used:
// it is archived and downloads Node binaries at build time, which cannot work
// offline.

import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildSeparateFiles, CJS_FOR_NODE, lazyChildProcessForCommander, lazyFsPromises, SEPARATE, separatePackages } from './esbuild-options.mjs';
import { frameWorkerSource } from './frame-worker-source.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist');
const work = join(out, 'sea');
mkdirSync(work, { recursive: true });
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const workerSource = await frameWorkerSource().catch(() => process.exit(1));

/**
 * Runs inside the executable: compiles the asset `name` (a bundled CommonJS
 * file that requires only Node's built-in modules) and returns its exports.
 */
function loadAsset(name) {
  const source = require('node:sea').getAsset(name, 'utf8');
  const module = { exports: {} };
  const wrapper = require('node:vm').compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: name });
  wrapper(module.exports, require, module, name, '.');
  return module.exports;
}

await build({
  ...CJS_FOR_NODE,
  entryPoints: ['src/cli/main.ts'],
  outfile: join(work, 'envelope.cjs'),
  // cosmiconfig's loader for .ts config files requires the TypeScript compiler
  // (9 MiB of source, parsed at every start). envelope searches for no .ts
  // config (src/cli/config.ts), so that require never runs.
  external: ['typescript'],
  plugins: [separatePackages((file) => `(${loadAsset})(${JSON.stringify(file)})`), lazyChildProcessForCommander, lazyFsPromises],
  define: {
    ENVELOPE_VERSION: JSON.stringify(version),
    ENVELOPE_FRAME_WORKER_SOURCE: JSON.stringify(workerSource),
  },
}).catch(() => process.exit(1));

await buildSeparateFiles(work);

const config = join(work, 'sea-config.json');
writeFileSync(
  config,
  // The code cache spares compiling the whole bundle at every start.
  JSON.stringify({
    main: join(work, 'envelope.cjs'),
    output: join(work, 'envelope.blob'),
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    assets: Object.fromEntries(Object.values(SEPARATE).map((file) => [file, join(work, file)])),
  }),
);
execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'pipe' });

const binary = join(out, 'envelope');
copyFileSync(process.execPath, binary);
chmodSync(binary, 0o755);
execFileSync(
  process.execPath,
  [
    join(root, 'node_modules', 'postject', 'dist', 'cli.js'),
    binary,
    'NODE_SEA_BLOB',
    join(work, 'envelope.blob'),
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ],
  // postject's ELF library warns about note sections it does not know; show its output only if it fails.
  { stdio: 'pipe' },
);
process.stdout.write(`build:binary: wrote ${binary}\n`);
