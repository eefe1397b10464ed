/**
 * Runs a scenario on any Bridge and records, for every step, what happened: its status and
 * Information (or that it is still in flight), bytes transferred, the oplock breaks and the
 * completions of earlier in-flight steps that happened during it, and the events it produced.
 *
 * It uses the Bridge interface only, so a scenario runs identically on every backend. "During
 * the step" means between issuing the step and the backend having settled: `bridge.settle()`,
 * plus, on backends whose completions arrive from another machine or thread, a grace period
 * (`graceMs`) and a second settle.
 */

import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { FltBridgeError } from '../bridge/errors.js';
import type { BridgeEvent } from '../bridge/events.js';
import {
  CreateOption,
  FILE_GENERIC_READ,
  FILE_GENERIC_WRITE,
  isLegacyLevel,
  OplockBreakInformation,
  type OplockLevel,
} from '../bridge/flags.js';
import { formatNtStatus, NtStatus, ntSuccess } from '../bridge/ntstatus.js';
import type {
  Bridge,
  Handle,
  IoRequest,
  IoResult,
  OplockResult,
  ReadResult,
} from '../bridge/types.js';
import { checkCompletion, checkStep, type Mismatch } from './expect.js';
import { InvariantChecker } from './fuzz/invariants.js';
import type { Scenario, SetupEntry, Step } from './schema.js';

export interface BreakActual {
  /** Handle whose oplock broke. */
  readonly handle: string;
  /** Id of the step that issued the held request. */
  readonly request: string;
  readonly from: OplockLevel | undefined;
  readonly to: OplockLevel | undefined;
  readonly ackRequired: boolean | undefined;
  readonly status: number;
  readonly information: bigint;
}

export interface CompletionActual {
  readonly step: string;
  readonly verb: Step['verb'];
  readonly handle: string | undefined;
  readonly status: number;
  readonly information: bigint;
}

export interface StepActual {
  /** Final status when the step completed during itself; undefined while pending. */
  readonly status: number | undefined;
  readonly information: bigint | undefined;
  readonly pending: boolean;
  readonly bytes: bigint | undefined;
  readonly data: Uint8Array | undefined;
  readonly level: OplockLevel | undefined;
  readonly ackRequired: boolean | undefined;
  readonly breaks: readonly BreakActual[];
  readonly completes: readonly CompletionActual[];
  readonly events: readonly BridgeEvent[];
  /** The backend refused the call (a FltBridgeError), or the step could not be issued. */
  readonly error: string | undefined;
  /** The step was not issued (its handle is not open); says why. */
  readonly skipped: string | undefined;
}

export interface StepResult {
  readonly step: Step;
  readonly actual: StepActual;
  /** Expectation mismatches; later completions of a pending step append here. */
  readonly failures: Mismatch[];
  readonly durationMs: number;
}

export interface TeardownResult {
  readonly completes: readonly CompletionActual[];
  readonly breaks: readonly BreakActual[];
  /** Requests the processes' exit had to cancel (still in flight after every close). */
  readonly cancelledAtExit: readonly string[];
  /** Requests still in flight after every handle was closed, the processes exited and the backend settled. */
  readonly leftInFlight: readonly string[];
  /**
   * Handles whose close itself is still in flight: a synchronous handle blocked behind its own
   * I/O (Windows serialises a synchronous file object's I/O, so such a close never happens).
   */
  readonly unclosed: readonly string[];
  readonly events: readonly BridgeEvent[];
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly backend: string;
  readonly steps: readonly StepResult[];
  readonly teardown: TeardownResult | undefined;
  /** Invariant violations found by the observer, if any. */
  readonly violations: readonly Violation[];
  /** Set when the run stopped early: setup failed, or the backend crashed. */
  readonly fatal: string | undefined;
  readonly passed: boolean;
  readonly durationMs: number;
  /** Labels for event rendering: file object id -> handle name. */
  readonly labels: ReadonlyMap<bigint, string>;
}

export interface Violation {
  /** Invariant name, e.g. "conflicting-locks". */
  readonly invariant: string;
  readonly message: string;
  /** Step index (0-based) where it was detected; -1 for teardown. */
  readonly step: number;
}

