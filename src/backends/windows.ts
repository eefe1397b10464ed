/**
 * The windows backend: the Bridge over fltbridge.node. Test-client I/O is what a real
 * application does (CreateFileW, DeviceIoControl with the oplock FSCTLs, LockFileEx, ReadFile,
 * WriteFile, SetFileInformationByHandle, CancelIoEx, CloseHandle), every completion arriving
 * through the addon's IOCP thread with its NTSTATUS, Win32 error and byte count. Events come from
 * the driver's port (\FltBridgePort), decoded by src/protocol.
 *
 * Importing this module loads nothing native: createWindowsBridge() loads the addon, and only on
 * win32; elsewhere it throws UnsupportedPlatformError naming the model backend.
 *
 * Namespaces (the `configure` option, configureWindowsDriver()) take DOS paths, resolved to the
 * NT paths the driver matches by the addon's finalPath (./windows/namespaces.ts), or NT paths.
 *
 * Differences from the model a script may notice:
 *   - `IoRequest.completed` is undefined when a method returns (every completion, even one
 *     Windows produced at once, is delivered through the IOCP thread); `pended` in the result
 *     says whether the call returned ERROR_IO_PENDING;
 *   - handles belong to this process: `process` options other than this process are refused
 *     (capabilities.processes is false), and so are lock keys (LockFileEx has none), oplock keys,
 *     FILE_SUPERSEDE and other NtCreateFile-only options (CreateFileW cannot express them);
 *   - unlockAll has no user-mode API (the I/O manager sends IRP_MN_UNLOCK_ALL at cleanup).
 */
