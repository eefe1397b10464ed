/**
 * Scenario files (YAML, JSON accepted) and shell command lines to validated Scenario objects.
 * Every problem is a ScenarioError naming file:line, the problem and the fix, e.g.
 * "s.yaml:12: unknown handle 'h3' — declare it with an open step first".
 */

import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { FltBridgeError } from '../bridge/errors.js';
import {
  CreateInformation,
  isLegacyLevel,
  isWin7Level,
  OplockBreakInformation,
  type OplockLevel,
  parseAccess,
  parseCreateOptions,
  parseDisposition,
  parseOplockLevel,
  parseShare,
  parseU32,
  parseU64,
  type Win7OplockLevel,
} from '../bridge/flags.js';
import { ntStatusByName } from '../bridge/ntstatus.js';
import type { BackendName } from '../bridge/types.js';
import { ScenarioError, suggest } from './errors.js';
import {
  type AckKind,
  type BreakExpectation,
  type CompletionExpectation,
  type Expectation,
  type Scenario,
  type SetInformation,
  type SetupEntry,
  STEP_VERBS,
  type StatusExpectation,
  type Step,
  type StepVerb,
} from './schema.js';

// ---------------------------------------------------------------------------------------------
// Located nodes: the YAML tree with a line number on every node.
// ---------------------------------------------------------------------------------------------

export type LNode =
  | { readonly kind: 'map'; readonly line: number; readonly entries: readonly LEntry[] }
  | { readonly kind: 'seq'; readonly line: number; readonly items: readonly LNode[] }
  | {
      readonly kind: 'scalar';
      readonly line: number;
      readonly value: unknown;
      readonly quoted?: boolean;
    };

export interface LEntry {
  readonly key: string;
  readonly line: number;
  readonly value: LNode;
}

/** Largest read or write a scenario may ask for (the model holds files in memory). */
export const MAX_IO_LENGTH = 16 * 1024 * 1024;
/** Largest file a setup entry may create. */
export const MAX_SETUP_SIZE = 1n << 30n;

const INFORMATION_NAMES: Record<string, number> = {
  ...CreateInformation,
  ...OplockBreakInformation,
};

function fail(file: string, line: number, problem: string, fix?: string): never {
  throw new ScenarioError(file, line, problem, fix);
}

/** Run a flags.ts parser and turn its InvalidArgumentError into a located ScenarioError. */
function located<T>(file: string, line: number, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ScenarioError) throw error;
    if (error instanceof FltBridgeError) fail(file, line, error.message, error.hint);
    throw error;
  }
}

function toLNode(node: unknown, lc: LineCounter, file: string, depth = 0): LNode {
  const lineOf = (n: Node | null | undefined) => (n?.range ? lc.linePos(n.range[0]).line : 0);
  if (depth > 64) fail(file, 0, 'the document nests too deeply', 'flatten it');
  if (isAlias(node))
    fail(file, lineOf(node), 'YAML aliases are not supported', 'write the value out');
  if (isMap(node)) {
    const entries: LEntry[] = [];
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'bigint')) {
        fail(file, lineOf(key as Node), 'a mapping key must be a plain word', 'write key: value');
      }
      const value =
        pair.value === null
          ? ({ kind: 'scalar', line: lineOf(key), value: null } as const)
          : toLNode(pair.value, lc, file, depth + 1);
      entries.push({ key: String(key.value), line: lineOf(key), value });
    }
    return { kind: 'map', line: lineOf(node), entries };
  }
  if (isSeq(node)) {
    return {
      kind: 'seq',
      line: lineOf(node),
      items: node.items.map((item) => toLNode(item, lc, file, depth + 1)),
    };
  }
  if (isScalar(node)) {
    return {
      kind: 'scalar',
      line: lineOf(node),
      value: node.value,
      quoted: node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE',
    };
  }
  return { kind: 'scalar', line: 0, value: null };
}

// ---------------------------------------------------------------------------------------------
// Scalar readers.
// ---------------------------------------------------------------------------------------------

function describe(node: LNode): string {
  if (node.kind === 'map') return 'a mapping';
  if (node.kind === 'seq') return 'a list';
  if (node.value === null || node.value === undefined) return 'nothing';
  return `${typeof node.value === 'string' ? `'${node.value}'` : String(node.value)}`;
}

class Reader {
  constructor(readonly file: string) {}

  fail(line: number, problem: string, fix?: string): never {
    fail(this.file, line, problem, fix);
  }

  map(node: LNode, what: string): readonly LEntry[] {
    if (node.kind !== 'map')
      this.fail(node.line, `${what} must be a mapping, not ${describe(node)}`);
    return node.entries;
  }

  scalar(node: LNode, what: string): unknown {
    if (node.kind !== 'scalar')
      this.fail(node.line, `${what} must be a value, not ${describe(node)}`);
    return node.value;
  }

  string(node: LNode, what: string): string {
    const value = this.scalar(node, what);
    if (typeof value === 'string' && value.length > 0) return value;
    if (typeof value === 'bigint' || typeof value === 'number') return String(value);
    this.fail(node.line, `${what} must be text, not ${describe(node)}`);
  }

