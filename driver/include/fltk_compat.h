/*++

Copyright (c) fltbridge contributors. MIT licence.

Module Name:

    fltk_compat.h

Abstract:

    The part of the Filter Manager kernel interface that fltbridge uses,
    for builds that have no WDK (the Linux cross-build with clang for
    x86_64-w64-windows-gnu against the mingw-w64 ddk headers, which ship
    ntifs.h but no fltKernel.h and no fltmgr import library).

    Everything here was written for this project from the documented
    definitions on learn.microsoft.com (the fltkernel.h reference pages for
    each structure, enumeration, callback type and routine named below) and
    cross-checked against Microsoft's published Win32 metadata. Only what
    the driver uses is declared. Every field offset the driver reads or
    writes is asserted for x64 at the end of the file; where this header and
    the WDK disagree, the WDK is right and this header is the bug.

    driver.h includes this file only when <fltKernel.h> is not available:
    with the WDK, the real header is used and this file is never seen.

Environment:

    Kernel mode, x64, clang/gcc for x86_64-w64-windows-gnu.

--*/

#ifndef FLTK_COMPAT_H
#define FLTK_COMPAT_H

#include <ntifs.h>

#if !defined(_WIN64)
#error "fltk_compat.h describes the x64 layouts only"
#endif

#define FLTAPI NTAPI

/* ------------------------------------------------------------------------ */
/* Opaque objects and simple types.                                          */
/* ------------------------------------------------------------------------ */

typedef struct _FLT_FILTER *PFLT_FILTER;
typedef struct _FLT_VOLUME *PFLT_VOLUME;
typedef struct _FLT_INSTANCE *PFLT_INSTANCE;
typedef struct _FLT_PORT *PFLT_PORT;
typedef PVOID PFLT_CONTEXT;
typedef struct _FLT_DEFERRED_IO_WORKITEM *PFLT_DEFERRED_IO_WORKITEM;
typedef struct _FLT_GENERIC_WORKITEM *PFLT_GENERIC_WORKITEM;
typedef struct _KTRANSACTION *PKTRANSACTION;

#define NULL_CONTEXT ((PFLT_CONTEXT)NULL)

typedef USHORT FLT_CONTEXT_TYPE;
#define FLT_VOLUME_CONTEXT              0x0001
#define FLT_INSTANCE_CONTEXT            0x0002
#define FLT_FILE_CONTEXT                0x0004
#define FLT_STREAM_CONTEXT              0x0008
#define FLT_STREAMHANDLE_CONTEXT        0x0010
#define FLT_TRANSACTION_CONTEXT         0x0020
#define FLT_CONTEXT_END                 0xffff

typedef enum _FLT_SET_CONTEXT_OPERATION {
    FLT_SET_CONTEXT_REPLACE_IF_EXISTS,
    FLT_SET_CONTEXT_KEEP_IF_EXISTS
} FLT_SET_CONTEXT_OPERATION;

typedef enum _FLT_PREOP_CALLBACK_STATUS {
    FLT_PREOP_SUCCESS_WITH_CALLBACK,
    FLT_PREOP_SUCCESS_NO_CALLBACK,
    FLT_PREOP_PENDING,
    FLT_PREOP_DISALLOW_FASTIO,
    FLT_PREOP_COMPLETE,
    FLT_PREOP_SYNCHRONIZE,
    FLT_PREOP_DISALLOW_FSFILTER_IO
} FLT_PREOP_CALLBACK_STATUS, *PFLT_PREOP_CALLBACK_STATUS;

typedef enum _FLT_POSTOP_CALLBACK_STATUS {
    FLT_POSTOP_FINISHED_PROCESSING,
    FLT_POSTOP_MORE_PROCESSING_REQUIRED,
    FLT_POSTOP_DISALLOW_FSFILTER_IO
} FLT_POSTOP_CALLBACK_STATUS, *PFLT_POSTOP_CALLBACK_STATUS;

typedef enum _FLT_FILESYSTEM_TYPE {
    FLT_FSTYPE_UNKNOWN = 0,
    FLT_FSTYPE_RAW = 1,
    FLT_FSTYPE_NTFS = 2,
    FLT_FSTYPE_FAT = 3,
    FLT_FSTYPE_EXFAT = 22,
    FLT_FSTYPE_REFS = 28
} FLT_FILESYSTEM_TYPE, *PFLT_FILESYSTEM_TYPE;

typedef enum _FLT_INSTANCE_INFORMATION_CLASS {
    InstanceBasicInformation,
    InstancePartialInformation,
    InstanceFullInformation,
    InstanceAggregateStandardInformation
} FLT_INSTANCE_INFORMATION_CLASS;

typedef struct _INSTANCE_BASIC_INFORMATION {
    ULONG NextEntryOffset;
    USHORT InstanceNameLength;
    USHORT InstanceNameBufferOffset;
} INSTANCE_BASIC_INFORMATION, *PINSTANCE_BASIC_INFORMATION;

/* Flags. */
typedef ULONG FLT_CALLBACK_DATA_FLAGS;
#define FLTFL_CALLBACK_DATA_IRP_OPERATION           0x00000001
#define FLTFL_CALLBACK_DATA_FAST_IO_OPERATION       0x00000002
#define FLTFL_CALLBACK_DATA_FS_FILTER_OPERATION     0x00000004
#define FLTFL_CALLBACK_DATA_SYSTEM_BUFFER           0x00000008
#define FLTFL_CALLBACK_DATA_GENERATED_IO            0x00010000
#define FLTFL_CALLBACK_DATA_REISSUED_IO             0x00020000
#define FLTFL_CALLBACK_DATA_DRAINING_IO             0x00040000
#define FLTFL_CALLBACK_DATA_POST_OPERATION          0x00080000
#define FLTFL_CALLBACK_DATA_NEW_SYSTEM_BUFFER       0x00100000
#define FLTFL_CALLBACK_DATA_DIRTY                   0x80000000

