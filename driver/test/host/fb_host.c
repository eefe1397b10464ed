/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    fb_host.c

Abstract:

    The fake kernel of the host harness (see fb_host.h): primitives, the
    allocation tracker behind FbAllocate / FbFree, the scripted Filter
    Manager port routines, and stand-ins for the modules the harness does
    not build (init.c's globals, asyncio.c's probe entry points).

Environment:

    User mode, Linux.

--*/

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "fb_host_control.h"

FB_GLOBALS FbGlobals;
static POBJECT_TYPE FbHostThreadType;
POBJECT_TYPE *PsThreadType = &FbHostThreadType;

/* ------------------------------------------------------------------------ */
/* Events and waits: one mutex and one condition variable for all events.   */
/* ------------------------------------------------------------------------ */

static pthread_mutex_t FbHostWaitMutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t FbHostWaitCond = PTHREAD_COND_INITIALIZER;

#define FB_HOST_THREAD_MAGIC 0x54485244

typedef struct _FB_HOST_THREAD {
    int Magic;
    pthread_t Thread;
    PKSTART_ROUTINE Routine;
    PVOID Context;
    int Joined;
} FB_HOST_THREAD;

void KeInitializeSpinLock(PKSPIN_LOCK Lock) { pthread_mutex_init(&Lock->Mutex, NULL); }
void KeAcquireSpinLock(PKSPIN_LOCK Lock, PKIRQL OldIrql) { pthread_mutex_lock(&Lock->Mutex); *OldIrql = PASSIVE_LEVEL; }
void KeReleaseSpinLock(PKSPIN_LOCK Lock, KIRQL OldIrql) { (void)OldIrql; pthread_mutex_unlock(&Lock->Mutex); }

void KeInitializeEvent(PKEVENT Event, EVENT_TYPE Type, BOOLEAN State)
{
    pthread_mutex_lock(&FbHostWaitMutex);
    Event->Type = Type;
    Event->Signaled = State ? 1 : 0;
    pthread_mutex_unlock(&FbHostWaitMutex);
}

LONG KeSetEvent(PKEVENT Event, LONG Increment, BOOLEAN Wait)
{
    LONG previous;
    (void)Increment;
    (void)Wait;
    pthread_mutex_lock(&FbHostWaitMutex);
    previous = Event->Signaled;
    Event->Signaled = 1;
    pthread_cond_broadcast(&FbHostWaitCond);
    pthread_mutex_unlock(&FbHostWaitMutex);
    return previous;
}

void KeClearEvent(PKEVENT Event)
{
    pthread_mutex_lock(&FbHostWaitMutex);
    Event->Signaled = 0;
    pthread_mutex_unlock(&FbHostWaitMutex);
}

static void FbHostDeadline(PLARGE_INTEGER Timeout, struct timespec *Deadline)
{
    LONGLONG ns = (Timeout->QuadPart < 0 ? -Timeout->QuadPart : 0) * 100;
    clock_gettime(CLOCK_REALTIME, Deadline);
    Deadline->tv_sec += (time_t)(ns / 1000000000);
    Deadline->tv_nsec += (long)(ns % 1000000000);
    if (Deadline->tv_nsec >= 1000000000) {
        Deadline->tv_sec += 1;
        Deadline->tv_nsec -= 1000000000;
    }
}

