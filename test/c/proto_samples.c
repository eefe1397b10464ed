/*
 * Sample messages built in C from driver/include/fltbridge_proto.h, written as hex in JSON.
 *
 * Each sample fills the header's structures field by field, the way the driver (and the addon)
 * do, and lays out variable tails (names, namespace entries, records) by the header's rules.
 * test/protocol/c-samples.test.ts holds the same messages as TypeScript values, written
 * independently: the TS codec must encode them to exactly these bytes and decode these bytes
 * to exactly those values. Built by the host compiler and by clang for x86_64-w64-windows-gnu
 * (run under Wine); both builds must print the same bytes.
 *
 * Usage: proto_samples <output.json>
 */
#include <stdio.h>
#include <string.h>

#include "fltbridge_proto.h"

/* NTSTATUS values used below ([MS-ERREF] 2.3.1). */
#define SAMPLE_STATUS_SUCCESS                  ((FLTB_I32)0x00000000)
#define SAMPLE_STATUS_PENDING                  ((FLTB_I32)0x00000103)
#define SAMPLE_STATUS_OPLOCK_HANDLE_CLOSED     ((FLTB_I32)0x00000216)
#define SAMPLE_STATUS_INVALID_PARAMETER        ((FLTB_I32)0xC000000Du)
#define SAMPLE_STATUS_INVALID_DEVICE_REQUEST   ((FLTB_I32)0xC0000010u)
#define SAMPLE_STATUS_FILE_LOCK_CONFLICT       ((FLTB_I32)0xC0000054u)
#define SAMPLE_STATUS_LOCK_NOT_GRANTED         ((FLTB_I32)0xC0000055u)
#define SAMPLE_STATUS_REVISION_MISMATCH        ((FLTB_I32)0xC0000059u)
#define SAMPLE_STATUS_NOT_FOUND                ((FLTB_I32)0xC0000225u)

/* FSCTL_REQUEST_OPLOCK, CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 144, METHOD_BUFFERED, FILE_ANY_ACCESS). */
#define SAMPLE_FSCTL_REQUEST_OPLOCK            0x00090240u

#define SAMPLE_TIMESTAMP_BASE                  133444444440000000LL

static FILE *Out;
static int FirstSample = 1;
static int Failed;

static unsigned char Batch[FLTB_MAX_BATCH_BYTES];

static void Emit(const char *Name, const void *Bytes, size_t Length)
{
    static const char Hex[] = "0123456789abcdef";
    const unsigned char *Byte = (const unsigned char *)Bytes;
    size_t Index;

    fputs(FirstSample ? "\n" : ",\n", Out);
    FirstSample = 0;
    fprintf(Out, "    \"%s\": \"", Name);
    for (Index = 0; Index < Length; Index++) {
        fputc(Hex[Byte[Index] >> 4], Out);
        fputc(Hex[Byte[Index] & 15u], Out);
    }
    fputc('"', Out);
}

/* ASCII text as UTF-16 code units; returns the number of units. */
static size_t PutAscii(FLTB_U16 *Units, const char *Text)
{
    size_t Count = 0;
    while (Text[Count] != 0) {
        Units[Count] = (FLTB_U16)(unsigned char)Text[Count];
        Count++;
    }
    return Count;
}

static void InitCommand(FLTB_COMMAND_HEADER *Header, FLTB_U16 Command, FLTB_U32 Size, FLTB_U64 RequestId)
{
    memset(Header, 0, sizeof(*Header));
    Header->Magic = FLTB_MAGIC_COMMAND;
    Header->Version = FLTB_PROTOCOL_VERSION;
    Header->Command = Command;
    Header->Size = Size;
    Header->Flags = 0;
    Header->RequestId = RequestId;
}

static void InitReply(FLTB_REPLY_HEADER *Header, FLTB_U16 Command, FLTB_U32 Size, FLTB_I32 Status, FLTB_U64 RequestId)
{
    memset(Header, 0, sizeof(*Header));
    Header->Magic = FLTB_MAGIC_REPLY;
    Header->Version = FLTB_PROTOCOL_VERSION;
    Header->Command = Command;
    Header->Size = Size;
    Header->Status = Status;
    Header->RequestId = RequestId;
}

/* ------------------------------------------------------------------------ */
/* Connection context and commands.                                          */
/* ------------------------------------------------------------------------ */

