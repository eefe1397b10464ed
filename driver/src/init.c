/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    init.c

Abstract:

    DriverEntry, the registration tables, filter unload, and the instance
    callbacks of the fltbridge minifilter.

    Two instances of the filter run on each volume it attaches to (the
    Instances keys of fltbridge.inf):

      - the owner ("FltBridge Instance", the default instance): owns the
        oplocks and byte-range locks of managed streams and observes the
        rest;
      - the watch ("FltBridge Watch Instance", a slightly higher altitude),
        attached by a work item the owner queues: a filter that pends an
        operation and lets the oplock package complete it gets no
        post-operation callback for it, but the filters above it do, so
        the watch instance is where a managed stream's held oplock request
        is seen to end (FLT_PREOP_PENDING / FltCompletePendedPreOperation
        semantics, "Pending an I/O operation in a preoperation callback
        routine" on learn.microsoft.com).

    Unload is safe with clients connected and operations pended: the port
    is closed to new clients, probes are cancelled, the drain thread is
    stopped (it is at most one send timeout away), and FltUnregisterFilter
    then disconnects the clients and tears the instances down, whose
    teardown-start callback releases every pended operation.

Environment:

    Kernel mode.

--*/

#include "driver.h"

FB_GLOBALS FbGlobals;

DRIVER_INITIALIZE DriverEntry;

static NTSTATUS FLTAPI FbFilterUnload(_In_ FLT_FILTER_UNLOAD_FLAGS Flags);
static NTSTATUS FLTAPI FbInstanceSetup(_In_ PCFLT_RELATED_OBJECTS FltObjects, _In_ FLT_INSTANCE_SETUP_FLAGS Flags, _In_ DEVICE_TYPE VolumeDeviceType, _In_ FLT_FILESYSTEM_TYPE VolumeFilesystemType);
static NTSTATUS FLTAPI FbInstanceQueryTeardown(_In_ PCFLT_RELATED_OBJECTS FltObjects, _In_ FLT_INSTANCE_QUERY_TEARDOWN_FLAGS Flags);
static VOID FLTAPI FbInstanceTeardownStart(_In_ PCFLT_RELATED_OBJECTS FltObjects, _In_ FLT_INSTANCE_TEARDOWN_FLAGS Reason);
static VOID FLTAPI FbInstanceTeardownComplete(_In_ PCFLT_RELATED_OBJECTS FltObjects, _In_ FLT_INSTANCE_TEARDOWN_FLAGS Reason);
static VOID FLTAPI FbInstanceContextCleanup(_In_ PFLT_CONTEXT Context, _In_ FLT_CONTEXT_TYPE ContextType);

static const FLT_CONTEXT_REGISTRATION FbContexts[] = {
    { FLT_INSTANCE_CONTEXT, 0, FbInstanceContextCleanup, sizeof(FB_INSTANCE_CONTEXT), FB_TAG_INSTANCE, NULL, NULL, NULL },
    { FLT_STREAM_CONTEXT, 0, FbStreamContextCleanup, sizeof(FB_STREAM), FB_TAG_STREAM, NULL, NULL, NULL },
    { FLT_STREAMHANDLE_CONTEXT, 0, FbHandleContextCleanup, sizeof(FB_HANDLE), FB_TAG_HANDLE, NULL, NULL, NULL },
    { FLT_CONTEXT_END, 0, NULL, 0, 0, NULL, NULL, NULL }
};

//
//  Paging I/O is skipped for reads and writes: the oplock and lock
//  packages apply to non-paging I/O only (fastfat read.c / write.c do the
//  same). Fast I/O reaches IRP_MJ_READ, IRP_MJ_WRITE and
//  IRP_MJ_LOCK_CONTROL with FLTFL_CALLBACK_DATA_FAST_IO_OPERATION and is
//  refused for managed streams there; the cached MDL fast-I/O paths
//  (IRP_MJ_MDL_READ, IRP_MJ_PREPARE_MDL_WRITE) never reach IRP_MJ_READ /
//  IRP_MJ_WRITE, so they are refused for managed streams by their own
//  pre-operation (rdwr.c).
//

static const FLT_OPERATION_REGISTRATION FbOperations[] = {
    { IRP_MJ_CREATE, 0, FbPreCreate, FbPostCreate, NULL },
    { IRP_MJ_CLEANUP, 0, FbPreCleanup, FbPostCleanup, NULL },
    { IRP_MJ_CLOSE, 0, FbPreClose, FbPostClose, NULL },
    { IRP_MJ_READ, FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO, FbPreReadWrite, FbPostReadWrite, NULL },
    { IRP_MJ_WRITE, FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO, FbPreReadWrite, FbPostReadWrite, NULL },
    { IRP_MJ_LOCK_CONTROL, 0, FbPreLockControl, FbPostLockControl, NULL },
    { IRP_MJ_FILE_SYSTEM_CONTROL, 0, FbPreFsControl, FbPostFsControl, NULL },
    { IRP_MJ_SET_INFORMATION, FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO, FbPreSetInformation, FbPostSetInformation, NULL },
    { IRP_MJ_FLUSH_BUFFERS, 0, FbPreFlush, FbPostFlush, NULL },
    { IRP_MJ_MDL_READ, 0, FbPreFastIoMdl, NULL, NULL },
    { IRP_MJ_PREPARE_MDL_WRITE, 0, FbPreFastIoMdl, NULL, NULL },
    { IRP_MJ_OPERATION_END, 0, NULL, NULL, NULL }
};

const FLT_REGISTRATION FbRegistration = {
    sizeof(FLT_REGISTRATION),
    FLT_REGISTRATION_VERSION,
    0,
    FbContexts,
    FbOperations,
    FbFilterUnload,
    FbInstanceSetup,
    FbInstanceQueryTeardown,
    FbInstanceTeardownStart,
    FbInstanceTeardownComplete,
    NULL, NULL, NULL, NULL, NULL
};

/*++

Routine Description:

    Non-paged, zero-filled, tagged allocation; every caller frees with
    FbFree and the same tag.

Arguments:

    Bytes - size.

    Tag - FB_TAG_*.

Return Value:

    The memory or NULL.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
PVOID
FbAllocate(
    _In_ SIZE_T Bytes,
    _In_ ULONG Tag
    )
{
    return ExAllocatePool2(FB_POOL_NX, Bytes, Tag);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbFree(
    _In_ PVOID Buffer,
    _In_ ULONG Tag
    )
{
    ExFreePoolWithTag(Buffer, Tag);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
ULONGLONG
FbNewOperationId(
    VOID
    )
/*++

Routine Description:

    A new operation identifier (docs/events.md "Identifiers").

Return Value:

    A non-zero number never handed out before while the filter is loaded.

IRQL:

    <= DISPATCH_LEVEL.

--*/
{
    return (ULONGLONG)InterlockedIncrement64(&FbGlobals.NextOperationId);
}

/*++

Routine Description:

    Entry point: registers the filter, creates the port and the drain
    thread, starts filtering. Every failure unwinds what was done.

Arguments:

    DriverObject - our driver object.

    RegistryPath - our service key (unused: the configuration comes over
    the port).

Return Value:

    NTSTATUS.

IRQL:

    PASSIVE_LEVEL.

--*/
NTSTATUS
DriverEntry(
    _In_ PDRIVER_OBJECT DriverObject,
    _In_ PUNICODE_STRING RegistryPath
    )
{
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);

    RtlZeroMemory(&FbGlobals, sizeof(FbGlobals));
    FbGlobals.DriverObject = DriverObject;
    KeInitializeSpinLock(&FbGlobals.InstanceLock);
    InitializeListHead(&FbGlobals.Instances);
    FbProbeInitialize();

    status = FbPolicyInitialize();
    if (!NT_SUCCESS(status)) {
        return status;
    }

    status = FbEventsInitialize();
    if (!NT_SUCCESS(status)) {
        FbEventsUninitialize();
        FbPolicyUninitialize();
        return status;
    }

    status = FltRegisterFilter(DriverObject, &FbRegistration, &FbGlobals.Filter);
    if (!NT_SUCCESS(status)) {
        FbEventsUninitialize();
        FbPolicyUninitialize();
        return status;
    }

    status = FbCommInitialize(FbGlobals.Filter);
    if (NT_SUCCESS(status)) {
        status = FbEventsStartDrain();
    }
    if (NT_SUCCESS(status)) {
        status = FltStartFiltering(FbGlobals.Filter);
    }

    if (!NT_SUCCESS(status)) {
        FbGlobals.Unloading = 1;
        FbCommClosePort();
        FbEventsStopDrain();
        FltUnregisterFilter(FbGlobals.Filter);
        FbGlobals.Filter = NULL;
        FbEventsUninitialize();
        FbPolicyUninitialize();
    }

    return status;
}