#define FLT_IS_IRP_OPERATION(Data)      (FlagOn((Data)->Flags, FLTFL_CALLBACK_DATA_IRP_OPERATION))
#define FLT_IS_FASTIO_OPERATION(Data)   (FlagOn((Data)->Flags, FLTFL_CALLBACK_DATA_FAST_IO_OPERATION))

typedef ULONG FLT_POST_OPERATION_FLAGS;
#define FLTFL_POST_OPERATION_DRAINING               0x00000001

typedef ULONG FLT_REGISTRATION_FLAGS;
#define FLTFL_REGISTRATION_DO_NOT_SUPPORT_SERVICE_STOP 0x00000001

typedef ULONG FLT_OPERATION_REGISTRATION_FLAGS;
#define FLTFL_OPERATION_REGISTRATION_SKIP_PAGING_IO 0x00000001

typedef USHORT FLT_CONTEXT_REGISTRATION_FLAGS;

typedef ULONG FLT_INSTANCE_SETUP_FLAGS;
typedef ULONG FLT_INSTANCE_QUERY_TEARDOWN_FLAGS;
typedef ULONG FLT_INSTANCE_TEARDOWN_FLAGS;
#define FLTFL_INSTANCE_TEARDOWN_MANUAL              0x00000001
#define FLTFL_INSTANCE_TEARDOWN_FILTER_UNLOAD       0x00000002
#define FLTFL_INSTANCE_TEARDOWN_MANDATORY_FILTER_UNLOAD 0x00000004
#define FLTFL_INSTANCE_TEARDOWN_VOLUME_DISMOUNT     0x00000008
#define FLTFL_INSTANCE_TEARDOWN_INTERNAL_ERROR      0x00000010

typedef ULONG FLT_FILTER_UNLOAD_FLAGS;
#define FLTFL_FILTER_UNLOAD_MANDATORY               0x00000001

typedef ULONG FLT_FILE_NAME_OPTIONS;
#define FLT_FILE_NAME_NORMALIZED                    0x01
#define FLT_FILE_NAME_OPENED                        0x02
#define FLT_FILE_NAME_QUERY_DEFAULT                 0x0100
#define FLT_FILE_NAME_QUERY_ALWAYS_ALLOW_CACHE_LOOKUP 0x0400

typedef USHORT FLT_FILE_NAME_PARSED_FLAGS;

/* IRP_MJ_* values Filter Manager adds for non-IRP operations (fltKernel.h
   defines them as negative UCHARs: IRP_MJ_MDL_READ is (UCHAR)-15, 0xF1). */
#define IRP_MJ_PREPARE_MDL_WRITE                    ((UCHAR)-17)
#define IRP_MJ_MDL_READ                             ((UCHAR)-15)
#define IRP_MJ_OPERATION_END                        ((UCHAR)0x80)

/* Communication port. */
#define FLT_PORT_CONNECT                            0x0001
#define FLT_PORT_ALL_ACCESS                         (FLT_PORT_CONNECT | STANDARD_RIGHTS_ALL)

#define FLT_REGISTRATION_VERSION_0202               0x0202
#define FLT_REGISTRATION_VERSION                    FLT_REGISTRATION_VERSION_0202

/* Filter Manager status values (ntstatus.h in the WDK). */
#ifndef STATUS_FLT_DO_NOT_ATTACH
#define STATUS_FLT_DO_NOT_ATTACH                    ((NTSTATUS)0xC01C000FL)
#endif
#ifndef STATUS_FLT_CONTEXT_ALREADY_DEFINED
#define STATUS_FLT_CONTEXT_ALREADY_DEFINED          ((NTSTATUS)0xC01C0002L)
#endif
#ifndef STATUS_FLT_DELETING_OBJECT
#define STATUS_FLT_DELETING_OBJECT                  ((NTSTATUS)0xC01C000BL)
#endif

/* ------------------------------------------------------------------------ */
/* Parameters, the I/O parameter block and the callback data.                */
/* Layouts from the FLT_PARAMETERS, FLT_IO_PARAMETER_BLOCK and                */
/* FLT_CALLBACK_DATA reference pages; only the union members fltbridge reads */
/* are spelled out, and the union is padded to its documented x64 size.      */
/* ------------------------------------------------------------------------ */

