/** Scenario file arguments: files as given, directories expanded to their *.yaml / *.yml / *.json. */

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadScenario } from '../scenario/parse.js';
import type { Scenario } from '../scenario/schema.js';
import type { CliContext } from './context.js';

const SCENARIO_FILE = /\.(ya?ml|json)$/i;

export async function expandFiles(args: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    let isDir = false;
    try {
      isDir = (await stat(arg)).isDirectory();
    } catch {
      // a missing file is reported by loadScenario with the one-line error
    }
    if (isDir) {
      const names = (await readdir(arg)).filter((n) => SCENARIO_FILE.test(n)).sort();
      out.push(...names.map((n) => join(arg, n)));
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * Load every scenario; print each bad one as one line. Returns undefined when any was bad (the
 * caller exits 2 without running anything, so a typo never half-runs a suite).
 */
export async function loadAll(
  files: readonly string[],
  ctx: CliContext,
): Promise<Scenario[] | undefined> {
  const scenarios: Scenario[] = [];
  let bad = 0;
  const { reportError } = await import('./context.js');
  for (const file of await expandFiles(files)) {
    try {
      scenarios.push(await loadScenario(file));
    } catch (error) {
      bad += 1;
      reportError(error, ctx);
    }
  }
  return bad > 0 ? undefined : scenarios;
}
