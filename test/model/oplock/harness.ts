/**
 * A tiny stand-in for the filter twin: builds FLT_CALLBACK_DATA twins, calls the oplock package
 * verbs and records, in order, every completion and every wait release the package produces.
 */

import { AccessRight, CreateOption, Fsctl, type OplockLevel } from '../../../src/bridge/flags.js';
import { NtStatus } from '../../../src/bridge/ntstatus.js';
import {
  breakH,
  type CreateOperation,
  cacheBits,
  check,
  cleanup,
  createOplock,
  FSCTL_SET_ZERO_DATA,
  type FsctlOperation,
  fsctrl,
  initialize,
  type LockMinorName,
  type Oplock,
  type OplockFileObject,
  type OplockOperation,
  type OplockRequestCompletion,
  type PreopResult,
  REQUEST_OPLOCK_CURRENT_VERSION,
  REQUEST_OPLOCK_INPUT_BUFFER_SIZE,
  type WaitRelease,
} from '../../../src/model/oplock/index.js';

export const S = NtStatus;
export const READ_DATA = AccessRight.FILE_READ_DATA;
export const WRITE_DATA = AccessRight.FILE_WRITE_DATA;
export const READ_ATTRIBUTES = AccessRight.FILE_READ_ATTRIBUTES;
export const SHARE_ALL = 0x7;
export const FILE_SUPERSEDE = 0;
export const FILE_OPEN = 1;
export const FILE_CREATE = 2;
export const FILE_OPEN_IF = 3;
export const FILE_OVERWRITE = 4;
export const FILE_OVERWRITE_IF = 5;

export interface FileOptions {
  readonly key?: string;
  readonly synchronous?: boolean;
  readonly directory?: boolean;
}

export interface CreateParams {
  readonly access?: number;
  readonly share?: number;
  readonly disposition?: number;
  readonly options?: number;
}

export interface Sent<T extends OplockOperation = OplockOperation> {
  readonly op: T;
  readonly result: PreopResult;
}

export type LogEntry =
  | {
      readonly kind: 'complete';
      readonly opId: bigint;
      readonly completion: OplockRequestCompletion;
    }
  | { readonly kind: 'release'; readonly opId: bigint; readonly release: WaitRelease }
  | { readonly kind: 'prepost'; readonly opId: bigint };

const LEGACY_FSCTL: Record<string, number> = {
  LEVEL1: Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_1,
  LEVEL2: Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_2,
  BATCH: Fsctl.FSCTL_REQUEST_BATCH_OPLOCK,
  FILTER: Fsctl.FSCTL_REQUEST_FILTER_OPLOCK,
};

export class Harness {
  readonly oplock: Oplock;
  readonly log: LogEntry[] = [];
  #nextOp = 1n;
  #nextFo = 1n;
  readonly #completions = new Map<bigint, OplockRequestCompletion[]>();
  readonly #releases = new Map<bigint, WaitRelease[]>();

  constructor(init = true) {
    this.oplock = createOplock();
    if (init) initialize(this.oplock);
  }

  open(options: FileOptions = {}): OplockFileObject {
    const id = this.#nextFo++;
    return {
      id,
      synchronous: options.synchronous ?? false,
      ...(options.key === undefined ? {} : { oplockKey: options.key }),
      ...(options.directory === true ? { isDirectory: true } : {}),
    };
  }

  #base(fo: OplockFileObject) {
    return { operationId: this.#nextOp++, processId: 1, fileObject: fo };
  }

  fsctlOp(
    fo: OplockFileObject,
    code: number,
    extra: Partial<Pick<FsctlOperation, 'input' | 'inputBufferLength' | 'outputBufferLength'>> = {},
  ): FsctlOperation {
    const base = this.#base(fo);
    const op: FsctlOperation = {
      ...base,
      major: 'FILE_SYSTEM_CONTROL',
      fsControlCode: code,
      ...extra,
      complete: (c) => {
        const list = this.#completions.get(base.operationId) ?? [];
        list.push(c);
        this.#completions.set(base.operationId, list);
        this.log.push({ kind: 'complete', opId: base.operationId, completion: c });
      },
    };
    return op;
  }

