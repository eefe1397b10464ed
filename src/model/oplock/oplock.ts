/**
 * The oplock object: the twin of the OPLOCK a minifilter initialises with FltInitializeOplock,
 * and the algorithms the Windows oplock package runs on it.
 *
 * Normative reference: [MS-FSA] 2.1.1.10 "Per Oplock" (the state), 2.1.4.12 "Algorithm to Check
 * for an Oplock Break", 2.1.4.12.2 "Algorithm to Compare Oplock Keys", 2.1.4.13 "Algorithm for
 * Recomputing the State of a Shared Oplock", 2.1.5.18 "Server Requests an Oplock" (2.1.5.18.1
 * exclusive, 2.1.5.18.2 shared, 2.1.5.18.3 indicating a break), 2.1.5.19 "Server Acknowledges an
 * Oplock Break", and the DDI pages of FltOplockFsctrlEx, FltCheckOplockEx, FltOplockBreakH,
 * FltOplockIsFastIoPossible, FltCurrentBatchOplock and the legacy FSCTL pages. Where NTFS was
 * observed to differ (maharmstone/btrfs src/tests/oplock.cpp, which runs against NTFS), NTFS
 * wins; every such point is marked "NTFS:" here and pinned by a test citing it.
 *
 * Representation follows [MS-FSA] 2.1.1.10: one exclusive holder (ExclusiveOpen) or the shared
 * lists IIOplocks, ROplocks, RHOplocks, the RHBreakQueue and one WaitList. Filter oplocks and the
 * FILE_RESERVE_OPFILTER reservation are not in [MS-FSA] (SMB never asks for them); they follow
 * the DDI pages and NTFS.
 *
 * Every verb first mutates the state completely and only then runs the callbacks it produced
 * (request completions, wait-complete routines), in the order Windows produces them, so a callback
 * that re-enters the package sees a consistent oplock.
 */

