/**
 * Scenario results for people (a line per scenario, expected versus actual side by side for each
 * failing step, with the step's events), for programs (JSON Lines) and for CI (JUnit XML).
 */

import { ntStatusName } from '../../bridge/ntstatus.js';
import type { Mismatch } from '../../scenario/expect.js';
import { breakText, completionText } from '../../scenario/expect.js';
import { stepCommand } from '../../scenario/format.js';
import type { ScenarioResult, StepResult } from '../../scenario/runner.js';
import { type Palette, padEnd } from './color.js';
import { eventObject } from './jsonl.js';
import { EventTable } from './table.js';

export function stepLabel(r: StepResult): string {
  return `step ${r.step.index + 1}${r.step.id !== String(r.step.index + 1) ? ` (${r.step.id})` : ''}, line ${r.step.line}`;
}

/** Expected | actual, one row per mismatch. */
export function sideBySide(failures: readonly Mismatch[], p: Palette, indent = '      '): string[] {
  const fw = Math.max(5, ...failures.map((f) => f.field.length)) + 2;
  const ew = Math.min(50, Math.max(8, ...failures.map((f) => f.expected.length)) + 2);
  const lines = [p.dim(`${indent}${'FIELD'.padEnd(fw)}${'EXPECTED'.padEnd(ew)}ACTUAL`)];
  for (const f of failures) {
    const gap = f.expected.length >= ew ? '  ' : '';
    lines.push(
      `${indent}${f.field.padEnd(fw)}${padEnd(p.green(f.expected), ew)}${gap}${p.red(f.actual)}`,
    );
  }
  return lines;
}

export interface FormatOptions {
  readonly palette: Palette;
  /** Print every step, not only failing ones. */
  readonly verbose?: boolean;
  /** Print the events of failing steps (default true). */
  readonly events?: boolean;
  readonly root?: string;
}

/** The text block for one scenario result (ends with a newline). */
export function formatScenarioResult(result: ScenarioResult, options: FormatOptions): string {
  const p = options.palette;
  const out: string[] = [];
  const mark = result.passed ? p.green('✓') : p.red('✗');
  const steps = result.steps.length;
  out.push(
    `${mark} ${result.scenario.file} ${p.dim('—')} ${result.scenario.name} ${p.dim(`(${result.backend}, ${steps} step${steps === 1 ? '' : 's'}, ${result.durationMs.toFixed(0)} ms)`)}`,
  );
  if (result.fatal) out.push(`    ${p.red(result.fatal)}`);
  const table = new EventTable((l) => out.push(`        ${l}`), {
    palette: p,
    time: 'relative',
    ...(options.root ? { root: options.root } : {}),
  });
  for (const r of result.steps) {
    const failing = r.failures.length > 0;
    if (!failing && !options.verbose) continue;
    const status = r.actual.pending
      ? p.yellow('in flight')
      : r.actual.status !== undefined
        ? ntStatusName(r.actual.status)
        : (r.actual.skipped ?? r.actual.error ?? '');
    out.push(
      `    ${failing ? p.red('✗') : p.dim('·')} ${stepLabel(r)}: ${p.bold(stepCommand(r.step))} ${p.dim('→')} ${status}`,
    );
    if (r.step.note && options.verbose) out.push(p.dim(`      ${r.step.note}`));
    if (options.verbose && !failing) {
      for (const b of r.actual.breaks) out.push(p.dim(`      break: ${breakText(b)}`));
      for (const c of r.actual.completes) out.push(p.dim(`      completes: ${completionText(c)}`));
    }
    if (failing) out.push(...sideBySide(r.failures, p));
    if ((failing && options.events !== false) || (options.verbose && r.actual.events.length)) {
      if (r.actual.events.length === 0) out.push(p.dim('      (no events during the step)'));
      else {
        out.push(p.dim('      events during the step:'));
        for (const e of r.actual.events.slice(0, 40)) table.row(e, result.labels);
        if (r.actual.events.length > 40)
          out.push(p.dim(`        … ${r.actual.events.length - 40} more`));
      }
    }
  }
  for (const v of result.violations) {
    out.push(
      `    ${p.red('✗')} invariant ${p.bold(v.invariant)}${v.step >= 0 ? ` at step ${v.step + 1}` : ' at teardown'}: ${v.message}`,
    );
  }
  return `${out.join('\n')}\n`;
}

