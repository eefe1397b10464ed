/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    fltbridge_proto.h

Abstract:

    The one wire contract between the fltbridge minifilter and user mode.

    Everything that crosses the filter communication port \FltBridgePort is
    defined here and nowhere else: the connection context, the commands a
    client sends with FilterSendMessage and their replies, and the event
    batches the driver pushes with FltSendMessage (received by the client
    with FilterGetMessage, after the FILTER_MESSAGE_HEADER fltmgr prepends).

    Rules for every structure in this file:

      - fixed-width little-endian fields only; no pointers, no bitfields,
        no enums as field types (enum values are carried in integer fields);
      - natural alignment with every padding byte spelled out as a Reserved
        field, so the layout is identical for MSVC (x64), clang/gcc for
        x86_64-w64-windows-gnu and the host compilers on Linux and macOS;
      - every structure's size and every field's offset is asserted below;
      - reserved fields are written as zero and ignored by readers;
      - variable-length tails (UTF-16LE names) follow the fixed part and
        are padded with zero bytes to a multiple of 8.

    The TypeScript codec in src/protocol/ encodes and decodes exactly these
    bytes; test/protocol/ proves it against dumps made by two C compilers.

Environment:

    Kernel mode (driver), user mode (addon, test programs), any C99/C11 or
    C++11 compiler.

--*/

#ifndef FLTBRIDGE_PROTO_H
#define FLTBRIDGE_PROTO_H

#include <stddef.h>

/* ------------------------------------------------------------------------ */
/* Fixed-width types.                                                        */
/*                                                                           */
/* Built from the basic C types so the header needs neither stdint.h (not    */
/* always present in kernel builds) nor the Windows headers. The widths are  */
/* asserted below; they hold on LLP64 (Windows) and LP64 (Linux, macOS).     */
/* ------------------------------------------------------------------------ */

typedef unsigned char FLTB_U8;
typedef unsigned short FLTB_U16;
typedef unsigned int FLTB_U32;
typedef int FLTB_I32;
typedef unsigned long long FLTB_U64;
typedef long long FLTB_I64;

