/**
 * Matching a step's expectations against what it did. Breaks and completions are exact by
 * default: one the step does not list fails it (unless `exact: false`). A step without an
 * `expect` block is not checked, except that a step the backend refused always fails.
 */

import { isLegacyLevel } from '../bridge/flags.js';
import { ntError, ntStatusName, ntSuccess } from '../bridge/ntstatus.js';
import type { IoResult, OplockResult, ReadResult } from '../bridge/types.js';
import {
  breakExpectationText,
  completionExpectationText,
  statusExpectationText,
  statusText,
} from './format.js';
import type { BreakActual, CompletionActual, StepActual } from './runner.js';
import type {
  BreakExpectation,
  CompletionExpectation,
  Expectation,
  StatusExpectation,
  Step,
} from './schema.js';

export interface Mismatch {
  /** What was compared: status, information, pending, bytes, data, level, ackRequired, breaks, completes, runs. */
  readonly field: string;
  readonly expected: string;
  readonly actual: string;
  /** Line of the expectation in the scenario file. */
  readonly line: number;
}

export function statusMatches(expected: StatusExpectation, code: number): boolean {
  switch (expected.kind) {
    case 'success':
      return ntSuccess(code);
    case 'failure':
      return ntError(code);
    case 'codes':
      return expected.codes.some((c) => c >>> 0 === code >>> 0);
  }
}

export function breakText(b: BreakActual): string {
  const parts = [`${b.handle} (step ${b.request})`, `${b.from ?? '?'}→${b.to ?? '?'}`];
  if (b.ackRequired !== undefined) parts.push(b.ackRequired ? 'ack required' : 'no ack');
  parts.push(ntStatusName(b.status));
  // Legacy breaks say the new level in Information; Windows 7 ones carry the output buffer size.
  const legacy = b.from !== undefined && isLegacyLevel(b.from);
  if (legacy && b.information !== 0n) parts.push(`info=${b.information}`);
  return parts.join(' ');
}

export function completionText(c: CompletionActual): string {
  const info = c.information !== 0n ? ` info=${c.information}` : '';
  return `step ${c.step} (${c.verb}${c.handle ? ` ${c.handle}` : ''}) ${ntStatusName(c.status)}${info}`;
}

interface Outcome {
  readonly status: number | undefined;
  readonly information: bigint | undefined;
  readonly bytes: bigint | undefined;
  readonly data: Uint8Array | undefined;
  readonly level: string | undefined;
  readonly ackRequired: boolean | undefined;
}

function outcomeChecks(e: Expectation, o: Outcome, later: string): Mismatch[] {
  const out: Mismatch[] = [];
  const line = e.line;
  if (e.status && (o.status === undefined || !statusMatches(e.status, o.status))) {
    out.push({
      field: 'status',
      expected: statusExpectationText(e.status),
      actual: `${statusText(o.status)}${later}`,
      line,
    });
  }
  if (e.information !== undefined && o.information !== e.information) {
    out.push({
      field: 'information',
      expected: String(e.information),
      actual: `${o.information ?? '-'}${later}`,
      line,
    });
  }
  if (e.bytes !== undefined && o.bytes !== e.bytes) {
    out.push({
      field: 'bytes',
      expected: String(e.bytes),
      actual: `${o.bytes ?? '-'}${later}`,
      line,
    });
  }
  if (e.data !== undefined) {
    const text = o.data ? new TextDecoder().decode(o.data) : undefined;
    if (text !== e.data) {
      out.push({
        field: 'data',
        expected: JSON.stringify(e.data),
        actual: `${text === undefined ? '-' : JSON.stringify(text)}${later}`,
        line,
      });
    }
  }
  if (e.level !== undefined && o.level !== e.level) {
    out.push({ field: 'level', expected: e.level, actual: `${o.level ?? '-'}${later}`, line });
  }
  if (e.ackRequired !== undefined && o.ackRequired !== e.ackRequired) {
    out.push({
      field: 'ackRequired',
      expected: String(e.ackRequired),
      actual: `${o.ackRequired ?? '-'}${later}`,
      line,
    });
  }
  return out;
}

