/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    lock.c

Abstract:

    IRP_MJ_LOCK_CONTROL.

    Managed stream (docs/events.md, "lock", "unlock single", "unlock
    all"): fast I/O lock requests are refused (FLT_PREOP_DISALLOW_FASTIO),
    so every request comes as an IRP and reaches the completion routine of
    the FILE_LOCK; a request that can interfere with oplocks first goes
    through FltCheckOplockEx (a byte-range lock breaks level 2 /
    read-caching holders: the oplock package decides), then
    FltProcessFileLock, whose result (COMPLETE or PENDING for a waiting
    lock) is returned unchanged. UNLOCK_ALL follows an unlock-all. A
    request that fails before FltProcessFileLock (its oplock check, or its
    wait, failed) gets the record of its minor function with that status.

    Which requests interfere (fastfat lockctrl.c FatCommonLockControl,
    Windows 8 and later; [MS-FSA] 2.1.5.8): a lock whose range starts
    below the stream's allocation size, and an unlock while lock requests
    wait (it may let a waiting lock through inside the allocation).

    Observe root: LOCK_GRANTED / LOCK_DENIED, UNLOCKED for a single unlock,
    UNLOCK_ALL (count unknown: 0) for an unlock-all, when the file system
    completes the request. LOCK_WAITING cannot be seen from above the file
    system.

    Twin: src/model/filter/lock.ts.

Environment:

    Kernel mode, <= APC_LEVEL.

--*/

#include "driver.h"

/*++

Routine Description:

    FltProcessFileLock after the oplock check (inline, or from the work item
    after a wait), and the UNLOCK_ALL record of an unlock-all.

Arguments:

    Operation - the lock request.

Return Value:

    The lock package's result.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbLockAfterOplock(
    _In_ PFB_OPERATION Operation
    )
{
    PFLT_CALLBACK_DATA data = Operation->Data;
    FLT_PREOP_CALLBACK_STATUS result;
    UCHAR minor = Operation->Minor;
    ULONG key = data->Iopb->Parameters.LockControl.Key;
    FB_EVENT event;

    Operation->UnlockCount = 0;

    FltAcquireResourceShared(&Operation->Stream->Resource);
    result = FbFileLockProcess(Operation);
    FltReleaseResource(&Operation->Stream->Resource);

    if (result == FLT_PREOP_COMPLETE &&
        (minor == IRP_MN_UNLOCK_ALL || minor == IRP_MN_UNLOCK_ALL_BY_KEY) &&
        FbEventWanted(FLTB_EVENT_UNLOCK_ALL)) {
        FbEventFromStream(&event, FLTB_EVENT_UNLOCK_ALL, data->IoStatus.Status, Operation->Stream,
                          Operation->FileObjectId, Operation->OperationId,
                          Operation->ProcessId, Operation->ThreadId);
        event.Payload.UnlockAll.Count = Operation->UnlockCount;
        if (minor == IRP_MN_UNLOCK_ALL_BY_KEY) {
            event.Payload.UnlockAll.Key = key;
            event.Payload.UnlockAll.UnlockFlags = FLTB_UNLOCK_ALL_BY_KEY;
        }
        FbEventPost(&event);
    }

    return result;
}

/*++

Routine Description:

    Can this lock-control request interfere with oplocks (module header)?

Arguments:

    Operation - the request.

Return Value:

    TRUE when it gets an oplock check.

IRQL:

    <= APC_LEVEL.

--*/
static BOOLEAN
FbLockInterferes(
    _In_ PFB_OPERATION Operation
    )
{
    PFLT_PARAMETERS parameters = &Operation->Data->Iopb->Parameters;
    LONGLONG endOfFile;
    LONGLONG allocation;

    if (Operation->Minor != IRP_MN_LOCK) {
        return FbFileLockAnyWaiting(Operation->Stream);
    }

    //
    //  Without the sizes the check is made (breaking a holder that did
    //  not need it is the safe side: a lock that should have broken it and
    //  did not would let it cache data the lock now protects).
    //

    if (!FbQueryFileSizes(Operation->Data, &endOfFile, &allocation)) {
        return TRUE;
    }

    return (BOOLEAN)((ULONGLONG)parameters->LockControl.ByteOffset.QuadPart < (ULONGLONG)allocation);
}

/*++

Routine Description:

    Pre-lock-control. See the module header.

Arguments:

    Data, FltObjects - the request.

    CompletionContext - receives the FB_OBSERVE_OP of an observed request.

Return Value:

    FLT_PREOP_*.

IRQL:

    <= APC_LEVEL.

--*/
FLT_PREOP_CALLBACK_STATUS
FLTAPI
FbPreLockControl(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
{
    FLT_PREOP_CALLBACK_STATUS result = FLT_PREOP_SUCCESS_WITH_CALLBACK;
    PFB_OPERATION operation;
    PFB_STREAM stream;
    PFB_HANDLE handle;

    *CompletionContext = NULL;

    if (!FbStreamGetForOperation(FltObjects, &stream, &handle)) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    if (!stream->Managed) {
        PFB_OBSERVE_OP observe = FbObserveOpCreate(Data, stream, handle);
        FbStreamRelease(stream, handle);
        if (observe == NULL) {
            return FLT_PREOP_SUCCESS_NO_CALLBACK;
        }
        *CompletionContext = observe;
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    }

    if (!FLT_IS_IRP_OPERATION(Data)) {
        FbStreamRelease(stream, handle);
        return FLT_PREOP_DISALLOW_FASTIO;
    }

    operation = FbOperationCreate(Data, FltObjects, stream, handle);
    FbStreamRelease(stream, handle);
    if (operation == NULL) {
        Data->IoStatus.Status = STATUS_INSUFFICIENT_RESOURCES;
        Data->IoStatus.Information = 0;
        return FLT_PREOP_COMPLETE;
    }

    operation->Stage = FbStageLock;

    if (FbLockInterferes(operation)) {
        FltAcquireResourceShared(&operation->Stream->Resource);
        result = FbOplockCheck(operation, 0, TRUE);
        FltReleaseResource(&operation->Stream->Resource);
    }

    if (result == FLT_PREOP_SUCCESS_WITH_CALLBACK) {
        result = FbLockAfterOplock(operation);
    } else if (result == FLT_PREOP_COMPLETE) {
        FbEmitLockRefused(operation, Data->IoStatus.Status);
    }

    //
    //  COMPLETE: done; PENDING: the oplock package or the lock package owns
    //  the request now. Either way there is no post-operation for it.
    //

    FbOperationRelease(operation);
    return (result == FLT_PREOP_SUCCESS_WITH_CALLBACK) ? FLT_PREOP_SUCCESS_NO_CALLBACK : result;
}

/*++

Routine Description:

    Post-lock-control of an observed request.

IRQL:

    <= DISPATCH_LEVEL.

--*/
FLT_POSTOP_CALLBACK_STATUS
FLTAPI
FbPostLockControl(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    )
{
    PFB_OBSERVE_OP observe = (PFB_OBSERVE_OP)CompletionContext;

    UNREFERENCED_PARAMETER(FltObjects);

    if (observe == NULL) {
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    if ((Flags & FLTFL_POST_OPERATION_DRAINING) == 0) {
        FbFileLockEmitObserved(Data, observe);
    }

    FbObserveOpRelease(observe);
    return FLT_POSTOP_FINISHED_PROCESSING;
}
