/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    comm.c

Abstract:

    The communication port \FltBridgePort: creation (administrators and
    SYSTEM only), connect / disconnect, and the command dispatcher behind
    the message notify callback (fltbridge_proto.h "Commands").

    Every byte from user mode is validated before use. The input buffer is
    captured into pool under SEH first; every check then runs on the kernel
    copy, so the client cannot change a value between its check and its use
    and no user address is dereferenced as a structure (which is also why no
    pointer alignment is required of the client's buffers: the protocol's
    own alignment rules - sizes that are multiples of 8, even name lengths -
    are checked instead). The reply is built in kernel memory and copied
    out under SEH, sized exactly.

    Validation order (the model twin, src/model/filter/comm.ts with the
    codec's decodeCommand, follows the same rules, and the tests in
    test/driver/host-harness.test.ts prove both give the same reply bytes
    for the same command):

      1. input shorter than FLTB_COMMAND_HEADER      INVALID_PARAMETER
         (reply Command 0, RequestId 0)
      2. Magic != FLTB_MAGIC_COMMAND                INVALID_PARAMETER
      3. Command not in 1..FLTB_CMD_MAX             INVALID_DEVICE_REQUEST
      4. not HELLO and no HELLO done yet            INVALID_DEVICE_REQUEST
      5. not HELLO and Version != agreed version    REVISION_MISMATCH
      6. Size != input length, header Flags != 0,
         input size wrong for the command           INVALID_PARAMETER
      7. the command's own fields in field order: enums, flags, counts,
         string lengths, fields a command does not use must be zero
         (reserved fields and padding are ignored, as the contract says
         readers do)                                INVALID_PARAMETER
      8. output smaller than the command's reply    BUFFER_TOO_SMALL
      9. execution                                  the command's status

    Rules on top of the wire format (docs/protocol.md: they are about what
    the names and offsets mean, so the codec does not check them; the model
    twin applies them at the same points): a namespace or probe path must
    be an NT path - it starts with a backslash and holds no NUL (probe
    paths at step 7, namespace paths when CONFIGURE is applied, after step
    8); a read probe's offset must be below 2^63 (ByteOffset is a
    LARGE_INTEGER; negative values are special to the I/O manager; step 7).

    Refused commands get a bare FLTB_REPLY_HEADER (Size 24), except a HELLO
    with no common version, which gets the full HELLO reply. A reply's
    Version is the command's own Version field (FLTB_PROTOCOL_VERSION when
    the input is shorter than a header); a successful HELLO's is the agreed
    version. An output buffer too small for even a reply header fails the
    call with STATUS_BUFFER_TOO_SMALL and no bytes.

