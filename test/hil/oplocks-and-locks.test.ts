// The Bridge API directly, the way a hardware-in-the-loop test for a file server or filter would
// use it: the same assertions on the model and (on the VM) on Windows with the driver.
import { expect } from 'vitest';
import { NtStatus } from '../../src/bridge/ntstatus.js';
import type { Handle } from '../../src/bridge/types.js';
import { forEachBackend, scratchFile, settled } from '../../src/testing/index.js';

forEachBackend('a read open breaks RWH to RH and waits for the acknowledgement', async (bridge) => {
  const path = await scratchFile(bridge, 'rwh', 4096);
  const h1 = (await bridge.open(path, { access: 'read,write', share: 'read,write,delete' }).result)
    .handle as Handle;
  expect(h1).toBeDefined();
  const oplock = bridge.requestOplock(h1, { level: 'RWH' });
  await settled(bridge);
  expect(oplock.completed).toBeUndefined(); // granted: held until a break

  const open2 = bridge.open(path, { access: 'read' });
  const broken = await oplock.result;
  expect(broken).toMatchObject({
    status: NtStatus.STATUS_SUCCESS,
    originalLevel: 'RWH',
    newLevel: 'RH',
    ackRequired: true,
  });
  await settled(bridge);
  expect(open2.completed).toBeUndefined(); // the open waits for the acknowledgement

  const ack = bridge.acknowledgeOplock(h1, { kind: 'ack', level: 'RH' });
  const opened = await open2.result;
  expect(opened.status).toBe(NtStatus.STATUS_SUCCESS);
  await settled(bridge);
  expect(ack.completed).toBeUndefined(); // the acknowledgement is the new RH oplock

  await bridge.close(opened.handle as Handle).result;
  await bridge.close(h1).result;
  expect((await ack.result).status).toBe(NtStatus.STATUS_OPLOCK_HANDLE_CLOSED);
});

forEachBackend(
  'an exclusive lock refuses another handle; a waiting lock is granted on unlock',
  async (bridge) => {
    const path = await scratchFile(bridge, 'locks', 100);
    const h1 = (await bridge.open(path, { access: 'read,write' }).result).handle as Handle;
    const h2 = (await bridge.open(path, { access: 'read,write' }).result).handle as Handle;
    expect((await bridge.lock(h1, { offset: 0n, length: 10n }).result).status).toBe(
      NtStatus.STATUS_SUCCESS,
    );
    expect((await bridge.write(h2, { offset: 5n, data: 1 }).result).status).toBe(
      NtStatus.STATUS_FILE_LOCK_CONFLICT,
    );
    expect((await bridge.lock(h2, { offset: 0n, length: 10n }).result).status).toBe(
      NtStatus.STATUS_LOCK_NOT_GRANTED,
    );

    const waiting = bridge.lock(h2, { offset: 0n, length: 10n, failImmediately: false });
    await settled(bridge);
    expect(waiting.completed).toBeUndefined();
    expect((await bridge.unlock(h1, { offset: 0n, length: 10n }).result).status).toBe(
      NtStatus.STATUS_SUCCESS,
    );
    expect((await waiting.result).status).toBe(NtStatus.STATUS_SUCCESS);
    await bridge.close(h1).result;
    await bridge.close(h2).result;
  },
);

forEachBackend(
  'the last byte of a 64-bit range can be locked; a wrapping range cannot',
  async (bridge) => {
    const path = await scratchFile(bridge, 'edge', 1);
    const h = (await bridge.open(path, { access: 'read,write' }).result).handle as Handle;
    const max = (1n << 64n) - 1n;
    expect((await bridge.lock(h, { offset: max, length: 1n }).result).status).toBe(
      NtStatus.STATUS_SUCCESS,
    );
    expect((await bridge.lock(h, { offset: 2n, length: max }).result).status).toBe(
      NtStatus.STATUS_INVALID_LOCK_RANGE,
    );
    await bridge.close(h).result;
  },
);
