/**
 * Twin of driver/src/create.c: IRP_MJ_CREATE.
 *
 * Not looked at (no identifiers, no records, no state): creates with FILE_DIRECTORY_FILE, names
 * outside every namespace, and (decided in post-create) opens that turn out to be directories.
 *
 * Managed streams (research §7.1 CREATE; docs/events.md "create"):
 *   pre-create   look the stream up in the table by name, building its state if it has none
 *                (the streamId is assigned here, so even a refused create names its stream);
 *                then, with the stream's resource shared:
 *                  1. if the open will meet a sharing violation (predicted from the handles the
 *                     filter counted, with IoCheckShareAccess's rules) while handle-caching
 *                     oplocks are held: FltOplockBreakH (SHARING_BREAK);
 *                  2. FltCheckOplockEx with the create's parameters
 *                     (OPLOCK_FLAG_COMPLETE_IF_OPLOCKED for FILE_COMPLETE_IF_OPLOCKED);
 *                either may make the create wait for the acknowledgement (the rest then runs
 *                from a work item, driver oplock.c FbContinueWorker). A refusal
 *                of the package (STATUS_CANNOT_BREAK_OPLOCK for FILE_OPEN_REQUIRING_OPLOCK)
 *                fails the create here.
 *   post-create  on success: count the handle (open handles, share access), and handle
 *                FILE_OPEN_REQUIRING_OPLOCK with FltOplockFsctrlEx (OpenCount = open handles,
 *                this one included); a refusal backs the open out
 *                (OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK, FltCancelFileOpen) and fails the create with
 *                the package's status. STATUS_OPLOCK_BREAK_IN_PROGRESS from a package call is
 *                propagated over a success (research §1.2).
 *   records      breaks; wait; oplock-request + oplock-granted / oplock-completed for an atomic
 *                oplock; finally `create`.
 *
 * Observe roots: the create goes down unchanged; `create` at post-create. A new stream state is
 * made for every observed pre-create (its streamId is spent even when the file already has one,
 * as the driver's FbStreamCreate / FbStreamAttach do).
 */

import { CreateFlag, RecordFlag } from '../../bridge/events.js';
import { CreateOption, OplockCheckFlag } from '../../bridge/flags.js';
import { NtStatus, ntSuccess } from '../../bridge/ntstatus.js';
import { Irp, MajorFunction } from '../fs/irp.js';
import { FileSystem } from '../fs/ntfs.js';
import * as oplock from '../oplock/index.js';
import type { CreateOperation } from '../oplock/types.js';
import { releaseStreamReference } from './close.js';
import type { FltBridgeFilter } from './filter.js';
import { breakHandle, checkOplock, oplockData, resumeOr } from './oplock.js';
import { type HandleContext, StreamState } from './stream.js';

/** What one create accumulates on its way through the filter (FB_OPERATION.Flags). */
interface CreateProgress {
  waited: boolean;
  sharingBreak: boolean;
  breakInProgress: boolean;
  readonly completeIfOplocked: boolean;
}

/** Ids of IRPs the filter issues itself (FltCancelFileOpen), apart from the I/O manager's. */
let filterIrpId = 2 ** 40;

