// The esbuild options every bundle of ours shares: one CommonJS file for the
// Node we support, bundled whole (build.mjs, build-binary.mjs,
// frame-worker-source.mjs); and the heavy packages that both builds keep out
// of the main bundle, each in a file of its own that is loaded when first used.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const CJS_FOR_NODE = {
  absWorkingDir: ROOT,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  legalComments: 'none',
  // Whitespace and syntax only, names kept (errors and stack traces stay
  // readable): less source for Node to read and V8 to scan at every start,
  // 575 to 403 KB for the main bundle. Identifiers stay: the sizes the
  // renaming would save cost a source map to read the simplest stack trace.
  minifyWhitespace: true,
  minifySyntax: true,
};

/** Packages that get a file of their own, by the name the main bundle imports them with. */
export const SEPARATE = { '@aws-sdk/client-kms': 'aws-sdk.cjs', ora: 'ora.cjs', chalk: 'chalk.cjs' };

/**
 * An esbuild plugin: each import of a SEPARATE package becomes a one-line
 * module, `module.exports = <load(its file)>`, and each of `external` a
 * `module.exports = require(name)`, so that an import() of one stays lazy and
 * goes through require. The bundle must hold no import() of its own: V8 drops
 * the dynamic-import callback of a script compiled from a code cache.
 */
export function separatePackages(load, external = []) {
  const names = [...Object.keys(SEPARATE), ...external].map((n) => n.replace(/[/.]/g, '\\$&'));
  return {
    name: 'separate-heavy-packages',
    setup(b) {
      // What a one-line module requires stays outside the bundle.
      b.onResolve({ filter: /.*/, namespace: 'separate' }, (args) => ({ path: args.path, external: true }));
      b.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) => ({ path: args.path, namespace: 'separate' }));
      b.onLoad({ filter: /.*/, namespace: 'separate' }, (args) => ({
        contents: `module.exports = ${external.includes(args.path) ? `require(${JSON.stringify(args.path)})` : load(SEPARATE[args.path])};`,
        loader: 'js',
      }));
    },
  };
}

/**
 * commander requires node:child_process at its top for one call (spawn, to run
 * an executable subcommand, which envelope has none of), and child_process
 * loads net, dgram and the streams with it: ~8 ms of every start-up
 * (--cpu-prof of a 1 KiB decrypt). commander's import of it becomes a getter
 * that requires it on first use.
 */
export const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy-child-process' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "module.exports = { get spawn() { return require('node:child_process').spawn; } };",
      loader: 'js',
    }));
  },
};

/**
 * node:fs/promises, when imported, loads readline and the fs watchers with it
 * (eleven of Node's modules, at every start, for the commands that import it
 * at their top: output files, key files, the lock's heartbeat). Every import
 * of it becomes an ES module of functions, one per function of fs.promises,
 * that call require('node:fs').promises' own, which loads them on first use.
 * An ES module, so that esbuild calls its functions directly: a CommonJS
 * module of getters was copied into a namespace object (__toESM) by each of
 * the nine modules that import it, ~95 KB of young garbage at every start,
 * enough to cost a local decrypt a scavenge (heap profile, 2026-12-07). The
 * source imports node:fs/promises as usual; test/start-up.test.ts checks that
 * a decrypt to stdout does not load it.
 */
export const lazyFsPromises = {
  name: 'lazy-fs-promises',
  setup(b) {
    b.onResolve({ filter: /^(node:)?fs\/promises$/ }, () => ({ path: 'fs/promises', namespace: 'lazy-fs-promises' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-fs-promises' }, async () => {
      const { promises } = await import('node:fs');
      const names = Object.keys(promises);
      const lines = names.map((name) =>
        typeof promises[name] === 'function'
          ? `export function ${name}(...args) { return require('node:fs').promises.${name}(...args); }`
          : `export const ${name} = require('node:fs').${name};`,
      );
      // The default export, for CommonJS that takes it (cosmiconfig's __importDefault, in the single executable).
      lines.push(`export default { ${names.join(', ')} };`);
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

// An import() of a CommonJS file gets its module.exports as the default export
// (Node's rule, which esbuild follows for our ESM source): ora's file exports
// ora itself, so `const { default: ora } = await import('ora')` finds it.
const EXPORTS = { ora: "require('ora').default" };

/** Builds each SEPARATE package into `dir`, bundled whole. */
export async function buildSeparateFiles(dir) {
  for (const [name, file] of Object.entries(SEPARATE)) {
    const contents = `module.exports = ${EXPORTS[name] ?? `require('${name}')`};`;
    await build({ ...CJS_FOR_NODE, stdin: { contents, resolveDir: ROOT }, outfile: join(dir, file) });
  }
}