static void SampleConnectContext(void)
{
    FLTB_CONNECT_CONTEXT Context;
    memset(&Context, 0, sizeof(Context));
    Context.Magic = FLTB_MAGIC_CONNECT;
    Context.Version = FLTB_PROTOCOL_VERSION;
    Context.Size = (FLTB_U16)sizeof(Context);
    Context.ClientCapabilities = FLTB_CAP_ALL;
    Emit("connect_context", &Context, sizeof(Context));
}

static void SampleHello(void)
{
    FLTB_HELLO_REQUEST Request;
    FLTB_HELLO_REPLY Reply;

    memset(&Request, 0, sizeof(Request));
    InitCommand(&Request.Header, FLTB_CMD_HELLO, sizeof(Request), 0x0102030405060708ull);
    Request.MinVersion = 1;
    Request.MaxVersion = 3;
    Request.ClientCapabilities = FLTB_CAP_MANAGED_STREAMS | FLTB_CAP_EVENT_BATCHES;
    Request.ClientProcessId = 4242;
    Emit("hello_request", &Request, sizeof(Request));

    memset(&Reply, 0, sizeof(Reply));
    InitReply(&Reply.Header, FLTB_CMD_HELLO, sizeof(Reply), SAMPLE_STATUS_SUCCESS, 0x0102030405060708ull);
    Reply.ProtocolVersion = FLTB_PROTOCOL_VERSION;
    Reply.DriverMajor = FLTB_DRIVER_VERSION_MAJOR;
    Reply.DriverMinor = FLTB_DRIVER_VERSION_MINOR;
    Reply.DriverPatch = FLTB_DRIVER_VERSION_PATCH;
    Reply.Capabilities = FLTB_CAP_ALL;
    Reply.MaxRecordBytes = FLTB_MAX_RECORD_BYTES;
    Reply.MaxBatchBytes = FLTB_MAX_BATCH_BYTES;
    Reply.QueueLimit = FLTB_QUEUE_LIMIT_DEFAULT;
    Reply.NextSequence = 0x1122334455667788ull;
    Reply.EventTypeMask = FLTB_EVENT_MASK_ALL;
    Emit("hello_reply", &Reply, sizeof(Reply));

    /* No common version: the full reply, naming the driver's own version. */
    memset(&Reply, 0, sizeof(Reply));
    InitReply(&Reply.Header, FLTB_CMD_HELLO, sizeof(Reply), SAMPLE_STATUS_REVISION_MISMATCH, 77);
    Reply.Header.Version = 9;
    Reply.ProtocolVersion = FLTB_PROTOCOL_VERSION;
    Reply.DriverMajor = FLTB_DRIVER_VERSION_MAJOR;
    Reply.DriverMinor = FLTB_DRIVER_VERSION_MINOR;
    Reply.DriverPatch = FLTB_DRIVER_VERSION_PATCH;
    Reply.Capabilities = FLTB_CAP_ALL;
    Reply.MaxRecordBytes = FLTB_MAX_RECORD_BYTES;
    Reply.MaxBatchBytes = FLTB_MAX_BATCH_BYTES;
    Reply.QueueLimit = FLTB_QUEUE_LIMIT_DEFAULT;
    Emit("hello_reply_mismatch", &Reply, sizeof(Reply));
}

/* Append one namespace entry at Offset; returns the entry's size. */
static size_t AppendNamespace(unsigned char *Buffer, size_t Offset, FLTB_U16 Kind, const FLTB_U16 *Name, size_t Units)
{
    FLTB_NAMESPACE_ENTRY Entry;
    memset(&Entry, 0, sizeof(Entry));
    Entry.Kind = Kind;
    Entry.NameBytes = (FLTB_U16)(Units * 2u);
    Entry.Size = (FLTB_U16)(sizeof(Entry) + FLTB_ALIGN_UP(Units * 2u));
    memset(Buffer + Offset, 0, Entry.Size);
    memcpy(Buffer + Offset, &Entry, sizeof(Entry));
    memcpy(Buffer + Offset + sizeof(Entry), Name, Units * 2u);
    return Entry.Size;
}

