/**
 * The client of \FltBridgePort over the addon: connect with the connection context, HELLO (the
 * protocol version both sides speak), the other commands, and the event stream decoded by
 * src/protocol, checked for exact sequence continuity (a loss shows as a `dropped` record,
 * anything else is a protocol error).
 */
import { FltBridgeError, PortError, ProtocolError } from '../../bridge/errors.js';
import type { BridgeEvent } from '../../bridge/events.js';
import { formatNtStatus, NtStatus, ntSuccess } from '../../bridge/ntstatus.js';
import {
  type BatchHeader,
  type Command,
  type CommandName,
  type ConfigureReplyBody,
  decodeBatch,
  decodeReply,
  encodeCommand,
  encodeConnectContext,
  FLTB_CAP_ALL,
  FLTB_MAX_BATCH_BYTES,
  FLTB_MAX_REPLY_BYTES,
  FLTB_PROTOCOL_VERSION,
  FLTB_PROTOCOL_VERSION_MIN,
  type FlushEventsReplyBody,
  type HelloReplyBody,
  type NamespaceSpec,
  nextSequenceAfter,
  type ProbeStartCommand,
  type Reply,
  type StatsReplyBody,
} from '../../protocol/index.js';
import type { NativeAddon, NativeRecord, PortStats } from './addon.js';
import { describeHresult, fromNative, portError } from './errors.js';

export const DEFAULT_PORT_NAME = '\\FltBridgePort';

export interface PortClientOptions {
  /** Default \FltBridgePort. */
  readonly name?: string;
  /** The version in the connection context; default FLTB_PROTOCOL_VERSION. */
  readonly contextVersion?: number;
  /** The range HELLO offers; default [FLTB_PROTOCOL_VERSION_MIN, FLTB_PROTOCOL_VERSION]. */
  readonly minVersion?: number;
  readonly maxVersion?: number;
  readonly clientCapabilities?: number;
  /** Outstanding FilterGetMessage calls; default 4. */
  readonly slots?: number;
}

export interface PortEventStats {
  readonly batches: number;
  readonly events: number;
  /** Events the driver reported lost (sum of `dropped` records' counts). */
  readonly dropped: bigint;
  /** The sequence number the next event must carry. */
  readonly nextSequence: bigint;
  /** Batches refused by the decoder or out of sequence. */
  readonly protocolErrors: number;
  /** Batches that completed before an earlier one and were held back to keep sequence order. */
  readonly reordered: number;
  /** The first few protocol errors, for diagnostics. */
  readonly protocolErrorMessages: readonly string[];
}

/**
 * Batches held back waiting for an earlier one. Only `slots` reads are outstanding, so a batch
 * can be overtaken by at most that many; more than this many held means one never arrives.
 */
const MAX_HELD_BATCHES = 64;

export type BatchListener = (events: readonly BridgeEvent[], header: BatchHeader) => void;
export type PortErrorListener = (error: FltBridgeError) => void;

type Pending = { resolve: (reply: Reply) => void; reject: (error: unknown) => void };

export class PortClient {
  readonly #addon: NativeAddon;
  readonly #id: number;
  readonly name: string;
  #hello: HelloReplyBody | undefined;
  #agreed = FLTB_PROTOCOL_VERSION;
  #nextRequest = 1;
  #nextRequestId = 1n;
  readonly #pending = new Map<number, { command: CommandName; requestId: bigint } & Pending>();
  readonly #batchListeners = new Set<BatchListener>();
  readonly #errorListeners = new Set<PortErrorListener>();
  #closed: Promise<{ leaked: number }> | undefined;
  #failure: FltBridgeError | undefined;
  #refed = false;
  #started = false;
  #expected = 0n;
  /** Batches that completed ahead of an earlier one, by FirstSequence. */
  readonly #held = new Map<bigint, { events: BridgeEvent[]; header: BatchHeader }>();
  #stats = { batches: 0, events: 0, dropped: 0n, protocolErrors: 0, reordered: 0 };
  readonly #protocolErrorMessages: string[] = [];
  readonly #seqWaiters: { target: bigint; resolve: () => void }[] = [];

  private constructor(addon: NativeAddon, id: number, name: string) {
    this.#addon = addon;
    this.#id = id;
    this.name = name;
  }

