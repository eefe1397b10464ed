/**
 * The file system below the filter: an NTFS twin for one volume. It keeps the namespace
 * (directories and files with one data stream each), sizes and bytes, share access, delete
 * pending, and, like NTFS, it owns an oplock and a FILE_LOCK per stream through the very same
 * packages the filter uses (src/model/oplock, src/model/filelock). For streams the filter
 * manages, the filter never sends oplock FSCTLs or lock requests down, so these stay empty and
 * every check passes; under observe roots (and outside every namespace) they are the ones that
 * answer.
 *
 * The order of the steps in each operation follows fastfat (the WDK's sample file system, the
 * model for how a file system drives the packages; driver-research §1.2) and [MS-FSA]; where
 * NTFS was observed to behave otherwise in tests that run on Windows (Wine's ntdll/kernel32
 * tests, Samba smbtorture), that wins, and the comment says so.
 *
 *   create           [MS-FSA] 2.1.5.1 (phases 6-8), 2.1.5.1.1, 2.1.5.1.2, 2.1.5.1.2.1/.2;
 *                    fastfat create.c: batch-oplock check before the share check,
 *                    FsRtlOplockBreakH after a sharing violation, FsRtlCheckOplock after it,
 *                    FILE_OPEN_REQUIRING_OPLOCK / FILE_RESERVE_OPFILTER through
 *                    FsRtlOplockFsctrl with UncleanCount + 1.
 *   read / write     [MS-FSA] 2.1.5.3 / 2.1.5.4; fastfat read.c / write.c: oplock check, then
 *                    FsRtlCheckLockFor{Read,Write}Access, then end of file.
 *   set-information  [MS-FSA] 2.1.5.15.1 (allocation), .3 (disposition), .4 (end of file),
 *                    .11 (rename).
 *   fsctl (oplocks)  fastfat fsctrl.c FatOplockRequest: OpenCount rules, delete-pending refusal.
 *   lock control     [MS-FSA] 2.1.5.8; fastfat lockctrl.c FatCommonLockControl.
 *   cleanup / close  [MS-FSA] 2.1.5.5 (closing an open); fastfat cleanup.c / close.c.
 *
 * An operation that waits for an oplock break is restarted from the top when the break
 * completes, as fastfat re-queues its IrpContext (FatOplockComplete -> FatAddToWorkque).
 */

import {
  AccessRight,
  CreateInformation,
  CreateOption,
  FileInformationClass,
  Fsctl,
  OplockCache,
  RequestOplockInputFlag,
} from '../../bridge/flags.js';
import { NtStatus, ntSuccess } from '../../bridge/ntstatus.js';
import type { FileLock } from '../filelock/file-lock.js';
import * as filelock from '../filelock/file-lock.js';
import type { LockControlData } from '../filelock/types.js';
import * as oplock from '../oplock/index.js';
import type {
  CreateOperation,
  FsctlOperation,
  OplockFileObject,
  OplockOperation,
  OplockRequestCompletion,
  PreopResult,
  WaitRelease,
} from '../oplock/types.js';
import { StreamData } from './data.js';
import {
  type Device,
  type FileObject,
  IRP_MN_LOCK,
  type Irp,
  MajorFunction,
  type OplockFsctlParameters,
  type SetInformationParameters,
} from './irp.js';
import { oplockOperationFor } from './oplock-operation.js';
import { type ParsedPath, upcase } from './path.js';
import {
  addShareAccess,
  isShareCompatible,
  newShareAccess,
  removeShareAccess,
  type ShareAccess,
  shareEntry,
} from './shareaccess.js';

/** Cluster size of the model volume: allocation sizes are rounded up to it. */
export const CLUSTER_SIZE = 4096n;
/**
 * Largest end of file the model volume accepts: NTFS's limit with 4 KiB clusters,
 * 16 TiB - 64 KiB ([MS-FSA] 2.1.5.15.4 footnote: "the maximum file size allowed by the object
 * store" is implementation-defined; NTFS on a 4 KiB-cluster volume stops at 0xFFFFFFF0000).
 */
export const MAX_FILE_SIZE = 0xfff_ffff_0000n;
/** MAXLONGLONG: offsets are LARGE_INTEGERs ([MS-FSA] 2.1.5.3). */
export const MAX_LONGLONG = 0x7fff_ffff_ffff_ffffn;

const DATA_ACCESS = AccessRight.FILE_WRITE_DATA | AccessRight.FILE_APPEND_DATA;
/** Rights a read-only file never grants ([MS-FSA] 2.1.5.1.2.1). */
const READONLY_DENIED =
  AccessRight.FILE_WRITE_DATA |
  AccessRight.FILE_APPEND_DATA |
  0x4 /* FILE_ADD_SUBDIRECTORY */ |
  AccessRight.FILE_DELETE_CHILD;
const FILE_ALL_ACCESS = 0x001f01ff;

export type NodeKind = 'file' | 'directory';

