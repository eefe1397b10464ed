/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    oplock.c

Abstract:

    The oplock side of managed streams: per-operation state (FB_OPERATION),
    the SEH-guarded wrappers around the oplock package (FltCheckOplockEx,
    FltOplockBreakH, FltOplockFsctrlEx), and the routines the package calls
    back: the wait-complete routine (an operation that waited for a break
    is released) and the pre-post routine (an operation is about to be
    posted to another thread).

    Rules followed (learn.microsoft.com: FltCheckOplockEx, FltOplockBreakH,
    FltCompletePendedPreOperation, "Oplock synchronization in file systems
    and filters"; shared/reference/driver-research.md 1.5):

      - FLT_PREOP_PENDING from the package means the operation was posted:
        the pre-operation returns PENDING and never touches the callback
        data again; the wait-complete routine resumes it with
        FltCompletePendedPreOperation (success: continue, failure: complete
        with the status the package left in IoStatus);
      - the wait-complete routine never calls the oplock package again
        (deadlock); what remains of the operation (a second oplock check
        for a create, the byte-range lock check of a read or write,
        FltProcessFileLock) runs in a deferred I/O work item;
      - the pre-post routine locks the user buffer of reads and writes
        (FltLockUserBuffer) before the operation changes thread;
      - every package call is guarded by SEH: a raised status completes
        the operation with that status;
      - an operation that may pend is on the instance's pended list from
        just before the call until it is resumed, so teardown can wait for
        it and GET_STATS can count it;
      - OPLOCK_BREAK records an operation causes inside FltCheckOplockEx /
        FltOplockBreakH wait on that operation until the call returns:
        then OPERATION_WAITS is exactly "the call returned
        FLT_PREOP_PENDING" (or the operation's wait ended first, which
        proves it waited), and the records are posted in the order the
        package made them, before anything else the operation emits;
      - waiters released by a cleanup resume from that cleanup's
        post-operation, after the file system's own cleanup of the handle
        (its share access gone): a released create then meets the file
        system in the state a create the file system had posted itself
        would (fastfat cleanup.c removes share access before the oplock
        check and its posted creates run after the cleanup).

    Twin: src/model/filter/oplock.ts (and src/model/oplock for the package).

Environment:

    Kernel mode.

--*/

#include "driver.h"

static VOID FLTAPI FbOplockWaitComplete(_In_ PFLT_CALLBACK_DATA Data, _In_opt_ PVOID Context);
static VOID FLTAPI FbOplockPrePost(_In_ PFLT_CALLBACK_DATA Data, _In_opt_ PVOID Context);
static VOID FLTAPI FbContinueWorker(_In_ PFLT_DEFERRED_IO_WORKITEM WorkItem, _In_ PFLT_CALLBACK_DATA Data, _In_opt_ PVOID Context);

