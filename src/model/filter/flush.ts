/**
 * Twin of driver/src/flush.c: IRP_MJ_FLUSH_BUFFERS.
 *
 * Managed streams: FltCheckOplockEx (a flush breaks what [MS-FSA] 2.1.4.12 FLUSH_DATA breaks),
 * then the file system. Records: breaks; wait; `io` at completion (also when the oplock package
 * fails it, with that status). Observe roots: `io`.
 */

import { MajorFunction } from '../../bridge/events.js';
import type { Irp } from '../fs/irp.js';
import { FltBridgeFilter } from './filter.js';
import { checkOplock, resumeOr } from './oplock.js';
import type { HandleContext } from './stream.js';

export function preFlush(f: FltBridgeFilter, irp: Irp): void {
  const ctx = FltBridgeFilter.contextOf(irp);
  if (ctx === undefined) {
    f.passDown(irp);
    return;
  }
  irp.operationId = f.newOperationId();
  const stream = ctx.stream;
  if (ctx.kind === 'observe' || stream?.oplock === undefined) {
    sendDown(f, irp, ctx);
    return;
  }
  const fail = (status: number) => {
    emitIo(f, irp, ctx, status, 0n);
    irp.complete(status, 0n);
  };
  const gate = checkOplock(
    f,
    irp,
    ctx,
    stream,
    resumeOr(irp, () => sendDown(f, irp, ctx), fail),
  );
  if (gate.kind === 'pending') return;
  if (gate.kind === 'complete') {
    fail(gate.status);
    return;
  }
  sendDown(f, irp, ctx);
}

function sendDown(f: FltBridgeFilter, irp: Irp, ctx: HandleContext): void {
  f.passDown(irp, (done) => {
    emitIo(f, done, ctx, done.status, done.information);
    return 'continue';
  });
}

function emitIo(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  status: number,
  information: bigint,
): void {
  f.emit({
    type: 'io',
    ...f.header(ctx, irp.operationId, irp.process, status),
    major: MajorFunction.FLUSH_BUFFERS,
    minor: 0,
    detail: 0,
    offset: 0n,
    length: 0n,
    information,
  });
}
