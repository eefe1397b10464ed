/**
 * The port twin (driver/src/comm.c): connect context, command validation and replies, event
 * batches, probes. Bytes in, bytes out.
 *
 * Source: fltbridge_proto.h "Commands" (HELLO first; Magic, Version, Command, Size validated; a
 * refused command gets a bare FLTB_REPLY_HEADER whose Status names the reason:
 * STATUS_INVALID_PARAMETER, STATUS_REVISION_MISMATCH, STATUS_INVALID_DEVICE_REQUEST,
 * STATUS_BUFFER_TOO_SMALL, STATUS_NOT_FOUND), CONFIGURE / GET_STATS / PROBE_* / FLUSH_EVENTS
 * comments, "Event batches" invariants; docs/events.md "Drops" and "probe".
 */
import { describe, expect, it } from 'vitest';
import { createModelBridge } from '../../../src/backends/model.js';
import type { BridgeEvent } from '../../../src/bridge/events.js';
import { CommPort, type Connection } from '../../../src/model/filter/comm.js';
import { FltBridgeFilter } from '../../../src/model/filter/filter.js';
import { IoManager } from '../../../src/model/fs/iomanager.js';
import { FileSystem } from '../../../src/model/fs/ntfs.js';
import { decodeBatch } from '../../../src/protocol/batch.js';
import {
  type Command,
  decodeReply,
  encodeCommand,
  encodeConnectContext,
  type Reply,
} from '../../../src/protocol/commands.js';
import { FLTB_CAP_ALL, FLTB_REPLY_HEADER } from '../../../src/protocol/layout.js';
import { Model, S } from '../fs/harness.js';

function hello(requestId = 1n, min = 1, max = 1): Command {
  return {
    command: 'hello',
    requestId,
    minVersion: min,
    maxVersion: max,
    clientCapabilities: FLTB_CAP_ALL,
    clientProcessId: 42,
  };
}

function send(c: Connection, command: Command, outputBytes?: number): Reply {
  const result = c.message(encodeCommand(command), outputBytes);
  expect(result.status).toBe(S.STATUS_SUCCESS);
  return decodeReply(result.reply, { version: 1 });
}

/** Status and command of a bare reply, read without the decoder. */
function bare(bytes: Uint8Array): {
  status: number;
  command: number;
  size: number;
  requestId: bigint;
} {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const o = FLTB_REPLY_HEADER.offset;
  return {
    status: v.getUint32(o.Status, true),
    command: v.getUint16(o.Command, true),
    size: v.getUint32(o.Size, true),
    requestId: v.getBigUint64(o.RequestId, true),
  };
}

function connected(): { m: Model; c: Connection } {
  const m = new Model({ files: { 'C:\\f': 'hello' }, deliver: 'manual' });
  const c = m.bridge.connectPort();
  expect(send(c, hello()).status).toBe(S.STATUS_SUCCESS);
  return { m, c };
}

describe('connect', () => {
  it('a valid FLTB_CONNECT_CONTEXT connects; a malformed one is refused; at most FLTB_PORT_MAX_CONNECTIONS', () => {
    const port = new CommPort(createModelBridge().filter);
    const ctx = encodeConnectContext({ clientCapabilities: FLTB_CAP_ALL });
    const bad = ctx.slice();
    bad[0] = 0;
    expect(port.connect(bad).status).toBe(S.STATUS_INVALID_PARAMETER);
    expect(port.connect(ctx.subarray(0, 8)).status).toBe(S.STATUS_INVALID_PARAMETER);
    const connections = [1, 2, 3, 4].map(() => port.connect(ctx));
    expect(connections.every((r) => r.status === S.STATUS_SUCCESS)).toBe(true);
    expect(port.connect(ctx).status).toBe(S.STATUS_CONNECTION_COUNT_LIMIT);
    connections[0]?.connection?.disconnect();
    expect(port.connect(ctx).status).toBe(S.STATUS_SUCCESS);
  });
});

