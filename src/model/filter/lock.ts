/**
 * Twin of driver/src/lock.c (IRP_MJ_LOCK_CONTROL) together with driver/src/filelock.c (the
 * FILE_LOCK callbacks and FsRtlFastUnlockAll at cleanup).
 *
 * Managed streams (research §1.2 lock control, §7.1 LOCK_CONTROL):
 *   - an oplock check only when the lock can interfere: a lock that starts below the stream's
 *     allocation size ([MS-FSA] 2.1.5.8), or an unlock while lock requests wait (fastfat's
 *     Windows 8 rule);
 *   - then FltProcessFileLock on the stream's FILE_LOCK (allocated on the first lock request,
 *     with a completion routine and an unlock routine that produce the records) and its result
 *     returned as it is.
 * Records (docs/events.md): breaks; `lock-granted` / `lock-denied` / `lock-waiting`; a waiter
 * later gets `lock-granted` or `lock-denied` with AFTER_WAIT. Unlock single: `unlocked` (or
 * `unlocked` with RANGE_NOT_LOCKED), then waiters granted. Unlock all: `unlocked` per range,
 * the owner's own waiting requests end, waiters granted, `unlock-all`. At cleanup (cleanup.ts
 * calls unlockAllAtCleanup): the same, with `unlock-all` (CLEANUP) only when something was
 * released.
 *
 * Records are produced from the FILE_LOCK callbacks as the package makes them (driver filelock.c
 * emits straight from its completion and unlock routines): for unlock all, unlock all by key and
 * FsRtlFastUnlockAll, ntoskrnl's order is the unlock routine per released lock (shared locks,
 * then exclusive, each by first byte), then the releasing file object's own waiting requests end
 * with STATUS_RANGE_NOT_LOCKED, then other waiting requests are granted
 * (FsRtlPrivateFastUnlockAll; src/model/filelock/file-lock.ts unlockAll); `unlock-all` comes
 * last (the unlock-all IRP's completion routine, or the cleanup after FsRtlFastUnlockAll
 * returns).
 *
 * Observe roots: `lock-granted` / `lock-denied` at completion (a wait cannot be seen from above
 * the file system), `unlocked` for an unlock, `unlock-all` (count 0: unknown) for unlock-all.
 */

import type { EventType } from '../../bridge/events.js';
import { LockFlag, UnlockAllFlag } from '../../bridge/events.js';
import { NtStatus } from '../../bridge/ntstatus.js';
import type { FileLock } from '../filelock/file-lock.js';
import * as filelock from '../filelock/file-lock.js';
import type {
  FileLockInfo,
  LockCompletionCause,
  LockControlData,
  UnlockCause,
} from '../filelock/types.js';
import {
  IRP_MN_LOCK,
  IRP_MN_UNLOCK_ALL,
  IRP_MN_UNLOCK_ALL_BY_KEY,
  IRP_MN_UNLOCK_SINGLE,
  type Irp,
  type LockParameters,
} from '../fs/irp.js';
import { FileSystem } from '../fs/ntfs.js';
import type { EventInit } from './events.js';
import { FltBridgeFilter } from './filter.js';
import { checkOplock, resumeOr } from './oplock.js';
import type { HandleContext, StreamState } from './stream.js';

/** The context the filter passes to FltProcessFileLock / FsRtlFastUnlockAll. */
interface LockOp {
  readonly filter: FltBridgeFilter;
  readonly irp: Irp;
  readonly ctx: HandleContext;
  readonly stream: StreamState;
  /** Ranges the unlock routine released while this operation ran. */
  released: number;
}

function lockFlags(exclusive: boolean, failImmediately: boolean, afterWait: boolean): number {
  return (
    (exclusive ? LockFlag.EXCLUSIVE : 0) |
    (failImmediately ? LockFlag.FAIL_IMMEDIATELY : 0) |
    (afterWait ? LockFlag.AFTER_WAIT : 0)
  );
}

