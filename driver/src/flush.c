/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    flush.c

Abstract:

    IRP_MJ_FLUSH_BUFFERS on a managed stream: FltCheckOplockEx (a flush is
    one of the operations that must be synchronised with the oplock:
    FltCheckOplock's list), which may pend it; IO at completion (with the
    package's status when it fails the flush). The logic is that of
    set-information (setinfo.c). Observe roots: IO at completion.

    Twin: src/model/filter/flush.ts.

Environment:

    Kernel mode, <= APC_LEVEL.

--*/

#include "driver.h"

/*++

Routine Description:

    Pre-flush.

IRQL:

    <= APC_LEVEL.

--*/
FLT_PREOP_CALLBACK_STATUS
FLTAPI
FbPreFlush(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
{
    return FbPreSetInformation(Data, FltObjects, CompletionContext);
}

/*++

Routine Description:

    Post-flush.

IRQL:

    <= DISPATCH_LEVEL.

--*/
FLT_POSTOP_CALLBACK_STATUS
FLTAPI
FbPostFlush(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    )
{
    return FbPostSetInformation(Data, FltObjects, CompletionContext, Flags);
}
