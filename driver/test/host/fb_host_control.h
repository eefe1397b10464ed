/*++

Module Name:

    fb_host_control.h

Abstract:

    What the host harness sees of the fake kernel (fb_host.c): allocation
    statistics and failure injection, the scripted port, the captured
    batches, the probe stand-ins.

Environment:

    User mode, Linux.

--*/

#ifndef FB_HOST_CONTROL_H
#define FB_HOST_CONTROL_H

#define FB_HOST_MAX_TAGS 32
#define FB_HOST_MAX_DELIVERIES 4096

typedef struct _FB_HOST_TAG_STATS {
    ULONG Tag;
    ULONGLONG Allocations;
    ULONGLONG Frees;
    LONGLONG Live;
    LONGLONG LiveBytes;
} FB_HOST_TAG_STATS;

extern FB_HOST_TAG_STATS FbHostTags[FB_HOST_MAX_TAGS];
extern ULONG FbHostTagCount;
extern long FbHostFailAfter;
extern ULONGLONG FbHostAllocFailures;

typedef struct _FB_HOST_PORT {
    PFLT_CONNECT_NOTIFY Connect;
    PFLT_DISCONNECT_NOTIFY Disconnect;
    PFLT_MESSAGE_NOTIFY Message;
    LONG MaxConnections;
    ULONG Attributes;
    ULONG DescriptorAccess;
    int HasDescriptor;
    int Open;
    ULONG NameChars;
    WCHAR Name[64];
} FB_HOST_PORT;

extern FB_HOST_PORT FbHostPort;

#define FB_SEND_DELIVER 0
#define FB_SEND_TIMEOUT 1
#define FB_SEND_BLOCK 2

typedef struct _FB_HOST_DELIVERY {
    PFLT_PORT Port;
    ULONG Length;
    UCHAR *Bytes;
} FB_HOST_DELIVERY;

extern FB_HOST_DELIVERY FbHostDeliveries[FB_HOST_MAX_DELIVERIES];
extern volatile ULONG FbHostDeliveryCount;
extern volatile int FbHostSendMode;
extern volatile ULONG FbHostSendCalls;

void FbHostWaitSendIdle(void);
void FbHostClearDeliveries(void);

typedef struct _FB_HOST_PROBES {
    ULONG StartCalls;
    ULONG StopCalls;
    ULONG Active;
    ULONGLONG NextId;
    FB_PROBE_SPEC LastSpec;
} FB_HOST_PROBES;

extern FB_HOST_PROBES FbHostProbes;

#endif
