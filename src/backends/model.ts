/**
 * The model backend: a Bridge over the in-process model, the embedded default backend.
 *
 *   Bridge call  ->  I/O manager twin (src/model/fs/iomanager.ts)
 *                ->  filter twin (src/model/filter)      records events
 *                ->  file system twin (src/model/fs/ntfs.ts)
 *
 * Default configuration: the whole model volume is managed (the filter owns oplocks and
 * byte-range locks, every event is visible); options add observe roots, restrict the managed
 * namespaces, set the queue limit and the event mask, and seed files and directories.
 *
 * Paths: `C:\dir\file.txt`, `\dir\file`, `/dir/file` and NT forms all name the same file, matched
 * case-insensitively as NTFS does (src/model/fs/path.ts).
 *
 * Requests: every call returns an IoRequest at once. When Windows would complete it
 * synchronously, `completed` is already set; otherwise it stays undefined until the model
 * completes it (an oplock held until a break, a lock waiting for a range, a create waiting for
 * an acknowledgement) and `result` resolves then. NTSTATUS failures are results, never rejections.
 * On a synchronous handle (overlapped: false) Windows blocks the calling thread; the model cannot
 * block, so such a request simply stays in flight until it completes, and later requests on the
 * same handle wait their turn (the I/O manager's file-object lock).
 *
 * Events: produced into the filter's bounded queue and delivered to subscribers in sequence order
 * at the end of every Bridge call (deliver: 'auto', the default), or only when settle() or
 * drainEvents() is called (deliver: 'manual'; lets a test overflow a small queue on purpose).
 * With `wire: true` they travel as the driver's bytes through the port twin (comm.ts) and the
 * protocol codec, exactly as the Windows backend receives them.
 *
 * Misuse throws typed errors (src/bridge/errors.ts): an unknown handle, a closed handle, bad
 * arguments, a disposed bridge.
 */

import {
  DisposedError,
  HandleClosedError,
  InvalidArgumentError,
  UnknownHandleError,
} from '../bridge/errors.js';
import {
  type BridgeEvent,
  EVENT_MASK_ALL,
  EVENT_TYPES,
  type EventType,
  eventMaskBit,
} from '../bridge/events.js';
import {
  AccessRight,
  CreateOption,
  OplockBreakInformation,
  type OplockLevel,
  parseAccess,
  parseCreateOptions,
  parseDisposition,
  parseShare,
  RequestOplockOutputFlag,
} from '../bridge/flags.js';
import { NtStatus } from '../bridge/ntstatus.js';
import type {
  Bridge,
  BridgeCapabilities,
  EventListener,
  Handle,
  IoRequest,
  IoResult,
  LockRequest,
  OpenOptions,
  OpenResult,
  OperationKind,
  OplockAcknowledge,
  OplockRequest,
  OplockResult,
  ReadRequest,
  ReadResult,
  SetInformationRequest,
  UnlockAllRequest,
  UnlockRequest,
  WriteRequest,
} from '../bridge/types.js';
import { CommPort, type Connection } from '../model/filter/comm.js';
import { FltBridgeFilter } from '../model/filter/filter.js';
import { isPolicyError, type NamespaceSpec, Policy } from '../model/filter/policy.js';
import { type IoCompletion, IoManager, type IoOperation } from '../model/fs/iomanager.js';
import {
  type FileObject,
  IRP_MN_LOCK,
  IRP_MN_UNLOCK_ALL,
  IRP_MN_UNLOCK_ALL_BY_KEY,
  IRP_MN_UNLOCK_SINGLE,
} from '../model/fs/irp.js';
import { FileSystem } from '../model/fs/ntfs.js';
import { parsePath } from '../model/fs/path.js';
import { levelOfBits } from '../model/oplock/levels.js';
import { decodeBatch } from '../protocol/batch.js';
import { encodeCommand, encodeConnectContext } from '../protocol/commands.js';
import { FLTB_CAP_ALL, FLTB_QUEUE_LIMIT_MAX, FLTB_QUEUE_LIMIT_MIN } from '../protocol/layout.js';
import * as args from './model/args.js';

