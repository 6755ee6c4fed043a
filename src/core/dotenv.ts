// The dotenv rules of `envelope exec` and `decrypt --format dotenv`, exactly:
//
//   - one assignment per line: KEY=VALUE, with an optional leading `export `;
//     KEY is [A-Za-z_][A-Za-z0-9_]*; spaces around KEY and after `=` are ignored
//   - blank lines and lines whose first non-blank character is `#` are ignored
//   - unquoted VALUE: up to the end of the line or to ` #` (a comment after
//     white space), trailing white space trimmed
//   - 'single quoted': taken literally, no escapes, may span lines
//   - "double quoted": \n \r \t \\ \" and \$ are escapes, may span lines
//   - after a closing quote only white space and a # comment may follow
//   - no variable expansion: $OTHER stays as written
//   - a key given twice: the last one wins
//
// Errors name the line number, never its text: the text is a secret.

import { FormatError } from '../errors.js';

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', $: '$' };

export function parseDotenv(text: string): Record<string, string> {
  const vars: Record<string, string> = Object.create(null);
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  let at = 0;
  let line = 1;
  const fail = (why: string, where = line) => new FormatError(`dotenv line ${where}: ${why}`);

  while (at < src.length) {
    const end = src.indexOf('\n', at) === -1 ? src.length : src.indexOf('\n', at);
    const raw = src.slice(at, end);
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      at = end + 1;
      line++;
      continue;
    }
    const eq = raw.indexOf('=');
    if (eq < 0) throw fail('not KEY=VALUE');
    const key = raw.slice(0, eq).trim().replace(/^export\s+/, '');
    if (!KEY.test(key)) throw fail('the key is not a valid variable name');
    let i = eq + 1;
    while (src[at + i] === ' ' || src[at + i] === '\t') i++;
    const start = at + i;
    const quote = src[start];
    if (quote === "'" || quote === '"') {
      const startLine = line;
      let value = '';
      let j = start + 1;
      for (;;) {
        if (j >= src.length) throw fail(`the ${quote === '"' ? 'double' : 'single'} quote is not closed`, startLine);
        const ch = src[j]!;
        if (ch === quote) break;
        if (ch === '\n') line++;
        if (quote === '"' && ch === '\\' && j + 1 < src.length && ESCAPES[src[j + 1]!] !== undefined) {
          value += ESCAPES[src[j + 1]!];
          j += 2;
          continue;
        }
        value += ch;
        j++;
      }
      const lineEnd = src.indexOf('\n', j) === -1 ? src.length : src.indexOf('\n', j);
      const rest = src.slice(j + 1, lineEnd).trim();
      if (rest !== '' && !rest.startsWith('#')) throw fail('unexpected text after the closing quote');
      vars[key] = value;
      at = lineEnd + 1;
      line++;
      continue;
    }
    const comment = raw.slice(i).search(/\s#/);
    vars[key] = (comment < 0 ? raw.slice(i) : raw.slice(i, i + comment)).trim();
    at = end + 1;
    line++;
  }
  return vars;
}