static void SampleConfigure(void)
{
    unsigned char Buffer[512];
    FLTB_CONFIGURE_REQUEST Request;
    FLTB_CONFIGURE_REPLY Reply;
    FLTB_U16 Name[64];
    size_t Units;
    size_t Offset = sizeof(FLTB_CONFIGURE_REQUEST);

    memset(Buffer, 0, sizeof(Buffer));
    Units = PutAscii(Name, "\\Device\\HarddiskVolume3\\work");
    Offset += AppendNamespace(Buffer, Offset, FLTB_NAMESPACE_MANAGED, Name, Units);

    /* Not only ASCII: e acute, the euro sign and U+1F600 as a surrogate pair. */
    Units = PutAscii(Name, "\\Device\\HarddiskVolume3\\obs\\");
    Name[Units++] = 0x00E9;
    Name[Units++] = 0x20AC;
    Name[Units++] = 0xD83D;
    Name[Units++] = 0xDE00;
    Name[Units++] = 0x0078;
    Offset += AppendNamespace(Buffer, Offset, FLTB_NAMESPACE_OBSERVE, Name, Units);

    memset(&Request, 0, sizeof(Request));
    InitCommand(&Request.Header, FLTB_CMD_CONFIGURE, (FLTB_U32)Offset, 2);
    Request.EventTypeMask = FLTB_EVENT_MASK_ALL & ~(1ull << FLTB_EVENT_IO);
    Request.QueueLimit = 4096;
    Request.Flags = FLTB_CONFIGURE_SET_NAMESPACES | FLTB_CONFIGURE_SET_EVENT_MASK | FLTB_CONFIGURE_SET_QUEUE_LIMIT;
    Request.NamespaceCount = 2;
    memcpy(Buffer, &Request, sizeof(Request));
    Emit("configure_request", Buffer, Offset);

    /* Only the queue limit: the other parts keep their values. */
    memset(&Request, 0, sizeof(Request));
    InitCommand(&Request.Header, FLTB_CMD_CONFIGURE, sizeof(Request), 12);
    Request.QueueLimit = FLTB_QUEUE_LIMIT_MIN;
    Request.Flags = FLTB_CONFIGURE_SET_QUEUE_LIMIT;
    Emit("configure_queue_limit_request", &Request, sizeof(Request));

    memset(&Reply, 0, sizeof(Reply));
    InitReply(&Reply.Header, FLTB_CMD_CONFIGURE, sizeof(Reply), SAMPLE_STATUS_SUCCESS, 2);
    Reply.EventTypeMask = FLTB_EVENT_MASK_ALL & ~(1ull << FLTB_EVENT_IO);
    Reply.QueueLimit = 4096;
    Reply.ManagedCount = 1;
    Reply.ObserveCount = 1;
    Emit("configure_reply", &Reply, sizeof(Reply));
}

static void SampleStats(void)
{
    FLTB_COMMAND_HEADER Request;
    FLTB_STATS_REPLY Reply;
    unsigned Type;

    InitCommand(&Request, FLTB_CMD_GET_STATS, sizeof(Request), 3);
    Emit("get_stats_request", &Request, sizeof(Request));

    memset(&Reply, 0, sizeof(Reply));
    InitReply(&Reply.Header, FLTB_CMD_GET_STATS, sizeof(Reply), SAMPLE_STATUS_SUCCESS, 3);
    Reply.EventsProduced = 1000;
    Reply.EventsDelivered = 990;
    Reply.EventsDropped = 10;
    Reply.NextSequence = 1001;
    Reply.QueueDepth = 7;
    Reply.QueueLimit = 4096;
    Reply.PendedOperations = 2;
    Reply.ManagedStreams = 3;
    Reply.ActiveProbes = 1;
    Reply.Connections = 1;
    for (Type = FLTB_EVENT_DROPPED; Type <= FLTB_EVENT_TYPE_MAX; Type++) {
        Reply.PerTypeProduced[Type] = 100u + Type;
    }
    Reply.PerTypeProduced[FLTB_EVENT_TYPE_SLOTS - 1] = 0xFFFFFFFFFFFFFFFFull;
    Emit("get_stats_reply", &Reply, sizeof(Reply));
}

