/**
 * Twin of driver/src/fsctl.c: oplock FSCTLs (IRP_MJ_FILE_SYSTEM_CONTROL).
 *
 * Managed streams (research §1.2 FatOplockRequest, §1.5 rules 1 and 4, §7.1):
 *   - requests take the stream resource exclusive, acknowledgements shared;
 *   - OpenCount: for exclusive requests (Level 1, batch, filter, RW, RWH) the stream's open
 *     handles; for shared ones (Level 2, R, RH) whether byte-range locks exist
 *     (FsRtlAreThereCurrentFileLocks); OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH when every other open
 *     handle carries this handle's oplock key (NTFS passes it so a lease holder's second handle
 *     does not count against it);
 *   - batch, filter and handle-caching requests are refused with STATUS_DELETE_PENDING on a
 *     stream being deleted (fastfat);
 *   - FltOplockFsctrlEx's status is returned as it is: PENDING means the package holds the
 *     request until it completes it (never complete it here).
 *   Records: `oplock-request` (OpenCount and FsctrlFlags as passed); breaks it causes;
 *   `oplock-granted` (PENDING) or `oplock-completed` (refused). Acknowledgements:
 *   `oplock-request`, `oplock-break-completed` per waiter released, `oplock-acknowledged`, and
 *   `oplock-granted` when the ack pended holding an oplock, i.e. acknowledged to a level other
 *   than none (an ack held until close, level none, is no oplock). Break-notify:
 *   `oplock-request`, and `oplock-completed` when it completes. A held request ends with
 *   `oplock-break` or `oplock-completed` with the package's reason; the driver reads the same
 *   from the completion and its context (fsctl.c FbEmitOplockEnd, see classifyEnd).
 *
 * Observe roots: `oplock-request` at pre-operation; `oplock-granted` when the file system pended
 * a request; at completion `oplock-break` or `oplock-completed` as classifyEnd reads the
 * completion, and `oplock-acknowledged` for acknowledgements. Causality fields are 0.
 */

import { BreakFlag, type OplockEndReason } from '../../bridge/events.js';
import {
  Fsctl,
  OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH,
  OplockBreakInformation,
  type OplockLevel,
  RequestOplockOutputFlag,
} from '../../bridge/flags.js';
import { NtStatus, ntSuccess } from '../../bridge/ntstatus.js';
import type { OplockAcknowledge, OplockRequest } from '../../bridge/types.js';
import * as filelock from '../filelock/file-lock.js';
import type { Irp, OplockFsctlParameters } from '../fs/irp.js';
import { isSharedRequest, wantsHandleCaching } from '../fs/ntfs.js';
import * as oplock from '../oplock/index.js';
import { canonicalKey, levelOfBits } from '../oplock/levels.js';
import type {
  FsctlOperation,
  OplockRequestCompletion,
  RequestOplockOutput,
} from '../oplock/types.js';
import { FltBridgeFilter } from './filter.js';
import { majorOf, minorOf, oplockFileObject } from './oplock.js';
import type { HandleContext, StreamState } from './stream.js';

/**
 * The level an oplock FSCTL asks for, as the driver decodes it (fsctl.c FbDecodeOplockFsctl):
 * the level requested; FSCTL_OPLOCK_BREAK_ACKNOWLEDGE acknowledges to Level 2; the other legacy
 * acknowledgements and break-notify to none; FSCTL_REQUEST_OPLOCK its RequestedOplockLevel.
 */
export function requestedLevelOf(p: OplockFsctlParameters): OplockLevel {
  const request = p.request;
  if (p.isRequest) return (request as OplockRequest).level;
  const ack = request as OplockAcknowledge;
  if (ack.kind === 'ack') return ack.level;
  if (ack.kind === 'acknowledge') return 'LEVEL2';
  return 'NONE';
}

function isBreakNotify(p: OplockFsctlParameters): boolean {
  return p.fsControlCode === Fsctl.FSCTL_OPLOCK_BREAK_NOTIFY;
}

