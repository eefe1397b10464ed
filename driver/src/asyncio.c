/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    asyncio.c

Abstract:

    Filter-initiated I/O: probes (PROBE_START / PROBE_STOP).

    A probe opens its target with FltCreateFileEx2 on the owner instance of
    the target's volume (so its I/O goes only to the filters below us and
    the file system), builds one operation with FltAllocateCallbackData -
    an oplock request (a tripwire: it completes when someone opens or
    writes the file in a way that breaks it) or a read - and sends it with
    FltPerformAsynchronousIo. The completion routine (any thread, <=
    DISPATCH_LEVEL) records status and information, emits PROBE_COMPLETED,
    frees the callback data with FltFreeCallbackData and queues a generic
    work item (freed by its routine), which at PASSIVE_LEVEL closes an oplock probe's handle (so a
    breaker waiting for an acknowledgement is released at once) and, when
    the probe re-arms, opens and issues it again.

    PROBE_STOP, instance teardown and unload cancel the I/O in flight with
    FltCancelIo, wait until the probe is idle, close the handle and free
    everything. The callback data is never freed while a canceller holds
    it: whoever of the completion routine and the canceller finishes last
    frees it.

    Twin: src/model/filter/asyncio.ts.

Environment:

    Kernel mode.

--*/

#include "driver.h"

typedef struct _FB_PROBE {
    LIST_ENTRY Link;
    ULONGLONG ProbeId;
    ULONG Kind;
    ULONG Flags;
    ULONG OplockLevel;
    ULONG ReadLength;
    ULONGLONG ReadOffset;
    UNICODE_STRING Path;            /* FB_TAG_NAME */
    PFLT_INSTANCE Instance;         /* referenced */
    HANDLE FileHandle;
    PFILE_OBJECT FileObject;        /* referenced by FltCreateFileEx2 */
    PVOID Buffer;                   /* FB_TAG_PROBE_BUFFER */
    ULONG BufferBytes;
    ULONG Reserved;
    ULONGLONG OperationId;          /* of the I/O in flight */

    //
    //  Guarded by FbProbeLock.
    //

    PFLT_CALLBACK_DATA InFlight;
    BOOLEAN Stopping;
    BOOLEAN CancelBusy;
    BOOLEAN FreeDeferred;
    BOOLEAN Rearm;
    PFLT_CALLBACK_DATA Deferred;

    KEVENT Idle;                    /* no I/O in flight, no work item queued */
} FB_PROBE, *PFB_PROBE;

static KSPIN_LOCK FbProbeLock;
static LIST_ENTRY FbProbes;
static volatile LONG FbProbeCount;
static volatile LONG64 FbNextProbeId;

static VOID FLTAPI FbProbeCompleted(_In_ PFLT_CALLBACK_DATA Data, _In_ PFLT_CONTEXT Context);
static VOID FLTAPI FbProbeWorker(_In_ PFLT_GENERIC_WORKITEM WorkItem, _In_ PVOID FltObject, _In_opt_ PVOID Context);

_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbProbeInitialize(
    VOID
    )
