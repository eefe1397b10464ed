/**
 * Twin of driver/src/cleanup.c: IRP_MJ_CLEANUP, the last handle of a file object closed.
 *
 * Managed streams, in the order of fastfat cleanup.c FatCommonCleanup (research §1.2 cleanup,
 * §7.1 CLEANUP):
 *   1. FsRtlFastUnlockAll(FileLock, FileObject, requestor process) on the stream's FILE_LOCK:
 *      its records come in the package's callback order (lock.ts unlockAllAtCleanup);
 *   2. the handle stops counting (open handles, share access: IoRemoveShareAccess comes before
 *      the oplock check in fastfat);
 *   3. FltCheckOplockEx on the cleanup, without wait routines: the handle's oplock state goes
 *      (its held requests complete, operations waiting on its break are released; cleanup
 *      itself never waits). A released operation resumes from a work item once this cleanup,
 *      the file system's included, is over (filter.ts `defer`; driver oplock.c queues the work
 *      items of waiters a cleanup released from its post-cleanup), so it meets the file
 *      system's state after the holder's cleanup, as a file system's own posted waiter does.
 * Then the file system. Cleanup never fails.
 *
 * Records (docs/events.md "cleanup"): `unlocked` per range, the handle's own waiting locks end
 * (`lock-denied`, AFTER_WAIT, STATUS_RANGE_NOT_LOCKED), other waiters granted (`lock-granted`,
 * AFTER_WAIT), `unlock-all` (CLEANUP, only when something was released); the handle's held
 * request ends (`oplock-completed`, handle-closed) and the waiters it releases
 * (`oplock-break-completed`, handle-closed); finally `cleanup` at completion.
 *
 * CLEANUP flags, from what the filter saw (the driver cannot ask the file system at cleanup):
 * DELETE_ON_CLOSE when the handle is delete-on-close (FILE_DELETE_ON_CLOSE at create), which
 * makes the stream delete-pending now ([MS-FSA] 2.1.5.5; smbtorture deltest16/17); DELETED when
 * the last handle of a delete-pending stream (a disposition the filter saw succeed, or a
 * delete-on-close handle) is cleaned up: the stream's name then leaves the table.
 *
 * Observe roots: the handle stops counting; `cleanup` at completion, with the same flags.
 */

import { CleanupFlag } from '../../bridge/events.js';
import type { Irp } from '../fs/irp.js';
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
  const fo = irp.fileObject;
  let released = 0;
  let cleanupFlags = 0;
  if (stream !== undefined) {
    if (ctx.kind === 'managed') released = unlockAllAtCleanup(f, irp, ctx, stream);
    // FbCleanupDeleteFlags.
    if (ctx.deleteOnClose) {
      stream.deletePending = true;
      cleanupFlags |= CleanupFlag.DELETE_ON_CLOSE;
    }
    stream.countOpen(fo, false);
    if (stream.deletePending && stream.openHandles === 0) {
      cleanupFlags |= CleanupFlag.DELETED;
      f.streams.unlink(stream);
    }
    if (ctx.kind === 'managed' && stream.oplock !== undefined) {
      const data = oplockData(irp, ctx);
      if (data !== undefined) {
        stream.resource.acquireShared();
        try {
          oplock.cleanup(stream.oplock, data);
        } finally {
          stream.resource.release();
        }
      }
    }
  }
  ctx.cleanedUp = true;
  f.passDown(irp, (done) => postCleanup(f, done, ctx, released, cleanupFlags));
}

function postCleanup(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  released: number,
  cleanupFlags: number,
): 'continue' {
  f.emit({
    type: 'cleanup',
    ...f.header(ctx, irp.operationId, irp.process, irp.status),
    openHandlesRemaining: ctx.stream?.openHandles ?? 0,
    locksReleased: released,
    cleanupFlags,
  });
  return 'continue';
}
