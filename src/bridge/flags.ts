/**
 * Windows constants for opens, oplocks and locks, and parsers from the names users write to
 * the numbers Windows uses. Values: wdm.h / ntifs.h / winioctl.h as documented on the
 * NtCreateFile, FSCTL_REQUEST_OPLOCK and LockFileEx pages, and [MS-FSCC] 2.3 / 2.4.
 */

import { InvalidArgumentError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Access rights (ACCESS_MASK). NtCreateFile "DesiredAccess"; generic mapping for files from the
// "File Security and Access Rights" page.
// ---------------------------------------------------------------------------------------------

export const AccessRight = {
  FILE_READ_DATA: 0x0001,
  FILE_WRITE_DATA: 0x0002,
  FILE_APPEND_DATA: 0x0004,
  FILE_READ_EA: 0x0008,
  FILE_WRITE_EA: 0x0010,
  FILE_EXECUTE: 0x0020,
  FILE_DELETE_CHILD: 0x0040,
  FILE_READ_ATTRIBUTES: 0x0080,
  FILE_WRITE_ATTRIBUTES: 0x0100,
  DELETE: 0x00010000,
  READ_CONTROL: 0x00020000,
  WRITE_DAC: 0x00040000,
  WRITE_OWNER: 0x00080000,
  SYNCHRONIZE: 0x00100000,
  ACCESS_SYSTEM_SECURITY: 0x01000000,
  MAXIMUM_ALLOWED: 0x02000000,
  GENERIC_ALL: 0x10000000,
  GENERIC_EXECUTE: 0x20000000,
  GENERIC_WRITE: 0x40000000,
  GENERIC_READ: 0x80000000,
} as const;
export type AccessRightName = keyof typeof AccessRight;

export const FILE_GENERIC_READ = 0x00120089;
export const FILE_GENERIC_WRITE = 0x00120116;
export const FILE_GENERIC_EXECUTE = 0x001200a0;
export const FILE_ALL_ACCESS = 0x001f01ff;

/** Short names users may write instead of the rights. */
export const AccessAlias = {
  read: FILE_GENERIC_READ,
  write: FILE_GENERIC_WRITE,
  execute: FILE_GENERIC_EXECUTE,
  all: FILE_ALL_ACCESS,
  delete: AccessRight.DELETE,
  attributes: AccessRight.FILE_READ_ATTRIBUTES,
  'read-data': AccessRight.FILE_READ_DATA,
  'write-data': AccessRight.FILE_WRITE_DATA,
  append: AccessRight.FILE_APPEND_DATA,
  'read-attributes': AccessRight.FILE_READ_ATTRIBUTES,
  'write-attributes': AccessRight.FILE_WRITE_ATTRIBUTES,
  synchronize: AccessRight.SYNCHRONIZE,
} as const;
export type AccessAliasName = keyof typeof AccessAlias;

/** Map GENERIC_* bits to the file-specific rights, as the I/O manager does before any check. */
export function mapGenericAccess(mask: number): number {
  let mapped = mask & 0x0fffffff;
  if (mask & AccessRight.GENERIC_READ) mapped |= FILE_GENERIC_READ;
  if (mask & AccessRight.GENERIC_WRITE) mapped |= FILE_GENERIC_WRITE;
  if (mask & AccessRight.GENERIC_EXECUTE) mapped |= FILE_GENERIC_EXECUTE;
  if (mask & AccessRight.GENERIC_ALL) mapped |= FILE_ALL_ACCESS;
  return mapped >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Share access.
// ---------------------------------------------------------------------------------------------

export const ShareMode = {
  FILE_SHARE_READ: 0x1,
  FILE_SHARE_WRITE: 0x2,
  FILE_SHARE_DELETE: 0x4,
} as const;
export type ShareName = 'read' | 'write' | 'delete';

// ---------------------------------------------------------------------------------------------
// Create dispositions, create results (IoStatus.Information) and create options.
// ---------------------------------------------------------------------------------------------

export const Disposition = {
  supersede: 0,
  open: 1,
  create: 2,
  'open-if': 3,
  overwrite: 4,
  'overwrite-if': 5,
} as const;
export type DispositionName = keyof typeof Disposition;

export const CreateInformation = {
  FILE_SUPERSEDED: 0,
  FILE_OPENED: 1,
  FILE_CREATED: 2,
  FILE_OVERWRITTEN: 3,
  FILE_EXISTS: 4,
  FILE_DOES_NOT_EXIST: 5,
} as const;

export const CreateOption = {
  FILE_DIRECTORY_FILE: 0x00000001,
  FILE_WRITE_THROUGH: 0x00000002,
  FILE_SEQUENTIAL_ONLY: 0x00000004,
  FILE_NO_INTERMEDIATE_BUFFERING: 0x00000008,
  FILE_SYNCHRONOUS_IO_ALERT: 0x00000010,
  FILE_SYNCHRONOUS_IO_NONALERT: 0x00000020,
  FILE_NON_DIRECTORY_FILE: 0x00000040,
  FILE_COMPLETE_IF_OPLOCKED: 0x00000100,
  FILE_NO_EA_KNOWLEDGE: 0x00000200,
  FILE_RANDOM_ACCESS: 0x00000800,
  FILE_DELETE_ON_CLOSE: 0x00001000,
  FILE_OPEN_BY_FILE_ID: 0x00002000,
  FILE_OPEN_FOR_BACKUP_INTENT: 0x00004000,
  FILE_OPEN_REQUIRING_OPLOCK: 0x00010000,
  FILE_RESERVE_OPFILTER: 0x00100000,
  FILE_OPEN_REPARSE_POINT: 0x00200000,
} as const;
export type CreateOptionName = keyof typeof CreateOption;

// ---------------------------------------------------------------------------------------------
// Oplocks. FSCTL codes are CTL_CODE(FILE_DEVICE_FILE_SYSTEM, n, METHOD_BUFFERED, FILE_ANY_ACCESS).
// ---------------------------------------------------------------------------------------------

export const Fsctl = {
  FSCTL_REQUEST_OPLOCK_LEVEL_1: 0x00090000,
  FSCTL_REQUEST_OPLOCK_LEVEL_2: 0x00090004,
  FSCTL_REQUEST_BATCH_OPLOCK: 0x00090008,
  FSCTL_OPLOCK_BREAK_ACKNOWLEDGE: 0x0009000c,
  FSCTL_OPBATCH_ACK_CLOSE_PENDING: 0x00090010,
  FSCTL_OPLOCK_BREAK_NOTIFY: 0x00090014,
  FSCTL_OPLOCK_BREAK_ACK_NO_2: 0x00090050,
  FSCTL_REQUEST_FILTER_OPLOCK: 0x0009005c,
  FSCTL_REQUEST_OPLOCK: 0x00090240,
} as const;
export type FsctlName = keyof typeof Fsctl;

/** OPLOCK_LEVEL_CACHE_* bits of REQUEST_OPLOCK_INPUT_BUFFER.RequestedOplockLevel. */
export const OplockCache = { READ: 0x1, HANDLE: 0x2, WRITE: 0x4 } as const;

export const RequestOplockInputFlag = {
  REQUEST: 0x1,
  ACK: 0x2,
  COMPLETE_ACK_ON_CLOSE: 0x4,
} as const;

export const RequestOplockOutputFlag = {
  ACK_REQUIRED: 0x1,
  MODES_PROVIDED: 0x2,
} as const;

/** IoStatus.Information of a completed legacy oplock request. */
export const OplockBreakInformation = {
  FILE_OPLOCK_BROKEN_TO_LEVEL_2: 7,
  FILE_OPLOCK_BROKEN_TO_NONE: 8,
  FILE_OPBATCH_BREAK_UNDERWAY: 9,
} as const;

/** FltCheckOplockEx / FltOplockBreakH flags (ntifs.h). */
export const OplockCheckFlag = {
  OPLOCK_FLAG_COMPLETE_IF_OPLOCKED: 0x1,
  OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY: 0x2,
  OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK: 0x4,
  OPLOCK_FLAG_IGNORE_OPLOCK_KEYS: 0x8,
} as const;

/** FltOplockFsctrlEx flags. */
export const OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH = 0x1;

/** Oplock levels as users name them; the wire values are FLTB_OPLOCK_* in fltbridge_proto.h. */
export const OPLOCK_LEVELS = [
  'NONE',
  'LEVEL1',
  'LEVEL2',
  'BATCH',
  'FILTER',
  'R',
  'RW',
  'RH',
  'RWH',
] as const;
export type OplockLevel = (typeof OPLOCK_LEVELS)[number];
export type LegacyOplockLevel = 'LEVEL1' | 'LEVEL2' | 'BATCH' | 'FILTER';
export type Win7OplockLevel = 'R' | 'RW' | 'RH' | 'RWH';

export function oplockLevelToWire(level: OplockLevel): number {
  return OPLOCK_LEVELS.indexOf(level);
}

export function oplockLevelFromWire(value: number): OplockLevel | undefined {
  return OPLOCK_LEVELS[value];
}

export function isLegacyLevel(level: OplockLevel): level is LegacyOplockLevel {
  return level === 'LEVEL1' || level === 'LEVEL2' || level === 'BATCH' || level === 'FILTER';
}

export function isWin7Level(level: OplockLevel): level is Win7OplockLevel {
  return level === 'R' || level === 'RW' || level === 'RH' || level === 'RWH';
}

/** OPLOCK_LEVEL_CACHE_* bits of a Windows 7 level (NONE -> 0). */
export function win7LevelToCacheBits(level: Win7OplockLevel | 'NONE'): number {
  let bits = 0;
  if (level.includes('R')) bits |= OplockCache.READ;
  if (level.includes('W')) bits |= OplockCache.WRITE;
  if (level.includes('H')) bits |= OplockCache.HANDLE;
  return bits;
}

/**
 * A Windows 7 level from OPLOCK_LEVEL_CACHE_* bits; undefined for the combinations
 * FSCTL_REQUEST_OPLOCK refuses (W or H without R, or other bits).
 */
export function win7LevelFromCacheBits(bits: number): Win7OplockLevel | 'NONE' | undefined {
  switch (bits) {
    case 0:
      return 'NONE';
    case OplockCache.READ:
      return 'R';
    case OplockCache.READ | OplockCache.WRITE:
      return 'RW';
    case OplockCache.READ | OplockCache.HANDLE:
      return 'RH';
    case OplockCache.READ | OplockCache.WRITE | OplockCache.HANDLE:
      return 'RWH';
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Set-information classes the project uses ([MS-FSCC] 2.4).
// ---------------------------------------------------------------------------------------------

export const FileInformationClass = {
  FileBasicInformation: 4,
  FileRenameInformation: 10,
  FileLinkInformation: 11,
  FileDispositionInformation: 13,
  FileAllocationInformation: 19,
  FileEndOfFileInformation: 20,
  FileValidDataLengthInformation: 39,
  FileShortNameInformation: 40,
  FileDispositionInformationEx: 64,
  FileRenameInformationEx: 65,
  FileLinkInformationEx: 72,
} as const;

// ---------------------------------------------------------------------------------------------
// Byte ranges.
// ---------------------------------------------------------------------------------------------

export const U64_MAX = (1n << 64n) - 1n;

// ---------------------------------------------------------------------------------------------
// Parsers: names users write -> numbers. Each refuses unknown names with one clear line.
// ---------------------------------------------------------------------------------------------

export type AccessSpec = number | string | readonly string[];
export type ShareSpec = number | string | readonly string[];
export type CreateOptionsSpec = number | string | readonly string[];

function words(spec: string | readonly string[]): string[] {
  const list = typeof spec === 'string' ? spec.split(/[\s,|+]+/) : [...spec];
  return list.map((w) => w.trim()).filter((w) => w.length > 0);
}

function checkMask(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new InvalidArgumentError(`${what} ${value} is not a 32-bit mask`);
  }
  return value >>> 0;
}

/**
 * Access names: the ACCESS_MASK rights (FILE_READ_DATA, GENERIC_READ, DELETE ...), the aliases
 * (read, write, execute, all, delete, attributes ...), or the shorthand "rw" / "r" / "w" / "rwd".
 */
export function parseAccess(spec: AccessSpec): number {
  if (typeof spec === 'number') return checkMask(spec, 'access mask');
  let mask = 0;
  for (const word of words(spec)) {
    const upper = word.toUpperCase();
    if (upper in AccessRight) {
      mask |= AccessRight[upper as AccessRightName];
    } else if (word.toLowerCase() in AccessAlias) {
      mask |= AccessAlias[word.toLowerCase() as AccessAliasName];
    } else if (/^[rwxd]+$/i.test(word)) {
      for (const ch of word.toLowerCase()) {
        if (ch === 'r') mask |= FILE_GENERIC_READ;
        if (ch === 'w') mask |= FILE_GENERIC_WRITE;
        if (ch === 'x') mask |= FILE_GENERIC_EXECUTE;
        if (ch === 'd') mask |= AccessRight.DELETE;
      }
    } else if (/^0x[0-9a-f]+$/i.test(word)) {
      mask |= checkMask(Number.parseInt(word, 16), 'access mask');
    } else {
      throw new InvalidArgumentError(
        `unknown access right '${word}'`,
        'use read, write, execute, all, delete, attributes, a right such as FILE_READ_DATA or GENERIC_READ, or "rw"',
      );
    }
  }
  return mask >>> 0;
}

/** Share names: read, write, delete (any order), "rwd"-style shorthand, "none", or a mask. */
export function parseShare(spec: ShareSpec): number {
  if (typeof spec === 'number') {
    if (spec & ~0x7) throw new InvalidArgumentError(`share mode ${spec} has bits other than 0x7`);
    return spec;
  }
  let mask = 0;
  for (const word of words(spec)) {
    const lower = word.toLowerCase();
    if (lower === 'none' || lower === '0') continue;
    if (lower === 'read' || lower === 'file_share_read') mask |= ShareMode.FILE_SHARE_READ;
    else if (lower === 'write' || lower === 'file_share_write') mask |= ShareMode.FILE_SHARE_WRITE;
    else if (lower === 'delete' || lower === 'file_share_delete')
      mask |= ShareMode.FILE_SHARE_DELETE;
    else if (lower === 'all') mask |= 0x7;
    else if (/^[rwd]+$/.test(lower)) {
      for (const ch of lower) {
        if (ch === 'r') mask |= ShareMode.FILE_SHARE_READ;
        if (ch === 'w') mask |= ShareMode.FILE_SHARE_WRITE;
        if (ch === 'd') mask |= ShareMode.FILE_SHARE_DELETE;
      }
    } else {
      throw new InvalidArgumentError(
        `unknown share mode '${word}'`,
        'use read, write, delete, all, none, or a shorthand such as "rw"',
      );
    }
  }
  return mask;
}

export function parseDisposition(spec: string | number): number {
  if (typeof spec === 'number') {
    if (!Number.isInteger(spec) || spec < 0 || spec > 5) {
      throw new InvalidArgumentError(`create disposition ${spec} is not 0..5`);
    }
    return spec;
  }
  const key = spec
    .toLowerCase()
    .replace(/^file_/, '')
    .replace(/_/g, '-');
  if (key in Disposition) return Disposition[key as DispositionName];
  throw new InvalidArgumentError(
    `unknown disposition '${spec}'`,
    `use one of ${Object.keys(Disposition).join(', ')}`,
  );
}

export function dispositionName(value: number): DispositionName | undefined {
  return (Object.keys(Disposition) as DispositionName[]).find((k) => Disposition[k] === value);
}

/** Create options: FILE_* names, with or without the FILE_ prefix, any case. */
export function parseCreateOptions(spec: CreateOptionsSpec): number {
  if (typeof spec === 'number') return checkMask(spec, 'create options');
  let mask = 0;
  for (const word of words(spec)) {
    const upper = word.toUpperCase().replace(/-/g, '_');
    const name = upper.startsWith('FILE_') ? upper : `FILE_${upper}`;
    if (name in CreateOption) mask |= CreateOption[name as CreateOptionName];
    else {
      throw new InvalidArgumentError(
        `unknown create option '${word}'`,
        `use one of ${Object.keys(CreateOption).join(', ')}`,
      );
    }
  }
  return mask >>> 0;
}

export function parseOplockLevel(spec: string): OplockLevel {
  const upper = spec.toUpperCase().replace(/^LEVEL_?/, 'LEVEL');
  const aliases: Record<string, OplockLevel> = {
    LEVEL1: 'LEVEL1',
    LEVEL2: 'LEVEL2',
    L1: 'LEVEL1',
    L2: 'LEVEL2',
    II: 'LEVEL2',
    EXCLUSIVE: 'LEVEL1',
  };
  const level = aliases[upper] ?? (OPLOCK_LEVELS as readonly string[]).find((l) => l === upper);
  if (level === undefined) {
    throw new InvalidArgumentError(
      `unknown oplock level '${spec}'`,
      'use LEVEL1, LEVEL2, BATCH, FILTER, R, RW, RH, RWH or NONE',
    );
  }
  return level as OplockLevel;
}

/**
 * An unsigned 64-bit value from a number, bigint or string ("4096", "0x1000", "2^64-1").
 * Refuses negatives, fractions and values past 2^64 - 1.
 */
export function parseU64(value: unknown, what: string): bigint {
  let result: bigint;
  if (typeof value === 'bigint') {
    result = value;
  } else if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      throw new InvalidArgumentError(`${what} ${value} is not an integer`);
    }
    if (!Number.isSafeInteger(value)) {
      throw new InvalidArgumentError(
        `${what} ${value} is too large for an exact number`,
        'write it as a string ("18446744073709551615") or a bigint',
      );
    }
    result = BigInt(value);
  } else if (typeof value === 'string') {
    const text = value.trim().replace(/_/g, '');
    const power = /^2\^(\d+)(?:\s*-\s*(\d+))?$/.exec(text);
    try {
      if (power) {
        result = (1n << BigInt(power[1] ?? '0')) - BigInt(power[2] ?? '0');
      } else if (/^-?(0x[0-9a-f]+|\d+)$/i.test(text)) {
        result = BigInt(text);
      } else {
        throw new Error('syntax');
      }
    } catch {
      throw new InvalidArgumentError(`${what} '${value}' is not an unsigned integer`);
    }
  } else {
    throw new InvalidArgumentError(`${what} must be an unsigned integer, got ${typeof value}`);
  }
  if (result < 0n) throw new InvalidArgumentError(`${what} ${result} is negative`);
  if (result > U64_MAX) {
    throw new InvalidArgumentError(`${what} ${result} is past 2^64-1`);
  }
  return result;
}

/** A 32-bit lock key or similar ULONG. */
export function parseU32(value: unknown, what: string): number {
  const big = parseU64(value, what);
  if (big > 0xffffffffn) throw new InvalidArgumentError(`${what} ${big} is past 2^32-1`);
  return Number(big);
}

const GUID_RE = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i;

/** A GUID string to its 16 bytes in memory order (Data1..3 little-endian), as Windows stores it. */
export function guidToBytes(guid: string): Uint8Array {
  const m = GUID_RE.exec(guid.trim());
  if (!m) throw new InvalidArgumentError(`'${guid}' is not a GUID`);
  const hex = (s: string) =>
    Array.from({ length: s.length / 2 }, (_, i) => s.slice(i * 2, i * 2 + 2));
  const [d1, d2, d3, d4, d5] = m.slice(1) as [string, string, string, string, string];
  const bytes = [
    ...hex(d1).reverse(),
    ...hex(d2).reverse(),
    ...hex(d3).reverse(),
    ...hex(d4),
    ...hex(d5),
  ];
  return Uint8Array.from(bytes.map((b) => Number.parseInt(b, 16)));
}

export function guidFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new InvalidArgumentError('a GUID is 16 bytes');
  const h = (from: number, to: number, reverse: boolean) => {
    const part = Array.from(bytes.subarray(from, to), (b) => b.toString(16).padStart(2, '0'));
    return (reverse ? part.reverse() : part).join('');
  };
  return `${h(0, 4, true)}-${h(4, 6, true)}-${h(6, 8, true)}-${h(8, 10, false)}-${h(10, 16, false)}`;
}
