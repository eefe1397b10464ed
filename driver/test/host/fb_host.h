/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    fb_host.h

Abstract:

    A small fake of the kernel types and primitives used by comm.c,
    events.c and policy.c, so those files compile unchanged for Linux and
    run in the host harness (harness.c) under ASan/UBSan.

    What is faked and how:

      - spin locks are pthread mutexes (IRQL is not modelled);
      - KEVENTs are flags under one global mutex/condition variable;
        KeWaitForSingleObject / KeWaitForMultipleObjects honour timeouts;
      - PsCreateSystemThread starts a pthread; waiting on the thread
        object joins it;
      - __try / __except become plain code (the handler never runs: the
        harness cannot fault a user buffer);
      - the Filter Manager port routines are recorded and scripted by the
        harness (fb_host.c);
      - FbAllocate / FbFree track every allocation by tag.

    This checks our control flow, not Windows' semantics.

Environment:

    User mode, Linux (gcc or clang), LP64.

--*/

#ifndef FB_HOST_H
#define FB_HOST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <wchar.h>
#include <string.h>

typedef void VOID;
typedef void *PVOID;
typedef uint8_t UCHAR, *PUCHAR, BOOLEAN, *PBOOLEAN;
typedef uint16_t USHORT, *PUSHORT;
/* Built with -fshort-wchar, so L"" literals (FLTB_PORT_NAME_W) are UTF-16 as on Windows. */
typedef wchar_t WCHAR, *PWCH, *PWSTR;
_Static_assert(sizeof(WCHAR) == 2, "build the harness with -fshort-wchar");
typedef const WCHAR *PCWSTR;
typedef uint32_t ULONG, *PULONG, ACCESS_MASK, DEVICE_TYPE;
typedef int32_t LONG, *PLONG, NTSTATUS;
typedef uint64_t ULONGLONG, *PULONGLONG, ULONG64, ULONG_PTR, SIZE_T, POOL_FLAGS;
typedef int64_t LONGLONG, LONG64, *PLONG64;
typedef void *HANDLE;
typedef HANDLE *PHANDLE;
typedef UCHAR KIRQL, *PKIRQL;
typedef char CCHAR;

#define CONST const
#define TRUE 1
#define FALSE 0
#define NOTHING
#define FLTAPI
#define NTAPI
#define MAXUSHORT 0xffff
#define MAXULONG 0xffffffffu

/* SAL: annotations only. */
#define _In_
#define _In_opt_
#define _Out_
#define _Inout_
#define _Outptr_
#define _Outptr_result_maybenull_
#define _In_reads_(n)
#define _In_reads_bytes_(n)
#define _In_reads_bytes_opt_(n)
#define _Out_writes_bytes_(n)
#define _Out_writes_bytes_to_opt_(n, m)
#define _IRQL_requires_(x)
#define _IRQL_requires_max_(x)
#define _Analysis_assume_(x)
#define _Flt_CompletionContext_Outptr_

#define PASSIVE_LEVEL 0
#define APC_LEVEL 1
#define DISPATCH_LEVEL 2

#define NT_SUCCESS(s) (((NTSTATUS)(s)) >= 0)
#define STATUS_SUCCESS ((NTSTATUS)0x00000000)
#define STATUS_WAIT_0 ((NTSTATUS)0x00000000)
#define STATUS_TIMEOUT ((NTSTATUS)0x00000102)
#define STATUS_PENDING ((NTSTATUS)0x00000103)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000D)
#define STATUS_INVALID_DEVICE_REQUEST ((NTSTATUS)0xC0000010)
#define STATUS_BUFFER_TOO_SMALL ((NTSTATUS)0xC0000023)
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009A)
#define STATUS_REVISION_MISMATCH ((NTSTATUS)0xC0000059)
#define STATUS_NOT_FOUND ((NTSTATUS)0xC0000225)
#define STATUS_PORT_DISCONNECTED ((NTSTATUS)0xC0000037)
#define STATUS_CONNECTION_COUNT_LIMIT ((NTSTATUS)0xC0000246)
#define STATUS_FLT_DELETING_OBJECT ((NTSTATUS)0xC01C000B)
#define STATUS_OBJECT_PATH_NOT_FOUND ((NTSTATUS)0xC000003A)
#define STATUS_ACCESS_VIOLATION ((NTSTATUS)0xC0000005)

