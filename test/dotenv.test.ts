import { describe, expect, it } from 'vitest';
import { parseDotenv } from '../src/core/dotenv.js';
import { FormatError } from '../src/errors.js';

describe('dotenv rules', () => {
  it('KEY=VALUE, export prefix, spaces, comments and blank lines', () => {
    expect(parseDotenv('A=1\nexport B=two\n  C = three  \n\n# comment\n   # indented comment\nD=four # trailing\nE=x#not-a-comment\n')).toEqual({
      A: '1',
      B: 'two',
      C: 'three',
      D: 'four',
      E: 'x#not-a-comment',
    });
  });

  it('single quotes are literal; double quotes take \\n \\r \\t \\\\ \\" \\$ escapes', () => {
    expect(parseDotenv(`S='a\\nb $X "q"'\nD="a\\nb\\t\\"c\\" \\\\ \\$X \\q"\n`)).toEqual({
      S: 'a\\nb $X "q"',
      D: 'a\nb\t"c" \\ $X \\q',
    });
  });

  it('quoted values may span lines; CRLF line ends are read as LF', () => {
    expect(parseDotenv('KEY="-----BEGIN-----\r\nabc\r\n-----END-----"\r\nNEXT=1\r\n')).toEqual({
      KEY: '-----BEGIN-----\nabc\n-----END-----',
      NEXT: '1',
    });
    expect(parseDotenv("M='line 1\nline 2' # c\nN=2")).toEqual({ M: 'line 1\nline 2', N: '2' });
  });

  it('no variable expansion; empty values; the last of a repeated key wins', () => {
    expect(parseDotenv('A=$HOME\nB=\nC=""\nA=again')).toEqual({ A: 'again', B: '', C: '' });
  });

  it.each([
    ['not KEY=VALUE', 'A=1\njust text\n', 2],
    ['the key is not a valid variable name', '1A=x', 1],
    ['the key is not a valid variable name', 'A-B=x', 1],
    ['the double quote is not closed', 'A=1\nB="open\nmore', 2],
    ['unexpected text after the closing quote', "A='x' y", 1],
  ])('refuses: %s (naming the line, never its text)', (why, text, line) => {
    let error: unknown;
    try {
      parseDotenv(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toBe(`dotenv line ${line}: ${why}`);
  });
});
