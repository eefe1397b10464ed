/**
 * Oplock levels, cache bits and keys: the small vocabulary the oplock package twin shares with
 * its tests.
 *
 * Windows 7 levels are sets of OPLOCK_LEVEL_CACHE_* bits (R = 1, H = 2, W = 4; FSCTL_REQUEST_OPLOCK
 * / REQUEST_OPLOCK_INPUT_BUFFER pages). [MS-FSA] 2.1.5.18 lists the legal non-zero combinations:
 * R, RW, RH, RWH. A holder that loses R loses H too (H without R is not a level), so every
 * computed target goes through `normalizeCacheBits`.
 */

import { OplockBreakInformation, OplockCache, type OplockLevel } from '../../bridge/flags.js';
import type { OplockFileObject } from './types.js';

export const R = OplockCache.READ;
export const H = OplockCache.HANDLE;
export const W = OplockCache.WRITE;

export type LegacyLevel = 'LEVEL1' | 'LEVEL2' | 'BATCH' | 'FILTER';
export type ExclusiveLevel = 'LEVEL1' | 'BATCH' | 'FILTER' | 'RW' | 'RWH';

/** Cache bits of a level; legacy levels map to what they let the holder cache. */
export function cacheBits(level: OplockLevel): number {
  switch (level) {
    case 'R':
      return R;
    case 'RH':
      return R | H;
    case 'RW':
      return R | W;
    case 'RWH':
      return R | W | H;
    case 'LEVEL2':
      return R;
    case 'LEVEL1':
    case 'FILTER':
      return R | W;
    case 'BATCH':
      return R | W | H;
    default:
      return 0;
  }
}

/** The Windows 7 level of a set of cache bits; invalid sets (W or H without R) give undefined. */
export function levelOfBits(bits: number): OplockLevel | undefined {
  switch (bits) {
    case 0:
      return 'NONE';
    case R:
      return 'R';
    case R | H:
      return 'RH';
    case R | W:
      return 'RW';
    case R | W | H:
      return 'RWH';
    default:
      return undefined;
  }
}

/** Drop H and W when R goes: a break never leaves a level that is not R, RW, RH or RWH. */
export function normalizeCacheBits(bits: number): number {
  return bits & R ? bits & (R | W | H) : 0;
}

export function win7Level(bits: number): OplockLevel {
  const level = levelOfBits(normalizeCacheBits(bits));
  return level ?? 'NONE';
}

export function isLegacy(level: OplockLevel): level is LegacyLevel {
  return level === 'LEVEL1' || level === 'LEVEL2' || level === 'BATCH' || level === 'FILTER';
}

/** IoStatus.Information of a completed legacy oplock request that ended at `toLevel`. */
export function legacyInformation(toLevel: OplockLevel): number {
  return toLevel === 'LEVEL2'
    ? OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_LEVEL_2
    : OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_NONE;
}

/** Canonical form of an oplock key GUID (case and braces do not matter). */
export function canonicalKey(key: string): string {
  return key.trim().replace(/^\{/, '').replace(/\}$/, '').toLowerCase();
}

/**
 * [MS-FSA] 2.1.4.12.2 "Algorithm to Compare Oplock Keys" (FsRtlOplockKeysEqual): the same open
 * always matches itself; two different opens match only if both carry a target oplock key and
 * the keys are equal. An open without a key therefore matches nobody but itself.
 */
export function keysMatch(a: OplockFileObject, b: OplockFileObject): boolean {
  if (a.id === b.id) return true;
  if (a.oplockKey === undefined || b.oplockKey === undefined) return false;
  return canonicalKey(a.oplockKey) === canonicalKey(b.oplockKey);
}

/**
 * [MS-FSA] 2.1.4.12.2 with Flags PARENT_OBJECT (quoted in illumos smb_cmn_oplock.c,
 * CompareOplockKeys): TRUE only when the operation's ParentOplockKey and the holder's
 * TargetOplockKey are both present and equal. `operation` is the child's file object, `holder`
 * the directory oplock holder's.
 */
export function parentKeysMatch(operation: OplockFileObject, holder: OplockFileObject): boolean {
  if (operation.parentOplockKey === undefined || holder.oplockKey === undefined) return false;
  return canonicalKey(operation.parentOplockKey) === canonicalKey(holder.oplockKey);
}

/** A string that is equal for two file objects exactly when keysMatch says so. */
export function effectiveKey(fo: OplockFileObject): string {
  return fo.oplockKey === undefined ? `fo:${fo.id}` : `key:${canonicalKey(fo.oplockKey)}`;
}
