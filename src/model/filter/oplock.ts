/**
 * Twin of driver/src/oplock.c: the filter's wrappers around the oplock package
 * (FltCheckOplockEx, FltOplockBreakH, FltOplockFsctrlEx) with its wait-complete and pre-post
 * routines, and the translation of an IRP into the callback data the package reads.
 *
 * research §1.5 rule 3: FLT_PREOP_PENDING from FltCheckOplockEx / FltOplockBreakH means the
 * operation was posted; it resumes from the wait-complete routine (here: a deferred work item,
 * see filter.ts), continuing on success and completing with the failure status otherwise.
 * The wait-complete routine is also where the filter learns that a waiter was released, so the
 * `oplock-break-completed` record is produced there (docs/events.md "Causality").
 */

import { MajorFunction } from '../../bridge/events.js';
import { NtStatus, ntSuccess } from '../../bridge/ntstatus.js';
import type { Irp } from '../fs/irp.js';
import { oplockOperationFor } from '../fs/oplock-operation.js';
import * as oplock from '../oplock/index.js';
import type {
  OplockFileObject,
  OplockOperation,
  PreopResult,
  WaitRelease,
} from '../oplock/types.js';
import type { FltBridgeFilter } from './filter.js';
import type { HandleContext, StreamState } from './stream.js';

/** FLTB_MJ_* of an oplock-package operation. */
export function majorOf(data: OplockOperation): number {
  switch (data.major) {
    case 'CREATE':
      return MajorFunction.CREATE;
    case 'READ':
      return MajorFunction.READ;
    case 'WRITE':
      return MajorFunction.WRITE;
    case 'SET_INFORMATION':
      return MajorFunction.SET_INFORMATION;
    case 'FLUSH_BUFFERS':
      return MajorFunction.FLUSH_BUFFERS;
    case 'FILE_SYSTEM_CONTROL':
      return MajorFunction.FILE_SYSTEM_CONTROL;
    case 'LOCK_CONTROL':
      return MajorFunction.LOCK_CONTROL;
    case 'CLEANUP':
      return MajorFunction.CLEANUP;
  }
}

/** IRP minor function of an oplock-package operation. */
export function minorOf(data: OplockOperation): number {
  if (data.major !== 'LOCK_CONTROL') return 0;
  switch (data.minor) {
    case 'LOCK':
      return 1;
    case 'UNLOCK_SINGLE':
      return 2;
    case 'UNLOCK_ALL':
      return 3;
    case 'UNLOCK_ALL_BY_KEY':
      return 4;
  }
}

/** The FILE_OBJECT as the package sees it (the filter's fileObjectId is its identity). */
export function oplockFileObject(irp: Irp, ctx: HandleContext): OplockFileObject {
  const fo = irp.fileObject;
  return {
    id: ctx.fileObjectId,
    ...(fo.oplockKey === undefined ? {} : { oplockKey: fo.oplockKey }),
    synchronous: fo.synchronous,
    isDirectory: fo.isDirectory,
    deleteOnClose: fo.deleteOnClose,
  };
}

/** FLT_CALLBACK_DATA -> the package's operation (everything but FSCTLs; see fsctl.ts). */
export function oplockData(
  irp: Irp,
  ctx: HandleContext,
  isDirectory?: boolean,
): OplockOperation | undefined {
  const fileObject = oplockFileObject(irp, ctx);
  return oplockOperationFor(irp, {
    operationId: irp.operationId,
    fileObject: isDirectory === undefined ? fileObject : { ...fileObject, isDirectory },
  });
}

export type OplockGate =
  /** Go on now; `status` is STATUS_SUCCESS or STATUS_OPLOCK_BREAK_IN_PROGRESS. */
  | { readonly kind: 'proceed'; readonly status: number; readonly information: number }
  /** The operation waits; `resume` runs (deferred) when the break completes. */
  | { readonly kind: 'pending' }
  /** The package failed the operation with `status`. */
  | { readonly kind: 'complete'; readonly status: number; readonly information: number };

/** What resumes a waiting operation: continue (success) or fail with a status. */
export type Resume = (release: WaitRelease) => void;

interface WaitContext {
  readonly filter: FltBridgeFilter;
  readonly irp: Irp;
  readonly ctx: HandleContext;
  readonly resume: Resume;
  readonly onWait?: (() => void) | undefined;
}

