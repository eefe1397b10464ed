/**
 * Turning what a step did into the expectation that says so: the shell's `save` writes these, and
 * fuzz writes them (from the reference backend) into differential reproductions.
 */

import type { StepResult } from './runner.js';
import type { BreakExpectation, CompletionExpectation, Expectation, Step } from './schema.js';

export function expectationFromResult(r: StepResult): Expectation | undefined {
  const a = r.actual;
  if (a.error !== undefined || a.skipped !== undefined) return undefined;
  const breaks: BreakExpectation[] = a.breaks.map((b) => ({
    handle: b.handle,
    request: b.request,
    ...(b.from !== undefined ? { from: b.from } : {}),
    ...(b.to !== undefined ? { to: b.to } : {}),
    ...(b.ackRequired !== undefined ? { ackRequired: b.ackRequired } : {}),
    line: 0,
  }));
  const completes: CompletionExpectation[] = a.completes.map((c) => ({
    step: c.step,
    status: { kind: 'codes', codes: [c.status] },
    line: 0,
  }));
  const io = r.step.verb === 'read' || r.step.verb === 'write';
  return {
    exact: true,
    line: 0,
    ...(a.pending ? { pending: true } : {}),
    ...(!a.pending && a.status !== undefined
      ? { status: { kind: 'codes', codes: [a.status] } }
      : {}),
    ...(!a.pending && !io && a.information !== undefined && a.information !== 0n
      ? { information: a.information }
      : {}),
    ...(!a.pending && io && a.bytes !== undefined ? { bytes: a.bytes } : {}),
    ...(breaks.length ? { breaks } : {}),
    ...(completes.length ? { completes } : {}),
  };
}

/** The steps with the expectations their results recorded (steps without a result keep theirs). */
export function stepsWithRecordedExpectations(results: readonly StepResult[]): Step[] {
  return results.map((r) => {
    const expect = expectationFromResult(r);
    const { expect: _old, ...rest } = r.step;
    return (expect ? { ...rest, expect } : rest) as Step;
  });
}