static void SampleProbes(void)
{
    unsigned char Buffer[256];
    FLTB_PROBE_START_REQUEST Request;
    FLTB_PROBE_START_REPLY Reply;
    FLTB_PROBE_STOP_REQUEST Stop;
    FLTB_REPLY_HEADER StopReply;
    FLTB_U16 Path[64];
    size_t Units;
    size_t Size;

    Units = PutAscii(Path, "\\Device\\HarddiskVolume3\\work\\trip.txt");
    Size = sizeof(Request) + FLTB_ALIGN_UP(Units * 2u);
    memset(Buffer, 0, sizeof(Buffer));
    memset(&Request, 0, sizeof(Request));
    InitCommand(&Request.Header, FLTB_CMD_PROBE_START, (FLTB_U32)Size, 4);
    Request.Kind = FLTB_PROBE_OPLOCK;
    Request.Flags = FLTB_PROBE_FLAG_REARM;
    Request.OplockLevel = FLTB_OPLOCK_RH;
    Request.PathBytes = (FLTB_U16)(Units * 2u);
    memcpy(Buffer, &Request, sizeof(Request));
    memcpy(Buffer + sizeof(Request), Path, Units * 2u);
    Emit("probe_start_oplock_request", Buffer, Size);

    Units = PutAscii(Path, "\\Device\\HarddiskVolume3\\work\\data.bin");
    Size = sizeof(Request) + FLTB_ALIGN_UP(Units * 2u);
    memset(Buffer, 0, sizeof(Buffer));
    memset(&Request, 0, sizeof(Request));
    InitCommand(&Request.Header, FLTB_CMD_PROBE_START, (FLTB_U32)Size, 5);
    Request.Kind = FLTB_PROBE_READ;
    Request.Flags = 0;
    Request.ReadLength = 4096;
    Request.ReadOffset = 0x100000000ull;
    Request.PathBytes = (FLTB_U16)(Units * 2u);
    memcpy(Buffer, &Request, sizeof(Request));
    memcpy(Buffer + sizeof(Request), Path, Units * 2u);
    Emit("probe_start_read_request", Buffer, Size);

    memset(&Reply, 0, sizeof(Reply));
    InitReply(&Reply.Header, FLTB_CMD_PROBE_START, sizeof(Reply), SAMPLE_STATUS_SUCCESS, 4);
    Reply.ProbeId = 7;
    Emit("probe_start_reply", &Reply, sizeof(Reply));

    memset(&Stop, 0, sizeof(Stop));
    InitCommand(&Stop.Header, FLTB_CMD_PROBE_STOP, sizeof(Stop), 6);
    Stop.ProbeId = 7;
    Emit("probe_stop_request", &Stop, sizeof(Stop));

    InitReply(&StopReply, FLTB_CMD_PROBE_STOP, sizeof(StopReply), SAMPLE_STATUS_SUCCESS, 6);
    Emit("probe_stop_reply", &StopReply, sizeof(StopReply));
}

static void SampleFlush(void)
{
    FLTB_FLUSH_EVENTS_REQUEST Request;
    FLTB_FLUSH_EVENTS_REPLY Reply;

    memset(&Request, 0, sizeof(Request));
    InitCommand(&Request.Header, FLTB_CMD_FLUSH_EVENTS, sizeof(Request), 8);
    Request.Flags = FLTB_FLUSH_DISCARD;
    Emit("flush_events_request", &Request, sizeof(Request));

    memset(&Reply, 0, sizeof(Reply));
    InitReply(&Reply.Header, FLTB_CMD_FLUSH_EVENTS, sizeof(Reply), SAMPLE_STATUS_SUCCESS, 8);
    Reply.Discarded = 12;
    Reply.NextSequence = 2000;
    Emit("flush_events_reply", &Reply, sizeof(Reply));
}

static void SampleErrors(void)
{
    FLTB_REPLY_HEADER Reply;

    InitReply(&Reply, FLTB_CMD_CONFIGURE, sizeof(Reply), SAMPLE_STATUS_INVALID_PARAMETER, 9);
    Emit("error_reply_configure", &Reply, sizeof(Reply));
    InitReply(&Reply, FLTB_CMD_PROBE_STOP, sizeof(Reply), SAMPLE_STATUS_NOT_FOUND, 10);
    Emit("error_reply_probe_stop", &Reply, sizeof(Reply));
    InitReply(&Reply, FLTB_CMD_GET_STATS, sizeof(Reply), SAMPLE_STATUS_INVALID_DEVICE_REQUEST, 11);
    Emit("error_reply_get_stats", &Reply, sizeof(Reply));
    /* A command code the driver does not know: refused, the code echoed. */
    InitReply(&Reply, 0x77, sizeof(Reply), SAMPLE_STATUS_INVALID_DEVICE_REQUEST, 13);
    Emit("error_reply_unknown_command", &Reply, sizeof(Reply));
}

/* ------------------------------------------------------------------------ */
/* Event batches.                                                            */
/* ------------------------------------------------------------------------ */

