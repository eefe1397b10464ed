/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    fsctl.c

Abstract:

    IRP_MJ_FILE_SYSTEM_CONTROL: the oplock FSCTLs.

    Owner instance, managed stream (docs/events.md, "oplock request FSCTL",
    "acknowledgement FSCTL"): the request goes to FltOplockFsctrlEx and its
    result is returned unchanged - PENDING means the package holds the
    request (the oplock is granted) until a break, COMPLETE means it was
    refused or done; the filter never completes a request the package
    pended (that would complete an IRP twice). Requests run with the
    stream's resource exclusive and OpenCount = the open handles for
    exclusive levels, or "byte-range locks exist" for shared levels
    (level 2, R, RH); acknowledgements run with it shared (the
    oplock-synchronization page; fastfat fsctrl.c does the same).

    Watch instance, managed stream: sees the held request complete (its
    post-operation, which the owner does not get for an operation it
    returned PENDING for) and reports how it ended - OPLOCK_BREAK with the
    REQUEST_OPLOCK_OUTPUT_BUFFER levels and flags (or the legacy
    Information value), or OPLOCK_COMPLETED (handle closed, cancelled,
    switched). The operation that caused a break is the one inside a
    package call on the same thread.

    Owner instance, observe root: OPLOCK_REQUEST at the pre-operation,
    OPLOCK_GRANTED when the file system returned STATUS_PENDING for it
    (FltRequestOperationStatusCallback), OPLOCK_BREAK / OPLOCK_COMPLETED /
    OPLOCK_ACKNOWLEDGED at completion.

    Twin: src/model/filter/fsctl.ts.

Environment:

    Kernel mode. Pre-operations at PASSIVE_LEVEL, post-operations at
    <= DISPATCH_LEVEL.

--*/

#include "driver.h"

typedef struct _FB_OPLOCK_FSCTL {
    BOOLEAN Request;                /* a request (vs an acknowledgement) */
    BOOLEAN Exclusive;              /* an exclusive level was requested */
    ULONG Level;                    /* FLTB_OPLOCK_* requested / acknowledged to */
    ULONG InputFlags;               /* REQUEST_OPLOCK_INPUT_FLAG_* */
} FB_OPLOCK_FSCTL, *PFB_OPLOCK_FSCTL;

_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbIsOplockFsctl(
    _In_ ULONG FsControlCode
    )
/*++

Routine Description:

    Is this one of the FSCTLs FltOplockFsctrlEx handles?

IRQL:

    Any.

--*/
{
    switch (FsControlCode) {
    case FSCTL_REQUEST_OPLOCK_LEVEL_1:
    case FSCTL_REQUEST_OPLOCK_LEVEL_2:
    case FSCTL_REQUEST_BATCH_OPLOCK:
    case FSCTL_REQUEST_FILTER_OPLOCK:
    case FSCTL_OPLOCK_BREAK_ACKNOWLEDGE:
    case FSCTL_OPBATCH_ACK_CLOSE_PENDING:
    case FSCTL_OPLOCK_BREAK_NOTIFY:
    case FSCTL_OPLOCK_BREAK_ACK_NO_2:
    case FSCTL_REQUEST_OPLOCK:
        return TRUE;
    default:
        return FALSE;
    }
}

