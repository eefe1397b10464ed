/**
 * The I/O manager twin: what NtCreateFile, NtReadFile, NtWriteFile, NtSetInformationFile,
 * NtFsControlFile, NtLockFile / NtUnlockFile, NtFlushBuffersFile, NtClose and NtCancelIoFileEx
 * do before and after the request reaches the device stack (filter, then file system).
 *
 *  - Parameters it refuses itself, before any driver sees the request (so no filter event):
 *    the create option and access combinations of [MS-FSA] 2.1.5.1 phase 1 and the NtCreateFile
 *    page (FILE_DELETE_ON_CLOSE needs DELETE: smbtorture deltest9/9a see
 *    STATUS_INVALID_PARAMETER; the synchronous options need SYNCHRONIZE; FILE_DIRECTORY_FILE
 *    allows only create / open / open-if), and names that do not parse.
 *  - Generic rights are mapped before anything else looks at the access mask
 *    (mapGenericAccess; "File Security and Access Rights").
 *  - Handle access checks of each system service, against the access granted at open:
 *    NtReadFile needs FILE_READ_DATA, NtWriteFile FILE_WRITE_DATA or FILE_APPEND_DATA (with only
 *    FILE_APPEND_DATA every write goes to end of file: ZwWriteFile remarks), NtLockFile and
 *    NtUnlockFile FILE_READ_DATA or FILE_WRITE_DATA, NtFlushBuffersFile write or append access,
 *    NtSetInformationFile FILE_WRITE_DATA for end of file and allocation and DELETE for rename
 *    and disposition (NtSetInformationFile page; FILE_DISPOSITION_INFORMATION remarks; Wine
 *    test_file_disposition_information: STATUS_ACCESS_DENIED without DELETE). Oplock FSCTLs are
 *    FILE_ANY_ACCESS.
 *  - Synchronous file objects (FILE_SYNCHRONOUS_IO_*): the I/O manager serialises requests on
 *    them (the file object lock); a request waits for the one before it. On Windows the calling
 *    thread blocks; in the model the request simply stays in flight until its turn has come and
 *    it completed. NtClose on such a handle waits its turn too.
 *  - Cleanup versus close: closing the last handle sends IRP_MJ_CLEANUP at once; IRP_MJ_CLOSE
 *    follows when the last reference to the file object goes, i.e. when no request on it is in
 *    flight any more. A failed create gets neither.
 */

import {
  AccessRight,
  CreateOption,
  FileInformationClass,
  mapGenericAccess,
  ShareMode,
} from '../../bridge/flags.js';
import { NtStatus } from '../../bridge/ntstatus.js';
import type { OperationKind, SetInformationRequest } from '../../bridge/types.js';
import type { RequestOplockOutput } from '../oplock/types.js';
import {
  type Device,
  FileObject,
  IRP_MN_USER_FS_REQUEST,
  Irp,
  type IrpParameters,
  MajorFunction,
  type OplockFsctlParameters,
} from './irp.js';
import { type ParsedPath, parsePath } from './path.js';

/** FILE_VALID_OPTION_FLAGS (wdm.h): create option bits that exist. */
export const FILE_VALID_OPTION_FLAGS = 0x00ffffff;

export interface CreateArguments {
  readonly path: string;
  readonly process: number;
  readonly desiredAccess: number;
  readonly shareAccess: number;
  readonly disposition: number;
  readonly createOptions: number;
  readonly allocationSize?: bigint;
  readonly oplockKey?: string;
}

export interface IoCompletion {
  readonly status: number;
  readonly information: bigint;
  readonly data?: Uint8Array;
  readonly oplockOutput?: RequestOplockOutput;
}

/** One system-service call: an IRP once it is issued, and its completion. */
export class IoOperation {
  readonly id: number;
  readonly kind: OperationKind;
  readonly fileObject: FileObject | undefined;
  /** The IRP (undefined while queued behind another request, or when refused before one). */
  irp: Irp | undefined;
  /** Every IRP this call produced (close: cleanup and close). */
  readonly irps: Irp[] = [];
  result: IoCompletion | undefined;
  readonly #listeners: ((op: IoOperation) => void)[] = [];

  constructor(id: number, kind: OperationKind, fileObject: FileObject | undefined) {
    this.id = id;
    this.kind = kind;
    this.fileObject = fileObject;
  }

  onDone(listener: (op: IoOperation) => void): void {
    if (this.result !== undefined) listener(this);
    else this.#listeners.push(listener);
  }

