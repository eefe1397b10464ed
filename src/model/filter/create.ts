/**
 * Twin of driver/src/create.c: IRP_MJ_CREATE.
 *
 * Not looked at (no identifiers, no records, no state): creates with FILE_DIRECTORY_FILE, names
 * outside every namespace, and (decided in post-create) opens that turn out to be directories.
 *
 * Every create the filter looks at carries the target oplock key of its GUID_ECP_OPLOCK_KEY ECP,
 * if any (FltGetEcpListFromCallbackData + FltFindExtraCreateParameter in the driver; the file
 * object's `oplockKey` here): `create` has HAS_OPLOCK_KEY and the key.
 *
 * Managed streams (research §7.1 CREATE; docs/events.md "create"):
 *   pre-create   look the stream up in the table by name, building its state if it has none
 *                (the streamId is assigned here, so even a refused create names its stream);
 *                then, in NTFS's order (fromTop below; [MS-FSA] 2.1.5.1.2, fastfat create.c):
 *                  1. a batch or filter oplock: FltCheckOplockEx before the share check;
 *                  2. a predicted sharing violation (the handles the filter counted, with
 *                     IoCheckShareAccess's rules) against handle-caching holders:
 *                     FltOplockBreakH (SHARING_BREAK) breaks H only, the create waits for the
 *                     acknowledgement, then the share check is made again;
 *                  3. an open that still conflicts gets no FltCheckOplockEx: it goes down and
 *                     the file system fails it with STATUS_SHARING_VIOLATION;
 *                  4. else FltCheckOplockEx (OPLOCK_FLAG_COMPLETE_IF_OPLOCKED for
 *                     FILE_COMPLETE_IF_OPLOCKED), then down.
 *                A wait resumes from a work item (driver oplock.c FbContinueWorker). A refusal
 *                of the package (STATUS_CANNOT_BREAK_OPLOCK for FILE_OPEN_REQUIRING_OPLOCK)
 *                fails the create here.
 *   post-create  on success: count the handle (open handles, share access), record the oplock
 *                key (FltCheckOplockEx with OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY), and handle
 *                FILE_OPEN_REQUIRING_OPLOCK with FltOplockFsctrlEx (OpenCount = open handles,
 *                this one included); a refusal backs the open out
 *                (OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK, FltCancelFileOpen) and fails the create with
 *                the package's status. STATUS_OPLOCK_BREAK_IN_PROGRESS from a package call is
 *                propagated over a success (research §1.2), with Information
 *                FILE_OPBATCH_BREAK_UNDERWAY when it came from the batch/filter check.
 *   records      breaks; wait; oplock-request + oplock-granted / oplock-completed for an atomic
 *                oplock; finally `create`.
 *
 * Observe roots: the create goes down unchanged; `create` at post-create. A new stream state is
 * made for every observed pre-create (its streamId is spent even when the file already has one,
 * as the driver's FbStreamCreate / FbStreamAttach do).
 */

import { CreateFlag, RecordFlag } from '../../bridge/events.js';
import {
  CreateOption,
  guidFromBytes,
  guidToBytes,
  OplockBreakInformation,
  OplockCheckFlag,
} from '../../bridge/flags.js';
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
  /** FB_OP_BATCH_UNDERWAY: the batch/filter check (step 1) returned BREAK_IN_PROGRESS. */
  batchUnderway: boolean;
  /** FB_OP_OPLOCK_CHECKED: step 1 ran FltCheckOplockEx and let the create go on. */
  checked: boolean;
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
    // FbCreateOplockKey: GUID_ECP_OPLOCK_KEY from the create's ECP list.
    ...(fo.oplockKey === undefined ? {} : { oplockKey: fo.oplockKey }),
    cleanedUp: false,
  };
  fo.filterContext = ctx;
  fo.fileObjectId = ctx.fileObjectId;
  const progress: CreateProgress = {
    waited: false,
    sharingBreak: false,
    breakInProgress: false,
    batchUnderway: false,
    checked: false,
    completeIfOplocked: (fo.createOptions & CreateOption.FILE_COMPLETE_IF_OPLOCKED) !== 0,
  };
  if (kind === 'observe') {
    f.passDown(irp, (done) => postCreate(f, done, ctx, progress));
    return;
  }
  fromTop(f, irp, ctx, stream, progress);
}

function createData(irp: Irp, ctx: HandleContext, stream: StreamState): CreateOperation {
  return oplockData(irp, ctx, stream.isDirectory) as CreateOperation;
}

function checkFlags(progress: CreateProgress): number {
  return progress.completeIfOplocked ? OplockCheckFlag.OPLOCK_FLAG_COMPLETE_IF_OPLOCKED : 0;
}

function onWait(progress: CreateProgress): () => void {
  return () => {
    progress.waited = true;
  };
}

