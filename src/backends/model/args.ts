/**
 * Argument checks of the model backend: everything a caller hands to the Bridge surface is
 * validated here, and refused with a typed error (InvalidArgumentError) when Windows could not
 * even express it (a negative or fractional offset, a length past 2^64 - 1, a key past 2^32 - 1,
 * an unknown level). Values Windows can express but refuses (an offset past MAXLONGLONG, a lock
 * range that wraps) go through to the model, which answers with the NTSTATUS Windows gives.
 */

import { InvalidArgumentError } from '../../bridge/errors.js';
import {
  Fsctl,
  guidToBytes,
  isLegacyLevel,
  isWin7Level,
  type OplockLevel,
  parseU32,
  parseU64,
  RequestOplockInputFlag,
  win7LevelToCacheBits,
} from '../../bridge/flags.js';
import type {
  OplockAcknowledge,
  OplockRequest,
  SetInformationRequest,
} from '../../bridge/types.js';
import type { OplockFsctlParameters } from '../../model/fs/irp.js';
import {
  REQUEST_OPLOCK_CURRENT_VERSION,
  REQUEST_OPLOCK_INPUT_BUFFER_SIZE,
} from '../../model/oplock/types.js';

export const ULONG_MAX = 0xffffffff;

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (!isObject(value)) {
    throw new InvalidArgumentError(`${what} must be an object, got ${describe(value)}`);
  }
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}

/** An unsigned 64-bit value: bigint or safe integer number, never negative or fractional. */
export function u64(value: unknown, what: string): bigint {
  if (typeof value !== 'bigint' && typeof value !== 'number') {
    throw new InvalidArgumentError(
      `${what} must be a bigint or an integer, got ${describe(value)}`,
    );
  }
  return parseU64(value, what);
}

export function u32(value: unknown, what: string): number {
  if (typeof value !== 'bigint' && typeof value !== 'number') {
    throw new InvalidArgumentError(`${what} must be an integer, got ${describe(value)}`);
  }
  return parseU32(value, what);
}

/** A ULONG byte count given as a number. */
export function byteCount(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > ULONG_MAX) {
    throw new InvalidArgumentError(
      `${what} must be an integer 0..${ULONG_MAX} (a ULONG), got ${describe(value)}`,
    );
  }
  return value;
}

/** A logical process number (a positive ULONG). */
export function processNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > ULONG_MAX) {
    throw new InvalidArgumentError(
      `${what} must be a process number 1..${ULONG_MAX}, got ${describe(value)}`,
    );
  }
  return value;
}

export function bool(value: unknown, what: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(`${what} must be true or false, got ${describe(value)}`);
  }
  return value;
}

export function guid(value: unknown, what: string): string {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`${what} must be a GUID string, got ${describe(value)}`);
  }
  guidToBytes(value);
  return value;
}

function level(value: unknown, what: string): OplockLevel {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`${what} must be an oplock level name, got ${describe(value)}`);
  }
  return value as OplockLevel;
}

const LEGACY_REQUEST: Record<string, number> = {
  LEVEL1: Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_1,
  LEVEL2: Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_2,
  BATCH: Fsctl.FSCTL_REQUEST_BATCH_OPLOCK,
  FILTER: Fsctl.FSCTL_REQUEST_FILTER_OPLOCK,
};

function win7Input(levelName: OplockLevel | 'NONE', flags: number) {
  return {
    structureVersion: REQUEST_OPLOCK_CURRENT_VERSION,
    structureLength: REQUEST_OPLOCK_INPUT_BUFFER_SIZE,
    requestedOplockLevel: levelName === 'NONE' ? 0 : win7LevelToCacheBits(levelName as 'R'),
    flags,
  };
}

