/**
 * A stand-in for fltbridge.node with the same JS surface (NativeAddon), for testing the windows
 * backend's TypeScript on any platform. File calls are recorded and completed with the records a
 * test chooses; the port is the model's own port twin (src/model/filter/comm.ts), so commands and
 * replies are real protocol bytes, and event batches can be pushed in any order.
 */

import { createModelBridge } from '../../src/backends/model.js';
import type {
  AddonDiagnostics,
  IoRecord,
  NativeAddon,
  NativeRecord,
  PortStats,
  RecordCallback,
  SessionStats,
} from '../../src/backends/windows/addon.js';
import { CommPort, type Connection } from '../../src/model/filter/comm.js';

export interface Call {
  readonly fn: string;
  readonly args: readonly unknown[];
}

type Completion = Partial<Omit<IoRecord, 'kind' | 'request'>>;

/** Handle ids are unique in the process, as the addon's (one table per environment). */
let nextHandle = 1;

export class FakeAddon implements NativeAddon {
  readonly calls: Call[] = [];
  /** Completions to use for the next call of a function (FIFO); default: success. */
  readonly script = new Map<string, Completion[]>();
  /** Leave completions to the test (complete()) instead of answering at once. */
  manual = false;
  wine: string | null = null;
  readonly pending = new Map<number, { session: number; fn: string }>();
  #sessions = new Map<number, RecordCallback>();
  #nextSession = 1;
  #handleSession = new Map<number, number>();
  refs: boolean[] = [];
  cancelled: number[] = [];

  // ---- port ----
  readonly model = createModelBridge({ deliver: 'manual' });
  readonly commPort: CommPort;
  #ports = new Map<number, { callback: RecordCallback; connection: Connection }>();
  #nextPort = 1;
  connectResult: number | undefined;

  constructor() {
    this.commPort = new CommPort(this.model.filter);
    while (this.model.filter.events.subscribers > 0) this.model.filter.events.unsubscribe();
  }

  version() {
    return { addon: '0.1.0', napi: 8, protocol: 1, wine: this.wine };
  }

  diagnostics(): AddonDiagnostics {
    return {
      operations: this.pending.size,
      fileHandles: this.#handleSession.size,
      pumpThreads: this.#sessions.size + this.#ports.size,
      runnerThreads: 0,
      sessions: this.#sessions.size,
      handles: this.#handleSession.size,
      ports: this.#ports.size,
    };
  }

  sessionOpen(callback: RecordCallback): number {
    const id = this.#nextSession++;
    this.#sessions.set(id, callback);
    return id;
  }

  sessionRef(_session: number, ref: boolean): void {
    this.refs.push(ref);
  }

  async sessionClose(session: number): Promise<{ leaked: number }> {
    for (const [request, p] of this.pending) {
      if (p.session === session) this.complete(request, { status: 0xc0000120, win32: 995 });
    }
    this.#sessions.delete(session);
    return { leaked: 0 };
  }

  sessionCancel(_session: number, request: number): boolean {
    this.cancelled.push(request);
    return this.pending.has(request);
  }

  sessionStats(): SessionStats {
    return {
      inFlight: this.pending.size,
      runnerPending: 0,
      runnerThreads: 0,
      handles: this.#handleSession.size,
    };
  }

  /** Deliver the completion of `request`. */
  complete(request: number, completion: Completion = {}): void {
    const p = this.pending.get(request);
    if (!p) throw new Error(`no pending request ${request}`);
    this.pending.delete(request);
    const record: NativeRecord = {
      kind: 'io',
      request,
      status: 0,
      win32: 0,
      hresult: 0,
      source: 0,
      information: 0n,
      ...completion,
    } as IoRecord;
    this.#sessions.get(p.session)?.([record]);
  }

