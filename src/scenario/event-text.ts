/**
 * Events in words: the operation label and detail text of the event table, and a normalised
 * signature per event (no sequence numbers, identifiers or times) that diff compares.
 */

import {
  BreakFlag,
  type BridgeEvent,
  CleanupFlag,
  CreateFlag,
  LockFlag,
  MajorFunction,
  UnlockAllFlag,
} from '../bridge/events.js';
import {
  dispositionName,
  Fsctl,
  type FsctlName,
  RequestOplockInputFlag,
  U64_MAX,
} from '../bridge/flags.js';
import { ntStatusName } from '../bridge/ntstatus.js';
import { accessText, optionsText, shareText } from './format.js';

const fsctlNames = new Map<number, FsctlName>(
  (Object.entries(Fsctl) as [FsctlName, number][]).map(([k, v]) => [v, k]),
);

const ACK_FSCTLS: readonly number[] = [
  Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE,
  Fsctl.FSCTL_OPLOCK_BREAK_ACK_NO_2,
  Fsctl.FSCTL_OPBATCH_ACK_CLOSE_PENDING,
];

function majorText(major: number): string {
  switch (major) {
    case MajorFunction.CREATE:
      return 'CREATE';
    case MajorFunction.READ:
      return 'READ';
    case MajorFunction.WRITE:
      return 'WRITE';
    case MajorFunction.SET_INFORMATION:
      return 'SET_INFO';
    case MajorFunction.FLUSH_BUFFERS:
      return 'FLUSH';
    case MajorFunction.FILE_SYSTEM_CONTROL:
      return 'FSCTL';
    case MajorFunction.LOCK_CONTROL:
      return 'LOCK_CONTROL';
    case MajorFunction.CLEANUP:
      return 'CLEANUP';
    case MajorFunction.CLOSE:
      return 'CLOSE';
    case MajorFunction.PROBE:
      return 'PROBE';
    default:
      return `MJ_0x${major.toString(16)}`;
  }
}

/** "[0, +100)" with 64-bit values written exactly (2^64-1 as a number). */
export function rangeText(offset: bigint, length: bigint | number): string {
  const len = BigInt(length);
  const o = offset === U64_MAX ? '2^64-1' : offset.toString();
  const l = len === U64_MAX ? '2^64-1' : len.toString();
  return `[${o}, +${l})`;
}

function flagsText(value: number, table: Record<string, number>): string[] {
  return Object.entries(table)
    .filter(([, bit]) => value & bit)
    .map(([name]) => name.toLowerCase().replace(/_/g, '-'));
}

/** The OPERATION column. */
export function operationLabel(e: BridgeEvent): string {
  switch (e.type) {
    case 'dropped':
      return 'DROPPED';
    case 'create':
      return 'CREATE';
    case 'cleanup':
      return 'CLEANUP';
    case 'close':
      return 'CLOSE';
    case 'oplock-request':
      if (e.fsControlCode === Fsctl.FSCTL_OPLOCK_BREAK_NOTIFY) return 'BREAK_NOTIFY';
      if (
        ACK_FSCTLS.includes(e.fsControlCode) ||
        (e.fsControlCode === Fsctl.FSCTL_REQUEST_OPLOCK &&
          e.inputFlags & RequestOplockInputFlag.ACK)
      ) {
        return 'OPLOCK_ACK';
      }
      return 'OPLOCK_REQUEST';
    case 'oplock-granted':
      return 'OPLOCK_GRANTED';
    case 'oplock-break':
      return 'OPLOCK_BREAK';
    case 'oplock-acknowledged':
      return 'OPLOCK_ACKED';
    case 'oplock-break-completed':
      return 'BREAK_RELEASED';
    case 'oplock-completed':
      return 'OPLOCK_DONE';
    case 'lock-granted':
      return 'LOCK_GRANTED';
    case 'lock-denied':
      return 'LOCK_DENIED';
    case 'lock-waiting':
      return 'LOCK_WAITING';
    case 'unlocked':
      return 'UNLOCK';
    case 'unlock-all':
      return 'UNLOCK_ALL';
    case 'io-refused':
      return `${majorText(e.major)}_REFUSED`;
    case 'io':
      return majorText(e.major);
    case 'probe-issued':
      return 'PROBE';
    case 'probe-completed':
      return 'PROBE_DONE';
  }
}