export function preFsctl(f: FltBridgeFilter, irp: Irp): void {
  const ctx = FltBridgeFilter.contextOf(irp);
  const p = irp.params;
  if (ctx === undefined || p.kind !== 'oplock-fsctl') {
    f.passDown(irp);
    return;
  }
  irp.operationId = f.newOperationId();
  if (ctx.kind === 'observe' || ctx.stream?.oplock === undefined) {
    preFsctlObserved(f, irp, ctx, p);
    return;
  }
  const stream = ctx.stream;
  let openCount = 0;
  let fsctrlFlags = 0;
  if (p.isRequest) {
    if (isSharedRequest(p)) {
      openCount =
        stream.fileLock !== undefined && filelock.areThereCurrentFileLocks(stream.fileLock) ? 1 : 0;
    } else {
      openCount = stream.openHandles;
      if (allKeysMatch(stream, irp)) fsctrlFlags = OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH;
    }
  }
  const level = requestedLevelOf(p);
  f.emit({
    type: 'oplock-request',
    ...f.header(ctx, irp.operationId, irp.process, NtStatus.STATUS_PENDING),
    fsControlCode: p.fsControlCode,
    requestedLevel: level,
    inputFlags: p.input?.flags ?? 0,
    openCount,
    fsctrlFlags,
  });
  if (p.isRequest && stream.deletePending && wantsHandleCaching(p)) {
    emitCompleted(f, irp, ctx, NtStatus.STATUS_DELETE_PENDING, 'NONE', 0, 0, 'refused');
    irp.complete(NtStatus.STATUS_DELETE_PENDING);
    return;
  }
  const ol = stream.oplock as oplock.Oplock;
  const data: FsctlOperation = {
    operationId: irp.operationId,
    processId: irp.process,
    fileObject: oplockFileObject(irp, ctx),
    major: 'FILE_SYSTEM_CONTROL',
    fsControlCode: p.fsControlCode,
    ...(p.input === undefined ? {} : { input: p.input }),
    complete: (c) => heldCompleted(f, irp, ctx, p, c),
  };
  if (p.isRequest) stream.resource.acquireExclusive();
  else stream.resource.acquireShared();
  let result: ReturnType<typeof oplock.fsctrl>;
  try {
    result = oplock.fsctrl(ol, data, openCount, fsctrlFlags);
  } finally {
    stream.resource.release();
  }
  const pending = result.preop === 'FLT_PREOP_PENDING';
  if (pending) {
    f.pended.add(irp);
    irp.cancelRoutine = () => {
      f.run(() => oplock.cancel(ol, irp.operationId));
    };
  }
  if (!p.isRequest && !isBreakNotify(p)) {
    f.emit({
      type: 'oplock-acknowledged',
      ...f.header(
        ctx,
        irp.operationId,
        irp.process,
        pending ? NtStatus.STATUS_PENDING : result.ioStatus,
      ),
      fsControlCode: p.fsControlCode,
      ackLevel: level,
      inputFlags: p.input?.flags ?? 0,
      // The request whose break this acknowledges, taken once (InterlockedExchange64).
      brokenRequestOperationId: takeBroken(ctx),
    });
    // Held as the new oplock (an ack to a level); an ack held until close (level NONE with
    // COMPLETE_ACK_ON_CLOSE) is no oplock and gets no `oplock-granted`.
    if (pending && level !== 'NONE') {
      f.emit({
        type: 'oplock-granted',
        ...f.header(ctx, irp.operationId, irp.process, NtStatus.STATUS_PENDING),
        grantedLevel: level,
      });
    } else if (!pending) {
      // An acknowledgement answered at once with a break indication ([MS-FSA] 2.1.5.19): the
      // package wrote REQUEST_OPLOCK_OUTPUT_BUFFER into the request's system buffer, which the
      // I/O manager copies back (the driver returns the package's result as it is).
      if (result.output !== undefined) irp.oplockOutput = result.output;
      irp.complete(result.ioStatus, BigInt(result.information));
    }
    return;
  }
  if (pending) {
    if (!isBreakNotify(p)) {
      f.emit({
        type: 'oplock-granted',
        ...f.header(ctx, irp.operationId, irp.process, NtStatus.STATUS_PENDING),
        grantedLevel: level,
      });
    }
    return;
  }
  emitCompleted(
    f,
    irp,
    ctx,
    result.ioStatus,
    'NONE',
    0,
    result.information,
    ntSuccess(result.ioStatus) ? 'completed' : 'refused',
  );
  irp.complete(result.ioStatus, BigInt(result.information));
}

