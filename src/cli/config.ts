// Configuration files (DESIGN §5), found with cosmiconfig's names from the
// working directory up to the home directory: package.json#envelope,
// .enveloperc, .enveloperc.json|.yaml|.yml, envelope.config.js|mjs|cjs — or
// the file named by --config. Flags beat the environment, which beats the
// config. A bad config is a usage error that names the file and the field.
//
// Start-up matters (a local decrypt must start as fast as Node allows), so the
// search is a few stat calls; cosmiconfig is imported only to load a file that
// exists.

import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';
import { systemErrorReason, UsageError } from '../errors.js';

export interface Config {
  /** The file it came from, for messages. */
  readonly source?: string;
  /** Default keys for encrypt when no -k is given. */
  readonly keys?: readonly string[];
  /** Default keys for decrypt and re-encrypt --from. */
  readonly decryptKeys?: readonly string[];
  /** Keystore directory, relative paths taken from the config file's folder. */
  readonly keystore?: string;
  readonly frameSize?: string;
  readonly algorithm?: string;
  /** Context every decrypt requires: `key` or `key=value` entries. */
  readonly requiredContext?: readonly string[];
  /** AWS region of kms: keys without one (after --region and AWS_REGION). */
  readonly region?: string;
  /** AWS profile (after --profile and AWS_PROFILE). */
  readonly profile?: string;
  /** The accounts --discovery admits when no --discovery-account is given. */
  readonly discoveryAccounts?: readonly string[];
}

const SEARCH_PLACES = [
  'package.json',
  '.enveloperc',
  '.enveloperc.json',
  '.enveloperc.yaml',
  '.enveloperc.yml',
  'envelope.config.js',
  'envelope.config.mjs',
  'envelope.config.cjs',
] as const;

const FIELDS: Record<keyof Omit<Config, 'source'>, 'string' | 'strings' | 'size' | 'accounts'> = {
  keys: 'strings',
  decryptKeys: 'strings',
  keystore: 'string',
  frameSize: 'size',
  algorithm: 'string',
  requiredContext: 'strings',
  region: 'string',
  profile: 'string',
  discoveryAccounts: 'accounts',
};

function isFile(path: string): boolean {
  try {
    // A missing file is the common case (eight names in each directory up to
    // home): no error to build and throw for it.
    return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

/** The first config file from `cwd` up to the home directory (or the root, outside home). */
export function findConfigFile(cwd: string, home = homedir()): string | undefined {
  const stop = resolve(home);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    for (const name of SEARCH_PLACES) {
      const path = join(dir, name);
      if (!isFile(path)) continue;
      if (name !== 'package.json') return path;
      try {
        if (Object.hasOwn(JSON.parse(readFileSync(path, 'utf8')) as object, 'envelope')) return path;
      } catch {
        // a package.json we cannot read is not ours to complain about
      }
    }
    if (dir === stop || dir === parse(dir).root) return undefined;
  }
}

async function loadFile(path: string): Promise<unknown> {
  // node:sea is loaded only here: imported at the top, it was one more of Node's modules at every start.
  if (/\.(c|m)?js$/.test(path) && process.getBuiltinModule('node:sea').isSea()) {
    throw new UsageError(`config ${path} is JavaScript, which the single executable cannot load`, {
      hints: ['write it as .enveloperc.json or .enveloperc.yaml, or use envelope from its npm install'],
    });
  }
  try {
    if (path.endsWith('package.json')) {
      return (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> | null)?.envelope;
    }
    const { cosmiconfig } = await import('cosmiconfig');
    const result = await cosmiconfig('envelope', { searchPlaces: [...SEARCH_PLACES] }).load(path);
    return result?.config;
  } catch (e) {
    // A system error (unreadable, a directory) is worded as every other I/O
    // error is; a parse error by its first line, which says what and where.
    const reason = (e as NodeJS.ErrnoException).code ? systemErrorReason(e) : String((e as Error).message).split('\n')[0]!.toLowerCase();
    throw new UsageError(`config ${path} cannot be read: ${reason}`);
  }
}

export function validateConfig(raw: unknown, source: string): Config {
  if (raw === undefined || raw === null) return { source };
  const bad = (field: string, why: string) => new UsageError(`config ${source}: field "${field}" ${why}`);
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`config ${source}: must be an object of settings`);
  const config: Record<string, unknown> = { source };
  for (const [field, value] of Object.entries(raw)) {
    const kind = FIELDS[field as keyof typeof FIELDS];
    if (!kind) throw bad(field, `is not a setting (settings: ${Object.keys(FIELDS).join(', ')})`);
    if (kind === 'string' && typeof value !== 'string') throw bad(field, 'must be a string');
    if (kind === 'strings' && !(Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
      throw bad(field, 'must be a list of strings');
    }
    if (kind === 'accounts' && !(Array.isArray(value) && value.every((v) => typeof v === 'string' && /^\d{12}$/.test(v)))) {
      throw bad(field, 'must be a list of 12-digit AWS account ids (as strings)');
    }
    if (kind === 'size' && typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
      throw bad(field, 'must be a size such as 65536, "64K" or "1M"');
    }
    config[field] = kind === 'size' ? String(value) : value;
  }
  if (typeof config.keystore === 'string') config.keystore = resolve(dirname(source), config.keystore);
  return config as Config;
}

/** Loads the config named by --config, or the one found from the working directory. */
export async function loadConfig(explicit: string | undefined, cwd = process.cwd()): Promise<Config> {
  const path = explicit ? resolve(explicit) : findConfigFile(cwd);
  if (!path) return {};
  if (explicit && !isFile(path)) throw new UsageError(`config ${explicit} does not exist`);
  return validateConfig(await loadFile(path), path);
}
