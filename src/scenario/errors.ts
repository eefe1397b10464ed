/**
 * ScenarioError: bad input in a scenario file or a shell command, located at file:line. The CLI
 * prints it as one line, "<file>:<line>: <problem> — <fix>", and exits 2.
 */

import { InvalidArgumentError } from '../bridge/errors.js';

export class ScenarioError extends InvalidArgumentError {
  readonly file: string;
  /** 1-based; 0 when the problem is about the file as a whole. */
  readonly line: number;
  readonly problem: string;

  constructor(file: string, line: number, problem: string, fix?: string) {
    super(line > 0 ? `${file}:${line}: ${problem}` : `${file}: ${problem}`, fix);
    this.file = file;
    this.line = line;
    this.problem = problem;
  }
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(up + 1, (row[j - 1] ?? 0) + 1, diag + cost);
      diag = up;
    }
  }
  return row[b.length] ?? 0;
}

/** The closest candidate within a small distance, or undefined. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
