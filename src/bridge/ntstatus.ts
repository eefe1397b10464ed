/**
 * NTSTATUS values the project uses, with their names, severities and the Win32 error
 * RtlNtStatusToDosError gives for them.
 *
 * Codes and names: [MS-ERREF] 2.3.1 "NTSTATUS Values". Win32 mappings: [MS-ERREF] and the
 * Win32 "System Error Codes" pages; `win32` is omitted where Windows has no single mapping
 * worth stating (informational codes that are not errors to Win32 callers).
 *
 * Codes are carried as unsigned 32-bit numbers everywhere in TypeScript (0xC0000043, not
 * -1073741757); `toNtStatus` normalises a signed value read from C.
 */

export type NtSeverity = 'success' | 'informational' | 'warning' | 'error';

export interface NtStatusInfo {
  readonly name: string;
  readonly code: number;
  readonly severity: NtSeverity;
  /** Win32 error code a Win32 API reports for this status (GetLastError), if defined. */
  readonly win32?: number;
  /** One line describing what it means in this project's domain. */
  readonly meaning: string;
}

const table = [
  ['STATUS_SUCCESS', 0x00000000, 0, 'The operation completed successfully.'],
  ['STATUS_TIMEOUT', 0x00000102, undefined, 'The wait timed out (a success code).'],
  ['STATUS_PENDING', 0x00000103, 997, 'The operation is in progress and will complete later.'],
  [
    'STATUS_OPLOCK_BREAK_IN_PROGRESS',
    0x00000108,
    742,
    'The open succeeded but an oplock break is in progress (FILE_COMPLETE_IF_OPLOCKED).',
  ],
  [
    'STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE',
    0x00000215,
    800,
    'The oplock moved to a newer handle with the same oplock key.',
  ],
  [
    'STATUS_OPLOCK_HANDLE_CLOSED',
    0x00000216,
    803,
    'The handle holding the oplock was closed, so the oplock request completed.',
  ],
  ['STATUS_DATATYPE_MISALIGNMENT', 0x80000002, 998, 'A buffer was not aligned as required.'],
  ['STATUS_BUFFER_OVERFLOW', 0x80000005, 234, 'The output did not fit; partial data returned.'],
  ['STATUS_NO_MORE_ENTRIES', 0x8000001a, 259, 'There are no more entries.'],
  [
    'STATUS_CANNOT_GRANT_REQUESTED_OPLOCK',
    0x8000002e,
    801,
    'The oplock request cannot be granted at the requested level (a lower one may be).',
  ],
  ['STATUS_UNSUCCESSFUL', 0xc0000001, 31, 'The operation failed.'],
  ['STATUS_NOT_IMPLEMENTED', 0xc0000002, 1, 'The operation is not implemented.'],
  ['STATUS_INVALID_INFO_CLASS', 0xc0000003, 87, 'The information class is not valid.'],
  ['STATUS_INFO_LENGTH_MISMATCH', 0xc0000004, 24, 'The buffer length does not match.'],
  ['STATUS_ACCESS_VIOLATION', 0xc0000005, 998, 'A user buffer could not be accessed.'],
  ['STATUS_INVALID_HANDLE', 0xc0000008, 6, 'The handle is not valid or was closed.'],
  ['STATUS_INVALID_PARAMETER', 0xc000000d, 87, 'A parameter is not valid.'],
  ['STATUS_NO_SUCH_FILE', 0xc000000f, 2, 'The file does not exist.'],
  [
    'STATUS_INVALID_DEVICE_REQUEST',
    0xc0000010,
    1,
    'The request is not valid for this handle or object.',
  ],
  ['STATUS_END_OF_FILE', 0xc0000011, 38, 'The read started at or beyond the end of file.'],
  ['STATUS_NO_MEMORY', 0xc0000017, 8, 'Not enough memory.'],
  ['STATUS_ACCESS_DENIED', 0xc0000022, 5, 'The handle lacks the access the operation needs.'],
  ['STATUS_BUFFER_TOO_SMALL', 0xc0000023, 122, 'The buffer is too small.'],
  ['STATUS_OBJECT_TYPE_MISMATCH', 0xc0000024, 6, 'The object is not of the expected type.'],
  ['STATUS_OBJECT_NAME_INVALID', 0xc0000033, 123, 'The name is not valid.'],
  ['STATUS_OBJECT_NAME_NOT_FOUND', 0xc0000034, 2, 'The file does not exist.'],
  ['STATUS_OBJECT_NAME_COLLISION', 0xc0000035, 183, 'The file already exists.'],
  ['STATUS_PORT_DISCONNECTED', 0xc0000037, 6, 'The communication port was disconnected.'],
  ['STATUS_OBJECT_PATH_NOT_FOUND', 0xc000003a, 3, 'A directory on the path does not exist.'],
  ['STATUS_OBJECT_PATH_SYNTAX_BAD', 0xc000003b, 161, 'The path syntax is not valid.'],
  [
    'STATUS_SHARING_VIOLATION',
    0xc0000043,
    32,
    'The share modes of an existing open do not allow this open.',
  ],
  ['STATUS_THREAD_IS_TERMINATING', 0xc000004b, 5, 'The thread is terminating.'],
  [
    'STATUS_FILE_LOCK_CONFLICT',
    0xc0000054,
    33,
    'A byte-range lock held through another handle or key refuses this read or write.',
  ],
  [
    'STATUS_LOCK_NOT_GRANTED',
    0xc0000055,
    33,
    'The byte-range lock conflicts with a held lock and the request said fail immediately.',
  ],
  ['STATUS_DELETE_PENDING', 0xc0000056, 5, 'The file is being deleted.'],
  ['STATUS_REVISION_MISMATCH', 0xc0000059, 1306, 'The two sides speak different versions.'],
  [
    'STATUS_RANGE_NOT_LOCKED',
    0xc000007e,
    158,
    'No held lock matches this unlock exactly (same range, owner and key).',
  ],
  ['STATUS_DISK_FULL', 0xc000007f, 112, 'The disk is full.'],
  ['STATUS_INSUFFICIENT_RESOURCES', 0xc000009a, 1450, 'System resources ran out.'],
  ['STATUS_FILE_IS_A_DIRECTORY', 0xc00000ba, 5, 'The name refers to a directory.'],
  ['STATUS_NOT_SUPPORTED', 0xc00000bb, 50, 'The request is not supported.'],
  ['STATUS_NOT_SAME_DEVICE', 0xc00000d4, 17, 'A rename target is on another volume.'],
  [
    'STATUS_OPLOCK_NOT_GRANTED',
    0xc00000e2,
    300,
    'The oplock was not granted (other opens, locks or an incompatible oplock).',
  ],
  [
    'STATUS_INVALID_OPLOCK_PROTOCOL',
    0xc00000e3,
    301,
    'The oplock request or acknowledgement does not fit the oplock state.',
  ],
  ['STATUS_INVALID_USER_BUFFER', 0xc00000e8, 1784, 'The user buffer is not valid.'],
  ['STATUS_DIRECTORY_NOT_EMPTY', 0xc0000101, 145, 'The directory is not empty.'],
  ['STATUS_NOT_A_DIRECTORY', 0xc0000103, 267, 'The name does not refer to a directory.'],
  ['STATUS_CANCELLED', 0xc0000120, 995, 'The operation was cancelled.'],
  ['STATUS_CANNOT_DELETE', 0xc0000121, 5, 'The file cannot be deleted.'],
  ['STATUS_FILE_DELETED', 0xc0000123, 5, 'The file was deleted.'],
  ['STATUS_FILE_CLOSED', 0xc0000128, 6, 'The handle was already cleaned up.'],
  ['STATUS_INVALID_DEVICE_STATE', 0xc0000184, 22, 'The device is not in a valid state.'],
  [
    'STATUS_INVALID_LOCK_RANGE',
    0xc00001a1,
    307,
    'Offset plus length wraps past 2^64 - 1 (an invalid byte range).',
  ],
  ['STATUS_NOT_FOUND', 0xc0000225, 1168, 'The object was not found.'],
  [
    'STATUS_CONNECTION_COUNT_LIMIT',
    0xc0000246,
    1238,
    'The communication port already has its maximum number of connections.',
  ],
  [
    'STATUS_CANNOT_BREAK_OPLOCK',
    0xc0000909,
    802,
    'A FILE_OPEN_REQUIRING_OPLOCK open would have had to break an existing oplock.',
  ],
  [
    'STATUS_FLT_INVALID_ASYNCHRONOUS_REQUEST',
    0xc01c0007,
    undefined,
    'This operation cannot be issued asynchronously by a filter.',
  ],
  ['STATUS_FLT_DELETING_OBJECT', 0xc01c000b, undefined, 'The filter object is being deleted.'],
] as const satisfies readonly (readonly [string, number, number | undefined, string])[];

