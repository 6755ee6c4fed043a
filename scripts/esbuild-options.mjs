// The esbuild options every bundle of ours shares: one CommonJS file for the
// Node we support, bundled whole (build.mjs, build-binary.mjs,
// frame-worker-source.mjs).
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const CJS_FOR_NODE = {
  absWorkingDir: ROOT,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  legalComments: 'none',
};
