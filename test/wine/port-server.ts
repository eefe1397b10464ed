/**
 * The Linux process that serves \FltBridgePort to the fltlib double (test/wine/fltlib-double)
 * running inside Wine. Run with tsx:
 *
 *   node --import tsx test/wine/port-server.ts --ports-file <file> [--report <file>]
 *
 * The port is the model's own twin of driver/src/comm.c (src/model/filter/comm.ts: the connect
 * notify validating FLTB_CONNECT_CONTEXT and MaxConnections, the message notify validating every
 * command byte, the drain's batches) on the filter twin of a model bridge. Events come from real
 * model operations: reads of a managed file, each of which the filter twin reports as one `io`
 * record. Nothing is encoded here: every byte the double relays was produced by the model and the
 * protocol codec.
 *
 * It listens on two loopback ports and writes them as JSON to --ports-file:
 *   - `port`: the double's connections (frames described in fltlib_double.c). Each is one
 *     connection of the port twin; event batches are pushed on the connection's event socket
 *     whenever the twin has some and pushing is not paused;
 *   - `control`: JSON lines from the test script (running under Wine): produce events, pause or
 *     resume pushing, set the queue limit, make the server vanish mid-stream, read its stats.
 *     One JSON reply line per request line.
 * On exit (control `exit`, or SIGTERM) it writes what it did to --report: the truth the Wine
 * side's observations are compared with. Every CONFIGURE it answers is kept (`configures`: the
 * namespaces exactly as they arrived, NT paths from the Windows side, and the reply's counts).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createModelBridge } from '../../src/backends/model.js';
import type { Handle } from '../../src/bridge/types.js';
import { CommPort, type Connection as PortTwinConnection } from '../../src/model/filter/comm.js';
import { decodeCommand, decodeReply, FLTB_QUEUE_LIMIT_MAX } from '../../src/protocol/index.js';

const FRAME_CONNECT = 1;
const FRAME_CONNECT_REPLY = 2;
const FRAME_ATTACH = 3;
const FRAME_SEND = 4;
const FRAME_SEND_REPLY = 5;
const FRAME_MESSAGE = 6;
const MAX_FRAME = 1 << 20;

interface Args {
  portsFile: string;
  report: string | undefined;
}

function parseArgs(argv: string[]): Args {
  let portsFile: string | undefined;
  let report: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--ports-file') portsFile = argv[++i];
    else if (argv[i] === '--report') report = argv[++i];
    else throw new Error(`port-server: unknown argument ${argv[i]}`);
  }
  if (!portsFile) throw new Error('port-server: --ports-file is required');
  return { portsFile, report };
}

/** Splits a TCP stream into { type, payload } frames. */
class FrameReader {
  #buffer: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (type: number, payload: Buffer) => void) {}
  push(chunk: Buffer): boolean {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 8) {
      const length = this.#buffer.readUInt32LE(0);
      if (length > MAX_FRAME) return false;
      if (this.#buffer.length < 8 + length) break;
      const type = this.#buffer.readUInt32LE(4);
      const payload = this.#buffer.subarray(8, 8 + length);
      this.#buffer = this.#buffer.subarray(8 + length);
      this.onFrame(type, payload);
    }
    return true;
  }
}

function frame(type: number, ...parts: Uint8Array[]): Buffer {
  const length = parts.reduce((n, p) => n + p.byteLength, 0);
  const header = Buffer.alloc(8);
  header.writeUInt32LE(length, 0);
  header.writeUInt32LE(type, 4);
  return Buffer.concat([
    header,
    ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)),
  ]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0, 0);
  return b;
}

interface Connection {
  id: number;
  twin: PortTwinConnection;
  control: Socket;
  events: Socket | undefined;
  pushing: boolean;
  closed: boolean;
}

const args = parseArgs(process.argv.slice(2));
const DATA_FILE = 'C:\\fltbridge\\wine-e2e.dat';
// deliver: 'manual': the model bridge never takes events itself; only the port connections do.
const model = createModelBridge({
  deliver: 'manual',
  queueLimit: FLTB_QUEUE_LIMIT_MAX,
  files: { [DATA_FILE]: 1 << 20 },
});
const opened = await model.open(DATA_FILE, { access: 'read', share: 'read,write' }).result;
if (!opened.handle) throw new Error(`port-server: the model refused to open ${DATA_FILE}`);
const dataHandle: Handle = opened.handle;
const filter = model.filter;
// The model keeps one event consumer at a time (src/model/filter/events.ts): detach the model
// backend's own, so the port connections are the only consumers. Its queue forgets what it held
// and produces nothing until a connection says HELLO with FLTB_CAP_EVENT_BATCHES, which then
// receives events from HELLO's NextSequence onwards, as from the driver.
while (filter.events.subscribers > 0) filter.events.unsubscribe();
const commPort = new CommPort(filter);
let reads = 0;

