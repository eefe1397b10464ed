/**
 * The per-operation event order of docs/events.md ("Managed streams" table), operation family
 * by operation family, with the causality fields ("Causality") and the identifiers
 * ("Identifiers"). The filter owns oplocks and byte-range locks here (the default namespace).
 */
import { describe, expect, it } from 'vitest';
import {
  BreakFlag,
  CreateFlag,
  LockFlag,
  MajorFunction,
  RecordFlag,
  UnlockAllFlag,
} from '../../../src/bridge/events.js';
import { Fsctl, OplockBreakInformation } from '../../../src/bridge/flags.js';
import { Model, S } from '../fs/harness.js';

const model = () => new Model({ files: { 'C:\\f': 'hello world', 'C:\\g': 'g' } });

describe('identifiers (docs/events.md "Identifiers")', () => {
  it('operationId, fileObjectId and streamId count from 1; every record of an operation carries its operationId', () => {
    const m = model();
    const a = m.handle('C:\\f');
    const b = m.handle('C:\\g');
    m.now(m.bridge.read(a, { offset: 0n, length: 1 }));
    expect(m.events.map((e) => [e.type, e.operationId, e.fileObjectId, e.streamId])).toEqual([
      ['create', 1n, 1n, 1n],
      ['create', 2n, 2n, 2n],
      ['io', 3n, 1n, 1n],
    ]);
    expect(m.bridge.fileObjectId(b)).toBe(2n);
    expect(
      m.events.every(
        (e) => e.flags === RecordFlag.MANAGED && e.processId === 1 && e.threadId === 1,
      ),
    ).toBe(true);
  });
});

