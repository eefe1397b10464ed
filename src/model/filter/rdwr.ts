/**
 * Twin of driver/src/rdwr.c: IRP_MJ_READ and IRP_MJ_WRITE (non-paging; the model has no paging
 * I/O).
 *
 * Managed streams (research §1.2 read/write, §7.1 READ/WRITE): FltCheckOplockEx (the pre-post
 * routine locks the user buffer), then FltCheckLockFor{Read,Write}Access against the stream's
 * FILE_LOCK, which refuses with STATUS_FILE_LOCK_CONFLICT; otherwise the request goes to the
 * file system, which applies end of file ([MS-FSA] 2.1.5.3: STATUS_END_OF_FILE after the lock
 * check). Requests the file system answers before any check are passed down without one, as
 * NTFS answers them: zero-length I/O, directories, and offsets NTFS refuses
 * (STATUS_INVALID_PARAMETER past MAXLONGLONG) (fastfat read.c / write.c complete them before
 * FsRtlCheckOplock: a zero-length write breaks nothing).
 * A write to end of file (FILE_WRITE_TO_END_OF_FILE, an append-only handle) is checked against
 * byte-range locks at the current end of file, not at the raw offset; the records carry that
 * offset.
 * Records: breaks; wait; `io-refused` when a byte-range lock refuses it, else `io` at
 * completion (also when the oplock package fails it, with that status).
 *
 * Observe roots: `io-refused` when the file system fails it with STATUS_FILE_LOCK_CONFLICT,
 * else `io`.
 */

import { MajorFunction } from '../../bridge/events.js';
import { NtStatus } from '../../bridge/ntstatus.js';
import * as filelock from '../filelock/file-lock.js';
import type { Irp } from '../fs/irp.js';
import { FileSystem, MAX_LONGLONG } from '../fs/ntfs.js';
import { FltBridgeFilter } from './filter.js';
import { checkOplock, resumeOr } from './oplock.js';
import type { HandleContext, StreamState } from './stream.js';

interface IoShape {
  readonly major: number;
  readonly offset: bigint;
  readonly length: number;
  readonly key: number;
}

function shapeOf(irp: Irp): IoShape | undefined {
  const p = irp.params;
  if (p.kind === 'read') {
    return { major: MajorFunction.READ, offset: p.offset, length: p.length, key: p.key };
  }
  if (p.kind === 'write') {
    const offset = p.toEndOfFile ? FileSystem.nodeOf(irp.fileObject).data.size : p.offset;
    return { major: MajorFunction.WRITE, offset, length: p.data.length, key: p.key };
  }
  return undefined;
}

export function preReadWrite(f: FltBridgeFilter, irp: Irp): void {
  const ctx = FltBridgeFilter.contextOf(irp);
  const shape = shapeOf(irp);
  if (ctx === undefined || shape === undefined) {
    f.passDown(irp);
    return;
  }
  irp.operationId = f.newOperationId();
  const stream = ctx.stream;
  const unchecked =
    irp.fileObject.isDirectory ||
    shape.length === 0 ||
    shape.offset > MAX_LONGLONG ||
    shape.offset + BigInt(shape.length) > MAX_LONGLONG;
  if (ctx.kind === 'observe' || stream?.oplock === undefined || unchecked) {
    sendDown(f, irp, ctx, shape);
    return;
  }
  const gate = checkOplock(
    f,
    irp,
    ctx,
    stream,
    resumeOr(
      irp,
      () => lockCheck(f, irp, ctx, stream),
      (status) => failIo(f, irp, ctx, shape, status),
    ),
  );
  if (gate.kind === 'pending') return;
  if (gate.kind === 'complete') {
    failIo(f, irp, ctx, shape, gate.status);
    return;
  }
  lockCheck(f, irp, ctx, stream);
}

/**
 * The oplock package failed the read or write (or its wait ended with a failure, e.g.
 * STATUS_CANCELLED): it completes with that status and its `io` record (driver rdwr.c /
 * oplock.c FbEmitFailedOperation).
 */
function failIo(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  shape: IoShape,
  status: number,
): void {
  emitIo(f, irp, ctx, shape, status, 0n);
  irp.complete(status, 0n);
}

function lockCheck(f: FltBridgeFilter, irp: Irp, ctx: HandleContext, stream: StreamState): void {
  // The offset of a write to end of file is resolved now, after any oplock wait (the holder
  // may have extended the file before acknowledging), as NTFS resolves it after its oplock
  // check (fastfat write.c: FsRtlCheckOplock, then StartingByte = FileSize for WriteToEof,
  // then FsRtlCheckLockForWriteAccess).
  const shape = shapeOf(irp) as IoShape;
  const lock = stream.fileLock;
  if (lock !== undefined) {
    const init = {
      operationId: irp.operationId,
      processId: irp.process,
      fileObject: ctx.fileObjectId,
      byteOffset: shape.offset,
      length: shape.length,
      key: shape.key,
    };
    const allowed =
      shape.major === MajorFunction.READ
        ? filelock.checkForRead(lock, filelock.readData(init))
        : filelock.checkForWrite(lock, filelock.writeData(init));
    if (!allowed) {
      emitRefused(f, irp, ctx, shape);
      irp.complete(NtStatus.STATUS_FILE_LOCK_CONFLICT);
      return;
    }
  }
  sendDown(f, irp, ctx, shape);
}

function sendDown(f: FltBridgeFilter, irp: Irp, ctx: HandleContext, shape: IoShape): void {
  f.passDown(irp, (done) => {
    if (ctx.kind === 'observe' && done.status === NtStatus.STATUS_FILE_LOCK_CONFLICT) {
      emitRefused(f, done, ctx, shape);
      return 'continue';
    }
    emitIo(f, done, ctx, shape, done.status, done.information);
    return 'continue';
  });
}

function emitIo(
  f: FltBridgeFilter,
  irp: Irp,
  ctx: HandleContext,
  shape: IoShape,
  status: number,
  information: bigint,
): void {
  f.emit({
    type: 'io',
    ...f.header(ctx, irp.operationId, irp.process, status),
    major: shape.major,
    minor: 0,
    detail: 0,
    offset: shape.offset,
    length: BigInt(shape.length),
    information,
  });
}

function emitRefused(f: FltBridgeFilter, irp: Irp, ctx: HandleContext, shape: IoShape): void {
  f.emit({
    type: 'io-refused',
    ...f.header(ctx, irp.operationId, irp.process, NtStatus.STATUS_FILE_LOCK_CONFLICT),
    offset: shape.offset,
    length: shape.length,
    key: shape.key,
    major: shape.major,
  });
}
