/**
 * A small benchmark harness: time a function, print a table with side-by-side ratios, and write
 * machine-readable results to bench/results/<name>.json. Benchmarks compare variants measured in
 * the same run (these machines are noisy), so every report is about ratios, not absolute times.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Timing {
  /** Median nanoseconds per operation over the samples. */
  readonly nsPerOp: number;
  /** Fastest sample, ns per operation. */
  readonly bestNsPerOp: number;
  readonly samples: number;
  readonly opsPerSample: number;
}

export interface TimeOptions {
  /** Operations per call of `fn` (when fn does a batch itself). Default 1. */
  readonly opsPerCall?: number;
  /** Samples to take; the median is reported. Default 7. */
  readonly samples?: number;
  /** Minimum wall time per sample, ms. Default 50. */
  readonly minSampleMs?: number;
  /** Calls before timing starts. Default: one sample's worth. */
  readonly warmupCalls?: number;
}

/** Time `fn`: calibrates the number of calls per sample, then takes `samples` samples. */
export function time(fn: () => void, options: TimeOptions = {}): Timing {
  const opsPerCall = options.opsPerCall ?? 1;
  const samples = options.samples ?? 7;
  const minNs = BigInt(Math.round((options.minSampleMs ?? 50) * 1e6));
  let calls = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    const dt = process.hrtime.bigint() - t0;
    if (dt >= minNs || calls >= 1 << 30) break;
    calls =
      dt === 0n ? calls * 16 : Math.max(calls * 2, Math.ceil((calls * Number(minNs)) / Number(dt)));
  }
  const warmup = options.warmupCalls ?? calls;
  for (let i = 0; i < warmup; i++) fn();
  const perOp: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    const dt = process.hrtime.bigint() - t0;
    perOp.push(Number(dt) / (calls * opsPerCall));
  }
  perOp.sort((a, b) => a - b);
  return {
    nsPerOp: perOp[Math.floor(perOp.length / 2)] ?? Number.NaN,
    bestNsPerOp: perOp[0] ?? Number.NaN,
    samples,
    opsPerSample: calls * opsPerCall,
  };
}

export type Cell = string | number | bigint | undefined;

/** Format nanoseconds readably: 812 ns, 3.21 µs, 4.5 ms. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return 'n/a';
  if (ns < 1_000) return `${ns.toFixed(ns < 10 ? 2 : 0)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(2)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : 'n/a';
}

/** Print a table with a title; columns are right-aligned except the first. */
export function printTable(
  title: string,
  header: readonly string[],
  rows: readonly Cell[][],
): void {
  const text = (c: Cell) => (c === undefined ? '' : String(c));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => text(r[i]).length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row.map(text)));
}

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** Write bench/results/<name>.json with the machine facts next to the data. */
export function writeResults(name: string, data: unknown): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}.json`);
  const payload = {
    benchmark: name,
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    data,
  };
  writeFileSync(
    file,
    `${JSON.stringify(payload, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
  );
  return file;
}
