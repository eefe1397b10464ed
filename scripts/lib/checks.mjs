// A tiny check recorder for the C-side suites: each check prints one line and is counted in the
// final "N passed, N failed" summary of npm test.
export class Checks {
  constructor(suite) {
    this.suite = suite;
    this.passed = 0;
    this.failed = 0;
  }

  /** Record a check; `fn` returns true/undefined for success, a string (the reason) or false for failure. */
  async check(name, fn) {
    let verdict;
    try {
      verdict = await fn();
    } catch (error) {
      verdict = error instanceof Error ? error.message : String(error);
    }
    if (verdict === true || verdict === undefined) {
      this.passed += 1;
      console.log(`  ok    ${this.suite}: ${name}`);
      return true;
    }
    this.failed += 1;
    console.log(`  FAIL  ${this.suite}: ${name}`);
    if (typeof verdict === 'string' && verdict.length > 0) {
      for (const line of verdict.trimEnd().split('\n').slice(0, 60)) console.log(`        ${line}`);
    }
    return false;
  }

  result() {
    return { passed: this.passed, failed: this.failed };
  }
}

/** Turn a command result into a check verdict, showing its output on failure. */
export function commandVerdict(result, label = 'command') {
  if (result.code === 0) return true;
  const out = `${result.stdout}\n${result.stderr}`.trim();
  return `${label} exited ${result.code}\n${out.split('\n').slice(-40).join('\n')}`;
}
