// Biome: lint and format check over the whole tree; and the lockfile check npm ci depends on.
import { join } from 'node:path';
import { Checks, commandVerdict } from '../lib/checks.mjs';
import { runSync } from '../lib/proc.mjs';

export default {
  name: 'lint',
  order: 20,
  needs: [],
  async run({ root }) {
    const checks = new Checks('lint');
    const biome = join(root, 'node_modules', '.bin', 'biome');
    await checks.check('biome check (lint + format)', () =>
      commandVerdict(runSync(biome, ['check', '--colors=off', '.'], { cwd: root }), 'biome'),
    );
    await checks.check('package-lock.json records every optional platform package (npm ci)', () =>
      commandVerdict(
        runSync(process.execPath, [join(root, 'scripts', 'lock-fix.mjs'), '--check'], {
          cwd: root,
        }),
        'lock-fix --check',
      ),
    );
    return checks.result();
  },
};