Environment:

    Kernel mode, PASSIVE_LEVEL (port callbacks run in the client's thread).

--*/

#include "driver.h"

typedef union _FB_REPLY {
    FLTB_REPLY_HEADER Header;
    FLTB_HELLO_REPLY Hello;
    FLTB_CONFIGURE_REPLY Configure;
    FLTB_STATS_REPLY Stats;
    FLTB_PROBE_START_REPLY ProbeStart;
    FLTB_FLUSH_EVENTS_REPLY Flush;
} FB_REPLY, *PFB_REPLY;

/*++

Routine Description:

    Reference counting of connections (the port's reference, the event
    slot's, and the drain thread's while it sends).

Arguments:

    Connection - the connection.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbConnectionReference(
    _In_ PFB_CONNECTION Connection
    )
{
    InterlockedIncrement(&Connection->RefCount);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbConnectionDereference(
    _In_ PFB_CONNECTION Connection
    )
{
    if (InterlockedDecrement(&Connection->RefCount) == 0) {
        FbFree(Connection, FB_TAG_CONNECTION);
    }
}

/*++

Routine Description:

    Creates \FltBridgePort with a security descriptor that admits only
    administrators and SYSTEM (FltBuildDefaultSecurityDescriptor with
    FLT_PORT_ALL_ACCESS) and at most FLTB_PORT_MAX_CONNECTIONS clients.

Arguments:

    Filter - our filter.

Return Value:

    NTSTATUS.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbCommInitialize(
    _In_ PFLT_FILTER Filter
    )
{
    OBJECT_ATTRIBUTES attributes;
    PSECURITY_DESCRIPTOR descriptor = NULL;
    UNICODE_STRING name;
    NTSTATUS status;

    status = FltBuildDefaultSecurityDescriptor(&descriptor, FLT_PORT_ALL_ACCESS);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    RtlInitUnicodeString(&name, FLTB_PORT_NAME_W);
    InitializeObjectAttributes(&attributes, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE,
                               NULL, descriptor);

    status = FltCreateCommunicationPort(Filter,
                                        &FbGlobals.ServerPort,
                                        &attributes,
                                        NULL,
                                        FbCommConnect,
                                        FbCommDisconnect,
                                        FbCommMessage,
                                        FLTB_PORT_MAX_CONNECTIONS);

    FltFreeSecurityDescriptor(descriptor);
    return status;
}

/*++

Routine Description:

    Stops new connections (FilterUnload). Existing ones are closed by their
    disconnect callbacks, which FltUnregisterFilter runs.

Arguments:

    None.

Return Value:

    None.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbCommClosePort(
    VOID
    )
{
    if (FbGlobals.ServerPort != NULL) {
        FltCloseCommunicationPort(FbGlobals.ServerPort);
        FbGlobals.ServerPort = NULL;
    }
}

/*++

Routine Description:

    Connect notify: validates the connection context (FLTB_CONNECT_CONTEXT,
    exactly its size) and creates the connection object.

Arguments:

    ClientPort - the new client port (closed with FltCloseClientPort in
    the disconnect callback).

    ServerPortCookie - unused.

    ConnectionContext, SizeOfContext - the client's lpContext.

    ConnectionPortCookie - receives the connection object.

Return Value:

    STATUS_SUCCESS, STATUS_INVALID_PARAMETER (bad context),
    STATUS_INSUFFICIENT_RESOURCES, STATUS_CONNECTION_COUNT_LIMIT.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FLTAPI
FbCommConnect(
    _In_ PFLT_PORT ClientPort,
    _In_opt_ PVOID ServerPortCookie,
    _In_reads_bytes_opt_(SizeOfContext) PVOID ConnectionContext,
    _In_ ULONG SizeOfContext,
    _Outptr_result_maybenull_ PVOID *ConnectionPortCookie
    )
{
    FLTB_CONNECT_CONTEXT context;
    PFB_CONNECTION connection;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(ServerPortCookie);

    *ConnectionPortCookie = NULL;

    if (ConnectionContext == NULL || SizeOfContext != sizeof(FLTB_CONNECT_CONTEXT)) {
        return STATUS_INVALID_PARAMETER;
    }

    __try {
        RtlCopyMemory(&context, ConnectionContext, sizeof(context));
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        return FB_EXCEPTION_STATUS();
    }

    if (context.Magic != FLTB_MAGIC_CONNECT || context.Size != sizeof(FLTB_CONNECT_CONTEXT)) {
        return STATUS_INVALID_PARAMETER;
    }
    if (context.Version < FLTB_PROTOCOL_VERSION_MIN) {
        return STATUS_REVISION_MISMATCH;
    }

    if (FbGlobals.Unloading != 0) {
        return STATUS_FLT_DELETING_OBJECT;
    }

    connection = (PFB_CONNECTION)FbAllocate(sizeof(FB_CONNECTION), FB_TAG_CONNECTION);
    if (connection == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    connection->RefCount = 1;                       /* the port's reference */
    connection->ClientPort = ClientPort;
    connection->ProcessId = HandleToULong(PsGetCurrentProcessId());
    connection->ClientCapabilities = context.ClientCapabilities;
    connection->Slot = FLTB_PORT_MAX_CONNECTIONS;

    status = FbEventsAddConnection(connection);
    if (!NT_SUCCESS(status)) {
        FbConnectionDereference(connection);
        return status;
    }

    *ConnectionPortCookie = connection;
    return STATUS_SUCCESS;
}