import {
  BackendUnavailableError,
  DisposedError,
  type FltBridgeError,
  HandleClosedError,
  InvalidArgumentError,
  UnknownHandleError,
  UnsupportedPlatformError,
} from '../bridge/errors.js';
import {
  Fsctl,
  isLegacyLevel,
  isWin7Level,
  parseAccess,
  parseCreateOptions,
  parseDisposition,
  parseShare,
  parseU32,
  parseU64,
} from '../bridge/flags.js';
import type {
  BackendName,
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
import {
  type AddonDiagnostics,
  type AddonVersion,
  type IoRecord,
  loadAddon,
  type NativeAddon,
  StatusSource,
} from './windows/addon.js';
import {
  applyConfigure,
  type ConfigureOptions,
  configureDriverWith,
  type DriverConfiguration,
  type DriverPolicy,
  type ResolvedConfigure,
  readDriverPolicyWith,
  resolveConfigure,
} from './windows/configure.js';
import { IoSession } from './windows/io.js';
import { PortClient } from './windows/port.js';
import {
  ackRequired,
  creationFromDisposition,
  flagsFromCreateOptions,
  LEGACY_FSCTL,
  legacyBrokenTo,
  parseRequestOplockOutput,
  REQUEST_OPLOCK_OUTPUT_BYTES,
  RequestOplockInputFlag,
  renameTarget,
  requestOplockInput,
} from './windows/win32.js';

export type {
  ConfigureOptions,
  DriverConfiguration,
  DriverPolicy,
} from './windows/configure.js';
export {
  classifyNamespacePath,
  describeNamespace,
  type NamespaceInput,
  type ResolvedNamespace,
} from './windows/namespaces.js';
export { DEFAULT_PORT_NAME, PortClient, type PortClientOptions } from './windows/port.js';

export type EventsMode = 'required' | 'optional' | 'off';

export interface WindowsBridgeOptions {
  /** The driver's port; default \FltBridgePort. */
  readonly portName?: string;
  /**
   * 'required' (default): fail when the port cannot be reached. 'optional': test-client I/O
   * only when it cannot (capabilities.events false, `portError` says why). 'off': no port.
   */
  readonly events?: EventsMode;
  /** Outstanding FilterGetMessage calls; default 4. */
  readonly eventSlots?: number;
  /** Path to fltbridge.node (default: FLTBRIDGE_ADDON_PATH, @fltbridge/win32-x64, dev build). */
  readonly addonPath?: string;
  /**
   * Sent as CONFIGURE right after HELLO. Namespaces may be DOS paths (C:\fltb, resolved to
   * their NT paths through the file system: they must exist) or NT paths (\Device\...), and
   * replace every namespace the driver has: the policy is global and stays after dispose().
   * `bridge.configuration` says what was sent and the counts the driver answered.
   */
  readonly configure?: ConfigureOptions;
  /** How long settle() waits for events the driver has queued; default 2000 ms. */
  readonly settleTimeoutMs?: number;
}

export type StatusSourceName = 'io-status-block' | 'last-status' | 'win32' | 'emulator';

/** What the windows backend adds to every result. */
export interface WindowsResultDetail {
  /** The Win32 error Windows reports for the status (0 on success). */
  readonly win32: number;
  /** Where `status` came from (see native/src/ntstatus_util.h). */
  readonly statusSource: StatusSourceName;
  /** The overlapped call returned ERROR_IO_PENDING (the operation waited). */
  readonly pended: boolean;
}

const SOURCE_NAMES: Record<number, StatusSourceName> = {
  [StatusSource.ioStatusBlock]: 'io-status-block',
  [StatusSource.lastStatus]: 'last-status',
  [StatusSource.fromWin32]: 'win32',
  [StatusSource.emulator]: 'emulator',
};

function detail(record: IoRecord): IoResult & WindowsResultDetail {
  return {
    status: record.status >>> 0,
    information: record.information,
    win32: record.win32,
    statusSource: SOURCE_NAMES[record.source] ?? 'win32',
    pended: (record as { pended?: boolean }).pended === true,
  };
}

class WindowsRequest<R extends IoResult> implements IoRequest<R> {
  completed: R | undefined = undefined;
  readonly result: Promise<R>;

  constructor(
    readonly id: number,
    readonly operation: OperationKind,
    readonly handle: Handle | undefined,
    done: Promise<R>,
  ) {
    this.result = done.then((value) => {
      this.completed = value;
      return value;
    });
  }
}

interface HandleState {
  readonly handle: Handle;
  closed: boolean;
}

const NOT_HERE_HINT =
  "use the model backend for scripted multi-process scenarios: { backend: 'model' }";

export class WindowsBridge implements Bridge {
  readonly backend: BackendName = 'windows';
  readonly capabilities: BridgeCapabilities;
  /** Where the addon was loaded from, and what it says about itself. */
  readonly addon: { readonly path: string; readonly version: AddonVersion };
  /** The port client, when connected. */
  readonly port: PortClient | undefined;
  /** Why there is no port (events 'optional' and the connect failed). */
  readonly portError: FltBridgeError | undefined;
  /** What the `configure` option sent and what the driver answered (undefined: not sent). */
  readonly configuration: DriverConfiguration | undefined;

  readonly #native: NativeAddon;
  readonly #session: IoSession;
  readonly #handles = new Map<number, HandleState>();
  readonly #requests = new Map<number, WindowsRequest<IoResult>>();
  readonly #listeners = new Set<EventListener>();
  #unsubscribeBatches: (() => void) | undefined;
  readonly #settleTimeoutMs: number;
  #disposed: Promise<void> | undefined;

  constructor(
    native: NativeAddon,
    path: string,
    port: PortClient | undefined,
    portError: FltBridgeError | undefined,
    options: WindowsBridgeOptions,
    configuration?: DriverConfiguration,
  ) {
    this.#native = native;
    const version = native.version();
    this.addon = { path, version };
    this.port = port;
    this.portError = portError;
    this.configuration = configuration;
    this.#session = new IoSession(native);
    this.#settleTimeoutMs = options.settleTimeoutMs ?? 2000;
    this.capabilities = {
      // Wine's file systems grant no oplocks (its FSCTLs answer NOT_SUPPORTED-style statuses).
      oplocks: version.wine === null,
      events: port !== undefined,
      processes: false,
    };
  }

  /** Live native objects of this process (leak checks). */
  diagnostics(): AddonDiagnostics {
    return this.#native.diagnostics();
  }

  /** Port failures and refused batches (the stream itself only carries events). */
  onError(listener: (error: FltBridgeError) => void): () => void {
    return this.port ? this.port.onError(listener) : () => {};
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  #live(): void {
    if (this.#disposed) throw new DisposedError('the windows bridge');
  }

  #state(handle: Handle): HandleState {
    this.#live();
    // Handle ids are unique in the process (the addon never reuses one), so a handle of another
    // bridge is never found here; a copy of this bridge's handle object is the same handle.
    const state = typeof handle?.id === 'number' ? this.#handles.get(handle.id) : undefined;
    if (!state) throw new UnknownHandleError(handle?.id ?? String(handle));
    if (state.closed) throw new HandleClosedError(handle.id);
    return state;
  }

  #checkProcess(process_: number | undefined): void {
    if (process_ !== undefined && process_ !== process.pid) {
      throw new InvalidArgumentError(
        `the windows backend issues every operation from this process (${process.pid}), not process ${process_}`,
        NOT_HERE_HINT,
      );
    }
  }

  #checkKey(key: number | undefined): void {
    if (key !== undefined && parseU32(key, 'lock key') !== 0) {
      throw new InvalidArgumentError(
        'LockFileEx and UnlockFileEx carry no lock key (NtLockFile does; applications use 0)',
        NOT_HERE_HINT,
      );
    }
  }

  #submit<R extends IoResult>(
    operation: OperationKind,
    handle: Handle | undefined,
    issue: (request: number) => void,
    map: (record: IoRecord) => R,
  ): IoRequest<R> {
    const context = handle ? { handle: handle.id } : {};
    const { request, done } = this.#session.submit(issue, context);
    const req = new WindowsRequest<R>(request, operation, handle, done.then(map));
    this.#requests.set(request, req as unknown as WindowsRequest<IoResult>);
    void req.result.finally(() => this.#requests.delete(request));
    return req;
  }

  open(path: string, options: OpenOptions = {}): IoRequest<OpenResult> {
    this.#live();
    if (typeof path !== 'string' || path.length === 0) {
      throw new InvalidArgumentError('open needs a path');
    }
    this.#checkProcess(options.process);
    if (options.oplockKey !== undefined) {
      throw new InvalidArgumentError(
        'CreateFileW cannot set a target oplock key (an ECP only kernel-mode callers attach)',
        NOT_HERE_HINT,
      );
    }
    if (options.allocationSize !== undefined) {
      throw new InvalidArgumentError(
        'CreateFileW cannot pass an allocation size (NtCreateFile can)',
        'open the file, then setInformation({ class: "allocation", size })',
      );
    }
    const access = parseAccess(options.access ?? 'read');
    const share = parseShare(options.share ?? 'read,write');
    const creation = creationFromDisposition(parseDisposition(options.disposition ?? 'open'));
    const flags = flagsFromCreateOptions(
      parseCreateOptions(options.options ?? 0),
      options.overlapped ?? true,
    );
    return this.#submit(
      'open',
      undefined,
      (r) => this.#native.open(this.#session.id, r, path, access, share, creation, flags),
      (record) => {
        const result: OpenResult & WindowsResultDetail = detail(record);
        if (record.handle === undefined) return result;
        const handle: Handle = { id: record.handle, path, process: process.pid };
        this.#handles.set(handle.id, { handle, closed: false });
        return { ...result, handle };
      },
    );
  }

  close(handle: Handle): IoRequest {
    const state = this.#state(handle);
    const req = this.#submit('close', handle, (r) => this.#native.close(handle.id, r), detail);
    state.closed = true;
    return req;
  }

  requestOplock(handle: Handle, request: OplockRequest): IoRequest<OplockResult> {
    this.#state(handle);
    const level = request?.level;
    if (isLegacyLevel(level)) {
      return this.#submit(
        'oplock',
        handle,
        (r) => this.#native.ioctl(handle.id, r, LEGACY_FSCTL[level], null, 0),
        (record) => {
          const base = detail(record);
          const newLevel = record.status === 0 ? legacyBrokenTo(record.information) : undefined;
          return newLevel === undefined ? base : { ...base, newLevel };
        },
      );
    }
    if (isWin7Level(level)) {
      const flags =
        RequestOplockInputFlag.REQUEST |
        ('completeAckOnClose' in request && request.completeAckOnClose
          ? RequestOplockInputFlag.COMPLETE_ACK_ON_CLOSE
          : 0);
      return this.#requestOplockFsctl('oplock', handle, requestOplockInput(level, flags));
    }
    throw new InvalidArgumentError(
      `unknown oplock level '${String(level)}'`,
      'use LEVEL1, LEVEL2, BATCH, FILTER, R, RW, RH or RWH',
    );
  }

  acknowledgeOplock(handle: Handle, ack: OplockAcknowledge): IoRequest<OplockResult> {
    this.#state(handle);
    const legacy: Record<string, number> = {
      acknowledge: Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE,
      'ack-no-2': Fsctl.FSCTL_OPLOCK_BREAK_ACK_NO_2,
      'ack-close-pending': Fsctl.FSCTL_OPBATCH_ACK_CLOSE_PENDING,
      'break-notify': Fsctl.FSCTL_OPLOCK_BREAK_NOTIFY,
    };
    const code = legacy[ack?.kind];
    if (code !== undefined) {
      return this.#submit(
        'acknowledge',
        handle,
        (r) => this.#native.ioctl(handle.id, r, code, null, 0),
        detail,
      );
    }
    if (ack?.kind === 'ack') {
      if (ack.level !== 'NONE' && !isWin7Level(ack.level)) {
        throw new InvalidArgumentError(
          `cannot acknowledge to level '${String(ack.level)}'`,
          'use R, RW, RH, RWH or NONE',
        );
      }
      const flags =
        RequestOplockInputFlag.ACK |
        (ack.completeAckOnClose ? RequestOplockInputFlag.COMPLETE_ACK_ON_CLOSE : 0);
      return this.#requestOplockFsctl('acknowledge', handle, requestOplockInput(ack.level, flags));
    }
    throw new InvalidArgumentError(
      `unknown acknowledgement '${String((ack as { kind?: unknown })?.kind)}'`,
      'use acknowledge, ack-no-2, ack-close-pending, break-notify or ack',
    );
  }

  #requestOplockFsctl(
    operation: OperationKind,
    handle: Handle,
    input: Uint8Array,
  ): IoRequest<OplockResult> {
    return this.#submit(
      operation,
      handle,
      (r) =>
        this.#native.ioctl(
          handle.id,
          r,
          Fsctl.FSCTL_REQUEST_OPLOCK,
          input,
          REQUEST_OPLOCK_OUTPUT_BYTES,
        ),
      (record) => {
        const base = detail(record);
        const output =
          record.information >= 16n ? parseRequestOplockOutput(record.data) : undefined;
        if (!output) return base;
        return {
          ...base,
          ...(output.originalLevel !== undefined ? { originalLevel: output.originalLevel } : {}),
          ...(output.newLevel !== undefined ? { newLevel: output.newLevel } : {}),
          ackRequired: ackRequired(output),
        };
      },
    );
  }

  lock(handle: Handle, request: LockRequest): IoRequest {
    this.#state(handle);
    this.#checkProcess(request.process);
    this.#checkKey(request.key);
    const offset = parseU64(request.offset, 'lock offset');
    const length = parseU64(request.length, 'lock length');
    const exclusive = request.exclusive ?? true;
    const failImmediately = request.failImmediately ?? true;
    return this.#submit(
      'lock',
      handle,
      (r) => this.#native.lock(handle.id, r, offset, length, exclusive, failImmediately),
      detail,
    );
  }

  unlock(handle: Handle, request: UnlockRequest): IoRequest {
    this.#state(handle);
    this.#checkProcess(request.process);
    this.#checkKey(request.key);
    const offset = parseU64(request.offset, 'unlock offset');
    const length = parseU64(request.length, 'unlock length');
    return this.#submit(
      'unlock',
      handle,
      (r) => this.#native.unlock(handle.id, r, offset, length),
      detail,
    );
  }

  unlockAll(handle: Handle, _request?: UnlockAllRequest): IoRequest {
    this.#state(handle);
    throw new InvalidArgumentError(
      'unlock-all has no user-mode API on Windows (the I/O manager sends IRP_MN_UNLOCK_ALL at cleanup)',
      'close the handle: its cleanup releases every lock this process holds through it',
    );
  }

  read(handle: Handle, request: ReadRequest): IoRequest<ReadResult> {
    this.#state(handle);
    this.#checkProcess(request.process);
    this.#checkKey(request.key);
    const offset = parseU64(request.offset, 'read offset');
    const length = parseU32(request.length, 'read length');
    return this.#submit(
      'read',
      handle,
      (r) => this.#native.read(handle.id, r, offset, length),
      (record) => ({ ...detail(record), data: record.data ?? new Uint8Array(0) }),
    );
  }

  write(handle: Handle, request: WriteRequest): IoRequest {
    this.#state(handle);
    this.#checkProcess(request.process);
    this.#checkKey(request.key);
    const offset = parseU64(request.offset, 'write offset');
    const data =
      typeof request.data === 'number'
        ? new Uint8Array(parseU32(request.data, 'write length')).fill(0x5a)
        : request.data;
    if (!(data instanceof Uint8Array)) {
      throw new InvalidArgumentError('write data must be a Uint8Array or a byte count');
    }
    return this.#submit(
      'write',
      handle,
      (r) => this.#native.write(handle.id, r, offset, data),
      detail,
    );
  }

  setInformation(handle: Handle, request: SetInformationRequest): IoRequest {
    this.#state(handle);
    let issue: (r: number) => void;
    switch (request?.class) {
      case 'end-of-file':
      case 'allocation': {
        const size = parseU64(request.size, `${request.class} size`);
        issue = (r) => this.#native.setInformation(handle.id, r, request.class, size);
        break;
      }
      case 'disposition':
        issue = (r) =>
          this.#native.setInformation(handle.id, r, 'disposition', request.deleteFile === true);
        break;
      case 'rename': {
        if (typeof request.target !== 'string' || request.target.length === 0) {
          throw new InvalidArgumentError('rename needs a target path');
        }
        const target = renameTarget(request.target);
        issue = (r) =>
          this.#native.setInformation(
            handle.id,
            r,
            'rename',
            target,
            request.replaceIfExists === true,
          );
        break;
      }
      default:
        throw new InvalidArgumentError(
          `unknown set-information class '${String((request as { class?: unknown })?.class)}'`,
          'use end-of-file, allocation, rename or disposition',
        );
    }
    return this.#submit('set-information', handle, issue, detail);
  }

  flush(handle: Handle): IoRequest {
    this.#state(handle);
    return this.#submit('flush', handle, (r) => this.#native.flush(handle.id, r), detail);
  }

  async cancel(request: IoRequest<IoResult>): Promise<boolean> {
    this.#live();
    const own = this.#requests.get(request?.id);
    if (!own || own !== (request as unknown) || own.completed !== undefined) return false;
    return this.#session.cancel(request.id);
  }

  // -------------------------------------------------------------------------------------------
  // Events

  subscribe(listener: EventListener): () => void {
    this.#live();
    const port = this.port;
    if (!port) {
      throw new BackendUnavailableError(
        'windows',
        `events need the driver's port, which is not connected${this.portError ? `: ${this.portError.message}` : ''}`,
        this.portError?.hint ?? 'create the bridge with events: "required" (the default)',
      );
    }
    this.#listeners.add(listener);
    this.#unsubscribeBatches ??= port.onBatch((events) => {
      for (const event of events) {
        for (const l of this.#listeners) l(event);
      }
    });
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#unsubscribeBatches) {
        this.#unsubscribeBatches();
        this.#unsubscribeBatches = undefined;
      }
    };
  }

  /**
   * Waits for completions already queued to JS, then asks the driver to push what it holds
   * (FLUSH_EVENTS) and waits until every event before its NextSequence was delivered (up to
   * settleTimeoutMs). Operations still in flight in Windows are not waited for.
   */
  async settle(): Promise<void> {
    this.#live();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const port = this.port;
    if (!port || port.failure) return;
    const { nextSequence } = await port.flushEvents(false);
    await port.waitForSequence(nextSequence, this.#settleTimeoutMs);
  }

  /** Cancel everything in flight, close every handle, disconnect the port. Idempotent. */
  dispose(): Promise<void> {
    this.#disposed ??= (async () => {
      this.#unsubscribeBatches?.();
      this.#listeners.clear();
      await Promise.all([this.#session.close(), this.port?.close()]);
    })();
    return this.#disposed;
  }
}

