/**
 * Twin of driver/src/events.c: the bounded event queue, sequence numbers, drop accounting and
 * batch copy-out.
 *
 * Rules (docs/events.md "Drops", fltbridge_proto.h "Event batches", research note §2 item 2),
 * as driver/src/events.c keeps them:
 *   - nothing is produced while nobody subscribes to events (HELLO with FLTB_CAP_EVENT_BATCHES,
 *     or the model backend's own consumer), and an event whose type is outside the event-type
 *     mask is never produced: neither takes a sequence number;
 *   - every produced event takes the next sequence number at production, before it can be
 *     dropped, so losses are exact gaps;
 *   - an event fits while fewer than `limit` records are queued (and the queue stays within
 *     FB_QUEUE_BYTE_LIMIT bytes); one that does not fit is dropped (queued records never are)
 *     and joins the current run of drops;
 *   - a run of drops becomes one `dropped` record (flag SYNTHETIC, seq == firstSequence),
 *     placed in the queue ahead of the next event that fits (so the queue can hold one record
 *     more than the limit for a moment, as the driver's);
 *   - FLUSH_EVENTS with DISCARD turns every queued record into drops the same way.
 *
 * Counters: `produced` counts sequence numbers handed out; `delivered` counts events (not
 * synthetic records) handed to a consumer; `dropped` counts events lost. At any time
 * produced == delivered + dropped + (events waiting in the queue), which the tests check.
 * `perTypeProduced[type]` counts produced events by FLTB_EVENT_* type (synthetic `dropped`
 * records are not produced events: slot 1 stays 0).
 *
 * One queue: the driver keeps one per subscribed connection (each gets a copy of every
 * event); the model has one consumer at a time (the backend, or one port connection).
 *
 * Timestamps come from a logical clock: MODEL_EPOCH plus one 100 ns tick per sequence number, so
 * the same inputs give the same records.
 */

import {
  type BridgeEvent,
  type DroppedEvent,
  EVENT_MASK_ALL,
  type EventType,
  eventTypeToWire,
  RecordFlag,
} from '../../bridge/events.js';
import {
  alignUp,
  FLTB_BATCH_HEADER,
  FLTB_EVENT_TYPE_SLOTS,
  FLTB_MAX_NAME_BYTES,
  FLTB_QUEUE_LIMIT_DEFAULT,
  FLTB_RECORD_HEADER,
  payloadBytes,
} from '../../protocol/layout.js';

/** FB_QUEUE_BYTE_LIMIT (driver.h): bytes a queue may hold. */
export const QUEUE_BYTE_LIMIT = 64 * 1024 * 1024;

/** 2024-01-01T00:00:00Z as a Windows FILETIME (100 ns units since 1601-01-01). */
export const MODEL_EPOCH = 133_485_408_000_000_000n;

/** Bytes of the record header (FLTB_RECORD_HEADER). */
export const RECORD_HEADER_BYTES = FLTB_RECORD_HEADER.size;
/** Bytes of the batch header (FLTB_BATCH_HEADER). */
export const BATCH_HEADER_BYTES = FLTB_BATCH_HEADER.size;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event as an operation describes it; the queue adds seq and timestamp. */
export type EventInit = DistributiveOmit<Exclude<BridgeEvent, DroppedEvent>, 'seq' | 'timestamp'>;

/** Bytes the record takes in a batch: header, payload, name padded to 8 (fltbridge_proto.h). */
export function recordBytes(event: BridgeEvent): number {
  const nameBytes = event.name === undefined ? 0 : event.name.length * 2;
  return RECORD_HEADER_BYTES + payloadBytes(eventTypeToWire(event.type)) + alignUp(nameBytes);
}

export interface EventQueueOptions {
  readonly limit?: number;
  readonly mask?: bigint;
  /** Subscribers to start with (default 1: whoever calls take(); the filter starts with 0). */
  readonly subscribers?: number;
}

export interface EventQueueStats {
  readonly produced: bigint;
  readonly delivered: bigint;
  readonly dropped: bigint;
  readonly nextSequence: bigint;
  readonly depth: number;
  readonly limit: number;
  readonly perTypeProduced: readonly bigint[];
}

interface DropRun {
  first: bigint;
  count: bigint;
}

export class EventQueue {
  #limit: number;
  #mask: bigint;
  #next = 1n;
  #records: BridgeEvent[] = [];
  #head = 0;
  #run: DropRun | undefined;
  #bytes = 0;
  #subscribers: number;
  #produced = 0n;
  #delivered = 0n;
  #dropped = 0n;
  readonly #perType: bigint[] = new Array<bigint>(FLTB_EVENT_TYPE_SLOTS).fill(0n);
  /** Called after every production attempt that queued something (the drain's wake-up). */
  onQueued: (() => void) | undefined;

  constructor(options: EventQueueOptions = {}) {
    this.#limit = options.limit ?? FLTB_QUEUE_LIMIT_DEFAULT;
    this.#mask = options.mask ?? EVENT_MASK_ALL;
    this.#subscribers = options.subscribers ?? 1;
  }

  get subscribers(): number {
    return this.#subscribers;
  }

  /** A consumer subscribes (FbEventsSubscribe). */
  subscribe(): void {
    this.#subscribers += 1;
  }

