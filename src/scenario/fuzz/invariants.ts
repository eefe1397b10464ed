/**
 * Invariants every backend must keep, checked while a scenario runs (fuzz always, run with
 * --invariants or `invariants: true`). They are deliberately conservative: each one states
 * something Windows guarantees whatever the exact rules, so a violation is a bug, never a
 * difference of opinion about a corner of [MS-FSA].
 *
 *  - exclusive-oplocks: while a LEVEL1, BATCH, FILTER, RW or RWH request is held on a stream, no
 *    request from another handle with a different oplock key is held there too.
 *  - conflicting-locks: a granted exclusive range overlaps no other granted range; a granted
 *    shared range overlaps no exclusive range held through another handle (zero-length ranges
 *    never conflict).
 *  - pending-after-close: once every handle is closed, the processes have exited (which cancels
 *    their threads' I/O) and the backend settled, nothing is in flight.
 *  - completes-once: an oplock request ends once (one oplock-break or oplock-completed event), a
 *    waiting lock ends once; a request's result promise and `completed` agree and do not change.
 *  - event-sequence: sequence numbers go up by one; the model never drops events.
 *  - known-status: every status (results and events) is in the NTSTATUS table.
 *  - open-result / read-result: an open succeeds with a handle and fails without one; a read
 *    returns no more bytes than asked, and Information says how many.
 */

import { type BridgeEvent, LockFlag } from '../../bridge/events.js';
import type { OplockLevel } from '../../bridge/flags.js';
import { formatNtStatus, ntStatusInfo, ntSuccess } from '../../bridge/ntstatus.js';
import type { OpenResult, ReadResult } from '../../bridge/types.js';
import type { RunObserver, RunView, StepResult, TeardownResult, Violation } from '../runner.js';
import type { Step } from '../schema.js';

const EXCLUSIVE_LEVELS: ReadonlySet<OplockLevel> = new Set([
  'LEVEL1',
  'BATCH',
  'FILTER',
  'RW',
  'RWH',
]);

interface Held {
  readonly step: string;
  readonly handle: string;
  /** The open step that made the handle (names are reused after a close). */
  readonly instance: string;
  readonly stream: number;
  readonly level: OplockLevel;
  readonly key: string;
}

interface Granted {
  readonly step: string;
  readonly handle: string;
  readonly instance: string;
  readonly stream: number;
  readonly offset: bigint;
  readonly length: bigint;
  readonly exclusive: boolean;
  readonly key: number;
}

const MAX_VIOLATIONS = 20;

export class InvariantChecker implements RunObserver {
  private readonly found: Violation[] = [];
  private lastSeq: bigint | undefined;
  private readonly oplockEnds = new Map<bigint, number>();
  private readonly lockEnds = new Map<bigint, number>();
  private readonly held = new Map<string, Held>();
  private granted: Granted[] = [];
  /** Stream per lower-cased path, and per handle name. */
  private readonly pathStream = new Map<string, number>();
  private readonly handleStream = new Map<string, number>();
  private readonly handleKey = new Map<string, string>();
  /** Handle name -> the open step of the handle it names now; closed instances. */
  private readonly instances = new Map<string, string>();
  private readonly closed = new Set<string>();
  private readonly firstStatus = new Map<string, number>();
  private nextStream = 1;
  private currentStep = -1;

  violations(): readonly Violation[] {
    return this.found;
  }

  private violate(invariant: string, message: string, step = this.currentStep): void {
    if (this.found.length >= MAX_VIOLATIONS) return;
    if (this.found.some((v) => v.invariant === invariant && v.message === message)) return;
    this.found.push({ invariant, message, step });
  }

  private knownStatus(code: number | undefined, what: string): void {
    if (code !== undefined && !ntStatusInfo(code)) {
      this.violate(
        'known-status',
        `${what} has status ${formatNtStatus(code)}, which is not in the table`,
      );
    }
  }

  onEvent(e: BridgeEvent, view: RunView): void {
    if (this.lastSeq !== undefined && e.seq !== this.lastSeq + 1n && e.type !== 'dropped') {
      this.violate(
        'event-sequence',
        `event seq ${e.seq} follows ${this.lastSeq} (a gap without a dropped record)`,
      );
    }
    if (e.type === 'dropped' && view.bridge.backend === 'model') {
      this.violate('event-sequence', `the model dropped ${e.count} event(s)`);
    }
    this.lastSeq = e.type === 'dropped' ? e.firstSequence + e.count - 1n : e.seq;
    this.knownStatus(e.status, `${e.type} event seq ${e.seq}`);
    if (e.type === 'oplock-break' || e.type === 'oplock-completed') {
      const n = (this.oplockEnds.get(e.operationId) ?? 0) + 1;
      this.oplockEnds.set(e.operationId, n);
      if (n > 1)
        this.violate(
          'completes-once',
          `oplock request op ${e.operationId} ended ${n} times (seq ${e.seq})`,
        );
    }
    if (
      (e.type === 'lock-granted' || e.type === 'lock-denied') &&
      e.lockFlags & LockFlag.AFTER_WAIT
    ) {
      const n = (this.lockEnds.get(e.operationId) ?? 0) + 1;
      this.lockEnds.set(e.operationId, n);
      if (n > 1)
        this.violate(
          'completes-once',
          `waiting lock op ${e.operationId} ended ${n} times (seq ${e.seq})`,
        );
    }
  }

