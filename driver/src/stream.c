/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    stream.c

Abstract:

    Per-stream state (FB_STREAM, the stream context) and per-handle state
    (FB_HANDLE, the stream handle context).

    A managed stream's state must exist in pre-create, before Filter
    Manager can attach a stream context (the file is not open yet), so the
    owner instance keeps a table of managed streams keyed by the upcased
    normalized name. Post-create attaches the same object as the stream
    context, and every later operation finds it through the stream context
    (and its handle through the stream handle context). A stream leaves the
    table when its last file object closes and no create is in flight for
    it. Observed streams get a stream context in post-create only.

    The stream's oplock (FltInitializeOplock) and file lock
    (FltAllocateFileLock) live as long as the stream context; they are torn
    down early at instance teardown, which is what makes the packages
    complete every operation they hold.

    Twin: src/model/filter/stream.ts.

Environment:

    Kernel mode.

--*/

#include "driver.h"

static const WCHAR FbDefaultStreamSuffix[] = L"::$DATA";

/*++

Routine Description:

    Copies a name into a new non-paged buffer, optionally upcased and with
    a trailing "::$DATA" (the default data stream named explicitly)
    removed, so "f" and "f::$DATA" share one table entry.

Arguments:

    Source - the name.

    Key - TRUE for the table key form.

    Destination - receives the copy (FB_TAG_NAME).

Return Value:

    STATUS_SUCCESS or STATUS_INSUFFICIENT_RESOURCES.

IRQL:

    <= APC_LEVEL.

--*/
static NTSTATUS
FbCopyName(
    _In_ PCUNICODE_STRING Source,
    _In_ BOOLEAN Key,
    _Out_ PUNICODE_STRING Destination
    )
{
    USHORT length = Source->Length;
    ULONG index;
    const USHORT suffixBytes = (USHORT)(sizeof(FbDefaultStreamSuffix) - sizeof(WCHAR));

    RtlZeroMemory(Destination, sizeof(*Destination));

    Destination->Buffer = (PWCH)FbAllocate(length + sizeof(WCHAR), FB_TAG_NAME);
    if (Destination->Buffer == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    for (index = 0; index < (ULONG)length / sizeof(WCHAR); index += 1) {
        Destination->Buffer[index] = Key ? RtlUpcaseUnicodeChar(Source->Buffer[index])
                                         : Source->Buffer[index];
    }

    if (Key && length > suffixBytes) {
        USHORT start = (USHORT)((length - suffixBytes) / sizeof(WCHAR));
        if (RtlCompareMemory(&Destination->Buffer[start], FbDefaultStreamSuffix, suffixBytes) == suffixBytes) {
            length = (USHORT)(length - suffixBytes);
        }
    }

    Destination->Length = length;
    Destination->MaximumLength = (USHORT)(Source->Length + sizeof(WCHAR));
    return STATUS_SUCCESS;
}

static VOID
FbFreeName(
    _Inout_ PUNICODE_STRING Name
    )
{
    if (Name->Buffer != NULL) {
        FbFree(Name->Buffer, FB_TAG_NAME);
        Name->Buffer = NULL;
    }
    Name->Length = 0;
    Name->MaximumLength = 0;
}

/*++

Routine Description:

    Allocates and initialises a stream context. A managed stream gets its
    oplock, its file lock (with the completion and unlock routines of
    filelock.c) and its resource.

Arguments:

    InstanceContext - the owner instance.

    Name - normalized name of the stream.

    Managed - TRUE for a managed stream.

    Stream - receives the context (one reference).

Return Value:

    NTSTATUS.

IRQL:

    <= APC_LEVEL.

--*/
static NTSTATUS
FbStreamCreate(
    _In_ PFB_INSTANCE_CONTEXT InstanceContext,
    _In_ PCUNICODE_STRING Name,
    _In_ BOOLEAN Managed,
    _Outptr_ PFB_STREAM *Stream
    )
{
    PFB_STREAM stream = NULL;
    NTSTATUS status;

    *Stream = NULL;

    status = FltAllocateContext(FbGlobals.Filter, FLT_STREAM_CONTEXT, sizeof(FB_STREAM),
                                NonPagedPoolNx, (PFLT_CONTEXT *)&stream);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    RtlZeroMemory(stream, sizeof(*stream));
    stream->Kind = FB_KIND_STREAM;
    InitializeListHead(&stream->TableLink);
    InitializeListHead(&stream->ActiveOps);
    InitializeListHead(&stream->HeldOplocks);
    InitializeListHead(&stream->LockOps);
    InitializeListHead(&stream->Handles);
    KeInitializeSpinLock(&stream->Lock);
    stream->InstanceContext = InstanceContext;
    stream->StreamId = (ULONGLONG)InterlockedIncrement64(&FbGlobals.NextStreamId);

    status = FbCopyName(Name, FALSE, &stream->Name);
    if (NT_SUCCESS(status)) {
        status = FbCopyName(Name, TRUE, &stream->Key);
    }

    if (NT_SUCCESS(status) && Managed) {

        status = ExInitializeResourceLite(&stream->Resource);
        if (NT_SUCCESS(status)) {
            stream->ResourceReady = TRUE;
            stream->Oplock = NULL;
            FltInitializeOplock(&stream->Oplock);
            stream->OplockReady = TRUE;
            stream->FileLock = FbFileLockAllocate();
            if (stream->FileLock == NULL) {
                status = STATUS_INSUFFICIENT_RESOURCES;
            }
        }

        stream->Managed = TRUE;
        InterlockedIncrement(&FbGlobals.ManagedStreams);
    }

    if (!NT_SUCCESS(status)) {
        FltReleaseContext(stream);
        return status;
    }

    *Stream = stream;
    return STATUS_SUCCESS;
}

static PFB_STREAM
FbTableFind(
    _In_ PFB_INSTANCE_CONTEXT InstanceContext,
    _In_ PCUNICODE_STRING Key
    )
{
    PLIST_ENTRY entry;

    for (entry = InstanceContext->Streams.Flink; entry != &InstanceContext->Streams; entry = entry->Flink) {
        PFB_STREAM stream = CONTAINING_RECORD(entry, FB_STREAM, TableLink);
        if (stream->Key.Length == Key->Length &&
            RtlCompareMemory(stream->Key.Buffer, Key->Buffer, Key->Length) == Key->Length) {
            return stream;
        }
    }

    return NULL;
}

/*++

Routine Description:

    Pre-create lookup of a managed stream in the instance's table, creating
    it when absent. The caller's create is counted as in flight until
    FbStreamCreateDone.

Arguments:

    InstanceContext - the owner instance.

    Name - normalized name of the stream being opened.

    Managed - must be TRUE (observed streams have no table entry).

    Stream - receives the referenced stream.

Return Value:

    NTSTATUS (STATUS_FLT_DELETING_OBJECT during teardown).

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbStreamLookupForCreate(
    _In_ PFB_INSTANCE_CONTEXT InstanceContext,
    _In_ PCUNICODE_STRING Name,
    _In_ BOOLEAN Managed,
    _Outptr_ PFB_STREAM *Stream
    )
{
    UNICODE_STRING key;
    PFB_STREAM found;
    PFB_STREAM created = NULL;
    NTSTATUS status;
    KIRQL oldIrql;

    *Stream = NULL;

    if (!Managed) {
        return FbStreamCreate(InstanceContext, Name, FALSE, Stream);
    }

    status = FbCopyName(Name, TRUE, &key);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    for (;;) {

        KeAcquireSpinLock(&InstanceContext->Lock, &oldIrql);

        if (InstanceContext->TearingDown) {
            KeReleaseSpinLock(&InstanceContext->Lock, oldIrql);
            status = STATUS_FLT_DELETING_OBJECT;
            break;
        }

        found = FbTableFind(InstanceContext, &key);
        if (found == NULL && created != NULL) {
            InsertTailList(&InstanceContext->Streams, &created->TableLink);
            created->InTable = TRUE;
            FltReferenceContext(created);           /* the table's reference */
            found = created;
            created = NULL;
        }

        if (found != NULL) {
            FltReferenceContext(found);
            found->PendingCreates += 1;
            KeReleaseSpinLock(&InstanceContext->Lock, oldIrql);
            *Stream = found;
            status = STATUS_SUCCESS;
            break;
        }

        KeReleaseSpinLock(&InstanceContext->Lock, oldIrql);

        status = FbStreamCreate(InstanceContext, Name, TRUE, &created);
        if (!NT_SUCCESS(status)) {
            break;
        }
    }

    if (created != NULL) {
        FltReleaseContext(created);
    }
    FbFreeName(&key);
    return status;
}

