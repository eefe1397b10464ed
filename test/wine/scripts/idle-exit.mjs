// A script that opens a handle, does one write, and ends without closing or disposing anything.
// The addon's thread-safe functions are unref'd while no request is in flight, so the process
// must exit on its own (the suite measures how long it takes and that it exits 0).
//
// argv: <repo root> <result file> <work directory>
import { join } from 'node:path';
import { args, importDist, res, writeJson } from './common.mjs';

const { root, out, rest } = args();
const { createWindowsBridge } = await importDist(root, 'backends/windows.js');
const bridge = await createWindowsBridge({ events: 'off' });
const opened = await bridge.open(join(rest[0], 'idle.dat'), {
  access: 'rw',
  disposition: 'overwrite-if',
}).result;
const written = await bridge.write(opened.handle, { offset: 0n, data: 16 }).result;
writeJson(out, { open: res(opened), write: res(written), endedAt: Date.now() });
// No close, no dispose: the event loop has nothing left to wait for.
