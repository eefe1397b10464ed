// Test-client I/O under Wine, through the real addon and the windows backend: sharing, byte-range
// locks (conflicts, a waiting lock granted after the holder unlocks or closes), overlapped read and
// write, cancellation, many handles at once, close with operations in flight, set-information,
// oplock requests, typed errors, and the port connect against Wine's own fltlib.
//
// argv: <repo root> <result file> <work directory>   (all Windows paths)
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  args,
  errorOf,
  importDist,
  rejectionOf,
  res,
  sleep,
  within,
  writeJson,
} from './common.mjs';

const { root, out, rest } = args();
const work = rest[0];
if (!work) throw new Error('io.mjs: work directory argument missing');
const { createWindowsBridge } = await importDist(root, 'backends/windows.js');
const result = { platform: process.platform, pid: process.pid };
const file = (name) => join(work, name);

// ---- the port against Wine's built-in fltlib (no ports): typed errors ----
result.portRequired = await rejectionOf(createWindowsBridge({ events: 'required' }));

const bridge = await createWindowsBridge({ events: 'optional' });
result.addon = bridge.addon.version;
result.capabilities = bridge.capabilities;
result.portOptional = bridge.portError;
result.subscribeWithoutPort = errorOf(() => bridge.subscribe(() => {}));
result.diagnosticsStart = bridge.diagnostics();

const open = async (path, options) => await bridge.open(path, options).result;

// ---- sharing ----
{
  const a = await open(file('share.dat'), {
    access: 'rw',
    share: 'none',
    disposition: 'overwrite-if',
  });
  const b = await open(file('share.dat'), { access: 'read', share: 'rw' });
  const c = await open(file('missing\\nope.dat'), { access: 'read' });
  const c2 = await open(file('nope.dat'), { access: 'read' });
  const d = await open(file('share.dat'), { access: 'read', share: 'rw', disposition: 'create' });
  await bridge.close(a.handle).result;
  const e = await open(file('share.dat'), { access: 'read', share: 'read' });
  const f = await open(file('share.dat'), { access: 'rw', share: 'rw' });
  result.sharing = {
    first: res(a),
    denied: res(b),
    pathNotFound: res(c),
    nameNotFound: res(c2),
    createExisting: res(d),
    afterClose: res(e),
    writeAgainstReadShare: res(f),
  };
  await bridge.close(e.handle).result;
}

// ---- byte-range locks ----
{
  const path = file('locks.dat');
  const a = (await open(path, { access: 'rw', share: 'rw', disposition: 'overwrite-if' })).handle;
  const b = (await open(path, { access: 'rw', share: 'rw' })).handle;
  const write = await bridge.write(a, { offset: 0n, data: 4096 }).result;
  const lockA = await bridge.lock(a, { offset: 0n, length: 100n }).result;
  const lockB = await bridge.lock(b, { offset: 50n, length: 10n }).result;
  const lockBElsewhere = await bridge.lock(b, { offset: 200n, length: 10n }).result;
  const readB = await bridge.read(b, { offset: 10n, length: 10 }).result;
  const writeB = await bridge.write(b, { offset: 10n, data: 4 }).result;
  const readA = await bridge.read(a, { offset: 10n, length: 10 }).result;
  const unlockWrongRange = await bridge.unlock(a, { offset: 0n, length: 50n }).result;
  const unlockA = await bridge.unlock(a, { offset: 0n, length: 100n }).result;
  const unlockAgain = await bridge.unlock(a, { offset: 0n, length: 100n }).result;
  const sharedA = await bridge.lock(a, { offset: 1000n, length: 10n, exclusive: false }).result;
  const sharedB = await bridge.lock(b, { offset: 1000n, length: 10n, exclusive: false }).result;
  const exclusiveOverShared = await bridge.lock(b, { offset: 1005n, length: 1n }).result;
  result.locks = {
    write: res(write),
    lockA: res(lockA),
    conflict: res(lockB),
    elsewhere: res(lockBElsewhere),
    readThroughOther: res(readB),
    writeThroughOther: res(writeB),
    readThroughHolder: res(readA),
    unlockWrongRange: res(unlockWrongRange),
    unlock: res(unlockA),
    unlockAgain: res(unlockAgain),
    sharedA: res(sharedA),
    sharedB: res(sharedB),
    exclusiveOverShared: res(exclusiveOverShared),
  };
  await bridge.close(a).result;
  await bridge.close(b).result;
}

