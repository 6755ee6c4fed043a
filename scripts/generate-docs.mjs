// Writes the shell completions (completions/) and the man page (man/envelope.1)
// from the commander program: `npm run docs`. With --check, writes nothing and
// exits 1 naming each file that is out of date.
//
// The TypeScript sources are bundled with esbuild into node_modules/.cache
// (where `commander` resolves) and imported from there: offline, and without
// dist/envelope.cjs, which runs the command line and exports nothing.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const readIfExists = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  }
};

const cache = join(root, 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const tmp = mkdtempSync(join(cache, 'envelope-docs-'));
let docs;
try {
  const outfile = join(tmp, 'docs.mjs');
  await build({
    absWorkingDir: root,
    entryPoints: ['src/cli/docs.ts'],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    define: { ENVELOPE_VERSION: JSON.stringify(version) },
  });
  const { DOC_FILES, generateDocs } = await import(pathToFileURL(outfile).href);
  // SOURCE_DATE_EPOCH, when set, is the date of a page whose text changed (reproducible builds).
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const today = (epoch ? new Date(Number(epoch) * 1000) : new Date()).toISOString().slice(0, 10);
  docs = generateDocs({ version, previousManPage: readIfExists(join(root, DOC_FILES.man)), today });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const stale = [];
for (const [path, text] of Object.entries(docs)) {
  const file = join(root, path);
  if (readIfExists(file) === text) continue;
  stale.push(path);
  if (!check) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
}
if (check && stale.length > 0) {
  process.stderr.write(`generate-docs: out of date: ${stale.join(', ')}\nhint: run npm run docs\n`);
  process.exitCode = 1;
} else {
  process.stderr.write(stale.length > 0 ? `generate-docs: wrote ${stale.join(', ')}\n` : 'generate-docs: up to date\n');
}