describe('create', () => {
  it('a plain open: `create` only', () => {
    const m = model();
    m.handle('C:\\f');
    expect(m.types()).toEqual(['create']);
  });

  it('a break that needs no acknowledgement: `oplock-break` (caused by the create, not waiting), then `create`', () => {
    const m = model();
    const h1 = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(h1, { level: 'R' });
    m.clear();
    m.open('C:\\f', { access: 'rw', share: 'read,write,delete', disposition: 'overwrite' });
    expect(m.types()).toEqual(['oplock-break', 'create']);
    const [brk, create] = m.events as [
      ReturnType<Model['of']>[number],
      ReturnType<Model['of']>[number],
    ];
    expect(brk).toMatchObject({ fromLevel: 'R', toLevel: 'NONE', breakFlags: 0 });
    expect(brk.type === 'oplock-break' && brk.causedByOperationId).toBe(create.operationId);
    expect(brk.type === 'oplock-break' && brk.causedByMajor).toBe(MajorFunction.CREATE);
  });

  it("a create that waits: `oplock-break` (OPERATION_WAITS); the acknowledgement releases it and it goes down from a work item (its `create` after the acknowledgement's records: driver oplock.c FbOplockWaitComplete never resumes a success inline)", async () => {
    const m = model();
    const h1 = m.handle('C:\\f', { share: 'read,write,delete' });
    const held = m.bridge.requestOplock(h1, { level: 'RWH' });
    m.clear();
    const open = m.bridge.open('C:\\f', { share: 'read,write,delete' });
    expect(open.completed).toBeUndefined();
    expect(m.types()).toEqual(['oplock-break']);
    const brk = m.of('oplock-break')[0]!;
    expect(brk.breakFlags).toBe(BreakFlag.ACK_REQUIRED | BreakFlag.OPERATION_WAITS);
    expect([brk.fromLevel, brk.toLevel]).toEqual(['RWH', 'RH']);
    expect(brk.operationId).toBe(m.bridge.operationIds(held)[0]);
    m.clear();
    const ack = m.bridge.acknowledgeOplock(h1, { kind: 'ack', level: 'RH' });
    expect(m.types()).toEqual([
      'oplock-request',
      'oplock-break-completed',
      'oplock-acknowledged',
      'oplock-granted',
      'create',
    ]);
    const ackId = m.bridge.operationIds(ack)[0];
    const released = m.of('oplock-break-completed')[0]!;
    expect(released).toMatchObject({
      reason: 'acknowledged',
      releasedByOperationId: ackId,
      waiterMajor: 0,
    });
    expect(m.of('oplock-acknowledged')[0]!).toMatchObject({
      status: S.STATUS_PENDING,
      ackLevel: 'RH',
      brokenRequestOperationId: brk.operationId,
    });
    const create = m.of('create')[0]!;
    expect(create.operationId).toBe(released.operationId);
    expect(create.createFlags & CreateFlag.WAITED_FOR_BREAK).toBe(CreateFlag.WAITED_FOR_BREAK);
    expect((await open.result).status).toBe(S.STATUS_SUCCESS);
  });

  it('FILE_COMPLETE_IF_OPLOCKED: the break, then `create` with STATUS_OPLOCK_BREAK_IN_PROGRESS and BREAK_IN_PROGRESS', () => {
    const m = model();
    const h1 = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(h1, { level: 'BATCH' });
    m.clear();
    const r = m.open('C:\\f', { share: 'read,write,delete', options: 'complete_if_oplocked' });
    expect(r.status).toBe(S.STATUS_OPLOCK_BREAK_IN_PROGRESS);
    // The driver turns the file system's success into the break status, and as the break is a
    // batch oplock's (checked before the share check, FltCurrentBatchOplock) reports
    // FILE_OPBATCH_BREAK_UNDERWAY in Information, as NTFS owning the oplock does (cdfs / fastfat
    // create.c set it before their batch-oplock check; the NTFS twin's observe roots show it).
    expect(r.information).toBe(BigInt(OplockBreakInformation.FILE_OPBATCH_BREAK_UNDERWAY));
    expect(m.of('create')[0]!.information).toBe(OplockBreakInformation.FILE_OPBATCH_BREAK_UNDERWAY);
    expect(m.types()).toEqual(['oplock-break', 'create']);
    expect(m.of('oplock-break')[0]!.breakFlags).toBe(BreakFlag.ACK_REQUIRED | BreakFlag.LEGACY);
    const create = m.of('create')[0]!;
    expect(create.status).toBe(S.STATUS_OPLOCK_BREAK_IN_PROGRESS);
    expect(create.createFlags & CreateFlag.BREAK_IN_PROGRESS).toBe(CreateFlag.BREAK_IN_PROGRESS);
  });

  it('FILE_OPEN_REQUIRING_OPLOCK granted: `oplock-request` (FsControlCode 0), `oplock-granted` (SUCCESS), `create` (ATOMIC_OPLOCK)', () => {
    const m = model();
    m.open('C:\\new', { disposition: 'create', options: 'open_requiring_oplock' });
    expect(m.types()).toEqual(['oplock-request', 'oplock-granted', 'create']);
    expect(m.of('oplock-request')[0]).toMatchObject({ fsControlCode: 0, openCount: 1 });
    expect(m.of('oplock-granted')[0]!.status).toBe(S.STATUS_SUCCESS);
    expect(m.of('create')[0]!.createFlags & CreateFlag.ATOMIC_OPLOCK).toBe(
      CreateFlag.ATOMIC_OPLOCK,
    );
  });

  it('FILE_OPEN_REQUIRING_OPLOCK refused: `oplock-completed` (refused), `create` failing with its status; the open is backed out', () => {
    const m = model();
    const h1 = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(h1, { level: 'LEVEL2' });
    m.clear();
    const r = m.open('C:\\f', { share: 'read,write,delete', options: 'open_requiring_oplock' });
    expect(r.status).toBe(S.STATUS_CANNOT_BREAK_OPLOCK);
    expect(m.types()).toEqual(['oplock-request', 'oplock-completed', 'create']);
    expect(m.of('oplock-completed')[0]).toMatchObject({
      reason: 'refused',
      status: S.STATUS_CANNOT_BREAK_OPLOCK,
    });
    // FltCancelFileOpen gave the file system its cleanup and close: nothing is left open.
    expect(
      m.open('C:\\f', { access: 'rw', share: 'none', options: 'complete_if_oplocked' }).status,
    ).toBe(S.STATUS_SHARING_VIOLATION);
    m.close(h1);
    expect(m.open('C:\\f', { access: 'rw', share: 'none' }).status).toBe(S.STATUS_SUCCESS);
  });

  it('a sharing violation against a handle-caching holder: FltOplockBreakH, the create waits (SHARING_BREAK), and succeeds once the holder closes', async () => {
    const m = model();
    const h1 = m.handle('C:\\f', { access: 'read', share: 'read' });
    m.bridge.requestOplock(h1, { level: 'RH' });
    m.clear();
    const open = m.bridge.open('C:\\f', { access: 'rw', share: 'read,write' });
    expect(m.types()).toEqual(['oplock-break']);
    expect(m.of('oplock-break')[0]).toMatchObject({ fromLevel: 'RH', toLevel: 'R' });
    m.clear();
    m.close(h1);
    // After FltOplockBreakH the rest of the create runs from a work item: after the cleanup's records.
    expect(m.types()).toEqual(['oplock-break-completed', 'cleanup', 'close', 'create']);
    expect(m.of('oplock-break-completed')[0]!.reason).toBe('handle-closed');
    const create = m.of('create')[0]!;
    expect(create.status).toBe(S.STATUS_SUCCESS);
    expect(create.createFlags & (CreateFlag.SHARING_BREAK | CreateFlag.WAITED_FOR_BREAK)).toBe(
      CreateFlag.SHARING_BREAK | CreateFlag.WAITED_FOR_BREAK,
    );
    expect((await open.result).status).toBe(S.STATUS_SUCCESS);
  });

  it('a sharing violation that an acknowledgement does not cure: the create is retried once and fails', async () => {
    const m = model();
    const h1 = m.handle('C:\\f', { access: 'read', share: 'read' });
    m.bridge.requestOplock(h1, { level: 'RH' });
    const open = m.bridge.open('C:\\f', { access: 'rw', share: 'read,write' });
    m.clear();
    m.bridge.acknowledgeOplock(h1, { kind: 'ack', level: 'R' });
    expect(m.types().slice(-1)).toEqual(['create']);
    expect((await open.result).status).toBe(S.STATUS_SHARING_VIOLATION);
  });
});