/** PFLT_COMPLETE_LOCK_CALLBACK_DATA_ROUTINE. */
function completeLock(context: unknown, data: LockControlData, cause: LockCompletionCause): number {
  const op = context as LockOp;
  const { filter: f, irp, ctx } = op;
  const status = data.ioStatus.status;
  const header = f.header(ctx, irp.operationId, irp.process, status);
  switch (data.minorFunction) {
    case IRP_MN_LOCK: {
      const granted = status === NtStatus.STATUS_SUCCESS;
      const type: EventType = granted ? 'lock-granted' : 'lock-denied';
      const event: EventInit = {
        type,
        ...header,
        offset: data.byteOffset,
        length: data.length,
        key: data.key,
        lockFlags: lockFlags(data.exclusiveLock, data.failImmediately, cause.afterWait),
        relatedOperationId: cause.afterWait ? cause.releasedByOperationId : 0n,
      } as EventInit;
      f.emit(event);
      break;
    }
    case IRP_MN_UNLOCK_SINGLE:
      if (status !== NtStatus.STATUS_SUCCESS) {
        f.emit({
          type: 'unlocked',
          ...header,
          offset: data.byteOffset,
          length: data.length,
          key: data.key,
          lockFlags: 0,
          relatedOperationId: irp.operationId,
        });
      }
      break;
    case IRP_MN_UNLOCK_ALL:
    case IRP_MN_UNLOCK_ALL_BY_KEY: {
      const byKey = data.minorFunction === IRP_MN_UNLOCK_ALL_BY_KEY;
      f.emit({
        type: 'unlock-all',
        ...header,
        count: op.released,
        key: byKey ? data.key : 0,
        unlockFlags: byKey ? UnlockAllFlag.BY_KEY : 0,
      });
      break;
    }
  }
  return status;
}

/** PUNLOCK_ROUTINE: one range released. */
function unlockRange(context: unknown, info: FileLockInfo, cause: UnlockCause): void {
  const op = context as LockOp;
  const { filter: f, irp, ctx } = op;
  op.released += 1;
  f.emit({
    type: 'unlocked',
    ...f.header(ctx, irp.operationId, info.processId, NtStatus.STATUS_SUCCESS),
    offset: info.startingByte,
    length: info.length,
    key: info.key,
    lockFlags: info.exclusiveLock ? LockFlag.EXCLUSIVE : 0,
    relatedOperationId: cause.operationId,
  });
}

/** FltAllocateFileLock, on the first lock request (cdfs's lazy allocation). */
function fileLockOf(stream: StreamState): FileLock {
  if (stream.fileLock === undefined) stream.fileLock = filelock.allocate(completeLock, unlockRange);
  return stream.fileLock;
}

export function preLockControl(f: FltBridgeFilter, irp: Irp): void {
  const ctx = FltBridgeFilter.contextOf(irp);
  const p = irp.params;
  if (ctx === undefined || p.kind !== 'lock') {
    f.passDown(irp);
    return;
  }
  irp.operationId = f.newOperationId();
  if (ctx.kind === 'observe' || ctx.stream?.oplock === undefined) {
    f.passDown(irp, (done) => postLockObserved(f, done, ctx, p));
    return;
  }
  const stream = ctx.stream;
  // [MS-FSA] 2.1.5.8: byte-range locks are not permitted on directories.
  if (irp.fileObject.isDirectory) {
    refuse(f, irp, ctx, p, NtStatus.STATUS_INVALID_PARAMETER);
    return;
  }
  const allocation = FileSystem.nodeOf(irp.fileObject).allocationSize;
  const interferes =
    irp.minor === IRP_MN_LOCK
      ? p.offset < allocation
      : stream.fileLock !== undefined && filelock.waitingRequests(stream.fileLock).length > 0;
  if (interferes) {
    const gate = checkOplock(
      f,
      irp,
      ctx,
      stream,
      resumeOr(
        irp,
        () => processLock(f, irp, ctx, stream, p),
        (status) => refuse(f, irp, ctx, p, status),
      ),
    );
    if (gate.kind === 'pending') {
      return;
    }
    if (gate.kind === 'complete') {
      refuse(f, irp, ctx, p, gate.status);
      return;
    }
  }
  processLock(f, irp, ctx, stream, p);
}

