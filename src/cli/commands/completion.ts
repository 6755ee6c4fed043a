// completion: print the completion script for bash, zsh or fish, generated
// from the program's own definitions (src/cli/completions.ts).

import { completionScript, type Shell } from '../completions.js';
import { buildProgram } from '../program.js';
import { out } from '../terminal.js';

export async function run([shell]: string[]): Promise<void> {
  out(completionScript(shell as Shell, buildProgram()));
}