  /** Connect and say HELLO; the event pump starts on the first start() or listener. */
  static async connect(addon: NativeAddon, options: PortClientOptions = {}): Promise<PortClient> {
    const name = options.name ?? DEFAULT_PORT_NAME;
    const context = encodeConnectContext({
      version: options.contextVersion ?? FLTB_PROTOCOL_VERSION,
      clientCapabilities: options.clientCapabilities ?? FLTB_CAP_ALL,
    });
    let client: PortClient | undefined;
    let id: number;
    try {
      id = addon.portConnect(name, context, (records) => client?.onRecords(records));
    } catch (error) {
      const e = fromNative(error);
      if (e instanceof PortError && e.hresult !== undefined) {
        throw portError(`FilterConnectCommunicationPort(${name})`, e.hresult);
      }
      throw e;
    }
    client = new PortClient(addon, id, name);
    try {
      await client.#sayHello(options);
    } catch (error) {
      await client.close();
      throw error;
    }
    return client;
  }

  get hello(): HelloReplyBody {
    if (!this.#hello) throw new PortError('HELLO has not completed');
    return this.#hello;
  }

  /** The protocol version HELLO agreed. */
  get version(): number {
    return this.#agreed;
  }

  get failure(): FltBridgeError | undefined {
    return this.#failure;
  }

  get eventStats(): PortEventStats {
    return {
      ...this.#stats,
      nextSequence: this.#expected,
      protocolErrorMessages: [...this.#protocolErrorMessages],
    };
  }

  nativeStats(): PortStats {
    return this.#addon.portStats(this.#id);
  }

  async #sayHello(options: PortClientOptions): Promise<void> {
    const reply = await this.send({
      command: 'hello',
      requestId: 0n,
      version: options.maxVersion ?? FLTB_PROTOCOL_VERSION,
      minVersion: options.minVersion ?? FLTB_PROTOCOL_VERSION_MIN,
      maxVersion: options.maxVersion ?? FLTB_PROTOCOL_VERSION,
      clientCapabilities: options.clientCapabilities ?? FLTB_CAP_ALL,
      clientProcessId: process.pid,
    });
    if (reply.command !== 'hello') throw new PortError('HELLO was answered by another command');
    if (reply.status === NtStatus.STATUS_REVISION_MISMATCH) {
      const theirs = reply.body?.protocolVersion;
      throw new PortError(
        `the driver speaks protocol version ${theirs ?? '?'}, this library ${options.minVersion ?? FLTB_PROTOCOL_VERSION_MIN}..${options.maxVersion ?? FLTB_PROTOCOL_VERSION} (${formatNtStatus(reply.status)})`,
        undefined,
        'use the driver and the library of the same fltbridge release',
      );
    }
    if (!ntSuccess(reply.status) || !reply.body) {
      throw new PortError(`HELLO was refused with ${formatNtStatus(reply.status)}`);
    }
    this.#hello = reply.body;
    this.#agreed = reply.body.protocolVersion;
    this.#expected = reply.body.nextSequence;
  }

  /**
   * Send one command (FilterSendMessage, off the JS thread) and decode its reply. The request id
   * is assigned here (the command's own is ignored). Rejects with PortError for a transport failure; a refused command is a
   * reply with a failure status, not an exception.
   */
  send(command: Command): Promise<Reply> {
    if (this.#closed) return Promise.reject(new PortError('the port connection is closed'));
    if (this.#failure) return Promise.reject(this.#failure);
    const requestId = this.#nextRequestId++;
    const full = { ...command, requestId } as Command;
    const version = command.command === 'hello' ? command.version : this.#agreed;
    const bytes = encodeCommand({ ...full, version } as Command);
    const request = this.#nextRequest++;
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(request, { command: command.command, requestId, resolve, reject });
      this.#updateRef();
      try {
        this.#addon.portSend(this.#id, request, bytes, FLTB_MAX_REPLY_BYTES);
      } catch (error) {
        this.#pending.delete(request);
        this.#updateRef();
        reject(fromNative(error));
      }
    });
  }

  async configure(options: {
    eventTypeMask?: bigint;
    queueLimit?: number;
    namespaces?: readonly NamespaceSpec[];
  }): Promise<ConfigureReplyBody> {
    const reply = await this.send({ command: 'configure', requestId: 0n, ...options });
    return this.#body(reply, 'CONFIGURE') as ConfigureReplyBody;
  }

  async getStats(): Promise<StatsReplyBody> {
    return this.#body(
      await this.send({ command: 'get-stats', requestId: 0n }),
      'GET_STATS',
    ) as StatsReplyBody;
  }