/*++

Routine Description:

    Initialises the probe list (DriverEntry).

IRQL:

    PASSIVE_LEVEL.

--*/
{
    KeInitializeSpinLock(&FbProbeLock);
    InitializeListHead(&FbProbes);
    FbProbeCount = 0;
    FbNextProbeId = 0;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
ULONG
FbProbeActiveCount(
    VOID
    )
/*++

Routine Description:

    Probes in progress (GET_STATS).

IRQL:

    <= DISPATCH_LEVEL.

--*/
{
    LONG count = FbProbeCount;
    return (count > 0) ? (ULONG)count : 0u;
}

/*++

Routine Description:

    Finds the owner instance whose volume name prefixes Path (followed by a
    backslash) and references it.

    The comparison runs under FbGlobals.InstanceLock, at DISPATCH_LEVEL,
    where RtlEqualUnicodeString (PASSIVE_LEVEL) and RtlUpcaseUnicodeChar
    (<= APC_LEVEL) must not be called: the caller passes the path already
    upcased, the instance contexts keep their volume names upcased, and a
    plain memory compare does the rest.

Arguments:

    UpcasedPath - the probe's path, upcased, in non-paged memory.

Return Value:

    The referenced instance (FltObjectDereference), or NULL.

IRQL:

    <= APC_LEVEL (the spin lock raises to DISPATCH_LEVEL inside).

--*/
static PFLT_INSTANCE
FbProbeFindInstance(
    _In_ PCUNICODE_STRING UpcasedPath
    )
{
    PFLT_INSTANCE found = NULL;
    PLIST_ENTRY entry;
    KIRQL oldIrql;

    KeAcquireSpinLock(&FbGlobals.InstanceLock, &oldIrql);
    for (entry = FbGlobals.Instances.Flink; entry != &FbGlobals.Instances; entry = entry->Flink) {

        PFB_INSTANCE_CONTEXT context = CONTAINING_RECORD(entry, FB_INSTANCE_CONTEXT, GlobalLink);
        USHORT length = context->VolumeName.Length;

        if (context->TearingDown || length == 0 || UpcasedPath->Length <= length ||
            UpcasedPath->Buffer[length / sizeof(WCHAR)] != L'\\') {
            continue;
        }

        if (RtlCompareMemory(UpcasedPath->Buffer, context->VolumeName.Buffer, length) == length &&
            NT_SUCCESS(FltObjectReference(context->Instance))) {
            found = context->Instance;
            break;
        }
    }
    KeReleaseSpinLock(&FbGlobals.InstanceLock, oldIrql);

    return found;
}

/*++

Routine Description:

    Emits PROBE_ISSUED or PROBE_COMPLETED.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static VOID
FbProbeEmit(
    _In_ PFB_PROBE Probe,
    _In_ USHORT Type,
    _In_ NTSTATUS Status,
    _In_ ULONG DoneFlags,
    _In_ ULONGLONG Information,
    _In_ ULONG OutputLevel,
    _In_ ULONG OutputFlags
    )
{
    FB_EVENT event;

    if (!FbEventWanted(Type)) {
        return;
    }

    FbEventInit(&event, Type, Status);
    event.OperationId = Probe->OperationId;
    event.Name = &Probe->Path;

    if (Type == FLTB_EVENT_PROBE_ISSUED) {
        event.Payload.ProbeIssued.ProbeId = Probe->ProbeId;
        event.Payload.ProbeIssued.Kind = Probe->Kind;
        event.Payload.ProbeIssued.OplockLevel = Probe->OplockLevel;
        event.Payload.ProbeIssued.Offset = Probe->ReadOffset;
        event.Payload.ProbeIssued.Length = Probe->ReadLength;
        event.Payload.ProbeIssued.ProbeFlags = Probe->Flags;
    } else {
        event.Payload.ProbeCompleted.ProbeId = Probe->ProbeId;
        event.Payload.ProbeCompleted.Kind = Probe->Kind;
        event.Payload.ProbeCompleted.ProbeFlags = DoneFlags;
        event.Payload.ProbeCompleted.Information = Information;
        event.Payload.ProbeCompleted.OutputLevel = OutputLevel;
        event.Payload.ProbeCompleted.OutputFlags = OutputFlags;
    }

    FbEventPost(&event);
}

/*++

Routine Description:

    Opens the probe's target below our instance. An oplock probe opens for
    attributes only (such an open breaks no oplock) and does not wait for
    others' breaks (FILE_COMPLETE_IF_OPLOCKED); a read probe opens for
    reading. Both share everything and are asynchronous handles.

IRQL:

    PASSIVE_LEVEL.

--*/
static NTSTATUS
FbProbeOpen(
    _Inout_ PFB_PROBE Probe
    )
{
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK ioStatus;
    ACCESS_MASK access;
    ULONG options = FILE_NON_DIRECTORY_FILE;
    NTSTATUS status;

    if (Probe->Kind == FLTB_PROBE_OPLOCK) {
        access = FILE_READ_ATTRIBUTES;
        options |= FILE_COMPLETE_IF_OPLOCKED;
    } else {
        access = FILE_READ_DATA;
    }

    InitializeObjectAttributes(&attributes, &Probe->Path, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);

    status = FltCreateFileEx2(FbGlobals.Filter,
                              Probe->Instance,
                              &Probe->FileHandle,
                              &Probe->FileObject,
                              access,
                              &attributes,
                              &ioStatus,
                              NULL,
                              FILE_ATTRIBUTE_NORMAL,
                              FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                              FILE_OPEN,
                              options,
                              NULL,
                              0,
                              0,
                              NULL);
    if (!NT_SUCCESS(status)) {
        Probe->FileHandle = NULL;
        Probe->FileObject = NULL;
    }

    return status;
}

static VOID
FbProbeClose(
    _Inout_ PFB_PROBE Probe
    )
{
    if (Probe->FileObject != NULL) {
        ObDereferenceObject(Probe->FileObject);
        Probe->FileObject = NULL;
    }
    if (Probe->FileHandle != NULL) {
        (VOID)FltClose(Probe->FileHandle);
        Probe->FileHandle = NULL;
    }
}

/*++

Routine Description:

    Builds the probe's operation and sends it with FltPerformAsynchronousIo.

Arguments:

    Probe - the probe (handle open, nothing in flight).

Return Value:

    STATUS_SUCCESS when the I/O was sent (its completion routine will run),
    or the reason it could not be built.

IRQL:

    PASSIVE_LEVEL.

--*/
static NTSTATUS
FbProbeIssue(
    _Inout_ PFB_PROBE Probe
    )
{
    PFLT_CALLBACK_DATA data = NULL;
    PFLT_IO_PARAMETER_BLOCK iopb;
    NTSTATUS status;
    KIRQL oldIrql;

    status = FltAllocateCallbackData(Probe->Instance, Probe->FileObject, &data);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    iopb = data->Iopb;
    RtlZeroMemory(Probe->Buffer, Probe->BufferBytes);

    if (Probe->Kind == FLTB_PROBE_READ) {

        iopb->MajorFunction = IRP_MJ_READ;
        iopb->MinorFunction = IRP_MN_NORMAL;
        iopb->Parameters.Read.Length = Probe->ReadLength;
        iopb->Parameters.Read.ByteOffset.QuadPart = (LONGLONG)Probe->ReadOffset;
        iopb->Parameters.Read.ReadBuffer = Probe->Buffer;
        iopb->Parameters.Read.MdlAddress = NULL;

    } else {

        ULONG code;

        iopb->MajorFunction = IRP_MJ_FILE_SYSTEM_CONTROL;
        iopb->MinorFunction = IRP_MN_USER_FS_REQUEST;

        switch (Probe->OplockLevel) {
        case FLTB_OPLOCK_LEVEL1:
            code = FSCTL_REQUEST_OPLOCK_LEVEL_1;
            break;
        case FLTB_OPLOCK_LEVEL2:
            code = FSCTL_REQUEST_OPLOCK_LEVEL_2;
            break;
        case FLTB_OPLOCK_BATCH:
            code = FSCTL_REQUEST_BATCH_OPLOCK;
            break;
        case FLTB_OPLOCK_FILTER:
            code = FSCTL_REQUEST_FILTER_OPLOCK;
            break;
        default:
            code = FSCTL_REQUEST_OPLOCK;
            break;
        }

        iopb->Parameters.FileSystemControl.Buffered.FsControlCode = code;

        if (code == FSCTL_REQUEST_OPLOCK) {

            REQUEST_OPLOCK_INPUT_BUFFER input;

            RtlZeroMemory(&input, sizeof(input));
            input.StructureVersion = REQUEST_OPLOCK_CURRENT_VERSION;
            input.StructureLength = sizeof(input);
            input.RequestedOplockLevel = OPLOCK_LEVEL_CACHE_READ;
            if (Probe->OplockLevel == FLTB_OPLOCK_RH || Probe->OplockLevel == FLTB_OPLOCK_RWH) {
                input.RequestedOplockLevel |= OPLOCK_LEVEL_CACHE_HANDLE;
            }
            if (Probe->OplockLevel == FLTB_OPLOCK_RW || Probe->OplockLevel == FLTB_OPLOCK_RWH) {
                input.RequestedOplockLevel |= OPLOCK_LEVEL_CACHE_WRITE;
            }
            input.Flags = REQUEST_OPLOCK_INPUT_FLAG_REQUEST;
            RtlCopyMemory(Probe->Buffer, &input, sizeof(input));

            iopb->Parameters.FileSystemControl.Buffered.InputBufferLength = sizeof(REQUEST_OPLOCK_INPUT_BUFFER);
            iopb->Parameters.FileSystemControl.Buffered.OutputBufferLength = sizeof(REQUEST_OPLOCK_OUTPUT_BUFFER);
            iopb->Parameters.FileSystemControl.Buffered.SystemBuffer = Probe->Buffer;
        }
    }

    //
    //  Our buffer is non-paged system memory.
    //

    data->Flags |= FLTFL_CALLBACK_DATA_SYSTEM_BUFFER;

    KeAcquireSpinLock(&FbProbeLock, &oldIrql);
    if (Probe->Stopping) {
        KeReleaseSpinLock(&FbProbeLock, oldIrql);
        FltFreeCallbackData(data);
        return STATUS_CANCELLED;
    }
    Probe->InFlight = data;
    Probe->OperationId = FbNewOperationId();
    KeClearEvent(&Probe->Idle);
    KeReleaseSpinLock(&FbProbeLock, oldIrql);

    FbProbeEmit(Probe, FLTB_EVENT_PROBE_ISSUED, STATUS_PENDING, 0, 0, 0, 0);

    //
    //  The completion routine runs in every case, even when the I/O fails
    //  (FltPerformAsynchronousIo); the returned status only says whether it
    //  has already run.
    //

    (VOID)FltPerformAsynchronousIo(data, FbProbeCompleted, Probe);
    return STATUS_SUCCESS;
}

/*++

Routine Description:

    Completion routine of a probe's I/O (PFLT_COMPLETED_ASYNC_IO_CALLBACK).

Arguments:

    Data - the probe's callback data.

    Context - the FB_PROBE.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL, any thread.

--*/
static VOID
FLTAPI
FbProbeCompleted(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFLT_CONTEXT Context
    )
{
    PFB_PROBE probe = (PFB_PROBE)Context;
    NTSTATUS status = Data->IoStatus.Status;
    ULONGLONG information = (ULONGLONG)Data->IoStatus.Information;
    ULONG outputLevel = FLTB_OPLOCK_NONE;
    ULONG outputFlags = 0;
    ULONG doneFlags = 0;
    PFLT_GENERIC_WORKITEM workItem;
    BOOLEAN freeNow = TRUE;
    KIRQL oldIrql;

    if (probe->Kind == FLTB_PROBE_OPLOCK && NT_SUCCESS(status)) {
        if (Data->Iopb->Parameters.FileSystemControl.Buffered.FsControlCode == FSCTL_REQUEST_OPLOCK) {
            if (information >= sizeof(REQUEST_OPLOCK_OUTPUT_BUFFER)) {
                REQUEST_OPLOCK_OUTPUT_BUFFER output;
                RtlCopyMemory(&output, probe->Buffer, sizeof(output));
                outputLevel = FbLevelFromCacheBits(output.NewOplockLevel);
                outputFlags = output.Flags;
            }
        } else if (information == FILE_OPLOCK_BROKEN_TO_LEVEL_2) {
            outputLevel = FLTB_OPLOCK_LEVEL2;
        }
    }

    KeAcquireSpinLock(&FbProbeLock, &oldIrql);
    probe->InFlight = NULL;
    probe->Rearm = (BOOLEAN)((probe->Flags & FLTB_PROBE_FLAG_REARM) != 0 && !probe->Stopping &&
                             status != STATUS_CANCELLED);
    if (probe->Stopping || status == STATUS_CANCELLED) {
        doneFlags |= FLTB_PROBE_DONE_STOPPED;
    }
    if (probe->Rearm) {
        doneFlags |= FLTB_PROBE_DONE_REARMED;
    }
    if (probe->CancelBusy) {
        probe->Deferred = Data;             /* the canceller frees it */
        freeNow = FALSE;
    }
    KeReleaseSpinLock(&FbProbeLock, oldIrql);

    FbProbeEmit(probe, FLTB_EVENT_PROBE_COMPLETED, status, doneFlags, information, outputLevel, outputFlags);

    if (freeNow) {
        FltFreeCallbackData(Data);
    }

    workItem = FltAllocateGenericWorkItem();
    if (workItem == NULL ||
        !NT_SUCCESS(FltQueueGenericWorkItem(workItem, probe->Instance, FbProbeWorker,
                                            DelayedWorkQueue, probe))) {

        //
        //  No memory, or the instance is going away: the probe is idle;
        //  PROBE_STOP or the instance's teardown closes the handle.
        //

        if (workItem != NULL) {
            FltFreeGenericWorkItem(workItem);
        }
        KeSetEvent(&probe->Idle, IO_NO_INCREMENT, FALSE);
    }
}

/*++

Routine Description:

    After a completion, at PASSIVE_LEVEL: an oplock probe closes its handle
    (releasing anyone waiting for it to acknowledge); a re-arming probe
    opens again if needed and issues its next I/O.

IRQL:

    PASSIVE_LEVEL.

--*/
static VOID
FLTAPI
FbProbeWorker(
    _In_ PFLT_GENERIC_WORKITEM WorkItem,
    _In_ PVOID FltObject,
    _In_opt_ PVOID Context
    )
{
    PFB_PROBE probe = (PFB_PROBE)Context;
    BOOLEAN issued = FALSE;

    UNREFERENCED_PARAMETER(FltObject);

    FltFreeGenericWorkItem(WorkItem);

    if (probe == NULL) {
        return;
    }

    if (probe->Kind == FLTB_PROBE_OPLOCK) {
        FbProbeClose(probe);
    }

    if (probe->Rearm && !probe->Stopping && FbGlobals.Unloading == 0) {
        if (probe->FileObject != NULL || NT_SUCCESS(FbProbeOpen(probe))) {
            issued = NT_SUCCESS(FbProbeIssue(probe));
        }
    }

    if (!issued) {
        KeSetEvent(&probe->Idle, IO_NO_INCREMENT, FALSE);
    }
}

/*++

Routine Description:

    Cancels a probe's I/O, waits until it is idle, and frees it. The probe
    is already off the list.

IRQL:

    PASSIVE_LEVEL.

--*/
static VOID
FbProbeShutdown(
    _In_ PFB_PROBE Probe
    )
{
    PFLT_CALLBACK_DATA inFlight;
    PFLT_CALLBACK_DATA deferred;
    KIRQL oldIrql;

    KeAcquireSpinLock(&FbProbeLock, &oldIrql);
    Probe->Stopping = TRUE;
    inFlight = Probe->InFlight;
    if (inFlight != NULL) {
        Probe->CancelBusy = TRUE;
    }
    KeReleaseSpinLock(&FbProbeLock, oldIrql);

    if (inFlight != NULL) {
        (VOID)FltCancelIo(inFlight);

        KeAcquireSpinLock(&FbProbeLock, &oldIrql);
        Probe->CancelBusy = FALSE;
        deferred = Probe->Deferred;
        Probe->Deferred = NULL;
        KeReleaseSpinLock(&FbProbeLock, oldIrql);

        if (deferred != NULL) {
            FltFreeCallbackData(deferred);
        }
    }

    (VOID)KeWaitForSingleObject(&Probe->Idle, Executive, KernelMode, FALSE, NULL);

    FbProbeClose(Probe);
    FltObjectDereference(Probe->Instance);
    FbFree(Probe->Buffer, FB_TAG_PROBE_BUFFER);
    FbFree(Probe->Path.Buffer, FB_TAG_NAME);
    FbFree(Probe, FB_TAG_PROBE);
    InterlockedDecrement(&FbProbeCount);
}

/*++

Routine Description:

    PROBE_START (validated by comm.c): open the target, send the first I/O,
    then publish the probe.

    Order matters. The probe holds a rundown reference on its instance, so
    it must be on FbProbes whenever instance teardown or unload
    (FbProbeStopInstance) looks for it, or the teardown would wait for that
    reference forever; and once it is on FbProbes, PROBE_STOP or a teardown
    may free it at any moment. So the probe is published last, under
    FbProbeLock, only after checking there that neither its instance's
    teardown nor unload has started (both set their flag before they take
    FbProbeLock to stop probes): either they will find it, or it is shut
    down here. Until then nobody else can reach it.

Arguments:

    Spec - what to probe.

    ProbeId - receives the new probe's identifier.

Return Value:

    STATUS_SUCCESS, STATUS_INSUFFICIENT_RESOURCES (too many probes or no
    memory), STATUS_OBJECT_PATH_NOT_FOUND (no instance on that volume),
    STATUS_FLT_DELETING_OBJECT (teardown or unload under way), or the
    status of the open.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbProbeStart(
    _In_ const FB_PROBE_SPEC *Spec,
    _Out_ PULONGLONG ProbeId
    )
{
    UNICODE_STRING upcased;
    PFB_INSTANCE_CONTEXT instanceContext = NULL;
    PFB_PROBE probe;
    NTSTATUS status;
    ULONGLONG probeId;
    BOOLEAN published = FALSE;
    ULONG index;
    KIRQL oldIrql;

    *ProbeId = 0;

    if (FbGlobals.Unloading != 0) {
        return STATUS_FLT_DELETING_OBJECT;
    }

    if (InterlockedIncrement(&FbProbeCount) > (LONG)FLTB_MAX_PROBES) {
        InterlockedDecrement(&FbProbeCount);
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    probe = (PFB_PROBE)FbAllocate(sizeof(FB_PROBE), FB_TAG_PROBE);
    if (probe == NULL) {
        InterlockedDecrement(&FbProbeCount);
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    probe->Kind = Spec->Kind;
    probe->Flags = Spec->Flags;
    probe->OplockLevel = Spec->OplockLevel;
    probe->ReadLength = Spec->ReadLength;
    probe->ReadOffset = Spec->ReadOffset;
    probe->BufferBytes = (Spec->Kind == FLTB_PROBE_READ) ? Spec->ReadLength
                                                          : (ULONG)sizeof(REQUEST_OPLOCK_OUTPUT_BUFFER);
    KeInitializeEvent(&probe->Idle, NotificationEvent, TRUE);
    InitializeListHead(&probe->Link);

    probe->Path.Buffer = (PWCH)FbAllocate(Spec->PathBytes, FB_TAG_NAME);
    probe->Buffer = FbAllocate(probe->BufferBytes, FB_TAG_PROBE_BUFFER);
    if (probe->Path.Buffer == NULL || probe->Buffer == NULL) {
        status = STATUS_INSUFFICIENT_RESOURCES;
        goto Fail;
    }
    RtlCopyMemory(probe->Path.Buffer, Spec->Path, Spec->PathBytes);
    probe->Path.Length = Spec->PathBytes;
    probe->Path.MaximumLength = Spec->PathBytes;

    //
    //  An upcased copy of the path for the instance lookup (see
    //  FbProbeFindInstance), made here at PASSIVE_LEVEL.
    //

    upcased.Buffer = (PWCH)FbAllocate(Spec->PathBytes, FB_TAG_NAME);
    if (upcased.Buffer == NULL) {
        status = STATUS_INSUFFICIENT_RESOURCES;
        goto Fail;
    }
    upcased.Length = Spec->PathBytes;
    upcased.MaximumLength = Spec->PathBytes;
    for (index = 0; index < (ULONG)Spec->PathBytes / sizeof(WCHAR); index += 1) {
        upcased.Buffer[index] = RtlUpcaseUnicodeChar(Spec->Path[index]);
    }
    probe->Instance = FbProbeFindInstance(&upcased);
    FbFree(upcased.Buffer, FB_TAG_NAME);
    if (probe->Instance == NULL) {
        status = STATUS_OBJECT_PATH_NOT_FOUND;
        goto Fail;
    }

    instanceContext = FbGetInstanceContext(probe->Instance);
    if (instanceContext == NULL) {
        status = STATUS_FLT_DELETING_OBJECT;
        goto Fail;
    }

    status = FbProbeOpen(probe);
    if (!NT_SUCCESS(status)) {
        goto Fail;
    }

    probeId = (ULONGLONG)InterlockedIncrement64(&FbNextProbeId);
    probe->ProbeId = probeId;

    status = FbProbeIssue(probe);
    if (NT_SUCCESS(status)) {
        KeAcquireSpinLock(&FbProbeLock, &oldIrql);
        if (FbGlobals.Unloading == 0 && !instanceContext->TearingDown) {
            InsertTailList(&FbProbes, &probe->Link);
            published = TRUE;
        } else {
            status = STATUS_FLT_DELETING_OBJECT;
        }
        KeReleaseSpinLock(&FbProbeLock, oldIrql);
    }

    FltReleaseContext(instanceContext);

    if (!published) {

        //
        //  Not reachable by anyone else: cancel what was issued, wait, free.
        //

        FbProbeShutdown(probe);
        return status;
    }

    //
    //  The probe may already be stopped and freed: use the local copy.
    //

    *ProbeId = probeId;
    return STATUS_SUCCESS;

Fail:
    if (instanceContext != NULL) {
        FltReleaseContext(instanceContext);
    }
    FbProbeClose(probe);
    if (probe->Instance != NULL) {
        FltObjectDereference(probe->Instance);
    }
    if (probe->Buffer != NULL) {
        FbFree(probe->Buffer, FB_TAG_PROBE_BUFFER);
    }
    if (probe->Path.Buffer != NULL) {
        FbFree(probe->Path.Buffer, FB_TAG_NAME);
    }
    FbFree(probe, FB_TAG_PROBE);
    InterlockedDecrement(&FbProbeCount);
    return status;
}

/*++

Routine Description:

    PROBE_STOP: cancels and frees one probe.

Arguments:

    ProbeId - the probe.

Return Value:

    STATUS_SUCCESS or STATUS_NOT_FOUND.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbProbeStop(
    _In_ ULONGLONG ProbeId
    )
{
    PFB_PROBE found = NULL;
    PLIST_ENTRY entry;
    KIRQL oldIrql;

    KeAcquireSpinLock(&FbProbeLock, &oldIrql);
    for (entry = FbProbes.Flink; entry != &FbProbes; entry = entry->Flink) {
        PFB_PROBE probe = CONTAINING_RECORD(entry, FB_PROBE, Link);
        if (probe->ProbeId == ProbeId) {
            RemoveEntryList(&probe->Link);
            InitializeListHead(&probe->Link);
            found = probe;
            break;
        }
    }
    KeReleaseSpinLock(&FbProbeLock, oldIrql);

    if (found == NULL) {
        return STATUS_NOT_FOUND;
    }

    FbProbeShutdown(found);
    return STATUS_SUCCESS;
}

/*++

Routine Description:

    Stops every probe of an instance (teardown), or every probe (unload,
    Instance NULL).

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbProbeStopInstance(
    _In_opt_ PFLT_INSTANCE Instance
    )
{
    for (;;) {

        PFB_PROBE found = NULL;
        PLIST_ENTRY entry;
        KIRQL oldIrql;

        KeAcquireSpinLock(&FbProbeLock, &oldIrql);
        for (entry = FbProbes.Flink; entry != &FbProbes; entry = entry->Flink) {
            PFB_PROBE probe = CONTAINING_RECORD(entry, FB_PROBE, Link);
            if (Instance == NULL || probe->Instance == Instance) {
                RemoveEntryList(&probe->Link);
                InitializeListHead(&probe->Link);
                found = probe;
                break;
            }
        }
        KeReleaseSpinLock(&FbProbeLock, oldIrql);

        if (found == NULL) {
            break;
        }

        FbProbeShutdown(found);
    }
}