  bool(node: LNode, what: string): boolean {
    const value = this.scalar(node, what);
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'yes') return true;
    if (value === 'false' || value === 'no') return false;
    this.fail(node.line, `${what} must be true or false, not ${describe(node)}`);
  }

  u64(node: LNode, what: string): bigint {
    const value = this.scalar(node, what);
    return located(this.file, node.line, () => {
      try {
        return parseU64(value, what);
      } catch (error) {
        if (error instanceof FltBridgeError && /past 2\^64-1/.test(error.message)) {
          fail(
            this.file,
            node.line,
            error.message,
            'use a value from 0 to 18446744073709551615 (2^64-1)',
          );
        }
        throw error;
      }
    });
  }

  u32(node: LNode, what: string): number {
    const value = this.scalar(node, what);
    return located(this.file, node.line, () => parseU32(value, what));
  }

  /** A small non-negative integer (milliseconds, process numbers). */
  int(node: LNode, what: string, min: number, max: number): number {
    const big = this.u64(node, what);
    if (big < BigInt(min) || big > BigInt(max)) {
      this.fail(node.line, `${what} ${big} is out of range`, `use a value from ${min} to ${max}`);
    }
    return Number(big);
  }

  /** A string, or a list of strings joined with commas (access, share, options). */
  words(node: LNode, what: string): string {
    if (node.kind === 'seq') return node.items.map((i) => this.string(i, what)).join(',');
    const value = this.scalar(node, what);
    if (typeof value === 'bigint' || typeof value === 'number') return String(value);
    return this.string(node, what);
  }

  checkKeys(entries: readonly LEntry[], allowed: readonly string[], where: string): void {
    for (const entry of entries) {
      if (!allowed.includes(entry.key)) {
        const guess = suggest(entry.key, allowed);
        this.fail(
          entry.line,
          `unknown key '${entry.key}' in ${where}`,
          guess ? `did you mean '${guess}'?` : `use one of ${allowed.join(', ')}`,
        );
      }
    }
  }
}

function get(entries: readonly LEntry[], key: string): LEntry | undefined {
  return entries.find((e) => e.key === key);
}

// ---------------------------------------------------------------------------------------------
// Shell syntax: "lock h1 0 100 excl wait key=3" -> the mapping form.
// ---------------------------------------------------------------------------------------------

interface Token {
  readonly text: string;
  readonly quoted: boolean;
}

export function tokenize(text: string, file: string, line: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? '';
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '#') break;
    let value = '';
    let quoted = false;
    while (i < text.length && !/\s/.test(text[i] ?? '')) {
      const c = text[i] ?? '';
      if (c === '"' || c === "'") {
        const end = text.indexOf(c, i + 1);
        if (end < 0) fail(file, line, `unterminated ${c} quote`, `close the quote: ${c}...${c}`);
        value += text.slice(i + 1, end);
        quoted = true;
        i = end + 1;
      } else {
        value += c;
        i++;
      }
    }
    tokens.push({ text: value, quoted });
  }
  return tokens;
}

/** Aliases the shell syntax accepts for key=value pairs. */
const KEY_ALIASES: Record<string, string> = {
  disp: 'disposition',
  opts: 'options',
  option: 'options',
  pid: 'process',
  oplockkey: 'oplockKey',
  'oplock-key': 'oplockKey',
  alloc: 'allocationSize',
  allocationsize: 'allocationSize',
  'ack-on-close': 'completeAckOnClose',
  timeout: 'timeout',
  eof: 'endOfFile',
  'end-of-file': 'endOfFile',
  allocation: 'allocation',
  replace: 'replaceIfExists',
};

const VERB_ALIASES: Record<string, StepVerb> = {
  setinfo: 'set-information',
  'set-info': 'set-information',
  set: 'set-information',
  acknowledge: 'ack',
  notify: 'break-notify',
  unlockall: 'unlock-all',
};

export function canonicalVerb(word: string): StepVerb | undefined {
  const lower = word.toLowerCase();
  if ((STEP_VERBS as readonly string[]).includes(lower)) return lower as StepVerb;
  return VERB_ALIASES[lower];
}

/**
 * One command in the shell syntax to the located mapping form of a step. The positional
 * arguments per verb are documented in docs/scenarios.md ("Compact steps").
 */
export function parseCommand(text: string, file: string, line: number): LNode {
  const tokens = tokenize(text, file, line);
  const first = tokens.shift();
  if (!first) fail(file, line, 'empty step', 'write a verb such as open, oplock, lock');
  const verb = canonicalVerb(first.text);
  if (!verb) {
    const guess = suggest(first.text, [...STEP_VERBS]);
    fail(
      file,
      line,
      `unknown step '${first.text}'`,
      guess ? `did you mean '${guess}'?` : `use one of ${STEP_VERBS.join(', ')}`,
    );
  }
  const entries: LEntry[] = [];
  const put = (key: string, value: unknown, quoted = false) => {
    if (entries.some((e) => e.key === key)) {
      fail(file, line, `'${key}' is given twice`, 'give each argument once');
    }
    entries.push({ key, line, value: { kind: 'scalar', line, value, quoted } });
  };
  const positional: Token[] = [];
  const flags: string[] = [];
  for (const token of tokens) {
    const eq = token.quoted ? -1 : token.text.indexOf('=');
    if (eq > 0) {
      const rawKey = token.text.slice(0, eq);
      const key =
        verb === 'open' && rawKey.toLowerCase() === 'key'
          ? 'oplockKey'
          : (KEY_ALIASES[rawKey.toLowerCase()] ?? rawKey);
      const value = token.text.slice(eq + 1);
      put(key, value === 'true' ? true : value === 'false' ? false : value);
    } else if (
      !token.quoted &&
      /^[a-z][a-z0-9-]*$/i.test(token.text) &&
      isFlagWord(verb, token.text)
    ) {
      flags.push(token.text.toLowerCase());
    } else {
      positional.push(token);
    }
  }
  const take = (names: readonly string[]) => {
    for (const name of names) {
      const token = positional.shift();
      if (!token) return;
      put(name, token.text, token.quoted);
    }
  };
  const extra = () => {
    if (positional.length > 0) {
      fail(
        file,
        line,
        `unexpected argument '${positional[0]?.text}' for ${verb}`,
        `see "help ${verb}" or docs/scenarios.md`,
      );
    }
  };
  switch (verb) {
    case 'open':
      take(['open', 'path', 'access']);
      break;
    case 'oplock':
      take(['oplock', 'level']);
      break;
    case 'ack': {
      take(['ack']);
      const next = positional[0];
      if (next && !next.quoted) {
        const lower = next.text.toLowerCase();
        const kind =
          lower === 'no-2' || lower === 'no2' || lower === 'ack-no-2'
            ? 'ack-no-2'
            : lower === 'close-pending' || lower === 'ack-close-pending'
              ? 'ack-close-pending'
              : lower === 'acknowledge' || lower === 'legacy'
                ? 'acknowledge'
                : undefined;
        positional.shift();
        if (kind) put('kind', kind);
        else put('level', next.text);
      }
      break;
    }
    case 'read':
      take(['read', 'offset', 'length']);
      break;
    case 'write': {
      take(['write', 'offset']);
      const data = positional.shift();
      if (data) {
        if (!data.quoted && /^(0x[0-9a-f]+|\d+)$/i.test(data.text)) put('length', data.text);
        else put('data', data.text, true);
      }
      break;
    }
    case 'lock':
    case 'unlock':
      take([verb, 'offset', 'length']);
      break;
    case 'unlock-all-by-key':
      take(['unlock-all-by-key', 'key']);
      break;
    case 'set-information': {
      take(['set-information']);
      const what = positional.shift();
      if (what) {
        const w = what.text.toLowerCase();
        if (w === 'eof' || w === 'end-of-file' || w === 'endoffile') take(['endOfFile']);
        else if (w === 'alloc' || w === 'allocation') take(['allocation']);
        else if (w === 'rename') take(['rename']);
        else if (w === 'delete') {
          const arg = positional[0];
          if (arg && (arg.text === 'true' || arg.text === 'false')) {
            positional.shift();
            put('delete', arg.text === 'true');
          } else put('delete', true);
        } else {
          fail(
            file,
            line,
            `unknown information class '${what.text}'`,
            'use eof <size>, allocation <size>, rename <target> [replace] or delete [true|false]',
          );
        }
      }
      break;
    }
    case 'wait': {
      const targets = positional.splice(0).map((t) => ({
        kind: 'scalar' as const,
        line,
        value: t.text,
      }));
      entries.push({ key: 'wait', line, value: { kind: 'seq', line, items: targets } });
      break;
    }
    default:
      take([verb]);
  }
  extra();
  for (const flag of flags) {
    switch (flag) {
      case 'sync':
      case 'synchronous':
        put('synchronous', true);
        break;
      case 'overlapped':
        put('overlapped', true);
        break;
      case 'excl':
      case 'exclusive':
        put('exclusive', true);
        break;
      case 'shared':
      case 'share':
        put('exclusive', false);
        break;
      case 'wait':
        put('wait', true);
        break;
      case 'ack-on-close':
        put('completeAckOnClose', true);
        break;
      case 'replace':
        put('replaceIfExists', true);
        break;
    }
  }
  return { kind: 'map', line, entries };
}

