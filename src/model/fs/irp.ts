/**
 * The model's I/O request packets and file objects: what travels from the I/O manager
 * (iomanager.ts) through the filter twin (src/model/filter) to the file system (ntfs.ts), the way
 * an IRP travels down a device stack on Windows.
 *
 * A layer that passes a request down first pushes a completion routine; when the bottom layer
 * (or a package that held the request) completes it, the routines run in reverse order, each
 * seeing the final status, exactly like IoCompletion routines. A routine may return 'stop'
 * (STATUS_MORE_PROCESSING_REQUIRED): the request is then not complete, and the layer that
 * stopped it owns it again (it may send it down again or complete it later).
 *
 * Everything is synchronous and deterministic: "pending" means a completion that nobody has
 * called yet.
 */

import { BugCheckError } from '../../bridge/errors.js';
import { MajorFunction } from '../../bridge/events.js';
import { NtStatus } from '../../bridge/ntstatus.js';
import type {
  OplockAcknowledge,
  OplockRequest,
  SetInformationRequest,
} from '../../bridge/types.js';
import type { RequestOplockInput, RequestOplockOutput } from '../oplock/types.js';
import type { ParsedPath } from './path.js';
import type { ShareAccessEntry } from './shareaccess.js';

export { MajorFunction };

/** IRP_MN_* of IRP_MJ_LOCK_CONTROL (wdm.h). */
export const IRP_MN_LOCK = 0x1;
export const IRP_MN_UNLOCK_SINGLE = 0x2;
export const IRP_MN_UNLOCK_ALL = 0x3;
export const IRP_MN_UNLOCK_ALL_BY_KEY = 0x4;

/** IRP_MN_USER_FS_REQUEST: the minor of an FSCTL. */
export const IRP_MN_USER_FS_REQUEST = 0x0;

export type FileObjectState = 'opening' | 'open' | 'cleaned-up' | 'closed' | 'failed';

/** The FILE_OBJECT twin. One per successful or attempted open. */
export class FileObject {
  /** I/O manager id: unique per I/O manager, never reused (the Bridge handle id). */
  readonly id: number;
  /** The path as the caller wrote it. */
  readonly userPath: string;
  /** The parsed path (undefined when the name did not parse). */
  readonly path: ParsedPath | undefined;
  /** Logical process that opened it (owner of its handle). */
  readonly process: number;
  /** DesiredAccess after generic mapping. */
  readonly desiredAccess: number;
  readonly shareAccess: number;
  readonly disposition: number;
  readonly createOptions: number;
  readonly allocationSize: bigint;
  /** Target oplock key GUID string (the oplock-key ECP), if supplied. */
  readonly oplockKey: string | undefined;
  /** FO_SYNCHRONOUS_IO. */
  readonly synchronous: boolean;
  /** FO_DELETE_ON_CLOSE (FILE_DELETE_ON_CLOSE at create). */
  readonly deleteOnClose: boolean;

  state: FileObjectState = 'opening';
  /** Set by the file system on a successful open. */
  isDirectory = false;
  /** Access granted at open (= desired access in the model: there are no ACLs). */
  grantedAccess = 0;
  /** What IoCheckShareAccess recorded (ReadAccess, SharedRead, ...). */
  share: ShareAccessEntry | undefined;
  /** FsContext: the file system's stream (FCB/SCB). */
  fsContext: unknown;
  /** FsContext2: the file system's per-open state (CCB). */
  fsContext2: unknown;
  /** The filter's per-file-object state (a stream-handle context). */
  filterContext: unknown;
  /** The filter's fileObjectId for this file object (docs/events.md), 0 when none. */
  fileObjectId = 0n;
  /** References: the handle plus each request in flight (ObReferenceObject). */
  references = 0;

  constructor(init: {
    id: number;
    userPath: string;
    path: ParsedPath | undefined;
    process: number;
    desiredAccess: number;
    shareAccess: number;
    disposition: number;
    createOptions: number;
    allocationSize: bigint;
    oplockKey: string | undefined;
    synchronous: boolean;
    deleteOnClose: boolean;
  }) {
    this.id = init.id;
    this.userPath = init.userPath;
    this.path = init.path;
    this.process = init.process;
    this.desiredAccess = init.desiredAccess;
    this.shareAccess = init.shareAccess;
    this.disposition = init.disposition;
    this.createOptions = init.createOptions;
    this.allocationSize = init.allocationSize;
    this.oplockKey = init.oplockKey;
    this.synchronous = init.synchronous;
    this.deleteOnClose = init.deleteOnClose;
  }

  /** The file system's id for this file object, as the packages see it. */
  get packageId(): bigint {
    return BigInt(this.id);
  }
}

// ---------------------------------------------------------------------------------------------
// Parameters per major function (IO_STACK_LOCATION.Parameters).
// ---------------------------------------------------------------------------------------------

export interface CreateParameters {
  readonly kind: 'create';
}

export interface ReadParameters {
  readonly kind: 'read';
  readonly offset: bigint;
  readonly length: number;
  readonly key: number;
}