/*++

Routine Description:

    Disconnect notify (client handle closed, or filter unload): stops
    event delivery to the connection, frees its queue and closes the client
    port. FltCloseClientPort clears ClientPort, which is how a concurrent
    FltSendMessage of the drain thread learns the port is gone; the drain
    thread's own reference keeps the object alive until its send returns.

Arguments:

    ConnectionCookie - the connection.

Return Value:

    None.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
VOID
FLTAPI
FbCommDisconnect(
    _In_opt_ PVOID ConnectionCookie
    )
{
    PFB_CONNECTION connection = (PFB_CONNECTION)ConnectionCookie;

    if (connection == NULL) {
        return;
    }

    connection->Closing = TRUE;
    FbEventsRemoveConnection(connection);
    FltCloseClientPort(FbGlobals.Filter, &connection->ClientPort);
    FbConnectionDereference(connection);
}

static ULONG
FbReplyRefuse(
    _Out_ PFB_REPLY Reply,
    _In_ NTSTATUS Status
    )
{
    Reply->Header.Size = sizeof(FLTB_REPLY_HEADER);
    Reply->Header.Status = Status;
    return sizeof(FLTB_REPLY_HEADER);
}

/*++

Routine Description:

    Is this path acceptable for a probe: starts with a backslash, no NUL?

Arguments:

    Path, Chars - the path.

Return Value:

    TRUE when acceptable.

IRQL:

    Any.

--*/
static BOOLEAN
FbProbePathValid(
    _In_reads_(Chars) const WCHAR *Path,
    _In_ ULONG Chars
    )
{
    ULONG index;

    if (Chars == 0 || Path[0] != L'\\') {
        return FALSE;
    }
    for (index = 0; index < Chars; index += 1) {
        if (Path[index] == 0) {
            return FALSE;
        }
    }
    return TRUE;
}

/*++

Routine Description:

    HELLO: agree on a protocol version; subscribe to events when the
    client can consume batches.

IRQL:

    PASSIVE_LEVEL.

--*/
static ULONG
FbCmdHello(
    _In_ PFB_CONNECTION Connection,
    _In_ const FLTB_HELLO_REQUEST *Request,
    _In_ ULONG OutputLength,
    _Inout_ PFB_REPLY Reply
    )
{
    FB_EVENT_STATS stats;
    USHORT low;
    USHORT high;

    if (Request->MinVersion > Request->MaxVersion) {
        return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
    }

    if (OutputLength < sizeof(FLTB_HELLO_REPLY)) {
        return FbReplyRefuse(Reply, STATUS_BUFFER_TOO_SMALL);
    }

    low = (Request->MinVersion > FLTB_PROTOCOL_VERSION_MIN) ? Request->MinVersion
                                                             : (USHORT)FLTB_PROTOCOL_VERSION_MIN;
    high = (Request->MaxVersion < FLTB_PROTOCOL_VERSION) ? Request->MaxVersion
                                                          : (USHORT)FLTB_PROTOCOL_VERSION;

    if (low > high) {
        Reply->Header.Status = STATUS_REVISION_MISMATCH;
        Reply->Hello.ProtocolVersion = FLTB_PROTOCOL_VERSION;
    } else {
        Connection->Version = high;
        Connection->HelloDone = TRUE;
        Connection->ClientCapabilities = Request->ClientCapabilities & FLTB_CAP_ALL;
        if ((Request->ClientCapabilities & FLTB_CAP_EVENT_BATCHES) != 0) {
            (VOID)FbEventsSubscribe(Connection);
        }
        Reply->Header.Status = STATUS_SUCCESS;
        Reply->Header.Version = high;
        Reply->Hello.ProtocolVersion = high;
    }

    FbEventsGetStats(&stats);

    Reply->Header.Size = sizeof(FLTB_HELLO_REPLY);
    Reply->Hello.DriverMajor = FLTB_DRIVER_VERSION_MAJOR;
    Reply->Hello.DriverMinor = FLTB_DRIVER_VERSION_MINOR;
    Reply->Hello.DriverPatch = FLTB_DRIVER_VERSION_PATCH;
    Reply->Hello.Capabilities = FLTB_CAP_ALL;
    Reply->Hello.MaxRecordBytes = FLTB_MAX_RECORD_BYTES;
    Reply->Hello.MaxBatchBytes = FLTB_MAX_BATCH_BYTES;
    Reply->Hello.QueueLimit = stats.QueueLimit;
    Reply->Hello.NextSequence = stats.NextSequence;
    Reply->Hello.EventTypeMask = stats.EventTypeMask;
    return sizeof(FLTB_HELLO_REPLY);
}

