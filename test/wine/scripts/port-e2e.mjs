// The port end to end under Wine: the real addon (connect, FilterSendMessage on its runner, the
// IOCP event pump) against the fltlib double, whose port is served by test/wine/port-server.ts
// (the model's port twin). The server is steered over its control socket: pause/resume pushing,
// produce events (model reads), vanish. Namespaces: DOS paths on Wine's C: drive resolved to NT
// paths by the addon (finalPath: GetFinalPathNameByHandleW), sent as CONFIGURE, and what the
// server received.
//
// argv: <repo root> <result file> <control port>
import { mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { args, importDist, rejectionOf, sleep, within, writeJson } from './common.mjs';

const { root, out, rest } = args();
const controlPort = Number(rest[0]);
const { createWindowsBridge, configureWindowsDriver, PortClient, readWindowsDriverPolicy } =
  await importDist(root, 'backends/windows.js');
const { loadAddon } = await importDist(root, 'backends/windows/addon.js');
const { IoSession } = await importDist(root, 'backends/windows/io.js');
const { ntPathOf, utf16 } = await importDist(root, 'backends/windows/namespaces.js');
const result = {};
const t00 = Date.now();
const phase = (name) => {
  console.log(`${((Date.now() - t00) / 1000).toFixed(2)}s ${name}`);
  writeJson(out, result); // partial results survive a crash
};

// ---- the server's control socket: one JSON line per request ----
const control = connect(controlPort, '127.0.0.1');
await new Promise((resolve, reject) => {
  control.once('connect', resolve);
  control.once('error', reject);
});
control.setEncoding('utf8');
const waiting = [];
let text = '';
control.on('data', (chunk) => {
  text += chunk;
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n')) {
    const line = text.slice(0, nl);
    text = text.slice(nl + 1);
    waiting.shift()?.(JSON.parse(line));
  }
});
const ctl = (request) =>
  new Promise((resolve) => {
    waiting.push(resolve);
    control.write(`${JSON.stringify(request)}\n`);
  });

const { addon } = loadAddon();
result.addon = addon.version();

phase('connect refused');
// ---- connect refused by the connect notify: a context version below FLTB_PROTOCOL_VERSION_MIN ----
result.contextMismatch = await rejectionOf(PortClient.connect(addon, { contextVersion: 0 }));
phase('HELLO with a version');
// ---- HELLO with a version range the driver does not speak ----
result.helloMismatch = await rejectionOf(
  PortClient.connect(addon, { minVersion: 2, maxVersion: 3 }),
);
phase('a port name');
// ---- a port name that does not exist ----
result.wrongName = await rejectionOf(PortClient.connect(addon, { name: '\\NoSuchPort' }));

phase('the bridge: HELLO');
// ---- the bridge: HELLO, CONFIGURE (queue limit for a 100,000-event burst) ----
const bridge = await createWindowsBridge({
  events: 'required',
  configure: { queueLimit: 1048576 },
});
const port = bridge.port;
result.capabilities = bridge.capabilities;
result.hello = port.hello;
result.version = port.version;
const configure = await port.configure({ queueLimit: 1048576 });
result.configure = configure;

// Collect every event the bridge delivers.
const seen = { count: 0, first: undefined, last: undefined, outOfOrder: 0, types: {}, dropped: [] };
let expect;
const errors = [];
bridge.onError((error) => errors.push(error));
const listeners = new Set();
bridge.subscribe((event) => {
  if (expect !== undefined && event.seq !== expect) seen.outOfOrder += 1;
  expect = event.type === 'dropped' ? event.seq + event.count : event.seq + 1n;
  seen.first ??= event.seq;
  seen.last = event.seq;
  seen.types[event.type] = (seen.types[event.type] ?? 0) + 1;
  if (event.type === 'dropped')
    seen.dropped.push({ seq: event.seq, firstSequence: event.firstSequence, count: event.count });
  else seen.count += 1;
  for (const l of listeners) l(event);
});
const untilCount = (n, ms) =>
  within(
    new Promise((resolve) => {
      if (seen.count >= n) return resolve();
      const l = () => {
        if (seen.count >= n) {
          listeners.delete(l);
          resolve();
        }
      };
      listeners.add(l);
    }),
    ms,
  );

