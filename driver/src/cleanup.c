/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    cleanup.c

Abstract:

    IRP_MJ_CLEANUP: the last user handle of a file object was closed.

    Managed stream (docs/events.md, "cleanup"), in the order of fastfat
    cleanup.c FatCommonCleanup:

      1. FsRtlFastUnlockAll for the handle's byte-range locks: its
         callbacks emit in the lock package's order (UNLOCKED per range,
         shared then exclusive; the handle's own waiting requests end with
         STATUS_RANGE_NOT_LOCKED; other waiters granted), then UNLOCK_ALL
         with CLEANUP when anything was released;
      2. the handle stops counting (open handles, share access: fastfat
         removes the share access before its oplock check), with the
         delete bookkeeping of the CLEANUP flags (FbStreamCleanupHandle);
      3. FltCheckOplockEx without wait routines (cleanup never waits; it
         ends the handle's own held oplock request and releases operations
         waiting on it). The operations it releases continue from the
         post-cleanup, after the file system's own cleanup (oplock.c).

    Cleanup never fails. The CLEANUP record is emitted at post-cleanup.

    CLEANUP flags (what the filter saw; it cannot ask the file system at
    cleanup): DELETE_ON_CLOSE for a delete-on-close handle, which makes the
    stream delete-pending; DELETED when the last handle of a delete-pending
    stream (a disposition seen to succeed, or a delete-on-close handle) is
    cleaned up.

    Observe root: the handle stops counting; CLEANUP at post-cleanup with
    the same flags.

    Twin: src/model/filter/cleanup.ts.

Environment:

    Kernel mode, PASSIVE_LEVEL.

--*/

#include "driver.h"

/*++

Routine Description:

    What a managed stream's cleanup must do even when no FB_OPERATION could
    be allocated, in the normal path's order: FsRtlFastUnlockAll for the
    closing file object and process, the handle stops counting, and
    FltCheckOplockEx (the oplock package ends the handle's own oplock
    requests and releases operations waiting on them), under the stream's
    resource held shared. No events.

Arguments:

    Data - the cleanup.

    Stream, Handle - the handle's stream and handle context.

Return Value:

    None.

IRQL:

    PASSIVE_LEVEL.

--*/
static VOID
FbCleanupEssential(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle
    )
{
    if (!Stream->ResourceReady) {
        (VOID)FbStreamCleanupHandle(Stream, Handle);
        return;
    }

    FltAcquireResourceShared(&Stream->Resource);

    if (Stream->FileLock != NULL) {
        __try {
            (VOID)FsRtlFastUnlockAll(Stream->FileLock, Data->Iopb->TargetFileObject,
                                     FltGetRequestorProcess(Data), Stream);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            NOTHING;
        }
    }

    (VOID)FbStreamCleanupHandle(Stream, Handle);

    if (Stream->OplockReady) {
        __try {
            (VOID)FltCheckOplockEx(&Stream->Oplock, Data, 0, NULL, NULL, NULL);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            NOTHING;
        }
    }

    FltReleaseResource(&Stream->Resource);
}

