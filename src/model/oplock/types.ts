/**
 * Types of the oplock package twin (src/model/oplock), the model of the Windows oplock package
 * that a minifilter drives through FltInitializeOplock, FltOplockFsctrlEx, FltCheckOplockEx,
 * FltOplockBreakH, FltOplockIsFastIoPossible and FltCurrentBatchOplock.
 *
 * The caller (the filter twin, src/model/filter) passes an `OplockOperation`: the twin of the
 * FLT_CALLBACK_DATA the driver passes to the same routines. It carries
 *
 * - `operationId`: the bigint the filter assigned in its pre-operation callback (docs/events.md);
 * - `processId`: the requestor process (FltGetRequestorProcessId);
 * - `fileObject`: the twin of FLT_IO_PARAMETER_BLOCK.TargetFileObject: a stable id, the target
 *   oplock key GUID the open supplied (if any), whether the handle is synchronous
 *   (FO_SYNCHRONOUS_IO), whether it is a directory and whether it is delete-on-close;
 * - `major` and the parameters of that major function (Iopb->Parameters);
 * - for an oplock FSCTL the package may hold (a granted request, an acknowledgement that becomes
 *   the new oplock, a break-notify), `complete`: how the package completes it later, the twin of
 *   FltCompletePendedPreOperation on that data plus what the I/O manager copies back (status,
 *   Information, the REQUEST_OPLOCK_OUTPUT_BUFFER fields).
 *
 * Return values map 1:1 to FLT_PREOP_CALLBACK_STATUS (`PreopResult.preop`), with the status the
 * package stored in Data->IoStatus (`ioStatus`, `information`).
 *
 * Facts the DDI does not carry but the filter twin needs for its events (docs/events.md) are
 * extra fields here: a completed oplock request says which operation caused the break and whether
 * that operation waits (`OplockRequestCompletion.cause`); a released waiter is told which
 * acknowledgement or cleanup released it and why (`WaitRelease`). In the C driver the same facts
 * are recovered from the calling context: the driver knows which pre-operation callback it is in
 * when FltCheckOplockEx / FltOplockFsctrlEx completes the held FSCTL or calls the wait-complete
 * routine synchronously, and records it in its stream context before the call.
 *
 * Everything is synchronous: callbacks run inside the verb that causes them, in Windows' order;
 * "pending" is a completion that has not been called yet.
 */

import type { ReleaseReason } from '../../bridge/events.js';
import type { OplockLevel } from '../../bridge/flags.js';

/** IRP major functions the oplock package looks at (values: IRP_MJ_*, wdm.h). */
export const IrpMajor = {
  CREATE: 0x00,
  READ: 0x03,
  WRITE: 0x04,
  SET_INFORMATION: 0x06,
  FLUSH_BUFFERS: 0x09,
  FILE_SYSTEM_CONTROL: 0x0d,
  LOCK_CONTROL: 0x11,
  CLEANUP: 0x12,
} as const;
export type IrpMajorName = keyof typeof IrpMajor;

/** IRP_MN_* of IRP_MJ_LOCK_CONTROL (wdm.h). */
export const LockMinor = {
  LOCK: 0x1,
  UNLOCK_SINGLE: 0x2,
  UNLOCK_ALL: 0x3,
  UNLOCK_ALL_BY_KEY: 0x4,
} as const;
export type LockMinorName = keyof typeof LockMinor;

/** FSCTL_SET_ZERO_DATA (winioctl.h): the one non-oplock FSCTL [MS-FSA] 2.1.4.12 breaks on. */
export const FSCTL_SET_ZERO_DATA = 0x000980c8;

/** sizeof(REQUEST_OPLOCK_INPUT_BUFFER): WORD, WORD, DWORD, DWORD. */
export const REQUEST_OPLOCK_INPUT_BUFFER_SIZE = 12;
/** sizeof(REQUEST_OPLOCK_OUTPUT_BUFFER): WORD, WORD, 3 DWORD, ACCESS_MASK, WORD, padded to 4. */
export const REQUEST_OPLOCK_OUTPUT_BUFFER_SIZE = 24;
/** REQUEST_OPLOCK_CURRENT_VERSION (winioctl.h). */
export const REQUEST_OPLOCK_CURRENT_VERSION = 1;