/*++

Routine Description:

    CONFIGURE: validates the whole request (fixed part, then each namespace
    entry in order, then that nothing trails the last entry) and only then
    applies it.

IRQL:

    PASSIVE_LEVEL.

--*/
static ULONG
FbCmdConfigure(
    _In_ const FLTB_U8 *Input,
    _In_ ULONG InputLength,
    _In_ ULONG OutputLength,
    _Inout_ PFB_REPLY Reply
    )
{
    FLTB_CONFIGURE_REQUEST request;
    FB_NAMESPACE_SPEC specs[FLTB_MAX_NAMESPACES];
    PFB_POLICY policy = NULL;
    FB_EVENT_STATS stats;
    NTSTATUS status;
    ULONG offset = sizeof(FLTB_CONFIGURE_REQUEST);
    ULONG index;

    RtlCopyMemory(&request, Input, sizeof(request));

    if ((request.Flags & ~FLTB_CONFIGURE_VALID_FLAGS) != 0 ||
        ((request.Flags & FLTB_CONFIGURE_SET_EVENT_MASK) != 0
             ? (request.EventTypeMask & ~FLTB_EVENT_MASK_ALL) != 0
             : request.EventTypeMask != 0) ||
        ((request.Flags & FLTB_CONFIGURE_SET_QUEUE_LIMIT) != 0
             ? (request.QueueLimit < FLTB_QUEUE_LIMIT_MIN || request.QueueLimit > FLTB_QUEUE_LIMIT_MAX)
             : request.QueueLimit != 0) ||
        request.NamespaceCount > FLTB_MAX_NAMESPACES ||
        ((request.Flags & FLTB_CONFIGURE_SET_NAMESPACES) == 0 && request.NamespaceCount != 0)) {
        return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
    }

    for (index = 0; index < request.NamespaceCount; index += 1) {

        FLTB_NAMESPACE_ENTRY entry;

        if (InputLength - offset < sizeof(FLTB_NAMESPACE_ENTRY)) {
            return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
        }
        RtlCopyMemory(&entry, Input + offset, sizeof(entry));

        if ((entry.Size % FLTB_ALIGNMENT) != 0 ||
            (entry.Kind != FLTB_NAMESPACE_MANAGED && entry.Kind != FLTB_NAMESPACE_OBSERVE) ||
            entry.NameBytes < sizeof(WCHAR) || (entry.NameBytes & 1u) != 0 ||
            entry.NameBytes > FLTB_MAX_NAME_BYTES ||
            entry.Size != (ULONG)sizeof(FLTB_NAMESPACE_ENTRY) + (ULONG)FLTB_ALIGN_UP((ULONG)entry.NameBytes) ||
            entry.Size > InputLength - offset) {
            return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
        }

        specs[index].Kind = entry.Kind;
        specs[index].NameBytes = entry.NameBytes;
        specs[index].Name = (const WCHAR *)(const VOID *)(Input + offset + sizeof(FLTB_NAMESPACE_ENTRY));
        offset += entry.Size;
    }

    if (offset != InputLength) {
        return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
    }

    if (OutputLength < sizeof(FLTB_CONFIGURE_REPLY)) {
        return FbReplyRefuse(Reply, STATUS_BUFFER_TOO_SMALL);
    }

    if ((request.Flags & FLTB_CONFIGURE_SET_NAMESPACES) != 0) {
        status = FbPolicyCreate(specs, request.NamespaceCount, &policy);
        if (!NT_SUCCESS(status)) {
            return FbReplyRefuse(Reply, status);
        }
        FbPolicyInstall(policy);
    }

    FbEventsConfigure((BOOLEAN)((request.Flags & FLTB_CONFIGURE_SET_EVENT_MASK) != 0),
                      request.EventTypeMask,
                      (BOOLEAN)((request.Flags & FLTB_CONFIGURE_SET_QUEUE_LIMIT) != 0),
                      request.QueueLimit);

    FbEventsGetStats(&stats);
    Reply->Header.Size = sizeof(FLTB_CONFIGURE_REPLY);
    Reply->Header.Status = STATUS_SUCCESS;
    Reply->Configure.EventTypeMask = stats.EventTypeMask;
    Reply->Configure.QueueLimit = stats.QueueLimit;
    FbPolicyCounts(&Reply->Configure.ManagedCount, &Reply->Configure.ObserveCount);
    return sizeof(FLTB_CONFIGURE_REPLY);
}