/** A request the package held completed: a break started, or it ended without one. */
function heldCompleted(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  p: OplockFsctlParameters,
  c: OplockRequestCompletion,
): void {
  irp.cancelRoutine = undefined;
  f.pended.delete(irp);
  const legacy = p.fsControlCode !== Fsctl.FSCTL_REQUEST_OPLOCK;
  if (c.reason === 'break') {
    let breakFlags = 0;
    if (c.ackRequired) breakFlags |= BreakFlag.ACK_REQUIRED;
    if (c.cause?.waits) breakFlags |= BreakFlag.OPERATION_WAITS;
    if (legacy) breakFlags |= BreakFlag.LEGACY;
    const cause = c.cause?.operation;
    f.emit({
      type: 'oplock-break',
      ...f.header(ctx, irp.operationId, irp.process, c.status),
      fromLevel: c.fromLevel,
      toLevel: c.toLevel,
      breakFlags,
      // IoStatus.Information: FILE_OPLOCK_BROKEN_TO_* (legacy), the output buffer's size (Windows 7).
      information: c.information,
      causedByOperationId: cause?.operationId ?? 0n,
      causedByMajor: cause === undefined ? 0xff : majorOf(cause),
      causedByMinor: cause === undefined ? 0 : minorOf(cause),
      causedByProcessId: cause?.processId ?? 0,
    });
    if (c.ackRequired) ctx.brokenRequestOperationId = irp.operationId;
  } else {
    emitCompleted(
      f,
      irp,
      ctx,
      c.status,
      c.toLevel,
      c.output?.flags ?? 0,
      c.information,
      c.reason === 'handle-closed'
        ? 'handle-closed'
        : c.reason === 'cancelled'
          ? 'cancelled'
          : c.reason === 'switched'
            ? 'switched'
            : 'completed',
    );
  }
  if (c.output !== undefined) irp.oplockOutput = c.output;
  irp.complete(c.status, BigInt(c.information));
}

function emitCompleted(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  status: number,
  level: OplockLevel,
  outputFlags: number,
  information: number,
  reason: OplockEndReason,
): void {
  f.emit({
    type: 'oplock-completed',
    ...f.header(ctx, irp.operationId, irp.process, status),
    level,
    outputFlags,
    information,
    reason,
  });
}

function takeBroken(ctx: HandleContext): bigint {
  const id = ctx.brokenRequestOperationId ?? 0n;
  ctx.brokenRequestOperationId = 0n;
  return id;
}

/** Every other open handle of the stream carries this handle's oplock key. */
function allKeysMatch(stream: StreamState, irp: Irp): boolean {
  const key = irp.fileObject.oplockKey;
  if (key === undefined) return false;
  let others = 0;
  for (const fo of stream.handles) {
    if (fo === irp.fileObject) continue;
    others += 1;
    if (fo.oplockKey === undefined || canonicalKey(fo.oplockKey) !== canonicalKey(key))
      return false;
  }
  return others > 0;
}

/**
 * How a completed oplock request ended, read from what its completion carries (driver fsctl.c
 * FbClassifyOplockEnd): STATUS_CANCELLED, STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE and
 * STATUS_OPLOCK_HANDLE_CLOSED end it without a break; another failure is a refusal; a success
 * is a break only when it shows a level change: for FSCTL_REQUEST_OPLOCK an output buffer whose
 * NewOplockLevel differs from OriginalOplockLevel or that has ACK_REQUIRED
 * (REQUEST_OPLOCK_OUTPUT_BUFFER page), for the legacy FSCTLs Information
 * FILE_OPLOCK_BROKEN_TO_LEVEL_2 or FILE_OPLOCK_BROKEN_TO_NONE (FSCTL_REQUEST_OPLOCK_LEVEL_1
 * page); any other success (a break-notify, an acknowledgement held until close) just completed.
 * Legacy breaks of Level 1, batch and filter oplocks are acknowledged, Level 2 breaks are not.
 * The managed side knows more from its context and refines this (heldCompleted); the observe
 * side has only this.
 */
