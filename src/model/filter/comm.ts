/**
 * Twin of driver/src/comm.c: the filter communication port \FltBridgePort, bytes in and bytes
 * out, so that a fltlib test double can serve it over a fake port.
 *
 *   connect(context)        the connect notify callback: validates FLTB_CONNECT_CONTEXT,
 *                           refuses past FLTB_PORT_MAX_CONNECTIONS.
 *   Connection.message()    the message notify callback (FilterSendMessage): every byte of the
 *                           command is validated (src/protocol decodeCommand, the same rules the
 *                           driver applies); a refused command gets a bare FLTB_REPLY_HEADER whose
 *                           Status names the reason (fltbridge_proto.h "Commands").
 *   Connection.nextBatch()  the batch the driver's drain would push with FltSendMessage: whole
 *                           records from the queue, within the client's buffer, encoded with
 *                           src/protocol's BatchBuilder.
 *
 * Refusal statuses: STATUS_INVALID_PARAMETER for malformed input (sizes, enums, counts, flags),
 * STATUS_REVISION_MISMATCH for a version nobody speaks, STATUS_INVALID_DEVICE_REQUEST for an
 * unknown command or any command before HELLO, STATUS_BUFFER_TOO_SMALL when the reply does not
 * fit the caller's output buffer, STATUS_NOT_FOUND for an unknown probe id.
 *
 * The driver's rules for names (an NT path: a leading backslash, no NUL) and for a read probe's
 * offset (below 2^63) apply here too, at the same point of the validation order (comm.c's
 * header), so the host harness's vectors for them compare byte for byte.
 */

import { ProtocolError } from '../../bridge/errors.js';
import { NtStatus } from '../../bridge/ntstatus.js';
import { BatchBuilder } from '../../protocol/batch.js';
import {
  type Command,
  commandFromWire,
  decodeCommand,
  decodeConnectContext,
  encodeReply,
  type Reply,
  replyBytes,
} from '../../protocol/commands.js';
import {
  FLTB_CAP_ALL,
  FLTB_CAP_EVENT_BATCHES,
  FLTB_COMMAND_HEADER,
  FLTB_DRIVER_VERSION_MAJOR,
  FLTB_DRIVER_VERSION_MINOR,
  FLTB_DRIVER_VERSION_PATCH,
  FLTB_MAGIC_COMMAND,
  FLTB_MAGIC_REPLY,
  FLTB_MAX_BATCH_BYTES,
  FLTB_MAX_RECORD_BYTES,
  FLTB_PORT_MAX_CONNECTIONS,
  FLTB_PROTOCOL_VERSION,
  FLTB_PROTOCOL_VERSION_MIN,
  FLTB_REPLY_HEADER,
} from '../../protocol/layout.js';
import type { FltBridgeFilter } from './filter.js';
import { isPolicyError } from './policy.js';

export type MessageResult = {
  /** What the message callback returns (FilterSendMessage's HRESULT comes from it). */
  readonly status: number;
  /** The reply bytes written to the output buffer (ReturnOutputBufferLength of them). */
  readonly reply: Uint8Array;
};

export type ConnectResult =
  | { readonly status: number; readonly connection: Connection }
  | { readonly status: number; readonly connection?: undefined };

/** A bare reply header (a refusal, or PROBE_STOP's reply), for any command code. */
export function bareReply(
  command: number,
  requestId: bigint,
  status: number,
  version: number,
): Uint8Array {
  const bytes = new Uint8Array(FLTB_REPLY_HEADER.size);
  const view = new DataView(bytes.buffer);
  const o = FLTB_REPLY_HEADER.offset;
  view.setUint32(o.Magic, FLTB_MAGIC_REPLY, true);
  view.setUint16(o.Version, version & 0xffff, true);
  view.setUint16(o.Command, command & 0xffff, true);
  view.setUint32(o.Size, FLTB_REPLY_HEADER.size, true);
  view.setInt32(o.Status, status | 0, true);
  view.setBigUint64(o.RequestId, requestId, true);
  return bytes;
}

export class CommPort {
  readonly #filter: FltBridgeFilter;
  readonly #connections = new Set<Connection>();

  constructor(filter: FltBridgeFilter) {
    this.#filter = filter;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The connect notify callback. */
  connect(context: Uint8Array): ConnectResult {
    try {
      decodeConnectContext(context);
    } catch (error) {
      if (error instanceof ProtocolError) {
        return {
          status:
            error.reason === 'version-mismatch'
              ? NtStatus.STATUS_REVISION_MISMATCH
              : NtStatus.STATUS_INVALID_PARAMETER,
        };
      }
      throw error;
    }
    if (this.#connections.size >= FLTB_PORT_MAX_CONNECTIONS) {
      return { status: NtStatus.STATUS_CONNECTION_COUNT_LIMIT };
    }
    const connection = new Connection(this.#filter, this, () =>
      this.#connections.delete(connection),
    );
    this.#connections.add(connection);
    return { status: NtStatus.STATUS_SUCCESS, connection };
  }
}

export class Connection {
  readonly #filter: FltBridgeFilter;
  readonly #port: CommPort;
  readonly #onClose: () => void;
  /** The protocol version agreed by HELLO. */
  version: number | undefined;
  #open = true;
  #subscribed = false;

