/**
 * The FILE_LOCK twin: the byte-range lock package a minifilter drives through
 * FltAllocateFileLock, FltInitializeFileLock, FltUninitializeFileLock, FltFreeFileLock,
 * FltProcessFileLock, FltCheckLockForReadAccess, FltCheckLockForWriteAccess and
 * FsRtlFastUnlockAll, with the same verbs. The driver twin is driver/src/filelock.c; the filter
 * twin (src/model/filter/lock.ts) calls these exactly where the driver calls the DDIs.
 *
 * Sources, in order of authority (NTFS-observed behaviour wins over prose):
 *  1. Tests that run against Windows: Samba smbtorture source4/torture/smb2/lock.c (SMB2-LOCK:
 *     ZEROBYTELENGTH, STACKING, UNLOCK, CANCEL, ERRORCODE, RW-SHARED, RW-EXCLUSIVE, OVERLAP,
 *     LOCK, RANGE, VALID-REQUEST), Wine dlls/kernel32/tests/file.c test_LockFile, WinFsp
 *     tst/winfsp-tests/lock-test.c.
 *  2. ntoskrnl's own lock package as published decompilations show it (FsRtlPrivateLock,
 *     FsRtlFastUnlockSingle{,Exclusive,Shared}, FsRtlPrivateFastUnlockAll,
 *     FsRtlPrivateCheckWaitingLocks, FsRtlPrivateCancelFileLockIrp, FsRtlUninitializeFileLock,
 *     FsRtlFastCheckLockForWrite, FsRtlCheckLockForOplockRequest): read for facts, not copied.
 *  3. [MS-FSA] 2.1.4.10 (conflict algorithm), 2.1.5.3 / 2.1.5.4 (read / write), 2.1.5.8 (lock),
 *     2.1.5.9 (unlock); the DDI pages of the routines above; LockFileEx / UnlockFileEx /
 *     NtLockFile.
 *
 * The rules (each pinned by a test in test/model/filelock that names its source):
 *  - Ownership is (file object, requestor process, key): unlock must match all three plus the
 *    exact offset and length ([MS-FSA] 2.1.5.9; FsRtlFastUnlockSingle*; LockFileEx remarks: a
 *    handle inherited by a child process does not get the parent's access).
 *  - An exclusive lock conflicts with every overlapping lock, even its owner's; a shared lock
 *    conflicts only with overlapping exclusive locks of other owners, so shared locks stack on
 *    shared locks and on their owner's exclusive lock ([MS-FSA] 2.1.4.10; SMB2-LOCK STACKING;
 *    Wine "shared lock can overlap exclusive if handles are equal").
 *  - Overlap: both ranges contain a common byte, where a zero-length range at X > 0 is the empty
 *    range [X, X-1] (so it overlaps exactly the locks that contain both X-1 and X) and {0, 0}
 *    overlaps nothing ([MS-FSA] 2.1.4.10; SMB2-LOCK ZEROBYTELENGTH's table).
 *  - Reads conflict with other owners' exclusive locks; writes also with every shared lock,
 *    the writer's own included; zero-length I/O never conflicts ([MS-FSA] 2.1.5.3 / 2.1.5.4
 *    return before the lock check; FsRtlFastCheckLockForWrite returns TRUE for Length 0;
 *    SMB2-LOCK RW-SHARED / RW-EXCLUSIVE).
 *  - Statuses: STATUS_LOCK_NOT_GRANTED for a refused fail-immediately lock; STATUS_FILE_LOCK_
 *    CONFLICT is the filter's answer to a read or write the checks refuse (never this package's
 *    status); STATUS_RANGE_NOT_LOCKED for an unlock without an exact match, for unlock-all when
 *    the stream holds no lock at all, and for waiting requests ended by their owner's unlock-all
 *    or cleanup or by uninitialize; STATUS_INVALID_LOCK_RANGE on wrap-around; STATUS_CANCELLED
 *    for a cancelled waiting lock; STATUS_INVALID_DEVICE_REQUEST for an unknown minor function.
 *  - Waiting locks queue FIFO; every release rescans the queue from its head and grants each
 *    request that now fits (a grant restarts the scan, as FsRtlPrivateCheckWaitingLocks does).
 *    A new request is checked against granted locks only, never against the queue.
 *
 * Deterministic and synchronous: no timers, no promises; callbacks run inside the call that
 * causes them, in Windows' order. Callbacks may call back into the package.
 */

import { BugCheckError, InvalidArgumentError } from '../../bridge/errors.js';
import { U64_MAX } from '../../bridge/flags.js';
import { NtStatus, ntSuccess } from '../../bridge/ntstatus.js';
import { IntervalBTree, IntervalNode, type RangeIndex } from './interval-index.js';
import {
  type CompleteLockCallbackDataRoutine,
  type FileLockInfo,
  FltPreop,
  type FltPreopCallbackStatus,
  type IoData,
  IrpMj,
  IrpMnLock,
  type LockCompletionCause,
  type LockControlData,
  type LockMinorName,
  type ReleaseKind,
  type UnlockCause,
  type UnlockRoutine,
  type WaitingLockInfo,
} from './types.js';
import {
  checkU32,
  checkU64,
  describe,
  endingByte,
  newSplitRange,
  type SplitRange,
  splitIoRange,
  splitRange,
} from './u64.js';

// ---------------------------------------------------------------------------------------------
// Internal structures
// ---------------------------------------------------------------------------------------------

/** A granted lock: FILE_LOCK_INFO plus its place in the index. */
class LockEntry extends IntervalNode {
  removed = false;
  constructor(
    readonly offset: bigint,
    readonly length: bigint,
    readonly exclusive: boolean,
    readonly fileObject: bigint,
    readonly processId: number,
    readonly key: number,
    readonly zeroZero: boolean,
  ) {
    super();
    this.tag = ownerTag(fileObject, processId, key);
  }
}

