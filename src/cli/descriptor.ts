// What a standard descriptor is, asked once per question by input.ts and output.ts.

import { fstatSync, type Stats } from 'node:fs';

/** The descriptor's stat, or undefined when it is closed. */
export function statDescriptor(fd: number): Stats | undefined {
  try {
    return fstatSync(fd);
  } catch {
    return undefined;
  }
}

/** A pipe or socket: read and written on libuv's event loop, non-blocking. */
export function isPipeOrSocket(s: Stats | undefined): boolean {
  return !!s && (s.isFIFO() || s.isSocket());
}