  constructor(filter: FltBridgeFilter, port: CommPort, onClose: () => void) {
    this.#filter = filter;
    this.#port = port;
    this.#onClose = onClose;
  }

  get connected(): boolean {
    return this.#open;
  }

  /** The disconnect notify callback. */
  disconnect(): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.#subscribed) {
      this.#subscribed = false;
      this.#filter.events.unsubscribe();
    }
    this.#onClose();
  }

  /**
   * The message notify callback: one command in, its reply out (at most `outputBytes`).
   * Never throws for bad input.
   */
  message(input: Uint8Array, outputBytes = 4096): MessageResult {
    if (!this.#open) return { status: NtStatus.STATUS_PORT_DISCONNECTED, reply: new Uint8Array(0) };
    const bytes = input instanceof Uint8Array ? input : new Uint8Array(0);
    const header = rawHeader(bytes);
    const refuse = (status: number): MessageResult =>
      this.#fit(bareReply(header.command, header.requestId, status, header.version), outputBytes);
    if (!header.valid) return refuse(NtStatus.STATUS_INVALID_PARAMETER);
    const name = commandFromWire(header.command);
    if (name === undefined) return refuse(NtStatus.STATUS_INVALID_DEVICE_REQUEST);
    if (name !== 'hello' && this.version === undefined) {
      return refuse(NtStatus.STATUS_INVALID_DEVICE_REQUEST);
    }
    let command: Command;
    try {
      command = decodeCommand(bytes, { version: this.version ?? FLTB_PROTOCOL_VERSION });
    } catch (error) {
      if (error instanceof ProtocolError) {
        return refuse(
          error.reason === 'version-mismatch'
            ? NtStatus.STATUS_REVISION_MISMATCH
            : error.reason === 'bad-command'
              ? NtStatus.STATUS_INVALID_DEVICE_REQUEST
              : NtStatus.STATUS_INVALID_PARAMETER,
        );
      }
      throw error;
    }
    // comm.c FbCmdProbeStart: on top of the wire rules, the path must be an NT path (a leading
    // backslash, no NUL) and a read probe's offset a LARGE_INTEGER below 2^63 (negative values
    // are FILE_USE_FILE_POINTER_POSITION and kin to the I/O manager), checked before the output
    // buffer's size.
    if (
      command.command === 'probe-start' &&
      ((command.kind === 'read' && command.readOffset >= 1n << 63n) || !ntPathValid(command.path))
    ) {
      return refuse(NtStatus.STATUS_INVALID_PARAMETER);
    }
    if (outputBytes < replyBytes(command.command)) return refuse(NtStatus.STATUS_BUFFER_TOO_SMALL);
    // policy.c FbPolicyCreate (after the output check, as applying CONFIGURE): every namespace
    // path an NT path too.
    if (
      command.command === 'configure' &&
      command.namespaces !== undefined &&
      !command.namespaces.every((n) => ntPathValid(n.path))
    ) {
      return refuse(NtStatus.STATUS_INVALID_PARAMETER);
    }
    const reply = this.#execute(command);
    if (reply.command === 'probe-stop' || !('body' in reply) || reply.body === undefined) {
      return this.#fit(
        bareReply(header.command, command.requestId, reply.status, command.version ?? 1),
        outputBytes,
      );
    }
    return { status: NtStatus.STATUS_SUCCESS, reply: encodeReply(reply) };
  }

  #fit(reply: Uint8Array, outputBytes: number): MessageResult {
    if (outputBytes < reply.length) {
      return { status: NtStatus.STATUS_BUFFER_TOO_SMALL, reply: new Uint8Array(0) };
    }
    return { status: NtStatus.STATUS_SUCCESS, reply };
  }

  #execute(command: Command): Reply {
    const f = this.#filter;
    const q = f.events;
    const requestId = command.requestId;
    switch (command.command) {
      case 'hello': {
        const low = Math.max(command.minVersion, FLTB_PROTOCOL_VERSION_MIN);
        const high = Math.min(command.maxVersion, FLTB_PROTOCOL_VERSION);
        const agreed = low <= high ? high : undefined;
        if (agreed !== undefined) {
          this.version = agreed;
          // A client that consumes batches subscribes; nothing was produced for it before, so
          // it receives events from NextSequence onwards (fltbridge_proto.h).
          if ((command.clientCapabilities & FLTB_CAP_EVENT_BATCHES) !== 0 && !this.#subscribed) {
            this.#subscribed = true;
            q.subscribe();
          }
        }
        return {
          command: 'hello',
          version: agreed ?? command.version ?? FLTB_PROTOCOL_VERSION,
          status:
            agreed === undefined ? NtStatus.STATUS_REVISION_MISMATCH : NtStatus.STATUS_SUCCESS,
          requestId,
          body: {
            protocolVersion: agreed ?? FLTB_PROTOCOL_VERSION,
            driverMajor: FLTB_DRIVER_VERSION_MAJOR,
            driverMinor: FLTB_DRIVER_VERSION_MINOR,
            driverPatch: FLTB_DRIVER_VERSION_PATCH,
            capabilities: FLTB_CAP_ALL,
            maxRecordBytes: FLTB_MAX_RECORD_BYTES,
            maxBatchBytes: FLTB_MAX_BATCH_BYTES,
            queueLimit: q.limit,
            nextSequence: q.nextSequence,
            eventTypeMask: q.mask,
          },
        };
      }
      case 'configure': {
        if (command.namespaces !== undefined) {
          const policy = f.setNamespaces(command.namespaces);
          if (isPolicyError(policy)) {
            return { command: 'configure', status: NtStatus.STATUS_INVALID_PARAMETER, requestId };
          }
        }
        if (command.eventTypeMask !== undefined) q.mask = command.eventTypeMask;
        if (command.queueLimit !== undefined) q.limit = command.queueLimit;
        return {
          command: 'configure',
          status: NtStatus.STATUS_SUCCESS,
          requestId,
          body: {
            eventTypeMask: q.mask,
            queueLimit: q.limit,
            managedCount: f.policy.managedCount,
            observeCount: f.policy.observeCount,
          },
        };
      }
      case 'get-stats': {
        const s = q.stats();
        return {
          command: 'get-stats',
          status: NtStatus.STATUS_SUCCESS,
          requestId,
          body: {
            eventsProduced: s.produced,
            eventsDelivered: s.delivered,
            eventsDropped: s.dropped,
            nextSequence: s.nextSequence,
            queueDepth: s.depth,
            queueLimit: s.limit,
            pendedOperations: f.pended.size,
            managedStreams: f.streams.managedCount,
            activeProbes: f.probes.active,
            connections: this.#port.connectionCount,
            perTypeProduced: s.perTypeProduced,
          },
        };
      }
      case 'probe-start': {
        const result =
          command.kind === 'oplock'
            ? f.probes.start({
                kind: 'oplock',
                path: command.path,
                flags: command.flags ?? 0,
                oplockLevel: command.oplockLevel,
              })
            : f.probes.start({
                kind: 'read',
                path: command.path,
                flags: command.flags ?? 0,
                readOffset: command.readOffset,
                readLength: command.readLength,
              });
        if (result.probeId === undefined) {
          return { command: 'probe-start', status: result.status, requestId };
        }
        return {
          command: 'probe-start',
          status: NtStatus.STATUS_SUCCESS,
          requestId,
          body: { probeId: result.probeId },
        };
      }
      case 'probe-stop':
        return { command: 'probe-stop', status: f.probes.stop(command.probeId), requestId };
      case 'flush-events': {
        const discarded = (command.flags ?? 0) & 1 ? q.discard() : 0;
        return {
          command: 'flush-events',
          status: NtStatus.STATUS_SUCCESS,
          requestId,
          body: { discarded: BigInt(discarded), nextSequence: q.nextSequence },
        };
      }
    }
  }

  /**
   * The next event batch the driver would push to this connection (at most `maxBytes`, the
   * client's buffer after FILTER_MESSAGE_HEADER), or undefined when nothing is queued or the
   * connection has not said HELLO.
   */
  nextBatch(maxBytes: number = FLTB_MAX_BATCH_BYTES): Uint8Array | undefined {
    if (!this.#open || !this.#subscribed) return undefined;
    const limit = Math.min(maxBytes, FLTB_MAX_BATCH_BYTES);
    const records = this.#filter.events.take(limit);
    if (records.length === 0) return undefined;
    const builder = new BatchBuilder({
      maxBytes: limit,
      version: this.version ?? FLTB_PROTOCOL_VERSION,
    });
    for (const record of records) builder.append(record);
    return builder.finish();
  }
}

/**
 * The rule driver/src/comm.c FbProbePathValid and policy.c apply to names from user mode: an NT
 * path starts with a backslash and holds no NUL (docs/protocol.md: the paths are NT paths; the
 * model maps `\Device\HarddiskVolumeN\...` and `\dir` onto its volume).
 */
export function ntPathValid(path: string): boolean {
  return path.startsWith('\\') && !path.includes('\0');
}

/** The command header fields, read without validation (for refusals). */
function rawHeader(bytes: Uint8Array): {
  valid: boolean;
  command: number;
  requestId: bigint;
  version: number;
} {
  if (bytes.length < FLTB_COMMAND_HEADER.size) {
    return { valid: false, command: 0, requestId: 0n, version: FLTB_PROTOCOL_VERSION };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const o = FLTB_COMMAND_HEADER.offset;
  return {
    valid: view.getUint32(o.Magic, true) === FLTB_MAGIC_COMMAND,
    command: view.getUint16(o.Command, true),
    requestId: view.getBigUint64(o.RequestId, true),
    version: view.getUint16(o.Version, true),
  };
}