function severityOf(code: number): NtSeverity {
  switch (code >>> 30) {
    case 0:
      return 'success';
    case 1:
      return 'informational';
    case 2:
      return 'warning';
    default:
      return 'error';
  }
}

/** Every status the project knows, by name. */
export type NtStatusName = (typeof table)[number][0];

const byName = new Map<string, NtStatusInfo>();
const byCode = new Map<number, NtStatusInfo>();
for (const [name, code, win32, meaning] of table) {
  const info: NtStatusInfo =
    win32 === undefined
      ? { name, code, severity: severityOf(code), meaning }
      : { name, code, severity: severityOf(code), win32, meaning };
  byName.set(name, info);
  byCode.set(code, info);
}

/** `NtStatus.STATUS_SHARING_VIOLATION === 0xc0000043`, and so on for every known status. */
export const NtStatus: { readonly [K in NtStatusName]: number } = Object.freeze(
  Object.fromEntries(table.map(([name, code]) => [name, code])) as {
    [K in NtStatusName]: number;
  },
);

/** Normalise a signed or unsigned 32-bit NTSTATUS to the unsigned form used in TypeScript. */
export function toNtStatus(value: number): number {
  return value >>> 0;
}

/** NT_SUCCESS: success and informational codes. */
export function ntSuccess(code: number): boolean {
  return code >>> 30 <= 1;
}

/** NT_ERROR: the error severity. */
export function ntError(code: number): boolean {
  return code >>> 30 === 3;
}

export function ntStatusInfo(code: number): NtStatusInfo | undefined {
  return byCode.get(code >>> 0);
}

export function ntStatusByName(name: string): NtStatusInfo | undefined {
  return byName.get(name.startsWith('STATUS_') ? name : `STATUS_${name}`);
}

/** The status name, or its hex form when the project does not know it. */
export function ntStatusName(code: number): string {
  return byCode.get(code >>> 0)?.name ?? hexStatus(code);
}

export function hexStatus(code: number): string {
  return `0x${(code >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** "STATUS_SHARING_VIOLATION (0xC0000043)". */
export function formatNtStatus(code: number): string {
  const info = byCode.get(code >>> 0);
  return info ? `${info.name} (${hexStatus(code)})` : hexStatus(code);
}

export function allNtStatuses(): readonly NtStatusInfo[] {
  return [...byCode.values()];
}
