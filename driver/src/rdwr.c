/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    rdwr.c

Abstract:

    IRP_MJ_READ and IRP_MJ_WRITE (non-paging; paging I/O is not registered).

    Managed stream (docs/events.md, "read / write"): fast I/O is refused
    (FLT_PREOP_DISALLOW_FASTIO) so every read and write comes as an IRP and
    passes the checks - the cached fast-I/O MDL paths too
    (IRP_MJ_MDL_READ, IRP_MJ_PREPARE_MDL_WRITE, used by the SMB server),
    which would otherwise read or write through the cache without ever
    reaching IRP_MJ_READ / IRP_MJ_WRITE; FltCheckOplockEx (may pend: the
    pre-post routine locks the user buffer), then FltCheckLockForReadAccess
    / FltCheckLockForWriteAccess, failing the I/O with
    STATUS_FILE_LOCK_CONFLICT (IO_REFUSED). Data still goes to the file
    system below. IO at completion. An IRP_MN_COMPLETE read or write only
    hands back the MDL of an earlier MDL read/write (no data moves); it is
    never checked, because failing it would leave the cache pages locked
    (fastfat read.c / write.c skip it the same way).

    Observe root: IO_REFUSED when the file system failed it with
    STATUS_FILE_LOCK_CONFLICT, IO otherwise.

    Also here: the observe-side helpers shared by the other IRP families
    (FB_OBSERVE_OP) and the IO record builder.

    Twin: src/model/filter/rdwr.ts.

Environment:

    Kernel mode. Pre-operations at <= APC_LEVEL, post-operations at
    <= DISPATCH_LEVEL.

--*/

#include "driver.h"

/*++

Routine Description:

    Creates the small state an observed operation hands to its post-op.

Arguments:

    Data - the operation.

    Stream, Handle - its contexts (referenced here).

Return Value:

    The state (one reference) or NULL.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
PFB_OBSERVE_OP
FbObserveOpCreate(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle
    )
{
    PFB_OBSERVE_OP observe;

    observe = (PFB_OBSERVE_OP)FbAllocate(sizeof(FB_OBSERVE_OP), FB_TAG_OBSERVE);
    if (observe == NULL) {
        return NULL;
    }

    observe->Kind = FB_KIND_OBSERVE;
    observe->RefCount = 1;
    observe->Stream = Stream;
    FltReferenceContext(Stream);
    observe->Handle = Handle;
    FltReferenceContext(Handle);
    observe->OperationId = FbNewOperationId();
    FbRequestorIds(Data, &observe->ProcessId, &observe->ThreadId);
    return observe;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbObserveOpRelease(
    _In_ PFB_OBSERVE_OP Observe
    )
/*++

Routine Description:

    Drops a reference; the last frees the state.

IRQL:

    <= DISPATCH_LEVEL.

--*/
{
    if (InterlockedDecrement(&Observe->RefCount) == 0) {
        FbStreamRelease(Observe->Stream, Observe->Handle);
        FbFree(Observe, FB_TAG_OBSERVE);
    }
}