/*++

Routine Description:

    Pre-cleanup.

Arguments:

    Data, FltObjects - the cleanup.

    CompletionContext - receives the FB_OPERATION (managed) or the
    FB_OBSERVE_OP (observed).

Return Value:

    FLT_PREOP_SUCCESS_WITH_CALLBACK, or FLT_PREOP_SUCCESS_NO_CALLBACK when
    the file object is not ours.

IRQL:

    PASSIVE_LEVEL.

--*/
FLT_PREOP_CALLBACK_STATUS
FLTAPI
FbPreCleanup(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
{
    PFB_OPERATION operation;
    PFB_STREAM stream;
    PFB_HANDLE handle;
    FB_EVENT event;
    ULONG released;

    *CompletionContext = NULL;

    if (!FbStreamGetForOperation(FltObjects, &stream, &handle)) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    if (!stream->Managed) {
        PFB_OBSERVE_OP observe = FbObserveOpCreate(Data, stream, handle);
        ULONG cleanupFlags = FbStreamCleanupHandle(stream, handle);
        FbStreamRelease(stream, handle);
        if (observe == NULL) {
            return FLT_PREOP_SUCCESS_NO_CALLBACK;
        }
        observe->Level = cleanupFlags;          /* the CLEANUP flags, for the post-cleanup */
        *CompletionContext = observe;
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    }

    operation = FbOperationCreate(Data, FltObjects, stream, handle);
    if (operation == NULL) {

        //
        //  Cleanup cannot fail, and the handle's oplock state and byte-range
        //  locks must go now (a lock left behind by a file object that is
        //  going away would refuse every other opener until the volume is
        //  dismounted): do the essential part without our bookkeeping.
        //

        FbCleanupEssential(Data, stream, handle);
        handle->CleanedUp = TRUE;
        FbStreamRelease(stream, handle);
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }
    FbStreamRelease(stream, handle);

    //
    //  1. The handle's byte-range locks.
    //

    FltAcquireResourceShared(&operation->Stream->Resource);
    released = FbFileLockUnlockAllAtCleanup(operation);
    FltReleaseResource(&operation->Stream->Resource);

    operation->Handle->LocksReleasedAtCleanup = released;

    if (released != 0 && FbEventWanted(FLTB_EVENT_UNLOCK_ALL)) {
        FbEventFromStream(&event, FLTB_EVENT_UNLOCK_ALL, STATUS_SUCCESS, operation->Stream,
                          operation->FileObjectId, operation->OperationId,
                          operation->ProcessId, operation->ThreadId);
        event.Payload.UnlockAll.Count = released;
        event.Payload.UnlockAll.UnlockFlags = FLTB_UNLOCK_ALL_CLEANUP;
        FbEventPost(&event);
    }

    //
    //  2. The handle stops counting.
    //

    operation->Handle->CleanupFlags = FbStreamCleanupHandle(operation->Stream, operation->Handle);
    operation->Handle->CleanedUp = TRUE;

    //
    //  3. The oplock: the handle's state goes; the waiters it releases are
    //  kept for the post-cleanup.
    //

    FbOpSetFlags(operation, FB_OP_COLLECT_RELEASED);
    FltAcquireResourceShared(&operation->Stream->Resource);
    (VOID)FbOplockCheck(operation, 0, FALSE);
    FltReleaseResource(&operation->Stream->Resource);

    *CompletionContext = operation;
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

/*++

Routine Description:

    Post-cleanup: emits CLEANUP; forgets held oplock requests of the
    handle that no watch instance reported ending; continues the
    operations the cleanup's oplock check released.

IRQL:

    <= APC_LEVEL (cleanup completes synchronously).

--*/
FLT_POSTOP_CALLBACK_STATUS
FLTAPI
FbPostCleanup(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    )
{
    FB_EVENT event;

    UNREFERENCED_PARAMETER(FltObjects);

    if (CompletionContext == NULL) {
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    if (FB_CONTEXT_KIND(CompletionContext) == FB_KIND_OBSERVE) {

        PFB_OBSERVE_OP observe = (PFB_OBSERVE_OP)CompletionContext;

        if ((Flags & FLTFL_POST_OPERATION_DRAINING) == 0 && FbEventWanted(FLTB_EVENT_CLEANUP)) {
            FbEventFromStream(&event, FLTB_EVENT_CLEANUP, Data->IoStatus.Status, observe->Stream,
                              observe->Handle->FileObjectId, observe->OperationId,
                              observe->ProcessId, observe->ThreadId);
            event.Payload.Cleanup.OpenHandlesRemaining = (ULONG)((observe->Stream->OpenHandles > 0)
                                                                 ? observe->Stream->OpenHandles : 0);
            event.Payload.Cleanup.CleanupFlags = observe->Level;
            FbEventPost(&event);
        }
        FbObserveOpRelease(observe);
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    {
        PFB_OPERATION operation = (PFB_OPERATION)CompletionContext;

        FbHoldsRelease(operation->Stream, operation->FileObjectId);

        if ((Flags & FLTFL_POST_OPERATION_DRAINING) == 0 && FbEventWanted(FLTB_EVENT_CLEANUP)) {
            FbEventFromStream(&event, FLTB_EVENT_CLEANUP, Data->IoStatus.Status, operation->Stream,
                              operation->FileObjectId, operation->OperationId,
                              operation->ProcessId, operation->ThreadId);
            event.Payload.Cleanup.OpenHandlesRemaining = (ULONG)((operation->Stream->OpenHandles > 0)
                                                                 ? operation->Stream->OpenHandles : 0);
            event.Payload.Cleanup.LocksReleased = operation->Handle->LocksReleasedAtCleanup;
            event.Payload.Cleanup.CleanupFlags = operation->Handle->CleanupFlags;
            FbEventPost(&event);
        }

        //
        //  The file system has cleaned the handle up: what the oplock check
        //  released may continue now.
        //

        FbResumeReleasedWaiters(operation);
        FbOperationRelease(operation);
    }

    return FLT_POSTOP_FINISHED_PROCESSING;
}
