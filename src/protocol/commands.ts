/**
 * The connection context, the commands and their replies (fltbridge_proto.h, "Commands"), in
 * both directions: a client encodes commands and decodes replies (the windows backend through
 * the addon); a server decodes commands and encodes replies (the model's port twin, the fltlib
 * test double). The validation rules are the driver's (driver/src/comm.c implements the same in
 * C) and are written down in docs/protocol.md.
 */

import { InvalidArgumentError, ProtocolError } from '../bridge/errors.js';
import type { ProbeKindName } from '../bridge/events.js';
import { OPLOCK_LEVELS, type OplockLevel } from '../bridge/flags.js';
import { NtStatus, ntSuccess } from '../bridge/ntstatus.js';
import {
  alignUp,
  FLTB_CONNECT_CONTEXT as CC,
  FLTB_CONFIGURE_REQUEST as CFQ,
  FLTB_CONFIGURE_REPLY as CFR,
  FLTB_COMMAND_HEADER as CH,
  COMMAND_FIXED_BYTES,
  FLTB_FLUSH_EVENTS_REQUEST as FLQ,
  FLTB_FLUSH_EVENTS_REPLY as FLR,
  FLTB_CMD_CONFIGURE,
  FLTB_CMD_GET_STATS,
  FLTB_CMD_HELLO,
  FLTB_CMD_PROBE_START,
  FLTB_CMD_PROBE_STOP,
  FLTB_CONFIGURE_SET_EVENT_MASK,
  FLTB_CONFIGURE_SET_NAMESPACES,
  FLTB_CONFIGURE_SET_QUEUE_LIMIT,
  FLTB_CONFIGURE_VALID_FLAGS,
  FLTB_EVENT_MASK_ALL,
  FLTB_EVENT_TYPE_SLOTS,
  FLTB_FLUSH_VALID_FLAGS,
  FLTB_MAGIC_COMMAND,
  FLTB_MAGIC_CONNECT,
  FLTB_MAGIC_REPLY,
  FLTB_MAX_COMMAND_BYTES,
  FLTB_MAX_NAME_BYTES,
  FLTB_MAX_NAMESPACES,
  FLTB_MAX_REPLY_BYTES,
  FLTB_OPLOCK_LEVEL_MAX,
  FLTB_PROBE_READ_MAX,
  FLTB_PROBE_VALID_FLAGS,
  FLTB_PROTOCOL_VERSION,
  FLTB_PROTOCOL_VERSION_MIN,
  FLTB_QUEUE_LIMIT_MAX,
  FLTB_QUEUE_LIMIT_MIN,
  FLTB_HELLO_REQUEST as HLQ,
  FLTB_HELLO_REPLY as HLR,
  FLTB_NAMESPACE_ENTRY as NSE,
  FLTB_PROBE_START_REQUEST as PSQ,
  FLTB_PROBE_START_REPLY as PSR,
  FLTB_PROBE_STOP_REQUEST as PTQ,
  REPLY_BYTES,
  FLTB_REPLY_HEADER as RH,
  FLTB_STATS_REPLY as STR,
} from './layout.js';
import { type ByteInput, decodeGuard, type Reader } from './reader.js';
import { checkFlags, checkName, checkU64, checkUint, Writer } from './writer.js';

// ---------------------------------------------------------------------------------------------
// Names for the enumerations carried in commands.
// ---------------------------------------------------------------------------------------------

/** Command names, indexed by their FLTB_CMD_* value. */
export const COMMAND_NAMES = [
  undefined,
  'hello',
  'configure',
  'get-stats',
  'probe-start',
  'probe-stop',
  'flush-events',
] as const;
export type CommandName = Exclude<(typeof COMMAND_NAMES)[number], undefined>;

export function commandFromWire(code: number): CommandName | undefined {
  return COMMAND_NAMES[code];
}

export function commandToWire(name: CommandName): number {
  const code = COMMAND_NAMES.indexOf(name);
  if (code < 1) throw new InvalidArgumentError(`unknown command '${String(name)}'`);
  return code;
}

/** FLTB_NAMESPACE_* by value. */
export const NAMESPACE_KINDS = [undefined, 'managed', 'observe'] as const;
export type NamespaceKind = Exclude<(typeof NAMESPACE_KINDS)[number], undefined>;

/** FLTB_PROBE_* by value. */
export const PROBE_KINDS = [undefined, 'oplock', 'read'] as const;

// ---------------------------------------------------------------------------------------------
// Types.
// ---------------------------------------------------------------------------------------------

/** FLTB_CONNECT_CONTEXT, passed as FilterConnectCommunicationPort's lpContext. */
export interface ConnectContext {
  /** Protocol version the client speaks; default FLTB_PROTOCOL_VERSION. */
  readonly version?: number;
  /** FLTB_CAP_* the client can consume. */
  readonly clientCapabilities: number;
}

interface CommandCommon {
  /** Header.Version; default FLTB_PROTOCOL_VERSION when encoding, always set when decoded. */
  readonly version?: number;
  /** Chosen by the client, echoed in the reply. */
  readonly requestId: bigint;
}

export interface HelloCommand extends CommandCommon {
  readonly command: 'hello';
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly clientCapabilities: number;
  readonly clientProcessId: number;
}

export interface NamespaceSpec {
  readonly kind: NamespaceKind;
  /** An NT path (\Device\HarddiskVolume3\work). */
  readonly path: string;
}

/**
 * CONFIGURE. Each part is present exactly when its FLTB_CONFIGURE_SET_* flag is set: the flags
 * are derived from which properties exist. `namespaces: []` clears the namespaces.
 */
export interface ConfigureCommand extends CommandCommon {
  readonly command: 'configure';
  readonly eventTypeMask?: bigint;
  readonly queueLimit?: number;
  readonly namespaces?: readonly NamespaceSpec[];
}

export interface GetStatsCommand extends CommandCommon {
  readonly command: 'get-stats';
}

interface ProbeStartCommon extends CommandCommon {
  readonly command: 'probe-start';
  /** FLTB_PROBE_FLAG_*; default 0. */
  readonly flags?: number;
  /** The target, an NT path. */
  readonly path: string;
}