/** The FCB (with its one SCB): a file or a directory on the volume. */
export class FsNode {
  readonly fileId: bigint;
  readonly kind: NodeKind;
  /** Name as created (case preserved); '' for the root. */
  name: string;
  parent: FsNode | undefined;
  readonly children = new Map<string, FsNode>();
  readonly data = new StreamData();
  allocationSize = 0n;
  readOnly = false;
  readonly share: ShareAccess = newShareAccess();
  /** Handles not yet cleaned up (UncleanCount). */
  uncleanCount = 0;
  /** File objects not yet closed (OpenCount). */
  openCount = 0;
  /** File.PendingDelete / Link.IsDeleted. */
  deletePending = false;
  /** Unlinked from the namespace (after the last cleanup with delete pending). */
  deleted = false;
  oplock: oplock.Oplock | undefined;
  fileLock: FileLock | undefined;

  constructor(fileId: bigint, kind: NodeKind, name: string, parent: FsNode | undefined) {
    this.fileId = fileId;
    this.kind = kind;
    this.name = name;
    this.parent = parent;
  }

  get isDirectory(): boolean {
    return this.kind === 'directory';
  }

  /** `C:\dir\file` as it is named now. */
  get displayPath(): string {
    const parts: string[] = [];
    for (let n: FsNode | undefined = this; n?.parent !== undefined; n = n.parent)
      parts.push(n.name);
    return `C:\\${parts.reverse().join('\\')}`;
  }
}

/** The CCB: what the file system keeps per open. */
interface Ccb {
  /** FILE_DELETE_ON_CLOSE was given at open. */
  deleteOnClose: boolean;
}

export interface SeedOptions {
  readonly kind?: NodeKind;
  readonly content?: Uint8Array;
  readonly size?: bigint;
  readonly readOnly?: boolean;
}

interface OplockCheck {
  readonly proceed: boolean;
  readonly status: number;
  readonly information: bigint;
}

const PROCEED: OplockCheck = { proceed: true, status: NtStatus.STATUS_SUCCESS, information: 0n };

function roundToCluster(size: bigint): bigint {
  return ((size + CLUSTER_SIZE - 1n) / CLUSTER_SIZE) * CLUSTER_SIZE;
}

export class FileSystem implements Device {
  readonly root: FsNode;
  #nextFileId = 6n;

  constructor() {
    // The root directory's file id is 5 on NTFS (MFT record 5, "."): kept for flavour.
    this.root = new FsNode(5n, 'directory', '', undefined);
  }

  // -------------------------------------------------------------------------------------------
  // Namespace helpers (also used to seed the volume).
  // -------------------------------------------------------------------------------------------

  /** The node a parsed path names, if any (no checks). */
  lookup(path: ParsedPath): FsNode | undefined {
    let node: FsNode | undefined = this.root;
    for (const key of path.keys) {
      if (node === undefined || !node.isDirectory) return undefined;
      node = node.children.get(key);
    }
    return node;
  }

  /** Create a file or directory (and its missing parents) directly, outside any I/O. */
  seed(path: ParsedPath, options: SeedOptions = {}): FsNode {
    let node = this.root;
    path.components.forEach((name, i) => {
      const key = path.keys[i] as string;
      const last = i === path.components.length - 1;
      let child = node.children.get(key);
      if (child === undefined) {
        const kind: NodeKind = last ? (options.kind ?? 'file') : 'directory';
        child = this.#newNode(kind, name, node);
      } else if (!child.isDirectory && !last) {
        throw new Error(`${child.displayPath} is a file, not a directory`);
      }
      node = child;
    });
    if (node.kind === 'file') {
      if (options.content !== undefined) {
        node.data.setSize(0n);
        node.data.write(0n, options.content);
      } else if (options.size !== undefined) {
        node.data.setSize(options.size);
      }
      node.allocationSize = roundToCluster(node.data.size);
    }
    if (options.readOnly !== undefined) node.readOnly = options.readOnly;
    return node;
  }

  #newNode(kind: NodeKind, name: string, parent: FsNode): FsNode {
    const node = new FsNode(this.#nextFileId, kind, name, parent);
    this.#nextFileId += 1n;
    parent.children.set(upcase(name), node);
    return node;
  }

  /** The node a file object has open. */
  static nodeOf(fo: FileObject): FsNode {
    return fo.fsContext as FsNode;
  }

  // -------------------------------------------------------------------------------------------
  // Dispatch.
  // -------------------------------------------------------------------------------------------

  dispatch(irp: Irp): void {
    switch (irp.major) {
      case MajorFunction.CREATE: {
        this.#create(irp);
        return;
      }
      case MajorFunction.READ: {
        this.#read(irp);
        return;
      }
      case MajorFunction.WRITE: {
        this.#write(irp);
        return;
      }
      case MajorFunction.SET_INFORMATION: {
        this.#setInformation(irp);
        return;
      }
      case MajorFunction.FLUSH_BUFFERS: {
        this.#flush(irp);
        return;
      }
      case MajorFunction.FILE_SYSTEM_CONTROL: {
        this.#fsctl(irp);
        return;
      }
      case MajorFunction.LOCK_CONTROL: {
        this.#lockControl(irp);
        return;
      }
      case MajorFunction.CLEANUP: {
        this.#cleanup(irp);
        return;
      }
      case MajorFunction.CLOSE: {
        this.#close(irp);
        return;
      }
      default:
        irp.complete(NtStatus.STATUS_INVALID_DEVICE_REQUEST);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Package plumbing.
  // -------------------------------------------------------------------------------------------

  #oplockFo(fo: FileObject): OplockFileObject {
    return {
      id: fo.packageId,
      ...(fo.oplockKey === undefined ? {} : { oplockKey: fo.oplockKey }),
      synchronous: fo.synchronous,
      isDirectory: fo.isDirectory,
      deleteOnClose: fo.deleteOnClose,
    };
  }

  #oplockOf(node: FsNode): oplock.Oplock {
    if (node.oplock === undefined) {
      node.oplock = oplock.createOplock();
      oplock.initialize(node.oplock);
    }
    return node.oplock;
  }