NTSTATUS KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType, KWAIT_REASON Reason,
                                  KPROCESSOR_MODE Mode, BOOLEAN Alertable, PLARGE_INTEGER Timeout, PVOID WaitBlockArray)
{
    struct timespec deadline;
    NTSTATUS status = STATUS_TIMEOUT;
    (void)WaitType;
    (void)Reason;
    (void)Mode;
    (void)Alertable;
    (void)WaitBlockArray;

    if (Timeout != NULL) {
        FbHostDeadline(Timeout, &deadline);
    }
    pthread_mutex_lock(&FbHostWaitMutex);
    for (;;) {
        ULONG i;
        for (i = 0; i < Count; i++) {
            PKEVENT event = (PKEVENT)Object[i];
            if (event->Signaled) {
                if (event->Type == SynchronizationEvent) {
                    event->Signaled = 0;
                }
                status = (NTSTATUS)(STATUS_WAIT_0 + (NTSTATUS)i);
                goto Done;
            }
        }
        if (Timeout != NULL) {
            if (pthread_cond_timedwait(&FbHostWaitCond, &FbHostWaitMutex, &deadline) == ETIMEDOUT) {
                status = STATUS_TIMEOUT;
                goto Done;
            }
        } else {
            pthread_cond_wait(&FbHostWaitCond, &FbHostWaitMutex);
        }
    }
Done:
    pthread_mutex_unlock(&FbHostWaitMutex);
    return status;
}

NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON Reason, KPROCESSOR_MODE Mode, BOOLEAN Alertable,
                               PLARGE_INTEGER Timeout)
{
    FB_HOST_THREAD *thread = (FB_HOST_THREAD *)Object;
    if (thread->Magic == FB_HOST_THREAD_MAGIC) {
        if (!thread->Joined) {
            pthread_join(thread->Thread, NULL);
            thread->Joined = 1;
        }
        return STATUS_SUCCESS;
    }
    return KeWaitForMultipleObjects(1, &Object, WaitAny, Reason, Mode, Alertable, Timeout, NULL);
}

void KeQuerySystemTimePrecise(PLARGE_INTEGER Time)
{
    /* A logical clock: deterministic output for the golden files. */
    static LONGLONG now = 133000000000000000LL;
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&m);
    now += 10;
    Time->QuadPart = now;
    pthread_mutex_unlock(&m);
}

HANDLE PsGetCurrentProcessId(void) { return (HANDLE)(ULONG_PTR)4242; }
HANDLE PsGetCurrentThreadId(void) { return (HANDLE)(ULONG_PTR)77; }

static void *FbHostThreadMain(void *Argument)
{
    FB_HOST_THREAD *thread = (FB_HOST_THREAD *)Argument;
    thread->Routine(thread->Context);
    return NULL;
}

NTSTATUS PsCreateSystemThread(PHANDLE Thread, ULONG Access, POBJECT_ATTRIBUTES Attributes, HANDLE Process,
                              PVOID ClientId, PKSTART_ROUTINE Routine, PVOID Context)
{
    FB_HOST_THREAD *thread = (FB_HOST_THREAD *)calloc(1, sizeof(*thread));
    (void)Access;
    (void)Attributes;
    (void)Process;
    (void)ClientId;
    if (thread == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    thread->Magic = FB_HOST_THREAD_MAGIC;
    thread->Routine = Routine;
    thread->Context = Context;
    if (pthread_create(&thread->Thread, NULL, FbHostThreadMain, thread) != 0) {
        free(thread);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    *Thread = thread;
    return STATUS_SUCCESS;
}

NTSTATUS PsTerminateSystemThread(NTSTATUS Status)
{
    (void)Status;
    pthread_exit(NULL);
}

NTSTATUS ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK Access, POBJECT_TYPE Type, KPROCESSOR_MODE Mode,
                                   PVOID *Object, PVOID Info)
{
    (void)Access;
    (void)Type;
    (void)Mode;
    (void)Info;
    *Object = Handle;
    return STATUS_SUCCESS;
}

void ObDereferenceObject(PVOID Object)
{
    FB_HOST_THREAD *thread = (FB_HOST_THREAD *)Object;
    if (thread != NULL && thread->Magic == FB_HOST_THREAD_MAGIC) {
        if (!thread->Joined) {
            pthread_join(thread->Thread, NULL);
        }
        free(thread);
    }
}

NTSTATUS ZwClose(HANDLE Handle) { (void)Handle; return STATUS_SUCCESS; }

NTSTATUS ZwWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable, PLARGE_INTEGER Timeout)
{
    /* The harness's thread handle is the thread object itself. */
    return KeWaitForSingleObject(Handle, Executive, KernelMode, Alertable, Timeout);
}