static ULONG
FbCmdStats(
    _Inout_ PFB_REPLY Reply
    )
{
    FB_EVENT_STATS stats;
    LONG pended;
    LONG managed;

    FbEventsGetStats(&stats);
    pended = FbGlobals.PendedOperations;
    managed = FbGlobals.ManagedStreams;

    Reply->Header.Size = sizeof(FLTB_STATS_REPLY);
    Reply->Header.Status = STATUS_SUCCESS;
    Reply->Stats.EventsProduced = stats.Produced;
    Reply->Stats.EventsDelivered = stats.Delivered;
    Reply->Stats.EventsDropped = stats.Dropped;
    Reply->Stats.NextSequence = stats.NextSequence;
    Reply->Stats.QueueDepth = stats.QueueDepth;
    Reply->Stats.QueueLimit = stats.QueueLimit;
    Reply->Stats.PendedOperations = (pended > 0) ? (ULONG)pended : 0u;
    Reply->Stats.ManagedStreams = (managed > 0) ? (ULONG)managed : 0u;
    Reply->Stats.ActiveProbes = FbProbeActiveCount();
    Reply->Stats.Connections = stats.Connections;
    RtlCopyMemory(Reply->Stats.PerTypeProduced, stats.PerType, sizeof(Reply->Stats.PerTypeProduced));
    return sizeof(FLTB_STATS_REPLY);
}

