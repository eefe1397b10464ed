/**
 * Twin of driver/src/close.c: IRP_MJ_CLOSE, the file object's last reference.
 *
 * Records: `close` (docs/events.md), with the number of the stream's file objects still alive.
 * The stream state goes with its last file object: FltUninitializeOplock and FltFreeFileLock
 * from the context cleanup callback (research §7.1).
 */

import * as filelock from '../filelock/file-lock.js';
import type { Irp } from '../fs/irp.js';
import * as oplock from '../oplock/index.js';
import { FltBridgeFilter } from './filter.js';
import type { StreamState } from './stream.js';

export function preClose(f: FltBridgeFilter, irp: Irp): void {
  const ctx = FltBridgeFilter.contextOf(irp);
  if (ctx === undefined) {
    f.passDown(irp);
    return;
  }
  irp.operationId = f.newOperationId();
  f.passDown(irp, (done) => {
    const stream = ctx.stream;
    let remaining = 0;
    if (stream !== undefined) {
      releaseStreamReference(f, stream);
      remaining = stream.references;
    }
    f.emit({
      type: 'close',
      ...f.header(ctx, done.operationId, done.process, done.status),
      streamReferences: remaining,
    });
    return 'continue';
  });
}

/** Drop one reference to a stream state; the last one tears it down. */
export function releaseStreamReference(f: FltBridgeFilter, stream: StreamState): void {
  stream.references -= 1;
  if (stream.references > 0) return;
  if (stream.oplock?.initialized) oplock.uninitialize(stream.oplock);
  if (stream.fileLock !== undefined) {
    filelock.free(stream.fileLock);
    stream.fileLock = undefined;
  }
  f.streams.remove(stream);
}