export function classifyEnd(
  fsControlCode: number,
  status: number,
  information: number,
  output: RequestOplockOutput | undefined,
  heldLevel: OplockLevel,
):
  | {
      readonly kind: 'break';
      readonly fromLevel: OplockLevel;
      readonly toLevel: OplockLevel;
      readonly breakFlags: number;
    }
  | { readonly kind: 'completed'; readonly reason: OplockEndReason; readonly level: OplockLevel } {
  const legacy = fsControlCode !== Fsctl.FSCTL_REQUEST_OPLOCK;
  const level: OplockLevel = legacy
    ? information === OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_LEVEL_2
      ? 'LEVEL2'
      : 'NONE'
    : output === undefined
      ? 'NONE'
      : (levelOfBits(output.newOplockLevel) ?? 'NONE');
  if (status === NtStatus.STATUS_CANCELLED)
    return { kind: 'completed', reason: 'cancelled', level };
  if (status === NtStatus.STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE) {
    return { kind: 'completed', reason: 'switched', level };
  }
  if (status === NtStatus.STATUS_OPLOCK_HANDLE_CLOSED) {
    return { kind: 'completed', reason: 'handle-closed', level };
  }
  if (!ntSuccess(status)) return { kind: 'completed', reason: 'refused', level };
  if (legacy) {
    if (
      information === OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_LEVEL_2 ||
      information === OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_NONE
    ) {
      const ack = heldLevel === 'LEVEL1' || heldLevel === 'BATCH' || heldLevel === 'FILTER';
      return {
        kind: 'break',
        fromLevel: heldLevel,
        toLevel: level,
        breakFlags: BreakFlag.LEGACY | (ack ? BreakFlag.ACK_REQUIRED : 0),
      };
    }
    return { kind: 'completed', reason: 'completed', level };
  }
  if (output !== undefined) {
    const ack = (output.flags & RequestOplockOutputFlag.ACK_REQUIRED) !== 0;
    if (ack || output.newOplockLevel !== output.originalOplockLevel) {
      return {
        kind: 'break',
        fromLevel: levelOfBits(output.originalOplockLevel) ?? heldLevel,
        toLevel: level,
        breakFlags: ack ? BreakFlag.ACK_REQUIRED : 0,
      };
    }
  }
  return { kind: 'completed', reason: 'completed', level };
}

// ---------------------------------------------------------------------------------------------
// Observe roots.
// ---------------------------------------------------------------------------------------------

function preFsctlObserved(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  p: OplockFsctlParameters,
): void {
  const level = requestedLevelOf(p);
  f.emit({
    type: 'oplock-request',
    ...f.header(ctx, irp.operationId, irp.process, NtStatus.STATUS_PENDING),
    fsControlCode: p.fsControlCode,
    requestedLevel: level,
    inputFlags: p.input?.flags ?? 0,
    openCount: 0,
    fsctrlFlags: 0,
  });
  let granted = false;
  const emitGranted = () => {
    if (granted) return;
    granted = true;
    f.emit({
      type: 'oplock-granted',
      ...f.header(ctx, irp.operationId, irp.process, NtStatus.STATUS_PENDING),
      grantedLevel: level,
    });
  };
  let returned = false;
  f.passDown(irp, (done) => {
    // Completed later than the dispatch returned: the file system had pended it (granted).
    if (p.isRequest && returned) emitGranted();
    const status = done.status;
    const information = Number(done.information & 0xffffffffn);
    if (!p.isRequest && !isBreakNotify(p)) {
      f.emit({
        type: 'oplock-acknowledged',
        ...f.header(ctx, done.operationId, done.process, status),
        fsControlCode: p.fsControlCode,
        ackLevel: level,
        inputFlags: p.input?.flags ?? 0,
        brokenRequestOperationId: 0n,
      });
      return 'continue';
    }
    const end = classifyEnd(p.fsControlCode, status, information, done.oplockOutput, level);
    if (!isBreakNotify(p) && end.kind === 'break') {
      f.emit({
        type: 'oplock-break',
        ...f.header(ctx, done.operationId, done.process, status),
        fromLevel: end.fromLevel,
        toLevel: end.toLevel,
        breakFlags: end.breakFlags,
        information,
        causedByOperationId: 0n,
        causedByMajor: 0xff,
        causedByMinor: 0,
        causedByProcessId: 0,
      });
      return 'continue';
    }
    emitCompleted(
      f,
      done,
      ctx,
      status,
      end.kind === 'break' ? end.toLevel : end.level,
      done.oplockOutput?.flags ?? 0,
      information,
      isBreakNotify(p) ? 'completed' : end.kind === 'break' ? 'completed' : end.reason,
    );
    return 'continue';
  });
  returned = true;
  // FltRequestOperationStatusCallback: the file system returned STATUS_PENDING for a request.
  if (p.isRequest && !irp.completed) emitGranted();
}