function isFlagWord(verb: StepVerb, word: string): boolean {
  const w = word.toLowerCase();
  switch (verb) {
    case 'open':
      return w === 'sync' || w === 'synchronous' || w === 'overlapped';
    case 'lock':
      return w === 'excl' || w === 'exclusive' || w === 'shared' || w === 'share' || w === 'wait';
    case 'oplock':
    case 'ack':
      return w === 'ack-on-close';
    case 'set-information':
      return w === 'replace';
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Steps.
// ---------------------------------------------------------------------------------------------

const COMMON_KEYS = ['id', 'note', 'expect'];
const IO_KEYS = ['key', 'process'];
const VERB_KEYS: Record<StepVerb, readonly string[]> = {
  open: [
    'path',
    'access',
    'share',
    'disposition',
    'options',
    'overlapped',
    'synchronous',
    'oplockKey',
    'process',
    'allocationSize',
  ],
  close: [],
  oplock: ['level', 'completeAckOnClose'],
  ack: ['kind', 'level', 'completeAckOnClose'],
  'break-notify': [],
  read: ['offset', 'length', ...IO_KEYS],
  write: ['offset', 'length', 'data', ...IO_KEYS],
  lock: ['offset', 'length', 'exclusive', 'shared', 'wait', ...IO_KEYS],
  unlock: ['offset', 'length', ...IO_KEYS],
  'unlock-all': ['process'],
  'unlock-all-by-key': IO_KEYS,
  'set-information': ['endOfFile', 'allocation', 'rename', 'replaceIfExists', 'delete'],
  flush: [],
  cancel: [],
  wait: ['timeout'],
  sleep: [],
};

const EXPECT_KEYS = [
  'status',
  'information',
  'pending',
  'bytes',
  'data',
  'level',
  'ackRequired',
  'breaks',
  'completes',
  'exact',
];

interface HandleState {
  readonly openLine: number;
  readonly openStep: string;
  closedLine?: number;
}

/**
 * Validates steps one at a time, keeping track of handles and step ids. The parser uses it for
 * files and the shell for each command it reads.
 */
export class StepValidator {
  readonly steps: Step[] = [];
  private readonly handles = new Map<string, HandleState>();
  private readonly r: Reader;

  constructor(readonly file: string) {
    this.r = new Reader(file);
  }

  /** Handle names currently open (declared by an open step and not closed). */
  openHandles(): string[] {
    return [...this.handles].filter(([, s]) => s.closedLine === undefined).map(([n]) => n);
  }

  /** Validate one step (mapping form, compact string, or { do: ... }) and append it. */
  add(node: LNode): Step {
    const step = this.build(node);
    this.steps.push(step);
    return step;
  }

  /** Validate without appending (the shell checks a command before running it). */
  check(node: LNode): Step {
    const saved = new Map([...this.handles].map(([k, v]) => [k, { ...v }]));
    try {
      return this.build(node);
    } finally {
      this.handles.clear();
      for (const [k, v] of saved) this.handles.set(k, v);
    }
  }

  private build(input: LNode): Step {
    let node = input;
    if (node.kind === 'scalar' && typeof node.value === 'string') {
      node = parseCommand(node.value, this.file, node.line);
    }
    const entries0 = this.r.map(node, 'a step');
    let entries = entries0;
    const doEntry = get(entries0, 'do');
    if (doEntry) {
      const command = this.r.string(doEntry.value, "'do'");
      const parsed = parseCommand(command, this.file, doEntry.line);
      const rest = entries0.filter((e) => e.key !== 'do');
      this.r.checkKeys(rest, COMMON_KEYS, "a step written with 'do'");
      entries = [...(parsed.kind === 'map' ? parsed.entries : []), ...rest];
    }
    let verbs = entries.filter((e) => (STEP_VERBS as readonly string[]).includes(e.key));
    if (verbs.length > 1) {
      // A verb name can also be a field of another verb ("wait: true" in a lock step).
      const owners = verbs.filter((v) =>
        verbs.every((o) => o === v || VERB_KEYS[v.key as StepVerb].includes(o.key)),
      );
      if (owners.length === 1) verbs = owners;
    }
    if (verbs.length === 0) {
      const guess = entries
        .map((e) => suggest(e.key, [...STEP_VERBS]))
        .find((g) => g !== undefined);
      this.r.fail(
        node.line,
        'step has no verb',
        guess ? `did you mean '${guess}'?` : `start it with one of ${STEP_VERBS.join(', ')}`,
      );
    }
    if (verbs.length > 1) {
      this.r.fail(
        verbs[1]?.line ?? node.line,
        `step has two verbs, '${verbs[0]?.key}' and '${verbs[1]?.key}'`,
        'write one step per operation',
      );
    }
    const verbEntry = verbs[0] as LEntry;
    const verb = verbEntry.key as StepVerb;
    this.r.checkKeys(entries, [verb, ...COMMON_KEYS, ...VERB_KEYS[verb]], `a ${verb} step`);
    const index = this.steps.length;
    const idEntry = get(entries, 'id');
    const id = idEntry ? this.r.string(idEntry.value, 'id') : String(index + 1);
    if (idEntry) {
      if (/^\d+$/.test(id)) {
        this.r.fail(idEntry.line, `id '${id}' looks like a step number`, 'use a name such as o1');
      }
      if (this.steps.some((s) => s.id === id)) {
        this.r.fail(
          idEntry.line,
          `id '${id}' is used by an earlier step`,
          'give each step its own id',
        );
      }
    }
    const noteEntry = get(entries, 'note');
    const line = verbEntry.line || node.line;
    const common = {
      index,
      id,
      line,
      ...(noteEntry ? { note: this.r.string(noteEntry.value, 'note') } : {}),
    };
    const step = this.buildVerb(verb, verbEntry, entries, common);
    const expectEntry = get(entries, 'expect');
    if (expectEntry) {
      const expect = this.expectation(expectEntry.value, step);
      return { ...step, expect } as Step;
    }
    return step;
  }

  private handleName(entry: LEntry): string {
    const name = this.r.string(entry.value, `the handle of ${entry.key}`);
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
      this.r.fail(entry.line, `'${name}' is not a handle name`, 'use a name such as h1');
    }
    return name;
  }

  /** A handle the step uses: declared by an earlier open and not closed. */
  private useHandle(entry: LEntry): string {
    const name = this.handleName(entry);
    const state = this.handles.get(name);
    if (!state) {
      this.r.fail(entry.line, `unknown handle '${name}'`, 'declare it with an open step first');
    }
    if (state.closedLine !== undefined) {
      this.r.fail(
        entry.line,
        `handle '${name}' was closed at line ${state.closedLine}`,
        `open it again before using it`,
      );
    }
    return name;
  }

  /** An earlier step, by id or 1-based number. */
  resolveRef(node: LNode, what: string): Step {
    const value = this.r.string(node, what);
    const byNumber = /^\d+$/.test(value) ? this.steps[Number(value) - 1] : undefined;
    const step = byNumber ?? this.steps.find((s) => s.id === value);
    if (!step) {
      this.r.fail(
        node.line,
        `unknown step '${value}'`,
        'refer to an earlier step by its id or its number (1 is the first step)',
      );
    }
    return step;
  }

  private optional<T>(
    entries: readonly LEntry[],
    key: string,
    read: (e: LEntry) => T,
  ): T | undefined {
    const entry = get(entries, key);
    return entry ? read(entry) : undefined;
  }

  private buildVerb(
    verb: StepVerb,
    verbEntry: LEntry,
    entries: readonly LEntry[],
    common: { index: number; id: string; line: number; note?: string },
  ): Step {
    const r: Reader = this.r;
    const u64 = (key: string, what = key) =>
      this.optional(entries, key, (e) => r.u64(e.value, what));
    const u32 = (key: string, what = key) =>
      this.optional(entries, key, (e) => r.u32(e.value, what));
    const bool = (key: string) => this.optional(entries, key, (e) => r.bool(e.value, key));
    const proc = () =>
      this.optional(entries, 'process', (e) => r.int(e.value, 'process', 1, 0xffff));
    const required = <T>(value: T | undefined, key: string, example: string): T => {
      if (value === undefined) {
        r.fail(common.line, `${verb} needs '${key}'`, `add ${key}: ${example}`);
      }
      return value as T;
    };
    const io = () => {
      const key = u32('key');
      const process = proc();
      return {
        ...(key !== undefined ? { key } : {}),
        ...(process !== undefined ? { process } : {}),
      };
    };
    switch (verb) {
      case 'open': {
        const handle = this.handleName(verbEntry);
        const existing = this.handles.get(handle);
        if (existing && existing.closedLine === undefined) {
          r.fail(
            verbEntry.line,
            `handle '${handle}' is already open (line ${existing.openLine})`,
            'close it first or use another name',
          );
        }
        const path = required(
          this.optional(entries, 'path', (e) => r.string(e.value, 'path')),
          'path',
          'file.txt',
        );
        const access = this.optional(entries, 'access', (e) =>
          located(this.file, e.line, () => parseAccess(r.words(e.value, 'access'))),
        );
        const share = this.optional(entries, 'share', (e) =>
          located(this.file, e.line, () => parseShare(r.words(e.value, 'share'))),
        );
        const disposition = this.optional(entries, 'disposition', (e) =>
          located(this.file, e.line, () => parseDisposition(r.string(e.value, 'disposition'))),
        );
        const options = this.optional(entries, 'options', (e) =>
          located(this.file, e.line, () => parseCreateOptions(r.words(e.value, 'options'))),
        );
        const overlapped = bool('overlapped');
        const synchronous = bool('synchronous');
        if (overlapped !== undefined && synchronous !== undefined && overlapped === synchronous) {
          r.fail(common.line, 'overlapped and synchronous contradict each other', 'give only one');
        }
        const oplockKey = this.optional(entries, 'oplockKey', (e) => {
          const text = r.string(e.value, 'oplockKey');
          if (!/^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i.test(text)) {
            r.fail(
              e.line,
              `oplockKey '${text}' is not a GUID`,
              'write it as 8-4-4-4-12 hex digits',
            );
          }
          return text.replace(/[{}]/g, '').toLowerCase();
        });
        const process = proc();
        const allocationSize = u64('allocationSize', 'allocation size');
        this.handles.set(handle, { openLine: verbEntry.line, openStep: common.id });
        const ov =
          synchronous !== undefined
            ? !synchronous
            : overlapped !== undefined
              ? overlapped
              : undefined;
        return {
          ...common,
          verb,
          handle,
          path: normalizePath(path, this.file, common.line),
          ...(access !== undefined ? { access } : {}),
          ...(share !== undefined ? { share } : {}),
          ...(disposition !== undefined ? { disposition } : {}),
          ...(options !== undefined ? { options } : {}),
          ...(ov !== undefined ? { overlapped: ov } : {}),
          ...(oplockKey !== undefined ? { oplockKey } : {}),
          ...(process !== undefined ? { process } : {}),
          ...(allocationSize !== undefined ? { allocationSize } : {}),
        };
      }
      case 'close': {
        const handle = this.useHandle(verbEntry);
        const state = this.handles.get(handle);
        if (state) state.closedLine = verbEntry.line;
        return { ...common, verb, handle };
      }
      case 'oplock': {
        const handle = this.useHandle(verbEntry);
        const level = required(
          this.optional(entries, 'level', (e) => this.level(e.value)),
          'level',
          'RWH',
        );
        if (level === 'NONE') {
          r.fail(
            get(entries, 'level')?.line ?? common.line,
            'cannot request an oplock at level NONE',
            'use LEVEL1, LEVEL2, BATCH, FILTER, R, RW, RH or RWH',
          );
        }
        const completeAckOnClose = bool('completeAckOnClose');
        if (completeAckOnClose !== undefined && isLegacyLevel(level)) {
          r.fail(
            common.line,
            'completeAckOnClose applies to Windows 7 levels (R, RW, RH, RWH) only',
            'remove it or request a Windows 7 level',
          );
        }
        return {
          ...common,
          verb,
          handle,
          level,
          ...(completeAckOnClose !== undefined ? { completeAckOnClose } : {}),
        };
      }
      case 'ack': {
        const handle = this.useHandle(verbEntry);
        const kindEntry = get(entries, 'kind');
        const levelEntry = get(entries, 'level');
        let kind: AckKind = 'acknowledge';
        let level: Win7OplockLevel | 'NONE' | undefined;
        if (kindEntry && levelEntry) {
          r.fail(kindEntry.line, 'give either kind (legacy) or level (Windows 7), not both');
        }
        if (kindEntry) {
          const k = r.string(kindEntry.value, 'kind');
          if (k !== 'acknowledge' && k !== 'ack-no-2' && k !== 'ack-close-pending') {
            r.fail(
              kindEntry.line,
              `unknown acknowledgement '${k}'`,
              'use acknowledge, ack-no-2 or ack-close-pending',
            );
          }
          kind = k;
        }
        if (levelEntry) {
          const l = this.level(levelEntry.value);
          if (l !== 'NONE' && !isWin7Level(l)) {
            r.fail(
              levelEntry.line,
              `cannot acknowledge to ${l}`,
              'a Windows 7 acknowledgement names R, RW, RH, RWH or NONE; legacy breaks use kind: acknowledge',
            );
          }
          kind = 'ack';
          level = l;
        }
        const completeAckOnClose = bool('completeAckOnClose');
        if (completeAckOnClose !== undefined && kind !== 'ack') {
          r.fail(
            common.line,
            'completeAckOnClose applies to Windows 7 acknowledgements only',
            'add a level',
          );
        }
        return {
          ...common,
          verb,
          handle,
          kind,
          ...(level !== undefined ? { level } : {}),
          ...(completeAckOnClose !== undefined ? { completeAckOnClose } : {}),
        };
      }
      case 'break-notify':
      case 'flush':
        return { ...common, verb, handle: this.useHandle(verbEntry) };
      case 'read': {
        const handle = this.useHandle(verbEntry);
        const length = required(u64('length'), 'length', '100');
        if (length > BigInt(MAX_IO_LENGTH)) {
          r.fail(
            common.line,
            `read length ${length} is larger than 16 MiB`,
            'read a smaller range',
          );
        }
        return {
          ...common,
          verb,
          handle,
          offset: u64('offset') ?? 0n,
          length: Number(length),
          ...io(),
        };
      }
      case 'write': {
        const handle = this.useHandle(verbEntry);
        const length = u64('length');
        const data = this.optional(entries, 'data', (e) => {
          const v = r.scalar(e.value, 'data');
          return typeof v === 'string' ? v : String(v);
        });
        if (length !== undefined && data !== undefined) {
          r.fail(common.line, 'give either length or data, not both', 'remove one');
        }
        if (length === undefined && data === undefined) {
          r.fail(common.line, "write needs 'length' or 'data'", 'add length: 100 or data: "text"');
        }
        if (length !== undefined && length > BigInt(MAX_IO_LENGTH)) {
          r.fail(
            common.line,
            `write length ${length} is larger than 16 MiB`,
            'write a smaller range',
          );
        }
        return {
          ...common,
          verb,
          handle,
          offset: u64('offset') ?? 0n,
          data: data ?? Number(length),
          ...io(),
        };
      }
      case 'lock': {
        const handle = this.useHandle(verbEntry);
        const offset = required(u64('offset'), 'offset', '0');
        const length = required(u64('length'), 'length', '100');
        const exclusive = bool('exclusive');
        const shared = bool('shared');
        if (exclusive !== undefined && shared !== undefined && exclusive === shared) {
          r.fail(common.line, 'exclusive and shared contradict each other', 'give only one');
        }
        return {
          ...common,
          verb,
          handle,
          offset,
          length,
          exclusive: exclusive ?? (shared === undefined ? true : !shared),
          wait: bool('wait') ?? false,
          ...io(),
        };
      }
      case 'unlock': {
        const handle = this.useHandle(verbEntry);
        return {
          ...common,
          verb,
          handle,
          offset: required(u64('offset'), 'offset', '0'),
          length: required(u64('length'), 'length', '100'),
          ...io(),
        };
      }
      case 'unlock-all': {
        const handle = this.useHandle(verbEntry);
        const process = proc();
        return { ...common, verb, handle, ...(process !== undefined ? { process } : {}) };
      }
      case 'unlock-all-by-key': {
        const handle = this.useHandle(verbEntry);
        const key = required(u32('key'), 'key', '1');
        const process = proc();
        return { ...common, verb, handle, key, ...(process !== undefined ? { process } : {}) };
      }
      case 'set-information': {
        const handle = this.useHandle(verbEntry);
        const classes = ['endOfFile', 'allocation', 'rename', 'delete'].filter((k) =>
          get(entries, k),
        );
        if (classes.length !== 1) {
          r.fail(
            common.line,
            classes.length === 0
              ? 'set-information needs one of endOfFile, allocation, rename, delete'
              : `set-information sets one class at a time, not ${classes.join(' and ')}`,
            'write one of endOfFile: 100, allocation: 4096, rename: new.txt, delete: true',
          );
        }
        let info: SetInformation;
        const replace = bool('replaceIfExists');
        if (replace !== undefined && classes[0] !== 'rename') {
          r.fail(common.line, 'replaceIfExists goes with rename', 'remove it');
        }
        switch (classes[0]) {
          case 'endOfFile':
            info = { class: 'end-of-file', size: u64('endOfFile', 'end of file') ?? 0n };
            break;
          case 'allocation':
            info = { class: 'allocation', size: u64('allocation', 'allocation size') ?? 0n };
            break;
          case 'rename': {
            const target = this.optional(entries, 'rename', (e) => r.string(e.value, 'rename'));
            info = {
              class: 'rename',
              target: normalizePath(target ?? '', this.file, common.line),
              replaceIfExists: replace ?? false,
            };
            break;
          }
          default:
            info = { class: 'disposition', deleteFile: bool('delete') ?? true };
        }
        return { ...common, verb, handle, info };
      }
      case 'cancel': {
        const target = this.resolveRef(verbEntry.value, 'the step to cancel');
        return { ...common, verb, target: target.id };
      }
      case 'wait': {
        const value = verbEntry.value;
        const items = value.kind === 'seq' ? value.items : [value];
        if (items.length === 0) {
          r.fail(common.line, 'wait needs the steps to wait for', 'write wait: <step id>');
        }
        const targets = items.map((item) => this.resolveRef(item, 'the step to wait for').id);
        const timeoutMs = this.optional(entries, 'timeout', (e) =>
          r.int(e.value, 'timeout', 0, 3_600_000),
        );
        return { ...common, verb, targets, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
      }
      case 'sleep':
        return { ...common, verb, ms: r.int(verbEntry.value, 'sleep', 0, 60_000) };
    }
  }

  private level(node: LNode): OplockLevel {
    const text = this.r.string(node, 'level');
    return located(this.file, node.line, () => parseOplockLevel(text));
  }

  private status(node: LNode, what: string): StatusExpectation {
    const one = (n: LNode): number | 'success' | 'failure' => {
      const value = this.r.scalar(n, what);
      if (typeof value === 'bigint' || typeof value === 'number') {
        const v = BigInt(value);
        if (v < 0n || v > 0xffffffffn) this.r.fail(n.line, `${what} ${v} is not a 32-bit NTSTATUS`);
        return Number(v);
      }
      const text = this.r.string(n, what).trim();
      const lower = text.toLowerCase();
      if (lower === 'success' || lower === 'failure') return lower;
      if (/^0x[0-9a-f]{1,8}$/i.test(text)) return Number.parseInt(text, 16) >>> 0;
      const info = ntStatusByName(text.toUpperCase());
      if (!info) {
        this.r.fail(
          n.line,
          `unknown NTSTATUS '${text}'`,
          'use a name such as STATUS_SHARING_VIOLATION, a hex code such as 0xC0000043, success or failure',
        );
      }
      return info.code;
    };
    const items = node.kind === 'seq' ? node.items : [node];
    if (items.length === 0)
      this.r.fail(node.line, `${what} is an empty list`, 'list at least one status');
    const values = items.map(one);
    if (values.length === 1 && (values[0] === 'success' || values[0] === 'failure')) {
      return { kind: values[0] };
    }
    if (values.some((v) => typeof v !== 'number')) {
      this.r.fail(
        node.line,
        'success and failure cannot be mixed with codes in a list',
        'list codes only',
      );
    }
    return { kind: 'codes', codes: values as number[] };
  }

  private information(node: LNode): bigint {
    const value = this.r.scalar(node, 'information');
    if (typeof value === 'string' && !/^(0x[0-9a-f]+|\d+)$/i.test(value.trim())) {
      const code = INFORMATION_NAMES[value.trim().toUpperCase()];
      if (code === undefined) {
        this.r.fail(
          node.line,
          `unknown information value '${value}'`,
          `use a number or one of ${Object.keys(INFORMATION_NAMES).join(', ')}`,
        );
      }
      return BigInt(code);
    }
    return this.r.u64(node, 'information');
  }

  private expectation(node: LNode, step: Step): Expectation {
    const r: Reader = this.r;
    const entries = r.map(node, 'expect');
    r.checkKeys(entries, EXPECT_KEYS, 'expect');
    const opt = <T>(key: string, read: (e: LEntry) => T): T | undefined =>
      this.optional(entries, key, read);
    const status = opt('status', (e) => this.status(e.value, 'status'));
    const information = opt('information', (e) => this.information(e.value));
    const pending = opt('pending', (e) => r.bool(e.value, 'pending'));
    const bytes = opt('bytes', (e) => r.u64(e.value, 'bytes'));
    const data = opt('data', (e) => String(r.scalar(e.value, 'data')));
    const level = opt('level', (e) => this.level(e.value));
    const ackRequired = opt('ackRequired', (e) => r.bool(e.value, 'ackRequired'));
    const exact = opt('exact', (e) => r.bool(e.value, 'exact')) ?? true;
    const breaks = opt('breaks', (e) =>
      this.list(e.value, 'breaks').map((b) => this.breakExpectation(b)),
    );
    const completes = opt('completes', (e) =>
      this.list(e.value, 'completes').map((c) => this.completion(c, step)),
    );
    return {
      exact,
      line: node.line,
      ...(status !== undefined ? { status } : {}),
      ...(information !== undefined ? { information } : {}),
      ...(pending !== undefined ? { pending } : {}),
      ...(bytes !== undefined ? { bytes } : {}),
      ...(data !== undefined ? { data } : {}),
      ...(level !== undefined ? { level } : {}),
      ...(ackRequired !== undefined ? { ackRequired } : {}),
      ...(breaks !== undefined ? { breaks } : {}),
      ...(completes !== undefined ? { completes } : {}),
    };
  }

  private list(node: LNode, what: string): readonly LNode[] {
    if (node.kind === 'seq') return node.items;
    if (node.kind === 'scalar' && node.value === null) return [];
    this.r.fail(node.line, `${what} must be a list`, `write ${what}: [ ... ]`);
  }

  private breakExpectation(node: LNode): BreakExpectation {
    const r: Reader = this.r;
    if (node.kind === 'scalar') {
      const handle = r.string(node, 'break');
      this.knownHandle(handle, node.line);
      return { handle, line: node.line };
    }
    const entries = r.map(node, 'a break');
    r.checkKeys(
      entries,
      ['handle', 'request', 'from', 'to', 'ackRequired', 'status', 'information'],
      'a break',
    );
    const handleEntry = get(entries, 'handle');
    if (!handleEntry) r.fail(node.line, "a break needs 'handle'", 'add handle: h1');
    const handle = r.string(handleEntry.value, 'handle');
    this.knownHandle(handle, handleEntry.line);
    const opt = <T>(key: string, read: (e: LEntry) => T): T | undefined =>
      this.optional(entries, key, read);
    const request = opt('request', (e) => {
      const step = this.resolveRef(e.value, 'request');
      if (step.verb !== 'oplock' && step.verb !== 'ack') {
        r.fail(
          e.line,
          `step '${step.id}' is a ${step.verb} step, not an oplock request`,
          'name the oplock step',
        );
      }
      if (step.handle !== handle) {
        r.fail(
          e.line,
          `step '${step.id}' requested its oplock on ${step.handle}, not ${handle}`,
          `use handle: ${step.handle}`,
        );
      }
      return step.id;
    });
    const from = opt('from', (e) => this.level(e.value));
    const to = opt('to', (e) => this.level(e.value));
    const ackRequired = opt('ackRequired', (e) => r.bool(e.value, 'ackRequired'));
    const status = opt('status', (e) => this.status(e.value, 'status'));
    const information = opt('information', (e) => this.information(e.value));
    return {
      handle,
      line: node.line,
      ...(request !== undefined ? { request } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      ...(ackRequired !== undefined ? { ackRequired } : {}),
      ...(status !== undefined ? { status } : {}),
      ...(information !== undefined ? { information } : {}),
    };
  }

  private knownHandle(name: string, line: number): void {
    if (!this.handles.has(name)) {
      this.r.fail(line, `unknown handle '${name}'`, 'declare it with an open step first');
    }
  }

  private completion(node: LNode, step: Step): CompletionExpectation {
    const r: Reader = this.r;
    if (node.kind === 'scalar') {
      return { step: this.earlier(node, step), line: node.line };
    }
    const entries = r.map(node, 'a completion');
    r.checkKeys(entries, ['step', 'status', 'information', 'bytes'], 'a completion');
    const stepEntry = get(entries, 'step');
    if (!stepEntry)
      r.fail(node.line, "a completion needs 'step'", 'add step: <id of the earlier step>');
    const opt = <T>(key: string, read: (e: LEntry) => T): T | undefined =>
      this.optional(entries, key, read);
    const status = opt('status', (e) => this.status(e.value, 'status'));
    const information = opt('information', (e) => this.information(e.value));
    const bytes = opt('bytes', (e) => r.u64(e.value, 'bytes'));
    return {
      step: this.earlier(stepEntry.value, step),
      line: node.line,
      ...(status !== undefined ? { status } : {}),
      ...(information !== undefined ? { information } : {}),
      ...(bytes !== undefined ? { bytes } : {}),
    };
  }

  private earlier(node: LNode, step: Step): string {
    const target = this.resolveRef(node, 'completes');
    if (target.index >= step.index) {
      this.r.fail(
        node.line,
        `step '${target.id}' is not earlier than this step`,
        'name an earlier step',
      );
    }
    return target.id;
  }
}

/** Scenario paths are relative, with / separators; \ is accepted and turned into /. */
export function normalizePath(path: string, file: string, line: number): string {
  const p = path.replace(/\\/g, '/').replace(/\/+$/, '');
  if (p.length === 0) fail(file, line, 'empty path', 'name a file such as data.txt');
  if (p.startsWith('/') || /^[a-z]:/i.test(p)) {
    fail(
      file,
      line,
      `path '${path}' is absolute`,
      'scenario paths are relative to the scenario root',
    );
  }
  if (p.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    fail(file, line, `path '${path}' has an empty, . or .. part`, 'write a plain relative path');
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (/[<>:"|?*\x00-\x1f]/.test(p)) {
    fail(file, line, `path '${path}' has a character Windows does not allow in names`, 'rename it');
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Whole files.
// ---------------------------------------------------------------------------------------------

const TOP_KEYS = ['name', 'description', 'setup', 'steps', 'invariants', 'backends'];

function setupEntries(r: Reader, node: LNode): SetupEntry[] {
  const entries = r.map(node, 'setup');
  r.checkKeys(entries, ['files'], 'setup');
  const files = get(entries, 'files');
  if (!files) return [];
  if (files.value.kind !== 'seq')
    r.fail(files.line, 'setup.files must be a list', 'write files: [a.txt]');
  const result: SetupEntry[] = [];
  for (const item of files.value.items) {
    let entry: SetupEntry;
    if (item.kind === 'scalar') {
      const raw = r.string(item, 'a setup file');
      entry = {
        path: normalizePath(raw, r.file, item.line),
        directory: /[/\\]$/.test(raw),
        size: 0n,
        line: item.line,
      };
    } else {
      const e = r.map(item, 'a setup file');
      r.checkKeys(e, ['path', 'size', 'data', 'directory'], 'a setup file');
      const pathEntry = get(e, 'path');
      if (!pathEntry) r.fail(item.line, "a setup file needs 'path'", 'add path: data.txt');
      const raw = r.string(pathEntry.value, 'path');
      const dirEntry = get(e, 'directory');
      const directory = dirEntry ? r.bool(dirEntry.value, 'directory') : /[/\\]$/.test(raw);
      const dataEntry = get(e, 'data');
      const data = dataEntry ? String(r.scalar(dataEntry.value, 'data')) : undefined;
      const sizeEntry = get(e, 'size');
      const size = sizeEntry
        ? r.u64(sizeEntry.value, 'size')
        : BigInt(Buffer.byteLength(data ?? ''));
      if (size > MAX_SETUP_SIZE) {
        r.fail(
          sizeEntry?.line ?? item.line,
          `size ${size} is larger than 1 GiB`,
          'use a smaller file; set-information endOfFile can grow it',
        );
      }
      if (directory && (sizeEntry || dataEntry)) {
        r.fail(item.line, 'a directory has no size or data', 'remove size and data');
      }
      if (data !== undefined && sizeEntry && size !== BigInt(Buffer.byteLength(data))) {
        r.fail(sizeEntry.line, 'size and data disagree', 'give only data (the size follows)');
      }
      entry = {
        path: normalizePath(raw, r.file, item.line),
        directory,
        size,
        line: item.line,
        ...(data !== undefined ? { data } : {}),
      };
    }
    if (result.some((x) => x.path.toLowerCase() === entry.path.toLowerCase())) {
      r.fail(entry.line, `'${entry.path}' is set up twice`, 'list each path once');
    }
    result.push(entry);
  }
  for (const entry of result) {
    const slash = entry.path.lastIndexOf('/');
    if (slash < 0) continue;
    const parent = entry.path.slice(0, slash).toLowerCase();
    const dir = result.find((x) => x.path.toLowerCase() === parent);
    if (!dir?.directory) {
      r.fail(
        entry.line,
        `the directory '${entry.path.slice(0, slash)}' of '${entry.path}' is not set up`,
        `add ${entry.path.slice(0, slash)}/ to setup.files, before it`,
      );
    }
  }
  return result;
}

/** Parse scenario text (YAML or JSON). `file` is used in messages only. */
export function parseScenario(text: string, file: string): Scenario {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, intAsBigInt: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line ?? 0;
    const message =
      first.message
        .split(/ at line \d+/)[0]
        ?.replace(/\s+/g, ' ')
        .trim() ?? 'syntax error';
    fail(
      file,
      line,
      `malformed ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${message}`,
      'fix the syntax (YAML, or JSON)',
    );
  }
  const root = toLNode(doc.contents, lc, file);
  const r: Reader = new Reader(file);
  if (root.kind === 'scalar' && root.value === null) {
    fail(file, 0, 'the scenario is empty', 'add steps: [...] (see docs/scenarios.md)');
  }
  const top = r.map(root, 'a scenario');
  r.checkKeys(top, TOP_KEYS, 'the scenario');
  const stepsEntry = get(top, 'steps');
  if (!stepsEntry)
    fail(
      file,
      root.line || 1,
      "the scenario has no 'steps'",
      'add steps: [...] (see docs/scenarios.md)',
    );
  if (stepsEntry.value.kind !== 'seq')
    r.fail(stepsEntry.line, 'steps must be a list', 'write each step as "- verb: ..."');
  const validator = new StepValidator(file);
  const setupEntry = get(top, 'setup');
  const setup = setupEntry ? setupEntries(r, setupEntry.value) : [];
  for (const item of stepsEntry.value.items) validator.add(item);
  const nameEntry = get(top, 'name');
  const descEntry = get(top, 'description');
  const invEntry = get(top, 'invariants');
  const backendsEntry = get(top, 'backends');
  let backends: BackendName[] | undefined;
  if (backendsEntry) {
    const items =
      backendsEntry.value.kind === 'seq' ? backendsEntry.value.items : [backendsEntry.value];
    backends = items.map((item) => {
      const b = r.string(item, 'backend');
      if (b !== 'model' && b !== 'windows' && b !== 'remote') {
        r.fail(item.line, `unknown backend '${b}'`, 'use model, windows or remote');
      }
      return b;
    });
  }
  return {
    name: nameEntry ? r.string(nameEntry.value, 'name') : basename(file, extname(file)),
    file,
    setup,
    steps: validator.steps,
    invariants: invEntry ? r.bool(invEntry.value, 'invariants') : false,
    ...(descEntry ? { description: r.string(descEntry.value, 'description') } : {}),
    ...(backends ? { backends } : {}),
  };
}

/** Read and parse a scenario file; a missing or unreadable file is a ScenarioError too. */
export async function loadScenario(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail(path, 0, 'no such file', 'check the path');
    if (code === 'EISDIR') fail(path, 0, 'is a directory', 'name scenario files (e.g. dir/*.yaml)');
    fail(path, 0, `cannot read it (${code ?? String(error)})`, 'check the path and permissions');
  }
  return parseScenario(text, path);
}
