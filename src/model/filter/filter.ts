/**
 * The filter instance: twin of the driver's registration and instance state (driver.h globals,
 * init.c's callback table). It sits above the file system (src/model/fs/ntfs.ts) and below the
 * I/O manager, receives every IRP first, and routes it to the per-family twins:
 *
 *   create.ts  cleanup.ts  close.ts  fsctl.ts  lock.ts  rdwr.ts  setinfo.ts  flush.ts
 *
 * with the shared pieces in events.ts (queue), policy.ts (namespaces), stream.ts (state table),
 * asyncio.ts (probes) and comm.ts (the port).
 *
 * Identifiers (docs/events.md): operationId is assigned in the pre-operation callback of every
 * operation the filter looks at, fileObjectId at pre-create, streamId when the filter first
 * builds state for a stream; all count from 1. Operations on streams outside every namespace are
 * passed down without a look: no identifiers, no records.
 *
 * Pended operations resume from a work queue (the twin of FltQueueDeferredIoWorkItem): a
 * wait-complete routine, called by the oplock package inside the acknowledgement or cleanup that
 * released the wait, only queues the resumption; the queue runs when the releasing operation has
 * finished its own processing and records. This keeps each operation's records together in the
 * order docs/events.md gives them.
 */

import {
  type BridgeEvent,
  EVENT_MASK_ALL,
  MajorFunction,
  RecordFlag,
} from '../../bridge/events.js';
import { FLTB_QUEUE_LIMIT_DEFAULT } from '../../protocol/layout.js';
import type { Device, Irp } from '../fs/irp.js';
import type { FileSystem } from '../fs/ntfs.js';
import { ProbeManager } from './asyncio.js';
import { preCleanup } from './cleanup.js';
import { preClose } from './close.js';
import { preCreate } from './create.js';
import { type EventInit, EventQueue } from './events.js';
import { preFlush } from './flush.js';
import { preFsctl } from './fsctl.js';
import { preLockControl } from './lock.js';
import { isPolicyError, type NamespaceSpec, Policy, type PolicyError } from './policy.js';
import { preReadWrite } from './rdwr.js';
import { preSetInformation } from './setinfo.js';
import { type HandleContext, StreamTable } from './stream.js';

export interface FilterOptions {
  /** Namespaces; default: the whole model volume managed. */
  readonly namespaces?: readonly NamespaceSpec[];
  readonly queueLimit?: number;
  readonly eventMask?: bigint;
  /**
   * Whether a consumer of events exists from the start (the model backend); default false, as
   * the driver: nothing is produced until a port connection subscribes with HELLO.
   */
  readonly subscribed?: boolean;
}

/** The default policy: everything on the model volume is managed. */
export const WHOLE_VOLUME: readonly NamespaceSpec[] = [{ kind: 'managed', path: 'C:\\' }];

export class FltBridgeFilter implements Device {
  readonly lower: FileSystem;
  readonly events: EventQueue;
  readonly streams = new StreamTable();
  readonly probes: ProbeManager;
  policy: Policy;
  #nextOperationId = 1n;
  #nextFileObjectId = 1n;
  #nextStreamId = 1n;
  #depth = 0;
  readonly #deferred: (() => void)[] = [];
  /** Requests the filter (or a package on its behalf) holds pended. */
  readonly pended = new Set<Irp>();

  constructor(lower: FileSystem, options: FilterOptions = {}) {
    this.lower = lower;
    this.events = new EventQueue({
      limit: options.queueLimit ?? FLTB_QUEUE_LIMIT_DEFAULT,
      mask: options.eventMask ?? EVENT_MASK_ALL,
      subscribers: options.subscribed ? 1 : 0,
    });
    const policy = Policy.create(options.namespaces ?? WHOLE_VOLUME);
    if (isPolicyError(policy)) throw policyError(policy);
    this.policy = policy;
    this.probes = new ProbeManager(this);
  }

  // -------------------------------------------------------------------------------------------
  // Dispatch (the callback table).
  // -------------------------------------------------------------------------------------------