/** A file to create before the first operation. */
export type ModelFileSpec =
  | bigint
  | number
  | string
  | Uint8Array
  | {
      /** End of file (the bytes read as zero). */
      readonly size?: bigint | number;
      /** Content (a string is stored as UTF-8). */
      readonly content?: string | Uint8Array;
      /** Create a directory instead. */
      readonly directory?: boolean;
      /** FILE_ATTRIBUTE_READONLY. */
      readonly readOnly?: boolean;
    };

export interface ModelBridgeOptions {
  /** Files to create first: path -> size, content, or a spec. Parents are created. */
  readonly files?: Readonly<Record<string, ModelFileSpec>>;
  /** Directories to create first. */
  readonly directories?: readonly string[];
  /** Namespaces the filter manages. Default: the whole volume (`C:\`). */
  readonly managed?: readonly string[];
  /** Observe roots: the file system below owns oplocks and locks there, the filter reports. */
  readonly observe?: readonly string[];
  /** Event queue limit (16 .. 1048576 records). Default 65536. */
  readonly queueLimit?: number;
  /** Event types produced: a FLTB mask (bit 1 << type) or a list of type names. Default all. */
  readonly eventMask?: bigint | readonly EventType[];
  /** The logical process of calls that name none. Default 1. */
  readonly process?: number;
  /** When events reach subscribers: after every call (default) or at settle()/drainEvents(). */
  readonly deliver?: 'auto' | 'manual';
  /** Deliver events through the port twin and the wire codec. Default false. */
  readonly wire?: boolean;
}

/** The model backend's Bridge, with a few extras for tests and tools. */
export interface ModelBridge extends Bridge {
  readonly backend: 'model';
  /** The filter twin (its queue, stream table, policy). */
  readonly filter: FltBridgeFilter;
  /** The file system twin below it. */
  readonly fileSystem: FileSystem;
  /** The filter's operationIds of a request (a close has its cleanup's and its close's). */
  operationIds(request: IoRequest<IoResult>): readonly bigint[];
  /** The filter's fileObjectId of a handle. */
  fileObjectId(handle: Handle): bigint;
  /** Deliver queued events to subscribers now. */
  drainEvents(): void;
  /** A connection to the port twin, the way a client of \FltBridgePort connects. */
  connectPort(): Connection;
}

const KNOWN_OPTIONS = new Set([
  'files',
  'directories',
  'managed',
  'observe',
  'queueLimit',
  'eventMask',
  'process',
  'deliver',
  'wire',
]);

interface HandleState {
  readonly handle: Handle;
  readonly fo: FileObject;
  closed: boolean;
}

class ModelRequest<R extends IoResult> implements IoRequest<R> {
  readonly id: number;
  readonly operation: OperationKind;
  readonly handle: Handle | undefined;
  readonly result: Promise<R>;
  completed: R | undefined;
  resolve!: (value: R) => void;

  constructor(id: number, operation: OperationKind, handle: Handle | undefined) {
    this.id = id;
    this.operation = operation;
    this.handle = handle;
    this.result = new Promise<R>((resolve) => {
      this.resolve = resolve;
    });
  }

  settle(value: R): void {
    this.completed = value;
    this.resolve(value);
  }
}

function eventMaskOf(value: unknown): bigint {
  if (value === undefined) return EVENT_MASK_ALL;
  if (typeof value === 'bigint') {
    if (value < 0n || (value & ~EVENT_MASK_ALL) !== 0n) {
      throw new InvalidArgumentError(`eventMask 0x${value.toString(16)} has bits of no event type`);
    }
    return value;
  }
  if (Array.isArray(value)) {
    let mask = 0n;
    for (const name of value) {
      if (typeof name !== 'string' || name === 'dropped' || !EVENT_TYPES.includes(name as never)) {
        throw new InvalidArgumentError(`unknown event type ${args.describe(name)}`);
      }
      mask |= eventMaskBit(name as EventType);
    }
    return mask;
  }
  throw new InvalidArgumentError('eventMask must be a bigint or a list of event type names');
}