static void InitRecord(FLTB_RECORD_HEADER *Header, FLTB_U16 Type, FLTB_U16 Flags, FLTB_U64 Sequence, FLTB_I32 Status)
{
    memset(Header, 0, sizeof(*Header));
    Header->Type = Type;
    Header->Flags = Flags;
    Header->Sequence = Sequence;
    Header->Timestamp = SAMPLE_TIMESTAMP_BASE + (FLTB_I64)Sequence * 1000;
    Header->ProcessId = 4242;
    Header->ThreadId = 5000u + (FLTB_U32)Sequence;
    Header->StreamId = 7;
    Header->FileObjectId = 0x100;
    Header->OperationId = 0x1000u + Sequence;
    Header->Status = Status;
}

/* Append a record at Offset of Batch, in the canonical layout (name right after the payload). */
static size_t AppendRecord(size_t Offset, FLTB_RECORD_HEADER *Header, const void *Payload, size_t PayloadBytes,
                           const FLTB_U16 *Name, size_t NameUnits)
{
    size_t Size = sizeof(*Header) + PayloadBytes + FLTB_ALIGN_UP(NameUnits * 2u);
    if (PayloadBytes != FLTB_PAYLOAD_BYTES(Header->Type)) {
        fprintf(stderr, "proto_samples: payload of type %u is %u bytes\n", (unsigned)Header->Type, (unsigned)PayloadBytes);
        Failed = 1;
    }
    Header->Size = (FLTB_U32)Size;
    Header->NameOffset = (FLTB_U16)(NameUnits != 0 ? sizeof(*Header) + PayloadBytes : 0);
    Header->NameBytes = (FLTB_U16)(NameUnits * 2u);
    memset(Batch + Offset, 0, Size);
    memcpy(Batch + Offset, Header, sizeof(*Header));
    memcpy(Batch + Offset + sizeof(*Header), Payload, PayloadBytes);
    if (NameUnits != 0) memcpy(Batch + Offset + Header->NameOffset, Name, NameUnits * 2u);
    return Size;
}

static void FinishBatch(size_t Total, FLTB_U32 Count, FLTB_U64 First, FLTB_U64 Last, FLTB_U64 Dropped, FLTB_U32 Reserved)
{
    FLTB_BATCH_HEADER Header;
    memset(&Header, 0, sizeof(Header));
    Header.Magic = FLTB_MAGIC_BATCH;
    Header.Version = FLTB_PROTOCOL_VERSION;
    Header.HeaderBytes = (FLTB_U16)sizeof(Header);
    Header.RecordCount = Count;
    Header.TotalBytes = (FLTB_U32)Total;
    Header.FirstSequence = First;
    Header.LastSequence = Last;
    Header.DroppedSinceLast = Dropped;
    Header.Flags = 0;
    Header.Reserved = Reserved;
    memcpy(Batch, &Header, sizeof(Header));
}

