// Bundles src/cli/main.ts into dist/ with code splitting, so every command and
// heavy module stays a separate chunk that is only read when it is imported.
// The frame worker (src/stream/frame-worker.ts) is an entry point of its own,
// dist/frame-worker.js, which src/stream/frame-pool.ts starts with `new Worker`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  absWorkingDir: root,
  entryPoints: { envelope: 'src/cli/main.ts', 'frame-worker': 'src/stream/frame-worker.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  legalComments: 'none',
  // cosmiconfig loads config modules with require/import of their own: keep it a real package.
  external: ['cosmiconfig'],
  // commander is CommonJS: give its require() calls a real require.
  banner: { js: "import { createRequire as __envelopeRequire } from 'node:module'; const require = __envelopeRequire(import.meta.url);" },
  define: {
    ENVELOPE_VERSION: JSON.stringify(version),
    // frame-pool.ts is only ever import()ed, so it lands in chunks/; the worker
    // entry sits in dist/ itself: hence one level up, from any working directory.
    ENVELOPE_FRAME_WORKER: JSON.stringify('../frame-worker.js'),
  },
});
