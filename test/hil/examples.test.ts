// Every example scenario on every available backend (model always; windows when the driver
// answers, FLTBRIDGE_BACKEND=windows on the VM). Examples written for the model only are skipped
// on windows with the reason the file gives.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import { loadScenario } from '../../src/scenario/parse.js';
import { expectScenarioPasses, forEachBackend } from '../../src/testing/index.js';

const dir = join(import.meta.dirname, '..', '..', 'examples');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('examples', async () => {
  for (const file of files) {
    const path = join(dir, file);
    const scenario = await loadScenario(path);
    const why =
      /^# Model only: (.*)$/m.exec(readFileSync(path, 'utf8'))?.[1] ?? 'written for the model only';
    forEachBackend(
      file,
      async (bridge) => {
        await expectScenarioPasses(bridge, scenario);
      },
      scenario.backends && !scenario.backends.includes('windows') ? { skip: { windows: why } } : {},
    );
  }
});