static void SampleEventBatch(void)
{
    FLTB_RECORD_HEADER H;
    FLTB_U16 NameA[64], NameB[64], NameT[64], NameLone[64], NameLong[1024];
    size_t UnitsA, UnitsB, UnitsT, UnitsLone, UnitsLong;
    size_t Offset = sizeof(FLTB_BATCH_HEADER);
    FLTB_U32 Count = 0;

    UnitsA = PutAscii(NameA, "\\Device\\HarddiskVolume3\\work\\a.txt");
    UnitsB = PutAscii(NameB, "\\Device\\HarddiskVolume3\\work\\");
    NameB[UnitsB++] = 0x00E9;
    NameB[UnitsB++] = 0x20AC;
    NameB[UnitsB++] = 0xD83D;
    NameB[UnitsB++] = 0xDE00;
    UnitsB += PutAscii(NameB + UnitsB, ".txt");
    UnitsT = PutAscii(NameT, "\\Device\\HarddiskVolume3\\work\\trip.txt");
    /* Unpaired surrogates: a low one, then a high one, as NTFS allows in names. */
    UnitsLone = PutAscii(NameLone, "\\Device\\HarddiskVolume3\\work\\bad");
    NameLone[UnitsLone++] = 0xDC00;
    NameLone[UnitsLone++] = 0xD800;
    NameLone[UnitsLone++] = 0x007A;
    /* A name cut at FLTB_MAX_NAME_BYTES. */
    UnitsLong = PutAscii(NameLong, "\\Device\\HarddiskVolume3\\long\\");
    while (UnitsLong < FLTB_MAX_NAME_BYTES / 2u) {
        NameLong[UnitsLong] = (FLTB_U16)('a' + UnitsLong % 26u);
        UnitsLong++;
    }

    {
        FLTB_CREATE_PAYLOAD P;
        static const FLTB_U8 Key[16] = {0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde,
                                        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
        memset(&P, 0, sizeof(P));
        P.DesiredAccess = 0x00120089u;
        P.ShareAccess = 3;
        P.CreateDisposition = 1;
        P.CreateOptions = 0x00010040u;
        P.Information = 1;
        P.CreateFlags = FLTB_CREATE_ATOMIC_OPLOCK | FLTB_CREATE_HAS_OPLOCK_KEY;
        memcpy(P.OplockKey, Key, sizeof(Key));
        P.FileSize = 0x123456789ull;
        InitRecord(&H, FLTB_EVENT_CREATE, FLTB_RECORD_MANAGED, 100, SAMPLE_STATUS_SUCCESS);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameA, UnitsA);
        Count++;
    }
    {
        FLTB_OPLOCK_REQUEST_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.FsControlCode = SAMPLE_FSCTL_REQUEST_OPLOCK;
        P.RequestedLevel = FLTB_OPLOCK_RWH;
        P.InputFlags = 1;
        P.OpenCount = 1;
        P.FsctrlFlags = 0;
        InitRecord(&H, FLTB_EVENT_OPLOCK_REQUEST, FLTB_RECORD_MANAGED, 101, SAMPLE_STATUS_PENDING);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameA, UnitsA);
        Count++;
    }
    {
        FLTB_OPLOCK_GRANTED_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.GrantedLevel = FLTB_OPLOCK_RWH;
        InitRecord(&H, FLTB_EVENT_OPLOCK_GRANTED, FLTB_RECORD_MANAGED, 102, SAMPLE_STATUS_PENDING);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameA, UnitsA);
        Count++;
    }
    {
        FLTB_DROPPED_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.FirstSequence = 103;
        P.Count = 5;
        InitRecord(&H, FLTB_EVENT_DROPPED, FLTB_RECORD_SYNTHETIC, 103, SAMPLE_STATUS_SUCCESS);
        H.ProcessId = 0;
        H.ThreadId = 0;
        H.StreamId = 0;
        H.FileObjectId = 0;
        H.OperationId = 0;
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NULL, 0);
        Count++;
    }
    {
        FLTB_OPLOCK_BREAK_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.FromLevel = FLTB_OPLOCK_RWH;
        P.ToLevel = FLTB_OPLOCK_RH;
        P.BreakFlags = FLTB_BREAK_ACK_REQUIRED | FLTB_BREAK_OPERATION_WAITS;
        P.Information = 0;
        P.CausedByOperationId = 0x1000u + 107u;
        P.CausedByMajor = FLTB_MJ_CREATE;
        P.CausedByMinor = 0;
        P.CausedByProcessId = 777;
        InitRecord(&H, FLTB_EVENT_OPLOCK_BREAK, FLTB_RECORD_MANAGED, 108, SAMPLE_STATUS_SUCCESS);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameB, UnitsB);
        Count++;
    }
    {
        FLTB_OPLOCK_ACK_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.FsControlCode = SAMPLE_FSCTL_REQUEST_OPLOCK;
        P.AckLevel = FLTB_OPLOCK_RH;
        P.InputFlags = 2;
        P.BrokenRequestOperationId = 0x1000u + 101u;
        InitRecord(&H, FLTB_EVENT_OPLOCK_ACKNOWLEDGED, FLTB_RECORD_MANAGED, 109, SAMPLE_STATUS_SUCCESS);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameB, UnitsB);
        Count++;
    }
    {
        FLTB_BREAK_COMPLETED_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.ReleasedByOperationId = 0x1000u + 109u;
        P.WaiterMajor = FLTB_MJ_CREATE;
        P.WaiterMinor = 0;
        P.Reason = FLTB_RELEASE_ACKNOWLEDGED;
        InitRecord(&H, FLTB_EVENT_OPLOCK_BREAK_COMPLETED, FLTB_RECORD_MANAGED, 110, SAMPLE_STATUS_SUCCESS);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameB, UnitsB);
        Count++;
    }
    {
        FLTB_OPLOCK_COMPLETED_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.Level = FLTB_OPLOCK_NONE;
        P.OutputFlags = 0;
        P.Information = 0;
        P.Reason = FLTB_OPLOCK_END_HANDLE_CLOSED;
        InitRecord(&H, FLTB_EVENT_OPLOCK_COMPLETED, FLTB_RECORD_MANAGED, 111, SAMPLE_STATUS_OPLOCK_HANDLE_CLOSED);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameA, UnitsA);
        Count++;
    }
    {
        FLTB_LOCK_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.Offset = 0;
        P.Length = 100;
        P.Key = 0;
        P.LockFlags = FLTB_LOCK_EXCLUSIVE;
        InitRecord(&H, FLTB_EVENT_LOCK_GRANTED, FLTB_RECORD_MANAGED, 112, SAMPLE_STATUS_SUCCESS);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameA, UnitsA);
        Count++;

        memset(&P, 0, sizeof(P));
        P.Offset = 50;
        P.Length = 10;
        P.Key = 9;
        P.LockFlags = FLTB_LOCK_EXCLUSIVE | FLTB_LOCK_FAIL_IMMEDIATELY;
        InitRecord(&H, FLTB_EVENT_LOCK_DENIED, FLTB_RECORD_MANAGED, 113, SAMPLE_STATUS_LOCK_NOT_GRANTED);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameA, UnitsA);
        Count++;

        /* No name on this one. */
        memset(&P, 0, sizeof(P));
        P.Offset = 0xFFFFFFFFFFFFFFF0ull;
        P.Length = 0x10;
        P.Key = 1;
        P.LockFlags = 0;
        InitRecord(&H, FLTB_EVENT_LOCK_WAITING, FLTB_RECORD_MANAGED, 114, SAMPLE_STATUS_PENDING);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NULL, 0);
        Count++;

        memset(&P, 0, sizeof(P));
        P.Offset = 0;
        P.Length = 100;
        P.Key = 0;
        P.LockFlags = FLTB_LOCK_EXCLUSIVE;
        P.RelatedOperationId = 0x1000u + 115u;
        InitRecord(&H, FLTB_EVENT_UNLOCKED, FLTB_RECORD_MANAGED, 115, SAMPLE_STATUS_SUCCESS);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameA, UnitsA);
        Count++;
    }
    {
        FLTB_UNLOCK_ALL_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.Count = 2;
        P.Key = 0;
        P.UnlockFlags = FLTB_UNLOCK_ALL_CLEANUP;
        InitRecord(&H, FLTB_EVENT_UNLOCK_ALL, FLTB_RECORD_MANAGED, 116, SAMPLE_STATUS_SUCCESS);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameA, UnitsA);
        Count++;
    }
    {
        FLTB_IO_REFUSED_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.Offset = 4096;
        P.Length = 512;
        P.Key = 3;
        P.Major = FLTB_MJ_WRITE;
        InitRecord(&H, FLTB_EVENT_IO_REFUSED, FLTB_RECORD_OBSERVED, 117, SAMPLE_STATUS_FILE_LOCK_CONFLICT);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameA, UnitsA);
        Count++;
    }
    {
        FLTB_IO_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.Major = FLTB_MJ_READ;
        P.Minor = 0;
        P.Detail = 0;
        P.Offset = 0x200;
        P.Length = 0x1000;
        P.Information = 0x800;
        InitRecord(&H, FLTB_EVENT_IO, FLTB_RECORD_OBSERVED | FLTB_RECORD_NAME_TRUNCATED | FLTB_RECORD_FAST_IO, 118,
                   SAMPLE_STATUS_SUCCESS);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameLong, UnitsLong);
        Count++;
    }
    {
        FLTB_PROBE_ISSUED_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.ProbeId = 7;
        P.Kind = FLTB_PROBE_OPLOCK;
        P.OplockLevel = FLTB_OPLOCK_RH;
        P.Offset = 0;
        P.Length = 0;
        P.ProbeFlags = FLTB_PROBE_FLAG_REARM;
        InitRecord(&H, FLTB_EVENT_PROBE_ISSUED, FLTB_RECORD_MANAGED, 119, SAMPLE_STATUS_PENDING);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameT, UnitsT);
        Count++;
    }
    {
        FLTB_PROBE_COMPLETED_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.ProbeId = 7;
        P.Kind = FLTB_PROBE_OPLOCK;
        P.ProbeFlags = FLTB_PROBE_DONE_REARMED;
        P.Information = 0;
        P.OutputLevel = FLTB_OPLOCK_R;
        P.OutputFlags = 1;
        InitRecord(&H, FLTB_EVENT_PROBE_COMPLETED, FLTB_RECORD_MANAGED, 120, SAMPLE_STATUS_SUCCESS);
        H.Timestamp = -5; /* a signed field */
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameT, UnitsT);
        Count++;
    }
    {
        FLTB_CLEANUP_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.OpenHandlesRemaining = 0;
        P.LocksReleased = 2;
        P.CleanupFlags = FLTB_CLEANUP_DELETE_ON_CLOSE | FLTB_CLEANUP_DELETED;
        InitRecord(&H, FLTB_EVENT_CLEANUP, FLTB_RECORD_MANAGED, 121, SAMPLE_STATUS_SUCCESS);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameA, UnitsA);
        Count++;
    }
    {
        FLTB_CLOSE_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.StreamReferences = 0;
        InitRecord(&H, FLTB_EVENT_CLOSE, FLTB_RECORD_MANAGED, 122, SAMPLE_STATUS_SUCCESS);
        Offset += AppendRecord(Offset, &H, &P, sizeof(P), NameLone, UnitsLone);
        Count++;
    }
    FinishBatch(Offset, Count, 100, 122, 5, 0);
    Emit("event_batch", Batch, Offset);
}