static ULONG
FbCmdProbeStart(
    _In_ const FLTB_U8 *Input,
    _In_ ULONG InputLength,
    _In_ ULONG OutputLength,
    _Inout_ PFB_REPLY Reply
    )
{
    FLTB_PROBE_START_REQUEST request;
    FB_PROBE_SPEC spec;
    ULONGLONG probeId = 0;
    NTSTATUS status;
    BOOLEAN oplock;

    RtlCopyMemory(&request, Input, sizeof(request));
    oplock = (BOOLEAN)(request.Kind == FLTB_PROBE_OPLOCK);

    if ((request.Kind != FLTB_PROBE_OPLOCK && request.Kind != FLTB_PROBE_READ) ||
        (request.Flags & ~FLTB_PROBE_VALID_FLAGS) != 0 ||
        (oplock ? (request.OplockLevel == FLTB_OPLOCK_NONE || request.OplockLevel > FLTB_OPLOCK_LEVEL_MAX ||
                   request.ReadLength != 0 || request.ReadOffset != 0)
                : (request.OplockLevel != 0 || request.ReadLength == 0 ||
                   request.ReadLength > FLTB_PROBE_READ_MAX)) ||
        request.PathBytes < sizeof(WCHAR) || (request.PathBytes & 1u) != 0 ||
        request.PathBytes > FLTB_MAX_NAME_BYTES ||
        InputLength != (ULONG)sizeof(FLTB_PROBE_START_REQUEST) + (ULONG)FLTB_ALIGN_UP((ULONG)request.PathBytes)) {
        return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
    }

    //
    //  Driver-only rules: an NT path, and a read offset the I/O manager
    //  takes as an offset (not FILE_USE_FILE_POINTER_POSITION and kin).
    //

    if ((!oplock && request.ReadOffset > 0x7FFFFFFFFFFFFFFFULL) ||
        !FbProbePathValid((const WCHAR *)(const VOID *)(Input + sizeof(FLTB_PROBE_START_REQUEST)),
                          request.PathBytes / sizeof(WCHAR))) {
        return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
    }

    if (OutputLength < sizeof(FLTB_PROBE_START_REPLY)) {
        return FbReplyRefuse(Reply, STATUS_BUFFER_TOO_SMALL);
    }

    spec.Kind = request.Kind;
    spec.Flags = request.Flags;
    spec.OplockLevel = (request.Kind == FLTB_PROBE_OPLOCK) ? request.OplockLevel : FLTB_OPLOCK_NONE;
    spec.ReadLength = (request.Kind == FLTB_PROBE_READ) ? request.ReadLength : 0;
    spec.ReadOffset = (request.Kind == FLTB_PROBE_READ) ? request.ReadOffset : 0;
    spec.PathBytes = request.PathBytes;
    spec.Path = (const WCHAR *)(const VOID *)(Input + sizeof(FLTB_PROBE_START_REQUEST));

    status = FbProbeStart(&spec, &probeId);
    if (!NT_SUCCESS(status)) {
        return FbReplyRefuse(Reply, status);
    }

    Reply->Header.Size = sizeof(FLTB_PROBE_START_REPLY);
    Reply->Header.Status = STATUS_SUCCESS;
    Reply->ProbeStart.ProbeId = probeId;
    return sizeof(FLTB_PROBE_START_REPLY);
}

static ULONG
FbCmdProbeStop(
    _In_ const FLTB_PROBE_STOP_REQUEST *Request,
    _Inout_ PFB_REPLY Reply
    )
{
    NTSTATUS status = STATUS_NOT_FOUND;

    if (Request->ProbeId != 0) {
        status = FbProbeStop(Request->ProbeId);
    }

    return FbReplyRefuse(Reply, status);
}

static ULONG
FbCmdFlush(
    _In_ PFB_CONNECTION Connection,
    _In_ const FLTB_FLUSH_EVENTS_REQUEST *Request,
    _In_ ULONG OutputLength,
    _Inout_ PFB_REPLY Reply
    )
{
    FB_EVENT_STATS stats;
    ULONGLONG discarded;

    if ((Request->Flags & ~FLTB_FLUSH_VALID_FLAGS) != 0) {
        return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
    }

    if (OutputLength < sizeof(FLTB_FLUSH_EVENTS_REPLY)) {
        return FbReplyRefuse(Reply, STATUS_BUFFER_TOO_SMALL);
    }

    discarded = FbEventsFlush(Connection, (BOOLEAN)((Request->Flags & FLTB_FLUSH_DISCARD) != 0));
    FbEventsGetStats(&stats);

    Reply->Header.Size = sizeof(FLTB_FLUSH_EVENTS_REPLY);
    Reply->Header.Status = STATUS_SUCCESS;
    Reply->Flush.Discarded = discarded;
    Reply->Flush.NextSequence = stats.NextSequence;
    return sizeof(FLTB_FLUSH_EVENTS_REPLY);
}