  finish(result: IoCompletion): void {
    if (this.result !== undefined) return;
    this.result = result;
    for (const listener of this.#listeners.splice(0)) listener(this);
  }
}

interface SerialState {
  busy: boolean;
  readonly queue: (() => void)[];
}

const READ_ACCESS = AccessRight.FILE_READ_DATA;
const WRITE_ACCESS = AccessRight.FILE_WRITE_DATA | AccessRight.FILE_APPEND_DATA;

export class IoManager {
  readonly #device: Device;
  #nextOperation = 1;
  #nextFileObject = 1;
  readonly #serial = new WeakMap<FileObject, SerialState>();
  /** File objects whose handle was closed, waiting for their last reference to go. */
  readonly #closing = new Set<FileObject>();

  readonly #schedule: (work: () => void) => void;

  /**
   * `schedule` runs work that another thread would do on Windows (starting the next request on
   * a synchronous file object when the one before it completes); default: at once.
   */
  constructor(device: Device, schedule: (work: () => void) => void = (work) => work()) {
    this.#device = device;
    this.#schedule = schedule;
  }

  /** NtCreateFile. */
  create(args: CreateArguments): IoOperation {
    const id = this.#nextOperation++;
    const access = mapGenericAccess(args.desiredAccess);
    const refused = validateCreate(access, args.shareAccess, args.disposition, args.createOptions);
    const parsed = parsePath(args.path);
    if (refused !== undefined || !parsed.ok) {
      const op = new IoOperation(id, 'open', undefined);
      const status =
        refused ??
        (parsed.ok
          ? NtStatus.STATUS_SUCCESS
          : parsed.error === 'path-not-found'
            ? NtStatus.STATUS_OBJECT_PATH_NOT_FOUND
            : parsed.error === 'syntax-bad'
              ? NtStatus.STATUS_OBJECT_PATH_SYNTAX_BAD
              : NtStatus.STATUS_OBJECT_NAME_INVALID);
      op.finish({ status, information: 0n });
      return op;
    }
    const fo = new FileObject({
      id: this.#nextFileObject++,
      userPath: args.path,
      path: parsed.path,
      process: args.process,
      desiredAccess: access,
      shareAccess: args.shareAccess,
      disposition: args.disposition,
      createOptions: args.createOptions,
      allocationSize: args.allocationSize ?? 0n,
      oplockKey: args.oplockKey,
      synchronous:
        (args.createOptions &
          (CreateOption.FILE_SYNCHRONOUS_IO_ALERT | CreateOption.FILE_SYNCHRONOUS_IO_NONALERT)) !==
        0,
      deleteOnClose: (args.createOptions & CreateOption.FILE_DELETE_ON_CLOSE) !== 0,
    });
    const op = new IoOperation(id, 'open', fo);
    const irp = new Irp({
      id,
      major: MajorFunction.CREATE,
      fileObject: fo,
      process: args.process,
      params: { kind: 'create' },
    });
    op.irp = irp;
    op.irps.push(irp);
    fo.references += 1;
    irp.onComplete((done) => {
      fo.references -= 1;
      if (done.status < 0x80000000) {
        // A success (or informational) status: the handle now holds the file object.
        fo.state = 'open';
        fo.references += 1;
      } else {
        fo.state = 'failed';
      }
      op.finish({ status: done.status, information: done.information });
      return 'continue';
    });
    this.#device.dispatch(irp);
    return op;
  }