#if defined(__cplusplus)
#define FLTB_STATIC_ASSERT(Condition, Tag) static_assert(Condition, #Tag)
#elif (defined(_MSC_VER) && !defined(__clang__)) || !defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L
/* MSVC, and C99 compilers (which have no _Static_assert): a negative array size. */
#define FLTB_STATIC_ASSERT_JOIN2(A, B) A##B
#define FLTB_STATIC_ASSERT_JOIN(A, B) FLTB_STATIC_ASSERT_JOIN2(A, B)
#define FLTB_STATIC_ASSERT(Condition, Tag) \
    typedef char FLTB_STATIC_ASSERT_JOIN(FltbAssert_##Tag##_, __LINE__)[(Condition) ? 1 : -1]
#else
#define FLTB_STATIC_ASSERT(Condition, Tag) _Static_assert(Condition, #Tag)
#endif

#define FLTB_ASSERT_SIZE(Type, Size) \
    FLTB_STATIC_ASSERT(sizeof(Type) == (Size), Type##_size)
#define FLTB_ASSERT_OFFSET(Type, Field, Offset) \
    FLTB_STATIC_ASSERT(offsetof(Type, Field) == (Offset), Type##_##Field##_offset)

FLTB_STATIC_ASSERT(sizeof(FLTB_U8) == 1, u8_width);
FLTB_STATIC_ASSERT(sizeof(FLTB_U16) == 2, u16_width);
FLTB_STATIC_ASSERT(sizeof(FLTB_U32) == 4, u32_width);
FLTB_STATIC_ASSERT(sizeof(FLTB_I32) == 4, i32_width);
FLTB_STATIC_ASSERT(sizeof(FLTB_U64) == 8, u64_width);
FLTB_STATIC_ASSERT(sizeof(FLTB_I64) == 8, i64_width);

/* ------------------------------------------------------------------------ */
/* Versions, names, magic numbers and limits.                                */
/* ------------------------------------------------------------------------ */

/* Protocol version: bumped on any incompatible change to this file.
   Additive changes (a new event type, a longer payload read through
   NameOffset) keep the version. */
#define FLTB_PROTOCOL_VERSION            1
#define FLTB_PROTOCOL_VERSION_MIN        1

/* Driver version reported by HELLO. */
#define FLTB_DRIVER_VERSION_MAJOR        0
#define FLTB_DRIVER_VERSION_MINOR        1
#define FLTB_DRIVER_VERSION_PATCH        0

/* The one communication port (a name in the object manager namespace). */
#define FLTB_PORT_NAME_W                 L"\\FltBridgePort"
#define FLTB_PORT_MAX_CONNECTIONS        4

/* Magic numbers, little-endian ASCII. */
#define FLTB_MAGIC_CONNECT               0x4E434246u /* "FBCN" */
#define FLTB_MAGIC_COMMAND               0x4D434246u /* "FBCM" */
#define FLTB_MAGIC_REPLY                 0x50524246u /* "FBRP" */
#define FLTB_MAGIC_BATCH                 0x56454246u /* "FBEV" */

/* Names are UTF-16LE without a terminator. A name longer than this is
   truncated (records) or refused (commands). */
#define FLTB_MAX_NAME_BYTES              2048u
/* Largest fixed payload of any record type; room to grow additively. */
#define FLTB_MAX_PAYLOAD_BYTES           64u
/* Largest record: header + payload + name, a multiple of 8. */
#define FLTB_MAX_RECORD_BYTES            (64u + FLTB_MAX_PAYLOAD_BYTES + FLTB_MAX_NAME_BYTES)
/* Largest event batch (after fltmgr's FILTER_MESSAGE_HEADER). */
#define FLTB_MAX_BATCH_BYTES             65536u
/* Largest command a client may send, and largest reply. */
#define FLTB_MAX_COMMAND_BYTES           131072u
#define FLTB_MAX_REPLY_BYTES             4096u
/* CONFIGURE limits. */
#define FLTB_MAX_NAMESPACES              32u
#define FLTB_QUEUE_LIMIT_MIN             16u
#define FLTB_QUEUE_LIMIT_MAX             1048576u
#define FLTB_QUEUE_LIMIT_DEFAULT         65536u
/* PROBE limits. */
#define FLTB_PROBE_READ_MAX              65536u
#define FLTB_MAX_PROBES                  16u

/* Every variable-length piece is padded to this alignment. */
#define FLTB_ALIGNMENT                   8u
/* Division keeps the operand's own width (a mask would be 32-bit and clear the high bits of a
   64-bit operand). */
#define FLTB_ALIGN_UP(Bytes)             ((((Bytes) + (FLTB_ALIGNMENT - 1u)) / FLTB_ALIGNMENT) * FLTB_ALIGNMENT)

/* ------------------------------------------------------------------------ */
/* Shared enumerations (carried in integer fields).                          */
/* ------------------------------------------------------------------------ */

/* Capabilities (HELLO, both directions). */
#define FLTB_CAP_MANAGED_STREAMS         0x00000001u /* owns oplocks and locks under managed namespaces */
#define FLTB_CAP_OBSERVE                 0x00000002u /* reports what the file system below does */
#define FLTB_CAP_PROBE_OPLOCK            0x00000004u /* oplock tripwire probes */
#define FLTB_CAP_PROBE_READ              0x00000008u /* read probes */
#define FLTB_CAP_EVENT_BATCHES           0x00000010u /* pushes event batches through the port */
#define FLTB_CAP_ALL                     0x0000001Fu

/* Oplock levels as the user sees them. Legacy levels come from the
   FSCTL_REQUEST_OPLOCK_LEVEL_1 / _LEVEL_2 / BATCH / FILTER requests; the
   Windows 7 levels are the OPLOCK_LEVEL_CACHE_{READ,HANDLE,WRITE}
   combinations accepted by FSCTL_REQUEST_OPLOCK. */
#define FLTB_OPLOCK_NONE                 0u
#define FLTB_OPLOCK_LEVEL1               1u
#define FLTB_OPLOCK_LEVEL2               2u
#define FLTB_OPLOCK_BATCH                3u
#define FLTB_OPLOCK_FILTER               4u
#define FLTB_OPLOCK_R                    5u
#define FLTB_OPLOCK_RW                   6u
#define FLTB_OPLOCK_RH                   7u
#define FLTB_OPLOCK_RWH                  8u
#define FLTB_OPLOCK_LEVEL_MAX            8u

/* IRP major function codes, as in wdm.h, for the fields that name an
   operation (CausedByMajor, Major, ...). */
#define FLTB_MJ_CREATE                   0x00u
#define FLTB_MJ_CLOSE                    0x02u
#define FLTB_MJ_READ                     0x03u
#define FLTB_MJ_WRITE                    0x04u
#define FLTB_MJ_SET_INFORMATION          0x06u
#define FLTB_MJ_FLUSH_BUFFERS            0x09u
#define FLTB_MJ_FILE_SYSTEM_CONTROL      0x0Du
#define FLTB_MJ_LOCK_CONTROL             0x11u
#define FLTB_MJ_CLEANUP                  0x12u
/* Not an IRP: filter-initiated probe I/O. */
#define FLTB_MJ_PROBE                    0xFEu
/* Unknown / not applicable. */
#define FLTB_MJ_NONE                     0xFFu

/* ------------------------------------------------------------------------ */
/* Connection context (FilterConnectCommunicationPort lpContext).            */
/* ------------------------------------------------------------------------ */

typedef struct _FLTB_CONNECT_CONTEXT {
    FLTB_U32 Magic;                 /* FLTB_MAGIC_CONNECT */
    FLTB_U16 Version;               /* FLTB_PROTOCOL_VERSION the client speaks */
    FLTB_U16 Size;                  /* sizeof(FLTB_CONNECT_CONTEXT) */
    FLTB_U32 ClientCapabilities;    /* FLTB_CAP_* the client can consume */
    FLTB_U32 Reserved;
} FLTB_CONNECT_CONTEXT;

FLTB_ASSERT_SIZE(FLTB_CONNECT_CONTEXT, 16);
FLTB_ASSERT_OFFSET(FLTB_CONNECT_CONTEXT, Magic, 0);
FLTB_ASSERT_OFFSET(FLTB_CONNECT_CONTEXT, Version, 4);
FLTB_ASSERT_OFFSET(FLTB_CONNECT_CONTEXT, Size, 6);
FLTB_ASSERT_OFFSET(FLTB_CONNECT_CONTEXT, ClientCapabilities, 8);
FLTB_ASSERT_OFFSET(FLTB_CONNECT_CONTEXT, Reserved, 12);

/* ------------------------------------------------------------------------ */
/* Commands: FilterSendMessage input buffer -> reply in its output buffer.   */
/*                                                                           */
/* Every command starts with FLTB_COMMAND_HEADER and every reply with        */
/* FLTB_REPLY_HEADER. The driver validates Magic, Version (must equal the    */
/* version agreed by HELLO; HELLO itself may carry any version), Command,    */
/* and Size (must equal the input length and the command's exact size, or    */
/* for variable commands the size its counts imply). A refused command gets  */
/* a reply whose Status names the reason and whose Size is                   */
/* sizeof(FLTB_REPLY_HEADER) (the one exception: HELLO refused with          */
/* STATUS_REVISION_MISMATCH is a full FLTB_HELLO_REPLY, see below):          */
/*   STATUS_INVALID_PARAMETER        malformed input (size, enum, count)     */
/*   STATUS_REVISION_MISMATCH        no common protocol version              */
/*   STATUS_INVALID_DEVICE_REQUEST   unknown command, or HELLO not done      */
/*   STATUS_BUFFER_TOO_SMALL         output buffer smaller than the reply    */
/*   STATUS_INSUFFICIENT_RESOURCES   allocation failed                       */
/*   STATUS_NOT_FOUND                unknown probe id                        */
/* ------------------------------------------------------------------------ */

#define FLTB_CMD_HELLO                   1u
#define FLTB_CMD_CONFIGURE               2u
#define FLTB_CMD_GET_STATS               3u
#define FLTB_CMD_PROBE_START             4u
#define FLTB_CMD_PROBE_STOP              5u
#define FLTB_CMD_FLUSH_EVENTS            6u
#define FLTB_CMD_MAX                     6u

typedef struct _FLTB_COMMAND_HEADER {
    FLTB_U32 Magic;                 /* FLTB_MAGIC_COMMAND */
    FLTB_U16 Version;               /* protocol version of this message */
    FLTB_U16 Command;               /* FLTB_CMD_* */
    FLTB_U32 Size;                  /* bytes of the whole command */
    FLTB_U32 Flags;                 /* reserved, zero */
    FLTB_U64 RequestId;             /* chosen by the client, echoed in the reply */
} FLTB_COMMAND_HEADER;

FLTB_ASSERT_SIZE(FLTB_COMMAND_HEADER, 24);
FLTB_ASSERT_OFFSET(FLTB_COMMAND_HEADER, Magic, 0);
FLTB_ASSERT_OFFSET(FLTB_COMMAND_HEADER, Version, 4);
FLTB_ASSERT_OFFSET(FLTB_COMMAND_HEADER, Command, 6);
FLTB_ASSERT_OFFSET(FLTB_COMMAND_HEADER, Size, 8);
FLTB_ASSERT_OFFSET(FLTB_COMMAND_HEADER, Flags, 12);
FLTB_ASSERT_OFFSET(FLTB_COMMAND_HEADER, RequestId, 16);

typedef struct _FLTB_REPLY_HEADER {
    FLTB_U32 Magic;                 /* FLTB_MAGIC_REPLY */
    FLTB_U16 Version;               /* protocol version of this message */
    FLTB_U16 Command;               /* the command answered */
    FLTB_U32 Size;                  /* bytes of the whole reply */
    FLTB_I32 Status;                /* NTSTATUS of the command */
    FLTB_U64 RequestId;             /* copied from the command */
} FLTB_REPLY_HEADER;

FLTB_ASSERT_SIZE(FLTB_REPLY_HEADER, 24);
FLTB_ASSERT_OFFSET(FLTB_REPLY_HEADER, Magic, 0);
FLTB_ASSERT_OFFSET(FLTB_REPLY_HEADER, Version, 4);
FLTB_ASSERT_OFFSET(FLTB_REPLY_HEADER, Command, 6);
FLTB_ASSERT_OFFSET(FLTB_REPLY_HEADER, Size, 8);
FLTB_ASSERT_OFFSET(FLTB_REPLY_HEADER, Status, 12);
FLTB_ASSERT_OFFSET(FLTB_REPLY_HEADER, RequestId, 16);

/* HELLO: agree on a protocol version. Must be the first command on a
   connection. The driver picks the highest version in
   [MinVersion, MaxVersion] it supports, or answers STATUS_REVISION_MISMATCH
   (with ProtocolVersion = the driver's own version so the client can say
   which side to upgrade). */

typedef struct _FLTB_HELLO_REQUEST {
    FLTB_COMMAND_HEADER Header;
    FLTB_U16 MinVersion;
    FLTB_U16 MaxVersion;
    FLTB_U32 ClientCapabilities;    /* FLTB_CAP_* */
    FLTB_U32 ClientProcessId;       /* informational; the driver uses the real one */
    FLTB_U32 Reserved;
} FLTB_HELLO_REQUEST;

FLTB_ASSERT_SIZE(FLTB_HELLO_REQUEST, 40);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REQUEST, Header, 0);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REQUEST, MinVersion, 24);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REQUEST, MaxVersion, 26);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REQUEST, ClientCapabilities, 28);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REQUEST, ClientProcessId, 32);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REQUEST, Reserved, 36);