/** A 32-bit hash of an owner (file object, process, key): the index's owner tag. */
function ownerTag(fileObject: bigint, processId: number, key: number): number {
  // Number(fileObject) | 0 is its low 32 bits while it is exact, a fixed value otherwise.
  return (
    Math.imul(Number(fileObject) | 0, 0x9e3779b1) ^
    Math.imul(processId | 0, 0x85ebca77) ^
    Math.imul(key | 0, 0xc2b2ae3d)
  );
}

/** A waiting (pended) lock request: a node of the FIFO queue, with its parameters captured. */
class Waiter {
  prev: Waiter | null = null;
  next: Waiter | null = null;
  readonly range: SplitRange;
  readonly exclusive: boolean;
  readonly fileObject: bigint;
  readonly processId: number;
  constructor(
    readonly data: LockControlData,
    readonly context: unknown,
    readonly offset: bigint,
    readonly length: bigint,
    readonly key: number,
    range: SplitRange,
  ) {
    this.range = { ...range };
    this.exclusive = data.exclusiveLock;
    this.fileObject = data.fileObject;
    this.processId = data.processId;
  }
}

/** FILE_LOCK.LockInformation: allocated by the first lock request (FsRtlPrivateLock). */
class LockInformation {
  readonly exclusive: RangeIndex<LockEntry>;
  readonly shared: RangeIndex<LockEntry>;
  /** {0, 0} locks: they overlap nothing, so they stay out of the indexes. */
  readonly zeroZero: LockEntry[] = [];
  readonly byFileObject = new Map<bigint, Set<LockEntry>>();
  head: Waiter | null = null;
  tail: Waiter | null = null;
  readonly waiting = new Map<LockControlData, Waiter>();

  constructor(factory: () => RangeIndex<LockEntry>) {
    this.exclusive = factory();
    this.shared = factory();
  }

  get grantedCount(): number {
    return this.exclusive.size + this.shared.size + this.zeroZero.length;
  }
}

/** How a FILE_LOCK builds its two indexes (the naive oracle swaps in here for tests/bench). */
export type IndexFactory = () => RangeIndex<IntervalNode>;

const treeFactory: IndexFactory = () => new IntervalBTree<IntervalNode>();

type LockState = 'initialized' | 'uninitialized' | 'freed';

const brand: unique symbol = Symbol('FILE_LOCK');

/** An opaque FILE_LOCK, as FltAllocateFileLock returns it. */
export interface FileLock {
  readonly [brand]: true;
}

class FileLockImpl implements FileLock {
  readonly [brand] = true as const;
  state: LockState = 'initialized';
  completeRoutine: CompleteLockCallbackDataRoutine | undefined;
  unlockRoutine: UnlockRoutine | undefined;
  info: LockInformation | null = null;
  /** FILE_LOCK.FastIoIsQuestionable: set by the first lock request, cleared by initialize. */
  fastIoIsQuestionable = false;
  seq = 0;
  constructor(
    readonly factory: IndexFactory,
    completeRoutine: CompleteLockCallbackDataRoutine | undefined,
    unlockRoutine: UnlockRoutine | undefined,
  ) {
    this.completeRoutine = completeRoutine;
    this.unlockRoutine = unlockRoutine;
  }
}

/** Lock-control data currently pended in some FILE_LOCK (an IRP cannot be in flight twice). */
const pendedData = new WeakSet<object>();

const scratch = newSplitRange();

// ---------------------------------------------------------------------------------------------
// Argument checks
// ---------------------------------------------------------------------------------------------

function stateOf(lock: unknown, what: string): FileLockImpl {
  if (!(lock instanceof FileLockImpl)) {
    throw new InvalidArgumentError(
      `${what}: ${describe(lock)} is not a FILE_LOCK`,
      'use the object allocate() returned',
    );
  }
  return lock;
}

function initialized(lock: unknown, what: string): FileLockImpl {
  const s = stateOf(lock, what);
  if (s.state !== 'initialized') {
    throw new BugCheckError(
      `${what} on a FILE_LOCK that is ${s.state === 'freed' ? 'freed' : 'uninitialized'}`,
    );
  }
  return s;
}

function checkRoutine(value: unknown, what: string): void {
  if (value !== undefined && typeof value !== 'function') {
    throw new InvalidArgumentError(
      `${what} must be a function or undefined, got ${describe(value)}`,
    );
  }
}

function checkBool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(`${what} must be a boolean, got ${describe(value)}`);
  }
  return value;
}

function checkId(value: unknown, what: string): bigint {
  if (typeof value === 'bigint' && value >= 0n) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new InvalidArgumentError(`${what} must be a non-negative bigint, got ${describe(value)}`);
}

function checkDataCommon(data: unknown, what: string): void {
  if (data === null || typeof data !== 'object') {
    throw new InvalidArgumentError(
      `${what}: callback data must be an object, got ${describe(data)}`,
    );
  }
  const d = data as Partial<LockControlData>;
  const op = d.operationId;
  const pid = d.processId;
  const fo = d.fileObject;
  // Fast path without building any message; the slow path names the bad field.
  if (
    typeof op === 'bigint' &&
    op >= 0n &&
    typeof pid === 'number' &&
    pid >>> 0 === pid &&
    typeof fo === 'bigint' &&
    fo >= 0n &&
    typeof d.fastIo === 'boolean' &&
    d.ioStatus !== null &&
    typeof d.ioStatus === 'object'
  ) {
    return;
  }
  if (typeof op !== 'bigint' || op < 0n) {
    throw new InvalidArgumentError(
      `${what}: operationId must be a non-negative bigint, got ${describe(op)}`,
    );
  }
  checkU32(pid, `${what}: processId`);
  if (typeof fo !== 'bigint' || fo < 0n) {
    throw new InvalidArgumentError(
      `${what}: fileObject must be a non-negative bigint, got ${describe(fo)}`,
    );
  }
  checkBool(d.fastIo, `${what}: fastIo`);
  throw new InvalidArgumentError(`${what}: ioStatus must be an object`);
}