/** The twin of the FILE_OBJECT an operation targets: only what the oplock package reads. */
export interface OplockFileObject {
  /** Stable id of the file object (fileObjectId in docs/events.md). */
  readonly id: bigint;
  /**
   * The target oplock key (a GUID string) the open supplied through the oplock-key ECP, if any.
   * Without one, the file object is its own key: it matches only itself
   * ([MS-FSA] 2.1.4.12.2 "Algorithm to Compare Oplock Keys"; FsRtlOplockKeysEqual).
   */
  readonly oplockKey?: string;
  /** FO_SYNCHRONOUS_IO: opened with FILE_SYNCHRONOUS_IO_(NON)ALERT. Never granted an oplock. */
  readonly synchronous: boolean;
  /** A directory: only R and RH may be granted on it. */
  readonly isDirectory?: boolean;
  /** Opened with FILE_DELETE_ON_CLOSE (informational; the filter refuses H/batch/filter). */
  readonly deleteOnClose?: boolean;
  /**
   * The parent oplock key (a GUID string) the open supplied through the dual oplock key ECP
   * (DUAL_OPLOCK_KEY_ECP_CONTEXT), if any. Read only by a check with OPLOCK_FLAG_PARENT_OBJECT on
   * the parent directory's oplock ([MS-FSA] 2.1.4.12.2 with Flags PARENT_OBJECT: the operation's
   * ParentOplockKey is compared with the holder's TargetOplockKey). Additive field.
   */
  readonly parentOplockKey?: string;
}

/**
 * FsRtlCheckOplockEx flags beyond the four OplockCheckFlag values (ntifs.h; FsRtlCheckOplockEx
 * page: "Supported starting with Windows 8"). FltCheckOplockEx hands its flags to
 * FsRtlCheckOplockEx (FltCheckOplockEx page, Return value).
 */
export const OplockCheckFlagEx = {
  /** The oplock is the parent directory's; the operation is on a child. */
  OPLOCK_FLAG_PARENT_OBJECT: 0x10,
  /** IRP_MJ_CLEANUP of a delete-on-close handle (semantics not modelled: refused). */
  OPLOCK_FLAG_CLOSING_DELETE_ON_CLOSE: 0x20,
  /** With PARENT_OBJECT: the operation removes a file or link from the directory. */
  OPLOCK_FLAG_REMOVING_FILE_OR_LINK: 0x40,
} as const;

/** What every operation carries (the FLT_CALLBACK_DATA twin). */
export interface OperationBase {
  readonly operationId: bigint;
  readonly processId: number;
  readonly fileObject: OplockFileObject;
}

export interface CreateOperation extends OperationBase {
  readonly major: 'CREATE';
  /** DesiredAccess, already generic-mapped (mapGenericAccess). */
  readonly desiredAccess: number;
  readonly shareAccess: number;
  /** FILE_SUPERSEDE .. FILE_OVERWRITE_IF (0..5). */
  readonly disposition: number;
  /** CreateOptions (FILE_COMPLETE_IF_OPLOCKED, FILE_OPEN_REQUIRING_OPLOCK, FILE_RESERVE_OPFILTER ...). */
  readonly createOptions: number;
}

export interface ReadWriteOperation extends OperationBase {
  readonly major: 'READ' | 'WRITE';
  readonly offset: bigint;
  readonly length: number;
}

export interface SetInformationOperation extends OperationBase {
  readonly major: 'SET_INFORMATION';
  /** FILE_INFORMATION_CLASS (FileInformationClass in src/bridge/flags.ts). */
  readonly fileInformationClass: number;
  /** FileDispositionInformation(Ex): whether the call sets delete-pending. */
  readonly deleteFile?: boolean;
}

