// Key policies as KMS documents (GetKeyPolicy, PutKeyPolicy, CreateKey's
// Policy). Our policy (src/keystore/policy.ts) is a set of operations and
// encryption-context conditions; a KMS document maps onto it only when it says
// no more than that, and anything else is refused (MalformedPolicyDocumentException)
// rather than half-enforced.
//
// The document we write and read:
//
//   { "Version": "2012-10-17", "Id": "envelope-key-policy", "Statement": [
//     { "Sid": "EnvelopeManage", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::ACCOUNT:root"},
//       "Action": [ rotate and manage actions ], "Resource": "*" },
//     { "Sid": "EnvelopeUse", "Effect": "Allow", "Principal": …,
//       "Action": [ kms:Encrypt, kms:Decrypt, kms:GenerateDataKey, … ], "Resource": "*",
//       "Condition": { "StringEquals": { "kms:EncryptionContext:K": "V" },
//                      "Null": { "kms:EncryptionContext:K": "false" } } } ] }
//
// Each of our operations is a group of KMS actions, granted only whole. Reads
// (Describe*, Get*, List*) and PutKeyPolicy are always allowed, whatever a
// document says: the keystore does not guard reads, and a key cannot lock
// itself out of its own policy. Principals are this account (or "*"): anyone
// who can reach the server and the keystore is the same party.

import type { ContextCondition, KeyPolicy, Operation } from '../keystore/schema.js';
import { KmsError } from './kms-error.js';

/** KMS's limit on a key policy document. */
export const MAX_POLICY_LENGTH = 32_768;

const GROUPS: Readonly<Record<Operation, readonly string[]>> = {
  encrypt: ['kms:Encrypt'],
  decrypt: ['kms:Decrypt'],
  'generate-data-key': ['kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext'],
  're-encrypt': ['kms:ReEncryptFrom', 'kms:ReEncryptTo'],
  rotate: ['kms:RotateKeyOnDemand', 'kms:EnableKeyRotation', 'kms:DisableKeyRotation'],
  manage: [
    'kms:EnableKey',
    'kms:DisableKey',
    'kms:ScheduleKeyDeletion',
    'kms:CancelKeyDeletion',
    'kms:CreateAlias',
    'kms:UpdateAlias',
    'kms:DeleteAlias',
    'kms:TagResource',
    'kms:UntagResource',
    'kms:ImportKeyMaterial',
  ],
};

/** The operations an encryption-context condition applies to (policy.ts). */
const USES: readonly Operation[] = ['encrypt', 'decrypt', 'generate-data-key', 're-encrypt'];

const ALWAYS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:PutKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListKeyRotations',
  'kms:GetPublicKey',
  'kms:ListResourceTags',
  'kms:ListAliases',
];

/** Wildcards a document may use for a whole group. */
const WILDCARDS: Readonly<Record<string, readonly string[]>> = {
  'kms:*': Object.values(GROUPS).flat(),
  'kms:generatedatakey*': GROUPS['generate-data-key'],
  'kms:reencrypt*': GROUPS['re-encrypt'],
};

const CONTEXT_KEY = 'kms:EncryptionContext:';
const USE_ACTIONS = new Set(USES.flatMap((op) => GROUPS[op]).map((a) => a.toLowerCase()));

export function policyDocument(policy: KeyPolicy, account: string): string {
  const principal = { AWS: `arn:aws:iam::${account}:root` };
  const manage = [...ALWAYS, ...policy.allow.filter((op) => !USES.includes(op)).flatMap((op) => GROUPS[op])];
  const use = policy.allow.filter((op) => USES.includes(op)).flatMap((op) => GROUPS[op]);
  const equals = Object.fromEntries(policy.requireContext.filter((c) => c.value !== undefined).map((c) => [`${CONTEXT_KEY}${c.key}`, c.value]));
  const present = Object.fromEntries(policy.requireContext.filter((c) => c.value === undefined).map((c) => [`${CONTEXT_KEY}${c.key}`, 'false']));
  const condition = {
    ...(Object.keys(equals).length ? { StringEquals: equals } : {}),
    ...(Object.keys(present).length ? { Null: present } : {}),
  };
  const statements: object[] = [{ Sid: 'EnvelopeManage', Effect: 'Allow', Principal: principal, Action: manage, Resource: '*' }];
  if (use.length) {
    statements.push({
      Sid: 'EnvelopeUse',
      Effect: 'Allow',
      Principal: principal,
      Action: use,
      Resource: '*',
      ...(Object.keys(condition).length ? { Condition: condition } : {}),
    });
  }
  return JSON.stringify({ Version: '2012-10-17', Id: 'envelope-key-policy', Statement: statements }, null, 2);
}

const malformed = (why: string) => new KmsError('MalformedPolicyDocumentException', `The policy cannot be represented by envelope: ${why}.`);

interface Statement {
  Sid?: unknown;
  Effect?: unknown;
  Principal?: unknown;
  Action?: unknown;
  Resource?: unknown;
  Condition?: unknown;
  [other: string]: unknown;
}