/*++

Routine Description:

    Filter unload (fltmc unload, or service stop). See the module header for
    the order.

Arguments:

    Flags - FLTFL_FILTER_UNLOAD_MANDATORY or 0.

Return Value:

    STATUS_SUCCESS (unload is never refused).

IRQL:

    PASSIVE_LEVEL.

--*/
static NTSTATUS
FLTAPI
FbFilterUnload(
    _In_ FLT_FILTER_UNLOAD_FLAGS Flags
    )
{
    UNREFERENCED_PARAMETER(Flags);

    InterlockedExchange(&FbGlobals.Unloading, 1);

    FbCommClosePort();
    FbProbeStopInstance(NULL);
    FbEventsStopDrain();

    FltUnregisterFilter(FbGlobals.Filter);
    FbGlobals.Filter = NULL;

    FbEventsUninitialize();
    FbPolicyUninitialize();
    return STATUS_SUCCESS;
}

/*++

Routine Description:

    Returns the instance context with a reference (FltReleaseContext).

Arguments:

    Instance - an instance of this filter.

Return Value:

    The context or NULL.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
PFB_INSTANCE_CONTEXT
FbGetInstanceContext(
    _In_ PFLT_INSTANCE Instance
    )
{
    PFLT_CONTEXT context = NULL;

    if (!NT_SUCCESS(FltGetInstanceContext(Instance, &context))) {
        return NULL;
    }

    return (PFB_INSTANCE_CONTEXT)context;
}

/*++

Routine Description:

    Finds the owner instance on a volume and references it (the caller
    calls FltObjectDereference). Fails once the owner is tearing down.

Arguments:

    Volume - the volume.

Return Value:

    The referenced owner instance, or NULL.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
PFLT_INSTANCE
FbFindOwnerInstance(
    _In_ PFLT_VOLUME Volume
    )
{
    PFLT_INSTANCE found = NULL;
    PLIST_ENTRY entry;
    KIRQL oldIrql;

    KeAcquireSpinLock(&FbGlobals.InstanceLock, &oldIrql);
    for (entry = FbGlobals.Instances.Flink; entry != &FbGlobals.Instances; entry = entry->Flink) {
        PFB_INSTANCE_CONTEXT owner = CONTAINING_RECORD(entry, FB_INSTANCE_CONTEXT, GlobalLink);
        if (owner->Volume == Volume && !owner->TearingDown &&
            NT_SUCCESS(FltObjectReference(owner->Instance))) {
            found = owner->Instance;
            break;
        }
    }
    KeReleaseSpinLock(&FbGlobals.InstanceLock, oldIrql);

    return found;
}

/*++

Routine Description:

    Is this instance the watch instance? Decided by its name.

Arguments:

    Instance - the instance being set up.

Return Value:

    TRUE for the watch instance.

IRQL:

    PASSIVE_LEVEL.

--*/
static BOOLEAN
FbIsWatchInstance(
    _In_ PFLT_INSTANCE Instance
    )
{
    ULONGLONG buffer[64];
    PINSTANCE_BASIC_INFORMATION info = (PINSTANCE_BASIC_INFORMATION)buffer;
    UNICODE_STRING name;
    UNICODE_STRING watch;
    ULONG returned = 0;

    RtlZeroMemory(buffer, sizeof(buffer));
    if (!NT_SUCCESS(FltGetInstanceInformation(Instance, InstanceBasicInformation, info,
                                              sizeof(buffer), &returned))) {
        return FALSE;
    }

    if ((ULONG)info->InstanceNameBufferOffset + info->InstanceNameLength > sizeof(buffer) ||
        (ULONG)info->InstanceNameBufferOffset + info->InstanceNameLength > returned) {
        return FALSE;
    }

    name.Buffer = (PWCH)((PUCHAR)buffer + info->InstanceNameBufferOffset);
    name.Length = info->InstanceNameLength;
    name.MaximumLength = info->InstanceNameLength;
    RtlInitUnicodeString(&watch, FB_WATCH_INSTANCE_NAME);

    return RtlEqualUnicodeString(&name, &watch, TRUE);
}

