/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    fsctl.c

Abstract:

    IRP_MJ_FILE_SYSTEM_CONTROL: the oplock FSCTLs.

    Owner instance, managed stream (docs/events.md, "oplock request FSCTL",
    "acknowledgement FSCTL", "break notify"): the request goes to
    FltOplockFsctrlEx and its result is returned unchanged - PENDING means
    the package holds the request (an oplock is granted, an acknowledgement
    is held, a break-notify waits) until it completes it, COMPLETE means it
    was refused or done; the filter never completes a request the package
    pended (that would complete an IRP twice). Requests run with the
    stream's resource exclusive and OpenCount = the open handles for
    exclusive levels (with OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH when every
    other open handle carries the requester's oplock key), or "byte-range
    locks exist" for shared levels (level 2, R, RH); acknowledgements run
    with it shared (the oplock-synchronization page; fastfat fsctrl.c does
    the same). Batch, filter and handle-caching requests on a stream the
    filter saw become delete-pending are refused with STATUS_DELETE_PENDING
    (fastfat fsctrl.c FatOplockRequest).

    OPLOCK_GRANTED follows a request or acknowledgement that pended only
    when it holds an oplock: every request, an acknowledgement to a level
    other than none (FSCTL_OPLOCK_BREAK_ACKNOWLEDGE, FSCTL_REQUEST_OPLOCK
    with ACK and a level); not an acknowledgement held until close
    (COMPLETE_ACK_ON_CLOSE, FSCTL_OPBATCH_ACK_CLOSE_PENDING: level none) nor
    a break-notify.

    Watch instance, managed stream: sees the held request complete (its
    post-operation, which the owner does not get for an operation it
    returned PENDING for) and reports how it ended (FbEmitOplockEnd):
    OPLOCK_BREAK when the completion shows a level change (the
    REQUEST_OPLOCK_OUTPUT_BUFFER's levels and flags, or the legacy
    Information value), else OPLOCK_COMPLETED with its reason. The
    operation that caused a break is the one inside a package call on the
    same thread; its break records wait for that call to return (oplock.c)
    so OPERATION_WAITS is exact.

    Owner instance, observe root: OPLOCK_REQUEST at the pre-operation,
    OPLOCK_GRANTED when the file system returned STATUS_PENDING for a
    request (FltRequestOperationStatusCallback), OPLOCK_BREAK /
    OPLOCK_COMPLETED / OPLOCK_ACKNOWLEDGED at completion.

    Twin: src/model/filter/fsctl.ts.

Environment:

    Kernel mode. Pre-operations at PASSIVE_LEVEL, post-operations at
    <= DISPATCH_LEVEL.

--*/

#include "driver.h"

typedef struct _FB_OPLOCK_FSCTL {
    FB_FSCTL_KIND Kind;
    BOOLEAN Request;                /* Kind == FbFsctlRequest */
    BOOLEAN Exclusive;              /* an exclusive level was requested */
    BOOLEAN HandleCaching;          /* batch, filter, or a Windows 7 level with H */
    BOOLEAN Reserved;
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
    Fsctl->Kind = FbFsctlAck;

    switch (code) {
    case FSCTL_REQUEST_OPLOCK_LEVEL_1:
    case FSCTL_REQUEST_BATCH_OPLOCK:
    case FSCTL_REQUEST_FILTER_OPLOCK:
        Fsctl->Kind = FbFsctlRequest;
        Fsctl->Exclusive = TRUE;
        Fsctl->HandleCaching = (BOOLEAN)(code != FSCTL_REQUEST_OPLOCK_LEVEL_1);
        Fsctl->Level = FbLevelFromLegacyFsctl(code);
        break;
    case FSCTL_REQUEST_OPLOCK_LEVEL_2:
        Fsctl->Kind = FbFsctlRequest;
        Fsctl->Level = FLTB_OPLOCK_LEVEL2;
        break;
    case FSCTL_OPLOCK_BREAK_ACKNOWLEDGE:
        Fsctl->Level = FLTB_OPLOCK_LEVEL2;
        break;
    case FSCTL_OPLOCK_BREAK_NOTIFY:
        Fsctl->Kind = FbFsctlNotify;
        break;
    case FSCTL_REQUEST_OPLOCK:
        if (parameters->FileSystemControl.Buffered.SystemBuffer != NULL &&
            parameters->FileSystemControl.Common.InputBufferLength >= sizeof(REQUEST_OPLOCK_INPUT_BUFFER)) {
            REQUEST_OPLOCK_INPUT_BUFFER input;
            RtlCopyMemory(&input, parameters->FileSystemControl.Buffered.SystemBuffer, sizeof(input));
            Fsctl->InputFlags = input.Flags;
            Fsctl->Level = FbLevelFromCacheBits(input.RequestedOplockLevel);
            if ((input.Flags & REQUEST_OPLOCK_INPUT_FLAG_REQUEST) != 0) {
                Fsctl->Kind = FbFsctlRequest;
            }
            Fsctl->Exclusive = (BOOLEAN)((input.RequestedOplockLevel & OPLOCK_LEVEL_CACHE_WRITE) != 0);
            Fsctl->HandleCaching = (BOOLEAN)((input.RequestedOplockLevel & OPLOCK_LEVEL_CACHE_HANDLE) != 0);
        } else {
            Fsctl->Kind = FbFsctlRequest;
        }
        break;
    default:
        break;
    }

    Fsctl->Request = (BOOLEAN)(Fsctl->Kind == FbFsctlRequest);
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
    _In_ ULONG OpenCount,
    _In_ ULONG FsctrlFlags
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
    event.Payload.OplockRequest.FsctrlFlags = FsctrlFlags;
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

    Reports how an oplock request ended (its completion). Shared by the
    watch instance (managed streams) and the observe path. Read from the
    completion, in this order:

      - STATUS_CANCELLED, STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE,
        STATUS_OPLOCK_HANDLE_CLOSED: OPLOCK_COMPLETED (cancelled, switched,
        handle closed); another failure: OPLOCK_COMPLETED (refused);
      - a break-notify's completion: OPLOCK_COMPLETED (completed);
      - managed streams only, from the context: the holder's own cleanup
        running the package call on this thread (Level 2 and legacy
        exclusive holders are completed with STATUS_SUCCESS and
        FILE_OPLOCK_BROKEN_TO_NONE when their handle closes: [MS-FSA]
        2.1.4.12 CLOSE), OPLOCK_COMPLETED (handle closed); the stream's
        oplock being torn down (FltUninitializeOplock completes what it
        holds), OPLOCK_COMPLETED (completed);
      - a success that shows a level change - FSCTL_REQUEST_OPLOCK: the
        REQUEST_OPLOCK_OUTPUT_BUFFER's NewOplockLevel differs from its
        OriginalOplockLevel, or it has ACK_REQUIRED; legacy FSCTLs:
        Information FILE_OPLOCK_BROKEN_TO_LEVEL_2 or _TO_NONE - is an
        OPLOCK_BREAK; any other success (an acknowledgement held until
        close) OPLOCK_COMPLETED (completed).

    OPLOCK_COMPLETED carries the level the completion reports (the output
    buffer's NewOplockLevel, or the legacy Information's) and the output
    flags. OPLOCK_BREAK carries the levels, ACK_REQUIRED (the output flag;
    legacy: breaks of level 1, batch and filter oplocks), LEGACY, and the
    causing operation; a break an operation caused inside
    FltCheckOplockEx / FltOplockBreakH waits on it for OPERATION_WAITS
    (oplock.c FbDeferBreakEvent).

    The output buffer is the request's system buffer (METHOD_BUFFERED):
    read only when the output length and Information cover it.

Arguments:

    Data - the completed request.

    Stream - its stream.

    FileObjectId, OperationId, ProcessId, ThreadId - the request's.

    HeldLevel - the level it held (FLTB_OPLOCK_*).

    Kind - what the FSCTL is.

    Causer - the operation whose package call completed it, or NULL.

    TearingDown - the stream's oplock is being uninitialized.

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
    _In_ FB_FSCTL_KIND Kind,
    _In_opt_ PFB_OPERATION Causer,
    _In_ BOOLEAN TearingDown,
    _Out_ PBOOLEAN AckRequired
    )
{
    PFLT_PARAMETERS parameters = &Data->Iopb->Parameters;
    ULONG code = parameters->FileSystemControl.Common.FsControlCode;
    NTSTATUS status = Data->IoStatus.Status;
    ULONG information = (ULONG)Data->IoStatus.Information;
    BOOLEAN legacy = (BOOLEAN)(code != FSCTL_REQUEST_OPLOCK);
    REQUEST_OPLOCK_OUTPUT_BUFFER output;
    BOOLEAN haveOutput = FALSE;
    BOOLEAN levelChange;
    ULONG newLevel;
    ULONG reason = 0;
    FB_EVENT event;

    *AckRequired = FALSE;
    RtlZeroMemory(&output, sizeof(output));

    if (!legacy && parameters->FileSystemControl.Buffered.SystemBuffer != NULL &&
        parameters->FileSystemControl.Common.OutputBufferLength >= sizeof(REQUEST_OPLOCK_OUTPUT_BUFFER) &&
        Data->IoStatus.Information >= sizeof(REQUEST_OPLOCK_OUTPUT_BUFFER)) {
        RtlCopyMemory(&output, parameters->FileSystemControl.Buffered.SystemBuffer, sizeof(output));
        haveOutput = TRUE;
    }

    if (legacy) {
        newLevel = (information == FILE_OPLOCK_BROKEN_TO_LEVEL_2) ? FLTB_OPLOCK_LEVEL2 : FLTB_OPLOCK_NONE;
        levelChange = (BOOLEAN)(information == FILE_OPLOCK_BROKEN_TO_LEVEL_2 ||
                                information == FILE_OPLOCK_BROKEN_TO_NONE);
    } else {
        newLevel = haveOutput ? FbLevelFromCacheBits(output.NewOplockLevel) : FLTB_OPLOCK_NONE;
        levelChange = (BOOLEAN)(haveOutput &&
                                (output.NewOplockLevel != output.OriginalOplockLevel ||
                                 (output.Flags & REQUEST_OPLOCK_OUTPUT_FLAG_ACK_REQUIRED) != 0));
    }

    if (status == STATUS_CANCELLED) {
        reason = FLTB_OPLOCK_END_CANCELLED;
    } else if (status == STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE) {
        reason = FLTB_OPLOCK_END_SWITCHED;
    } else if (status == STATUS_OPLOCK_HANDLE_CLOSED) {
        reason = FLTB_OPLOCK_END_HANDLE_CLOSED;
    } else if (!NT_SUCCESS(status)) {
        reason = FLTB_OPLOCK_END_REFUSED;
    } else if (Kind == FbFsctlNotify) {
        reason = FLTB_OPLOCK_END_COMPLETED;
    } else if (Causer != NULL && Causer->Major == IRP_MJ_CLEANUP && Causer->FileObjectId == FileObjectId) {
        reason = FLTB_OPLOCK_END_HANDLE_CLOSED;
    } else if (TearingDown || !levelChange) {
        reason = FLTB_OPLOCK_END_COMPLETED;
    }

    if (reason != 0) {
        if (!FbEventWanted(FLTB_EVENT_OPLOCK_COMPLETED)) {
            return;
        }
        FbEventFromStream(&event, FLTB_EVENT_OPLOCK_COMPLETED, status, Stream, FileObjectId,
                          OperationId, ProcessId, ThreadId);
        event.Payload.OplockCompleted.Level = newLevel;
        event.Payload.OplockCompleted.OutputFlags = haveOutput ? output.Flags : 0u;
        event.Payload.OplockCompleted.Information = information;
        event.Payload.OplockCompleted.Reason = reason;
        FbEventPost(&event);
        return;
    }

    FbEventFromStream(&event, FLTB_EVENT_OPLOCK_BREAK, status, Stream, FileObjectId,
                      OperationId, ProcessId, ThreadId);
    event.Payload.OplockBreak.FromLevel = HeldLevel;
    event.Payload.OplockBreak.ToLevel = newLevel;
    event.Payload.OplockBreak.Information = information;

    if (legacy) {

        //
        //  Legacy oplocks: breaks of level 1, batch and filter oplocks are
        //  acknowledged, level 2 breaks are not.
        //

        event.Payload.OplockBreak.BreakFlags |= FLTB_BREAK_LEGACY;
        *AckRequired = (BOOLEAN)(HeldLevel == FLTB_OPLOCK_LEVEL1 || HeldLevel == FLTB_OPLOCK_BATCH ||
                                 HeldLevel == FLTB_OPLOCK_FILTER);
    } else {
        if (FbLevelFromCacheBits(output.OriginalOplockLevel) != FLTB_OPLOCK_NONE) {
            event.Payload.OplockBreak.FromLevel = FbLevelFromCacheBits(output.OriginalOplockLevel);
        }
        *AckRequired = (BOOLEAN)((output.Flags & REQUEST_OPLOCK_OUTPUT_FLAG_ACK_REQUIRED) != 0);
    }

    if (*AckRequired) {
        event.Payload.OplockBreak.BreakFlags |= FLTB_BREAK_ACK_REQUIRED;
    }

    if (Causer != NULL) {
        event.Payload.OplockBreak.CausedByOperationId = Causer->OperationId;
        event.Payload.OplockBreak.CausedByMajor = Causer->Major;
        event.Payload.OplockBreak.CausedByMinor = Causer->Minor;
        event.Payload.OplockBreak.CausedByProcessId = Causer->ProcessId;
    } else {
        event.Payload.OplockBreak.CausedByMajor = FLTB_MJ_NONE;
    }

    if (!FbEventWanted(FLTB_EVENT_OPLOCK_BREAK)) {
        return;
    }

    //
    //  OPERATION_WAITS: known when the causer's package call returns.
    //

    if (Causer != NULL && FbDeferBreakEvent(Causer, &event)) {
        return;
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
    ULONG fsctrlFlags = 0;
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
        if (fsctl.Exclusive) {
            openCount = (ULONG)((stream->OpenHandles > 0) ? stream->OpenHandles : 0);
            if (FbStreamAllKeysMatch(stream, Operation->Handle)) {
                fsctrlFlags = OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH;
            }
        } else {
            openCount = FbFileLockAnyLocks(stream) ? 1u : 0u;
        }
    } else {
        FltAcquireResourceShared(&stream->Resource);
    }

    FbEmitOplockRequest(stream, Operation->FileObjectId, Operation->OperationId,
                        Operation->ProcessId, Operation->ThreadId, code, &fsctl, openCount, fsctrlFlags);

    //
    //  fastfat fsctrl.c FatOplockRequest: batch, filter and handle-caching
    //  requests fail on a file being deleted.
    //

    if (fsctl.Request && fsctl.HandleCaching && FbStreamDeletePending(stream)) {
        FltReleaseResource(&stream->Resource);
        FbFree(hold, FB_TAG_HOLD);
        Data->IoStatus.Status = STATUS_DELETE_PENDING;
        Data->IoStatus.Information = 0;
        if (FbEventWanted(FLTB_EVENT_OPLOCK_COMPLETED)) {
            FbEventFromStream(&event, FLTB_EVENT_OPLOCK_COMPLETED, STATUS_DELETE_PENDING, stream,
                              Operation->FileObjectId, Operation->OperationId,
                              Operation->ProcessId, Operation->ThreadId);
            event.Payload.OplockCompleted.Reason = FLTB_OPLOCK_END_REFUSED;
            FbEventPost(&event);
        }
        return FLT_PREOP_COMPLETE;
    }

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
    hold->Kind = fsctl.Kind;
    hold->IsOplock = (BOOLEAN)(fsctl.Kind == FbFsctlRequest ||
                               (fsctl.Kind == FbFsctlAck && fsctl.Level != FLTB_OPLOCK_NONE));
    hold->State = FbHoldRequested;
    hold->InCall = TRUE;

    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    InsertTailList(&stream->HeldOplocks, &hold->Link);
    KeReleaseSpinLock(&stream->Lock, oldIrql);

    FbOperationEnterPackage(Operation);
    result = FbOplockFsctrl(stream, Data, openCount, fsctrlFlags);
    FbOperationLeavePackage(Operation);

    KeAcquireSpinLock(&stream->Lock, &oldIrql);
    hold->InCall = FALSE;
    if (hold->State == FbHoldRequested && result == FLT_PREOP_PENDING) {
        hold->State = FbHoldGranted;
        if (hold->IsOplock) {
            hold->GrantedEmitted = TRUE;
            emitGranted = TRUE;
        }
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

    if (fsctl.Kind == FbFsctlAck && FbEventWanted(FLTB_EVENT_OPLOCK_ACKNOWLEDGED)) {
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
    } else if (fsctl.Kind != FbFsctlAck && result != FLT_PREOP_PENDING &&
               FbEventWanted(FLTB_EVENT_OPLOCK_COMPLETED)) {
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
            if (candidate->IsOplock && !candidate->GrantedEmitted) {
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
                        copy.ThreadId, copy.Level, copy.Kind, causer,
                        (BOOLEAN)(!Stream->OplockReady || Stream->InstanceContext->TearingDown),
                        &ackRequired);
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
        observe->InputFlags = fsctl.InputFlags;
        observe->FsctlKind = fsctl.Kind;

        FbEmitOplockRequest(observe->Stream, observe->Handle->FileObjectId, observe->OperationId,
                            observe->ProcessId, observe->ThreadId, observe->FsControlCode, &fsctl, 0, 0);

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
        if (observe->FsctlKind == FbFsctlAck) {
            if (FbEventWanted(FLTB_EVENT_OPLOCK_ACKNOWLEDGED)) {
                FbEventFromStream(&event, FLTB_EVENT_OPLOCK_ACKNOWLEDGED, Data->IoStatus.Status,
                                  observe->Stream, observe->Handle->FileObjectId, observe->OperationId,
                                  observe->ProcessId, observe->ThreadId);
                event.Payload.OplockAck.FsControlCode = observe->FsControlCode;
                event.Payload.OplockAck.AckLevel = observe->Level;
                event.Payload.OplockAck.InputFlags = observe->InputFlags;
                FbEventPost(&event);
            }
        } else {
            (VOID)InterlockedExchange(&observe->GrantedEmitted, 1);
            FbEmitOplockEnd(Data, observe->Stream, observe->Handle->FileObjectId, observe->OperationId,
                            observe->ProcessId, observe->ThreadId, observe->Level, observe->FsctlKind,
                            NULL, FALSE, &ackRequired);
        }
    }

    FbObserveOpRelease(observe);
    return FLT_POSTOP_FINISHED_PROCESSING;
}