describe('oplock requests and acknowledgements', () => {
  it('granted: `oplock-request` (PENDING, OpenCount) then `oplock-granted` (PENDING)', () => {
    const m = model();
    const h = m.handle('C:\\f');
    m.clear();
    m.bridge.requestOplock(h, { level: 'BATCH' });
    expect(m.types()).toEqual(['oplock-request', 'oplock-granted']);
    expect(m.of('oplock-request')[0]).toMatchObject({
      status: S.STATUS_PENDING,
      fsControlCode: Fsctl.FSCTL_REQUEST_BATCH_OPLOCK,
      requestedLevel: 'BATCH',
      openCount: 1,
    });
    expect(m.of('oplock-granted')[0]).toMatchObject({
      status: S.STATUS_PENDING,
      grantedLevel: 'BATCH',
    });
  });

  it('refused: `oplock-request` then `oplock-completed` (refused) with the status (exclusive request with two handles)', () => {
    const m = model();
    const h = m.handle('C:\\f', { share: 'read,write,delete' });
    m.handle('C:\\f', { share: 'read,write,delete' });
    m.clear();
    const r = m.now(m.bridge.requestOplock(h, { level: 'LEVEL1' }));
    expect(r.status).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    expect(m.types()).toEqual(['oplock-request', 'oplock-completed']);
    expect(m.of('oplock-request')[0]!.openCount).toBe(2);
    expect(m.of('oplock-completed')[0]).toMatchObject({
      reason: 'refused',
      status: S.STATUS_OPLOCK_NOT_GRANTED,
    });
  });

  it('a shared request gets OpenCount = "byte-range locks exist" (FsRtlAreThereCurrentFileLocks)', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw' });
    m.now(m.bridge.lock(h, { offset: 100n, length: 1n }));
    m.clear();
    m.bridge.requestOplock(h, { level: 'LEVEL2' });
    expect(m.of('oplock-request')[0]!.openCount).toBe(1);
  });

  it('a held request ends when cancelled: `oplock-completed` (cancelled, STATUS_CANCELLED)', async () => {
    const m = model();
    const h = m.handle('C:\\f');
    const request = m.bridge.requestOplock(h, { level: 'R' });
    m.clear();
    expect(await m.bridge.cancel(request)).toBe(true);
    expect(m.types()).toEqual(['oplock-completed']);
    expect(m.of('oplock-completed')[0]).toMatchObject({
      reason: 'cancelled',
      status: S.STATUS_CANCELLED,
    });
    expect((await request.result).status).toBe(S.STATUS_CANCELLED);
    expect(await m.bridge.cancel(request)).toBe(false);
  });

  it('a request under the same oplock key moves the oplock: the old request ends with `oplock-completed` (switched)', async () => {
    const m = model();
    const key = '6b29fc40-ca47-1067-b31d-00dd010662da';
    const a = m.handle('C:\\f', { oplockKey: key });
    const b = m.handle('C:\\f', { oplockKey: key });
    const first = m.bridge.requestOplock(a, { level: 'RH' });
    m.clear();
    m.bridge.requestOplock(b, { level: 'RH' });
    expect(m.types()).toEqual(['oplock-request', 'oplock-completed', 'oplock-granted']);
    expect(m.of('oplock-completed')[0]).toMatchObject({
      reason: 'switched',
      status: S.STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE,
      operationId: m.bridge.operationIds(first)[0],
    });
    expect((await first.result).status).toBe(S.STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE);
  });

  it('an acknowledgement held until close (COMPLETE_ACK_ON_CLOSE): `oplock-acknowledged` (PENDING) without `oplock-granted`; it completes at cleanup', async () => {
    const m = model();
    const h1 = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(h1, { level: 'RWH' });
    const waiter = m.bridge.open('C:\\f', { share: 'read,write,delete' });
    m.clear();
    const ack = m.bridge.acknowledgeOplock(h1, {
      kind: 'ack',
      level: 'NONE',
      completeAckOnClose: true,
    });
    expect(m.types()).toEqual(['oplock-request', 'oplock-acknowledged']);
    expect(ack.completed).toBeUndefined();
    expect(waiter.completed).toBeUndefined();
    m.clear();
    m.close(h1);
    expect(m.types()).toEqual([
      'oplock-completed',
      'oplock-break-completed',
      'cleanup',
      'close',
      'create',
    ]);
    expect(m.of('oplock-completed')[0]!.reason).toBe('completed');
    expect((await ack.result).status).toBe(S.STATUS_SUCCESS);
    expect((await waiter.result).status).toBe(S.STATUS_SUCCESS);
  });

  it('a request on a stream being deleted refuses handle caching: STATUS_DELETE_PENDING (fastfat FatOplockRequest)', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'read,delete' });
    m.now(m.bridge.setInformation(h, { class: 'disposition', deleteFile: true }));
    m.clear();
    expect(m.now(m.bridge.requestOplock(h, { level: 'RH' })).status).toBe(S.STATUS_DELETE_PENDING);
    expect(m.types()).toEqual(['oplock-request', 'oplock-completed']);
    expect(m.bridge.requestOplock(h, { level: 'R' }).completed).toBeUndefined();
  });
});

