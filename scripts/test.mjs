#!/usr/bin/env node
// npm test: builds, lints, type-checks, runs the C-side suites whose toolchains are present, then
// vitest. Each suite lives in scripts/suites/*.mjs and says which tools it needs; a suite whose
// tools are missing prints "SKIPPED: <suite> needs <tool> — run npm run toolchain" (a failure
// when FLTBRIDGE_REQUIRE_TOOLCHAINS=1). The last line is "N passed, N failed" over all suites.
//
//   npm test                      everything
//   npm test -- --only driver     one suite (repeatable), --skip <suite> to leave one out
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { requireToolchains, which } from './lib/proc.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const argv = process.argv.slice(2);
const only = [];
const skip = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--only') only.push(argv[++i]);
  else if (argv[i] === '--skip') skip.push(argv[++i]);
  else {
    console.error(`npm test: unknown argument '${argv[i]}' (use --only <suite> or --skip <suite>)`);
    process.exit(2);
  }
}

const suiteDir = join(root, 'scripts', 'suites');
const suites = [];
for (const file of readdirSync(suiteDir).filter((f) => f.endsWith('.mjs'))) {
  const mod = await import(pathToFileURL(join(suiteDir, file)).href);
  suites.push(mod.default);
}
suites.sort((a, b) => a.order - b.order);

let passed = 0;
let failed = 0;
const skipped = [];
const started = Date.now();

for (const suite of suites) {
  if (only.length > 0 && !only.includes(suite.name)) continue;
  if (skip.includes(suite.name)) continue;
  const missing = (suite.needs ?? []).filter((tool) => !which(tool));
  if (missing.length > 0) {
    console.log(`SKIPPED: ${suite.name} needs ${missing.join(', ')} — run npm run toolchain`);
    skipped.push(suite.name);
    if (requireToolchains) {
      console.log(
        `  FAIL  ${suite.name}: FLTBRIDGE_REQUIRE_TOOLCHAINS=1 and the toolchain is missing`,
      );
      failed += 1;
    }
    continue;
  }
  console.log(`\n== ${suite.name} ==`);
  const t0 = Date.now();
  let result;
  try {
    result = await suite.run({ root, skippedSuites: skipped });
  } catch (error) {
    console.log(`  FAIL  ${suite.name}: ${error instanceof Error ? error.stack : String(error)}`);
    result = { passed: 0, failed: 1 };
  }
  passed += result.passed;
  failed += result.failed;
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`-- ${suite.name}: ${result.passed} passed, ${result.failed} failed (${secs} s)`);
}

const total = ((Date.now() - started) / 1000).toFixed(1);
console.log(
  `\nnpm test finished in ${total} s${skipped.length ? `; skipped: ${skipped.join(', ')}` : ''}`,
);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