  /** A legacy request FSCTL (LEVEL1, LEVEL2, BATCH, FILTER). */
  legacy(
    fo: OplockFileObject,
    level: 'LEVEL1' | 'LEVEL2' | 'BATCH' | 'FILTER',
    openCount?: number,
    flags = 0,
  ): Sent<FsctlOperation> {
    const op = this.fsctlOp(fo, LEGACY_FSCTL[level] ?? 0);
    const count = openCount ?? (level === 'LEVEL2' ? 0 : 1);
    return { op, result: fsctrl(this.oplock, op, count, flags) };
  }

  /** FSCTL_REQUEST_OPLOCK with REQUEST_OPLOCK_INPUT_FLAG_REQUEST. */
  win7(
    fo: OplockFileObject,
    level: OplockLevel | number,
    openCount?: number,
    flags = 0,
  ): Sent<FsctlOperation> {
    const bits = typeof level === 'number' ? level : cacheBits(level);
    const op = this.fsctlOp(fo, Fsctl.FSCTL_REQUEST_OPLOCK, {
      input: {
        structureVersion: REQUEST_OPLOCK_CURRENT_VERSION,
        structureLength: REQUEST_OPLOCK_INPUT_BUFFER_SIZE,
        requestedOplockLevel: bits,
        flags: 0x1,
      },
    });
    const count = openCount ?? (bits & 0x4 ? 1 : 0);
    return { op, result: fsctrl(this.oplock, op, count, flags) };
  }

  /** Any level, dispatching to legacy or Windows 7. */
  request(fo: OplockFileObject, level: OplockLevel, openCount?: number): Sent<FsctlOperation> {
    return level === 'LEVEL1' || level === 'LEVEL2' || level === 'BATCH' || level === 'FILTER'
      ? this.legacy(fo, level, openCount)
      : this.win7(fo, level, openCount);
  }

  /** FSCTL_REQUEST_OPLOCK with REQUEST_OPLOCK_INPUT_FLAG_ACK (plus extra input flags). */
  ackWin7(fo: OplockFileObject, level: OplockLevel | number, extraFlags = 0): Sent<FsctlOperation> {
    const bits = typeof level === 'number' ? level : cacheBits(level);
    const op = this.fsctlOp(fo, Fsctl.FSCTL_REQUEST_OPLOCK, {
      input: {
        structureVersion: REQUEST_OPLOCK_CURRENT_VERSION,
        structureLength: REQUEST_OPLOCK_INPUT_BUFFER_SIZE,
        requestedOplockLevel: bits,
        flags: 0x2 | extraFlags,
      },
    });
    return { op, result: fsctrl(this.oplock, op, 0) };
  }

  /** A legacy acknowledgement FSCTL (or break-notify). */
  ackLegacy(fo: OplockFileObject, code: number): Sent<FsctlOperation> {
    const op = this.fsctlOp(fo, code);
    return { op, result: fsctrl(this.oplock, op, 0) };
  }

  createOp(fo: OplockFileObject, params: CreateParams = {}): CreateOperation {
    return {
      ...this.#base(fo),
      major: 'CREATE',
      desiredAccess: params.access ?? READ_DATA,
      shareAccess: params.share ?? SHARE_ALL,
      disposition: params.disposition ?? FILE_OPEN,
      createOptions: params.options ?? 0,
    };
  }

  /** The oplock check of a create (FltCheckOplockEx), with a recording wait routine. */
  create(fo: OplockFileObject, params: CreateParams = {}, flags = 0): Sent<CreateOperation> {
    const op = this.createOp(fo, params);
    return { op, result: this.check(op, flags) };
  }