/**
 * A bridge on this Windows machine. Off Windows: UnsupportedPlatformError (the model backend is
 * the way there). With events 'required' (the default) a port that cannot be reached is a
 * PortError naming the HRESULT and what to do. A namespace path that cannot be resolved (it does
 * not exist, it is a UNC path) is an InvalidArgumentError whatever the events mode.
 */
export async function createWindowsBridge(
  options: WindowsBridgeOptions = {},
): Promise<WindowsBridge> {
  if (process.platform !== 'win32') {
    throw new UnsupportedPlatformError('the windows backend (fltbridge.node and the minifilter)');
  }
  const { addon, path } = loadAddon(options.addonPath);
  return openWindowsBridge(addon, path, options);
}

/** createWindowsBridge over a given addon (no platform check: tests pass a fake). */
export async function openWindowsBridge(
  addon: NativeAddon,
  path: string,
  options: WindowsBridgeOptions = {},
): Promise<WindowsBridge> {
  const mode = options.events ?? 'required';
  let port: PortClient | undefined;
  let portError: FltBridgeError | undefined;
  let configuration: DriverConfiguration | undefined;
  if (mode !== 'off') {
    // Bad input before the port: a path that does not resolve fails whatever the events mode.
    const resolved: ResolvedConfigure | undefined = options.configure
      ? await resolveConfigure(addon, options.configure)
      : undefined;
    try {
      port = await PortClient.connect(addon, options.portName ? { name: options.portName } : {});
      port.start(options.eventSlots ?? 4);
      if (resolved) configuration = await applyConfigure(port, resolved);
    } catch (error) {
      await port?.close();
      port = undefined;
      configuration = undefined;
      if (mode === 'required') throw error;
      portError = error as FltBridgeError;
    }
  }
  return new WindowsBridge(addon, path, port, portError, options, configuration);
}

