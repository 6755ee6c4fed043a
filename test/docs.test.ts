// Shell completions and the man page (DESIGN §5, §6, §7): generated from the
// commander program, checked in byte for byte, printed by `envelope completion`,
// and working in the shells. Expectations are computed from the program object,
// so a new command or flag is checked without touching this file.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCommands, describeProgram } from '../src/cli/completions.js';
import { DOC_FILES, generateDocs } from '../src/cli/docs.js';
import { EXIT_STATUS_TABLE } from '../src/cli/exit-codes.js';
import { buildProgram } from '../src/cli/program.js';
import { ENVELOPE, REPO_ROOT, runCli, tempDir } from './helpers.js';

const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
// The bundle defines ENVELOPE_VERSION at build time; here the sources run as they are.
(globalThis as { ENVELOPE_VERSION?: string }).ENVELOPE_VERSION ??= version;

const checkedIn = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const root = describeProgram(buildProgram());
const commands = allCommands(root).filter((c) => c !== root && !c.isHelp);

function installed(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}
const has = { zsh: installed('zsh'), fish: installed('fish'), mandoc: installed('mandoc'), groff: installed('groff') };
const unless = (tool: keyof typeof has) => (has[tool] ? '' : ` (skipped: ${tool} is not installed)`);

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));

/** PATH with `envelope` (bin/envelope) first, as after an install; a keystore with the key alias/demo. */
let env: NodeJS.ProcessEnv;
let work: string;

beforeAll(async () => {
  const dir = tempDir('envelope-docs-');
  cleanups.push(dir.cleanup);
  work = dir.path;
  mkdirSync(join(work, 'bin'));
  symlinkSync(ENVELOPE, join(work, 'bin', 'envelope'));
  env = {
    ...process.env,
    PATH: `${join(work, 'bin')}:${process.env.PATH ?? ''}`,
    ENVELOPE_KEYSTORE: join(work, 'keystore'),
    ENVELOPE_PASSPHRASE: undefined,
    XDG_DATA_HOME: join(work, 'data'),
    NO_COLOR: '1',
  };
  const made = await runCli(['keygen', 'demo'], { env });
  expect(made.code, made.stderr).toBe(0);
  writeFileSync(join(work, 'material.key'), 'x');
});