  /** NtReadFile. */
  read(fo: FileObject, offset: bigint, length: number, key: number, process: number): IoOperation {
    return this.#issue(fo, 'read', process, MajorFunction.READ, 0, READ_ACCESS, () => ({
      kind: 'read',
      offset,
      length,
      key,
    }));
  }

  /** NtWriteFile. With only FILE_APPEND_DATA the write goes to end of file. */
  write(
    fo: FileObject,
    offset: bigint,
    data: Uint8Array,
    key: number,
    process: number,
  ): IoOperation {
    const appendOnly =
      (fo.grantedAccess & AccessRight.FILE_WRITE_DATA) === 0 &&
      (fo.grantedAccess & AccessRight.FILE_APPEND_DATA) !== 0;
    return this.#issue(fo, 'write', process, MajorFunction.WRITE, 0, WRITE_ACCESS, () => ({
      kind: 'write',
      offset,
      data,
      key,
      toEndOfFile: appendOnly,
    }));
  }

  /** NtSetInformationFile. */
  setInformation(fo: FileObject, request: SetInformationRequest, process: number): IoOperation {
    let informationClass: number;
    let access: number;
    let target: ParsedPath | undefined;
    let targetError: number | undefined;
    switch (request.class) {
      case 'end-of-file':
        informationClass = FileInformationClass.FileEndOfFileInformation;
        access = AccessRight.FILE_WRITE_DATA;
        break;
      case 'allocation':
        informationClass = FileInformationClass.FileAllocationInformation;
        access = AccessRight.FILE_WRITE_DATA;
        break;
      case 'disposition':
        informationClass = FileInformationClass.FileDispositionInformation;
        access = AccessRight.DELETE;
        break;
      case 'rename': {
        informationClass = FileInformationClass.FileRenameInformation;
        access = AccessRight.DELETE;
        const parsed = parsePath(request.target);
        if (parsed.ok) target = parsed.path;
        else
          targetError =
            parsed.error === 'path-not-found'
              ? NtStatus.STATUS_NOT_SAME_DEVICE
              : NtStatus.STATUS_OBJECT_NAME_INVALID;
        break;
      }
    }
    return this.#issue(
      fo,
      'set-information',
      process,
      MajorFunction.SET_INFORMATION,
      0,
      access,
      () => ({
        kind: 'set-information',
        informationClass,
        request,
        ...(target === undefined ? {} : { target }),
        ...(targetError === undefined ? {} : { targetError }),
      }),
    );
  }

  /** NtFlushBuffersFile. */
  flush(fo: FileObject, process: number): IoOperation {
    return this.#issue(fo, 'flush', process, MajorFunction.FLUSH_BUFFERS, 0, WRITE_ACCESS, () => ({
      kind: 'flush',
    }));
  }

  /** NtFsControlFile with an oplock FSCTL (FILE_ANY_ACCESS). */
  fsctl(
    fo: FileObject,
    kind: 'oplock' | 'acknowledge',
    params: Omit<OplockFsctlParameters, 'kind'>,
    process: number,
  ): IoOperation {
    return this.#issue(
      fo,
      kind,
      process,
      MajorFunction.FILE_SYSTEM_CONTROL,
      IRP_MN_USER_FS_REQUEST,
      0,
      () => ({
        kind: 'oplock-fsctl',
        ...params,
      }),
    );
  }

  /** NtLockFile / NtUnlockFile (IRP_MN_LOCK, _UNLOCK_SINGLE, _UNLOCK_ALL, _UNLOCK_ALL_BY_KEY). */
  lockControl(
    fo: FileObject,
    kind: 'lock' | 'unlock' | 'unlock-all',
    minor: number,
    params: {
      offset: bigint;
      length: bigint;
      key: number;
      exclusive: boolean;
      failImmediately: boolean;
    },
    process: number,
  ): IoOperation {
    return this.#issue(
      fo,
      kind,
      process,
      MajorFunction.LOCK_CONTROL,
      minor,
      AccessRight.FILE_READ_DATA | AccessRight.FILE_WRITE_DATA,
      () => ({ kind: 'lock', ...params }),
    );
  }

  /**
   * NtClose of the handle: IRP_MJ_CLEANUP now (in turn, on a synchronous file object), then
   * IRP_MJ_CLOSE once nothing references the file object any more. The operation completes
   * when the cleanup has.
   */
  closeHandle(fo: FileObject): IoOperation {
    const id = this.#nextOperation++;
    const op = new IoOperation(id, 'close', fo);
    fo.state = 'cleaned-up';
    this.#whenTurn(fo, () => {
      const irp = new Irp({
        id: this.#nextOperation++,
        major: MajorFunction.CLEANUP,
        fileObject: fo,
        process: fo.process,
        params: { kind: 'cleanup' },
      });
      op.irp = irp;
      op.irps.push(irp);
      fo.references += 1;
      irp.onComplete((done) => {
        // The request's reference and the handle's.
        fo.references -= 2;
        this.#closing.add(fo);
        op.finish({ status: done.status, information: done.information });
        this.#turnDone(fo);
        this.#maybeClose(fo, op);
        return 'continue';
      });
      this.#device.dispatch(irp);
    });
    return op;
  }

  /** NtCancelIoFileEx on one request: true when a cancel routine ran. */
  cancel(op: IoOperation): boolean {
    const irp = op.irp;
    if (irp === undefined || irp.completed || op.result !== undefined) return false;
    return irp.cancel();
  }

  /** The close IRP, once the last reference to a cleaned-up file object is gone. */
  #maybeClose(fo: FileObject, owner?: IoOperation): void {
    if (!this.#closing.has(fo) || fo.references > 0) return;
    this.#closing.delete(fo);
    const irp = new Irp({
      id: this.#nextOperation++,
      major: MajorFunction.CLOSE,
      fileObject: fo,
      process: fo.process,
      params: { kind: 'close' },
    });
    owner?.irps.push(irp);
    irp.onComplete(() => {
      fo.state = 'closed';
      return 'continue';
    });
    this.#device.dispatch(irp);
  }

  #issue(
    fo: FileObject,
    kind: OperationKind,
    process: number,
    major: number,
    minor: number,
    requiredAccess: number,
    params: () => IrpParameters,
  ): IoOperation {
    const id = this.#nextOperation++;
    const op = new IoOperation(id, kind, fo);
    // Handle access check (ObReferenceObjectByHandle): the handle needs one of the rights.
    if (requiredAccess !== 0 && (fo.grantedAccess & requiredAccess) === 0) {
      op.finish({ status: NtStatus.STATUS_ACCESS_DENIED, information: 0n });
      return op;
    }
    this.#whenTurn(fo, () => {
      const irp = new Irp({ id, major, minor, fileObject: fo, process, params: params() });
      op.irp = irp;
      op.irps.push(irp);
      fo.references += 1;
      irp.onComplete((done) => {
        fo.references -= 1;
        op.finish({
          status: done.status,
          information: done.information,
          ...(done.data === undefined ? {} : { data: done.data }),
          ...(done.oplockOutput === undefined ? {} : { oplockOutput: done.oplockOutput }),
        });
        this.#turnDone(fo);
        this.#maybeClose(fo);
        return 'continue';
      });
      this.#device.dispatch(irp);
    });
    return op;
  }

  /** Run `start` now, or after the requests before it on a synchronous file object. */
  #whenTurn(fo: FileObject, start: () => void): void {
    if (!fo.synchronous) {
      start();
      return;
    }
    let state = this.#serial.get(fo);
    if (state === undefined) {
      state = { busy: false, queue: [] };
      this.#serial.set(fo, state);
    }
    if (state.busy) {
      state.queue.push(start);
      return;
    }
    state.busy = true;
    start();
  }

  #turnDone(fo: FileObject): void {
    if (!fo.synchronous) return;
    const state = this.#serial.get(fo);
    if (state === undefined) return;
    const next = state.queue.shift();
    if (next === undefined) {
      state.busy = false;
      return;
    }
    this.#schedule(next);
  }
}

