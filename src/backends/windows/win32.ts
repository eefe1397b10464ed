/**
 * The Win32 side of test-client I/O: how the Bridge's NT-flavoured open options become a
 * CreateFileW call, and the oplock FSCTL buffers (REQUEST_OPLOCK_INPUT_BUFFER in,
 * REQUEST_OPLOCK_OUTPUT_BUFFER out). Values: fileapi.h / winbase.h / winioctl.h as documented on
 * the CreateFileW and FSCTL_REQUEST_OPLOCK pages.
 */
import { InvalidArgumentError } from '../../bridge/errors.js';
import {
  CreateOption,
  type CreateOptionName,
  Fsctl,
  type LegacyOplockLevel,
  OplockBreakInformation,
  type OplockLevel,
  RequestOplockInputFlag,
  RequestOplockOutputFlag,
  type Win7OplockLevel,
  win7LevelFromCacheBits,
  win7LevelToCacheBits,
} from '../../bridge/flags.js';

/** CreateFileW dwCreationDisposition. */
export const Creation = {
  CREATE_NEW: 1,
  CREATE_ALWAYS: 2,
  OPEN_EXISTING: 3,
  OPEN_ALWAYS: 4,
  TRUNCATE_EXISTING: 5,
} as const;

/** CreateFileW dwFlagsAndAttributes bits the backend uses. */
export const FileFlag = {
  FILE_ATTRIBUTE_NORMAL: 0x00000080,
  FILE_FLAG_OPEN_REQUIRING_OPLOCK: 0x00040000,
  FILE_FLAG_OPEN_REPARSE_POINT: 0x00200000,
  FILE_FLAG_BACKUP_SEMANTICS: 0x02000000,
  FILE_FLAG_DELETE_ON_CLOSE: 0x04000000,
  FILE_FLAG_SEQUENTIAL_SCAN: 0x08000000,
  FILE_FLAG_RANDOM_ACCESS: 0x10000000,
  FILE_FLAG_NO_BUFFERING: 0x20000000,
  FILE_FLAG_OVERLAPPED: 0x40000000,
  FILE_FLAG_WRITE_THROUGH: 0x80000000,
} as const;

const NT_ONLY =
  'the windows backend opens files as applications do, with CreateFileW; use the model backend for NtCreateFile-only options';

/** NT create disposition (FILE_OPEN ...) -> CreateFileW creation disposition. */
export function creationFromDisposition(disposition: number): number {
  switch (disposition) {
    case 1: // FILE_OPEN
      return Creation.OPEN_EXISTING;
    case 2: // FILE_CREATE
      return Creation.CREATE_NEW;
    case 3: // FILE_OPEN_IF
      return Creation.OPEN_ALWAYS;
    case 4: // FILE_OVERWRITE
      return Creation.TRUNCATE_EXISTING;
    case 5: // FILE_OVERWRITE_IF
      return Creation.CREATE_ALWAYS;
    case 0:
      throw new InvalidArgumentError(
        'CreateFileW cannot supersede a file (FILE_SUPERSEDE)',
        NT_ONLY,
      );
    default:
      throw new InvalidArgumentError(`create disposition ${disposition} is not 0..5`);
  }
}

const OPTION_FLAGS: Partial<Record<CreateOptionName, number>> = {
  FILE_WRITE_THROUGH: FileFlag.FILE_FLAG_WRITE_THROUGH,
  FILE_SEQUENTIAL_ONLY: FileFlag.FILE_FLAG_SEQUENTIAL_SCAN,
  FILE_NO_INTERMEDIATE_BUFFERING: FileFlag.FILE_FLAG_NO_BUFFERING,
  FILE_RANDOM_ACCESS: FileFlag.FILE_FLAG_RANDOM_ACCESS,
  FILE_DELETE_ON_CLOSE: FileFlag.FILE_FLAG_DELETE_ON_CLOSE,
  FILE_OPEN_FOR_BACKUP_INTENT: FileFlag.FILE_FLAG_BACKUP_SEMANTICS,
  FILE_OPEN_REPARSE_POINT: FileFlag.FILE_FLAG_OPEN_REPARSE_POINT,
  FILE_OPEN_REQUIRING_OPLOCK: FileFlag.FILE_FLAG_OPEN_REQUIRING_OPLOCK,
  // CreateFileW always opens non-directory files unless told otherwise: nothing to add.
  FILE_NON_DIRECTORY_FILE: 0,
  // The synchronous-I/O options are what `overlapped: false` means.
  FILE_SYNCHRONOUS_IO_NONALERT: 0,
};

