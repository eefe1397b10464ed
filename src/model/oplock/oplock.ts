/**
 * The oplock object: the twin of the OPLOCK a minifilter initialises with FltInitializeOplock,
 * and the algorithms the Windows oplock package runs on it.
 *
 * Normative reference: [MS-FSA] 2.1.1.10 "Per Oplock" (the state), 2.1.4.12 "Algorithm to Check
 * for an Oplock Break", 2.1.4.12.2 "Algorithm to Compare Oplock Keys", 2.1.4.13 "Algorithm for
 * Recomputing the State of a Shared Oplock", 2.1.5.18 "Server Requests an Oplock" (2.1.5.18.1
 * exclusive, 2.1.5.18.2 shared, 2.1.5.18.3 indicating a break), 2.1.5.19 "Server Acknowledges an
 * Oplock Break", and the DDI pages of FltOplockFsctrlEx, FltCheckOplockEx, FltOplockBreakH,
 * FltOplockIsFastIoPossible, FltCurrentBatchOplock and the legacy FSCTL pages. The full
 * pseudocode of 2.1.4.12, 2.1.4.13, 2.1.5.18 and 2.1.5.19 is quoted, block by block, in illumos
 * usr/src/uts/common/fs/smbsrv/smb_cmn_oplock.c (an earlier revision numbering the request and
 * acknowledgement sections 2.1.5.17 and 2.1.5.18); the comments here quote it from there.
 * The per-operation tables of the IFS docs ("Granting Oplocks", "Breaking Oplocks", "Checking the
 * Oplock State of an IRP_MJ_xxx operation", "Acknowledging Oplock Breaks", MicrosoftDocs
 * windows-driver-docs-pr/ifs/*.md) cover filter oplocks, which [MS-FSA] leaves out.
 *
 * Observed behaviour wins over prose. Where NTFS was observed (maharmstone/btrfs
 * src/tests/oplock.cpp and WinFsp tst/winfsp-tests/oplock-test.c run against NTFS) or Windows was
 * observed through SMB2 (Samba source4/torture/smb2/oplock.c and lease.c, whose expectations
 * are what Windows servers answer; leases are Windows 7 oplocks on the server side), the comment
 * says so and a test cites the case. SMB2-only semantics (lease epochs, break acks refused with
 * STATUS_REQUEST_NOT_ACCEPTED, break timeouts) are not imported.
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
  parentKeysMatch,
  R,
  W,
  win7Level,
} from './levels.js';
import {
  type CreateOperation,
  FSCTL_SET_ZERO_DATA,
  type FsctlOperation,
  type OplockCause,
  OplockCheckFlagEx,
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
  /** OPLOCK_FLAG_IGNORE_OPLOCK_KEYS: the waiter waits for every RH break, whatever its key. */
  readonly ignoreKeys: boolean;
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
  /** Batch oplocks break to none too ([MS-FSA] 2.1.4.12, rename, link and short name). */
  batchToNone: boolean;
  /**
   * Whether a filter oplock (not in [MS-FSA]) is broken, always to none. Per operation from the
   * oplock-state pages of the IFS docs ("Checking the Oplock State of an IRP_MJ_xxx operation",
   * windows-driver-docs-pr/ifs/irp-mj-*2.md): broken by writes, set EOF / allocation / VDL,
   * FSCTL_SET_ZERO_DATA, rename / link / short name, and by a create with "writable" access or
   * without FILE_SHARE_READ; not broken by reads, flushes, byte-range locks or delete dispositions.
   */
  filterBreaks: boolean;
}

const NO_BREAK: BreakRequest = {
  breakToTwo: false,
  breakToNone: false,
  cacheState: 0,
  batchToNone: false,
  filterBreaks: false,
};

/**
 * Flags check() takes: the four of the FltCheckOplockEx page plus OPLOCK_FLAG_PARENT_OBJECT and
 * OPLOCK_FLAG_REMOVING_FILE_OR_LINK (FsRtlCheckOplockEx page, Windows 8+). Unverified: what
 * Windows answers to OPLOCK_FLAG_CLOSING_DELETE_ON_CLOSE ("may result in an oplock break", no
 * public description of which) and to unknown bits; the model refuses both with
 * STATUS_INVALID_PARAMETER.
 */
const LEGAL_CHECK_FLAGS =
  OplockCheckFlag.OPLOCK_FLAG_COMPLETE_IF_OPLOCKED |
  OplockCheckFlag.OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY |
  OplockCheckFlag.OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK |
  OplockCheckFlag.OPLOCK_FLAG_IGNORE_OPLOCK_KEYS |
  OplockCheckFlagEx.OPLOCK_FLAG_PARENT_OBJECT |
  OplockCheckFlagEx.OPLOCK_FLAG_REMOVING_FILE_OR_LINK;