/** The request fails before FltProcessFileLock: the record its minor function calls for. */
function refuse(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  p: LockParameters,
  status: number,
): void {
  const header = f.header(ctx, irp.operationId, irp.process, status);
  if (irp.minor === IRP_MN_LOCK || irp.minor === IRP_MN_UNLOCK_SINGLE) {
    f.emit({
      type: irp.minor === IRP_MN_LOCK ? 'lock-denied' : 'unlocked',
      ...header,
      offset: p.offset,
      length: p.length,
      key: p.key,
      lockFlags: irp.minor === IRP_MN_LOCK ? lockFlags(p.exclusive, p.failImmediately, false) : 0,
      relatedOperationId: irp.minor === IRP_MN_LOCK ? 0n : irp.operationId,
    });
  } else {
    const byKey = irp.minor === IRP_MN_UNLOCK_ALL_BY_KEY;
    f.emit({
      type: 'unlock-all',
      ...header,
      count: 0,
      key: byKey ? p.key : 0,
      unlockFlags: byKey ? UnlockAllFlag.BY_KEY : 0,
    });
  }
  irp.complete(status);
}

function processLock(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  stream: StreamState,
  p: LockParameters,
): void {
  const lock = fileLockOf(stream);
  const op: LockOp = { filter: f, irp, ctx, stream, released: 0 };
  const data = filelock.lockControlData({
    operationId: irp.operationId,
    processId: irp.process,
    fileObject: ctx.fileObjectId,
    minor: irp.minor,
    byteOffset: p.offset,
    length: p.length,
    key: p.key,
    failImmediately: p.failImmediately,
    exclusiveLock: p.exclusive,
    completePended: (d) => {
      f.pended.delete(irp);
      irp.cancelRoutine = undefined;
      irp.complete(d.ioStatus.status);
    },
  });
  const result: { preop: ReturnType<typeof filelock.process> } = { preop: 'complete' };
  result.preop = filelock.process(lock, data, op);
  if (result.preop === 'pending') {
    f.emit({
      type: 'lock-waiting',
      ...f.header(ctx, irp.operationId, irp.process, NtStatus.STATUS_PENDING),
      offset: p.offset,
      length: p.length,
      key: p.key,
      lockFlags: lockFlags(p.exclusive, p.failImmediately, false),
      relatedOperationId: 0n,
    });
    f.pended.add(irp);
    irp.cancelRoutine = () => {
      f.run(() => filelock.cancel(lock, data));
    };
    return;
  }
  irp.complete(data.ioStatus.status);
}

/**
 * FsRtlFastUnlockAll at cleanup, with the cleanup's records. Returns the number of ranges
 * released.
 */
export function unlockAllAtCleanup(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  stream: StreamState,
): number {
  const lock = stream.fileLock;
  if (lock === undefined) return 0;
  const op: LockOp = { filter: f, irp, ctx, stream, released: 0 };
  stream.resource.acquireShared();
  try {
    filelock.fastUnlockAll(lock, ctx.fileObjectId, irp.process, op, irp.operationId);
  } finally {
    stream.resource.release();
  }
  if (op.released > 0) {
    f.emit({
      type: 'unlock-all',
      ...f.header(ctx, irp.operationId, irp.process, NtStatus.STATUS_SUCCESS),
      count: op.released,
      key: 0,
      unlockFlags: UnlockAllFlag.CLEANUP,
    });
  }
  return op.released;
}

function postLockObserved(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  p: LockParameters,
): 'continue' {
  const header = f.header(ctx, irp.operationId, irp.process, irp.status);
  if (irp.minor === IRP_MN_LOCK) {
    f.emit({
      type: irp.status === NtStatus.STATUS_SUCCESS ? 'lock-granted' : 'lock-denied',
      ...header,
      offset: p.offset,
      length: p.length,
      key: p.key,
      lockFlags: lockFlags(p.exclusive, p.failImmediately, false),
      relatedOperationId: 0n,
    });
  } else if (irp.minor === IRP_MN_UNLOCK_SINGLE) {
    f.emit({
      type: 'unlocked',
      ...header,
      offset: p.offset,
      length: p.length,
      key: p.key,
      lockFlags: 0,
      relatedOperationId: irp.operationId,
    });
  } else {
    const byKey = irp.minor === IRP_MN_UNLOCK_ALL_BY_KEY;
    f.emit({
      type: 'unlock-all',
      ...header,
      count: 0,
      key: byKey ? p.key : 0,
      unlockFlags: byKey ? UnlockAllFlag.BY_KEY : 0,
    });
  }
  return 'continue';
}
