/**
 * Scenario objects back to text: a step in the shell syntax ("lock h1 0 100 excl wait"), status
 * expectations, and whole scenarios as YAML (shell `save`, fuzz reproductions).
 */

import { stringify } from 'yaml';
import {
  AccessAlias,
  CreateOption,
  type CreateOptionName,
  dispositionName,
  ShareMode,
} from '../bridge/flags.js';
import { formatNtStatus, ntStatusName } from '../bridge/ntstatus.js';
import type {
  BreakExpectation,
  CompletionExpectation,
  Expectation,
  Scenario,
  StatusExpectation,
  Step,
} from './schema.js';

/** Access mask as the names a user would write (read, write, delete ...), or hex. */
export function accessText(mask: number): string {
  for (const [name, value] of Object.entries(AccessAlias)) if (value === mask) return name;
  const parts: ('read' | 'write' | 'execute' | 'delete')[] = [];
  const m = mask >>> 0;
  for (const name of ['read', 'write', 'execute', 'delete'] as const) {
    const bits = AccessAlias[name];
    if ((m & bits) === bits) parts.push(name);
  }
  const covered = parts.reduce((acc, n) => acc | AccessAlias[n], 0) >>> 0;
  if (parts.length > 0 && covered === m) return parts.join(',');
  return `0x${m.toString(16).padStart(8, '0')}`;
}

export function shareText(mask: number): string {
  if (mask === 0) return 'none';
  const parts: string[] = [];
  if (mask & ShareMode.FILE_SHARE_READ) parts.push('read');
  if (mask & ShareMode.FILE_SHARE_WRITE) parts.push('write');
  if (mask & ShareMode.FILE_SHARE_DELETE) parts.push('delete');
  return parts.join(',');
}

