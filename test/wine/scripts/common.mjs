// Shared by the scripts that run under Wine's node.exe (test/wine/scripts/*.mjs). They import the
// compiled library (dist/) and the addon, do real I/O, and write plain observations as JSON; the
// vitest files in test/wine/ assert on them. Nothing here decides pass or fail.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** argv: <repo root (Windows path)> <result file (Windows path)> [extra...] */
export function args() {
  const [root, out, ...rest] = process.argv.slice(2);
  if (!root || !out) throw new Error('usage: <repo root> <result file> [...]');
  return { root, out, rest };
}

export async function importDist(root, relative) {
  return import(pathToFileURL(join(root, 'dist', relative)).href);
}

/** JSON with bigints as strings and Uint8Arrays as lengths. */
export function writeJson(file, value) {
  const text = JSON.stringify(
    value,
    (_k, v) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Uint8Array) return { bytes: v.byteLength };
      if (v instanceof Error) {
        return { name: v.name, code: v.code, message: v.message, hint: v.hint, hresult: v.hresult };
      }
      return v;
    },
    2,
  );
  writeFileSync(file, `${text}\n`);
}

/** The result fields the tests look at. */
export function res(r) {
  if (!r) return r;
  const out = {
    status: r.status,
    information: r.information,
    win32: r.win32,
    statusSource: r.statusSource,
    pended: r.pended,
  };
  if (r.handle) out.handle = r.handle.id;
  if (r.data) out.dataLength = r.data.byteLength;
  for (const k of ['originalLevel', 'newLevel', 'ackRequired']) if (k in r) out[k] = r[k];
  return out;
}

export function errorOf(fn) {
  try {
    fn();
    return undefined;
  } catch (error) {
    return {
      name: error.name,
      code: error.code,
      message: error.message,
      hint: error.hint,
      hresult: error.hresult,
    };
  }
}

export async function rejectionOf(promise) {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return {
      name: error.name,
      code: error.code,
      message: error.message,
      hint: error.hint,
      hresult: error.hresult,
    };
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Settles within `ms`? Returns { settled, value }. */
export async function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), ms);
  });
  const done = promise.then((value) => ({ settled: true, value }));
  const outcome = await Promise.race([done, timeout]);
  clearTimeout(timer);
  return outcome;
}
