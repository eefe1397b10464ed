/**
 * The backend-neutral API. Every backend (model, windows, later remote) implements Bridge and
 * every consumer (CLI, scenarios, hardware-in-the-loop tests) uses only these types.
 *
 * Operations return an IoRequest at once. `completed` tells whether Windows completed the
 * operation synchronously (it holds the result) or whether it is still in flight (undefined);
 * `result` settles when Windows would complete it. File-system outcomes are NTSTATUS values in
 * the results, never exceptions: a sharing violation is an answer, not an error. Exceptions
 * (FltBridgeError) are for misuse: unknown handles, bad arguments, a disposed bridge.
 */

import type { BridgeEvent } from './events.js';
import type {
  AccessSpec,
  CreateOptionsSpec,
  DispositionName,
  LegacyOplockLevel,
  OplockLevel,
  ShareSpec,
  Win7OplockLevel,
} from './flags.js';

export type BackendName = 'model' | 'windows' | 'remote';

/** A handle a client opened: a file object on Windows. Only its bridge can use it. */
export interface Handle {
  /** Small integer, unique per bridge, never reused. */
  readonly id: number;
  /** The path as it was opened. */
  readonly path: string;
  /** The (logical) process that owns the handle. */
  readonly process: number;
}

export interface OpenOptions {
  /** ACCESS_MASK or names; default "read". Generic rights are mapped as the I/O manager does. */
  readonly access?: AccessSpec;
  /** Share modes; default "read,write". */
  readonly share?: ShareSpec;
  /** Default "open". */
  readonly disposition?: DispositionName | number;
  /** FILE_* create options (FILE_COMPLETE_IF_OPLOCKED, FILE_OPEN_REQUIRING_OPLOCK, ...). */
  readonly options?: CreateOptionsSpec;
  /**
   * Overlapped (asynchronous) handle, the default: what oplock requests need. `false` opens a
   * synchronous handle (FILE_SYNCHRONOUS_IO_NONALERT), which is never granted an oplock.
   */
  readonly overlapped?: boolean;
  /** Target oplock key (a GUID), as SMB2 leases use it. */
  readonly oplockKey?: string;
  /** Logical process to open as; default the bridge's own (1 on the model). */
  readonly process?: number;
  /** Requested when the file is created or overwritten. */
  readonly allocationSize?: bigint;
}

/** Every completion carries the NTSTATUS and IoStatus.Information. */
export interface IoResult {
  /** NTSTATUS, unsigned (0xC0000043). */
  readonly status: number;
  readonly information: bigint;
}

export interface OpenResult extends IoResult {
  /** Present when the open succeeded. */
  readonly handle?: Handle;
}

export interface ReadResult extends IoResult {
  readonly data: Uint8Array;
}

/** Completion of an oplock request or acknowledgement (REQUEST_OPLOCK_OUTPUT_BUFFER or legacy). */
export interface OplockResult extends IoResult {
  /** Windows 7 requests: the level the holder had when the request completed. */
  readonly originalLevel?: OplockLevel;
  /** The level the oplock is now (broken to), for Windows 7 requests and legacy breaks. */
  readonly newLevel?: OplockLevel;
  /** REQUEST_OPLOCK_OUTPUT_FLAG_ACK_REQUIRED, for Windows 7 requests. */
  readonly ackRequired?: boolean;
}

export type OperationKind =
  | 'open'
  | 'close'
  | 'oplock'
  | 'acknowledge'
  | 'lock'
  | 'unlock'
  | 'unlock-all'
  | 'read'
  | 'write'
  | 'set-information'
  | 'flush'
  | 'cancel';

export interface IoRequest<R extends IoResult = IoResult> {
  /** Unique per bridge; names the operation in events (operation ids map to it). */
  readonly id: number;
  readonly operation: OperationKind;
  readonly handle: Handle | undefined;
  /** Settles when Windows completes the operation; never rejects for an NTSTATUS failure. */
  readonly result: Promise<R>;
  /** The result once completed; undefined while in flight. */
  readonly completed: R | undefined;
}

export type OplockRequest =
  | {
      /** Legacy FSCTL_REQUEST_OPLOCK_LEVEL_1 / _LEVEL_2 / BATCH / FILTER. */
      readonly level: LegacyOplockLevel;
    }
  | {
      /** FSCTL_REQUEST_OPLOCK with REQUEST_OPLOCK_INPUT_FLAG_REQUEST. */
      readonly level: Win7OplockLevel;
      /** REQUEST_OPLOCK_INPUT_FLAG_COMPLETE_ACK_ON_CLOSE. */
      readonly completeAckOnClose?: boolean;
    };