typedef struct _FLTB_HELLO_REPLY {
    FLTB_REPLY_HEADER Header;
    FLTB_U16 ProtocolVersion;       /* agreed version (or the driver's, on mismatch) */
    FLTB_U16 DriverMajor;
    FLTB_U16 DriverMinor;
    FLTB_U16 DriverPatch;
    FLTB_U32 Capabilities;          /* FLTB_CAP_* the driver offers */
    FLTB_U32 MaxRecordBytes;        /* FLTB_MAX_RECORD_BYTES */
    FLTB_U32 MaxBatchBytes;         /* the largest batch it will push */
    FLTB_U32 QueueLimit;            /* records the event queue holds */
    FLTB_U64 NextSequence;          /* sequence number of the next event produced */
    FLTB_U64 EventTypeMask;         /* event types currently produced */
} FLTB_HELLO_REPLY;

FLTB_ASSERT_SIZE(FLTB_HELLO_REPLY, 64);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, Header, 0);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, ProtocolVersion, 24);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, DriverMajor, 26);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, DriverMinor, 28);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, DriverPatch, 30);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, Capabilities, 32);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, MaxRecordBytes, 36);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, MaxBatchBytes, 40);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, QueueLimit, 44);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, NextSequence, 48);
FLTB_ASSERT_OFFSET(FLTB_HELLO_REPLY, EventTypeMask, 56);

/* CONFIGURE: what the filter owns, what it watches, what it reports.
   Flags select which parts are changed; the others keep their values.
   Namespaces are NT paths of directories (\Device\HarddiskVolume3\work)
   or files; a path is inside a namespace when it equals it or continues
   it after a backslash, compared case-insensitively. When namespaces
   overlap, the longest match wins; MANAGED and OBSERVE may not name the
   same path. Changing namespaces affects streams opened afterwards. */

#define FLTB_CONFIGURE_SET_NAMESPACES    0x00000001u
#define FLTB_CONFIGURE_SET_EVENT_MASK    0x00000002u
#define FLTB_CONFIGURE_SET_QUEUE_LIMIT   0x00000004u
#define FLTB_CONFIGURE_VALID_FLAGS       0x00000007u

#define FLTB_NAMESPACE_MANAGED           1u /* filter owns oplocks and byte-range locks */
#define FLTB_NAMESPACE_OBSERVE           2u /* filter passes through and reports */

typedef struct _FLTB_NAMESPACE_ENTRY {
    FLTB_U16 Size;                  /* bytes of this entry incl. name and padding; multiple of 8 */
    FLTB_U16 Kind;                  /* FLTB_NAMESPACE_* */
    FLTB_U16 NameBytes;             /* even, 2 .. FLTB_MAX_NAME_BYTES */
    FLTB_U16 Reserved;
    /* FLTB_U16 Name[NameBytes / 2] follows, then zero padding to Size. */
} FLTB_NAMESPACE_ENTRY;

FLTB_ASSERT_SIZE(FLTB_NAMESPACE_ENTRY, 8);
FLTB_ASSERT_OFFSET(FLTB_NAMESPACE_ENTRY, Size, 0);
FLTB_ASSERT_OFFSET(FLTB_NAMESPACE_ENTRY, Kind, 2);
FLTB_ASSERT_OFFSET(FLTB_NAMESPACE_ENTRY, NameBytes, 4);
FLTB_ASSERT_OFFSET(FLTB_NAMESPACE_ENTRY, Reserved, 6);

typedef struct _FLTB_CONFIGURE_REQUEST {
    FLTB_COMMAND_HEADER Header;
    FLTB_U64 EventTypeMask;         /* bit (1 << FLTB_EVENT_*) */
    FLTB_U32 QueueLimit;            /* FLTB_QUEUE_LIMIT_MIN .. _MAX records */
    FLTB_U32 Flags;                 /* FLTB_CONFIGURE_SET_* */
    FLTB_U16 NamespaceCount;        /* 0 .. FLTB_MAX_NAMESPACES */
    FLTB_U16 Reserved0;
    FLTB_U32 Reserved1;
    /* NamespaceCount FLTB_NAMESPACE_ENTRY follow, back to back. */
} FLTB_CONFIGURE_REQUEST;

FLTB_ASSERT_SIZE(FLTB_CONFIGURE_REQUEST, 48);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REQUEST, Header, 0);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REQUEST, EventTypeMask, 24);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REQUEST, QueueLimit, 32);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REQUEST, Flags, 36);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REQUEST, NamespaceCount, 40);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REQUEST, Reserved0, 42);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REQUEST, Reserved1, 44);

typedef struct _FLTB_CONFIGURE_REPLY {
    FLTB_REPLY_HEADER Header;
    FLTB_U64 EventTypeMask;         /* effective mask */
    FLTB_U32 QueueLimit;            /* effective limit */
    FLTB_U16 ManagedCount;          /* namespaces now managed */
    FLTB_U16 ObserveCount;          /* namespaces now observed */
    FLTB_U64 Reserved;
} FLTB_CONFIGURE_REPLY;

FLTB_ASSERT_SIZE(FLTB_CONFIGURE_REPLY, 48);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REPLY, Header, 0);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REPLY, EventTypeMask, 24);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REPLY, QueueLimit, 32);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REPLY, ManagedCount, 36);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REPLY, ObserveCount, 38);
FLTB_ASSERT_OFFSET(FLTB_CONFIGURE_REPLY, Reserved, 40);

/* GET_STATS: the command is a bare FLTB_COMMAND_HEADER. */

#define FLTB_EVENT_TYPE_SLOTS            32u

typedef struct _FLTB_STATS_REPLY {
    FLTB_REPLY_HEADER Header;
    FLTB_U64 EventsProduced;        /* sequence numbers handed out */
    FLTB_U64 EventsDelivered;       /* records pushed to a client */
    FLTB_U64 EventsDropped;         /* queue full or discarded by FLUSH_EVENTS */
    FLTB_U64 NextSequence;
    FLTB_U32 QueueDepth;            /* records waiting now */
    FLTB_U32 QueueLimit;
    FLTB_U32 PendedOperations;      /* operations the filter holds pended */
    FLTB_U32 ManagedStreams;        /* live managed stream states */
    FLTB_U32 ActiveProbes;
    FLTB_U32 Connections;
    FLTB_U64 PerTypeProduced[FLTB_EVENT_TYPE_SLOTS]; /* indexed by FLTB_EVENT_* */
} FLTB_STATS_REPLY;

FLTB_ASSERT_SIZE(FLTB_STATS_REPLY, 336);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, Header, 0);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, EventsProduced, 24);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, EventsDelivered, 32);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, EventsDropped, 40);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, NextSequence, 48);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, QueueDepth, 56);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, QueueLimit, 60);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, PendedOperations, 64);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, ManagedStreams, 68);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, ActiveProbes, 72);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, Connections, 76);
FLTB_ASSERT_OFFSET(FLTB_STATS_REPLY, PerTypeProduced, 80);