LONG InterlockedIncrement(volatile LONG *Value) { return __atomic_add_fetch(Value, 1, __ATOMIC_SEQ_CST); }
LONG InterlockedDecrement(volatile LONG *Value) { return __atomic_sub_fetch(Value, 1, __ATOMIC_SEQ_CST); }
LONG InterlockedExchange(volatile LONG *Value, LONG New) { return __atomic_exchange_n(Value, New, __ATOMIC_SEQ_CST); }
LONG64 InterlockedIncrement64(volatile LONG64 *Value) { return __atomic_add_fetch(Value, 1, __ATOMIC_SEQ_CST); }

WCHAR RtlUpcaseUnicodeChar(WCHAR Char)
{
    /* ASCII and Latin-1 letters; enough for the harness's names. */
    if ((Char >= 'a' && Char <= 'z') || (Char >= 0xE0 && Char <= 0xFE && Char != 0xF7)) {
        return (WCHAR)(Char - 0x20);
    }
    return Char;
}

SIZE_T RtlCompareMemory(const void *A, const void *B, SIZE_T Length)
{
    const UCHAR *a = (const UCHAR *)A;
    const UCHAR *b = (const UCHAR *)B;
    SIZE_T i = 0;
    while (i < Length && a[i] == b[i]) {
        i++;
    }
    return i;
}

void RtlInitUnicodeString(PUNICODE_STRING String, PCWSTR Source)
{
    SIZE_T n = 0;
    while (Source != NULL && Source[n] != 0) {
        n++;
    }
    String->Buffer = (PWCH)Source;
    String->Length = (USHORT)(n * sizeof(WCHAR));
    String->MaximumLength = (USHORT)(String->Length + sizeof(WCHAR));
}

/* ------------------------------------------------------------------------ */
/* Allocation tracking.                                                      */
/* ------------------------------------------------------------------------ */

typedef struct _FB_HOST_ALLOC {
    ULONG Tag;
    SIZE_T Bytes;
    ULONG Magic;
    ULONG Reserved;
} FB_HOST_ALLOC;

#define FB_HOST_ALLOC_MAGIC 0xA110CA7Eu

static pthread_mutex_t FbHostAllocMutex = PTHREAD_MUTEX_INITIALIZER;
FB_HOST_TAG_STATS FbHostTags[FB_HOST_MAX_TAGS];
ULONG FbHostTagCount;
long FbHostFailAfter = -1;          /* fail the allocation after this many more (-1: never) */
ULONGLONG FbHostAllocFailures;

static FB_HOST_TAG_STATS *FbHostTag(ULONG Tag)
{
    ULONG i;
    for (i = 0; i < FbHostTagCount; i++) {
        if (FbHostTags[i].Tag == Tag) {
            return &FbHostTags[i];
        }
    }
    if (FbHostTagCount == FB_HOST_MAX_TAGS) {
        abort();
    }
    FbHostTags[FbHostTagCount].Tag = Tag;
    return &FbHostTags[FbHostTagCount++];
}

PVOID FbAllocate(SIZE_T Bytes, ULONG Tag)
{
    FB_HOST_ALLOC *header;
    pthread_mutex_lock(&FbHostAllocMutex);
    if (FbHostFailAfter == 0) {
        FbHostAllocFailures++;
        pthread_mutex_unlock(&FbHostAllocMutex);
        return NULL;
    }
    if (FbHostFailAfter > 0) {
        FbHostFailAfter--;
    }
    pthread_mutex_unlock(&FbHostAllocMutex);

    header = (FB_HOST_ALLOC *)calloc(1, sizeof(FB_HOST_ALLOC) + Bytes);
    if (header == NULL) {
        return NULL;
    }
    header->Tag = Tag;
    header->Bytes = Bytes;
    header->Magic = FB_HOST_ALLOC_MAGIC;

    pthread_mutex_lock(&FbHostAllocMutex);
    {
        FB_HOST_TAG_STATS *stats = FbHostTag(Tag);
        stats->Allocations++;
        stats->Live++;
        stats->LiveBytes += Bytes;
    }
    pthread_mutex_unlock(&FbHostAllocMutex);
    return header + 1;
}