export interface OplockProbeStartCommand extends ProbeStartCommon {
  readonly kind: 'oplock';
  /** Not NONE. */
  readonly oplockLevel: OplockLevel;
}

export interface ReadProbeStartCommand extends ProbeStartCommon {
  readonly kind: 'read';
  readonly readOffset: bigint;
  /** 1 .. FLTB_PROBE_READ_MAX. */
  readonly readLength: number;
}

export type ProbeStartCommand = OplockProbeStartCommand | ReadProbeStartCommand;

export interface ProbeStopCommand extends CommandCommon {
  readonly command: 'probe-stop';
  readonly probeId: bigint;
}

export interface FlushEventsCommand extends CommandCommon {
  readonly command: 'flush-events';
  /** FLTB_FLUSH_*; default 0 (push what is queued). */
  readonly flags?: number;
}

export type Command =
  | HelloCommand
  | ConfigureCommand
  | GetStatsCommand
  | ProbeStartCommand
  | ProbeStopCommand
  | FlushEventsCommand;

export interface HelloReplyBody {
  readonly protocolVersion: number;
  readonly driverMajor: number;
  readonly driverMinor: number;
  readonly driverPatch: number;
  readonly capabilities: number;
  readonly maxRecordBytes: number;
  readonly maxBatchBytes: number;
  readonly queueLimit: number;
  readonly nextSequence: bigint;
  readonly eventTypeMask: bigint;
}

export interface ConfigureReplyBody {
  readonly eventTypeMask: bigint;
  readonly queueLimit: number;
  readonly managedCount: number;
  readonly observeCount: number;
}

export interface StatsReplyBody {
  readonly eventsProduced: bigint;
  readonly eventsDelivered: bigint;
  readonly eventsDropped: bigint;
  readonly nextSequence: bigint;
  readonly queueDepth: number;
  readonly queueLimit: number;
  readonly pendedOperations: number;
  readonly managedStreams: number;
  readonly activeProbes: number;
  readonly connections: number;
  /** FLTB_EVENT_TYPE_SLOTS counters, indexed by FLTB_EVENT_*. */
  readonly perTypeProduced: readonly bigint[];
}

export interface ProbeStartReplyBody {
  readonly probeId: bigint;
}

export interface FlushEventsReplyBody {
  readonly discarded: bigint;
  readonly nextSequence: bigint;
}

interface ReplyCommon {
  /** Header.Version; default FLTB_PROTOCOL_VERSION when encoding, always set when decoded. */
  readonly version?: number;
  /** NTSTATUS, unsigned. */
  readonly status: number;
  readonly requestId: bigint;
}

/**
 * A reply without `body` is a bare FLTB_REPLY_HEADER: a refused command (failure status), or
 * PROBE_STOP's reply, which never has a body. A body comes with a success status, or for HELLO
 * with STATUS_REVISION_MISMATCH (ProtocolVersion then names the driver's version).
 */
export interface HelloReply extends ReplyCommon {
  readonly command: 'hello';
  readonly body?: HelloReplyBody;
}
export interface ConfigureReply extends ReplyCommon {
  readonly command: 'configure';
  readonly body?: ConfigureReplyBody;
}
export interface StatsReply extends ReplyCommon {
  readonly command: 'get-stats';
  readonly body?: StatsReplyBody;
}
export interface ProbeStartReply extends ReplyCommon {
  readonly command: 'probe-start';
  readonly body?: ProbeStartReplyBody;
}
export interface ProbeStopReply extends ReplyCommon {
  readonly command: 'probe-stop';
}
export interface FlushEventsReply extends ReplyCommon {
  readonly command: 'flush-events';
  readonly body?: FlushEventsReplyBody;
}

/**
 * The refusal of a command whose Command field names no command (or of a buffer too short to
 * have one: then commandCode and requestId are 0). Always a bare header with a failure status
 * (STATUS_INVALID_DEVICE_REQUEST, or STATUS_INVALID_PARAMETER for an unreadable command).
 */
export interface UnknownCommandReply extends ReplyCommon {
  readonly command: 'unknown';
  /** The Command value answered: 0 or above FLTB_CMD_MAX. */
  readonly commandCode: number;
}

export type Reply =
  | HelloReply
  | ConfigureReply
  | StatsReply
  | ProbeStartReply
  | ProbeStopReply
  | FlushEventsReply
  | UnknownCommandReply;

export interface DecodeCommandOptions {
  /** The version agreed by HELLO (default FLTB_PROTOCOL_VERSION); HELLO may carry any. */
  readonly version?: number;
}

