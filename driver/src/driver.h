/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    driver.h

Abstract:

    Private header of the fltbridge minifilter: kernel headers, pool tags,
    every structure the driver keeps and every routine one module exports to
    another. Nothing outside driver/src includes it; the wire contract with
    user mode is driver/include/fltbridge_proto.h.

    Three builds include this file:

      - the WDK build (fltbridge.vcxproj): <fltKernel.h>;
      - the Linux cross-build (clang, x86_64-w64-windows-gnu, mingw-w64
        ddk headers): <ntifs.h> + fltk_compat.h;
      - the host harness (driver/test/host): FB_HOST_HARNESS is defined and
        fb_host.h supplies a small fake of the kernel types and primitives
        used by comm.c, events.c and policy.c, the modules it runs.

Environment:

    Kernel mode.

--*/

#ifndef FLTBRIDGE_DRIVER_H
#define FLTBRIDGE_DRIVER_H

#if defined(FB_HOST_HARNESS)
#include "fb_host.h"
#elif defined(__has_include)
#if __has_include(<fltKernel.h>)
#include <fltKernel.h>
#define FB_HAVE_WDK 1
#else
#include "fltk_compat.h"
#endif
#else
#include <fltKernel.h>
#define FB_HAVE_WDK 1
#endif

#include "fltbridge_proto.h"

/* ------------------------------------------------------------------------ */
/* What the mingw-w64 headers lack (the WDK has all of these).              */
/* ------------------------------------------------------------------------ */

#if !defined(FB_HAVE_WDK) && !defined(FB_HOST_HARNESS)

/* ExAllocatePool2 (Windows 10 2004+): declared here, imported through
   driver/ntoskrnl_extra.def. */
typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_UNINITIALIZED          0x0000000000000002ULL
#define POOL_FLAG_NON_PAGED              0x0000000000000040ULL
DECLSPEC_IMPORT PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);

/* KeQuerySystemTimePrecise (Windows 8+). */
DECLSPEC_IMPORT VOID NTAPI KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime);

/* FsRtlAreThereWaitingFileLocks (Windows 8+, ntifs.h): imported through
   driver/ntoskrnl_extra.def. */
DECLSPEC_IMPORT BOOLEAN NTAPI FsRtlAreThereWaitingFileLocks(PFILE_LOCK FileLock);

#endif

#ifndef _Flt_CompletionContext_Outptr_
#define _Flt_CompletionContext_Outptr_ _Outptr_result_maybenull_
#endif

#ifndef STATUS_OPLOCK_HANDLE_CLOSED
#define STATUS_OPLOCK_HANDLE_CLOSED              ((NTSTATUS)0x00000216L)
#endif
#ifndef STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE
#define STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE     ((NTSTATUS)0x00000215L)
#endif
#ifndef FSCTL_REQUEST_FILTER_OPLOCK
#define FSCTL_REQUEST_FILTER_OPLOCK CTL_CODE(FILE_DEVICE_FILE_SYSTEM, 23, METHOD_BUFFERED, FILE_ANY_ACCESS)
#endif
#ifndef FILE_OPBATCH_BREAK_UNDERWAY
#define FILE_OPBATCH_BREAK_UNDERWAY              0x00000009
#endif
#ifndef FILE_DISPOSITION_DELETE
#define FILE_DISPOSITION_DELETE                  0x00000001
#endif
#ifndef FILE_DISPOSITION_ON_CLOSE
#define FILE_DISPOSITION_ON_CLOSE                0x00000008
#endif

/* ------------------------------------------------------------------------ */
/* Pool tags: one per kind of object. FB_TAG('F','b','S','t') shows as      */
/* "FbSt" in !poolused and poolmon.                                          */
/* ------------------------------------------------------------------------ */

#define FB_TAG(A, B, C, D) \
    ((ULONG)(A) | ((ULONG)(B) << 8) | ((ULONG)(C) << 16) | ((ULONG)(D) << 24))

#define FB_TAG_STREAM        FB_TAG('F', 'b', 'S', 't') /* FB_STREAM (stream context) */
#define FB_TAG_HANDLE        FB_TAG('F', 'b', 'H', 'n') /* FB_HANDLE (stream handle context) */
#define FB_TAG_INSTANCE      FB_TAG('F', 'b', 'I', 'n') /* FB_INSTANCE_CONTEXT */
#define FB_TAG_NAME          FB_TAG('F', 'b', 'N', 'm') /* name buffers of streams and volumes */
#define FB_TAG_OPERATION     FB_TAG('F', 'b', 'O', 'p') /* FB_OPERATION */
#define FB_TAG_HOLD          FB_TAG('F', 'b', 'H', 'd') /* FB_OPLOCK_HOLD */
#define FB_TAG_LOCKOP        FB_TAG('F', 'b', 'L', 'k') /* FB_LOCK_OP */
#define FB_TAG_OBSERVE       FB_TAG('F', 'b', 'O', 'b') /* FB_OBSERVE_OP */
#define FB_TAG_EVENT         FB_TAG('F', 'b', 'E', 'v') /* FB_EVENT_NODE */
#define FB_TAG_BATCH         FB_TAG('F', 'b', 'B', 't') /* the drain thread's batch buffer */
#define FB_TAG_CONNECTION    FB_TAG('F', 'b', 'C', 'n') /* FB_CONNECTION */
#define FB_TAG_COMMAND       FB_TAG('F', 'b', 'C', 'm') /* captured command / built reply */
#define FB_TAG_POLICY        FB_TAG('F', 'b', 'P', 'l') /* FB_POLICY */
#define FB_TAG_PROBE         FB_TAG('F', 'b', 'P', 'r') /* FB_PROBE */
#define FB_TAG_PROBE_BUFFER  FB_TAG('F', 'b', 'P', 'b') /* probe I/O buffers */
#define FB_TAG_DEFERRED      FB_TAG('F', 'b', 'D', 'f') /* FB_DEFERRED_EVENT */