typedef union _FLT_PARAMETERS {

    struct {
        PIO_SECURITY_CONTEXT SecurityContext;
        ULONG POINTER_ALIGNMENT Options;
        USHORT POINTER_ALIGNMENT FileAttributes;
        USHORT ShareAccess;
        ULONG POINTER_ALIGNMENT EaLength;
        PVOID EaBuffer;
        LARGE_INTEGER AllocationSize;
    } Create;

    struct {
        ULONG Length;
        ULONG POINTER_ALIGNMENT Key;
        LARGE_INTEGER ByteOffset;
        PVOID ReadBuffer;
        PMDL MdlAddress;
    } Read;

    struct {
        ULONG Length;
        ULONG POINTER_ALIGNMENT Key;
        LARGE_INTEGER ByteOffset;
        PVOID WriteBuffer;
        PMDL MdlAddress;
    } Write;

    struct {
        ULONG Length;
        FILE_INFORMATION_CLASS POINTER_ALIGNMENT FileInformationClass;
        PFILE_OBJECT ParentOfTarget;
        union {
            struct {
                BOOLEAN ReplaceIfExists;
                BOOLEAN AdvanceOnly;
            } DUMMYSTRUCTNAME;
            ULONG ClusterCount;
            HANDLE DeleteHandle;
        } DUMMYUNIONNAME;
        PVOID InfoBuffer;
    } SetFileInformation;

    union {
        struct {
            ULONG OutputBufferLength;
            ULONG POINTER_ALIGNMENT InputBufferLength;
            ULONG POINTER_ALIGNMENT FsControlCode;
        } Common;
        struct {
            ULONG OutputBufferLength;
            ULONG POINTER_ALIGNMENT InputBufferLength;
            ULONG POINTER_ALIGNMENT FsControlCode;
            PVOID SystemBuffer;
        } Buffered;
    } FileSystemControl;

    struct {
        PLARGE_INTEGER Length;
        ULONG POINTER_ALIGNMENT Key;
        LARGE_INTEGER ByteOffset;
        PEPROCESS ProcessId;
        BOOLEAN FailImmediately;
        BOOLEAN ExclusiveLock;
    } LockControl;

    struct {
        PVOID Argument1;
        PVOID Argument2;
        PVOID Argument3;
        PVOID Argument4;
        PVOID Argument5;
        LARGE_INTEGER Argument6;
    } Others;

} FLT_PARAMETERS, *PFLT_PARAMETERS;

typedef struct _FLT_IO_PARAMETER_BLOCK {
    ULONG IrpFlags;
    UCHAR MajorFunction;
    UCHAR MinorFunction;
    UCHAR OperationFlags;
    UCHAR Reserved;
    PFILE_OBJECT TargetFileObject;
    PFLT_INSTANCE TargetInstance;
    FLT_PARAMETERS Parameters;
} FLT_IO_PARAMETER_BLOCK, *PFLT_IO_PARAMETER_BLOCK;

typedef struct _FLT_TAG_DATA_BUFFER *PFLT_TAG_DATA_BUFFER;

typedef struct _FLT_CALLBACK_DATA {
    FLT_CALLBACK_DATA_FLAGS Flags;
    PETHREAD CONST Thread;
    PFLT_IO_PARAMETER_BLOCK CONST Iopb;
    IO_STATUS_BLOCK IoStatus;
    PFLT_TAG_DATA_BUFFER TagData;
    union {
        struct {
            LIST_ENTRY QueueLinks;
            PVOID QueueContext[2];
        } DUMMYSTRUCTNAME;
        PVOID FilterContext[4];
    } DUMMYUNIONNAME;
    KPROCESSOR_MODE RequestorMode;
} FLT_CALLBACK_DATA, *PFLT_CALLBACK_DATA;

typedef struct _FLT_RELATED_OBJECTS {
    USHORT CONST Size;
    USHORT CONST TransactionContext;
    PFLT_FILTER CONST Filter;
    PFLT_VOLUME CONST Volume;
    PFLT_INSTANCE CONST Instance;
    PFILE_OBJECT CONST FileObject;
    PKTRANSACTION CONST Transaction;
} FLT_RELATED_OBJECTS, *PFLT_RELATED_OBJECTS;
typedef CONST struct _FLT_RELATED_OBJECTS *PCFLT_RELATED_OBJECTS;

typedef struct _FLT_FILE_NAME_INFORMATION {
    USHORT Size;
    FLT_FILE_NAME_PARSED_FLAGS NamesParsed;
    FLT_FILE_NAME_OPTIONS Format;
    UNICODE_STRING Name;
    UNICODE_STRING Volume;
    UNICODE_STRING Share;
    UNICODE_STRING Extension;
    UNICODE_STRING Stream;
    UNICODE_STRING FinalComponent;
    UNICODE_STRING ParentDir;
} FLT_FILE_NAME_INFORMATION, *PFLT_FILE_NAME_INFORMATION;

/* ------------------------------------------------------------------------ */
/* Callback types.                                                           */
/* ------------------------------------------------------------------------ */

typedef FLT_PREOP_CALLBACK_STATUS
(FLTAPI *PFLT_PRE_OPERATION_CALLBACK)(
    PFLT_CALLBACK_DATA Data,
    PCFLT_RELATED_OBJECTS FltObjects,
    PVOID *CompletionContext);

typedef FLT_POSTOP_CALLBACK_STATUS
(FLTAPI *PFLT_POST_OPERATION_CALLBACK)(
    PFLT_CALLBACK_DATA Data,
    PCFLT_RELATED_OBJECTS FltObjects,
    PVOID CompletionContext,
    FLT_POST_OPERATION_FLAGS Flags);

typedef NTSTATUS (FLTAPI *PFLT_FILTER_UNLOAD_CALLBACK)(FLT_FILTER_UNLOAD_FLAGS Flags);

typedef NTSTATUS
(FLTAPI *PFLT_INSTANCE_SETUP_CALLBACK)(
    PCFLT_RELATED_OBJECTS FltObjects,
    FLT_INSTANCE_SETUP_FLAGS Flags,
    DEVICE_TYPE VolumeDeviceType,
    FLT_FILESYSTEM_TYPE VolumeFilesystemType);

typedef NTSTATUS
(FLTAPI *PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK)(
    PCFLT_RELATED_OBJECTS FltObjects,
    FLT_INSTANCE_QUERY_TEARDOWN_FLAGS Flags);

typedef VOID
(FLTAPI *PFLT_INSTANCE_TEARDOWN_CALLBACK)(
    PCFLT_RELATED_OBJECTS FltObjects,
    FLT_INSTANCE_TEARDOWN_FLAGS Reason);