/** Validated unsigned 64-bit field: the common case without a message. */
function u64Field(value: unknown, what: string): bigint {
  if (typeof value === 'bigint' && value >= 0n && value <= U64_MAX) return value;
  return checkU64(value, what);
}

/** Validated ULONG field. */
function u32Field(value: unknown, what: string): number {
  if (typeof value === 'number' && value >>> 0 === value) return value;
  return checkU32(value, what);
}

// ---------------------------------------------------------------------------------------------
// Data factories
// ---------------------------------------------------------------------------------------------

/** What lockControlData() needs; omitted fields take LockFileEx's defaults. */
export interface LockControlInit {
  readonly operationId: bigint | number;
  readonly processId: number;
  readonly fileObject: bigint | number;
  readonly minor: LockMinorName | number;
  readonly fastIo?: boolean;
  readonly byteOffset?: bigint | number;
  readonly length?: bigint | number;
  readonly key?: number;
  /** Default false: wait (LockFileEx without LOCKFILE_FAIL_IMMEDIATELY). */
  readonly failImmediately?: boolean;
  /** Default false: shared (LockFileEx without LOCKFILE_EXCLUSIVE_LOCK). */
  readonly exclusiveLock?: boolean;
  readonly completePended?: (data: LockControlData) => void;
}

/** Build and validate an IRP_MJ_LOCK_CONTROL callback data. */
export function lockControlData(init: LockControlInit): LockControlData {
  if (init === null || typeof init !== 'object') {
    throw new InvalidArgumentError(`lockControlData: expected an object, got ${describe(init)}`);
  }
  let minorFunction: number;
  if (typeof init.minor === 'string') {
    const m = (IrpMnLock as Record<string, number>)[init.minor];
    if (m === undefined) {
      throw new InvalidArgumentError(
        `lockControlData: unknown minor function '${init.minor}'`,
        `use one of ${Object.keys(IrpMnLock).join(', ')}`,
      );
    }
    minorFunction = m;
  } else if (typeof init.minor === 'number' && Number.isInteger(init.minor)) {
    minorFunction = init.minor;
  } else {
    throw new InvalidArgumentError(`lockControlData: minor must be a name or an integer`);
  }
  checkRoutine(init.completePended, 'lockControlData: completePended');
  return {
    operationId: checkId(init.operationId, 'lockControlData: operationId'),
    processId: checkU32(init.processId, 'lockControlData: processId'),
    fileObject: checkId(init.fileObject, 'lockControlData: fileObject'),
    fastIo: init.fastIo === undefined ? false : checkBool(init.fastIo, 'lockControlData: fastIo'),
    majorFunction: IrpMj.LOCK_CONTROL,
    minorFunction,
    byteOffset: checkU64(init.byteOffset ?? 0n, 'lockControlData: byteOffset'),
    length: checkU64(init.length ?? 0n, 'lockControlData: length'),
    key: checkU32(init.key ?? 0, 'lockControlData: key'),
    failImmediately:
      init.failImmediately === undefined
        ? false
        : checkBool(init.failImmediately, 'lockControlData: failImmediately'),
    exclusiveLock:
      init.exclusiveLock === undefined
        ? false
        : checkBool(init.exclusiveLock, 'lockControlData: exclusiveLock'),
    completePended: init.completePended,
    ioStatus: { status: NtStatus.STATUS_SUCCESS, information: 0n },
  };
}

export interface IoInit {
  readonly operationId: bigint | number;
  readonly processId: number;
  readonly fileObject: bigint | number;
  readonly byteOffset: bigint | number;
  /** ULONG byte count. */
  readonly length: number;
  readonly key?: number;
  readonly fastIo?: boolean;
}

function ioData(init: IoInit, major: typeof IrpMj.READ | typeof IrpMj.WRITE, what: string): IoData {
  if (init === null || typeof init !== 'object') {
    throw new InvalidArgumentError(`${what}: expected an object, got ${describe(init)}`);
  }
  return {
    operationId: checkId(init.operationId, `${what}: operationId`),
    processId: checkU32(init.processId, `${what}: processId`),
    fileObject: checkId(init.fileObject, `${what}: fileObject`),
    fastIo: init.fastIo === undefined ? false : checkBool(init.fastIo, `${what}: fastIo`),
    majorFunction: major,
    byteOffset: checkU64(init.byteOffset, `${what}: byteOffset`),
    length: checkU32(init.length, `${what}: length`),
    key: checkU32(init.key ?? 0, `${what}: key`),
    ioStatus: { status: NtStatus.STATUS_SUCCESS, information: 0n },
  };
}

/** Build and validate an IRP_MJ_READ callback data (for checkForRead). */
export function readData(init: IoInit): IoData {
  return ioData(init, IrpMj.READ, 'readData');
}

/** Build and validate an IRP_MJ_WRITE callback data (for checkForWrite). */
export function writeData(init: IoInit): IoData {
  return ioData(init, IrpMj.WRITE, 'writeData');
}

// ---------------------------------------------------------------------------------------------
// Lifecycle: FltAllocateFileLock, FltInitializeFileLock, FltUninitializeFileLock, FltFreeFileLock
// ---------------------------------------------------------------------------------------------

/**
 * FltAllocateFileLock: a new, initialized FILE_LOCK. Both routines are optional; the completion
 * routine is never called for fast I/O (FltAllocateFileLock remarks).
 */
export function allocate(
  completeRoutine?: CompleteLockCallbackDataRoutine,
  unlockRoutine?: UnlockRoutine,
): FileLock {
  checkRoutine(completeRoutine, 'allocate: completeRoutine');
  checkRoutine(unlockRoutine, 'allocate: unlockRoutine');
  return new FileLockImpl(treeFactory, completeRoutine, unlockRoutine);
}