export function optionsText(mask: number): string {
  const names: string[] = [];
  let rest = mask >>> 0;
  for (const [name, bit] of Object.entries(CreateOption) as [CreateOptionName, number][]) {
    if (rest & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names.join(',');
}

/** The status expectation as written: "STATUS_SUCCESS", "success", "STATUS_A | STATUS_B". */
export function statusExpectationText(s: StatusExpectation): string {
  if (s.kind !== 'codes') return s.kind;
  return s.codes.map((c) => ntStatusName(c)).join(' | ');
}

export function statusText(code: number | undefined): string {
  return code === undefined ? '-' : formatNtStatus(code);
}

function quote(text: string): string {
  return /^[^\s"'#=]+$/.test(text) ? text : `"${text.replace(/"/g, "'")}"`;
}

/** One step in the shell syntax (no expectations). */
export function stepCommand(step: Step): string {
  const io = (s: { key?: number; process?: number }) =>
    `${s.key !== undefined ? ` key=${s.key}` : ''}${s.process !== undefined ? ` process=${s.process}` : ''}`;
  switch (step.verb) {
    case 'open': {
      const parts = [`open ${step.handle} ${quote(step.path)}`];
      if (step.access !== undefined) parts.push(accessText(step.access));
      if (step.share !== undefined) parts.push(`share=${shareText(step.share)}`);
      if (step.disposition !== undefined) parts.push(`disp=${dispositionName(step.disposition)}`);
      if (step.options !== undefined && step.options !== 0)
        parts.push(`opts=${optionsText(step.options)}`);
      if (step.overlapped === false) parts.push('sync');
      if (step.oplockKey !== undefined) parts.push(`key=${step.oplockKey}`);
      if (step.process !== undefined) parts.push(`process=${step.process}`);
      if (step.allocationSize !== undefined) parts.push(`alloc=${step.allocationSize}`);
      return parts.join(' ');
    }
    case 'close':
    case 'break-notify':
    case 'flush':
      return `${step.verb} ${step.handle}`;
    case 'oplock':
      return `oplock ${step.handle} ${step.level}${step.completeAckOnClose ? ' ack-on-close' : ''}`;
    case 'ack': {
      const what =
        step.kind === 'ack'
          ? ` ${step.level}`
          : step.kind === 'ack-no-2'
            ? ' no-2'
            : step.kind === 'ack-close-pending'
              ? ' close-pending'
              : '';
      return `ack ${step.handle}${what}${step.completeAckOnClose ? ' ack-on-close' : ''}`;
    }
    case 'read':
      return `read ${step.handle} ${step.offset} ${step.length}${io(step)}`;
    case 'write': {
      const data = typeof step.data === 'number' ? String(step.data) : `"${step.data}"`;
      return `write ${step.handle} ${step.offset} ${data}${io(step)}`;
    }
    case 'lock':
      return `lock ${step.handle} ${step.offset} ${step.length} ${step.exclusive ? 'excl' : 'shared'}${step.wait ? ' wait' : ''}${io(step)}`;
    case 'unlock':
      return `unlock ${step.handle} ${step.offset} ${step.length}${io(step)}`;
    case 'unlock-all':
      return `unlock-all ${step.handle}${io(step)}`;
    case 'unlock-all-by-key':
      return `unlock-all-by-key ${step.handle} ${step.key}${step.process !== undefined ? ` process=${step.process}` : ''}`;
    case 'set-information': {
      const i = step.info;
      const what =
        i.class === 'end-of-file'
          ? `eof ${i.size}`
          : i.class === 'allocation'
            ? `allocation ${i.size}`
            : i.class === 'rename'
              ? `rename ${quote(i.target)}${i.replaceIfExists ? ' replace' : ''}`
              : `delete ${i.deleteFile}`;
      return `set-information ${step.handle} ${what}`;
    }
    case 'cancel':
      return `cancel ${step.target}`;
    case 'wait':
      return `wait ${step.targets.join(' ')}${step.timeoutMs !== undefined ? ` timeout=${step.timeoutMs}` : ''}`;
    case 'sleep':
      return `sleep ${step.ms}`;
  }
}

export function breakExpectationText(b: BreakExpectation): string {
  const parts = [b.handle];
  if (b.request !== undefined) parts.push(`(step ${b.request})`);
  if (b.from !== undefined || b.to !== undefined) parts.push(`${b.from ?? '?'}→${b.to ?? '?'}`);
  if (b.ackRequired !== undefined) parts.push(b.ackRequired ? 'ack required' : 'no ack');
  if (b.status !== undefined) parts.push(statusExpectationText(b.status));
  if (b.information !== undefined) parts.push(`info=${b.information}`);
  return parts.join(' ');
}

export function completionExpectationText(c: CompletionExpectation): string {
  const parts = [`step ${c.step}`];
  if (c.status !== undefined) parts.push(statusExpectationText(c.status));
  if (c.information !== undefined) parts.push(`info=${c.information}`);
  if (c.bytes !== undefined) parts.push(`${c.bytes} bytes`);
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------
// YAML.
// ---------------------------------------------------------------------------------------------

type Plain = string | number | boolean | bigint | Plain[] | { [key: string]: Plain };

function u64(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

function statusPlain(s: StatusExpectation): Plain {
  if (s.kind !== 'codes') return s.kind;
  const names = s.codes.map((c) => ntStatusName(c));
  return names.length === 1 ? (names[0] as string) : names;
}

function expectationPlain(e: Expectation): { [key: string]: Plain } {
  const out: { [key: string]: Plain } = {};
  if (e.status) out.status = statusPlain(e.status);
  if (e.information !== undefined) out.information = u64(e.information);
  if (e.pending !== undefined) out.pending = e.pending;
  if (e.bytes !== undefined) out.bytes = u64(e.bytes);
  if (e.data !== undefined) out.data = e.data;
  if (e.level !== undefined) out.level = e.level;
  if (e.ackRequired !== undefined) out.ackRequired = e.ackRequired;
  if (e.breaks) {
    out.breaks = e.breaks.map((b) => {
      const o: { [key: string]: Plain } = { handle: b.handle };
      if (b.request !== undefined) o.request = b.request;
      if (b.from !== undefined) o.from = b.from;
      if (b.to !== undefined) o.to = b.to;
      if (b.ackRequired !== undefined) o.ackRequired = b.ackRequired;
      if (b.status) o.status = statusPlain(b.status);
      if (b.information !== undefined) o.information = u64(b.information);
      return o;
    });
  }
  if (e.completes) {
    out.completes = e.completes.map((c) => {
      const o: { [key: string]: Plain } = { step: c.step };
      if (c.status) o.status = statusPlain(c.status);
      if (c.information !== undefined) o.information = u64(c.information);
      if (c.bytes !== undefined) o.bytes = u64(c.bytes);
      return o;
    });
  }
  if (!e.exact) out.exact = false;
  return out;
}

/** A step in the mapping form. `keepId` says whether to write its id. */
export function stepPlain(step: Step, keepId: boolean): { [key: string]: Plain } {
  const out: { [key: string]: Plain } = {};
  const io = (s: { key?: number; process?: number }) => {
    if (s.key !== undefined) out.key = s.key;
    if (s.process !== undefined) out.process = s.process;
  };
  switch (step.verb) {
    case 'open':
      out.open = step.handle;
      out.path = step.path;
      if (step.access !== undefined) out.access = accessText(step.access);
      if (step.share !== undefined) out.share = shareText(step.share);
      if (step.disposition !== undefined)
        out.disposition = dispositionName(step.disposition) ?? 'open';
      if (step.options !== undefined && step.options !== 0) out.options = optionsText(step.options);
      if (step.overlapped === false) out.synchronous = true;
      if (step.oplockKey !== undefined) out.oplockKey = step.oplockKey;
      if (step.process !== undefined) out.process = step.process;
      if (step.allocationSize !== undefined) out.allocationSize = u64(step.allocationSize);
      break;
    case 'close':
    case 'break-notify':
    case 'flush':
      out[step.verb] = step.handle;
      break;
    case 'oplock':
      out.oplock = step.handle;
      out.level = step.level;
      if (step.completeAckOnClose !== undefined) out.completeAckOnClose = step.completeAckOnClose;
      break;
    case 'ack':
      out.ack = step.handle;
      if (step.kind === 'ack') out.level = step.level ?? 'NONE';
      else if (step.kind !== 'acknowledge') out.kind = step.kind;
      if (step.completeAckOnClose !== undefined) out.completeAckOnClose = step.completeAckOnClose;
      break;
    case 'read':
      out.read = step.handle;
      out.offset = u64(step.offset);
      out.length = step.length;
      io(step);
      break;
    case 'write':
      out.write = step.handle;
      out.offset = u64(step.offset);
      if (typeof step.data === 'number') out.length = step.data;
      else out.data = step.data;
      io(step);
      break;
    case 'lock':
      out.lock = step.handle;
      out.offset = u64(step.offset);
      out.length = u64(step.length);
      if (!step.exclusive) out.shared = true;
      if (step.wait) out.wait = true;
      io(step);
      break;
    case 'unlock':
      out.unlock = step.handle;
      out.offset = u64(step.offset);
      out.length = u64(step.length);
      io(step);
      break;
    case 'unlock-all':
      out['unlock-all'] = step.handle;
      io(step);
      break;
    case 'unlock-all-by-key':
      out['unlock-all-by-key'] = step.handle;
      io(step);
      break;
    case 'set-information': {
      out['set-information'] = step.handle;
      const i = step.info;
      if (i.class === 'end-of-file') out.endOfFile = u64(i.size);
      else if (i.class === 'allocation') out.allocation = u64(i.size);
      else if (i.class === 'rename') {
        out.rename = i.target;
        if (i.replaceIfExists) out.replaceIfExists = true;
      } else out.delete = i.deleteFile;
      break;
    }
    case 'cancel':
      out.cancel = step.target;
      break;
    case 'wait':
      out.wait = step.targets.length === 1 ? (step.targets[0] as string) : [...step.targets];
      if (step.timeoutMs !== undefined) out.timeout = step.timeoutMs;
      break;
    case 'sleep':
      out.sleep = step.ms;
      break;
  }
  const ordered: { [key: string]: Plain } = {};
  if (keepId) ordered.id = step.id;
  if (step.note !== undefined) ordered.note = step.note;
  Object.assign(ordered, out);
  if (step.expect) ordered.expect = expectationPlain(step.expect);
  return ordered;
}

/** Step ids other steps refer to (these must be written out). */
export function referencedIds(steps: readonly Step[]): Set<string> {
  const ids = new Set<string>();
  for (const s of steps) {
    if (s.verb === 'cancel') ids.add(s.target);
    if (s.verb === 'wait') for (const t of s.targets) ids.add(t);
    for (const b of s.expect?.breaks ?? []) if (b.request !== undefined) ids.add(b.request);
    for (const c of s.expect?.completes ?? []) ids.add(c.step);
  }
  return ids;
}

export interface YamlOptions {
  /** Lines written as # comments at the top. */
  readonly header?: readonly string[];
}

/** A scenario as a YAML file that parses back to the same scenario. */
export function scenarioToYaml(scenario: Scenario, options: YamlOptions = {}): string {
  const referenced = referencedIds(scenario.steps);
  const doc: { [key: string]: Plain } = { name: scenario.name };
  if (scenario.description) doc.description = scenario.description;
  if (scenario.invariants) doc.invariants = true;
  if (scenario.backends) doc.backends = [...scenario.backends];
  if (scenario.setup.length > 0) {
    doc.setup = {
      files: scenario.setup.map((f) => {
        if (f.directory) return { path: f.path, directory: true };
        if (f.data !== undefined) return { path: f.path, data: f.data };
        return f.size === 0n ? f.path : { path: f.path, size: u64(f.size) };
      }),
    };
  }
  doc.steps = scenario.steps.map((s) => {
    const numbered = s.id === String(s.index + 1);
    return stepPlain(s, referenced.has(s.id) && !numbered);
  });
  const header = (options.header ?? []).map((l) => `# ${l}`.trimEnd()).join('\n');
  const body = stringify(doc, { lineWidth: 100 });
  return header ? `${header}\n${body}` : body;
}
