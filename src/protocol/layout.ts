/**
 * The wire contract of driver/include/fltbridge_proto.h, as data: every constant under its C
 * name, and every structure as a table of fields whose offsets are computed here with the C
 * rules for natural alignment. The codec reads and writes through these tables; the tests
 * compare them, field by field, with what gcc (host) and clang (x86_64-w64-windows-gnu) compute
 * from the header itself (test/c/proto_layout.c is generated from this file).
 *
 * The header's own rule "every padding byte is spelled out as a Reserved field" is enforced when
 * a table is built: a field that would need implicit padding before it, or a structure that would
 * need tail padding, throws at module load.
 */

// ---------------------------------------------------------------------------------------------
// Constants (same names and values as the #defines of fltbridge_proto.h).
// ---------------------------------------------------------------------------------------------

export const FLTB_PROTOCOL_VERSION = 1;
export const FLTB_PROTOCOL_VERSION_MIN = 1;

export const FLTB_DRIVER_VERSION_MAJOR = 0;
export const FLTB_DRIVER_VERSION_MINOR = 1;
export const FLTB_DRIVER_VERSION_PATCH = 0;

/** L"\\FltBridgePort" */
export const FLTB_PORT_NAME_W = '\\FltBridgePort';
export const FLTB_PORT_MAX_CONNECTIONS = 4;

export const FLTB_MAGIC_CONNECT = 0x4e434246; // "FBCN"
export const FLTB_MAGIC_COMMAND = 0x4d434246; // "FBCM"
export const FLTB_MAGIC_REPLY = 0x50524246; // "FBRP"
export const FLTB_MAGIC_BATCH = 0x56454246; // "FBEV"

export const FLTB_MAX_NAME_BYTES = 2048;
export const FLTB_MAX_PAYLOAD_BYTES = 64;
export const FLTB_MAX_RECORD_BYTES = 64 + FLTB_MAX_PAYLOAD_BYTES + FLTB_MAX_NAME_BYTES;
export const FLTB_MAX_BATCH_BYTES = 65536;
export const FLTB_MAX_COMMAND_BYTES = 131072;
export const FLTB_MAX_REPLY_BYTES = 4096;
export const FLTB_MAX_NAMESPACES = 32;
export const FLTB_QUEUE_LIMIT_MIN = 16;
export const FLTB_QUEUE_LIMIT_MAX = 1048576;
export const FLTB_QUEUE_LIMIT_DEFAULT = 65536;
export const FLTB_PROBE_READ_MAX = 65536;
export const FLTB_MAX_PROBES = 16;

export const FLTB_ALIGNMENT = 8;

/** FLTB_ALIGN_UP: round up to a multiple of FLTB_ALIGNMENT. */
export function alignUp(bytes: number): number {
  return (bytes + (FLTB_ALIGNMENT - 1)) & ~(FLTB_ALIGNMENT - 1);
}

export const FLTB_CAP_MANAGED_STREAMS = 0x00000001;
export const FLTB_CAP_OBSERVE = 0x00000002;
export const FLTB_CAP_PROBE_OPLOCK = 0x00000004;
export const FLTB_CAP_PROBE_READ = 0x00000008;
export const FLTB_CAP_EVENT_BATCHES = 0x00000010;
export const FLTB_CAP_ALL = 0x0000001f;

export const FLTB_OPLOCK_NONE = 0;
export const FLTB_OPLOCK_LEVEL1 = 1;
export const FLTB_OPLOCK_LEVEL2 = 2;
export const FLTB_OPLOCK_BATCH = 3;
export const FLTB_OPLOCK_FILTER = 4;
export const FLTB_OPLOCK_R = 5;
export const FLTB_OPLOCK_RW = 6;
export const FLTB_OPLOCK_RH = 7;
export const FLTB_OPLOCK_RWH = 8;
export const FLTB_OPLOCK_LEVEL_MAX = 8;

export const FLTB_MJ_CREATE = 0x00;
export const FLTB_MJ_CLOSE = 0x02;
export const FLTB_MJ_READ = 0x03;
export const FLTB_MJ_WRITE = 0x04;
export const FLTB_MJ_SET_INFORMATION = 0x06;
export const FLTB_MJ_FLUSH_BUFFERS = 0x09;
export const FLTB_MJ_FILE_SYSTEM_CONTROL = 0x0d;
export const FLTB_MJ_LOCK_CONTROL = 0x11;
export const FLTB_MJ_CLEANUP = 0x12;
export const FLTB_MJ_PROBE = 0xfe;
export const FLTB_MJ_NONE = 0xff;