describe('read / write', () => {
  it('a write that breaks a Level 2 holder: `oplock-break`, then `io`', () => {
    const m = model();
    const h1 = m.handle('C:\\f');
    m.bridge.requestOplock(h1, { level: 'LEVEL2' });
    const h2 = m.handle('C:\\f', { access: 'rw' });
    m.clear();
    m.now(m.bridge.write(h2, { offset: 0n, data: 1 }));
    expect(m.types()).toEqual(['oplock-break', 'io']);
    expect(m.of('oplock-break')[0]).toMatchObject({
      fromLevel: 'LEVEL2',
      toLevel: 'NONE',
      causedByMajor: MajorFunction.WRITE,
    });
    expect(m.of('io')[0]).toMatchObject({
      major: MajorFunction.WRITE,
      offset: 0n,
      length: 1n,
      information: 1n,
    });
  });

  it('a read refused by a byte-range lock: `io-refused` (STATUS_FILE_LOCK_CONFLICT) and nothing from the file system', () => {
    const m = model();
    const owner = m.handle('C:\\f', { access: 'rw' });
    const other = m.handle('C:\\f', { access: 'rw' });
    m.now(m.bridge.lock(owner, { offset: 0n, length: 4n, key: 3 }));
    m.clear();
    m.now(m.bridge.read(other, { offset: 2n, length: 4, key: 9 }));
    expect(m.types()).toEqual(['io-refused']);
    expect(m.of('io-refused')[0]).toMatchObject({
      status: S.STATUS_FILE_LOCK_CONFLICT,
      offset: 2n,
      length: 4,
      key: 9,
      major: MajorFunction.READ,
    });
  });

  it('a read that waits for a break in progress: nothing until the acknowledgement, then its `oplock-break-completed` and `io`', async () => {
    const m = model();
    const h1 = m.handle('C:\\f', { access: 'rw', share: 'read,write' });
    m.bridge.requestOplock(h1, { level: 'RW' });
    const h2 = m.open('C:\\f', { share: 'read,write', options: 'complete_if_oplocked' }).handle!;
    m.clear();
    const read = m.bridge.read(h2, { offset: 0n, length: 5 });
    expect(m.types()).toEqual([]);
    const ack = m.bridge.acknowledgeOplock(h1, { kind: 'ack', level: 'NONE' });
    expect(m.types()).toEqual([
      'oplock-request',
      'oplock-break-completed',
      'oplock-acknowledged',
      'io',
    ]);
    expect(m.of('oplock-break-completed')[0]).toMatchObject({
      operationId: m.bridge.operationIds(read)[0],
      releasedByOperationId: m.bridge.operationIds(ack)[0],
      waiterMajor: MajorFunction.READ,
    });
    expect(m.of('oplock-acknowledged')[0]!.status).toBe(S.STATUS_SUCCESS);
    expect((await read.result).status).toBe(S.STATUS_SUCCESS);
  });
});