phase('100,000 events');
// ---- 100,000 events: produced first (paused), then pushed; exact sequence numbers ----
{
  await ctl({ op: 'pause' });
  const t0 = Date.now();
  const produced = await ctl({ op: 'produce', count: 100000 });
  const produceMs = Date.now() - t0;
  const start = process.hrtime.bigint();
  await ctl({ op: 'resume' });
  const done = await untilCount(100000, 120000);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const serverSide = await ctl({ op: 'stats' });
  result.stream = {
    produced,
    produceMs,
    completed: done.settled,
    received: seen.count,
    first: seen.first,
    last: seen.last,
    outOfOrder: seen.outOfOrder,
    dropped: [...seen.dropped],
    types: { ...seen.types },
    seconds,
    eventsPerSecond: Math.round(seen.count / seconds),
    serverPush: serverSide.lastPush,
    portEventStats: port.eventStats,
    nativeStats: port.nativeStats(),
    errors: errors.length,
  };
}

phase('an injected drop');
// ---- an injected drop: a 16-record queue overflows while pushing is paused ----
{
  await port.configure({ queueLimit: 16 });
  await ctl({ op: 'pause' });
  const before = seen.count;
  const burst = await ctl({ op: 'produce', count: 40 });
  await ctl({ op: 'resume' });
  const firstPart = await untilCount(before + 16, 10000);
  // The run of drops is placed ahead of the next event that fits.
  const next = await ctl({ op: 'produce', count: 1 });
  const lastPart = await untilCount(before + 17, 10000);
  await port.configure({ queueLimit: 1048576 });
  const stats = await port.getStats();
  result.drop = {
    burst,
    next,
    firstPartArrived: firstPart.settled,
    lastPartArrived: lastPart.settled,
    receivedAfterBurst: seen.count - before,
    dropped: [...seen.dropped],
    outOfOrder: seen.outOfOrder,
    stats: {
      eventsProduced: stats.eventsProduced,
      eventsDropped: stats.eventsDropped,
      eventsDelivered: stats.eventsDelivered,
      nextSequence: stats.nextSequence,
      connections: stats.connections,
    },
    portEventStats: port.eventStats,
  };
}

phase('settle()');
// ---- settle(): FLUSH_EVENTS, then wait for every event before its NextSequence ----
await ctl({ op: 'produce', count: 10 });
await bridge.settle();
result.settle = { nextSequence: port.eventStats.nextSequence, last: seen.last };

