/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    filelock.c

Abstract:

    The byte-range lock side of managed streams: the FILE_LOCK from
    FltAllocateFileLock with its two routines, and the SEH-guarded calls
    into the lock package (FltProcessFileLock, FltCheckLockForReadAccess,
    FltCheckLockForWriteAccess, FsRtlFastUnlockAll).

      - The completion routine runs when an IRP lock request completes, at
        once or after waiting: it reports LOCK_GRANTED / LOCK_DENIED (with
        AFTER_WAIT when the request had waited, naming the operation whose
        release let it through) and returns the request's status unchanged
        (a failure status would remove the lock: FltAllocateFileLock).
      - The unlock routine runs once per range released (unlock single,
        unlock all, FsRtlFastUnlockAll at cleanup): it reports UNLOCKED
        and counts the range for the releasing operation.
      - A request FltProcessFileLock queues is LOCK_WAITING; whichever of
        the caller (on return) and the completion routine (on another
        thread) sees it first reports that, so WAITING always precedes the
        grant.

    The lock package synchronises itself; every call here also runs under
    the stream's resource held shared, so teardown (exclusive) cannot free
    the FILE_LOCK under it.

    Twin: src/model/filter/filelock.ts (and src/model/filelock).

Environment:

    Kernel mode.

--*/

#include "driver.h"

static NTSTATUS FLTAPI FbCompleteLock(_In_opt_ PVOID Context, _In_ PFLT_CALLBACK_DATA Data);
static VOID NTAPI FbUnlockRoutine(_In_ PVOID Context, _In_ PFILE_LOCK_INFO FileLockInfo);

_IRQL_requires_max_(APC_LEVEL)
PFILE_LOCK
FbFileLockAllocate(
    VOID
    )
/*++

Routine Description:

    Allocates a FILE_LOCK with our completion and unlock routines.

Return Value:

    The lock or NULL. Freed with FltFreeFileLock.

IRQL:

    <= APC_LEVEL.

--*/
{
    return FltAllocateFileLock(FbCompleteLock, FbUnlockRoutine);
}

static ULONG
FbLockFlags(
    _In_ const FB_LOCK_OP *LockOp
    )
{
    return LockOp->LockFlags;
}