typedef VOID (FLTAPI *PFLT_CONTEXT_CLEANUP_CALLBACK)(PFLT_CONTEXT Context, FLT_CONTEXT_TYPE ContextType);
typedef PVOID (FLTAPI *PFLT_CONTEXT_ALLOCATE_CALLBACK)(POOL_TYPE PoolType, SIZE_T Size, FLT_CONTEXT_TYPE ContextType);
typedef VOID (FLTAPI *PFLT_CONTEXT_FREE_CALLBACK)(PVOID Pool, FLT_CONTEXT_TYPE ContextType);

typedef VOID
(FLTAPI *PFLTOPLOCK_WAIT_COMPLETE_ROUTINE)(
    PFLT_CALLBACK_DATA CallbackData,
    PVOID Context);

typedef VOID
(FLTAPI *PFLTOPLOCK_PREPOST_CALLBACKDATA_ROUTINE)(
    PFLT_CALLBACK_DATA CallbackData,
    PVOID Context);

typedef NTSTATUS
(FLTAPI *PFLT_COMPLETE_LOCK_CALLBACK_DATA_ROUTINE)(
    PVOID Context,
    PFLT_CALLBACK_DATA CallbackData);

typedef VOID
(FLTAPI *PFLT_COMPLETED_ASYNC_IO_CALLBACK)(
    PFLT_CALLBACK_DATA CallbackData,
    PFLT_CONTEXT Context);

typedef VOID
(FLTAPI *PFLT_DEFERRED_IO_WORKITEM_ROUTINE)(
    PFLT_DEFERRED_IO_WORKITEM FltWorkItem,
    PFLT_CALLBACK_DATA CallbackData,
    PVOID Context);

typedef VOID
(FLTAPI *PFLT_GENERIC_WORKITEM_ROUTINE)(
    PFLT_GENERIC_WORKITEM FltWorkItem,
    PVOID FltObject,
    PVOID Context);

typedef VOID
(FLTAPI *PFLT_GET_OPERATION_STATUS_CALLBACK)(
    PCFLT_RELATED_OBJECTS FltObjects,
    PFLT_IO_PARAMETER_BLOCK IopbSnapshot,
    NTSTATUS OperationStatus,
    PVOID RequesterContext);

typedef NTSTATUS
(FLTAPI *PFLT_CONNECT_NOTIFY)(
    PFLT_PORT ClientPort,
    PVOID ServerPortCookie,
    PVOID ConnectionContext,
    ULONG SizeOfContext,
    PVOID *ConnectionPortCookie);

typedef VOID (FLTAPI *PFLT_DISCONNECT_NOTIFY)(PVOID ConnectionCookie);

typedef NTSTATUS
(FLTAPI *PFLT_MESSAGE_NOTIFY)(
    PVOID PortCookie,
    PVOID InputBuffer,
    ULONG InputBufferLength,
    PVOID OutputBuffer,
    ULONG OutputBufferLength,
    PULONG ReturnOutputBufferLength);

/* ------------------------------------------------------------------------ */
/* Registration.                                                             */
/* ------------------------------------------------------------------------ */

typedef struct _FLT_OPERATION_REGISTRATION {
    UCHAR MajorFunction;
    FLT_OPERATION_REGISTRATION_FLAGS Flags;
    PFLT_PRE_OPERATION_CALLBACK PreOperation;
    PFLT_POST_OPERATION_CALLBACK PostOperation;
    PVOID Reserved1;
} FLT_OPERATION_REGISTRATION, *PFLT_OPERATION_REGISTRATION;

typedef struct _FLT_CONTEXT_REGISTRATION {
    FLT_CONTEXT_TYPE ContextType;
    FLT_CONTEXT_REGISTRATION_FLAGS Flags;
    PFLT_CONTEXT_CLEANUP_CALLBACK ContextCleanupCallback;
    SIZE_T Size;
    ULONG PoolTag;
    PFLT_CONTEXT_ALLOCATE_CALLBACK ContextAllocateCallback;
    PFLT_CONTEXT_FREE_CALLBACK ContextFreeCallback;
    PVOID Reserved1;
} FLT_CONTEXT_REGISTRATION, *PFLT_CONTEXT_REGISTRATION;

typedef struct _FLT_REGISTRATION {
    USHORT Size;
    USHORT Version;
    FLT_REGISTRATION_FLAGS Flags;
    CONST FLT_CONTEXT_REGISTRATION *ContextRegistration;
    CONST FLT_OPERATION_REGISTRATION *OperationRegistration;
    PFLT_FILTER_UNLOAD_CALLBACK FilterUnloadCallback;
    PFLT_INSTANCE_SETUP_CALLBACK InstanceSetupCallback;
    PFLT_INSTANCE_QUERY_TEARDOWN_CALLBACK InstanceQueryTeardownCallback;
    PFLT_INSTANCE_TEARDOWN_CALLBACK InstanceTeardownStartCallback;
    PFLT_INSTANCE_TEARDOWN_CALLBACK InstanceTeardownCompleteCallback;
    PVOID GenerateFileNameCallback;
    PVOID NormalizeNameComponentCallback;
    PVOID NormalizeContextCleanupCallback;
    PVOID TransactionNotificationCallback;
    PVOID NormalizeNameComponentExCallback;
} FLT_REGISTRATION, *PFLT_REGISTRATION;

/* ------------------------------------------------------------------------ */
/* Routines exported by fltmgr.sys (fltmgr.def lists the same names).        */
/* ------------------------------------------------------------------------ */