phase('namespaces');
// ---- namespaces: DOS paths -> NT paths (GetFinalPathNameByHandleW under Wine) -> CONFIGURE ----
{
  const top = 'C:\\fltb-e2e';
  const dir = `${top}\\Managed Dir`;
  rmSync(top, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // What Wine answers for a few spellings of the same directory, and for a volume root.
  const session = new IoSession(addon);
  const wineNt = {};
  for (const spelling of [dir, 'c:\\FLTB-E2E\\MANAGED DIR\\', `\\\\?\\${dir}`, 'C:\\']) {
    wineNt[spelling] = await ntPathOf(addon, session, spelling, spelling).catch((e) => ({
      error: e.message,
    }));
  }
  // The raw completions: the root's name as GetFinalPathNameByHandleW returns it, and a miss.
  const raw = {};
  for (const [name, path] of [
    ['root', 'C:\\'],
    ['missing', `${top}\\missing`],
  ]) {
    const record = await session.submit((r) => addon.finalPath(session.id, r, path)).done;
    raw[name] = {
      status: record.status,
      win32: record.win32,
      source: record.source,
      information: record.information,
      name: utf16(record.data),
    };
  }
  await session.close();
  const serverBefore = (await ctl({ op: 'stats' })).configures.length;
  // The CLI's path (fltbridge driver configure): a command-only connection, no event queue.
  const configured = await configureWindowsDriver({
    namespaces: [
      { kind: 'managed', path: 'c:\\FLTB-E2E\\managed dir\\' },
      { kind: 'observe', path: '\\Device\\HarddiskVolume7\\elsewhere' },
    ],
  });
  const policy = await readWindowsDriverPolicy();
  const missing = await rejectionOf(
    configureWindowsDriver({ namespaces: [{ kind: 'managed', path: `${top}\\missing` }] }),
  );
  const unc = await rejectionOf(
    configureWindowsDriver({ namespaces: [{ kind: 'managed', path: '\\\\server\\share\\dir' }] }),
  );
  const serverSaw = (await ctl({ op: 'stats' })).configures.slice(serverBefore);
  rmSync(top, { recursive: true, force: true });
  result.namespaces = {
    wineNt,
    raw,
    configured: { namespaces: configured.namespaces, reply: configured.reply },
    policy: {
      managedCount: policy.settings.managedCount,
      observeCount: policy.settings.observeCount,
    },
    missing,
    unc,
    serverSaw,
  };
}

phase('the connection limit');
// ---- the connection limit (FLTB_PORT_MAX_CONNECTIONS = 4) ----
{
  // Only the bridge's connection may remain (the double notices closed handles within ~200 ms).
  const deadline = Date.now() + 5000;
  while ((await ctl({ op: 'stats' })).connections > 1 && Date.now() < deadline) await sleep(100);
  result.connectionsBeforeLimit = (await ctl({ op: 'stats' })).connections;
  const extra = [];
  const outcomes = [];
  for (let i = 0; i < 4; i += 1) {
    try {
      extra.push(await PortClient.connect(addon));
      outcomes.push('connected');
    } catch (error) {
      outcomes.push({
        name: error.name,
        code: error.code,
        message: error.message,
        hresult: error.hresult,
        hint: error.hint,
      });
    }
  }
  result.connectionLimit = outcomes;
  for (const c of extra) await c.close();
}

phase('shutdown with reads');
// ---- shutdown with reads outstanding ----
{
  const before = port.nativeStats();
  const t0 = Date.now();
  await bridge.dispose();
  result.shutdown = {
    armedBefore: before.armed,
    ms: Date.now() - t0,
    diagnostics: bridge.diagnostics(),
  };
}

phase('the server vanishes');
// ---- the server vanishes mid-stream ----
{
  // The double notices closed port handles within about 200 ms; let the server see them go.
  const settled = Date.now() + 5000;
  while ((await ctl({ op: 'stats' })).connections > 0 && Date.now() < settled) await sleep(100);
  const before = await ctl({ op: 'stats' });
  result.connectionsBeforeVanish = before.connections;
  // The bridge's configure option with a DOS path: C:\ (Wine: \Device\HarddiskVolume1), which
  // also gives the model back the namespace it started with.
  const b2 = await createWindowsBridge({
    events: 'required',
    configure: { queueLimit: 1048576, namespaces: [{ kind: 'managed', path: 'C:\\' }] },
  });
  result.bridgeConfiguration = b2.configuration;
  const got = { count: 0, first: undefined, last: undefined, outOfOrder: 0 };
  let next;
  b2.subscribe((event) => {
    if (next !== undefined && event.seq !== next) got.outOfOrder += 1;
    next = event.seq + 1n;
    got.first ??= event.seq;
    got.last = event.seq;
    got.count += 1;
  });
  const failure = new Promise((resolve) => b2.onError((error) => resolve(error)));
  await ctl({ op: 'pause' });
  await ctl({ op: 'produce', count: 20000 });
  await ctl({ op: 'vanish', afterRecords: 5000 });
  const t0 = Date.now();
  await ctl({ op: 'resume' });
  const failed = await within(failure, 15000);
  const failMs = Date.now() - t0;
  await sleep(200);
  const serverStats = await ctl({ op: 'stats' });
  const sendAfter = await rejectionOf(b2.port.getStats());
  const d0 = Date.now();
  const disposed = await within(b2.dispose(), 15000);
  const reconnect = await rejectionOf(createWindowsBridge({ events: 'required' }));
  result.vanish = {
    failed: failed.settled,
    error: failed.settled ? failed.value : undefined,
    failMs,
    received: got.count,
    first: got.first,
    last: got.last,
    outOfOrder: got.outOfOrder,
    serverRecordsSent: serverStats.recordsSent - before.recordsSent,
    serverVanished: serverStats.vanished,
    sendAfter,
    disposed: disposed.settled,
    disposeMs: Date.now() - d0,
    reconnect,
    diagnostics: b2.diagnostics(),
  };
}

phase('done');
result.errorsDuringStream = errors.map((e) => ({ name: e.name, message: e.message }));
await ctl({ op: 'exit' });
control.destroy();
writeJson(out, result);