describe('commands', () => {
  it('HELLO agrees on the highest common version and reports the queue', () => {
    const m = new Model();
    const c = m.bridge.connectPort();
    const reply = send(c, hello(7n, 1, 9));
    expect(reply).toMatchObject({ command: 'hello', requestId: 7n, status: S.STATUS_SUCCESS });
    expect(reply.command === 'hello' && reply.body).toMatchObject({
      protocolVersion: 1,
      capabilities: FLTB_CAP_ALL,
      queueLimit: 65536,
      nextSequence: 1n,
    });
  });

  it("HELLO without a common version: STATUS_REVISION_MISMATCH, naming the driver's version", () => {
    const c = new Model().bridge.connectPort();
    const r = c.message(encodeCommand(hello(1n, 2, 3)));
    const reply = decodeReply(r.reply, { version: 1 });
    expect(reply.status).toBe(S.STATUS_REVISION_MISMATCH);
    expect(reply.command === 'hello' && reply.body?.protocolVersion).toBe(1);
  });

  it('any command before HELLO: STATUS_INVALID_DEVICE_REQUEST', () => {
    const c = new Model().bridge.connectPort();
    const r = c.message(encodeCommand({ command: 'get-stats', requestId: 5n }));
    expect(bare(r.reply)).toMatchObject({
      status: S.STATUS_INVALID_DEVICE_REQUEST,
      command: 3,
      size: 24,
      requestId: 5n,
    });
  });

  it('malformed input never throws: short buffers, bad magic, wrong size, reserved flags, unknown commands', () => {
    const { c } = connected();
    const stats = encodeCommand({ command: 'get-stats', requestId: 9n });
    const cases: [Uint8Array, number][] = [
      [new Uint8Array(3), S.STATUS_INVALID_PARAMETER],
      [Uint8Array.from(stats, (b, i) => (i === 0 ? 0 : b)), S.STATUS_INVALID_PARAMETER],
      [Uint8Array.from([...stats, 0, 0, 0, 0, 0, 0, 0, 0]), S.STATUS_INVALID_PARAMETER],
      [Uint8Array.from(stats, (b, i) => (i === 12 ? 1 : b)), S.STATUS_INVALID_PARAMETER],
      [Uint8Array.from(stats, (b, i) => (i === 6 ? 99 : b)), S.STATUS_INVALID_DEVICE_REQUEST],
      [Uint8Array.from(stats, (b, i) => (i === 4 ? 2 : b)), S.STATUS_REVISION_MISMATCH],
    ];
    for (const [input, status] of cases) {
      const r = c.message(input);
      expect(r.status).toBe(S.STATUS_SUCCESS);
      expect(bare(r.reply).status).toBe(status);
    }
  });

  it("a reply larger than the caller's buffer: STATUS_BUFFER_TOO_SMALL", () => {
    const { c } = connected();
    const r = c.message(encodeCommand({ command: 'get-stats', requestId: 1n }), 100);
    expect(bare(r.reply).status).toBe(S.STATUS_BUFFER_TOO_SMALL);
  });

  it('CONFIGURE sets namespaces, mask and queue limit; MANAGED and OBSERVE on the same path: STATUS_INVALID_PARAMETER', () => {
    const { m, c } = connected();
    const ok = send(c, {
      command: 'configure',
      requestId: 2n,
      eventTypeMask: 1n << 2n,
      queueLimit: 16,
      namespaces: [
        { kind: 'managed', path: '\\Device\\HarddiskVolume1\\m' },
        { kind: 'observe', path: '\\Device\\HarddiskVolume1\\o' },
      ],
    });
    expect(ok.command === 'configure' && ok.body).toEqual({
      eventTypeMask: 4n,
      queueLimit: 16,
      managedCount: 1,
      observeCount: 1,
    });
    expect(m.bridge.filter.policy.classify('\\O\\X')).toBe('observe');
    const conflict = c.message(
      encodeCommand({
        command: 'configure',
        requestId: 3n,
        namespaces: [
          { kind: 'managed', path: '\\same' },
          { kind: 'observe', path: '\\SAME' },
        ],
      }),
    );
    expect(bare(conflict.reply).status).toBe(S.STATUS_INVALID_PARAMETER);
    expect(m.bridge.filter.policy.managedCount).toBe(1);
  });

  it('GET_STATS: exact counters, pended operations, managed streams, connections', () => {
    const { m, c } = connected();
    const h = m.handle('C:\\f');
    m.bridge.requestOplock(h, { level: 'R' });
    const reply = send(c, { command: 'get-stats', requestId: 4n });
    const body = reply.command === 'get-stats' ? reply.body : undefined;
    expect(body).toMatchObject({
      eventsProduced: 3n,
      eventsDelivered: 0n,
      eventsDropped: 0n,
      nextSequence: 4n,
      queueDepth: 3,
      pendedOperations: 1,
      managedStreams: 1,
      activeProbes: 0,
      connections: 1,
    });
    expect(body?.perTypeProduced[2]).toBe(1n);
  });

  it('FLUSH_EVENTS with DISCARD: the queued records become one exact gap', () => {
    const { m, c } = connected();
    m.handle('C:\\f');
    m.handle('C:\\f');
    const reply = send(c, { command: 'flush-events', requestId: 5n, flags: 1 });
    expect(reply.command === 'flush-events' && reply.body).toEqual({
      discarded: 2n,
      nextSequence: 3n,
    });
    m.handle('C:\\f');
    const batch = decodeBatch(c.nextBatch() as Uint8Array);
    expect(batch.events.map((e) => [e.type, e.seq])).toEqual([
      ['dropped', 1n],
      ['create', 3n],
    ]);
    expect(batch.header.droppedSinceLast).toBe(2n);
  });

  it('nothing is produced before a client subscribes (HELLO with EVENT_BATCHES); a client that does not consume batches gets none', () => {
    const filter = new FltBridgeFilter(new FileSystem());
    const io = new IoManager(filter);
    const open = () =>
      io.create({
        path: 'C:\\f',
        process: 1,
        desiredAccess: 0x80000000,
        shareAccess: 7,
        disposition: 3,
        createOptions: 0,
      });
    open();
    const port = new CommPort(filter);
    const ctx = encodeConnectContext({ clientCapabilities: FLTB_CAP_ALL });
    const quiet = port.connect(ctx).connection as Connection;
    send(quiet, { ...hello(), clientCapabilities: 0 } as Command);
    open();
    expect(filter.events.nextSequence).toBe(1n);
    const c = port.connect(ctx).connection as Connection;
    const reply = send(c, hello());
    expect(reply.command === 'hello' && reply.body?.nextSequence).toBe(1n);
    open();
    const events = decodeBatch(c.nextBatch() as Uint8Array).events;
    expect(events.map((e) => [e.type, e.seq])).toEqual([['create', 1n]]);
    expect(quiet.nextBatch()).toBeUndefined();
    c.disconnect();
    open();
    expect(filter.events.nextSequence).toBe(2n);
  });
});