  private streamFor(path: string): number {
    const key = path.toLowerCase();
    let s = this.pathStream.get(key);
    if (s === undefined) {
      s = this.nextStream++;
      this.pathStream.set(key, s);
    }
    return s;
  }

  afterStep(result: StepResult, view: RunView): void {
    const { step, actual } = result;
    this.currentStep = step.index;
    this.knownStatus(actual.status, `step ${step.index + 1} (${step.verb})`);
    for (const b of actual.breaks) this.knownStatus(b.status, `the break of step ${b.request}`);
    for (const c of actual.completes)
      this.knownStatus(c.status, `the completion of step ${c.step}`);

    // The step's own effect first (an unlock or close releases ranges before the waiters it
    // lets through are granted), then what completed because of it.
    if (!actual.pending && actual.status !== undefined) this.settled(step, actual.status, view);
    // Requests that ended during this step are no longer held.
    for (const b of actual.breaks) this.held.delete(b.request);
    for (const c of actual.completes) {
      this.held.delete(c.step);
      const owner = view.requests.get(c.step);
      if (owner) this.settled(owner.step, c.status, view);
    }
    const tracked = view.requests.get(step.id);
    if (tracked?.request.completed) {
      this.firstStatus.set(step.id, tracked.request.completed.status);
    }
    for (const c of actual.completes) this.firstStatus.set(c.step, c.status);
    for (const b of actual.breaks) this.firstStatus.set(b.request, b.status);

    if (actual.pending && (step.verb === 'oplock' || step.verb === 'ack') && 'handle' in step) {
      const level =
        step.verb === 'oplock'
          ? step.level
          : step.kind === 'ack'
            ? step.level
            : step.kind === 'acknowledge'
              ? 'LEVEL2'
              : undefined;
      const stream = this.handleStream.get(step.handle);
      const instance = this.instances.get(step.handle);
      if (
        level !== undefined &&
        level !== 'NONE' &&
        stream !== undefined &&
        instance !== undefined
      ) {
        this.held.set(step.id, {
          step: step.id,
          handle: step.handle,
          instance,
          stream,
          level,
          key: this.handleKey.get(step.handle) ?? `handle:${step.handle}`,
        });
      }
    }
    this.checkOplocks();
  }

  /** A step's own request completed with `status` (now or later). */
  private settled(step: Step, status: number, view: RunView): void {
    switch (step.verb) {
      case 'open': {
        const r = view.requests.get(step.id)?.request.completed as OpenResult | undefined;
        if (r && ntSuccess(r.status) !== Boolean(r.handle)) {
          this.violate(
            'open-result',
            `open of step ${step.id} completed with ${formatNtStatus(r.status)} ${r.handle ? 'and' : 'but without'} a handle`,
          );
        }
        if (ntSuccess(status)) {
          this.handleStream.set(step.handle, this.streamFor(step.path));
          this.instances.set(step.handle, step.id);
          this.handleKey.set(step.handle, step.oplockKey ?? `handle:${step.handle}:${step.id}`);
        }
        break;
      }
      case 'read': {
        const r = view.requests.get(step.id)?.request.completed as ReadResult | undefined;
        if (r && ntSuccess(r.status)) {
          if (r.information > BigInt(step.length)) {
            this.violate(
              'read-result',
              `read of step ${step.id} returned ${r.information} bytes for a ${step.length}-byte request`,
            );
          }
          if (r.data && BigInt(r.data.length) !== r.information) {
            this.violate(
              'read-result',
              `read of step ${step.id} has ${r.data.length} data bytes but Information ${r.information}`,
            );
          }
        }
        break;
      }
      case 'lock':
        if (status === 0) this.grant(step);
        break;
      case 'unlock':
        if (status === 0) {
          const inst = this.instances.get(step.handle);
          const exact = this.granted.findIndex(
            (g) =>
              g.instance === inst &&
              g.offset === step.offset &&
              g.length === step.length &&
              g.key === (step.key ?? 0),
          );
          const loose =
            exact >= 0
              ? exact
              : this.granted.findIndex(
                  (g) =>
                    g.instance === inst && g.offset === step.offset && g.length === step.length,
                );
          if (loose >= 0) this.granted.splice(loose, 1);
        }
        break;
      case 'unlock-all': {
        const inst = this.instances.get(step.handle);
        if (ntSuccess(status)) this.granted = this.granted.filter((g) => g.instance !== inst);
        break;
      }
      case 'unlock-all-by-key': {
        const inst = this.instances.get(step.handle);
        if (ntSuccess(status)) {
          this.granted = this.granted.filter((g) => !(g.instance === inst && g.key === step.key));
        }
        break;
      }
      case 'close': {
        // Generous on purpose: everything held through the handle is forgotten (locks another
        // process took through it may outlive the close on Windows; forgetting them can only
        // hide a violation, never invent one).
        const inst = this.instances.get(step.handle);
        if (inst !== undefined) this.closed.add(inst);
        this.granted = this.granted.filter((g) => g.instance !== inst);
        break;
      }
      case 'set-information':
        if (ntSuccess(status) && step.info.class === 'rename') {
          const stream = this.handleStream.get(step.handle);
          if (stream !== undefined) {
            for (const [p, s] of this.pathStream) if (s === stream) this.pathStream.delete(p);
            this.pathStream.set(step.info.target.toLowerCase(), stream);
          }
        }
        break;
      default:
        break;
    }
  }

