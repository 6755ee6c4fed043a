// The generated documentation files (completions/, man/envelope.1), for
// scripts/generate-docs.mjs (`npm run docs`) and the drift test.

import { completionScript } from './completions.js';
import { manPage } from './manpage.js';
import { buildProgram } from './program.js';

export const DOC_FILES = {
  bash: 'completions/envelope.bash',
  zsh: 'completions/_envelope',
  fish: 'completions/envelope.fish',
  man: 'man/envelope.1',
} as const;

export interface DocsOptions {
  /** The package version. */
  readonly version: string;
  /** The checked-in man page, whose date is kept while its text stays the same. */
  readonly previousManPage?: string;
  /** YYYY-MM-DD: the date of a man page whose text changed. */
  readonly today: string;
}

/** The date field of a page's .TH line. */
function manPageDate(page: string): string | undefined {
  return /^\.TH \S+ \S+ (\d{4}-\d{2}-\d{2}) /m.exec(page)?.[1];
}

/** Every generated file by its path in the repository. Deterministic: the same program and inputs give the same bytes. */
export function generateDocs({ version, previousManPage, today }: DocsOptions): Record<string, string> {
  const program = buildProgram();
  const previousDate = previousManPage === undefined ? undefined : manPageDate(previousManPage);
  let man = manPage(program, { version, date: previousDate ?? today });
  if (man !== previousManPage) man = manPage(program, { version, date: today });
  return {
    [DOC_FILES.bash]: completionScript('bash', program),
    [DOC_FILES.zsh]: completionScript('zsh', program),
    [DOC_FILES.fish]: completionScript('fish', program),
    [DOC_FILES.man]: man,
  };
}