#define FLTK_IMPORT DECLSPEC_IMPORT

FLTK_IMPORT NTSTATUS FLTAPI FltRegisterFilter(PDRIVER_OBJECT Driver, CONST FLT_REGISTRATION *Registration, PFLT_FILTER *RetFilter);
FLTK_IMPORT VOID FLTAPI FltUnregisterFilter(PFLT_FILTER Filter);
FLTK_IMPORT NTSTATUS FLTAPI FltStartFiltering(PFLT_FILTER Filter);

FLTK_IMPORT NTSTATUS FLTAPI FltAllocateContext(PFLT_FILTER Filter, FLT_CONTEXT_TYPE ContextType, SIZE_T ContextSize, POOL_TYPE PoolType, PFLT_CONTEXT *ReturnedContext);
FLTK_IMPORT VOID FLTAPI FltReleaseContext(PFLT_CONTEXT Context);
FLTK_IMPORT VOID FLTAPI FltReferenceContext(PFLT_CONTEXT Context);
FLTK_IMPORT VOID FLTAPI FltDeleteContext(PFLT_CONTEXT Context);
FLTK_IMPORT NTSTATUS FLTAPI FltSetInstanceContext(PFLT_INSTANCE Instance, FLT_SET_CONTEXT_OPERATION Operation, PFLT_CONTEXT NewContext, PFLT_CONTEXT *OldContext);
FLTK_IMPORT NTSTATUS FLTAPI FltGetInstanceContext(PFLT_INSTANCE Instance, PFLT_CONTEXT *Context);
FLTK_IMPORT NTSTATUS FLTAPI FltSetStreamContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject, FLT_SET_CONTEXT_OPERATION Operation, PFLT_CONTEXT NewContext, PFLT_CONTEXT *OldContext);
FLTK_IMPORT NTSTATUS FLTAPI FltGetStreamContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject, PFLT_CONTEXT *Context);
FLTK_IMPORT NTSTATUS FLTAPI FltSetStreamHandleContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject, FLT_SET_CONTEXT_OPERATION Operation, PFLT_CONTEXT NewContext, PFLT_CONTEXT *OldContext);
FLTK_IMPORT NTSTATUS FLTAPI FltGetStreamHandleContext(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject, PFLT_CONTEXT *Context);

FLTK_IMPORT NTSTATUS FLTAPI FltGetFileNameInformation(PFLT_CALLBACK_DATA CallbackData, FLT_FILE_NAME_OPTIONS NameOptions, PFLT_FILE_NAME_INFORMATION *FileNameInformation);
FLTK_IMPORT VOID FLTAPI FltReleaseFileNameInformation(PFLT_FILE_NAME_INFORMATION FileNameInformation);
FLTK_IMPORT NTSTATUS FLTAPI FltIsDirectory(PFILE_OBJECT FileObject, PFLT_INSTANCE Instance, PBOOLEAN IsDirectory);
FLTK_IMPORT NTSTATUS FLTAPI FltGetInstanceInformation(PFLT_INSTANCE Instance, FLT_INSTANCE_INFORMATION_CLASS InformationClass, PVOID Buffer, ULONG BufferSize, PULONG BytesReturned);
FLTK_IMPORT NTSTATUS FLTAPI FltGetVolumeName(PFLT_VOLUME Volume, PUNICODE_STRING VolumeName, PULONG BufferSizeNeeded);
FLTK_IMPORT NTSTATUS FLTAPI FltAttachVolume(PFLT_FILTER Filter, PFLT_VOLUME Volume, PCUNICODE_STRING InstanceName, PFLT_INSTANCE *RetInstance);
FLTK_IMPORT NTSTATUS FLTAPI FltObjectReference(PVOID FltObject);
FLTK_IMPORT VOID FLTAPI FltObjectDereference(PVOID FltObject);
FLTK_IMPORT ULONG FLTAPI FltGetRequestorProcessId(PFLT_CALLBACK_DATA CallbackData);
FLTK_IMPORT PEPROCESS FLTAPI FltGetRequestorProcess(PFLT_CALLBACK_DATA CallbackData);
FLTK_IMPORT VOID FLTAPI FltCancelFileOpen(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject);
FLTK_IMPORT VOID FLTAPI FltSetCallbackDataDirty(PFLT_CALLBACK_DATA Data);
FLTK_IMPORT NTSTATUS FLTAPI FltRequestOperationStatusCallback(PFLT_CALLBACK_DATA Data, PFLT_GET_OPERATION_STATUS_CALLBACK CallbackRoutine, PVOID RequesterContext);
FLTK_IMPORT NTSTATUS FLTAPI FltGetEcpListFromCallbackData(PFLT_FILTER Filter, PFLT_CALLBACK_DATA CallbackData, PECP_LIST *EcpList);
FLTK_IMPORT NTSTATUS FLTAPI FltFindExtraCreateParameter(PFLT_FILTER Filter, PECP_LIST EcpList, LPCGUID EcpType, PVOID *EcpContext, ULONG *EcpContextSize);
FLTK_IMPORT NTSTATUS FLTAPI FltQueryInformationFile(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject, PVOID FileInformation, ULONG Length, FILE_INFORMATION_CLASS FileInformationClass, PULONG LengthReturned);