/* PROBE_START: filter-initiated I/O on a file.
     OPLOCK: open the target and request an oplock of OplockLevel through
             FSCTL_REQUEST_OPLOCK (or the legacy FSCTL for legacy levels);
             the request completes when someone breaks it: a tripwire.
     READ:   read ReadLength bytes at ReadOffset.
   FLTB_PROBE_FLAG_REARM issues the probe again after each completion until
   PROBE_STOP. */

#define FLTB_PROBE_OPLOCK                1u
#define FLTB_PROBE_READ                  2u

#define FLTB_PROBE_FLAG_REARM            0x00000001u
#define FLTB_PROBE_VALID_FLAGS           0x00000001u

typedef struct _FLTB_PROBE_START_REQUEST {
    FLTB_COMMAND_HEADER Header;
    FLTB_U32 Kind;                  /* FLTB_PROBE_* */
    FLTB_U32 Flags;                 /* FLTB_PROBE_FLAG_* */
    FLTB_U32 OplockLevel;           /* FLTB_OPLOCK_* (OPLOCK probes; not NONE) */
    FLTB_U32 ReadLength;            /* READ probes: 1 .. FLTB_PROBE_READ_MAX */
    FLTB_U64 ReadOffset;            /* READ probes */
    FLTB_U16 PathBytes;             /* even, 2 .. FLTB_MAX_NAME_BYTES */
    FLTB_U16 Reserved0;
    FLTB_U32 Reserved1;
    /* FLTB_U16 Path[PathBytes / 2] follows (an NT path), then padding to a
       multiple of 8; Header.Size covers it. */
} FLTB_PROBE_START_REQUEST;

FLTB_ASSERT_SIZE(FLTB_PROBE_START_REQUEST, 56);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REQUEST, Header, 0);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REQUEST, Kind, 24);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REQUEST, Flags, 28);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REQUEST, OplockLevel, 32);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REQUEST, ReadLength, 36);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REQUEST, ReadOffset, 40);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REQUEST, PathBytes, 48);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REQUEST, Reserved0, 50);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REQUEST, Reserved1, 52);

typedef struct _FLTB_PROBE_START_REPLY {
    FLTB_REPLY_HEADER Header;
    FLTB_U64 ProbeId;               /* non-zero */
} FLTB_PROBE_START_REPLY;

FLTB_ASSERT_SIZE(FLTB_PROBE_START_REPLY, 32);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REPLY, Header, 0);
FLTB_ASSERT_OFFSET(FLTB_PROBE_START_REPLY, ProbeId, 24);

/* PROBE_STOP: cancel a probe; the reply is a bare FLTB_REPLY_HEADER. */
typedef struct _FLTB_PROBE_STOP_REQUEST {
    FLTB_COMMAND_HEADER Header;
    FLTB_U64 ProbeId;
} FLTB_PROBE_STOP_REQUEST;

FLTB_ASSERT_SIZE(FLTB_PROBE_STOP_REQUEST, 32);
FLTB_ASSERT_OFFSET(FLTB_PROBE_STOP_REQUEST, Header, 0);
FLTB_ASSERT_OFFSET(FLTB_PROBE_STOP_REQUEST, ProbeId, 24);

/* FLUSH_EVENTS: push what is queued now (default) or discard it. Discarded
   events are accounted as drops, so the stream shows them as an exact gap. */

#define FLTB_FLUSH_DISCARD               0x00000001u
#define FLTB_FLUSH_VALID_FLAGS           0x00000001u

typedef struct _FLTB_FLUSH_EVENTS_REQUEST {
    FLTB_COMMAND_HEADER Header;
    FLTB_U32 Flags;                 /* FLTB_FLUSH_* */
    FLTB_U32 Reserved;
} FLTB_FLUSH_EVENTS_REQUEST;

FLTB_ASSERT_SIZE(FLTB_FLUSH_EVENTS_REQUEST, 32);
FLTB_ASSERT_OFFSET(FLTB_FLUSH_EVENTS_REQUEST, Header, 0);
FLTB_ASSERT_OFFSET(FLTB_FLUSH_EVENTS_REQUEST, Flags, 24);
FLTB_ASSERT_OFFSET(FLTB_FLUSH_EVENTS_REQUEST, Reserved, 28);

typedef struct _FLTB_FLUSH_EVENTS_REPLY {
    FLTB_REPLY_HEADER Header;
    FLTB_U64 Discarded;             /* records discarded by this command */
    FLTB_U64 NextSequence;
} FLTB_FLUSH_EVENTS_REPLY;

FLTB_ASSERT_SIZE(FLTB_FLUSH_EVENTS_REPLY, 40);
FLTB_ASSERT_OFFSET(FLTB_FLUSH_EVENTS_REPLY, Header, 0);
FLTB_ASSERT_OFFSET(FLTB_FLUSH_EVENTS_REPLY, Discarded, 24);
FLTB_ASSERT_OFFSET(FLTB_FLUSH_EVENTS_REPLY, NextSequence, 32);

/* ------------------------------------------------------------------------ */
/* Event batches: driver -> client through FltSendMessage (no reply).        */
/*                                                                           */
/* A batch is FLTB_BATCH_HEADER followed by RecordCount records back to      */
/* back, each starting on an 8-byte boundary. Invariants a reader checks:    */
/*   - TotalBytes == header + sum of record Size, <= FLTB_MAX_BATCH_BYTES;   */
/*   - RecordCount >= 1; records are ordered by Sequence;                    */
/*   - FirstSequence / LastSequence are the first and last record's;         */
/*   - every sequence number from FirstSequence to LastSequence is either a  */
/*     record in the batch or inside a DROPPED record's range, and           */
/*     DroppedSinceLast is the sum of the DROPPED records' counts.           */
/* Sequence numbers are assigned when an event is produced, before it can    */
/* be dropped, so losses show up as exact gaps. Events filtered out by the   */
/* event type mask are never produced and take no sequence number. A new    */
/* connection receives events from HELLO's NextSequence onwards.             */
/* ------------------------------------------------------------------------ */

typedef struct _FLTB_BATCH_HEADER {
    FLTB_U32 Magic;                 /* FLTB_MAGIC_BATCH */
    FLTB_U16 Version;               /* FLTB_PROTOCOL_VERSION */
    FLTB_U16 HeaderBytes;           /* sizeof(FLTB_BATCH_HEADER) */
    FLTB_U32 RecordCount;
    FLTB_U32 TotalBytes;            /* header + records */
    FLTB_U64 FirstSequence;
    FLTB_U64 LastSequence;
    FLTB_U64 DroppedSinceLast;      /* events lost since the previous batch */
    FLTB_U32 Flags;                 /* reserved, zero */
    FLTB_U32 Reserved;
} FLTB_BATCH_HEADER;

