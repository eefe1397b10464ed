// Small process helpers shared by scripts/test.mjs, the suites and the benchmarks.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Absolute path of an executable on PATH (or an absolute path that exists), else undefined. */
export function which(tool) {
  if (tool.includes('/')) {
    try {
      accessSync(tool, constants.X_OK);
      return tool;
    } catch {
      return undefined;
    }
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** Run a command, capture its output; never throws for a non-zero exit. */
export function runSync(command, args, options = {}) {
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...options,
  });
  return {
    code: r.status ?? (r.error ? 127 : 1),
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? String(r.error) : ''),
  };
}

/** Run a command with its output streamed to ours (prefixing nothing); resolves to the exit code. */
export function runStreaming(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options });
    child.on('error', () => resolve(127));
    child.on('close', (code) => resolve(code ?? 1));
  });
}

export const requireToolchains = process.env.FLTBRIDGE_REQUIRE_TOOLCHAINS === '1';