function pathList(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((p) => typeof p !== 'string')) {
    throw new InvalidArgumentError(`${what} must be a list of paths`);
  }
  for (const p of value as string[]) {
    if (!parsePath(p).ok) throw new InvalidArgumentError(`${what}: '${p}' is not a model path`);
  }
  return value as string[];
}

function namespacesOf(o: Record<string, unknown>): NamespaceSpec[] {
  const managed = o.managed === undefined ? ['C:\\'] : pathList(o.managed, 'managed');
  const observe = pathList(o.observe, 'observe');
  const specs: NamespaceSpec[] = [
    ...managed.map((path) => ({ kind: 'managed' as const, path })),
    ...observe.map((path) => ({ kind: 'observe' as const, path })),
  ];
  const policy = Policy.create(specs);
  if (isPolicyError(policy)) {
    throw new InvalidArgumentError(
      policy.reason === 'conflict'
        ? `'${policy.path}' is both managed and observed`
        : `'${policy.path}' is not a model path`,
    );
  }
  return specs;
}

function seedFiles(fs: FileSystem, o: Record<string, unknown>): void {
  for (const dir of pathList(o.directories, 'directories')) {
    const parsed = parsePath(dir);
    if (parsed.ok) fs.seed(parsed.path, { kind: 'directory' });
  }
  if (o.files === undefined) return;
  const files = args.requireObject(o.files, 'files');
  for (const [path, raw] of Object.entries(files)) {
    const parsed = parsePath(path);
    if (!parsed.ok || parsed.path.components.length === 0) {
      throw new InvalidArgumentError(`files: '${path}' is not a model file path`);
    }
    let spec: { size?: bigint; content?: Uint8Array; directory?: boolean; readOnly?: boolean };
    if (typeof raw === 'bigint' || typeof raw === 'number') {
      spec = { size: args.u64(raw, `files['${path}']`) };
    } else if (typeof raw === 'string') {
      spec = { content: new TextEncoder().encode(raw) };
    } else if (raw instanceof Uint8Array) {
      spec = { content: raw };
    } else {
      const r = args.requireObject(raw, `files['${path}']`);
      spec = {};
      if (r.size !== undefined) spec.size = args.u64(r.size, `files['${path}'].size`);
      if (r.content !== undefined) {
        if (typeof r.content === 'string') spec.content = new TextEncoder().encode(r.content);
        else if (r.content instanceof Uint8Array) spec.content = r.content;
        else throw new InvalidArgumentError(`files['${path}'].content must be a string or bytes`);
      }
      spec.directory = args.bool(r.directory, `files['${path}'].directory`, false);
      spec.readOnly = args.bool(r.readOnly, `files['${path}'].readOnly`, false);
    }
    try {
      fs.seed(parsed.path, {
        kind: spec.directory ? 'directory' : 'file',
        ...(spec.content === undefined ? {} : { content: spec.content }),
        ...(spec.size === undefined ? {} : { size: spec.size }),
        ...(spec.readOnly === undefined ? {} : { readOnly: spec.readOnly }),
      });
    } catch (error) {
      throw new InvalidArgumentError(`files: cannot create '${path}': ${(error as Error).message}`);
    }
  }
}