FLTB_ASSERT_SIZE(FLTB_BATCH_HEADER, 48);
FLTB_ASSERT_OFFSET(FLTB_BATCH_HEADER, Magic, 0);
FLTB_ASSERT_OFFSET(FLTB_BATCH_HEADER, Version, 4);
FLTB_ASSERT_OFFSET(FLTB_BATCH_HEADER, HeaderBytes, 6);
FLTB_ASSERT_OFFSET(FLTB_BATCH_HEADER, RecordCount, 8);
FLTB_ASSERT_OFFSET(FLTB_BATCH_HEADER, TotalBytes, 12);
FLTB_ASSERT_OFFSET(FLTB_BATCH_HEADER, FirstSequence, 16);
FLTB_ASSERT_OFFSET(FLTB_BATCH_HEADER, LastSequence, 24);
FLTB_ASSERT_OFFSET(FLTB_BATCH_HEADER, DroppedSinceLast, 32);
FLTB_ASSERT_OFFSET(FLTB_BATCH_HEADER, Flags, 40);
FLTB_ASSERT_OFFSET(FLTB_BATCH_HEADER, Reserved, 44);

/* Event types. The mask bit of a type is (1ull << type). */
#define FLTB_EVENT_DROPPED                   1u  /* a run of lost events (synthetic) */
#define FLTB_EVENT_CREATE                    2u  /* create finished (post-create or refused) */
#define FLTB_EVENT_CLEANUP                   3u  /* last handle of a file object closed */
#define FLTB_EVENT_CLOSE                     4u  /* file object torn down */
#define FLTB_EVENT_OPLOCK_REQUEST            5u  /* oplock FSCTL (or atomic create) arrived */
#define FLTB_EVENT_OPLOCK_GRANTED            6u  /* the request pended: oplock held */
#define FLTB_EVENT_OPLOCK_BREAK              7u  /* break started: the holder's request completed */
#define FLTB_EVENT_OPLOCK_ACKNOWLEDGED       8u  /* acknowledgement FSCTL processed */
#define FLTB_EVENT_OPLOCK_BREAK_COMPLETED    9u  /* an operation waiting for a break was released */
#define FLTB_EVENT_OPLOCK_COMPLETED          10u /* a request completed without a break */
#define FLTB_EVENT_LOCK_GRANTED              11u
#define FLTB_EVENT_LOCK_DENIED               12u
#define FLTB_EVENT_LOCK_WAITING              13u
#define FLTB_EVENT_UNLOCKED                  14u /* one range released (unlock routine) */
#define FLTB_EVENT_UNLOCK_ALL                15u /* unlock-all / by key / at cleanup */
#define FLTB_EVENT_IO_REFUSED                16u /* read or write refused by a byte-range lock */
#define FLTB_EVENT_IO                        17u /* read, write, set-information, flush finished */
#define FLTB_EVENT_PROBE_ISSUED              18u
#define FLTB_EVENT_PROBE_COMPLETED           19u
#define FLTB_EVENT_TYPE_MAX                  19u
#define FLTB_EVENT_MASK_ALL                  0x00000000000FFFFEull

/* Record flags. */
#define FLTB_RECORD_MANAGED                  0x0001u /* stream owned by the filter */
#define FLTB_RECORD_OBSERVED                 0x0002u /* stream under an observe root */
#define FLTB_RECORD_NAME_TRUNCATED           0x0004u /* name cut at FLTB_MAX_NAME_BYTES */
#define FLTB_RECORD_FAST_IO                  0x0008u /* operation came as fast I/O */
#define FLTB_RECORD_SYNTHETIC                0x0010u /* not an operation (DROPPED) */
#define FLTB_RECORD_VALID_FLAGS              0x001Fu

/* Common record header. Identity fields:
     StreamId      stable per stream (one file's data stream) while it lives;
     FileObjectId  one per file object, i.e. per handle a client opened;
     OperationId   one per I/O operation the filter saw; every record about
                   that operation carries it, and causality fields in
                   payloads refer to it.
   All three are opaque non-zero numbers, never kernel addresses; 0 means
   "none". Timestamp is UTC in 100 ns units since 1601 (the model uses a
   logical clock in the same units). Status is the operation's NTSTATUS
   (STATUS_PENDING while it is still in flight). The name, when present,
   is NameBytes of UTF-16LE at NameOffset (>= 64 + the type's payload size,
   so longer payloads can be added without breaking readers). */

typedef struct _FLTB_RECORD_HEADER {
    FLTB_U32 Size;                  /* bytes of the record, multiple of 8 */
    FLTB_U16 Type;                  /* FLTB_EVENT_* */
    FLTB_U16 Flags;                 /* FLTB_RECORD_* */
    FLTB_U64 Sequence;
    FLTB_I64 Timestamp;
    FLTB_U32 ProcessId;
    FLTB_U32 ThreadId;
    FLTB_U64 StreamId;
    FLTB_U64 FileObjectId;
    FLTB_U64 OperationId;
    FLTB_I32 Status;
    FLTB_U16 NameOffset;            /* 0 when NameBytes == 0 */
    FLTB_U16 NameBytes;             /* even, <= FLTB_MAX_NAME_BYTES */
} FLTB_RECORD_HEADER;

FLTB_ASSERT_SIZE(FLTB_RECORD_HEADER, 64);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, Size, 0);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, Type, 4);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, Flags, 6);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, Sequence, 8);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, Timestamp, 16);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, ProcessId, 24);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, ThreadId, 28);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, StreamId, 32);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, FileObjectId, 40);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, OperationId, 48);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, Status, 56);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, NameOffset, 60);
FLTB_ASSERT_OFFSET(FLTB_RECORD_HEADER, NameBytes, 62);

/* DROPPED: Sequence == FirstSequence; the run [FirstSequence,
   FirstSequence + Count) was lost. Flags has FLTB_RECORD_SYNTHETIC. */
typedef struct _FLTB_DROPPED_PAYLOAD {
    FLTB_U64 FirstSequence;
    FLTB_U64 Count;
} FLTB_DROPPED_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_DROPPED_PAYLOAD, 16);
FLTB_ASSERT_OFFSET(FLTB_DROPPED_PAYLOAD, FirstSequence, 0);
FLTB_ASSERT_OFFSET(FLTB_DROPPED_PAYLOAD, Count, 8);

/* CREATE flags. */
#define FLTB_CREATE_BREAK_IN_PROGRESS        0x00000001u /* returned STATUS_OPLOCK_BREAK_IN_PROGRESS */
#define FLTB_CREATE_WAITED_FOR_BREAK         0x00000002u /* pended until a break finished */
#define FLTB_CREATE_ATOMIC_OPLOCK            0x00000004u /* FILE_OPEN_REQUIRING_OPLOCK granted */
#define FLTB_CREATE_SHARING_BREAK            0x00000008u /* a sharing violation broke handle caching */
#define FLTB_CREATE_HAS_OPLOCK_KEY           0x00000010u /* OplockKey is meaningful */

/* CREATE: Status is the create's final status. */
typedef struct _FLTB_CREATE_PAYLOAD {
    FLTB_U32 DesiredAccess;         /* ACCESS_MASK as requested (generic bits mapped) */
    FLTB_U32 ShareAccess;           /* FILE_SHARE_* */
    FLTB_U32 CreateDisposition;     /* FILE_SUPERSEDE .. FILE_OVERWRITE_IF */
    FLTB_U32 CreateOptions;         /* FILE_* create options */
    FLTB_U32 Information;           /* FILE_SUPERSEDED .. FILE_DOES_NOT_EXIST */
    FLTB_U32 CreateFlags;           /* FLTB_CREATE_* */
    FLTB_U8  OplockKey[16];         /* GUID bytes as in memory */
    FLTB_U64 FileSize;              /* end of file after the create */
} FLTB_CREATE_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_CREATE_PAYLOAD, 48);
FLTB_ASSERT_OFFSET(FLTB_CREATE_PAYLOAD, DesiredAccess, 0);
FLTB_ASSERT_OFFSET(FLTB_CREATE_PAYLOAD, ShareAccess, 4);
FLTB_ASSERT_OFFSET(FLTB_CREATE_PAYLOAD, CreateDisposition, 8);
FLTB_ASSERT_OFFSET(FLTB_CREATE_PAYLOAD, CreateOptions, 12);
FLTB_ASSERT_OFFSET(FLTB_CREATE_PAYLOAD, Information, 16);
FLTB_ASSERT_OFFSET(FLTB_CREATE_PAYLOAD, CreateFlags, 20);
FLTB_ASSERT_OFFSET(FLTB_CREATE_PAYLOAD, OplockKey, 24);
FLTB_ASSERT_OFFSET(FLTB_CREATE_PAYLOAD, FileSize, 40);

