// Parsing the `-k` key specifier grammar (DESIGN §2):
//   raw-aes:file=PATH,namespace=NS,name=NAME
//   raw-rsa:file=PEM,namespace=NS,name=NAME[,padding=oaep-sha256]

import { UsageError } from '../errors.js';

export interface KeySpecifier {
  /** The provider prefix before the first colon, e.g. `raw-aes`. */
  readonly scheme: string;
  /** The text after the colon. */
  readonly rest: string;
  /** The whole specifier as the user wrote it. */
  readonly text: string;
}

export function splitSpecifier(text: string): KeySpecifier {
  const colon = text.indexOf(':');
  if (colon <= 0) return { scheme: '', rest: text, text };
  return { scheme: text.slice(0, colon), rest: text.slice(colon + 1), text };
}

/**
 * Parses `a=1,b=2` with the allowed field names; `required` lists the ones that
 * must be there. A comma inside a value can be written as `\,`.
 */
export function parseFields<const K extends string>(
  spec: KeySpecifier,
  allowed: readonly K[],
  required: readonly K[],
): Record<K, string | undefined> {
  const fields = Object.create(null) as Record<K, string | undefined>;
  for (const part of spec.rest.split(/(?<!\\),/)) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)) as K;
    if (eq < 0 || !allowed.includes(name)) {
      throw new UsageError(`bad key specifier "${spec.text}": unknown field "${name}"`, {
        hints: [`${spec.scheme} takes ${allowed.map((a) => `${a}=…`).join(',')}`],
      });
    }
    if (fields[name] !== undefined) throw new UsageError(`bad key specifier "${spec.text}": "${name}" given twice`);
    fields[name] = part.slice(eq + 1).replace(/\\,/g, ',');
  }
  for (const name of required) {
    if (!fields[name]) {
      throw new UsageError(`bad key specifier "${spec.text}": missing ${name}=…`, {
        hints: [`${spec.scheme} takes ${allowed.map((a) => `${a}=…`).join(',')}`],
      });
    }
  }
  return fields;
}
