/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    setinfo.c

Abstract:

    IRP_MJ_SET_INFORMATION (and, through the same routines, flush.c's
    IRP_MJ_FLUSH_BUFFERS).

    Managed stream: FltCheckOplockEx (the oplock package decides which
    information classes break which oplocks: end of file and allocation
    changes, renames, links, dispositions), which may pend the request
    until the break is acknowledged; IO at completion (Detail the
    information class, Length the new size of an end-of-file or allocation
    request). A failure of the oplock package, or of its wait, gives IO
    with that status.

    Observe root: IO at completion.

    Both: a disposition the file system accepted is remembered
    (FbSetInfoSeen) for the CLEANUP flags and for the delete-pending
    refusal of handle-caching oplock requests (fsctl.c): the filter cannot
    ask the file system at cleanup time, so it keeps what it saw.

    Twin: src/model/filter/setinfo.ts (and flush.ts).

Environment:

    Kernel mode, <= APC_LEVEL.

--*/

#include "driver.h"

/*++

Routine Description:

    A set-information completed successfully: a disposition changes the
    stream's delete-pending state as the filter sees it.

      - FileDispositionInformation: DeleteFile TRUE makes the stream
        delete-pending, FALSE clears it ([MS-FSA] 2.1.5.15.3);
      - FileDispositionInformationEx: FILE_DISPOSITION_ON_CLOSE sets or
        clears this handle's delete-on-close instead; otherwise
        FILE_DISPOSITION_DELETE sets or clears delete-pending.

    The information buffer is the request's system buffer (METHOD_BUFFERED,
    captured by the I/O manager into kernel memory); its length is checked
    before it is read.

Arguments:

    Data - the completed set-information.

    Stream, Handle - its contexts.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbSetInfoSeen(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle
    )
{
    PFLT_PARAMETERS parameters = &Data->Iopb->Parameters;
    PVOID buffer = parameters->SetFileInformation.InfoBuffer;
    ULONG length = parameters->SetFileInformation.Length;
    KIRQL oldIrql;

    if (!NT_SUCCESS(Data->IoStatus.Status) || buffer == NULL) {
        return;
    }

    if (parameters->SetFileInformation.FileInformationClass == FileDispositionInformation &&
        length >= sizeof(BOOLEAN)) {

        BOOLEAN deleteFile;
        RtlCopyMemory(&deleteFile, buffer, sizeof(deleteFile));

        KeAcquireSpinLock(&Stream->Lock, &oldIrql);
        Stream->DeletePending = (BOOLEAN)(deleteFile != FALSE);
        KeReleaseSpinLock(&Stream->Lock, oldIrql);

    } else if (parameters->SetFileInformation.FileInformationClass == FileDispositionInformationEx &&
               length >= sizeof(ULONG)) {

        ULONG flags;
        RtlCopyMemory(&flags, buffer, sizeof(flags));

        KeAcquireSpinLock(&Stream->Lock, &oldIrql);
        if ((flags & FILE_DISPOSITION_ON_CLOSE) != 0) {
            Handle->DeleteOnClose = (BOOLEAN)((flags & FILE_DISPOSITION_DELETE) != 0);
        } else {
            Stream->DeletePending = (BOOLEAN)((flags & FILE_DISPOSITION_DELETE) != 0);
        }
        KeReleaseSpinLock(&Stream->Lock, oldIrql);
    }
}

/*++

Routine Description:

    Pre-set-information, shared with pre-flush: the oplock check of a
    managed stream's IRP operation; the observe state of an observed one.

Arguments:

    Data, FltObjects - the operation.

    CompletionContext - receives the FB_OPERATION (managed) or the
    FB_OBSERVE_OP (observed).

Return Value:

    FLT_PREOP_*.

IRQL:

    <= APC_LEVEL.

--*/
FLT_PREOP_CALLBACK_STATUS
FLTAPI
FbPreSetInformation(
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

    if (!FLT_IS_IRP_OPERATION(Data) || !FbStreamGetForOperation(FltObjects, &stream, &handle)) {
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

    operation = FbOperationCreate(Data, FltObjects, stream, handle);
    FbStreamRelease(stream, handle);
    if (operation == NULL) {
        Data->IoStatus.Status = STATUS_INSUFFICIENT_RESOURCES;
        Data->IoStatus.Information = 0;
        return FLT_PREOP_COMPLETE;
    }

    operation->Stage = FbStageContinue;

    FltAcquireResourceShared(&operation->Stream->Resource);
    result = FbOplockCheck(operation, 0, TRUE);
    FltReleaseResource(&operation->Stream->Resource);

    switch (result) {
    case FLT_PREOP_SUCCESS_WITH_CALLBACK:
        *CompletionContext = operation;
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    case FLT_PREOP_COMPLETE:
        FbEmitFailedOperation(operation, Data->IoStatus.Status);
        FbOperationRelease(operation);
        return FLT_PREOP_COMPLETE;
    default:
        FbOperationRelease(operation);
        return result;
    }
}

/*++

Routine Description:

    Post-set-information (and post-flush): the disposition bookkeeping,
    then IO.

IRQL:

    <= DISPATCH_LEVEL.

--*/
FLT_POSTOP_CALLBACK_STATUS
FLTAPI
FbPostSetInformation(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    )
{
    BOOLEAN draining = (BOOLEAN)((Flags & FLTFL_POST_OPERATION_DRAINING) != 0);
    BOOLEAN setInfo = (BOOLEAN)(Data->Iopb->MajorFunction == IRP_MJ_SET_INFORMATION);

    UNREFERENCED_PARAMETER(FltObjects);

    if (CompletionContext == NULL) {
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    if (FB_CONTEXT_KIND(CompletionContext) == FB_KIND_OBSERVE) {
        PFB_OBSERVE_OP observe = (PFB_OBSERVE_OP)CompletionContext;
        if (setInfo) {
            FbSetInfoSeen(Data, observe->Stream, observe->Handle);
        }
        if (!draining) {
            FbEmitIo(Data, Data->IoStatus.Status, observe->Stream, observe->Handle,
                     observe->OperationId, observe->ProcessId, observe->ThreadId, NULL);
        }
        FbObserveOpRelease(observe);
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    {
        PFB_OPERATION operation = (PFB_OPERATION)CompletionContext;

        if (setInfo) {
            FbSetInfoSeen(Data, operation->Stream, operation->Handle);
        }
        if (!draining) {
            FbEmitIo(Data, Data->IoStatus.Status, operation->Stream, operation->Handle,
                     operation->OperationId, operation->ProcessId, operation->ThreadId, NULL);
        }
        FbOperationRelease(operation);
    }

    return FLT_POSTOP_FINISHED_PROCESSING;
}
