/**
 * A small driver for the FILE_LOCK twin in tests: owners named like the handles of the Windows
 * tests we pin (h1 and h2 are two opens of one file in one process, as in smbtorture's SMB2-LOCK
 * and Wine's test_LockFile), one call per LockFileEx / UnlockFileEx / ReadFile / WriteFile /
 * CloseHandle, and a log of every callback in the order the package fires them.
 */

import type {
  FileLock,
  FltPreopCallbackStatus,
  LockCompletionCause,
  LockControlData,
} from '../../../src/model/filelock/index.js';
import * as fl from '../../../src/model/filelock/index.js';

/** Sources the tests cite. */
export const SRC = {
  smb2: 'smbtorture source4/torture/smb2/lock.c',
  wine: 'Wine dlls/kernel32/tests/file.c test_LockFile',
  winfsp: 'WinFsp tst/winfsp-tests/lock-test.c',
  fsaAlgo: '[MS-FSA] 2.1.4.10',
  fsaRead: '[MS-FSA] 2.1.5.3',
  fsaWrite: '[MS-FSA] 2.1.5.4',
  fsaLock: '[MS-FSA] 2.1.5.8',
  fsaUnlock: '[MS-FSA] 2.1.5.9',
  lockFileEx: 'LockFileEx remarks (learn.microsoft.com)',
  ntLockFile: 'NtLockFile return values (learn.microsoft.com)',
  ntos: 'ntoskrnl lock package (public decompilation)',
  ddiAlloc: 'FltAllocateFileLock remarks',
  ddiProcess: 'FltProcessFileLock remarks',
  ddiComplete: 'PFLT_COMPLETE_LOCK_CALLBACK_DATA_ROUTINE',
  ddiUnlock: 'PUNLOCK_ROUTINE',
  ddiInit: 'FltInitializeFileLock remarks',
  ddiUninit: 'FltUninitializeFileLock remarks',
  ddiFree: 'FltFreeFileLock remarks',
  ddiOplockReq: 'FsRtlCheckLockForOplockRequest',
  ddiCurrent: 'FsRtlAreThereCurrentFileLocks',
} as const;

export interface Owner {
  readonly fo: bigint;
  readonly pid: number;
  readonly key: number;
}

export function owner(fo: number, pid = 1, key = 0): Owner {
  return { fo: BigInt(fo), pid, key };
}

/** Two handles of one file in one process, a handle in another process, keys on h1. */
export const h1 = owner(1);
export const h2 = owner(2);
export const other = owner(3, 2);

export type LogEntry =
  | {
      readonly kind: 'complete';
      readonly op: bigint;
      readonly minor: number;
      readonly status: number;
      readonly reason: LockCompletionCause['reason'];
      readonly afterWait: boolean;
      readonly by: bigint;
      readonly releasedBy: string | undefined;
      readonly context: unknown;
    }
  | {
      readonly kind: 'unlock';
      readonly offset: bigint;
      readonly length: bigint;
      readonly exclusive: boolean;
      readonly fo: bigint;
      readonly pid: number;
      readonly key: number;
      readonly ending: bigint;
      readonly by: string;
      readonly op: bigint;
      readonly context: unknown;
    }
  | { readonly kind: 'pended-complete'; readonly op: bigint; readonly status: number };

export interface LockOptions {
  readonly exclusive?: boolean;
  readonly fail?: boolean;
  readonly fastIo?: boolean;
  readonly context?: unknown;
}

export interface LockResult {
  readonly preop: FltPreopCallbackStatus;
  readonly status: number;
  readonly data: LockControlData;
}

export interface HarnessOptions {
  /** Completion routine override: return undefined to echo the status. */
  readonly complete?: (data: LockControlData, cause: LockCompletionCause) => number | undefined;
  readonly naive?: boolean;
  readonly routines?: boolean;
}

export class Harness {
  readonly lock: FileLock;
  readonly log: LogEntry[] = [];
  private op = 0n;

  constructor(options: HarnessOptions = {}) {
    const complete = (context: unknown, data: LockControlData, cause: LockCompletionCause) => {
      this.log.push({
        kind: 'complete',
        op: data.operationId,
        minor: data.minorFunction,
        status: data.ioStatus.status,
        reason: cause.reason,
        afterWait: cause.afterWait,
        by: cause.releasedByOperationId,
        releasedBy: cause.releasedBy,
        context,
      });
      return options.complete?.(data, cause) ?? data.ioStatus.status;
    };
    const unlock: fl.UnlockRoutine = (context, info, cause) => {
      this.log.push({
        kind: 'unlock',
        offset: info.startingByte,
        length: info.length,
        exclusive: info.exclusiveLock,
        fo: info.fileObject,
        pid: info.processId,
        key: info.key,
        ending: info.endingByte,
        by: cause.releasedBy,
        op: cause.operationId,
        context,
      });
    };
    const routines = options.routines ?? true;
    this.lock = options.naive
      ? fl.allocateWithIndex(
          () => new fl.NaiveIndex(),
          routines ? complete : undefined,
          routines ? unlock : undefined,
        )
      : fl.allocate(routines ? complete : undefined, routines ? unlock : undefined);
  }

