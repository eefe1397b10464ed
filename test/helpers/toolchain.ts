/**
 * Tests that read artifacts of a C-side suite (driver, addon, proto-layout, wine) use this to skip
 * with a visible reason when that suite was skipped for a missing toolchain, and to fail instead
 * when FLTBRIDGE_REQUIRE_TOOLCHAINS=1.
 */
import { existsSync } from 'node:fs';

const skipped = new Set((process.env.FLTBRIDGE_SKIPPED_SUITES ?? '').split(',').filter(Boolean));
export const requireToolchains = process.env.FLTBRIDGE_REQUIRE_TOOLCHAINS === '1';

/**
 * Why tests that need `suite`'s artifacts cannot run, or undefined when they can.
 * Pass the artifact paths they read: missing artifacts are a reason too (unless required).
 */
export function unavailable(suite: string, artifacts: readonly string[]): string | undefined {
  const missing = artifacts.filter((path) => !existsSync(path));
  if (missing.length === 0) return undefined;
  if (requireToolchains) return undefined; // let the test fail on the missing file
  if (skipped.has(suite)) return `suite '${suite}' was skipped (toolchain missing)`;
  return `artifacts of suite '${suite}' are missing (${missing.join(', ')}): run npm test, or npm test -- --only ${suite}`;
}