// ---- a waiting lock (synchronous handle) granted after the holder unlocks, then after it closes ----
{
  const path = file('wait.dat');
  const holder = (await open(path, { access: 'rw', share: 'rw', disposition: 'overwrite-if' }))
    .handle;
  const waiterHandle = (await open(path, { access: 'rw', share: 'rw', overlapped: false })).handle;
  await bridge.lock(holder, { offset: 0n, length: 100n }).result;
  const waiting = bridge.lock(waiterHandle, { offset: 0n, length: 100n, failImmediately: false });
  const before = await within(waiting.result, 400);
  const completedBeforeUnlock = waiting.completed;
  const unlock = await bridge.unlock(holder, { offset: 0n, length: 100n }).result;
  const after = await within(waiting.result, 5000);
  // Second round: the holder closes its handle instead (cleanup releases its locks).
  const relock = await bridge.lock(holder, { offset: 500n, length: 10n }).result;
  const waiting2 = bridge.lock(waiterHandle, { offset: 500n, length: 10n, failImmediately: false });
  const before2 = await within(waiting2.result, 400);
  const close = await bridge.close(holder).result;
  const after2 = await within(waiting2.result, 5000);
  result.waitingLock = {
    pendingBeforeUnlock: !before.settled,
    completedBeforeUnlock: completedBeforeUnlock === undefined ? null : res(completedBeforeUnlock),
    unlock: res(unlock),
    grantedAfterUnlock: after.settled ? res(after.value) : null,
    relock: res(relock),
    pendingBeforeClose: !before2.settled,
    holderClose: res(close),
    grantedAfterClose: after2.settled ? res(after2.value) : null,
  };
  await bridge.close(waiterHandle).result;
}

// ---- a waiting lock on an overlapped handle: what Wine does with it ----
{
  const path = file('wait-overlapped.dat');
  const holder = (await open(path, { access: 'rw', share: 'rw', disposition: 'overwrite-if' }))
    .handle;
  const other = (await open(path, { access: 'rw', share: 'rw' })).handle;
  await bridge.lock(holder, { offset: 0n, length: 10n }).result;
  const waiting = bridge.lock(other, { offset: 0n, length: 10n, failImmediately: false });
  const outcome = await within(waiting.result, 3000);
  result.overlappedWaitingLock = outcome.settled ? res(outcome.value) : { settled: false };
  await bridge.close(holder).result;
  await bridge.close(other).result;
}

// ---- overlapped read and write ----
{
  const path = file('rw.dat');
  const h = (await open(path, { access: 'rw', share: 'rw', disposition: 'overwrite-if' })).handle;
  const pattern = new Uint8Array(65536).map((_, i) => (i * 7 + 3) & 0xff);
  const w = await bridge.write(h, { offset: 4096n, data: pattern }).result;
  const r = await bridge.read(h, { offset: 4096n, length: 65536 }).result;
  const short = await bridge.read(h, { offset: 4096n + 65536n - 100n, length: 1000 }).result;
  const eof = await bridge.read(h, { offset: 1_000_000n, length: 10 }).result;
  // 32 writes in flight at once, then 32 reads, all through the IOCP.
  const writes = [];
  for (let i = 0; i < 32; i += 1) {
    writes.push(
      bridge.write(h, { offset: BigInt(200_000 + i * 512), data: new Uint8Array(512).fill(i) })
        .result,
    );
  }
  const writeResults = await Promise.all(writes);
  const reads = [];
  for (let i = 0; i < 32; i += 1)
    reads.push(bridge.read(h, { offset: BigInt(200_000 + i * 512), length: 512 }).result);
  const readResults = await Promise.all(reads);
  result.readWrite = {
    write: res(w),
    read: res(r),
    roundTrip: r.data.every((b, i) => b === pattern[i]) && r.data.byteLength === pattern.byteLength,
    shortRead: res(short),
    eof: res(eof),
    concurrentWrites: writeResults.map((x) => x.status),
    concurrentWriteBytes: writeResults.map((x) => Number(x.information)),
    concurrentReadsMatch: readResults.map(
      (x, i) => x.data.byteLength === 512 && x.data.every((b) => b === i),
    ),
  };
  const flush = await bridge.flush(h).result;
  result.flush = res(flush);
  await bridge.close(h).result;
}