/**
 * allocate() with another index behind the package: the linear oracle (NaiveIndex) for
 * differential tests and the benchmark. Not for production use.
 */
export function allocateWithIndex(
  factory: IndexFactory,
  completeRoutine?: CompleteLockCallbackDataRoutine,
  unlockRoutine?: UnlockRoutine,
): FileLock {
  if (typeof factory !== 'function') {
    throw new InvalidArgumentError('allocateWithIndex: factory must be a function');
  }
  checkRoutine(completeRoutine, 'allocateWithIndex: completeRoutine');
  checkRoutine(unlockRoutine, 'allocateWithIndex: unlockRoutine');
  return new FileLockImpl(factory, completeRoutine, unlockRoutine);
}

/**
 * FltInitializeFileLock: re-initialize a FILE_LOCK that uninitialize() tore down. The DDI takes
 * no routines, so the re-initialized lock has none (FltInitializeFileLock(PFILE_LOCK) only).
 * Initializing an initialized lock is a programming error (DDI remarks): BugCheckError.
 */
export function initialize(lock: FileLock): void {
  const s = stateOf(lock, 'initialize');
  if (s.state !== 'uninitialized') {
    throw new BugCheckError(
      s.state === 'freed'
        ? 'initialize on a freed FILE_LOCK'
        : 'initialize on a FILE_LOCK that is already initialized (FltInitializeFileLock remarks)',
    );
  }
  s.state = 'initialized';
  s.completeRoutine = undefined;
  s.unlockRoutine = undefined;
  s.info = null;
  s.fastIoIsQuestionable = false;
}

/**
 * FltUninitializeFileLock: drop every lock (the unlock routine is not called) and complete every
 * waiting request with STATUS_RANGE_NOT_LOCKED (completion routine called, reason 'teardown'),
 * in queue order, as FsRtlUninitializeFileLock does.
 */
export function uninitialize(lock: FileLock): void {
  const s = initialized(lock, 'uninitialize');
  teardown(s);
  s.state = 'uninitialized';
}

/** FltFreeFileLock: uninitialize and free; any later use is a BugCheckError. */
export function free(lock: FileLock): void {
  const s = initialized(lock, 'free');
  teardown(s);
  s.state = 'freed';
}