  private grant(step: Extract<Step, { verb: 'lock' }>): void {
    const stream = this.handleStream.get(step.handle);
    const instance = this.instances.get(step.handle);
    if (stream === undefined || instance === undefined || this.closed.has(instance)) return;
    const g: Granted = {
      step: step.id,
      handle: step.handle,
      instance,
      stream,
      offset: step.offset,
      length: step.length,
      exclusive: step.exclusive,
      key: step.key ?? 0,
    };
    if (g.length > 0n) {
      for (const other of this.granted) {
        if (other.stream !== stream || other.length === 0n) continue;
        const overlap =
          g.offset < other.offset + other.length && other.offset < g.offset + g.length;
        if (!overlap) continue;
        const conflict = g.exclusive || (other.exclusive && other.instance !== g.instance);
        if (conflict) {
          this.violate(
            'conflicting-locks',
            `step ${step.id} was granted ${g.exclusive ? 'an exclusive' : 'a shared'} lock [${g.offset}, +${g.length}) on ${g.handle} although step ${other.step} holds ${other.exclusive ? 'an exclusive' : 'a shared'} lock [${other.offset}, +${other.length}) on ${other.handle}`,
          );
        }
      }
    }
    this.granted.push(g);
  }

  private checkOplocks(): void {
    const byStream = new Map<number, Held[]>();
    for (const h of this.held.values()) {
      const list = byStream.get(h.stream) ?? [];
      list.push(h);
      byStream.set(h.stream, list);
    }
    for (const list of byStream.values()) {
      for (const a of list) {
        if (!EXCLUSIVE_LEVELS.has(a.level)) continue;
        for (const b of list) {
          if (a === b || a.key === b.key || a.instance === b.instance) continue;
          this.violate(
            'exclusive-oplocks',
            `${a.level} (step ${a.step}, ${a.handle}) and ${b.level} (step ${b.step}, ${b.handle}) are held on the same file by handles with different oplock keys`,
          );
        }
      }
    }
  }

  afterTeardown(teardown: TeardownResult, view: RunView): void {
    this.currentStep = -1;
    for (const id of teardown.leftInFlight) {
      const t = view.requests.get(id);
      this.violate(
        'pending-after-close',
        `step ${id} (${t?.step.verb ?? '?'}) is still in flight after every handle was closed and the processes exited`,
        -1,
      );
    }
    for (const [id, t] of view.requests) {
      const done = t.request.completed;
      if (!done) continue;
      if (t.resolutions === 0) {
        this.violate(
          'completes-once',
          `step ${id} has a completed result but its promise never resolved`,
          -1,
        );
      } else if (
        t.resolved &&
        (t.resolved.status !== done.status || t.resolved.information !== done.information)
      ) {
        this.violate(
          'completes-once',
          `step ${id}: completed says ${formatNtStatus(done.status)} but the promise resolved with ${formatNtStatus(t.resolved.status)}`,
          -1,
        );
      }
      const first = this.firstStatus.get(id);
      if (first !== undefined && first !== done.status) {
        this.violate(
          'completes-once',
          `step ${id} completed with ${formatNtStatus(first)} and later reports ${formatNtStatus(done.status)}`,
          -1,
        );
      }
    }
  }
}
