/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    setinfo.c

Abstract:

    IRP_MJ_SET_INFORMATION on a managed stream: FltCheckOplockEx (the oplock
    package decides which information classes break which oplocks: end of
    file and allocation changes, renames, links, dispositions), which may
    pend the request until the break is acknowledged; IO at completion.
    Observe roots report nothing for set-information (docs/events.md).

    Twin: src/model/filter/setinfo.ts.

Environment:

    Kernel mode, <= APC_LEVEL.

--*/

#include "driver.h"

/*++

Routine Description:

    Pre-set-information, shared with pre-flush: the oplock check of a
    managed stream's IRP operation.

Arguments:

    Data, FltObjects - the operation.

    CompletionContext - receives the FB_OPERATION.

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

    operation->Stage = FbStageContinue;

    FltAcquireResourceShared(&operation->Stream->Resource);
    result = FbOplockCheck(operation, 0, TRUE);
    FltReleaseResource(&operation->Stream->Resource);

    switch (result) {
    case FLT_PREOP_SUCCESS_WITH_CALLBACK:
        *CompletionContext = operation;
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    case FLT_PREOP_COMPLETE:
        FbEmitIo(Data, operation->Stream, operation->Handle, operation->OperationId,
                 operation->ProcessId, operation->ThreadId);
        FbOperationRelease(operation);
        return FLT_PREOP_COMPLETE;
    default:
        FbOperationRelease(operation);
        return result;
    }
}

/*++

Routine Description:

    Post-set-information (and post-flush): IO.

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
    PFB_OPERATION operation = (PFB_OPERATION)CompletionContext;

    UNREFERENCED_PARAMETER(FltObjects);

    if (operation == NULL) {
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    if ((Flags & FLTFL_POST_OPERATION_DRAINING) == 0) {
        FbEmitIo(Data, operation->Stream, operation->Handle, operation->OperationId,
                 operation->ProcessId, operation->ThreadId);
    }

    FbOperationRelease(operation);
    return FLT_POSTOP_FINISHED_PROCESSING;
}
