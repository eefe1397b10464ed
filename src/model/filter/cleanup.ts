/**
 * Twin of driver/src/cleanup.c: IRP_MJ_CLEANUP, the last handle of a file object closed.
 *
 * Managed streams (research §1.2 cleanup, §7.1 CLEANUP): FltCheckOplockEx on the cleanup (the
 * handle's oplock state goes: its held requests complete, operations waiting on its break are
 * released; cleanup itself never waits), then FsRtlFastUnlockAll(FileLock, FileObject,
 * requestor process) on the stream's FILE_LOCK, then the file system; the handle count goes
 * down. Cleanup never fails.
 * Records (docs/events.md): the handle's held request ends (`oplock-completed`, handle-closed)
 * and the waiters it releases (`oplock-break-completed`, handle-closed); `unlocked` per range,
 * waiters granted, `unlock-all` (CLEANUP, only when it released something); the handle's own
 * waiting locks end (`lock-denied`, AFTER_WAIT); finally `cleanup`.
 *
 * Observe roots: `cleanup` at completion.
 */

import { CleanupFlag } from '../../bridge/events.js';
import type { Irp } from '../fs/irp.js';
import { FileSystem } from '../fs/ntfs.js';
import * as oplock from '../oplock/index.js';
import { FltBridgeFilter } from './filter.js';
import { unlockAllAtCleanup } from './lock.js';
import { oplockData } from './oplock.js';
import type { HandleContext } from './stream.js';

export function preCleanup(f: FltBridgeFilter, irp: Irp): void {
  const ctx = FltBridgeFilter.contextOf(irp);
  if (ctx === undefined) {
    f.passDown(irp);
    return;
  }
  irp.operationId = f.newOperationId();
  const stream = ctx.stream;
  let released = 0;
  if (ctx.kind === 'managed' && stream?.oplock !== undefined) {
    const data = oplockData(irp, ctx);
    if (data !== undefined) {
      stream.resource.acquireShared();
      try {
        oplock.cleanup(stream.oplock, data);
      } finally {
        stream.resource.release();
      }
    }
    released = unlockAllAtCleanup(f, irp, ctx, stream);
  }
  f.passDown(irp, (done) => postCleanup(f, done, ctx, released));
}

function postCleanup(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  released: number,
): 'continue' {
  const fo = irp.fileObject;
  const stream = ctx.stream;
  const node = FileSystem.nodeOf(fo);
  let remaining = 0;
  if (stream !== undefined) {
    stream.countOpen(fo, false);
    remaining = stream.openHandles;
    // FileStandardInformation.DeletePending, as the driver would query it.
    stream.deletePending = node.deletePending;
    if (node.deleted) f.streams.unlink(stream);
  }
  ctx.cleanedUp = true;
  f.emit({
    type: 'cleanup',
    ...f.header(ctx, irp.operationId, irp.process, irp.status),
    openHandlesRemaining: remaining,
    locksReleased: released,
    cleanupFlags:
      (ctx.deleteOnClose ? CleanupFlag.DELETE_ON_CLOSE : 0) |
      (node.deleted && remaining === 0 ? CleanupFlag.DELETED : 0),
  });
  return 'continue';
}
