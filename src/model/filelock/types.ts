/**
 * Types of the FILE_LOCK twin (src/model/filelock), the model of the lock package that
 * FltAllocateFileLock / FltProcessFileLock / FltCheckLockFor{Read,Write}Access /
 * FsRtlFastUnlockAll expose to a minifilter. The driver twin is driver/src/filelock.c.
 *
 * ## The callback data
 *
 * `LockControlData` is the twin of an FLT_CALLBACK_DATA for IRP_MJ_LOCK_CONTROL, `IoData` for
 * IRP_MJ_READ / IRP_MJ_WRITE. They carry what the lock package reads from the real structure:
 *
 * | field            | Windows source                                                        |
 * |------------------|-----------------------------------------------------------------------|
 * | operationId      | the filter's operation number (fltbridge_proto.h), not a Windows field |
 * | processId        | FltGetRequestorProcess(Data): locks are owned per requestor process    |
 * | fileObject       | Data->Iopb->TargetFileObject (a stable id, never an address)           |
 * | fastIo           | FLT_IS_FASTIO_OPERATION(Data)                                          |
 * | minorFunction    | Data->Iopb->MinorFunction: IRP_MN_LOCK (1), IRP_MN_UNLOCK_SINGLE (2), IRP_MN_UNLOCK_ALL (3), IRP_MN_UNLOCK_ALL_BY_KEY (4) |
 * | byteOffset, length | Parameters.LockControl.ByteOffset / *Length (unsigned 64-bit)        |
 * | key              | Parameters.LockControl.Key / Parameters.Read.Key / Parameters.Write.Key |
 * | failImmediately, exclusiveLock | Parameters.LockControl.FailImmediately / ExclusiveLock (SL_FAIL_IMMEDIATELY, SL_EXCLUSIVE_LOCK) |
 * | ioStatus         | Data->IoStatus: the package writes the final status here               |
 * | completePended   | the twin of FltCompletePendedPreOperation(Data, FLT_PREOP_COMPLETE): called once, after the completion routine, when the package completes a request it had pended (a waiting lock) |
 *
 * Build them with `lockControlData()` / `readData()` / `writeData()` (file-lock.ts), which
 * validate every field; the package validates again whatever it is handed.
 *
 * ## Callbacks
 *
 * Both fire synchronously, in Windows' order (see file-lock.ts), with the DDI arguments first
 * and, as extra arguments beyond the DDI, the causality the filter twin needs for its events
 * (docs/events.md): which operation released a lock or completed a waiting request. The C
 * driver recovers the same facts from its calling context (the operation it is processing when
 * FltProcessFileLock / FsRtlFastUnlockAll calls back), so the extras are a convenience of the
 * model, not a deviation.
 *
 * - `CompleteLockCallbackDataRoutine` = PFLT_COMPLETE_LOCK_CALLBACK_DATA_ROUTINE
 *   (Context, Data) -> NTSTATUS. Called for every IRP-based IRP_MJ_LOCK_CONTROL the package
 *   completes (lock, unlock single, unlock all, unlock all by key; a waiting lock when it is
 *   granted, cancelled, or ended by its owner's unlock-all/cleanup or by uninitialize), never for
 *   fast I/O (FltAllocateFileLock / FltProcessFileLock remarks). `data.ioStatus.status` holds
 *   the package's status when it is called; the value it returns becomes the request's final
 *   status (ntoskrnl FsRtlPrivateLock stores it in the IO_STATUS_BLOCK), and a failure returned
 *   for a lock the package had just granted removes that lock again (DDI: "If it returns an
 *   NTSTATUS value that is not a success code, the file lock is removed from the file"), without
 *   calling the unlock routine (FsRtlPrivateRemoveLock passes IgnoreUnlockRoutine).
 * - `UnlockRoutine` = PUNLOCK_ROUTINE (Context, FileLockInfo). Called once per lock released by
 *   unlock single, unlock all, unlock all by key or FsRtlFastUnlockAll; not for locks dropped by
 *   uninitialize / free (FsRtlUninitializeFileLock frees them silently) nor for a lock removed
 *   because the completion routine failed it.
 */

/** IRP_MN_* minor functions of IRP_MJ_LOCK_CONTROL (wdm.h). */
export const IrpMnLock = {
  LOCK: 1,
  UNLOCK_SINGLE: 2,
  UNLOCK_ALL: 3,
  UNLOCK_ALL_BY_KEY: 4,
} as const;
export type LockMinorName = keyof typeof IrpMnLock;

/** IRP_MJ_* codes the package accepts (wdm.h). */
export const IrpMj = { READ: 0x03, WRITE: 0x04, LOCK_CONTROL: 0x11 } as const;