  /** A consumer goes away; with the last one, what is queued goes too (silently). */
  unsubscribe(): void {
    if (this.#subscribers === 0) return;
    this.#subscribers -= 1;
    if (this.#subscribers === 0) this.forgetBefore(this.#next);
  }

  get limit(): number {
    return this.#limit;
  }

  /** A new limit applies to events produced afterwards; queued records stay. */
  set limit(value: number) {
    this.#limit = value;
  }

  get mask(): bigint {
    return this.#mask;
  }

  set mask(value: bigint) {
    this.#mask = value & EVENT_MASK_ALL;
  }

  get nextSequence(): bigint {
    return this.#next;
  }

  /** Records waiting (dropped records included). */
  get depth(): number {
    return this.#records.length - this.#head;
  }

  /** Would an event of this type be produced (is it in the mask)? */
  wants(type: EventType): boolean {
    return (this.#mask & (1n << BigInt(eventTypeToWire(type)))) !== 0n;
  }

  /**
   * Produce an event: assign its sequence number and timestamp and queue it, or count it as
   * dropped. Returns the sequence number, or undefined when the mask filters the type out.
   */
  produce(init: EventInit): bigint | undefined {
    if (this.#subscribers === 0 || !this.wants(init.type)) return undefined;
    const seq = this.#next;
    this.#next += 1n;
    this.#produced += 1n;
    const wire = eventTypeToWire(init.type);
    this.#perType[wire] = (this.#perType[wire] ?? 0n) + 1n;
    let event = { ...init, seq, timestamp: MODEL_EPOCH + seq } as BridgeEvent;
    if (event.name !== undefined && event.name.length * 2 > FLTB_MAX_NAME_BYTES) {
      event = {
        ...event,
        name: event.name.slice(0, FLTB_MAX_NAME_BYTES / 2),
        flags: event.flags | RecordFlag.NAME_TRUNCATED,
      };
    }
    const size = recordBytes(event);
    if (this.depth >= this.#limit || this.#bytes + size > QUEUE_BYTE_LIMIT) {
      this.#dropped += 1n;
      if (this.#run) this.#run.count += 1n;
      else this.#run = { first: seq, count: 1n };
      return seq;
    }
    if (this.#run) {
      const dropped = droppedRecord(this.#run);
      this.#records.push(dropped);
      this.#bytes += recordBytes(dropped);
      this.#run = undefined;
    }
    this.#records.push(event);
    this.#bytes += size;
    this.onQueued?.();
    return seq;
  }

  /**
   * Take whole records from the front while the batch (header included) stays within
   * `maxBytes`; at most `maxRecords`. Taken events count as delivered.
   */
  take(maxBytes: number = Number.POSITIVE_INFINITY, maxRecords = Number.POSITIVE_INFINITY) {
    const out: BridgeEvent[] = [];
    let bytes = BATCH_HEADER_BYTES;
    while (this.#head < this.#records.length && out.length < maxRecords) {
      const record = this.#records[this.#head] as BridgeEvent;
      const size = recordBytes(record);
      if (bytes + size > maxBytes) break;
      bytes += size;
      out.push(record);
      this.#head += 1;
      this.#bytes -= size;
      if (record.type !== 'dropped') this.#delivered += 1n;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  /** Records waiting, oldest first, without taking them. */
  peek(): readonly BridgeEvent[] {
    return this.#records.slice(this.#head);
  }

  /**
   * FLUSH_EVENTS with DISCARD: every queued record becomes part of a run of drops (merged with
   * the run not yet placed, if any). Returns the number of records discarded.
   */
  discard(): number {
    const queued = this.#records.slice(this.#head);
    this.#records = [];
    this.#head = 0;
    this.#bytes = 0;
    if (queued.length === 0) return 0;
    const first = queued[0] as BridgeEvent;
    const start = first.type === 'dropped' ? first.firstSequence : first.seq;
    let lost = 0n;
    for (const record of queued) if (record.type !== 'dropped') lost += 1n;
    this.#dropped += lost;
    // Every sequence number from `start` up to the next one is a queued record, inside a queued
    // dropped record, or inside the pending run: the union is one contiguous run.
    this.#run = { first: start, count: this.#next - start };
    return queued.length;
  }

  /**
   * Drop every record before `seq` without a `dropped` record (a new connection receives events
   * from HELLO's NextSequence onwards). The events count as dropped.
   */
  forgetBefore(seq: bigint): number {
    let forgotten = 0;
    while (this.#head < this.#records.length) {
      const record = this.#records[this.#head] as BridgeEvent;
      if (record.seq >= seq) break;
      if (record.type !== 'dropped') this.#dropped += 1n;
      this.#head += 1;
      this.#bytes -= recordBytes(record);
      forgotten += 1;
    }
    if (this.#run !== undefined && this.#run.first < seq) this.#run = undefined;
    return forgotten;
  }

  stats(): EventQueueStats {
    return {
      produced: this.#produced,
      delivered: this.#delivered,
      dropped: this.#dropped,
      nextSequence: this.#next,
      depth: this.depth,
      limit: this.#limit,
      perTypeProduced: [...this.#perType],
    };
  }

  /** Events (not synthetic records) waiting in the queue. */
  get waitingEvents(): number {
    let waiting = 0;
    for (let i = this.#head; i < this.#records.length; i += 1) {
      if (this.#records[i]?.type !== 'dropped') waiting += 1;
    }
    return waiting;
  }

  /** The run of drops not yet placed in the queue, if any. */
  get pendingDrops(): { readonly first: bigint; readonly count: bigint } | undefined {
    return this.#run ? { ...this.#run } : undefined;
  }
}

function droppedRecord(run: DropRun): DroppedEvent {
  return {
    type: 'dropped',
    seq: run.first,
    timestamp: MODEL_EPOCH + run.first,
    processId: 0,
    threadId: 0,
    streamId: 0n,
    fileObjectId: 0n,
    operationId: 0n,
    status: 0,
    flags: RecordFlag.SYNTHETIC,
    firstSequence: run.first,
    count: run.count,
  };
}