export interface WriteParameters {
  readonly kind: 'write';
  /** ByteOffset; the I/O manager resolved an append-only handle's offset to end of file (-1). */
  readonly offset: bigint;
  readonly data: Uint8Array;
  readonly key: number;
  /** FILE_WRITE_TO_END_OF_FILE: the handle has FILE_APPEND_DATA without FILE_WRITE_DATA. */
  readonly toEndOfFile: boolean;
}

export interface SetInformationParameters {
  readonly kind: 'set-information';
  /** FILE_INFORMATION_CLASS. */
  readonly informationClass: number;
  readonly request: SetInformationRequest;
  /** Rename: the parsed target, or why it did not parse. */
  readonly target?: ParsedPath;
  readonly targetError?: number;
}

export interface FlushParameters {
  readonly kind: 'flush';
}

export interface OplockFsctlParameters {
  readonly kind: 'oplock-fsctl';
  readonly fsControlCode: number;
  /** REQUEST_OPLOCK_INPUT_BUFFER for FSCTL_REQUEST_OPLOCK. */
  readonly input?: RequestOplockInput;
  /** What the Bridge asked for (a request or an acknowledgement). */
  readonly request: OplockRequest | OplockAcknowledge;
  /** True for requests, false for acknowledgements and break-notify. */
  readonly isRequest: boolean;
}

export interface LockParameters {
  readonly kind: 'lock';
  readonly offset: bigint;
  readonly length: bigint;
  readonly key: number;
  readonly exclusive: boolean;
  readonly failImmediately: boolean;
}

export interface CleanupParameters {
  readonly kind: 'cleanup';
}

export interface CloseParameters {
  readonly kind: 'close';
}

export type IrpParameters =
  | CreateParameters
  | ReadParameters
  | WriteParameters
  | SetInformationParameters
  | FlushParameters
  | OplockFsctlParameters
  | LockParameters
  | CleanupParameters
  | CloseParameters;

/** A completion routine: 'stop' is STATUS_MORE_PROCESSING_REQUIRED. */
export type CompletionRoutine = (irp: Irp) => 'continue' | 'stop';

/** What a layer below the I/O manager is: something an IRP can be sent to. */
export interface Device {
  dispatch(irp: Irp): void;
}

export class Irp {
  readonly id: number;
  readonly major: number;
  readonly minor: number;
  readonly fileObject: FileObject;
  /** The requestor process (IoGetRequestorProcess): owner of byte-range locks. */
  readonly process: number;
  readonly params: IrpParameters;

  /** IoStatus.Status; STATUS_PENDING until completed. */
  status: number = NtStatus.STATUS_PENDING;
  /** IoStatus.Information. */
  information = 0n;
  /** Read: the bytes returned. */
  data: Uint8Array | undefined;
  /** FSCTL_REQUEST_OPLOCK: the output buffer. */
  oplockOutput: RequestOplockOutput | undefined;
  /** The filter's operationId (docs/events.md), 0 when the filter did not look at it. */
  operationId = 0n;
  /**
   * Create options as this request carries them down the stack, when a filter changed them
   * (Parameters.Create.Options + FltSetCallbackDataDirty); the file object keeps the caller's.
   */
  createOptionsOverride: number | undefined;
  /** Set by whoever holds the request in a cancellable state (IoSetCancelRoutine). */
  cancelRoutine: (() => void) | undefined;
  /** IoCancelIrp was called. */
  cancelRequested = false;
  #completed = false;
  #routines: CompletionRoutine[] = [];

  constructor(init: {
    id: number;
    major: number;
    minor?: number;
    fileObject: FileObject;
    process: number;
    params: IrpParameters;
  }) {
    this.id = init.id;
    this.major = init.major;
    this.minor = init.minor ?? 0;
    this.fileObject = init.fileObject;
    this.process = init.process;
    this.params = init.params;
  }

  /** IRP_MJ_CREATE: the create options the current layer sees. */
  get createOptions(): number {
    return this.createOptionsOverride ?? this.fileObject.createOptions;
  }

  get completed(): boolean {
    return this.#completed;
  }

  /** IoSetCompletionRoutine: runs when the request completes, after the layers below it. */
  onComplete(routine: CompletionRoutine): void {
    this.#routines.push(routine);
  }

  /** IoCompleteRequest. */
  complete(status: number, information: bigint = this.information): void {
    if (this.#completed) {
      throw new BugCheckError(
        `request ${this.id} completed twice (MULTIPLE_IRP_COMPLETE_REQUESTS)`,
      );
    }
    this.status = status >>> 0;
    this.information = information;
    this.cancelRoutine = undefined;
    this.#completed = true;
    while (this.#routines.length > 0) {
      const routine = this.#routines.pop() as CompletionRoutine;
      if (routine(this) === 'stop') {
        this.#completed = false;
        return;
      }
    }
  }

  /** IoCancelIrp: calls the cancel routine, if the holder set one. */
  cancel(): boolean {
    if (this.#completed) return false;
    this.cancelRequested = true;
    const routine = this.cancelRoutine;
    if (!routine) return false;
    this.cancelRoutine = undefined;
    routine();
    return true;
  }
}

/** Which major function a request is, as a name (for messages). */
export function majorName(major: number): string {
  const entry = Object.entries(MajorFunction).find(([, v]) => v === major);
  return entry ? `IRP_MJ_${entry[0]}` : `IRP_MJ_0x${major.toString(16)}`;
}
