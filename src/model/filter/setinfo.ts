/**
 * Twin of driver/src/setinfo.c: IRP_MJ_SET_INFORMATION (end of file, allocation, rename,
 * disposition).
 *
 * Managed streams (research §7.1 "SET_INFORMATION, FLUSH: FltCheckOplockEx"): the oplock check
 * with the information class (the package breaks what [MS-FSA] 2.1.4.12 says each class breaks),
 * then the file system does the work. After a successful rename the stream's table entry
 * follows its new name; after a disposition the stream's delete-pending flag follows it.
 * A disposition the file system accepted makes the stream delete-pending (or not): the filter
 * tracks it for the CLEANUP flags and the delete-pending refusal of oplock requests
 * (cleanup.ts, fsctl.ts).
 * Records: breaks; wait; `io` at completion (Detail = FILE_INFORMATION_CLASS, Length = the new
 * size for end of file and allocation, read from the request's buffer); a failure of the oplock
 * package (or of its wait) gives `io` with that status.
 *
 * Observe roots: `io` at completion, and the same delete-pending tracking.
 */

import { MajorFunction } from '../../bridge/events.js';
import type { Irp, SetInformationParameters } from '../fs/irp.js';
import { FltBridgeFilter } from './filter.js';
import { checkOplock, resumeOr } from './oplock.js';
import type { HandleContext } from './stream.js';

export function preSetInformation(f: FltBridgeFilter, irp: Irp): void {
  const ctx = FltBridgeFilter.contextOf(irp);
  const p = irp.params;
  if (ctx === undefined || p.kind !== 'set-information') {
    f.passDown(irp);
    return;
  }
  irp.operationId = f.newOperationId();
  const stream = ctx.stream;
  if (ctx.kind === 'observe' || stream?.oplock === undefined) {
    sendDown(f, irp, ctx, p);
    return;
  }
  const fail = (status: number) => {
    emitIo(f, irp, ctx, p, status, 0n);
    irp.complete(status, 0n);
  };
  const gate = checkOplock(
    f,
    irp,
    ctx,
    stream,
    resumeOr(irp, () => sendDown(f, irp, ctx, p), fail),
  );
  if (gate.kind === 'pending') return;
  if (gate.kind === 'complete') {
    fail(gate.status);
    return;
  }
  sendDown(f, irp, ctx, p);
}

function emitIo(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  p: SetInformationParameters,
  status: number,
  information: bigint,
): void {
  const size =
    p.request.class === 'end-of-file' || p.request.class === 'allocation' ? p.request.size : 0n;
  f.emit({
    type: 'io',
    ...f.header(ctx, irp.operationId, irp.process, status),
    major: MajorFunction.SET_INFORMATION,
    minor: 0,
    detail: p.informationClass,
    offset: 0n,
    length: size,
    information,
  });
}

function sendDown(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  p: SetInformationParameters,
): void {
  f.passDown(irp, (done) => {
    const stream = ctx.stream;
    if (done.status === 0 && stream !== undefined) {
      if (p.request.class === 'rename' && p.target !== undefined) {
        f.streams.rename(stream, p.target.key, p.target.display);
        for (const fo of stream.handles) {
          const other = fo.filterContext as HandleContext | undefined;
          if (other !== undefined) other.name = p.target.display;
        }
        ctx.name = p.target.display;
      } else if (p.request.class === 'disposition') {
        stream.deletePending = p.request.deleteFile;
      }
    }
    emitIo(f, done, ctx, p, done.status, done.information);
    return 'continue';
  });
}
