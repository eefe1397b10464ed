/**
 * Twin of driver/src/asyncio.c: probes, the I/O the filter issues itself below its own
 * instance (FltCreateFileEx2 on the instance below, FltAllocateCallbackData +
 * FltPerformAsynchronousIo; research §7.1 "Filter-initiated I/O").
 *
 *   OPLOCK  open the target for attributes only (so the open itself breaks nothing), sharing
 *           everything, and request an oplock of the given level with FSCTL_REQUEST_OPLOCK (or
 *           the legacy FSCTL for a legacy level). The request completes when something breaks
 *           it: a tripwire.
 *   READ    open the target for reading and read ReadLength bytes at ReadOffset.
 *
 * Records: `probe-issued` when the probe's I/O is sent, `probe-completed` when its completion
 * routine runs; then the probe's file object is closed (cleanup and close from a work item).
 * The probe's I/O goes to the file system below the filter, so the filter's own records never
 * show it, and on a managed stream the tripwire sits in the file system's oplock, not the
 * filter's: opens the filter passes down break it there.
 *
 * REARM issues the probe again after each completion until PROBE_STOP. The model has no clock,
 * so a probe is re-issued only after a completion that came later than its issue (a tripwire
 * that fired, a read that waited): re-issuing one that completes at once would spin forever,
 * and on Windows it would be a busy loop the driver's work queue throttles.
 */

import { RecordFlag } from '../../bridge/events.js';
import {
  AccessRight,
  CreateOption,
  Fsctl,
  isWin7Level,
  type OplockLevel,
  RequestOplockInputFlag,
  win7LevelToCacheBits,
} from '../../bridge/flags.js';
import { NtStatus, ntSuccess } from '../../bridge/ntstatus.js';
import { FileObject, Irp, MajorFunction } from '../fs/irp.js';
import { parsePath } from '../fs/path.js';
import { levelOfBits } from '../oplock/levels.js';
import {
  REQUEST_OPLOCK_CURRENT_VERSION,
  REQUEST_OPLOCK_INPUT_BUFFER_SIZE,
} from '../oplock/types.js';
import type { FltBridgeFilter } from './filter.js';

export const PROBE_FLAG_REARM = 0x1;
export const PROBE_DONE_REARMED = 0x1;
export const PROBE_DONE_STOPPED = 0x2;
/** Probe I/O runs in the system process (no logical process of the model): 0. */
export const PROBE_PROCESS = 0;

export type ProbeSpec =
  | {
      readonly kind: 'oplock';
      readonly path: string;
      readonly flags: number;
      readonly oplockLevel: OplockLevel;
    }
  | {
      readonly kind: 'read';
      readonly path: string;
      readonly flags: number;
      readonly readOffset: bigint;
      readonly readLength: number;
    };

interface Probe {
  readonly id: bigint;
  readonly spec: ProbeSpec;
  readonly display: string;
  readonly key: string;
  fo: FileObject | undefined;
  irp: Irp | undefined;
  operationId: bigint;
  fileObjectId: bigint;
  stopped: boolean;
}

const LEGACY_FSCTL: Record<string, number> = {
  LEVEL1: Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_1,
  LEVEL2: Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_2,
  BATCH: Fsctl.FSCTL_REQUEST_BATCH_OPLOCK,
  FILTER: Fsctl.FSCTL_REQUEST_FILTER_OPLOCK,
};

/** Ids of the file objects and IRPs the filter issues itself (apart from the I/O manager's). */
let internalId = 2 ** 41;

export class ProbeManager {
  readonly #filter: FltBridgeFilter;
  readonly #probes = new Map<bigint, Probe>();
  #next = 1n;

  constructor(filter: FltBridgeFilter) {
    this.#filter = filter;
  }

  get active(): number {
    return this.#probes.size;
  }