export const FLTB_CMD_HELLO = 1;
export const FLTB_CMD_CONFIGURE = 2;
export const FLTB_CMD_GET_STATS = 3;
export const FLTB_CMD_PROBE_START = 4;
export const FLTB_CMD_PROBE_STOP = 5;
export const FLTB_CMD_FLUSH_EVENTS = 6;
export const FLTB_CMD_MAX = 6;

export const FLTB_CONFIGURE_SET_NAMESPACES = 0x00000001;
export const FLTB_CONFIGURE_SET_EVENT_MASK = 0x00000002;
export const FLTB_CONFIGURE_SET_QUEUE_LIMIT = 0x00000004;
export const FLTB_CONFIGURE_VALID_FLAGS = 0x00000007;

export const FLTB_NAMESPACE_MANAGED = 1;
export const FLTB_NAMESPACE_OBSERVE = 2;

export const FLTB_EVENT_TYPE_SLOTS = 32;

export const FLTB_PROBE_OPLOCK = 1;
export const FLTB_PROBE_READ = 2;
export const FLTB_PROBE_FLAG_REARM = 0x00000001;
export const FLTB_PROBE_VALID_FLAGS = 0x00000001;

export const FLTB_FLUSH_DISCARD = 0x00000001;
export const FLTB_FLUSH_VALID_FLAGS = 0x00000001;

export const FLTB_EVENT_DROPPED = 1;
export const FLTB_EVENT_CREATE = 2;
export const FLTB_EVENT_CLEANUP = 3;
export const FLTB_EVENT_CLOSE = 4;
export const FLTB_EVENT_OPLOCK_REQUEST = 5;
export const FLTB_EVENT_OPLOCK_GRANTED = 6;
export const FLTB_EVENT_OPLOCK_BREAK = 7;
export const FLTB_EVENT_OPLOCK_ACKNOWLEDGED = 8;
export const FLTB_EVENT_OPLOCK_BREAK_COMPLETED = 9;
export const FLTB_EVENT_OPLOCK_COMPLETED = 10;
export const FLTB_EVENT_LOCK_GRANTED = 11;
export const FLTB_EVENT_LOCK_DENIED = 12;
export const FLTB_EVENT_LOCK_WAITING = 13;
export const FLTB_EVENT_UNLOCKED = 14;
export const FLTB_EVENT_UNLOCK_ALL = 15;
export const FLTB_EVENT_IO_REFUSED = 16;
export const FLTB_EVENT_IO = 17;
export const FLTB_EVENT_PROBE_ISSUED = 18;
export const FLTB_EVENT_PROBE_COMPLETED = 19;
export const FLTB_EVENT_TYPE_MAX = 19;
export const FLTB_EVENT_MASK_ALL = 0x00000000000ffffen;

export const FLTB_RECORD_MANAGED = 0x0001;
export const FLTB_RECORD_OBSERVED = 0x0002;
export const FLTB_RECORD_NAME_TRUNCATED = 0x0004;
export const FLTB_RECORD_FAST_IO = 0x0008;
export const FLTB_RECORD_SYNTHETIC = 0x0010;
export const FLTB_RECORD_VALID_FLAGS = 0x001f;

export const FLTB_CREATE_BREAK_IN_PROGRESS = 0x00000001;
export const FLTB_CREATE_WAITED_FOR_BREAK = 0x00000002;
export const FLTB_CREATE_ATOMIC_OPLOCK = 0x00000004;
export const FLTB_CREATE_SHARING_BREAK = 0x00000008;
export const FLTB_CREATE_HAS_OPLOCK_KEY = 0x00000010;

export const FLTB_CLEANUP_DELETE_ON_CLOSE = 0x00000001;
export const FLTB_CLEANUP_DELETED = 0x00000002;

export const FLTB_BREAK_ACK_REQUIRED = 0x00000001;
export const FLTB_BREAK_OPERATION_WAITS = 0x00000002;
export const FLTB_BREAK_LEGACY = 0x00000004;

export const FLTB_RELEASE_ACKNOWLEDGED = 1;
export const FLTB_RELEASE_HANDLE_CLOSED = 2;
export const FLTB_RELEASE_NO_ACK_REQUIRED = 3;
export const FLTB_RELEASE_CANCELLED = 4;
export const FLTB_RELEASE_TEARDOWN = 5;
export const FLTB_RELEASE_MAX = 5;

export const FLTB_OPLOCK_END_REFUSED = 1;
export const FLTB_OPLOCK_END_HANDLE_CLOSED = 2;
export const FLTB_OPLOCK_END_CANCELLED = 3;
export const FLTB_OPLOCK_END_SWITCHED = 4;
export const FLTB_OPLOCK_END_COMPLETED = 5;
export const FLTB_OPLOCK_END_MAX = 5;

