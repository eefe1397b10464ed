/**
 * Unsigned 64-bit byte ranges for the FILE_LOCK twin, carried as two 32-bit halves in plain
 * numbers so that the interval index compares with number arithmetic instead of BigInt (the
 * public surface stays bigint; see bench/filelock.bench.ts for why).
 *
 * A range is {offset, length} exactly as NtLockFile / IRP_MJ_LOCK_CONTROL carry it. Its last
 * byte is offset + length - 1, so a zero-length range at X > 0 is the empty interval
 * [X, X - 1]; closed-interval overlap of two such ranges is then exactly the rule of [MS-FSA]
 * 2.1.4.10 "Algorithm for Determining If a Range Access Conflicts with Byte-Range Locks"
 * (ranges overlap when each one starts at or before the other's last byte). {0, 0} is the one
 * range whose last byte cannot be written (it would be -1); [MS-FSA] 2.1.4.10 says it overlaps
 * nothing, and the package keeps such locks out of the index altogether.
 *
 * Wrap-around is refused where Windows refuses it: a non-empty range whose last byte would pass
 * 2^64 - 1 is STATUS_INVALID_LOCK_RANGE ([MS-FSA] 2.1.5.8 / 2.1.5.9 validation; the same test
 * "((FileOffset + Length - 1) < FileOffset) && Length != 0" sits in ntoskrnl's
 * FsRtlPrivateLock and FsRtlFastUnlockSingle).
 */

import { InvalidArgumentError } from '../../bridge/errors.js';
import { U64_MAX } from '../../bridge/flags.js';

export const TWO32 = 4294967296;
const SAFE_MAX = 9007199254740991n;
const LO_MASK = 0xffffffffn;

/** A range split into 32-bit halves. `zeroZero` is {0, 0}; `valid` is false on wrap-around. */
export interface SplitRange {
  valid: boolean;
  zeroZero: boolean;
  sHi: number;
  sLo: number;
  eHi: number;
  eLo: number;
}

export function newSplitRange(): SplitRange {
  return { valid: true, zeroZero: false, sHi: 0, sLo: 0, eHi: 0, eLo: 0 };
}

/** Split v into out.sHi / out.sLo with a single BigInt-to-number conversion when it is exact. */
function splitStart(v: bigint, out: SplitRange): void {
  if (v <= SAFE_MAX) {
    const n = Number(v);
    const hi = Math.floor(n / TWO32);
    out.sHi = hi;
    out.sLo = n - hi * TWO32;
  } else {
    out.sHi = Number(v >> 32n);
    out.sLo = Number(v & LO_MASK);
  }
}

/** out.eHi/eLo = start + lenHi:lenLo - 1 with carry; out.valid = no wrap past 2^64 - 1. */
function addLast(out: SplitRange, lHi: number, lLo: number): void {
  // Every intermediate stays below 2^34: exact in a double.
  let eLo = out.sLo + lLo - 1;
  let eHi = out.sHi + lHi;
  if (eLo >= TWO32) {
    eLo -= TWO32;
    eHi += 1;
  } else if (eLo < 0) {
    eLo += TWO32;
    eHi -= 1;
  }
  out.eHi = eHi;
  out.eLo = eLo;
  out.valid = eHi < TWO32;
}

/**
 * Fill `out` with the halves of {offset, length}: first byte, last byte (offset - 1 for a
 * zero-length range), and whether the range wraps past 2^64 - 1. Arguments must already be
 * validated unsigned 64-bit values.
 */
export function splitRange(offset: bigint, length: bigint, out: SplitRange): SplitRange {
  splitStart(offset, out);
  out.zeroZero = false;
  if (length === 0n) {
    out.valid = true;
    if (out.sHi === 0 && out.sLo === 0) {
      out.zeroZero = true;
      out.eHi = 0;
      out.eLo = 0;
      return out;
    }
    addLast(out, 0, 0);
    return out;
  }
  if (length <= SAFE_MAX) {
    const n = Number(length);
    const hi = Math.floor(n / TWO32);
    addLast(out, hi, n - hi * TWO32);
  } else {
    addLast(out, Number(length >> 32n), Number(length & LO_MASK));
  }
  return out;
}

/** Same as splitRange for a ULONG length (reads and writes). */
export function splitIoRange(offset: bigint, length: number, out: SplitRange): SplitRange {
  splitStart(offset, out);
  out.zeroZero = length === 0 && out.sHi === 0 && out.sLo === 0;
  addLast(out, 0, length);
  return out;
}

/** (offset + length - 1) mod 2^64: FILE_LOCK_INFO.EndingByte as the kernel computes it. */
export function endingByte(offset: bigint, length: bigint): bigint {
  return (offset + length - 1n) & U64_MAX;
}

/** A bigint in [0, 2^64 - 1], or a typed error naming the field. */
export function checkU64(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= U64_MAX) return value;
    throw new InvalidArgumentError(
      value < 0n ? `${what} ${value} is negative` : `${what} ${value} is past 2^64-1`,
      'byte offsets and lengths are unsigned 64-bit values',
    );
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      throw new InvalidArgumentError(`${what} ${value} is not an integer`);
    }
    if (value < 0) throw new InvalidArgumentError(`${what} ${value} is negative`);
    if (!Number.isSafeInteger(value)) {
      throw new InvalidArgumentError(
        `${what} ${value} is too large for an exact number`,
        'pass it as a bigint',
      );
    }
    return BigInt(value);
  }
  throw new InvalidArgumentError(`${what} must be a bigint, got ${describe(value)}`);
}

/** An integer in [0, 2^32 - 1] (ULONG: keys, read/write lengths, process ids). */
export function checkU32(value: unknown, what: string): number {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) return value;
    throw new InvalidArgumentError(`${what} ${value} is not an unsigned 32-bit integer`);
  }
  if (typeof value === 'bigint' && value >= 0n && value <= 0xffffffffn) return Number(value);
  throw new InvalidArgumentError(
    `${what} must be an unsigned 32-bit integer, got ${describe(value)}`,
  );
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