export interface FlushOperation extends OperationBase {
  readonly major: 'FLUSH_BUFFERS';
}

export interface LockControlOperation extends OperationBase {
  readonly major: 'LOCK_CONTROL';
  readonly minor: LockMinorName;
  readonly offset: bigint;
  readonly length: bigint;
  readonly key: number;
  readonly exclusive: boolean;
  readonly failImmediately: boolean;
}

export interface CleanupOperation extends OperationBase {
  readonly major: 'CLEANUP';
}

/** REQUEST_OPLOCK_INPUT_BUFFER. */
export interface RequestOplockInput {
  readonly structureVersion: number;
  readonly structureLength: number;
  /** OPLOCK_LEVEL_CACHE_* bits. */
  readonly requestedOplockLevel: number;
  /** REQUEST_OPLOCK_INPUT_FLAG_* bits. */
  readonly flags: number;
}

/** REQUEST_OPLOCK_OUTPUT_BUFFER as the package fills it. */
export interface RequestOplockOutput {
  readonly structureVersion: number;
  readonly structureLength: number;
  readonly originalOplockLevel: number;
  readonly newOplockLevel: number;
  /** REQUEST_OPLOCK_OUTPUT_FLAG_* bits. */
  readonly flags: number;
  readonly accessMode: number;
  readonly shareMode: number;
}

/** Why a held oplock request completed. */
export type OplockCompletionReason =
  /** A break started: the holder is told the new level (docs/events.md `oplock-break`). */
  | 'break'
  /** The handle holding it was cleaned up. */
  | 'handle-closed'
  /** CancelIoEx. */
  | 'cancelled'
  /** Another handle with the same oplock key took the oplock over. */
  | 'switched'
  /** Anything else: a re-request on the same handle, a break-notify ending, uninitialize. */
  | 'completed';

/** The operation that made a held request complete, as the filter twin needs it for causality. */
export interface OplockCause {
  readonly operation: OplockOperation;
  /** Whether that operation waits for the acknowledgement (BreakFlag.OPERATION_WAITS). */
  readonly waits: boolean;
}

/** What the package hands to `FsctlOperation.complete` when it completes a held request. */
export interface OplockRequestCompletion {
  /** IoStatus.Status of the oplock FSCTL. */
  readonly status: number;
  /**
   * IoStatus.Information: for the legacy FSCTLs the FILE_OPLOCK_BROKEN_TO_* value; for
   * FSCTL_REQUEST_OPLOCK the bytes of REQUEST_OPLOCK_OUTPUT_BUFFER written.
   */
  readonly information: number;
  /** FSCTL_REQUEST_OPLOCK only. */
  readonly output?: RequestOplockOutput;
  readonly reason: OplockCompletionReason;
  /** The level the handle held before. */
  readonly fromLevel: OplockLevel;
  /** The level it holds now, or is being broken to ('NONE' when the oplock is gone). */
  readonly toLevel: OplockLevel;
  /** Whether the holder must acknowledge before the break finishes. */
  readonly ackRequired: boolean;
  /** The operation that caused this completion (break, switch, cleanup, cancel). */
  readonly cause?: OplockCause;
}

export interface FsctlOperation extends OperationBase {
  readonly major: 'FILE_SYSTEM_CONTROL';
  /** FsControlCode (Fsctl in src/bridge/flags.ts, or FSCTL_SET_ZERO_DATA). */
  readonly fsControlCode: number;
  /** FSCTL_REQUEST_OPLOCK only. */
  readonly input?: RequestOplockInput;
  /** InputBufferLength; defaults to sizeof(REQUEST_OPLOCK_INPUT_BUFFER) when `input` is given. */
  readonly inputBufferLength?: number;
  /** OutputBufferLength; defaults to sizeof(REQUEST_OPLOCK_OUTPUT_BUFFER). */
  readonly outputBufferLength?: number;
  /**
   * Called exactly once when the package completes a request it returned FLT_PREOP_PENDING for.
   * Required for every FSCTL the package may hold (requests, acks to a level, break-notify).
   */
  readonly complete?: (completion: OplockRequestCompletion) => void;
}

