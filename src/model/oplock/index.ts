/**
 * The oplock package twin: the verbs a minifilter calls, named after the DDI so the driver's calls
 * (driver/src/oplock.c) and the filter twin's (src/model/filter) read the same.
 *
 * | DDI                          | here                                                        |
 * |------------------------------|-------------------------------------------------------------|
 * | FltInitializeOplock          | initialize(oplock)                                          |
 * | FltUninitializeOplock        | uninitialize(oplock, releasedBy?)                           |
 * | FltOplockFsctrlEx            | fsctrl(oplock, data, openCount, flags)                      |
 * | FltCheckOplockEx             | check(oplock, data, flags, context, waitComplete, prePost)  |
 * | FltOplockBreakH              | breakH(oplock, data, flags, context, waitComplete, prePost) |
 * | FltOplockIsFastIoPossible    | isFastIoPossible(oplock)                                    |
 * | FltCurrentBatchOplock        | currentBatchOplock(oplock)                                  |
 * | FltCurrentOplock / ...OplockH| currentOplock(oplock) / currentOplockH(oplock)              |
 * | FltCheckOplock(IRP_MJ_CLEANUP)| cleanup(oplock, data) (same as check with a CLEANUP data)  |
 * | CancelIoEx                   | cancel(oplock, operationId)                                 |
 *
 * Differences from the DDI, all deliberate:
 * - check/breakH with no waitComplete routine would block the calling thread on Windows; the model
 *   cannot block, so it refuses with InvalidArgumentError when the operation would have to wait.
 * - The wait-complete routine receives a third argument (WaitRelease: status, reason, releasedBy)
 *   and a completed oplock request carries `cause`; the driver recovers both from its calling
 *   context (see types.ts).
 * - Misuse Windows answers with a bug check (a verb on an oplock that was never initialized or
 *   was uninitialized, initializing twice, completing a request twice) throws BugCheckError.
 */

import { Oplock } from './oplock.js';
import type {
  OplockOperation,
  OplockSnapshot,
  PreopResult,
  PrePostRoutine,
  WaitCompleteRoutine,
} from './types.js';

export * from './levels.js';
export { Oplock } from './oplock.js';
export * from './types.js';

/** Storage for an OPLOCK (the variable a filter declares); initialize it before use. */
export function createOplock(): Oplock {
  return new Oplock();
}

/** FltInitializeOplock. */
export function initialize(oplock: Oplock): void {
  oplock.initialize();
}

/**
 * FltUninitializeOplock: held requests complete, waiting operations are released (reason
 * teardown). `releasedBy`, when given, is named as the releasing operation.
 */
export function uninitialize(oplock: Oplock, releasedBy?: OplockOperation): void {
  oplock.uninitialize(releasedBy);
}

/**
 * FltOplockFsctrlEx(Oplock, CallbackData, OpenCount, Flags).
 *
 * `data` is an IRP_MJ_FILE_SYSTEM_CONTROL oplock FSCTL (requests, acknowledgements,
 * break-notify) or an IRP_MJ_CREATE with FILE_RESERVE_OPFILTER / FILE_OPEN_REQUIRING_OPLOCK.
 * OpenCount: for exclusive requests the number of user handles on the stream; for Level 2, R and
 * RH a non-zero value means byte-range locks exist. Flags: OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH.
 *
 * FLT_PREOP_PENDING: the package holds the request (a granted oplock, an acknowledgement that is
 * the new oplock, a break-notify) and will call `data.complete` exactly once.
 * FLT_PREOP_COMPLETE: done; `ioStatus` says how (refused, acknowledged, invalid). A Windows 7
 * acknowledgement answered at once with a break indication ([MS-FSA] 2.1.5.19:
 * STATUS_CANNOT_GRANT_REQUESTED_OPLOCK, or STATUS_SUCCESS with a further break) also carries
 * `output`, the REQUEST_OPLOCK_OUTPUT_BUFFER to copy to the caller (`information` = its size).
 */
export function fsctrl(
  oplock: Oplock,
  data: OplockOperation,
  openCount: number,
  flags = 0,
): PreopResult {
  return oplock.fsctrl(data, openCount, flags);
}

/**
 * FltCheckOplockEx(Oplock, CallbackData, Flags, Context, WaitCompletionRoutine,
 * PrePostCallbackDataRoutine).
 *
 * FLT_PREOP_SUCCESS_WITH_CALLBACK: proceed (`ioStatus` STATUS_SUCCESS, or
 * STATUS_OPLOCK_BREAK_IN_PROGRESS for OPLOCK_FLAG_COMPLETE_IF_OPLOCKED / FILE_COMPLETE_IF_OPLOCKED).
 * FLT_PREOP_PENDING: the operation waits for a break; `prePost` ran, `waitComplete` will be called
 * once with the release facts. FLT_PREOP_COMPLETE: fail the operation with `ioStatus`
 * (STATUS_CANNOT_BREAK_OPLOCK for FILE_OPEN_REQUIRING_OPLOCK, STATUS_INVALID_PARAMETER).
 */
export function check<C>(
  oplock: Oplock,
  data: OplockOperation,
  flags = 0,
  context?: C,
  waitComplete?: WaitCompleteRoutine<C>,
  prePost?: PrePostRoutine<C>,
): PreopResult {
  return oplock.check(
    data,
    flags,
    context,
    waitComplete as WaitCompleteRoutine<unknown> | undefined,
    prePost as PrePostRoutine<unknown> | undefined,
  );
}

/** FltOplockBreakH: break handle caching after a sharing violation at create. Same returns as check. */
export function breakH<C>(
  oplock: Oplock,
  data: OplockOperation,
  flags = 0,
  context?: C,
  waitComplete?: WaitCompleteRoutine<C>,
  prePost?: PrePostRoutine<C>,
): PreopResult {
  return oplock.breakH(
    data,
    flags,
    context,
    waitComplete as WaitCompleteRoutine<unknown> | undefined,
    prePost as PrePostRoutine<unknown> | undefined,
  );
}

/** FltCheckOplock on IRP_MJ_CLEANUP: the handle's oplock state goes; never waits. */
export function cleanup(oplock: Oplock, data: OplockOperation): PreopResult {
  if (data.major !== 'CLEANUP') {
    return oplock.check(
      { ...data, major: 'CLEANUP' } as OplockOperation,
      0,
      undefined,
      undefined,
      undefined,
    );
  }
  return oplock.check(data, 0, undefined, undefined, undefined);
}

/**
 * CancelIoEx on a held oplock request (completes with STATUS_CANCELLED) or on an operation waiting
 * for a break (its wait-complete routine runs with STATUS_CANCELLED). False when the package holds
 * nothing with that operation id (a request already completed cannot be cancelled).
 */
export function cancel(oplock: Oplock, operationId: bigint): boolean {
  return oplock.cancel(operationId);
}

/** FltOplockIsFastIoPossible. */
export function isFastIoPossible(oplock: Oplock): boolean {
  return oplock.isFastIoPossible();
}

/** FltCurrentBatchOplock. */
export function currentBatchOplock(oplock: Oplock): boolean {
  return oplock.currentBatchOplock();
}

/** FltCurrentOplock. */
export function currentOplock(oplock: Oplock): boolean {
  return oplock.currentOplock();
}

/** FltCurrentOplockH. */
export function currentOplockH(oplock: Oplock): boolean {
  return oplock.currentOplockH();
}

/** A read-only view of the state (not a DDI routine). */
export function snapshot(oplock: Oplock): OplockSnapshot {
  return oplock.snapshot();
}