function teardown(s: FileLockImpl): void {
  const info = s.info;
  s.info = null;
  // Any call from a completion routine below sees a dead lock.
  s.state = 'uninitialized';
  if (info === null) return;
  for (const index of [info.exclusive, info.shared]) {
    for (const e of index.toArray()) e.removed = true;
    index.clear();
  }
  for (const e of info.zeroZero) e.removed = true;
  info.zeroZero.length = 0;
  info.byFileObject.clear();
  for (let w = info.head; w !== null; w = info.head) {
    unlinkWaiter(info, w);
    completeRequest(s, w.data, w.context, NtStatus.STATUS_RANGE_NOT_LOCKED, {
      reason: 'teardown',
      afterWait: true,
      releasedByOperationId: 0n,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Conflict checks ([MS-FSA] 2.1.4.10)
// ---------------------------------------------------------------------------------------------

/**
 * True when an exclusive lock of another owner overlaps r. This is the whole check for a shared
 * lock request and for a read.
 */
// The owner foreignExclusive() is asking about. Module state instead of a closure: the
// predicate never calls user code, so nothing can re-enter while these are set.
let askFo = 0n;
let askPid = 0;
let askKey = 0;
let askLength = 0n;
const isAskingOwner = (e: LockEntry): boolean =>
  e.fileObject === askFo && e.processId === askPid && e.key === askKey;
/** The lock unlockSingle() asks for: same owner and length (the first byte is the search key). */
const isAskedLock = (e: LockEntry): boolean =>
  e.length === askLength &&
  e.fileObject === askFo &&
  e.processId === askPid &&
  e.key === askKey &&
  !e.removed;

/**
 * True when an exclusive lock of another owner overlaps r. This is the whole check for a shared
 * lock request and for a read.
 */
function foreignExclusive(
  info: LockInformation,
  r: SplitRange,
  fileObject: bigint,
  processId: number,
  key: number,
): boolean {
  if (info.exclusive.size === 0) return false;
  askFo = fileObject;
  askPid = processId;
  askKey = key;
  return (
    info.exclusive.findForeignOverlap(
      r.sHi,
      r.sLo,
      r.eHi,
      r.eLo,
      ownerTag(fileObject, processId, key),
      isAskingOwner,
    ) !== null
  );
}

/** Would a lock request for r be granted now (against granted locks only)? */
function lockFits(
  info: LockInformation,
  r: SplitRange,
  exclusive: boolean,
  fileObject: bigint,
  processId: number,
  key: number,
): boolean {
  if (r.zeroZero) return true;
  if (exclusive) {
    // "Overlapping exclusive byte-range locks are not allowed even by the same owner", and
    // shared locks "block all access with exclusive intent" ([MS-FSA] 2.1.4.10).
    return (
      !info.exclusive.hasOverlap(r.sHi, r.sLo, r.eHi, r.eLo) &&
      !info.shared.hasOverlap(r.sHi, r.sLo, r.eHi, r.eLo)
    );
  }
  return !foreignExclusive(info, r, fileObject, processId, key);
}

// ---------------------------------------------------------------------------------------------
// Granted locks
// ---------------------------------------------------------------------------------------------

function insertLock(
  s: FileLockImpl,
  info: LockInformation,
  r: SplitRange,
  offset: bigint,
  length: bigint,
  exclusive: boolean,
  fileObject: bigint,
  processId: number,
  key: number,
): LockEntry {
  const e = new LockEntry(offset, length, exclusive, fileObject, processId, key, r.zeroZero);
  e.sHi = r.sHi;
  e.sLo = r.sLo;
  e.eHi = r.eHi;
  e.eLo = r.eLo;
  s.seq += 1;
  e.seq = s.seq;
  if (r.zeroZero) info.zeroZero.push(e);
  else if (exclusive) info.exclusive.insert(e);
  else info.shared.insert(e);
  let owned = info.byFileObject.get(fileObject);
  if (owned === undefined) {
    owned = new Set();
    info.byFileObject.set(fileObject, owned);
  }
  owned.add(e);
  return e;
}

function removeEntry(info: LockInformation, e: LockEntry): void {
  if (e.removed) return;
  e.removed = true;
  if (e.zeroZero) {
    const at = info.zeroZero.indexOf(e);
    if (at >= 0) info.zeroZero.splice(at, 1);
  } else if (e.exclusive) {
    info.exclusive.remove(e);
  } else {
    info.shared.remove(e);
  }
  // The file object's set stays, even empty, until its unlock-all / cleanup drops it: a
  // handle that locks and unlocks over and over does not churn the map.
  info.byFileObject.get(e.fileObject)?.delete(e);
}

function lockInfoOf(e: LockEntry): FileLockInfo {
  return {
    startingByte: e.offset,
    length: e.length,
    exclusiveLock: e.exclusive,
    key: e.key,
    fileObject: e.fileObject,
    processId: e.processId,
    endingByte: endingByte(e.offset, e.length),
  };
}

function callUnlockRoutine(
  s: FileLockImpl,
  context: unknown,
  e: LockEntry,
  cause: UnlockCause,
): void {
  const routine = s.unlockRoutine;
  if (routine !== undefined) routine(context, lockInfoOf(e), cause);
}

/** Order of release in unlock-all: shared locks, then exclusive, each by first byte. */
function releaseOrder(a: LockEntry, b: LockEntry): number {
  if (a.exclusive !== b.exclusive) return a.exclusive ? 1 : -1;
  return a.sHi - b.sHi || a.sLo - b.sLo || a.seq - b.seq;
}

// ---------------------------------------------------------------------------------------------
// Waiting requests
// ---------------------------------------------------------------------------------------------

function enqueueWaiter(info: LockInformation, w: Waiter): void {
  w.prev = info.tail;
  w.next = null;
  if (info.tail === null) info.head = w;
  else info.tail.next = w;
  info.tail = w;
  info.waiting.set(w.data, w);
  pendedData.add(w.data);
}

function unlinkWaiter(info: LockInformation, w: Waiter): void {
  if (w.prev === null) info.head = w.next;
  else w.prev.next = w.next;
  if (w.next === null) info.tail = w.prev;
  else w.next.prev = w.prev;
  w.prev = null;
  w.next = null;
  info.waiting.delete(w.data);
  pendedData.delete(w.data);
}

/**
 * Complete an IRP-based lock-control request: set its status, call the completion routine (its
 * return is the final status), and for a pended request call data.completePended.
 */
function completeRequest(
  s: FileLockImpl,
  data: LockControlData,
  context: unknown,
  status: number,
  cause: LockCompletionCause,
): number {
  data.ioStatus.status = status;
  data.ioStatus.information = 0n;
  let final = status;
  const routine = s.completeRoutine;
  if (routine !== undefined) {
    const returned: unknown = routine(context, data, cause);
    if (typeof returned !== 'number' || !Number.isInteger(returned)) {
      throw new InvalidArgumentError(
        `the completion routine returned ${describe(returned)}, not an NTSTATUS`,
        'return the status it was given (data.ioStatus.status) or another NTSTATUS',
      );
    }
    final = returned >>> 0;
    data.ioStatus.status = final;
  }
  if (cause.afterWait) data.completePended?.(data);
  return final;
}

/**
 * FsRtlPrivateCheckWaitingLocks: walk the queue from its head; grant the first request that
 * fits, complete it, and start again from the head (completion routines may change anything).
 */
function checkWaiting(s: FileLockImpl, info: LockInformation, by: ReleaseKind, opId: bigint): void {
  let w = info.head;
  while (w !== null && s.info === info) {
    if (!lockFits(info, w.range, w.exclusive, w.fileObject, w.processId, w.key)) {
      w = w.next;
      continue;
    }
    unlinkWaiter(info, w);
    const e = insertLock(
      s,
      info,
      w.range,
      w.offset,
      w.length,
      w.exclusive,
      w.fileObject,
      w.processId,
      w.key,
    );
    const d = w.data;
    const final = completeRequest(s, d, w.context, NtStatus.STATUS_SUCCESS, {
      reason: 'granted-after-wait',
      afterWait: true,
      releasedByOperationId: opId,
      releasedBy: by,
    });
    // A failure from the completion routine takes the lock back, silently and without a
    // nested rescan (FsRtlPrivateRemoveLock(..., CheckForWaiters = FALSE)); this scan goes on.
    if (!ntSuccess(final) && s.info === info) removeEntry(info, e);
    w = info.head;
  }
}

// ---------------------------------------------------------------------------------------------
// FltProcessFileLock
// ---------------------------------------------------------------------------------------------

/**
 * FltProcessFileLock: process an IRP_MJ_LOCK_CONTROL. Returns 'complete' (the final status is in
 * data.ioStatus), 'pending' (a waiting lock: the package completes it later through the
 * completion routine and data.completePended), or 'disallow-fast-io' (a fast-I/O lock that would
 * have to wait: FsRtlFastLock returns FALSE and the I/O manager reissues it as an IRP).
 * `context` goes to the completion routine for this request and to the unlock routine for the
 * locks it releases.
 */
export function process(
  lock: FileLock,
  data: LockControlData,
  context?: unknown,
): FltPreopCallbackStatus {
  const s = initialized(lock, 'process');
  checkDataCommon(data, 'process');
  if (data.majorFunction !== IrpMj.LOCK_CONTROL) {
    throw new InvalidArgumentError(
      `process: needs IRP_MJ_LOCK_CONTROL data, got major function ${describe(data.majorFunction)}`,
    );
  }
  if (pendedData.has(data)) {
    throw new BugCheckError('process: this callback data is already pended in a FILE_LOCK');
  }
  const minor: unknown = data.minorFunction;
  if (typeof minor !== 'number' || !Number.isInteger(minor)) {
    throw new InvalidArgumentError(`process: minorFunction ${describe(minor)} is not an integer`);
  }
  const fileObject = data.fileObject;
  const processId = data.processId;
  switch (minor) {
    case IrpMnLock.LOCK:
      return processLock(s, data, context);
    case IrpMnLock.UNLOCK_SINGLE: {
      const offset = u64Field(data.byteOffset, 'process: byteOffset');
      const length = u64Field(data.length, 'process: length');
      const key = u32Field(data.key, 'process: key');
      const status = unlockSingle(s, fileObject, processId, offset, length, key, context, {
        releasedBy: 'unlock-single',
        operationId: data.operationId,
      });
      return finishUnlock(s, data, context, status);
    }
    case IrpMnLock.UNLOCK_ALL:
    case IrpMnLock.UNLOCK_ALL_BY_KEY: {
      const byKey = minor === IrpMnLock.UNLOCK_ALL_BY_KEY;
      const key = byKey ? u32Field(data.key, 'process: key') : 0;
      const status = unlockAll(s, fileObject, processId, key, byKey, context, {
        releasedBy: byKey ? 'unlock-all-by-key' : 'unlock-all',
        operationId: data.operationId,
      });
      return finishUnlock(s, data, context, status);
    }
    default:
      // FsRtlProcessFileLock completes any other minor function with
      // STATUS_INVALID_DEVICE_REQUEST through IoCompleteRequest, not the completion routine.
      data.ioStatus.status = NtStatus.STATUS_INVALID_DEVICE_REQUEST;
      data.ioStatus.information = 0n;
      return FltPreop.COMPLETE;
  }
}

function finishUnlock(
  s: FileLockImpl,
  data: LockControlData,
  context: unknown,
  status: number,
): FltPreopCallbackStatus {
  if (data.fastIo) {
    data.ioStatus.status = status;
    data.ioStatus.information = 0n;
  } else if (s.state === 'initialized') {
    completeRequest(s, data, context, status, {
      reason: 'processed',
      afterWait: false,
      releasedByOperationId: data.operationId,
    });
  } else {
    data.ioStatus.status = status;
    data.ioStatus.information = 0n;
  }
  return FltPreop.COMPLETE;
}

/** IRP_MN_LOCK: FsRtlPrivateLock. */
function processLock(
  s: FileLockImpl,
  data: LockControlData,
  context: unknown,
): FltPreopCallbackStatus {
  const offset = u64Field(data.byteOffset, 'process: byteOffset');
  const length = u64Field(data.length, 'process: length');
  const key = u32Field(data.key, 'process: key');
  const exclusive = data.exclusiveLock;
  const failImmediately = data.failImmediately;
  if (typeof exclusive !== 'boolean') checkBool(exclusive, 'process: exclusiveLock');
  if (typeof failImmediately !== 'boolean') checkBool(failImmediately, 'process: failImmediately');
  const fileObject = data.fileObject;
  const processId = data.processId;
  // The first lock request allocates LockInformation, even one that fails validation.
  let info = s.info;
  if (info === null) {
    info = new LockInformation(s.factory as () => RangeIndex<LockEntry>);
    s.info = info;
    s.fastIoIsQuestionable = true;
  }
  const r = splitRange(offset, length, scratch);
  let status: number;
  let granted: LockEntry | null = null;
  if (!r.valid) {
    status = NtStatus.STATUS_INVALID_LOCK_RANGE;
  } else if (lockFits(info, r, exclusive, fileObject, processId, key)) {
    granted = insertLock(s, info, r, offset, length, exclusive, fileObject, processId, key);
    status = NtStatus.STATUS_SUCCESS;
  } else if (failImmediately) {
    status = NtStatus.STATUS_LOCK_NOT_GRANTED;
  } else if (!data.fastIo) {
    enqueueWaiter(info, new Waiter(data, context, offset, length, key, r));
    data.ioStatus.status = NtStatus.STATUS_PENDING;
    data.ioStatus.information = 0n;
    return FltPreop.PENDING;
  } else {
    return FltPreop.DISALLOW_FASTIO;
  }
  if (data.fastIo) {
    data.ioStatus.status = status;
    data.ioStatus.information = 0n;
    return FltPreop.COMPLETE;
  }
  const final = completeRequest(s, data, context, status, {
    reason: 'processed',
    afterWait: false,
    releasedByOperationId: data.operationId,
  });
  if (granted !== null && !ntSuccess(final) && s.info === info && !granted.removed) {
    // The completion routine refused the lock: take it back (no unlock routine) and let any
    // waiter it was blocking through (FsRtlPrivateRemoveLock(..., CheckForWaiters = TRUE)).
    removeEntry(info, granted);
    if (info.head !== null) checkWaiting(s, info, 'completion-failure', data.operationId);
  }
  return FltPreop.COMPLETE;
}

/** IRP_MN_UNLOCK_SINGLE: FsRtlFastUnlockSingle. */
function unlockSingle(
  s: FileLockImpl,
  fileObject: bigint,
  processId: number,
  offset: bigint,
  length: bigint,
  key: number,
  context: unknown,
  cause: UnlockCause,
): number {
  const info = s.info;
  // No lock request ever reached this FILE_LOCK: nothing to match, whatever the range.
  if (info === null) return NtStatus.STATUS_RANGE_NOT_LOCKED;
  const r = splitRange(offset, length, scratch);
  if (!r.valid) return NtStatus.STATUS_INVALID_LOCK_RANGE;
  askFo = fileObject;
  askPid = processId;
  askKey = key;
  askLength = length;
  let e: LockEntry | null = null;
  if (r.zeroZero) {
    // Exclusive first, then shared ([MS-FSA] 2.1.5.9; FsRtlFastUnlockSingle tries the
    // exclusive tree before the shared one).
    for (const x of info.zeroZero) if (x.exclusive && isAskedLock(x)) e ??= x;
    for (const x of info.zeroZero) if (!x.exclusive && isAskedLock(x)) e ??= x;
  } else {
    e = info.exclusive.findAtStart(r.sHi, r.sLo, isAskedLock);
    e ??= info.shared.findAtStart(r.sHi, r.sLo, isAskedLock);
  }
  if (e === null) return NtStatus.STATUS_RANGE_NOT_LOCKED;
  removeEntry(info, e);
  callUnlockRoutine(s, context, e, cause);
  if (s.info === info && info.head !== null) {
    checkWaiting(s, info, cause.releasedBy, cause.operationId);
  }
  return NtStatus.STATUS_SUCCESS;
}

/** IRP_MN_UNLOCK_ALL, IRP_MN_UNLOCK_ALL_BY_KEY, FsRtlFastUnlockAll: FsRtlPrivateFastUnlockAll. */
function unlockAll(
  s: FileLockImpl,
  fileObject: bigint,
  processId: number,
  key: number,
  byKey: boolean,
  context: unknown,
  cause: UnlockCause,
): number {
  const info = s.info;
  if (info === null) return NtStatus.STATUS_RANGE_NOT_LOCKED;
  // With no granted lock at all on the stream, FsRtlPrivateFastUnlockAll returns
  // STATUS_RANGE_NOT_LOCKED before looking at anything else.
  if (info.grantedCount === 0) return NtStatus.STATUS_RANGE_NOT_LOCKED;
  const owned = info.byFileObject.get(fileObject);
  if (owned !== undefined) {
    const victims: LockEntry[] = [];
    for (const e of owned) {
      if (e.processId === processId && (!byKey || e.key === key)) victims.push(e);
    }
    victims.sort(releaseOrder);
    for (const e of victims) {
      if (e.removed || s.info !== info) continue;
      removeEntry(info, e);
      callUnlockRoutine(s, context, e, cause);
    }
    if (owned.size === 0 && info.byFileObject.get(fileObject) === owned) {
      info.byFileObject.delete(fileObject);
    }
  }
  // The owner's own waiting requests end with STATUS_RANGE_NOT_LOCKED, before anyone else's
  // waiting request is granted (FsRtlPrivateFastUnlockAll completes them, then calls
  // FsRtlPrivateCheckWaitingLocks; SMB2-LOCK CANCEL "cancel by close").
  let w = info.head;
  while (w !== null && s.info === info) {
    if (w.fileObject !== fileObject || w.processId !== processId || (byKey && w.key !== key)) {
      w = w.next;
      continue;
    }
    unlinkWaiter(info, w);
    completeRequest(s, w.data, w.context, NtStatus.STATUS_RANGE_NOT_LOCKED, {
      reason: 'owner-unlock-all',
      afterWait: true,
      releasedByOperationId: cause.operationId,
      releasedBy: cause.releasedBy,
    });
    w = info.head;
  }
  if (s.info === info) checkWaiting(s, info, cause.releasedBy, cause.operationId);
  return NtStatus.STATUS_SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// FsRtlFastUnlockAll, cancellation
// ---------------------------------------------------------------------------------------------

/**
 * FsRtlFastUnlockAll (what a file system calls at IRP_MJ_CLEANUP): release every lock that
 * `processId` holds through `fileObject` (any key), calling the unlock routine for each (shared
 * locks first, then exclusive, each by first byte), end that file object's waiting requests with
 * STATUS_RANGE_NOT_LOCKED, then grant whatever waiting requests now fit. Returns STATUS_SUCCESS,
 * or STATUS_RANGE_NOT_LOCKED when the stream holds no lock at all.
 *
 * `cleanupOperationId` (beyond the DDI) is the cleanup's operationId, passed to the callbacks as
 * the releasing operation.
 */
export function fastUnlockAll(
  lock: FileLock,
  fileObject: bigint,
  processId: number,
  context?: unknown,
  cleanupOperationId: bigint = 0n,
): number {
  const s = initialized(lock, 'fastUnlockAll');
  const fo = checkId(fileObject, 'fastUnlockAll: fileObject');
  const pid = checkU32(processId, 'fastUnlockAll: processId');
  const op = checkId(cleanupOperationId, 'fastUnlockAll: cleanupOperationId');
  return unlockAll(s, fo, pid, 0, false, context, { releasedBy: 'cleanup', operationId: op });
}

/**
 * Cancel a waiting lock request (IoCancelIrp, as CancelIoEx issues it):
 * FsRtlPrivateCancelFileLockIrp takes it off the queue and completes it with STATUS_CANCELLED
 * through the completion routine. Returns false when `data` is not waiting in this FILE_LOCK
 * (already completed, never pended): IoCancelIrp finds no cancel routine.
 */
export function cancel(
  lock: FileLock,
  data: LockControlData,
  cancelledByOperationId: bigint = 0n,
): boolean {
  const s = initialized(lock, 'cancel');
  const op = checkId(cancelledByOperationId, 'cancel: cancelledByOperationId');
  const info = s.info;
  if (info === null) return false;
  const w = info.waiting.get(data);
  if (w === undefined) return false;
  unlinkWaiter(info, w);
  completeRequest(s, data, w.context, NtStatus.STATUS_CANCELLED, {
    reason: 'cancelled',
    afterWait: true,
    releasedByOperationId: op,
  });
  return true;
}

// ---------------------------------------------------------------------------------------------
// FltCheckLockForReadAccess / FltCheckLockForWriteAccess
// ---------------------------------------------------------------------------------------------

function ioRange(s: FileLockImpl, data: IoData, major: number, what: string): SplitRange | null {
  checkDataCommon(data, what);
  if (data.majorFunction !== major) {
    throw new InvalidArgumentError(
      `${what}: needs IRP_MJ_${major === IrpMj.READ ? 'READ' : 'WRITE'} data, got major function ${describe(data.majorFunction)}`,
    );
  }
  const offset = u64Field(
    data.byteOffset,
    what === 'checkForRead' ? 'checkForRead: byteOffset' : 'checkForWrite: byteOffset',
  );
  const length = u32Field(
    data.length,
    what === 'checkForRead' ? 'checkForRead: length' : 'checkForWrite: length',
  );
  u32Field(data.key, what === 'checkForRead' ? 'checkForRead: key' : 'checkForWrite: key');
  const info = s.info;
  // No lock, or zero-length I/O: access granted (FsRtlFastCheckLockForRead/Write return TRUE
  // before looking at any range; [MS-FSA] 2.1.5.3 / 2.1.5.4 complete a zero-byte read or write
  // before the lock check).
  if (info === null || info.exclusive.size + info.shared.size === 0 || length === 0) return null;
  const r = splitIoRange(offset, length, scratch);
  if (!r.valid) {
    throw new InvalidArgumentError(
      `${what}: offset ${offset} + length ${length} passes 2^64-1`,
      'the I/O path refuses such a range (STATUS_INVALID_PARAMETER, [MS-FSA] 2.1.5.3) before checking locks',
    );
  }
  return r;
}

/**
 * FltCheckLockForReadAccess: may the requestor read the whole range? A read conflicts with an
 * overlapping exclusive lock held by another (file object, process, key); shared locks never
 * refuse a read ([MS-FSA] 2.1.4.10 with IsExclusive = FALSE, LockIntent = FALSE).
 */
export function checkForRead(lock: FileLock, data: IoData): boolean {
  const s = initialized(lock, 'checkForRead');
  const r = ioRange(s, data, IrpMj.READ, 'checkForRead');
  if (r === null) return true;
  const info = s.info as LockInformation;
  return !foreignExclusive(info, r, data.fileObject, data.processId, data.key);
}

/**
 * FltCheckLockForWriteAccess: may the requestor write the whole range? Any overlapping shared
 * lock refuses it, its own included ("shared byte-range locks will block all access with
 * exclusive intent", [MS-FSA] 2.1.4.10; LockFileEx: a shared lock denies write access to all
 * processes "including the process that first locks the region"), and so does an exclusive lock
 * of another owner.
 */
export function checkForWrite(lock: FileLock, data: IoData): boolean {
  const s = initialized(lock, 'checkForWrite');
  const r = ioRange(s, data, IrpMj.WRITE, 'checkForWrite');
  if (r === null) return true;
  const info = s.info as LockInformation;
  if (info.shared.size !== 0 && info.shared.hasOverlap(r.sHi, r.sLo, r.eHi, r.eLo)) return false;
  return !foreignExclusive(info, r, data.fileObject, data.processId, data.key);
}

// ---------------------------------------------------------------------------------------------
// Queries the filter twin and tests use
// ---------------------------------------------------------------------------------------------

/**
 * FsRtlAreThereCurrentFileLocks: FILE_LOCK.FastIoIsQuestionable, set by the first lock request
 * and sticky until the FILE_LOCK is re-initialized (DDI remarks: it can stay TRUE after every
 * lock was released).
 */
export function areThereCurrentFileLocks(lock: FileLock): boolean {
  return initialized(lock, 'areThereCurrentFileLocks').fastIoIsQuestionable;
}

/**
 * FsRtlCheckLockForOplockRequest: TRUE when byte-range locks do not prevent a shared oplock,
 * i.e. no granted lock starts below `allocationSize` (TRUE when allocationSize is 0 or no lock
 * is held). The FILE_LOCK's LockRequestsInProgress counter, which file systems raise around
 * in-flight lock IRPs, has no twin here: the model never has a lock request in flight between
 * calls.
 */
export function checkLockForOplockRequest(lock: FileLock, allocationSize: bigint): boolean {
  const s = initialized(lock, 'checkLockForOplockRequest');
  const size = checkU64(allocationSize, 'checkLockForOplockRequest: allocationSize');
  const info = s.info;
  if (info === null || info.grantedCount === 0 || size === 0n) return true;
  if (info.zeroZero.length > 0) return false;
  let lowest: bigint | null = null;
  for (const index of [info.exclusive, info.shared]) {
    const m = index.min();
    if (m !== null && (lowest === null || m.offset < lowest)) lowest = m.offset;
  }
  return lowest === null || lowest >= size;
}

/** Every granted lock, in (first byte, grant order) order: FsRtlGetNextFileLock's facts. */
export function enumerateLocks(lock: FileLock): FileLockInfo[] {
  const s = initialized(lock, 'enumerateLocks');
  const info = s.info;
  if (info === null) return [];
  const all = [...info.zeroZero, ...info.exclusive.toArray(), ...info.shared.toArray()];
  all.sort((a, b) => a.sHi - b.sHi || a.sLo - b.sLo || a.seq - b.seq);
  return all.map(lockInfoOf);
}

/** The waiting requests, in queue (FIFO) order. */
export function waitingRequests(lock: FileLock): WaitingLockInfo[] {
  const s = initialized(lock, 'waitingRequests');
  const out: WaitingLockInfo[] = [];
  for (let w = s.info?.head ?? null; w !== null; w = w.next) {
    out.push({ data: w.data, context: w.context });
  }
  return out;
}

/** Whether `data` is waiting in this FILE_LOCK. */
export function isWaiting(lock: FileLock, data: LockControlData): boolean {
  const s = initialized(lock, 'isWaiting');
  return s.info?.waiting.has(data) ?? false;
}
