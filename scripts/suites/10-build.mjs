// Compile src/ to dist/ with tsc (TypeScript 7).
import { join } from 'node:path';
import { Checks, commandVerdict } from '../lib/checks.mjs';
import { runSync } from '../lib/proc.mjs';

export default {
  name: 'build',
  order: 10,
  needs: [],
  async run({ root }) {
    const checks = new Checks('build');
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await checks.check('tsc -p tsconfig.json emits dist/', () =>
      commandVerdict(runSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root }), 'tsc'),
    );
    return checks.result();
  },
};