/* CLEANUP flags. */
#define FLTB_CLEANUP_DELETE_ON_CLOSE         0x00000001u
#define FLTB_CLEANUP_DELETED                 0x00000002u /* the stream was deleted */

typedef struct _FLTB_CLEANUP_PAYLOAD {
    FLTB_U32 OpenHandlesRemaining;  /* handles of the stream still open */
    FLTB_U32 LocksReleased;         /* byte-range locks FsRtlFastUnlockAll released */
    FLTB_U32 CleanupFlags;          /* FLTB_CLEANUP_* */
    FLTB_U32 Reserved;
} FLTB_CLEANUP_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_CLEANUP_PAYLOAD, 16);
FLTB_ASSERT_OFFSET(FLTB_CLEANUP_PAYLOAD, OpenHandlesRemaining, 0);
FLTB_ASSERT_OFFSET(FLTB_CLEANUP_PAYLOAD, LocksReleased, 4);
FLTB_ASSERT_OFFSET(FLTB_CLEANUP_PAYLOAD, CleanupFlags, 8);
FLTB_ASSERT_OFFSET(FLTB_CLEANUP_PAYLOAD, Reserved, 12);

typedef struct _FLTB_CLOSE_PAYLOAD {
    FLTB_U32 StreamReferences;      /* file objects of the stream still alive */
    FLTB_U32 Reserved;
} FLTB_CLOSE_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_CLOSE_PAYLOAD, 8);
FLTB_ASSERT_OFFSET(FLTB_CLOSE_PAYLOAD, StreamReferences, 0);
FLTB_ASSERT_OFFSET(FLTB_CLOSE_PAYLOAD, Reserved, 4);

/* OPLOCK_REQUEST: an oplock FSCTL (request or acknowledgement) or a
   FILE_OPEN_REQUIRING_OPLOCK create reached the oplock package. Status is
   STATUS_PENDING; GRANTED, COMPLETED or ACKNOWLEDGED follows with the same
   OperationId. */
typedef struct _FLTB_OPLOCK_REQUEST_PAYLOAD {
    FLTB_U32 FsControlCode;         /* FSCTL_* (0 for an atomic create) */
    FLTB_U32 RequestedLevel;        /* FLTB_OPLOCK_* */
    FLTB_U32 InputFlags;            /* REQUEST_OPLOCK_INPUT_FLAG_* (Windows 7 requests) */
    FLTB_U32 OpenCount;             /* OpenCount passed to FltOplockFsctrlEx */
    FLTB_U32 FsctrlFlags;           /* OPLOCK_FSCTRL_FLAG_* passed */
    FLTB_U32 Reserved;
} FLTB_OPLOCK_REQUEST_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_OPLOCK_REQUEST_PAYLOAD, 24);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_REQUEST_PAYLOAD, FsControlCode, 0);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_REQUEST_PAYLOAD, RequestedLevel, 4);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_REQUEST_PAYLOAD, InputFlags, 8);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_REQUEST_PAYLOAD, OpenCount, 12);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_REQUEST_PAYLOAD, FsctrlFlags, 16);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_REQUEST_PAYLOAD, Reserved, 20);

/* OPLOCK_GRANTED: Status is STATUS_PENDING (request held until a break) or
   STATUS_SUCCESS (atomic oplock on a create). */
typedef struct _FLTB_OPLOCK_GRANTED_PAYLOAD {
    FLTB_U32 GrantedLevel;          /* FLTB_OPLOCK_* */
    FLTB_U32 Reserved;
} FLTB_OPLOCK_GRANTED_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_OPLOCK_GRANTED_PAYLOAD, 8);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_GRANTED_PAYLOAD, GrantedLevel, 0);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_GRANTED_PAYLOAD, Reserved, 4);

/* OPLOCK_BREAK flags. */
#define FLTB_BREAK_ACK_REQUIRED              0x00000001u
#define FLTB_BREAK_OPERATION_WAITS           0x00000002u /* the causing operation waits for the ack */
#define FLTB_BREAK_LEGACY                    0x00000004u /* a legacy oplock: Information carries the level */

/* OPLOCK_BREAK: a break started on the holder; OperationId is the holder's
   request that completed with it, FileObjectId the holder's handle, Status
   the request's completion status. */
typedef struct _FLTB_OPLOCK_BREAK_PAYLOAD {
    FLTB_U32 FromLevel;             /* FLTB_OPLOCK_* */
    FLTB_U32 ToLevel;               /* FLTB_OPLOCK_* */
    FLTB_U32 BreakFlags;            /* FLTB_BREAK_* */
    FLTB_U32 Information;           /* FILE_OPLOCK_BROKEN_TO_LEVEL_2 / _TO_NONE, legacy */
    FLTB_U64 CausedByOperationId;   /* the operation that triggered the break */
    FLTB_U8  CausedByMajor;         /* FLTB_MJ_* of that operation */
    FLTB_U8  CausedByMinor;
    FLTB_U16 Reserved;
    FLTB_U32 CausedByProcessId;
} FLTB_OPLOCK_BREAK_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_OPLOCK_BREAK_PAYLOAD, 32);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_BREAK_PAYLOAD, FromLevel, 0);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_BREAK_PAYLOAD, ToLevel, 4);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_BREAK_PAYLOAD, BreakFlags, 8);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_BREAK_PAYLOAD, Information, 12);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_BREAK_PAYLOAD, CausedByOperationId, 16);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_BREAK_PAYLOAD, CausedByMajor, 24);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_BREAK_PAYLOAD, CausedByMinor, 25);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_BREAK_PAYLOAD, Reserved, 26);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_BREAK_PAYLOAD, CausedByProcessId, 28);

/* OPLOCK_ACKNOWLEDGED: Status is the acknowledgement's status
   (STATUS_PENDING when a Windows 7 ack to a non-zero level is held as the
   new oplock; an OPLOCK_GRANTED with the same OperationId then follows). */
typedef struct _FLTB_OPLOCK_ACK_PAYLOAD {
    FLTB_U32 FsControlCode;         /* FSCTL_* */
    FLTB_U32 AckLevel;              /* FLTB_OPLOCK_* acknowledged to */
    FLTB_U32 InputFlags;            /* REQUEST_OPLOCK_INPUT_FLAG_* */
    FLTB_U32 Reserved;
    FLTB_U64 BrokenRequestOperationId; /* the request whose break this acknowledges, 0 if none */
} FLTB_OPLOCK_ACK_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_OPLOCK_ACK_PAYLOAD, 24);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_ACK_PAYLOAD, FsControlCode, 0);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_ACK_PAYLOAD, AckLevel, 4);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_ACK_PAYLOAD, InputFlags, 8);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_ACK_PAYLOAD, Reserved, 12);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_ACK_PAYLOAD, BrokenRequestOperationId, 16);

