/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    harness.c

Abstract:

    The host harness: runs the driver's comm.c, events.c and policy.c on
    Linux against the fake kernel of fb_host.c, under ASan/UBSan.

      - every command shape and the malformed-buffer cases through the
        message notify callback, checking the exact reply bytes;
      - a few thousand fixed-seed random and mutated buffers (no crash, no
        sanitizer report, and every reply well-formed);
      - policy classification;
      - event production, drops and their exact accounting, batches (checked
        here and written out for the TypeScript codec tests), the drain
        thread with delivering, timing-out and blocked clients, disconnect
        and stop with clients connected;
      - allocation tracking: every tagged allocation freed at the end.

    Output: one "ok <name>" or "FAIL <name> :: <why>" line per check (the
    suite counts them), and files in the directory given as argv[1]:
    comm-vectors.json, batches.bin, batches.json, alloc.json.

    This checks our control flow, not Windows' semantics.

Environment:

    User mode, Linux.

--*/

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "driver.h"
#include "fb_host_control.h"

static int FbPassed;
static int FbFailed;
static const char *FbOutDir = ".";

static void
Check(int Ok, const char *Name, const char *Format, ...)
{
    if (Ok) {
        FbPassed++;
        printf("ok %s\n", Name);
    } else {
        va_list args;
        FbFailed++;
        printf("FAIL %s :: ", Name);
        va_start(args, Format);
        vprintf(Format, args);
        va_end(args);
        printf("\n");
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* Byte helpers.                                                             */
/* ------------------------------------------------------------------------ */

typedef struct _BUF {
    UCHAR Bytes[4096];
    ULONG Length;
} BUF;

static void Put(BUF *B, const void *Data, ULONG Length) { memcpy(B->Bytes + B->Length, Data, Length); B->Length += Length; }
static void PutZero(BUF *B, ULONG Length) { memset(B->Bytes + B->Length, 0, Length); B->Length += Length; }

static FLTB_COMMAND_HEADER
Header(USHORT Command, ULONG Size)
{
    FLTB_COMMAND_HEADER h;
    memset(&h, 0, sizeof(h));
    h.Magic = FLTB_MAGIC_COMMAND;
    h.Version = FLTB_PROTOCOL_VERSION;
    h.Command = Command;
    h.Size = Size;
    h.RequestId = 0x1122334455667700ull + Command;
    return h;
}

static void
SetSize(BUF *B)
{
    ULONG size = B->Length;
    memcpy(B->Bytes + offsetof(FLTB_COMMAND_HEADER, Size), &size, 4);
}

static void
AsciiToUtf16(const char *Text, WCHAR *Out, ULONG *Bytes)
{
    ULONG i;
    for (i = 0; Text[i] != 0; i++) {
        Out[i] = (WCHAR)(UCHAR)Text[i];
    }
    *Bytes = i * 2u;
}

static BUF
HelloCmd(USHORT Min, USHORT Max, ULONG Caps)
{
    BUF b = { .Length = 0 };
    FLTB_HELLO_REQUEST r;
    memset(&r, 0, sizeof(r));
    r.Header = Header(FLTB_CMD_HELLO, sizeof(r));
    r.MinVersion = Min;
    r.MaxVersion = Max;
    r.ClientCapabilities = Caps;
    r.ClientProcessId = 1234;
    Put(&b, &r, sizeof(r));
    return b;
}

typedef struct _NS {
    USHORT Kind;
    const char *Name;
} NS;

static BUF
ConfigureCmd(ULONG Flags, ULONGLONG Mask, ULONG Limit, const NS *Spaces, USHORT Count)
{
    BUF b = { .Length = 0 };
    FLTB_CONFIGURE_REQUEST r;
    USHORT i;
    memset(&r, 0, sizeof(r));
    r.Header = Header(FLTB_CMD_CONFIGURE, 0);
    r.EventTypeMask = Mask;
    r.QueueLimit = Limit;
    r.Flags = Flags;
    r.NamespaceCount = Count;
    Put(&b, &r, sizeof(r));
    for (i = 0; i < Count; i++) {
        FLTB_NAMESPACE_ENTRY e;
        WCHAR name[1100];
        ULONG bytes;
        AsciiToUtf16(Spaces[i].Name, name, &bytes);
        memset(&e, 0, sizeof(e));
        e.Kind = Spaces[i].Kind;
        e.NameBytes = (USHORT)bytes;
        e.Size = (USHORT)FLTB_ALIGN_UP(sizeof(e) + bytes);
        Put(&b, &e, sizeof(e));
        Put(&b, name, bytes);
        PutZero(&b, e.Size - (ULONG)sizeof(e) - bytes);
    }
    SetSize(&b);
    return b;
}

static BUF
BareCmd(USHORT Command)
{
    BUF b = { .Length = 0 };
    FLTB_COMMAND_HEADER h = Header(Command, sizeof(FLTB_COMMAND_HEADER));
    Put(&b, &h, sizeof(h));
    return b;
}

static BUF
FlushCmd(ULONG Flags, ULONG Reserved)
{
    BUF b = { .Length = 0 };
    FLTB_FLUSH_EVENTS_REQUEST r;
    memset(&r, 0, sizeof(r));
    r.Header = Header(FLTB_CMD_FLUSH_EVENTS, sizeof(r));
    r.Flags = Flags;
    r.Reserved = Reserved;
    Put(&b, &r, sizeof(r));
    return b;
}

static BUF
ProbeStartCmd(ULONG Kind, ULONG Flags, ULONG Level, ULONG ReadLength, ULONGLONG ReadOffset, const char *Path)
{
    BUF b = { .Length = 0 };
    FLTB_PROBE_START_REQUEST r;
    WCHAR name[1100];
    ULONG bytes;
    AsciiToUtf16(Path, name, &bytes);
    memset(&r, 0, sizeof(r));
    r.Header = Header(FLTB_CMD_PROBE_START, 0);
    r.Kind = Kind;
    r.Flags = Flags;
    r.OplockLevel = Level;
    r.ReadLength = ReadLength;
    r.ReadOffset = ReadOffset;
    r.PathBytes = (USHORT)bytes;
    Put(&b, &r, sizeof(r));
    Put(&b, name, bytes);
    PutZero(&b, (ULONG)FLTB_ALIGN_UP(sizeof(r) + bytes) - (ULONG)sizeof(r) - bytes);
    SetSize(&b);
    return b;
}

static BUF
ProbeStopCmd(ULONGLONG Id)
{
    BUF b = { .Length = 0 };
    FLTB_PROBE_STOP_REQUEST r;
    memset(&r, 0, sizeof(r));
    r.Header = Header(FLTB_CMD_PROBE_STOP, sizeof(r));
    r.ProbeId = Id;
    Put(&b, &r, sizeof(r));
    return b;
}

/* ------------------------------------------------------------------------ */
/* Connections and the vector file for the model twin.                       */
/* ------------------------------------------------------------------------ */

typedef struct _CLIENT {
    PVOID Cookie;
    PFLT_PORT Port;
    int Id;
} CLIENT;

static int FbNextClient = 1;

static NTSTATUS
Connect(CLIENT *Client, const void *Context, ULONG Size)
{
    NTSTATUS status;
    Client->Id = FbNextClient++;
    Client->Port = (PFLT_PORT)(ULONG_PTR)(0x1000u + (ULONG)Client->Id);
    Client->Cookie = NULL;
    status = FbHostPort.Connect(Client->Port, NULL, (PVOID)(ULONG_PTR)Context, Size, &Client->Cookie);
    return status;
}

static FLTB_CONNECT_CONTEXT
GoodContext(void)
{
    FLTB_CONNECT_CONTEXT c;
    memset(&c, 0, sizeof(c));
    c.Magic = FLTB_MAGIC_CONNECT;
    c.Version = FLTB_PROTOCOL_VERSION;
    c.Size = sizeof(c);
    c.ClientCapabilities = FLTB_CAP_ALL;
    return c;
}

static NTSTATUS
ConnectGood(CLIENT *Client)
{
    FLTB_CONNECT_CONTEXT c = GoodContext();
    return Connect(Client, &c, sizeof(c));
}

static void
Disconnect(CLIENT *Client)
{
    if (Client->Cookie != NULL) {
        FbHostPort.Disconnect(Client->Cookie);
        Client->Cookie = NULL;
    }
}

typedef struct _REPLY {
    NTSTATUS Status;            /* returned by the callback */
    ULONG Length;               /* ReturnOutputBufferLength */
    UCHAR Bytes[4096];
} REPLY;

static REPLY
Send(CLIENT *Client, const void *Input, ULONG InputLength, ULONG OutputLength)
{
    REPLY r;
    UCHAR *in = NULL;
    UCHAR *out = NULL;
    memset(&r, 0, sizeof(r));

    /* Exact-size heap copies, so ASan sees any overread / overwrite. */
    if (InputLength != 0) {
        in = (UCHAR *)malloc(InputLength);
        memcpy(in, Input, InputLength);
    }
    if (OutputLength != 0) {
        out = (UCHAR *)malloc(OutputLength);
        memset(out, 0xCD, OutputLength);
    }
    r.Status = FbHostPort.Message(Client->Cookie, in, InputLength, out, OutputLength, &r.Length);
    if (out != NULL && r.Length <= sizeof(r.Bytes)) {
        memcpy(r.Bytes, out, r.Length);
    }
    free(in);
    free(out);
    return r;
}

static FILE *FbVectors;
static int FbVectorCount;

static void
Hex(FILE *F, const UCHAR *Bytes, ULONG Length)
{
    ULONG i;
    for (i = 0; i < Length; i++) {
        fprintf(F, "%02x", Bytes[i]);
    }
}

/* Records a (command, reply) pair for test/driver: the model twin must give the same bytes. */
static void
Vector(const char *Name, const char *State, const BUF *Input, ULONG OutputLength, const REPLY *Reply)
{
    fprintf(FbVectors, "%s\n  {\"name\": \"%s\", \"state\": \"%s\", \"outputLength\": %u, \"returnStatus\": %d, \"input\": \"",
            FbVectorCount++ ? "," : "", Name, State, OutputLength, Reply->Status);
    Hex(FbVectors, Input->Bytes, Input->Length);
    fprintf(FbVectors, "\", \"reply\": \"");
    Hex(FbVectors, Reply->Bytes, Reply->Length);
    fprintf(FbVectors, "\"}");
}

static FLTB_REPLY_HEADER
ReplyHeader(const REPLY *R)
{
    FLTB_REPLY_HEADER h;
    memset(&h, 0, sizeof(h));
    if (R->Length >= sizeof(h)) {
        memcpy(&h, R->Bytes, sizeof(h));
    }
    return h;
}

/* Sends, checks the status and size of the reply, records the vector. */
static REPLY
Expect(CLIENT *Client, const char *Name, const char *State, const BUF *Input, ULONG OutputLength,
       NTSTATUS Status, ULONG Size)
{
    REPLY r = Send(Client, Input->Bytes, Input->Length, OutputLength);
    FLTB_REPLY_HEADER h = ReplyHeader(&r);
    char check[160];
    FLTB_COMMAND_HEADER in;
    USHORT command = 0;
    ULONGLONG requestId = 0;

    if (Input->Length >= sizeof(in)) {
        memcpy(&in, Input->Bytes, sizeof(in));
        command = in.Command;
        requestId = in.RequestId;
    }

    snprintf(check, sizeof(check), "comm: %s", Name);
    Check(r.Status == STATUS_SUCCESS && r.Length == Size && h.Magic == FLTB_MAGIC_REPLY && h.Size == Size &&
              h.Status == Status && h.Command == command && h.RequestId == requestId,
          check, "callback 0x%08x, length %u, magic %08x size %u status 0x%08x command %u (want status 0x%08x size %u)",
          (ULONG)r.Status, r.Length, h.Magic, h.Size, (ULONG)h.Status, h.Command, (ULONG)Status, Size);
    Vector(Name, State, Input, OutputLength, &r);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Tests.                                                                    */
/* ------------------------------------------------------------------------ */

static void
TestPort(void)
{
    static const WCHAR expected[] = L"\\FltBridgePort";
    Check(FbHostPort.Open && FbHostPort.HasDescriptor && FbHostPort.DescriptorAccess == FLT_PORT_ALL_ACCESS &&
              (FbHostPort.Attributes & OBJ_KERNEL_HANDLE) != 0 && FbHostPort.MaxConnections == FLTB_PORT_MAX_CONNECTIONS &&
              FbHostPort.NameChars == 14 && memcmp(FbHostPort.Name, expected, 28) == 0,
          "port: \\FltBridgePort, admin-only descriptor (FLT_PORT_ALL_ACCESS), kernel handle, 4 connections",
          "open %d sd %d access %x attrs %x max %d", FbHostPort.Open, FbHostPort.HasDescriptor,
          FbHostPort.DescriptorAccess, FbHostPort.Attributes, FbHostPort.MaxConnections);
}

static void
TestConnect(void)
{
    CLIENT c[6];
    FLTB_CONNECT_CONTEXT ctx;
    int i;
    int okCount = 0;

    memset(c, 0, sizeof(c));
    Check(Connect(&c[0], NULL, 0) == STATUS_INVALID_PARAMETER, "connect: no context refused", "");
    ctx = GoodContext();
    Check(Connect(&c[0], &ctx, sizeof(ctx) - 1) == STATUS_INVALID_PARAMETER, "connect: short context refused", "");
    Check(Connect(&c[0], &ctx, sizeof(ctx) + 8) == STATUS_INVALID_PARAMETER, "connect: long context refused", "");
    ctx.Magic ^= 1;
    Check(Connect(&c[0], &ctx, sizeof(ctx)) == STATUS_INVALID_PARAMETER, "connect: bad magic refused", "");
    ctx = GoodContext();
    ctx.Size = 24;
    Check(Connect(&c[0], &ctx, sizeof(ctx)) == STATUS_INVALID_PARAMETER, "connect: bad Size field refused", "");
    ctx = GoodContext();
    ctx.Version = 0;
    Check(Connect(&c[0], &ctx, sizeof(ctx)) == STATUS_REVISION_MISMATCH, "connect: version below the minimum refused", "");
    ctx = GoodContext();
    ctx.Reserved = 1;
    Check(Connect(&c[0], &ctx, sizeof(ctx)) == STATUS_SUCCESS, "connect: reserved field ignored", "");
    Disconnect(&c[0]);

    for (i = 0; i < 5; i++) {
        if (ConnectGood(&c[i]) == STATUS_SUCCESS) {
            okCount++;
        }
    }
    Check(okCount == FLTB_PORT_MAX_CONNECTIONS && c[4].Cookie == NULL,
          "connect: at most FLTB_PORT_MAX_CONNECTIONS connections", "%d connected", okCount);
    for (i = 0; i < 5; i++) {
        Disconnect(&c[i]);
    }
}

static void
TestCommands(void)
{
    CLIENT fresh;
    CLIENT client;
    BUF b;
    REPLY r;
    FLTB_HELLO_REPLY hello;
    FLTB_CONFIGURE_REPLY configure;
    FLTB_STATS_REPLY stats;
    NS spaces[FLTB_MAX_NAMESPACES + 1];
    char longName[1100];
    int i;

    memset(&fresh, 0, sizeof(fresh));
    memset(&client, 0, sizeof(client));
    ConnectGood(&fresh);

    /* Header-level rejections on a fresh connection. */
    b.Length = 0;
    PutZero(&b, 23);
    Expect(&fresh, "input shorter than a command header", "fresh", &b, 64, STATUS_INVALID_PARAMETER, 24);
    b = BareCmd(FLTB_CMD_GET_STATS);
    b.Bytes[0] ^= 0xFF;
    Expect(&fresh, "bad magic", "fresh", &b, 400, STATUS_INVALID_PARAMETER, 24);
    b = BareCmd(FLTB_CMD_GET_STATS);
    b.Bytes[8] = 25;
    Expect(&fresh, "before HELLO, the missing HELLO is reported before a bad Size", "fresh", &b, 400,
           STATUS_INVALID_DEVICE_REQUEST, 24);
    b = HelloCmd(1, 1, 0);
    b.Bytes[8] = 41;
    Expect(&fresh, "HELLO whose Size field differs from the input length", "fresh", &b, 64, STATUS_INVALID_PARAMETER, 24);
    b = HelloCmd(1, 1, 0);
    b.Bytes[12] = 1;
    Expect(&fresh, "HELLO with nonzero header flags", "fresh", &b, 64, STATUS_INVALID_PARAMETER, 24);
    b = BareCmd(0);
    Expect(&fresh, "command 0", "fresh", &b, 400, STATUS_INVALID_DEVICE_REQUEST, 24);
    b = BareCmd(FLTB_CMD_MAX + 1);
    Expect(&fresh, "unknown command", "fresh", &b, 400, STATUS_INVALID_DEVICE_REQUEST, 24);
    b = BareCmd(FLTB_CMD_GET_STATS);
    Expect(&fresh, "GET_STATS before HELLO", "fresh", &b, 400, STATUS_INVALID_DEVICE_REQUEST, 24);
    b = FlushCmd(0, 0);
    Expect(&fresh, "FLUSH_EVENTS before HELLO", "fresh", &b, 400, STATUS_INVALID_DEVICE_REQUEST, 24);
    b = ConfigureCmd(0, 0, 0, NULL, 0);
    Expect(&fresh, "CONFIGURE before HELLO", "fresh", &b, 400, STATUS_INVALID_DEVICE_REQUEST, 24);

    /* HELLO. */
    b = HelloCmd(1, 1, 0);
    b.Length = 32;
    SetSize(&b);
    Expect(&fresh, "HELLO too short", "fresh", &b, 64, STATUS_INVALID_PARAMETER, 24);
    b = HelloCmd(1, 1, 0);
    Expect(&fresh, "HELLO output smaller than its reply", "fresh", &b, 63, STATUS_BUFFER_TOO_SMALL, 24);
    b = HelloCmd(2, 1, 0);
    Expect(&fresh, "HELLO MinVersion > MaxVersion", "fresh", &b, 64, STATUS_INVALID_PARAMETER, 24);
    b = HelloCmd(2, 9, 0);
    r = Expect(&fresh, "HELLO with no common version", "fresh", &b, 64, STATUS_REVISION_MISMATCH, 64);
    memcpy(&hello, r.Bytes, sizeof(hello));
    Check(hello.ProtocolVersion == FLTB_PROTOCOL_VERSION && hello.Header.Version == FLTB_PROTOCOL_VERSION,
          "comm: HELLO mismatch reply names the driver's version", "%u", hello.ProtocolVersion);
    b = BareCmd(FLTB_CMD_GET_STATS);
    Expect(&fresh, "GET_STATS after a refused HELLO", "fresh", &b, 400, STATUS_INVALID_DEVICE_REQUEST, 24);

    {
        /* A reply buffer smaller than a reply header fails the call itself. */
        BUF h = HelloCmd(1, 1, 0);
        REPLY tiny = Send(&fresh, h.Bytes, h.Length, 23);
        Check(tiny.Status == STATUS_BUFFER_TOO_SMALL && tiny.Length == 0,
              "comm: output smaller than a reply header fails with no bytes", "0x%08x %u", (ULONG)tiny.Status, tiny.Length);
        tiny = Send(&fresh, h.Bytes, h.Length, 0);
        Check(tiny.Status == STATUS_BUFFER_TOO_SMALL && tiny.Length == 0,
              "comm: no output buffer fails with no bytes", "0x%08x %u", (ULONG)tiny.Status, tiny.Length);
    }

    {
        CLIENT other;
        memset(&other, 0, sizeof(other));
        ConnectGood(&other);
        b = HelloCmd(0, 1, 0);
        b.Bytes[36] = 1;
        Expect(&other, "HELLO MinVersion 0 and a reserved field set (ignored)", "fresh", &b, 64, STATUS_SUCCESS, 64);
        Disconnect(&other);
    }

    ConnectGood(&client);
    b = HelloCmd(1, 7, FLTB_CAP_ALL | 0x80000000u);
    r = Expect(&client, "HELLO agrees on version 1", "fresh", &b, 64, STATUS_SUCCESS, 64);
    memcpy(&hello, r.Bytes, sizeof(hello));
    Check(hello.ProtocolVersion == 1 && hello.Capabilities == FLTB_CAP_ALL && hello.MaxRecordBytes == FLTB_MAX_RECORD_BYTES &&
              hello.MaxBatchBytes == FLTB_MAX_BATCH_BYTES && hello.QueueLimit == FLTB_QUEUE_LIMIT_DEFAULT &&
              hello.EventTypeMask == FLTB_EVENT_MASK_ALL && hello.NextSequence >= 1 &&
              hello.DriverMajor == FLTB_DRIVER_VERSION_MAJOR && hello.DriverMinor == FLTB_DRIVER_VERSION_MINOR,
          "comm: HELLO reply fields", "v%u caps %x limit %u", hello.ProtocolVersion, hello.Capabilities, hello.QueueLimit);

    /* Version and size checks after HELLO. */
    b = BareCmd(FLTB_CMD_GET_STATS);
    b.Bytes[4] = 2;
    Expect(&client, "command with a version other than the agreed one", "hello", &b, 400, STATUS_REVISION_MISMATCH, 24);
    b = BareCmd(FLTB_CMD_GET_STATS);
    PutZero(&b, 8);
    SetSize(&b);
    Expect(&client, "GET_STATS with a body", "hello", &b, 400, STATUS_INVALID_PARAMETER, 24);
    b = BareCmd(FLTB_CMD_GET_STATS);
    b.Bytes[8] = 25;
    Expect(&client, "Size field differs from the input length", "hello", &b, 400, STATUS_INVALID_PARAMETER, 24);
    b = BareCmd(FLTB_CMD_GET_STATS);
    b.Bytes[12] = 1;
    Expect(&client, "nonzero header flags", "hello", &b, 400, STATUS_INVALID_PARAMETER, 24);
    b = BareCmd(FLTB_CMD_GET_STATS);
    Expect(&client, "GET_STATS output too small", "hello", &b, 335, STATUS_BUFFER_TOO_SMALL, 24);
    b = BareCmd(FLTB_CMD_GET_STATS);
    r = Expect(&client, "GET_STATS", "hello", &b, 336, STATUS_SUCCESS, 336);
    memcpy(&stats, r.Bytes, sizeof(stats));
    Check(stats.QueueLimit == FLTB_QUEUE_LIMIT_DEFAULT && stats.Connections == 2 && stats.ActiveProbes == 0,
          "comm: GET_STATS fields", "limit %u connections %u", stats.QueueLimit, stats.Connections);

    /* FLUSH_EVENTS. */
    b = FlushCmd(2, 0);
    Expect(&client, "FLUSH_EVENTS unknown flag", "hello", &b, 40, STATUS_INVALID_PARAMETER, 24);
    b = FlushCmd(0, 1);
    Expect(&client, "FLUSH_EVENTS reserved nonzero (ignored)", "hello", &b, 40, STATUS_SUCCESS, 40);
    b = FlushCmd(0, 0);
    b.Length = 24;
    SetSize(&b);
    Expect(&client, "FLUSH_EVENTS without its body", "hello", &b, 40, STATUS_INVALID_PARAMETER, 24);
    b = FlushCmd(0, 0);
    Expect(&client, "FLUSH_EVENTS output too small", "hello", &b, 39, STATUS_BUFFER_TOO_SMALL, 24);
    b = FlushCmd(FLTB_FLUSH_DISCARD, 0);
    Expect(&client, "FLUSH_EVENTS discard with nothing queued", "hello", &b, 40, STATUS_SUCCESS, 40);

    /* CONFIGURE. */
    b = ConfigureCmd(0, 0, 0, NULL, 0);
    b.Length = 40;
    SetSize(&b);
    Expect(&client, "CONFIGURE too short", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(0, 0, 0, NULL, 0);
    Expect(&client, "CONFIGURE output too small", "hello", &b, 47, STATUS_BUFFER_TOO_SMALL, 24);
    b = ConfigureCmd(8, 0, 0, NULL, 0);
    Expect(&client, "CONFIGURE unknown flag", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(0, 0, 0, NULL, 0);
    b.Bytes[42] = 1;
    b.Bytes[44] = 1;
    Expect(&client, "CONFIGURE reserved fields set (ignored)", "hello", &b, 48, STATUS_SUCCESS, 48);
    b = ConfigureCmd(0, FLTB_EVENT_MASK_ALL, 0, NULL, 0);
    Expect(&client, "CONFIGURE mask without SET_EVENT_MASK", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(0, 0, 100, NULL, 0);
    Expect(&client, "CONFIGURE queue limit without SET_QUEUE_LIMIT", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(8, 0, 0, NULL, 0);
    Expect(&client, "CONFIGURE unknown flag with a short output", "hello", &b, 24, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(FLTB_CONFIGURE_SET_EVENT_MASK, FLTB_EVENT_MASK_ALL | 1ull, 0, NULL, 0);
    Expect(&client, "CONFIGURE mask with bit 0", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(FLTB_CONFIGURE_SET_EVENT_MASK, 1ull << 20, 0, NULL, 0);
    Expect(&client, "CONFIGURE mask with an unknown type", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(FLTB_CONFIGURE_SET_QUEUE_LIMIT, 0, FLTB_QUEUE_LIMIT_MIN - 1, NULL, 0);
    Expect(&client, "CONFIGURE queue limit below minimum", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(FLTB_CONFIGURE_SET_QUEUE_LIMIT, 0, FLTB_QUEUE_LIMIT_MAX + 1, NULL, 0);
    Expect(&client, "CONFIGURE queue limit above maximum", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    spaces[0].Kind = FLTB_NAMESPACE_MANAGED;
    spaces[0].Name = "\\Device\\HarddiskVolume3\\work";
    b = ConfigureCmd(FLTB_CONFIGURE_SET_EVENT_MASK, FLTB_EVENT_MASK_ALL, 0, spaces, 1);
    Expect(&client, "CONFIGURE namespaces without SET_NAMESPACES", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    for (i = 0; i < (int)FLTB_MAX_NAMESPACES + 1; i++) {
        spaces[i].Kind = FLTB_NAMESPACE_OBSERVE;
        spaces[i].Name = "\\a";
    }
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, FLTB_MAX_NAMESPACES + 1);
    Expect(&client, "CONFIGURE more than 32 namespaces", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);

    spaces[0].Kind = FLTB_NAMESPACE_MANAGED;
    spaces[0].Name = "\\Device\\HarddiskVolume3\\work";
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    b.Length -= 8;
    SetSize(&b);
    Expect(&client, "CONFIGURE entry cut short", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    PutZero(&b, 8);
    SetSize(&b);
    Expect(&client, "CONFIGURE bytes after the last entry", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    b.Bytes[48 + 2] = 3;
    Expect(&client, "CONFIGURE entry with an unknown kind", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    b.Bytes[48 + 6] = 1;
    Expect(&client, "CONFIGURE entry reserved nonzero (ignored)", "hello", &b, 48, STATUS_SUCCESS, 48);
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    b.Bytes[48 + 4] -= 1;
    Expect(&client, "CONFIGURE entry with an odd name length", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    b.Bytes[48 + 0] += 8;
    Expect(&client, "CONFIGURE entry Size not the padded length", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    spaces[0].Name = "\\Device\\HarddiskVolume3\\wor";     /* 27 chars: 54 bytes + 8 = 62 -> padded to 64 */
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    b.Bytes[b.Length - 1] = 1;
    Expect(&client, "CONFIGURE entry padding nonzero (ignored)", "hello", &b, 48, STATUS_SUCCESS, 48);
    memset(longName, 'x', sizeof(longName));
    longName[0] = '\\';
    longName[1025] = 0;
    spaces[0].Name = longName;
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    Expect(&client, "CONFIGURE name longer than FLTB_MAX_NAME_BYTES", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    spaces[0].Name = "Device\\HarddiskVolume3";
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    Expect(&client, "CONFIGURE name without a leading backslash", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    spaces[0].Name = "\\Device\\HarddiskVolume3\\";
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    Expect(&client, "CONFIGURE name with a trailing backslash", "hello", &b, 48, STATUS_SUCCESS, 48);
    spaces[0].Name = "\\Device\\x";
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 1);
    b.Bytes[48 + 8 + 4] = 0;                                  /* 3rd UTF-16 unit -> NUL */
    b.Bytes[48 + 8 + 5] = 0;
    Expect(&client, "CONFIGURE name with a NUL", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    spaces[0].Kind = FLTB_NAMESPACE_MANAGED;
    spaces[0].Name = "\\Device\\HarddiskVolume3\\work";
    spaces[1].Kind = FLTB_NAMESPACE_OBSERVE;
    spaces[1].Name = "\\DEVICE\\harddiskvolume3\\WORK";
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 2);
    Expect(&client, "CONFIGURE same path managed and observed", "hello", &b, 48, STATUS_INVALID_PARAMETER, 24);
    spaces[1].Kind = FLTB_NAMESPACE_MANAGED;
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, spaces, 2);
    r = Expect(&client, "CONFIGURE same path twice, same kind", "hello", &b, 48, STATUS_SUCCESS, 48);
    memcpy(&configure, r.Bytes, sizeof(configure));
    Check(configure.ManagedCount == 1, "comm: the same namespace twice counts once", "%u", configure.ManagedCount);

    spaces[0].Kind = FLTB_NAMESPACE_MANAGED;
    spaces[0].Name = "\\Device\\HarddiskVolume3\\work";
    spaces[1].Kind = FLTB_NAMESPACE_OBSERVE;
    spaces[1].Name = "\\Device\\HarddiskVolume3";
    spaces[2].Kind = FLTB_NAMESPACE_OBSERVE;
    spaces[2].Name = "\\Device\\HarddiskVolume3\\work\\observed";
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES | FLTB_CONFIGURE_SET_QUEUE_LIMIT, 0, 100, spaces, 3);
    r = Expect(&client, "CONFIGURE namespaces and queue limit", "hello", &b, 48, STATUS_SUCCESS, 48);
    memcpy(&configure, r.Bytes, sizeof(configure));
    Check(configure.ManagedCount == 1 && configure.ObserveCount == 2 && configure.QueueLimit == 100 &&
              configure.EventTypeMask == FLTB_EVENT_MASK_ALL,
          "comm: CONFIGURE reply fields", "managed %u observe %u limit %u", configure.ManagedCount,
          configure.ObserveCount, configure.QueueLimit);

    {
        /* Classification through the installed policy. */
        static const struct { const char *Name; FB_CLASS Class; } cases[] = {
            { "\\Device\\HarddiskVolume3\\work\\a.txt", FbClassManaged },
            { "\\device\\harddiskvolume3\\WORK\\sub\\b", FbClassManaged },
            { "\\Device\\HarddiskVolume3\\work", FbClassManaged },
            { "\\Device\\HarddiskVolume3\\workshop\\x", FbClassObserved },
            { "\\Device\\HarddiskVolume3\\work\\observed\\c", FbClassObserved },
            { "\\Device\\HarddiskVolume3\\work\\observedx", FbClassManaged },
            { "\\Device\\HarddiskVolume3", FbClassObserved },
            { "\\Device\\HarddiskVolume30\\work\\a", FbClassNone },
            { "\\Device\\HarddiskVolume", FbClassNone },
            { "", FbClassNone },
        };
        ULONG k;
        int good = 1;
        for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
            WCHAR buffer[256];
            ULONG bytes;
            UNICODE_STRING name;
            AsciiToUtf16(cases[k].Name, buffer, &bytes);
            name.Buffer = buffer;
            name.Length = (USHORT)bytes;
            name.MaximumLength = (USHORT)bytes;
            if (FbPolicyClassify(&name) != cases[k].Class) {
                good = 0;
                printf("  classify %s -> %d, want %d\n", cases[k].Name, FbPolicyClassify(&name), cases[k].Class);
            }
        }
        Check(good, "policy: longest match, case-insensitive, prefix ends at a backslash", "");
    }

    b = ConfigureCmd(FLTB_CONFIGURE_SET_EVENT_MASK | FLTB_CONFIGURE_SET_QUEUE_LIMIT, FLTB_EVENT_MASK_ALL,
                     FLTB_QUEUE_LIMIT_DEFAULT, NULL, 0);
    Expect(&client, "CONFIGURE mask and limit only", "hello", &b, 48, STATUS_SUCCESS, 48);
    b = ConfigureCmd(FLTB_CONFIGURE_SET_NAMESPACES, 0, 0, NULL, 0);
    r = Expect(&client, "CONFIGURE clears the namespaces", "hello", &b, 48, STATUS_SUCCESS, 48);
    memcpy(&configure, r.Bytes, sizeof(configure));
    Check(configure.ManagedCount == 0 && configure.ObserveCount == 0, "comm: CONFIGURE with no namespaces clears them", "");

    /* PROBE_START / PROBE_STOP. */
    b = ProbeStartCmd(FLTB_PROBE_OPLOCK, 0, FLTB_OPLOCK_RH, 0, 0, "\\Device\\HarddiskVolume3\\f");
    b.Length = 48;
    SetSize(&b);
    Expect(&client, "PROBE_START too short", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_OPLOCK, 0, FLTB_OPLOCK_RH, 0, 0, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START output too small", "hello", &b, 31, STATUS_BUFFER_TOO_SMALL, 24);
    b = ProbeStartCmd(3, 0, FLTB_OPLOCK_RH, 0, 0, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START unknown kind", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_OPLOCK, 2, FLTB_OPLOCK_RH, 0, 0, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START unknown flag", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_OPLOCK, 0, FLTB_OPLOCK_NONE, 0, 0, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START oplock level NONE", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_OPLOCK, 0, FLTB_OPLOCK_LEVEL_MAX + 1, 0, 0, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START oplock level out of range", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_READ, 0, 0, 0, 0, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START read of 0 bytes", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_READ, 0, 0, FLTB_PROBE_READ_MAX + 1, 0, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START read too long", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_READ, 0, 0, 16, 0x8000000000000000ull, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START read offset beyond 2^63", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_READ, 0, 0, 16, 0, "Device\\f");
    Expect(&client, "PROBE_START path without a leading backslash", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_OPLOCK, 0, FLTB_OPLOCK_R, 16, 0, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START oplock probe with a read length", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_OPLOCK, 0, FLTB_OPLOCK_R, 0, 8, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START oplock probe with a read offset", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_READ, 0, FLTB_OPLOCK_R, 16, 0, "\\Device\\HarddiskVolume3\\f");
    Expect(&client, "PROBE_START read probe with an oplock level", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_READ, 0, 0, 16, 0, "\\Device\\HarddiskVolume3\\f");
    b.Bytes[48] += 1;
    Expect(&client, "PROBE_START odd path length", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_READ, 0, 0, 16, 0, "\\Device\\HarddiskVolume3\\f");
    b.Bytes[50] = 1;
    b.Bytes[52] = 1;
    b.Bytes[b.Length - 1] = 7;
    Expect(&client, "PROBE_START reserved fields and padding set (ignored)", "hello", &b, 32, STATUS_SUCCESS, 32);
    b = ProbeStartCmd(FLTB_PROBE_READ, 0, 0, 16, 0, "\\Device\\HarddiskVolume3\\f");
    PutZero(&b, 8);
    SetSize(&b);
    Expect(&client, "PROBE_START size beyond the padded path", "hello", &b, 32, STATUS_INVALID_PARAMETER, 24);
    b = ProbeStartCmd(FLTB_PROBE_OPLOCK, FLTB_PROBE_FLAG_REARM, FLTB_OPLOCK_RH, 0, 0, "\\Device\\HarddiskVolume3\\missing");
    Expect(&client, "PROBE_START target the instance cannot open", "hello", &b, 32, STATUS_OBJECT_PATH_NOT_FOUND, 24);
    b = ProbeStartCmd(FLTB_PROBE_OPLOCK, FLTB_PROBE_FLAG_REARM, FLTB_OPLOCK_RH, 0, 0, "\\Device\\HarddiskVolume3\\f.txt");
    r = Expect(&client, "PROBE_START oplock tripwire", "hello", &b, 32, STATUS_SUCCESS, 32);
    Check(FbHostProbes.LastSpec.Kind == FLTB_PROBE_OPLOCK && FbHostProbes.LastSpec.OplockLevel == FLTB_OPLOCK_RH &&
              FbHostProbes.LastSpec.Flags == FLTB_PROBE_FLAG_REARM && FbHostProbes.LastSpec.PathBytes == 58,
          "comm: PROBE_START passes the validated spec", "");
    b = ProbeStopCmd(0);
    Expect(&client, "PROBE_STOP id 0", "hello", &b, 24, STATUS_NOT_FOUND, 24);
    b = ProbeStopCmd(999);
    Expect(&client, "PROBE_STOP unknown id", "hello", &b, 24, STATUS_NOT_FOUND, 24);
    b = ProbeStopCmd(1);
    Expect(&client, "PROBE_STOP", "hello", &b, 24, STATUS_SUCCESS, 24);

    Disconnect(&client);
    Disconnect(&fresh);
}

/* ------------------------------------------------------------------------ */
/* Fuzzing.                                                                  */
/* ------------------------------------------------------------------------ */

static ULONGLONG FbRandom = 0x9E3779B97F4A7C15ull;

static ULONG
Rand(void)
{
    FbRandom ^= FbRandom << 13;
    FbRandom ^= FbRandom >> 7;
    FbRandom ^= FbRandom << 17;
    return (ULONG)(FbRandom >> 11);
}

static int
ReplySizeValid(USHORT Command, ULONG Size, NTSTATUS Status)
{
    if (Size == sizeof(FLTB_REPLY_HEADER)) {
        return 1;
    }
    switch (Command) {
    case FLTB_CMD_HELLO: return Size == sizeof(FLTB_HELLO_REPLY);
    case FLTB_CMD_CONFIGURE: return Size == sizeof(FLTB_CONFIGURE_REPLY) && Status == STATUS_SUCCESS;
    case FLTB_CMD_GET_STATS: return Size == sizeof(FLTB_STATS_REPLY) && Status == STATUS_SUCCESS;
    case FLTB_CMD_PROBE_START: return Size == sizeof(FLTB_PROBE_START_REPLY) && Status == STATUS_SUCCESS;
    case FLTB_CMD_FLUSH_EVENTS: return Size == sizeof(FLTB_FLUSH_EVENTS_REPLY) && Status == STATUS_SUCCESS;
    default: return 0;
    }
}

static void
TestFuzz(ULONG Iterations)
{
    CLIENT client;
    BUF seeds[8];
    NS spaces[3] = {
        { FLTB_NAMESPACE_MANAGED, "\\Device\\HarddiskVolume1\\m" },
        { FLTB_NAMESPACE_OBSERVE, "\\Device\\HarddiskVolume1" },
        { FLTB_NAMESPACE_OBSERVE, "\\Device\\HarddiskVolume2\\o" },
    };
    ULONG i;
    ULONG bad = 0;
    ULONG accepted = 0;
    char firstBad[200] = "";

    memset(&client, 0, sizeof(client));
    ConnectGood(&client);
    seeds[0] = HelloCmd(1, 1, FLTB_CAP_ALL);
    Send(&client, seeds[0].Bytes, seeds[0].Length, 64);
    seeds[1] = ConfigureCmd(FLTB_CONFIGURE_VALID_FLAGS, FLTB_EVENT_MASK_ALL, 1000, spaces, 3);
    seeds[2] = BareCmd(FLTB_CMD_GET_STATS);
    seeds[3] = FlushCmd(FLTB_FLUSH_DISCARD, 0);
    seeds[4] = ProbeStartCmd(FLTB_PROBE_READ, 0, 0, 4096, 100, "\\Device\\HarddiskVolume1\\m\\file.bin");
    seeds[5] = ProbeStopCmd(1);
    seeds[6] = ProbeStartCmd(FLTB_PROBE_OPLOCK, 1, FLTB_OPLOCK_BATCH, 0, 0, "\\Device\\HarddiskVolume1\\x");
    seeds[7] = HelloCmd(1, 3, 0);

    for (i = 0; i < Iterations; i++) {
        BUF b;
        REPLY r;
        ULONG out;
        ULONG mutations;
        ULONG m;
        FLTB_REPLY_HEADER h;
        FLTB_COMMAND_HEADER in;

        if (Rand() % 10 == 0) {
            /* Pure noise of random length. */
            ULONG k;
            b.Length = Rand() % 600;
            for (k = 0; k < b.Length; k++) {
                b.Bytes[k] = (UCHAR)Rand();
            }
            if (b.Length >= 24 && Rand() % 2) {
                ULONG magic = FLTB_MAGIC_COMMAND;
                memcpy(b.Bytes, &magic, 4);
                SetSize(&b);
            }
        } else {
            b = seeds[Rand() % 8];
            mutations = 1 + Rand() % 4;
            for (m = 0; m < mutations; m++) {
                switch (Rand() % 6) {
                case 0: if (b.Length) b.Bytes[Rand() % b.Length] ^= (UCHAR)(1u << (Rand() % 8)); break;
                case 1: if (b.Length) b.Bytes[Rand() % b.Length] = (UCHAR)Rand(); break;
                case 2: b.Length = b.Length ? Rand() % b.Length : 0; break;
                case 3: { ULONG add = Rand() % 64; PutZero(&b, add); break; }
                case 4: if (b.Length >= 12) SetSize(&b); break;
                default: if (b.Length > 12) b.Bytes[8 + Rand() % 4] = (UCHAR)Rand(); break;
                }
            }
        }

        out = (Rand() % 4 == 0) ? Rand() % 400 : 400;
        r = Send(&client, b.Bytes, b.Length, out);
        h = ReplyHeader(&r);
        memset(&in, 0, sizeof(in));
        if (b.Length >= sizeof(in)) {
            memcpy(&in, b.Bytes, sizeof(in));
        }

        if (out < sizeof(FLTB_REPLY_HEADER)) {
            if (r.Status != STATUS_BUFFER_TOO_SMALL || r.Length != 0) {
                bad++;
            }
            continue;
        }
        if (r.Status != STATUS_SUCCESS || r.Length > out || r.Length < sizeof(h) || h.Magic != FLTB_MAGIC_REPLY ||
            h.Size != r.Length || (b.Length >= sizeof(in) && h.RequestId != in.RequestId) ||
            !ReplySizeValid(h.Command, h.Size, h.Status)) {
            if (bad++ == 0) {
                snprintf(firstBad, sizeof(firstBad), "iteration %u: status 0x%08x len %u magic %08x size %u cmd %u st 0x%08x",
                         i, (ULONG)r.Status, r.Length, h.Magic, h.Size, h.Command, (ULONG)h.Status);
            }
        }
        if (h.Status == STATUS_SUCCESS) {
            accepted++;
        }
        if (FbHostProbes.Active >= FLTB_MAX_PROBES - 1) {
            FbHostProbes.Active = 0;
        }
    }

    {
        char name[120];
        snprintf(name, sizeof(name), "fuzz: %u fixed-seed random and mutated commands, every reply well-formed", Iterations);
        Check(bad == 0, name, "%u bad replies; first: %s", bad, firstBad);
        printf("  (fuzz: %u of %u commands accepted)\n", accepted, Iterations);
    }

    {
        /* Failure injection: every allocation of a command fails in turn. */
        ULONG k;
        int good = 1;
        for (k = 0; k < 6; k++) {
            REPLY r;
            FbHostFailAfter = (long)k;
            r = Send(&client, seeds[1].Bytes, seeds[1].Length, 48);
            FbHostFailAfter = -1;
            if (!(r.Status == STATUS_INSUFFICIENT_RESOURCES ||
                  (r.Status == STATUS_SUCCESS && r.Length >= 24))) {
                good = 0;
            }
        }
        Check(good, "comm: allocation failures at every point give a clean error", "");
    }

    Disconnect(&client);
}

/* ------------------------------------------------------------------------ */
/* Events.                                                                   */
/* ------------------------------------------------------------------------ */

static WCHAR FbName1[64];
static UNICODE_STRING FbNameString;

static void
PostTyped(USHORT Type, ULONG Index)
{
    FB_EVENT event;
    FbEventInit(&event, Type, Type == FLTB_EVENT_OPLOCK_GRANTED ? STATUS_PENDING : STATUS_SUCCESS);
    event.StreamId = 100 + Index;
    event.FileObjectId = 200 + Index;
    event.OperationId = 300 + Index;
    event.Flags = FLTB_RECORD_MANAGED;
    event.Name = (Index % 3 == 2) ? NULL : &FbNameString;
    switch (Type) {
    case FLTB_EVENT_CREATE:
        event.Payload.Create.DesiredAccess = 0x120089;
        event.Payload.Create.ShareAccess = 7;
        event.Payload.Create.CreateDisposition = 1;
        event.Payload.Create.CreateOptions = 0x40;
        event.Payload.Create.Information = 1;
        event.Payload.Create.CreateFlags = FLTB_CREATE_WAITED_FOR_BREAK;
        event.Payload.Create.FileSize = 12345;
        break;
    case FLTB_EVENT_OPLOCK_BREAK:
        event.Payload.OplockBreak.FromLevel = FLTB_OPLOCK_RWH;
        event.Payload.OplockBreak.ToLevel = FLTB_OPLOCK_RH;
        event.Payload.OplockBreak.BreakFlags = FLTB_BREAK_ACK_REQUIRED | FLTB_BREAK_OPERATION_WAITS;
        event.Payload.OplockBreak.CausedByOperationId = 301;
        event.Payload.OplockBreak.CausedByMajor = FLTB_MJ_CREATE;
        event.Payload.OplockBreak.CausedByProcessId = 9;
        break;
    case FLTB_EVENT_LOCK_GRANTED:
        event.Payload.Lock.Offset = 10;
        event.Payload.Lock.Length = 20;
        event.Payload.Lock.Key = 3;
        event.Payload.Lock.LockFlags = FLTB_LOCK_EXCLUSIVE | FLTB_LOCK_AFTER_WAIT;
        event.Payload.Lock.RelatedOperationId = 299;
        break;
    case FLTB_EVENT_IO:
        event.Payload.Io.Major = FLTB_MJ_WRITE;
        event.Payload.Io.Offset = 4096;
        event.Payload.Io.Length = 512;
        event.Payload.Io.Information = 512;
        break;
    case FLTB_EVENT_LOCK_DENIED:
    case FLTB_EVENT_LOCK_WAITING:
    case FLTB_EVENT_UNLOCKED:
        event.Payload.Lock.Offset = 64;
        event.Payload.Lock.Length = 8;
        event.Payload.Lock.LockFlags = FLTB_LOCK_FAIL_IMMEDIATELY;
        break;
    case FLTB_EVENT_OPLOCK_REQUEST:
        event.Payload.OplockRequest.FsControlCode = 0x00090240;
        event.Payload.OplockRequest.RequestedLevel = FLTB_OPLOCK_RH;
        event.Payload.OplockRequest.InputFlags = 1;
        event.Payload.OplockRequest.OpenCount = 1;
        break;
    case FLTB_EVENT_OPLOCK_GRANTED:
        event.Payload.OplockGranted.GrantedLevel = FLTB_OPLOCK_RH;
        break;
    case FLTB_EVENT_OPLOCK_ACKNOWLEDGED:
        event.Payload.OplockAck.FsControlCode = 0x00090240;
        event.Payload.OplockAck.AckLevel = FLTB_OPLOCK_R;
        event.Payload.OplockAck.InputFlags = 2;
        event.Payload.OplockAck.BrokenRequestOperationId = 301;
        break;
    case FLTB_EVENT_OPLOCK_BREAK_COMPLETED:
        event.Payload.BreakCompleted.ReleasedByOperationId = 305;
        event.Payload.BreakCompleted.WaiterMajor = FLTB_MJ_CREATE;
        event.Payload.BreakCompleted.Reason = FLTB_RELEASE_ACKNOWLEDGED;
        break;
    case FLTB_EVENT_OPLOCK_COMPLETED:
        event.Payload.OplockCompleted.Reason = FLTB_OPLOCK_END_HANDLE_CLOSED;
        break;
    case FLTB_EVENT_UNLOCK_ALL:
        event.Payload.UnlockAll.Count = 3;
        event.Payload.UnlockAll.UnlockFlags = FLTB_UNLOCK_ALL_CLEANUP;
        break;
    case FLTB_EVENT_IO_REFUSED:
        event.Payload.IoRefused.Offset = 100;
        event.Payload.IoRefused.Length = 10;
        event.Payload.IoRefused.Major = FLTB_MJ_READ;
        break;
    case FLTB_EVENT_PROBE_ISSUED:
        event.Payload.ProbeIssued.ProbeId = 1;
        event.Payload.ProbeIssued.Kind = FLTB_PROBE_OPLOCK;
        event.Payload.ProbeIssued.OplockLevel = FLTB_OPLOCK_RH;
        event.Payload.ProbeIssued.ProbeFlags = FLTB_PROBE_FLAG_REARM;
        break;
    case FLTB_EVENT_PROBE_COMPLETED:
        event.Payload.ProbeCompleted.ProbeId = 1;
        event.Payload.ProbeCompleted.Kind = FLTB_PROBE_OPLOCK;
        event.Payload.ProbeCompleted.ProbeFlags = FLTB_PROBE_DONE_REARMED;
        event.Payload.ProbeCompleted.OutputLevel = FLTB_OPLOCK_R;
        event.Payload.ProbeCompleted.OutputFlags = 1;
        break;
    default:
        break;
    }
    FbEventPost(&event);
}

/* Validates one batch (the invariants fltbridge_proto.h lists), returns its record count. */
static int
ValidateBatch(const UCHAR *Bytes, ULONG Length, ULONGLONG *NextExpected, ULONGLONG *Dropped, char *Why, size_t WhySize)
{
    FLTB_BATCH_HEADER h;
    ULONG offset = sizeof(h);
    ULONG count = 0;
    ULONGLONG droppedHere = 0;
    ULONGLONG last = 0;

    if (Length < sizeof(h)) { snprintf(Why, WhySize, "short batch"); return -1; }
    memcpy(&h, Bytes, sizeof(h));
    if (h.Magic != FLTB_MAGIC_BATCH || h.Version != FLTB_PROTOCOL_VERSION || h.HeaderBytes != sizeof(h) ||
        h.TotalBytes != Length || Length > FLTB_MAX_BATCH_BYTES || h.RecordCount == 0 || h.Flags || h.Reserved) {
        snprintf(Why, WhySize, "bad header (count %u total %u/%u)", h.RecordCount, h.TotalBytes, Length);
        return -1;
    }
    while (offset < Length) {
        FLTB_RECORD_HEADER r;
        if (Length - offset < sizeof(r)) { snprintf(Why, WhySize, "truncated record"); return -1; }
        memcpy(&r, Bytes + offset, sizeof(r));
        if (r.Size % 8 || r.Size < sizeof(r) || r.Size > Length - offset || r.Type == 0 || r.Type > FLTB_EVENT_TYPE_MAX) {
            snprintf(Why, WhySize, "bad record size/type %u/%u", r.Size, r.Type);
            return -1;
        }
        if (r.NameBytes && (r.NameOffset < sizeof(r) + FLTB_PAYLOAD_BYTES(r.Type) || r.NameOffset + r.NameBytes > r.Size ||
                            r.NameBytes % 2)) {
            snprintf(Why, WhySize, "bad name placement");
            return -1;
        }
        if (count == 0 && r.Sequence != h.FirstSequence) { snprintf(Why, WhySize, "first sequence"); return -1; }
        if (r.Sequence != *NextExpected) {
            snprintf(Why, WhySize, "gap: got %llu want %llu", (unsigned long long)r.Sequence, (unsigned long long)*NextExpected);
            return -1;
        }
        if (r.Type == FLTB_EVENT_DROPPED) {
            FLTB_DROPPED_PAYLOAD d;
            memcpy(&d, Bytes + offset + sizeof(r), sizeof(d));
            if (d.FirstSequence != r.Sequence || d.Count == 0 || !(r.Flags & FLTB_RECORD_SYNTHETIC)) {
                snprintf(Why, WhySize, "bad dropped record");
                return -1;
            }
            droppedHere += d.Count;
            *NextExpected = d.FirstSequence + d.Count;
        } else {
            *NextExpected = r.Sequence + 1;
        }
        last = r.Sequence;
        offset += r.Size;
        count++;
    }
    if (count != h.RecordCount || last != h.LastSequence || droppedHere != h.DroppedSinceLast) {
        snprintf(Why, WhySize, "header totals (count %u/%u last %llu/%llu dropped %llu/%llu)", count, h.RecordCount,
                 (unsigned long long)last, (unsigned long long)h.LastSequence, (unsigned long long)droppedHere,
                 (unsigned long long)h.DroppedSinceLast);
        return -1;
    }
    *Dropped += droppedHere;
    return (int)count;
}

static int
DrainAll(void)
{
    int rounds = 0;
    while (FbEventsDrainOnce() && rounds < 1000) {
        rounds++;
    }
    return rounds;
}

static void
TestEvents(void)
{
    CLIENT watcher;
    CLIENT quiet;
    BUF b;
    REPLY r;
    FLTB_HELLO_REPLY hello;
    FLTB_FLUSH_EVENTS_REPLY flush;
    FB_EVENT_STATS stats;
    ULONG i;
    ULONGLONG next;
    ULONGLONG dropped = 0;
    ULONG records = 0;
    char why[200] = "";
    int ok = 1;
    FILE *bin;
    char path[512];
    ULONG bytes;

    AsciiToUtf16("\\Device\\HarddiskVolume3\\work\\f.txt", FbName1, &bytes);
    FbNameString.Buffer = FbName1;
    FbNameString.Length = (USHORT)bytes;
    FbNameString.MaximumLength = (USHORT)bytes;

    memset(&watcher, 0, sizeof(watcher));
    memset(&quiet, 0, sizeof(quiet));
    FbHostClearDeliveries();

    /* No subscriber: nothing is produced, no sequence number is used. */
    FbEventsGetStats(&stats);
    next = stats.NextSequence;
    PostTyped(FLTB_EVENT_CREATE, 0);
    FbEventsGetStats(&stats);
    Check(stats.NextSequence == next && stats.Produced == 0, "events: nothing produced without a subscriber", "");

    ConnectGood(&quiet);
    b = HelloCmd(1, 1, 0);
    Send(&quiet, b.Bytes, b.Length, 64);
    ConnectGood(&watcher);
    b = HelloCmd(1, 1, FLTB_CAP_EVENT_BATCHES);
    r = Send(&watcher, b.Bytes, b.Length, 64);
    memcpy(&hello, r.Bytes, sizeof(hello));
    next = hello.NextSequence;
    Check(next == 1, "events: HELLO NextSequence is the next event's sequence", "%llu", (unsigned long long)next);

    /* Every event type once, with and without names. */
    for (i = 1; i <= FLTB_EVENT_TYPE_MAX; i++) {
        if (i != FLTB_EVENT_DROPPED) {
            PostTyped((USHORT)i, i);
        }
    }
    DrainAll();
    Check(FbHostDeliveryCount == 1, "events: one batch for a burst that fits", "%u batches", FbHostDeliveryCount);

    /* Mask: filtered types take no sequence number. */
    b = ConfigureCmd(FLTB_CONFIGURE_SET_EVENT_MASK, FLTB_EVENT_MASK_ALL & ~(1ull << FLTB_EVENT_IO), 0, NULL, 0);
    Send(&watcher, b.Bytes, b.Length, 48);
    FbEventsGetStats(&stats);
    next = stats.NextSequence;
    PostTyped(FLTB_EVENT_IO, 1);
    FbEventsGetStats(&stats);
    Check(stats.NextSequence == next, "events: a masked type is never produced", "");
    b = ConfigureCmd(FLTB_CONFIGURE_SET_EVENT_MASK | FLTB_CONFIGURE_SET_QUEUE_LIMIT, FLTB_EVENT_MASK_ALL, 16, NULL, 0);
    Send(&watcher, b.Bytes, b.Length, 48);

    /* Overflow: 16 fit, the rest are dropped with their sequence numbers. */
    for (i = 0; i < 40; i++) {
        PostTyped(FLTB_EVENT_LOCK_GRANTED, i);
    }
    FbEventsGetStats(&stats);
    Check(stats.QueueDepth == 16 && stats.Dropped == 24, "events: a full queue drops new events, never queued ones",
          "depth %u dropped %llu", stats.QueueDepth, (unsigned long long)stats.Dropped);
    PostTyped(FLTB_EVENT_CREATE, 5);                        /* does not fit either */
    DrainAll();
    PostTyped(FLTB_EVENT_CREATE, 6);                        /* fits: preceded by DROPPED(25) */
    PostTyped(FLTB_EVENT_IO, 7);
    DrainAll();

    /* FLUSH_EVENTS discard: queued records become one dropped run. */
    for (i = 0; i < 5; i++) {
        PostTyped(FLTB_EVENT_UNLOCKED, i);
    }
    b = FlushCmd(FLTB_FLUSH_DISCARD, 0);
    r = Send(&watcher, b.Bytes, b.Length, 40);
    memcpy(&flush, r.Bytes, sizeof(flush));
    Check(flush.Header.Status == STATUS_SUCCESS && flush.Discarded == 5,
          "events: FLUSH_EVENTS discard counts what it discarded", "%llu", (unsigned long long)flush.Discarded);
    PostTyped(FLTB_EVENT_CLOSE, 1);
    b = FlushCmd(0, 0);
    Send(&watcher, b.Bytes, b.Length, 40);
    DrainAll();

    /* A client that does not read: the batch is kept and sent again later. */
    PostTyped(FLTB_EVENT_CLEANUP, 1);
    FbHostSendMode = FB_SEND_TIMEOUT;
    DrainAll();
    FbEventsGetStats(&stats);
    Check(stats.QueueDepth == 1, "events: a timed-out batch stays queued", "depth %u", stats.QueueDepth);
    FbHostSendMode = FB_SEND_DELIVER;
    DrainAll();

    /* Names longer than FLTB_MAX_NAME_BYTES are cut and flagged. */
    {
        static WCHAR longName[1500];
        UNICODE_STRING name;
        FB_EVENT event;
        for (i = 0; i < 1500; i++) {
            longName[i] = (WCHAR)('a' + i % 26);
        }
        name.Buffer = longName;
        name.Length = 3000;
        name.MaximumLength = 3000;
        FbEventInit(&event, FLTB_EVENT_CLOSE, STATUS_SUCCESS);
        event.Name = &name;
        FbEventPost(&event);
        DrainAll();
    }

    /* Check every batch and write them for the TypeScript codec test. */
    snprintf(path, sizeof(path), "%s/batches.bin", FbOutDir);
    bin = fopen(path, "wb");
    next = 1;
    for (i = 0; i < FbHostDeliveryCount; i++) {
        int n = ValidateBatch(FbHostDeliveries[i].Bytes, FbHostDeliveries[i].Length, &next, &dropped, why, sizeof(why));
        if (n < 0) {
            ok = 0;
            break;
        }
        records += (ULONG)n;
        if (bin != NULL) {
            fwrite(&FbHostDeliveries[i].Length, 4, 1, bin);
            fwrite(FbHostDeliveries[i].Bytes, 1, FbHostDeliveries[i].Length, bin);
        }
    }
    if (bin != NULL) {
        fclose(bin);
    }
    FbEventsGetStats(&stats);
    Check(ok, "events: every batch keeps the protocol's invariants (sizes, order, no gap outside DROPPED)", "%s", why);
    Check(ok && dropped == stats.Dropped && next == stats.NextSequence,
          "events: drops are counted exactly (DroppedSinceLast sums to the stats, sequence gap-free)",
          "dropped %llu vs %llu, next %llu vs %llu", (unsigned long long)dropped, (unsigned long long)stats.Dropped,
          (unsigned long long)next, (unsigned long long)stats.NextSequence);
    Check(stats.Delivered + stats.Dropped == stats.Produced,
          "events: produced = delivered + dropped once drained", "%llu + %llu vs %llu",
          (unsigned long long)stats.Delivered, (unsigned long long)stats.Dropped, (unsigned long long)stats.Produced);
    Check(stats.PerType[FLTB_EVENT_LOCK_GRANTED] == 41, "events: per-type counters", "%llu",
          (unsigned long long)stats.PerType[FLTB_EVENT_LOCK_GRANTED]);

    {
        FILE *json;
        snprintf(path, sizeof(path), "%s/batches.json", FbOutDir);
        json = fopen(path, "w");
        if (json != NULL) {
            fprintf(json, "{\"batches\": %u, \"records\": %u, \"produced\": %llu, \"dropped\": %llu, \"nextSequence\": %llu,"
                          " \"name\": \"\\\\Device\\\\HarddiskVolume3\\\\work\\\\f.txt\"}\n",
                    FbHostDeliveryCount, records, (unsigned long long)stats.Produced, (unsigned long long)stats.Dropped,
                    (unsigned long long)stats.NextSequence);
            fclose(json);
        }
    }

    /* The quiet connection never subscribed: nothing was queued for it. */
    Check(FbHostDeliveryCount > 0 && FbHostDeliveries[0].Port == watcher.Port,
          "events: only subscribers receive batches", "");

    Disconnect(&watcher);
    Disconnect(&quiet);
    FbHostClearDeliveries();
}

/* The drain thread, with a live thread: delivery, a blocked client that disconnects, and stop. */
static void
TestDrainThread(void)
{
    CLIENT c;
    BUF b;
    ULONG i;
    int waited;
    FB_EVENT_STATS stats;

    memset(&c, 0, sizeof(c));
    FbHostClearDeliveries();
    Check(FbEventsStartDrain() == STATUS_SUCCESS, "drain: thread starts", "");

    ConnectGood(&c);
    b = HelloCmd(1, 1, FLTB_CAP_EVENT_BATCHES);
    Send(&c, b.Bytes, b.Length, 64);
    for (i = 0; i < 200; i++) {
        PostTyped(FLTB_EVENT_IO, i);
    }
    for (waited = 0; waited < 200; waited++) {
        FbEventsGetStats(&stats);
        if (stats.QueueDepth == 0) {
            break;
        }
        usleep(10000);
    }
    Check(stats.QueueDepth == 0 && FbHostDeliveryCount >= 1, "drain: the thread pushes what is produced",
          "depth %u after %d waits", stats.QueueDepth, waited);

    /* A client that never reads: the thread blocks in FltSendMessage until the port closes. */
    FbHostSendMode = FB_SEND_BLOCK;
    PostTyped(FLTB_EVENT_IO, 999);
    usleep(50000);
    Disconnect(&c);
    FbHostWaitSendIdle();
    FbHostSendMode = FB_SEND_DELIVER;
    Check(1, "drain: disconnect releases a send in progress", "");

    /* Stop with a blocked client connected: bounded by the send timeout. */
    ConnectGood(&c);
    Send(&c, b.Bytes, b.Length, 64);
    FbHostSendMode = FB_SEND_BLOCK;
    PostTyped(FLTB_EVENT_IO, 1000);
    usleep(20000);
    {
        struct timespec t0, t1;
        double ms;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        FbEventsStopDrain();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms = (double)(t1.tv_sec - t0.tv_sec) * 1000.0 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        Check(ms < 4.0 * FB_DEFAULT_SEND_TIMEOUT_MS, "drain: stop with a client connected returns within the send timeout",
              "%.0f ms", ms);
    }
    FbHostSendMode = FB_SEND_DELIVER;
    Disconnect(&c);
    FbHostClearDeliveries();
}

static void
TestAllocations(void)
{
    FILE *json;
    char path[512];
    ULONG i;
    int clean = 1;
    ULONGLONG total = 0;

    snprintf(path, sizeof(path), "%s/alloc.json", FbOutDir);
    json = fopen(path, "w");
    if (json != NULL) {
        fprintf(json, "{\"tags\": [");
    }
    for (i = 0; i < FbHostTagCount; i++) {
        char tag[5];
        memcpy(tag, &FbHostTags[i].Tag, 4);
        tag[4] = 0;
        total += FbHostTags[i].Allocations;
        if (FbHostTags[i].Live != 0 || FbHostTags[i].Allocations != FbHostTags[i].Frees) {
            clean = 0;
            printf("  tag %s: %llu allocated, %llu freed, %lld live\n", tag, (unsigned long long)FbHostTags[i].Allocations,
                   (unsigned long long)FbHostTags[i].Frees, (long long)FbHostTags[i].Live);
        }
        if (json != NULL) {
            fprintf(json, "%s{\"tag\": \"%s\", \"allocations\": %llu, \"frees\": %llu, \"live\": %lld}", i ? ", " : "", tag,
                    (unsigned long long)FbHostTags[i].Allocations, (unsigned long long)FbHostTags[i].Frees,
                    (long long)FbHostTags[i].Live);
        }
    }
    if (json != NULL) {
        fprintf(json, "]}\n");
        fclose(json);
    }
    Check(clean && total > 0, "allocations: every tagged allocation freed", "see the tags above");
}

int
main(int argc, char **argv)
{
    char path[512];

    if (argc > 1) {
        FbOutDir = argv[1];
    }

    snprintf(path, sizeof(path), "%s/comm-vectors.json", FbOutDir);
    FbVectors = fopen(path, "w");
    if (FbVectors == NULL) {
        perror(path);
        return 2;
    }
    fprintf(FbVectors, "{\"protocolVersion\": %u, \"vectors\": [", FLTB_PROTOCOL_VERSION);

    Check(FbPolicyInitialize() == STATUS_SUCCESS && FbEventsInitialize() == STATUS_SUCCESS &&
              FbCommInitialize((PFLT_FILTER)(ULONG_PTR)0xF117) == STATUS_SUCCESS,
          "init: policy, events, port", "");
    FbGlobals.Filter = (PFLT_FILTER)(ULONG_PTR)0xF117;

    TestPort();
    TestConnect();
    TestCommands();
    TestFuzz(5000);
    TestEvents();
    TestDrainThread();

    FbCommClosePort();
    FbEventsUninitialize();
    FbPolicyUninitialize();
    TestAllocations();

    fprintf(FbVectors, "\n]}\n");
    fclose(FbVectors);

    printf("%d passed, %d failed\n", FbPassed, FbFailed);
    return FbFailed == 0 ? 0 : 1;
}