/** What an observer (the invariant checker) sees. */
export interface RunView {
  readonly scenario: Scenario;
  readonly bridge: Bridge;
  /** Handle name -> open handle info (only handles currently open). */
  readonly handles: ReadonlyMap<string, OpenHandleInfo>;
  /** Every request issued so far, by step id. */
  readonly requests: ReadonlyMap<string, TrackedRequest>;
  /** File object id -> handle name, for event output. */
  readonly labels: ReadonlyMap<bigint, string>;
}

export interface OpenHandleInfo {
  readonly handle: Handle;
  readonly path: string;
  readonly process: number;
}

export interface TrackedRequest {
  readonly step: Step;
  readonly request: IoRequest<IoResult>;
  readonly handle: string | undefined;
  /** Number of times the result promise resolved (must end as 1). */
  resolutions: number;
  /** Completion order across the run; 0 while in flight. */
  completedOrder: number;
  /** Set once the runner reported the completion. */
  reported: boolean;
  /** The value the result promise resolved with. */
  resolved: IoResult | undefined;
}

export interface RunObserver {
  onEvent?(event: BridgeEvent, view: RunView): void;
  afterStep?(result: StepResult, view: RunView): void;
  afterTeardown?(teardown: TeardownResult, view: RunView): void;
  /** Violations found so far. */
  violations(): readonly Violation[];
}

export interface RunOptions {
  /** Extra settle time per step, ms (backends whose completions arrive asynchronously). */
  readonly graceMs?: number;
  /** How long a wait step waits on a backend with asynchronous completions. Default 5000. */
  readonly waitTimeoutMs?: number;
  /** Prefix for every path (e.g. the managed root on Windows); joined with `separator`. */
  readonly root?: string;
  readonly separator?: '/' | '\\';
  readonly observer?: RunObserver;
  /** Called as events arrive, with the labels known so far. */
  readonly onEvent?: (event: BridgeEvent, labels: ReadonlyMap<bigint, string>) => void;
  readonly onStepStart?: (step: Step) => void;
  /** After each step settled; `view.labels` names the handles of its events. */
  readonly onStepEnd?: (result: StepResult, view: RunView) => void;
  /** After the final handles were closed. */
  readonly onTeardown?: (teardown: TeardownResult, view: RunView) => void;
  /** Skip closing handles at the end (the shell keeps them). Default false. */
  readonly skipTeardown?: boolean;
  /**
   * How setup creates files: through the bridge (default), or with Node's fs under `root`
   * (backends that cannot create directories through CreateFileW, such as windows; the runner
   * then runs on the same machine as the files).
   */
  readonly setupWith?: 'bridge' | 'fs';
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function levelFromInformation(information: bigint): OplockLevel | undefined {
  if (information === BigInt(OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_LEVEL_2)) return 'LEVEL2';
  if (information === BigInt(OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_NONE)) return 'NONE';
  return undefined;
}

interface HandleSlot {
  state: 'pending' | 'open' | 'failed' | 'closed';
  handle?: Handle;
  path: string;
  process: number;
  openStep: string;
  status?: number;
}

/**
 * Drives one scenario on one bridge. Use `run()` for a whole scenario, or `setup()`, `step()`
 * and `teardown()` one at a time (the shell).
 */
export class ScenarioRun implements RunView {
  readonly handles = new Map<string, OpenHandleInfo>();
  readonly requests = new Map<string, TrackedRequest>();
  readonly results: StepResult[] = [];
  readonly labels = new Map<bigint, string>();
  private readonly slots = new Map<string, HandleSlot>();
  private readonly heldLevels = new Map<string, OplockLevel>();
  private readonly deferred = new Map<string, StepResult>();
  private events: BridgeEvent[] = [];
  private allEvents: BridgeEvent[] = [];
  private unsubscribe: (() => void) | undefined;
  private order = 0;
  private readonly asyncBackend: boolean;
  fatal: string | undefined;
  teardownResult: TeardownResult | undefined;

  constructor(
    readonly scenario: Scenario,
    readonly bridge: Bridge,
    readonly options: RunOptions = {},
  ) {
    this.asyncBackend = bridge.backend !== 'model';
  }