function mismatchObject(m: Mismatch): Record<string, unknown> {
  return { field: m.field, expected: m.expected, actual: m.actual, line: m.line };
}

/** One scenario result as a JSON-ready object. */
export function scenarioResultObject(result: ScenarioResult): Record<string, unknown> {
  return {
    file: result.scenario.file,
    name: result.scenario.name,
    backend: result.backend,
    passed: result.passed,
    durationMs: Math.round(result.durationMs * 1000) / 1000,
    ...(result.fatal ? { fatal: result.fatal } : {}),
    violations: result.violations,
    steps: result.steps.map((r) => ({
      index: r.step.index,
      id: r.step.id,
      line: r.step.line,
      verb: r.step.verb,
      command: stepCommand(r.step),
      pending: r.actual.pending,
      ...(r.actual.status !== undefined
        ? { status: r.actual.status, statusName: ntStatusName(r.actual.status) }
        : {}),
      ...(r.actual.information !== undefined ? { information: r.actual.information } : {}),
      ...(r.actual.bytes !== undefined ? { bytes: r.actual.bytes } : {}),
      ...(r.actual.level !== undefined ? { level: r.actual.level } : {}),
      ...(r.actual.error !== undefined ? { error: r.actual.error } : {}),
      ...(r.actual.skipped !== undefined ? { skipped: r.actual.skipped } : {}),
      breaks: r.actual.breaks.map((b) => ({ ...b, statusName: ntStatusName(b.status) })),
      completes: r.actual.completes.map((c) => ({ ...c, statusName: ntStatusName(c.status) })),
      events: r.actual.events.map((e) => eventObject(e, result.labels)),
      failures: r.failures.map(mismatchObject),
    })),
  };
}

function xml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: XML 1.0 forbids these characters
      .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '')
  );
}

export interface JunitCase {
  readonly result?: ScenarioResult;
  /** Scenarios not run (written for another backend). */
  readonly skipped?: { readonly file: string; readonly name: string; readonly reason: string };
}

/** JUnit XML for CI: one testcase per scenario, a failure element per failing scenario. */
export function junitXml(cases: readonly JunitCase[], suite: string): string {
  const ran = cases.map((c) => c.result).filter((r) => r !== undefined);
  const failures = ran.filter((r) => !r.passed && !r.fatal).length;
  const errors = ran.filter((r) => r.fatal).length;
  const skipped = cases.filter((c) => c.skipped).length;
  const time = ran.reduce((t, r) => t + r.durationMs, 0) / 1000;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="fltbridge" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time.toFixed(3)}">`,
    `  <testsuite name="${xml(suite)}" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time.toFixed(3)}">`,
  ];
  for (const c of cases) {
    if (c.skipped) {
      lines.push(
        `    <testcase classname="${xml(c.skipped.file)}" name="${xml(c.skipped.name)}" time="0">`,
        `      <skipped message="${xml(c.skipped.reason)}"/>`,
        '    </testcase>',
      );
      continue;
    }
    const r = c.result;
    if (!r) continue;
    lines.push(
      `    <testcase classname="${xml(r.scenario.file)}" name="${xml(r.scenario.name)}" file="${xml(r.scenario.file)}" time="${(r.durationMs / 1000).toFixed(3)}">`,
    );
    if (r.fatal) {
      lines.push(`      <error message="${xml(r.fatal)}" type="fatal"/>`);
    } else if (!r.passed) {
      const failing = r.steps.filter((s) => s.failures.length > 0);
      const first = failing[0];
      const message = first
        ? `${stepLabel(first)}: ${first.failures.map((f) => `${f.field} expected ${f.expected}, got ${f.actual}`).join('; ')}`
        : (r.violations[0]?.message ?? 'failed');
      const body = [
        ...failing.flatMap((s) => [
          `${stepLabel(s)}: ${stepCommand(s.step)}`,
          ...s.failures.map((f) => `  ${f.field}: expected ${f.expected} | actual ${f.actual}`),
        ]),
        ...r.violations.map((v) => `invariant ${v.invariant}: ${v.message}`),
      ].join('\n');
      lines.push(
        `      <failure message="${xml(message)}" type="expectation">${xml(body)}</failure>`,
      );
    }
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}