/** The twin of FLT_PREOP_CALLBACK_STATUS as FltProcessFileLock returns it. */
export const FltPreop = {
  /** FLT_PREOP_COMPLETE: the package completed the data (status in data.ioStatus). */
  COMPLETE: 'complete',
  /** FLT_PREOP_PENDING: a waiting lock; the package completes it later. */
  PENDING: 'pending',
  /** FLT_PREOP_DISALLOW_FASTIO: a fast-I/O lock that would have to wait; reissue as an IRP. */
  DISALLOW_FASTIO: 'disallow-fast-io',
} as const;
export type FltPreopCallbackStatus = (typeof FltPreop)[keyof typeof FltPreop];

/** Data->IoStatus. */
export interface IoStatusBlock {
  status: number;
  information: bigint;
}

interface CallbackDataBase {
  /** The filter's operation number (events carry it as operationId). */
  readonly operationId: bigint;
  /** FltGetRequestorProcessId: the process the lock belongs to. */
  readonly processId: number;
  /** Stable id of the FILE_OBJECT (one per handle). */
  readonly fileObject: bigint;
  /** FLT_IS_FASTIO_OPERATION. */
  readonly fastIo: boolean;
  /** The package writes the final status here. */
  readonly ioStatus: IoStatusBlock;
}

/** FLT_CALLBACK_DATA for IRP_MJ_LOCK_CONTROL. */
export interface LockControlData extends CallbackDataBase {
  readonly majorFunction: typeof IrpMj.LOCK_CONTROL;
  /** IRP_MN_LOCK, IRP_MN_UNLOCK_SINGLE, IRP_MN_UNLOCK_ALL or IRP_MN_UNLOCK_ALL_BY_KEY. */
  readonly minorFunction: number;
  readonly byteOffset: bigint;
  readonly length: bigint;
  readonly key: number;
  readonly failImmediately: boolean;
  readonly exclusiveLock: boolean;
  /** FltCompletePendedPreOperation twin, called when a pended (waiting) request completes. */
  readonly completePended?: ((data: LockControlData) => void) | undefined;
}

/** FLT_CALLBACK_DATA for IRP_MJ_READ / IRP_MJ_WRITE (what FltCheckLockFor*Access reads). */
export interface IoData extends CallbackDataBase {
  readonly majorFunction: typeof IrpMj.READ | typeof IrpMj.WRITE;
  readonly byteOffset: bigint;
  /** ULONG. */
  readonly length: number;
  readonly key: number;
}

/** FILE_LOCK_INFO (ntifs.h) as the unlock routine sees it. */
export interface FileLockInfo {
  readonly startingByte: bigint;
  readonly length: bigint;
  readonly exclusiveLock: boolean;
  readonly key: number;
  readonly fileObject: bigint;
  readonly processId: number;
  /** StartingByte + Length - 1, modulo 2^64 as the kernel computes it (2^64-1 for {0, 0}). */
  readonly endingByte: bigint;
}

/** Which operation released a lock (or let a waiting request through). */
export type ReleaseKind =
  | 'unlock-single'
  | 'unlock-all'
  | 'unlock-all-by-key'
  | 'cleanup'
  /** A lock the completion routine refused was removed again (FsRtlPrivateRemoveLock). */
  | 'completion-failure';

/** Extra argument of the unlock routine: who released the lock. */
export interface UnlockCause {
  readonly releasedBy: ReleaseKind;
  /** The unlock / unlock-all IRP's operationId, or the cleanup's (fastUnlockAll argument). */
  readonly operationId: bigint;
}

/** Why the package completed a lock-control request. */
export type LockCompletionReason =
  /** Completed inside process(): granted, refused, invalid, or an unlock's own result. */
  | 'processed'
  /** A waiting lock granted because locks were released. */
  | 'granted-after-wait'
  /** A waiting lock ended with STATUS_RANGE_NOT_LOCKED by its own file object's unlock-all or cleanup. */
  | 'owner-unlock-all'
  /** A waiting lock cancelled (IoCancelIrp / CancelIoEx): STATUS_CANCELLED. */
  | 'cancelled'
  /** A waiting lock ended with STATUS_RANGE_NOT_LOCKED by uninitialize / free. */
  | 'teardown';

/** Extra argument of the completion routine. */
export interface LockCompletionCause {
  readonly reason: LockCompletionReason;
  /** True when the request had been pended (FLT_PREOP_PENDING) before this completion. */
  readonly afterWait: boolean;
  /**
   * The operation whose processing completed it: the unlock / unlock-all / cleanup (or the
   * lock request whose completion failure released a lock), the canceller when cancel() was
   * told, the request itself for 'processed', 0n when none is known.
   */
  readonly releasedByOperationId: bigint;
  readonly releasedBy?: ReleaseKind;
}

/** PFLT_COMPLETE_LOCK_CALLBACK_DATA_ROUTINE (+ the causality argument). */
export type CompleteLockCallbackDataRoutine = (
  context: unknown,
  data: LockControlData,
  cause: LockCompletionCause,
) => number;

/** PUNLOCK_ROUTINE (+ the causality argument). */
export type UnlockRoutine = (context: unknown, info: FileLockInfo, cause: UnlockCause) => void;

/** A request waiting in the package (for inspection). */
export interface WaitingLockInfo {
  readonly data: LockControlData;
  readonly context: unknown;
}