  breakH(fo: OplockFileObject, params: CreateParams = {}, flags = 0): Sent<CreateOperation> {
    const op = this.createOp(fo, params);
    return {
      op,
      result: breakH(
        this.oplock,
        op,
        flags,
        undefined,
        (d, _c, r) => this.#record(d, r),
        (d) => this.log.push({ kind: 'prepost', opId: d.operationId }),
      ),
    };
  }

  /** FltCheckOplockEx on any operation, with recording routines. */
  check(op: OplockOperation, flags = 0): PreopResult {
    return check(
      this.oplock,
      op,
      flags,
      undefined,
      (d, _c, r) => this.#record(d, r),
      (d) => this.log.push({ kind: 'prepost', opId: d.operationId }),
    );
  }

  #record(d: OplockOperation, r: WaitRelease): void {
    const list = this.#releases.get(d.operationId) ?? [];
    list.push(r);
    this.#releases.set(d.operationId, list);
    this.log.push({ kind: 'release', opId: d.operationId, release: r });
  }

  read(fo: OplockFileObject, flags = 0): Sent {
    const op: OplockOperation = { ...this.#base(fo), major: 'READ', offset: 0n, length: 4096 };
    return { op, result: this.check(op, flags) };
  }

  write(fo: OplockFileObject, flags = 0): Sent {
    const op: OplockOperation = { ...this.#base(fo), major: 'WRITE', offset: 0n, length: 4096 };
    return { op, result: this.check(op, flags) };
  }

  flush(fo: OplockFileObject): Sent {
    const op: OplockOperation = { ...this.#base(fo), major: 'FLUSH_BUFFERS' };
    return { op, result: this.check(op) };
  }

  lock(fo: OplockFileObject, minor: LockMinorName = 'LOCK'): Sent {
    const op: OplockOperation = {
      ...this.#base(fo),
      major: 'LOCK_CONTROL',
      minor,
      offset: 0n,
      length: 4096n,
      key: 0,
      exclusive: true,
      failImmediately: true,
    };
    return { op, result: this.check(op) };
  }

  setInfo(fo: OplockFileObject, fileInformationClass: number, deleteFile?: boolean): Sent {
    const op: OplockOperation = {
      ...this.#base(fo),
      major: 'SET_INFORMATION',
      fileInformationClass,
      ...(deleteFile === undefined ? {} : { deleteFile }),
    };
    return { op, result: this.check(op) };
  }

  zeroData(fo: OplockFileObject): Sent {
    const op: OplockOperation = {
      ...this.#base(fo),
      major: 'FILE_SYSTEM_CONTROL',
      fsControlCode: FSCTL_SET_ZERO_DATA,
    };
    return { op, result: this.check(op) };
  }

  close(fo: OplockFileObject): Sent {
    const op: OplockOperation = { ...this.#base(fo), major: 'CLEANUP' };
    return { op, result: cleanup(this.oplock, op) };
  }

  /** Completions of a request, in order (normally exactly one). */
  completions(op: OplockOperation): readonly OplockRequestCompletion[] {
    return this.#completions.get(op.operationId) ?? [];
  }

  /** The single completion of a request; undefined while it is held. */
  completion(op: OplockOperation): OplockRequestCompletion | undefined {
    const list = this.completions(op);
    if (list.length > 1)
      throw new Error(`request ${op.operationId} completed ${list.length} times`);
    return list[0];
  }

  releases(op: OplockOperation): readonly WaitRelease[] {
    return this.#releases.get(op.operationId) ?? [];
  }

  released(op: OplockOperation): WaitRelease | undefined {
    const list = this.releases(op);
    if (list.length > 1)
      throw new Error(`operation ${op.operationId} released ${list.length} times`);
    return list[0];
  }
}

export const PENDING = 'FLT_PREOP_PENDING';
export const COMPLETE = 'FLT_PREOP_COMPLETE';
export const PROCEED = 'FLT_PREOP_SUCCESS_WITH_CALLBACK';

export const CREATE_OPTIONS = CreateOption;