describe('generated files', () => {
  it('completions and the man page generated afresh equal the checked-in files byte for byte', () => {
    const docs = generateDocs({ version, previousManPage: checkedIn(DOC_FILES.man), today: '1970-01-01' });
    expect(Object.keys(docs).sort()).toEqual(Object.values(DOC_FILES).sort());
    for (const [path, text] of Object.entries(docs)) {
      const onDisk = readFileSync(join(REPO_ROOT, path));
      expect(onDisk.toString('utf8'), `${path} is out of date: run npm run docs`).toBe(text);
      expect(onDisk.equals(Buffer.from(text, 'utf8')), `${path} is out of date: run npm run docs`).toBe(true);
    }
  });

  it('node scripts/generate-docs.mjs --check (npm run docs -- --check) finds nothing to write', () => {
    const check = spawnSync(process.execPath, ['scripts/generate-docs.mjs', '--check'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(check.status, `${check.stderr}\nrun npm run docs`).toBe(0);
  });

  it('the man page keeps its date while its text stays the same, and takes today when it changes', () => {
    const previous = checkedIn(DOC_FILES.man);
    expect(generateDocs({ version, previousManPage: previous, today: '1970-01-01' })[DOC_FILES.man]).toBe(previous);
    const changed = generateDocs({ version: `${version}-next`, previousManPage: previous, today: '1970-01-01' })[DOC_FILES.man]!;
    expect(changed).toMatch(/^\.TH ENVELOPE 1 1970-01-01 /m);
  });

  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    it(`envelope completion ${shell} prints ${DOC_FILES[shell]}`, async () => {
      const result = await runCli(['completion', shell]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.toString('utf8'), 'the bundle is older than the sources? run npm run build').toBe(checkedIn(DOC_FILES[shell]));
    });
  }

  it('envelope completion refuses a shell it does not know (exit 2)', async () => {
    const result = await runCli(['completion', 'tcsh']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^envelope: error: .*tcsh/);
  });
});

// ---------------------------------------------------------------- bash

/**
 * Runs the bash completion for `line` (the cursor at its end) as bash does:
 * COMP_WORDS split at blanks and at the COMP_WORDBREAKS characters = and :,
 * COMP_LINE and COMP_POINT set, then _envelope called.
 */
function completeBash(line: string, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const words = line.split(/\s+/).flatMap((part) => part.match(/[=:]+|[^=:]+/g) ?? []);
  if (/\s$/.test(line)) words.push('');
  const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = [
    `source ${JSON.stringify(join(REPO_ROOT, DOC_FILES.bash))}`,
    `COMP_WORDS=(${quoted})`,
    `COMP_CWORD=${words.length - 1}`,
    `COMP_LINE=${JSON.stringify(line)}`,
    `COMP_POINT=${line.length}`,
    '_envelope',
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join('\n');
  const run = spawnSync('bash', ['-c', script], { env: options.env ?? env, cwd: options.cwd ?? work, encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return { offered: run.stdout.split('\n').filter(Boolean), stderr: run.stderr };
}

describe('bash completion', () => {
  it('offers every command for the first word', () => {
    expect(completeBash('envelope ').offered).toEqual(root.commands.map((c) => c.name));
  });

  it('offers --frame-size for envelope encrypt --fr', () => {
    expect(completeBash('envelope encrypt --fr').offered).toEqual(['--frame-size']);
  });

  it('offers the subcommands of keys for envelope keys', () => {
    const keys = root.commands.find((c) => c.name === 'keys')!;
    expect(completeBash('envelope keys ').offered).toEqual(keys.commands.map((c) => c.name));
  });

  it('offers the flags of a subcommand and the global flags, also with a global flag before the command', () => {
    const offered = completeBash('envelope --debug keys list --').offered;
    const list = allCommands(root).find((c) => c.path.join(' ') === 'keys list')!;
    for (const flag of [...list.flags, ...root.flags.filter((f) => f.long !== '--version')]) {
      if (flag.long) expect(offered).toContain(flag.long);
    }
  });

  it('offers the alias alias/demo for envelope encrypt -k al, from the keystore', () => {
    expect(completeBash('envelope encrypt -k al').offered).toEqual(['alias/demo']);
  });

  it('offers keys after local: (which bash splits off at the colon) and the keyring prefixes', () => {
    expect(completeBash('envelope encrypt -k local:al').offered).toEqual(['alias/demo']);
    expect(completeBash('envelope re-encrypt x.enc --to raw-').offered).toEqual(['raw-aes:', 'raw-rsa:']);
    const all = completeBash('envelope decrypt -k ').offered;
    expect(all).toEqual(expect.arrayContaining(['alias/demo', 'raw-aes:', 'raw-rsa:', 'local:']));
    expect(all.filter((k) => /^[0-9a-f-]{36}$/.test(k))).toHaveLength(1);
  });

  it('offers keys for --key-id and the key argument of keys and rotate subcommands', () => {
    expect(completeBash('envelope kms encrypt --key-id alias/').offered).toEqual(['alias/demo']);
    expect(completeBash('envelope keys show alias/').offered).toEqual(['alias/demo']);
    expect(completeBash('envelope rotate alias/').offered).toEqual(['alias/demo']);
  });

  it('offers the choices of an option, also after --option=', () => {
    const policy = root.commands.find((c) => c.name === 'encrypt')!.flags.find((f) => f.long === '--commitment-policy')!;
    expect(completeBash('envelope encrypt --commitment-policy ').offered).toEqual(policy.option.argChoices);
    // bash splits --output=te into --output, =, te and replaces only te.
    expect(completeBash('envelope kms generate-random --output=te').offered).toEqual(['text']);
    expect(completeBash('envelope completion ').offered).toEqual(['bash', 'zsh', 'fish']);
  });

  it('offers file names for file arguments and options', () => {
    expect(completeBash('envelope encrypt mat').offered).toEqual(['material.key']);
    expect(completeBash('envelope keygen --import mat').offered).toEqual(['material.key']);
    expect(completeBash('envelope --passphrase-file mat').offered).toEqual(['material.key']);
  });

  it('is silent when there is no keystore: the keyring prefixes only, nothing on stderr', () => {
    const none = { ...env, ENVELOPE_KEYSTORE: join(work, 'no-such-keystore') };
    const { offered, stderr } = completeBash('envelope encrypt -k ', { env: none });
    expect(offered).toEqual(['raw-aes:', 'raw-rsa:', 'local:']);
    expect(stderr).toBe('');
  });
});

// ---------------------------------------------------------------- zsh, fish

describe('zsh and fish completion', () => {
  it.skipIf(!has.zsh)(`zsh -n accepts ${DOC_FILES.zsh}${unless('zsh')}`, () => {
    const run = spawnSync('zsh', ['-n', join(REPO_ROOT, DOC_FILES.zsh)], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
  });

  it.skipIf(!has.fish)(`fish -n accepts ${DOC_FILES.fish}${unless('fish')}`, () => {
    const run = spawnSync('fish', ['-n', join(REPO_ROOT, DOC_FILES.fish)], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
  });

  it.skipIf(!has.fish)(`fish completes commands, flags and keys (complete -C)${unless('fish')}`, () => {
    const complete = (line: string) => {
      const run = spawnSync('fish', ['-c', `source ${DOC_FILES.fish}; complete -C ${JSON.stringify(line)}`], { cwd: REPO_ROOT, env, encoding: 'utf8' });
      expect(run.stderr).toBe('');
      return run.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
    };
    expect(complete('envelope ').sort()).toEqual(root.commands.map((c) => c.name).sort());
    expect(complete('envelope encrypt --fr')).toEqual(['--frame-size']);
    expect(complete('envelope encrypt -k al')).toEqual(['alias/demo']);
    expect(complete('envelope keys show alias/')).toEqual(['alias/demo']);
  });
});

// ---------------------------------------------------------------- man page

describe('man page', () => {
  const page = checkedIn(DOC_FILES.man);
  const roff = (s: string) => s.replace(/\\/g, '\\(rs').replace(/-/g, '\\-');

  it.skipIf(!has.mandoc)(`mandoc -T lint reports nothing${unless('mandoc')}`, () => {
    const run = spawnSync('mandoc', ['-T', 'lint', DOC_FILES.man], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  });

  it.skipIf(!has.groff)(`groff renders it without a warning${unless('groff')}`, () => {
    const run = spawnSync('groff', ['-man', '-Tutf8', '-ww', DOC_FILES.man], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.replace(/.\x08/g, '')).toMatch(/^EXIT STATUS$/m);
  });

  it('names every command and every long option of every command', () => {
    expect(commands.length).toBeGreaterThan(10);
    for (const command of commands) {
      expect(page, `man page lacks the command ${command.path.join(' ')}`).toContain(`.SS "${roff(['envelope', ...command.path].join(' '))}`);
      for (const flag of command.flags) {
        if (flag.long) expect(page, `man page lacks ${command.path.join(' ')} ${flag.long}`).toContain(`\\fB${roff(flag.long)}\\fR`);
      }
    }
    for (const flag of root.flags) if (flag.long) expect(page).toContain(`\\fB${roff(flag.long)}\\fR`);
  });

  it('has the sections DESIGN §5–§6 ask for, and every exit status', () => {
    const sections = [...page.matchAll(/^\.SH (.+)$/gm)].map((m) => m[1]);
    expect(sections).toEqual(
      expect.arrayContaining(['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'KEY SPECIFIERS', 'CONFIGURATION', 'ENVIRONMENT', 'EXIT STATUS', 'FILES', 'EXAMPLES', 'SECURITY']),
    );
    const exitStatus = page.slice(page.indexOf('.SH EXIT STATUS'), page.indexOf('.SH FILES'));
    for (const { code } of EXIT_STATUS_TABLE) expect(exitStatus).toContain(`.TP\n\\fB${code}\\fR\n`);
    for (const name of ['ENVELOPE_KEYSTORE', 'ENVELOPE_PASSPHRASE', 'ENVELOPE_NEW_PASSPHRASE', 'XDG_DATA_HOME', 'NO_COLOR']) {
      expect(page).toContain(`\\fB${name}\\fR`);
    }
  });

  it('has no text line that roff would read as a request, and writes every hyphen as \\-', () => {
    for (const line of page.split('\n')) {
      if (/^[.']/.test(line)) expect(line, 'an unknown request').toMatch(/^\.(\\"|(TH|SH|SS|SY|YS|PP|TP|RS|RE|EX|EE|ad|nr|hy)\b)/);
      else expect(line, 'a hyphen that is not \\-').not.toMatch(/(^|[^\\])-/);
    }
  });
});