  private path(p: string): string {
    if (!this.options.root) return p;
    const sep = this.options.separator ?? '/';
    const rel = sep === '\\' ? p.replace(/\//g, '\\') : p;
    return `${this.options.root.replace(/[\\/]+$/, '')}${sep}${rel}`;
  }

  /** Events seen so far, in arrival order. */
  get eventLog(): readonly BridgeEvent[] {
    return this.allEvents;
  }

  private onEvent = (event: BridgeEvent) => {
    this.events.push(event);
    this.allEvents.push(event);
    this.options.observer?.onEvent?.(event, this);
    this.options.onEvent?.(event, this.labels);
  };

  async settle(): Promise<void> {
    await this.bridge.settle();
    if (this.asyncBackend && (this.options.graceMs ?? 0) > 0) {
      await sleep(this.options.graceMs ?? 0);
      await this.bridge.settle();
    }
  }

  /** Create the setup files and directories through the bridge, then subscribe to events. */
  async setup(): Promise<void> {
    if (this.options.setupWith === 'fs' && this.options.root) {
      await mkdir(this.options.root, { recursive: true });
    } else if (this.options.root) {
      // The root's directories, through the bridge (on the model, for example).
      const parts = this.options.root.split(/[\\/]+/).filter((p) => p.length > 0);
      const sep = this.options.separator ?? '/';
      for (let i = 1; i <= parts.length; i++) {
        const dir = parts.slice(0, i).join(sep);
        if (/^[A-Za-z]:$/.test(dir)) continue;
        const r = await this.bridge.open(dir, {
          access: FILE_GENERIC_READ,
          share: 'read,write,delete',
          disposition: 'open-if',
          options: CreateOption.FILE_DIRECTORY_FILE,
        }).result;
        if (!r.handle || !ntSuccess(r.status)) throw new SetupError(dir, 0, r.status);
        await this.bridge.close(r.handle).result;
      }
    }
    const entries = [...this.scenario.setup].sort(
      (a, b) => a.path.split('/').length - b.path.split('/').length,
    );
    for (const entry of entries) await this.createEntry(entry);
    await this.settle();
    this.unsubscribe ??= this.bridge.subscribe(this.onEvent);
  }

  /** Create one file (with its size or data) or directory through the bridge. */
  async createEntry(entry: SetupEntry): Promise<void> {
    if (this.options.setupWith === 'fs') {
      const target = this.path(entry.path);
      try {
        if (entry.directory) await mkdir(target, { recursive: true });
        else if (entry.data !== undefined) await writeFile(target, entry.data);
        else {
          await writeFile(target, '');
          if (entry.size > 0n) await truncate(target, Number(entry.size));
        }
      } catch (error) {
        throw new SetupError(entry.path, entry.line, 0xc0000001, (error as Error).message);
      }
      return;
    }
    const opened = this.bridge.open(this.path(entry.path), {
      access: entry.directory ? FILE_GENERIC_READ : FILE_GENERIC_READ | FILE_GENERIC_WRITE,
      share: 'read,write,delete',
      disposition: entry.directory ? 'open-if' : 'overwrite-if',
      options: entry.directory ? CreateOption.FILE_DIRECTORY_FILE : 0,
    });
    const result = await opened.result;
    if (!result.handle || !ntSuccess(result.status)) {
      throw new SetupError(entry.path, entry.line, result.status);
    }
    if (!entry.directory) {
      const data = entry.data !== undefined ? new TextEncoder().encode(entry.data) : undefined;
      const io = data
        ? this.bridge.write(result.handle, { offset: 0n, data })
        : entry.size > 0n
          ? this.bridge.setInformation(result.handle, { class: 'end-of-file', size: entry.size })
          : undefined;
      const r = io ? await io.result : undefined;
      if (r && !ntSuccess(r.status)) throw new SetupError(entry.path, entry.line, r.status);
    }
    await this.bridge.close(result.handle).result;
  }

  private track(
    step: Step,
    request: IoRequest<IoResult>,
    handle: string | undefined,
  ): TrackedRequest {
    const tracked: TrackedRequest = {
      step,
      request,
      handle,
      resolutions: 0,
      completedOrder: 0,
      reported: false,
      resolved: undefined,
    };
    this.requests.set(step.id, tracked);
    request.result.then(
      (value) => {
        tracked.resolutions += 1;
        tracked.resolved = value;
        if (tracked.completedOrder === 0) tracked.completedOrder = ++this.order;
      },
      () => {
        tracked.resolutions += 1;
      },
    );
    if (step.verb === 'oplock') this.heldLevels.set(step.id, step.level);
    if (step.verb === 'ack') {
      if (step.kind === 'ack' && step.level !== undefined) this.heldLevels.set(step.id, step.level);
      if (step.kind === 'acknowledge') this.heldLevels.set(step.id, 'LEVEL2');
    }
    return tracked;
  }

  /**
   * Name the handle's file object in event output. Backends that can say which file object a
   * handle is (the model's fileObjectId) are asked; otherwise the one successful create event of
   * this step that no other handle claimed is taken.
   */
  private label(name: string, handle: Handle | undefined): void {
    const withIds = this.bridge as Bridge & { fileObjectId?: (h: Handle) => bigint };
    if (handle && typeof withIds.fileObjectId === 'function') {
      try {
        this.labels.set(withIds.fileObjectId(handle), name);
        return;
      } catch {
        // fall back to the events
      }
    }
    const creates = this.events.filter(
      (e) =>
        e.type === 'create' &&
        ntSuccess(e.status) === (handle !== undefined) &&
        !this.labels.has(e.fileObjectId),
    );
    if (creates.length === 1 && creates[0]) this.labels.set(creates[0].fileObjectId, name);
  }

  /** Runtime state of a handle name: undefined when never opened. */
  handleState(name: string): 'pending' | 'open' | 'failed' | 'closed' | undefined {
    return this.slots.get(name)?.state;
  }

  private slot(name: string): { handle?: Handle; why?: string } {
    const slot = this.slots.get(name);
    if (!slot) return { why: `handle '${name}' was never opened` };
    switch (slot.state) {
      case 'open':
        return slot.handle ? { handle: slot.handle } : { why: `handle '${name}' is not open` };
      case 'pending':
        return {
          why: `handle '${name}' is not open yet: its open (step ${slot.openStep}) is still in flight`,
        };
      case 'failed':
        return {
          why: `handle '${name}' is not open: its open (step ${slot.openStep}) failed with ${statusName(slot.status)}`,
        };
      case 'closed':
        return { why: `handle '${name}' is closed` };
    }
  }

  private bindOpen(step: Step, result: IoResult & { handle?: Handle }): void {
    if (step.verb !== 'open') return;
    const slot = this.slots.get(step.handle);
    if (!slot || slot.openStep !== step.id) return;
    slot.status = result.status;
    if (result.handle && ntSuccess(result.status)) {
      slot.state = 'open';
      slot.handle = result.handle;
      this.label(step.handle, result.handle);
      this.handles.set(step.handle, {
        handle: result.handle,
        path: step.path,
        process: step.process ?? result.handle.process,
      });
    } else {
      slot.state = 'failed';
      this.label(step.handle, undefined);
    }
  }

  /** Issue one step and record what happened. */
  async step(step: Step): Promise<StepResult> {
    const started = performance.now();
    this.options.onStepStart?.(step);
    this.events = [];
    let request: IoRequest<IoResult> | undefined;
    let error: string | undefined;
    let skipped: string | undefined;
    let ownStatus: number | undefined;
    let ownInformation: bigint | undefined;
    try {
      const issued = await this.issue(step);
      if (typeof issued === 'string') skipped = issued;
      else if (issued && 'status' in issued) {
        ownStatus = issued.status;
        ownInformation = issued.information;
      } else request = issued;
    } catch (e) {
      if (e instanceof FltBridgeError) error = `${e.name}: ${e.message}`;
      else throw e;
    }
    await this.settle();

    const breaks: BreakActual[] = [];
    const completes: CompletionActual[] = [];
    this.collectCompletions(
      request,
      breaks,
      completes,
      step.verb === 'close' ? step.handle : undefined,
    );

    let status = ownStatus;
    let information = ownInformation;
    let pending = false;
    let bytes: bigint | undefined;
    let data: Uint8Array | undefined;
    let level: OplockLevel | undefined;
    let ackRequired: boolean | undefined;
    if (request) {
      const done = request.completed;
      const tracked = this.requests.get(step.id);
      if (done) {
        if (tracked) tracked.reported = true;
        status = done.status;
        information = done.information;
        this.bindOpen(step, done);
        if (step.verb === 'read') {
          data = (done as ReadResult).data;
          bytes = done.information;
        }
        if (step.verb === 'write') bytes = done.information;
        if (step.verb === 'oplock' || step.verb === 'ack' || step.verb === 'break-notify') {
          const o = done as OplockResult;
          level = o.newLevel;
          ackRequired = o.ackRequired;
        }
      } else {
        pending = true;
      }
    }
    if (step.verb === 'close' && !error && !skipped) {
      const slot = this.slots.get(step.handle);
      if (slot) slot.state = 'closed';
      this.handles.delete(step.handle);
    }
    const actual: StepActual = {
      status,
      information,
      pending,
      bytes,
      data,
      level,
      ackRequired,
      breaks,
      completes,
      events: this.events,
      error,
      skipped,
    };
    const failures = checkStep(step, actual);
    const result: StepResult = {
      step,
      actual,
      failures,
      durationMs: performance.now() - started,
    };
    if (pending) this.deferred.set(step.id, result);
    this.results.push(result);
    this.options.observer?.afterStep?.(result, this);
    this.options.onStepEnd?.(result, this);
    return result;
  }

  /** Report requests that completed since the last look, as breaks or completions. */
  private collectCompletions(
    current: IoRequest<IoResult> | undefined,
    breaks: BreakActual[],
    completes: CompletionActual[],
    closing?: string,
  ): void {
    const done = [...this.requests.values()]
      .filter((t) => !t.reported && t.request !== current && t.request.completed !== undefined)
      .sort((a, b) => (a.completedOrder || 1e12) - (b.completedOrder || 1e12));
    for (const t of done) {
      t.reported = true;
      const r = t.request.completed as IoResult;
      const step = t.step;
      this.bindOpen(step, r);
      const held = this.heldLevels.get(step.id);
      const isOplockHold = (step.verb === 'oplock' || step.verb === 'ack') && held !== undefined;
      // A held legacy oplock ends with STATUS_SUCCESS (FILE_OPLOCK_BROKEN_TO_NONE) when its own
      // handle closes: that is the close, not a break.
      const ownClose = closing !== undefined && (closing === '*' || t.handle === closing);
      if (isOplockHold && r.status === NtStatus.STATUS_SUCCESS && !ownClose) {
        const o = r as OplockResult;
        const from = o.originalLevel ?? held;
        const to = o.newLevel ?? levelFromInformation(r.information);
        const ackRequired =
          o.ackRequired ??
          (from !== undefined && isLegacyLevel(from) ? from !== 'LEVEL2' : undefined);
        breaks.push({
          handle: t.handle ?? '?',
          request: step.id,
          from,
          to,
          ackRequired,
          status: r.status,
          information: r.information,
        });
      } else {
        completes.push({
          step: step.id,
          verb: step.verb,
          handle: t.handle,
          status: r.status,
          information: r.information,
        });
      }
      const owner = this.deferred.get(step.id);
      if (owner) {
        this.deferred.delete(step.id);
        owner.failures.push(...checkCompletion(owner.step, r));
      }
    }
  }

  /**
   * Issue the step: returns the request, a string saying why it was skipped, a synchronous
   * result (cancel, wait, sleep), or undefined.
   */
  private async issue(step: Step): Promise<IoRequest<IoResult> | string | IoResult | undefined> {
    const b = this.bridge;
    if (step.verb === 'cancel') {
      const target = this.requests.get(step.target);
      if (!target) return `step ${step.target} issued no request`;
      const cancelled = await b.cancel(target.request);
      return {
        status: cancelled ? NtStatus.STATUS_SUCCESS : NtStatus.STATUS_NOT_FOUND,
        information: 0n,
      };
    }
    if (step.verb === 'wait') {
      const targets = step.targets.map((t) => this.requests.get(t)).filter((t) => t !== undefined);
      if (targets.length === 0) return 'the steps it waits for issued no request';
      const all = Promise.all(targets.map((t) => t.request.result)).then(() => true);
      if (!this.asyncBackend) {
        await this.bridge.settle();
        const ok = targets.every((t) => t.request.completed !== undefined);
        return { status: ok ? NtStatus.STATUS_SUCCESS : NtStatus.STATUS_TIMEOUT, information: 0n };
      }
      const timeout = step.timeoutMs ?? this.options.waitTimeoutMs ?? 5000;
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        all,
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeout);
        }),
      ]);
      if (timer) clearTimeout(timer);
      return { status: ok ? NtStatus.STATUS_SUCCESS : NtStatus.STATUS_TIMEOUT, information: 0n };
    }
    if (step.verb === 'sleep') {
      if (this.asyncBackend) await sleep(step.ms);
      return { status: NtStatus.STATUS_SUCCESS, information: 0n };
    }
    if (step.verb === 'open') {
      const req = b.open(this.path(step.path), {
        ...(step.access !== undefined ? { access: step.access } : {}),
        ...(step.share !== undefined ? { share: step.share } : {}),
        ...(step.disposition !== undefined ? { disposition: step.disposition } : {}),
        ...(step.options !== undefined ? { options: step.options } : {}),
        ...(step.overlapped !== undefined ? { overlapped: step.overlapped } : {}),
        ...(step.oplockKey !== undefined ? { oplockKey: step.oplockKey } : {}),
        ...(step.process !== undefined ? { process: step.process } : {}),
        ...(step.allocationSize !== undefined ? { allocationSize: step.allocationSize } : {}),
      });
      this.slots.set(step.handle, {
        state: 'pending',
        path: step.path,
        process: step.process ?? 1,
        openStep: step.id,
      });
      this.track(step, req, step.handle);
      return req;
    }
    const { handle, why } = this.slot(step.handle);
    if (!handle) return why;
    const proc = (s: { process?: number }) =>
      s.process !== undefined ? { process: s.process } : {};
    const key = (s: { key?: number }) => (s.key !== undefined ? { key: s.key } : {});
    let req: IoRequest<IoResult>;
    switch (step.verb) {
      case 'close':
        req = b.close(handle);
        break;
      case 'oplock':
        req = b.requestOplock(
          handle,
          isLegacyLevel(step.level)
            ? { level: step.level }
            : {
                level: step.level as 'R' | 'RW' | 'RH' | 'RWH',
                ...(step.completeAckOnClose !== undefined
                  ? { completeAckOnClose: step.completeAckOnClose }
                  : {}),
              },
        );
        break;
      case 'ack':
        req = b.acknowledgeOplock(
          handle,
          step.kind === 'ack'
            ? {
                kind: 'ack',
                level: step.level ?? 'NONE',
                ...(step.completeAckOnClose !== undefined
                  ? { completeAckOnClose: step.completeAckOnClose }
                  : {}),
              }
            : { kind: step.kind },
        );
        break;
      case 'break-notify':
        req = b.acknowledgeOplock(handle, { kind: 'break-notify' });
        break;
      case 'read':
        req = b.read(handle, {
          offset: step.offset,
          length: step.length,
          ...key(step),
          ...proc(step),
        });
        break;
      case 'write':
        req = b.write(handle, {
          offset: step.offset,
          data: typeof step.data === 'number' ? step.data : new TextEncoder().encode(step.data),
          ...key(step),
          ...proc(step),
        });
        break;
      case 'lock':
        req = b.lock(handle, {
          offset: step.offset,
          length: step.length,
          exclusive: step.exclusive,
          failImmediately: !step.wait,
          ...key(step),
          ...proc(step),
        });
        break;
      case 'unlock':
        req = b.unlock(handle, {
          offset: step.offset,
          length: step.length,
          ...key(step),
          ...proc(step),
        });
        break;
      case 'unlock-all':
        req = b.unlockAll(handle, { ...proc(step) });
        break;
      case 'unlock-all-by-key':
        req = b.unlockAll(handle, { key: step.key, ...proc(step) });
        break;
      case 'set-information': {
        const i = step.info;
        req = b.setInformation(
          handle,
          i.class === 'rename'
            ? { class: 'rename', target: this.path(i.target), replaceIfExists: i.replaceIfExists }
            : i,
        );
        break;
      }
      case 'flush':
        req = b.flush(handle);
        break;
    }
    this.track(step, req, step.handle);
    return req;
  }

  /** Close every handle still open, settle, and record what completed. */
  async teardown(): Promise<TeardownResult> {
    this.events = [];
    const breaks: BreakActual[] = [];
    const completes: CompletionActual[] = [];
    const closes = new Map<string, IoRequest<IoResult>>();
    for (let round = 0; round < 4; round++) {
      this.collectCompletions(undefined, breaks, completes, '*');
      const open = [...this.slots.values()].filter((s) => s.state === 'open' && s.handle);
      if (open.length === 0) break;
      for (const [name, slot] of [...this.slots].filter(([, sl]) => open.includes(sl))) {
        try {
          closes.set(name, this.bridge.close(slot.handle as Handle));
          slot.state = 'closed';
          await this.settle();
        } catch (e) {
          if (!(e instanceof FltBridgeError)) throw e;
          slot.state = 'closed';
        }
      }
      await this.settle();
    }
    this.handles.clear();
    this.collectCompletions(undefined, breaks, completes, '*');
    // The processes exit: the I/O manager cancels every request their threads still have in
    // flight (IoCancelThreadIo at thread rundown), e.g. a lock another process issued through a
    // handle that is now closed, or I/O a synchronous handle is blocked on.
    const exiting = [...this.requests.values()].filter((t) => t.request.completed === undefined);
    const cancelledAtExit: string[] = [];
    for (const t of exiting) {
      try {
        if (await this.bridge.cancel(t.request)) cancelledAtExit.push(t.step.id);
      } catch (e) {
        if (!(e instanceof FltBridgeError)) throw e;
      }
    }
    if (exiting.length > 0) {
      await this.settle();
      this.collectCompletions(undefined, breaks, completes, '*');
    }
    const leftInFlight = [...this.requests.values()]
      .filter((t) => t.request.completed === undefined)
      .map((t) => t.step.id);
    for (const id of leftInFlight) {
      const owner = this.deferred.get(id);
      if (owner?.step.expect?.status) {
        owner.failures.push({
          field: 'status',
          expected: 'completes',
          actual: 'still in flight after every handle was closed',
          line: owner.step.line,
        });
      }
    }
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const unclosed = [
      ...[...closes].filter(([, r]) => r.completed === undefined).map(([name]) => name),
      ...[...this.requests.values()]
        .filter((t) => t.step.verb === 'close' && t.request.completed === undefined)
        .map((t) => t.handle ?? '?'),
    ];
    const result: TeardownResult = {
      completes,
      breaks,
      cancelledAtExit,
      leftInFlight,
      unclosed,
      events: this.events,
    };
    this.teardownResult = result;
    this.options.observer?.afterTeardown?.(result, this);
    this.options.onTeardown?.(result, this);
    return result;
  }

  /** Unsubscribe without closing anything. */
  detach(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  summary(durationMs: number): ScenarioResult {
    const violations = this.options.observer?.violations() ?? [];
    const failed =
      this.fatal !== undefined ||
      violations.length > 0 ||
      this.results.some((r) => r.failures.length > 0);
    return {
      scenario: this.scenario,
      backend: this.bridge.backend,
      steps: this.results,
      teardown: this.teardownResult,
      violations,
      fatal: this.fatal,
      passed: !failed,
      durationMs,
      labels: this.labels,
    };
  }
}