/** `count` model reads of the managed file: the filter twin reports each as one `io` event. */
function produce(count: number): void {
  for (let i = 0; i < count; i += 1) {
    model.read(dataHandle, { offset: BigInt((reads % 256) * 4096), length: 512 });
    reads += 1;
  }
}
const connections = new Map<number, Connection>();
let nextConnection = 1;
let paused = false;
/** Since the last resume: when it happened and how many records had been sent then. */
let resumed: { at: bigint; records: number } | undefined;
let vanished = false;
let vanishAfter: number | undefined;
const record = {
  connects: 0,
  refusedConnects: 0,
  refusals: [] as number[],
  commands: 0,
  batchesSent: 0,
  recordsSent: 0,
  bytesSent: 0,
  disconnects: 0,
  vanished: false,
  vanishedAfterRecords: undefined as number | undefined,
  lastPush: undefined as { records: number; seconds: number; recordsPerSecond: number } | undefined,
  configures: [] as ConfigureSeen[],
};

/** A CONFIGURE as it arrived and what the port twin answered (JSON-safe). */
interface ConfigureSeen {
  namespaces: { kind: string; path: string }[] | null;
  queueLimit: number | null;
  eventTypeMask: string | null;
  status: number;
  managedCount?: number;
  observeCount?: number;
}

/** Keep a CONFIGURE and its reply; other commands (and undecodable bytes) are not kept. */
function noteConfigure(input: Uint8Array, replyBytes: Uint8Array): void {
  let command: ReturnType<typeof decodeCommand>;
  try {
    command = decodeCommand(input);
  } catch {
    return;
  }
  if (command.command !== 'configure') return;
  const seen: ConfigureSeen = {
    namespaces: command.namespaces?.map(({ kind, path }) => ({ kind, path })) ?? null,
    queueLimit: command.queueLimit ?? null,
    eventTypeMask: command.eventTypeMask?.toString() ?? null,
    status: 0,
  };
  try {
    const reply = decodeReply(replyBytes, { command: 'configure' });
    seen.status = reply.status >>> 0;
    if (reply.command === 'configure' && reply.body) {
      seen.managedCount = reply.body.managedCount;
      seen.observeCount = reply.body.observeCount;
    }
  } catch {
    seen.status = -1;
  }
  record.configures.push(seen);
}

function recordsIn(batch: Uint8Array): number {
  return new DataView(batch.buffer, batch.byteOffset, batch.byteLength).getUint32(8, true);
}

function kick(): void {
  for (const c of connections.values()) void push(c);
}
filter.events.onQueued = kick;

/** Push batches while the twin has some, the socket drains and nobody paused. */
async function push(c: Connection): Promise<void> {
  if (c.pushing) return;
  c.pushing = true;
  try {
    while (!c.closed && !paused && !vanished && c.events && c.twin.version !== undefined) {
      const batch = c.twin.nextBatch(65536);
      if (!batch) {
        if (resumed && record.recordsSent > resumed.records) {
          // The queue ran dry: how fast this side pushed since the resume (model encode + TCP).
          const seconds = Number(process.hrtime.bigint() - resumed.at) / 1e9;
          const records = record.recordsSent - resumed.records;
          record.lastPush = { records, seconds, recordsPerSecond: Math.round(records / seconds) };
          resumed = undefined;
        }
        break;
      }
      const ok = c.events.write(frame(FRAME_MESSAGE, batch));
      record.batchesSent += 1;
      record.recordsSent += recordsIn(batch);
      record.bytesSent += batch.byteLength;
      if (vanishAfter !== undefined && record.recordsSent >= vanishAfter) {
        vanish();
        break;
      }
      if (!ok) {
        const socket = c.events;
        await new Promise<void>((resolve) => {
          socket.once('drain', resolve);
          socket.once('close', resolve);
        });
      }
    }
  } finally {
    c.pushing = false;
  }
}

function closeConnection(c: Connection): void {
  if (c.closed) return;
  c.closed = true;
  record.disconnects += 1;
  c.twin.disconnect();
  c.control.destroy();
  c.events?.destroy();
  connections.delete(c.id);
}

/** The "driver unload": every connection and the listening port go away at once. */
function vanish(): void {
  if (vanished) return;
  vanished = true;
  record.vanished = true;
  record.vanishedAfterRecords = record.recordsSent;
  portServer.close();
  for (const c of [...connections.values()]) {
    // Messages already written stay delivered (a half-close flushes them; the connection is
    // closed when the double closes its end); commands fail at once.
    c.events?.end();
    c.control.destroy();
    if (!c.events) closeConnection(c);
  }
}