export const FLTB_LOCK_EXCLUSIVE = 0x00000001;
export const FLTB_LOCK_FAIL_IMMEDIATELY = 0x00000002;
export const FLTB_LOCK_AFTER_WAIT = 0x00000004;
export const FLTB_LOCK_VALID_FLAGS = 0x00000007;

export const FLTB_UNLOCK_ALL_BY_KEY = 0x00000001;
export const FLTB_UNLOCK_ALL_CLEANUP = 0x00000002;

export const FLTB_PROBE_DONE_REARMED = 0x00000001;
export const FLTB_PROBE_DONE_STOPPED = 0x00000002;

/**
 * Every object-like #define of the header, by its C name. The generated C dump prints each of
 * these from the header (a name missing there fails to compile) and the tests compare values;
 * a test also checks that the header defines no constant missing here.
 */
export const CONSTANTS = {
  FLTB_PROTOCOL_VERSION,
  FLTB_PROTOCOL_VERSION_MIN,
  FLTB_DRIVER_VERSION_MAJOR,
  FLTB_DRIVER_VERSION_MINOR,
  FLTB_DRIVER_VERSION_PATCH,
  FLTB_PORT_NAME_W,
  FLTB_PORT_MAX_CONNECTIONS,
  FLTB_MAGIC_CONNECT,
  FLTB_MAGIC_COMMAND,
  FLTB_MAGIC_REPLY,
  FLTB_MAGIC_BATCH,
  FLTB_MAX_NAME_BYTES,
  FLTB_MAX_PAYLOAD_BYTES,
  FLTB_MAX_RECORD_BYTES,
  FLTB_MAX_BATCH_BYTES,
  FLTB_MAX_COMMAND_BYTES,
  FLTB_MAX_REPLY_BYTES,
  FLTB_MAX_NAMESPACES,
  FLTB_QUEUE_LIMIT_MIN,
  FLTB_QUEUE_LIMIT_MAX,
  FLTB_QUEUE_LIMIT_DEFAULT,
  FLTB_PROBE_READ_MAX,
  FLTB_MAX_PROBES,
  FLTB_ALIGNMENT,
  FLTB_CAP_MANAGED_STREAMS,
  FLTB_CAP_OBSERVE,
  FLTB_CAP_PROBE_OPLOCK,
  FLTB_CAP_PROBE_READ,
  FLTB_CAP_EVENT_BATCHES,
  FLTB_CAP_ALL,
  FLTB_OPLOCK_NONE,
  FLTB_OPLOCK_LEVEL1,
  FLTB_OPLOCK_LEVEL2,
  FLTB_OPLOCK_BATCH,
  FLTB_OPLOCK_FILTER,
  FLTB_OPLOCK_R,
  FLTB_OPLOCK_RW,
  FLTB_OPLOCK_RH,
  FLTB_OPLOCK_RWH,
  FLTB_OPLOCK_LEVEL_MAX,
  FLTB_MJ_CREATE,
  FLTB_MJ_CLOSE,
  FLTB_MJ_READ,
  FLTB_MJ_WRITE,
  FLTB_MJ_SET_INFORMATION,
  FLTB_MJ_FLUSH_BUFFERS,
  FLTB_MJ_FILE_SYSTEM_CONTROL,
  FLTB_MJ_LOCK_CONTROL,
  FLTB_MJ_CLEANUP,
  FLTB_MJ_PROBE,
  FLTB_MJ_NONE,
  FLTB_CMD_HELLO,
  FLTB_CMD_CONFIGURE,
  FLTB_CMD_GET_STATS,
  FLTB_CMD_PROBE_START,
  FLTB_CMD_PROBE_STOP,
  FLTB_CMD_FLUSH_EVENTS,
  FLTB_CMD_MAX,
  FLTB_CONFIGURE_SET_NAMESPACES,
  FLTB_CONFIGURE_SET_EVENT_MASK,
  FLTB_CONFIGURE_SET_QUEUE_LIMIT,
  FLTB_CONFIGURE_VALID_FLAGS,
  FLTB_NAMESPACE_MANAGED,
  FLTB_NAMESPACE_OBSERVE,
  FLTB_EVENT_TYPE_SLOTS,
  FLTB_PROBE_OPLOCK,
  FLTB_PROBE_READ,
  FLTB_PROBE_FLAG_REARM,
  FLTB_PROBE_VALID_FLAGS,
  FLTB_FLUSH_DISCARD,
  FLTB_FLUSH_VALID_FLAGS,
  FLTB_EVENT_DROPPED,
  FLTB_EVENT_CREATE,
  FLTB_EVENT_CLEANUP,
  FLTB_EVENT_CLOSE,
  FLTB_EVENT_OPLOCK_REQUEST,
  FLTB_EVENT_OPLOCK_GRANTED,
  FLTB_EVENT_OPLOCK_BREAK,
  FLTB_EVENT_OPLOCK_ACKNOWLEDGED,
  FLTB_EVENT_OPLOCK_BREAK_COMPLETED,
  FLTB_EVENT_OPLOCK_COMPLETED,
  FLTB_EVENT_LOCK_GRANTED,
  FLTB_EVENT_LOCK_DENIED,
  FLTB_EVENT_LOCK_WAITING,
  FLTB_EVENT_UNLOCKED,
  FLTB_EVENT_UNLOCK_ALL,
  FLTB_EVENT_IO_REFUSED,
  FLTB_EVENT_IO,
  FLTB_EVENT_PROBE_ISSUED,
  FLTB_EVENT_PROBE_COMPLETED,
  FLTB_EVENT_TYPE_MAX,
  FLTB_EVENT_MASK_ALL,
  FLTB_RECORD_MANAGED,
  FLTB_RECORD_OBSERVED,
  FLTB_RECORD_NAME_TRUNCATED,
  FLTB_RECORD_FAST_IO,
  FLTB_RECORD_SYNTHETIC,
  FLTB_RECORD_VALID_FLAGS,
  FLTB_CREATE_BREAK_IN_PROGRESS,
  FLTB_CREATE_WAITED_FOR_BREAK,
  FLTB_CREATE_ATOMIC_OPLOCK,
  FLTB_CREATE_SHARING_BREAK,
  FLTB_CREATE_HAS_OPLOCK_KEY,
  FLTB_CLEANUP_DELETE_ON_CLOSE,
  FLTB_CLEANUP_DELETED,
  FLTB_BREAK_ACK_REQUIRED,
  FLTB_BREAK_OPERATION_WAITS,
  FLTB_BREAK_LEGACY,
  FLTB_RELEASE_ACKNOWLEDGED,
  FLTB_RELEASE_HANDLE_CLOSED,
  FLTB_RELEASE_NO_ACK_REQUIRED,
  FLTB_RELEASE_CANCELLED,
  FLTB_RELEASE_TEARDOWN,
  FLTB_RELEASE_MAX,
  FLTB_OPLOCK_END_REFUSED,
  FLTB_OPLOCK_END_HANDLE_CLOSED,
  FLTB_OPLOCK_END_CANCELLED,
  FLTB_OPLOCK_END_SWITCHED,
  FLTB_OPLOCK_END_COMPLETED,
  FLTB_OPLOCK_END_MAX,
  FLTB_LOCK_EXCLUSIVE,
  FLTB_LOCK_FAIL_IMMEDIATELY,
  FLTB_LOCK_AFTER_WAIT,
  FLTB_LOCK_VALID_FLAGS,
  FLTB_UNLOCK_ALL_BY_KEY,
  FLTB_UNLOCK_ALL_CLEANUP,
  FLTB_PROBE_DONE_REARMED,
  FLTB_PROBE_DONE_STOPPED,
} as const;