/** Create a Bridge over a fresh model. */
export function createModelBridge(options: ModelBridgeOptions = {}): ModelBridge {
  const o = args.requireObject(options, 'model options');
  for (const key of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new InvalidArgumentError(
        `unknown model option '${key}'`,
        `use ${[...KNOWN_OPTIONS].join(', ')}`,
      );
    }
  }
  const queueLimit = o.queueLimit === undefined ? undefined : args.u32(o.queueLimit, 'queueLimit');
  if (
    queueLimit !== undefined &&
    (queueLimit < FLTB_QUEUE_LIMIT_MIN || queueLimit > FLTB_QUEUE_LIMIT_MAX)
  ) {
    throw new InvalidArgumentError(
      `queueLimit ${queueLimit} is outside ${FLTB_QUEUE_LIMIT_MIN}..${FLTB_QUEUE_LIMIT_MAX}`,
    );
  }
  const deliver = o.deliver ?? 'auto';
  if (deliver !== 'auto' && deliver !== 'manual') {
    throw new InvalidArgumentError(
      `deliver must be 'auto' or 'manual', got ${args.describe(deliver)}`,
    );
  }
  const defaultProcess = o.process === undefined ? 1 : args.processNumber(o.process, 'process');
  const fs = new FileSystem();
  seedFiles(fs, o);
  const wire = args.bool(o.wire, 'wire', false);
  const filter = new FltBridgeFilter(fs, {
    namespaces: namespacesOf(o),
    ...(queueLimit === undefined ? {} : { queueLimit }),
    eventMask: eventMaskOf(o.eventMask),
    // The backend consumes events itself, or (wire) through a port connection's HELLO.
    subscribed: !wire,
  });
  return new ModelBackend(fs, filter, { defaultProcess, deliver, wire });
}

class ModelBackend implements ModelBridge {
  readonly backend = 'model' as const;
  readonly capabilities: BridgeCapabilities = { oplocks: true, events: true, processes: true };
  readonly filter: FltBridgeFilter;
  readonly fileSystem: FileSystem;
  readonly #io: IoManager;
  readonly #defaultProcess: number;
  readonly #deliver: 'auto' | 'manual';
  readonly #handles = new Map<number, HandleState>();
  readonly #byHandle = new WeakMap<Handle, HandleState>();
  readonly #requests = new WeakMap<IoRequest<IoResult>, IoOperation>();
  readonly #listeners = new Set<EventListener>();
  readonly #port: CommPort;
  readonly #wire: Connection | undefined;
  #nextHandle = 1;
  #disposed = false;
  #delivering = false;

  constructor(
    fs: FileSystem,
    filter: FltBridgeFilter,
    options: { defaultProcess: number; deliver: 'auto' | 'manual'; wire: boolean },
  ) {
    this.fileSystem = fs;
    this.filter = filter;
    this.#io = new IoManager(filter, (work) => filter.defer(work));
    this.#defaultProcess = options.defaultProcess;
    this.#deliver = options.deliver;
    this.#port = new CommPort(filter);
    if (options.wire) {
      const connection = this.connectPort();
      const hello = connection.message(
        encodeCommand({
          command: 'hello',
          requestId: 1n,
          minVersion: 1,
          maxVersion: 1,
          clientCapabilities: FLTB_CAP_ALL,
          clientProcessId: options.defaultProcess,
        }),
      );
      if (hello.status !== NtStatus.STATUS_SUCCESS) {
        throw new Error('the port twin refused HELLO');
      }
      this.#wire = connection;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing.
  // -------------------------------------------------------------------------------------------

  #alive(what: string): void {
    if (this.#disposed) throw new DisposedError(`the model bridge (${what})`);
  }

  #state(handle: Handle, what: string): HandleState {
    this.#alive(what);
    if (!args.isObject(handle)) throw new UnknownHandleError(args.describe(handle));
    const state = this.#byHandle.get(handle) ?? this.#handles.get(handle.id as number);
    if (state === undefined || state.handle !== handle) {
      throw new UnknownHandleError((handle as { id?: unknown }).id as number);
    }
    if (state.closed) throw new HandleClosedError(handle.id);
    return state;
  }

  #process(value: unknown, fallback: number): number {
    return value === undefined ? fallback : args.processNumber(value, 'process');
  }