/*
 * What a reader of this version must accept from a later writer of the same version: a record
 * whose payload grew (the name moved further out through NameOffset), a record with unknown
 * bytes after its payload, and non-zero Reserved fields.
 */
static void SampleFutureBatch(void)
{
    FLTB_RECORD_HEADER H;
    FLTB_U16 Name[64];
    size_t Units;
    size_t Offset = sizeof(FLTB_BATCH_HEADER);
    size_t Size;

    {
        FLTB_CLOSE_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.StreamReferences = 1;
        P.Reserved = 0xDEADBEEFu;
        Units = PutAscii(Name, "\\Device\\HarddiskVolume3\\work\\f");
        InitRecord(&H, FLTB_EVENT_CLOSE, FLTB_RECORD_MANAGED, 500, SAMPLE_STATUS_SUCCESS);
        Size = sizeof(H) + sizeof(P) + 8u + FLTB_ALIGN_UP(Units * 2u);
        H.Size = (FLTB_U32)Size;
        H.NameOffset = (FLTB_U16)(sizeof(H) + sizeof(P) + 8u);
        H.NameBytes = (FLTB_U16)(Units * 2u);
        memset(Batch + Offset, 0, Size);
        memcpy(Batch + Offset, &H, sizeof(H));
        memcpy(Batch + Offset + sizeof(H), &P, sizeof(P));
        memset(Batch + Offset + sizeof(H) + sizeof(P), 0xA5, 8u); /* a later payload field */
        memcpy(Batch + Offset + H.NameOffset, Name, Units * 2u);
        Offset += Size;
    }
    {
        FLTB_IO_PAYLOAD P;
        memset(&P, 0, sizeof(P));
        P.Major = FLTB_MJ_WRITE;
        P.Minor = 0;
        P.Reserved = 0x5A5A;
        P.Detail = 0;
        P.Offset = 0;
        P.Length = 1;
        P.Information = 1;
        InitRecord(&H, FLTB_EVENT_IO, FLTB_RECORD_MANAGED, 501, SAMPLE_STATUS_SUCCESS);
        Size = sizeof(H) + sizeof(P) + 16u;
        H.Size = (FLTB_U32)Size;
        memset(Batch + Offset, 0x3C, Size); /* unknown trailing bytes */
        memcpy(Batch + Offset, &H, sizeof(H));
        memcpy(Batch + Offset + sizeof(H), &P, sizeof(P));
        Offset += Size;
    }
    FinishBatch(Offset, 2, 500, 501, 0, 0x12345678u);
    Emit("event_batch_future", Batch, Offset);
}

int main(int argc, char **argv)
{
    const FLTB_U16 Probe = 1;

    if (argc != 2) {
        fputs("usage: proto_samples <output.json>\n", stderr);
        return 2;
    }
    if (*(const unsigned char *)&Probe != 1) {
        fputs("proto_samples: the wire format is little-endian; this machine is not\n", stderr);
        return 3;
    }
    Out = fopen(argv[1], "wb");
    if (Out == NULL) {
        fputs("proto_samples: cannot open the output file\n", stderr);
        return 1;
    }
    fputs("{\n  \"target\": ", Out);
#if defined(_WIN64)
    fputs("\"x86_64-w64-windows-gnu\"", Out);
#else
    fputs("\"host\"", Out);
#endif
    fputs(",\n  \"samples\": {", Out);
    SampleConnectContext();
    SampleHello();
    SampleConfigure();
    SampleStats();
    SampleProbes();
    SampleFlush();
    SampleErrors();
    SampleEventBatch();
    SampleFutureBatch();
    fputs("\n  }\n}\n", Out);
    if (fclose(Out) != 0) return 1;
    return Failed;
}
