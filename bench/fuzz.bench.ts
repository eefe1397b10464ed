// Fuzz throughput on the model: scenario steps per second, generating and running random
// scenarios with the invariant checks (what `fltbridge fuzz` does), against the same scenarios
// without checks and against generation alone. Run: npm run bench -- fuzz
import { createModelBridge } from '../src/backends/model.js';
import { generateScenario } from '../src/scenario/fuzz/grammar.js';
import { InvariantChecker } from '../src/scenario/fuzz/invariants.js';
import { runScenario } from '../src/scenario/runner.js';
import { formatRatio, printTable, writeResults } from './lib/harness.js';

const SEED = 2024;
const STEPS = 30;
const SCENARIOS = Number(process.env.FUZZ_BENCH_SCENARIOS ?? 300);

async function measure(
  name: string,
  body: (i: number) => Promise<void> | void,
): Promise<{ name: string; stepsPerSecond: number; ms: number }> {
  for (let i = 0; i < 20; i++) await body(i); // warm-up
  const samples: number[] = [];
  for (let sample = 0; sample < 3; sample++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < SCENARIOS; i++) await body(sample * SCENARIOS + i);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const ms = samples[1] ?? Number.NaN;
  return { name, ms, stepsPerSecond: (SCENARIOS * STEPS) / (ms / 1000) };
}

const checked = await measure('generate + run + invariants (fltbridge fuzz)', async (i) => {
  const bridge = createModelBridge();
  await runScenario(generateScenario(SEED, i, { steps: STEPS }), bridge, {
    observer: new InvariantChecker(),
  });
  await bridge.dispose();
});
const unchecked = await measure('generate + run, no invariants', async (i) => {
  const bridge = createModelBridge();
  await runScenario(generateScenario(SEED, i, { steps: STEPS }), bridge);
  await bridge.dispose();
});
const generate = await measure('generate only', (i) => {
  generateScenario(SEED, i, { steps: STEPS });
});

const rows = [checked, unchecked, generate];
printTable(
  `Fuzz throughput on the model (${SCENARIOS} scenarios × ${STEPS} steps per sample, median of 3)`,
  ['variant', 'steps/s', 'ms per sample', 'vs fuzz'],
  rows.map((r) => [
    r.name,
    Math.round(r.stepsPerSecond),
    r.ms.toFixed(0),
    formatRatio(r.stepsPerSecond / checked.stepsPerSecond),
  ]),
);
console.log(
  `\nfltbridge fuzz throughput on the model: ${Math.round(checked.stepsPerSecond)} steps/s`,
);
writeResults('fuzz', { seed: SEED, steps: STEPS, scenarios: SCENARIOS, rows });