FLTK_IMPORT VOID FLTAPI FltInitializeOplock(POPLOCK Oplock);
FLTK_IMPORT VOID FLTAPI FltUninitializeOplock(POPLOCK Oplock);
FLTK_IMPORT FLT_PREOP_CALLBACK_STATUS FLTAPI FltOplockFsctrlEx(POPLOCK Oplock, PFLT_CALLBACK_DATA CallbackData, ULONG OpenCount, ULONG Flags);
FLTK_IMPORT FLT_PREOP_CALLBACK_STATUS FLTAPI FltCheckOplockEx(POPLOCK Oplock, PFLT_CALLBACK_DATA CallbackData, ULONG Flags, PVOID Context, PFLTOPLOCK_WAIT_COMPLETE_ROUTINE WaitCompletionRoutine, PFLTOPLOCK_PREPOST_CALLBACKDATA_ROUTINE PrePostCallbackDataRoutine);
FLTK_IMPORT FLT_PREOP_CALLBACK_STATUS FLTAPI FltOplockBreakH(POPLOCK Oplock, PFLT_CALLBACK_DATA CallbackData, ULONG Flags, PVOID Context, PFLTOPLOCK_WAIT_COMPLETE_ROUTINE WaitCompletionRoutine, PFLTOPLOCK_PREPOST_CALLBACKDATA_ROUTINE PrePostCallbackDataRoutine);
FLTK_IMPORT BOOLEAN FLTAPI FltOplockIsFastIoPossible(POPLOCK Oplock);
FLTK_IMPORT BOOLEAN FLTAPI FltCurrentOplockH(POPLOCK Oplock);
FLTK_IMPORT BOOLEAN FLTAPI FltCurrentBatchOplock(POPLOCK Oplock);

FLTK_IMPORT PFILE_LOCK FLTAPI FltAllocateFileLock(PFLT_COMPLETE_LOCK_CALLBACK_DATA_ROUTINE CompleteLockCallbackDataRoutine, PUNLOCK_ROUTINE UnlockRoutine);
FLTK_IMPORT VOID FLTAPI FltFreeFileLock(PFILE_LOCK FileLock);
FLTK_IMPORT FLT_PREOP_CALLBACK_STATUS FLTAPI FltProcessFileLock(PFILE_LOCK FileLock, PFLT_CALLBACK_DATA CallbackData, PVOID Context);
FLTK_IMPORT BOOLEAN FLTAPI FltCheckLockForReadAccess(PFILE_LOCK FileLock, PFLT_CALLBACK_DATA CallbackData);
FLTK_IMPORT BOOLEAN FLTAPI FltCheckLockForWriteAccess(PFILE_LOCK FileLock, PFLT_CALLBACK_DATA CallbackData);

FLTK_IMPORT VOID FLTAPI FltCompletePendedPreOperation(PFLT_CALLBACK_DATA CallbackData, FLT_PREOP_CALLBACK_STATUS CallbackStatus, PVOID Context);
FLTK_IMPORT NTSTATUS FLTAPI FltLockUserBuffer(PFLT_CALLBACK_DATA CallbackData);
FLTK_IMPORT PFLT_DEFERRED_IO_WORKITEM FLTAPI FltAllocateDeferredIoWorkItem(VOID);
FLTK_IMPORT VOID FLTAPI FltFreeDeferredIoWorkItem(PFLT_DEFERRED_IO_WORKITEM FltWorkItem);
FLTK_IMPORT NTSTATUS FLTAPI FltQueueDeferredIoWorkItem(PFLT_DEFERRED_IO_WORKITEM FltWorkItem, PFLT_CALLBACK_DATA Data, PFLT_DEFERRED_IO_WORKITEM_ROUTINE WorkerRoutine, WORK_QUEUE_TYPE QueueType, PVOID Context);
FLTK_IMPORT PFLT_GENERIC_WORKITEM FLTAPI FltAllocateGenericWorkItem(VOID);
FLTK_IMPORT VOID FLTAPI FltFreeGenericWorkItem(PFLT_GENERIC_WORKITEM FltWorkItem);
FLTK_IMPORT NTSTATUS FLTAPI FltQueueGenericWorkItem(PFLT_GENERIC_WORKITEM FltWorkItem, PVOID FltObject, PFLT_GENERIC_WORKITEM_ROUTINE WorkerRoutine, WORK_QUEUE_TYPE QueueType, PVOID Context);

FLTK_IMPORT NTSTATUS FLTAPI FltCreateFileEx2(PFLT_FILTER Filter, PFLT_INSTANCE Instance, PHANDLE FileHandle, PFILE_OBJECT *FileObject, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes, PIO_STATUS_BLOCK IoStatusBlock, PLARGE_INTEGER AllocationSize, ULONG FileAttributes, ULONG ShareAccess, ULONG CreateDisposition, ULONG CreateOptions, PVOID EaBuffer, ULONG EaLength, ULONG Flags, PIO_DRIVER_CREATE_CONTEXT DriverContext);
FLTK_IMPORT NTSTATUS FLTAPI FltClose(HANDLE FileHandle);
FLTK_IMPORT NTSTATUS FLTAPI FltAllocateCallbackData(PFLT_INSTANCE Instance, PFILE_OBJECT FileObject, PFLT_CALLBACK_DATA *RetNewCallbackData);
FLTK_IMPORT VOID FLTAPI FltFreeCallbackData(PFLT_CALLBACK_DATA CallbackData);
FLTK_IMPORT NTSTATUS FLTAPI FltPerformAsynchronousIo(PFLT_CALLBACK_DATA CallbackData, PFLT_COMPLETED_ASYNC_IO_CALLBACK CallbackRoutine, PVOID CallbackContext);
FLTK_IMPORT BOOLEAN FLTAPI FltCancelIo(PFLT_CALLBACK_DATA CallbackData);