describe('set-information and flush', () => {
  it('end of file breaks an R holder: `oplock-break` then `io`', () => {
    const m = model();
    const h1 = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(h1, { level: 'R' });
    const h2 = m.handle('C:\\f', { access: 'rw', share: 'read,write,delete' });
    m.clear();
    m.now(m.bridge.setInformation(h2, { class: 'end-of-file', size: 0n }));
    expect(m.types()).toEqual(['oplock-break', 'io']);
    expect(m.of('oplock-break')[0]!.causedByMajor).toBe(MajorFunction.SET_INFORMATION);
  });

  it('a flush: `io` (FLUSH_BUFFERS)', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw' });
    m.clear();
    expect(m.now(m.bridge.flush(h)).status).toBe(S.STATUS_SUCCESS);
    expect(m.of('io')[0]).toMatchObject({ major: MajorFunction.FLUSH_BUFFERS });
  });
});

describe('byte-range locks', () => {
  it('granted, denied (fail immediately), waiting, then granted after wait naming the unlock', async () => {
    const m = model();
    const a = m.handle('C:\\f', { access: 'rw' });
    const b = m.handle('C:\\f', { access: 'rw' });
    m.clear();
    m.now(m.bridge.lock(a, { offset: 0n, length: 4n }));
    m.now(m.bridge.lock(b, { offset: 2n, length: 4n }));
    const waiting = m.bridge.lock(b, {
      offset: 2n,
      length: 4n,
      failImmediately: false,
      exclusive: false,
    });
    expect(m.types()).toEqual(['lock-granted', 'lock-denied', 'lock-waiting']);
    expect(m.of('lock-granted')[0]!.lockFlags).toBe(LockFlag.EXCLUSIVE | LockFlag.FAIL_IMMEDIATELY);
    expect(m.of('lock-denied')[0]!.status).toBe(S.STATUS_LOCK_NOT_GRANTED);
    expect(m.of('lock-waiting')[0]).toMatchObject({ status: S.STATUS_PENDING, lockFlags: 0 });
    m.clear();
    const unlock = m.bridge.unlock(a, { offset: 0n, length: 4n });
    expect(m.types()).toEqual(['unlocked', 'lock-granted']);
    const unlockId = m.bridge.operationIds(unlock)[0];
    expect(m.of('unlocked')[0]).toMatchObject({
      status: 0,
      relatedOperationId: unlockId,
      operationId: unlockId,
    });
    expect(m.of('lock-granted')[0]).toMatchObject({
      lockFlags: LockFlag.AFTER_WAIT,
      relatedOperationId: unlockId,
      operationId: m.bridge.operationIds(waiting)[0],
    });
    expect((await waiting.result).status).toBe(S.STATUS_SUCCESS);
  });

  it('a lock that starts inside the allocation breaks R holders first: `oplock-break`, `lock-granted`', () => {
    const m = model();
    const h1 = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(h1, { level: 'R' });
    const h2 = m.handle('C:\\f', { access: 'rw', share: 'read,write,delete' });
    m.clear();
    m.now(m.bridge.lock(h2, { offset: 0n, length: 1n }));
    expect(m.types()).toEqual(['oplock-break', 'lock-granted']);
    m.clear();
    m.bridge.requestOplock(h1, { level: 'R' });
    m.clear();
    m.now(m.bridge.lock(h2, { offset: 1n << 40n, length: 1n }));
    expect(m.types()).toEqual(['lock-granted']);
  });

  it('unlock of a range not locked: `unlocked` with STATUS_RANGE_NOT_LOCKED and the requested range', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw' });
    m.clear();
    m.now(m.bridge.unlock(h, { offset: 7n, length: 3n, key: 5 }));
    expect(m.of('unlocked')[0]).toMatchObject({
      status: S.STATUS_RANGE_NOT_LOCKED,
      offset: 7n,
      length: 3n,
      key: 5,
    });
  });

  it('unlock all by key: `unlocked` per range released, waiters granted, then `unlock-all` (count, key, BY_KEY)', () => {
    const m = model();
    const a = m.handle('C:\\f', { access: 'rw' });
    const b = m.handle('C:\\f', { access: 'rw' });
    m.now(m.bridge.lock(a, { offset: 0n, length: 1n, key: 1 }));
    m.now(m.bridge.lock(a, { offset: 5n, length: 1n, key: 1 }));
    m.now(m.bridge.lock(a, { offset: 9n, length: 1n, key: 2 }));
    m.bridge.lock(b, { offset: 5n, length: 1n, failImmediately: false });
    m.clear();
    const all = m.bridge.unlockAll(a, { key: 1 });
    const allId = m.bridge.operationIds(all)[0];
    expect(m.types()).toEqual(['unlocked', 'unlocked', 'lock-granted', 'unlock-all']);
    expect(m.of('unlocked').map((e) => e.relatedOperationId)).toEqual([allId, allId]);
    expect(m.of('unlock-all')[0]).toMatchObject({
      count: 2,
      key: 1,
      unlockFlags: UnlockAllFlag.BY_KEY,
    });
  });
});