export type ConstantName = keyof typeof CONSTANTS;

// Flag masks the header does not spell out as *_VALID_FLAGS: the union of the bits it defines.
// Readers refuse any other bit.
export const CREATE_FLAGS_ALL =
  FLTB_CREATE_BREAK_IN_PROGRESS |
  FLTB_CREATE_WAITED_FOR_BREAK |
  FLTB_CREATE_ATOMIC_OPLOCK |
  FLTB_CREATE_SHARING_BREAK |
  FLTB_CREATE_HAS_OPLOCK_KEY;
export const CLEANUP_FLAGS_ALL = FLTB_CLEANUP_DELETE_ON_CLOSE | FLTB_CLEANUP_DELETED;
export const BREAK_FLAGS_ALL =
  FLTB_BREAK_ACK_REQUIRED | FLTB_BREAK_OPERATION_WAITS | FLTB_BREAK_LEGACY;
export const UNLOCK_ALL_FLAGS_ALL = FLTB_UNLOCK_ALL_BY_KEY | FLTB_UNLOCK_ALL_CLEANUP;
export const PROBE_DONE_FLAGS_ALL = FLTB_PROBE_DONE_REARMED | FLTB_PROBE_DONE_STOPPED;

// ---------------------------------------------------------------------------------------------
// Structure tables.
// ---------------------------------------------------------------------------------------------

/** The fixed-width types of the header (FLTB_U8 ... FLTB_I64). */
export type Scalar = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'i64';