function breakMatches(e: BreakExpectation, a: BreakActual): boolean {
  if (e.handle !== a.handle) return false;
  if (e.request !== undefined && e.request !== a.request) return false;
  if (e.from !== undefined && e.from !== a.from) return false;
  if (e.to !== undefined && e.to !== a.to) return false;
  if (e.ackRequired !== undefined && e.ackRequired !== a.ackRequired) return false;
  if (e.status !== undefined && !statusMatches(e.status, a.status)) return false;
  if (e.information !== undefined && e.information !== a.information) return false;
  return true;
}

function completionMatches(e: CompletionExpectation, a: CompletionActual): boolean {
  if (e.step !== a.step) return false;
  if (e.status !== undefined && !statusMatches(e.status, a.status)) return false;
  if (e.information !== undefined && e.information !== a.information) return false;
  if (e.bytes !== undefined && e.bytes !== a.information) return false;
  return true;
}

/** Match expected items to actual ones (each used once); returns the leftovers of both. */
function pair<E, A>(
  expected: readonly E[],
  actual: readonly A[],
  matches: (e: E, a: A) => boolean,
): { missing: E[]; extra: A[] } {
  const used = new Set<number>();
  const missing: E[] = [];
  for (const e of expected) {
    const i = actual.findIndex((a, k) => !used.has(k) && matches(e, a));
    if (i < 0) missing.push(e);
    else used.add(i);
  }
  return { missing, extra: actual.filter((_, k) => !used.has(k)) };
}

function listChecks(e: Expectation, actual: StepActual): Mismatch[] {
  const out: Mismatch[] = [];
  const breaks = pair(e.breaks ?? [], actual.breaks, breakMatches);
  for (const m of breaks.missing) {
    out.push({
      field: 'breaks',
      expected: breakExpectationText(m),
      actual: actual.breaks.length ? actual.breaks.map(breakText).join('; ') : '(no break)',
      line: m.line,
    });
  }
  if (e.exact) {
    for (const x of breaks.extra) {
      out.push({
        field: 'breaks',
        expected: '(no other break)',
        actual: breakText(x),
        line: e.line,
      });
    }
  }
  const completes = pair(e.completes ?? [], actual.completes, completionMatches);
  for (const m of completes.missing) {
    out.push({
      field: 'completes',
      expected: completionExpectationText(m),
      actual: actual.completes.length
        ? actual.completes.map(completionText).join('; ')
        : '(nothing completed)',
      line: m.line,
    });
  }
  if (e.exact) {
    for (const x of completes.extra) {
      out.push({
        field: 'completes',
        expected: '(no other completion)',
        actual: completionText(x),
        line: e.line,
      });
    }
  }
  return out;
}

/** Mismatches of one step, as far as they can be known when the step has settled. */
export function checkStep(step: Step, actual: StepActual): Mismatch[] {
  const e = step.expect;
  if (actual.error !== undefined) {
    return [
      {
        field: 'runs',
        expected: 'the backend accepts the step',
        actual: actual.error,
        line: step.line,
      },
    ];
  }
  if (!e) return [];
  if (actual.skipped !== undefined) {
    return [
      { field: 'runs', expected: 'the step is issued', actual: actual.skipped, line: step.line },
    ];
  }
  const out: Mismatch[] = [];
  const wantPending = e.pending ?? false;
  if (actual.pending !== wantPending) {
    out.push({
      field: 'pending',
      expected: wantPending ? 'still in flight' : 'completed',
      actual: actual.pending ? 'still in flight' : `completed (${statusText(actual.status)})`,
      line: e.line,
    });
  }
  if (!actual.pending) {
    out.push(
      ...outcomeChecks(
        e,
        {
          status: actual.status,
          information: actual.information,
          bytes: actual.bytes,
          data: actual.data,
          level: actual.level,
          ackRequired: actual.ackRequired,
        },
        '',
      ),
    );
  }
  out.push(...listChecks(e, actual));
  return out;
}

/** Checks of a step's own result when it completes after the step (a pending step). */
export function checkCompletion(step: Step, result: IoResult): Mismatch[] {
  const e = step.expect;
  if (!e) return [];
  const isRead = step.verb === 'read';
  const io = isRead || step.verb === 'write';
  const o = result as OplockResult & Partial<ReadResult>;
  return outcomeChecks(
    e,
    {
      status: result.status,
      information: result.information,
      bytes: io ? result.information : undefined,
      data: isRead ? o.data : undefined,
      level: o.newLevel,
      ackRequired: o.ackRequired,
    },
    ' (completed later)',
  );
}
