/**
 * Twin of driver/src/stream.c: the per-stream state table (the driver's per-instance table,
 * reachable by name in pre-create, plus the stream context attached in post-create) and the
 * per-handle context.
 *
 * driver-research §7.1: a managed stream's state holds its OPLOCK (FltInitializeOplock), its
 * FILE_LOCK (FltAllocateFileLock, lazily on the first lock request, as cdfs does), an ERESOURCE
 * for oplock synchronisation, the open-handle count and the delete-pending flag. It lives while
 * file objects reference it and is torn down (FltUninitializeOplock, FltFreeFileLock) when the
 * last one closes. Observed streams get a light entry too, for their stable streamId.
 *
 * State is built in post-create of the first successful open: before that no handle exists, so
 * no oplock or byte-range lock can exist either, and pre-create needs nothing but a lookup.
 */

import { BugCheckError } from '../../bridge/errors.js';
import type { FileLock } from '../filelock/file-lock.js';
import type { FileObject } from '../fs/irp.js';
import {
  addShareAccess,
  isShareCompatible,
  newShareAccess,
  removeShareAccess,
  type ShareAccess,
  shareEntry,
} from '../fs/shareaccess.js';
import * as oplock from '../oplock/index.js';
import type { NamespaceKind } from './policy.js';

/**
 * The ERESOURCE twin: exclusive around oplock requests, shared around acknowledgements and
 * around every oplock check with the I/O it guards (oplock synchronisation rules, research §1.5
 * rule 1). The model runs one operation at a time, so acquisition always succeeds at once; the
 * twin still checks the discipline (no release without an acquire, no nesting exclusive inside
 * shared) so a slip in the filter twin shows up as a bug check, as ERESOURCE misuse does.
 */
export class StreamResource {
  #shared = 0;
  #exclusive = false;

  acquireShared(): void {
    if (this.#exclusive) throw new BugCheckError('ERESOURCE acquired shared while held exclusive');
    this.#shared += 1;
  }

  acquireExclusive(): void {
    if (this.#exclusive || this.#shared > 0) {
      throw new BugCheckError('ERESOURCE acquired exclusive while already held');
    }
    this.#exclusive = true;
  }

  release(): void {
    if (this.#exclusive) this.#exclusive = false;
    else if (this.#shared > 0) this.#shared -= 1;
    else throw new BugCheckError('ERESOURCE released without being acquired');
  }

  get held(): boolean {
    return this.#exclusive || this.#shared > 0;
  }
}

export class StreamState {
  readonly streamId: bigint;
  readonly kind: NamespaceKind;
  /** Name as first opened (`C:\dir\file`), updated by renames. */
  name: string;
  /** Case-insensitive key of the name (the table key). */
  key: string;
  /** Managed streams only. */
  readonly oplock: oplock.Oplock | undefined;
  /** Managed streams only; allocated by the first lock request. */
  fileLock: FileLock | undefined;
  readonly resource = new StreamResource();
  /** Handles of the stream not yet cleaned up. */
  openHandles = 0;
  /** File objects referencing the state (not yet closed), plus creates in flight on it. */
  references = 0;
  /** A disposition or a delete-on-close cleanup made the stream delete-pending. */
  deletePending = false;
  /** The stream was deleted (last cleanup with delete pending): its name left the table. */
  deleted = false;
  /** A directory's index stream (set at post-create). */
  isDirectory = false;
  /** Handles (file objects) open on the stream, in open order. */
  readonly handles = new Set<FileObject>();
  /** Share access of the handles counted (FbStreamCountOpen; IoCheckShareAccess's rules). */
  readonly share: ShareAccess = newShareAccess();

  /** Will an open with this access and sharing meet a sharing violation (FbStreamShareConflict)? */
  shareConflict(access: number, shareMode: number): boolean {
    return !isShareCompatible(shareEntry(access, shareMode), this.share);
  }

  /** Count a handle in (post-create) or out (cleanup) (FbStreamCountOpen). */
  countOpen(fo: FileObject, add: boolean): void {
    const entry = shareEntry(fo.desiredAccess, fo.shareAccess);
    if (add) {
      this.openHandles += 1;
      this.handles.add(fo);
      addShareAccess(entry, this.share);
    } else if (this.handles.delete(fo)) {
      this.openHandles -= 1;
      removeShareAccess(entry, this.share);
    }
  }

  constructor(streamId: bigint, kind: NamespaceKind, name: string, key: string) {
    this.streamId = streamId;
    this.kind = kind;
    this.name = name;
    this.key = key;
    if (kind === 'managed') {
      this.oplock = oplock.createOplock();
      oplock.initialize(this.oplock);
    } else {
      this.oplock = undefined;
    }
  }
}

/** What the filter keeps per file object (a stream-handle context). */
export interface HandleContext {
  readonly kind: NamespaceKind;
  readonly fileObjectId: bigint;
  /** The stream, once known (post-create of a successful open, or an existing entry). */
  stream: StreamState | undefined;
  /** The name records carry for this handle. */
  name: string;
  /**
   * FILE_DELETE_ON_CLOSE at open (FB_HANDLE.DeleteOnClose); FileDispositionInformationEx with
   * FILE_DISPOSITION_ON_CLOSE changes it.
   */
  deleteOnClose: boolean;
  /** The target oplock key of the open's GUID_ECP_OPLOCK_KEY ECP (FB_HANDLE.OplockKey). */
  readonly oplockKey?: string;
  /** Set at cleanup. */
  cleanedUp: boolean;
  /** The last oplock request on this handle whose break needs an acknowledgement. */
  brokenRequestOperationId?: bigint;
}

export class StreamTable {
  readonly #byKey = new Map<string, StreamState>();
  /** All live states (deleted ones stay until their last close). */
  readonly #live = new Set<StreamState>();

  lookup(key: string): StreamState | undefined {
    return this.#byKey.get(key);
  }

  insert(state: StreamState): void {
    this.#byKey.set(state.key, state);
    this.#live.add(state);
  }

  /** A rename moved the stream: its table key follows (post-set-information). */
  rename(state: StreamState, key: string, name: string): void {
    if (this.#byKey.get(state.key) === state) this.#byKey.delete(state.key);
    // A replaced target's state (no handles left, only closes pending) loses its name.
    const replaced = this.#byKey.get(key);
    if (replaced !== undefined && replaced !== state) replaced.deleted = true;
    state.key = key;
    state.name = name;
    this.#byKey.set(key, state);
  }

  /** The stream was deleted: a new file with the same name gets a new state. */
  unlink(state: StreamState): void {
    state.deleted = true;
    if (this.#byKey.get(state.key) === state) this.#byKey.delete(state.key);
  }

  /** The last reference went: tear the state down (FltUninitializeOplock, FltFreeFileLock). */
  remove(state: StreamState): void {
    this.unlink(state);
    this.#live.delete(state);
  }

  get managedCount(): number {
    let n = 0;
    for (const s of this.#live) if (s.kind === 'managed') n += 1;
    return n;
  }

  get size(): number {
    return this.#live.size;
  }

  states(): readonly StreamState[] {
    return [...this.#live];
  }
}
