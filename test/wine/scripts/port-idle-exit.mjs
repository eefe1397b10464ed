// Connects to the port through the double, listens until it has a few events, stops listening
// and ends without disposing anything: the connection's ThreadSafeFunction is unref'd while
// nobody listens, so the process must exit by itself (the environment teardown then stops the
// pump thread with its FilterGetMessage calls still outstanding). The suite measures the exit.
//
// argv: <repo root> <result file> <control port>
import { connect } from 'node:net';
import { args, importDist, within, writeJson } from './common.mjs';

const { root, out, rest } = args();
const { createWindowsBridge } = await importDist(root, 'backends/windows.js');
const control = connect(Number(rest[0]), '127.0.0.1');
await new Promise((resolve) => control.once('connect', resolve));
control.setEncoding('utf8');
const ctl = (request) =>
  new Promise((resolve) => {
    control.once('data', (line) => resolve(JSON.parse(line)));
    control.write(`${JSON.stringify(request)}\n`);
  });

const bridge = await createWindowsBridge({ events: 'required' });
let received = 0;
let done;
const enough = new Promise((resolve) => {
  done = resolve;
});
const unsubscribe = bridge.subscribe(() => {
  received += 1;
  if (received === 100) done();
});
await ctl({ op: 'produce', count: 100 });
const got = await within(enough, 10000);
unsubscribe();
control.destroy();
writeJson(out, {
  received,
  settled: got.settled,
  armed: bridge.port.nativeStats().armed,
  endedAt: Date.now(),
});
// No dispose: nothing keeps the event loop alive now.