const SCALAR_BYTES: Readonly<Record<Scalar, number>> = {
  u8: 1,
  u16: 2,
  u32: 4,
  i32: 4,
  u64: 8,
  i64: 8,
};

export interface FieldLayout {
  /** The C field name. */
  readonly name: string;
  /** A scalar type, or the C name of the nested structure. */
  readonly type: Scalar | string;
  /** Array length; 1 for a plain field. */
  readonly count: number;
  readonly offset: number;
  readonly size: number;
  readonly align: number;
}

export interface StructLayout<F extends string = string> {
  /** The C typedef name. */
  readonly name: string;
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldLayout[];
  /** Field offsets by C name. */
  readonly offset: { readonly [K in F]: number };
}

type FieldSpec = readonly [name: string, type: Scalar | StructLayout, count?: number];

/**
 * Lay out a C structure from its fields, in declaration order, with natural alignment (each
 * field at a multiple of its type's alignment, the structure's size a multiple of its largest
 * alignment). Throws when that would need a padding byte the structure does not spell out.
 */
function struct<const S extends readonly FieldSpec[]>(
  name: string,
  specs: S,
): StructLayout<S[number][0]> {
  const fields: FieldLayout[] = [];
  const offsets: Record<string, number> = {};
  let offset = 0;
  let align = 1;
  for (const [fieldName, type, count = 1] of specs) {
    const elemSize = typeof type === 'string' ? SCALAR_BYTES[type] : type.size;
    const elemAlign = typeof type === 'string' ? SCALAR_BYTES[type] : type.align;
    if (offset % elemAlign !== 0) {
      throw new Error(`${name}.${fieldName} would need implicit padding at ${offset}`);
    }
    const size = elemSize * count;
    fields.push(
      Object.freeze({
        name: fieldName,
        type: typeof type === 'string' ? type : type.name,
        count,
        offset,
        size,
        align: elemAlign,
      }),
    );
    offsets[fieldName] = offset;
    offset += size;
    align = Math.max(align, elemAlign);
  }
  if (offset % align !== 0) throw new Error(`${name} would need implicit tail padding`);
  return Object.freeze({
    name,
    size: offset,
    align,
    fields: Object.freeze(fields),
    offset: Object.freeze(offsets) as { readonly [K in S[number][0]]: number },
  });
}

export const FLTB_CONNECT_CONTEXT = struct('FLTB_CONNECT_CONTEXT', [
  ['Magic', 'u32'],
  ['Version', 'u16'],
  ['Size', 'u16'],
  ['ClientCapabilities', 'u32'],
  ['Reserved', 'u32'],
]);

export const FLTB_COMMAND_HEADER = struct('FLTB_COMMAND_HEADER', [
  ['Magic', 'u32'],
  ['Version', 'u16'],
  ['Command', 'u16'],
  ['Size', 'u32'],
  ['Flags', 'u32'],
  ['RequestId', 'u64'],
]);

export const FLTB_REPLY_HEADER = struct('FLTB_REPLY_HEADER', [
  ['Magic', 'u32'],
  ['Version', 'u16'],
  ['Command', 'u16'],
  ['Size', 'u32'],
  ['Status', 'i32'],
  ['RequestId', 'u64'],
]);

export const FLTB_HELLO_REQUEST = struct('FLTB_HELLO_REQUEST', [
  ['Header', FLTB_COMMAND_HEADER],
  ['MinVersion', 'u16'],
  ['MaxVersion', 'u16'],
  ['ClientCapabilities', 'u32'],
  ['ClientProcessId', 'u32'],
  ['Reserved', 'u32'],
]);

export const FLTB_HELLO_REPLY = struct('FLTB_HELLO_REPLY', [
  ['Header', FLTB_REPLY_HEADER],
  ['ProtocolVersion', 'u16'],
  ['DriverMajor', 'u16'],
  ['DriverMinor', 'u16'],
  ['DriverPatch', 'u16'],
  ['Capabilities', 'u32'],
  ['MaxRecordBytes', 'u32'],
  ['MaxBatchBytes', 'u32'],
  ['QueueLimit', 'u32'],
  ['NextSequence', 'u64'],
  ['EventTypeMask', 'u64'],
]);

export const FLTB_NAMESPACE_ENTRY = struct('FLTB_NAMESPACE_ENTRY', [
  ['Size', 'u16'],
  ['Kind', 'u16'],
  ['NameBytes', 'u16'],
  ['Reserved', 'u16'],
]);