/*++

Routine Description:

    Decodes an oplock FSCTL: request or acknowledgement, level, flags. The
    input buffer of FSCTL_REQUEST_OPLOCK is the system buffer
    (METHOD_BUFFERED), already captured by the I/O manager; its length is
    checked before it is read.

Arguments:

    Data - the FSCTL.

    Fsctl - receives the decoded form.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static VOID
FbDecodeOplockFsctl(
    _In_ PFLT_CALLBACK_DATA Data,
    _Out_ PFB_OPLOCK_FSCTL Fsctl
    )
{
    PFLT_PARAMETERS parameters = &Data->Iopb->Parameters;
    ULONG code = parameters->FileSystemControl.Common.FsControlCode;

    RtlZeroMemory(Fsctl, sizeof(*Fsctl));

    switch (code) {
    case FSCTL_REQUEST_OPLOCK_LEVEL_1:
    case FSCTL_REQUEST_BATCH_OPLOCK:
    case FSCTL_REQUEST_FILTER_OPLOCK:
        Fsctl->Request = TRUE;
        Fsctl->Exclusive = TRUE;
        Fsctl->Level = FbLevelFromLegacyFsctl(code);
        break;
    case FSCTL_REQUEST_OPLOCK_LEVEL_2:
        Fsctl->Request = TRUE;
        Fsctl->Level = FLTB_OPLOCK_LEVEL2;
        break;
    case FSCTL_OPLOCK_BREAK_ACKNOWLEDGE:
        Fsctl->Level = FLTB_OPLOCK_LEVEL2;
        break;
    case FSCTL_REQUEST_OPLOCK:
        if (parameters->FileSystemControl.Buffered.SystemBuffer != NULL &&
            parameters->FileSystemControl.Common.InputBufferLength >= sizeof(REQUEST_OPLOCK_INPUT_BUFFER)) {
            REQUEST_OPLOCK_INPUT_BUFFER input;
            RtlCopyMemory(&input, parameters->FileSystemControl.Buffered.SystemBuffer, sizeof(input));
            Fsctl->InputFlags = input.Flags;
            Fsctl->Level = FbLevelFromCacheBits(input.RequestedOplockLevel);
            Fsctl->Request = (BOOLEAN)((input.Flags & REQUEST_OPLOCK_INPUT_FLAG_REQUEST) != 0);
            Fsctl->Exclusive = (BOOLEAN)((input.RequestedOplockLevel & OPLOCK_LEVEL_CACHE_WRITE) != 0);
        } else {
            Fsctl->Request = TRUE;
        }
        break;
    default:
        break;
    }
}

static VOID
FbEmitOplockRequest(
    _In_ PFB_STREAM Stream,
    _In_ ULONGLONG FileObjectId,
    _In_ ULONGLONG OperationId,
    _In_ ULONG ProcessId,
    _In_ ULONG ThreadId,
    _In_ ULONG Code,
    _In_ const FB_OPLOCK_FSCTL *Fsctl,
    _In_ ULONG OpenCount
    )
{
    FB_EVENT event;

    if (!FbEventWanted(FLTB_EVENT_OPLOCK_REQUEST)) {
        return;
    }

    FbEventFromStream(&event, FLTB_EVENT_OPLOCK_REQUEST, STATUS_PENDING, Stream, FileObjectId,
                      OperationId, ProcessId, ThreadId);
    event.Payload.OplockRequest.FsControlCode = Code;
    event.Payload.OplockRequest.RequestedLevel = Fsctl->Level;
    event.Payload.OplockRequest.InputFlags = Fsctl->InputFlags;
    event.Payload.OplockRequest.OpenCount = OpenCount;
    FbEventPost(&event);
}

static VOID
FbEmitOplockGranted(
    _In_ PFB_STREAM Stream,
    _In_ ULONGLONG FileObjectId,
    _In_ ULONGLONG OperationId,
    _In_ ULONG ProcessId,
    _In_ ULONG ThreadId,
    _In_ NTSTATUS Status,
    _In_ ULONG Level
    )
{
    FB_EVENT event;

    if (!FbEventWanted(FLTB_EVENT_OPLOCK_GRANTED)) {
        return;
    }

    FbEventFromStream(&event, FLTB_EVENT_OPLOCK_GRANTED, Status, Stream, FileObjectId,
                      OperationId, ProcessId, ThreadId);
    event.Payload.OplockGranted.GrantedLevel = Level;
    FbEventPost(&event);
}

/*++

Routine Description:

    Reports how an oplock request ended (its completion): a break, or an
    end without one. Shared by the watch instance (managed streams) and
    the observe path.

Arguments:

    Data - the completed request.

    Stream - its stream.

    FileObjectId, OperationId, ProcessId, ThreadId - the request's.

    HeldLevel - the level it held (FLTB_OPLOCK_*).

    Causer - the operation whose package call broke it, or NULL.

    AckRequired - receives whether the holder must acknowledge.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static VOID
FbEmitOplockEnd(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_STREAM Stream,
    _In_ ULONGLONG FileObjectId,
    _In_ ULONGLONG OperationId,
    _In_ ULONG ProcessId,
    _In_ ULONG ThreadId,
    _In_ ULONG HeldLevel,
    _In_opt_ PFB_OPERATION Causer,
    _Out_ PBOOLEAN AckRequired
    )
{
    PFLT_PARAMETERS parameters = &Data->Iopb->Parameters;
    ULONG code = parameters->FileSystemControl.Common.FsControlCode;
    NTSTATUS status = Data->IoStatus.Status;
    ULONG information = (ULONG)Data->IoStatus.Information;
    FB_EVENT event;

    *AckRequired = FALSE;

    if (!NT_SUCCESS(status) || status == STATUS_OPLOCK_HANDLE_CLOSED ||
        status == STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE) {

        FbEventFromStream(&event, FLTB_EVENT_OPLOCK_COMPLETED, status, Stream, FileObjectId,
                          OperationId, ProcessId, ThreadId);
        event.Payload.OplockCompleted.Information = information;
        event.Payload.OplockCompleted.Reason =
            (status == STATUS_OPLOCK_HANDLE_CLOSED) ? FLTB_OPLOCK_END_HANDLE_CLOSED :
            (status == STATUS_CANCELLED) ? FLTB_OPLOCK_END_CANCELLED :
            (status == STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE) ? FLTB_OPLOCK_END_SWITCHED :
            FLTB_OPLOCK_END_REFUSED;
        FbEventPost(&event);
        return;
    }

    FbEventFromStream(&event, FLTB_EVENT_OPLOCK_BREAK, status, Stream, FileObjectId,
                      OperationId, ProcessId, ThreadId);
    event.Payload.OplockBreak.FromLevel = HeldLevel;

    if (code == FSCTL_REQUEST_OPLOCK) {

        PVOID buffer = parameters->FileSystemControl.Buffered.SystemBuffer;

        if (buffer != NULL &&
            parameters->FileSystemControl.Common.OutputBufferLength >= sizeof(REQUEST_OPLOCK_OUTPUT_BUFFER) &&
            Data->IoStatus.Information >= sizeof(REQUEST_OPLOCK_OUTPUT_BUFFER)) {

            REQUEST_OPLOCK_OUTPUT_BUFFER output;
            RtlCopyMemory(&output, buffer, sizeof(output));
            if (FbLevelFromCacheBits(output.OriginalOplockLevel) != FLTB_OPLOCK_NONE) {
                event.Payload.OplockBreak.FromLevel = FbLevelFromCacheBits(output.OriginalOplockLevel);
            }
            event.Payload.OplockBreak.ToLevel = FbLevelFromCacheBits(output.NewOplockLevel);
            if ((output.Flags & REQUEST_OPLOCK_OUTPUT_FLAG_ACK_REQUIRED) != 0) {
                *AckRequired = TRUE;
            }
        }
        event.Payload.OplockBreak.Information = information;

    } else {

        //
        //  Legacy oplocks: Information is FILE_OPLOCK_BROKEN_TO_LEVEL_2 or
        //  FILE_OPLOCK_BROKEN_TO_NONE; breaks of level 1, batch and filter
        //  oplocks are acknowledged, level 2 breaks are not.
        //

        event.Payload.OplockBreak.BreakFlags |= FLTB_BREAK_LEGACY;
        event.Payload.OplockBreak.Information = information;
        event.Payload.OplockBreak.ToLevel = (information == FILE_OPLOCK_BROKEN_TO_LEVEL_2)
                                                ? FLTB_OPLOCK_LEVEL2 : FLTB_OPLOCK_NONE;
        *AckRequired = (BOOLEAN)(HeldLevel == FLTB_OPLOCK_LEVEL1 || HeldLevel == FLTB_OPLOCK_BATCH ||
                                 HeldLevel == FLTB_OPLOCK_FILTER);
    }

    if (*AckRequired) {
        event.Payload.OplockBreak.BreakFlags |= FLTB_BREAK_ACK_REQUIRED;
        if (Causer != NULL && !FbOpTestFlags(Causer, FB_OP_COMPLETE_IF_OPLOCKED)) {
            event.Payload.OplockBreak.BreakFlags |= FLTB_BREAK_OPERATION_WAITS;
        }
    }

    if (Causer != NULL) {
        event.Payload.OplockBreak.CausedByOperationId = Causer->OperationId;
        event.Payload.OplockBreak.CausedByMajor = Causer->Major;
        event.Payload.OplockBreak.CausedByMinor = Causer->Minor;
        event.Payload.OplockBreak.CausedByProcessId = Causer->ProcessId;
    }

    FbEventPost(&event);
}

/*++

Routine Description:

    Frees the hold entries of a handle that are still listed (when no watch
    instance reported their end), and all entries at FileObjectId 0 (the
    stream context's cleanup, when no request can be in flight). An entry
    whose requester is still inside FltOplockFsctrlEx (InCall) belongs to
    that requester and is left alone.

Arguments:

    Stream - the stream.

    FileObjectId - the handle (0: all).

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbHoldsRelease(
    _In_ PFB_STREAM Stream,
    _In_ ULONGLONG FileObjectId
    )
{
    LIST_ENTRY released;
    PLIST_ENTRY entry;
    KIRQL oldIrql;

    InitializeListHead(&released);

    KeAcquireSpinLock(&Stream->Lock, &oldIrql);
    entry = Stream->HeldOplocks.Flink;
    while (entry != &Stream->HeldOplocks) {
        PFB_OPLOCK_HOLD hold = CONTAINING_RECORD(entry, FB_OPLOCK_HOLD, Link);
        entry = entry->Flink;
        if (FileObjectId == 0 ||
            (hold->FileObjectId == FileObjectId && hold->State != FbHoldRequested && !hold->InCall)) {
            RemoveEntryList(&hold->Link);
            InsertTailList(&released, &hold->Link);
        }
    }
    KeReleaseSpinLock(&Stream->Lock, oldIrql);

    while (!IsListEmpty(&released)) {
        PFB_OPLOCK_HOLD hold = CONTAINING_RECORD(RemoveHeadList(&released), FB_OPLOCK_HOLD, Link);
        FltReleaseContext(hold->Handle);
        FbFree(hold, FB_TAG_HOLD);
    }
}

/*++

Routine Description:

    An oplock FSCTL on a managed stream (owner instance). See the module
    header.

Arguments:

    Data - the FSCTL.

    Operation - its state.

Return Value:

    FltOplockFsctrlEx's result, unchanged.

IRQL:

    PASSIVE_LEVEL.

--*/
static FLT_PREOP_CALLBACK_STATUS
FbManagedOplockFsctl(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_OPERATION Operation
    )
{
    PFB_STREAM stream = Operation->Stream;
    ULONG code = Data->Iopb->Parameters.FileSystemControl.Common.FsControlCode;
    FLT_PREOP_CALLBACK_STATUS result;
    FB_OPLOCK_FSCTL fsctl;
    PFB_OPLOCK_HOLD hold;
    BOOLEAN emitGranted = FALSE;
    BOOLEAN freeHold = FALSE;
    ULONG openCount = 0;
    KIRQL oldIrql;
    FB_EVENT event;

    FbDecodeOplockFsctl(Data, &fsctl);

    hold = (PFB_OPLOCK_HOLD)FbAllocate(sizeof(FB_OPLOCK_HOLD), FB_TAG_HOLD);
    if (hold == NULL) {
        Data->IoStatus.Status = STATUS_INSUFFICIENT_RESOURCES;
        Data->IoStatus.Information = 0;
        return FLT_PREOP_COMPLETE;
    }

    if (fsctl.Request) {
        FltAcquireResourceExclusive(&stream->Resource);
        openCount = fsctl.Exclusive ? (ULONG)((stream->OpenHandles > 0) ? stream->OpenHandles : 0)
                                    : (FbFileLockAnyLocks(stream) ? 1u : 0u);
    } else {
        FltAcquireResourceShared(&stream->Resource);
    }

    FbEmitOplockRequest(stream, Operation->FileObjectId, Operation->OperationId,
                        Operation->ProcessId, Operation->ThreadId, code, &fsctl, openCount);

    //
    //  The hold is listed before the call: the request may be granted and
    //  end (broken, cancelled) on another thread - or on this one, inside
    //  the call - before the call returns. While InCall is set only this
    //  routine may unlink and free the hold; the watch instance that sees
    //  the request end marks it FbHoldEnded and leaves it (FbWatchPostFsControl).
    //

    hold->Data = Data;
    hold->Handle = Operation->Handle;
    FltReferenceContext(hold->Handle);
    hold->RequestThread = PsGetCurrentThread();
    hold->OperationId = Operation->OperationId;
    hold->FileObjectId = Operation->FileObjectId;
    hold->ProcessId = Operation->ProcessId;
    hold->ThreadId = Operation->ThreadId;
    hold->FsControlCode = code;
    hold->Level = fsctl.Level;
    hold->State = FbHoldRequested;
    hold->InCall = TRUE;

    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    InsertTailList(&stream->HeldOplocks, &hold->Link);
    KeReleaseSpinLock(&stream->Lock, oldIrql);

    FbOperationEnterPackage(Operation);
    result = FbOplockFsctrl(stream, Data, openCount, 0);
    FbOperationLeavePackage(Operation);

    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    hold->InCall = FALSE;
    if (hold->State == FbHoldRequested && result == FLT_PREOP_PENDING) {
        hold->State = FbHoldGranted;
        hold->GrantedEmitted = TRUE;
        emitGranted = TRUE;
    } else {

        //
        //  Refused or completed (still "requested"), or it already ended
        //  during the call (the watch instance reported it and left it to
        //  us): ours to unlink and free.
        //

        RemoveEntryList(&hold->Link);
        hold->State = FbHoldEnded;
        freeHold = TRUE;
    }
    KeReleaseSpinLock(&stream->Lock, oldIrql);

    FltReleaseResource(&stream->Resource);

    //
    //  From here on, a granted hold belongs to the watch instance's
    //  post-operation (or to cleanup), and may already be freed.
    //

    if (freeHold) {
        FltReleaseContext(hold->Handle);
        FbFree(hold, FB_TAG_HOLD);
    }
    hold = NULL;

    if (!fsctl.Request && FbEventWanted(FLTB_EVENT_OPLOCK_ACKNOWLEDGED)) {
        FbEventFromStream(&event, FLTB_EVENT_OPLOCK_ACKNOWLEDGED,
                          (result == FLT_PREOP_PENDING) ? STATUS_PENDING : Data->IoStatus.Status,
                          stream, Operation->FileObjectId, Operation->OperationId,
                          Operation->ProcessId, Operation->ThreadId);
        event.Payload.OplockAck.FsControlCode = code;
        event.Payload.OplockAck.AckLevel = fsctl.Level;
        event.Payload.OplockAck.InputFlags = fsctl.InputFlags;
        event.Payload.OplockAck.BrokenRequestOperationId =
            (ULONGLONG)InterlockedExchange64(&Operation->Handle->LastBrokenRequest, 0);
        FbEventPost(&event);
    }

    if (emitGranted) {
        FbEmitOplockGranted(stream, Operation->FileObjectId, Operation->OperationId,
                            Operation->ProcessId, Operation->ThreadId, STATUS_PENDING, fsctl.Level);
    } else if (fsctl.Request && result != FLT_PREOP_PENDING && FbEventWanted(FLTB_EVENT_OPLOCK_COMPLETED)) {
        FbEventFromStream(&event, FLTB_EVENT_OPLOCK_COMPLETED, Data->IoStatus.Status, stream,
                          Operation->FileObjectId, Operation->OperationId,
                          Operation->ProcessId, Operation->ThreadId);
        event.Payload.OplockCompleted.Information = (ULONG)Data->IoStatus.Information;
        event.Payload.OplockCompleted.Reason = NT_SUCCESS(Data->IoStatus.Status)
                                                   ? FLTB_OPLOCK_END_COMPLETED : FLTB_OPLOCK_END_REFUSED;
        FbEventPost(&event);
    }

    return result;
}