function onDoubleSocket(socket: Socket): void {
  socket.setNoDelay(true);
  let conn: Connection | undefined;
  const reader = new FrameReader((type, payload) => {
    if (type === FRAME_CONNECT && conn === undefined) {
      const nameBytes = payload.readUInt32LE(0);
      const name = payload.subarray(4, 4 + nameBytes).toString('utf16le');
      const ctxBytes = payload.readUInt32LE(4 + nameBytes);
      const context = payload.subarray(8 + nameBytes, 8 + nameBytes + ctxBytes);
      // The only port the filter creates; another name does not exist (OBJECT_NAME_NOT_FOUND).
      const result =
        name === '\\FltBridgePort'
          ? commPort.connect(new Uint8Array(context))
          : { status: 0xc0000034 };
      const twin = result.connection;
      if (!twin) {
        record.refusedConnects += 1;
        record.refusals.push(result.status >>> 0);
        socket.end(frame(FRAME_CONNECT_REPLY, u32(result.status), u32(0)));
        return;
      }
      record.connects += 1;
      const id = nextConnection++;
      conn = { id, twin, control: socket, events: undefined, pushing: false, closed: false };
      connections.set(id, conn);
      socket.write(frame(FRAME_CONNECT_REPLY, u32(0), u32(id)));
      return;
    }
    if (type === FRAME_ATTACH && conn === undefined) {
      const target = connections.get(payload.readUInt32LE(0));
      if (!target) {
        socket.destroy();
        return;
      }
      target.events = socket;
      socket.on('close', () => closeConnection(target));
      void push(target);
      return;
    }
    if (type === FRAME_SEND && conn !== undefined) {
      record.commands += 1;
      const capacity = payload.readUInt32LE(0);
      const input = new Uint8Array(payload.subarray(4));
      const { status, reply } = conn.twin.message(input, capacity);
      noteConfigure(input, reply);
      socket.write(frame(FRAME_SEND_REPLY, u32(status), reply));
      // HELLO may have made the connection ready.
      void push(conn);
      return;
    }
    socket.destroy();
  });
  socket.on('data', (chunk) => {
    if (!reader.push(chunk)) socket.destroy();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    if (conn) closeConnection(conn);
  });
}

type ControlRequest =
  | { op: 'produce'; count: number }
  | { op: 'pause' }
  | { op: 'resume' }
  | { op: 'vanish'; afterRecords?: number }
  | { op: 'stats' }
  | { op: 'exit' };

function stats(): Record<string, unknown> {
  const s = filter.events.stats();
  return {
    produced: s.produced.toString(),
    delivered: s.delivered.toString(),
    dropped: s.dropped.toString(),
    nextSequence: s.nextSequence.toString(),
    depth: s.depth,
    limit: s.limit,
    connections: connections.size,
    modelReads: reads,
    ...record,
  };
}

function control(request: ControlRequest): Record<string, unknown> {
  switch (request.op) {
    case 'produce': {
      const before = filter.events.nextSequence;
      produce(request.count);
      return {
        ok: true,
        firstSequence: before.toString(),
        nextSequence: filter.events.nextSequence.toString(),
      };
    }
    case 'pause':
      paused = true;
      return { ok: true };
    case 'resume':
      paused = false;
      resumed = { at: process.hrtime.bigint(), records: record.recordsSent };
      kick();
      return { ok: true };
    case 'vanish':
      if (request.afterRecords === undefined) vanish();
      else {
        vanishAfter = record.recordsSent + request.afterRecords;
        kick();
      }
      return { ok: true };
    case 'stats':
      return { ok: true, ...stats() };
    case 'exit':
      setTimeout(() => finish(0), 10);
      return { ok: true };
    default:
      return { ok: false, error: 'unknown op' };
  }
}

function onControlSocket(socket: Socket): void {
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n')) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      let reply: Record<string, unknown>;
      try {
        reply = control(JSON.parse(line) as ControlRequest);
      } catch (error) {
        reply = { ok: false, error: String(error) };
      }
      socket.write(`${JSON.stringify(reply)}\n`);
    }
  });
  socket.on('error', () => {});
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

function finish(code: number): void {
  if (args.report) writeFileSync(args.report, `${JSON.stringify(stats(), null, 2)}\n`);
  process.exit(code);
}

const portServer = createServer(onDoubleSocket);
const controlServer = createServer(onControlSocket);
const [port, controlPort] = await Promise.all([listen(portServer), listen(controlServer)]);
writeFileSync(args.portsFile, JSON.stringify({ port, control: controlPort, pid: process.pid }));
process.on('SIGTERM', () => finish(0));
process.on('SIGINT', () => finish(0));
