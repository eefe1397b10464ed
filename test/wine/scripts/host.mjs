// Loads the addon in a host whose executable is not named node.exe (the suite runs this with a
// copy of node.exe called fltbridge-host.exe): the NODE.EXE imports are delay-loaded and the
// delay-load hook answers with the running executable. One real I/O round trip proves the
// Node-API calls resolved.
//
// argv: <repo root> <result file> <work directory>
import { basename, join } from 'node:path';
import { args, importDist, res, writeJson } from './common.mjs';

const { root, out, rest } = args();
const { createWindowsBridge } = await importDist(root, 'backends/windows.js');
const bridge = await createWindowsBridge({ events: 'off' });
const opened = await bridge.open(join(rest[0], 'host.dat'), {
  access: 'rw',
  disposition: 'overwrite-if',
}).result;
const written = await bridge.write(opened.handle, {
  offset: 0n,
  data: new TextEncoder().encode('delay-loaded'),
}).result;
const read = await bridge.read(opened.handle, { offset: 0n, length: 64 }).result;
await bridge.close(opened.handle).result;
await bridge.dispose();
writeJson(out, {
  exe: basename(process.execPath),
  addon: bridge.addon.version,
  open: res(opened),
  write: res(written),
  text: new TextDecoder().decode(read.data),
});