export const FLTB_CONFIGURE_REQUEST = struct('FLTB_CONFIGURE_REQUEST', [
  ['Header', FLTB_COMMAND_HEADER],
  ['EventTypeMask', 'u64'],
  ['QueueLimit', 'u32'],
  ['Flags', 'u32'],
  ['NamespaceCount', 'u16'],
  ['Reserved0', 'u16'],
  ['Reserved1', 'u32'],
]);

export const FLTB_CONFIGURE_REPLY = struct('FLTB_CONFIGURE_REPLY', [
  ['Header', FLTB_REPLY_HEADER],
  ['EventTypeMask', 'u64'],
  ['QueueLimit', 'u32'],
  ['ManagedCount', 'u16'],
  ['ObserveCount', 'u16'],
  ['Reserved', 'u64'],
]);

export const FLTB_STATS_REPLY = struct('FLTB_STATS_REPLY', [
  ['Header', FLTB_REPLY_HEADER],
  ['EventsProduced', 'u64'],
  ['EventsDelivered', 'u64'],
  ['EventsDropped', 'u64'],
  ['NextSequence', 'u64'],
  ['QueueDepth', 'u32'],
  ['QueueLimit', 'u32'],
  ['PendedOperations', 'u32'],
  ['ManagedStreams', 'u32'],
  ['ActiveProbes', 'u32'],
  ['Connections', 'u32'],
  ['PerTypeProduced', 'u64', FLTB_EVENT_TYPE_SLOTS],
]);

export const FLTB_PROBE_START_REQUEST = struct('FLTB_PROBE_START_REQUEST', [
  ['Header', FLTB_COMMAND_HEADER],
  ['Kind', 'u32'],
  ['Flags', 'u32'],
  ['OplockLevel', 'u32'],
  ['ReadLength', 'u32'],
  ['ReadOffset', 'u64'],
  ['PathBytes', 'u16'],
  ['Reserved0', 'u16'],
  ['Reserved1', 'u32'],
]);

export const FLTB_PROBE_START_REPLY = struct('FLTB_PROBE_START_REPLY', [
  ['Header', FLTB_REPLY_HEADER],
  ['ProbeId', 'u64'],
]);

export const FLTB_PROBE_STOP_REQUEST = struct('FLTB_PROBE_STOP_REQUEST', [
  ['Header', FLTB_COMMAND_HEADER],
  ['ProbeId', 'u64'],
]);

export const FLTB_FLUSH_EVENTS_REQUEST = struct('FLTB_FLUSH_EVENTS_REQUEST', [
  ['Header', FLTB_COMMAND_HEADER],
  ['Flags', 'u32'],
  ['Reserved', 'u32'],
]);

export const FLTB_FLUSH_EVENTS_REPLY = struct('FLTB_FLUSH_EVENTS_REPLY', [
  ['Header', FLTB_REPLY_HEADER],
  ['Discarded', 'u64'],
  ['NextSequence', 'u64'],
]);

export const FLTB_BATCH_HEADER = struct('FLTB_BATCH_HEADER', [
  ['Magic', 'u32'],
  ['Version', 'u16'],
  ['HeaderBytes', 'u16'],
  ['RecordCount', 'u32'],
  ['TotalBytes', 'u32'],
  ['FirstSequence', 'u64'],
  ['LastSequence', 'u64'],
  ['DroppedSinceLast', 'u64'],
  ['Flags', 'u32'],
  ['Reserved', 'u32'],
]);

export const FLTB_RECORD_HEADER = struct('FLTB_RECORD_HEADER', [
  ['Size', 'u32'],
  ['Type', 'u16'],
  ['Flags', 'u16'],
  ['Sequence', 'u64'],
  ['Timestamp', 'i64'],
  ['ProcessId', 'u32'],
  ['ThreadId', 'u32'],
  ['StreamId', 'u64'],
  ['FileObjectId', 'u64'],
  ['OperationId', 'u64'],
  ['Status', 'i32'],
  ['NameOffset', 'u16'],
  ['NameBytes', 'u16'],
]);

export const FLTB_DROPPED_PAYLOAD = struct('FLTB_DROPPED_PAYLOAD', [
  ['FirstSequence', 'u64'],
  ['Count', 'u64'],
]);

export const FLTB_CREATE_PAYLOAD = struct('FLTB_CREATE_PAYLOAD', [
  ['DesiredAccess', 'u32'],
  ['ShareAccess', 'u32'],
  ['CreateDisposition', 'u32'],
  ['CreateOptions', 'u32'],
  ['Information', 'u32'],
  ['CreateFlags', 'u32'],
  ['OplockKey', 'u8', 16],
  ['FileSize', 'u64'],
]);