/*++

Routine Description:

    Takes a stream out of the table once it has no file object and no
    create in flight.

Arguments:

    Stream - the stream.

    OpenedDelta - +1 when a create succeeded, -1 when a file object closed,
    0 otherwise.

    CreateFinished - TRUE when a create counted by FbStreamLookupForCreate
    finished (either way).

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL (a spin lock, and FltReleaseContext of a non-paged
    context, which Filter Manager defers to a work item at DISPATCH_LEVEL).

--*/
static VOID
FbStreamAdjust(
    _In_ PFB_STREAM Stream,
    _In_ LONG OpenedDelta,
    _In_ BOOLEAN CreateFinished
    )
{
    PFB_INSTANCE_CONTEXT instance = Stream->InstanceContext;
    BOOLEAN drop = FALSE;
    KIRQL oldIrql;

    KeAcquireSpinLock(&instance->Lock, &oldIrql);
    Stream->FileObjects += OpenedDelta;
    if (CreateFinished && Stream->PendingCreates > 0) {
        Stream->PendingCreates -= 1;
    }
    if (Stream->InTable && Stream->FileObjects <= 0 && Stream->PendingCreates == 0) {
        RemoveEntryList(&Stream->TableLink);
        InitializeListHead(&Stream->TableLink);
        Stream->InTable = FALSE;
        drop = TRUE;
    }
    KeReleaseSpinLock(&instance->Lock, oldIrql);

    if (drop) {
        FltReleaseContext(Stream);                  /* the table's reference */
    }
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbStreamCreateDone(
    _In_ PFB_STREAM Stream,
    _In_ BOOLEAN Opened,
    _In_ BOOLEAN Counted
    )
/*++

Routine Description:

    Post-create bookkeeping: one more file object when the create opened
    the stream; the in-flight create count drops when it was counted. Also
    called when a pended create is completed without a post-create
    (FbResumePended).

IRQL:

    <= DISPATCH_LEVEL.

--*/
{
    FbStreamAdjust(Stream, Opened ? 1 : 0, Counted);
}

_IRQL_requires_max_(APC_LEVEL)
VOID
FbStreamFileObjectClosed(
    _In_ PFB_STREAM Stream
    )
/*++

Routine Description:

    A file object of the stream was closed (IRP_MJ_CLOSE).

IRQL:

    <= APC_LEVEL.

--*/
{
    FbStreamAdjust(Stream, -1, FALSE);
}

/*++

Routine Description:

    Attaches Stream as the stream context of the file object just opened.
    If a context is already attached: the same object is fine; a stale one
    (no file object left) is replaced; a live different one (the same
    stream opened under another name, e.g. a hard link) is used instead,
    and the caller's reference is dropped.

Arguments:

    FltObjects - the create's objects.

    Stream - the stream looked up in pre-create; this routine consumes the
    caller's reference.

Return Value:

    The referenced stream to use for the new handle.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
PFB_STREAM
FbStreamAttach(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ PFB_STREAM Stream
    )
{
    PFB_STREAM old = NULL;
    NTSTATUS status;

    status = FltSetStreamContext(FltObjects->Instance, FltObjects->FileObject,
                                 FLT_SET_CONTEXT_KEEP_IF_EXISTS, Stream, (PFLT_CONTEXT *)&old);

    if (status != STATUS_FLT_CONTEXT_ALREADY_DEFINED || old == NULL) {
        return Stream;
    }

    if (old == Stream) {
        FltReleaseContext(old);
        return Stream;
    }

    if (old->FileObjects <= 0) {
        (VOID)FltSetStreamContext(FltObjects->Instance, FltObjects->FileObject,
                                  FLT_SET_CONTEXT_REPLACE_IF_EXISTS, Stream, NULL);
        FltReleaseContext(old);
        return Stream;
    }

    FltReleaseContext(Stream);
    return old;
}

/*++

Routine Description:

    Creates the stream handle context of a file object just opened.

Arguments:

    FltObjects - the create's objects.

    Stream - the stream (the handle takes its own reference).

    Operation - the create (its identifiers and parameters).

    Handle - receives the referenced handle context.

Return Value:

    NTSTATUS.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
NTSTATUS
FbHandleCreate(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ PFB_STREAM Stream,
    _In_ PFB_OPERATION Operation,
    _Outptr_ PFB_HANDLE *Handle
    )
{
    PFLT_PARAMETERS parameters = &Operation->Data->Iopb->Parameters;
    PIO_SECURITY_CONTEXT security = parameters->Create.SecurityContext;
    PFB_HANDLE handle = NULL;
    NTSTATUS status;

    *Handle = NULL;

    status = FltAllocateContext(FbGlobals.Filter, FLT_STREAMHANDLE_CONTEXT, sizeof(FB_HANDLE),
                                NonPagedPoolNx, (PFLT_CONTEXT *)&handle);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    RtlZeroMemory(handle, sizeof(*handle));
    InitializeListHead(&handle->StreamLink);
    handle->FileObjectId = Operation->FileObjectId;
    handle->Stream = Stream;
    FltReferenceContext(Stream);
    handle->Access = (security != NULL) ? security->DesiredAccess : 0;
    handle->ShareAccess = parameters->Create.ShareAccess;
    handle->CreateOptions = parameters->Create.Options & 0x00FFFFFFu;
    handle->DeleteOnClose = (BOOLEAN)((handle->CreateOptions & FILE_DELETE_ON_CLOSE) != 0);
    handle->HasOplockKey = Operation->HasOplockKey;
    handle->OplockKey = Operation->OplockKey;

    status = FltSetStreamHandleContext(FltObjects->Instance, FltObjects->FileObject,
                                       FLT_SET_CONTEXT_REPLACE_IF_EXISTS, handle, NULL);
    if (!NT_SUCCESS(status)) {
        FltReleaseContext(handle);
        return status;
    }

    *Handle = handle;
    return STATUS_SUCCESS;
}

/*++

Routine Description:

    Finds the state of an operation's file object: its stream through the
    stream context, its handle through the stream handle context. A file
    object we did not see opened (no handle context) is not ours.

Arguments:

    FltObjects - the operation's objects.

    Stream, Handle - receive referenced contexts.

Return Value:

    TRUE when both were found.

IRQL:

    <= APC_LEVEL.

--*/
_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbStreamGetForOperation(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Outptr_ PFB_STREAM *Stream,
    _Outptr_ PFB_HANDLE *Handle
    )
{
    PFB_HANDLE handle = NULL;
    PFB_STREAM stream = NULL;

    *Stream = NULL;
    *Handle = NULL;

    if (FltObjects->FileObject == NULL || FltObjects->Instance == NULL) {
        return FALSE;
    }

    if (!NT_SUCCESS(FltGetStreamHandleContext(FltObjects->Instance, FltObjects->FileObject,
                                              (PFLT_CONTEXT *)&handle))) {
        return FALSE;
    }

    if (NT_SUCCESS(FltGetStreamContext(FltObjects->Instance, FltObjects->FileObject,
                                       (PFLT_CONTEXT *)&stream)) &&
        stream != handle->Stream) {

        //
        //  The handle was opened under an alias of a stream that has since
        //  been replaced: the handle's own stream is authoritative for it.
        //

        FltReleaseContext(stream);
        stream = NULL;
    }

    if (stream == NULL) {
        stream = handle->Stream;
        FltReferenceContext(stream);
    }

    *Stream = stream;
    *Handle = handle;
    return TRUE;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbStreamRelease(
    _In_opt_ PFB_STREAM Stream,
    _In_opt_ PFB_HANDLE Handle
    )
/*++

Routine Description:

    Releases references taken by the lookups above.

IRQL:

    <= DISPATCH_LEVEL (the contexts are non-paged).

--*/
{
    if (Handle != NULL) {
        FltReleaseContext(Handle);
    }
    if (Stream != NULL) {
        FltReleaseContext(Stream);
    }
}

/*++

Routine Description:

    Share-access prediction for the sharing-violation oplock break: would
    an open with this access and share mode conflict with the handles of
    the stream we know of? Same rules as IoCheckShareAccess (only read,
    write and delete access take part).

Arguments:

    Stream - the stream.

    Access - desired access of the new open.

    ShareAccess - its FILE_SHARE_* mode.

Return Value:

    TRUE when the file system will refuse the open with
    STATUS_SHARING_VIOLATION (as far as handles opened through this
    instance tell).

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbStreamShareConflict(
    _In_ PFB_STREAM Stream,
    _In_ ACCESS_MASK Access,
    _In_ ULONG ShareAccess
    )
{
    BOOLEAN read = (BOOLEAN)((Access & (FILE_READ_DATA | FILE_EXECUTE)) != 0);
    BOOLEAN write = (BOOLEAN)((Access & (FILE_WRITE_DATA | FILE_APPEND_DATA)) != 0);
    BOOLEAN del = (BOOLEAN)((Access & DELETE) != 0);
    BOOLEAN conflict = FALSE;
    KIRQL oldIrql;

    if (!read && !write && !del) {
        return FALSE;
    }

    KeAcquireSpinLock(&Stream->Lock, &oldIrql);
    if (Stream->ShareOpens != 0) {
        conflict = (BOOLEAN)((read && Stream->SharedRead < Stream->ShareOpens) ||
                             (write && Stream->SharedWrite < Stream->ShareOpens) ||
                             (del && Stream->SharedDelete < Stream->ShareOpens) ||
                             (Stream->ReadOpens != 0 && (ShareAccess & FILE_SHARE_READ) == 0) ||
                             (Stream->WriteOpens != 0 && (ShareAccess & FILE_SHARE_WRITE) == 0) ||
                             (Stream->DeleteOpens != 0 && (ShareAccess & FILE_SHARE_DELETE) == 0));
    }
    KeReleaseSpinLock(&Stream->Lock, oldIrql);

    return conflict;
}

/*++

Routine Description:

    Counts a handle in (post-create) or out (cleanup) of the stream's open
    handles and share-access totals.

Arguments:

    Stream - the stream.

    Handle - the handle.

    Add - TRUE to add, FALSE to remove.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbStreamCountOpen(
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle,
    _In_ BOOLEAN Add
    )
{
    ACCESS_MASK access = Handle->Access;
    BOOLEAN read = (BOOLEAN)((access & (FILE_READ_DATA | FILE_EXECUTE)) != 0);
    BOOLEAN write = (BOOLEAN)((access & (FILE_WRITE_DATA | FILE_APPEND_DATA)) != 0);
    BOOLEAN del = (BOOLEAN)((access & DELETE) != 0);
    ULONG delta = Add ? 1u : (ULONG)-1;
    KIRQL oldIrql;

    KeAcquireSpinLock(&Stream->Lock, &oldIrql);

    Stream->OpenHandles += Add ? 1 : -1;

    if (Add) {
        Handle->CountsForShare = (BOOLEAN)(read || write || del);
        if (!Handle->Listed) {
            InsertTailList(&Stream->Handles, &Handle->StreamLink);
            Handle->Listed = TRUE;
        }
    } else if (Handle->Listed) {
        RemoveEntryList(&Handle->StreamLink);
        InitializeListHead(&Handle->StreamLink);
        Handle->Listed = FALSE;
    }

    if (Handle->CountsForShare) {
        Stream->ShareOpens += delta;
        if (read) {
            Stream->ReadOpens += delta;
        }
        if (write) {
            Stream->WriteOpens += delta;
        }
        if (del) {
            Stream->DeleteOpens += delta;
        }
        if ((Handle->ShareAccess & FILE_SHARE_READ) != 0) {
            Stream->SharedRead += delta;
        }
        if ((Handle->ShareAccess & FILE_SHARE_WRITE) != 0) {
            Stream->SharedWrite += delta;
        }
        if ((Handle->ShareAccess & FILE_SHARE_DELETE) != 0) {
            Stream->SharedDelete += delta;
        }
        if (!Add) {
            Handle->CountsForShare = FALSE;
        }
    }

    KeReleaseSpinLock(&Stream->Lock, oldIrql);
}

/*++

Routine Description:

    Cleanup of a handle: the handle stops counting (open handles, share
    access - fastfat cleanup.c removes the share access before its last
    oplock check), and the delete bookkeeping the CLEANUP record reports:
    a delete-on-close handle makes the stream delete-pending now ([MS-FSA]
    2.1.5.5; fastfat sets FCB_STATE_DELETE_ON_CLOSE at cleanup), and the
    last handle of a delete-pending stream deletes it.

    What the filter knows is what it saw: FILE_DELETE_ON_CLOSE at create,
    dispositions that succeeded (FbSetInfoSeen), its own handle counts; it
    cannot ask the file system at cleanup time.

Arguments:

    Stream - the stream.

    Handle - the handle being cleaned up.

Return Value:

    FLTB_CLEANUP_* flags.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
ULONG
FbStreamCleanupHandle(
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle
    )
{
    ULONG flags = 0;
    KIRQL oldIrql;

    KeAcquireSpinLock(&Stream->Lock, &oldIrql);
    if (Handle->DeleteOnClose) {
        Stream->DeletePending = TRUE;
        flags |= FLTB_CLEANUP_DELETE_ON_CLOSE;
    }
    KeReleaseSpinLock(&Stream->Lock, oldIrql);

    FbStreamCountOpen(Stream, Handle, FALSE);

    KeAcquireSpinLock(&Stream->Lock, &oldIrql);
    if (Stream->DeletePending && Stream->OpenHandles <= 0) {
        flags |= FLTB_CLEANUP_DELETED;
    }
    KeReleaseSpinLock(&Stream->Lock, oldIrql);

    return flags;
}

/*++

Routine Description:

    Is the stream delete-pending, as far as the filter saw?

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbStreamDeletePending(
    _In_ PFB_STREAM Stream
    )
{
    BOOLEAN pending;
    KIRQL oldIrql;

    KeAcquireSpinLock(&Stream->Lock, &oldIrql);
    pending = Stream->DeletePending;
    KeReleaseSpinLock(&Stream->Lock, oldIrql);
    return pending;
}

/*++

Routine Description:

    OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH for an exclusive request: the
    requesting handle carries an oplock key, at least one other handle is
    open, and every other open handle carries the same key
    (FltOplockFsctrlEx: "The file system verified that all oplock keys on
    any handles that are currently open match"; a lease holder's second
    handle under the same key then does not count against RW / RWH).

Arguments:

    Stream - the stream.

    Handle - the requesting handle.

Return Value:

    TRUE when the flag applies.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbStreamAllKeysMatch(
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle
    )
{
    BOOLEAN match = TRUE;
    ULONG others = 0;
    PLIST_ENTRY entry;
    KIRQL oldIrql;

    if (!Handle->HasOplockKey) {
        return FALSE;
    }

    KeAcquireSpinLock(&Stream->Lock, &oldIrql);
    for (entry = Stream->Handles.Flink; entry != &Stream->Handles; entry = entry->Flink) {
        PFB_HANDLE other = CONTAINING_RECORD(entry, FB_HANDLE, StreamLink);
        if (other == Handle) {
            continue;
        }
        others += 1;
        if (!other->HasOplockKey ||
            RtlCompareMemory(&other->OplockKey, &Handle->OplockKey, sizeof(GUID)) != sizeof(GUID)) {
            match = FALSE;
            break;
        }
    }
    KeReleaseSpinLock(&Stream->Lock, oldIrql);

    return (BOOLEAN)(match && others > 0);
}

/*++

Routine Description:

    Tears down the oplock and file lock of one managed stream, under its
    resource held exclusive so no package call runs concurrently. Every
    operation the packages hold is completed by them.

Arguments:

    Stream - the stream.

Return Value:

    None.

IRQL:

    <= APC_LEVEL.

--*/
static VOID
FbStreamTeardownPackages(
    _In_ PFB_STREAM Stream
    )
{
    if (!Stream->ResourceReady) {
        return;
    }

    FltAcquireResourceExclusive(&Stream->Resource);

    if (Stream->OplockReady) {
        Stream->OplockReady = FALSE;
        FltUninitializeOplock(&Stream->Oplock);
    }

    if (Stream->FileLock != NULL) {
        PFILE_LOCK fileLock = Stream->FileLock;
        Stream->FileLock = NULL;
        FltFreeFileLock(fileLock);
    }

    FltReleaseResource(&Stream->Resource);
}

/*++

Routine Description:

    Instance teardown start: empties the table and tears down the packages
    of every managed stream in it.

Arguments:

    InstanceContext - the owner instance (TearingDown already set, so no
    stream enters the table any more).

Return Value:

    None.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbStreamTeardownInstance(
    _In_ PFB_INSTANCE_CONTEXT InstanceContext
    )
{
    for (;;) {

        PFB_STREAM stream = NULL;
        KIRQL oldIrql;

        KeAcquireSpinLock(&InstanceContext->Lock, &oldIrql);
        if (!IsListEmpty(&InstanceContext->Streams)) {
            PLIST_ENTRY entry = RemoveHeadList(&InstanceContext->Streams);
            stream = CONTAINING_RECORD(entry, FB_STREAM, TableLink);
            InitializeListHead(&stream->TableLink);
            stream->InTable = FALSE;                /* the table's reference moves to us */
        }
        KeReleaseSpinLock(&InstanceContext->Lock, oldIrql);

        if (stream == NULL) {
            break;
        }

        FbStreamTeardownPackages(stream);
        FltReleaseContext(stream);
    }
}