/*++

Routine Description:

    Creates the state of one operation on a managed stream (and of creates
    under observe roots). One reference, owned by the caller.

Arguments:

    Data - the operation.

    FltObjects - its objects.

    Stream - its stream (referenced here).

    Handle - its handle context (referenced here), NULL for a create.

Return Value:

    The operation, or NULL (allocation failure).

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
PFB_OPERATION
FbOperationCreate(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ PFB_STREAM Stream,
    _In_opt_ PFB_HANDLE Handle
    )
{
    PFB_OPERATION operation;

    operation = (PFB_OPERATION)FbAllocate(sizeof(FB_OPERATION), FB_TAG_OPERATION);
    if (operation == NULL) {
        return NULL;
    }

    operation->InstanceContext = FbGetInstanceContext(FltObjects->Instance);
    if (operation->InstanceContext == NULL) {
        FbFree(operation, FB_TAG_OPERATION);
        return NULL;
    }

    if (Stream->Managed) {
        operation->WorkItem = FltAllocateDeferredIoWorkItem();
        if (operation->WorkItem == NULL) {
            FltReleaseContext(operation->InstanceContext);
            FbFree(operation, FB_TAG_OPERATION);
            return NULL;
        }
    }

    operation->Kind = FB_KIND_OPERATION;
    operation->RefCount = 1;
    InitializeListHead(&operation->PendedLink);
    InitializeListHead(&operation->ActiveLink);
    InitializeListHead(&operation->DeferredEvents);
    InitializeListHead(&operation->ReleasedWaiters);
    InitializeListHead(&operation->ReleasedLink);
    operation->Data = Data;
    operation->Stream = Stream;
    FltReferenceContext(Stream);
    operation->Handle = Handle;
    if (Handle != NULL) {
        FltReferenceContext(Handle);
        operation->FileObjectId = Handle->FileObjectId;
    }
    operation->OperationId = FbNewOperationId();
    operation->Major = Data->Iopb->MajorFunction;
    operation->Minor = Data->Iopb->MinorFunction;
    FbRequestorIds(Data, &operation->ProcessId, &operation->ThreadId);
    if (FLT_IS_FASTIO_OPERATION(Data)) {
        FbOpSetFlags(operation, FB_OP_FAST_IO);
    }

    return operation;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationReference(
    _In_ PFB_OPERATION Operation
    )
{
    InterlockedIncrement(&Operation->RefCount);
}

/*++

Routine Description:

    Drops a reference; the last one frees the operation and its references.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationRelease(
    _In_ PFB_OPERATION Operation
    )
{
    if (InterlockedDecrement(&Operation->RefCount) != 0) {
        return;
    }

    //
    //  Nothing can be deferred on an operation nobody references (every
    //  path flushes what it deferred before it lets go), but do not leak
    //  if one did.
    //

    while (!IsListEmpty(&Operation->DeferredEvents)) {
        PFB_DEFERRED_EVENT node = CONTAINING_RECORD(RemoveHeadList(&Operation->DeferredEvents),
                                                    FB_DEFERRED_EVENT, Link);
        FbFree(node, FB_TAG_DEFERRED);
    }

    if (Operation->WorkItem != NULL) {
        FltFreeDeferredIoWorkItem(Operation->WorkItem);
    }
    FbStreamRelease(Operation->Stream, Operation->Handle);
    FltReleaseContext(Operation->InstanceContext);
    FbFree(Operation, FB_TAG_OPERATION);
}

/*++

Routine Description:

    Marks the operation as being inside a package call on this thread, so
    callbacks the package makes on the same thread (an oplock request that
    breaks, a waiter that is released, a lock range that is freed) can name
    it as the cause.

    After FLT_PREOP_PENDING the operation may be resumed on a work item
    (and enter the lock package there) before the thread that got PENDING
    has left: the latest thread to enter owns the mark, and only that
    thread's leave removes it.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationEnterPackage(
    _In_ PFB_OPERATION Operation
    )
{
    PFB_STREAM stream = Operation->Stream;
    KIRQL oldIrql;

    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    if (!FbOpTestFlags(Operation, FB_OP_ACTIVE)) {
        InsertTailList(&stream->ActiveOps, &Operation->ActiveLink);
        FbOpSetFlags(Operation, FB_OP_ACTIVE);
    }
    Operation->ActiveThread = PsGetCurrentThread();
    KeReleaseSpinLock(&stream->Lock, oldIrql);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationLeavePackage(
    _In_ PFB_OPERATION Operation
    )
{
    PFB_STREAM stream = Operation->Stream;
    KIRQL oldIrql;

    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    if (FbOpTestFlags(Operation, FB_OP_ACTIVE) && Operation->ActiveThread == PsGetCurrentThread()) {
        RemoveEntryList(&Operation->ActiveLink);
        InitializeListHead(&Operation->ActiveLink);
        FbOpClearFlags(Operation, FB_OP_ACTIVE);
        Operation->ActiveThread = NULL;
    }
    KeReleaseSpinLock(&stream->Lock, oldIrql);
}

/*++

Routine Description:

    The operation of this stream that the current thread is running a
    package call for, if any. The result is valid while the caller runs
    inside that call (it is the caller's own frame further up the stack).

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
PFB_OPERATION
FbStreamActiveOperation(
    _In_ PFB_STREAM Stream
    )
{
    PFB_OPERATION found = NULL;
    PETHREAD thread = PsGetCurrentThread();
    PLIST_ENTRY entry;
    KIRQL oldIrql;

    KeAcquireSpinLock(&Stream->Lock, &oldIrql);
    for (entry = Stream->ActiveOps.Flink; entry != &Stream->ActiveOps; entry = entry->Flink) {
        PFB_OPERATION operation = CONTAINING_RECORD(entry, FB_OPERATION, ActiveLink);
        if (operation->ActiveThread == thread) {
            found = operation;
            break;
        }
    }
    KeReleaseSpinLock(&Stream->Lock, oldIrql);

    return found;
}

/*++

Routine Description:

    Puts the operation on (or takes it off) its instance's pended list.
    Teardown complete waits for the list to empty.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationMarkPended(
    _In_ PFB_OPERATION Operation
    )
{
    PFB_INSTANCE_CONTEXT instance = Operation->InstanceContext;
    KIRQL oldIrql;

    KeAcquireSpinLock(&instance->Lock, &oldIrql);
    if (!FbOpTestFlags(Operation, FB_OP_PENDED)) {
        InsertTailList(&instance->Pended, &Operation->PendedLink);
        FbOpSetFlags(Operation, FB_OP_PENDED);
        InterlockedIncrement(&FbGlobals.PendedOperations);
        KeClearEvent(&instance->PendedDrained);
    }
    KeReleaseSpinLock(&instance->Lock, oldIrql);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationUnmarkPended(
    _In_ PFB_OPERATION Operation
    )
{
    PFB_INSTANCE_CONTEXT instance = Operation->InstanceContext;
    KIRQL oldIrql;

    KeAcquireSpinLock(&instance->Lock, &oldIrql);
    if (FbOpTestFlags(Operation, FB_OP_PENDED)) {
        RemoveEntryList(&Operation->PendedLink);
        InitializeListHead(&Operation->PendedLink);
        FbOpClearFlags(Operation, FB_OP_PENDED);
        InterlockedDecrement(&FbGlobals.PendedOperations);
        if (IsListEmpty(&instance->Pended)) {
            KeSetEvent(&instance->PendedDrained, IO_NO_INCREMENT, FALSE);
        }
    }
    KeReleaseSpinLock(&instance->Lock, oldIrql);
}

/*++

Routine Description:

    Common frame of the pend-capable package calls: reference and pended
    mark for the resume path, active mark for causality, SEH around the
    call. After FLT_PREOP_PENDING the caller must not touch the callback
    data again and only drop its own reference.

Arguments:

    Operation - the operation (its Stream's resource held shared).

    Flags - OPLOCK_FLAG_*.

    BreakH - TRUE for FltOplockBreakH, FALSE for FltCheckOplockEx.

    WithRoutines - FALSE only for cleanup (which never waits).

Return Value:

    The package's FLT_PREOP_CALLBACK_STATUS (COMPLETE with the exception
    code in IoStatus when it raised).

IRQL:

    <= APC_LEVEL.

--*/
static FLT_PREOP_CALLBACK_STATUS
FbOplockCall(
    _In_ PFB_OPERATION Operation,
    _In_ ULONG Flags,
    _In_ BOOLEAN BreakH,
    _In_ BOOLEAN WithRoutines
    )
{
    PFB_STREAM stream = Operation->Stream;
    PFLT_CALLBACK_DATA data = Operation->Data;
    FLT_PREOP_CALLBACK_STATUS result;

    if (!stream->OplockReady) {
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    }

    FbOperationReference(Operation);
    FbOperationMarkPended(Operation);
    FbOperationEnterPackage(Operation);

    if (WithRoutines) {
        KIRQL oldIrql;
        KeAcquireSpinLock(&stream->Lock, &oldIrql);
        Operation->DeferThread = PsGetCurrentThread();
        KeReleaseSpinLock(&stream->Lock, oldIrql);
    }

    __try {
        if (BreakH) {
            result = FltOplockBreakH(&stream->Oplock, data, Flags, Operation,
                                     FbOplockWaitComplete, FbOplockPrePost);
        } else {
            result = FltCheckOplockEx(&stream->Oplock, data, Flags, Operation,
                                      WithRoutines ? FbOplockWaitComplete : NULL,
                                      WithRoutines ? FbOplockPrePost : NULL);
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        data->IoStatus.Status = FB_EXCEPTION_STATUS();
        data->IoStatus.Information = 0;
        result = FLT_PREOP_COMPLETE;
    }

    FbOperationLeavePackage(Operation);

    //
    //  The breaks this call caused, with OPERATION_WAITS exactly when it
    //  made the operation wait. After FLT_PREOP_PENDING the caller's own
    //  reference keeps the operation alive here; the callback data is not
    //  touched.
    //

    if (WithRoutines) {
        FbFlushDeferredEvents(Operation, (BOOLEAN)(result == FLT_PREOP_PENDING));
    }

    if (result != FLT_PREOP_PENDING) {
        if (result == FLT_PREOP_SUCCESS_WITH_CALLBACK &&
            data->IoStatus.Status == STATUS_OPLOCK_BREAK_IN_PROGRESS) {
            FbOpSetFlags(Operation, FB_OP_BREAK_IN_PROGRESS);
        }
        FbOperationUnmarkPended(Operation);
        FbOperationRelease(Operation);
    }

    return result;
}

/*++

Routine Description:

    Keeps an OPLOCK_BREAK record the operation caused until its package call
    returns (see the module header), when the operation is inside
    FltCheckOplockEx / FltOplockBreakH with wait routines on this thread.

Arguments:

    Causer - the operation that caused the break.

    Event - the record (OPERATION_WAITS not set yet).

Return Value:

    TRUE when the record was kept; FALSE when the caller posts it now (no
    such call on this thread, or no memory: then OPERATION_WAITS stays
    clear).

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbDeferBreakEvent(
    _In_ PFB_OPERATION Causer,
    _In_ const FB_EVENT *Event
    )
{
    PFB_STREAM stream = Causer->Stream;
    PETHREAD thread = PsGetCurrentThread();
    PFB_DEFERRED_EVENT node;
    BOOLEAN kept = FALSE;
    KIRQL oldIrql;

    node = (PFB_DEFERRED_EVENT)FbAllocate(sizeof(FB_DEFERRED_EVENT), FB_TAG_DEFERRED);
    if (node == NULL) {
        return FALSE;
    }
    node->Thread = thread;
    RtlCopyMemory(&node->Event, Event, sizeof(*Event));

    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    if (Causer->DeferThread == thread) {
        InsertTailList(&Causer->DeferredEvents, &node->Link);
        kept = TRUE;
    }
    KeReleaseSpinLock(&stream->Lock, oldIrql);

    if (!kept) {
        FbFree(node, FB_TAG_DEFERRED);
    }
    return kept;
}

/*++

Routine Description:

    Posts the OPLOCK_BREAK records kept for an operation, in the order they
    were made, with OPERATION_WAITS when it waits.

Arguments:

    Operation - the causing operation.

    Waits - TRUE when its call returned FLT_PREOP_PENDING, or when it is
    being released from a wait (then every kept record is posted,
    whichever thread made it); FALSE: only this thread's records, and the
    deferral of this thread's call ends.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbFlushDeferredEvents(
    _In_ PFB_OPERATION Operation,
    _In_ BOOLEAN Waits
    )
{
    PFB_STREAM stream = Operation->Stream;
    PETHREAD thread = PsGetCurrentThread();
    LIST_ENTRY taken;
    PLIST_ENTRY entry;
    KIRQL oldIrql;

    InitializeListHead(&taken);

    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    if (Operation->DeferThread == thread) {
        Operation->DeferThread = NULL;
    }
    entry = Operation->DeferredEvents.Flink;
    while (entry != &Operation->DeferredEvents) {
        PFB_DEFERRED_EVENT node = CONTAINING_RECORD(entry, FB_DEFERRED_EVENT, Link);
        entry = entry->Flink;
        if (Waits || node->Thread == thread) {
            RemoveEntryList(&node->Link);
            InsertTailList(&taken, &node->Link);
        }
    }
    KeReleaseSpinLock(&stream->Lock, oldIrql);

    while (!IsListEmpty(&taken)) {
        PFB_DEFERRED_EVENT node = CONTAINING_RECORD(RemoveHeadList(&taken), FB_DEFERRED_EVENT, Link);
        if (Waits) {
            node->Event.Payload.OplockBreak.BreakFlags |= FLTB_BREAK_OPERATION_WAITS;
        }
        FbEventPost(&node->Event);
        FbFree(node, FB_TAG_DEFERRED);
    }
}

/*++

Routine Description:

    FltCheckOplockEx for an operation on a managed stream.

Arguments:

    Operation - the operation.

    Flags - OPLOCK_FLAG_*.

    WithRoutines - pass the wait-complete and pre-post routines.

Return Value:

    See FbOplockCall.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbOplockCheck(
    _In_ PFB_OPERATION Operation,
    _In_ ULONG Flags,
    _In_ BOOLEAN WithRoutines
    )
{
    return FbOplockCall(Operation, Flags, FALSE, WithRoutines);
}

_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbOplockBreakH(
    _In_ PFB_OPERATION Operation,
    _In_ ULONG Flags
    )
/*++

Routine Description:

    FltOplockBreakH for a create that will meet a sharing violation while
    handle-caching oplocks are held.

IRQL:

    <= APC_LEVEL.

--*/
{
    return FbOplockCall(Operation, Flags, TRUE, TRUE);
}

/*++

Routine Description:

    FltOplockFsctrlEx under SEH. The caller holds the stream's resource
    (exclusive for requests, shared for acknowledgements) and returns the
    result unchanged.

Arguments:

    Stream - the stream.

    Data - the FSCTL (or FILE_OPEN_REQUIRING_OPLOCK create).

    OpenCount, Flags - as for FltOplockFsctrlEx.

Return Value:

    The package's result, or FLT_PREOP_COMPLETE with the exception code in
    IoStatus.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbOplockFsctrl(
    _In_ PFB_STREAM Stream,
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ ULONG OpenCount,
    _In_ ULONG Flags
    )
{
    FLT_PREOP_CALLBACK_STATUS result;

    if (!Stream->OplockReady) {
        Data->IoStatus.Status = STATUS_FILE_CLOSED;
        Data->IoStatus.Information = 0;
        return FLT_PREOP_COMPLETE;
    }

    __try {
        result = FltOplockFsctrlEx(&Stream->Oplock, Data, OpenCount, Flags);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        Data->IoStatus.Status = FB_EXCEPTION_STATUS();
        Data->IoStatus.Information = 0;
        result = FLT_PREOP_COMPLETE;
    }

    return result;
}

/*++

Routine Description:

    Pre-post routine: the package is about to post the operation to a
    worker thread while it waits for a break. Reads and writes lock their
    user buffer now, while still in the requestor's context (the
    FltCheckOplockEx / FltLockUserBuffer pages: a posted operation runs in
    a system thread, where a raw user address means nothing). When the
    buffer cannot be locked the operation is marked, and its continuation
    fails it with that status instead of sending it down.

Arguments:

    Data - the operation.

    Context - the FB_OPERATION.

Return Value:

    None.

IRQL:

    <= APC_LEVEL.

--*/
static VOID
FLTAPI
FbOplockPrePost(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_opt_ PVOID Context
    )
{
    PFB_OPERATION operation = (PFB_OPERATION)Context;
    UCHAR major = Data->Iopb->MajorFunction;
    NTSTATUS status;

    if (operation != NULL) {
        FbOpSetFlags(operation, FB_OP_WAITED);
    }

    //
    //  An IRP_MN_MDL read or write has no user buffer (the file system
    //  returns an MDL chain), and a zero-length one has nothing to lock.
    //

    if ((major == IRP_MJ_READ || major == IRP_MJ_WRITE) &&
        (Data->Iopb->MinorFunction & IRP_MN_MDL) == 0 &&
        ((major == IRP_MJ_READ) ? Data->Iopb->Parameters.Read.Length
                                : Data->Iopb->Parameters.Write.Length) != 0) {
        status = FltLockUserBuffer(Data);
        if (!NT_SUCCESS(status) && operation != NULL) {
            operation->LockStatus = status;
            FbOpSetFlags(operation, FB_OP_BUFFER_UNLOCKED);
        }
    }
}

/*++

Routine Description:

    Emits OPLOCK_BREAK_COMPLETED for a waiting operation being released.
    The releaser is the operation running a package call on this thread
    (an acknowledgement or a cleanup), when there is one.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static VOID
FbEmitBreakCompleted(
    _In_ PFB_OPERATION Operation,
    _In_ NTSTATUS Status
    )
{
    PFB_OPERATION releaser;
    FB_EVENT event;
    USHORT reason;

    //
    //  The breaks this operation caused come first: it waited, so they
    //  carry OPERATION_WAITS (its own call may not have returned yet).
    //

    FbFlushDeferredEvents(Operation, TRUE);

    if (!FbEventWanted(FLTB_EVENT_OPLOCK_BREAK_COMPLETED)) {
        return;
    }

    releaser = FbStreamActiveOperation(Operation->Stream);

    if (Status == STATUS_CANCELLED) {
        reason = FLTB_RELEASE_CANCELLED;
    } else if (Operation->InstanceContext->TearingDown) {
        reason = FLTB_RELEASE_TEARDOWN;
    } else if (releaser != NULL && releaser->Major == IRP_MJ_CLEANUP) {
        reason = FLTB_RELEASE_HANDLE_CLOSED;
    } else if (releaser != NULL && releaser->Major == IRP_MJ_FILE_SYSTEM_CONTROL) {
        reason = FLTB_RELEASE_ACKNOWLEDGED;
    } else {
        reason = FLTB_RELEASE_NO_ACK_REQUIRED;
    }

    FbEventFromStream(&event, FLTB_EVENT_OPLOCK_BREAK_COMPLETED, Status, Operation->Stream,
                      Operation->FileObjectId, Operation->OperationId,
                      Operation->ProcessId, Operation->ThreadId);
    event.Payload.BreakCompleted.ReleasedByOperationId = (releaser != NULL) ? releaser->OperationId : 0;
    event.Payload.BreakCompleted.WaiterMajor = Operation->Major;
    event.Payload.BreakCompleted.WaiterMinor = Operation->Minor;
    event.Payload.BreakCompleted.Reason = reason;
    FbEventPost(&event);
}

/*++

Routine Description:

    Resumes an operation we pended, with the decision reached for it.
    SUCCESS_WITH_CALLBACK hands the operation's reference to the
    post-operation callback; COMPLETE drops it.

Arguments:

    Operation - the operation (one reference owned by the resume path).

    Decision - FLT_PREOP_SUCCESS_WITH_CALLBACK or FLT_PREOP_COMPLETE;
    PENDING when a package took the operation over again (the oplock
    package with a reference of its own, or the lock package, which
    completes it itself): the resume path's reference is dropped.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL for COMPLETE, <= APC_LEVEL otherwise.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbResumePended(
    _In_ PFB_OPERATION Operation,
    _In_ FLT_PREOP_CALLBACK_STATUS Decision
    )
{
    PFLT_CALLBACK_DATA data = Operation->Data;

    if (Decision == FLT_PREOP_PENDING) {
        if (Operation->Stage == FbStageLock) {
            FbOperationUnmarkPended(Operation);
        }
        FbOperationRelease(Operation);
        return;
    }

    FbOperationUnmarkPended(Operation);

    if (Decision == FLT_PREOP_SUCCESS_WITH_CALLBACK) {
        FltCompletePendedPreOperation(data, FLT_PREOP_SUCCESS_WITH_CALLBACK, Operation);
        return;
    }

    if (Operation->Major == IRP_MJ_CREATE) {

        //
        //  The create ends here without a post-create: end the in-flight
        //  count FbStreamLookupForCreate took, as the pre-create does for
        //  a create it completes itself (otherwise the stream never leaves
        //  the table).
        //

        if (Operation->Stream->Managed) {
            FbStreamCreateDone(Operation->Stream, FALSE, TRUE);
        }
        FbCreateEmit(Operation, data, data->IoStatus.Status, 0, 0);
    }
    FltCompletePendedPreOperation(data, FLT_PREOP_COMPLETE, NULL);
    FbOperationRelease(Operation);
}

static VOID
FbQueueResume(
    _In_ PFB_OPERATION Operation
    )
/*++

Routine Description:

    Continues a released operation from its deferred I/O work item.

IRQL:

    <= DISPATCH_LEVEL.

--*/
{
    PFLT_CALLBACK_DATA data = Operation->Data;
    NTSTATUS queued;

    queued = (Operation->WorkItem != NULL)
                 ? FltQueueDeferredIoWorkItem(Operation->WorkItem, data, FbContinueWorker,
                                              DelayedWorkQueue, Operation)
                 : STATUS_INSUFFICIENT_RESOURCES;
    if (!NT_SUCCESS(queued)) {

        //
        //  Not safe to post (teardown, or a paging operation), or no work
        //  item left (see FbContinueWorker): fail it rather than skip the
        //  checks that remain.
        //

        data->IoStatus.Status = queued;
        data->IoStatus.Information = 0;
        FbEmitFailedOperation(Operation, queued);
        FbResumePended(Operation, FLT_PREOP_COMPLETE);
    }
}

/*++

Routine Description:

    Post-cleanup of a cleanup that released waiting operations: they
    continue now, after the file system's cleanup of the handle (see the
    module header).

Arguments:

    Cleanup - the cleanup operation.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbResumeReleasedWaiters(
    _In_ PFB_OPERATION Cleanup
    )
{
    LIST_ENTRY taken;
    KIRQL oldIrql;

    InitializeListHead(&taken);

    KeAcquireSpinLock(&Cleanup->Stream->Lock, &oldIrql);
    FbOpClearFlags(Cleanup, FB_OP_COLLECT_RELEASED);
    while (!IsListEmpty(&Cleanup->ReleasedWaiters)) {
        PLIST_ENTRY entry = RemoveHeadList(&Cleanup->ReleasedWaiters);
        InsertTailList(&taken, entry);
    }
    KeReleaseSpinLock(&Cleanup->Stream->Lock, oldIrql);

    while (!IsListEmpty(&taken)) {
        PFB_OPERATION waiter = CONTAINING_RECORD(RemoveHeadList(&taken), FB_OPERATION, ReleasedLink);
        InitializeListHead(&waiter->ReleasedLink);
        FbQueueResume(waiter);
    }
}

/*++

Routine Description:

    The record of an operation the oplock package failed (FLT_PREOP_COMPLETE
    from FltCheckOplockEx) or whose wait ended with a failure (cancelled,
    or it could not be continued): IO for reads, writes, set-information
    and flushes, the lock-control record of its minor function. A create's
    CREATE record is made where it is completed (FbResumePended,
    FbPreCreate).

Arguments:

    Operation - the operation.

    Status - the status it completes with.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEmitFailedOperation(
    _In_ PFB_OPERATION Operation,
    _In_ NTSTATUS Status
    )
{
    switch (Operation->Major) {
    case IRP_MJ_READ:
    case IRP_MJ_WRITE:
    case IRP_MJ_SET_INFORMATION:
    case IRP_MJ_FLUSH_BUFFERS:
        FbEmitIo(Operation->Data, Status, Operation->Stream, Operation->Handle, Operation->OperationId,
                 Operation->ProcessId, Operation->ThreadId,
                 FbOpTestFlags(Operation, FB_OP_OFFSET_RESOLVED) ? &Operation->ResolvedOffset : NULL);
        break;
    case IRP_MJ_LOCK_CONTROL:
        FbEmitLockRefused(Operation, Status);
        break;
    default:
        break;
    }
}

/*++

Routine Description:

    Wait-complete routine: the break an operation waited for is over (the
    holder acknowledged or closed, the wait was cancelled, or the oplock
    was torn down). Failure completes the operation with the status the
    package left in IoStatus; success continues it from a deferred work
    item (never by calling the oplock package from here, and never on the
    releaser's thread, which may hold the stream's resource).

Arguments:

    Data - the waiting operation.

    Context - its FB_OPERATION (the resume path's reference).

Return Value:

    None.

IRQL:

    <= APC_LEVEL (called by the oplock package).

--*/
static VOID
FLTAPI
FbOplockWaitComplete(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_opt_ PVOID Context
    )
{
    PFB_OPERATION operation = (PFB_OPERATION)Context;
    NTSTATUS status = Data->IoStatus.Status;
    PFB_OPERATION releaser;
    BOOLEAN collected = FALSE;
    KIRQL oldIrql;

    if (operation == NULL) {
        FltCompletePendedPreOperation(Data, NT_SUCCESS(status) ? FLT_PREOP_SUCCESS_NO_CALLBACK
                                                               : FLT_PREOP_COMPLETE, NULL);
        return;
    }

    FbOpSetFlags(operation, FB_OP_WAITED);
    FbEmitBreakCompleted(operation, status);

    if (!NT_SUCCESS(status)) {
        FbEmitFailedOperation(operation, status);
        FbResumePended(operation, FLT_PREOP_COMPLETE);
        return;
    }

    //
    //  Success always continues from a work item, even when nothing is left
    //  to check: this routine runs inside the releaser's package call (an
    //  acknowledgement or a cleanup holding the stream's resource), and
    //  resuming here would send the operation down, and run its
    //  post-operation, on that thread. A cleanup's waiters wait for its
    //  post-cleanup (module header).
    //

    releaser = FbStreamActiveOperation(operation->Stream);
    if (releaser != NULL && releaser != operation) {
        KeAcquireSpinLock(&operation->Stream->Lock, &oldIrql);
        if (FbOpTestFlags(releaser, FB_OP_COLLECT_RELEASED)) {
            InsertTailList(&releaser->ReleasedWaiters, &operation->ReleasedLink);
            collected = TRUE;
        }
        KeReleaseSpinLock(&operation->Stream->Lock, oldIrql);
    }

    if (!collected) {
        FbQueueResume(operation);
    }
}

/*++

Routine Description:

    Runs the rest of an operation after an oplock wait, at PASSIVE_LEVEL,
    and resumes it.

Arguments:

    WorkItem - the operation's deferred work item; this routine frees it
    (FltQueueDeferredIoWorkItem: the work routine frees its work item) and
    gives the operation a fresh one before anything can queue it again: the
    continuation may wait for a second break (a create after
    FltOplockBreakH), whose wait-complete routine can run on another thread
    before this routine has returned.

    Data - the operation.

    Context - its FB_OPERATION.

Return Value:

    None.

IRQL:

    PASSIVE_LEVEL.

--*/
static VOID
FLTAPI
FbContinueWorker(
    _In_ PFLT_DEFERRED_IO_WORKITEM WorkItem,
    _In_ PFLT_CALLBACK_DATA Data,
    _In_opt_ PVOID Context
    )
{
    PFB_OPERATION operation = (PFB_OPERATION)Context;

    if (operation == NULL) {
        FltFreeDeferredIoWorkItem(WorkItem);
        FltCompletePendedPreOperation(Data, FLT_PREOP_SUCCESS_NO_CALLBACK, NULL);
        return;
    }

    operation->WorkItem = FltAllocateDeferredIoWorkItem();
    FltFreeDeferredIoWorkItem(WorkItem);

    FbResumePended(operation, FbOperationContinue(operation));
}

/*++

Routine Description:

    What an operation does after its oplock check succeeded, per stage.
    Called inline by the pre-operation callbacks and from the work item
    after a wait. A stage that calls a package again may get PENDING; the
    package then owns the operation (and its resume-path reference).

Arguments:

    Operation - the operation.

Return Value:

    FLT_PREOP_SUCCESS_WITH_CALLBACK, FLT_PREOP_COMPLETE or FLT_PREOP_PENDING.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbOperationContinue(
    _In_ PFB_OPERATION Operation
    )
{
    switch (Operation->Stage) {
    case FbStageCreateStart:
        return FbCreateFromTop(Operation);
    case FbStageCreateBreakH:
        return FbCreateAfterBreakH(Operation);
    case FbStageReadWrite:
        return FbReadWriteAfterOplock(Operation);
    case FbStageLock:
        return FbLockAfterOplock(Operation);
    default:
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    }
}

/*++

Routine Description:

    Maps OPLOCK_LEVEL_CACHE_* bits to an FLTB_OPLOCK_* level.

IRQL:

    Any.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
ULONG
FbLevelFromCacheBits(
    _In_ ULONG CacheLevel
    )
{
    switch (CacheLevel & (OPLOCK_LEVEL_CACHE_READ | OPLOCK_LEVEL_CACHE_HANDLE | OPLOCK_LEVEL_CACHE_WRITE)) {
    case OPLOCK_LEVEL_CACHE_READ:
        return FLTB_OPLOCK_R;
    case OPLOCK_LEVEL_CACHE_READ | OPLOCK_LEVEL_CACHE_WRITE:
        return FLTB_OPLOCK_RW;
    case OPLOCK_LEVEL_CACHE_READ | OPLOCK_LEVEL_CACHE_HANDLE:
        return FLTB_OPLOCK_RH;
    case OPLOCK_LEVEL_CACHE_READ | OPLOCK_LEVEL_CACHE_HANDLE | OPLOCK_LEVEL_CACHE_WRITE:
        return FLTB_OPLOCK_RWH;
    default:
        return FLTB_OPLOCK_NONE;
    }
}

/*++

Routine Description:

    The level a legacy oplock FSCTL requests or acknowledges to.

IRQL:

    Any.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
ULONG
FbLevelFromLegacyFsctl(
    _In_ ULONG FsControlCode
    )
{
    switch (FsControlCode) {
    case FSCTL_REQUEST_OPLOCK_LEVEL_1:
        return FLTB_OPLOCK_LEVEL1;
    case FSCTL_REQUEST_OPLOCK_LEVEL_2:
    case FSCTL_OPLOCK_BREAK_ACKNOWLEDGE:
        return FLTB_OPLOCK_LEVEL2;
    case FSCTL_REQUEST_BATCH_OPLOCK:
        return FLTB_OPLOCK_BATCH;
    case FSCTL_REQUEST_FILTER_OPLOCK:
        return FLTB_OPLOCK_FILTER;
    default:
        return FLTB_OPLOCK_NONE;
    }
}