export const FLTB_CLEANUP_PAYLOAD = struct('FLTB_CLEANUP_PAYLOAD', [
  ['OpenHandlesRemaining', 'u32'],
  ['LocksReleased', 'u32'],
  ['CleanupFlags', 'u32'],
  ['Reserved', 'u32'],
]);

export const FLTB_CLOSE_PAYLOAD = struct('FLTB_CLOSE_PAYLOAD', [
  ['StreamReferences', 'u32'],
  ['Reserved', 'u32'],
]);

export const FLTB_OPLOCK_REQUEST_PAYLOAD = struct('FLTB_OPLOCK_REQUEST_PAYLOAD', [
  ['FsControlCode', 'u32'],
  ['RequestedLevel', 'u32'],
  ['InputFlags', 'u32'],
  ['OpenCount', 'u32'],
  ['FsctrlFlags', 'u32'],
  ['Reserved', 'u32'],
]);

export const FLTB_OPLOCK_GRANTED_PAYLOAD = struct('FLTB_OPLOCK_GRANTED_PAYLOAD', [
  ['GrantedLevel', 'u32'],
  ['Reserved', 'u32'],
]);

export const FLTB_OPLOCK_BREAK_PAYLOAD = struct('FLTB_OPLOCK_BREAK_PAYLOAD', [
  ['FromLevel', 'u32'],
  ['ToLevel', 'u32'],
  ['BreakFlags', 'u32'],
  ['Information', 'u32'],
  ['CausedByOperationId', 'u64'],
  ['CausedByMajor', 'u8'],
  ['CausedByMinor', 'u8'],
  ['Reserved', 'u16'],
  ['CausedByProcessId', 'u32'],
]);

export const FLTB_OPLOCK_ACK_PAYLOAD = struct('FLTB_OPLOCK_ACK_PAYLOAD', [
  ['FsControlCode', 'u32'],
  ['AckLevel', 'u32'],
  ['InputFlags', 'u32'],
  ['Reserved', 'u32'],
  ['BrokenRequestOperationId', 'u64'],
]);

export const FLTB_BREAK_COMPLETED_PAYLOAD = struct('FLTB_BREAK_COMPLETED_PAYLOAD', [
  ['ReleasedByOperationId', 'u64'],
  ['WaiterMajor', 'u8'],
  ['WaiterMinor', 'u8'],
  ['Reason', 'u16'],
  ['Reserved', 'u32'],
]);

export const FLTB_OPLOCK_COMPLETED_PAYLOAD = struct('FLTB_OPLOCK_COMPLETED_PAYLOAD', [
  ['Level', 'u32'],
  ['OutputFlags', 'u32'],
  ['Information', 'u32'],
  ['Reason', 'u32'],
]);

export const FLTB_LOCK_PAYLOAD = struct('FLTB_LOCK_PAYLOAD', [
  ['Offset', 'u64'],
  ['Length', 'u64'],
  ['Key', 'u32'],
  ['LockFlags', 'u32'],
  ['RelatedOperationId', 'u64'],
]);

export const FLTB_UNLOCK_ALL_PAYLOAD = struct('FLTB_UNLOCK_ALL_PAYLOAD', [
  ['Count', 'u32'],
  ['Key', 'u32'],
  ['UnlockFlags', 'u32'],
  ['Reserved', 'u32'],
]);

export const FLTB_IO_REFUSED_PAYLOAD = struct('FLTB_IO_REFUSED_PAYLOAD', [
  ['Offset', 'u64'],
  ['Length', 'u32'],
  ['Key', 'u32'],
  ['Major', 'u8'],
  ['Reserved0', 'u8'],
  ['Reserved1', 'u16'],
  ['Reserved2', 'u32'],
]);

export const FLTB_IO_PAYLOAD = struct('FLTB_IO_PAYLOAD', [
  ['Major', 'u8'],
  ['Minor', 'u8'],
  ['Reserved', 'u16'],
  ['Detail', 'u32'],
  ['Offset', 'u64'],
  ['Length', 'u64'],
  ['Information', 'u64'],
]);

export const FLTB_PROBE_ISSUED_PAYLOAD = struct('FLTB_PROBE_ISSUED_PAYLOAD', [
  ['ProbeId', 'u64'],
  ['Kind', 'u32'],
  ['OplockLevel', 'u32'],
  ['Offset', 'u64'],
  ['Length', 'u32'],
  ['ProbeFlags', 'u32'],
]);

export const FLTB_PROBE_COMPLETED_PAYLOAD = struct('FLTB_PROBE_COMPLETED_PAYLOAD', [
  ['ProbeId', 'u64'],
  ['Kind', 'u32'],
  ['ProbeFlags', 'u32'],
  ['Information', 'u64'],
  ['OutputLevel', 'u32'],
  ['OutputFlags', 'u32'],
]);