FLTK_IMPORT NTSTATUS FLTAPI FltBuildDefaultSecurityDescriptor(PSECURITY_DESCRIPTOR *SecurityDescriptor, ACCESS_MASK DesiredAccess);
FLTK_IMPORT VOID FLTAPI FltFreeSecurityDescriptor(PSECURITY_DESCRIPTOR SecurityDescriptor);
FLTK_IMPORT NTSTATUS FLTAPI FltCreateCommunicationPort(PFLT_FILTER Filter, PFLT_PORT *ServerPort, POBJECT_ATTRIBUTES ObjectAttributes, PVOID ServerPortCookie, PFLT_CONNECT_NOTIFY ConnectNotifyCallback, PFLT_DISCONNECT_NOTIFY DisconnectNotifyCallback, PFLT_MESSAGE_NOTIFY MessageNotifyCallback, LONG MaxConnections);
FLTK_IMPORT VOID FLTAPI FltCloseCommunicationPort(PFLT_PORT ServerPort);
FLTK_IMPORT VOID FLTAPI FltCloseClientPort(PFLT_FILTER Filter, PFLT_PORT *ClientPort);
FLTK_IMPORT NTSTATUS FLTAPI FltSendMessage(PFLT_FILTER Filter, PFLT_PORT *ClientPort, PVOID SenderBuffer, ULONG SenderBufferLength, PVOID ReplyBuffer, PULONG ReplyLength, PLARGE_INTEGER Timeout);

FLTK_IMPORT VOID FLTAPI FltAcquireResourceExclusive(PERESOURCE Resource);
FLTK_IMPORT VOID FLTAPI FltAcquireResourceShared(PERESOURCE Resource);
FLTK_IMPORT VOID FLTAPI FltReleaseResource(PERESOURCE Resource);

/* ------------------------------------------------------------------------ */
/* Layout checks: every offset fltbridge touches, x64 values from the        */
/* documented definitions (pointers 8 bytes, POINTER_ALIGNMENT = 8).         */
/* ------------------------------------------------------------------------ */

#define FLTK_ASSERT_OFFSET(Type, Field, Offset) \
    _Static_assert(FIELD_OFFSET(Type, Field) == (Offset), #Type "." #Field)
#define FLTK_ASSERT_SIZE(Type, Size) _Static_assert(sizeof(Type) == (Size), "sizeof " #Type)

FLTK_ASSERT_OFFSET(FLT_CALLBACK_DATA, Flags, 0x00);
FLTK_ASSERT_OFFSET(FLT_CALLBACK_DATA, Thread, 0x08);
FLTK_ASSERT_OFFSET(FLT_CALLBACK_DATA, Iopb, 0x10);
FLTK_ASSERT_OFFSET(FLT_CALLBACK_DATA, IoStatus, 0x18);
FLTK_ASSERT_OFFSET(FLT_CALLBACK_DATA, IoStatus.Status, 0x18);
FLTK_ASSERT_OFFSET(FLT_CALLBACK_DATA, IoStatus.Information, 0x20);
FLTK_ASSERT_OFFSET(FLT_CALLBACK_DATA, TagData, 0x28);
FLTK_ASSERT_OFFSET(FLT_CALLBACK_DATA, RequestorMode, 0x50);
FLTK_ASSERT_SIZE(FLT_CALLBACK_DATA, 0x58);

FLTK_ASSERT_OFFSET(FLT_IO_PARAMETER_BLOCK, IrpFlags, 0x00);
FLTK_ASSERT_OFFSET(FLT_IO_PARAMETER_BLOCK, MajorFunction, 0x04);
FLTK_ASSERT_OFFSET(FLT_IO_PARAMETER_BLOCK, MinorFunction, 0x05);
FLTK_ASSERT_OFFSET(FLT_IO_PARAMETER_BLOCK, OperationFlags, 0x06);
FLTK_ASSERT_OFFSET(FLT_IO_PARAMETER_BLOCK, TargetFileObject, 0x08);
FLTK_ASSERT_OFFSET(FLT_IO_PARAMETER_BLOCK, TargetInstance, 0x10);
FLTK_ASSERT_OFFSET(FLT_IO_PARAMETER_BLOCK, Parameters, 0x18);

FLTK_ASSERT_SIZE(FLT_PARAMETERS, 0x30);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Create.SecurityContext, 0x00);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Create.Options, 0x08);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Create.FileAttributes, 0x10);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Create.ShareAccess, 0x12);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Create.EaLength, 0x18);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Create.AllocationSize, 0x28);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Read.Length, 0x00);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Read.Key, 0x08);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Read.ByteOffset, 0x10);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Read.ReadBuffer, 0x18);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Read.MdlAddress, 0x20);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Write.Length, 0x00);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Write.Key, 0x08);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, Write.ByteOffset, 0x10);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, SetFileInformation.Length, 0x00);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, SetFileInformation.FileInformationClass, 0x08);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, SetFileInformation.InfoBuffer, 0x20);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, FileSystemControl.Common.OutputBufferLength, 0x00);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, FileSystemControl.Common.InputBufferLength, 0x08);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, FileSystemControl.Common.FsControlCode, 0x10);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, FileSystemControl.Buffered.SystemBuffer, 0x18);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, LockControl.Length, 0x00);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, LockControl.Key, 0x08);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, LockControl.ByteOffset, 0x10);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, LockControl.ProcessId, 0x18);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, LockControl.FailImmediately, 0x20);
FLTK_ASSERT_OFFSET(FLT_PARAMETERS, LockControl.ExclusiveLock, 0x21);