  #issue(
    fn: string,
    session: number,
    request: number,
    args: unknown[],
    defaults: Completion = {},
  ): void {
    this.calls.push({ fn, args });
    this.pending.set(request, { session, fn });
    const scripted = this.script.get(fn)?.shift();
    if (this.manual && !scripted) return;
    const completion = { ...defaults, ...scripted };
    queueMicrotask(() => this.complete(request, completion));
  }

  #sessionOf(handle: number): number {
    const session = this.#handleSession.get(handle);
    if (session === undefined) {
      const error = new Error(`unknown handle ${handle}`) as Error & { code: string };
      error.code = 'E_UNKNOWN_HANDLE';
      throw error;
    }
    return session;
  }

  open(session: number, request: number, ...rest: unknown[]): void {
    const handle = nextHandle++;
    this.#handleSession.set(handle, session);
    this.#issue('open', session, request, rest, { handle, information: 2n, source: 1 });
  }

  close(handle: number, request: number): void {
    const session = this.#sessionOf(handle);
    this.#handleSession.delete(handle);
    this.#issue('close', session, request, [handle]);
  }

  read(handle: number, request: number, offset: bigint, length: number): void {
    this.#issue('read', this.#sessionOf(handle), request, [handle, offset, length], {
      information: BigInt(length),
      data: new Uint8Array(length).fill(7),
    });
  }

  write(handle: number, request: number, offset: bigint, data: Uint8Array): void {
    this.#issue('write', this.#sessionOf(handle), request, [handle, offset, data], {
      information: BigInt(data.byteLength),
    });
  }

  ioctl(
    handle: number,
    request: number,
    code: number,
    input: Uint8Array | null,
    outputLength: number,
  ): void {
    this.#issue('ioctl', this.#sessionOf(handle), request, [handle, code, input, outputLength]);
  }

  lock(handle: number, request: number, ...rest: unknown[]): void {
    this.#issue('lock', this.#sessionOf(handle), request, [handle, ...rest]);
  }

  unlock(handle: number, request: number, ...rest: unknown[]): void {
    this.#issue('unlock', this.#sessionOf(handle), request, [handle, ...rest]);
  }

  setInformation(handle: number, request: number, ...rest: unknown[]): void {
    this.#issue('setInformation', this.#sessionOf(handle), request, [handle, ...rest]);
  }

  flush(handle: number, request: number): void {
    this.#issue('flush', this.#sessionOf(handle), request, [handle]);
  }

  handleInfo(): { overlapped: boolean } {
    return { overlapped: true };
  }

  /**
   * A tiny file system for finalPath: DOS path (any case) -> the NT path Windows would answer.
   * Paths not listed complete with STATUS_OBJECT_NAME_NOT_FOUND, as CreateFileW would.
   */
  readonly ntPaths = new Map<string, string>();

  finalPath(session: number, request: number, path: string): void {
    const nt = this.ntPaths.get(path.toUpperCase());
    if (nt === undefined) {
      this.#issue('finalPath', session, request, [path], {
        status: 0xc0000034,
        win32: 2,
        source: 1,
      });
      return;
    }
    const data = new Uint8Array(Buffer.from(nt, 'utf16le'));
    this.#issue('finalPath', session, request, [path], {
      information: BigInt(data.byteLength),
      data,
      source: 1,
    });
  }

  // ---- port: the model's port twin behind the same calls ----

  portConnect(name: string, context: Uint8Array, callback: RecordCallback): number {
    this.calls.push({ fn: 'portConnect', args: [name, context] });
    if (name !== '\\FltBridgePort') throw portError(0x80070002);
    const result = this.commPort.connect(context);
    if (!result.connection) throw portError(((0x80070000 | 1306) >>> 0) as number);
    const id = this.#nextPort++;
    this.#ports.set(id, { callback, connection: result.connection });
    return id;
  }

  portStart(connection: number, slots: number, slotBytes: number): void {
    this.calls.push({ fn: 'portStart', args: [connection, slots, slotBytes] });
  }

  /** Every command sent (FilterSendMessage input bytes), in order. */
  readonly sent: Uint8Array[] = [];

  portSend(connection: number, request: number, input: Uint8Array, outputBytes: number): void {
    const port = this.#ports.get(connection);
    if (!port) throw new Error('closed');
    this.sent.push(input);
    const { status, reply } = port.connection.message(input, outputBytes);
    queueMicrotask(() =>
      port.callback([
        {
          kind: 'send',
          request,
          hresult: status === 0 ? 0 : (0x80070000 | 87) >>> 0,
          win32: 0,
          information: BigInt(reply.byteLength),
          data: reply,
        },
      ]),
    );
  }

  portRef(_connection: number, ref: boolean): void {
    this.refs.push(ref);
  }

  async portClose(connection: number): Promise<{ leaked: number }> {
    this.#ports.get(connection)?.connection.disconnect();
    this.#ports.delete(connection);
    return { leaked: 0 };
  }

  portStats(): PortStats {
    return { messages: 0, bytes: 0, armed: 4, parked: 0, parks: 0, queuedBytes: 0, failed: false };
  }

  /** Push records to a port connection's callback (event batches, port errors). */
  pushPort(connection: number, records: NativeRecord[]): void {
    this.#ports.get(connection)?.callback(records);
  }

  /** The connection the model twin serves for port id `connection`. */
  twin(connection: number): Connection | undefined {
    return this.#ports.get(connection)?.connection;
  }
}

function portError(hresult: number): Error {
  const error = new Error(
    `FilterConnectCommunicationPort failed with HRESULT 0x${hresult.toString(16).toUpperCase()}`,
  ) as Error & {
    code: string;
    hresult: number;
  };
  error.code = 'E_PORT';
  error.hresult = hresult;
  return error;
}