// ---- cancellation (a pending read on a named pipe nobody writes to) ----
const pipeName = `\\\\.\\pipe\\fltbridge-wine-io-${process.pid}`;
const pipeServer = createServer(() => {});
await new Promise((resolve) => pipeServer.listen(pipeName, resolve));
{
  const h = (await open(pipeName, { access: 'rw', share: 'rw' })).handle;
  const read = bridge.read(h, { offset: 0n, length: 64 });
  const early = await within(read.result, 300);
  const cancelled = await bridge.cancel(read);
  const outcome = await within(read.result, 5000);
  const cancelAgain = await bridge.cancel(read);
  result.cancel = {
    pendingBeforeCancel: !early.settled,
    cancelReturned: cancelled,
    result: outcome.settled ? res(outcome.value) : null,
    cancelAfterCompletion: cancelAgain,
  };
  // A runner job (a synchronous-handle read) cancelled with CancelSynchronousIo.
  const s = (await open(pipeName, { access: 'rw', share: 'rw', overlapped: false })).handle;
  const syncRead = bridge.read(s, { offset: 0n, length: 64 });
  await sleep(300);
  const syncCancelled = await bridge.cancel(syncRead);
  const syncOutcome = await within(syncRead.result, 3000);
  result.cancelSynchronous = {
    cancelReturned: syncCancelled,
    result: syncOutcome.settled ? res(syncOutcome.value) : null,
  };
  // ---- close with operations in flight ----
  const reads = [0, 1, 2].map(() => bridge.read(h, { offset: 0n, length: 16 }));
  await sleep(200);
  const close = await bridge.close(h).result;
  const inflight = await within(Promise.all(reads.map((x) => x.result)), 5000);
  result.closeInFlight = {
    close: res(close),
    reads: inflight.settled ? inflight.value.map(res) : null,
    useAfterClose: errorOf(() => bridge.read(h, { offset: 0n, length: 1 })),
  };
  // The synchronous read may still be blocked if Wine cannot cancel it: close its handle too.
  const closeSync = await bridge.close(s).result;
  const syncAfterClose = await within(syncRead.result, 3000);
  result.closeSynchronous = {
    close: res(closeSync),
    read: syncAfterClose.settled ? res(syncAfterClose.value) : null,
  };
}

// ---- many handles at once ----
{
  const count = 200;
  const opens = await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        bridge.open(file(`many-${i % 50}.dat`), {
          access: 'rw',
          share: 'rw',
          disposition: 'open-if',
        }).result,
    ),
  );
  const handles = opens.map((o) => o.handle);
  const writes = await Promise.all(
    handles.map(
      (h, i) =>
        bridge.write(h, { offset: BigInt(i * 8), data: new Uint8Array(8).fill(i & 0xff) }).result,
    ),
  );
  const stats = bridge.diagnostics();
  const closes = await Promise.all(handles.map((h) => bridge.close(h).result));
  result.manyHandles = {
    count,
    opened: opens.filter((o) => o.status === 0 && o.handle).length,
    distinctIds: new Set(handles.map((h) => h.id)).size,
    writesOk: writes.filter((w) => w.status === 0 && w.information === 8n).length,
    liveHandlesWhileOpen: stats.fileHandles,
    closed: closes.filter((c) => c.status === 0).length,
    liveHandlesAfter: bridge.diagnostics().fileHandles,
  };
}