  /** Wrap an I/O operation as an IoRequest; `map` turns the completion into the result. */
  #request<R extends IoResult>(
    op: IoOperation,
    handle: Handle | undefined,
    map: (c: IoCompletion) => R,
  ): IoRequest<R> {
    const request = new ModelRequest<R>(op.id, op.kind, handle);
    this.#requests.set(request, op);
    op.onDone((done) => request.settle(map(done.result as IoCompletion)));
    this.#afterCall();
    return request;
  }

  #afterCall(): void {
    if (this.#deliver === 'auto') this.drainEvents();
  }

  drainEvents(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    let firstError: unknown;
    try {
      for (;;) {
        const events = this.#take();
        if (events.length === 0) break;
        for (const event of events) {
          for (const listener of [...this.#listeners]) {
            try {
              listener(event);
            } catch (error) {
              firstError ??= error;
            }
          }
        }
      }
    } finally {
      this.#delivering = false;
    }
    if (firstError !== undefined) throw firstError;
  }

  #take(): BridgeEvent[] {
    if (this.#wire === undefined) return this.filter.events.take();
    const batch = this.#wire.nextBatch();
    return batch === undefined ? [] : decodeBatch(batch).events;
  }

  // -------------------------------------------------------------------------------------------
  // Bridge.
  // -------------------------------------------------------------------------------------------

  open(path: string, options: OpenOptions = {}): IoRequest<OpenResult> {
    this.#alive('open');
    if (typeof path !== 'string' || path.length === 0) {
      throw new InvalidArgumentError(`path must be a non-empty string, got ${args.describe(path)}`);
    }
    const o = args.requireObject(options, 'open options');
    let access = parseAccess(o.access === undefined ? 'read' : (o.access as string));
    const share = parseShare(o.share === undefined ? 'read,write' : (o.share as string));
    const disposition = parseDisposition(
      o.disposition === undefined ? 'open' : (o.disposition as string),
    );
    let createOptions = o.options === undefined ? 0 : parseCreateOptions(o.options as string);
    const overlapped = args.bool(o.overlapped, 'overlapped', true);
    if (!overlapped) {
      // A synchronous handle: FILE_SYNCHRONOUS_IO_NONALERT, which needs SYNCHRONIZE (CreateFile
      // without FILE_FLAG_OVERLAPPED does exactly this).
      createOptions |= CreateOption.FILE_SYNCHRONOUS_IO_NONALERT;
      access |= AccessRight.SYNCHRONIZE;
    }
    const oplockKey = o.oplockKey === undefined ? undefined : args.guid(o.oplockKey, 'oplockKey');
    const process = this.#process(o.process, this.#defaultProcess);
    const allocationSize =
      o.allocationSize === undefined ? 0n : args.u64(o.allocationSize, 'allocationSize');
    const op = this.#io.create({
      path,
      process,
      desiredAccess: access,
      shareAccess: share,
      disposition,
      createOptions,
      allocationSize,
      ...(oplockKey === undefined ? {} : { oplockKey }),
    });
    const request = new ModelRequest<OpenResult>(op.id, 'open', undefined);
    this.#requests.set(request, op);
    op.onDone((done) => {
      const c = done.result as IoCompletion;
      const fo = done.fileObject;
      if (fo !== undefined && fo.state === 'open') {
        const handle: Handle = Object.freeze({ id: this.#nextHandle++, path, process });
        const state: HandleState = { handle, fo, closed: false };
        this.#handles.set(handle.id, state);
        this.#byHandle.set(handle, state);
        request.settle({ status: c.status, information: c.information, handle });
      } else {
        request.settle({ status: c.status, information: c.information });
      }
    });
    this.#afterCall();
    return request;
  }

  close(handle: Handle): IoRequest {
    const state = this.#state(handle, 'close');
    state.closed = true;
    const op = this.#io.closeHandle(state.fo);
    return this.#request(op, handle, (c) => ({ status: c.status, information: c.information }));
  }

  requestOplock(handle: Handle, request: OplockRequest): IoRequest<OplockResult> {
    const state = this.#state(handle, 'requestOplock');
    const params = args.oplockRequest(request);
    const op = this.#io.fsctl(state.fo, 'oplock', params, handle.process);
    return this.#request(op, handle, (c) => oplockResult(c, params.fsControlCode));
  }

  acknowledgeOplock(handle: Handle, ack: OplockAcknowledge): IoRequest<OplockResult> {
    const state = this.#state(handle, 'acknowledgeOplock');
    const params = args.oplockAcknowledge(ack);
    const op = this.#io.fsctl(state.fo, 'acknowledge', params, handle.process);
    return this.#request(op, handle, (c) => oplockResult(c, params.fsControlCode));
  }

  lock(handle: Handle, request: LockRequest): IoRequest {
    const state = this.#state(handle, 'lock');
    const r = args.requireObject(request, 'lock request');
    const params = {
      offset: args.u64(r.offset, 'lock offset'),
      length: args.u64(r.length, 'lock length'),
      key: r.key === undefined ? 0 : args.u32(r.key, 'lock key'),
      exclusive: args.bool(r.exclusive, 'exclusive', true),
      failImmediately: args.bool(r.failImmediately, 'failImmediately', true),
    };
    const process = this.#process(r.process, handle.process);
    const op = this.#io.lockControl(state.fo, 'lock', IRP_MN_LOCK, params, process);
    return this.#request(op, handle, plain);
  }

  unlock(handle: Handle, request: UnlockRequest): IoRequest {
    const state = this.#state(handle, 'unlock');
    const r = args.requireObject(request, 'unlock request');
    const params = {
      offset: args.u64(r.offset, 'unlock offset'),
      length: args.u64(r.length, 'unlock length'),
      key: r.key === undefined ? 0 : args.u32(r.key, 'unlock key'),
      exclusive: false,
      failImmediately: false,
    };
    const process = this.#process(r.process, handle.process);
    const op = this.#io.lockControl(state.fo, 'unlock', IRP_MN_UNLOCK_SINGLE, params, process);
    return this.#request(op, handle, plain);
  }

  unlockAll(handle: Handle, request: UnlockAllRequest = {}): IoRequest {
    const state = this.#state(handle, 'unlockAll');
    const r = args.requireObject(request, 'unlock-all request');
    const byKey = r.key !== undefined;
    const params = {
      offset: 0n,
      length: 0n,
      key: byKey ? args.u32(r.key, 'unlock-all key') : 0,
      exclusive: false,
      failImmediately: false,
    };
    const process = this.#process(r.process, handle.process);
    const minor = byKey ? IRP_MN_UNLOCK_ALL_BY_KEY : IRP_MN_UNLOCK_ALL;
    const op = this.#io.lockControl(state.fo, 'unlock-all', minor, params, process);
    return this.#request(op, handle, plain);
  }

  read(handle: Handle, request: ReadRequest): IoRequest<ReadResult> {
    const state = this.#state(handle, 'read');
    const r = args.requireObject(request, 'read request');
    const offset = args.u64(r.offset, 'read offset');
    const length = args.byteCount(r.length, 'read length');
    const key = r.key === undefined ? 0 : args.u32(r.key, 'read key');
    const process = this.#process(r.process, handle.process);
    const op = this.#io.read(state.fo, offset, length, key, process);
    return this.#request(op, handle, (c) => ({
      status: c.status,
      information: c.information,
      data: c.data ?? new Uint8Array(0),
    }));
  }

  write(handle: Handle, request: WriteRequest): IoRequest {
    const state = this.#state(handle, 'write');
    const r = args.requireObject(request, 'write request');
    const offset = args.u64(r.offset, 'write offset');
    let data: Uint8Array;
    if (r.data instanceof Uint8Array) {
      args.byteCount(r.data.length, 'write length');
      data = r.data;
    } else {
      const length = args.byteCount(r.data, 'write data (a byte count)');
      data = new Uint8Array(length);
      for (let i = 0; i < length; i += 1) data[i] = i & 0xff;
    }
    const key = r.key === undefined ? 0 : args.u32(r.key, 'write key');
    const process = this.#process(r.process, handle.process);
    const op = this.#io.write(state.fo, offset, data, key, process);
    return this.#request(op, handle, plain);
  }

  setInformation(handle: Handle, request: SetInformationRequest): IoRequest {
    const state = this.#state(handle, 'setInformation');
    const r = args.setInformation(request);
    const op = this.#io.setInformation(state.fo, r, handle.process);
    return this.#request(op, handle, plain);
  }

  flush(handle: Handle): IoRequest {
    const state = this.#state(handle, 'flush');
    const op = this.#io.flush(state.fo, handle.process);
    return this.#request(op, handle, plain);
  }

  async cancel(request: IoRequest<IoResult>): Promise<boolean> {
    this.#alive('cancel');
    const op = args.isObject(request) ? this.#requests.get(request) : undefined;
    if (op === undefined) {
      throw new InvalidArgumentError('cancel: not a request of this bridge');
    }
    const cancelled = this.filter.run(() => this.#io.cancel(op));
    this.#afterCall();
    return cancelled;
  }

  subscribe(listener: EventListener): () => void {
    this.#alive('subscribe');
    if (typeof listener !== 'function') {
      throw new InvalidArgumentError('subscribe needs a function');
    }
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async settle(): Promise<void> {
    this.drainEvents();
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.drainEvents();
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    // The process ends: every handle still open is closed (cleanup, then close).
    for (const state of this.#handles.values()) {
      if (state.closed) continue;
      state.closed = true;
      this.#io.closeHandle(state.fo);
    }
    this.drainEvents();
    this.#disposed = true;
    this.#listeners.clear();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  // -------------------------------------------------------------------------------------------
  // Extras.
  // -------------------------------------------------------------------------------------------

  operationIds(request: IoRequest<IoResult>): readonly bigint[] {
    const op = args.isObject(request) ? this.#requests.get(request) : undefined;
    if (op === undefined)
      throw new InvalidArgumentError('operationIds: not a request of this bridge');
    return op.irps.map((irp) => irp.operationId).filter((id) => id !== 0n);
  }

  fileObjectId(handle: Handle): bigint {
    const state = args.isObject(handle) ? this.#byHandle.get(handle) : undefined;
    if (state === undefined) throw new UnknownHandleError(args.describe(handle));
    return state.fo.fileObjectId;
  }

  connectPort(): Connection {
    const result = this.#port.connect(encodeConnectContext({ clientCapabilities: FLTB_CAP_ALL }));
    if (result.connection === undefined) throw new Error('the port twin refused the connection');
    return result.connection;
  }
}

function plain(c: IoCompletion): IoResult {
  return { status: c.status, information: c.information };
}

function oplockResult(c: IoCompletion, fsControlCode: number): OplockResult {
  const base = { status: c.status, information: c.information };
  const out = c.oplockOutput;
  if (out !== undefined) {
    return {
      ...base,
      originalLevel: (levelOfBits(out.originalOplockLevel) ?? 'NONE') as OplockLevel,
      newLevel: (levelOfBits(out.newOplockLevel) ?? 'NONE') as OplockLevel,
      ackRequired: (out.flags & RequestOplockOutputFlag.ACK_REQUIRED) !== 0,
    };
  }
  if (fsControlCode !== 0x00090240 && c.status === NtStatus.STATUS_SUCCESS) {
    if (c.information === BigInt(OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_LEVEL_2)) {
      return { ...base, newLevel: 'LEVEL2' };
    }
    if (c.information === BigInt(OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_NONE)) {
      return { ...base, newLevel: 'NONE' };
    }
  }
  return base;
}