/*++

Routine Description:

    The command dispatcher: validates a captured command in the order given
    in the module header and runs it.

Arguments:

    Connection - the client's connection.

    Input, InputLength - the captured command (kernel memory).

    OutputLength - size of the client's output buffer (at least a reply
    header).

    Reply - receives the reply.

Return Value:

    Bytes of reply to copy out.

IRQL:

    PASSIVE_LEVEL.

--*/
static ULONG
FbCommDispatch(
    _In_ PFB_CONNECTION Connection,
    _In_reads_bytes_(InputLength) const FLTB_U8 *Input,
    _In_ ULONG InputLength,
    _In_ ULONG OutputLength,
    _Out_ PFB_REPLY Reply
    )
{
    FLTB_COMMAND_HEADER header;
    ULONG expected;
    ULONG replyBytes;
    BOOLEAN exact;

    RtlZeroMemory(Reply, sizeof(*Reply));
    Reply->Header.Magic = FLTB_MAGIC_REPLY;
    Reply->Header.Version = FLTB_PROTOCOL_VERSION;

    if (InputLength < sizeof(FLTB_COMMAND_HEADER)) {
        return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
    }

    RtlCopyMemory(&header, Input, sizeof(header));
    Reply->Header.Version = header.Version;
    Reply->Header.Command = header.Command;
    Reply->Header.RequestId = header.RequestId;

    if (header.Magic != FLTB_MAGIC_COMMAND) {
        return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
    }

    if (header.Command == 0 || header.Command > FLTB_CMD_MAX) {
        return FbReplyRefuse(Reply, STATUS_INVALID_DEVICE_REQUEST);
    }

    if (header.Command != FLTB_CMD_HELLO) {
        if (!Connection->HelloDone) {
            return FbReplyRefuse(Reply, STATUS_INVALID_DEVICE_REQUEST);
        }
        if (header.Version != Connection->Version) {
            return FbReplyRefuse(Reply, STATUS_REVISION_MISMATCH);
        }
    }

    switch (header.Command) {
    case FLTB_CMD_HELLO:
        expected = sizeof(FLTB_HELLO_REQUEST);        exact = TRUE;  replyBytes = sizeof(FLTB_HELLO_REPLY);
        break;
    case FLTB_CMD_CONFIGURE:
        expected = sizeof(FLTB_CONFIGURE_REQUEST);    exact = FALSE; replyBytes = sizeof(FLTB_CONFIGURE_REPLY);
        break;
    case FLTB_CMD_GET_STATS:
        expected = sizeof(FLTB_COMMAND_HEADER);       exact = TRUE;  replyBytes = sizeof(FLTB_STATS_REPLY);
        break;
    case FLTB_CMD_PROBE_START:
        expected = sizeof(FLTB_PROBE_START_REQUEST);  exact = FALSE; replyBytes = sizeof(FLTB_PROBE_START_REPLY);
        break;
    case FLTB_CMD_PROBE_STOP:
        expected = sizeof(FLTB_PROBE_STOP_REQUEST);   exact = TRUE;  replyBytes = sizeof(FLTB_REPLY_HEADER);
        break;
    default:
        expected = sizeof(FLTB_FLUSH_EVENTS_REQUEST); exact = TRUE;  replyBytes = sizeof(FLTB_FLUSH_EVENTS_REPLY);
        break;
    }

    if (header.Size != InputLength || header.Flags != 0 ||
        (exact ? (InputLength != expected) : (InputLength < expected))) {
        return FbReplyRefuse(Reply, STATUS_INVALID_PARAMETER);
    }

    switch (header.Command) {
    case FLTB_CMD_HELLO:
        return FbCmdHello(Connection, (const FLTB_HELLO_REQUEST *)(const VOID *)Input, OutputLength, Reply);
    case FLTB_CMD_CONFIGURE:
        return FbCmdConfigure(Input, InputLength, OutputLength, Reply);
    case FLTB_CMD_FLUSH_EVENTS:
        return FbCmdFlush(Connection, (const FLTB_FLUSH_EVENTS_REQUEST *)(const VOID *)Input, OutputLength, Reply);
    case FLTB_CMD_PROBE_START:
        return FbCmdProbeStart(Input, InputLength, OutputLength, Reply);
    default:
        break;
    }

    if (OutputLength < replyBytes) {
        return FbReplyRefuse(Reply, STATUS_BUFFER_TOO_SMALL);
    }

    if (header.Command == FLTB_CMD_GET_STATS) {
        return FbCmdStats(Reply);
    }

    return FbCmdProbeStop((const FLTB_PROBE_STOP_REQUEST *)(const VOID *)Input, Reply);
}