/** FLT_CALLBACK_DATA twin. */
export type OplockOperation =
  | CreateOperation
  | ReadWriteOperation
  | SetInformationOperation
  | FlushOperation
  | LockControlOperation
  | CleanupOperation
  | FsctlOperation;

/** FLT_PREOP_CALLBACK_STATUS values the oplock routines return. */
export type FltPreopStatus =
  | 'FLT_PREOP_SUCCESS_WITH_CALLBACK'
  | 'FLT_PREOP_PENDING'
  | 'FLT_PREOP_COMPLETE';

/** Return value of fsctrl / check / breakH: the status plus what is in Data->IoStatus. */
export interface PreopResult {
  readonly preop: FltPreopStatus;
  /** Data->IoStatus.Status (STATUS_PENDING for FLT_PREOP_PENDING). */
  readonly ioStatus: number;
  /** Data->IoStatus.Information. */
  readonly information: number;
  /**
   * The REQUEST_OPLOCK_OUTPUT_BUFFER the package wrote when it completed an FSCTL_REQUEST_OPLOCK
   * acknowledgement at once with a break indication ([MS-FSA] 2.1.5.19: "the object store MUST
   * indicate an oplock break ... BreakingOplockOpen = Open ... (Because BreakingOplockOpen is equal
   * to the passed-in Open, the operation ends at this point.)"): STATUS_CANNOT_GRANT_REQUESTED_OPLOCK
   * with the level still allowed, or STATUS_SUCCESS with a further break (RH acked while breaking
   * to R or none: break to R, ack required; R acked while breaking to none: break to none).
   * The caller copies it to the user's output buffer, as for a held request's completion.
   * Absent for every other result (additive field).
   */
  readonly output?: RequestOplockOutput;
}

/** Why and by whom a waiting operation was released (the extra facts of the wait-complete). */
export interface WaitRelease {
  /** What the operation continues with: STATUS_SUCCESS, or STATUS_CANCELLED. */
  readonly status: number;
  readonly reason: ReleaseReason;
  /** The acknowledgement, cleanup or other operation that released it (absent for CancelIoEx). */
  readonly releasedBy?: OplockOperation;
}

/** PFLTOPLOCK_WAIT_COMPLETE_ROUTINE twin, plus the release facts. */
export type WaitCompleteRoutine<C = unknown> = (
  data: OplockOperation,
  context: C,
  release: WaitRelease,
) => void;

/** PFLTOPLOCK_PREPOST_CALLBACKDATA_ROUTINE twin: runs just before the operation is posted. */
export type PrePostRoutine<C = unknown> = (data: OplockOperation, context: C) => void;

/** A holder as snapshot() shows it. */
export interface OplockHolderView {
  readonly fileObjectId: bigint;
  readonly operationId: bigint;
  readonly level: OplockLevel;
  /** Set while the holder's break waits for its acknowledgement. */
  readonly breakingTo?: OplockLevel;
}

/** A read-only view of the oplock, for tests, diagnostics and the filter twin's asserts. */
export interface OplockSnapshot {
  readonly initialized: boolean;
  /** [MS-FSA] 2.1.1.10 Oplock.State flags by name (NO_OPLOCK when empty). */
  readonly state: readonly string[];
  readonly exclusive?: OplockHolderView;
  readonly levelTwo: readonly OplockHolderView[];
  readonly read: readonly OplockHolderView[];
  readonly readHandle: readonly OplockHolderView[];
  readonly readHandleBreaking: readonly OplockHolderView[];
  readonly waitingOperationIds: readonly bigint[];
  readonly pendingFilterFileObjectId?: bigint;
  readonly atomicFileObjectIds: readonly bigint[];
}