/*++

Routine Description:

    Work item queued by the owner's instance setup: attaches the watch
    instance above it on the same volume.

Arguments:

    WorkItem - the generic work item (freed here).

    FltObject - the filter.

    Context - the volume (referenced by the owner's setup).

Return Value:

    None.

IRQL:

    PASSIVE_LEVEL.

--*/
static VOID
FLTAPI
FbAttachWatchWorker(
    _In_ PFLT_GENERIC_WORKITEM WorkItem,
    _In_ PVOID FltObject,
    _In_opt_ PVOID Context
    )
{
    PFLT_VOLUME volume = (PFLT_VOLUME)Context;
    UNICODE_STRING watch;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(FltObject);

    if (volume != NULL) {
        if (FbGlobals.Unloading == 0) {
            RtlInitUnicodeString(&watch, FB_WATCH_INSTANCE_NAME);
            status = FltAttachVolume(FbGlobals.Filter, volume, &watch, NULL);
            if (!NT_SUCCESS(status)) {
                DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_WARNING_LEVEL,
                           "fltbridge: watch instance not attached (0x%08X); managed oplock "
                           "breaks will not be reported\n", (ULONG)status);
            }
        }
        FltObjectDereference(volume);
    }

    FltFreeGenericWorkItem(WorkItem);
}