describe('cleanup and close', () => {
  it("the documented order (fastfat FatCommonCleanup; the FILE_LOCK's callback order): ranges released, the handle's own waiting locks end, other waiters granted, `unlock-all` (CLEANUP); then the held oplock ends; `cleanup`, `close`", () => {
    const m = model();
    const a = m.handle('C:\\f', { access: 'rw', share: 'read,write' });
    const b = m.handle('C:\\f', { access: 'rw', share: 'read,write' });
    // The R oplock first (a shared request is refused once locks exist); every lock starts past
    // the allocation (4096) so none of them breaks it ([MS-FSA] 2.1.5.8).
    m.bridge.requestOplock(a, { level: 'R' });
    m.now(m.bridge.lock(b, { offset: 9000n, length: 1n }));
    m.now(m.bridge.lock(a, { offset: 5000n, length: 1n }));
    m.now(m.bridge.lock(a, { offset: 6000n, length: 1n }));
    const own = m.bridge.lock(a, { offset: 9000n, length: 1n, failImmediately: false });
    const other = m.bridge.lock(b, { offset: 6000n, length: 1n, failImmediately: false });
    m.clear();
    const close = m.bridge.close(a);
    const cleanupId = m.bridge.operationIds(close)[0];
    expect(m.types()).toEqual([
      'unlocked',
      'unlocked',
      'lock-denied',
      'lock-granted',
      'unlock-all',
      'oplock-completed',
      'cleanup',
      'close',
    ]);
    expect(m.of('oplock-completed')[0]).toMatchObject({
      reason: 'handle-closed',
      status: S.STATUS_OPLOCK_HANDLE_CLOSED,
    });
    expect(m.of('unlocked').map((e) => e.relatedOperationId)).toEqual([cleanupId, cleanupId]);
    expect(m.of('lock-granted')[0]).toMatchObject({
      operationId: m.bridge.operationIds(other)[0],
      relatedOperationId: cleanupId,
    });
    expect(m.of('unlock-all')[0]).toMatchObject({ count: 2, unlockFlags: UnlockAllFlag.CLEANUP });
    expect(m.of('lock-denied')[0]).toMatchObject({
      operationId: m.bridge.operationIds(own)[0],
      status: S.STATUS_RANGE_NOT_LOCKED,
    });
    expect((m.of('lock-denied')[0]!.lockFlags & LockFlag.AFTER_WAIT) !== 0).toBe(true);
    expect(m.of('cleanup')[0]).toMatchObject({ locksReleased: 2, openHandlesRemaining: 1 });
    expect(m.bridge.operationIds(close)).toHaveLength(2);
  });

  it('a cleanup that releases nothing has no `unlock-all`', () => {
    const m = model();
    const h = m.handle('C:\\f');
    m.clear();
    m.close(h);
    expect(m.types()).toEqual(['cleanup', 'close']);
  });

  it('closing the holder releases an operation waiting on its break: `oplock-break-completed` (handle-closed) naming the cleanup', () => {
    const m = model();
    const h1 = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(h1, { level: 'BATCH' });
    const open = m.bridge.open('C:\\f', { share: 'read,write,delete' });
    m.clear();
    const close = m.bridge.close(h1);
    // The released create resumes from a work item (driver oplock.c), after the closing thread's
    // cleanup and close.
    expect(m.types()).toEqual(['oplock-break-completed', 'cleanup', 'close', 'create']);
    expect(m.of('oplock-break-completed')[0]).toMatchObject({
      reason: 'handle-closed',
      releasedByOperationId: m.bridge.operationIds(close)[0],
      operationId: m.bridge.operationIds(open)[0],
    });
  });
});