/**
 * The wait-complete routine (PFLTOPLOCK_WAIT_COMPLETE_ROUTINE, driver oplock.c
 * FbOplockWaitComplete): record the release, then resume the operation: a failure at once
 * (completed with the package's status); a success always from a deferred I/O work item, even
 * when nothing but passing it down remains, because this routine runs inside the releaser's
 * package call (an acknowledgement or a cleanup holding the stream's resource) and the rest of
 * the operation (a create's second oplock check, the lock check of a read or write,
 * FltProcessFileLock) must not call the package from here.
 */
function waitComplete(data: OplockOperation, wait: WaitContext, release: WaitRelease): void {
  const { filter, irp, ctx } = wait;
  irp.cancelRoutine = undefined;
  wait.onWait?.();
  filter.emit({
    type: 'oplock-break-completed',
    ...filter.header(ctx, irp.operationId, irp.process, release.status),
    releasedByOperationId: release.releasedBy?.operationId ?? 0n,
    waiterMajor: majorOf(data),
    waiterMinor: minorOf(data),
    reason: release.reason,
  });
  if (!ntSuccess(release.status)) {
    filter.pended.delete(irp);
    wait.resume(release);
    return;
  }
  filter.defer(() => {
    filter.pended.delete(irp);
    wait.resume(release);
  });
}

/**
 * The pre-post routine (PFLTOPLOCK_PREPOST_CALLBACKDATA_ROUTINE): the operation is about to be
 * posted (it waits): FltLockUserBuffer for reads and writes, and it now counts as pended.
 */
function prePost(_data: OplockOperation, wait: WaitContext): void {
  wait.onWait?.();
  wait.filter.pended.add(wait.irp);
}

function gate(
  filter: FltBridgeFilter,
  irp: Irp,
  stream: StreamState,
  result: PreopResult,
  data: OplockOperation,
): OplockGate {
  if (result.preop === 'FLT_PREOP_PENDING') {
    const held = stream.oplock as oplock.Oplock;
    irp.cancelRoutine = () => {
      filter.run(() => oplock.cancel(held, data.operationId));
    };
    return { kind: 'pending' };
  }
  if (result.preop === 'FLT_PREOP_COMPLETE') {
    return { kind: 'complete', status: result.ioStatus, information: result.information };
  }
  return { kind: 'proceed', status: result.ioStatus, information: result.information };
}

/** FltCheckOplockEx on a managed stream, with the filter's wait-complete and pre-post routines. */
export function checkOplock(
  filter: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  stream: StreamState,
  resume: Resume,
  options: { flags?: number; data?: OplockOperation | undefined; onWait?: () => void } = {},
): OplockGate {
  const data = options.data ?? oplockData(irp, ctx);
  if (stream.oplock === undefined || data === undefined) {
    return { kind: 'proceed', status: NtStatus.STATUS_SUCCESS, information: 0 };
  }
  const flags = options.flags ?? 0;
  const wait: WaitContext = { filter, irp, ctx, resume, onWait: options.onWait };
  stream.resource.acquireShared();
  try {
    const result = oplock.check(stream.oplock, data, flags, wait, waitComplete, prePost);
    return gate(filter, irp, stream, result, data);
  } finally {
    stream.resource.release();
  }
}

/** FltOplockBreakH after a sharing violation at create. */
export function breakHandle(
  filter: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  stream: StreamState,
  resume: Resume,
  data: OplockOperation,
  flags: number,
  onWait?: () => void,
): OplockGate {
  if (stream.oplock === undefined) {
    return { kind: 'proceed', status: NtStatus.STATUS_SUCCESS, information: 0 };
  }
  const wait: WaitContext = { filter, irp, ctx, resume, onWait };
  stream.resource.acquireShared();
  try {
    const result = oplock.breakH(stream.oplock, data, flags, wait, waitComplete, prePost);
    return gate(filter, irp, stream, result, data);
  } finally {
    stream.resource.release();
  }
}

/** Resume helper: continue on success, else complete the request with the failure. */
export function resumeOr(irp: Irp, proceed: () => void, fail?: (status: number) => void): Resume {
  return (release) => {
    if (ntSuccess(release.status)) proceed();
    else if (fail !== undefined) fail(release.status);
    else irp.complete(release.status);
  };
}