#define FIELD_OFFSET(T, f) ((LONG)offsetof(T, f))
#define CONTAINING_RECORD(a, T, f) ((T *)((char *)(a) - offsetof(T, f)))
#define UNREFERENCED_PARAMETER(p) ((void)(p))
#define HandleToULong(h) ((ULONG)(ULONG_PTR)(h))
#define RtlZeroMemory(d, n) memset((d), 0, (n))
#define RtlCopyMemory(d, s, n) memcpy((d), (s), (n))

/* SEH: the harness has no faults to catch. */
#define __try if (1)
#define __except(filter) else if (0)
#define GetExceptionCode() ((ULONG)STATUS_ACCESS_VIOLATION)
#define EXCEPTION_EXECUTE_HANDLER 1

typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY;

static inline void InitializeListHead(PLIST_ENTRY h) { h->Flink = h->Blink = h; }
static inline BOOLEAN IsListEmpty(const LIST_ENTRY *h) { return (BOOLEAN)(h->Flink == h); }
static inline void RemoveEntryList(PLIST_ENTRY e) { e->Blink->Flink = e->Flink; e->Flink->Blink = e->Blink; }
static inline PLIST_ENTRY RemoveHeadList(PLIST_ENTRY h) { PLIST_ENTRY e = h->Flink; RemoveEntryList(e); return e; }
static inline PLIST_ENTRY RemoveTailList(PLIST_ENTRY h) { PLIST_ENTRY e = h->Blink; RemoveEntryList(e); return e; }
static inline void InsertTailList(PLIST_ENTRY h, PLIST_ENTRY e) { e->Flink = h; e->Blink = h->Blink; h->Blink->Flink = e; h->Blink = e; }
static inline void InsertHeadList(PLIST_ENTRY h, PLIST_ENTRY e) { e->Flink = h->Flink; e->Blink = h; h->Flink->Blink = e; h->Flink = e; }