/* ------------------------------------------------------------------------ */
/* Small helpers.                                                            */
/* ------------------------------------------------------------------------ */

#define FB_POOL_NX   POOL_FLAG_NON_PAGED

/* The exception code of an __except block as an NTSTATUS (mingw-w64's
   GetExceptionCode is unsigned). */
#define FB_EXCEPTION_STATUS() ((NTSTATUS)GetExceptionCode())

/* Allocation wrappers: always non-paged NX, zeroed, tagged. */
_IRQL_requires_max_(DISPATCH_LEVEL)
PVOID
FbAllocate(
    _In_ SIZE_T Bytes,
    _In_ ULONG Tag
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbFree(
    _In_ PVOID Buffer,
    _In_ ULONG Tag
    );

#define FB_DEFAULT_SEND_TIMEOUT_MS   200  /* FltSendMessage bound for one batch */
#define FB_DRAIN_IDLE_WAIT_MS        250  /* drain thread re-checks this often */
#define FB_QUEUE_BYTE_LIMIT          ((SIZE_T)64 * 1024 * 1024) /* per connection */

/* ------------------------------------------------------------------------ */
/* Global data.                                                              */
/* ------------------------------------------------------------------------ */

typedef struct _FB_GLOBALS {

    PDRIVER_OBJECT DriverObject;
    PFLT_FILTER Filter;
    PFLT_PORT ServerPort;

    //
    //  Set first thing in FilterUnload; checked by everything that would
    //  start new work.
    //

    volatile LONG Unloading;

    //
    //  Identifier counters (docs/events.md "Identifiers"): all start at 1.
    //

    volatile LONG64 NextOperationId;
    volatile LONG64 NextFileObjectId;
    volatile LONG64 NextStreamId;

    //
    //  Owner instances (FB_INSTANCE_CONTEXT.GlobalLink), for probes that
    //  have to find the instance of a volume by name.
    //

    KSPIN_LOCK InstanceLock;
    LIST_ENTRY Instances;

    //
    //  Counters reported by GET_STATS.
    //

    volatile LONG PendedOperations;
    volatile LONG ManagedStreams;

} FB_GLOBALS, *PFB_GLOBALS;

extern FB_GLOBALS FbGlobals;

_IRQL_requires_max_(DISPATCH_LEVEL)
ULONGLONG
FbNewOperationId(
    VOID
    );

/* ------------------------------------------------------------------------ */
/* Events (events.c): bounded per-connection queues, sequence numbers, the   */
/* drain thread.                                                             */
/* ------------------------------------------------------------------------ */

typedef union _FB_EVENT_PAYLOAD {
    FLTB_DROPPED_PAYLOAD Dropped;
    FLTB_CREATE_PAYLOAD Create;
    FLTB_CLEANUP_PAYLOAD Cleanup;
    FLTB_CLOSE_PAYLOAD Close;
    FLTB_OPLOCK_REQUEST_PAYLOAD OplockRequest;
    FLTB_OPLOCK_GRANTED_PAYLOAD OplockGranted;
    FLTB_OPLOCK_BREAK_PAYLOAD OplockBreak;
    FLTB_OPLOCK_ACK_PAYLOAD OplockAck;
    FLTB_BREAK_COMPLETED_PAYLOAD BreakCompleted;
    FLTB_OPLOCK_COMPLETED_PAYLOAD OplockCompleted;
    FLTB_LOCK_PAYLOAD Lock;
    FLTB_UNLOCK_ALL_PAYLOAD UnlockAll;
    FLTB_IO_REFUSED_PAYLOAD IoRefused;
    FLTB_IO_PAYLOAD Io;
    FLTB_PROBE_ISSUED_PAYLOAD ProbeIssued;
    FLTB_PROBE_COMPLETED_PAYLOAD ProbeCompleted;
    FLTB_U8 Bytes[FLTB_MAX_PAYLOAD_BYTES];
} FB_EVENT_PAYLOAD;

//
//  What a producer fills in; FbEventPost turns it into a record (sequence
//  number, timestamp, size, name offset) and queues it.
//

typedef struct _FB_EVENT {
    USHORT Type;                    /* FLTB_EVENT_* */
    USHORT Flags;                   /* FLTB_RECORD_* */
    ULONG ProcessId;
    ULONG ThreadId;
    NTSTATUS Status;
    ULONGLONG StreamId;
    ULONGLONG FileObjectId;
    ULONGLONG OperationId;
    PCUNICODE_STRING Name;          /* non-paged, or NULL */
    FB_EVENT_PAYLOAD Payload;
} FB_EVENT, *PFB_EVENT;

typedef struct _FB_EVENT_NODE {
    LIST_ENTRY Link;
    ULONG Bytes;                    /* record size */
    ULONG Reserved;
    /* the record (FLTB_RECORD_HEADER + payload + name) follows, 8-aligned */
} FB_EVENT_NODE, *PFB_EVENT_NODE;

typedef FLTB_U8 *PFLTB_U8;

#define FB_EVENT_NODE_RECORD(Node) ((PFLTB_U8)((PFB_EVENT_NODE)(Node) + 1))

typedef struct _FB_EVENT_QUEUE {
    LIST_ENTRY Records;             /* FB_EVENT_NODE, oldest first */
    ULONG Depth;                    /* records queued (synthetic ones included) */
    ULONG InFlight;                 /* records detached by the drain thread */
    SIZE_T Bytes;                   /* bytes of queued records */
    ULONGLONG DropFirst;            /* pending run of dropped sequence numbers */
    ULONGLONG DropCount;
    ULONGLONG Delivered;
    ULONGLONG Dropped;
} FB_EVENT_QUEUE, *PFB_EVENT_QUEUE;

//
//  One client of \FltBridgePort. Allocated in the connect callback, freed
//  when the last reference goes (the port's and the drain thread's).
//

typedef struct _FB_CONNECTION {
    volatile LONG RefCount;
    ULONG Slot;
    PFLT_PORT ClientPort;
    ULONG ProcessId;
    USHORT Version;                 /* agreed by HELLO */
    BOOLEAN HelloDone;
    BOOLEAN Subscribed;             /* receives event batches */
    BOOLEAN Closing;
    BOOLEAN Reserved[3];
    ULONG ClientCapabilities;
    FB_EVENT_QUEUE Queue;           /* guarded by FbEvents.Lock */
} FB_CONNECTION, *PFB_CONNECTION;

typedef struct _FB_EVENT_STATS {
    ULONGLONG Produced;
    ULONGLONG Delivered;
    ULONGLONG Dropped;
    ULONGLONG NextSequence;
    ULONG QueueDepth;
    ULONG QueueLimit;
    ULONG Connections;
    ULONG Reserved;
    ULONGLONG EventTypeMask;
    ULONGLONG PerType[FLTB_EVENT_TYPE_SLOTS];
} FB_EVENT_STATS, *PFB_EVENT_STATS;

_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbEventsInitialize(
    VOID
    );

_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbEventsStartDrain(
    VOID
    );

_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbEventsStopDrain(
    VOID
    );

_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbEventsUninitialize(
    VOID
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbEventWanted(
    _In_ USHORT Type
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventPost(
    _In_ const FB_EVENT *Event
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventInit(
    _Out_ PFB_EVENT Event,
    _In_ USHORT Type,
    _In_ NTSTATUS Status
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
NTSTATUS
FbEventsAddConnection(
    _In_ PFB_CONNECTION Connection
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventsRemoveConnection(
    _In_ PFB_CONNECTION Connection
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
ULONGLONG
FbEventsSubscribe(
    _In_ PFB_CONNECTION Connection
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventsConfigure(
    _In_ BOOLEAN SetMask,
    _In_ ULONGLONG Mask,
    _In_ BOOLEAN SetLimit,
    _In_ ULONG Limit
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEventsGetStats(
    _Out_ PFB_EVENT_STATS Stats
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
ULONGLONG
FbEventsFlush(
    _In_ PFB_CONNECTION Connection,
    _In_ BOOLEAN Discard
    );

_IRQL_requires_(PASSIVE_LEVEL)
BOOLEAN
FbEventsDrainOnce(
    VOID
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbConnectionReference(
    _In_ PFB_CONNECTION Connection
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbConnectionDereference(
    _In_ PFB_CONNECTION Connection
    );

/* ------------------------------------------------------------------------ */
/* Policy (policy.c): managed and observed namespaces.                       */
/* ------------------------------------------------------------------------ */

typedef enum _FB_CLASS {
    FbClassNone = 0,
    FbClassManaged = FLTB_NAMESPACE_MANAGED,
    FbClassObserved = FLTB_NAMESPACE_OBSERVE
} FB_CLASS;

typedef struct _FB_NAMESPACE_SPEC {
    USHORT Kind;                    /* FLTB_NAMESPACE_* */
    USHORT NameBytes;
    const WCHAR *Name;              /* kernel copy */
} FB_NAMESPACE_SPEC, *PFB_NAMESPACE_SPEC;

typedef struct _FB_NAMESPACE {
    USHORT Kind;
    USHORT Chars;
    PWCH Upcased;                   /* points into the policy allocation */
} FB_NAMESPACE, *PFB_NAMESPACE;

typedef struct _FB_POLICY {
    volatile LONG RefCount;
    USHORT ManagedCount;
    USHORT ObserveCount;
    ULONG Count;
    FB_NAMESPACE Entries[FLTB_MAX_NAMESPACES];
    /* upcased names follow */
} FB_POLICY, *PFB_POLICY;

_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbPolicyInitialize(
    VOID
    );

_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbPolicyUninitialize(
    VOID
    );

_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbPolicyCreate(
    _In_reads_(Count) const FB_NAMESPACE_SPEC *Specs,
    _In_ ULONG Count,
    _Outptr_ PFB_POLICY *Policy
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbPolicyInstall(
    _In_ PFB_POLICY Policy
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbPolicyRelease(
    _In_ PFB_POLICY Policy
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbPolicyCounts(
    _Out_ PUSHORT Managed,
    _Out_ PUSHORT Observed
    );

_IRQL_requires_(PASSIVE_LEVEL)
FB_CLASS
FbPolicyClassify(
    _In_ PCUNICODE_STRING Name
    );

/* ------------------------------------------------------------------------ */
/* The port (comm.c).                                                        */
/* ------------------------------------------------------------------------ */

_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbCommInitialize(
    _In_ PFLT_FILTER Filter
    );

_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbCommClosePort(
    VOID
    );

_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FLTAPI
FbCommConnect(
    _In_ PFLT_PORT ClientPort,
    _In_opt_ PVOID ServerPortCookie,
    _In_reads_bytes_opt_(SizeOfContext) PVOID ConnectionContext,
    _In_ ULONG SizeOfContext,
    _Outptr_result_maybenull_ PVOID *ConnectionPortCookie
    );

_IRQL_requires_(PASSIVE_LEVEL)
VOID
FLTAPI
FbCommDisconnect(
    _In_opt_ PVOID ConnectionCookie
    );

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
    );

/* ------------------------------------------------------------------------ */
/* Probes (asyncio.c): filter-initiated I/O.                                 */
/* ------------------------------------------------------------------------ */

typedef struct _FB_PROBE_SPEC {
    ULONG Kind;                     /* FLTB_PROBE_* */
    ULONG Flags;                    /* FLTB_PROBE_FLAG_* */
    ULONG OplockLevel;              /* FLTB_OPLOCK_* */
    ULONG ReadLength;
    ULONGLONG ReadOffset;
    USHORT PathBytes;
    const WCHAR *Path;              /* kernel copy */
} FB_PROBE_SPEC, *PFB_PROBE_SPEC;

_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbProbeStart(
    _In_ const FB_PROBE_SPEC *Spec,
    _Out_ PULONGLONG ProbeId
    );

_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbProbeStop(
    _In_ ULONGLONG ProbeId
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
ULONG
FbProbeActiveCount(
    VOID
    );

#if !defined(FB_HOST_HARNESS)

/* ------------------------------------------------------------------------ */
/* Instances, streams, handles, operations (init.c, stream.c).              */
/* ------------------------------------------------------------------------ */

typedef enum _FB_ROLE {
    FbRoleOwner = 1,                /* owns oplocks/locks of managed streams, observes */
    FbRoleWatch = 2                 /* above the owner: sees held oplock requests end */
} FB_ROLE;

#define FB_WATCH_INSTANCE_NAME  L"FltBridge Watch Instance"

typedef struct _FB_INSTANCE_CONTEXT {
    FB_ROLE Role;
    BOOLEAN TearingDown;
    BOOLEAN Listed;
    BOOLEAN Reserved[2];
    PFLT_INSTANCE Instance;
    PFLT_VOLUME Volume;
    LIST_ENTRY GlobalLink;          /* owner: FbGlobals.Instances */
    UNICODE_STRING VolumeName;      /* owner: \DEVICE\HARDDISKVOLUMEN, upcased (FB_TAG_NAME) */
    KSPIN_LOCK Lock;                /* guards Streams and Pended */
    LIST_ENTRY Streams;             /* managed FB_STREAM by Key (the table) */
    LIST_ENTRY Pended;              /* FB_OPERATION we returned PENDING for */
    KEVENT PendedDrained;           /* signalled when Pended is empty */
} FB_INSTANCE_CONTEXT, *PFB_INSTANCE_CONTEXT;

typedef struct _FB_STREAM {

    ULONG Kind;                     /* FB_KIND_STREAM (see FB_CONTEXT_KIND) */
    LIST_ENTRY TableLink;
    PFB_INSTANCE_CONTEXT InstanceContext;
    ULONGLONG StreamId;
    BOOLEAN Managed;
    BOOLEAN InTable;
    BOOLEAN ResourceReady;
    BOOLEAN OplockReady;            /* FltInitializeOplock done, not yet torn down */
    BOOLEAN DeletePending;          /* as the filter saw it (dispositions, delete-on-close); Lock */
    BOOLEAN Reserved[3];

    UNICODE_STRING Name;            /* as opened (normalized), FB_TAG_NAME */
    UNICODE_STRING Key;             /* upcased, ::$DATA removed, FB_TAG_NAME */

    //
    //  Oplock synchronisation (learn.microsoft.com, "Oplock synchronization
    //  in file systems and filters"): exclusive around oplock requests,
    //  shared around acknowledgements and every FltCheckOplockEx.
    //

    ERESOURCE Resource;
    OPLOCK Oplock;
    PFILE_LOCK FileLock;

    LONG FileObjects;               /* created, not yet closed (InstanceContext->Lock) */
    LONG PendingCreates;            /* creates between lookup and post-create (InstanceContext->Lock) */

    KSPIN_LOCK Lock;                /* guards everything below */
    LONG OpenHandles;               /* created, not yet cleaned up */
    ULONG ShareOpens;               /* handles with data access (IoCheckShareAccess rules) */
    ULONG ReadOpens;
    ULONG WriteOpens;
    ULONG DeleteOpens;
    ULONG SharedRead;
    ULONG SharedWrite;
    ULONG SharedDelete;
    LIST_ENTRY ActiveOps;           /* FB_OPERATION inside a package call */
    LIST_ENTRY HeldOplocks;         /* FB_OPLOCK_HOLD */
    LIST_ENTRY LockOps;             /* FB_LOCK_OP */
    LIST_ENTRY Handles;             /* FB_HANDLE counted open (FB_HANDLE.StreamLink) */

} FB_STREAM, *PFB_STREAM;

typedef struct _FB_HANDLE {
    ULONGLONG FileObjectId;
    PFB_STREAM Stream;              /* referenced (FltReferenceContext) */
    LIST_ENTRY StreamLink;          /* on Stream->Handles while Listed (Stream->Lock) */
    ACCESS_MASK Access;
    ULONG ShareAccess;
    ULONG CreateOptions;
    BOOLEAN CountsForShare;
    BOOLEAN CleanedUp;
    BOOLEAN Listed;                 /* counted open: on Stream->Handles */
    BOOLEAN HasOplockKey;           /* the create carried GUID_ECP_OPLOCK_KEY */
    BOOLEAN DeleteOnClose;          /* FILE_DELETE_ON_CLOSE, or a disposition with ON_CLOSE (Stream->Lock) */
    BOOLEAN Reserved[3];
    GUID OplockKey;                 /* the target oplock key, when HasOplockKey */
    ULONG LocksReleasedAtCleanup;
    ULONG CleanupFlags;
    volatile LONG64 LastBrokenRequest;  /* operation id of the last request broken with ack */
} FB_HANDLE, *PFB_HANDLE;

//
//  Per-operation state for managed streams (and the pended/resumed paths).
//

#define FB_OP_WAITED            0x0001u  /* pended for an oplock break */
#define FB_OP_BREAK_IN_PROGRESS 0x0002u  /* FltCheckOplockEx said STATUS_OPLOCK_BREAK_IN_PROGRESS */
#define FB_OP_SHARING_BREAK     0x0004u  /* FltOplockBreakH ran for a sharing conflict */
#define FB_OP_COMPLETE_IF_OPLOCKED 0x0008u
#define FB_OP_PENDED            0x0010u  /* on the instance's Pended list */
#define FB_OP_ACTIVE            0x0020u  /* on the stream's ActiveOps list */
#define FB_OP_FAST_IO           0x0040u
#define FB_OP_BUFFER_UNLOCKED   0x0080u  /* pre-post: FltLockUserBuffer failed (LockStatus) */
#define FB_OP_OPLOCK_CHECKED    0x0200u  /* create: the batch/filter check ran FltCheckOplockEx */
#define FB_OP_BATCH_UNDERWAY    0x0400u  /* create: that check said STATUS_OPLOCK_BREAK_IN_PROGRESS */
#define FB_OP_OFFSET_RESOLVED   0x0800u  /* write to end of file: ResolvedOffset holds the offset */
#define FB_OP_COLLECT_RELEASED  0x1000u  /* cleanup: waiters it releases resume from its post-cleanup */

//
//  FB_OPERATION.Flags is written by several threads at once: the thread
//  that called the oplock package (after FLT_PREOP_PENDING it still leaves
//  the package's active list), the thread running the wait-complete
//  routine, and the deferred work item. The bits are kept under different
//  locks (ActiveOps under the stream's lock, Pended under the instance's)
//  or none, so every change is an interlocked read-modify-write; a plain
//  "|=" could lose a concurrent update and leave FB_OP_PENDED set for an
//  operation that is off the pended list (or the reverse).
//

#define FbOpSetFlags(Op, F)     ((VOID)InterlockedOr(&(Op)->Flags, (LONG)(F)))
#define FbOpClearFlags(Op, F)   ((VOID)InterlockedAnd(&(Op)->Flags, ~(LONG)(F)))
#define FbOpTestFlags(Op, F)    ((((ULONG)(Op)->Flags) & (ULONG)(F)) != 0)

typedef enum _FB_OP_STAGE {
    FbStageNone = 0,
    FbStageCreateStart,             /* create waited in the batch/filter check; from the top again */
    FbStageCreateBreakH,            /* create waited in FltOplockBreakH; share check, FltCheckOplockEx next */
    FbStageCreateCheck,             /* create waited in FltCheckOplockEx */
    FbStageReadWrite,               /* read/write waited; lock check next */
    FbStageLock,                    /* lock control waited; FltProcessFileLock next */
    FbStageContinue                 /* set-info, flush: continue as is */
} FB_OP_STAGE;

#define FB_KIND_OPERATION   FB_TAG_OPERATION
#define FB_KIND_OBSERVE     FB_TAG_OBSERVE
#define FB_KIND_STREAM      FB_TAG_STREAM

//
//  A post-operation's completion context is either an FB_OPERATION
//  (managed) or an FB_OBSERVE_OP (observed); Kind, first in both, tells.
//

#define FB_CONTEXT_KIND(Context) (*(const ULONG *)(Context))

typedef struct _FB_OPERATION {
    ULONG Kind;                             /* FB_KIND_OPERATION */
    volatile LONG RefCount;
    LIST_ENTRY PendedLink;
    LIST_ENTRY ActiveLink;
    PETHREAD ActiveThread;
    PFLT_CALLBACK_DATA Data;
    PFB_INSTANCE_CONTEXT InstanceContext;   /* referenced */
    PFB_STREAM Stream;                      /* referenced */
    PFB_HANDLE Handle;                      /* referenced, NULL in create */
    PFLT_DEFERRED_IO_WORKITEM WorkItem;
    ULONGLONG OperationId;
    ULONGLONG FileObjectId;
    ULONG ProcessId;
    ULONG ThreadId;
    volatile LONG Flags;                    /* FB_OP_*, FbOpSetFlags / FbOpClearFlags only */
    FB_OP_STAGE Stage;
    UCHAR Major;
    UCHAR Minor;
    USHORT Reserved;
    ULONG UnlockCount;                      /* ranges the unlock routine saw */
    NTSTATUS LockStatus;                    /* FltLockUserBuffer's failure (FB_OP_BUFFER_UNLOCKED) */
    BOOLEAN HasOplockKey;                   /* create: GUID_ECP_OPLOCK_KEY found */
    BOOLEAN Reserved2[7];
    GUID OplockKey;                         /* create: the target oplock key */
    ULONGLONG ResolvedOffset;               /* write to end of file (FB_OP_OFFSET_RESOLVED) */
    PETHREAD DeferThread;                   /* thread whose package call defers its breaks (Stream->Lock) */
    LIST_ENTRY DeferredEvents;              /* FB_DEFERRED_EVENT this operation caused (Stream->Lock) */
    LIST_ENTRY ReleasedWaiters;             /* cleanup: FB_OPERATION it released (Stream->Lock) */
    LIST_ENTRY ReleasedLink;                /* on a cleanup's ReleasedWaiters (Stream->Lock) */
} FB_OPERATION, *PFB_OPERATION;

//
//  An OPLOCK_BREAK record whose OPERATION_WAITS flag is not known yet: it
//  waits on its causer's DeferredEvents until the causer's package call
//  returns (or its wait ends, which proves it waited).
//

typedef struct _FB_DEFERRED_EVENT {
    LIST_ENTRY Link;
    PETHREAD Thread;                /* the thread inside the causer's package call */
    FB_EVENT Event;
} FB_DEFERRED_EVENT, *PFB_DEFERRED_EVENT;

//
//  An oplock request the package holds for a managed stream (granted, not
//  yet ended). The watch instance finds it by callback data when it ends.
//

typedef enum _FB_HOLD_STATE {
    FbHoldRequested = 1,
    FbHoldGranted,
    FbHoldEnded
} FB_HOLD_STATE;

//
//  What an oplock FSCTL is (FbDecodeOplockFsctl).
//

typedef enum _FB_FSCTL_KIND {
    FbFsctlRequest = 1,             /* legacy requests, FSCTL_REQUEST_OPLOCK with REQUEST */
    FbFsctlAck,                     /* legacy acks, FSCTL_REQUEST_OPLOCK with ACK */
    FbFsctlNotify                   /* FSCTL_OPLOCK_BREAK_NOTIFY */
} FB_FSCTL_KIND;

typedef struct _FB_OPLOCK_HOLD {
    LIST_ENTRY Link;
    PFB_HANDLE Handle;              /* referenced */
    PFLT_CALLBACK_DATA Data;        /* identity only; never dereferenced after it ends */
    PETHREAD RequestThread;
    ULONGLONG OperationId;
    ULONGLONG FileObjectId;
    ULONG ProcessId;
    ULONG ThreadId;
    ULONG FsControlCode;
    ULONG Level;                    /* FLTB_OPLOCK_* */
    FB_HOLD_STATE State;
    FB_FSCTL_KIND Kind;
    BOOLEAN IsOplock;               /* held means an oplock is held (OPLOCK_GRANTED is due) */
    BOOLEAN GrantedEmitted;
    BOOLEAN InCall;                 /* its requester is still inside FltOplockFsctrlEx: */
                                    /* only the requester may unlink and free it */
    BOOLEAN Reserved;
} FB_OPLOCK_HOLD, *PFB_OPLOCK_HOLD;

//
//  A LOCK_CONTROL request of a managed stream between FltProcessFileLock
//  and its completion callback.
//

typedef struct _FB_LOCK_OP {
    LIST_ENTRY Link;
    PFLT_CALLBACK_DATA Data;
    PETHREAD CallThread;            /* thread inside FltProcessFileLock, or NULL */
    ULONGLONG OperationId;
    ULONGLONG FileObjectId;
    ULONG ProcessId;
    ULONG ThreadId;
    UCHAR Minor;
    BOOLEAN Pended;                 /* FltProcessFileLock returned PENDING */
    BOOLEAN WaitingEmitted;
    BOOLEAN Reserved;
    ULONG Key;
    ULONGLONG Offset;
    ULONGLONG Length;
    ULONG LockFlags;                /* FLTB_LOCK_* */
    ULONG Reserved2;
} FB_LOCK_OP, *PFB_LOCK_OP;

//
//  Observe roots: what a pre-op hands its post-op (and the operation
//  status callback for oplock FSCTLs).
//

typedef struct _FB_OBSERVE_OP {
    ULONG Kind;                     /* FB_KIND_OBSERVE */
    volatile LONG RefCount;
    volatile LONG GrantedEmitted;
    PFB_STREAM Stream;              /* referenced */
    PFB_HANDLE Handle;              /* referenced */
    ULONGLONG OperationId;
    ULONG ProcessId;
    ULONG ThreadId;
    ULONG Level;
    ULONG FsControlCode;
    ULONG InputFlags;               /* REQUEST_OPLOCK_INPUT_FLAG_* of an oplock FSCTL */
    FB_FSCTL_KIND FsctlKind;        /* oplock FSCTLs */
    BOOLEAN OffsetResolved;         /* a write to end of file: Offset is where it went */
    BOOLEAN Reserved[7];
    ULONGLONG Offset;
} FB_OBSERVE_OP, *PFB_OBSERVE_OP;

/* init.c */
extern const FLT_REGISTRATION FbRegistration;

_IRQL_requires_max_(APC_LEVEL)
PFB_INSTANCE_CONTEXT
FbGetInstanceContext(
    _In_ PFLT_INSTANCE Instance
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
PFLT_INSTANCE
FbFindOwnerInstance(
    _In_ PFLT_VOLUME Volume
    );

/* stream.c */
_IRQL_requires_(PASSIVE_LEVEL)
NTSTATUS
FbStreamLookupForCreate(
    _In_ PFB_INSTANCE_CONTEXT InstanceContext,
    _In_ PCUNICODE_STRING Name,
    _In_ BOOLEAN Managed,
    _Outptr_ PFB_STREAM *Stream
    );

_IRQL_requires_max_(APC_LEVEL)
PFB_STREAM
FbStreamAttach(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ PFB_STREAM Stream
    );

_IRQL_requires_max_(APC_LEVEL)
NTSTATUS
FbHandleCreate(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ PFB_STREAM Stream,
    _In_ PFB_OPERATION Operation,
    _Outptr_ PFB_HANDLE *Handle
    );

_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbStreamGetForOperation(
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _Outptr_ PFB_STREAM *Stream,
    _Outptr_ PFB_HANDLE *Handle
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbStreamRelease(
    _In_opt_ PFB_STREAM Stream,
    _In_opt_ PFB_HANDLE Handle
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbStreamCreateDone(
    _In_ PFB_STREAM Stream,
    _In_ BOOLEAN Opened,
    _In_ BOOLEAN Counted
    );

_IRQL_requires_max_(APC_LEVEL)
VOID
FbStreamFileObjectClosed(
    _In_ PFB_STREAM Stream
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbStreamShareConflict(
    _In_ PFB_STREAM Stream,
    _In_ ACCESS_MASK Access,
    _In_ ULONG ShareAccess
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbStreamCountOpen(
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle,
    _In_ BOOLEAN Add
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
ULONG
FbStreamCleanupHandle(
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbStreamAllKeysMatch(
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbStreamDeletePending(
    _In_ PFB_STREAM Stream
    );

_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbQueryFileSizes(
    _In_ PFLT_CALLBACK_DATA Data,
    _Out_ PLONGLONG EndOfFile,
    _Out_ PLONGLONG AllocationSize
    );

_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbStreamTeardownInstance(
    _In_ PFB_INSTANCE_CONTEXT InstanceContext
    );

VOID FLTAPI FbStreamContextCleanup(_In_ PFLT_CONTEXT Context, _In_ FLT_CONTEXT_TYPE ContextType);
VOID FLTAPI FbHandleContextCleanup(_In_ PFLT_CONTEXT Context, _In_ FLT_CONTEXT_TYPE ContextType);

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
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbRequestorIds(
    _In_ PFLT_CALLBACK_DATA Data,
    _Out_ PULONG ProcessId,
    _Out_ PULONG ThreadId
    );

/* operations: allocation, pended tracking, resume (oplock.c) */
_IRQL_requires_max_(APC_LEVEL)
PFB_OPERATION
FbOperationCreate(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PCFLT_RELATED_OBJECTS FltObjects,
    _In_ PFB_STREAM Stream,
    _In_opt_ PFB_HANDLE Handle
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationReference(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationRelease(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationEnterPackage(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationLeavePackage(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
PFB_OPERATION
FbStreamActiveOperation(
    _In_ PFB_STREAM Stream
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationMarkPended(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbOperationUnmarkPended(
    _In_ PFB_OPERATION Operation
    );

/* oplock.c: package wrappers (SEH-guarded) and the routines they use */
_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbOplockCheck(
    _In_ PFB_OPERATION Operation,
    _In_ ULONG Flags,
    _In_ BOOLEAN WithRoutines
    );

_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbOplockBreakH(
    _In_ PFB_OPERATION Operation,
    _In_ ULONG Flags
    );

_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbOplockFsctrl(
    _In_ PFB_STREAM Stream,
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ ULONG OpenCount,
    _In_ ULONG Flags
    );

_IRQL_requires_(PASSIVE_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbOperationContinue(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
ULONG
FbLevelFromCacheBits(
    _In_ ULONG CacheLevel
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
ULONG
FbLevelFromLegacyFsctl(
    _In_ ULONG FsControlCode
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbResumePended(
    _In_ PFB_OPERATION Operation,
    _In_ FLT_PREOP_CALLBACK_STATUS Decision
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbDeferBreakEvent(
    _In_ PFB_OPERATION Causer,
    _In_ const FB_EVENT *Event
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbFlushDeferredEvents(
    _In_ PFB_OPERATION Operation,
    _In_ BOOLEAN Waits
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbResumeReleasedWaiters(
    _In_ PFB_OPERATION Cleanup
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEmitFailedOperation(
    _In_ PFB_OPERATION Operation,
    _In_ NTSTATUS Status
    );

/* the continuations after an oplock check, one per IRP family */
_IRQL_requires_(PASSIVE_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbCreateFromTop(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_(PASSIVE_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbCreateAfterBreakH(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbReadWriteAfterOplock(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbLockAfterOplock(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbCreateEmit(
    _In_ PFB_OPERATION Operation,
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ NTSTATUS Status,
    _In_ ULONG CreateFlags,
    _In_ ULONGLONG FileSize
    );

/* filelock.c */
_IRQL_requires_max_(APC_LEVEL)
PFILE_LOCK
FbFileLockAllocate(
    VOID
    );

_IRQL_requires_max_(APC_LEVEL)
FLT_PREOP_CALLBACK_STATUS
FbFileLockProcess(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbFileLockCheckIo(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(APC_LEVEL)
ULONG
FbFileLockUnlockAllAtCleanup(
    _In_ PFB_OPERATION Operation
    );

_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbFileLockAnyLocks(
    _In_ PFB_STREAM Stream
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbFileLockEmitObserved(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_OBSERVE_OP Observe
    );

_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbFileLockAnyWaiting(
    _In_ PFB_STREAM Stream
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEmitLockRefused(
    _In_ PFB_OPERATION Operation,
    _In_ NTSTATUS Status
    );

/* fsctl.c */
_IRQL_requires_max_(DISPATCH_LEVEL)
BOOLEAN
FbIsOplockFsctl(
    _In_ ULONG FsControlCode
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbHoldsRelease(
    _In_ PFB_STREAM Stream,
    _In_ ULONGLONG FileObjectId
    );

/* asyncio.c */
_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbProbeInitialize(
    VOID
    );

_IRQL_requires_(PASSIVE_LEVEL)
VOID
FbProbeStopInstance(
    _In_opt_ PFLT_INSTANCE Instance
    );

/* Operation callbacks, one file per IRP family. */
FLT_PREOP_CALLBACK_STATUS FLTAPI FbPreCreate(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _Flt_CompletionContext_Outptr_ PVOID *CompletionContext);
FLT_POSTOP_CALLBACK_STATUS FLTAPI FbPostCreate(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _In_opt_ PVOID CompletionContext, _In_ FLT_POST_OPERATION_FLAGS Flags);
FLT_PREOP_CALLBACK_STATUS FLTAPI FbPreCleanup(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _Flt_CompletionContext_Outptr_ PVOID *CompletionContext);
FLT_POSTOP_CALLBACK_STATUS FLTAPI FbPostCleanup(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _In_opt_ PVOID CompletionContext, _In_ FLT_POST_OPERATION_FLAGS Flags);
FLT_PREOP_CALLBACK_STATUS FLTAPI FbPreClose(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _Flt_CompletionContext_Outptr_ PVOID *CompletionContext);
FLT_POSTOP_CALLBACK_STATUS FLTAPI FbPostClose(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _In_opt_ PVOID CompletionContext, _In_ FLT_POST_OPERATION_FLAGS Flags);
FLT_PREOP_CALLBACK_STATUS FLTAPI FbPreReadWrite(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _Flt_CompletionContext_Outptr_ PVOID *CompletionContext);
FLT_POSTOP_CALLBACK_STATUS FLTAPI FbPostReadWrite(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _In_opt_ PVOID CompletionContext, _In_ FLT_POST_OPERATION_FLAGS Flags);
FLT_PREOP_CALLBACK_STATUS FLTAPI FbPreLockControl(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _Flt_CompletionContext_Outptr_ PVOID *CompletionContext);
FLT_POSTOP_CALLBACK_STATUS FLTAPI FbPostLockControl(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _In_opt_ PVOID CompletionContext, _In_ FLT_POST_OPERATION_FLAGS Flags);
FLT_PREOP_CALLBACK_STATUS FLTAPI FbPreFsControl(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _Flt_CompletionContext_Outptr_ PVOID *CompletionContext);
FLT_POSTOP_CALLBACK_STATUS FLTAPI FbPostFsControl(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _In_opt_ PVOID CompletionContext, _In_ FLT_POST_OPERATION_FLAGS Flags);
FLT_PREOP_CALLBACK_STATUS FLTAPI FbPreSetInformation(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _Flt_CompletionContext_Outptr_ PVOID *CompletionContext);
FLT_POSTOP_CALLBACK_STATUS FLTAPI FbPostSetInformation(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _In_opt_ PVOID CompletionContext, _In_ FLT_POST_OPERATION_FLAGS Flags);
FLT_PREOP_CALLBACK_STATUS FLTAPI FbPreFastIoMdl(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _Flt_CompletionContext_Outptr_ PVOID *CompletionContext);
FLT_PREOP_CALLBACK_STATUS FLTAPI FbPreFlush(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _Flt_CompletionContext_Outptr_ PVOID *CompletionContext);
FLT_POSTOP_CALLBACK_STATUS FLTAPI FbPostFlush(_Inout_ PFLT_CALLBACK_DATA Data, _In_ PCFLT_RELATED_OBJECTS FltObjects, _In_opt_ PVOID CompletionContext, _In_ FLT_POST_OPERATION_FLAGS Flags);

/* Shared by the post-operation callbacks that emit IO records. */
_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbEmitIo(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ NTSTATUS Status,
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle,
    _In_ ULONGLONG OperationId,
    _In_ ULONG ProcessId,
    _In_ ULONG ThreadId,
    _In_opt_ const ULONGLONG *ResolvedOffset
    );

_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbWriteToEndOfFile(
    _In_ PFLT_CALLBACK_DATA Data
    );

_IRQL_requires_max_(APC_LEVEL)
BOOLEAN
FbResolveWriteOffset(
    _In_ PFLT_CALLBACK_DATA Data,
    _Out_ PULONGLONG Offset
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbSetInfoSeen(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle
    );

_IRQL_requires_max_(APC_LEVEL)
PFB_OBSERVE_OP
FbObserveOpCreate(
    _In_ PFLT_CALLBACK_DATA Data,
    _In_ PFB_STREAM Stream,
    _In_ PFB_HANDLE Handle
    );

_IRQL_requires_max_(DISPATCH_LEVEL)
VOID
FbObserveOpRelease(
    _In_ PFB_OBSERVE_OP Observe
    );

#endif /* !FB_HOST_HARNESS */

#endif /* FLTBRIDGE_DRIVER_H */