/*++

Routine Description:

    Stream context cleanup: tears down what is left and frees the names.

IRQL:

    <= APC_LEVEL (Filter Manager defers a release made at DISPATCH_LEVEL
    to a work item).

--*/
VOID
FLTAPI
FbStreamContextCleanup(
    _In_ PFLT_CONTEXT Context,
    _In_ FLT_CONTEXT_TYPE ContextType
    )
{
    PFB_STREAM stream = (PFB_STREAM)Context;

    UNREFERENCED_PARAMETER(ContextType);

    FbStreamTeardownPackages(stream);
    FbHoldsRelease(stream, 0);

    while (!IsListEmpty(&stream->LockOps)) {
        PFB_LOCK_OP lockOp = CONTAINING_RECORD(RemoveHeadList(&stream->LockOps), FB_LOCK_OP, Link);
        FbFree(lockOp, FB_TAG_LOCKOP);
    }

    if (stream->ResourceReady) {
        (VOID)ExDeleteResourceLite(&stream->Resource);
        stream->ResourceReady = FALSE;
    }

    if (stream->Managed) {
        InterlockedDecrement(&FbGlobals.ManagedStreams);
    }

    FbFreeName(&stream->Name);
    FbFreeName(&stream->Key);
}

/*++

Routine Description:

    Stream handle context cleanup: drops the handle's stream reference.

IRQL:

    <= APC_LEVEL.

--*/
VOID
FLTAPI
FbHandleContextCleanup(
    _In_ PFLT_CONTEXT Context,
    _In_ FLT_CONTEXT_TYPE ContextType
    )
{
    PFB_HANDLE handle = (PFB_HANDLE)Context;
    KIRQL oldIrql;

    UNREFERENCED_PARAMETER(ContextType);

    if (handle->Stream != NULL) {

        //
        //  A handle that never saw its cleanup (instance teardown) leaves the
        //  stream's list here.
        //

        KeAcquireSpinLock(&handle->Stream->Lock, &oldIrql);
        if (handle->Listed) {
            RemoveEntryList(&handle->StreamLink);
            InitializeListHead(&handle->StreamLink);
            handle->Listed = FALSE;
        }
        KeReleaseSpinLock(&handle->Stream->Lock, oldIrql);

        FltReleaseContext(handle->Stream);
        handle->Stream = NULL;
    }
}

