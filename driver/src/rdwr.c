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
    system below. IO at completion.

    Requests the file system answers before any check get none here
    either (fastfat read.c / write.c complete them before FsRtlCheckOplock;
    [MS-FSA] 2.1.5.3 / 2.1.5.4): zero-length I/O (a zero-length write
    breaks nothing), and offsets NTFS refuses with STATUS_INVALID_PARAMETER
    (past MAXLONGLONG, or negative). Directories are never managed streams.

    A write to end of file (ByteOffset FILE_WRITE_TO_END_OF_FILE, as the
    I/O manager passes an append-only handle's writes) is checked against
    byte-range locks at the current end of file, not at the raw offset:
    NTFS resolves it after its oplock check and before its lock check
    (fastfat write.c: StartingByte = FileSize for WriteToEof, then
    FsRtlCheckLockForWriteAccess). The end of file is queried with
    FltQueryInformationFile at PASSIVE_LEVEL (after an oplock wait the
    check runs in a work item, at PASSIVE_LEVEL, so it sees the size the
    holder left) and read from the file system's FSRTL_COMMON_FCB_HEADER
    at APC_LEVEL. The records carry that offset. The write then goes down
    unchanged; the file system resolves the offset again (a concurrent
    extension between the two is not covered, like the check/I-O gap in
    driver/README.md).

    An IRP_MN_COMPLETE read or write only
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

    Emits IO for a finished (or refused) read, write, set-information or
    flush.

Arguments:

    Data - the operation.

    Status - its status (Data->IoStatus.Status at completion).

    Stream, Handle - its contexts.

    OperationId, ProcessId, ThreadId - identifiers.

    ResolvedOffset - a write to end of file: where it went (NULL: the
    request's own ByteOffset).

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEmitIo(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ NTSTATUS Status,
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle,
    _In_ ULONGLONG OperationId,
    _In_ ULONG ProcessId,
    _In_ ULONG ThreadId,
    _In_opt_ const ULONGLONG *ResolvedOffset
    )
{
    PFLT_IO_PARAMETER_BLOCK iopb = Data->Iopb;
    FB_EVENT event;

    if (!FbEventWanted(FLTB_EVENT_IO)) {
        return;
    }

    FbEventFromStream(&event, FLTB_EVENT_IO, Status, Stream, Handle->FileObjectId,
                      OperationId, ProcessId, ThreadId);
    event.Payload.Io.Major = iopb->MajorFunction;
    event.Payload.Io.Minor = iopb->MinorFunction;
    event.Payload.Io.Information = NT_SUCCESS(Status) ? (ULONGLONG)Data->IoStatus.Information : 0;

    switch (iopb->MajorFunction) {
    case IRP_MJ_READ:
        event.Payload.Io.Offset = (ULONGLONG)iopb->Parameters.Read.ByteOffset.QuadPart;
        event.Payload.Io.Length = iopb->Parameters.Read.Length;
        break;
    case IRP_MJ_WRITE:
        event.Payload.Io.Offset = (ResolvedOffset != NULL)
                                      ? *ResolvedOffset
                                      : (ULONGLONG)iopb->Parameters.Write.ByteOffset.QuadPart;
        event.Payload.Io.Length = iopb->Parameters.Write.Length;
        break;
    case IRP_MJ_SET_INFORMATION:

        //
        //  Length: the new size of an end-of-file or allocation request, read
        //  from the request's system buffer (METHOD_BUFFERED: captured by the
        //  I/O manager, kernel memory) after its length is checked.
        //

        event.Payload.Io.Detail = (FLTB_U32)iopb->Parameters.SetFileInformation.FileInformationClass;
        if ((iopb->Parameters.SetFileInformation.FileInformationClass == FileEndOfFileInformation ||
             iopb->Parameters.SetFileInformation.FileInformationClass == FileAllocationInformation) &&
            iopb->Parameters.SetFileInformation.InfoBuffer != NULL &&
            iopb->Parameters.SetFileInformation.Length >= sizeof(LARGE_INTEGER)) {
            LARGE_INTEGER size;
            RtlCopyMemory(&size, iopb->Parameters.SetFileInformation.InfoBuffer, sizeof(size));
            event.Payload.Io.Length = (ULONGLONG)size.QuadPart;
        }
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

    The end of file and allocation size of the operation's stream, as the
    file system reports them: FltQueryInformationFile
    (FileStandardInformation) at PASSIVE_LEVEL; at APC_LEVEL, where that
    routine may not be called, the sizes the file system keeps in the
    FSRTL_COMMON_FCB_HEADER its FsContext points to (the header every file
    system whose files are cached must provide; paged memory may be read
    below DISPATCH_LEVEL).

Arguments:

    Data - an operation on an open file object.

    EndOfFile, AllocationSize - receive the sizes.

Return Value:

    TRUE when the sizes were read.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbQueryFileSizes(
    _In_ PFLT_CALLBACK_DATA Data,
    _Out_ PLONGLONG EndOfFile,
    _Out_ PLONGLONG AllocationSize
    )
{
    PFILE_OBJECT fileObject = Data->Iopb->TargetFileObject;
    FILE_STANDARD_INFORMATION standard;
    const FSRTL_COMMON_FCB_HEADER *header;

    *EndOfFile = 0;
    *AllocationSize = 0;

    if (fileObject == NULL) {
        return FALSE;
    }

    if (KeGetCurrentIrql() == PASSIVE_LEVEL) {
        if (!NT_SUCCESS(FltQueryInformationFile(Data->Iopb->TargetInstance, fileObject, &standard,
                                                sizeof(standard), FileStandardInformation, NULL))) {
            return FALSE;
        }
        *EndOfFile = standard.EndOfFile.QuadPart;
        *AllocationSize = standard.AllocationSize.QuadPart;
        return TRUE;
    }

    header = (const FSRTL_COMMON_FCB_HEADER *)fileObject->FsContext;
    if (header == NULL) {
        return FALSE;
    }
    *EndOfFile = header->FileSize.QuadPart;
    *AllocationSize = header->AllocationSize.QuadPart;
    return TRUE;
}

/*++

Routine Description:

    Is this a write to end of file (ByteOffset FILE_WRITE_TO_END_OF_FILE
    with HighPart -1; NtWriteFile / IRP_MJ_WRITE pages)?

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbWriteToEndOfFile(
    _In_ PFLT_CALLBACK_DATA Data
    )
{
    const LARGE_INTEGER *offset = &Data->Iopb->Parameters.Write.ByteOffset;

    return (BOOLEAN)(Data->Iopb->MajorFunction == IRP_MJ_WRITE &&
                     offset->LowPart == FILE_WRITE_TO_END_OF_FILE && offset->HighPart == -1);
}

/*++

Routine Description:

    Where a write to end of file goes: the current end of file.

Arguments:

    Data - the write.

    Offset - receives the end of file.

Return Value:

    TRUE when it could be read (FbQueryFileSizes).

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbResolveWriteOffset(
    _In_ PFLT_CALLBACK_DATA Data,
    _Out_ PULONGLONG Offset
    )
{
    LONGLONG endOfFile;
    LONGLONG allocation;

    *Offset = 0;
    if (!FbQueryFileSizes(Data, &endOfFile, &allocation) || endOfFile < 0) {
        return FALSE;
    }
    *Offset = (ULONGLONG)endOfFile;
    return TRUE;
}

/*++

Routine Description:

    Does the file system answer this read or write before any oplock or
    lock check (see the module header)? Zero length, or an offset (or its
    end) past MAXLONGLONG.

Arguments:

    Data - the read or write.

    Offset - its offset (resolved for a write to end of file).

Return Value:

    TRUE when no check applies.

IRQL:

    Any.

--*/
static BOOLEAN
FbReadWriteUnchecked(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ ULONGLONG Offset
    )
{
    const ULONGLONG maxLongLong = 0x7FFFFFFFFFFFFFFFULL;
    ULONG length = (Data->Iopb->MajorFunction == IRP_MJ_READ) ? Data->Iopb->Parameters.Read.Length
                                                               : Data->Iopb->Parameters.Write.Length;

    return (BOOLEAN)(length == 0 || Offset > maxLongLong || (ULONGLONG)length > maxLongLong - Offset);
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

    //
    //  A write to end of file is checked where it will go: the end of file
    //  now, after any oplock wait (the holder may have extended the file
    //  before it acknowledged).
    //

    if (FbWriteToEndOfFile(data)) {
        if (FbResolveWriteOffset(data, &Operation->ResolvedOffset)) {
            FbOpSetFlags(Operation, FB_OP_OFFSET_RESOLVED);
        } else {
            FbOpClearFlags(Operation, FB_OP_OFFSET_RESOLVED);
        }
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
            event.Payload.IoRefused.Offset = FbOpTestFlags(Operation, FB_OP_OFFSET_RESOLVED)
                                                 ? Operation->ResolvedOffset
                                                 : (ULONGLONG)iopb->Parameters.Write.ByteOffset.QuadPart;
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
    ULONGLONG offset;
    BOOLEAN resolved = FALSE;

    *CompletionContext = NULL;

    if ((Data->Iopb->IrpFlags & IRP_PAGING_IO) != 0 ||
        (FLT_IS_IRP_OPERATION(Data) && (Data->Iopb->MinorFunction & IRP_MN_COMPLETE) != 0) ||
        !FbStreamGetForOperation(FltObjects, &stream, &handle)) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    //
    //  The offset the request really has: a write to end of file goes to
    //  the current end of file.
    //

    offset = (Data->Iopb->MajorFunction == IRP_MJ_READ)
                 ? (ULONGLONG)Data->Iopb->Parameters.Read.ByteOffset.QuadPart
                 : (ULONGLONG)Data->Iopb->Parameters.Write.ByteOffset.QuadPart;
    if (FLT_IS_IRP_OPERATION(Data) && FbWriteToEndOfFile(Data)) {
        resolved = FbResolveWriteOffset(Data, &offset);
    }

    if (!stream->Managed) {
        PFB_OBSERVE_OP observe = FbObserveOpCreate(Data, stream, handle);
        FbStreamRelease(stream, handle);
        if (observe == NULL) {
            return FLT_PREOP_SUCCESS_NO_CALLBACK;
        }
        observe->OffsetResolved = resolved;
        observe->Offset = offset;
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

    if (resolved) {
        operation->ResolvedOffset = offset;
        FbOpSetFlags(operation, FB_OP_OFFSET_RESOLVED);
    }

    //
    //  A write to end of file whose end of file could not be read keeps
    //  its checks (at the offset it has).
    //

    if (FbReadWriteUnchecked(Data, (FbWriteToEndOfFile(Data) && !resolved) ? 0 : offset)) {

        //
        //  The file system answers it before any check (module header):
        //  no oplock or lock check, IO at completion.
        //

        *CompletionContext = operation;
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    }

    operation->Stage = FbStageReadWrite;

    FltAcquireResourceShared(&operation->Stream->Resource);
    result = FbOplockCheck(operation, 0, TRUE);
    FltReleaseResource(&operation->Stream->Resource);

    if (result == FLT_PREOP_SUCCESS_WITH_CALLBACK) {
        result = FbReadWriteAfterOplock(operation);
    } else if (result == FLT_PREOP_COMPLETE) {
        FbEmitFailedOperation(operation, Data->IoStatus.Status);
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
            FbEmitIo(Data, Data->IoStatus.Status, operation->Stream, operation->Handle,
                     operation->OperationId, operation->ProcessId, operation->ThreadId,
                     FbOpTestFlags(operation, FB_OP_OFFSET_RESOLVED) ? &operation->ResolvedOffset : NULL);
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
                if (iopb->MajorFunction == IRP_MJ_READ) {
                    event.Payload.IoRefused.Offset = (ULONGLONG)iopb->Parameters.Read.ByteOffset.QuadPart;
                    event.Payload.IoRefused.Length = iopb->Parameters.Read.Length;
                    event.Payload.IoRefused.Key = iopb->Parameters.Read.Key;
                } else {
                    event.Payload.IoRefused.Offset = observe->OffsetResolved
                                                         ? observe->Offset
                                                         : (ULONGLONG)iopb->Parameters.Write.ByteOffset.QuadPart;
                    event.Payload.IoRefused.Length = iopb->Parameters.Write.Length;
                    event.Payload.IoRefused.Key = iopb->Parameters.Write.Key;
                }
                FbEventPost(&event);
            }
        } else if (!draining) {
            FbEmitIo(Data, Data->IoStatus.Status, observe->Stream, observe->Handle, observe->OperationId,
                     observe->ProcessId, observe->ThreadId, observe->OffsetResolved ? &observe->Offset : NULL);
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