  async flushEvents(discard = false): Promise<FlushEventsReplyBody> {
    const reply = await this.send({
      command: 'flush-events',
      requestId: 0n,
      flags: discard ? 1 : 0,
    });
    return this.#body(reply, 'FLUSH_EVENTS') as FlushEventsReplyBody;
  }

  async probeStart(probe: Omit<ProbeStartCommand, 'requestId' | 'command'>): Promise<bigint> {
    const reply = await this.send({
      command: 'probe-start',
      requestId: 0n,
      ...probe,
    } as ProbeStartCommand);
    const body = this.#body(reply, 'PROBE_START') as { probeId: bigint };
    return body.probeId;
  }

  async probeStop(probeId: bigint): Promise<void> {
    const reply = await this.send({ command: 'probe-stop', requestId: 0n, probeId });
    if (!ntSuccess(reply.status))
      throw new PortError(`PROBE_STOP was refused with ${formatNtStatus(reply.status)}`);
  }

  #body(reply: Reply, what: string): unknown {
    if (!ntSuccess(reply.status) || !('body' in reply) || reply.body === undefined) {
      throw new PortError(`${what} was refused with ${formatNtStatus(reply.status)}`);
    }
    return reply.body;
  }

  /** Issue the overlapped FilterGetMessage calls (idempotent). */
  start(slots = 4): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    try {
      this.#addon.portStart(this.#id, slots, FLTB_MAX_BATCH_BYTES);
    } catch (error) {
      throw fromNative(error);
    }
  }

  /** Event batches, in sequence order. Starts the pump; keeps the process alive while listened. */
  onBatch(listener: BatchListener): () => void {
    this.#batchListeners.add(listener);
    this.start();
    this.#updateRef();
    return () => {
      this.#batchListeners.delete(listener);
      this.#updateRef();
    };
  }

  onError(listener: PortErrorListener): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Resolves when events up to (not including) `sequence` were delivered, or after `timeoutMs`. */
  waitForSequence(sequence: bigint, timeoutMs: number): Promise<boolean> {
    if (this.#expected >= sequence || this.#failure || this.#closed) {
      return Promise.resolve(this.#expected >= sequence);
    }
    return new Promise<boolean>((resolve) => {
      const waiter = {
        target: sequence,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        const at = this.#seqWaiters.indexOf(waiter);
        if (at >= 0) this.#seqWaiters.splice(at, 1);
        resolve(false);
      }, timeoutMs);
      this.#seqWaiters.push(waiter);
      this.#updateRef();
    });
  }

  /** Cancel the outstanding reads, close the handle, stop the pump thread. Idempotent. */
  close(): Promise<{ leaked: number }> {
    if (!this.#closed) {
      this.#closed = this.#addon.portClose(this.#id);
      for (const [, pending] of this.#pending) {
        pending.reject(new PortError('the port connection was closed'));
      }
      this.#pending.clear();
      for (const waiter of this.#seqWaiters.splice(0)) waiter.resolve();
    }
    return this.#closed;
  }

  // -------------------------------------------------------------------------------------------

  private onRecords(records: NativeRecord[]): void {
    for (const record of records) {
      switch (record.kind) {
        case 'send':
          this.#onSend(record.request, record.hresult, record.data);
          break;
        case 'events':
          this.#onBatch(record.data);
          break;
        case 'port-error':
          this.#fail(
            new PortError(
              record.status !== 0
                ? `the port failed: an outstanding FilterGetMessage completed with ${formatNtStatus(record.status)}`
                : `the port failed: FilterGetMessage returned ${describeHresult(record.hresult)}`,
              record.hresult,
              'the driver was unloaded or the port closed; fltbridge driver status, then reconnect',
            ),
          );
          break;
        default:
          break;
      }
    }
    this.#updateRef();
  }

  #onSend(request: number, hresult: number, data: Uint8Array): void {
    const pending = this.#pending.get(request);
    if (!pending) return;
    this.#pending.delete(request);
    if (hresult >>> 31 === 1) {
      const error = portError(`FilterSendMessage(${pending.command})`, hresult);
      if (hresult >>> 0 === 0x80070006) this.#fail(error);
      pending.reject(error);
      return;
    }
    try {
      pending.resolve(
        decodeReply(data, {
          command: pending.command,
          requestId: pending.requestId,
          ...(pending.command === 'hello' ? {} : { version: this.#agreed }),
        }),
      );
    } catch (error) {
      pending.reject(error);
    }
  }

  #onBatch(data: Uint8Array): void {
    let batch: ReturnType<typeof decodeBatch>;
    try {
      batch = decodeBatch(data, { version: this.#agreed });
    } catch (error) {
      this.#stats.protocolErrors += 1;
      this.#emitError(error instanceof FltBridgeError ? error : new PortError(String(error)));
      return;
    }
    const { header, events } = batch;
    // Several FilterGetMessage calls are outstanding and their completions may be dequeued in
    // another order than the driver sent the messages (Wine does reorder them): put batches back
    // in sequence order. A batch that repeats delivered sequence numbers is refused.
    if (header.firstSequence < this.#expected) {
      this.#stats.protocolErrors += 1;
      this.#emitError(
        new ProtocolError(
          'bad-sequence',
          16,
          `batch starts at sequence ${header.firstSequence}, already delivered up to ${this.#expected - 1n}`,
        ),
      );
      return;
    }
    if (header.firstSequence !== this.#expected) this.#stats.reordered += 1;
    this.#held.set(header.firstSequence, { events, header });
    this.#release();
  }

  #release(): void {
    for (;;) {
      const next = this.#held.get(this.#expected);
      if (next) {
        this.#held.delete(this.#expected);
        this.#deliver(next.events, next.header);
        continue;
      }
      if (this.#held.size <= MAX_HELD_BATCHES) break;
      let lowest = -1n;
      for (const first of this.#held.keys()) if (lowest < 0n || first < lowest) lowest = first;
      this.#stats.protocolErrors += 1;
      this.#emitError(
        new ProtocolError(
          'bad-sequence',
          16,
          `events ${this.#expected}..${lowest - 1n} never arrived and no dropped record covers them`,
        ),
      );
      this.#expected = lowest;
    }
  }

  #deliver(events: BridgeEvent[], header: BatchHeader): void {
    const last = events[events.length - 1];
    if (last) this.#expected = nextSequenceAfter(last);
    this.#stats.batches += 1;
    for (const event of events) {
      if (event.type === 'dropped') this.#stats.dropped += event.count;
      else this.#stats.events += 1;
    }
    for (const listener of this.#batchListeners) {
      try {
        listener(events, header);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    for (let i = this.#seqWaiters.length - 1; i >= 0; i -= 1) {
      const waiter = this.#seqWaiters[i];
      if (waiter && this.#expected >= waiter.target) {
        this.#seqWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  #fail(error: FltBridgeError): void {
    if (this.#failure) return;
    this.#failure = error;
    for (const [, pending] of this.#pending) pending.reject(error);
    this.#pending.clear();
    for (const waiter of this.#seqWaiters.splice(0)) waiter.resolve();
    this.#emitError(error);
  }

  #emitError(error: FltBridgeError): void {
    if (error instanceof ProtocolError && this.#protocolErrorMessages.length < 5) {
      this.#protocolErrorMessages.push(error.message);
    }
    for (const listener of this.#errorListeners) {
      try {
        listener(error);
      } catch (thrown) {
        queueMicrotask(() => {
          throw thrown;
        });
      }
    }
  }

  #updateRef(): void {
    if (this.#closed) return;
    const want =
      this.#pending.size > 0 ||
      this.#seqWaiters.length > 0 ||
      (this.#batchListeners.size > 0 && !this.#failure);
    if (want === this.#refed) return;
    this.#refed = want;
    try {
      this.#addon.portRef(this.#id, want);
    } catch {
      // closed underneath: nothing to keep alive
    }
  }
}

export { describeHresult };