/**
 * FbCreateFromTop, the managed pre-create in NTFS's order ([MS-FSA] 2.1.5.1.2; fastfat
 * create.c FatOpenExistingFcb; cdfs/udfs create.c the same):
 *
 *  1. a batch or filter oplock (FltCurrentBatchOplock) is checked before the share check, so a
 *     holder that closes on the break lets the open through ("Take special action if there is
 *     a current batch oplock or batch oplock break in process"); a create that waited here
 *     starts over from the top, as the file system re-queues it (FatOplockComplete);
 *  2. the share check (predicted from the handles the filter counted, IoCheckShareAccess's
 *     rules); on a conflict with handle-caching holders FltOplockBreakH breaks H only, the
 *     create waits for the acknowledgement, and the share check is made again;
 *  3. an open that still conflicts gets no FltCheckOplockEx: it goes down and the file system
 *     fails it with STATUS_SHARING_VIOLATION (nothing else is broken for it);
 *  4. otherwise FltCheckOplockEx (unless step 1 already checked), and down.
 */
function fromTop(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  stream: StreamState,
  progress: CreateProgress,
): void {
  const ol = stream.oplock as oplock.Oplock;
  if (oplock.currentBatchOplock(ol)) {
    const gate = checkOplock(
      f,
      irp,
      ctx,
      stream,
      resumeOr(
        irp,
        () => fromTop(f, irp, ctx, stream, progress),
        (status) => failCreate(f, irp, ctx, status, progress),
      ),
      { flags: checkFlags(progress), data: createData(irp, ctx, stream), onWait: onWait(progress) },
    );
    if (gate.kind === 'pending') return;
    if (gate.kind === 'complete') {
      failCreate(f, irp, ctx, gate.status, progress);
      return;
    }
    progress.checked = true;
    if (gate.status === NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS) {
      progress.breakInProgress = true;
      // cdfs create.c: "We remember if a batch oplock break is underway".
      progress.batchUnderway = true;
    }
  }
  const fo = irp.fileObject;
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
        (status) => failCreate(f, irp, ctx, status, progress),
      ),
      createData(irp, ctx, stream),
      checkFlags(progress),
      onWait(progress),
    );
    if (gate.kind === 'pending') return;
    if (gate.kind === 'complete') {
      failCreate(f, irp, ctx, gate.status, progress);
      return;
    }
    if (gate.status === NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS) progress.breakInProgress = true;
  }
  afterBreakH(f, irp, ctx, stream, progress);
}

/** FbCreateAfterBreakH: the share check again, then FltCheckOplockEx, then down. */
function afterBreakH(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  stream: StreamState,
  progress: CreateProgress,
): void {
  const fo = irp.fileObject;
  if (progress.checked || stream.shareConflict(fo.desiredAccess, fo.shareAccess)) {
    // Still a sharing violation (or checked already by step 1): no FltCheckOplockEx; the file
    // system below decides the share check.
    sendDown(f, irp, ctx, progress);
    return;
  }
  const gate = checkOplock(
    f,
    irp,
    ctx,
    stream,
    resumeOr(
      irp,
      () => sendDown(f, irp, ctx, progress),
      (status) => failCreate(f, irp, ctx, status, progress),
    ),
    { flags: checkFlags(progress), data: createData(irp, ctx, stream), onWait: onWait(progress) },
  );
  if (gate.kind === 'pending') return;
  if (gate.kind === 'complete') {
    failCreate(f, irp, ctx, gate.status, progress);
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
function failCreate(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  status: number,
  progress: CreateProgress,
): void {
  // FbCreateEmit adds WAITED_FOR_BREAK / SHARING_BREAK from the operation's flags.
  emitCreate(f, irp, ctx, status, 0n, flagsOf(progress, status), 0n);
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
  if (managed && stream.oplock !== undefined) {
    // FltCheckOplockEx(OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY): the package records the open's oplock
    // key on the file object and breaks nothing (FsRtlCheckOplockEx page; research §7.1
    // CREATE). The model's package reads the key from the file object, so this records nothing
    // new; the call is here because the driver makes it.
    const data = oplockData(irp, ctx, false) as CreateOperation;
    stream.resource.acquireShared();
    try {
      oplock.check(stream.oplock, data, OplockCheckFlag.OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY);
    } finally {
      stream.resource.release();
    }
  }
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
    // STATUS_OPLOCK_BREAK_IN_PROGRESS, as a file system owning the oplock reports it; when the
    // break is a batch or filter oplock's (step 1 of fromTop), Information says
    // FILE_OPBATCH_BREAK_UNDERWAY as NTFS sets it (cdfs/fastfat create.c set it before their
    // FsRtlCurrentBatchOplock check; ntifs.h FILE_OPBATCH_BREAK_UNDERWAY; the NTFS twin
    // src/model/fs/ntfs.ts #completeOpen reports the same).
    status = NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS;
    if (progress.batchUnderway) {
      information = BigInt(OplockBreakInformation.FILE_OPBATCH_BREAK_UNDERWAY);
    }
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
    createFlags: createFlags | (ctx.oplockKey === undefined ? 0 : CreateFlag.HAS_OPLOCK_KEY),
    // The GUID's 16 bytes as the driver copies them, in the codec's text form.
    ...(ctx.oplockKey === undefined
      ? {}
      : { oplockKey: guidFromBytes(guidToBytes(ctx.oplockKey)) }),
    fileSize,
  });
}