/*++

Routine Description:

    Emits IO for a finished read, write, set-information or flush.

Arguments:

    Data - the completed operation.

    Stream, Handle - its contexts.

    OperationId, ProcessId, ThreadId - identifiers.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEmitIo(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle,
    _In_ ULONGLONG OperationId,
    _In_ ULONG ProcessId,
    _In_ ULONG ThreadId
    )
{
    PFLT_IO_PARAMETER_BLOCK iopb = Data->Iopb;
    FB_EVENT event;

    if (!FbEventWanted(FLTB_EVENT_IO)) {
        return;
    }

    FbEventFromStream(&event, FLTB_EVENT_IO, Data->IoStatus.Status, Stream, Handle->FileObjectId,
                      OperationId, ProcessId, ThreadId);
    event.Payload.Io.Major = iopb->MajorFunction;
    event.Payload.Io.Minor = iopb->MinorFunction;
    event.Payload.Io.Information = (ULONGLONG)Data->IoStatus.Information;

    switch (iopb->MajorFunction) {
    case IRP_MJ_READ:
        event.Payload.Io.Offset = (ULONGLONG)iopb->Parameters.Read.ByteOffset.QuadPart;
        event.Payload.Io.Length = iopb->Parameters.Read.Length;
        break;
    case IRP_MJ_WRITE:
        event.Payload.Io.Offset = (ULONGLONG)iopb->Parameters.Write.ByteOffset.QuadPart;
        event.Payload.Io.Length = iopb->Parameters.Write.Length;
        break;
    case IRP_MJ_SET_INFORMATION:
        event.Payload.Io.Detail = (FLTB_U32)iopb->Parameters.SetFileInformation.FileInformationClass;
        event.Payload.Io.Length = iopb->Parameters.SetFileInformation.Length;
        break;
    default:
        break;
    }

    if (FLT_IS_FASTIO_OPERATION(Data)) {
        event.Flags |= FLTB_RECORD_FAST_IO;
    }
    FbEventPost(&event);
}

/*++

Routine Description:

    The byte-range lock check that follows a read's or write's oplock check
    (inline, or from the work item after a wait).

Arguments:

    Operation - the read or write.

Return Value:

    FLT_PREOP_SUCCESS_WITH_CALLBACK, or FLT_PREOP_COMPLETE with
    STATUS_FILE_LOCK_CONFLICT.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbReadWriteAfterOplock(
    _In_ PFB_OPERATION Operation
    )
{
    PFLT_CALLBACK_DATA data = Operation->Data;
    PFLT_IO_PARAMETER_BLOCK iopb = data->Iopb;
    FB_EVENT event;
    BOOLEAN allowed;

    if (FbOpTestFlags(Operation, FB_OP_BUFFER_UNLOCKED)) {

        //
        //  It waited for a break and its user buffer could not be locked
        //  before it was posted (FbOplockPrePost): sending it down from the
        //  work item would hand the file system a user address outside the
        //  requestor's process.
        //

        data->IoStatus.Status = Operation->LockStatus;
        data->IoStatus.Information = 0;
        return FLT_PREOP_COMPLETE;
    }

    FltAcquireResourceShared(&Operation->Stream->Resource);
    allowed = FbFileLockCheckIo(Operation);
    FltReleaseResource(&Operation->Stream->Resource);

    if (allowed) {
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    }

    data->IoStatus.Status = STATUS_FILE_LOCK_CONFLICT;
    data->IoStatus.Information = 0;

    if (FbEventWanted(FLTB_EVENT_IO_REFUSED)) {
        FbEventFromStream(&event, FLTB_EVENT_IO_REFUSED, STATUS_FILE_LOCK_CONFLICT, Operation->Stream,
                          Operation->FileObjectId, Operation->OperationId,
                          Operation->ProcessId, Operation->ThreadId);
        event.Payload.IoRefused.Major = Operation->Major;
        if (Operation->Major == IRP_MJ_READ) {
            event.Payload.IoRefused.Offset = (ULONGLONG)iopb->Parameters.Read.ByteOffset.QuadPart;
            event.Payload.IoRefused.Length = iopb->Parameters.Read.Length;
            event.Payload.IoRefused.Key = iopb->Parameters.Read.Key;
        } else {
            event.Payload.IoRefused.Offset = (ULONGLONG)iopb->Parameters.Write.ByteOffset.QuadPart;
            event.Payload.IoRefused.Length = iopb->Parameters.Write.Length;
            event.Payload.IoRefused.Key = iopb->Parameters.Write.Key;
        }
        FbEventPost(&event);
    }

    return FLT_PREOP_COMPLETE;
}

/*++

Routine Description:

    Pre-read / pre-write. See the module header.

Arguments:

    Data, FltObjects - the operation.

    CompletionContext - receives FB_OPERATION (managed) or FB_OBSERVE_OP.

Return Value:

    FLT_PREOP_*.

IRQL:

    <= APC_LEVEL.

--*/
FLT_PREOP_CALLBACK_STATUS
FLTAPI
FbPreReadWrite(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
{
    FLT_PREOP_CALLBACK_STATUS result;
    PFB_OPERATION operation;
    PFB_STREAM stream;
    PFB_HANDLE handle;

    *CompletionContext = NULL;

    if ((Data->Iopb->IrpFlags & IRP_PAGING_IO) != 0 ||
        (FLT_IS_IRP_OPERATION(Data) && (Data->Iopb->MinorFunction & IRP_MN_COMPLETE) != 0) ||
        !FbStreamGetForOperation(FltObjects, &stream, &handle)) {
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

    if (FLT_IS_FASTIO_OPERATION(Data)) {
        FbStreamRelease(stream, handle);
        return FLT_PREOP_DISALLOW_FASTIO;
    }

    if (!FLT_IS_IRP_OPERATION(Data)) {
        FbStreamRelease(stream, handle);
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    operation = FbOperationCreate(Data, FltObjects, stream, handle);
    FbStreamRelease(stream, handle);
    if (operation == NULL) {
        Data->IoStatus.Status = STATUS_INSUFFICIENT_RESOURCES;
        Data->IoStatus.Information = 0;
        return FLT_PREOP_COMPLETE;
    }

    operation->Stage = FbStageReadWrite;

    FltAcquireResourceShared(&operation->Stream->Resource);
    result = FbOplockCheck(operation, 0, TRUE);
    FltReleaseResource(&operation->Stream->Resource);

    if (result == FLT_PREOP_SUCCESS_WITH_CALLBACK) {
        result = FbReadWriteAfterOplock(operation);
    } else if (result == FLT_PREOP_COMPLETE) {
        FbEmitIo(Data, operation->Stream, operation->Handle, operation->OperationId,
                 operation->ProcessId, operation->ThreadId);
    }

    if (result == FLT_PREOP_SUCCESS_WITH_CALLBACK) {
        *CompletionContext = operation;
        return result;
    }

    FbOperationRelease(operation);
    return result;
}

/*++

Routine Description:

    Post-read / post-write: IO, or IO_REFUSED for an observed lock
    conflict.

IRQL:

    <= DISPATCH_LEVEL.

--*/
FLT_POSTOP_CALLBACK_STATUS
FLTAPI
FbPostReadWrite(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    )
{
    BOOLEAN draining = (BOOLEAN)((Flags & FLTFL_POST_OPERATION_DRAINING) != 0);
    PFLT_IO_PARAMETER_BLOCK iopb = Data->Iopb;
    FB_EVENT event;

    UNREFERENCED_PARAMETER(FltObjects);

    if (CompletionContext == NULL) {
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    if (FB_CONTEXT_KIND(CompletionContext) == FB_KIND_OPERATION) {
        PFB_OPERATION operation = (PFB_OPERATION)CompletionContext;
        if (!draining) {
            FbEmitIo(Data, operation->Stream, operation->Handle, operation->OperationId,
                     operation->ProcessId, operation->ThreadId);
        }
        FbOperationRelease(operation);
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    {
        PFB_OBSERVE_OP observe = (PFB_OBSERVE_OP)CompletionContext;

        if (!draining && Data->IoStatus.Status == STATUS_FILE_LOCK_CONFLICT) {
            if (FbEventWanted(FLTB_EVENT_IO_REFUSED)) {
                FbEventFromStream(&event, FLTB_EVENT_IO_REFUSED, STATUS_FILE_LOCK_CONFLICT, observe->Stream,
                                  observe->Handle->FileObjectId, observe->OperationId,
                                  observe->ProcessId, observe->ThreadId);
                event.Payload.IoRefused.Major = iopb->MajorFunction;
                event.Payload.IoRefused.Offset = (ULONGLONG)iopb->Parameters.Read.ByteOffset.QuadPart;
                event.Payload.IoRefused.Length = iopb->Parameters.Read.Length;
                event.Payload.IoRefused.Key = iopb->Parameters.Read.Key;
                FbEventPost(&event);
            }
        } else if (!draining) {
            FbEmitIo(Data, observe->Stream, observe->Handle, observe->OperationId,
                     observe->ProcessId, observe->ThreadId);
        }

        FbObserveOpRelease(observe);
    }

    return FLT_POSTOP_FINISHED_PROCESSING;
}

/*++

Routine Description:

    Pre-operation of the fast-I/O MDL paths IRP_MJ_MDL_READ and
    IRP_MJ_PREPARE_MDL_WRITE: refused for managed streams (the caller then
    sends an IRP_MJ_READ / IRP_MJ_WRITE with IRP_MN_MDL, which gets the
    oplock and byte-range lock checks); passed for everything else.

Arguments:

    Data, FltObjects - the operation.

    CompletionContext - unused (no post-operation).

Return Value:

    FLT_PREOP_DISALLOW_FASTIO or FLT_PREOP_SUCCESS_NO_CALLBACK.

IRQL:

    <= APC_LEVEL.

--*/
FLT_PREOP_CALLBACK_STATUS
FLTAPI
FbPreFastIoMdl(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
{
    FLT_PREOP_CALLBACK_STATUS result = FLT_PREOP_SUCCESS_NO_CALLBACK;
    PFB_STREAM stream;
    PFB_HANDLE handle;

    *CompletionContext = NULL;

    if (!FLT_IS_FASTIO_OPERATION(Data) || !FbStreamGetForOperation(FltObjects, &stream, &handle)) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    if (stream->Managed) {
        result = FLT_PREOP_DISALLOW_FASTIO;
    }

    FbStreamRelease(stream, handle);
    return result;
}
