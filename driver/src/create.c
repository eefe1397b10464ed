/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    create.c

Abstract:

    IRP_MJ_CREATE.

    Pre-create classifies the name against the policy and reads the target
    oplock key of the create's GUID_ECP_OPLOCK_KEY ECP, if any
    (FltGetEcpListFromCallbackData, FltFindExtraCreateParameter; CREATE
    reports it with FLTB_CREATE_HAS_OPLOCK_KEY). For a managed stream
    (docs/events.md, "create"), in NTFS's order ([MS-FSA] 2.1.5.1.2;
    fastfat create.c FatOpenExistingFcb, cdfs/udfs create.c the same):

      1. a batch or filter oplock (FltCurrentBatchOplock) is checked
         before the share check, so that a holder that closes its handle on
         the break lets the open through; a create that waited here starts
         over from the top (the file system re-queues it);
      2. the share check, predicted from the handles this instance
         counted (IoCheckShareAccess's rules): on a conflict with
         handle-caching holders FltOplockBreakH breaks H only (RWH -> RW,
         RH -> R), the create waits for the acknowledgement, and the share
         check is made again;
      3. an open that still conflicts gets no FltCheckOplockEx: nothing
         else is broken for it, it goes down and the file system fails it
         with STATUS_SHARING_VIOLATION;
      4. otherwise FltCheckOplockEx (OPLOCK_FLAG_COMPLETE_IF_OPLOCKED for
         FILE_COMPLETE_IF_OPLOCKED), unless step 1 checked already, and the
         create goes on to the file system.

    Any of the package calls may pend the create until the break is
    acknowledged; it continues from a work item (oplock.c).

    Post-create attaches the stream and handle contexts, counts the handle,
    records its oplock key with the package (FltCheckOplockEx with
    OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY: "add the key if one is provided ...
    no oplock break will occur"), handles FILE_OPEN_REQUIRING_OPLOCK
    atomically with FltOplockFsctrlEx (backing the open out with
    FltCancelFileOpen and OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK when no oplock
    can be granted), turns success into STATUS_OPLOCK_BREAK_IN_PROGRESS when
    FILE_COMPLETE_IF_OPLOCKED met a break - with FILE_OPBATCH_BREAK_UNDERWAY
    in Information when it was the batch/filter check's (cdfs/fastfat
    create.c set it before that check; ntifs.h) - and emits CREATE.

    Deviation from NTFS, documented in driver/README.md: NTFS decides the
    sharing violation itself; a filter can only predict it from the
    handles it saw (opens from below the filter's altitude, or from before
    the namespace was configured, are unknown to it).

    Twin: src/model/filter/create.ts.

Environment:

    Kernel mode, PASSIVE_LEVEL.

--*/

#include "driver.h"

/*++

Routine Description:

    Emits the CREATE record of a create.

Arguments:

    Operation - the create.

    Data - its callback data.

    Status - the final status.

    CreateFlags - FLTB_CREATE_* determined so far (WAITED / BREAK_IN_PROGRESS /
    SHARING_BREAK are added from the operation's flags).

    FileSize - end of file after the create.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbCreateEmit(
    _In_ PFB_OPERATION Operation,
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ NTSTATUS Status,
    _In_ ULONG CreateFlags,
    _In_ ULONGLONG FileSize
    )
{
    PFLT_PARAMETERS parameters = &Data->Iopb->Parameters;
    PIO_SECURITY_CONTEXT security = parameters->Create.SecurityContext;
    FB_EVENT event;

    if (!FbEventWanted(FLTB_EVENT_CREATE)) {
        return;
    }

    if (FbOpTestFlags(Operation, FB_OP_WAITED)) {
        CreateFlags |= FLTB_CREATE_WAITED_FOR_BREAK;
    }
    if (FbOpTestFlags(Operation, FB_OP_SHARING_BREAK)) {
        CreateFlags |= FLTB_CREATE_SHARING_BREAK;
    }
    if (Status == STATUS_OPLOCK_BREAK_IN_PROGRESS) {
        CreateFlags |= FLTB_CREATE_BREAK_IN_PROGRESS;
    }

    FbEventFromStream(&event, FLTB_EVENT_CREATE, Status, Operation->Stream, Operation->FileObjectId,
                      Operation->OperationId, Operation->ProcessId, Operation->ThreadId);
    event.Payload.Create.DesiredAccess = (security != NULL) ? security->DesiredAccess : 0;
    event.Payload.Create.ShareAccess = parameters->Create.ShareAccess;
    event.Payload.Create.CreateDisposition = (parameters->Create.Options >> 24) & 0xFFu;
    event.Payload.Create.CreateOptions = parameters->Create.Options & 0x00FFFFFFu;
    event.Payload.Create.Information = NT_SUCCESS(Status) ? (FLTB_U32)Data->IoStatus.Information : 0u;
    if (Operation->HasOplockKey) {
        CreateFlags |= FLTB_CREATE_HAS_OPLOCK_KEY;
        RtlCopyMemory(event.Payload.Create.OplockKey, &Operation->OplockKey, sizeof(GUID));
    }
    event.Payload.Create.CreateFlags = CreateFlags;
    event.Payload.Create.FileSize = FileSize;
    FbEventPost(&event);
}

/*++

Routine Description:

    The GUID of GUID_ECP_OPLOCK_KEY (ntifs.h: 48850596-3050-4be7-9863-
    fec350ce8d7f), defined here so that no GUID definition has to be linked
    in.

--*/
static const GUID FbGuidEcpOplockKey = {
    0x48850596, 0x3050, 0x4be7, { 0x98, 0x63, 0xfe, 0xc3, 0x50, 0xce, 0x8d, 0x7f }
};

/*++

Routine Description:

    Reads the target oplock key of the create's OPLOCK_KEY_ECP_CONTEXT, if
    the create carries one. ECPs are attached by kernel-mode creators (the
    SMB server, IoCreateFileEx callers, filters above us); NtCreateFile has
    no way to pass one from user mode. The context is kernel memory owned
    by the ECP list for the whole create; its size is checked before its
    key is copied, and nothing of it is modified (OPLOCK_KEY_ECP_CONTEXT
    page: "A minifilter should not alter the contents").

Arguments:

    Data - the create.

    Operation - receives HasOplockKey and OplockKey.

Return Value:

    None.

IRQL:

    <= APC_LEVEL.

--*/
static VOID
FbCreateOplockKey(
    _In_ PFLT_CALLBACK_DATA Data,
    _Inout_ PFB_OPERATION Operation
    )
{
    PECP_LIST ecpList = NULL;
    PVOID context = NULL;
    ULONG size = 0;

    if (!NT_SUCCESS(FltGetEcpListFromCallbackData(FbGlobals.Filter, Data, &ecpList)) || ecpList == NULL) {
        return;
    }

    if (!NT_SUCCESS(FltFindExtraCreateParameter(FbGlobals.Filter, ecpList, &FbGuidEcpOplockKey,
                                                &context, &size)) ||
        context == NULL || size < sizeof(OPLOCK_KEY_ECP_CONTEXT)) {
        return;
    }

    RtlCopyMemory(&Operation->OplockKey, &((const OPLOCK_KEY_ECP_CONTEXT *)context)->OplockKey,
                  sizeof(GUID));
    Operation->HasOplockKey = TRUE;
}

static ULONG
FbCreateCheckFlags(
    _In_ PFB_OPERATION Operation
    )
{
    return FbOpTestFlags(Operation, FB_OP_COMPLETE_IF_OPLOCKED) ? OPLOCK_FLAG_COMPLETE_IF_OPLOCKED : 0u;
}

/*++

Routine Description:

    Does the create still meet a sharing violation (predicted)?

IRQL:

    <= APC_LEVEL.

--*/
static BOOLEAN
FbCreateShareConflict(
    _In_ PFB_OPERATION Operation
    )
{
    PIO_SECURITY_CONTEXT security = Operation->Data->Iopb->Parameters.Create.SecurityContext;

    return (BOOLEAN)(security != NULL &&
                     FbStreamShareConflict(Operation->Stream, security->DesiredAccess,
                                           Operation->Data->Iopb->Parameters.Create.ShareAccess));
}

/*++

Routine Description:

    Steps 1 and 2 of a managed pre-create (module header): the batch/filter
    check, then the share check and FltOplockBreakH. Also run from the work
    item after the batch/filter check made the create wait.

Arguments:

    Operation - the create.

Return Value:

    FLT_PREOP_SUCCESS_WITH_CALLBACK, FLT_PREOP_COMPLETE or FLT_PREOP_PENDING.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbCreateFromTop(
    _In_ PFB_OPERATION Operation
    )
{
    PFB_STREAM stream = Operation->Stream;
    FLT_PREOP_CALLBACK_STATUS result = FLT_PREOP_SUCCESS_WITH_CALLBACK;
    BOOLEAN batch = FALSE;

    //
    //  Step 1: a batch or filter oplock is checked before the share check.
    //

    FltAcquireResourceShared(&stream->Resource);
    if (stream->OplockReady && FltCurrentBatchOplock(&stream->Oplock)) {
        batch = TRUE;
        Operation->Stage = FbStageCreateStart;
        result = FbOplockCheck(Operation, FbCreateCheckFlags(Operation), TRUE);
    }
    FltReleaseResource(&stream->Resource);

    if (result != FLT_PREOP_SUCCESS_WITH_CALLBACK) {
        return result;
    }

    if (batch) {
        FbOpSetFlags(Operation, FB_OP_OPLOCK_CHECKED);
        if (Operation->Data->IoStatus.Status == STATUS_OPLOCK_BREAK_IN_PROGRESS) {
            FbOpSetFlags(Operation, FB_OP_BATCH_UNDERWAY);
        }
    }

    //
    //  Step 2: the sharing-violation break of handle-caching oplocks.
    //

    FltAcquireResourceShared(&stream->Resource);
    if (stream->OplockReady && FbCreateShareConflict(Operation) && FltCurrentOplockH(&stream->Oplock)) {
        FbOpSetFlags(Operation, FB_OP_SHARING_BREAK);
        Operation->Stage = FbStageCreateBreakH;
        result = FbOplockBreakH(Operation, FbCreateCheckFlags(Operation));
    }
    FltReleaseResource(&stream->Resource);

    if (result != FLT_PREOP_SUCCESS_WITH_CALLBACK) {
        return result;
    }

    return FbCreateAfterBreakH(Operation);
}

/*++

Routine Description:

    Steps 3 and 4 of a managed pre-create (also run from the work item
    after a FltOplockBreakH wait): the share check again; an open that
    still conflicts goes down without FltCheckOplockEx (the file system
    fails it); any other gets FltCheckOplockEx unless step 1 checked it.

Arguments:

    Operation - the create.

Return Value:

    FLT_PREOP_SUCCESS_WITH_CALLBACK, FLT_PREOP_COMPLETE or FLT_PREOP_PENDING.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbCreateAfterBreakH(
    _In_ PFB_OPERATION Operation
    )
{
    PFB_STREAM stream = Operation->Stream;
    FLT_PREOP_CALLBACK_STATUS result;

    if (FbOpTestFlags(Operation, FB_OP_OPLOCK_CHECKED) || FbCreateShareConflict(Operation)) {
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    }

    Operation->Stage = FbStageCreateCheck;

    FltAcquireResourceShared(&stream->Resource);
    result = FbOplockCheck(Operation, FbCreateCheckFlags(Operation), TRUE);
    FltReleaseResource(&stream->Resource);

    if (result == FLT_PREOP_PENDING) {
        return FLT_PREOP_PENDING;
    }

    return (result == FLT_PREOP_COMPLETE) ? FLT_PREOP_COMPLETE : FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

/*++

Routine Description:

    Should this create be looked at at all? Paging files, volume opens,
    rename-target opens and directory opens are not.

IRQL:

    PASSIVE_LEVEL.

--*/
static BOOLEAN
FbCreateIgnored(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects
    )
{
    PFLT_IO_PARAMETER_BLOCK iopb = Data->Iopb;
    PFILE_OBJECT fileObject = FltObjects->FileObject;

    if ((iopb->OperationFlags & (SL_OPEN_PAGING_FILE | SL_OPEN_TARGET_DIRECTORY)) != 0) {
        return TRUE;
    }

    if ((iopb->Parameters.Create.Options & FILE_DIRECTORY_FILE) != 0) {
        return TRUE;
    }

    if (fileObject == NULL ||
        (fileObject->FileName.Length == 0 && fileObject->RelatedFileObject == NULL)) {
        return TRUE;
    }

    return FALSE;
}

/*++

Routine Description:

    Pre-create. See the module header.

Arguments:

    Data, FltObjects - the create.

    CompletionContext - receives the FB_OPERATION for the post-create.

Return Value:

    FLT_PREOP_SUCCESS_NO_CALLBACK (not ours), FLT_PREOP_SUCCESS_WITH_CALLBACK,
    FLT_PREOP_PENDING (waiting for a break), FLT_PREOP_COMPLETE (refused by
    the oplock package).

IRQL:

    PASSIVE_LEVEL.

--*/
FLT_PREOP_CALLBACK_STATUS
FLTAPI
FbPreCreate(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Flt_CompletionContext_Outptr_ PVOID *CompletionContext
    )
{
    PFLT_FILE_NAME_INFORMATION nameInfo = NULL;
    PFB_INSTANCE_CONTEXT instance;
    PFB_OPERATION operation = NULL;
    PFB_STREAM stream = NULL;
    FLT_PREOP_CALLBACK_STATUS result;
    FB_CLASS klass;
    USHORT managedCount;
    USHORT observedCount;
    NTSTATUS status;

    *CompletionContext = NULL;

    if (FbGlobals.Unloading != 0 || FbCreateIgnored(Data, FltObjects)) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    FbPolicyCounts(&managedCount, &observedCount);
    if (managedCount == 0 && observedCount == 0) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    instance = FbGetInstanceContext(FltObjects->Instance);
    if (instance == NULL) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }
    if (instance->Role != FbRoleOwner || instance->TearingDown) {
        FltReleaseContext(instance);
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    status = FltGetFileNameInformation(Data, FLT_FILE_NAME_NORMALIZED | FLT_FILE_NAME_QUERY_DEFAULT, &nameInfo);
    if (!NT_SUCCESS(status)) {
        status = FltGetFileNameInformation(Data, FLT_FILE_NAME_OPENED | FLT_FILE_NAME_QUERY_DEFAULT, &nameInfo);
    }
    if (!NT_SUCCESS(status)) {
        FltReleaseContext(instance);
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    klass = FbPolicyClassify(&nameInfo->Name);
    if (klass != FbClassNone) {
        status = FbStreamLookupForCreate(instance, &nameInfo->Name, (BOOLEAN)(klass == FbClassManaged), &stream);
    }

    FltReleaseFileNameInformation(nameInfo);
    FltReleaseContext(instance);

    if (klass == FbClassNone || !NT_SUCCESS(status)) {
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }

    operation = FbOperationCreate(Data, FltObjects, stream, NULL);
    if (operation == NULL) {
        if (stream->Managed) {
            FbStreamCreateDone(stream, FALSE, TRUE);
        }
        FltReleaseContext(stream);
        return FLT_PREOP_SUCCESS_NO_CALLBACK;
    }
    FltReleaseContext(stream);                      /* the operation holds it now */
    operation->FileObjectId = (ULONGLONG)InterlockedIncrement64(&FbGlobals.NextFileObjectId);
    FbCreateOplockKey(Data, operation);

    if (!operation->Stream->Managed) {
        *CompletionContext = operation;
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    }

    if ((Data->Iopb->Parameters.Create.Options & FILE_COMPLETE_IF_OPLOCKED) != 0) {
        FbOpSetFlags(operation, FB_OP_COMPLETE_IF_OPLOCKED);
    }

    result = FbCreateFromTop(operation);

    switch (result) {
    case FLT_PREOP_PENDING:
        FbOperationRelease(operation);
        return FLT_PREOP_PENDING;

    case FLT_PREOP_COMPLETE:
        FbStreamCreateDone(operation->Stream, FALSE, TRUE);
        FbCreateEmit(operation, Data, Data->IoStatus.Status, 0, 0);
        FbOperationRelease(operation);
        return FLT_PREOP_COMPLETE;

    default:
        *CompletionContext = operation;
        return FLT_PREOP_SUCCESS_WITH_CALLBACK;
    }
}

/*++

Routine Description:

    FILE_OPEN_REQUIRING_OPLOCK: the oplock must be grantable as part of the
    open, atomically (FltOplockFsctrlEx on the create under the resource
    held exclusive). When it is not, the open is cancelled.

Arguments:

    Data, FltObjects - the successful create.

    Operation - the create.

    Stream - the stream the handle was attached to.

    CreateFlags - receives FLTB_CREATE_ATOMIC_OPLOCK on success.

Return Value:

    STATUS_SUCCESS, or the status the open now fails with.

IRQL:

    PASSIVE_LEVEL.

--*/
static NTSTATUS
FbCreateAtomicOplock(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ PFB_OPERATION Operation,
    _In_ PFB_STREAM Stream,
    _Inout_ PULONG CreateFlags
    )
{
    IO_STATUS_BLOCK saved = Data->IoStatus;
    FLT_PREOP_CALLBACK_STATUS result;
    NTSTATUS refused = STATUS_SUCCESS;
    FB_EVENT event;
    ULONG openCount;

    FltAcquireResourceExclusive(&Stream->Resource);

    openCount = (ULONG)((Stream->OpenHandles > 0) ? Stream->OpenHandles : 1);

    FbEventFromStream(&event, FLTB_EVENT_OPLOCK_REQUEST, STATUS_PENDING, Stream, Operation->FileObjectId,
                      Operation->OperationId, Operation->ProcessId, Operation->ThreadId);
    event.Payload.OplockRequest.FsControlCode = 0;
    event.Payload.OplockRequest.RequestedLevel = FLTB_OPLOCK_NONE;
    event.Payload.OplockRequest.OpenCount = openCount;
    FbEventPost(&event);

    FbOperationEnterPackage(Operation);
    result = FbOplockFsctrl(Stream, Data, openCount, 0);
    FbOperationLeavePackage(Operation);

    if (result == FLT_PREOP_COMPLETE && !NT_SUCCESS(Data->IoStatus.Status)) {
        refused = Data->IoStatus.Status;

        //
        //  The create fails: revert whatever FltOplockFsctrlEx set up for
        //  it (FltCheckOplockEx, OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK: "used
        //  in final processing of such a create request when it failed").
        //  Not after teardown: the oplock pointer is gone then.
        //

        if (Stream->OplockReady) {
            __try {
                (VOID)FltCheckOplockEx(&Stream->Oplock, Data, OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK, NULL, NULL, NULL);
            } __except (EXCEPTION_EXECUTE_HANDLER) {
                NOTHING;
            }
        }
    }

    FltReleaseResource(&Stream->Resource);

    if (refused != STATUS_SUCCESS) {
        FbEventFromStream(&event, FLTB_EVENT_OPLOCK_COMPLETED, refused, Stream, Operation->FileObjectId,
                          Operation->OperationId, Operation->ProcessId, Operation->ThreadId);
        event.Payload.OplockCompleted.Reason = FLTB_OPLOCK_END_REFUSED;
        FbEventPost(&event);

        FltCancelFileOpen(FltObjects->Instance, FltObjects->FileObject);
        Data->IoStatus.Status = refused;
        Data->IoStatus.Information = 0;
        return refused;
    }

    Data->IoStatus = saved;
    *CreateFlags |= FLTB_CREATE_ATOMIC_OPLOCK;

    FbEventFromStream(&event, FLTB_EVENT_OPLOCK_GRANTED, STATUS_SUCCESS, Stream, Operation->FileObjectId,
                      Operation->OperationId, Operation->ProcessId, Operation->ThreadId);
    FbEventPost(&event);
    return STATUS_SUCCESS;
}

/*++

Routine Description:

    Post-create. See the module header.

Arguments:

    Data, FltObjects - the create.

    CompletionContext - the FB_OPERATION from the pre-create (or the
    wait-complete routine).

    Flags - FLTFL_POST_OPERATION_DRAINING when the instance is going away.

Return Value:

    FLT_POSTOP_FINISHED_PROCESSING.

IRQL:

    PASSIVE_LEVEL.

--*/
FLT_POSTOP_CALLBACK_STATUS
FLTAPI
FbPostCreate(
    _Inout_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_opt_ PVOID CompletionContext,
    _In_ FLT_POST_OPERATION_FLAGS Flags
    )
{
    PFB_OPERATION operation = (PFB_OPERATION)CompletionContext;
    PFB_STREAM tableStream;
    PFB_STREAM stream;
    PFB_HANDLE handle = NULL;
    FILE_STANDARD_INFORMATION standard;
    NTSTATUS status = Data->IoStatus.Status;
    BOOLEAN isDirectory = FALSE;
    ULONG createFlags = 0;
    ULONGLONG fileSize = 0;

    if (operation == NULL) {
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    tableStream = operation->Stream;

    if ((Flags & FLTFL_POST_OPERATION_DRAINING) != 0 || !NT_SUCCESS(status) || status == STATUS_REPARSE ||
        !NT_SUCCESS(FltIsDirectory(FltObjects->FileObject, FltObjects->Instance, &isDirectory)) ||
        isDirectory) {

        if (tableStream->Managed) {
            FbStreamCreateDone(tableStream, FALSE, TRUE);
        }
        if (!isDirectory && (Flags & FLTFL_POST_OPERATION_DRAINING) == 0) {
            FbCreateEmit(operation, Data, status, 0, 0);
        }
        FbOperationRelease(operation);
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    //
    //  Attach the stream context and the handle context.
    //

    FltReferenceContext(tableStream);
    stream = FbStreamAttach(FltObjects, tableStream);

    if (!NT_SUCCESS(FbHandleCreate(FltObjects, stream, operation, &handle))) {
        if (tableStream->Managed) {
            FbStreamCreateDone(tableStream, FALSE, TRUE);
        }
        FbCreateEmit(operation, Data, status, 0, 0);
        FltReleaseContext(stream);
        FbOperationRelease(operation);
        return FLT_POSTOP_FINISHED_PROCESSING;
    }

    FbStreamCountOpen(stream, handle, TRUE);
    if (stream == tableStream) {
        FbStreamCreateDone(tableStream, TRUE, tableStream->Managed);
    } else {
        FbStreamCreateDone(stream, TRUE, FALSE);
        if (tableStream->Managed) {
            FbStreamCreateDone(tableStream, FALSE, TRUE);
        }
    }

    if (stream->Managed && stream->OplockReady) {

        //
        //  The package records the open's oplock key on the file object
        //  (FltCheckOplockEx, OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY: only the
        //  key, no break, no wait; research notes 7.1 CREATE).
        //

        IO_STATUS_BLOCK completed = Data->IoStatus;

        FltAcquireResourceShared(&stream->Resource);
        if (stream->OplockReady) {
            __try {
                (VOID)FltCheckOplockEx(&stream->Oplock, Data, OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY,
                                       NULL, NULL, NULL);
            } __except (EXCEPTION_EXECUTE_HANDLER) {
                NOTHING;
            }
        }
        FltReleaseResource(&stream->Resource);
        Data->IoStatus = completed;
    }

    if (stream->Managed &&
        (Data->Iopb->Parameters.Create.Options & FILE_OPEN_REQUIRING_OPLOCK) != 0) {
        status = FbCreateAtomicOplock(Data, FltObjects, operation, stream, &createFlags);
        if (!NT_SUCCESS(status)) {

            //
            //  FltCancelFileOpen sends the cleanup and close to the
            //  instances below ours only (FltCancelFileOpen: "to those below
            //  the caller, the file appears to have been opened and then
            //  closed"), so this instance never sees them: undo here what
            //  they would have undone - the share counts, and the file
            //  object count that keeps the stream in the table. The handle
            //  context is deleted first so that a close reaching us anyway
            //  finds no handle and counts nothing twice.
            //

            FbStreamCountOpen(stream, handle, FALSE);
            FltDeleteContext(handle);
            FbStreamFileObjectClosed(stream);
        }
    }

    if (NT_SUCCESS(status) &&
        NT_SUCCESS(FltQueryInformationFile(FltObjects->Instance, FltObjects->FileObject, &standard,
                                           sizeof(standard), FileStandardInformation, NULL))) {
        fileSize = (ULONGLONG)standard.EndOfFile.QuadPart;
    }

    if (status == STATUS_SUCCESS && FbOpTestFlags(operation, FB_OP_BREAK_IN_PROGRESS)) {

        //
        //  FILE_COMPLETE_IF_OPLOCKED met an oplock that is being broken:
        //  the open succeeds with STATUS_OPLOCK_BREAK_IN_PROGRESS, as a
        //  file system that owns the oplock would report it.
        //

        Data->IoStatus.Status = STATUS_OPLOCK_BREAK_IN_PROGRESS;
        status = STATUS_OPLOCK_BREAK_IN_PROGRESS;
        if (FbOpTestFlags(operation, FB_OP_BATCH_UNDERWAY)) {
            Data->IoStatus.Information = FILE_OPBATCH_BREAK_UNDERWAY;
        }
    }

    FbCreateEmit(operation, Data, status, createFlags, fileSize);

    FltReleaseContext(handle);
    FltReleaseContext(stream);
    FbOperationRelease(operation);
    return FLT_POSTOP_FINISHED_PROCESSING;
}