export interface DecodeReplyOptions {
  /** The version agreed by HELLO (default FLTB_PROTOCOL_VERSION); HELLO's reply may carry any. */
  readonly version?: number;
  /** Refuse a reply to any other command ('bad-command'). */
  readonly command?: CommandName;
  /** Refuse a reply with any other RequestId ('bad-value'). */
  readonly requestId?: bigint;
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.
// ---------------------------------------------------------------------------------------------

function fail(reason: ProtocolError['reason'], offset: number, detail: string): never {
  throw new ProtocolError(reason, offset, detail);
}

function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

/** True when a reply of this size and status may carry the command's body. */
function bodyAllowed(code: number, status: number): boolean {
  return (
    ntSuccess(status) || (code === FLTB_CMD_HELLO && status === NtStatus.STATUS_REVISION_MISMATCH)
  );
}

function oplockLevelToWireChecked(level: unknown, what: string): number {
  const code = (OPLOCK_LEVELS as readonly unknown[]).indexOf(level);
  if (code < 0) {
    throw new InvalidArgumentError(
      `${what} must be one of ${OPLOCK_LEVELS.join(', ')}, got ${String(level)}`,
    );
  }
  return code;
}

function checkVersion(value: unknown, what: string): number {
  return checkUint(value ?? FLTB_PROTOCOL_VERSION, 16, what);
}

// ---------------------------------------------------------------------------------------------
// Connection context.
// ---------------------------------------------------------------------------------------------

export function encodeConnectContext(context: ConnectContext): Uint8Array {
  if (context === null || typeof context !== 'object') {
    throw new InvalidArgumentError('a connect context must be an object');
  }
  const w = Writer.alloc(CC.size);
  const o = CC.offset;
  w.u32(o.Magic, FLTB_MAGIC_CONNECT, 'Magic');
  w.u16(o.Version, checkVersion(context.version, 'version'), 'version');
  w.u16(o.Size, CC.size, 'Size');
  w.u32(o.ClientCapabilities, context.clientCapabilities, 'clientCapabilities');
  return w.bytes;
}

/**
 * Decode FLTB_CONNECT_CONTEXT. Refuses a wrong Magic, a Version below FLTB_PROTOCOL_VERSION_MIN
 * (no version both sides could agree on), a Size other than sizeof, and a buffer of another length.
 * Capability bits the driver does not know are kept (capabilities are negotiated, not commands).
 */
export function decodeConnectContext(input: ByteInput): Required<ConnectContext> {
  return decodeGuard('connect context', input, (r) => {
    const o = CC.offset;
    if (r.length < CC.size)
      fail('short-buffer', r.length, `a connect context is ${CC.size} bytes, got ${r.length}`);
    const magic = r.u32(o.Magic);
    if (magic !== FLTB_MAGIC_CONNECT)
      fail('bad-magic', o.Magic, `Magic ${hex(magic)} is not FLTB_MAGIC_CONNECT`);
    const version = r.u16(o.Version);
    if (version < FLTB_PROTOCOL_VERSION_MIN) {
      fail('version-mismatch', o.Version, `Version ${version} is below FLTB_PROTOCOL_VERSION_MIN`);
    }
    const size = r.u16(o.Size);
    if (size !== CC.size) fail('bad-header-size', o.Size, `Size ${size} is not ${CC.size}`);
    if (r.length !== CC.size)
      fail('bad-total', CC.size, `${r.length - CC.size} byte(s) past the context`);
    return { version, clientCapabilities: r.u32(o.ClientCapabilities) };
  });
}

// ---------------------------------------------------------------------------------------------
// Commands.
// ---------------------------------------------------------------------------------------------

function writeCommandHeader(w: Writer, code: number, cmd: Command, size: number): void {
  const o = CH.offset;
  w.u32(o.Magic, FLTB_MAGIC_COMMAND, 'Magic');
  w.u16(o.Version, checkVersion(cmd.version, 'version'), 'version');
  w.u16(o.Command, code, 'command');
  w.u32(o.Size, size, 'Size');
  w.u64(o.RequestId, cmd.requestId, 'requestId');
}

/** Bytes of a namespace entry: FLTB_NAMESPACE_ENTRY, the name, zero padding to 8. */
function namespaceEntryBytes(ns: NamespaceSpec): number {
  return NSE.size + alignUp(ns.path.length * 2);
}

/** Encode a command. Values that the driver would refuse throw InvalidArgumentError. */
export function encodeCommand(cmd: Command): Uint8Array {
  if (cmd === null || typeof cmd !== 'object') {
    throw new InvalidArgumentError('a command must be an object');
  }
  const code = commandToWire(cmd.command);
  switch (cmd.command) {
    case 'hello': {
      const w = Writer.alloc(HLQ.size);
      writeCommandHeader(w, code, cmd, HLQ.size);
      const o = HLQ.offset;
      const min = checkUint(cmd.minVersion, 16, 'minVersion');
      const max = checkUint(cmd.maxVersion, 16, 'maxVersion');
      if (min > max) throw new InvalidArgumentError(`minVersion ${min} is above maxVersion ${max}`);
      w.u16(o.MinVersion, min, 'minVersion');
      w.u16(o.MaxVersion, max, 'maxVersion');
      w.u32(o.ClientCapabilities, cmd.clientCapabilities, 'clientCapabilities');
      w.u32(o.ClientProcessId, cmd.clientProcessId, 'clientProcessId');
      return w.bytes;
    }
    case 'configure': {
      const namespaces = cmd.namespaces;
      let flags = 0;
      let size = CFQ.size;
      if (namespaces !== undefined) {
        if (!Array.isArray(namespaces))
          throw new InvalidArgumentError('namespaces must be an array');
        if (namespaces.length > FLTB_MAX_NAMESPACES) {
          throw new InvalidArgumentError(
            `${namespaces.length} namespaces; at most ${FLTB_MAX_NAMESPACES} are allowed`,
          );
        }
        flags |= FLTB_CONFIGURE_SET_NAMESPACES;
        for (const [i, ns] of namespaces.entries()) {
          checkName(ns?.path, FLTB_MAX_NAME_BYTES, `namespaces[${i}].path`);
          size += namespaceEntryBytes(ns);
        }
      }
      if (cmd.eventTypeMask !== undefined) flags |= FLTB_CONFIGURE_SET_EVENT_MASK;
      if (cmd.queueLimit !== undefined) flags |= FLTB_CONFIGURE_SET_QUEUE_LIMIT;
      const w = Writer.alloc(size);
      writeCommandHeader(w, code, cmd, size);
      const o = CFQ.offset;
      if (cmd.eventTypeMask !== undefined) {
        const mask = checkU64(cmd.eventTypeMask, 'eventTypeMask');
        if ((mask & ~FLTB_EVENT_MASK_ALL) !== 0n) {
          throw new InvalidArgumentError(`eventTypeMask ${hex(mask)} has bits of no event type`);
        }
        w.u64(o.EventTypeMask, mask, 'eventTypeMask');
      }
      if (cmd.queueLimit !== undefined) {
        const limit = checkUint(cmd.queueLimit, 32, 'queueLimit');
        if (limit < FLTB_QUEUE_LIMIT_MIN || limit > FLTB_QUEUE_LIMIT_MAX) {
          throw new InvalidArgumentError(
            `queueLimit ${limit} is outside ${FLTB_QUEUE_LIMIT_MIN}..${FLTB_QUEUE_LIMIT_MAX}`,
          );
        }
        w.u32(o.QueueLimit, limit, 'queueLimit');
      }
      w.u32(o.Flags, flags, 'Flags');
      w.u16(o.NamespaceCount, namespaces?.length ?? 0, 'NamespaceCount');
      let p = CFQ.size;
      for (const [i, ns] of (namespaces ?? []).entries()) {
        const kind = NAMESPACE_KINDS.indexOf(ns.kind);
        if (kind < 1) {
          throw new InvalidArgumentError(
            `namespaces[${i}].kind must be 'managed' or 'observe', got ${String(ns.kind)}`,
          );
        }
        const entry = namespaceEntryBytes(ns);
        w.u16(p + NSE.offset.Size, entry, 'entry Size');
        w.u16(p + NSE.offset.Kind, kind, 'Kind');
        w.u16(p + NSE.offset.NameBytes, ns.path.length * 2, 'NameBytes');
        w.utf16(p + NSE.size, ns.path);
        p += entry;
      }
      return w.bytes;
    }
    case 'get-stats': {
      const w = Writer.alloc(CH.size);
      writeCommandHeader(w, code, cmd, CH.size);
      return w.bytes;
    }
    case 'probe-start': {
      const path = checkName(cmd.path, FLTB_MAX_NAME_BYTES, 'path');
      const size = PSQ.size + alignUp(path.length * 2);
      const w = Writer.alloc(size);
      writeCommandHeader(w, code, cmd, size);
      const o = PSQ.offset;
      w.u32(o.Flags, checkFlags(cmd.flags ?? 0, FLTB_PROBE_VALID_FLAGS, 'flags'), 'flags');
      if (cmd.kind === 'oplock') {
        const level = oplockLevelToWireChecked(cmd.oplockLevel, 'oplockLevel');
        if (level === 0)
          throw new InvalidArgumentError('an oplock probe needs a level other than NONE');
        w.u32(o.Kind, 1, 'kind');
        w.u32(o.OplockLevel, level, 'oplockLevel');
      } else if (cmd.kind === 'read') {
        const length = checkUint(cmd.readLength, 32, 'readLength');
        if (length < 1 || length > FLTB_PROBE_READ_MAX) {
          throw new InvalidArgumentError(
            `readLength ${length} is outside 1..${FLTB_PROBE_READ_MAX}`,
          );
        }
        w.u32(o.Kind, 2, 'kind');
        w.u32(o.ReadLength, length, 'readLength');
        w.u64(o.ReadOffset, cmd.readOffset, 'readOffset');
      } else {
        throw new InvalidArgumentError(
          `probe kind must be 'oplock' or 'read', got ${String((cmd as { kind: unknown }).kind)}`,
        );
      }
      w.u16(o.PathBytes, path.length * 2, 'PathBytes');
      w.utf16(PSQ.size, path);
      return w.bytes;
    }
    case 'probe-stop': {
      const w = Writer.alloc(PTQ.size);
      writeCommandHeader(w, code, cmd, PTQ.size);
      w.u64(PTQ.offset.ProbeId, cmd.probeId, 'probeId');
      return w.bytes;
    }
    case 'flush-events': {
      const w = Writer.alloc(FLQ.size);
      writeCommandHeader(w, code, cmd, FLQ.size);
      w.u32(FLQ.offset.Flags, checkFlags(cmd.flags ?? 0, FLTB_FLUSH_VALID_FLAGS, 'flags'), 'flags');
      return w.bytes;
    }
  }
}

/**
 * Decode a command as the driver validates it: Magic, Command, Version (the agreed one; HELLO
 * may carry any), Size (== buffer length, <= FLTB_MAX_COMMAND_BYTES, == the command's exact or
 * implied size), Flags zero, then the command's own fields. Throws ProtocolError only.
 */
export function decodeCommand(input: ByteInput, options: DecodeCommandOptions = {}): Command {
  return decodeGuard('command', input, (r) =>
    decodeCommandFrom(r, options.version ?? FLTB_PROTOCOL_VERSION),
  );
}

function decodeCommandFrom(r: Reader, agreed: number): Command {
  const o = CH.offset;
  if (r.length < CH.size) {
    fail('short-buffer', r.length, `a command is at least ${CH.size} bytes, got ${r.length}`);
  }
  const magic = r.u32(o.Magic);
  if (magic !== FLTB_MAGIC_COMMAND)
    fail('bad-magic', o.Magic, `Magic ${hex(magic)} is not FLTB_MAGIC_COMMAND`);
  const code = r.u16(o.Command);
  const command = COMMAND_NAMES[code];
  if (command === undefined) fail('bad-command', o.Command, `Command ${code} is not FLTB_CMD_*`);
  const version = r.u16(o.Version);
  if (code !== FLTB_CMD_HELLO && version !== agreed) {
    fail('version-mismatch', o.Version, `Version ${version} is not the agreed version ${agreed}`);
  }
  const size = r.u32(o.Size);
  if (size > FLTB_MAX_COMMAND_BYTES) {
    fail('too-large', o.Size, `Size ${size} is above FLTB_MAX_COMMAND_BYTES`);
  }
  if (size !== r.length)
    fail('bad-total', o.Size, `Size ${size} is not the buffer length ${r.length}`);
  const flags = r.u32(o.Flags);
  if (flags !== 0) fail('bad-flags', o.Flags, `header Flags ${hex(flags)} must be zero`);
  const requestId = r.u64(o.RequestId);
  const fixed = COMMAND_FIXED_BYTES[code] as number;
  if (code !== FLTB_CMD_CONFIGURE && code !== FLTB_CMD_PROBE_START && size !== fixed) {
    fail('bad-total', o.Size, `Size ${size} is not sizeof the ${command} command (${fixed})`);
  }
  if (size < fixed) fail('short-buffer', size, `the ${command} command is at least ${fixed} bytes`);

  switch (code) {
    case FLTB_CMD_HELLO: {
      const h = HLQ.offset;
      const minVersion = r.u16(h.MinVersion);
      const maxVersion = r.u16(h.MaxVersion);
      if (minVersion > maxVersion) {
        fail(
          'bad-value',
          h.MinVersion,
          `MinVersion ${minVersion} is above MaxVersion ${maxVersion}`,
        );
      }
      return {
        command: 'hello',
        version,
        requestId,
        minVersion,
        maxVersion,
        clientCapabilities: r.u32(h.ClientCapabilities),
        clientProcessId: r.u32(h.ClientProcessId),
      };
    }
    case FLTB_CMD_CONFIGURE:
      return decodeConfigure(r, version, requestId, size);
    case FLTB_CMD_GET_STATS:
      return { command: 'get-stats', version, requestId };
    case FLTB_CMD_PROBE_START:
      return decodeProbeStart(r, version, requestId, size);
    case FLTB_CMD_PROBE_STOP:
      return { command: 'probe-stop', version, requestId, probeId: r.u64(PTQ.offset.ProbeId) };
    default: {
      // FLTB_CMD_FLUSH_EVENTS, the last one (COMMAND_NAMES ruled out every other code).
      const f = r.u32(FLQ.offset.Flags);
      if ((f & ~FLTB_FLUSH_VALID_FLAGS) !== 0) {
        fail(
          'bad-flags',
          FLQ.offset.Flags,
          `Flags ${hex(f)} has bits outside FLTB_FLUSH_VALID_FLAGS`,
        );
      }
      return { command: 'flush-events', version, requestId, flags: f };
    }
  }
}

function decodeConfigure(
  r: Reader,
  version: number,
  requestId: bigint,
  size: number,
): ConfigureCommand {
  const o = CFQ.offset;
  const flags = r.u32(o.Flags);
  if ((flags & ~FLTB_CONFIGURE_VALID_FLAGS) !== 0) {
    fail('bad-flags', o.Flags, `Flags ${hex(flags)} has bits outside FLTB_CONFIGURE_VALID_FLAGS`);
  }
  const mask = r.u64(o.EventTypeMask);
  if (flags & FLTB_CONFIGURE_SET_EVENT_MASK) {
    if ((mask & ~FLTB_EVENT_MASK_ALL) !== 0n) {
      fail('bad-flags', o.EventTypeMask, `EventTypeMask ${hex(mask)} has bits of no event type`);
    }
  } else if (mask !== 0n) {
    fail('bad-value', o.EventTypeMask, 'EventTypeMask must be zero without SET_EVENT_MASK');
  }
  const limit = r.u32(o.QueueLimit);
  if (flags & FLTB_CONFIGURE_SET_QUEUE_LIMIT) {
    if (limit < FLTB_QUEUE_LIMIT_MIN || limit > FLTB_QUEUE_LIMIT_MAX) {
      fail(
        'bad-value',
        o.QueueLimit,
        `QueueLimit ${limit} is outside ${FLTB_QUEUE_LIMIT_MIN}..${FLTB_QUEUE_LIMIT_MAX}`,
      );
    }
  } else if (limit !== 0) {
    fail('bad-value', o.QueueLimit, 'QueueLimit must be zero without SET_QUEUE_LIMIT');
  }
  const count = r.u16(o.NamespaceCount);
  if (count > FLTB_MAX_NAMESPACES) {
    fail('bad-count', o.NamespaceCount, `NamespaceCount ${count} is above FLTB_MAX_NAMESPACES`);
  }
  if (!(flags & FLTB_CONFIGURE_SET_NAMESPACES) && count !== 0) {
    fail('bad-count', o.NamespaceCount, 'NamespaceCount must be zero without SET_NAMESPACES');
  }
  const namespaces: NamespaceSpec[] = [];
  let p = CFQ.size;
  for (let i = 0; i < count; i++) {
    if (p + NSE.size > size) {
      fail('bad-count', p, `NamespaceCount ${count}, but entry ${i} does not fit in Size ${size}`);
    }
    const entrySize = r.u16(p + NSE.offset.Size);
    if (entrySize % 8 !== 0)
      fail('record-unaligned', p, `entry Size ${entrySize} is not a multiple of 8`);
    const kindCode = r.u16(p + NSE.offset.Kind);
    const kind = NAMESPACE_KINDS[kindCode];
    if (kind === undefined)
      fail('bad-value', p + NSE.offset.Kind, `Kind ${kindCode} is not FLTB_NAMESPACE_*`);
    const nameBytes = r.u16(p + NSE.offset.NameBytes);
    if (nameBytes < 2 || nameBytes > FLTB_MAX_NAME_BYTES || nameBytes % 2 !== 0) {
      fail(
        'bad-name',
        p + NSE.offset.NameBytes,
        `NameBytes ${nameBytes} is not even in 2..${FLTB_MAX_NAME_BYTES}`,
      );
    }
    if (entrySize !== NSE.size + alignUp(nameBytes)) {
      fail(
        'record-size',
        p,
        `entry Size ${entrySize} is not ${NSE.size + alignUp(nameBytes)} for NameBytes ${nameBytes}`,
      );
    }
    if (p + entrySize > size) fail('record-size', p, `entry ${i} runs past Size ${size}`);
    namespaces.push({ kind, path: r.utf16(p + NSE.size, nameBytes) });
    p += entrySize;
  }
  if (p !== size) fail('bad-total', p, `${size - p} byte(s) after the last namespace entry`);
  const out: {
    command: 'configure';
    version: number;
    requestId: bigint;
    eventTypeMask?: bigint;
    queueLimit?: number;
    namespaces?: NamespaceSpec[];
  } = { command: 'configure', version, requestId };
  if (flags & FLTB_CONFIGURE_SET_EVENT_MASK) out.eventTypeMask = mask;
  if (flags & FLTB_CONFIGURE_SET_QUEUE_LIMIT) out.queueLimit = limit;
  if (flags & FLTB_CONFIGURE_SET_NAMESPACES) out.namespaces = namespaces;
  return out;
}

function decodeProbeStart(
  r: Reader,
  version: number,
  requestId: bigint,
  size: number,
): ProbeStartCommand {
  const o = PSQ.offset;
  const kindCode = r.u32(o.Kind);
  const kind: ProbeKindName | undefined = PROBE_KINDS[kindCode];
  if (kind === undefined) fail('bad-value', o.Kind, `Kind ${kindCode} is not FLTB_PROBE_*`);
  const flags = r.u32(o.Flags);
  if ((flags & ~FLTB_PROBE_VALID_FLAGS) !== 0) {
    fail('bad-flags', o.Flags, `Flags ${hex(flags)} has bits outside FLTB_PROBE_VALID_FLAGS`);
  }
  const levelCode = r.u32(o.OplockLevel);
  const readLength = r.u32(o.ReadLength);
  const readOffset = r.u64(o.ReadOffset);
  if (kind === 'oplock') {
    if (levelCode === 0 || levelCode > FLTB_OPLOCK_LEVEL_MAX) {
      fail('bad-value', o.OplockLevel, `OplockLevel ${levelCode} is not a level other than NONE`);
    }
    if (readLength !== 0)
      fail('bad-value', o.ReadLength, 'ReadLength must be zero for an oplock probe');
    if (readOffset !== 0n)
      fail('bad-value', o.ReadOffset, 'ReadOffset must be zero for an oplock probe');
  } else {
    if (levelCode !== 0)
      fail('bad-value', o.OplockLevel, 'OplockLevel must be zero for a read probe');
    if (readLength < 1 || readLength > FLTB_PROBE_READ_MAX) {
      fail(
        'bad-value',
        o.ReadLength,
        `ReadLength ${readLength} is outside 1..${FLTB_PROBE_READ_MAX}`,
      );
    }
  }
  const pathBytes = r.u16(o.PathBytes);
  if (pathBytes < 2 || pathBytes > FLTB_MAX_NAME_BYTES || pathBytes % 2 !== 0) {
    fail(
      'bad-name',
      o.PathBytes,
      `PathBytes ${pathBytes} is not even in 2..${FLTB_MAX_NAME_BYTES}`,
    );
  }
  const expected = PSQ.size + alignUp(pathBytes);
  if (size !== expected) {
    fail('bad-total', CH.offset.Size, `Size ${size} is not ${expected} for PathBytes ${pathBytes}`);
  }
  const path = r.utf16(PSQ.size, pathBytes);
  if (kind === 'oplock') {
    return {
      command: 'probe-start',
      version,
      requestId,
      kind,
      flags,
      oplockLevel: OPLOCK_LEVELS[levelCode] as OplockLevel,
      path,
    };
  }
  return { command: 'probe-start', version, requestId, kind, flags, readOffset, readLength, path };
}

// ---------------------------------------------------------------------------------------------
// Replies.
// ---------------------------------------------------------------------------------------------

/**
 * Encode a reply. A reply with `body` is the command's full reply; without, a bare
 * FLTB_REPLY_HEADER (a refused command). Throws InvalidArgumentError for a combination the
 * decoder refuses (a body with a failure status, a success without the body).
 */
export function encodeReply(reply: Reply): Uint8Array {
  if (reply === null || typeof reply !== 'object') {
    throw new InvalidArgumentError('a reply must be an object');
  }
  if (reply.command === 'unknown') return encodeUnknownCommandReply(reply);
  const code = commandToWire(reply.command);
  const body = (reply as { body?: unknown }).body;
  const status = reply.status;
  const full = REPLY_BYTES[code] as number;
  let size = RH.size;
  if (body !== undefined) {
    if (reply.command === 'probe-stop')
      throw new InvalidArgumentError('a probe-stop reply has no body');
    if (typeof body !== 'object' || body === null)
      throw new InvalidArgumentError('body must be an object');
    size = full;
  }
  const w = Writer.alloc(size);
  const o = RH.offset;
  w.u32(o.Magic, FLTB_MAGIC_REPLY, 'Magic');
  w.u16(o.Version, checkVersion(reply.version, 'version'), 'version');
  w.u16(o.Command, code, 'command');
  w.u32(o.Size, size, 'Size');
  w.status(o.Status, status, 'status');
  w.u64(o.RequestId, reply.requestId, 'requestId');
  const unsigned = (status as number) >>> 0;
  if (body !== undefined && !bodyAllowed(code, unsigned)) {
    throw new InvalidArgumentError(
      `a ${reply.command} reply with failure status ${hex(unsigned)} has no body (bare header)`,
    );
  }
  if (body === undefined && full > RH.size && ntSuccess(unsigned)) {
    throw new InvalidArgumentError(`a successful ${reply.command} reply needs its body`);
  }
  switch (reply.command) {
    case 'hello': {
      const b = reply.body;
      if (b === undefined) break;
      const h = HLR.offset;
      w.u16(h.ProtocolVersion, b.protocolVersion, 'protocolVersion');
      w.u16(h.DriverMajor, b.driverMajor, 'driverMajor');
      w.u16(h.DriverMinor, b.driverMinor, 'driverMinor');
      w.u16(h.DriverPatch, b.driverPatch, 'driverPatch');
      w.u32(h.Capabilities, b.capabilities, 'capabilities');
      w.u32(h.MaxRecordBytes, b.maxRecordBytes, 'maxRecordBytes');
      w.u32(h.MaxBatchBytes, b.maxBatchBytes, 'maxBatchBytes');
      w.u32(h.QueueLimit, b.queueLimit, 'queueLimit');
      w.u64(h.NextSequence, b.nextSequence, 'nextSequence');
      w.u64(h.EventTypeMask, b.eventTypeMask, 'eventTypeMask');
      break;
    }
    case 'configure': {
      const b = reply.body;
      if (b === undefined) break;
      const c = CFR.offset;
      checkConfigureReply(b.queueLimit, b.managedCount, b.observeCount);
      w.u64(c.EventTypeMask, b.eventTypeMask, 'eventTypeMask');
      w.u32(c.QueueLimit, b.queueLimit, 'queueLimit');
      w.u16(c.ManagedCount, b.managedCount, 'managedCount');
      w.u16(c.ObserveCount, b.observeCount, 'observeCount');
      break;
    }
    case 'get-stats': {
      const b = reply.body;
      if (b === undefined) break;
      const s = STR.offset;
      w.u64(s.EventsProduced, b.eventsProduced, 'eventsProduced');
      w.u64(s.EventsDelivered, b.eventsDelivered, 'eventsDelivered');
      w.u64(s.EventsDropped, b.eventsDropped, 'eventsDropped');
      w.u64(s.NextSequence, b.nextSequence, 'nextSequence');
      w.u32(s.QueueDepth, b.queueDepth, 'queueDepth');
      w.u32(s.QueueLimit, b.queueLimit, 'queueLimit');
      w.u32(s.PendedOperations, b.pendedOperations, 'pendedOperations');
      w.u32(s.ManagedStreams, b.managedStreams, 'managedStreams');
      w.u32(s.ActiveProbes, b.activeProbes, 'activeProbes');
      w.u32(s.Connections, b.connections, 'connections');
      const per = b.perTypeProduced;
      if (!Array.isArray(per) || per.length !== FLTB_EVENT_TYPE_SLOTS) {
        throw new InvalidArgumentError(
          `perTypeProduced must have ${FLTB_EVENT_TYPE_SLOTS} entries`,
        );
      }
      for (let i = 0; i < FLTB_EVENT_TYPE_SLOTS; i++) {
        w.u64(s.PerTypeProduced + 8 * i, per[i], `perTypeProduced[${i}]`);
      }
      break;
    }
    case 'probe-start': {
      const b = reply.body;
      if (b === undefined) break;
      if (b.probeId === 0n)
        throw new InvalidArgumentError('probeId of a started probe is non-zero');
      w.u64(PSR.offset.ProbeId, b.probeId, 'probeId');
      break;
    }
    case 'probe-stop':
      break;
    case 'flush-events': {
      const b = reply.body;
      if (b === undefined) break;
      w.u64(FLR.offset.Discarded, b.discarded, 'discarded');
      w.u64(FLR.offset.NextSequence, b.nextSequence, 'nextSequence');
      break;
    }
  }
  return w.bytes;
}

function encodeUnknownCommandReply(reply: UnknownCommandReply): Uint8Array {
  const code = checkUint(reply.commandCode, 16, 'commandCode');
  if (COMMAND_NAMES[code] !== undefined) {
    throw new InvalidArgumentError(`commandCode ${code} is a known command: use its name`);
  }
  if ((reply as { body?: unknown }).body !== undefined) {
    throw new InvalidArgumentError('a reply to an unknown command has no body');
  }
  const w = Writer.alloc(RH.size);
  const o = RH.offset;
  w.u32(o.Magic, FLTB_MAGIC_REPLY, 'Magic');
  w.u16(o.Version, checkVersion(reply.version, 'version'), 'version');
  w.u16(o.Command, code, 'commandCode');
  w.u32(o.Size, RH.size, 'Size');
  w.status(o.Status, reply.status, 'status');
  if (ntSuccess(reply.status >>> 0)) {
    throw new InvalidArgumentError('a reply to an unknown command has a failure status');
  }
  w.u64(o.RequestId, reply.requestId, 'requestId');
  return w.bytes;
}

function checkConfigureReply(queueLimit: unknown, managed: unknown, observe: unknown): void {
  const limit = checkUint(queueLimit, 32, 'queueLimit');
  if (limit < FLTB_QUEUE_LIMIT_MIN || limit > FLTB_QUEUE_LIMIT_MAX) {
    throw new InvalidArgumentError(
      `queueLimit ${limit} is outside ${FLTB_QUEUE_LIMIT_MIN}..${FLTB_QUEUE_LIMIT_MAX}`,
    );
  }
  const total = checkUint(managed, 16, 'managedCount') + checkUint(observe, 16, 'observeCount');
  if (total > FLTB_MAX_NAMESPACES) {
    throw new InvalidArgumentError(
      `managedCount + observeCount ${total} is above ${FLTB_MAX_NAMESPACES}`,
    );
  }
}

/**
 * Decode a reply: Magic, Command (and the expected one), Version (the agreed one; HELLO's reply
 * may carry any), Size (== buffer length, <= FLTB_MAX_REPLY_BYTES, and either the command's full
 * reply or a bare header), the expected RequestId, then the body. A bare header stands for a
 * refused command and needs a failure status, unless the command's reply is bare anyway
 * (PROBE_STOP); a body needs a success status, except HELLO's with STATUS_REVISION_MISMATCH.
 */
export function decodeReply(input: ByteInput, options: DecodeReplyOptions = {}): Reply {
  return decodeGuard('reply', input, (r) => decodeReplyFrom(r, options));
}

function decodeReplyFrom(r: Reader, options: DecodeReplyOptions): Reply {
  const o = RH.offset;
  if (r.length < RH.size)
    fail('short-buffer', r.length, `a reply is at least ${RH.size} bytes, got ${r.length}`);
  const magic = r.u32(o.Magic);
  if (magic !== FLTB_MAGIC_REPLY)
    fail('bad-magic', o.Magic, `Magic ${hex(magic)} is not FLTB_MAGIC_REPLY`);
  const code = r.u16(o.Command);
  const command = COMMAND_NAMES[code];
  if (options.command !== undefined && options.command !== command) {
    fail(
      'bad-command',
      o.Command,
      `a reply to command ${code}, expected one to ${options.command}`,
    );
  }
  const version = r.u16(o.Version);
  const agreed = options.version ?? FLTB_PROTOCOL_VERSION;
  if (code !== FLTB_CMD_HELLO && version !== agreed) {
    fail('version-mismatch', o.Version, `Version ${version} is not the agreed version ${agreed}`);
  }
  const size = r.u32(o.Size);
  if (size > FLTB_MAX_REPLY_BYTES)
    fail('too-large', o.Size, `Size ${size} is above FLTB_MAX_REPLY_BYTES`);
  if (size !== r.length)
    fail('bad-total', o.Size, `Size ${size} is not the buffer length ${r.length}`);
  const status = r.u32(o.Status);
  const requestId = r.u64(o.RequestId);
  if (options.requestId !== undefined && requestId !== options.requestId) {
    fail(
      'bad-value',
      o.RequestId,
      `RequestId ${requestId} is not the expected ${options.requestId}`,
    );
  }
  if (command === undefined) {
    // Only a refusal can answer a command that does not exist.
    if (size !== RH.size || ntSuccess(status)) {
      fail(
        'bad-command',
        o.Command,
        `Command ${code} is not FLTB_CMD_* (only a bare refusal may name it)`,
      );
    }
    return { command: 'unknown', commandCode: code, version, status, requestId };
  }
  const full = REPLY_BYTES[code] as number;
  if (size === RH.size && full > RH.size) {
    if (ntSuccess(status)) {
      fail(
        'bad-total',
        o.Size,
        `a successful ${command} reply is ${full} bytes, not a bare header`,
      );
    }
    return { command, version, status, requestId } as Reply;
  }
  if (size !== full)
    fail('bad-total', o.Size, `Size ${size} is neither ${full} nor ${RH.size} for ${command}`);
  if (full > RH.size && !bodyAllowed(code, status)) {
    fail(
      'bad-total',
      o.Size,
      `a ${command} reply with failure status ${hex(status)} must be a bare header`,
    );
  }
  switch (code) {
    case FLTB_CMD_HELLO: {
      const h = HLR.offset;
      const body: HelloReplyBody = {
        protocolVersion: r.u16(h.ProtocolVersion),
        driverMajor: r.u16(h.DriverMajor),
        driverMinor: r.u16(h.DriverMinor),
        driverPatch: r.u16(h.DriverPatch),
        capabilities: r.u32(h.Capabilities),
        maxRecordBytes: r.u32(h.MaxRecordBytes),
        maxBatchBytes: r.u32(h.MaxBatchBytes),
        queueLimit: r.u32(h.QueueLimit),
        nextSequence: r.u64(h.NextSequence),
        eventTypeMask: r.u64(h.EventTypeMask),
      };
      return { command: 'hello', version, status, requestId, body };
    }
    case FLTB_CMD_CONFIGURE: {
      const c = CFR.offset;
      const queueLimit = r.u32(c.QueueLimit);
      if (queueLimit < FLTB_QUEUE_LIMIT_MIN || queueLimit > FLTB_QUEUE_LIMIT_MAX) {
        fail(
          'bad-value',
          c.QueueLimit,
          `QueueLimit ${queueLimit} is outside ${FLTB_QUEUE_LIMIT_MIN}..${FLTB_QUEUE_LIMIT_MAX}`,
        );
      }
      const managedCount = r.u16(c.ManagedCount);
      const observeCount = r.u16(c.ObserveCount);
      if (managedCount + observeCount > FLTB_MAX_NAMESPACES) {
        fail(
          'bad-count',
          c.ManagedCount,
          `${managedCount} + ${observeCount} namespaces is above FLTB_MAX_NAMESPACES`,
        );
      }
      const body: ConfigureReplyBody = {
        eventTypeMask: r.u64(c.EventTypeMask),
        queueLimit,
        managedCount,
        observeCount,
      };
      return { command: 'configure', version, status, requestId, body };
    }
    case FLTB_CMD_GET_STATS: {
      const s = STR.offset;
      const perTypeProduced: bigint[] = [];
      for (let i = 0; i < FLTB_EVENT_TYPE_SLOTS; i++)
        perTypeProduced.push(r.u64(s.PerTypeProduced + 8 * i));
      const body: StatsReplyBody = {
        eventsProduced: r.u64(s.EventsProduced),
        eventsDelivered: r.u64(s.EventsDelivered),
        eventsDropped: r.u64(s.EventsDropped),
        nextSequence: r.u64(s.NextSequence),
        queueDepth: r.u32(s.QueueDepth),
        queueLimit: r.u32(s.QueueLimit),
        pendedOperations: r.u32(s.PendedOperations),
        managedStreams: r.u32(s.ManagedStreams),
        activeProbes: r.u32(s.ActiveProbes),
        connections: r.u32(s.Connections),
        perTypeProduced,
      };
      return { command: 'get-stats', version, status, requestId, body };
    }
    case FLTB_CMD_PROBE_START: {
      const probeId = r.u64(PSR.offset.ProbeId);
      if (probeId === 0n)
        fail('bad-value', PSR.offset.ProbeId, 'ProbeId of a started probe is zero');
      return { command: 'probe-start', version, status, requestId, body: { probeId } };
    }
    case FLTB_CMD_PROBE_STOP:
      return { command: 'probe-stop', version, status, requestId };
    default:
      // FLTB_CMD_FLUSH_EVENTS.
      return {
        command: 'flush-events',
        version,
        status,
        requestId,
        body: {
          discarded: r.u64(FLR.offset.Discarded),
          nextSequence: r.u64(FLR.offset.NextSequence),
        },
      };
  }
}

/** Bytes a reply to `command` occupies when it carries its body. */
export function replyBytes(command: CommandName): number {
  return REPLY_BYTES[commandToWire(command)] as number;
}

/**
 * The bare reply refusing a command buffer, as the driver builds it: Command and RequestId
 * copied from the command when it has a full header, else 0; Version the one the reply carries
 * (the agreed version).
 */
export function refusal(
  input: unknown,
  status: number,
  version: number = FLTB_PROTOCOL_VERSION,
): Reply {
  let code = 0;
  let requestId = 0n;
  try {
    const r = decodeGuard('command', input, (x) => x);
    if (r.length >= CH.size) {
      code = r.u16(CH.offset.Command);
      requestId = r.u64(CH.offset.RequestId);
    }
  } catch {
    // Not a byte buffer: nothing to copy.
  }
  const command = COMMAND_NAMES[code];
  const s = status >>> 0;
  return command === undefined
    ? { command: 'unknown', commandCode: code, version, status: s, requestId }
    : { command, version, status: s, requestId };
}