export type OplockAcknowledge =
  | {
      /** FSCTL_OPLOCK_BREAK_ACKNOWLEDGE, FSCTL_OPLOCK_BREAK_ACK_NO_2, FSCTL_OPBATCH_ACK_CLOSE_PENDING. */
      readonly kind: 'acknowledge' | 'ack-no-2' | 'ack-close-pending';
    }
  | {
      /** FSCTL_REQUEST_OPLOCK with REQUEST_OPLOCK_INPUT_FLAG_ACK, acknowledging to `level`. */
      readonly kind: 'ack';
      readonly level: Win7OplockLevel | 'NONE';
      readonly completeAckOnClose?: boolean;
    }
  | {
      /** FSCTL_OPLOCK_BREAK_NOTIFY: completes when no break is in progress on the stream. */
      readonly kind: 'break-notify';
    };

export interface LockRequest {
  readonly offset: bigint;
  readonly length: bigint;
  /** LOCKFILE_EXCLUSIVE_LOCK; default true. */
  readonly exclusive?: boolean;
  /** LOCKFILE_FAIL_IMMEDIATELY; default true. A waiting lock stays in flight until granted. */
  readonly failImmediately?: boolean;
  readonly key?: number;
  /** Issue as another logical process (lock ownership is per process). */
  readonly process?: number;
}

export interface UnlockRequest {
  readonly offset: bigint;
  readonly length: bigint;
  readonly key?: number;
  readonly process?: number;
}

export interface UnlockAllRequest {
  /** IRP_MN_UNLOCK_ALL_BY_KEY when set, IRP_MN_UNLOCK_ALL otherwise. */
  readonly key?: number;
  readonly process?: number;
}

export interface ReadRequest {
  readonly offset: bigint;
  readonly length: number;
  readonly key?: number;
  readonly process?: number;
}

export interface WriteRequest {
  readonly offset: bigint;
  /** The bytes, or a length to write that many filler bytes. */
  readonly data: Uint8Array | number;
  readonly key?: number;
  readonly process?: number;
}

export type SetInformationRequest =
  | { readonly class: 'end-of-file'; readonly size: bigint }
  | { readonly class: 'allocation'; readonly size: bigint }
  | { readonly class: 'rename'; readonly target: string; readonly replaceIfExists?: boolean }
  | { readonly class: 'disposition'; readonly deleteFile: boolean };

export interface BridgeCapabilities {
  /** The backend can hold and break oplocks (Wine and some file systems cannot). */
  readonly oplocks: boolean;
  /** Events come from the filter (model, driver); false when only I/O results are available. */
  readonly events: boolean;
  /** Operations can run as other logical processes. */
  readonly processes: boolean;
}

export type EventListener = (event: BridgeEvent) => void;

export interface Bridge {
  readonly backend: BackendName;
  readonly capabilities: BridgeCapabilities;

  open(path: string, options?: OpenOptions): IoRequest<OpenResult>;
  /** CloseHandle: IRP_MJ_CLEANUP now, IRP_MJ_CLOSE when the last reference goes. */
  close(handle: Handle): IoRequest;
  requestOplock(handle: Handle, request: OplockRequest): IoRequest<OplockResult>;
  acknowledgeOplock(handle: Handle, ack: OplockAcknowledge): IoRequest<OplockResult>;
  lock(handle: Handle, request: LockRequest): IoRequest;
  unlock(handle: Handle, request: UnlockRequest): IoRequest;
  unlockAll(handle: Handle, request?: UnlockAllRequest): IoRequest;
  read(handle: Handle, request: ReadRequest): IoRequest<ReadResult>;
  write(handle: Handle, request: WriteRequest): IoRequest;
  setInformation(handle: Handle, request: SetInformationRequest): IoRequest;
  flush(handle: Handle): IoRequest;
  /** CancelIoEx on one in-flight request. Resolves true when a request was cancelled. */
  cancel(request: IoRequest<IoResult>): Promise<boolean>;

  /** Live events, in sequence order. Returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void;
  /** Resolves once every completion and event that is ready has been delivered. */
  settle(): Promise<void>;
  dispose(): Promise<void>;
}