VOID FbFree(PVOID Buffer, ULONG Tag)
{
    FB_HOST_ALLOC *header = ((FB_HOST_ALLOC *)Buffer) - 1;
    if (header->Magic != FB_HOST_ALLOC_MAGIC || header->Tag != Tag) {
        fprintf(stderr, "FbFree: tag mismatch or bad pointer (tag %08x, freed as %08x)\n", header->Tag, Tag);
        abort();
    }
    pthread_mutex_lock(&FbHostAllocMutex);
    {
        FB_HOST_TAG_STATS *stats = FbHostTag(Tag);
        stats->Frees++;
        stats->Live--;
        stats->LiveBytes -= header->Bytes;
    }
    pthread_mutex_unlock(&FbHostAllocMutex);
    header->Magic = 0;
    free(header);
}

/* ------------------------------------------------------------------------ */
/* Filter Manager port routines.                                             */
/* ------------------------------------------------------------------------ */

static pthread_mutex_t FbHostPortMutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t FbHostPortCond = PTHREAD_COND_INITIALIZER;
FB_HOST_PORT FbHostPort;
FB_HOST_DELIVERY FbHostDeliveries[FB_HOST_MAX_DELIVERIES];
volatile ULONG FbHostDeliveryCount;
volatile int FbHostSendMode;
volatile ULONG FbHostSendCalls;
volatile int FbHostSendInProgress;