/*++

Routine Description:

    Fills the identity part of an event about a stream.

Arguments:

    Event - the event.

    Type, Status - the record's type and status.

    Stream - the stream (names the record; NULL for none).

    FileObjectId, OperationId, ProcessId, ThreadId - identifiers.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventFromStream(
    _Out_ PFB_EVENT Event,
    _In_ USHORT Type,
    _In_ NTSTATUS Status,
    _In_opt_ PFB_STREAM Stream,
    _In_ ULONGLONG FileObjectId,
    _In_ ULONGLONG OperationId,
    _In_ ULONG ProcessId,
    _In_ ULONG ThreadId
    )
{
    FbEventInit(Event, Type, Status);
    Event->FileObjectId = FileObjectId;
    Event->OperationId = OperationId;
    if (ProcessId != 0) {
        Event->ProcessId = ProcessId;
        Event->ThreadId = ThreadId;
    }
    if (Stream != NULL) {
        Event->StreamId = Stream->StreamId;
        Event->Name = &Stream->Name;
        Event->Flags = Stream->Managed ? FLTB_RECORD_MANAGED : FLTB_RECORD_OBSERVED;
    }
}

/*++

Routine Description:

    The requestor of an operation: process id (FltGetRequestorProcessId)
    and thread id (of the thread that issued it).

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbRequestorIds(
    _In_ PFLT_CALLBACK_DATA Data,
    _Out_ PULONG ProcessId,
    _Out_ PULONG ThreadId
    )
{
    *ProcessId = FltGetRequestorProcessId(Data);
    *ThreadId = (Data->Thread != NULL) ? HandleToULong(PsGetThreadId(Data->Thread))
                                       : HandleToULong(PsGetCurrentThreadId());
}
