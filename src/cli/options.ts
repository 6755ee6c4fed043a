// Parsers for option values. Each throws a UsageError that names the flag.

import { COMMITMENT_POLICIES, type CommitmentPolicy } from '../core/commitment-policy.js';
import type { ContextRequirement } from '../core/decrypt.js';
import type { MessageLimits } from '../core/limits.js';
import { UsageError } from '../errors.js';
import { type AlgorithmSuite, findSuite, SUITES } from '../format/suites.js';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `65536`, `64K`, `64KiB`, `1M`, `1MiB`, `1G`: binary multiples. */
export function parseSize(flag: string, text: string): number {
  const m = /^(\d+)\s*([kmgKMG]?)([iI]?[bB])?$/.exec(text.trim()); // no i flag: keystore/key-ref.ts says why
  const unit = m?.[2]?.toLowerCase() ?? '';
  if (!m || (m[3] && !unit && m[3].toLowerCase() !== 'b')) {
    throw new UsageError(`${flag} takes a size such as 65536, 64K or 1M, not "${text}"`);
  }
  return Number(m[1]) * SIZE_UNITS[unit]!;
}

export function parseCount(flag: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, not "${text}"`);
  }
  return Number(text);
}

/** Encrypt's `-c key=value`: both parts required, keys unique. */
export function parseContextPairs(items: readonly string[]): Record<string, string> {
  const context: Record<string, string> = Object.create(null);
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`-c takes key=value, not "${item}"`);
    const key = item.slice(0, eq);
    if (Object.hasOwn(context, key)) throw new UsageError(`-c gives the key "${key}" twice`);
    context[key] = item.slice(eq + 1);
  }
  return context;
}

/** `--tag key=value`, repeatable. */
export function collectTags(items: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = Object.create(null);
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--tag takes key=value, not "${item}"`);
    tags[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return tags;
}

/** Decrypt's `-c key=value` (must match) and `-c key` (must be present). */
export function parseContextRequirements(items: readonly string[]): ContextRequirement[] {
  const seen = new Set<string>();
  return items.map((item) => {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key.length === 0) throw new UsageError(`-c takes key or key=value, not "${item}"`);
    if (seen.has(key)) throw new UsageError(`-c gives the key "${key}" twice`);
    seen.add(key);
    return eq < 0 ? { key } : { key, value: item.slice(eq + 1) };
  });
}

export function parseSuite(text: string): AlgorithmSuite {
  const suite = findSuite(text);
  if (!suite) {
    throw new UsageError(`unknown algorithm suite "${text}"`, {
      hints: [`one of ${SUITES.map((s) => `0x${s.id.toString(16).padStart(4, '0')}`).join(', ')} or its ESDK name`],
    });
  }
  return suite;
}

export function parseCommitmentPolicy(text: string): CommitmentPolicy {
  const policy = text.toLowerCase().replace(/_/g, '-');
  if (!COMMITMENT_POLICIES.includes(policy as CommitmentPolicy)) {
    throw new UsageError(`unknown commitment policy "${text}"`, { hints: [`one of ${COMMITMENT_POLICIES.join(', ')}`] });
  }
  return policy as CommitmentPolicy;
}

/** The message limits flags of decrypt, inspect and re-encrypt (DESIGN §1, §2; SECURITY.md). */
export interface LimitFlags {
  maxEncryptedDataKeys: string;
  maxFrameSize: string;
  maxHeaderSize: string;
}

export function parseLimits(flags: LimitFlags): MessageLimits {
  return {
    maxEncryptedDataKeys: parseCount('--max-encrypted-data-keys', flags.maxEncryptedDataKeys, 1, 65535),
    maxFrameLength: parseSize('--max-frame-size', flags.maxFrameSize),
    maxHeaderLength: parseSize('--max-header-size', flags.maxHeaderSize),
  };
}