/** FSCTL_SET_ENCRYPTION (winioctl.h): one of the operations that break a parent's oplock. */
const FSCTL_SET_ENCRYPTION = 0x000900d7;

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
const DELETE_ACCESS = 0x00010000;
/** FILE_WRITE_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES. */
const OVERWRITE_ACCESS = 0x0002 | 0x0010 | 0x0100;
const FILE_SUPERSEDE = 0;
const FILE_OVERWRITE = 4;
const FILE_OVERWRITE_IF = 5;

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

  #newHeld(data: FsctlOperation, level: OplockLevel, completed = false): Held {
    this.#atomic.delete(data.fileObject.id);
    return {
      seq: ++this.#seq,
      op: data,
      fo: data.fileObject,
      key: effectiveKey(data.fileObject),
      level,
      completed,
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

  #completeSwitched(held: Held, _data: FsctlOperation, newLevel: OplockLevel, cause: OplockCause) {
    // The old request ends with STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE and the new level, also
    // when the new request comes on the same handle: "If a Read oplock is requested on a handle
    // that already has a Read oplock granted to it, the first Read oplock's IRP is completed
    // with STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE" (IFS "Granting Oplocks", Level 2 / Read rows);
    // [MS-FSA] 2.1.5.18.1 and 2.1.5.18.2 set OplockCompletionStatus to it for every same-key
    // holder. NTFS: btrfs oplock.cpp oplockrw9, oplockrwh9/10, oplockrh8 show the first request
    // completing with the new level (they do not check the status).
    this.#completeHeld(held, {
      status: NtStatus.STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE,
      reason: 'switched',
      toLevel: newLevel,
      ackRequired: false,
      cause,
    });
  }

  /**
   * [MS-FSA] 2.1.4.13: the shared state carries a BREAK_TO_* flag only when no R or RH holder is
   * left and every RHOpContext on the RHBreakQueue breaks the same way (all to R, or all to
   * none). While it does, shared requests are refused ([MS-FSA] 2.1.5.18.2: "If ... State
   * contains one or more of BREAK_TO_* ... the operation MUST be failed with
   * STATUS_OPLOCK_NOT_GRANTED").
   */
  #sharedStateBreaking(): boolean {
    if (this.#read.size > 0 || this.#readHandle.size > 0) return false;
    const entries = [...this.#readHandleBreaking.values()];
    if (entries.length === 0) return false;
    return entries.every((e) => e.toRead) || entries.every((e) => !e.toRead);
  }

  /** [MS-FSA] 2.1.5.18.2 for LEVEL_GRANULAR R and RH. */
  #requestShared(data: FsctlOperation, level: 'R' | 'RH', openCount: number): PreopResult {
    if (openCount !== 0) return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    if (
      this.#exclusive !== undefined ||
      this.#pendingFilter !== undefined ||
      this.#sharedStateBreaking()
    ) {
      return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
    }
    const key = effectiveKey(data.fileObject);
    const sameKeyR = [...(this.#readByKey.get(key) ?? [])];
    const sameKeyRh = [...(this.#readHandleByKey.get(key) ?? [])];
    if (level === 'R') {
      // Asking for R while the same key holds RH, or has an RH still breaking, is refused
      // ([MS-FSA] 2.1.5.18.2 READ_CACHING: "If there is an Open on ...RHOplocks [or]
      // ...RHBreakQueue whose TargetOplockKey is equal to Open.TargetOplockKey, the operation
      // MUST be failed with Status set to STATUS_OPLOCK_NOT_GRANTED"; IFS "Granting Oplocks",
      // Read row: "Else (oplock keys are the same) STATUS_OPLOCK_NOT_GRANTED").
      const breakingSameKey = [...this.#readHandleBreaking.values()].some(
        (e) => e.held.key === key,
      );
      if (sameKeyRh.length > 0 || breakingSameKey) {
        return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
      }
      this.#switchHolders(sameKeyR, data, 'R');
      this.#addShared(this.#read, this.#newHeld(data, 'R'));
      return PENDING();
    }
    // RH cannot coexist with Level 2 ("Granting Oplocks" note; [MS-FSA] 2.1.5.18.2: RH only from
    // NO_OPLOCK, READ_CACHING, (READ_CACHING|HANDLE_CACHING[|MIXED_R_AND_RH])). An RH break in
    // progress does not refuse it by itself: only while the state carries a BREAK_TO_* flag
    // (#sharedStateBreaking).
    if (this.#levelTwo.size > 0) return COMPLETE(NtStatus.STATUS_OPLOCK_NOT_GRANTED);
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

  /**
   * FSCTL_REQUEST_OPLOCK with REQUEST_OPLOCK_INPUT_FLAG_ACK: [MS-FSA] 2.1.5.19 "Server
   * Acknowledges an Oplock Break", LEVEL_GRANULAR branch. The pseudocode is quoted in full in
   * illumos usr/src/uts/common/fs/smbsrv/smb_cmn_oplock.c (smb_oplock_ack_break, written from an
   * earlier revision that numbers the section 2.1.5.18); the two cases marked there "missing
   * from [MS-FSA]" are Windows behaviour that Samba's smb2.lease.breaking3 (run against Windows)
   * shows: an RH ack while the break escalated to none is answered by a further break to R, and
   * an R ack then by a break to none, with the waiting opens held until the last one.
   */
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
      if (onClose) {
        // Unverified (no public test): COMPLETE_ACK_ON_CLOSE is accepted only with level 0 and
        // holds the waiters until the handle closes, like FSCTL_OPBATCH_ACK_CLOSE_PENDING; the
        // alternative is that Windows ignores RequestedOplockLevel with this flag.
        if (bits !== 0) return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
        this.#requireCompletion(data);
        b.ackOnClose = data;
        b.closePending = true;
        return PENDING();
      }
      return this.#ackExclusive(data, ex, bits);
    }
    let entry: RhBreaking | undefined;
    for (const e of this.#readHandleBreaking.values()) {
      if (e.held.fo.id === fo.id && e.ackOnClose === undefined) {
        entry = e;
        break;
      }
    }
    if (entry === undefined) {
      // No break of this handle to acknowledge: "To send an acknowledgment when no
      // acknowledgment is expected is an error and the acknowledgment FSCTL IRP is failed with
      // STATUS_INVALID_OPLOCK_PROTOCOL" (IFS "Acknowledging Oplock Breaks"); [MS-FSA] 2.1.5.19
      // fails every such case (no oplock, no BREAK_TO_* flag, ExclusiveOpen != Open, no
      // matching RHOpContext) with STATUS_INVALID_OPLOCK_PROTOCOL. (STATUS_INVALID_DEVICE_STATE
      // is the SMB2 server's answer, [MS-SMB2] 3.3.5.22, not the object store's.)
      return COMPLETE(NtStatus.STATUS_INVALID_OPLOCK_PROTOCOL);
    }
    if (onClose) {
      if (bits !== 0) return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
      this.#requireCompletion(data);
      entry.ackOnClose = data;
      return PENDING();
    }
    return this.#ackReadHandle(data, entry, bits);
  }

  /** [MS-FSA] 2.1.5.19, states (READ_CACHING|WRITE_CACHING[|HANDLE_CACHING]|EXCLUSIVE|BREAK_TO_*). */
  #ackExclusive(data: FsctlOperation, ex: Exclusive, bits: number): PreopResult {
    const breakTo = cacheBits(ex.breaking?.to ?? 'NONE');
    // "If Open.Stream.Oplock.WaitList is not empty and Open.Stream.Oplock.State does not contain
    // HANDLE_CACHING and RequestedOplockLevel is (READ_CACHING|WRITE_CACHING|HANDLE_CACHING)":
    // the ack is answered with STATUS_CANNOT_GRANT_REQUESTED_OPLOCK and the level the break
    // allows, acknowledgement still required; the break stays in progress.
    if (this.#waiters.size > 0 && (cacheBits(ex.level) & H) === 0 && bits === (R | W | H)) {
      return this.#indicateInAck(
        NtStatus.STATUS_CANNOT_GRANT_REQUESTED_OPLOCK,
        bits,
        breakTo,
        true,
      );
    }
    this.#exclusive = undefined;
    if (bits === (R | H) && (breakTo === R || breakTo === 0)) {
      // Missing from [MS-FSA] (illumos smb_oplock_ack_break: "Windows always does break to
      // CACHE_R here"); Windows: smb2.lease.breaking3, RWH broken to RH, escalated to none by
      // an OVERWRITE open, acked to RH -> a new break RH -> R (ack required) and both opens
      // still pending. The handle now holds a breaking RH on the RHBreakQueue.
      const held = this.#newHeld(data, 'RH', true);
      this.#readHandleBreaking.set(held.seq, { held, toRead: breakTo === R });
      this.#indexFileObject(held);
      return this.#indicateInAck(NtStatus.STATUS_SUCCESS, R | H, R, true);
    }
    this.#releaseWaiters('acknowledged', data);
    if (bits === R && breakTo === 0) {
      // Missing from [MS-FSA] (illumos: "the client Ack reduces to R instead of to none. Need
      // to send another break"): the ack is answered by a break to none, no ack required.
      return this.#indicateInAck(NtStatus.STATUS_SUCCESS, R, 0, false);
    }
    if (bits === 0) return COMPLETE(NtStatus.STATUS_SUCCESS);
    // Otherwise the acknowledged level is granted as requested, even above what the break
    // allowed ([MS-FSA] 2.1.5.19: "If RequestedOplockLevel does not contain WRITE_CACHING ...
    // request a shared oplock ... GrantingInAck = TRUE", else "Set Open.Stream.Oplock.State to
    // (RequestedOplockLevel|EXCLUSIVE)"). Unverified on NTFS: no public test acknowledges a local
    // break above its level (the SMB2 server refuses such acks itself with
    // STATUS_REQUEST_NOT_ACCEPTED, smb2.lease.breaking2); the alternative would be a refusal.
    const pending = this.#grantInAck(data, bits);
    return pending ? PENDING() : COMPLETE(NtStatus.STATUS_SUCCESS);
  }

  /** [MS-FSA] 2.1.5.19, states (READ_CACHING|HANDLE_CACHING[|MIXED_R_AND_RH|BREAK_TO_*]). */
  #ackReadHandle(data: FsctlOperation, entry: RhBreaking, bits: number): PreopResult {
    let level = bits;
    let breakToNoneInAck = false;
    if (bits === R && !entry.toRead) {
      // Missing from [MS-FSA] (illumos: "If we previously sent a break to none and the client
      // Ack level is R instead of none, we need to send another break"); Windows:
      // smb2.lease.breaking3, "We ack the downgrade to R and get an immediate break to none".
      level = 0;
      breakToNoneInAck = true;
    }
    if (!entry.toRead) {
      // "If ThisContext.BreakingToRead is FALSE: If RequestedOplockLevel is not 0 and
      // Open.Stream.Oplock.WaitList is not empty: ... NewOplockLevel = LEVEL_NONE,
      // AcknowledgeRequired = TRUE, OplockCompletionStatus = STATUS_CANNOT_GRANT_REQUESTED_OPLOCK"
      if (level !== 0 && this.#waiters.size > 0) {
        return this.#indicateInAck(NtStatus.STATUS_CANNOT_GRANT_REQUESTED_OPLOCK, bits, 0, true);
      }
    } else if (this.#waiters.size > 0 && bits & W) {
      // "Else // BreakingToRead is TRUE: If ... WaitList is not empty and RequestedOplockLevel is
      // (READ_CACHING|WRITE_CACHING) or (READ_CACHING|WRITE_CACHING|HANDLE_CACHING)": the same
      // answer with NewOplockLevel = READ_CACHING.
      return this.#indicateInAck(NtStatus.STATUS_CANNOT_GRANT_REQUESTED_OPLOCK, bits, R, true);
    }
    if (level & W && this.#otherSharedHolders(entry)) {
      // [MS-FSA] would make this open the exclusive holder next to other shared holders, a
      // state it cannot represent. Unverified choice: answer as when the level cannot be
      // granted, with the level the break allows.
      return this.#indicateInAck(
        NtStatus.STATUS_CANNOT_GRANT_REQUESTED_OPLOCK,
        bits,
        entry.toRead ? R : 0,
        true,
      );
    }
    this.#removeShared(entry.held);
    this.#releaseRhWaiters('acknowledged', data);
    if (breakToNoneInAck) return this.#indicateInAck(NtStatus.STATUS_SUCCESS, R, 0, false);
    if (level === 0) return COMPLETE(NtStatus.STATUS_SUCCESS);
    const pending = this.#grantInAck(data, level);
    return pending ? PENDING() : COMPLETE(NtStatus.STATUS_SUCCESS);
  }

  #otherSharedHolders(entry: RhBreaking): boolean {
    return (
      this.#levelTwo.size + this.#read.size + this.#readHandle.size > 0 ||
      [...this.#readHandleBreaking.values()].some((e) => e !== entry)
    );
  }

  /**
   * [MS-FSA] 2.1.5.18.3 with BreakingOplockOpen equal to the acknowledging Open: the ack FSCTL
   * itself completes at once with the break indication in its REQUEST_OPLOCK_OUTPUT_BUFFER.
   */
  #indicateInAck(status: number, from: number, to: number, ackRequired: boolean): PreopResult {
    return {
      ...COMPLETE(status, REQUEST_OPLOCK_OUTPUT_BUFFER_SIZE),
      output: {
        structureVersion: REQUEST_OPLOCK_CURRENT_VERSION,
        structureLength: REQUEST_OPLOCK_OUTPUT_BUFFER_SIZE,
        originalOplockLevel: from,
        newOplockLevel: to,
        flags: ackRequired ? RequestOplockOutputFlag.ACK_REQUIRED : 0,
        accessMode: 0,
        shareMode: 0,
      },
    };
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
      const parent = (f & OplockCheckFlagEx.OPLOCK_FLAG_PARENT_OBJECT) !== 0;
      // "If specified, this flag must be combined with OPLOCK_FLAG_PARENT_OBJECT"
      // (FsRtlCheckOplockEx page, OPLOCK_FLAG_REMOVING_FILE_OR_LINK).
      if (f & OplockCheckFlagEx.OPLOCK_FLAG_REMOVING_FILE_OR_LINK && !parent) {
        return COMPLETE(NtStatus.STATUS_INVALID_PARAMETER);
      }
      if (f & OplockCheckFlag.OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK) {
        // Undo what an atomic create recorded for this file object (FltCheckOplockEx page).
        this.#atomic.delete(data.fileObject.id);
        if (this.#pendingFilter?.id === data.fileObject.id) this.#pendingFilter = undefined;
        return PROCEED();
      }
      // The key is read from the file object; nothing breaks (FltCheckOplockEx page).
      if (f & OplockCheckFlag.OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY) return PROCEED();
      if (parent) {
        return this.#checkBreak(
          data,
          this.#parentBreakRequestOf(data),
          f,
          context,
          waitComplete,
          prePost,
        );
      }
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
        // FILE_RESERVE_OPFILTER breaks every oplock to none, even from an attribute-only open,
        // and even when the create then fails with STATUS_OPLOCK_NOT_GRANTED (IRP_MJ_CREATE
        // oplock-state page: "Specifying FILE_RESERVE_OPFILTER always results in an oplock
        // break"; NTFS: btrfs oplock.cpp test_oplocks_rw "Try to open second handle with
        // FILE_RESERVE_OPFILTER" then "Check oplock broken", NewOplockLevel 0). RH holders are
        // broken to none without the create waiting (same page, Read-Handle row).
        if (reserve) {
          return { ...NO_BREAK, breakToNone: true, cacheState: R | W, filterBreaks: true };
        }
        const overwrite =
          data.disposition === FILE_SUPERSEDE ||
          data.disposition === FILE_OVERWRITE ||
          data.disposition === FILE_OVERWRITE_IF;
        // The file system adds the access a destructive disposition needs before it checks the
        // oplock (DELETE for FILE_SUPERSEDE; FILE_WRITE_DATA|FILE_WRITE_EA|FILE_WRITE_ATTRIBUTES
        // for FILE_OVERWRITE(_IF): IFS "Checking for Other Special Cases on IRP_MJ_CREATE"), so
        // such an open is never attribute-only. Windows: smb2.oplock.exclusive5, batch13 and
        // batch16 (Samba source4/torture/smb2/oplock.c): an open for FILE_READ_ATTRIBUTES |
        // FILE_WRITE_ATTRIBUTES | SYNCHRONIZE with OVERWRITE / OVERWRITE_IF breaks the oplock.
        let access = data.desiredAccess >>> 0;
        if (data.disposition === FILE_SUPERSEDE) access |= DELETE_ACCESS;
        else if (overwrite) access |= OVERWRITE_ACCESS;
        // An open for attributes (and SYNCHRONIZE) only never breaks ([MS-FSA] 2.1.4.12 OPEN;
        // Windows: smb2.oplock.statopen1: READ_CONTROL, DELETE, WRITE_DAC ... do break).
        if ((access & ~ATTRIBUTE_ONLY_ACCESS) === 0) return NO_BREAK;
        // Filter: broken by a "writable" access (anything outside FILTER_READER_ACCESS) or an
        // open without FILE_SHARE_READ (IRP_MJ_CREATE oplock-state page, Filter row); NTFS also
        // breaks it for FILE_SUPERSEDE / FILE_OVERWRITE(_IF) read opens (btrfs oplock.cpp
        // test_oplocks_filter "Open second handle (FILE_SUPERSEDE)").
        const filterBreaks =
          (access & ~FILTER_READER_ACCESS) !== 0 ||
          (data.shareAccess & FILE_SHARE_READ) === 0 ||
          overwrite;
        // FILE_SUPERSEDE, FILE_OVERWRITE, FILE_OVERWRITE_IF: break to none; else to Level 2.
        if (overwrite) {
          return { ...NO_BREAK, breakToNone: true, cacheState: R | W, filterBreaks };
        }
        return { ...NO_BREAK, breakToTwo: true, cacheState: W, filterBreaks };
      }
      case 'READ':
      case 'FLUSH_BUFFERS':
        // Filter, Level 2, R and RH are not broken by a read (IRP_MJ_READ oplock-state page).
        return { ...NO_BREAK, breakToTwo: true, cacheState: W };
      case 'WRITE':
        return { ...NO_BREAK, breakToNone: true, cacheState: R | W, filterBreaks: true };
      case 'LOCK_CONTROL':
        // "Filter: The oplock is not broken" (IRP_MJ_LOCK_CONTROL oplock-state page); every
        // other level as for a write. NTFS: btrfs oplock.cpp "Lock file" breaks Level 2 and R.
        return { ...NO_BREAK, breakToNone: true, cacheState: R | W };
      case 'SET_INFORMATION':
        switch (data.fileInformationClass) {
          case FileInformationClass.FileEndOfFileInformation:
          case FileInformationClass.FileAllocationInformation:
          case FileInformationClass.FileValidDataLengthInformation:
            // Valid data length as EOF/allocation: IRP_MJ_SET_INFORMATION oplock-state page;
            // NTFS: btrfs oplock.cpp "Set valid data length" breaks Level 2 and R.
            return { ...NO_BREAK, breakToNone: true, cacheState: R | W, filterBreaks: true };
          case FileInformationClass.FileRenameInformation:
          case FileInformationClass.FileRenameInformationEx:
          case FileInformationClass.FileLinkInformation:
          case FileInformationClass.FileLinkInformationEx:
          case FileInformationClass.FileShortNameInformation:
            // Batch and filter break to none, RH to R, RWH to RW; Level 1, Level 2, R, RW
            // stay (IRP_MJ_SET_INFORMATION oplock-state page; [MS-FSA] 2.1.4.12).
            return { ...NO_BREAK, cacheState: H, batchToNone: true, filterBreaks: true };
          case FileInformationClass.FileDispositionInformation:
          case FileInformationClass.FileDispositionInformationEx:
            // Only RH (to R) and RWH (to RW) break; batch does not (IRP_MJ_SET_INFORMATION
            // oplock-state page, FileDispositionInformation rows; [MS-FSA] 2.1.4.12).
            return data.deleteFile === true ? { ...NO_BREAK, cacheState: H } : NO_BREAK;
          default:
            return NO_BREAK;
        }
      case 'FILE_SYSTEM_CONTROL':
        return data.fsControlCode === FSCTL_SET_ZERO_DATA
          ? { ...NO_BREAK, breakToNone: true, cacheState: R | W, filterBreaks: true }
          : NO_BREAK;
      default:
        return NO_BREAK;
    }
  }

  /**
   * [MS-FSA] 2.1.4.12 with Flags PARENT_OBJECT (the oplock is the parent directory's): "If
   * Operation is OPEN, CLOSE, FLUSH_DATA, FS_CONTROL(set_encryption) or SET_INFORMATION(Basic,
   * Allocation, EoF, Rename, Link, Shortname, VDL): Set BreakCacheLevel to
   * (READ_CACHING|WRITE_CACHING)" - no BreakToTwo / BreakToNone. So R and RH on the directory go
   * to none; an RH holder must acknowledge but the operation does not wait ("This oplock break
   * does not require an acknowledgment before the changes in the directory may occur; it is
   * advisory-only", FSCTL_REQUEST_OPLOCK page). NTFS: btrfs oplock.cpp oplockr4 / oplockrh4
   * "Create file in directory" then "Check oplock broken", NewOplockLevel 0.
   * OPLOCK_FLAG_REMOVING_FILE_OR_LINK is taken as the same break (unverified: [MS-FSA] as
   * available does not describe it).
   */
  #parentBreakRequestOf(data: OplockOperation): BreakRequest {
    const parentBreak: BreakRequest = { ...NO_BREAK, cacheState: R | W };
    switch (data.major) {
      case 'CREATE':
      case 'CLEANUP':
      case 'FLUSH_BUFFERS':
        return parentBreak;
      case 'FILE_SYSTEM_CONTROL':
        return data.fsControlCode === FSCTL_SET_ENCRYPTION ? parentBreak : NO_BREAK;
      case 'SET_INFORMATION':
        switch (data.fileInformationClass) {
          case FileInformationClass.FileBasicInformation:
          case FileInformationClass.FileAllocationInformation:
          case FileInformationClass.FileEndOfFileInformation:
          case FileInformationClass.FileRenameInformation:
          case FileInformationClass.FileRenameInformationEx:
          case FileInformationClass.FileLinkInformation:
          case FileInformationClass.FileLinkInformationEx:
          case FileInformationClass.FileShortNameInformation:
          case FileInformationClass.FileValidDataLengthInformation:
            return parentBreak;
          default:
            return NO_BREAK;
        }
      default:
        return NO_BREAK;
    }
  }

  /** Compute what the check would break, without changing anything. */
  #plan(data: OplockOperation, req: BreakRequest, ignoreKeys: boolean, parent: boolean): BreakPlan {
    const plan: BreakPlan = {
      levelTwo: [],
      read: [],
      readHandleStart: [],
      readHandleEscalate: [],
      dropPendingFilter: false,
      needToWait: false,
    };
    const fo = data.fileObject;
    // With PARENT_OBJECT the operation's parent key is compared ([MS-FSA] 2.1.4.12.2).
    const sameKey = (other: OplockFileObject) =>
      !ignoreKeys && (parent ? parentKeysMatch(fo, other) : keysMatch(fo, other));
    const ex = this.#exclusive;
    if (ex !== undefined && !sameKey(ex.held.fo)) {
      if (isLegacy(ex.level)) {
        const filter = ex.level === 'FILTER';
        const toNone = filter
          ? req.filterBreaks
          : req.breakToNone || (req.batchToNone && ex.level === 'BATCH');
        const toTwo = !filter && req.breakToTwo;
        if (toNone || toTwo) {
          const target: OplockLevel = toNone ? 'NONE' : 'LEVEL2';
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
      // only invalidates R does not wait ([MS-FSA] 2.1.4.12: "If BreakCacheLevel contains
      // HANDLE_CACHING: Set NeedToWait to TRUE"; IRP_MJ_CREATE / IRP_MJ_WRITE oplock-state
      // pages, Read-Handle rows: "although acknowledgment of the break is required, the
      // operation continues immediately"; Windows: smb2.lease.breaking4, an OVERWRITE open
      // breaking an RH lease to none is not blocked).
      if (req.cacheState & H && plan.readHandleStart.length > 0) plan.needToWait = true;
    }
    // The FILE_RESERVE_OPFILTER reservation (no oplock yet) goes with whatever would break a
    // filter oplock. Unverified: no public test observes a reservation being dropped; the
    // alternative is that it survives until its own handle requests or closes.
    if (this.#pendingFilter !== undefined && this.#pendingFilter.id !== fo.id && req.filterBreaks) {
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
    const parent = (flags & OplockCheckFlagEx.OPLOCK_FLAG_PARENT_OBJECT) !== 0;
    const plan = this.#plan(data, req, ignoreKeys, parent);
    const isCreate = data.major === 'CREATE';
    // FILE_OPEN_REQUIRING_OPLOCK: never start a break, fail instead (FsRtlCheckOplock page).
    // Not applied to a parent-directory check (unverified: the atomic create is about the
    // oplock of the stream it opens).
    if (
      !parent &&
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
      this.#waiters.set(seq, { seq, op: data, context, routine: waitComplete, ignoreKeys });
      return PENDING();
    }
    if (plan.needToWait) {
      // FILE_COMPLETE_IF_OPLOCKED: proceed with STATUS_OPLOCK_BREAK_IN_PROGRESS (NTFS: btrfs
      // oplock.cpp "Try to open second handle (FILE_OPEN, FILE_COMPLETE_IF_OPLOCKED)" on Level 1,
      // batch, RW, RWH). FILE_OPBATCH_BREAK_UNDERWAY in Information is a convenience for the
      // caller: on Windows the file system, not the oplock package, records it before its
      // FsRtlCheckOplock call so that a create that then fails with STATUS_SHARING_VIOLATION
      // reports it (IFS "Breaking Oplocks"; cdfs create.c "We remember if a batch oplock break is
      // underway for the case where the sharing check fails"). What a successful create reports is
      // the file system's choice: fastfat overwrites it (FILE_OPENED); this project takes NTFS to
      // keep it with STATUS_OPLOCK_BREAK_IN_PROGRESS (src/model/fs/ntfs.ts #completeOpen, and the
      // filter twin / driver create.c, which set it themselves rather than read this hint).
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
    // [MS-FSA] 2.1.4.12 CLOSE: after removing the handle's RHOpContexts, each waiter goes once
    // the RHBreakQueue is empty or holds only its own oplock key.
    if (releaseRh) this.#releaseRhWaiters('handle-closed', data);
    const ex = this.#exclusive;
    if (ex !== undefined && ex.held.fo.id === fo.id) {
      if (ex.breaking === undefined) {
        // [MS-FSA] 2.1.4.12 CLOSE (quoted in illumos smb_oplock_break_CLOSE):
        // OplockCompletionStatus is STATUS_OPLOCK_HANDLE_CLOSED if the state contains
        // READ_CACHING, WRITE_CACHING or HANDLE_CACHING (RW, RWH), STATUS_SUCCESS otherwise
        // (Level 1, batch; filter oplocks, not in [MS-FSA], taken as legacy), broken to none.
        // Unverified on NTFS: btrfs oplock.cpp closes without checking the status.
        this.#completeHeld(ex.held, {
          status: isLegacy(ex.level)
            ? NtStatus.STATUS_SUCCESS
            : NtStatus.STATUS_OPLOCK_HANDLE_CLOSED,
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
      // MODES_PROVIDED: "This information may be provided on breaks where the
      // OPLOCK_LEVEL_CACHE_HANDLE level is being lost ... The primary case where this flag will
      // be set is if the break is a result of a create operation that needs the
      // OPLOCK_LEVEL_CACHE_HANDLE oplock to be broken to avoid failing with
      // ERROR_SHARING_VIOLATION" (REQUEST_OPLOCK_OUTPUT_BUFFER page, Remarks). So only when a
      // create takes H away. Unverified: whether Windows also sets it when an overwrite or
      // FILE_RESERVE_OPFILTER create takes H away ("not all breaks ... will have this flag").
      const losesH = (cacheBits(fromLevel) & H) !== 0 && (cacheBits(how.toLevel) & H) === 0;
      const modes = losesH ? how.modes : undefined;
      if (modes !== undefined) outFlags |= RequestOplockOutputFlag.MODES_PROVIDED;
      completion = {
        ...base,
        information: REQUEST_OPLOCK_OUTPUT_BUFFER_SIZE,
        output: {
          structureVersion: REQUEST_OPLOCK_CURRENT_VERSION,
          structureLength: REQUEST_OPLOCK_OUTPUT_BUFFER_SIZE,
          originalOplockLevel: cacheBits(fromLevel),
          newOplockLevel: cacheBits(how.toLevel),
          flags: outFlags,
          accessMode: modes?.desiredAccess ?? 0,
          shareMode: modes?.shareAccess ?? 0,
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
   * [MS-FSA] 2.1.5.19 and 2.1.4.12 CLOSE, after an RHOpContext left the RHBreakQueue: "For each
   * Open WaitingOpen on Oplock.WaitList: If (Oplock.RHBreakQueue is empty) or (all
   * RHOpContext.Open.TargetOplockKey values on Oplock.RHBreakQueue are equal to
   * WaitingOpen.TargetOplockKey): Indicate that the operation ... can continue". A waiter that
   * checked with OPLOCK_FLAG_IGNORE_OPLOCK_KEYS waits for the queue to empty. Break-notify
   * requests complete when no break at all is left.
   */
  #releaseRhWaiters(reason: ReleaseReason, releasedBy: OplockOperation | undefined): void {
    const queue = [...this.#readHandleBreaking.values()];
    const release: WaitRelease =
      releasedBy === undefined
        ? { status: NtStatus.STATUS_SUCCESS, reason }
        : { status: NtStatus.STATUS_SUCCESS, reason, releasedBy };
    for (const [seq, w] of [...this.#waiters]) {
      const mayGo =
        queue.length === 0 ||
        (!w.ignoreKeys && queue.every((e) => keysMatch(w.op.fileObject, e.held.fo)));
      if (!mayGo) continue;
      this.#waiters.delete(seq);
      this.#effects.push(() => w.routine(w.op, w.context, release));
    }
    if (queue.length === 0 && this.#exclusive?.breaking === undefined) {
      const notifies = [...this.#breakNotify.values()];
      this.#breakNotify.clear();
      for (const op of notifies) this.#completeAck(op);
    }
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
