// Type-check everything, tests and benchmarks included (tsconfig.test.json, no emit).
import { join } from 'node:path';
import { Checks, commandVerdict } from '../lib/checks.mjs';
import { runSync } from '../lib/proc.mjs';

export default {
  name: 'typecheck',
  order: 30,
  needs: [],
  async run({ root }) {
    const checks = new Checks('typecheck');
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await checks.check('tsc -p tsconfig.test.json (src, test, bench)', () =>
      commandVerdict(
        runSync(process.execPath, [tsc, '-p', 'tsconfig.test.json'], { cwd: root }),
        'tsc',
      ),
    );
    return checks.result();
  },
};