/** Reads a KMS policy document into our policy; MalformedPolicyDocumentException for anything it cannot say exactly. */
export function parsePolicyDocument(text: string, account: string): KeyPolicy {
  if (text.length > MAX_POLICY_LENGTH) throw malformed(`it is longer than ${MAX_POLICY_LENGTH} characters`);
  let doc: { Version?: unknown; Id?: unknown; Statement?: unknown; [other: string]: unknown };
  try {
    doc = JSON.parse(text);
  } catch {
    throw new KmsError('MalformedPolicyDocumentException', 'The policy is not valid JSON.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed('it is not a JSON object');
  for (const field of Object.keys(doc)) if (!['Version', 'Id', 'Statement'].includes(field)) throw malformed(`unknown field ${field}`);
  if (doc.Version !== undefined && doc.Version !== '2012-10-17') throw malformed('Version must be 2012-10-17');
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement === undefined ? [] : [doc.Statement];
  const granted = new Set<string>();
  // The conditions each statement granting a use puts on it; they must all be the same.
  const useConditions = new Map<string, ContextCondition[]>();
  for (const raw of statements as Statement[]) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw malformed('a statement is not an object');
    for (const field of Object.keys(raw)) {
      if (!['Sid', 'Effect', 'Principal', 'Action', 'Resource', 'Condition'].includes(field)) {
        throw malformed(`statement field ${field.slice(0, 100)} is not supported`);
      }
    }
    if (raw.Effect !== 'Allow') throw malformed('only Allow statements are supported');
    checkPrincipal(raw.Principal, account);
    if (raw.Resource !== '*' && !(Array.isArray(raw.Resource) && raw.Resource.length === 1 && raw.Resource[0] === '*')) {
      throw malformed('Resource must be "*" (a key policy is about its own key)');
    }
    const actions = expandActions(raw.Action);
    const uses = actions.filter((a) => USE_ACTIONS.has(a));
    const conditions = raw.Condition === undefined ? [] : parseCondition(raw.Condition);
    if (raw.Condition !== undefined && uses.length < actions.length) {
      throw malformed('encryption-context conditions apply only to Encrypt, Decrypt, GenerateDataKey* and ReEncrypt*');
    }
    if (uses.length > 0) {
      const canonical = JSON.stringify([...conditions].sort((a, b) => (a.key < b.key ? -1 : 1)));
      useConditions.set(canonical, conditions);
    }
    for (const a of actions) granted.add(a);
  }
  if (useConditions.size > 1) throw malformed('the uses of the key are granted under different conditions');
  const conditions = [...useConditions.values()][0] ?? [];
  const allow = (Object.keys(GROUPS) as Operation[]).filter((op) => GROUPS[op].every((a) => granted.has(lower(a))));
  for (const op of Object.keys(GROUPS) as Operation[]) {
    const some = GROUPS[op].filter((a) => granted.has(lower(a)));
    if (some.length > 0 && some.length < GROUPS[op].length) {
      throw malformed(`${some.join(', ')} without ${GROUPS[op].filter((a) => !granted.has(lower(a))).join(', ')}: these are granted together`);
    }
  }
  return { allow, requireContext: conditions };
}

function lower(s: string): string {
  return s.toLowerCase();
}

function checkPrincipal(principal: unknown, account: string): void {
  const ours = [`arn:aws:iam::${account}:root`, account, '*'];
  const fits = (p: unknown) => typeof p === 'string' && ours.includes(p);
  if (principal === '*') return;
  const aws = (principal as { AWS?: unknown } | null)?.AWS;
  if (typeof principal === 'object' && principal !== null && Object.keys(principal).length === 1 && (fits(aws) || (Array.isArray(aws) && aws.length > 0 && aws.every(fits)))) {
    return;
  }
  throw malformed(`Principal must be this account (arn:aws:iam::${account}:root) or "*"`);
}

const KNOWN = new Set([...Object.values(GROUPS).flat(), ...ALWAYS].map(lower));

function expandActions(action: unknown): string[] {
  const list = typeof action === 'string' ? [action] : Array.isArray(action) ? action : undefined;
  if (!list || list.length === 0 || !list.every((a) => typeof a === 'string')) throw malformed('Action must be a string or a list of strings');
  return (list as string[]).flatMap((a) => {
    const name = lower(a);
    const wildcard = WILDCARDS[name];
    if (wildcard) return wildcard.map(lower);
    if (KNOWN.has(name)) return [name];
    throw malformed(`action ${a.slice(0, 100)} is not one envelope knows`);
  });
}

function parseCondition(condition: unknown): ContextCondition[] {
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) throw malformed('Condition must be an object');
  const out = new Map<string, ContextCondition>();
  for (const [operator, entries] of Object.entries(condition)) {
    if (operator !== 'StringEquals' && operator !== 'Null') throw malformed(`condition operator ${operator.slice(0, 100)} is not supported (StringEquals and Null are)`);
    if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) throw malformed(`${operator} must be an object`);
    for (const [key, value] of Object.entries(entries)) {
      if (!key.startsWith(CONTEXT_KEY) || key.length === CONTEXT_KEY.length) throw malformed(`condition key ${key.slice(0, 100)} is not supported (kms:EncryptionContext:KEY is)`);
      const contextKey = key.slice(CONTEXT_KEY.length);
      if (out.has(contextKey)) throw malformed(`two conditions on the context key ${contextKey.slice(0, 100)}`);
      if (operator === 'StringEquals') {
        if (typeof value !== 'string') throw malformed('StringEquals takes one string per key');
        out.set(contextKey, { key: contextKey, value });
      } else {
        if (value !== 'false' && value !== false) throw malformed('Null takes "false" (the key must be present)');
        out.set(contextKey, { key: contextKey });
      }
    }
  }
  return [...out.values()];
}
