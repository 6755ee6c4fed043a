// A run builds only the command it runs (src/cli/program.ts buildProgram):
// that command must parse and print help exactly as in the whole program, and
// anything that needs the others (help, a typo to suggest a command for) gets
// the whole program.

import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.js';

const whole = buildProgram();
const names = (program: Command) => program.commands.map((c) => c.name());
const run = (...args: string[]) => buildProgram(['node', 'envelope', ...args]);

/** The help text of `command` and of every command under it, by path. */
function helpTexts(command: Command, path = command.name()): Record<string, string> {
  return Object.assign({ [path]: command.helpInformation() }, ...command.commands.map((c) => helpTexts(c, `${path} ${c.name()}`)));
}

describe('a run builds only the command it runs', () => {
  it('each command alone: the same commands under it and the same help as in the whole program', () => {
    expect(names(whole).length).toBeGreaterThan(10);
    for (const command of whole.commands) {
      const alone = run(command.name(), '--help');
      expect(names(alone)).toEqual([command.name()]);
      expect(helpTexts(alone.commands[0]!)).toEqual(helpTexts(command));
    }
  });

  it('finds the command past global options, and takes the word after one that needs a value as its value', () => {
    expect(names(run('-q', '--debug', 'decrypt', 'f.enc'))).toEqual(['decrypt']);
    expect(names(run('--keystore', 'decrypt', 'encrypt', '-k', 'alias/a'))).toEqual(['encrypt']);
    expect(names(run('--keystore=ks', 'decrypt'))).toEqual(['decrypt']);
    expect(names(run('--passphrase-fd', '3', 'keys', 'list'))).toEqual(['keys']);
  });

  it('builds them all for --help, help, a word that is no command (commander suggests one), -- or nothing', () => {
    for (const args of [['--help'], ['help', 'decrypt'], ['decrypr'], ['--', 'decrypt'], []]) {
      expect(names(run(...args))).toEqual(names(whole));
    }
  });
});