/*++

Routine Description:

    Emits a LOCK_* or UNLOCKED record for a lock request.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static VOID
FbEmitLock(
    _In_ PFB_STREAM Stream,
    _In_ const FB_LOCK_OP *LockOp,
    _In_ USHORT Type,
    _In_ NTSTATUS Status,
    _In_ ULONG ExtraFlags,
    _In_ ULONGLONG Related
    )
{
    FB_EVENT event;

    if (!FbEventWanted(Type)) {
        return;
    }

    FbEventFromStream(&event, Type, Status, Stream, LockOp->FileObjectId, LockOp->OperationId,
                      LockOp->ProcessId, LockOp->ThreadId);
    event.Payload.Lock.Offset = LockOp->Offset;
    event.Payload.Lock.Length = LockOp->Length;
    event.Payload.Lock.Key = LockOp->Key;
    event.Payload.Lock.LockFlags = FbLockFlags(LockOp) | ExtraFlags;
    event.Payload.Lock.RelatedOperationId = Related;
    FbEventPost(&event);
}

/*++

Routine Description:

    Completion routine of the FILE_LOCK (PFLT_COMPLETE_LOCK_CALLBACK_DATA_ROUTINE):
    an IRP lock request completed.

Arguments:

    Context - the FB_STREAM passed to FltProcessFileLock.

    Data - the lock request.

Return Value:

    Data->IoStatus.Status, unchanged.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static NTSTATUS
FLTAPI
FbCompleteLock(
    _In_opt_ PVOID Context,
    _In_ PFLT_CALLBACK_DATA Data
    )
{
    PFB_STREAM stream = (PFB_STREAM)Context;
    NTSTATUS status = Data->IoStatus.Status;
    PFB_LOCK_OP owned = NULL;
    PFB_OPERATION releaser;
    PLIST_ENTRY entry;
    FB_LOCK_OP copy;
    BOOLEAN found = FALSE;
    BOOLEAN emitWaiting = FALSE;
    BOOLEAN afterWait = FALSE;
    KIRQL oldIrql;

    if (stream == NULL) {
        return status;
    }

    //
    //  Take what we need under the lock. A request that completes while
    //  its caller is still inside FltProcessFileLock (Pended not yet set)
    //  stays owned by that caller, which frees it once it sees it gone
    //  from the list; one that completes after it was queued is ours.
    //

    RtlZeroMemory(&copy, sizeof(copy));
    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    for (entry = stream->LockOps.Flink; entry != &stream->LockOps; entry = entry->Flink) {
        PFB_LOCK_OP candidate = CONTAINING_RECORD(entry, FB_LOCK_OP, Link);
        if (candidate->Data == Data) {
            RemoveEntryList(&candidate->Link);
            InitializeListHead(&candidate->Link);
            afterWait = (BOOLEAN)(candidate->Pended || candidate->CallThread != PsGetCurrentThread());
            if (afterWait && !candidate->WaitingEmitted) {
                candidate->WaitingEmitted = TRUE;
                emitWaiting = TRUE;
            }
            copy = *candidate;
            if (candidate->Pended) {
                owned = candidate;
            }
            found = TRUE;
            break;
        }
    }
    KeReleaseSpinLock(&stream->Lock, oldIrql);

    if (!found) {
        return status;
    }

    releaser = afterWait ? FbStreamActiveOperation(stream) : NULL;

    if (emitWaiting && copy.Minor == IRP_MN_LOCK) {
        FbEmitLock(stream, &copy, FLTB_EVENT_LOCK_WAITING, STATUS_PENDING, 0, 0);
    }

    switch (copy.Minor) {
    case IRP_MN_LOCK:
        FbEmitLock(stream, &copy, NT_SUCCESS(status) ? FLTB_EVENT_LOCK_GRANTED : FLTB_EVENT_LOCK_DENIED,
                   status, afterWait ? FLTB_LOCK_AFTER_WAIT : 0u,
                   (releaser != NULL) ? releaser->OperationId : 0);
        break;
    case IRP_MN_UNLOCK_SINGLE:
        if (!NT_SUCCESS(status)) {
            FbEmitLock(stream, &copy, FLTB_EVENT_UNLOCKED, status, 0, copy.OperationId);
        }
        break;
    default:
        break;
    }

    if (owned != NULL) {
        FbFree(owned, FB_TAG_LOCKOP);
    }

    return status;
}

/*++

Routine Description:

    Unlock routine of the FILE_LOCK (PUNLOCK_ROUTINE): one range was
    released. The releasing operation is the one in a package call on this
    thread (unlock, unlock all, cleanup).

Arguments:

    Context - the FB_STREAM passed to FltProcessFileLock / FsRtlFastUnlockAll.

    FileLockInfo - the released range.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static VOID
NTAPI
FbUnlockRoutine(
    _In_ PVOID Context,
    _In_ PFILE_LOCK_INFO FileLockInfo
    )
{
    PFB_STREAM stream = (PFB_STREAM)Context;
    PFB_OPERATION releaser;
    FB_EVENT event;

    if (stream == NULL || FileLockInfo == NULL) {
        return;
    }

    releaser = FbStreamActiveOperation(stream);
    if (releaser != NULL) {
        releaser->UnlockCount += 1;
    }

    if (!FbEventWanted(FLTB_EVENT_UNLOCKED)) {
        return;
    }

    FbEventFromStream(&event, FLTB_EVENT_UNLOCKED, STATUS_SUCCESS, stream,
                      (releaser != NULL) ? releaser->FileObjectId : 0,
                      (releaser != NULL) ? releaser->OperationId : 0,
                      (releaser != NULL) ? releaser->ProcessId : 0,
                      (releaser != NULL) ? releaser->ThreadId : 0);
    event.Payload.Lock.Offset = (ULONGLONG)FileLockInfo->StartingByte.QuadPart;
    event.Payload.Lock.Length = (ULONGLONG)FileLockInfo->Length.QuadPart;
    event.Payload.Lock.Key = FileLockInfo->Key;
    event.Payload.Lock.LockFlags = FileLockInfo->ExclusiveLock ? FLTB_LOCK_EXCLUSIVE : 0u;
    event.Payload.Lock.RelatedOperationId = (releaser != NULL) ? releaser->OperationId : 0;
    FbEventPost(&event);
}

/*++

Routine Description:

    FltProcessFileLock for a managed stream's IRP_MJ_LOCK_CONTROL, with the
    bookkeeping that lets the routines above name the request and its
    waiting. The caller holds the stream's resource shared.

Arguments:

    Operation - the lock request.

Return Value:

    The lock package's result, returned unchanged by the caller:
    FLT_PREOP_COMPLETE (done), FLT_PREOP_PENDING (queued; the package
    completes it), FLT_PREOP_DISALLOW_FASTIO.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbFileLockProcess(
    _In_ PFB_OPERATION Operation
    )
{
    PFLT_CALLBACK_DATA data = Operation->Data;
    PFB_STREAM stream = Operation->Stream;
    PFLT_PARAMETERS parameters = &data->Iopb->Parameters;
    FLT_PREOP_CALLBACK_STATUS result;
    PFB_LOCK_OP lockOp;
    PLIST_ENTRY entry;
    FB_LOCK_OP waiting;
    BOOLEAN stillQueued = FALSE;
    BOOLEAN emitWaiting = FALSE;
    KIRQL oldIrql;

    if (stream->FileLock == NULL) {
        data->IoStatus.Status = STATUS_FILE_CLOSED;
        data->IoStatus.Information = 0;
        return FLT_PREOP_COMPLETE;
    }

    RtlZeroMemory(&waiting, sizeof(waiting));

    lockOp = (PFB_LOCK_OP)FbAllocate(sizeof(FB_LOCK_OP), FB_TAG_LOCKOP);
    if (lockOp == NULL) {
        data->IoStatus.Status = STATUS_INSUFFICIENT_RESOURCES;
        data->IoStatus.Information = 0;
        return FLT_PREOP_COMPLETE;
    }

    lockOp->Data = data;
    lockOp->CallThread = PsGetCurrentThread();
    lockOp->OperationId = Operation->OperationId;
    lockOp->FileObjectId = Operation->FileObjectId;
    lockOp->ProcessId = Operation->ProcessId;
    lockOp->ThreadId = Operation->ThreadId;
    lockOp->Minor = Operation->Minor;
    lockOp->Key = parameters->LockControl.Key;
    lockOp->Offset = (ULONGLONG)parameters->LockControl.ByteOffset.QuadPart;
    lockOp->Length = (parameters->LockControl.Length != NULL)
                         ? (ULONGLONG)parameters->LockControl.Length->QuadPart : 0;
    if (parameters->LockControl.ExclusiveLock) {
        lockOp->LockFlags |= FLTB_LOCK_EXCLUSIVE;
    }
    if (parameters->LockControl.FailImmediately) {
        lockOp->LockFlags |= FLTB_LOCK_FAIL_IMMEDIATELY;
    }

    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    InsertTailList(&stream->LockOps, &lockOp->Link);
    KeReleaseSpinLock(&stream->Lock, oldIrql);

    FbOperationEnterPackage(Operation);

    __try {
        result = FltProcessFileLock(stream->FileLock, data, stream);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        data->IoStatus.Status = FB_EXCEPTION_STATUS();
        data->IoStatus.Information = 0;
        result = FLT_PREOP_COMPLETE;
    }

    FbOperationLeavePackage(Operation);

    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    for (entry = stream->LockOps.Flink; entry != &stream->LockOps; entry = entry->Flink) {
        if (entry == &lockOp->Link) {
            stillQueued = TRUE;
            break;
        }
    }
    if (stillQueued && result == FLT_PREOP_PENDING) {

        //
        //  Queued: from now on the completion routine owns the entry.
        //

        lockOp->Pended = TRUE;
        lockOp->CallThread = NULL;
        if (!lockOp->WaitingEmitted) {
            lockOp->WaitingEmitted = TRUE;
            emitWaiting = TRUE;
            waiting = *lockOp;
        }
    } else if (stillQueued) {
        RemoveEntryList(&lockOp->Link);
    }
    KeReleaseSpinLock(&stream->Lock, oldIrql);

    if (emitWaiting && waiting.Minor == IRP_MN_LOCK) {
        FbEmitLock(stream, &waiting, FLTB_EVENT_LOCK_WAITING, STATUS_PENDING, 0, 0);
    }

    if (stillQueued && result != FLT_PREOP_PENDING) {

        //
        //  Completed without the completion routine (fast I/O): report it
        //  here.
        //

        if (lockOp->Minor == IRP_MN_LOCK) {
            FbEmitLock(stream, lockOp,
                       NT_SUCCESS(data->IoStatus.Status) ? FLTB_EVENT_LOCK_GRANTED : FLTB_EVENT_LOCK_DENIED,
                       data->IoStatus.Status, 0, 0);
        }
        FbFree(lockOp, FB_TAG_LOCKOP);
    } else if (!stillQueued) {

        //
        //  The completion routine ran during the call (on this thread or
        //  another) and left the entry to us.
        //

        FbFree(lockOp, FB_TAG_LOCKOP);
    }

    return result;
}

/*++

Routine Description:

    The byte-range lock check of a read or write (FltCheckLockForReadAccess
    / FltCheckLockForWriteAccess). The caller holds the resource shared.

    A write to end of file whose offset was resolved (FB_OP_OFFSET_RESOLVED)
    is checked at that offset: FltCheckLockForWriteAccess reads the range
    from the callback data, so ByteOffset holds the resolved offset for the
    call and gets its own value back right after (the file system below
    still sees FILE_WRITE_TO_END_OF_FILE and resolves it itself; nothing
    else looks at the parameters in between, so the callback data is not
    dirtied).

Arguments:

    Operation - the read or write.

Return Value:

    TRUE when the I/O may proceed.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbFileLockCheckIo(
    _In_ PFB_OPERATION Operation
    )
{
    PFILE_LOCK fileLock = Operation->Stream->FileLock;
    PFLT_IO_PARAMETER_BLOCK iopb = Operation->Data->Iopb;
    LARGE_INTEGER requested = iopb->Parameters.Write.ByteOffset;
    BOOLEAN resolved = (BOOLEAN)(Operation->Major == IRP_MJ_WRITE &&
                                 FbOpTestFlags(Operation, FB_OP_OFFSET_RESOLVED));
    BOOLEAN allowed = TRUE;

    if (fileLock == NULL) {
        return TRUE;
    }

    if (resolved) {
        iopb->Parameters.Write.ByteOffset.QuadPart = (LONGLONG)Operation->ResolvedOffset;
    }

    __try {
        if (Operation->Major == IRP_MJ_READ) {
            allowed = FltCheckLockForReadAccess(fileLock, Operation->Data);
        } else {
            allowed = FltCheckLockForWriteAccess(fileLock, Operation->Data);
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        allowed = FALSE;
    }

    if (resolved) {
        iopb->Parameters.Write.ByteOffset = requested;
    }

    return allowed;
}

/*++

Routine Description:

    Cleanup: releases every byte-range lock the closing handle's process
    holds through this file object (FsRtlFastUnlockAll), which also
    completes waiting requests that can now be granted.

Arguments:

    Operation - the cleanup.

Return Value:

    Ranges released.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
ULONG
FbFileLockUnlockAllAtCleanup(
    _In_ PFB_OPERATION Operation
    )
{
    PFB_STREAM stream = Operation->Stream;
    PFLT_CALLBACK_DATA data = Operation->Data;

    if (stream->FileLock == NULL) {
        return 0;
    }

    Operation->UnlockCount = 0;
    FbOperationEnterPackage(Operation);

    __try {
        (VOID)FsRtlFastUnlockAll(stream->FileLock,
                                 data->Iopb->TargetFileObject,
                                 FltGetRequestorProcess(data),
                                 stream);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        NOTHING;
    }

    FbOperationLeavePackage(Operation);
    return Operation->UnlockCount;
}

/*++

Routine Description:

    Are there byte-range locks on the stream (the OpenCount of a shared
    oplock request: FltOplockFsctrlEx)?

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbFileLockAnyLocks(
    _In_ PFB_STREAM Stream
    )
{
    BOOLEAN any = FALSE;

    if (Stream->FileLock == NULL) {
        return FALSE;
    }

    __try {
        any = FsRtlAreThereCurrentOrInProgressFileLocks(Stream->FileLock);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        any = TRUE;
    }

    return any;
}

/*++

Routine Description:

    Are lock requests waiting on the stream (FsRtlAreThereWaitingFileLocks)?
    Part of fastfat's rule for when a lock-control request interferes with
    oplocks (lock.c).

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbFileLockAnyWaiting(
    _In_ PFB_STREAM Stream
    )
{
    BOOLEAN any = FALSE;

    if (Stream->FileLock == NULL) {
        return FALSE;
    }

    __try {
        any = FsRtlAreThereWaitingFileLocks(Stream->FileLock);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        any = TRUE;
    }

    return any;
}

/*++

Routine Description:

    A managed lock-control request failed before FltProcessFileLock (its
    oplock check failed, or the wait for a break ended with a failure such
    as STATUS_CANCELLED): the record its minor function calls for, with that
    status - LOCK_DENIED for a lock, UNLOCKED (the requested range) for an
    unlock, UNLOCK_ALL (count 0) for an unlock-all.

Arguments:

    Operation - the request.

    Status - its status.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEmitLockRefused(
    _In_ PFB_OPERATION Operation,
    _In_ NTSTATUS Status
    )
{
    PFLT_PARAMETERS parameters = &Operation->Data->Iopb->Parameters;
    FB_EVENT event;
    USHORT type;

    switch (Operation->Minor) {
    case IRP_MN_LOCK:
        type = FLTB_EVENT_LOCK_DENIED;
        break;
    case IRP_MN_UNLOCK_SINGLE:
        type = FLTB_EVENT_UNLOCKED;
        break;
    default:
        type = FLTB_EVENT_UNLOCK_ALL;
        break;
    }

    if (!FbEventWanted(type)) {
        return;
    }

    FbEventFromStream(&event, type, Status, Operation->Stream, Operation->FileObjectId,
                      Operation->OperationId, Operation->ProcessId, Operation->ThreadId);
    if (type == FLTB_EVENT_UNLOCK_ALL) {
        if (Operation->Minor == IRP_MN_UNLOCK_ALL_BY_KEY) {
            event.Payload.UnlockAll.Key = parameters->LockControl.Key;
            event.Payload.UnlockAll.UnlockFlags = FLTB_UNLOCK_ALL_BY_KEY;
        }
    } else {
        event.Payload.Lock.Offset = (ULONGLONG)parameters->LockControl.ByteOffset.QuadPart;
        event.Payload.Lock.Length = (parameters->LockControl.Length != NULL)
                                        ? (ULONGLONG)parameters->LockControl.Length->QuadPart : 0;
        event.Payload.Lock.Key = parameters->LockControl.Key;
        if (type == FLTB_EVENT_LOCK_DENIED) {
            event.Payload.Lock.LockFlags = (parameters->LockControl.ExclusiveLock ? FLTB_LOCK_EXCLUSIVE : 0u) |
                                           (parameters->LockControl.FailImmediately ? FLTB_LOCK_FAIL_IMMEDIATELY : 0u);
        } else {
            event.Payload.Lock.RelatedOperationId = Operation->OperationId;
        }
    }
    FbEventPost(&event);
}

/*++

Routine Description:

    Observe roots: a lock request the file system completed (post-op).
    LOCK_GRANTED or LOCK_DENIED for IRP_MN_LOCK; UNLOCKED for an unlock;
    UNLOCK_ALL (count 0: the file system does not say how many ranges it
    released) for an unlock-all.

Arguments:

    Data - the completed request.

    Observe - what the pre-op recorded.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbFileLockEmitObserved(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_OBSERVE_OP Observe
    )
{
    PFLT_PARAMETERS parameters = &Data->Iopb->Parameters;
    NTSTATUS status = Data->IoStatus.Status;
    FB_EVENT event;
    USHORT type;

    switch (Data->Iopb->MinorFunction) {
    case IRP_MN_LOCK:
        type = NT_SUCCESS(status) ? FLTB_EVENT_LOCK_GRANTED : FLTB_EVENT_LOCK_DENIED;
        break;
    case IRP_MN_UNLOCK_SINGLE:
        type = FLTB_EVENT_UNLOCKED;
        break;
    case IRP_MN_UNLOCK_ALL:
    case IRP_MN_UNLOCK_ALL_BY_KEY:
        type = FLTB_EVENT_UNLOCK_ALL;
        break;
    default:
        return;
    }

    if (!FbEventWanted(type)) {
        return;
    }

    FbEventFromStream(&event, type, status, Observe->Stream, Observe->Handle->FileObjectId,
                      Observe->OperationId, Observe->ProcessId, Observe->ThreadId);
    if (FLT_IS_FASTIO_OPERATION(Data)) {
        event.Flags |= FLTB_RECORD_FAST_IO;
    }
    if (type == FLTB_EVENT_UNLOCK_ALL) {
        if (Data->Iopb->MinorFunction == IRP_MN_UNLOCK_ALL_BY_KEY) {
            event.Payload.UnlockAll.Key = parameters->LockControl.Key;
            event.Payload.UnlockAll.UnlockFlags = FLTB_UNLOCK_ALL_BY_KEY;
        }
        FbEventPost(&event);
        return;
    }
    event.Payload.Lock.Offset = (ULONGLONG)parameters->LockControl.ByteOffset.QuadPart;
    event.Payload.Lock.Length = (parameters->LockControl.Length != NULL)
                                    ? (ULONGLONG)parameters->LockControl.Length->QuadPart : 0;
    event.Payload.Lock.Key = parameters->LockControl.Key;
    if (type == FLTB_EVENT_UNLOCKED) {
        event.Payload.Lock.RelatedOperationId = Observe->OperationId;
    } else {
        event.Payload.Lock.LockFlags = (parameters->LockControl.ExclusiveLock ? FLTB_LOCK_EXCLUSIVE : 0u) |
                                       (parameters->LockControl.FailImmediately ? FLTB_LOCK_FAIL_IMMEDIATELY : 0u);
    }
    FbEventPost(&event);
}