/*++

Routine Description:

    Instance setup: attach to local disk file systems only (NTFS, ReFS,
    FAT, exFAT); create the instance context; the owner records its volume
    name and queues the watch instance's attachment, the watch finds the
    owner below it.

Arguments:

    FltObjects - filter, volume, instance.

    Flags - FLTFL_INSTANCE_SETUP_*.

    VolumeDeviceType, VolumeFilesystemType - what the volume is.

Return Value:

    STATUS_SUCCESS or STATUS_FLT_DO_NOT_ATTACH.

IRQL:

    PASSIVE_LEVEL.

--*/
static NTSTATUS
FLTAPI
FbInstanceSetup(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ FLT_INSTANCE_SETUP_FLAGS Flags,
    _In_ DEVICE_TYPE VolumeDeviceType,
    _In_ FLT_FILESYSTEM_TYPE VolumeFilesystemType
    )
{
    PFB_INSTANCE_CONTEXT context = NULL;
    PFLT_GENERIC_WORKITEM workItem;
    NTSTATUS status;
    ULONG needed = 0;
    KIRQL oldIrql;

    UNREFERENCED_PARAMETER(Flags);

    if (VolumeDeviceType != FILE_DEVICE_DISK_FILE_SYSTEM ||
        (VolumeFilesystemType != FLT_FSTYPE_NTFS && VolumeFilesystemType != FLT_FSTYPE_REFS &&
         VolumeFilesystemType != FLT_FSTYPE_FAT && VolumeFilesystemType != FLT_FSTYPE_EXFAT)) {
        return STATUS_FLT_DO_NOT_ATTACH;
    }

    status = FltAllocateContext(FltObjects->Filter, FLT_INSTANCE_CONTEXT, sizeof(FB_INSTANCE_CONTEXT),
                                NonPagedPoolNx, (PFLT_CONTEXT *)&context);
    if (!NT_SUCCESS(status)) {
        return STATUS_FLT_DO_NOT_ATTACH;
    }

    RtlZeroMemory(context, sizeof(*context));
    context->Instance = FltObjects->Instance;
    context->Volume = FltObjects->Volume;
    KeInitializeSpinLock(&context->Lock);
    InitializeListHead(&context->Streams);
    InitializeListHead(&context->Pended);
    InitializeListHead(&context->GlobalLink);
    KeInitializeEvent(&context->PendedDrained, NotificationEvent, TRUE);

    if (FbIsWatchInstance(FltObjects->Instance)) {

        PFLT_INSTANCE owner;

        context->Role = FbRoleWatch;

        //
        //  Only above an owner: the watch works on the owner's contexts.
        //  No reference is kept (it would hold up the owner's teardown);
        //  FbFindOwnerInstance takes a short one whenever it is needed.
        //

        owner = FbFindOwnerInstance(FltObjects->Volume);
        if (owner == NULL) {
            FltReleaseContext(context);
            return STATUS_FLT_DO_NOT_ATTACH;
        }
        FltObjectDereference(owner);

    } else {

        context->Role = FbRoleOwner;

        //
        //  The volume name is kept upcased: probes match it against their
        //  (upcased) path with a plain memory compare under
        //  FbGlobals.InstanceLock, at DISPATCH_LEVEL, where neither
        //  RtlEqualUnicodeString nor RtlUpcaseUnicodeChar may be called.
        //

        (VOID)FltGetVolumeName(FltObjects->Volume, NULL, &needed);
        if (needed != 0 && needed < MAXUSHORT) {
            context->VolumeName.Buffer = (PWCH)FbAllocate(needed, FB_TAG_NAME);
            if (context->VolumeName.Buffer != NULL) {
                context->VolumeName.MaximumLength = (USHORT)needed;
                if (!NT_SUCCESS(FltGetVolumeName(FltObjects->Volume, &context->VolumeName, NULL))) {
                    context->VolumeName.Length = 0;
                } else {
                    ULONG index;
                    for (index = 0; index < (ULONG)context->VolumeName.Length / sizeof(WCHAR); index += 1) {
                        context->VolumeName.Buffer[index] = RtlUpcaseUnicodeChar(context->VolumeName.Buffer[index]);
                    }
                }
            }
        }
    }

    status = FltSetInstanceContext(FltObjects->Instance, FLT_SET_CONTEXT_KEEP_IF_EXISTS, context, NULL);
    if (!NT_SUCCESS(status)) {
        FltReleaseContext(context);
        return STATUS_FLT_DO_NOT_ATTACH;
    }

    if (context->Role == FbRoleOwner) {

        KeAcquireSpinLock(&FbGlobals.InstanceLock, &oldIrql);
        InsertTailList(&FbGlobals.Instances, &context->GlobalLink);
        context->Listed = TRUE;
        KeReleaseSpinLock(&FbGlobals.InstanceLock, oldIrql);

        workItem = FltAllocateGenericWorkItem();
        if (workItem != NULL) {
            if (NT_SUCCESS(FltObjectReference(FltObjects->Volume))) {
                status = FltQueueGenericWorkItem(workItem, FltObjects->Filter, FbAttachWatchWorker,
                                                 DelayedWorkQueue, FltObjects->Volume);
                if (!NT_SUCCESS(status)) {
                    FltObjectDereference(FltObjects->Volume);
                    FltFreeGenericWorkItem(workItem);
                }
            } else {
                FltFreeGenericWorkItem(workItem);
            }
        }
    }

    FltReleaseContext(context);
    return STATUS_SUCCESS;
}