FLTK_ASSERT_OFFSET(FLT_RELATED_OBJECTS, Size, 0x00);
FLTK_ASSERT_OFFSET(FLT_RELATED_OBJECTS, Filter, 0x08);
FLTK_ASSERT_OFFSET(FLT_RELATED_OBJECTS, Volume, 0x10);
FLTK_ASSERT_OFFSET(FLT_RELATED_OBJECTS, Instance, 0x18);
FLTK_ASSERT_OFFSET(FLT_RELATED_OBJECTS, FileObject, 0x20);
FLTK_ASSERT_OFFSET(FLT_RELATED_OBJECTS, Transaction, 0x28);
FLTK_ASSERT_SIZE(FLT_RELATED_OBJECTS, 0x30);

FLTK_ASSERT_OFFSET(FLT_FILE_NAME_INFORMATION, Size, 0x00);
FLTK_ASSERT_OFFSET(FLT_FILE_NAME_INFORMATION, Format, 0x04);
FLTK_ASSERT_OFFSET(FLT_FILE_NAME_INFORMATION, Name, 0x08);
FLTK_ASSERT_OFFSET(FLT_FILE_NAME_INFORMATION, Volume, 0x18);

FLTK_ASSERT_OFFSET(FLT_OPERATION_REGISTRATION, MajorFunction, 0x00);
FLTK_ASSERT_OFFSET(FLT_OPERATION_REGISTRATION, Flags, 0x04);
FLTK_ASSERT_OFFSET(FLT_OPERATION_REGISTRATION, PreOperation, 0x08);
FLTK_ASSERT_OFFSET(FLT_OPERATION_REGISTRATION, PostOperation, 0x10);
FLTK_ASSERT_SIZE(FLT_OPERATION_REGISTRATION, 0x20);

FLTK_ASSERT_OFFSET(FLT_CONTEXT_REGISTRATION, ContextType, 0x00);
FLTK_ASSERT_OFFSET(FLT_CONTEXT_REGISTRATION, Flags, 0x02);
FLTK_ASSERT_OFFSET(FLT_CONTEXT_REGISTRATION, ContextCleanupCallback, 0x08);
FLTK_ASSERT_OFFSET(FLT_CONTEXT_REGISTRATION, Size, 0x10);
FLTK_ASSERT_OFFSET(FLT_CONTEXT_REGISTRATION, PoolTag, 0x18);
FLTK_ASSERT_SIZE(FLT_CONTEXT_REGISTRATION, 0x38);

FLTK_ASSERT_OFFSET(FLT_REGISTRATION, Size, 0x00);
FLTK_ASSERT_OFFSET(FLT_REGISTRATION, Version, 0x02);
FLTK_ASSERT_OFFSET(FLT_REGISTRATION, Flags, 0x04);
FLTK_ASSERT_OFFSET(FLT_REGISTRATION, ContextRegistration, 0x08);
FLTK_ASSERT_OFFSET(FLT_REGISTRATION, OperationRegistration, 0x10);
FLTK_ASSERT_OFFSET(FLT_REGISTRATION, FilterUnloadCallback, 0x18);
FLTK_ASSERT_OFFSET(FLT_REGISTRATION, InstanceSetupCallback, 0x20);
FLTK_ASSERT_OFFSET(FLT_REGISTRATION, InstanceQueryTeardownCallback, 0x28);
FLTK_ASSERT_OFFSET(FLT_REGISTRATION, InstanceTeardownStartCallback, 0x30);
FLTK_ASSERT_OFFSET(FLT_REGISTRATION, InstanceTeardownCompleteCallback, 0x38);
FLTK_ASSERT_OFFSET(FLT_REGISTRATION, NormalizeNameComponentExCallback, 0x60);
FLTK_ASSERT_SIZE(FLT_REGISTRATION, 0x68);

FLTK_ASSERT_OFFSET(INSTANCE_BASIC_INFORMATION, InstanceNameLength, 0x04);
FLTK_ASSERT_OFFSET(INSTANCE_BASIC_INFORMATION, InstanceNameBufferOffset, 0x06);

/* ntifs.h structures the driver reads (mingw-w64 layout, asserted too). */
FLTK_ASSERT_OFFSET(REQUEST_OPLOCK_INPUT_BUFFER, RequestedOplockLevel, 0x04);
FLTK_ASSERT_OFFSET(REQUEST_OPLOCK_INPUT_BUFFER, Flags, 0x08);
FLTK_ASSERT_SIZE(REQUEST_OPLOCK_INPUT_BUFFER, 0x0C);
FLTK_ASSERT_OFFSET(REQUEST_OPLOCK_OUTPUT_BUFFER, OriginalOplockLevel, 0x04);
FLTK_ASSERT_OFFSET(REQUEST_OPLOCK_OUTPUT_BUFFER, NewOplockLevel, 0x08);
FLTK_ASSERT_OFFSET(REQUEST_OPLOCK_OUTPUT_BUFFER, Flags, 0x0C);
FLTK_ASSERT_SIZE(REQUEST_OPLOCK_OUTPUT_BUFFER, 0x18);
FLTK_ASSERT_OFFSET(FILE_LOCK_INFO, StartingByte, 0x00);
FLTK_ASSERT_OFFSET(FILE_LOCK_INFO, Length, 0x08);
FLTK_ASSERT_OFFSET(FILE_LOCK_INFO, ExclusiveLock, 0x10);
FLTK_ASSERT_OFFSET(FILE_LOCK_INFO, Key, 0x14);
FLTK_ASSERT_OFFSET(FILE_LOCK_INFO, FileObject, 0x18);

#endif /* FLTK_COMPAT_H */