/** Every structure of the header, in the header's order. */
export const STRUCTS: readonly StructLayout[] = Object.freeze([
  FLTB_CONNECT_CONTEXT,
  FLTB_COMMAND_HEADER,
  FLTB_REPLY_HEADER,
  FLTB_HELLO_REQUEST,
  FLTB_HELLO_REPLY,
  FLTB_NAMESPACE_ENTRY,
  FLTB_CONFIGURE_REQUEST,
  FLTB_CONFIGURE_REPLY,
  FLTB_STATS_REPLY,
  FLTB_PROBE_START_REQUEST,
  FLTB_PROBE_START_REPLY,
  FLTB_PROBE_STOP_REQUEST,
  FLTB_FLUSH_EVENTS_REQUEST,
  FLTB_FLUSH_EVENTS_REPLY,
  FLTB_BATCH_HEADER,
  FLTB_RECORD_HEADER,
  FLTB_DROPPED_PAYLOAD,
  FLTB_CREATE_PAYLOAD,
  FLTB_CLEANUP_PAYLOAD,
  FLTB_CLOSE_PAYLOAD,
  FLTB_OPLOCK_REQUEST_PAYLOAD,
  FLTB_OPLOCK_GRANTED_PAYLOAD,
  FLTB_OPLOCK_BREAK_PAYLOAD,
  FLTB_OPLOCK_ACK_PAYLOAD,
  FLTB_BREAK_COMPLETED_PAYLOAD,
  FLTB_OPLOCK_COMPLETED_PAYLOAD,
  FLTB_LOCK_PAYLOAD,
  FLTB_UNLOCK_ALL_PAYLOAD,
  FLTB_IO_REFUSED_PAYLOAD,
  FLTB_IO_PAYLOAD,
  FLTB_PROBE_ISSUED_PAYLOAD,
  FLTB_PROBE_COMPLETED_PAYLOAD,
]);

/**
 * The payload structure of each event type, indexed by FLTB_EVENT_* (the table behind the
 * header's FLTB_PAYLOAD_BYTES macro). Undefined for values that are not event types.
 */
export const PAYLOAD_STRUCTS: readonly (StructLayout | undefined)[] = Object.freeze([
  undefined,
  FLTB_DROPPED_PAYLOAD,
  FLTB_CREATE_PAYLOAD,
  FLTB_CLEANUP_PAYLOAD,
  FLTB_CLOSE_PAYLOAD,
  FLTB_OPLOCK_REQUEST_PAYLOAD,
  FLTB_OPLOCK_GRANTED_PAYLOAD,
  FLTB_OPLOCK_BREAK_PAYLOAD,
  FLTB_OPLOCK_ACK_PAYLOAD,
  FLTB_BREAK_COMPLETED_PAYLOAD,
  FLTB_OPLOCK_COMPLETED_PAYLOAD,
  FLTB_LOCK_PAYLOAD,
  FLTB_LOCK_PAYLOAD,
  FLTB_LOCK_PAYLOAD,
  FLTB_LOCK_PAYLOAD,
  FLTB_UNLOCK_ALL_PAYLOAD,
  FLTB_IO_REFUSED_PAYLOAD,
  FLTB_IO_PAYLOAD,
  FLTB_PROBE_ISSUED_PAYLOAD,
  FLTB_PROBE_COMPLETED_PAYLOAD,
]);

/** FLTB_PAYLOAD_BYTES(type): the fixed payload size of an event type, 0 for unknown types. */
export function payloadBytes(type: number): number {
  return PAYLOAD_STRUCTS[type]?.size ?? 0;
}

/** Size of a command or reply with a fixed layout, by FLTB_CMD_* (variable ones: the fixed part). */
export const COMMAND_FIXED_BYTES: readonly number[] = Object.freeze([
  0,
  FLTB_HELLO_REQUEST.size,
  FLTB_CONFIGURE_REQUEST.size,
  FLTB_COMMAND_HEADER.size,
  FLTB_PROBE_START_REQUEST.size,
  FLTB_PROBE_STOP_REQUEST.size,
  FLTB_FLUSH_EVENTS_REQUEST.size,
]);

/** Size of the full reply to each command, by FLTB_CMD_*. */
export const REPLY_BYTES: readonly number[] = Object.freeze([
  0,
  FLTB_HELLO_REPLY.size,
  FLTB_CONFIGURE_REPLY.size,
  FLTB_STATS_REPLY.size,
  FLTB_PROBE_START_REPLY.size,
  FLTB_REPLY_HEADER.size,
  FLTB_FLUSH_EVENTS_REPLY.size,
]);