/** The DETAIL column. `label` names other operations' handles where known. */
export function eventDetail(e: BridgeEvent): string {
  switch (e.type) {
    case 'dropped':
      return `${e.count} event(s) dropped from seq ${e.firstSequence}`;
    case 'create': {
      const parts = [
        `access=${accessText(e.desiredAccess)}`,
        `share=${shareText(e.shareAccess)}`,
        `disp=${dispositionName(e.createDisposition) ?? e.createDisposition}`,
      ];
      const opts = e.createOptions & ~0x40; // FILE_NON_DIRECTORY_FILE is noise here
      if (opts) parts.push(`opts=${optionsText(opts).replace(/FILE_/g, '')}`);
      const flags = flagsText(e.createFlags, CreateFlag).filter((f) => f !== 'has-oplock-key');
      if (flags.length) parts.push(flags.join(','));
      if (e.oplockKey) parts.push(`key=${e.oplockKey.slice(0, 8)}…`);
      return parts.join(' ');
    }
    case 'cleanup': {
      const parts = [`handles left=${e.openHandlesRemaining}`];
      if (e.locksReleased) parts.push(`locks released=${e.locksReleased}`);
      parts.push(...flagsText(e.cleanupFlags, CleanupFlag));
      return parts.join(' ');
    }
    case 'close':
      return `refs=${e.streamReferences}`;
    case 'oplock-request': {
      const name = (fsctlNames.get(e.fsControlCode) ?? `0x${e.fsControlCode.toString(16)}`).replace(
        /^FSCTL_/,
        '',
      );
      if (e.fsControlCode === 0) return `${e.requestedLevel} (atomic, FILE_OPEN_REQUIRING_OPLOCK)`;
      const flags = flagsText(e.inputFlags, RequestOplockInputFlag).filter((f) => f !== 'request');
      return `${name} ${e.requestedLevel}${flags.length ? ` ${flags.join(',')}` : ''}${e.openCount ? ` opens=${e.openCount}` : ''}`;
    }
    case 'oplock-granted':
      return `${e.grantedLevel}`;
    case 'oplock-break': {
      const flags = [];
      if (e.breakFlags & BreakFlag.ACK_REQUIRED) flags.push('ack required');
      if (e.breakFlags & BreakFlag.OPERATION_WAITS) flags.push('caller waits');
      const cause = e.causedByOperationId
        ? ` by op ${e.causedByOperationId} (${majorText(e.causedByMajor)}, pid ${e.causedByProcessId})`
        : '';
      return `${e.fromLevel}→${e.toLevel}${flags.length ? ` ${flags.join(', ')}` : ''}${cause}`;
    }
    case 'oplock-acknowledged':
      return `to ${e.ackLevel}${e.brokenRequestOperationId ? ` (break of op ${e.brokenRequestOperationId})` : ''}`;
    case 'oplock-break-completed':
      return `${majorText(e.waiterMajor)} released${e.releasedByOperationId ? ` by op ${e.releasedByOperationId}` : ''} (${e.reason})`;
    case 'oplock-completed':
      return `${e.level} ${e.reason}`;
    case 'lock-granted':
    case 'lock-denied':
    case 'lock-waiting':
    case 'unlocked': {
      const parts = [rangeText(e.offset, e.length)];
      if (e.type !== 'unlocked') parts.push(e.lockFlags & LockFlag.EXCLUSIVE ? 'excl' : 'shared');
      if (e.key) parts.push(`key=${e.key}`);
      if (e.lockFlags & LockFlag.AFTER_WAIT) parts.push('after wait');
      if (
        e.type !== 'lock-waiting' &&
        e.relatedOperationId &&
        e.relatedOperationId !== e.operationId
      ) {
        parts.push(`by op ${e.relatedOperationId}`);
      }
      return parts.join(' ');
    }
    case 'unlock-all': {
      const flags = flagsText(e.unlockFlags, UnlockAllFlag);
      return `${e.count} range(s)${e.unlockFlags & UnlockAllFlag.BY_KEY ? ` key=${e.key}` : ''}${flags.length ? ` ${flags.filter((f) => f !== 'by-key').join(',')}` : ''}`.trimEnd();
    }
    case 'io-refused':
      return `${rangeText(e.offset, e.length)}${e.key ? ` key=${e.key}` : ''}`;
    case 'io':
      if (e.major === MajorFunction.READ || e.major === MajorFunction.WRITE) {
        return `${rangeText(e.offset, e.length)} → ${e.information} bytes`;
      }
      return e.length ? `size=${e.length}` : '';
    case 'probe-issued':
      return `probe ${e.probeId} ${e.kind}${e.kind === 'oplock' ? ` ${e.oplockLevel}` : ` ${rangeText(e.offset, e.length)}`}`;
    case 'probe-completed':
      return `probe ${e.probeId} ${e.kind} → ${e.outputLevel}`;
  }
}

/**
 * A normalised form of an event for comparing backends: the type, the handle (by scenario name),
 * the status and the fields that describe the operation. Ids, sequence numbers, times and
 * process ids are left out.
 */
export function eventSignature(e: BridgeEvent, labels: ReadonlyMap<bigint, string>): string {
  const h = labels.get(e.fileObjectId) ?? (e.type === 'create' ? 'new' : '?');
  const base = `${e.type} ${h} ${ntStatusName(e.status)}`;
  switch (e.type) {
    case 'oplock-request':
      return `${base} ${e.requestedLevel} fsctl=${e.fsControlCode.toString(16)} flags=${e.inputFlags}`;
    case 'oplock-granted':
      return `${base} ${e.grantedLevel}`;
    case 'oplock-break':
      return `${base} ${e.fromLevel}->${e.toLevel} flags=${e.breakFlags} info=${e.information}`;
    case 'oplock-acknowledged':
      return `${base} ${e.ackLevel}`;
    case 'oplock-break-completed':
      return `${base} ${e.reason}`;
    case 'oplock-completed':
      return `${base} ${e.level} ${e.reason}`;
    case 'lock-granted':
    case 'lock-denied':
    case 'lock-waiting':
    case 'unlocked':
      return `${base} ${e.offset}+${e.length} flags=${e.lockFlags} key=${e.key}`;
    case 'unlock-all':
      return `${base} count=${e.count} key=${e.key} flags=${e.unlockFlags}`;
    case 'io-refused':
      return `${base} ${e.major} ${e.offset}+${e.length}`;
    case 'io':
      return `${base} ${e.major} ${e.offset}+${e.length} info=${e.information}`;
    case 'create':
      return `${base} info=${e.information} flags=${e.createFlags}`;
    case 'cleanup':
      return `${base} locks=${e.locksReleased}`;
    default:
      return base;
  }
}