/** Where the driver's port is and which addon to use (the CLI's configure and status). */
export interface WindowsPortOptions {
  readonly addonPath?: string;
  /** Default \FltBridgePort. */
  readonly portName?: string;
}

/**
 * Send CONFIGURE on a connection of its own (no event queue) and disconnect: namespaces (DOS or
 * NT paths), event-type mask, queue limit. The policy is global and stays in the driver.
 */
export async function configureWindowsDriver(
  options: ConfigureOptions & WindowsPortOptions,
): Promise<DriverConfiguration> {
  if (process.platform !== 'win32') {
    throw new UnsupportedPlatformError('configuring the fltbridge driver');
  }
  const { addon } = loadAddon(options.addonPath);
  return configureDriverWith(addon, options, options.portName ? { name: options.portName } : {});
}

/**
 * What the driver reports about its policy (counts of managed and observed namespaces, effective
 * event mask and queue limit, event counters), changing nothing. It never reports the paths.
 */
export async function readWindowsDriverPolicy(
  options: WindowsPortOptions = {},
): Promise<DriverPolicy> {
  if (process.platform !== 'win32') {
    throw new UnsupportedPlatformError("reading the fltbridge driver's policy");
  }
  const { addon } = loadAddon(options.addonPath);
  return readDriverPolicyWith(addon, options.portName ? { name: options.portName } : {});
}