  nextOp(): bigint {
    this.op += 1n;
    return this.op;
  }

  private data(
    who: Owner,
    minor: fl.LockMinorName,
    offset: bigint | number,
    length: bigint | number,
    o: LockOptions,
  ): LockControlData {
    return fl.lockControlData({
      operationId: this.nextOp(),
      processId: who.pid,
      fileObject: who.fo,
      minor,
      byteOffset: BigInt(offset),
      length: BigInt(length),
      key: who.key,
      exclusiveLock: o.exclusive ?? true,
      failImmediately: o.fail ?? true,
      fastIo: o.fastIo ?? false,
      completePended: (d) =>
        this.log.push({ kind: 'pended-complete', op: d.operationId, status: d.ioStatus.status }),
    });
  }

  /** LockFileEx: exclusive + fail-immediately unless told otherwise (LockFile's flags). */
  lockRange(
    who: Owner,
    offset: bigint | number,
    length: bigint | number,
    o: LockOptions = {},
  ): LockResult {
    const data = this.data(who, 'LOCK', offset, length, o);
    const preop = fl.process(this.lock, data, o.context);
    return { preop, status: data.ioStatus.status, data };
  }

  /** Status of a lock request (throws if it pended). */
  lockStatus(
    who: Owner,
    offset: bigint | number,
    length: bigint | number,
    o: LockOptions = {},
  ): number {
    const r = this.lockRange(who, offset, length, o);
    if (r.preop === 'pending') throw new Error('lock request pended unexpectedly');
    return r.status;
  }

  shared(
    who: Owner,
    offset: bigint | number,
    length: bigint | number,
    o: LockOptions = {},
  ): number {
    return this.lockStatus(who, offset, length, { ...o, exclusive: false });
  }

  /** A waiting lock (LockFileEx without LOCKFILE_FAIL_IMMEDIATELY). */
  wait(
    who: Owner,
    offset: bigint | number,
    length: bigint | number,
    o: LockOptions = {},
  ): LockResult {
    return this.lockRange(who, offset, length, { ...o, fail: false });
  }

  /** UnlockFileEx. */
  unlock(
    who: Owner,
    offset: bigint | number,
    length: bigint | number,
    o: LockOptions = {},
  ): number {
    const data = this.data(who, 'UNLOCK_SINGLE', offset, length, o);
    fl.process(this.lock, data, o.context);
    return data.ioStatus.status;
  }

  unlockAll(who: Owner, o: LockOptions = {}): number {
    const data = this.data(who, 'UNLOCK_ALL', 0n, 0n, o);
    fl.process(this.lock, data, o.context);
    return data.ioStatus.status;
  }

  unlockAllByKey(who: Owner, o: LockOptions = {}): number {
    const data = this.data(who, 'UNLOCK_ALL_BY_KEY', 0n, 0n, o);
    fl.process(this.lock, data, o.context);
    return data.ioStatus.status;
  }

  /** CloseHandle: the file system's cleanup calls FsRtlFastUnlockAll. */
  cleanup(who: Owner, context?: unknown): { status: number; op: bigint } {
    const op = this.nextOp();
    const status = fl.fastUnlockAll(this.lock, who.fo, who.pid, context, op);
    return { status, op };
  }

  canRead(who: Owner, offset: bigint | number, length: number): boolean {
    return fl.checkForRead(
      this.lock,
      fl.readData({
        operationId: this.nextOp(),
        processId: who.pid,
        fileObject: who.fo,
        byteOffset: BigInt(offset),
        length,
        key: who.key,
      }),
    );
  }

  canWrite(who: Owner, offset: bigint | number, length: number): boolean {
    return fl.checkForWrite(
      this.lock,
      fl.writeData({
        operationId: this.nextOp(),
        processId: who.pid,
        fileObject: who.fo,
        byteOffset: BigInt(offset),
        length,
        key: who.key,
      }),
    );
  }

  cancel(data: LockControlData): boolean {
    return fl.cancel(this.lock, data, this.nextOp());
  }

  locks(): fl.FileLockInfo[] {
    return fl.enumerateLocks(this.lock);
  }

  waiting(): LockControlData[] {
    return fl.waitingRequests(this.lock).map((w) => w.data);
  }

  /** Log entries of one kind, then clear the log. */
  take(): LogEntry[] {
    const out = [...this.log];
    this.log.length = 0;
    return out;
  }
}

export const S = {
  SUCCESS: 0x00000000,
  PENDING: 0x00000103,
  LOCK_NOT_GRANTED: 0xc0000055,
  FILE_LOCK_CONFLICT: 0xc0000054,
  RANGE_NOT_LOCKED: 0xc000007e,
  INVALID_LOCK_RANGE: 0xc00001a1,
  CANCELLED: 0xc0000120,
  INVALID_DEVICE_REQUEST: 0xc0000010,
  ACCESS_DENIED: 0xc0000022,
} as const;

export const U64_MAX = (1n << 64n) - 1n;