/**
 * What IoCreateFile and [MS-FSA] 2.1.5.1 phase 1 refuse with STATUS_INVALID_PARAMETER before a
 * file system sees the open; undefined when the combination is acceptable.
 */
export function validateCreate(
  access: number,
  share: number,
  disposition: number,
  options: number,
): number | undefined {
  const invalid = NtStatus.STATUS_INVALID_PARAMETER;
  if (
    share & ~(ShareMode.FILE_SHARE_READ | ShareMode.FILE_SHARE_WRITE | ShareMode.FILE_SHARE_DELETE)
  ) {
    return invalid;
  }
  if (!Number.isInteger(disposition) || disposition < 0 || disposition > 5) return invalid;
  if (options & ~FILE_VALID_OPTION_FLAGS) return invalid;
  const dir = (options & CreateOption.FILE_DIRECTORY_FILE) !== 0;
  if (dir && options & CreateOption.FILE_NON_DIRECTORY_FILE) return invalid;
  const alert = (options & CreateOption.FILE_SYNCHRONOUS_IO_ALERT) !== 0;
  const nonAlert = (options & CreateOption.FILE_SYNCHRONOUS_IO_NONALERT) !== 0;
  if (alert && nonAlert) return invalid;
  if ((alert || nonAlert) && (access & AccessRight.SYNCHRONIZE) === 0) return invalid;
  if (options & CreateOption.FILE_DELETE_ON_CLOSE && (access & AccessRight.DELETE) === 0) {
    return invalid;
  }
  // FILE_DIRECTORY_FILE with supersede, overwrite or overwrite-if.
  if (dir && disposition !== 1 && disposition !== 2 && disposition !== 3) return invalid;
  if (
    options & CreateOption.FILE_COMPLETE_IF_OPLOCKED &&
    options & CreateOption.FILE_RESERVE_OPFILTER
  ) {
    return invalid;
  }
  if (
    options & CreateOption.FILE_NO_INTERMEDIATE_BUFFERING &&
    access & AccessRight.FILE_APPEND_DATA
  ) {
    return invalid;
  }
  return undefined;
}