export function preCreate(f: FltBridgeFilter, irp: Irp): void {
  const fo = irp.fileObject;
  const path = fo.path;
  if (path === undefined || (fo.createOptions & CreateOption.FILE_DIRECTORY_FILE) !== 0) {
    f.passDown(irp);
    return;
  }
  const existing = f.streams.lookup(path.key);
  const kind = existing?.kind ?? f.policy.classify(path.key);
  if (kind === undefined) {
    f.passDown(irp);
    return;
  }
  let stream: StreamState;
  if (kind === 'managed') {
    // FbStreamLookupForCreate: the table entry, made now if there is none.
    stream = existing ?? new StreamState(f.newStreamId(), 'managed', path.display, path.key);
    if (existing === undefined) f.streams.insert(stream);
    stream.references += 1;
  } else {
    stream = new StreamState(f.newStreamId(), 'observe', path.display, path.key);
  }
  irp.operationId = f.newOperationId();
  const ctx: HandleContext = {
    kind,
    fileObjectId: f.newFileObjectId(),
    stream,
    name: path.display,
    deleteOnClose: fo.deleteOnClose,
    cleanedUp: false,
  };
  fo.filterContext = ctx;
  fo.fileObjectId = ctx.fileObjectId;
  const progress: CreateProgress = {
    waited: false,
    sharingBreak: false,
    breakInProgress: false,
    completeIfOplocked: (fo.createOptions & CreateOption.FILE_COMPLETE_IF_OPLOCKED) !== 0,
  };
  if (kind === 'observe') {
    f.passDown(irp, (done) => postCreate(f, done, ctx, progress));
    return;
  }
  // Step 1: the sharing-violation break of handle-caching oplocks.
  const ol = stream.oplock as oplock.Oplock;
  if (stream.shareConflict(fo.desiredAccess, fo.shareAccess) && oplock.currentOplockH(ol)) {
    progress.sharingBreak = true;
    const gate = breakHandle(
      f,
      irp,
      ctx,
      stream,
      resumeOr(
        irp,
        () => afterBreakH(f, irp, ctx, stream, progress),
        (status) => failCreate(f, irp, ctx, status),
      ),
      createData(irp, ctx, stream),
      progress.completeIfOplocked ? OplockCheckFlag.OPLOCK_FLAG_COMPLETE_IF_OPLOCKED : 0,
      () => {
        progress.waited = true;
      },
    );
    if (gate.kind === 'pending') return;
    if (gate.kind === 'complete') {
      failCreate(f, irp, ctx, gate.status);
      return;
    }
    if (gate.status === NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS) progress.breakInProgress = true;
  }
  afterBreakH(f, irp, ctx, stream, progress);
}

function createData(irp: Irp, ctx: HandleContext, stream: StreamState): CreateOperation {
  return oplockData(irp, ctx, stream.isDirectory) as CreateOperation;
}

/** Step 2 (FbCreateAfterBreakH): FltCheckOplockEx, then down to the file system. */
function afterBreakH(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  stream: StreamState,
  progress: CreateProgress,
): void {
  const gate = checkOplock(
    f,
    irp,
    ctx,
    stream,
    resumeOr(
      irp,
      () => sendDown(f, irp, ctx, progress),
      (status) => failCreate(f, irp, ctx, status),
    ),
    {
      flags: progress.completeIfOplocked ? OplockCheckFlag.OPLOCK_FLAG_COMPLETE_IF_OPLOCKED : 0,
      data: createData(irp, ctx, stream),
      onWait: () => {
        progress.waited = true;
      },
    },
  );
  if (gate.kind === 'pending') return;
  if (gate.kind === 'complete') {
    failCreate(f, irp, ctx, gate.status);
    return;
  }
  if (gate.status === NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS) progress.breakInProgress = true;
  sendDown(f, irp, ctx, progress);
}

function sendDown(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  progress: CreateProgress,
): void {
  f.passDown(irp, (done) => postCreate(f, done, ctx, progress));
}

/** A create the filter fails itself (the file system never saw it). */
function failCreate(f: FltBridgeFilter, irp: Irp, ctx: HandleContext, status: number): void {
  emitCreate(f, irp, ctx, status, 0n, 0, 0n);
  if (ctx.stream !== undefined) releaseStreamReference(f, ctx.stream);
  irp.complete(status, 0n);
}

function postCreate(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  progress: CreateProgress,
): 'continue' {
  const fo = irp.fileObject;
  const candidate = ctx.stream as StreamState;
  const managed = ctx.kind === 'managed';
  let status = irp.status;
  if (!ntSuccess(status) || fo.isDirectory) {
    if (managed) releaseStreamReference(f, candidate);
    if (!fo.isDirectory) {
      emitCreate(f, irp, ctx, status, 0n, flagsOf(progress, status), 0n);
    } else {
      // A directory: the filter keeps nothing for it, and its later operations pass through.
      fo.filterContext = undefined;
      fo.fileObjectId = 0n;
    }
    return 'continue';
  }
  // FbStreamAttach: the stream the file already has wins over a new one.
  let stream = candidate;
  if (!managed) {
    const attached = f.streams.lookup(candidate.key);
    if (attached !== undefined && !attached.deleted) stream = attached;
    else f.streams.insert(candidate);
    stream.references += 1;
    ctx.stream = stream;
  }
  stream.isDirectory = false;
  stream.countOpen(fo, true);
  let createFlags = 0;
  let information = irp.information;
  if (managed && fo.createOptions & CreateOption.FILE_OPEN_REQUIRING_OPLOCK) {
    const refused = atomicOplock(f, irp, ctx, stream);
    if (refused === undefined) createFlags |= CreateFlag.ATOMIC_OPLOCK;
    else {
      status = refused;
      information = 0n;
    }
  }
  const size = ntSuccess(status) ? FileSystem.nodeOf(fo).data.size : 0n;
  if (status === NtStatus.STATUS_SUCCESS && progress.breakInProgress) {
    // FILE_COMPLETE_IF_OPLOCKED met a break: the open succeeds with
    // STATUS_OPLOCK_BREAK_IN_PROGRESS, as a file system owning the oplock reports it.
    status = NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS;
  }
  irp.status = status;
  irp.information = information;
  emitCreate(f, irp, ctx, status, information, createFlags | flagsOf(progress, status), size);
  return 'continue';
}

