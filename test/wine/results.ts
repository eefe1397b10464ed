/**
 * Reading what the Wine scenarios observed (build/wine/results/*.json, written by the scripts in
 * test/wine/scripts/ that scripts/suites/70-wine.mjs runs under Wine's node.exe).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS = join(import.meta.dirname, '..', '..', 'build', 'wine', 'results');

export function resultPath(name: string): string {
  return join(RESULTS, `${name}.json`);
}

// biome-ignore lint/suspicious/noExplicitAny: observations are free-form JSON
export type Json = any;

export function loadResult(name: string): Json {
  return JSON.parse(readFileSync(resultPath(name), 'utf8'));
}

/** NTSTATUS values the assertions name. */
export const S = {
  SUCCESS: 0,
  NOT_IMPLEMENTED: 0xc0000002,
  END_OF_FILE: 0xc0000011,
  ACCESS_DENIED: 0xc0000022,
  OBJECT_NAME_NOT_FOUND: 0xc0000034,
  OBJECT_NAME_COLLISION: 0xc0000035,
  OBJECT_PATH_NOT_FOUND: 0xc000003a,
  SHARING_VIOLATION: 0xc0000043,
  FILE_LOCK_CONFLICT: 0xc0000054,
  LOCK_NOT_GRANTED: 0xc0000055,
  REVISION_MISMATCH: 0xc0000059,
  NOT_SUPPORTED: 0xc00000bb,
  CANCELLED: 0xc0000120,
  PIPE_BROKEN: 0xc000014b,
  CONNECTION_COUNT_LIMIT: 0xc0000246,
} as const;