  /** The operation the oplock package sees for an IRP (its operationId is the IRP's id). */
  #oplockData(irp: Irp, node: FsNode | undefined): OplockOperation | undefined {
    const fileObject = this.#oplockFo(irp.fileObject);
    return oplockOperationFor(irp, {
      operationId: BigInt(irp.id),
      fileObject:
        irp.params.kind === 'create'
          ? { ...fileObject, isDirectory: node?.isDirectory ?? false }
          : fileObject,
    });
  }

  /**
   * FsRtlCheckOplock(Ex) with FatOplockComplete / FatPrePostIrp: true when the operation may go
   * on now; false when it waits (it is restarted, or failed, when the break completes) or was
   * completed here (a failure status from the package).
   */
  #checkOplock(irp: Irp, node: FsNode, flags = 0): OplockCheck {
    if (node.oplock === undefined) return PROCEED;
    const data = this.#oplockData(irp, node);
    if (data === undefined) return PROCEED;
    const result = oplock.check(node.oplock, data, flags, irp, this.#waitComplete);
    return this.#afterOplockCall(irp, node, result);
  }

  #afterOplockCall(irp: Irp, node: FsNode, result: PreopResult): OplockCheck {
    const information = BigInt(result.information);
    if (result.preop === 'FLT_PREOP_PENDING') {
      const held = node.oplock as oplock.Oplock;
      const opId = BigInt(irp.id);
      irp.cancelRoutine = () => {
        oplock.cancel(held, opId);
      };
      return { proceed: false, status: NtStatus.STATUS_PENDING, information };
    }
    if (result.preop === 'FLT_PREOP_COMPLETE') {
      irp.complete(result.ioStatus, information);
      return { proceed: false, status: result.ioStatus, information };
    }
    return { proceed: true, status: result.ioStatus, information };
  }

  /** FatOplockComplete: a break this operation waited for is over; run it again, or fail it. */
  readonly #waitComplete = (_data: OplockOperation, irp: Irp, release: WaitRelease): void => {
    irp.cancelRoutine = undefined;
    if (ntSuccess(release.status) && !irp.cancelRequested) {
      this.dispatch(irp);
    } else {
      irp.complete(ntSuccess(release.status) ? NtStatus.STATUS_CANCELLED : release.status);
    }
  };

  #fileLockOf(node: FsNode): FileLock {
    if (node.fileLock === undefined) {
      // cdfs allocates the FILE_LOCK lazily on the first lock request (driver-research §1.2).
      node.fileLock = filelock.allocate((_context, data) => data.ioStatus.status, undefined);
    }
    return node.fileLock;
  }

  // -------------------------------------------------------------------------------------------
  // IRP_MJ_CREATE.
  // -------------------------------------------------------------------------------------------

  #create(irp: Irp): void {
    const fo = irp.fileObject;
    const path = fo.path;
    if (path === undefined) {
      irp.complete(NtStatus.STATUS_OBJECT_NAME_INVALID);
      return;
    }
    const options = irp.createOptions;
    const wantDirectory = (options & CreateOption.FILE_DIRECTORY_FILE) !== 0;
    const wantFile = (options & CreateOption.FILE_NON_DIRECTORY_FILE) !== 0;
    // [MS-FSA] 2.1.5.1 phase 1: a trailing backslash with FILE_NON_DIRECTORY_FILE.
    if (path.trailingSeparator && wantFile) {
      irp.complete(NtStatus.STATUS_OBJECT_NAME_INVALID);
      return;
    }
    // Phase 6: every component but the last must be an existing directory.
    let parent: FsNode = this.root;
    const last = path.keys.length - 1;
    for (let i = 0; i < last; i += 1) {
      const child = parent.children.get(path.keys[i] as string);
      if (child === undefined || !child.isDirectory) {
        irp.complete(NtStatus.STATUS_OBJECT_PATH_NOT_FOUND);
        return;
      }
      parent = child;
    }
    const node = last < 0 ? this.root : parent.children.get(path.keys[last] as string);
    if (node === undefined) {
      this.#createNew(irp, parent, path.components[last] as string);
      return;
    }
    this.#openExisting(irp, node, wantDirectory || path.trailingSeparator, wantFile);
  }

  /** [MS-FSA] 2.1.5.1.1 Creation of a New File. */
  #createNew(irp: Irp, parent: FsNode, name: string): void {
    const fo = irp.fileObject;
    const disposition = fo.disposition;
    if (disposition === 1 /* FILE_OPEN */ || disposition === 4 /* FILE_OVERWRITE */) {
      irp.complete(NtStatus.STATUS_OBJECT_NAME_NOT_FOUND);
      return;
    }
    // A delete-pending directory takes no new entries (WinFsp-observed and NTFS behaviour: the
    // name is on its way out, so is everything below it).
    if (parent.deletePending) {
      irp.complete(NtStatus.STATUS_DELETE_PENDING);
      return;
    }
    const directory = (irp.createOptions & CreateOption.FILE_DIRECTORY_FILE) !== 0;
    // Win32 CreateFile("name\", CREATE_NEW) fails with ERROR_INVALID_NAME: a trailing
    // backslash may only create a directory.
    if (fo.path?.trailingSeparator && !directory) {
      irp.complete(NtStatus.STATUS_OBJECT_NAME_INVALID);
      return;
    }
    const node = this.#newNode(directory ? 'directory' : 'file', name, parent);
    if (!directory) node.allocationSize = roundToCluster(fo.allocationSize);
    fo.isDirectory = directory;
    fo.grantedAccess = this.#grant(fo.desiredAccess, false);
    fo.share = shareEntry(fo.grantedAccess, fo.shareAccess);
    const status = this.#atomicOplock(irp, node);
    if (!ntSuccess(status)) {
      // Back out the new file (FatCreateNewFile's unwinding).
      parent.children.delete(upcase(name));
      irp.complete(status);
      return;
    }
    this.#finishOpen(irp, node, BigInt(CreateInformation.FILE_CREATED), NtStatus.STATUS_SUCCESS);
  }

  /** [MS-FSA] 2.1.5.1.2 Open of an Existing File; the oplock steps in fastfat's order. */
  #openExisting(irp: Irp, node: FsNode, wantDirectory: boolean, wantFile: boolean): void {
    const fo = irp.fileObject;
    const disposition = fo.disposition;
    // Phase 6: a link that is being deleted cannot be opened (smbtorture deltest4: "no more
    // opens once delete on close set" -> NT_STATUS_DELETE_PENDING).
    if (node.deletePending) {
      irp.complete(NtStatus.STATUS_DELETE_PENDING);
      return;
    }
    // Phase 7: type of file to open.
    if (wantDirectory && !node.isDirectory) {
      irp.complete(
        disposition === 2 /* FILE_CREATE */
          ? NtStatus.STATUS_OBJECT_NAME_COLLISION
          : NtStatus.STATUS_NOT_A_DIRECTORY,
      );
      return;
    }
    if (wantFile && node.isDirectory) {
      irp.complete(NtStatus.STATUS_FILE_IS_A_DIRECTORY);
      return;
    }
    if (disposition === 2 /* FILE_CREATE */) {
      irp.complete(NtStatus.STATUS_OBJECT_NAME_COLLISION);
      return;
    }
    // fastfat FatOpenExistingDirectory: a directory can only be opened (open, open-if).
    if (node.isDirectory && disposition !== 1 && disposition !== 3) {
      irp.complete(NtStatus.STATUS_OBJECT_NAME_COLLISION);
      return;
    }
    const overwrite = disposition === 0 || disposition === 4 || disposition === 5;
    // 2.1.5.1.2.1 Algorithm to Check Access to an Existing File.
    if (node.readOnly) {
      if (!node.isDirectory && (fo.desiredAccess & DATA_ACCESS) !== 0) {
        irp.complete(NtStatus.STATUS_ACCESS_DENIED);
        return;
      }
      if (irp.createOptions & CreateOption.FILE_DELETE_ON_CLOSE) {
        irp.complete(NtStatus.STATUS_CANNOT_DELETE);
        return;
      }
      // Overwriting needs write access to the data (CreateFile: CREATE_ALWAYS / TRUNCATE_EXISTING
      // on a read-only file fail with ERROR_ACCESS_DENIED).
      if (overwrite) {
        irp.complete(NtStatus.STATUS_ACCESS_DENIED);
        return;
      }
    }
    const granted = this.#grant(fo.desiredAccess, node.readOnly);
    fo.isDirectory = node.isDirectory;
    fo.grantedAccess = granted;
    fo.share = shareEntry(granted, fo.shareAccess);
    const ol = node.oplock;
    // fastfat create.c: with a batch (or filter) oplock, check it before the share check so
    // that a holder that closes its handle on the break lets this open through.
    let checked: { status: number; information: bigint } | undefined;
    if (ol !== undefined && oplock.currentBatchOplock(ol)) {
      const r = this.#checkOplock(irp, node);
      if (!r.proceed) return;
      checked = r;
    }
    // 2.1.5.1.2.2: sharing (IoCheckShareAccess).
    if (!isShareCompatible(fo.share, node.share)) {
      if (ol !== undefined && oplock.currentOplockH(ol)) {
        const data = this.#oplockData(irp, node) as OplockOperation;
        const result = oplock.breakH(ol, data, 0, irp, this.#waitComplete);
        if (result.preop === 'FLT_PREOP_PENDING') {
          this.#afterOplockCall(irp, node, result);
          return;
        }
      }
      irp.complete(NtStatus.STATUS_SHARING_VIOLATION);
      return;
    }
    if (checked === undefined && ol !== undefined) {
      const r = this.#checkOplock(irp, node);
      if (!r.proceed) return;
      checked = r;
    }
    this.#completeOpen(
      irp,
      node,
      overwrite,
      checked?.status ?? NtStatus.STATUS_SUCCESS,
      checked?.information ?? 0n,
    );
  }

  #completeOpen(
    irp: Irp,
    node: FsNode,
    overwrite: boolean,
    status: number,
    oplockInformation: bigint,
  ): void {
    const fo = irp.fileObject;
    const atomic = this.#atomicOplock(irp, node);
    if (!ntSuccess(atomic)) {
      irp.complete(atomic);
      return;
    }
    let information: bigint = BigInt(CreateInformation.FILE_OPENED);
    if (overwrite) {
      node.data.setSize(0n);
      node.allocationSize = roundToCluster(fo.allocationSize);
      information = BigInt(
        fo.disposition === 0
          ? CreateInformation.FILE_SUPERSEDED
          : CreateInformation.FILE_OVERWRITTEN,
      );
    }
    // FILE_COMPLETE_IF_OPLOCKED: a batch or filter break underway is reported in Information.
    if (status === NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS && oplockInformation !== 0n) {
      information = oplockInformation;
    }
    this.#finishOpen(irp, node, information, status);
  }

  /** FILE_OPEN_REQUIRING_OPLOCK / FILE_RESERVE_OPFILTER: FsRtlOplockFsctrl with UncleanCount+1. */
  #atomicOplock(irp: Irp, node: FsNode): number {
    const options = irp.createOptions;
    const wanted = CreateOption.FILE_OPEN_REQUIRING_OPLOCK | CreateOption.FILE_RESERVE_OPFILTER;
    if ((options & wanted) === 0) return NtStatus.STATUS_SUCCESS;
    const data = this.#oplockData(irp, node) as CreateOperation;
    const result = oplock.fsctrl(this.#oplockOf(node), data, node.uncleanCount + 1);
    return result.ioStatus;
  }

  #finishOpen(irp: Irp, node: FsNode, information: bigint, status: number): void {
    const fo = irp.fileObject;
    addShareAccess(fo.share ?? shareEntry(0, 0), node.share);
    node.uncleanCount += 1;
    node.openCount += 1;
    fo.fsContext = node;
    const ccb: Ccb = {
      deleteOnClose: (irp.createOptions & CreateOption.FILE_DELETE_ON_CLOSE) !== 0,
    };
    fo.fsContext2 = ccb;
    irp.complete(status, information);
  }

  /** Granted access: there are no ACLs, so what was asked (MAXIMUM_ALLOWED: everything). */
  #grant(desired: number, readOnly: boolean): number {
    let granted = desired & ~AccessRight.MAXIMUM_ALLOWED;
    if (desired & AccessRight.MAXIMUM_ALLOWED) {
      granted |= readOnly ? FILE_ALL_ACCESS & ~READONLY_DENIED : FILE_ALL_ACCESS;
    }
    return granted >>> 0;
  }

  // -------------------------------------------------------------------------------------------
  // IRP_MJ_READ / IRP_MJ_WRITE.
  // -------------------------------------------------------------------------------------------

  #read(irp: Irp): void {
    const p = irp.params;
    if (p.kind !== 'read') {
      irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
      return;
    }
    const node = FileSystem.nodeOf(irp.fileObject);
    if (node.isDirectory) {
      irp.complete(NtStatus.STATUS_INVALID_DEVICE_REQUEST);
      return;
    }
    // [MS-FSA] 2.1.5.3: a negative offset, or one whose end passes MAXLONGLONG, is invalid.
    if (p.offset > MAX_LONGLONG || p.offset + BigInt(p.length) > MAX_LONGLONG) {
      irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
      return;
    }
    // fastfat read.c: nothing to read completes at once, before any check.
    if (p.length === 0) {
      irp.complete(NtStatus.STATUS_SUCCESS, 0n);
      return;
    }
    if (!this.#checkOplock(irp, node).proceed) {
      return;
    }
    if (node.fileLock !== undefined) {
      const data = filelock.readData({
        operationId: BigInt(irp.id),
        processId: irp.process,
        fileObject: irp.fileObject.packageId,
        byteOffset: p.offset,
        length: p.length,
        key: p.key,
      });
      if (!filelock.checkForRead(node.fileLock, data)) {
        irp.complete(NtStatus.STATUS_FILE_LOCK_CONFLICT);
        return;
      }
    }
    // "STATUS_END_OF_FILE after the lock check" (fastfat read.c; [MS-FSA] 2.1.5.3).
    if (p.offset >= node.data.size) {
      irp.complete(NtStatus.STATUS_END_OF_FILE);
      return;
    }
    irp.data = node.data.read(p.offset, p.length);
    irp.complete(NtStatus.STATUS_SUCCESS, BigInt(irp.data.length));
  }

  #write(irp: Irp): void {
    const p = irp.params;
    if (p.kind !== 'write') {
      irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
      return;
    }
    const node = FileSystem.nodeOf(irp.fileObject);
    if (node.isDirectory) {
      irp.complete(NtStatus.STATUS_INVALID_DEVICE_REQUEST);
      return;
    }
    if (
      !p.toEndOfFile &&
      (p.offset > MAX_LONGLONG || p.offset + BigInt(p.data.length) > MAX_LONGLONG)
    ) {
      irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
      return;
    }
    // [MS-FSA] 2.1.5.4: writing zero bytes changes nothing and succeeds.
    if (p.data.length === 0) {
      irp.complete(NtStatus.STATUS_SUCCESS, 0n);
      return;
    }
    if (!this.#checkOplock(irp, node).proceed) {
      return;
    }
    const offset = p.toEndOfFile ? node.data.size : p.offset;
    if (node.fileLock !== undefined) {
      const data = filelock.writeData({
        operationId: BigInt(irp.id),
        processId: irp.process,
        fileObject: irp.fileObject.packageId,
        byteOffset: offset,
        length: p.data.length,
        key: p.key,
      });
      if (!filelock.checkForWrite(node.fileLock, data)) {
        irp.complete(NtStatus.STATUS_FILE_LOCK_CONFLICT);
        return;
      }
    }
    const end = offset + BigInt(p.data.length);
    if (end > MAX_FILE_SIZE) {
      irp.complete(NtStatus.STATUS_DISK_FULL);
      return;
    }
    node.data.write(offset, p.data);
    if (node.allocationSize < end) node.allocationSize = roundToCluster(end);
    irp.complete(NtStatus.STATUS_SUCCESS, BigInt(p.data.length));
  }

  // -------------------------------------------------------------------------------------------
  // IRP_MJ_SET_INFORMATION.
  // -------------------------------------------------------------------------------------------

  #setInformation(irp: Irp): void {
    const p = irp.params;
    if (p.kind !== 'set-information') {
      irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
      return;
    }
    const node = FileSystem.nodeOf(irp.fileObject);
    const request = p.request;
    switch (request.class) {
      case 'end-of-file': {
        // [MS-FSA] 2.1.5.15.4.
        if (node.isDirectory || request.size > MAX_FILE_SIZE) {
          irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
          return;
        }
        if (!this.#checkOplock(irp, node).proceed) {
          return;
        }
        node.data.setSize(request.size);
        node.allocationSize = roundToCluster(request.size);
        irp.complete(NtStatus.STATUS_SUCCESS);
        return;
      }
      case 'allocation': {
        // [MS-FSA] 2.1.5.15.1; FILE_ALLOCATION_INFO: an allocation below end of file moves the
        // end of file down to it.
        if (node.isDirectory) {
          irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
          return;
        }
        if (request.size > MAX_FILE_SIZE) {
          irp.complete(NtStatus.STATUS_DISK_FULL);
          return;
        }
        if (!this.#checkOplock(irp, node).proceed) {
          return;
        }
        node.allocationSize = roundToCluster(request.size);
        if (node.data.size > request.size) node.data.setSize(request.size);
        irp.complete(NtStatus.STATUS_SUCCESS);
        return;
      }
      case 'disposition': {
        this.#setDisposition(irp, node, request.deleteFile);
        return;
      }
      case 'rename': {
        this.#rename(irp, node, p);
        return;
      }
    }
  }

  /** [MS-FSA] 2.1.5.15.3 FileDispositionInformation. */
  #setDisposition(irp: Irp, node: FsNode, deleteFile: boolean): void {
    if (deleteFile) {
      if (node === this.root) {
        irp.complete(NtStatus.STATUS_CANNOT_DELETE);
        return;
      }
      // Wine ntdll test_file_disposition_information: read-only -> STATUS_CANNOT_DELETE;
      // smbtorture deltest11 the same.
      if (node.readOnly) {
        irp.complete(NtStatus.STATUS_CANNOT_DELETE);
        return;
      }
      if (node.isDirectory && node.children.size > 0) {
        irp.complete(NtStatus.STATUS_DIRECTORY_NOT_EMPTY);
        return;
      }
    }
    if (!this.#checkOplock(irp, node).proceed) {
      return;
    }
    // Clearing it undoes an earlier set (smbtorture deltest7/13; Wine "can set disposition on
    // file and then reset it"), but never a handle's own FILE_DELETE_ON_CLOSE, which is applied
    // at that handle's cleanup (FILE_DISPOSITION_INFORMATION page; Wine "Delete-on-close flag
    // doesn't change file disposition until a handle is closed").
    node.deletePending = deleteFile;
    irp.complete(NtStatus.STATUS_SUCCESS);
  }

  /** [MS-FSA] 2.1.5.15.11 FileRenameInformation; [MS-FSCC] 2.4.42 status table. */
  #rename(irp: Irp, node: FsNode, p: SetInformationParameters): void {
    if (p.request.class !== 'rename') {
      irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
      return;
    }
    if (p.targetError !== undefined) {
      irp.complete(p.targetError);
      return;
    }
    const target = p.target;
    if (target === undefined || node === this.root || target.keys.length === 0) {
      irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
      return;
    }
    let parent: FsNode = this.root;
    for (let i = 0; i < target.keys.length - 1; i += 1) {
      const child = parent.children.get(target.keys[i] as string);
      if (child === undefined || !child.isDirectory) {
        irp.complete(NtStatus.STATUS_OBJECT_PATH_NOT_FOUND);
        return;
      }
      parent = child;
    }
    // A directory cannot move below itself.
    for (let n: FsNode | undefined = parent; n !== undefined; n = n.parent) {
      if (n === node) {
        irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
        return;
      }
    }
    if (parent.deletePending) {
      irp.complete(NtStatus.STATUS_DELETE_PENDING);
      return;
    }
    const newName = target.components[target.components.length - 1] as string;
    const newKey = target.keys[target.keys.length - 1] as string;
    const existing = parent.children.get(newKey);
    if (existing !== undefined && existing !== node) {
      if (!(p.request.replaceIfExists ?? false)) {
        irp.complete(NtStatus.STATUS_OBJECT_NAME_COLLISION);
        return;
      }
      // [MS-FSCC] 2.4.42: STATUS_ACCESS_DENIED when the target is open and ReplaceIfExists;
      // a directory or read-only file cannot be replaced either.
      if (
        existing.isDirectory ||
        existing.readOnly ||
        existing.openCount > 0 ||
        existing.deletePending
      ) {
        irp.complete(NtStatus.STATUS_ACCESS_DENIED);
        return;
      }
    }
    // A directory with open files below it cannot be renamed ([MS-FSA] 2.1.5.15.11).
    if (node.isDirectory && this.#hasOpenDescendant(node)) {
      irp.complete(NtStatus.STATUS_ACCESS_DENIED);
      return;
    }
    if (!this.#checkOplock(irp, node).proceed) return;
    if (existing !== undefined && existing !== node) {
      parent.children.delete(newKey);
      existing.deleted = true;
      existing.parent = undefined;
    }
    const oldParent = node.parent as FsNode;
    oldParent.children.delete(upcase(node.name));
    node.name = newName;
    node.parent = parent;
    parent.children.set(newKey, node);
    irp.complete(NtStatus.STATUS_SUCCESS);
  }

  #hasOpenDescendant(dir: FsNode): boolean {
    for (const child of dir.children.values()) {
      if (child.openCount > 0) return true;
      if (child.isDirectory && this.#hasOpenDescendant(child)) return true;
    }
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // IRP_MJ_FLUSH_BUFFERS.
  // -------------------------------------------------------------------------------------------

  #flush(irp: Irp): void {
    const node = FileSystem.nodeOf(irp.fileObject);
    if (!this.#checkOplock(irp, node).proceed) {
      return;
    }
    irp.complete(NtStatus.STATUS_SUCCESS);
  }

  // -------------------------------------------------------------------------------------------
  // IRP_MJ_FILE_SYSTEM_CONTROL: oplock FSCTLs (fastfat FatOplockRequest).
  // -------------------------------------------------------------------------------------------

  #fsctl(irp: Irp): void {
    const p = irp.params;
    if (p.kind !== 'oplock-fsctl') {
      irp.complete(NtStatus.STATUS_INVALID_DEVICE_REQUEST);
      return;
    }
    const node = FileSystem.nodeOf(irp.fileObject);
    const ol = this.#oplockOf(node);
    const data = this.fsctlData(irp, p, BigInt(irp.id), this.#oplockFo(irp.fileObject), (c) =>
      this.#completeFsctl(irp, c),
    );
    let openCount = 0;
    if (p.isRequest) {
      if (isSharedRequest(p)) {
        openCount =
          node.fileLock !== undefined && filelock.areThereCurrentFileLocks(node.fileLock) ? 1 : 0;
      } else {
        openCount = node.uncleanCount;
      }
      // fastfat: batch, filter and handle-caching requests fail on a file being deleted.
      if (node.deletePending && wantsHandleCaching(p)) {
        irp.complete(NtStatus.STATUS_DELETE_PENDING);
        return;
      }
    }
    const result = oplock.fsctrl(ol, data, openCount);
    if (result.preop === 'FLT_PREOP_PENDING') {
      const opId = BigInt(irp.id);
      irp.cancelRoutine = () => {
        oplock.cancel(ol, opId);
      };
      return;
    }
    irp.complete(result.ioStatus, BigInt(result.information));
  }

  #completeFsctl(irp: Irp, completion: OplockRequestCompletion): void {
    irp.cancelRoutine = undefined;
    if (completion.output !== undefined) irp.oplockOutput = completion.output;
    irp.complete(completion.status, BigInt(completion.information));
  }

  /** The FSCTL the oplock package sees (shared with the filter, which builds the same data). */
  fsctlData(
    irp: Irp,
    p: OplockFsctlParameters,
    operationId: bigint,
    fileObject: OplockFileObject,
    complete: (c: OplockRequestCompletion) => void,
  ): FsctlOperation {
    return {
      operationId,
      processId: irp.process,
      fileObject,
      major: 'FILE_SYSTEM_CONTROL',
      fsControlCode: p.fsControlCode,
      ...(p.input === undefined ? {} : { input: p.input }),
      complete,
    };
  }

  // -------------------------------------------------------------------------------------------
  // IRP_MJ_LOCK_CONTROL (fastfat FatCommonLockControl).
  // -------------------------------------------------------------------------------------------

  #lockControl(irp: Irp): void {
    const p = irp.params;
    if (p.kind !== 'lock') {
      irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
      return;
    }
    const node = FileSystem.nodeOf(irp.fileObject);
    // [MS-FSA] 2.1.5.8: byte-range locks are not permitted on directories.
    if (node.isDirectory) {
      irp.complete(NtStatus.STATUS_INVALID_PARAMETER);
      return;
    }
    const lock = this.#fileLockOf(node);
    // [MS-FSA] 2.1.5.8: a lock that starts inside the allocation breaks oplocks; fastfat
    // lockctrl.c (Windows 8 rule): so does an unlock while lock requests wait.
    const breaks =
      irp.minor === IRP_MN_LOCK
        ? p.offset < node.allocationSize
        : filelock.waitingRequests(lock).length > 0;
    if (breaks && !this.#checkOplock(irp, node).proceed) return;
    const data: LockControlData = filelock.lockControlData({
      operationId: BigInt(irp.id),
      processId: irp.process,
      fileObject: irp.fileObject.packageId,
      minor: irp.minor,
      byteOffset: p.offset,
      length: p.length,
      key: p.key,
      failImmediately: p.failImmediately,
      exclusiveLock: p.exclusive,
      completePended: (d) => {
        irp.cancelRoutine = undefined;
        irp.complete(d.ioStatus.status);
      },
    });
    const preop = filelock.process(lock, data, irp);
    if (preop === 'pending') {
      irp.cancelRoutine = () => {
        filelock.cancel(lock, data);
      };
      return;
    }
    irp.complete(data.ioStatus.status);
  }

  // -------------------------------------------------------------------------------------------
  // IRP_MJ_CLEANUP / IRP_MJ_CLOSE.
  // -------------------------------------------------------------------------------------------

  /**
   * The last handle of a file object went away: fastfat cleanup.c FatCommonCleanup, [MS-FSA]
   * 2.1.5.5, in fastfat's order: FsRtlFastUnlockAll; the delete of a delete-pending file on its
   * last handle (names removed); UncleanCount down; IoRemoveShareAccess; and only then
   * FsRtlCheckOplock ("Cleanup operations can always cleanup immediately"). The oplock check
   * comes last, so an open waiting on this handle's break (a sharing-violation break, a batch
   * break) that is released by it finds the holder's share access gone and its name removed
   * when it retries: on Windows it is posted (FatOplockComplete -> FatAddToWorkque) and cannot
   * run before the cleanup releases the FCB; the model restarts it synchronously, so the state
   * must already be final here.
   */
  #cleanup(irp: Irp): void {
    const fo = irp.fileObject;
    const node = FileSystem.nodeOf(fo);
    const ccb = fo.fsContext2 as Ccb;
    // FILE_DELETE_ON_CLOSE takes effect now: the file becomes delete-pending (smbtorture
    // deltest16/17: not reported as pending before this handle is closed).
    if (ccb.deleteOnClose && !node.readOnly && !(node.isDirectory && node.children.size > 0)) {
      node.deletePending = true;
    }
    // FsRtlFastUnlockAll(FileLock, FileObject, IoGetRequestorProcess(Irp), NULL).
    if (node.fileLock !== undefined) {
      filelock.fastUnlockAll(node.fileLock, fo.packageId, irp.process, irp, BigInt(irp.id));
    }
    const oplockData = node.oplock === undefined ? undefined : this.#oplockData(irp, node);
    node.uncleanCount -= 1;
    if (node.uncleanCount === 0 && node.deletePending && node.parent !== undefined) {
      node.parent.children.delete(upcase(node.name));
      node.parent = undefined;
      node.deleted = true;
      node.deletePending = false;
    }
    if (fo.share !== undefined) removeShareAccess(fo.share, node.share);
    fo.state = 'cleaned-up';
    // FsRtlCheckOplock(..., NULL, NULL): "cleanup can always proceed".
    if (node.oplock !== undefined && oplockData !== undefined) {
      oplock.cleanup(node.oplock, oplockData as OplockOperation);
    }
    irp.complete(NtStatus.STATUS_SUCCESS, 0n);
  }

  #close(irp: Irp): void {
    const node = irp.fileObject.fsContext as FsNode | undefined;
    if (node !== undefined) {
      node.openCount -= 1;
      if (node.openCount === 0 && node.deleted) {
        if (node.oplock?.initialized) oplock.uninitialize(node.oplock);
        if (node.fileLock !== undefined) filelock.free(node.fileLock);
        node.oplock = undefined;
        node.fileLock = undefined;
      }
    }
    irp.complete(NtStatus.STATUS_SUCCESS);
  }
}

/** Level 2, R and RH requests: OpenCount says whether byte-range locks exist (fastfat). */
export function isSharedRequest(p: OplockFsctlParameters): boolean {
  if (p.fsControlCode === Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_2) return true;
  if (p.fsControlCode === Fsctl.FSCTL_REQUEST_OPLOCK && p.input !== undefined) {
    return (p.input.requestedOplockLevel & OplockCache.WRITE) === 0;
  }
  return false;
}

/** Batch, filter, and Windows 7 requests with handle caching (refused while delete-pending). */
export function wantsHandleCaching(p: OplockFsctlParameters): boolean {
  if (
    p.fsControlCode === Fsctl.FSCTL_REQUEST_BATCH_OPLOCK ||
    p.fsControlCode === Fsctl.FSCTL_REQUEST_FILTER_OPLOCK
  ) {
    return true;
  }
  return (
    p.fsControlCode === Fsctl.FSCTL_REQUEST_OPLOCK &&
    p.input !== undefined &&
    (p.input.flags & RequestOplockInputFlag.REQUEST) !== 0 &&
    (p.input.requestedOplockLevel & OplockCache.HANDLE) !== 0
  );
}

export { FileInformationClass };