function statusName(code: number | undefined): string {
  return code === undefined ? 'an unknown status' : formatNtStatus(code);
}

export class SetupError extends Error {
  constructor(
    readonly path: string,
    readonly line: number,
    readonly status: number,
    why?: string,
  ) {
    super(`setup: creating '${path}' failed with ${why ?? statusName(status)}`);
  }
}

/** Run a whole scenario on a bridge (the caller creates and disposes the bridge). */
export async function runScenario(
  scenario: Scenario,
  bridge: Bridge,
  options: RunOptions = {},
): Promise<ScenarioResult> {
  const started = performance.now();
  // `invariants: true` in the file turns the checks on wherever the scenario runs.
  const run = new ScenarioRun(
    scenario,
    bridge,
    scenario.invariants && !options.observer
      ? { ...options, observer: new InvariantChecker() }
      : options,
  );
  try {
    await run.setup();
    for (const step of scenario.steps) await run.step(step);
    if (!options.skipTeardown) await run.teardown();
    else run.detach();
  } catch (error) {
    run.detach();
    if (error instanceof SetupError) run.fatal = error.message;
    else if (error instanceof FltBridgeError) run.fatal = `${error.name}: ${error.message}`;
    else
      run.fatal = `backend crashed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  }
  return run.summary(performance.now() - started);
}