NTSTATUS FltBuildDefaultSecurityDescriptor(PSECURITY_DESCRIPTOR *Descriptor, ACCESS_MASK Access)
{
    FbHostPort.DescriptorAccess = Access;
    *Descriptor = malloc(16);
    return *Descriptor != NULL ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

void FltFreeSecurityDescriptor(PSECURITY_DESCRIPTOR Descriptor) { free(Descriptor); }

NTSTATUS FltCreateCommunicationPort(PFLT_FILTER Filter, PFLT_PORT *ServerPort, POBJECT_ATTRIBUTES Attributes,
                                    PVOID Cookie, PFLT_CONNECT_NOTIFY Connect, PFLT_DISCONNECT_NOTIFY Disconnect,
                                    PFLT_MESSAGE_NOTIFY Message, LONG MaxConnections)
{
    (void)Filter;
    (void)Cookie;
    FbHostPort.Attributes = Attributes->Attributes;
    FbHostPort.HasDescriptor = Attributes->SecurityDescriptor != NULL;
    FbHostPort.NameChars = Attributes->ObjectName != NULL ? Attributes->ObjectName->Length / 2u : 0u;
    if (Attributes->ObjectName != NULL) {
        memcpy(FbHostPort.Name, Attributes->ObjectName->Buffer,
               Attributes->ObjectName->Length < sizeof(FbHostPort.Name) ? Attributes->ObjectName->Length
                                                                      : sizeof(FbHostPort.Name));
    }
    FbHostPort.Connect = Connect;
    FbHostPort.Disconnect = Disconnect;
    FbHostPort.Message = Message;
    FbHostPort.MaxConnections = MaxConnections;
    FbHostPort.Open = 1;
    *ServerPort = (PFLT_PORT)&FbHostPort;
    return STATUS_SUCCESS;
}

void FltCloseCommunicationPort(PFLT_PORT ServerPort)
{
    (void)ServerPort;
    FbHostPort.Open = 0;
}

void FltCloseClientPort(PFLT_FILTER Filter, PFLT_PORT *ClientPort)
{
    (void)Filter;
    pthread_mutex_lock(&FbHostPortMutex);
    *ClientPort = NULL;
    pthread_cond_broadcast(&FbHostPortCond);
    pthread_mutex_unlock(&FbHostPortMutex);
}

NTSTATUS FltSendMessage(PFLT_FILTER Filter, PFLT_PORT *ClientPort, PVOID Buffer, ULONG Length, PVOID Reply,
                        PULONG ReplyLength, PLARGE_INTEGER Timeout)
{
    NTSTATUS status = STATUS_SUCCESS;
    PFLT_PORT port;
    (void)Filter;
    (void)Reply;
    (void)ReplyLength;

    pthread_mutex_lock(&FbHostPortMutex);
    FbHostSendCalls++;
    FbHostSendInProgress = 1;
    port = *ClientPort;
    if (port == NULL) {
        status = STATUS_PORT_DISCONNECTED;
    } else if (FbHostSendMode == FB_SEND_TIMEOUT) {
        status = STATUS_TIMEOUT;
    } else if (FbHostSendMode == FB_SEND_BLOCK) {

        /* Blocks like a client that never reads, until the port closes or the timeout passes. */
        struct timespec deadline;
        FbHostDeadline(Timeout, &deadline);
        status = STATUS_TIMEOUT;
        while (*ClientPort != NULL) {
            if (pthread_cond_timedwait(&FbHostPortCond, &FbHostPortMutex, &deadline) == ETIMEDOUT) {
                break;
            }
        }
        if (*ClientPort == NULL) {
            status = STATUS_PORT_DISCONNECTED;
        }
    } else if (FbHostDeliveryCount < FB_HOST_MAX_DELIVERIES) {
        FB_HOST_DELIVERY *delivery = &FbHostDeliveries[FbHostDeliveryCount];
        delivery->Port = port;
        delivery->Length = Length;
        delivery->Bytes = (UCHAR *)malloc(Length);
        if (delivery->Bytes != NULL) {
            memcpy(delivery->Bytes, Buffer, Length);
            FbHostDeliveryCount++;
        }
    }
    FbHostSendInProgress = 0;
    pthread_cond_broadcast(&FbHostPortCond);
    pthread_mutex_unlock(&FbHostPortMutex);
    return status;
}

void FbHostWaitSendIdle(void)
{
    pthread_mutex_lock(&FbHostPortMutex);
    while (FbHostSendInProgress) {
        pthread_cond_wait(&FbHostPortCond, &FbHostPortMutex);
    }
    pthread_mutex_unlock(&FbHostPortMutex);
}

void FbHostClearDeliveries(void)
{
    ULONG i;
    pthread_mutex_lock(&FbHostPortMutex);
    for (i = 0; i < FbHostDeliveryCount; i++) {
        free(FbHostDeliveries[i].Bytes);
        FbHostDeliveries[i].Bytes = NULL;
    }
    FbHostDeliveryCount = 0;
    pthread_mutex_unlock(&FbHostPortMutex);
}

/* ------------------------------------------------------------------------ */
/* Stand-ins for asyncio.c (not built here: it needs the real I/O path).     */
/* ------------------------------------------------------------------------ */

FB_HOST_PROBES FbHostProbes;

NTSTATUS FbProbeStart(const FB_PROBE_SPEC *Spec, PULONGLONG ProbeId)
{
    ULONG i;
    FbHostProbes.StartCalls++;
    FbHostProbes.LastSpec = *Spec;
    for (i = 0; i + 7 <= Spec->PathBytes / 2u; i++) {
        if (memcmp(&Spec->Path[i], L"missing", 14) == 0) {
            return STATUS_OBJECT_PATH_NOT_FOUND;
        }
    }
    if (FbHostProbes.Active >= FLTB_MAX_PROBES) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    FbHostProbes.Active++;
    *ProbeId = ++FbHostProbes.NextId;
    return STATUS_SUCCESS;
}

NTSTATUS FbProbeStop(ULONGLONG ProbeId)
{
    FbHostProbes.StopCalls++;
    if (ProbeId == 0 || ProbeId > FbHostProbes.NextId || FbHostProbes.Active == 0) {
        return STATUS_NOT_FOUND;
    }
    FbHostProbes.Active--;
    return STATUS_SUCCESS;
}

ULONG FbProbeActiveCount(void) { return FbHostProbes.Active; }