/** NT create options -> CreateFileW flags; refuses what CreateFileW cannot express. */
export function flagsFromCreateOptions(options: number, overlapped: boolean): number {
  let flags = FileFlag.FILE_ATTRIBUTE_NORMAL | (overlapped ? FileFlag.FILE_FLAG_OVERLAPPED : 0);
  if (overlapped && options & CreateOption.FILE_SYNCHRONOUS_IO_NONALERT) {
    throw new InvalidArgumentError(
      'FILE_SYNCHRONOUS_IO_NONALERT asks for a synchronous handle but overlapped is true',
      'pass overlapped: false for a synchronous handle',
    );
  }
  for (const [name, bit] of Object.entries(CreateOption) as [CreateOptionName, number][]) {
    if ((options & bit) === 0) continue;
    const flag = OPTION_FLAGS[name];
    if (flag === undefined) {
      throw new InvalidArgumentError(`CreateFileW cannot express ${name}`, NT_ONLY);
    }
    flags |= flag;
  }
  return flags >>> 0;
}

/** A target path for FileRenameInfo: DOS paths become NT paths (\??\C:\...), as MoveFileEx does. */
export function renameTarget(target: string): string {
  if (/^[A-Za-z]:\\/.test(target)) return `\\??\\${target}`;
  if (target.startsWith('\\\\?\\')) return `\\??\\${target.slice(4)}`;
  if (target.startsWith('\\\\')) return `\\??\\UNC\\${target.slice(2)}`;
  return target;
}

// ---------------------------------------------------------------------------------------------
// Oplock FSCTLs
// ---------------------------------------------------------------------------------------------

export const LEGACY_FSCTL: Record<LegacyOplockLevel, number> = {
  LEVEL1: Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_1,
  LEVEL2: Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_2,
  BATCH: Fsctl.FSCTL_REQUEST_BATCH_OPLOCK,
  FILTER: Fsctl.FSCTL_REQUEST_FILTER_OPLOCK,
};

/** REQUEST_OPLOCK_INPUT_BUFFER: version 1, 12 bytes. */
export const REQUEST_OPLOCK_INPUT_BYTES = 12;
/** REQUEST_OPLOCK_OUTPUT_BUFFER: 22 bytes of fields, 24 with padding. */
export const REQUEST_OPLOCK_OUTPUT_BYTES = 24;

export function requestOplockInput(level: Win7OplockLevel | 'NONE', flags: number): Uint8Array {
  const bytes = new Uint8Array(REQUEST_OPLOCK_INPUT_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, 1, true); // REQUEST_OPLOCK_CURRENT_VERSION
  view.setUint16(2, REQUEST_OPLOCK_INPUT_BYTES, true);
  view.setUint32(4, win7LevelToCacheBits(level), true);
  view.setUint32(8, flags >>> 0, true);
  return bytes;
}

export interface RequestOplockOutput {
  readonly originalLevel: OplockLevel | undefined;
  readonly newLevel: OplockLevel | undefined;
  readonly flags: number;
  readonly accessMode: number;
  readonly shareMode: number;
}

/** Parse REQUEST_OPLOCK_OUTPUT_BUFFER; undefined when Windows wrote too little of it. */
export function parseRequestOplockOutput(
  data: Uint8Array | undefined,
): RequestOplockOutput | undefined {
  if (!data || data.byteLength < 16) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    originalLevel: win7LevelFromCacheBits(view.getUint32(4, true)),
    newLevel: win7LevelFromCacheBits(view.getUint32(8, true)),
    flags: view.getUint32(12, true),
    accessMode: data.byteLength >= 20 ? view.getUint32(16, true) : 0,
    shareMode: data.byteLength >= 22 ? view.getUint16(20, true) : 0,
  };
}

export function ackRequired(output: RequestOplockOutput | undefined): boolean {
  return output !== undefined && (output.flags & RequestOplockOutputFlag.ACK_REQUIRED) !== 0;
}

/** The level a legacy oplock was broken to, from IoStatus.Information. */
export function legacyBrokenTo(information: bigint): OplockLevel | undefined {
  if (information === BigInt(OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_LEVEL_2)) return 'LEVEL2';
  if (information === BigInt(OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_NONE)) return 'NONE';
  return undefined;
}

export { RequestOplockInputFlag };