import { BugCheckError, InvalidArgumentError } from '../../bridge/errors.js';
import type { ReleaseReason } from '../../bridge/events.js';
import {
  CreateOption,
  FileInformationClass,
  Fsctl,
  OplockBreakInformation,
  OplockCheckFlag,
  type OplockLevel,
  RequestOplockInputFlag,
  RequestOplockOutputFlag,
} from '../../bridge/flags.js';
import { NtStatus } from '../../bridge/ntstatus.js';
import {
  cacheBits,
  type ExclusiveLevel,
  effectiveKey,
  H,
  isLegacy,
  keysMatch,
  legacyInformation,
  levelOfBits,
  normalizeCacheBits,
  R,
  W,
  win7Level,
} from './levels.js';
import {
  type CreateOperation,
  FSCTL_SET_ZERO_DATA,
  type FsctlOperation,
  type OplockCause,
  type OplockCompletionReason,
  type OplockFileObject,
  type OplockHolderView,
  type OplockOperation,
  type OplockSnapshot,
  type PreopResult,
  type PrePostRoutine,
  REQUEST_OPLOCK_CURRENT_VERSION,
  REQUEST_OPLOCK_INPUT_BUFFER_SIZE,
  REQUEST_OPLOCK_OUTPUT_BUFFER_SIZE,
  type WaitCompleteRoutine,
  type WaitRelease,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// Internal records.
// ---------------------------------------------------------------------------------------------

/** A held oplock request (an FSCTL the package returned FLT_PREOP_PENDING for). */
interface Held {
  readonly seq: number;
  readonly op: FsctlOperation;
  readonly fo: OplockFileObject;
  readonly key: string;
  level: OplockLevel;
  /** The request's completion has been called (the IRP is gone). */
  completed: boolean;
}

interface ExclusiveBreak {
  /** Level the holder is being broken to ('LEVEL2' / 'NONE' legacy; R/RH/RW/NONE Windows 7). */
  to: OplockLevel;
  /** Legacy break to Level 2 that escalated to none: [MS-FSA] BREAK_TO_TWO_TO_NONE. */
  twoToNone: boolean;
  /** FSCTL_OPBATCH_ACK_CLOSE_PENDING was sent: waiters wait for the handle to close. */
  closePending: boolean;
  /** An acknowledgement held until the handle closes (REQUEST_OPLOCK_INPUT_FLAG_COMPLETE_ACK_ON_CLOSE). */
  ackOnClose?: FsctlOperation | undefined;
}

interface Exclusive {
  held: Held;
  level: ExclusiveLevel;
  breaking?: ExclusiveBreak;
}

/** [MS-FSA] RHOpContext in the RHBreakQueue. */
interface RhBreaking {
  readonly held: Held;
  /** BreakingToRead: the holder may keep R (the break removes H only). */
  toRead: boolean;
  ackOnClose?: FsctlOperation | undefined;
}

interface Waiter {
  readonly seq: number;
  readonly op: OplockOperation;
  readonly context: unknown;
  readonly routine: WaitCompleteRoutine<unknown>;
}

/** A callback to run once the verb has finished mutating the state. */
type Effect = () => void;

/** What the check of one operation would do ([MS-FSA] 2.1.4.12), computed before doing it. */
interface BreakPlan {
  exclusive?: { kind: 'start' | 'escalate'; to: OplockLevel; twoToNone: boolean };
  levelTwo: Held[];
  read: Held[];
  readHandleStart: Array<{ held: Held; toRead: boolean }>;
  readHandleEscalate: RhBreaking[];
  dropPendingFilter: boolean;
  needToWait: boolean;
}

/** What an operation asks the break algorithm to break ([MS-FSA] 2.1.4.12 local variables). */
interface BreakRequest {
  breakToTwo: boolean;
  breakToNone: boolean;
  /** BreakCacheState: OPLOCK_LEVEL_CACHE_* bits. */
  cacheState: number;
  /** Batch oplocks break to none too ([MS-FSA] 2.1.4.12, rename and link). */
  batchToNone: boolean;
  /** A create that a filter oplock tolerates (reader sharing read). */
  filterTolerates: boolean;
}

const NO_BREAK: BreakRequest = {
  breakToTwo: false,
  breakToNone: false,
  cacheState: 0,
  batchToNone: false,
  filterTolerates: true,
};

const LEGAL_CHECK_FLAGS =
  OplockCheckFlag.OPLOCK_FLAG_COMPLETE_IF_OPLOCKED |
  OplockCheckFlag.OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY |
  OplockCheckFlag.OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK |
  OplockCheckFlag.OPLOCK_FLAG_IGNORE_OPLOCK_KEYS;

const LEGAL_BREAK_H_FLAGS =
  OplockCheckFlag.OPLOCK_FLAG_COMPLETE_IF_OPLOCKED | OplockCheckFlag.OPLOCK_FLAG_IGNORE_OPLOCK_KEYS;

/** Access rights that never break an oplock ([MS-FSA] 2.1.4.12, OPEN case). */
const ATTRIBUTE_ONLY_ACCESS = 0x0080 | 0x0100 | 0x00100000; // READ_ATTRIBUTES|WRITE_ATTRIBUTES|SYNCHRONIZE

/**
 * Access a filter oplock tolerates from another open (FSCTL_REQUEST_FILTER_OPLOCK / "Types of
 * Opportunistic Locks": a filter oplock lets readers in). NTFS: an open for FILE_READ_DATA does
 * not break it, one for FILE_WRITE_DATA breaks it to none (btrfs src/tests/oplock.cpp,
 * test_oplocks_filter).
 */
const FILTER_READER_ACCESS = ATTRIBUTE_ONLY_ACCESS | 0x0001 | 0x0008 | 0x0020 | 0x00020000; // +READ_DATA|READ_EA|EXECUTE|READ_CONTROL

const FILE_SHARE_READ = 0x1;

function result(preop: PreopResult['preop'], ioStatus: number, information = 0): PreopResult {
  return { preop, ioStatus: ioStatus >>> 0, information };
}

const COMPLETE = (status: number, information = 0) =>
  result('FLT_PREOP_COMPLETE', status, information);
const PENDING = () => result('FLT_PREOP_PENDING', NtStatus.STATUS_PENDING);
const PROCEED = (status: number = NtStatus.STATUS_SUCCESS, information = 0) =>
  result('FLT_PREOP_SUCCESS_WITH_CALLBACK', status, information);

// ---------------------------------------------------------------------------------------------
// The oplock.
// ---------------------------------------------------------------------------------------------

/**
 * The OPLOCK. Create one per stream; pass it to the verbs in ./index.ts (initialize, fsctrl,
 * check, breakH ...). The methods here are the package's internals; the verbs are the DDI.
 */
export class Oplock {
  #initialized = false;
  #everInitialized = false;
  #seq = 0;
  #exclusive: Exclusive | undefined;
  readonly #levelTwo = new Map<number, Held>();
  readonly #read = new Map<number, Held>();
  readonly #readHandle = new Map<number, Held>();
  readonly #readHandleBreaking = new Map<number, RhBreaking>();
  /** Shared holders (II, R, RH, RH breaking) by file object, for cleanup. */
  readonly #byFileObject = new Map<bigint, Set<Held>>();
  /** R and RH holders by effective oplock key, for the same-key switch rules. */
  readonly #readByKey = new Map<string, Set<Held>>();
  readonly #readHandleByKey = new Map<string, Set<Held>>();
  readonly #waiters = new Map<number, Waiter>();
  readonly #breakNotify = new Map<number, FsctlOperation>();
  #pendingFilter: OplockFileObject | undefined;
  readonly #atomic = new Map<bigint, OplockFileObject>();
  #effects: Effect[] = [];
  #depth = 0;

  // -------------------------------------------------------------------------------------------
  // Lifetime.
  // -------------------------------------------------------------------------------------------

  initialize(): void {
    if (this.#initialized) {
      throw new BugCheckError(
        'FltInitializeOplock on an oplock that is already initialized (the OPLOCK must be NULL)',
      );
    }
    this.#initialized = true;
    this.#everInitialized = true;
  }

  get initialized(): boolean {
    return this.#initialized;
  }

  /**
   * FltUninitializeOplock: the oplock goes away. Held requests complete (STATUS_SUCCESS, broken
   * to none) and waiting operations are let go (STATUS_SUCCESS, reason teardown), in grant and
   * wait order.
   */
  uninitialize(releasedBy?: OplockOperation): void {
    this.#requireInitialized('FltUninitializeOplock');
    this.#run(() => {
      const cause: OplockCause | undefined =
        releasedBy === undefined ? undefined : { operation: releasedBy, waits: false };
      const ex = this.#exclusive;
      if (ex !== undefined) {
        if (!ex.held.completed) {
          this.#completeHeld(ex.held, {
            status: NtStatus.STATUS_SUCCESS,
            reason: 'completed',
            toLevel: 'NONE',
            ackRequired: false,
            cause,
          });
        }
        if (ex.breaking?.ackOnClose !== undefined) this.#completeAck(ex.breaking.ackOnClose);
        this.#exclusive = undefined;
      }
      for (const list of [this.#levelTwo, this.#read, this.#readHandle]) {
        for (const held of [...list.values()]) {
          this.#removeShared(held);
          this.#completeHeld(held, {
            status: NtStatus.STATUS_SUCCESS,
            reason: 'completed',
            toLevel: 'NONE',
            ackRequired: false,
            cause,
          });
        }
      }
      for (const entry of [...this.#readHandleBreaking.values()]) {
        this.#removeShared(entry.held);
        if (entry.ackOnClose !== undefined) this.#completeAck(entry.ackOnClose);
      }
      this.#pendingFilter = undefined;
      this.#atomic.clear();
      this.#releaseWaiters('teardown', releasedBy);
      this.#initialized = false;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Queries (FltOplockIsFastIoPossible, FltCurrentBatchOplock, FltCurrentOplock[H]).
  // -------------------------------------------------------------------------------------------

  /**
   * FltOplockIsFastIoPossible: FALSE while shared oplocks exist (a fast write would have to break
   * them) or while any break is in progress; TRUE with no oplock or an exclusive one that is not
   * breaking (DDI page).
   */
  isFastIoPossible(): boolean {
    this.#requireInitialized('FltOplockIsFastIoPossible');
    if (this.#exclusive?.breaking !== undefined) return false;
    return (
      this.#levelTwo.size === 0 &&
      this.#read.size === 0 &&
      this.#readHandle.size === 0 &&
      this.#readHandleBreaking.size === 0
    );
  }

  /** FltCurrentBatchOplock: a batch or filter oplock is held (breaking or not, until acknowledged). */
  currentBatchOplock(): boolean {
    this.#requireInitialized('FltCurrentBatchOplock');
    const level = this.#exclusive?.level;
    return level === 'BATCH' || level === 'FILTER';
  }

  /** FltCurrentOplock: any oplock (granted or still breaking) exists on the stream. */
  currentOplock(): boolean {
    this.#requireInitialized('FltCurrentOplock');
    return (
      this.#exclusive !== undefined ||
      this.#levelTwo.size > 0 ||
      this.#read.size > 0 ||
      this.#readHandle.size > 0 ||
      this.#readHandleBreaking.size > 0 ||
      this.#pendingFilter !== undefined
    );
  }

  /** FltCurrentOplockH: a CACHE_HANDLE (Windows 7 H) oplock is held or still breaking. */
  currentOplockH(): boolean {
    this.#requireInitialized('FltCurrentOplockH');
    return (
      this.#readHandle.size > 0 ||
      this.#readHandleBreaking.size > 0 ||
      this.#exclusive?.level === 'RWH'
    );
  }

  /** True when no oplock state at all remains (no holder, no break, no waiter, no reservation). */
  isEmpty(): boolean {
    return (
      !this.currentOplock() &&
      this.#waiters.size === 0 &&
      this.#breakNotify.size === 0 &&
      this.#atomic.size === 0
    );
  }

  snapshot(): OplockSnapshot {
    const view = (held: Held, breakingTo?: OplockLevel): OplockHolderView =>
      breakingTo === undefined
        ? { fileObjectId: held.fo.id, operationId: held.op.operationId, level: held.level }
        : {
            fileObjectId: held.fo.id,
            operationId: held.op.operationId,
            level: held.level,
            breakingTo,
          };
    const ex = this.#exclusive;
    const base = {
      initialized: this.#initialized,
      state: this.#stateFlags(),
      levelTwo: [...this.#levelTwo.values()].map((h) => view(h)),
      read: [...this.#read.values()].map((h) => view(h)),
      readHandle: [...this.#readHandle.values()].map((h) => view(h)),
      readHandleBreaking: [...this.#readHandleBreaking.values()].map((e) =>
        view(e.held, e.toRead ? 'R' : 'NONE'),
      ),
      waitingOperationIds: [...this.#waiters.values()].map((w) => w.op.operationId),
      atomicFileObjectIds: [...this.#atomic.keys()],
    };
    const withEx = ex === undefined ? base : { ...base, exclusive: view(ex.held, ex.breaking?.to) };
    return this.#pendingFilter === undefined
      ? withEx
      : { ...withEx, pendingFilterFileObjectId: this.#pendingFilter.id };
  }

  /** [MS-FSA] 2.1.1.10 Oplock.State, as flag names (FILTER_OPLOCK / PENDING_FILTER: model names). */
  #stateFlags(): string[] {
    const flags: string[] = [];
    const ex = this.#exclusive;
    if (ex !== undefined) {
      if (ex.level === 'LEVEL1') flags.push('LEVEL_ONE_OPLOCK');
      else if (ex.level === 'BATCH') flags.push('BATCH_OPLOCK');
      else if (ex.level === 'FILTER') flags.push('FILTER_OPLOCK');
      else {
        const bits = cacheBits(ex.level);
        flags.push('READ_CACHING', 'WRITE_CACHING');
        if (bits & H) flags.push('HANDLE_CACHING');
      }
      flags.push('EXCLUSIVE');
      const b = ex.breaking;
      if (b !== undefined) {
        if (isLegacy(ex.level)) {
          flags.push(
            b.twoToNone
              ? 'BREAK_TO_TWO_TO_NONE'
              : b.to === 'LEVEL2'
                ? 'BREAK_TO_TWO'
                : 'BREAK_TO_NONE',
          );
        } else {
          const to = cacheBits(b.to);
          if (to === 0) flags.push('BREAK_TO_NO_CACHING');
          if (to & R) flags.push('BREAK_TO_READ_CACHING');
          if (to & W) flags.push('BREAK_TO_WRITE_CACHING');
          if (to & H) flags.push('BREAK_TO_HANDLE_CACHING');
        }
      }
      return flags;
    }
    if (this.#levelTwo.size > 0) flags.push('LEVEL_TWO_OPLOCK');
    const rh = this.#readHandle.size + this.#readHandleBreaking.size;
    if (this.#read.size > 0 || rh > 0) flags.push('READ_CACHING');
    if (rh > 0) flags.push('HANDLE_CACHING');
    if (this.#read.size > 0 && rh > 0) flags.push('MIXED_R_AND_RH');
    for (const e of this.#readHandleBreaking.values()) {
      const flag = e.toRead ? 'BREAK_TO_READ_CACHING' : 'BREAK_TO_NO_CACHING';
      if (!flags.includes(flag)) flags.push(flag);
    }
    if (this.#pendingFilter !== undefined) flags.push('PENDING_FILTER');
    if (flags.length === 0) flags.push('NO_OPLOCK');
    return flags;
  }

  // -------------------------------------------------------------------------------------------
  // FltOplockFsctrlEx.
  // -------------------------------------------------------------------------------------------

  fsctrl(data: OplockOperation, openCount: number, flags: number): PreopResult {
    this.#requireInitialized('FltOplockFsctrlEx');
    if (!Number.isInteger(openCount) || openCount < 0) {
      throw new InvalidArgumentError(`OpenCount ${openCount} is not a ULONG`);
    }
    return this.#run(() => {
      if ((flags >>> 0) & ~0x1) return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
      const allKeysMatch = (flags & 0x1) !== 0;
      if (data.major === 'CREATE') return this.#fsctrlCreate(data, openCount);
      if (data.major !== 'FILE_SYSTEM_CONTROL') return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
      switch (data.fsControlCode) {
        case Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_1:
          return this.#requestLegacyExclusive(data, 'LEVEL1', openCount);
        case Fsctl.FSCTL_REQUEST_BATCH_OPLOCK:
          return this.#requestLegacyExclusive(data, 'BATCH', openCount);
        case Fsctl.FSCTL_REQUEST_FILTER_OPLOCK:
          return this.#requestLegacyExclusive(data, 'FILTER', openCount);
        case Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_2:
          return this.#requestLevelTwo(data, openCount);
        case Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE:
        case Fsctl.FSCTL_OPLOCK_BREAK_ACK_NO_2:
        case Fsctl.FSCTL_OPBATCH_ACK_CLOSE_PENDING:
          return this.#legacyAck(data);
        case Fsctl.FSCTL_OPLOCK_BREAK_NOTIFY:
          return this.#breakNotifyRequest(data);
        case Fsctl.FSCTL_REQUEST_OPLOCK:
          return this.#requestOplock(data, openCount, allKeysMatch);
        default:
          return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
      }
    });
  }

  /**
   * FltOplockFsctrl(Ex) on an IRP_MJ_CREATE: FILE_RESERVE_OPFILTER reserves a filter oplock
   * (STATUS_SUCCESS = granted, DDI page), FILE_OPEN_REQUIRING_OPLOCK records the atomic request
   * or fails with STATUS_CANNOT_BREAK_OPLOCK.
   */
  #fsctrlCreate(data: CreateOperation, openCount: number): PreopResult {
    const fo = data.fileObject;
    if (data.createOptions & CreateOption.FILE_RESERVE_OPFILTER) {
      // NTFS: refused with STATUS_OPLOCK_NOT_GRANTED whenever another handle is open or any
      // oplock exists (btrfs oplock.cpp, "Try to open second handle with FILE_RESERVE_OPFILTER").
      if (fo.synchronous || fo.isDirectory) return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
      if (openCount > 1 || this.currentOplock()) {
        return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
      }
      this.#pendingFilter = fo;
      return COMPLETE(NtStatus.STATUS_SUCCESS);
    }
    if (data.createOptions & CreateOption.FILE_OPEN_REQUIRING_OPLOCK) {
      // NTFS: refused while any legacy oplock exists, even a Level 2 or filter oplock that a
      // plain open would not break; allowed next to R and RH (btrfs oplock.cpp, "Try to open
      // second handle (FILE_OPEN, FILE_OPEN_REQUIRING_OPLOCK)" in each level's test).
      const ex = this.#exclusive;
      if (
        this.#levelTwo.size > 0 ||
        this.#pendingFilter !== undefined ||
        (ex !== undefined && (isLegacy(ex.level) || !keysMatch(fo, ex.held.fo)))
      ) {
        return COMPLETE(NtStatus.STATUS_CANNOT_BREAK_OPLOCK);
      }
      this.#atomic.set(fo.id, fo);
      return COMPLETE(NtStatus.STATUS_SUCCESS);
    }
    return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
  }

  #requireCompletion(data: FsctlOperation): void {
    if (data.complete === undefined) {
      throw new InvalidArgumentError(
        `oplock FSCTL 0x${data.fsControlCode.toString(16)} has no complete callback`,
        'the package owns a granted request until it completes it: pass FsctlOperation.complete',
      );
    }
  }

  /** Common refusals of every request ([MS-FSA] 2.1.5.18; btrfs oplock.cpp). */
  #refuseRequest(data: FsctlOperation, level: OplockLevel): number | undefined {
    const fo = data.fileObject;
    // NTFS: legacy oplocks and RW/RWH on a directory fail with STATUS_INVALID_PARAMETER; R and RH
    // are granted (btrfs oplock.cpp "Create directory" cases; FSCTL_REQUEST_OPLOCK page).
    if (fo.isDirectory && (isLegacy(level) || cacheBits(level) & W)) {
      return NtStatus.STATUS_INVALID_PARAMETER;
    }
    // NTFS: a handle opened for synchronous I/O never gets an oplock (btrfs oplock.cpp,
    // "Create file with FILE_SYNCHRONOUS_IO_NONALERT" for every level).
    if (fo.synchronous) return NtStatus.STATUS_OPLOCK_NOT_GRANTED;
    return undefined;
  }

  #newHeld(data: FsctlOperation, level: OplockLevel): Held {
    this.#atomic.delete(data.fileObject.id);
    return {
      seq: ++this.#seq,
      op: data,
      fo: data.fileObject,
      key: effectiveKey(data.fileObject),
      level,
      completed: false,
    };
  }

  /** [MS-FSA] 2.1.5.18.1 for LEVEL_ONE and LEVEL_BATCH; filter oplocks per the DDI and NTFS. */
  #requestLegacyExclusive(
    data: FsctlOperation,
    level: 'LEVEL1' | 'BATCH' | 'FILTER',
    openCount: number,
  ): PreopResult {
    const refused = this.#refuseRequest(data, level);
    if (refused !== undefined) return COMPLETE(refused);
    this.#requireCompletion(data);
    const fo = data.fileObject;
    if (this.#pendingFilter !== undefined) {
      // The FILE_RESERVE_OPFILTER reservation turns into the filter oplock on its own handle.
      if (level !== 'FILTER' || this.#pendingFilter.id !== fo.id) {
        return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
      }
      this.#pendingFilter = undefined;
      this.#exclusive = { held: this.#newHeld(data, level), level };
      return PENDING();
    }
    // Exclusive levels need the only open of the stream (OpenCount = handle count, DDI).
    if (openCount > 1) return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    // NTFS: any exclusive oplock (even on the same handle) or a Windows 7 shared oplock refuses
    // it (btrfs oplock.cpp "Try to get level 1/batch/filter oplock" after each level).
    if (
      this.#exclusive !== undefined ||
      this.#read.size > 0 ||
      this.#readHandle.size > 0 ||
      this.#readHandleBreaking.size > 0
    ) {
      return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    }
    // NTFS: Level 2 oplocks on the only handle are broken to none and the exclusive oplock is
    // granted (btrfs oplock.cpp "Get level 2 oplock" then "Get level 1/batch/filter oplock").
    const cause: OplockCause = { operation: data, waits: false };
    for (const held of [...this.#levelTwo.values()]) {
      this.#removeShared(held);
      this.#completeHeld(held, {
        status: NtStatus.STATUS_SUCCESS,
        reason: 'break',
        toLevel: 'NONE',
        ackRequired: false,
        cause,
      });
    }
    this.#exclusive = { held: this.#newHeld(data, level), level };
    return PENDING();
  }

  /** [MS-FSA] 2.1.5.18.2 for LEVEL_TWO. */
  #requestLevelTwo(data: FsctlOperation, openCount: number): PreopResult {
    const refused = this.#refuseRequest(data, 'LEVEL2');
    if (refused !== undefined) return COMPLETE(refused);
    this.#requireCompletion(data);
    // OpenCount != 0 on a shared request means byte-range locks exist (FltOplockFsctrlEx page);
    // NTFS refuses (btrfs oplock.cpp "Lock file" then "Try to get level 2 oplock").
    if (openCount !== 0) return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    // Level 2 coexists with R but not with RH ("Types of Opportunistic Locks"; btrfs oplock.cpp
    // test_oplocks_ii: R + Level 2 granted, RH + Level 2 refused).
    if (
      this.#exclusive !== undefined ||
      this.#pendingFilter !== undefined ||
      this.#readHandle.size > 0 ||
      this.#readHandleBreaking.size > 0
    ) {
      return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    }
    this.#addShared(this.#levelTwo, this.#newHeld(data, 'LEVEL2'));
    return PENDING();
  }

  /** FSCTL_REQUEST_OPLOCK: validation of the input, then a request or an acknowledgement. */
  #requestOplock(data: FsctlOperation, openCount: number, allKeysMatch: boolean): PreopResult {
    const input = data.input;
    const inputLength =
      data.inputBufferLength ?? (input === undefined ? 0 : REQUEST_OPLOCK_INPUT_BUFFER_SIZE);
    const outputLength = data.outputBufferLength ?? REQUEST_OPLOCK_OUTPUT_BUFFER_SIZE;
    if (input === undefined || inputLength < REQUEST_OPLOCK_INPUT_BUFFER_SIZE) {
      return COMPLETE(NtStatus.STATUS_BUFFER_TOO_SMALL);
    }
    if (outputLength < REQUEST_OPLOCK_OUTPUT_BUFFER_SIZE) {
      return COMPLETE(NtStatus.STATUS_BUFFER_TOO_SMALL);
    }
    if (
      input.structureVersion !== REQUEST_OPLOCK_CURRENT_VERSION ||
      input.structureLength < REQUEST_OPLOCK_INPUT_BUFFER_SIZE
    ) {
      return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
    }
    const f = input.flags >>> 0;
    const isRequest = (f & RequestOplockInputFlag.REQUEST) !== 0;
    const isAck = (f & RequestOplockInputFlag.ACK) !== 0;
    const onClose = (f & RequestOplockInputFlag.COMPLETE_ACK_ON_CLOSE) !== 0;
    if (f & ~0x7 || isRequest === isAck || (onClose && !isAck)) {
      return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
    }
    const level = levelOfBits(input.requestedOplockLevel >>> 0);
    if (level === undefined) return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
    if (isAck) return this.#win7Ack(data, cacheBits(level), onClose);
    if (level === 'NONE') return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
    const refused = this.#refuseRequest(data, level);
    if (refused !== undefined) return COMPLETE(refused);
    this.#requireCompletion(data);
    if (level === 'R' || level === 'RH') return this.#requestShared(data, level, openCount);
    return this.#requestExclusiveWin7(data, level as 'RW' | 'RWH', openCount, allKeysMatch);
  }

  /** The same-key holders a new request takes over (upgrade or re-request), completed here. */
  #switchHolders(holders: readonly Held[], data: FsctlOperation, newLevel: OplockLevel): void {
    const cause: OplockCause = { operation: data, waits: false };
    for (const held of holders) {
      this.#removeShared(held);
      this.#completeSwitched(held, data, newLevel, cause);
    }
  }

  #completeSwitched(held: Held, data: FsctlOperation, newLevel: OplockLevel, cause: OplockCause) {
    // [MS-FSA] 2.1.5.18: the old request ends with STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE when the
    // oplock moves to another handle of the same key; on the same handle it simply completes
    // with the new level (NTFS: btrfs oplock.cpp "Check first oplock broken" after a re-request
    // on the same handle reports the new level).
    const sameHandle = held.fo.id === data.fileObject.id;
    this.#completeHeld(held, {
      status: sameHandle ? NtStatus.STATUS_SUCCESS : NtStatus.STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE,
      reason: sameHandle ? 'completed' : 'switched',
      toLevel: newLevel,
      ackRequired: false,
      cause,
    });
  }

  /** [MS-FSA] 2.1.5.18.2 for LEVEL_GRANULAR R and RH. */
  #requestShared(data: FsctlOperation, level: 'R' | 'RH', openCount: number): PreopResult {
    if (openCount !== 0) return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    if (this.#exclusive !== undefined || this.#pendingFilter !== undefined) {
      return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    }
    const key = effectiveKey(data.fileObject);
    const sameKeyR = [...(this.#readByKey.get(key) ?? [])];
    const sameKeyRh = [...(this.#readHandleByKey.get(key) ?? [])];
    if (level === 'R') {
      // Asking for R while the key holds RH would drop H: refused like RW after RWH (NTFS
      // refuses every downgrade it was tested with, btrfs oplock.cpp oplockrw10/oplockrh9).
      if (sameKeyRh.length > 0) return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
      this.#switchHolders(sameKeyR, data, 'R');
      this.#addShared(this.#read, this.#newHeld(data, 'R'));
      return PENDING();
    }
    // RH cannot coexist with Level 2 ("Types of Opportunistic Locks"), and H cannot be granted
    // while H is being broken.
    if (this.#levelTwo.size > 0 || this.#readHandleBreaking.size > 0) {
      return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    }
    // R -> RH upgrade and RH re-request under the same key (btrfs oplock.cpp oplockrh8).
    this.#switchHolders(
      [...sameKeyR, ...sameKeyRh].sort((a, b) => a.seq - b.seq),
      data,
      'RH',
    );
    this.#addShared(this.#readHandle, this.#newHeld(data, 'RH'));
    return PENDING();
  }

  /** [MS-FSA] 2.1.5.18.1 for LEVEL_GRANULAR RW and RWH. */
  #requestExclusiveWin7(
    data: FsctlOperation,
    level: 'RW' | 'RWH',
    openCount: number,
    allKeysMatch: boolean,
  ): PreopResult {
    // OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH lets RW/RWH be granted with several handles open when
    // the caller verified they all share the oplock key (FltOplockFsctrlEx page).
    if (openCount > 1 && !allKeysMatch) return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    if (this.#pendingFilter !== undefined) return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    const fo = data.fileObject;
    const ex = this.#exclusive;
    if (ex !== undefined) {
      // NTFS: RW -> RW, RW -> RWH, RWH -> RWH on the same handle are granted and the first
      // request completes with the new level; RWH -> RW and anything over a legacy oplock are
      // refused (btrfs oplock.cpp oplockrw9, oplockrwh9, oplockrwh10, oplockrw10, oplockrw11-13).
      if (ex.breaking !== undefined || isLegacy(ex.level) || !keysMatch(fo, ex.held.fo)) {
        return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
      }
      if (level === 'RW' && ex.level === 'RWH') return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
      this.#exclusive = undefined;
      this.#completeSwitched(ex.held, data, level, { operation: data, waits: false });
      this.#exclusive = { held: this.#newHeld(data, level), level };
      return PENDING();
    }
    // NTFS: Level 2 refuses RW/RWH even on the same handle (btrfs oplock.cpp oplockrw6, oplockrwh6).
    if (this.#levelTwo.size > 0 || this.#readHandleBreaking.size > 0) {
      return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    }
    const key = effectiveKey(fo);
    const shared = [...this.#read.values(), ...this.#readHandle.values()];
    if (shared.some((h) => h.key !== key)) return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    // NTFS: RH -> RW is refused (H would be lost), R -> RW, R -> RWH, RH -> RWH are upgrades
    // (btrfs oplock.cpp oplockrw7, oplockrw8, oplockrwh7, oplockrwh8).
    if (level === 'RW' && this.#readHandle.size > 0) {
      return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    }
    this.#switchHolders(
      shared.sort((a, b) => a.seq - b.seq),
      data,
      level,
    );
    this.#exclusive = { held: this.#newHeld(data, level), level };
    return PENDING();
  }

  // -------------------------------------------------------------------------------------------
  // Acknowledgements ([MS-FSA] 2.1.5.19; legacy FSCTL pages; "Acknowledging Oplock Breaks").
  // -------------------------------------------------------------------------------------------

  #legacyAck(data: FsctlOperation): PreopResult {
    const ex = this.#exclusive;
    const fo = data.fileObject;
    // An acknowledgement with no legacy break of this handle in progress is a protocol error
    // ([MS-FSA] 2.1.5.19: Open is not Oplock.ExclusiveOpen, or no BREAK_TO_* flag).
    if (
      ex === undefined ||
      !isLegacy(ex.level) ||
      ex.held.fo.id !== fo.id ||
      ex.breaking === undefined ||
      ex.breaking.closePending
    ) {
      return COMPLETE(NtStatus.STATUS_INVALID_OPLOCK_PROTOCOL);
    }
    const b = ex.breaking;
    const code = data.fsControlCode;
    if (code === Fsctl.FSCTL_OPBATCH_ACK_CLOSE_PENDING && ex.level !== 'LEVEL1') {
      // Batch / filter: the holder will close; waiters keep waiting for the handle to close
      // ("Acknowledging Oplock Breaks", FSCTL_OPBATCH_ACK_CLOSE_PENDING).
      b.closePending = true;
      return COMPLETE(NtStatus.STATUS_SUCCESS);
    }
    this.#exclusive = undefined;
    if (
      code === Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE &&
      b.to === 'LEVEL2' &&
      !b.twoToNone &&
      !fo.synchronous &&
      data.complete !== undefined
    ) {
      // The acknowledgement is held as the Level 2 oplock: FLT_PREOP_PENDING
      // (FSCTL_OPLOCK_BREAK_ACKNOWLEDGE page).
      this.#addShared(this.#levelTwo, this.#newHeld(data, 'LEVEL2'));
      this.#releaseWaiters('acknowledged', data);
      return PENDING();
    }
    this.#releaseWaiters('acknowledged', data);
    // A break to Level 2 that escalated to none: the acknowledgement reports that no Level 2
    // oplock resulted ([MS-FSA] 2.1.5.19 BREAK_TO_TWO_TO_NONE).
    return COMPLETE(
      NtStatus.STATUS_SUCCESS,
      b.twoToNone && code === Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE
        ? OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_NONE
        : 0,
    );
  }

  #win7Ack(data: FsctlOperation, bits: number, onClose: boolean): PreopResult {
    const fo = data.fileObject;
    const ex = this.#exclusive;
    if (
      ex !== undefined &&
      ex.breaking !== undefined &&
      ex.held.fo.id === fo.id &&
      !isLegacy(ex.level)
    ) {
      const b = ex.breaking;
      if (b.closePending || b.ackOnClose !== undefined) {
        return COMPLETE(NtStatus.STATUS_INVALID_OPLOCK_PROTOCOL);
      }
      // The acknowledged level cannot exceed the level the break allows.
      if (bits & ~cacheBits(b.to)) return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
      if (onClose) {
        if (bits !== 0) return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
        this.#requireCompletion(data);
        b.ackOnClose = data;
        b.closePending = true;
        return PENDING();
      }
      this.#exclusive = undefined;
      const pending = this.#grantInAck(data, bits);
      this.#releaseWaiters('acknowledged', data);
      return pending ? PENDING() : COMPLETE(NtStatus.STATUS_SUCCESS);
    }
    let entry: RhBreaking | undefined;
    for (const e of this.#readHandleBreaking.values()) {
      if (e.held.fo.id === fo.id && e.ackOnClose === undefined) {
        entry = e;
        break;
      }
    }
    if (entry === undefined) {
      // [MS-FSA] 2.1.5.19: with no break in progress at all the request fails with
      // STATUS_INVALID_DEVICE_STATE; with breaks in progress none of which is this handle's,
      // STATUS_INVALID_OPLOCK_PROTOCOL.
      const anyBreak = this.#exclusive?.breaking !== undefined || this.#readHandleBreaking.size > 0;
      return COMPLETE(
        anyBreak ? NtStatus.STATUS_INVALID_OPLOCK_PROTOCOL : NtStatus.STATUS_INVALID_DEVICE_STATE,
      );
    }
    if (bits & ~(entry.toRead ? R : 0)) return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
    if (onClose) {
      if (bits !== 0) return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
      this.#requireCompletion(data);
      entry.ackOnClose = data;
      return PENDING();
    }
    this.#removeShared(entry.held);
    const pending = this.#grantInAck(data, bits);
    if (this.#readHandleBreaking.size === 0) this.#releaseWaiters('acknowledged', data);
    return pending ? PENDING() : COMPLETE(NtStatus.STATUS_SUCCESS);
  }

  /** An acknowledgement to a non-zero level is itself the new held request ([MS-FSA] 2.1.5.19). */
  #grantInAck(data: FsctlOperation, bits: number): boolean {
    const level = win7Level(bits);
    if (level === 'NONE' || data.fileObject.synchronous || data.complete === undefined)
      return false;
    const held = this.#newHeld(data, level);
    if (level === 'R') this.#addShared(this.#read, held);
    else if (level === 'RH') this.#addShared(this.#readHandle, held);
    else this.#exclusive = { held, level: level as 'RW' | 'RWH' };
    return true;
  }

  /** FSCTL_OPLOCK_BREAK_NOTIFY: pends until the break in progress completes, else succeeds. */
  #breakNotifyRequest(data: FsctlOperation): PreopResult {
    const breaking = this.#exclusive?.breaking !== undefined || this.#readHandleBreaking.size > 0;
    if (!breaking) return COMPLETE(NtStatus.STATUS_SUCCESS);
    this.#requireCompletion(data);
    this.#breakNotify.set(++this.#seq, data);
    return PENDING();
  }

  // -------------------------------------------------------------------------------------------
  // FltCheckOplockEx / FltOplockBreakH ([MS-FSA] 2.1.4.12).
  // -------------------------------------------------------------------------------------------

  check(
    data: OplockOperation,
    flags: number,
    context: unknown,
    waitComplete: WaitCompleteRoutine<unknown> | undefined,
    prePost: PrePostRoutine<unknown> | undefined,
  ): PreopResult {
    this.#requireInitialized('FltCheckOplockEx');
    return this.#run(() => {
      const f = flags >>> 0;
      if (f & ~LEGAL_CHECK_FLAGS) return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
      if (f & OplockCheckFlag.OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK) {
        // Undo what an atomic create recorded for this file object (FltCheckOplockEx page).
        this.#atomic.delete(data.fileObject.id);
        if (this.#pendingFilter?.id === data.fileObject.id) this.#pendingFilter = undefined;
        return PROCEED();
      }
      // The key is read from the file object; nothing breaks (FltCheckOplockEx page).
      if (f & OplockCheckFlag.OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY) return PROCEED();
      if (data.major === 'CLEANUP') return this.#cleanup(data);
      return this.#checkBreak(data, this.#breakRequestOf(data), f, context, waitComplete, prePost);
    });
  }

  breakH(
    data: OplockOperation,
    flags: number,
    context: unknown,
    waitComplete: WaitCompleteRoutine<unknown> | undefined,
    prePost: PrePostRoutine<unknown> | undefined,
  ): PreopResult {
    this.#requireInitialized('FltOplockBreakH');
    return this.#run(() => {
      const f = flags >>> 0;
      if (f & ~LEGAL_BREAK_H_FLAGS || data.major !== 'CREATE') {
        return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
      }
      // [MS-FSA] 2.1.4.12 OPEN_BREAK_H: BreakCacheState = HANDLE_CACHING. FltOplockBreakH breaks
      // CACHE_HANDLE_LEVEL (Windows 7 H) oplocks; batch oplocks are dealt with by the check the
      // file system makes before its share check (fastfat create.c, driver-research §1.2).
      const request: BreakRequest = { ...NO_BREAK, cacheState: H };
      return this.#checkBreak(data, request, f, context, waitComplete, prePost);
    });
  }

  /** [MS-FSA] 2.1.4.12: what each operation breaks. */
  #breakRequestOf(data: OplockOperation): BreakRequest {
    switch (data.major) {
      case 'CREATE': {
        const reserve = (data.createOptions & CreateOption.FILE_RESERVE_OPFILTER) !== 0;
        // NTFS: FILE_RESERVE_OPFILTER breaks every oplock to none, even from an attribute-only
        // open (btrfs oplock.cpp "Try to open second handle with FILE_RESERVE_OPFILTER": R, RW,
        // Level 2 are broken to none).
        if (reserve) {
          return { ...NO_BREAK, breakToNone: true, cacheState: R | W, filterTolerates: false };
        }
        // An open for attributes (and SYNCHRONIZE) only never breaks ([MS-FSA] 2.1.4.12 OPEN).
        if ((data.desiredAccess & ~ATTRIBUTE_ONLY_ACCESS) === 0) return NO_BREAK;
        const filterTolerates =
          (data.desiredAccess & ~FILTER_READER_ACCESS) === 0 &&
          (data.shareAccess & FILE_SHARE_READ) !== 0 &&
          data.disposition !== 0 &&
          data.disposition !== 4 &&
          data.disposition !== 5;
        // FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF: break to none; else to Level 2.
        if (data.disposition === 0 || data.disposition === 4 || data.disposition === 5) {
          return { ...NO_BREAK, breakToNone: true, cacheState: R | W, filterTolerates };
        }
        return { ...NO_BREAK, breakToTwo: true, cacheState: W, filterTolerates };
      }
      case 'READ':
      case 'FLUSH_BUFFERS':
        return { ...NO_BREAK, breakToTwo: true, cacheState: W };
      case 'WRITE':
      case 'LOCK_CONTROL':
        return { ...NO_BREAK, breakToNone: true, cacheState: R | W, filterTolerates: false };
      case 'SET_INFORMATION':
        switch (data.fileInformationClass) {
          case FileInformationClass.FileEndOfFileInformation:
          case FileInformationClass.FileAllocationInformation:
          case FileInformationClass.FileValidDataLengthInformation:
            // NTFS also breaks on valid data length (btrfs oplock.cpp "Set valid data length").
            return { ...NO_BREAK, breakToNone: true, cacheState: R | W, filterTolerates: false };
          case FileInformationClass.FileRenameInformation:
          case FileInformationClass.FileRenameInformationEx:
          case FileInformationClass.FileLinkInformation:
          case FileInformationClass.FileLinkInformationEx:
          case FileInformationClass.FileShortNameInformation:
            return { ...NO_BREAK, cacheState: H, batchToNone: true };
          case FileInformationClass.FileDispositionInformation:
          case FileInformationClass.FileDispositionInformationEx:
            return data.deleteFile === true ? { ...NO_BREAK, cacheState: H } : NO_BREAK;
          default:
            return NO_BREAK;
        }
      case 'FILE_SYSTEM_CONTROL':
        return data.fsControlCode === FSCTL_SET_ZERO_DATA
          ? { ...NO_BREAK, breakToNone: true, cacheState: R | W, filterTolerates: false }
          : NO_BREAK;
      default:
        return NO_BREAK;
    }
  }

  /** Compute what the check would break, without changing anything. */
  #plan(data: OplockOperation, req: BreakRequest, ignoreKeys: boolean): BreakPlan {
    const plan: BreakPlan = {
      levelTwo: [],
      read: [],
      readHandleStart: [],
      readHandleEscalate: [],
      dropPendingFilter: false,
      needToWait: false,
    };
    const fo = data.fileObject;
    const sameKey = (other: OplockFileObject) => !ignoreKeys && keysMatch(fo, other);
    const ex = this.#exclusive;
    if (ex !== undefined && !sameKey(ex.held.fo)) {
      if (isLegacy(ex.level)) {
        const filter = ex.level === 'FILTER';
        const toNone = req.breakToNone || (req.batchToNone && ex.level === 'BATCH');
        const toTwo =
          req.breakToTwo && !(filter && (data.major !== 'CREATE' || req.filterTolerates));
        if (toNone || toTwo) {
          const target: OplockLevel = toNone || filter ? 'NONE' : 'LEVEL2';
          const b = ex.breaking;
          if (b === undefined) {
            plan.exclusive = { kind: 'start', to: target, twoToNone: false };
          } else if (b.to === 'LEVEL2' && target === 'NONE') {
            plan.exclusive = { kind: 'escalate', to: 'NONE', twoToNone: true };
          }
          plan.needToWait = true;
        }
      } else {
        const held = cacheBits(ex.level);
        if (req.cacheState & held) {
          const from = ex.breaking === undefined ? held : cacheBits(ex.breaking.to);
          const to = normalizeCacheBits(from & ~req.cacheState);
          if (ex.breaking === undefined) {
            plan.exclusive = { kind: 'start', to: win7Level(to), twoToNone: false };
          } else if (to !== from) {
            plan.exclusive = { kind: 'escalate', to: win7Level(to), twoToNone: false };
          }
          plan.needToWait = true;
        }
      }
    }
    // Level 2 oplocks break to none on BreakToNone whatever the key: the holder's own writes
    // break it too ([MS-FSA] 2.1.4.12; NTFS: btrfs oplock.cpp "Write to first handle").
    if (req.breakToNone) plan.levelTwo = [...this.#levelTwo.values()];
    if (req.cacheState & R) {
      for (const held of this.#read.values()) if (!sameKey(held.fo)) plan.read.push(held);
    }
    if (req.cacheState & (R | H)) {
      for (const held of this.#readHandle.values()) {
        if (!sameKey(held.fo))
          plan.readHandleStart.push({ held, toRead: (req.cacheState & R) === 0 });
      }
      for (const entry of this.#readHandleBreaking.values()) {
        if (sameKey(entry.held.fo)) continue;
        if (req.cacheState & R && entry.toRead) plan.readHandleEscalate.push(entry);
        if (req.cacheState & H) plan.needToWait = true;
      }
      // RH holders are waited for only when H itself is being broken; a data operation that
      // only invalidates R does not wait ([MS-FSA] 2.1.4.12).
      if (req.cacheState & H && plan.readHandleStart.length > 0) plan.needToWait = true;
    }
    if (
      this.#pendingFilter !== undefined &&
      this.#pendingFilter.id !== fo.id &&
      (req.breakToNone || (req.breakToTwo && !req.filterTolerates))
    ) {
      plan.dropPendingFilter = true;
    }
    return plan;
  }

  #planIsEmpty(plan: BreakPlan): boolean {
    return (
      plan.exclusive === undefined &&
      plan.levelTwo.length === 0 &&
      plan.read.length === 0 &&
      plan.readHandleStart.length === 0 &&
      plan.readHandleEscalate.length === 0 &&
      !plan.dropPendingFilter &&
      !plan.needToWait
    );
  }

  #checkBreak(
    data: OplockOperation,
    req: BreakRequest,
    flags: number,
    context: unknown,
    waitComplete: WaitCompleteRoutine<unknown> | undefined,
    prePost: PrePostRoutine<unknown> | undefined,
  ): PreopResult {
    const ignoreKeys = (flags & OplockCheckFlag.OPLOCK_FLAG_IGNORE_OPLOCK_KEYS) !== 0;
    const plan = this.#plan(data, req, ignoreKeys);
    const isCreate = data.major === 'CREATE';
    // FILE_OPEN_REQUIRING_OPLOCK: never start a break, fail instead (FsRtlCheckOplock page).
    if (
      isCreate &&
      (data as CreateOperation).createOptions & CreateOption.FILE_OPEN_REQUIRING_OPLOCK &&
      !this.#planIsEmpty(plan)
    ) {
      return COMPLETE(NtStatus.STATUS_CANNOT_BREAK_OPLOCK);
    }
    const completeIfOplocked =
      (flags & OplockCheckFlag.OPLOCK_FLAG_COMPLETE_IF_OPLOCKED) !== 0 ||
      (isCreate &&
        ((data as CreateOperation).createOptions & CreateOption.FILE_COMPLETE_IF_OPLOCKED) !== 0);
    const waits = plan.needToWait && !completeIfOplocked;
    if (waits && waitComplete === undefined) {
      throw new InvalidArgumentError(
        'this check has to wait for an oplock break, and the model cannot block a thread',
        'pass a waitComplete routine (FltCheckOplockEx with a NULL routine blocks the caller)',
      );
    }
    this.#applyPlan(plan, { operation: data, waits });
    if (waits && waitComplete !== undefined) {
      // The pre-post routine runs before the operation is queued (FltCheckOplockEx page).
      if (prePost !== undefined) this.#effects.push(() => prePost(data, context));
      const seq = ++this.#seq;
      this.#waiters.set(seq, { seq, op: data, context, routine: waitComplete });
      return PENDING();
    }
    if (plan.needToWait) {
      // FILE_COMPLETE_IF_OPLOCKED: proceed with STATUS_OPLOCK_BREAK_IN_PROGRESS; a batch or
      // filter break underway is reported as FILE_OPBATCH_BREAK_UNDERWAY (NtCreateFile page).
      const level = this.#exclusive?.level;
      const info =
        isCreate && (level === 'BATCH' || level === 'FILTER')
          ? OplockBreakInformation.FILE_OPBATCH_BREAK_UNDERWAY
          : 0;
      return PROCEED(NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS, info);
    }
    return PROCEED();
  }

  #applyPlan(plan: BreakPlan, cause: OplockCause): void {
    const modes = cause.operation.major === 'CREATE' ? cause.operation : undefined;
    const ex = this.#exclusive;
    if (plan.exclusive !== undefined && ex !== undefined) {
      if (plan.exclusive.kind === 'start') {
        ex.breaking = { to: plan.exclusive.to, twoToNone: false, closePending: false };
        this.#completeHeld(ex.held, {
          status: NtStatus.STATUS_SUCCESS,
          reason: 'break',
          toLevel: plan.exclusive.to,
          ackRequired: true,
          cause,
          modes,
        });
      } else if (ex.breaking !== undefined) {
        // A break in progress escalates: the holder, already told, must now end lower
        // ([MS-FSA] 2.1.4.12 BREAK_TO_TWO -> BREAK_TO_TWO_TO_NONE).
        ex.breaking.to = plan.exclusive.to;
        ex.breaking.twoToNone = ex.breaking.twoToNone || plan.exclusive.twoToNone;
      }
    }
    for (const held of plan.levelTwo) {
      this.#removeShared(held);
      this.#completeHeld(held, {
        status: NtStatus.STATUS_SUCCESS,
        reason: 'break',
        toLevel: 'NONE',
        ackRequired: false,
        cause,
      });
    }
    for (const held of plan.read) {
      this.#removeShared(held);
      this.#completeHeld(held, {
        status: NtStatus.STATUS_SUCCESS,
        reason: 'break',
        toLevel: 'NONE',
        ackRequired: false,
        cause,
        modes,
      });
    }
    for (const { held, toRead } of plan.readHandleStart) {
      this.#removeShared(held);
      const entry: RhBreaking = { held, toRead };
      this.#readHandleBreaking.set(held.seq, entry);
      this.#indexFileObject(held);
      this.#completeHeld(held, {
        status: NtStatus.STATUS_SUCCESS,
        reason: 'break',
        toLevel: toRead ? 'R' : 'NONE',
        ackRequired: true,
        cause,
        modes,
      });
    }
    for (const entry of plan.readHandleEscalate) entry.toRead = false;
    if (plan.dropPendingFilter) this.#pendingFilter = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Cleanup ([MS-FSA] 2.1.4.12 CLOSE case, 2.1.5.4).
  // -------------------------------------------------------------------------------------------

  #cleanup(data: OplockOperation): PreopResult {
    const fo = data.fileObject;
    const cause: OplockCause = { operation: data, waits: false };
    const mine = [...(this.#byFileObject.get(fo.id) ?? [])].sort((a, b) => a.seq - b.seq);
    // Level 2: STATUS_SUCCESS, broken to none; R and RH: STATUS_OPLOCK_HANDLE_CLOSED
    // ([MS-FSA] 2.1.4.12, CLOSE).
    for (const list of [this.#levelTwo, this.#read, this.#readHandle]) {
      for (const held of mine) {
        if (!list.has(held.seq)) continue;
        this.#removeShared(held);
        this.#completeHeld(held, {
          status:
            list === this.#levelTwo
              ? NtStatus.STATUS_SUCCESS
              : NtStatus.STATUS_OPLOCK_HANDLE_CLOSED,
          reason: 'handle-closed',
          toLevel: 'NONE',
          ackRequired: false,
          cause,
        });
      }
    }
    let releaseRh = false;
    for (const held of mine) {
      const entry = this.#readHandleBreaking.get(held.seq);
      if (entry === undefined) continue;
      this.#removeShared(held);
      if (entry.ackOnClose !== undefined) this.#completeAck(entry.ackOnClose);
      releaseRh = true;
    }
    if (releaseRh && this.#readHandleBreaking.size === 0)
      this.#releaseWaiters('handle-closed', data);
    const ex = this.#exclusive;
    if (ex !== undefined && ex.held.fo.id === fo.id) {
      if (ex.breaking === undefined) {
        this.#completeHeld(ex.held, {
          status: NtStatus.STATUS_OPLOCK_HANDLE_CLOSED,
          reason: 'handle-closed',
          toLevel: 'NONE',
          ackRequired: false,
          cause,
        });
      } else if (ex.breaking.ackOnClose !== undefined) {
        this.#completeAck(ex.breaking.ackOnClose);
      }
      this.#exclusive = undefined;
      this.#releaseWaiters('handle-closed', data);
    }
    if (this.#pendingFilter?.id === fo.id) this.#pendingFilter = undefined;
    this.#atomic.delete(fo.id);
    // Cleanup always proceeds (fastfat cleanup.c: "cleanup can always proceed").
    return PROCEED();
  }

  // -------------------------------------------------------------------------------------------
  // Cancellation (CancelIoEx on a held request or a waiting operation).
  // -------------------------------------------------------------------------------------------

  cancel(operationId: bigint): boolean {
    this.#requireInitialized('cancel');
    return this.#run(() => {
      const cancelled = { status: NtStatus.STATUS_CANCELLED, reason: 'cancelled' as const };
      const ex = this.#exclusive;
      if (ex !== undefined) {
        if (ex.breaking === undefined && ex.held.op.operationId === operationId) {
          this.#exclusive = undefined;
          this.#completeHeld(ex.held, { ...cancelled, toLevel: 'NONE', ackRequired: false });
          this.#releaseWaiters('cancelled', undefined);
          return true;
        }
        const onClose = ex.breaking?.ackOnClose;
        if (ex.breaking !== undefined && onClose?.operationId === operationId) {
          ex.breaking.ackOnClose = undefined;
          ex.breaking.closePending = false;
          this.#completeAckCancelled(onClose);
          return true;
        }
      }
      for (const list of [this.#levelTwo, this.#read, this.#readHandle]) {
        for (const held of list.values()) {
          if (held.op.operationId !== operationId) continue;
          this.#removeShared(held);
          this.#completeHeld(held, { ...cancelled, toLevel: 'NONE', ackRequired: false });
          return true;
        }
      }
      for (const entry of this.#readHandleBreaking.values()) {
        if (entry.ackOnClose?.operationId === operationId) {
          const op = entry.ackOnClose;
          entry.ackOnClose = undefined;
          this.#completeAckCancelled(op);
          return true;
        }
      }
      for (const [seq, op] of this.#breakNotify) {
        if (op.operationId !== operationId) continue;
        this.#breakNotify.delete(seq);
        this.#completeAckCancelled(op);
        return true;
      }
      for (const [seq, waiter] of this.#waiters) {
        if (waiter.op.operationId !== operationId) continue;
        this.#waiters.delete(seq);
        const release: WaitRelease = { status: NtStatus.STATUS_CANCELLED, reason: 'cancelled' };
        this.#effects.push(() => waiter.routine(waiter.op, waiter.context, release));
        return true;
      }
      return false;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Helpers.
  // -------------------------------------------------------------------------------------------

  #requireInitialized(verb: string): void {
    if (!this.#initialized) {
      throw new BugCheckError(
        this.#everInitialized
          ? `${verb} on an oplock after FltUninitializeOplock`
          : `${verb} on an oplock that FltInitializeOplock never initialized`,
      );
    }
  }

  /** Run a verb: mutate, then run the callbacks it produced, in order. */
  #run<T>(body: () => T): T {
    this.#depth += 1;
    let value: T;
    try {
      value = body();
    } finally {
      this.#depth -= 1;
    }
    if (this.#depth === 0) {
      while (this.#effects.length > 0) {
        const effects = this.#effects;
        this.#effects = [];
        for (const effect of effects) effect();
      }
    }
    return value;
  }

  #addShared(list: Map<number, Held>, held: Held): void {
    list.set(held.seq, held);
    this.#indexFileObject(held);
    if (list === this.#read) this.#indexKey(this.#readByKey, held);
    if (list === this.#readHandle) this.#indexKey(this.#readHandleByKey, held);
  }

  #indexFileObject(held: Held): void {
    let set = this.#byFileObject.get(held.fo.id);
    if (set === undefined) {
      set = new Set();
      this.#byFileObject.set(held.fo.id, set);
    }
    set.add(held);
  }

  #indexKey(index: Map<string, Set<Held>>, held: Held): void {
    let set = index.get(held.key);
    if (set === undefined) {
      set = new Set();
      index.set(held.key, set);
    }
    set.add(held);
  }

  #unindexKey(index: Map<string, Set<Held>>, held: Held): void {
    const set = index.get(held.key);
    if (set === undefined) return;
    set.delete(held);
    if (set.size === 0) index.delete(held.key);
  }

  /** Remove a holder from whichever shared list holds it. */
  #removeShared(held: Held): void {
    if (this.#levelTwo.delete(held.seq)) {
      // removed
    } else if (this.#read.delete(held.seq)) {
      this.#unindexKey(this.#readByKey, held);
    } else if (this.#readHandle.delete(held.seq)) {
      this.#unindexKey(this.#readHandleByKey, held);
    } else {
      this.#readHandleBreaking.delete(held.seq);
    }
    const set = this.#byFileObject.get(held.fo.id);
    if (set !== undefined) {
      set.delete(held);
      if (set.size === 0) this.#byFileObject.delete(held.fo.id);
    }
  }

  /** [MS-FSA] 2.1.5.18.3 "Indicating an Oplock Break to the Server": complete a held request. */
  #completeHeld(
    held: Held,
    how: {
      status: number;
      reason: OplockCompletionReason;
      toLevel: OplockLevel;
      ackRequired: boolean;
      cause?: OplockCause | undefined;
      modes?: CreateOperation | undefined;
    },
  ): void {
    if (held.completed) {
      throw new BugCheckError(
        `oplock request ${held.op.operationId} completed twice (MULTIPLE_IRP_COMPLETE_REQUESTS)`,
      );
    }
    held.completed = true;
    const fromLevel = held.level;
    const op = held.op;
    const win7 = op.fsControlCode === Fsctl.FSCTL_REQUEST_OPLOCK;
    const cancelled = how.status === NtStatus.STATUS_CANCELLED;
    let completion: Parameters<NonNullable<FsctlOperation['complete']>>[0];
    const base = {
      status: how.status >>> 0,
      reason: how.reason,
      fromLevel,
      toLevel: how.toLevel,
      ackRequired: how.ackRequired,
      ...(how.cause === undefined ? {} : { cause: how.cause }),
    };
    if (cancelled) {
      completion = { ...base, information: 0 };
    } else if (win7) {
      let outFlags = how.ackRequired ? RequestOplockOutputFlag.ACK_REQUIRED : 0;
      if (how.modes !== undefined) outFlags |= RequestOplockOutputFlag.MODES_PROVIDED;
      completion = {
        ...base,
        information: REQUEST_OPLOCK_OUTPUT_BUFFER_SIZE,
        output: {
          structureVersion: REQUEST_OPLOCK_CURRENT_VERSION,
          structureLength: REQUEST_OPLOCK_OUTPUT_BUFFER_SIZE,
          originalOplockLevel: cacheBits(fromLevel),
          newOplockLevel: cacheBits(how.toLevel),
          flags: outFlags,
          accessMode: how.modes?.desiredAccess ?? 0,
          shareMode: how.modes?.shareAccess ?? 0,
        },
      };
    } else {
      completion = { ...base, information: legacyInformation(how.toLevel) };
    }
    const complete = op.complete;
    if (complete !== undefined) this.#effects.push(() => complete(completion));
  }

  /** Complete an acknowledgement that was held until close, or a break-notify, with success. */
  #completeAck(op: FsctlOperation): void {
    const complete = op.complete;
    if (complete === undefined) return;
    this.#effects.push(() =>
      complete({
        status: NtStatus.STATUS_SUCCESS,
        information: 0,
        reason: 'completed',
        fromLevel: 'NONE',
        toLevel: 'NONE',
        ackRequired: false,
      }),
    );
  }

  #completeAckCancelled(op: FsctlOperation): void {
    const complete = op.complete;
    if (complete === undefined) return;
    this.#effects.push(() =>
      complete({
        status: NtStatus.STATUS_CANCELLED,
        information: 0,
        reason: 'cancelled',
        fromLevel: 'NONE',
        toLevel: 'NONE',
        ackRequired: false,
      }),
    );
  }

  /**
   * Let every waiting operation go, in the order they started waiting ([MS-FSA] 2.1.4.12: "for
   * each Open WaitingOpen on Oplock.WaitList"), then the break-notify requests.
   */
  #releaseWaiters(reason: ReleaseReason, releasedBy: OplockOperation | undefined): void {
    const release: WaitRelease =
      releasedBy === undefined
        ? { status: NtStatus.STATUS_SUCCESS, reason }
        : { status: NtStatus.STATUS_SUCCESS, reason, releasedBy };
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const w of waiters) this.#effects.push(() => w.routine(w.op, w.context, release));
    const notifies = [...this.#breakNotify.values()];
    this.#breakNotify.clear();
    for (const op of notifies) this.#completeAck(op);
  }
}