// ---- set-information ----
{
  const path = file('info.dat');
  const h = (
    await open(path, { access: 'rw,delete', share: 'rw,delete', disposition: 'overwrite-if' })
  ).handle;
  await bridge.write(h, { offset: 0n, data: 10000 }).result;
  const eof = await bridge.setInformation(h, { class: 'end-of-file', size: 100n }).result;
  const readPast = await bridge.read(h, { offset: 100n, length: 10 }).result;
  const readBefore = await bridge.read(h, { offset: 90n, length: 100 }).result;
  const alloc = await bridge.setInformation(h, { class: 'allocation', size: 65536n }).result;
  const renamed = await bridge.setInformation(h, {
    class: 'rename',
    target: file('info-renamed.dat'),
    replaceIfExists: true,
  }).result;
  const oldName = await open(path, { access: 'read', share: 'rw,delete' });
  const newName = await open(file('info-renamed.dat'), { access: 'read', share: 'rw,delete' });
  if (newName.handle) await bridge.close(newName.handle).result;
  const disposition = await bridge.setInformation(h, { class: 'disposition', deleteFile: true })
    .result;
  await bridge.close(h).result;
  const afterDelete = await open(file('info-renamed.dat'), { access: 'read' });
  result.setInformation = {
    endOfFile: res(eof),
    readPastEnd: res(readPast),
    readAcrossEnd: res(readBefore),
    allocation: res(alloc),
    rename: res(renamed),
    openOldName: res(oldName),
    openNewName: res(newName),
    disposition: res(disposition),
    openAfterDelete: res(afterDelete),
  };
}

// ---- oplock requests: Wine grants none; report its statuses ----
{
  const path = file('oplock.dat');
  const h = (await open(path, { access: 'rw', share: 'rw', disposition: 'overwrite-if' })).handle;
  const outcome = {};
  for (const level of ['LEVEL1', 'LEVEL2', 'BATCH', 'FILTER', 'R', 'RW', 'RH', 'RWH']) {
    const r = await within(bridge.requestOplock(h, { level }).result, 3000);
    outcome[level] = r.settled ? res(r.value) : { settled: false };
  }
  const ack = await within(bridge.acknowledgeOplock(h, { kind: 'acknowledge' }).result, 3000);
  outcome.acknowledge = ack.settled ? res(ack.value) : { settled: false };
  const ackWin7 = await within(
    bridge.acknowledgeOplock(h, { kind: 'ack', level: 'NONE' }).result,
    3000,
  );
  outcome.ackWin7 = ackWin7.settled ? res(ackWin7.value) : { settled: false };
  result.oplocks = outcome;
  await bridge.close(h).result;
}

// ---- misuse: typed errors ----
{
  const live = (await open(file('errors-live.dat'), { access: 'rw', disposition: 'overwrite-if' }))
    .handle;
  const h = (await open(file('errors.dat'), { access: 'rw', disposition: 'overwrite-if' })).handle;
  await bridge.close(h).result;
  result.errors = {
    closedHandle: errorOf(() => bridge.read(h, { offset: 0n, length: 1 })),
    closeTwice: errorOf(() => bridge.close(h)),
    unlockAll: errorOf(() => bridge.unlockAll(live)),
    oplockKey: errorOf(() =>
      bridge.open(file('x.dat'), { oplockKey: '{11111111-2222-3333-4444-555555555555}' }),
    ),
    unknownHandle: errorOf(() =>
      bridge.read({ id: 99999, path: 'x', process: process.pid }, { offset: 0n, length: 1 }),
    ),
    otherProcess: errorOf(() => bridge.open(file('x.dat'), { process: process.pid + 1 })),
    lockKey: errorOf(() => bridge.lock(live, { offset: 0n, length: 1n, key: 7 })),
    supersede: errorOf(() => bridge.open(file('x.dat'), { disposition: 'supersede' })),
    completeIfOplocked: errorOf(() =>
      bridge.open(file('x.dat'), { options: 'FILE_COMPLETE_IF_OPLOCKED' }),
    ),
  };
  await bridge.close(live).result;
}

result.sessionStatsBeforeDispose = bridge.diagnostics();
// ---- dispose with an operation in flight ----
{
  const h = (await open(pipeName, { access: 'rw', share: 'rw' })).handle;
  const read = bridge.read(h, { offset: 0n, length: 64 });
  await sleep(100);
  const t0 = Date.now();
  await bridge.dispose();
  const settled = await within(read.result, 3000);
  result.dispose = {
    ms: Date.now() - t0,
    inFlightResult: settled.settled ? res(settled.value) : null,
    useAfterDispose: errorOf(() => bridge.open(file('x.dat'))),
    diagnostics: bridge.diagnostics(),
  };
}
pipeServer.close();
writeJson(out, result);