/* Why a waiting operation was released. */
#define FLTB_RELEASE_ACKNOWLEDGED            1u /* the holder acknowledged */
#define FLTB_RELEASE_HANDLE_CLOSED           2u /* the holder's handle was cleaned up */
#define FLTB_RELEASE_NO_ACK_REQUIRED         3u /* the break needed no acknowledgement */
#define FLTB_RELEASE_CANCELLED               4u /* the waiting operation was cancelled */
#define FLTB_RELEASE_TEARDOWN                5u /* instance teardown drained it */
#define FLTB_RELEASE_MAX                     5u

/* OPLOCK_BREAK_COMPLETED: OperationId / FileObjectId are the waiting
   operation's; Status is what it resumes with. */
typedef struct _FLTB_BREAK_COMPLETED_PAYLOAD {
    FLTB_U64 ReleasedByOperationId; /* the ack or cleanup that released it, 0 if none */
    FLTB_U8  WaiterMajor;           /* FLTB_MJ_* of the waiting operation */
    FLTB_U8  WaiterMinor;
    FLTB_U16 Reason;                /* FLTB_RELEASE_* */
    FLTB_U32 Reserved;
} FLTB_BREAK_COMPLETED_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_BREAK_COMPLETED_PAYLOAD, 16);
FLTB_ASSERT_OFFSET(FLTB_BREAK_COMPLETED_PAYLOAD, ReleasedByOperationId, 0);
FLTB_ASSERT_OFFSET(FLTB_BREAK_COMPLETED_PAYLOAD, WaiterMajor, 8);
FLTB_ASSERT_OFFSET(FLTB_BREAK_COMPLETED_PAYLOAD, WaiterMinor, 9);
FLTB_ASSERT_OFFSET(FLTB_BREAK_COMPLETED_PAYLOAD, Reason, 10);
FLTB_ASSERT_OFFSET(FLTB_BREAK_COMPLETED_PAYLOAD, Reserved, 12);

/* Why an oplock request completed without a break. */
#define FLTB_OPLOCK_END_REFUSED              1u /* not granted; Status says why */
#define FLTB_OPLOCK_END_HANDLE_CLOSED        2u /* STATUS_OPLOCK_HANDLE_CLOSED */
#define FLTB_OPLOCK_END_CANCELLED            3u /* STATUS_CANCELLED */
#define FLTB_OPLOCK_END_SWITCHED             4u /* STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE */
#define FLTB_OPLOCK_END_COMPLETED            5u /* completed at once with success (e.g. an ack to none) */
#define FLTB_OPLOCK_END_MAX                  5u

typedef struct _FLTB_OPLOCK_COMPLETED_PAYLOAD {
    FLTB_U32 Level;                 /* FLTB_OPLOCK_* reported to the holder */
    FLTB_U32 OutputFlags;           /* REQUEST_OPLOCK_OUTPUT_FLAG_* */
    FLTB_U32 Information;           /* IoStatus.Information (legacy) */
    FLTB_U32 Reason;                /* FLTB_OPLOCK_END_* */
} FLTB_OPLOCK_COMPLETED_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_OPLOCK_COMPLETED_PAYLOAD, 16);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_COMPLETED_PAYLOAD, Level, 0);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_COMPLETED_PAYLOAD, OutputFlags, 4);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_COMPLETED_PAYLOAD, Information, 8);
FLTB_ASSERT_OFFSET(FLTB_OPLOCK_COMPLETED_PAYLOAD, Reason, 12);

/* Byte-range lock flags. */
#define FLTB_LOCK_EXCLUSIVE                  0x00000001u
#define FLTB_LOCK_FAIL_IMMEDIATELY           0x00000002u
#define FLTB_LOCK_AFTER_WAIT                 0x00000004u /* granted or failed after waiting */
#define FLTB_LOCK_VALID_FLAGS                0x00000007u

/* LOCK_GRANTED, LOCK_DENIED, LOCK_WAITING, UNLOCKED. Status is the lock
   request's status (STATUS_PENDING for WAITING). RelatedOperationId names
   the unlock or cleanup that let a waiter through (GRANTED after wait), or
   the unlock-all / cleanup that released a range (UNLOCKED); else 0. */
typedef struct _FLTB_LOCK_PAYLOAD {
    FLTB_U64 Offset;
    FLTB_U64 Length;
    FLTB_U32 Key;
    FLTB_U32 LockFlags;             /* FLTB_LOCK_* */
    FLTB_U64 RelatedOperationId;
} FLTB_LOCK_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_LOCK_PAYLOAD, 32);
FLTB_ASSERT_OFFSET(FLTB_LOCK_PAYLOAD, Offset, 0);
FLTB_ASSERT_OFFSET(FLTB_LOCK_PAYLOAD, Length, 8);
FLTB_ASSERT_OFFSET(FLTB_LOCK_PAYLOAD, Key, 16);
FLTB_ASSERT_OFFSET(FLTB_LOCK_PAYLOAD, LockFlags, 20);
FLTB_ASSERT_OFFSET(FLTB_LOCK_PAYLOAD, RelatedOperationId, 24);

/* UNLOCK_ALL flags. */
#define FLTB_UNLOCK_ALL_BY_KEY               0x00000001u /* IRP_MN_UNLOCK_ALL_BY_KEY */
#define FLTB_UNLOCK_ALL_CLEANUP              0x00000002u /* FsRtlFastUnlockAll at cleanup */

typedef struct _FLTB_UNLOCK_ALL_PAYLOAD {
    FLTB_U32 Count;                 /* ranges released */
    FLTB_U32 Key;                   /* BY_KEY only */
    FLTB_U32 UnlockFlags;           /* FLTB_UNLOCK_ALL_* */
    FLTB_U32 Reserved;
} FLTB_UNLOCK_ALL_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_UNLOCK_ALL_PAYLOAD, 16);
FLTB_ASSERT_OFFSET(FLTB_UNLOCK_ALL_PAYLOAD, Count, 0);
FLTB_ASSERT_OFFSET(FLTB_UNLOCK_ALL_PAYLOAD, Key, 4);
FLTB_ASSERT_OFFSET(FLTB_UNLOCK_ALL_PAYLOAD, UnlockFlags, 8);
FLTB_ASSERT_OFFSET(FLTB_UNLOCK_ALL_PAYLOAD, Reserved, 12);

/* IO_REFUSED: a read or write failed with STATUS_FILE_LOCK_CONFLICT. */
typedef struct _FLTB_IO_REFUSED_PAYLOAD {
    FLTB_U64 Offset;
    FLTB_U32 Length;
    FLTB_U32 Key;
    FLTB_U8  Major;                 /* FLTB_MJ_READ or FLTB_MJ_WRITE */
    FLTB_U8  Reserved0;
    FLTB_U16 Reserved1;
    FLTB_U32 Reserved2;
} FLTB_IO_REFUSED_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_IO_REFUSED_PAYLOAD, 24);
FLTB_ASSERT_OFFSET(FLTB_IO_REFUSED_PAYLOAD, Offset, 0);
FLTB_ASSERT_OFFSET(FLTB_IO_REFUSED_PAYLOAD, Length, 8);
FLTB_ASSERT_OFFSET(FLTB_IO_REFUSED_PAYLOAD, Key, 12);
FLTB_ASSERT_OFFSET(FLTB_IO_REFUSED_PAYLOAD, Major, 16);
FLTB_ASSERT_OFFSET(FLTB_IO_REFUSED_PAYLOAD, Reserved0, 17);
FLTB_ASSERT_OFFSET(FLTB_IO_REFUSED_PAYLOAD, Reserved1, 18);
FLTB_ASSERT_OFFSET(FLTB_IO_REFUSED_PAYLOAD, Reserved2, 20);