describe('event batches', () => {
  it("decode to the records the queue holds, within the client's buffer, gap-free", () => {
    const direct = new Model({ files: { 'C:\\f': 'hello' } });
    const { m, c } = connected();
    for (const model of [direct, m]) {
      const h = model.handle('C:\\f', { access: 'rw' });
      model.now(model.bridge.write(h, { offset: 0n, data: 3 }));
      model.close(h);
    }
    const received: BridgeEvent[] = [];
    for (let batch = c.nextBatch(200); batch !== undefined; batch = c.nextBatch(200)) {
      const decoded = decodeBatch(batch);
      expect(decoded.header.totalBytes).toBeLessThanOrEqual(200);
      received.push(...decoded.events);
    }
    expect(received).toEqual(direct.events);
  });

  it('the wire option delivers the same events through the codec', () => {
    const run = (wire: boolean) => {
      const m = new Model({ files: { 'C:\\f': 'x' }, wire });
      const a = m.handle('C:\\f', {
        access: 'rw',
        oplockKey: '{6B29FC40-CA47-1067-B31D-00DD010662DA}',
      });
      m.bridge.requestOplock(a, { level: 'RWH' });
      m.now(m.bridge.lock(a, { offset: 1n, length: 2n }));
      m.close(a);
      return m.events;
    };
    expect(run(true)).toEqual(run(false));
  });
});