typedef struct _UNICODE_STRING {
    USHORT Length;
    USHORT MaximumLength;
    PWCH Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef union _LARGE_INTEGER {
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef struct _KSPIN_LOCK_HOST {
    pthread_mutex_t Mutex;
} KSPIN_LOCK, *PKSPIN_LOCK;

typedef enum _EVENT_TYPE { NotificationEvent, SynchronizationEvent } EVENT_TYPE;
typedef struct _KEVENT {
    int Signaled;
    EVENT_TYPE Type;
} KEVENT, *PKEVENT;

typedef enum _WAIT_TYPE { WaitAll, WaitAny } WAIT_TYPE;
typedef enum _KWAIT_REASON { Executive } KWAIT_REASON;
typedef enum _MODE { KernelMode, UserMode } KPROCESSOR_MODE;
#define IO_NO_INCREMENT 0

typedef struct _OBJECT_ATTRIBUTES {
    ULONG Length;
    PUNICODE_STRING ObjectName;
    ULONG Attributes;
    PVOID SecurityDescriptor;
} OBJECT_ATTRIBUTES, *POBJECT_ATTRIBUTES;
#define OBJ_CASE_INSENSITIVE 0x40
#define OBJ_KERNEL_HANDLE 0x200
#define InitializeObjectAttributes(p, n, a, r, s) \
    do { (p)->Length = sizeof(OBJECT_ATTRIBUTES); (p)->ObjectName = (n); (p)->Attributes = (a); \
         (void)(r); (p)->SecurityDescriptor = (s); } while (0)

typedef PVOID PSECURITY_DESCRIPTOR;
typedef struct _DRIVER_OBJECT *PDRIVER_OBJECT;
typedef struct _ETHREAD *PETHREAD;
typedef struct _FLT_FILTER *PFLT_FILTER;
typedef struct _FLT_PORT *PFLT_PORT;
typedef void *POBJECT_TYPE;
extern POBJECT_TYPE *PsThreadType;
#define THREAD_ALL_ACCESS 0x1fffff
#define FLT_PORT_ALL_ACCESS 0x1f0001
#define POOL_FLAG_NON_PAGED 0x40ull

typedef void KSTART_ROUTINE(PVOID StartContext);
typedef KSTART_ROUTINE *PKSTART_ROUTINE;

typedef NTSTATUS (*PFLT_CONNECT_NOTIFY)(PFLT_PORT, PVOID, PVOID, ULONG, PVOID *);
typedef VOID (*PFLT_DISCONNECT_NOTIFY)(PVOID);
typedef NTSTATUS (*PFLT_MESSAGE_NOTIFY)(PVOID, PVOID, ULONG, PVOID, ULONG, PULONG);

/* Kernel primitives (fb_host.c). */
void KeInitializeSpinLock(PKSPIN_LOCK Lock);
void KeAcquireSpinLock(PKSPIN_LOCK Lock, PKIRQL OldIrql);
void KeReleaseSpinLock(PKSPIN_LOCK Lock, KIRQL OldIrql);
void KeInitializeEvent(PKEVENT Event, EVENT_TYPE Type, BOOLEAN State);
LONG KeSetEvent(PKEVENT Event, LONG Increment, BOOLEAN Wait);
void KeClearEvent(PKEVENT Event);
NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON Reason, KPROCESSOR_MODE Mode, BOOLEAN Alertable, PLARGE_INTEGER Timeout);
NTSTATUS KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType, KWAIT_REASON Reason, KPROCESSOR_MODE Mode, BOOLEAN Alertable, PLARGE_INTEGER Timeout, PVOID WaitBlockArray);
void KeQuerySystemTimePrecise(PLARGE_INTEGER Time);
HANDLE PsGetCurrentProcessId(void);
HANDLE PsGetCurrentThreadId(void);
NTSTATUS PsCreateSystemThread(PHANDLE Thread, ULONG Access, POBJECT_ATTRIBUTES Attributes, HANDLE Process, PVOID ClientId, PKSTART_ROUTINE Routine, PVOID Context);
NTSTATUS PsTerminateSystemThread(NTSTATUS Status);
NTSTATUS ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK Access, POBJECT_TYPE Type, KPROCESSOR_MODE Mode, PVOID *Object, PVOID Info);
void ObDereferenceObject(PVOID Object);
NTSTATUS ZwClose(HANDLE Handle);
NTSTATUS ZwWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable, PLARGE_INTEGER Timeout);
LONG InterlockedIncrement(volatile LONG *Value);
LONG InterlockedDecrement(volatile LONG *Value);
LONG InterlockedExchange(volatile LONG *Value, LONG New);
LONG64 InterlockedIncrement64(volatile LONG64 *Value);
WCHAR RtlUpcaseUnicodeChar(WCHAR Char);
SIZE_T RtlCompareMemory(const void *A, const void *B, SIZE_T Length);
void RtlInitUnicodeString(PUNICODE_STRING String, PCWSTR Source);

/* Filter Manager port routines (scripted by the harness). */
NTSTATUS FltBuildDefaultSecurityDescriptor(PSECURITY_DESCRIPTOR *Descriptor, ACCESS_MASK Access);
void FltFreeSecurityDescriptor(PSECURITY_DESCRIPTOR Descriptor);
NTSTATUS FltCreateCommunicationPort(PFLT_FILTER Filter, PFLT_PORT *ServerPort, POBJECT_ATTRIBUTES Attributes, PVOID Cookie, PFLT_CONNECT_NOTIFY Connect, PFLT_DISCONNECT_NOTIFY Disconnect, PFLT_MESSAGE_NOTIFY Message, LONG MaxConnections);
void FltCloseCommunicationPort(PFLT_PORT ServerPort);
void FltCloseClientPort(PFLT_FILTER Filter, PFLT_PORT *ClientPort);
NTSTATUS FltSendMessage(PFLT_FILTER Filter, PFLT_PORT *ClientPort, PVOID Buffer, ULONG Length, PVOID Reply, PULONG ReplyLength, PLARGE_INTEGER Timeout);

#endif /* FB_HOST_H */