/*++

Routine Description:

    Message notify: captures the command under SEH, dispatches it, copies
    the reply out under SEH.

Arguments:

    PortCookie - the connection.

    InputBuffer, InputBufferLength - the command (a user address).

    OutputBuffer, OutputBufferLength - the reply buffer (a user address).

    ReturnOutputBufferLength - receives the reply size.

Return Value:

    STATUS_SUCCESS when a reply was written (the command's own status is in
    the reply); STATUS_BUFFER_TOO_SMALL when not even a reply header fits;
    the exception code when a user buffer faulted; STATUS_INSUFFICIENT_RESOURCES.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FLTAPI
FbCommMessage(
    _In_opt_ PVOID PortCookie,
    _In_reads_bytes_opt_(InputBufferLength) PVOID InputBuffer,
    _In_ ULONG InputBufferLength,
    _Out_writes_bytes_to_opt_(OutputBufferLength, *ReturnOutputBufferLength) PVOID OutputBuffer,
    _In_ ULONG OutputBufferLength,
    _Out_ PULONG ReturnOutputBufferLength
    )
{
    PFB_CONNECTION connection = (PFB_CONNECTION)PortCookie;
    PFLTB_U8 captured = NULL;
    FB_REPLY reply;
    ULONG captureLength = InputBufferLength;
    ULONG replyBytes;
    NTSTATUS status = STATUS_SUCCESS;

    *ReturnOutputBufferLength = 0;

    if (connection == NULL) {
        return STATUS_INVALID_PARAMETER;
    }

    if (OutputBuffer == NULL || OutputBufferLength < sizeof(FLTB_REPLY_HEADER)) {
        return STATUS_BUFFER_TOO_SMALL;
    }

    if (InputBuffer == NULL) {
        captureLength = 0;
    }

    if (captureLength > FLTB_MAX_COMMAND_BYTES) {

        //
        //  Too large to be any command: refuse without touching it beyond
        //  the header.
        //

        captureLength = sizeof(FLTB_COMMAND_HEADER);
    }

    captured = (PFLTB_U8)FbAllocate(captureLength + sizeof(FLTB_COMMAND_HEADER), FB_TAG_COMMAND);
    if (captured == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    if (captureLength != 0) {
        __try {
            RtlCopyMemory(captured, InputBuffer, captureLength);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            status = FB_EXCEPTION_STATUS();
        }
    }

    if (NT_SUCCESS(status)) {

        if (InputBufferLength > FLTB_MAX_COMMAND_BYTES) {

            //
            //  Dispatch the header alone with a length that cannot match
            //  Header.Size, so the reply is the usual INVALID_PARAMETER.
            //

            replyBytes = FbCommDispatch(connection, captured, sizeof(FLTB_COMMAND_HEADER) - 1u,
                                        OutputBufferLength, &reply);
            reply.Header.Command = 0;
            reply.Header.RequestId = 0;
            if (InputBufferLength >= sizeof(FLTB_COMMAND_HEADER)) {
                FLTB_COMMAND_HEADER header;
                RtlCopyMemory(&header, captured, sizeof(header));
                reply.Header.Command = header.Command;
                reply.Header.RequestId = header.RequestId;
            }
        } else {
            replyBytes = FbCommDispatch(connection, captured, captureLength, OutputBufferLength, &reply);
        }

        __try {
            RtlCopyMemory(OutputBuffer, &reply, replyBytes);
            *ReturnOutputBufferLength = replyBytes;
        } __except (EXCEPTION_EXECUTE_HANDLER) {
            status = FB_EXCEPTION_STATUS();
        }
    }

    FbFree(captured, FB_TAG_COMMAND);
    return status;
}