/** An oplock request: the FSCTL and its input buffer. */
export function oplockRequest(value: unknown): Omit<OplockFsctlParameters, 'kind'> {
  const r = requireObject(value, 'oplock request');
  const l = level(r.level, 'oplock request level');
  if (isLegacyLevel(l)) {
    if (r.completeAckOnClose !== undefined) {
      throw new InvalidArgumentError(
        'completeAckOnClose applies to R, RW, RH and RWH requests only',
      );
    }
    return {
      fsControlCode: LEGACY_REQUEST[l] as number,
      request: { level: l },
      isRequest: true,
    };
  }
  if (isWin7Level(l)) {
    const onClose = bool(r.completeAckOnClose, 'completeAckOnClose', false);
    const request: OplockRequest = onClose ? { level: l, completeAckOnClose: true } : { level: l };
    return {
      fsControlCode: Fsctl.FSCTL_REQUEST_OPLOCK,
      input: win7Input(
        l,
        RequestOplockInputFlag.REQUEST |
          (onClose ? RequestOplockInputFlag.COMPLETE_ACK_ON_CLOSE : 0),
      ),
      request,
      isRequest: true,
    };
  }
  throw new InvalidArgumentError(
    `unknown oplock level '${String(r.level)}' for a request`,
    'use LEVEL1, LEVEL2, BATCH, FILTER, R, RW, RH or RWH',
  );
}

/** An acknowledgement (or break-notify): the FSCTL and its input buffer. */
export function oplockAcknowledge(value: unknown): Omit<OplockFsctlParameters, 'kind'> {
  const a = requireObject(value, 'oplock acknowledgement');
  switch (a.kind) {
    case 'acknowledge':
      return {
        fsControlCode: Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE,
        request: { kind: 'acknowledge' },
        isRequest: false,
      };
    case 'ack-no-2':
      return {
        fsControlCode: Fsctl.FSCTL_OPLOCK_BREAK_ACK_NO_2,
        request: { kind: 'ack-no-2' },
        isRequest: false,
      };
    case 'ack-close-pending':
      return {
        fsControlCode: Fsctl.FSCTL_OPBATCH_ACK_CLOSE_PENDING,
        request: { kind: 'ack-close-pending' },
        isRequest: false,
      };
    case 'break-notify':
      return {
        fsControlCode: Fsctl.FSCTL_OPLOCK_BREAK_NOTIFY,
        request: { kind: 'break-notify' },
        isRequest: false,
      };
    case 'ack': {
      const l = level(a.level, 'acknowledgement level');
      if (l !== 'NONE' && !isWin7Level(l)) {
        throw new InvalidArgumentError(
          `an FSCTL_REQUEST_OPLOCK acknowledgement goes to R, RW, RH, RWH or NONE, not '${l}'`,
        );
      }
      const onClose = bool(a.completeAckOnClose, 'completeAckOnClose', false);
      const request: OplockAcknowledge = onClose
        ? { kind: 'ack', level: l, completeAckOnClose: true }
        : { kind: 'ack', level: l };
      return {
        fsControlCode: Fsctl.FSCTL_REQUEST_OPLOCK,
        input: win7Input(
          l,
          RequestOplockInputFlag.ACK | (onClose ? RequestOplockInputFlag.COMPLETE_ACK_ON_CLOSE : 0),
        ),
        request,
        isRequest: false,
      };
    }
    default:
      throw new InvalidArgumentError(
        `unknown acknowledgement kind ${describe(a.kind)}`,
        'use acknowledge, ack-no-2, ack-close-pending, ack or break-notify',
      );
  }
}

export function setInformation(value: unknown): SetInformationRequest {
  const r = requireObject(value, 'set-information request');
  switch (r.class) {
    case 'end-of-file':
      return { class: 'end-of-file', size: u64(r.size, 'end-of-file size') };
    case 'allocation':
      return { class: 'allocation', size: u64(r.size, 'allocation size') };
    case 'rename': {
      if (typeof r.target !== 'string' || r.target.length === 0) {
        throw new InvalidArgumentError(`rename target must be a path, got ${describe(r.target)}`);
      }
      const replace = bool(r.replaceIfExists, 'replaceIfExists', false);
      return { class: 'rename', target: r.target, replaceIfExists: replace };
    }
    case 'disposition': {
      if (typeof r.deleteFile !== 'boolean') {
        throw new InvalidArgumentError(
          `deleteFile must be true or false, got ${describe(r.deleteFile)}`,
        );
      }
      return { class: 'disposition', deleteFile: r.deleteFile };
    }
    default:
      throw new InvalidArgumentError(
        `unknown information class ${describe(r.class)}`,
        'use end-of-file, allocation, rename or disposition',
      );
  }
}