describe('probes (docs/events.md "probe")', () => {
  const probeStart = (path: string, flags = 0): Command => ({
    command: 'probe-start',
    requestId: 11n,
    kind: 'oplock',
    oplockLevel: 'R',
    flags,
    path,
  });

  it('an oplock tripwire: `probe-issued`, then `probe-completed` when an open breaks it', () => {
    const { m, c } = connected();
    m.bridge.filter.events.take();
    const reply = send(c, probeStart('\\Device\\HarddiskVolume1\\f'));
    expect(reply.command === 'probe-start' && reply.body?.probeId).toBe(1n);
    const issued = m.bridge.filter.events.take();
    expect(issued.map((e) => e.type)).toEqual(['probe-issued']);
    expect(issued[0]).toMatchObject({ kind: 'oplock', oplockLevel: 'R', status: S.STATUS_PENDING });
    m.open('C:\\f', { access: 'rw', disposition: 'overwrite' });
    const after = m.bridge.filter.events.take();
    // The tripwire sits in the file system's oplock: it fires while the file system processes
    // the create, so its completion comes before the create's post-operation record.
    expect(after.map((e) => e.type)).toEqual(['probe-completed', 'create']);
    expect(after[0]).toMatchObject({ probeId: 1n, status: 0, outputLevel: 'NONE', probeFlags: 0 });
  });

  it('REARM re-issues after each break; PROBE_STOP ends it (STOPPED); an unknown id: STATUS_NOT_FOUND', () => {
    const { m, c } = connected();
    send(c, probeStart('\\f', 1));
    m.open('C:\\f', { access: 'rw', disposition: 'overwrite' });
    m.bridge.filter.events.take();
    expect(m.bridge.filter.probes.active).toBe(1);
    const stop = c.message(encodeCommand({ command: 'probe-stop', requestId: 12n, probeId: 1n }));
    expect(bare(stop.reply).status).toBe(S.STATUS_SUCCESS);
    const done = m.bridge.filter.events.take().filter((e) => e.type === 'probe-completed');
    expect(done.at(-1)).toMatchObject({ status: S.STATUS_CANCELLED, probeFlags: 2 });
    const again = c.message(encodeCommand({ command: 'probe-stop', requestId: 13n, probeId: 1n }));
    expect(bare(again.reply).status).toBe(S.STATUS_NOT_FOUND);
  });

  it("a read probe completes with the bytes read; a missing file is refused with the open's status", () => {
    const { m, c } = connected();
    m.bridge.filter.events.take();
    send(c, {
      command: 'probe-start',
      requestId: 1n,
      kind: 'read',
      readOffset: 1n,
      readLength: 3,
      path: '\\Device\\HarddiskVolume1\\f',
    });
    const records = m.bridge.filter.events.take();
    expect(records.map((e) => e.type)).toEqual(['probe-issued', 'probe-completed']);
    expect(records[1]).toMatchObject({ kind: 'read', information: 3n, status: 0 });
    const missing = c.message(
      encodeCommand({
        command: 'probe-start',
        requestId: 2n,
        kind: 'read',
        readOffset: 0n,
        readLength: 1,
        path: '\\Device\\HarddiskVolume1\\nope',
      }),
    );
    expect(bare(missing.reply).status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
  });
});
