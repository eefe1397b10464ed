// Event throughput through the fltlib double, measured in the Windows node.exe under Wine:
//   raw      the addon's records, counted from each batch header (no decoding);
//   decoded  the windows backend: PortClient decodes every record into a BridgeEvent and checks
//            the sequence, the bridge hands each event to a subscriber.
// Each run: the server produces N events while paused, then pushes them; the clock runs from
// "resume" to the last event in JS.
//
// argv: <repo root> <result file> <control port> <events per run> <runs>
import { connect } from 'node:net';
import { args, importDist, writeJson } from './common.mjs';

const { root, out, rest } = args();
const [controlPort, perRun = '100000', runs = '3'] = rest;
const N = Number(perRun);
const { createWindowsBridge } = await importDist(root, 'backends/windows.js');
const { loadAddon } = await importDist(root, 'backends/windows/addon.js');
const protocol = await importDist(root, 'protocol/index.js');

const control = connect(Number(controlPort), '127.0.0.1');
await new Promise((resolve) => control.once('connect', resolve));
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

async function measure(count, until) {
  await ctl({ op: 'pause' });
  await ctl({ op: 'produce', count });
  const t0 = process.hrtime.bigint();
  await ctl({ op: 'resume' });
  await until;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const server = await ctl({ op: 'stats' });
  return {
    events: count,
    seconds,
    eventsPerSecond: Math.round(count / seconds),
    serverPush: server.lastPush,
  };
}

const result = { perRun: N, raw: [], decoded: [] };

// raw: the addon alone.
{
  const { addon } = loadAddon();
  let got = 0;
  let target = 0;
  let release;
  const id = addon.portConnect(
    '\\FltBridgePort',
    protocol.encodeConnectContext({ clientCapabilities: 0x1f }),
    (records) => {
      for (const r of records) {
        if (r.kind === 'send') sends.get(r.request)?.(r);
        if (r.kind !== 'events') continue;
        got += new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength).getUint32(8, true);
        if (got >= target) release?.();
      }
    },
  );
  const sends = new Map();
  addon.portRef(id, true);
  const hello = await new Promise((resolve) => {
    sends.set(1, resolve);
    addon.portSend(
      id,
      1,
      protocol.encodeCommand({
        command: 'hello',
        requestId: 1n,
        minVersion: 1,
        maxVersion: 1,
        clientCapabilities: 0x1f,
        clientProcessId: 1,
      }),
      4096,
    );
  });
  if (hello.hresult !== 0) throw new Error(`HELLO failed ${hello.hresult}`);
  await new Promise((resolve) => {
    sends.set(2, resolve);
    addon.portSend(
      id,
      2,
      protocol.encodeCommand({ command: 'configure', requestId: 2n, queueLimit: 1048576 }),
      4096,
    );
  });
  addon.portStart(id, 4, 65536);
  for (let i = 0; i < Number(runs); i += 1) {
    target = got + N;
    const done = new Promise((resolve) => {
      release = resolve;
    });
    result.raw.push(await measure(N, done));
  }
  await addon.portClose(id);
}

// decoded: the windows backend.
{
  await new Promise((resolve) => setTimeout(resolve, 500)); // the double notices the closed port
  const bridge = await createWindowsBridge({
    events: 'required',
    configure: { queueLimit: 1048576 },
  });
  let got = 0;
  let target = 0;
  let release;
  bridge.subscribe((event) => {
    if (event.type !== 'dropped') got += 1;
    if (got >= target) release?.();
  });
  for (let i = 0; i < Number(runs); i += 1) {
    target = got + N;
    const done = new Promise((resolve) => {
      release = resolve;
    });
    result.decoded.push(await measure(N, done));
  }
  result.portEventStats = bridge.port.eventStats;
  await bridge.dispose();
}
await ctl({ op: 'exit' });
control.destroy();
writeJson(out, result);