static NTSTATUS
FLTAPI
FbInstanceQueryTeardown(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ FLT_INSTANCE_QUERY_TEARDOWN_FLAGS Flags
    )
/*++

Routine Description:

    Manual detach (fltmc detach) is allowed: teardown releases everything.

Return Value:

    STATUS_SUCCESS.

IRQL:

    PASSIVE_LEVEL.

--*/
{
    UNREFERENCED_PARAMETER(FltObjects);
    UNREFERENCED_PARAMETER(Flags);
    return STATUS_SUCCESS;
}

/*++

Routine Description:

    Teardown start: no new pends; the instance's probes are cancelled; the
    oplocks and file locks of its managed streams are torn down, which
    makes the packages complete every operation they hold (held oplock
    requests, operations waiting for a break, waiting lock requests). Filter
    Manager then waits for those to finish before TeardownComplete.

Arguments:

    FltObjects - the instance.

    Reason - FLTFL_INSTANCE_TEARDOWN_*.

Return Value:

    None.

IRQL:

    PASSIVE_LEVEL.

--*/
static VOID
FLTAPI
FbInstanceTeardownStart(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ FLT_INSTANCE_TEARDOWN_FLAGS Reason
    )
{
    PFB_INSTANCE_CONTEXT context;
    KIRQL oldIrql;

    UNREFERENCED_PARAMETER(Reason);

    context = FbGetInstanceContext(FltObjects->Instance);
    if (context == NULL) {
        return;
    }

    KeAcquireSpinLock(&context->Lock, &oldIrql);
    context->TearingDown = TRUE;
    KeReleaseSpinLock(&context->Lock, oldIrql);

    if (context->Role == FbRoleOwner) {
        FbProbeStopInstance(FltObjects->Instance);
        FbStreamTeardownInstance(context);
    }

    FltReleaseContext(context);
}

