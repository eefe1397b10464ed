/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    events.c

Abstract:

    The event stream (docs/events.md "Drops", fltbridge_proto.h "Event
    batches"): records produced on the I/O path go into a bounded
    non-paged queue per subscribed connection; a drain thread pushes them
    to user mode in batches with FltSendMessage and a bounded timeout.

    Rules this module keeps:

      - producing never waits for user mode: FbEventPost takes a spin lock,
        allocates non-paged pool and returns;
      - every produced event gets its 64-bit sequence number at production,
        before it can be dropped (one counter for all connections);
      - a full queue drops the new event, never a queued one; the run of
        sequence numbers a queue dropped becomes one synthetic DROPPED
        record (Sequence == FirstSequence) placed ahead of the next event
        that fits ("fits": fewer than QueueLimit records queued);
      - a batch is removed from its queue only once FltSendMessage has
        delivered it; a timeout puts the records back at the head.

    Twin: src/model/filter/events.ts.

Environment:

    Kernel mode. FbEventPost at IRQL <= DISPATCH_LEVEL; the drain thread and
    the configuration routines at PASSIVE_LEVEL.

--*/

#include "driver.h"

typedef struct _FB_EVENTS {

    KSPIN_LOCK Lock;

    //
    //  Everything below is guarded by Lock.
    //

    ULONGLONG NextSequence;
    ULONGLONG EventMask;
    ULONG QueueLimit;
    ULONG Subscribers;
    ULONG Connections;
    BOOLEAN Initialized;
    BOOLEAN Stopping;
    BOOLEAN Reserved[2];
    PFB_CONNECTION Slots[FLTB_PORT_MAX_CONNECTIONS];
    ULONGLONG Produced;
    ULONGLONG Delivered;
    ULONGLONG Dropped;
    ULONGLONG PerType[FLTB_EVENT_TYPE_SLOTS];

    //
    //  The drain thread.
    //

    KEVENT WorkEvent;
    KEVENT StopEvent;
    PVOID DrainThread;
    PFLTB_U8 Batch;                 /* FLTB_MAX_BATCH_BYTES, drain thread only */

} FB_EVENTS;

static FB_EVENTS FbEvents;

static KSTART_ROUTINE FbDrainThread;

/*++

Routine Description:

    Bytes a record of this type and name length takes on the wire.

Arguments:

    Type - FLTB_EVENT_*.

    NameBytes - bytes of name carried (already truncated and even).

    NameOffset - receives the record's NameOffset (0 without a name).

Return Value:

    The record size, a multiple of 8.

IRQL:

    Any.

--*/
static ULONG
FbRecordSize(
    _In_ USHORT Type,
    _In_ USHORT NameBytes,
    _Out_ PUSHORT NameOffset
    )
{
    ULONG fixed = (ULONG)sizeof(FLTB_RECORD_HEADER) + (ULONG)FLTB_PAYLOAD_BYTES(Type);

    if (NameBytes == 0) {
        *NameOffset = 0;
        return FLTB_ALIGN_UP(fixed);
    }

    *NameOffset = (USHORT)fixed;
    return FLTB_ALIGN_UP(fixed + NameBytes);
}

/*++

Routine Description:

    Allocates a queue node holding one record of Bytes bytes.

Arguments:

    Bytes - record size (multiple of 8, at most FLTB_MAX_RECORD_BYTES).

Return Value:

    The node, zero-filled, or NULL.

IRQL:

    <= DISPATCH_LEVEL.

--*/
static PFB_EVENT_NODE
FbNodeAllocate(
    _In_ ULONG Bytes
    )
{
    PFB_EVENT_NODE node;

    node = (PFB_EVENT_NODE)FbAllocate(sizeof(FB_EVENT_NODE) + Bytes, FB_TAG_EVENT);
    if (node != NULL) {
        node->Bytes = Bytes;
    }

    return node;
}

static VOID
FbNodeFree(
    _In_ PFB_EVENT_NODE Node
    )
{
    FbFree(Node, FB_TAG_EVENT);
}

/*++

Routine Description:

    Fills in an event with the caller's identity, ready for a producer to
    add the type-specific parts.

Arguments:

    Event - the event to initialise.

    Type - FLTB_EVENT_*.

    Status - the record's NTSTATUS.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventInit(
    _Out_ PFB_EVENT Event,
    _In_ USHORT Type,
    _In_ NTSTATUS Status
    )
{
    RtlZeroMemory(Event, sizeof(*Event));
    Event->Type = Type;
    Event->Status = Status;
    Event->ProcessId = HandleToULong(PsGetCurrentProcessId());
    Event->ThreadId = HandleToULong(PsGetCurrentThreadId());
}

/*++

Routine Description:

    Tells a producer whether building an event of this type is worth it:
    at least one connection subscribes and the type is in the mask. The
    answer may be stale by the time the event is posted; FbEventPost
    decides again under the lock.

Arguments:

    Type - FLTB_EVENT_*.

Return Value:

    TRUE when the event would be produced now.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbEventWanted(
    _In_ USHORT Type
    )
{
    if (!FbEvents.Initialized || Type == 0 || Type > FLTB_EVENT_TYPE_MAX) {
        return FALSE;
    }

    return (BOOLEAN)(*(volatile ULONG *)&FbEvents.Subscribers != 0 &&
                     (*(volatile ULONGLONG *)&FbEvents.EventMask & (1ULL << Type)) != 0);
}

/*++

Routine Description:

    Writes a record (header, payload, name) into Buffer.

Arguments:

    Buffer - RecordBytes bytes, zero-filled.

    Event - the producer's event.

    Sequence - sequence number (0 until it is known).

    Timestamp - 100 ns units since 1601.

    NameBytes, NameOffset, RecordBytes, Flags - from FbRecordSize and the
    truncation rule.

Return Value:

    None.

IRQL:

    Any.

--*/
static VOID
FbRecordWrite(
    _Out_writes_bytes_(RecordBytes) PFLTB_U8 Buffer,
    _In_ const FB_EVENT *Event,
    _In_ LONGLONG Timestamp,
    _In_ USHORT NameBytes,
    _In_ USHORT NameOffset,
    _In_ ULONG RecordBytes,
    _In_ USHORT Flags
    )
{
    FLTB_RECORD_HEADER header;
    ULONG payloadBytes = (ULONG)FLTB_PAYLOAD_BYTES(Event->Type);

    RtlZeroMemory(&header, sizeof(header));
    header.Size = RecordBytes;
    header.Type = Event->Type;
    header.Flags = Flags;
    header.Timestamp = Timestamp;
    header.ProcessId = Event->ProcessId;
    header.ThreadId = Event->ThreadId;
    header.StreamId = Event->StreamId;
    header.FileObjectId = Event->FileObjectId;
    header.OperationId = Event->OperationId;
    header.Status = Event->Status;
    header.NameOffset = NameOffset;
    header.NameBytes = NameBytes;

    RtlCopyMemory(Buffer, &header, sizeof(header));
    RtlCopyMemory(Buffer + sizeof(header), &Event->Payload, payloadBytes);

    if (NameBytes != 0) {
        RtlCopyMemory(Buffer + NameOffset, Event->Name->Buffer, NameBytes);
    }
}

static VOID
FbRecordSetSequence(
    _Inout_ PFB_EVENT_NODE Node,
    _In_ ULONGLONG Sequence
    )
{
    PFLTB_U8 record = FB_EVENT_NODE_RECORD(Node);

    RtlCopyMemory(record + FIELD_OFFSET(FLTB_RECORD_HEADER, Sequence), &Sequence, sizeof(Sequence));
}

static USHORT
FbRecordType(
    _In_ PFB_EVENT_NODE Node
    )
{
    USHORT type;

    RtlCopyMemory(&type, FB_EVENT_NODE_RECORD(Node) + FIELD_OFFSET(FLTB_RECORD_HEADER, Type), sizeof(type));
    return type;
}

static ULONGLONG
FbRecordSequence(
    _In_ PFB_EVENT_NODE Node
    )
{
    ULONGLONG sequence;

    RtlCopyMemory(&sequence, FB_EVENT_NODE_RECORD(Node) + FIELD_OFFSET(FLTB_RECORD_HEADER, Sequence), sizeof(sequence));
    return sequence;
}

/*++

Routine Description:

    Builds the synthetic DROPPED record for a queue's pending run.

Arguments:

    Queue - the queue (its DropFirst / DropCount).

    Timestamp - when it is materialised.

Return Value:

    The node or NULL (allocation failure).

IRQL:

    <= DISPATCH_LEVEL, FbEvents.Lock held.

--*/
static PFB_EVENT_NODE
FbDroppedNode(
    _In_ PFB_EVENT_QUEUE Queue,
    _In_ LONGLONG Timestamp
    )
{
    FB_EVENT event;
    PFB_EVENT_NODE node;
    USHORT nameOffset;
    ULONG bytes;

    RtlZeroMemory(&event, sizeof(event));
    event.Type = FLTB_EVENT_DROPPED;
    event.Payload.Dropped.FirstSequence = Queue->DropFirst;
    event.Payload.Dropped.Count = Queue->DropCount;

    bytes = FbRecordSize(FLTB_EVENT_DROPPED, 0, &nameOffset);
    node = FbNodeAllocate(bytes);
    if (node == NULL) {
        return NULL;
    }

    FbRecordWrite(FB_EVENT_NODE_RECORD(node), &event, Timestamp, 0, 0, bytes, FLTB_RECORD_SYNTHETIC);
    FbRecordSetSequence(node, Queue->DropFirst);
    return node;
}

/*++

Routine Description:

    Offers one produced record to one connection's queue: queue it (after
    the pending DROPPED record, if any) or count it as dropped.

Arguments:

    Queue - the connection's queue.

    Node - the record, sequence number already set; ownership passes to
    this routine. NULL means the allocation for this queue failed.

    Sequence - the record's sequence number.

    Timestamp - for a DROPPED record materialised now.

Return Value:

    None.

IRQL:

    DISPATCH_LEVEL, FbEvents.Lock held.

--*/
static VOID
FbQueueOffer(
    _Inout_ PFB_EVENT_QUEUE Queue,
    _In_opt_ PFB_EVENT_NODE Node,
    _In_ ULONGLONG Sequence,
    _In_ LONGLONG Timestamp
    )
{
    PFB_EVENT_NODE dropped = NULL;
    BOOLEAN fits;

    fits = (BOOLEAN)(Node != NULL &&
                     Queue->Depth < FbEvents.QueueLimit &&
                     Queue->Bytes + Node->Bytes <= FB_QUEUE_BYTE_LIMIT);

    if (fits && Queue->DropCount != 0) {
        dropped = FbDroppedNode(Queue, Timestamp);
        if (dropped == NULL) {
            fits = FALSE;
        }
    }

    if (!fits) {
        if (Queue->DropCount == 0) {
            Queue->DropFirst = Sequence;
        }
        Queue->DropCount += 1;
        Queue->Dropped += 1;
        FbEvents.Dropped += 1;
        if (Node != NULL) {
            FbNodeFree(Node);
        }
        return;
    }

    if (dropped != NULL) {
        InsertTailList(&Queue->Records, &dropped->Link);
        Queue->Depth += 1;
        Queue->Bytes += dropped->Bytes;
        Queue->DropCount = 0;
        Queue->DropFirst = 0;
    }

    _Analysis_assume_(Node != NULL);
    InsertTailList(&Queue->Records, &Node->Link);
    Queue->Depth += 1;
    Queue->Bytes += Node->Bytes;
}

/*++

Routine Description:

    Produces an event: assigns its sequence number and offers a copy of the
    record to every subscribed connection. Never waits for user mode.

Arguments:

    Event - the producer's event. Event->Name, when set, must be in
    non-paged memory.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventPost(
    _In_ const FB_EVENT *Event
    )
{
    PFB_EVENT_NODE first;
    LARGE_INTEGER now;
    KIRQL oldIrql;
    ULONG bytes;
    ULONG slot;
    USHORT nameBytes = 0;
    USHORT nameOffset;
    USHORT flags;
    ULONGLONG sequence;
    BOOLEAN firstUsed = FALSE;

    if (!FbEventWanted(Event->Type)) {
        return;
    }

    flags = (USHORT)(Event->Flags & (FLTB_RECORD_VALID_FLAGS & ~FLTB_RECORD_SYNTHETIC));

    if (Event->Name != NULL && Event->Name->Buffer != NULL) {
        nameBytes = (USHORT)(Event->Name->Length & ~1u);
        if (nameBytes > FLTB_MAX_NAME_BYTES) {
            nameBytes = (USHORT)FLTB_MAX_NAME_BYTES;
            flags |= FLTB_RECORD_NAME_TRUNCATED;
        }
    }

    bytes = FbRecordSize(Event->Type, nameBytes, &nameOffset);
    KeQuerySystemTimePrecise(&now);

    //
    //  Build the record once, outside the lock; copies for further
    //  subscribers are made under it.
    //

    first = FbNodeAllocate(bytes);
    if (first != NULL) {
        FbRecordWrite(FB_EVENT_NODE_RECORD(first), Event, now.QuadPart, nameBytes, nameOffset, bytes, flags);
    }

    KeAcquireSpinLock(&FbEvents.Lock, &oldIrql);

    if (FbEvents.Subscribers == 0 || (FbEvents.EventMask & (1ULL << Event->Type)) == 0) {
        KeReleaseSpinLock(&FbEvents.Lock, oldIrql);
        if (first != NULL) {
            FbNodeFree(first);
        }
        return;
    }

    sequence = FbEvents.NextSequence;
    FbEvents.NextSequence += 1;
    FbEvents.Produced += 1;
    FbEvents.PerType[Event->Type] += 1;

    for (slot = 0; slot < FLTB_PORT_MAX_CONNECTIONS; slot += 1) {

        PFB_CONNECTION connection = FbEvents.Slots[slot];
        PFB_EVENT_NODE node = NULL;

        if (connection == NULL || !connection->Subscribed || connection->Closing) {
            continue;
        }

        if (first != NULL) {
            if (!firstUsed) {
                node = first;
                firstUsed = TRUE;
            } else {
                node = FbNodeAllocate(bytes);
                if (node != NULL) {
                    RtlCopyMemory(FB_EVENT_NODE_RECORD(node), FB_EVENT_NODE_RECORD(first), bytes);
                }
            }
            if (node != NULL) {
                FbRecordSetSequence(node, sequence);
            }
        }

        FbQueueOffer(&connection->Queue, node, sequence, now.QuadPart);
    }

    KeReleaseSpinLock(&FbEvents.Lock, oldIrql);

    if (first != NULL && !firstUsed) {
        FbNodeFree(first);
    }

    KeSetEvent(&FbEvents.WorkEvent, IO_NO_INCREMENT, FALSE);
}

/*++

Routine Description:

    Frees every record of a queue that the drain thread does not hold.

Arguments:

    Queue - the queue.

    FreeList - receives the removed nodes (freed by the caller outside the
    lock).

Return Value:

    Real (non-synthetic) records removed.

IRQL:

    DISPATCH_LEVEL, FbEvents.Lock held.

--*/
static ULONGLONG
FbQueueDetachAll(
    _Inout_ PFB_EVENT_QUEUE Queue,
    _Inout_ PLIST_ENTRY FreeList,
    _Out_ PULONGLONG FirstCovered,
    _Out_ PULONGLONG LastCovered
    )
{
    ULONGLONG real = 0;
    BOOLEAN any = FALSE;

    *FirstCovered = 0;
    *LastCovered = 0;

    while (!IsListEmpty(&Queue->Records)) {

        PLIST_ENTRY entry = RemoveHeadList(&Queue->Records);
        PFB_EVENT_NODE node = CONTAINING_RECORD(entry, FB_EVENT_NODE, Link);
        ULONGLONG sequence = FbRecordSequence(node);
        ULONGLONG last = sequence;

        if (FbRecordType(node) == FLTB_EVENT_DROPPED) {
            FLTB_DROPPED_PAYLOAD dropped;
            RtlCopyMemory(&dropped, FB_EVENT_NODE_RECORD(node) + sizeof(FLTB_RECORD_HEADER), sizeof(dropped));
            last = dropped.FirstSequence + dropped.Count - 1;
        } else {
            real += 1;
        }

        if (!any) {
            *FirstCovered = sequence;
            any = TRUE;
        }
        *LastCovered = last;

        Queue->Depth -= 1;
        Queue->Bytes -= node->Bytes;
        InsertTailList(FreeList, entry);
    }

    return real;
}

static VOID
FbFreeNodeList(
    _Inout_ PLIST_ENTRY List
    )
{
    while (!IsListEmpty(List)) {
        PLIST_ENTRY entry = RemoveHeadList(List);
        FbNodeFree(CONTAINING_RECORD(entry, FB_EVENT_NODE, Link));
    }
}

/*++

Routine Description:

    FLUSH_EVENTS for one connection: wake the drain thread (push), or turn
    everything queued into a dropped run (discard).

Arguments:

    Connection - the requesting connection.

    Discard - TRUE to discard.

Return Value:

    Records discarded.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
ULONGLONG
FbEventsFlush(
    _In_ PFB_CONNECTION Connection,
    _In_ BOOLEAN Discard
    )
{
    LIST_ENTRY freeList;
    ULONGLONG discarded = 0;
    ULONGLONG firstCovered;
    ULONGLONG lastCovered;
    KIRQL oldIrql;

    if (!Discard) {
        KeSetEvent(&FbEvents.WorkEvent, IO_NO_INCREMENT, FALSE);
        return 0;
    }

    InitializeListHead(&freeList);

    KeAcquireSpinLock(&FbEvents.Lock, &oldIrql);

    if (Connection->Subscribed && !IsListEmpty(&Connection->Queue.Records)) {

        PFB_EVENT_QUEUE queue = &Connection->Queue;

        discarded = FbQueueDetachAll(queue, &freeList, &firstCovered, &lastCovered);

        //
        //  The discarded records and any run already pending are adjacent
        //  (the run always follows the last queued record), so they merge
        //  into one run.
        //

        if (queue->DropCount != 0) {
            lastCovered = queue->DropFirst + queue->DropCount - 1;
        }
        queue->DropFirst = firstCovered;
        queue->DropCount = lastCovered - firstCovered + 1;
        queue->Dropped += discarded;
        FbEvents.Dropped += discarded;
    }

    KeReleaseSpinLock(&FbEvents.Lock, oldIrql);

    FbFreeNodeList(&freeList);
    return discarded;
}

/*++

Routine Description:

    Registers a new connection (events are not sent to it before HELLO).

Arguments:

    Connection - the new connection; a reference is taken for the slot.

Return Value:

    STATUS_SUCCESS, or STATUS_CONNECTION_COUNT_LIMIT when every slot is
    taken.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
FbEventsAddConnection(
    _In_ PFB_CONNECTION Connection
    )
{
    NTSTATUS status = STATUS_CONNECTION_COUNT_LIMIT;
    KIRQL oldIrql;
    ULONG slot;

    InitializeListHead(&Connection->Queue.Records);

    KeAcquireSpinLock(&FbEvents.Lock, &oldIrql);
    for (slot = 0; slot < FLTB_PORT_MAX_CONNECTIONS; slot += 1) {
        if (FbEvents.Slots[slot] == NULL) {
            FbConnectionReference(Connection);
            Connection->Slot = slot;
            FbEvents.Slots[slot] = Connection;
            FbEvents.Connections += 1;
            status = STATUS_SUCCESS;
            break;
        }
    }
    KeReleaseSpinLock(&FbEvents.Lock, oldIrql);

    return status;
}

/*++

Routine Description:

    Removes a connection: its queued records are freed; records the drain
    thread holds are freed when its send returns.

Arguments:

    Connection - the connection (Closing already set by the caller).

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventsRemoveConnection(
    _In_ PFB_CONNECTION Connection
    )
{
    LIST_ENTRY freeList;
    ULONGLONG firstCovered;
    ULONGLONG lastCovered;
    BOOLEAN removed = FALSE;
    KIRQL oldIrql;

    InitializeListHead(&freeList);

    KeAcquireSpinLock(&FbEvents.Lock, &oldIrql);
    if (Connection->Slot < FLTB_PORT_MAX_CONNECTIONS &&
        FbEvents.Slots[Connection->Slot] == Connection) {

        FbEvents.Slots[Connection->Slot] = NULL;
        FbEvents.Connections -= 1;
        if (Connection->Subscribed) {
            Connection->Subscribed = FALSE;
            FbEvents.Subscribers -= 1;
        }
        (VOID)FbQueueDetachAll(&Connection->Queue, &freeList, &firstCovered, &lastCovered);
        removed = TRUE;
    }
    KeReleaseSpinLock(&FbEvents.Lock, oldIrql);

    FbFreeNodeList(&freeList);

    if (removed) {
        FbConnectionDereference(Connection);
    }
}

/*++

Routine Description:

    Makes a connection an event subscriber (HELLO with
    FLTB_CAP_EVENT_BATCHES). It receives every event produced from now on.

Arguments:

    Connection - the connection.

Return Value:

    The sequence number of the next event produced.

IRQL:

    <= DISPATCH_LEVEL.

--*/
_IRQL_requires_max_(DISPATCH_LEVEL)
ULONGLONG
FbEventsSubscribe(
    _In_ PFB_CONNECTION Connection
    )
{
    ULONGLONG next;
    KIRQL oldIrql;

    KeAcquireSpinLock(&FbEvents.Lock, &oldIrql);
    if (!Connection->Subscribed && !Connection->Closing &&
        Connection->Slot < FLTB_PORT_MAX_CONNECTIONS &&
        FbEvents.Slots[Connection->Slot] == Connection) {
        Connection->Subscribed = TRUE;
        FbEvents.Subscribers += 1;
    }
    next = FbEvents.NextSequence;
    KeReleaseSpinLock(&FbEvents.Lock, oldIrql);

    return next;
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventsConfigure(
    _In_ BOOLEAN SetMask,
    _In_ ULONGLONG Mask,
    _In_ BOOLEAN SetLimit,
    _In_ ULONG Limit
    )
/*++

Routine Description:

    Applies the event part of CONFIGURE (already validated by comm.c).
    A smaller limit never drops queued records; new ones are dropped until
    the queue is below it.

Arguments:

    SetMask, Mask - new event type mask.

    SetLimit, Limit - new queue limit in records.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
{
    KIRQL oldIrql;

    KeAcquireSpinLock(&FbEvents.Lock, &oldIrql);
    if (SetMask) {
        FbEvents.EventMask = Mask & FLTB_EVENT_MASK_ALL;
    }
    if (SetLimit) {
        FbEvents.QueueLimit = Limit;
    }
    KeReleaseSpinLock(&FbEvents.Lock, oldIrql);
}

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventsGetStats(
    _Out_ PFB_EVENT_STATS Stats
    )
/*++

Routine Description:

    A consistent snapshot of the counters for GET_STATS and HELLO.

Arguments:

    Stats - receives the snapshot.

Return Value:

    None.

IRQL:

    <= DISPATCH_LEVEL.

--*/
{
    KIRQL oldIrql;
    ULONG slot;

    RtlZeroMemory(Stats, sizeof(*Stats));

    KeAcquireSpinLock(&FbEvents.Lock, &oldIrql);
    Stats->Produced = FbEvents.Produced;
    Stats->Delivered = FbEvents.Delivered;
    Stats->Dropped = FbEvents.Dropped;
    Stats->NextSequence = FbEvents.NextSequence;
    Stats->QueueLimit = FbEvents.QueueLimit;
    Stats->Connections = FbEvents.Connections;
    Stats->EventTypeMask = FbEvents.EventMask;
    RtlCopyMemory(Stats->PerType, FbEvents.PerType, sizeof(Stats->PerType));
    for (slot = 0; slot < FLTB_PORT_MAX_CONNECTIONS; slot += 1) {
        if (FbEvents.Slots[slot] != NULL) {
            Stats->QueueDepth += FbEvents.Slots[slot]->Queue.Depth;
        }
    }
    KeReleaseSpinLock(&FbEvents.Lock, oldIrql);
}

/*++

Routine Description:

    Builds one batch from the head of a connection's queue into the batch
    buffer. The records stay accounted in Depth until delivered.

Arguments:

    Queue - the queue (FbEvents.Lock held by the caller).

    Taken - receives the detached nodes, in order.

    Count - receives the number of records.

Return Value:

    Bytes of records detached (0 when the queue is empty).

IRQL:

    DISPATCH_LEVEL, FbEvents.Lock held.

--*/
static ULONG
FbQueueDetachBatch(
    _Inout_ PFB_EVENT_QUEUE Queue,
    _Inout_ PLIST_ENTRY Taken,
    _Out_ PULONG Count
    )
{
    ULONG bytes = 0;

    *Count = 0;

    while (!IsListEmpty(&Queue->Records)) {

        PFB_EVENT_NODE node = CONTAINING_RECORD(Queue->Records.Flink, FB_EVENT_NODE, Link);

        if (sizeof(FLTB_BATCH_HEADER) + bytes + node->Bytes > FLTB_MAX_BATCH_BYTES) {
            break;
        }

        RemoveEntryList(&node->Link);
        InsertTailList(Taken, &node->Link);
        bytes += node->Bytes;
        *Count += 1;
    }

    Queue->InFlight = *Count;
    return bytes;
}

/*++

Routine Description:

    Copies detached records behind a batch header.

Arguments:

    Batch - FLTB_MAX_BATCH_BYTES bytes.

    Taken - the records, in order.

    Count - how many.

    RecordBytes - their total size.

    Real - receives how many are real (non-synthetic) events.

Return Value:

    The batch size (header + records).

IRQL:

    PASSIVE_LEVEL (drain thread).

--*/
static ULONG
FbBatchBuild(
    _Out_writes_bytes_(FLTB_MAX_BATCH_BYTES) PFLTB_U8 Batch,
    _In_ PLIST_ENTRY Taken,
    _In_ ULONG Count,
    _In_ ULONG RecordBytes,
    _Out_ PULONGLONG Real
    )
{
    FLTB_BATCH_HEADER header;
    PLIST_ENTRY entry;
    ULONG offset = sizeof(FLTB_BATCH_HEADER);

    RtlZeroMemory(&header, sizeof(header));
    header.Magic = FLTB_MAGIC_BATCH;
    header.Version = FLTB_PROTOCOL_VERSION;
    header.HeaderBytes = sizeof(FLTB_BATCH_HEADER);
    header.RecordCount = Count;
    header.TotalBytes = offset + RecordBytes;
    *Real = 0;

    for (entry = Taken->Flink; entry != Taken; entry = entry->Flink) {

        PFB_EVENT_NODE node = CONTAINING_RECORD(entry, FB_EVENT_NODE, Link);
        ULONGLONG sequence = FbRecordSequence(node);

        if (entry == Taken->Flink) {
            header.FirstSequence = sequence;
        }
        header.LastSequence = sequence;

        if (FbRecordType(node) == FLTB_EVENT_DROPPED) {
            FLTB_DROPPED_PAYLOAD dropped;
            RtlCopyMemory(&dropped, FB_EVENT_NODE_RECORD(node) + sizeof(FLTB_RECORD_HEADER), sizeof(dropped));
            header.DroppedSinceLast += dropped.Count;
        } else {
            *Real += 1;
        }

        RtlCopyMemory(Batch + offset, FB_EVENT_NODE_RECORD(node), node->Bytes);
        offset += node->Bytes;
    }

    RtlCopyMemory(Batch, &header, sizeof(header));
    return offset;
}

/*++

Routine Description:

    One pass of the drain thread: for each subscribed connection with
    records, send one batch. Delivered records are freed; undelivered ones
    (timeout, disconnect) go back to the head of their queue, or are freed
    when the connection is closing.

Arguments:

    None.

Return Value:

    TRUE when at least one batch was delivered (call again).

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
BOOLEAN
FbEventsDrainOnce(
    VOID
    )
{
    BOOLEAN delivered = FALSE;
    ULONG slot;

    for (slot = 0; slot < FLTB_PORT_MAX_CONNECTIONS; slot += 1) {

        PFB_CONNECTION connection;
        LIST_ENTRY taken;
        LARGE_INTEGER timeout;
        NTSTATUS status;
        ULONGLONG real = 0;
        ULONG count = 0;
        ULONG bytes = 0;
        ULONG total;
        KIRQL oldIrql;

        InitializeListHead(&taken);

        KeAcquireSpinLock(&FbEvents.Lock, &oldIrql);
        connection = FbEvents.Slots[slot];
        if (connection == NULL || !connection->Subscribed || connection->Closing ||
            connection->Queue.InFlight != 0 || IsListEmpty(&connection->Queue.Records)) {
            KeReleaseSpinLock(&FbEvents.Lock, oldIrql);
            continue;
        }
        FbConnectionReference(connection);
        bytes = FbQueueDetachBatch(&connection->Queue, &taken, &count);
        KeReleaseSpinLock(&FbEvents.Lock, oldIrql);

        total = FbBatchBuild(FbEvents.Batch, &taken, count, bytes, &real);

        timeout.QuadPart = -10000LL * FB_DEFAULT_SEND_TIMEOUT_MS;
        status = FltSendMessage(FbGlobals.Filter,
                                &connection->ClientPort,
                                FbEvents.Batch,
                                total,
                                NULL,
                                NULL,
                                &timeout);

        KeAcquireSpinLock(&FbEvents.Lock, &oldIrql);
        connection->Queue.InFlight = 0;
        if (status == STATUS_SUCCESS) {
            connection->Queue.Depth -= count;
            connection->Queue.Bytes -= bytes;
            connection->Queue.Delivered += real;
            FbEvents.Delivered += real;
            delivered = TRUE;
        } else if (!connection->Closing && connection->Subscribed) {

            //
            //  STATUS_TIMEOUT (a success code, but nothing was delivered),
            //  STATUS_PORT_DISCONNECTED, ...: keep the records, in order.
            //

            while (!IsListEmpty(&taken)) {
                PLIST_ENTRY entry = RemoveTailList(&taken);
                InsertHeadList(&connection->Queue.Records, entry);
            }
        } else {
            connection->Queue.Depth -= count;
            connection->Queue.Bytes -= bytes;
        }
        KeReleaseSpinLock(&FbEvents.Lock, oldIrql);

        FbFreeNodeList(&taken);
        FbConnectionDereference(connection);
    }

    return delivered;
}

/*++

Routine Description:

    The drain thread: waits for work (or a stop request, or the idle
    timeout that retries undelivered batches) and drains.

Arguments:

    Context - unused.

Return Value:

    None (terminates itself).

IRQL:

    PASSIVE_LEVEL.

--*/
static VOID
FbDrainThread(
    _In_ PVOID Context
    )
{
    PVOID objects[2];
    LARGE_INTEGER idle;

    UNREFERENCED_PARAMETER(Context);

    objects[0] = &FbEvents.StopEvent;
    objects[1] = &FbEvents.WorkEvent;
    idle.QuadPart = -10000LL * FB_DRAIN_IDLE_WAIT_MS;

    for (;;) {

        NTSTATUS status = KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode,
                                                   FALSE, &idle, NULL);

        if (status == STATUS_WAIT_0 || *(volatile BOOLEAN *)&FbEvents.Stopping) {
            break;
        }

        while (FbEventsDrainOnce()) {
            if (*(volatile BOOLEAN *)&FbEvents.Stopping) {
                break;
            }
        }
    }

    PsTerminateSystemThread(STATUS_SUCCESS);
}

/*++

Routine Description:

    Initialises the event module (before the port exists).

Arguments:

    None.

Return Value:

    STATUS_SUCCESS or STATUS_INSUFFICIENT_RESOURCES.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbEventsInitialize(
    VOID
    )
{
    RtlZeroMemory(&FbEvents, sizeof(FbEvents));
    KeInitializeSpinLock(&FbEvents.Lock);
    KeInitializeEvent(&FbEvents.WorkEvent, SynchronizationEvent, FALSE);
    KeInitializeEvent(&FbEvents.StopEvent, NotificationEvent, FALSE);
    FbEvents.NextSequence = 1;
    FbEvents.EventMask = FLTB_EVENT_MASK_ALL;
    FbEvents.QueueLimit = FLTB_QUEUE_LIMIT_DEFAULT;

    FbEvents.Batch = (PFLTB_U8)FbAllocate(FLTB_MAX_BATCH_BYTES, FB_TAG_BATCH);
    if (FbEvents.Batch == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    FbEvents.Initialized = TRUE;
    return STATUS_SUCCESS;
}

/*++

Routine Description:

    Starts the drain thread.

Arguments:

    None.

Return Value:

    NTSTATUS of PsCreateSystemThread / ObReferenceObjectByHandle.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbEventsStartDrain(
    VOID
    )
{
    OBJECT_ATTRIBUTES attributes;
    HANDLE thread;
    NTSTATUS status;

    InitializeObjectAttributes(&attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);

    status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, &attributes, NULL, NULL,
                                  FbDrainThread, NULL);
    if (!NT_SUCCESS(status)) {
        return status;
    }

    status = ObReferenceObjectByHandle(thread, THREAD_ALL_ACCESS, *PsThreadType, KernelMode,
                                       &FbEvents.DrainThread, NULL);
    if (!NT_SUCCESS(status)) {

        //
        //  No object to wait on later, and DriverEntry fails and the image
        //  is unloaded as soon as this returns: the thread must be gone
        //  before that (it runs code in this image). Stop it and wait on the
        //  handle itself.
        //

        FbEvents.DrainThread = NULL;
        FbEvents.Stopping = TRUE;
        KeSetEvent(&FbEvents.StopEvent, IO_NO_INCREMENT, FALSE);
        (VOID)ZwWaitForSingleObject(thread, FALSE, NULL);
    }

    ZwClose(thread);
    return status;
}

/*++

Routine Description:

    Stops the drain thread and waits for it. The thread is at most one
    FltSendMessage timeout away from seeing the stop request.

Arguments:

    None.

Return Value:

    None.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbEventsStopDrain(
    VOID
    )
{
    FbEvents.Stopping = TRUE;
    KeSetEvent(&FbEvents.StopEvent, IO_NO_INCREMENT, FALSE);

    if (FbEvents.DrainThread != NULL) {
        (VOID)KeWaitForSingleObject(FbEvents.DrainThread, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(FbEvents.DrainThread);
        FbEvents.DrainThread = NULL;
    }
}

/*++

Routine Description:

    Frees what the module still owns. Every connection has been removed
    (FltUnregisterFilter ran the disconnect callbacks) and the drain thread
    has stopped.

Arguments:

    None.

Return Value:

    None.

IRQL:

    PASSIVE_LEVEL.

--*/
_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbEventsUninitialize(
    VOID
    )
{
    FbEvents.Initialized = FALSE;

    if (FbEvents.Batch != NULL) {
        FbFree(FbEvents.Batch, FB_TAG_BATCH);
        FbEvents.Batch = NULL;
    }
}
