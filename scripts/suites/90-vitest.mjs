// vitest: every TypeScript test, including those that read artifacts the C suites built.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStreaming } from '../lib/proc.mjs';

export default {
  name: 'vitest',
  order: 90,
  needs: [],
  async run({ root, skippedSuites }) {
    mkdirSync(join(root, 'build'), { recursive: true });
    const report = join(root, 'build', 'vitest-report.json');
    const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const code = await runStreaming(
      process.execPath,
      [vitest, 'run', '--reporter=dot', '--reporter=json', `--outputFile.json=${report}`],
      { cwd: root, env: { ...process.env, FLTBRIDGE_SKIPPED_SUITES: skippedSuites.join(',') } },
    );
    try {
      const json = JSON.parse(readFileSync(report, 'utf8'));
      const failed =
        json.numFailedTests + (json.numFailedTestSuites > 0 && json.numFailedTests === 0 ? 1 : 0);
      return { passed: json.numPassedTests, failed: failed + (code !== 0 && failed === 0 ? 1 : 0) };
    } catch {
      return { passed: 0, failed: 1 };
    }
  },
};