/* IO: a read, write, set-information, flush or non-oplock FSCTL finished.
   Detail is the FILE_INFORMATION_CLASS (set-information) or the FSCTL code;
   Offset/Length are the request's (for end-of-file and allocation changes
   Length is the new size); Information is IoStatus.Information. */
typedef struct _FLTB_IO_PAYLOAD {
    FLTB_U8  Major;                 /* FLTB_MJ_* */
    FLTB_U8  Minor;
    FLTB_U16 Reserved;
    FLTB_U32 Detail;
    FLTB_U64 Offset;
    FLTB_U64 Length;
    FLTB_U64 Information;
} FLTB_IO_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_IO_PAYLOAD, 32);
FLTB_ASSERT_OFFSET(FLTB_IO_PAYLOAD, Major, 0);
FLTB_ASSERT_OFFSET(FLTB_IO_PAYLOAD, Minor, 1);
FLTB_ASSERT_OFFSET(FLTB_IO_PAYLOAD, Reserved, 2);
FLTB_ASSERT_OFFSET(FLTB_IO_PAYLOAD, Detail, 4);
FLTB_ASSERT_OFFSET(FLTB_IO_PAYLOAD, Offset, 8);
FLTB_ASSERT_OFFSET(FLTB_IO_PAYLOAD, Length, 16);
FLTB_ASSERT_OFFSET(FLTB_IO_PAYLOAD, Information, 24);

/* PROBE_ISSUED. */
typedef struct _FLTB_PROBE_ISSUED_PAYLOAD {
    FLTB_U64 ProbeId;
    FLTB_U32 Kind;                  /* FLTB_PROBE_* */
    FLTB_U32 OplockLevel;           /* FLTB_OPLOCK_* (OPLOCK probes) */
    FLTB_U64 Offset;                /* READ probes */
    FLTB_U32 Length;                /* READ probes */
    FLTB_U32 ProbeFlags;            /* FLTB_PROBE_FLAG_* */
} FLTB_PROBE_ISSUED_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_PROBE_ISSUED_PAYLOAD, 32);
FLTB_ASSERT_OFFSET(FLTB_PROBE_ISSUED_PAYLOAD, ProbeId, 0);
FLTB_ASSERT_OFFSET(FLTB_PROBE_ISSUED_PAYLOAD, Kind, 8);
FLTB_ASSERT_OFFSET(FLTB_PROBE_ISSUED_PAYLOAD, OplockLevel, 12);
FLTB_ASSERT_OFFSET(FLTB_PROBE_ISSUED_PAYLOAD, Offset, 16);
FLTB_ASSERT_OFFSET(FLTB_PROBE_ISSUED_PAYLOAD, Length, 24);
FLTB_ASSERT_OFFSET(FLTB_PROBE_ISSUED_PAYLOAD, ProbeFlags, 28);

/* PROBE_COMPLETED flags (ProbeFlags). */
#define FLTB_PROBE_DONE_REARMED              0x00000001u /* issued again */
#define FLTB_PROBE_DONE_STOPPED              0x00000002u /* ended by PROBE_STOP or unload */

/* PROBE_COMPLETED: Status is the probe I/O's IoStatus.Status. */
typedef struct _FLTB_PROBE_COMPLETED_PAYLOAD {
    FLTB_U64 ProbeId;
    FLTB_U32 Kind;                  /* FLTB_PROBE_* */
    FLTB_U32 ProbeFlags;            /* FLTB_PROBE_DONE_* */
    FLTB_U64 Information;           /* IoStatus.Information */
    FLTB_U32 OutputLevel;           /* FLTB_OPLOCK_* the tripwire was broken to */
    FLTB_U32 OutputFlags;           /* REQUEST_OPLOCK_OUTPUT_FLAG_* */
} FLTB_PROBE_COMPLETED_PAYLOAD;

FLTB_ASSERT_SIZE(FLTB_PROBE_COMPLETED_PAYLOAD, 32);
FLTB_ASSERT_OFFSET(FLTB_PROBE_COMPLETED_PAYLOAD, ProbeId, 0);
FLTB_ASSERT_OFFSET(FLTB_PROBE_COMPLETED_PAYLOAD, Kind, 8);
FLTB_ASSERT_OFFSET(FLTB_PROBE_COMPLETED_PAYLOAD, ProbeFlags, 12);
FLTB_ASSERT_OFFSET(FLTB_PROBE_COMPLETED_PAYLOAD, Information, 16);
FLTB_ASSERT_OFFSET(FLTB_PROBE_COMPLETED_PAYLOAD, OutputLevel, 24);
FLTB_ASSERT_OFFSET(FLTB_PROBE_COMPLETED_PAYLOAD, OutputFlags, 28);

/* Payload size per event type, for writers and readers in C. The TS codec
   has the same table in src/protocol/layout.ts; the tests compare them. */
#define FLTB_PAYLOAD_BYTES(Type)                                              \
    ((Type) == FLTB_EVENT_DROPPED ? sizeof(FLTB_DROPPED_PAYLOAD) :            \
     (Type) == FLTB_EVENT_CREATE ? sizeof(FLTB_CREATE_PAYLOAD) :              \
     (Type) == FLTB_EVENT_CLEANUP ? sizeof(FLTB_CLEANUP_PAYLOAD) :            \
     (Type) == FLTB_EVENT_CLOSE ? sizeof(FLTB_CLOSE_PAYLOAD) :                \
     (Type) == FLTB_EVENT_OPLOCK_REQUEST ? sizeof(FLTB_OPLOCK_REQUEST_PAYLOAD) : \
     (Type) == FLTB_EVENT_OPLOCK_GRANTED ? sizeof(FLTB_OPLOCK_GRANTED_PAYLOAD) : \
     (Type) == FLTB_EVENT_OPLOCK_BREAK ? sizeof(FLTB_OPLOCK_BREAK_PAYLOAD) :  \
     (Type) == FLTB_EVENT_OPLOCK_ACKNOWLEDGED ? sizeof(FLTB_OPLOCK_ACK_PAYLOAD) : \
     (Type) == FLTB_EVENT_OPLOCK_BREAK_COMPLETED ? sizeof(FLTB_BREAK_COMPLETED_PAYLOAD) : \
     (Type) == FLTB_EVENT_OPLOCK_COMPLETED ? sizeof(FLTB_OPLOCK_COMPLETED_PAYLOAD) : \
     ((Type) >= FLTB_EVENT_LOCK_GRANTED && (Type) <= FLTB_EVENT_UNLOCKED) ? sizeof(FLTB_LOCK_PAYLOAD) : \
     (Type) == FLTB_EVENT_UNLOCK_ALL ? sizeof(FLTB_UNLOCK_ALL_PAYLOAD) :      \
     (Type) == FLTB_EVENT_IO_REFUSED ? sizeof(FLTB_IO_REFUSED_PAYLOAD) :      \
     (Type) == FLTB_EVENT_IO ? sizeof(FLTB_IO_PAYLOAD) :                      \
     (Type) == FLTB_EVENT_PROBE_ISSUED ? sizeof(FLTB_PROBE_ISSUED_PAYLOAD) :  \
     (Type) == FLTB_EVENT_PROBE_COMPLETED ? sizeof(FLTB_PROBE_COMPLETED_PAYLOAD) : \
     0u)

#endif /* FLTBRIDGE_PROTO_H */