  /** PROBE_START: the status, and the probe id when it started. */
  start(spec: ProbeSpec): { status: number; probeId?: bigint } {
    const parsed = parsePath(spec.path);
    if (!parsed.ok) return { status: NtStatus.STATUS_OBJECT_NAME_INVALID };
    if (this.#probes.size >= 16) return { status: NtStatus.STATUS_INSUFFICIENT_RESOURCES };
    const probe: Probe = {
      id: this.#next,
      spec,
      display: parsed.path.display,
      key: parsed.path.key,
      fo: undefined,
      irp: undefined,
      operationId: 0n,
      fileObjectId: 0n,
      stopped: false,
    };
    const status = this.#filter.run(() => this.#issue(probe));
    if (!ntSuccess(status)) return { status };
    this.#next += 1n;
    this.#probes.set(probe.id, probe);
    return { status: NtStatus.STATUS_SUCCESS, probeId: probe.id };
  }

  /** PROBE_STOP: cancel the probe's I/O; its completion records STOPPED. */
  stop(probeId: bigint): number {
    const probe = this.#probes.get(probeId);
    if (probe === undefined) return NtStatus.STATUS_NOT_FOUND;
    probe.stopped = true;
    this.#probes.delete(probeId);
    this.#filter.run(() => {
      if (probe.irp !== undefined && !probe.irp.completed) probe.irp.cancel();
    });
    return NtStatus.STATUS_SUCCESS;
  }

  /** Open the target below the filter and send the probe's I/O; the open's failure status. */
  #issue(probe: Probe): number {
    const f = this.#filter;
    const parsed = parsePath(probe.spec.path);
    if (!parsed.ok) return NtStatus.STATUS_OBJECT_NAME_INVALID;
    const oplockProbe = probe.spec.kind === 'oplock';
    internalId += 1;
    const fo = new FileObject({
      id: internalId,
      userPath: probe.spec.path,
      path: parsed.path,
      process: PROBE_PROCESS,
      desiredAccess: oplockProbe
        ? AccessRight.FILE_READ_ATTRIBUTES
        : AccessRight.FILE_READ_DATA | AccessRight.FILE_READ_ATTRIBUTES,
      shareAccess: 0x7,
      disposition: 1,
      createOptions: oplockProbe ? 0 : CreateOption.FILE_NON_DIRECTORY_FILE,
      allocationSize: 0n,
      oplockKey: undefined,
      synchronous: false,
      deleteOnClose: false,
    });
    const create = this.#irp(fo, MajorFunction.CREATE, { kind: 'create' });
    f.lower.dispatch(create);
    if (!ntSuccess(create.status) || create.status === NtStatus.STATUS_PENDING) {
      return create.status === NtStatus.STATUS_PENDING
        ? NtStatus.STATUS_UNSUCCESSFUL
        : create.status;
    }
    fo.state = 'open';
    probe.fo = fo;
    probe.operationId = f.newOperationId();
    probe.fileObjectId = f.newFileObjectId();
    const spec = probe.spec;
    let irp: Irp;
    if (spec.kind === 'oplock') {
      const win7 = isWin7Level(spec.oplockLevel);
      irp = this.#irp(fo, MajorFunction.FILE_SYSTEM_CONTROL, {
        kind: 'oplock-fsctl',
        fsControlCode: win7 ? Fsctl.FSCTL_REQUEST_OPLOCK : (LEGACY_FSCTL[spec.oplockLevel] ?? 0),
        ...(win7
          ? {
              input: {
                structureVersion: REQUEST_OPLOCK_CURRENT_VERSION,
                structureLength: REQUEST_OPLOCK_INPUT_BUFFER_SIZE,
                requestedOplockLevel: win7LevelToCacheBits(spec.oplockLevel as 'R'),
                flags: RequestOplockInputFlag.REQUEST,
              },
            }
          : {}),
        request: { level: spec.oplockLevel } as never,
        isRequest: true,
      });
    } else {
      irp = this.#irp(fo, MajorFunction.READ, {
        kind: 'read',
        offset: spec.readOffset,
        length: spec.readLength,
        key: 0,
      });
    }
    probe.irp = irp;
    this.#emitIssued(probe);
    let completedInline = true;
    irp.onComplete((done) => {
      this.#completed(probe, done, !completedInline);
      return 'continue';
    });
    f.lower.dispatch(irp);
    completedInline = irp.completed;
    return NtStatus.STATUS_SUCCESS;
  }

  #irp(fo: FileObject, major: number, params: Irp['params']): Irp {
    internalId += 1;
    return new Irp({ id: internalId, major, fileObject: fo, process: PROBE_PROCESS, params });
  }

  #header(probe: Probe, status: number) {
    const f = this.#filter;
    const stream = f.streams.lookup(probe.key);
    const kind = stream?.kind ?? f.policy.classify(probe.key);
    return {
      processId: PROBE_PROCESS,
      threadId: PROBE_PROCESS,
      streamId: stream?.streamId ?? 0n,
      fileObjectId: probe.fileObjectId,
      operationId: probe.operationId,
      status: status >>> 0,
      flags: kind === 'managed' ? RecordFlag.MANAGED : kind === 'observe' ? RecordFlag.OBSERVED : 0,
      name: probe.display,
    };
  }

  #emitIssued(probe: Probe): void {
    const spec = probe.spec;
    this.#filter.emit({
      type: 'probe-issued',
      ...this.#header(probe, NtStatus.STATUS_PENDING),
      probeId: probe.id,
      kind: spec.kind,
      oplockLevel: spec.kind === 'oplock' ? spec.oplockLevel : 'NONE',
      offset: spec.kind === 'read' ? spec.readOffset : 0n,
      length: spec.kind === 'read' ? spec.readLength : 0,
      probeFlags: spec.flags,
    });
  }

  /** The completion routine of the probe's I/O. */
  #completed(probe: Probe, irp: Irp, later: boolean): void {
    const f = this.#filter;
    const rearm =
      (probe.spec.flags & PROBE_FLAG_REARM) !== 0 &&
      !probe.stopped &&
      later &&
      ntSuccess(irp.status);
    const output = irp.oplockOutput;
    f.emit({
      type: 'probe-completed',
      ...this.#header(probe, irp.status),
      probeId: probe.id,
      kind: probe.spec.kind,
      probeFlags: (rearm ? PROBE_DONE_REARMED : 0) | (probe.stopped ? PROBE_DONE_STOPPED : 0),
      information: irp.information,
      outputLevel:
        output !== undefined
          ? (levelOfBits(output.newOplockLevel) ?? 'NONE')
          : probe.spec.kind === 'oplock' && irp.information === 7n
            ? 'LEVEL2'
            : 'NONE',
      outputFlags: output?.flags ?? 0,
    });
    const fo = probe.fo;
    probe.irp = undefined;
    probe.fo = undefined;
    if (!rearm && !probe.stopped) this.#probes.delete(probe.id);
    // Close the probe's file object from a work item, then issue it again if it re-arms.
    f.defer(() => {
      if (fo !== undefined) {
        f.lower.dispatch(this.#irp(fo, MajorFunction.CLEANUP, { kind: 'cleanup' }));
        f.lower.dispatch(this.#irp(fo, MajorFunction.CLOSE, { kind: 'close' }));
      }
      if (rearm && !probe.stopped) {
        const status = this.#issue(probe);
        if (!ntSuccess(status)) this.#probes.delete(probe.id);
      }
    });
  }
}