/*++

Routine Description:

    Observe root: the status the file system returned for an oplock
    request as the I/O manager sees it; STATUS_PENDING means it granted
    the oplock.

Arguments:

    FltObjects - the request's objects.

    IopbSnapshot - its parameters.

    OperationStatus - what the file system returned.

    RequesterContext - the FB_OBSERVE_OP (a reference for this routine).

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static VOID
FLTAPI
FbObservedOplockStatus(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ PFLT_IO_PARAMETER_BLOCK IopbSnapshot,
    _In_ NTSTATUS OperationStatus,
    _In_opt_ PVOID RequesterContext
    )
{
    PFB_OBSERVE_OP observe = (PFB_OBSERVE_OP)RequesterContext;

    UNREFERENCED_PARAMETER(FltObjects);
    UNREFERENCED_PARAMETER(IopbSnapshot);

    if (observe == NULL) {
        return;
    }

    if (OperationStatus == STATUS_PENDING && InterlockedExchange(&observe->GrantedEmitted, 1) == 0) {
        FbEmitOplockGranted(observe->Stream, observe->Handle->FileObjectId, observe->OperationId,
                            observe->ProcessId, observe->ThreadId, STATUS_PENDING, observe->Level);
    }

    FbObserveOpRelease(observe);
}

/*++

Routine Description:

    Watch instance pre-FSCTL: for an oplock FSCTL on a managed stream,
    hand the owner's stream context to the post-operation.

IRQL:

    PASSIVE_LEVEL.

--*/
static FLT_PREOP_CALLBACK_STATUS
FbWatchPreFsControl(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Out_ PVOID *CompletionContext
    )
{
    PFLT_INSTANCE owner;
    PFB_STREAM stream = NULL;

    *CompletionContext = NULL;

    owner = FbFindOwnerInstance(FltObjects->Volume);
    if (owner == NULL) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    if (!NT_SUCCESS(FltGetStreamContext(owner, FltObjects->FileObject, (PFLT_CONTEXT *)&stream))) {
        stream = NULL;
    }
    FltObjectDereference(owner);

    if (stream == NULL) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }
    if (!stream->Managed) {
        FltReleaseContext(stream);
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    *CompletionContext = stream;
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

/*++

Routine Description:

    Watch instance post-FSCTL: a managed stream's oplock FSCTL completed.
    If it is a request the package held, report how it ended.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static VOID
FbWatchPostFsControl(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_STREAM Stream,
    _In_ BOOLEAN Draining
    )
{
    PFB_OPLOCK_HOLD owned = NULL;
    PFB_HANDLE handle = NULL;
    PFB_OPERATION causer;
    PLIST_ENTRY entry;
    FB_OPLOCK_HOLD copy;
    BOOLEAN found = FALSE;
    BOOLEAN emitGranted = FALSE;
    BOOLEAN ackRequired = FALSE;
    KIRQL oldIrql;

    RtlZeroMemory(&copy, sizeof(copy));

    //
    //  Everything the records need is copied under the lock, and the handle
    //  gets a reference of its own: a hold whose requester is still inside
    //  FltOplockFsctrlEx (InCall: the request was granted and has already
    //  ended, on this thread or another) is only marked ended here - the
    //  requester unlinks and frees it as soon as its call returns, which
    //  may be before this routine is done with it.
    //

    KeAcquireSpinLock(&Stream->Lock, &oldIrql);
    for (entry = Stream->HeldOplocks.Flink; entry != &Stream->HeldOplocks; entry = entry->Flink) {
        PFB_OPLOCK_HOLD candidate = CONTAINING_RECORD(entry, FB_OPLOCK_HOLD, Link);
        if (candidate->Data == Data && candidate->State != FbHoldEnded) {
            if (!candidate->GrantedEmitted) {
                candidate->GrantedEmitted = TRUE;
                emitGranted = TRUE;
            }
            candidate->State = FbHoldEnded;
            copy = *candidate;
            handle = candidate->Handle;
            FltReferenceContext(handle);
            if (!candidate->InCall) {
                RemoveEntryList(&candidate->Link);
                InitializeListHead(&candidate->Link);
                owned = candidate;
            }
            found = TRUE;
            break;
        }
    }
    KeReleaseSpinLock(&Stream->Lock, oldIrql);

    if (!found) {
        return;
    }

    if (!Draining) {
        if (emitGranted) {
            FbEmitOplockGranted(Stream, copy.FileObjectId, copy.OperationId, copy.ProcessId,
                                copy.ThreadId, STATUS_PENDING, copy.Level);
        }

        //
        //  The operation in a package call on this thread caused the end -
        //  unless it is the request itself, ending inside its own
        //  FltOplockFsctrlEx call.
        //

        causer = FbStreamActiveOperation(Stream);
        if (causer != NULL && causer->OperationId == copy.OperationId) {
            causer = NULL;
        }
        FbEmitOplockEnd(Data, Stream, copy.FileObjectId, copy.OperationId, copy.ProcessId,
                        copy.ThreadId, copy.Level, causer, &ackRequired);
        if (ackRequired) {
            InterlockedExchange64(&handle->LastBrokenRequest, (LONG64)copy.OperationId);
        }
    }

    FltReleaseContext(handle);

    if (owned != NULL) {
        FltReleaseContext(owned->Handle);
        FbFree(owned, FB_TAG_HOLD);
    }
}

/*++

Routine Description:

    Pre-FSCTL. Non-oplock FSCTLs pass untouched.

Arguments:

    Data, FltObjects - the FSCTL.

    CompletionContext - receives the state for the post-operation.

Return Value:

    FLT_PREOP_*.

IRQL:

    PASSIVE_LEVEL.

--*/
FLT_PREOP_CALLBACK_STATUS
FLTAPI
FbPreFsControl(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
{
    PFB_INSTANCE_CONTEXT instance;
    FLT_PREOP_CALLBACK_STATUS result;
    PFB_OPERATION operation;
    PFB_STREAM stream;
    PFB_HANDLE handle;
    FB_ROLE role;

    *CompletionContext = NULL;

    if (!FLT_IS_IRP_OPERATION(Data) || Data->Iopb->MinorFunction != IRP_MN_USER_FS_REQUEST ||
        !FbIsOplockFsctl(Data->Iopb->Parameters.FileSystemControl.Common.FsControlCode)) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    instance = FbGetInstanceContext(FltObjects->Instance);
    if (instance == NULL) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }
    role = instance->Role;
    FltReleaseContext(instance);

    if (role == FbRoleWatch) {
        return FbWatchPreFsControl(FltObjects, CompletionContext);
    }

    if (!FbStreamGetForOperation(FltObjects, &stream, &handle)) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    if (!stream->Managed) {

        PFB_OBSERVE_OP observe = FbObserveOpCreate(Data, stream, handle);
        FB_OPLOCK_FSCTL fsctl;

        FbStreamRelease(stream, handle);
        if (observe == NULL) {
            return FLT_PREOP_SUCCESS_NO_CALLBACK;
        }

        FbDecodeOplockFsctl(Data, &fsctl);
        observe->Level = fsctl.Level;
        observe->FsControlCode = Data->Iopb->Parameters.FileSystemControl.Common.FsControlCode;
        if (!fsctl.Request) {
            observe->GrantedEmitted = 2;            /* marks an acknowledgement */
        }

        FbEmitOplockRequest(observe->Stream, observe->Handle->FileObjectId, observe->OperationId,
                            observe->ProcessId, observe->ThreadId, observe->FsControlCode, &fsctl, 0);

        if (fsctl.Request) {
            InterlockedIncrement(&observe->RefCount);
            if (!NT_SUCCESS(FltRequestOperationStatusCallback(Data, FbObservedOplockStatus, observe))) {
                InterlockedDecrement(&observe->RefCount);
            }
        }

        *CompletionContext = observe;
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    }

    operation = FbOperationCreate(Data, FltObjects, stream, handle);
    FbStreamRelease(stream, handle);
    if (operation == NULL) {
        Data->IoStatus.Status = STATUS_INSUFFICIENT_RESOURCES;
        Data->IoStatus.Information = 0;
        return FLT_PREOP_COMPLETE;
    }

    result = FbManagedOplockFsctl(Data, operation);
    FbOperationRelease(operation);
    return result;
}

/*++

Routine Description:

    Post-FSCTL: the watch instance's managed-stream requests, and the
    observe path's requests and acknowledgements.

IRQL:

    <= DISPATCH_LEVEL.

--*/
FLT_POSTOP_CALLBACK_STATUS
FLTAPI
FbPostFsControl(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    )
{
    BOOLEAN draining = (BOOLEAN)((Flags & FLTFL_POST_OPERATION_DRAINING) != 0);
    PFB_OBSERVE_OP observe;
    BOOLEAN ackRequired;
    FB_EVENT event;

    UNREFERENCED_PARAMETER(FltObjects);

    if (CompletionContext == NULL) {
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    if (FB_CONTEXT_KIND(CompletionContext) == FB_KIND_STREAM) {

        //
        //  The watch instance passed the owner's stream context.
        //

        PFB_STREAM stream = (PFB_STREAM)CompletionContext;
        FbWatchPostFsControl(Data, stream, draining);
        FltReleaseContext(stream);
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    observe = (PFB_OBSERVE_OP)CompletionContext;

    if (!draining) {
        if (InterlockedCompareExchange(&observe->GrantedEmitted, 2, 2) == 2) {
            if (FbEventWanted(FLTB_EVENT_OPLOCK_ACKNOWLEDGED)) {
                FbEventFromStream(&event, FLTB_EVENT_OPLOCK_ACKNOWLEDGED, Data->IoStatus.Status,
                                  observe->Stream, observe->Handle->FileObjectId, observe->OperationId,
                                  observe->ProcessId, observe->ThreadId);
                event.Payload.OplockAck.FsControlCode = observe->FsControlCode;
                event.Payload.OplockAck.AckLevel = observe->Level;
                FbEventPost(&event);
            }
        } else {
            (VOID)InterlockedExchange(&observe->GrantedEmitted, 1);
            FbEmitOplockEnd(Data, observe->Stream, observe->Handle->FileObjectId, observe->OperationId,
                            observe->ProcessId, observe->ThreadId, observe->Level, NULL, &ackRequired);
        }
    }

    FbObserveOpRelease(observe);
    return FLT_POSTOP_FINISHED_PROCESSING;
}