/**
 * FILE_OPEN_REQUIRING_OPLOCK (FbCreateAtomicOplock): FltOplockFsctrlEx on the create with the
 * resource exclusive; undefined when granted, else the status the open now fails with.
 */
function atomicOplock(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  stream: StreamState,
): number | undefined {
  const ol = stream.oplock as oplock.Oplock;
  const openCount = stream.openHandles > 0 ? stream.openHandles : 1;
  const data = oplockData(irp, ctx, false) as CreateOperation;
  stream.resource.acquireExclusive();
  let refused: number | undefined;
  try {
    f.emit({
      type: 'oplock-request',
      ...f.header(ctx, irp.operationId, irp.process, NtStatus.STATUS_PENDING),
      fsControlCode: 0,
      requestedLevel: 'NONE',
      inputFlags: 0,
      openCount,
      fsctrlFlags: 0,
    });
    const result = oplock.fsctrl(ol, data, openCount);
    if (result.preop === 'FLT_PREOP_COMPLETE' && !ntSuccess(result.ioStatus)) {
      refused = result.ioStatus;
      oplock.check(ol, data, OplockCheckFlag.OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK);
    }
  } finally {
    stream.resource.release();
  }
  if (refused === undefined) {
    f.emit({
      type: 'oplock-granted',
      ...f.header(ctx, irp.operationId, irp.process, NtStatus.STATUS_SUCCESS),
      grantedLevel: 'NONE',
    });
    return undefined;
  }
  f.emit({
    type: 'oplock-completed',
    ...f.header(ctx, irp.operationId, irp.process, refused),
    level: 'NONE',
    outputFlags: 0,
    information: 0,
    reason: 'refused',
  });
  cancelFileOpen(f, irp, ctx, stream);
  return refused;
}

/**
 * FltCancelFileOpen: the file system gets IRP_MJ_CLEANUP and IRP_MJ_CLOSE for the file object
 * it had just opened; the filter's own counts go back.
 */
function cancelFileOpen(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  stream: StreamState,
): void {
  const fo = irp.fileObject;
  stream.countOpen(fo, false);
  for (const major of [MajorFunction.CLEANUP, MajorFunction.CLOSE]) {
    filterIrpId += 1;
    const internal = new Irp({
      id: filterIrpId,
      major,
      fileObject: fo,
      process: irp.process,
      params: { kind: major === MajorFunction.CLEANUP ? 'cleanup' : 'close' },
    });
    f.lower.dispatch(internal);
  }
  ctx.cleanedUp = true;
  releaseStreamReference(f, stream);
}

function flagsOf(progress: CreateProgress, status: number): number {
  return (
    (progress.waited ? CreateFlag.WAITED_FOR_BREAK : 0) |
    (progress.sharingBreak ? CreateFlag.SHARING_BREAK : 0) |
    (status === NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS ? CreateFlag.BREAK_IN_PROGRESS : 0)
  );
}

/** FbCreateEmit. */
function emitCreate(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  status: number,
  information: bigint,
  createFlags: number,
  fileSize: bigint,
): void {
  const fo = irp.fileObject;
  const header = f.header(ctx, irp.operationId, irp.process, status);
  f.emit({
    type: 'create',
    ...header,
    flags: header.flags & (RecordFlag.MANAGED | RecordFlag.OBSERVED),
    desiredAccess: fo.desiredAccess,
    shareAccess: fo.shareAccess,
    createDisposition: fo.disposition,
    createOptions: fo.createOptions,
    information: ntSuccess(status) ? Number(information & 0xffffffffn) : 0,
    createFlags,
    fileSize,
  });
}