/*++

Routine Description:

    Teardown complete: every operation has drained. The owner leaves the
    global list.

IRQL:

    PASSIVE_LEVEL.

--*/
static VOID
FLTAPI
FbInstanceTeardownComplete(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ FLT_INSTANCE_TEARDOWN_FLAGS Reason
    )
{
    PFB_INSTANCE_CONTEXT context;
    KIRQL oldIrql;

    UNREFERENCED_PARAMETER(Reason);

    context = FbGetInstanceContext(FltObjects->Instance);
    if (context == NULL) {
        return;
    }

    //
    //  Whatever the packages hold was completed at teardown start; wait for
    //  the completions that went through our own deferred work items.
    //

    (VOID)KeWaitForSingleObject(&context->PendedDrained, Executive, KernelMode, FALSE, NULL);

    if (context->Role == FbRoleOwner) {
        KeAcquireSpinLock(&FbGlobals.InstanceLock, &oldIrql);
        if (context->Listed) {
            RemoveEntryList(&context->GlobalLink);
            context->Listed = FALSE;
        }
        KeReleaseSpinLock(&FbGlobals.InstanceLock, oldIrql);
    }

    FltReleaseContext(context);
}

/*++

Routine Description:

    Instance context cleanup: frees the volume name.

IRQL:

    <= APC_LEVEL.

--*/
static VOID
FLTAPI
FbInstanceContextCleanup(
    _In_ PFLT_CONTEXT Context,
    _In_ FLT_CONTEXT_TYPE ContextType
    )
{
    PFB_INSTANCE_CONTEXT context = (PFB_INSTANCE_CONTEXT)Context;

    UNREFERENCED_PARAMETER(ContextType);

    if (context->VolumeName.Buffer != NULL) {
        FbFree(context->VolumeName.Buffer, FB_TAG_NAME);
        context->VolumeName.Buffer = NULL;
    }
}
