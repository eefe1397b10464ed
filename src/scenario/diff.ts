/**
 * Comparing two runs of the same scenario (two backends): per step, in order, whether it ran, in
 * flight or not, status, Information, bytes, breaks, completions and (optionally) the events,
 * normalised so that identifiers, sequence numbers, times and process ids do not count.
 * The first difference is the divergence.
 */

import { ntStatusName } from '../bridge/ntstatus.js';
import { eventSignature } from './event-text.js';
import { breakText, completionText } from './expect.js';
import type { ScenarioResult, StepResult } from './runner.js';
import type { Step } from './schema.js';

export interface StepObservation {
  readonly runs: string;
  readonly pending: string;
  readonly status: string;
  readonly information: string;
  readonly bytes: string;
  readonly breaks: string;
  readonly completes: string;
  readonly events: string;
}

export const OBSERVED_FIELDS: readonly (keyof StepObservation)[] = [
  'runs',
  'pending',
  'status',
  'information',
  'bytes',
  'breaks',
  'completes',
  'events',
];

export function observe(r: StepResult, labels: ReadonlyMap<bigint, string>): StepObservation {
  const a = r.actual;
  return {
    runs:
      a.error !== undefined
        ? `refused: ${a.error}`
        : a.skipped !== undefined
          ? `skipped: ${a.skipped}`
          : 'issued',
    pending: a.pending ? 'in flight' : 'completed',
    status: a.status === undefined ? '-' : ntStatusName(a.status),
    information: a.information === undefined ? '-' : a.information.toString(),
    bytes: a.bytes === undefined ? '-' : a.bytes.toString(),
    breaks: a.breaks.map(breakText).sort().join('; ') || '(none)',
    completes: a.completes.map(completionText).sort().join('; ') || '(none)',
    events: a.events.map((e) => eventSignature(e, labels)).join('\n') || '(none)',
  };
}

export interface Divergence {
  /** The step where the runs first differ; undefined when they differ before any step (setup). */
  readonly step: Step | undefined;
  readonly field: string;
  readonly a: string;
  readonly b: string;
  readonly stepA: StepResult | undefined;
  readonly stepB: StepResult | undefined;
}

export interface CompareOptions {
  /** Compare the normalised events too (default true). */
  readonly events?: boolean;
}

/** The first divergence between two runs of one scenario, or undefined when they agree. */
export function compareRuns(
  a: ScenarioResult,
  b: ScenarioResult,
  options: CompareOptions = {},
): Divergence | undefined {
  const fields = OBSERVED_FIELDS.filter((f) => f !== 'events' || options.events !== false);
  const n = Math.max(a.steps.length, b.steps.length);
  for (let i = 0; i < n; i++) {
    const sa = a.steps[i];
    const sb = b.steps[i];
    if (!sa || !sb) {
      return {
        step: (sa ?? sb)?.step,
        field: 'runs',
        a: sa ? 'ran' : (a.fatal ?? 'did not run'),
        b: sb ? 'ran' : (b.fatal ?? 'did not run'),
        stepA: sa,
        stepB: sb,
      };
    }
    const oa = observe(sa, a.labels);
    const ob = observe(sb, b.labels);
    for (const f of fields) {
      if (oa[f] !== ob[f])
        return { step: sa.step, field: f, a: oa[f], b: ob[f], stepA: sa, stepB: sb };
    }
  }
  if ((a.fatal ?? '') !== (b.fatal ?? '')) {
    return {
      step: undefined,
      field: 'fatal',
      a: a.fatal ?? '(none)',
      b: b.fatal ?? '(none)',
      stepA: undefined,
      stepB: undefined,
    };
  }
  const la = [...(a.teardown?.leftInFlight ?? [])].sort().join(',');
  const lb = [...(b.teardown?.leftInFlight ?? [])].sort().join(',');
  if (la !== lb) {
    return {
      step: undefined,
      field: 'left in flight at the end',
      a: la || '(none)',
      b: lb || '(none)',
      stepA: undefined,
      stepB: undefined,
    };
  }
  return undefined;
}