  dispatch(irp: Irp): void {
    this.run(() => {
      switch (irp.major) {
        case MajorFunction.CREATE:
          return preCreate(this, irp);
        case MajorFunction.CLEANUP:
          return preCleanup(this, irp);
        case MajorFunction.CLOSE:
          return preClose(this, irp);
        case MajorFunction.READ:
        case MajorFunction.WRITE:
          return preReadWrite(this, irp);
        case MajorFunction.SET_INFORMATION:
          return preSetInformation(this, irp);
        case MajorFunction.FLUSH_BUFFERS:
          return preFlush(this, irp);
        case MajorFunction.FILE_SYSTEM_CONTROL:
          return preFsctl(this, irp);
        case MajorFunction.LOCK_CONTROL:
          return preLockControl(this, irp);
        default:
          return this.lower.dispatch(irp);
      }
    });
  }

  /** Run filter work; when the outermost call ends, run the queued resumptions. */
  run<T>(body: () => T): T {
    this.#depth += 1;
    let value: T;
    try {
      value = body();
    } finally {
      this.#depth -= 1;
    }
    if (this.#depth === 0) this.#drain();
    return value;
  }

  /** Queue work for after the current operation (FltQueueDeferredIoWorkItem twin). */
  defer(work: () => void): void {
    this.#deferred.push(work);
    if (this.#depth === 0) this.#drain();
  }

  #drain(): void {
    this.#depth += 1;
    try {
      for (let work = this.#deferred.shift(); work !== undefined; work = this.#deferred.shift()) {
        work();
      }
    } finally {
      this.#depth -= 1;
    }
  }

  /** Send a request to the file system, with an optional post-operation callback. */
  passDown(irp: Irp, post?: (irp: Irp) => 'continue' | 'stop'): void {
    if (post !== undefined) irp.onComplete(post);
    this.lower.dispatch(irp);
  }

  // -------------------------------------------------------------------------------------------
  // Identifiers.
  // -------------------------------------------------------------------------------------------

  newOperationId(): bigint {
    const id = this.#nextOperationId;
    this.#nextOperationId += 1n;
    return id;
  }

  newFileObjectId(): bigint {
    const id = this.#nextFileObjectId;
    this.#nextFileObjectId += 1n;
    return id;
  }

  newStreamId(): bigint {
    const id = this.#nextStreamId;
    this.#nextStreamId += 1n;
    return id;
  }

  // -------------------------------------------------------------------------------------------
  // Records.
  // -------------------------------------------------------------------------------------------

  emit(event: EventInit): void {
    this.events.produce(event);
  }

  /** The header fields of a record about a handle's operation. */
  header(
    ctx: HandleContext,
    operationId: bigint,
    processId: number,
    status: number,
  ): Pick<
    BridgeEvent,
    | 'processId'
    | 'threadId'
    | 'streamId'
    | 'fileObjectId'
    | 'operationId'
    | 'status'
    | 'flags'
    | 'name'
  > {
    return {
      processId,
      threadId: processId,
      streamId: ctx.stream?.streamId ?? 0n,
      fileObjectId: ctx.fileObjectId,
      operationId,
      status: status >>> 0,
      flags: ctx.kind === 'managed' ? RecordFlag.MANAGED : RecordFlag.OBSERVED,
      name: ctx.name,
    };
  }

  /** CONFIGURE's namespaces (affect streams opened afterwards). */
  setNamespaces(specs: readonly NamespaceSpec[]): Policy | PolicyError {
    const policy = Policy.create(specs);
    if (!isPolicyError(policy)) this.policy = policy;
    return policy;
  }

  /** The handle context of a file object, if the filter looks at it. */
  static contextOf(irp: Irp): HandleContext | undefined {
    return irp.fileObject.filterContext as HandleContext | undefined;
  }
}

function policyError(error: PolicyError): Error {
  return new Error(
    error.reason === 'conflict'
      ? `namespace ${error.path} is both managed and observed`
      : `namespace ${error.path} is not a path on the model volume`,
  );
}
