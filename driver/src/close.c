/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    close.c

Abstract:

    IRP_MJ_CLOSE: a file object is being torn down. The stream loses one
    file object (and leaves the managed table with its last one); CLOSE is
    emitted at post-close with the number of file objects of the stream
    still alive.

    Twin: src/model/filter/close.ts.

Environment:

    Kernel mode, PASSIVE_LEVEL.

--*/

#include "driver.h"

/*++

Routine Description:

    Pre-close: bookkeeping, and the record's data for the post-close (the
    file object's contexts are gone by then).

Arguments:

    Data, FltObjects - the close.

    CompletionContext - receives an FB_OBSERVE_OP.

Return Value:

    FLT_PREOP_SUCCESS_WITH_CALLBACK, or FLT_PREOP_SUCCESS_NO_CALLBACK when
    the file object is not ours.

IRQL:

    PASSIVE_LEVEL.

--*/
FLT_PREOP_CALLBACK_STATUS
FLTAPI
FbPreClose(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
{
    PFB_OBSERVE_OP observe;
    PFB_STREAM stream;
    PFB_HANDLE handle;

    *CompletionContext = NULL;

    if (!FbStreamGetForOperation(FltObjects, &stream, &handle)) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    FbStreamFileObjectClosed(stream);

    observe = FbObserveOpCreate(Data, stream, handle);
    if (observe != NULL) {
        observe->Level = (ULONG)((stream->FileObjects > 0) ? stream->FileObjects : 0);
    }

    FbStreamRelease(stream, handle);

    if (observe == NULL) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    *CompletionContext = observe;
    return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

/*++

Routine Description:

    Post-close: emits CLOSE (Level carries the stream's remaining file
    objects).

IRQL:

    <= APC_LEVEL.

--*/
FLT_POSTOP_CALLBACK_STATUS
FLTAPI
FbPostClose(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    )
{
    PFB_OBSERVE_OP observe = (PFB_OBSERVE_OP)CompletionContext;
    FB_EVENT event;

    UNREFERENCED_PARAMETER(FltObjects);

    if (observe == NULL) {
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    if ((Flags & FLTFL_POST_OPERATION_DRAINING) == 0 && FbEventWanted(FLTB_EVENT_CLOSE)) {
        FbEventFromStream(&event, FLTB_EVENT_CLOSE, Data->IoStatus.Status, observe->Stream,
                          observe->Handle->FileObjectId, observe->OperationId,
                          observe->ProcessId, observe->ThreadId);
        event.Payload.Close.StreamReferences = observe->Level;
        FbEventPost(&event);
    }

    FbObserveOpRelease(observe);
    return FLT_POSTOP_FINISHED_PROCESSING;
}
