/**
 * Loading fltbridge.node, and its typed surface. Nothing here runs at import time: the addon is
 * required only by loadAddon(), which refuses every platform but win32 with a typed error that
 * names the model backend.
 *
 * Where the addon comes from, first found wins:
 *   1. the `addonPath` option or the FLTBRIDGE_ADDON_PATH environment variable (tests, dev);
 *   2. the optional platform package `@fltbridge/win32-x64` (what npm installs on Windows);
 *   3. a development build in this checkout: build/native/Release/fltbridge.node.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendUnavailableError, UnsupportedPlatformError } from '../../bridge/errors.js';

/** Where an NTSTATUS in a completion came from (native StatusSource). */
export const StatusSource = {
  /** OVERLAPPED.Internal, written by the I/O manager. */
  ioStatusBlock: 0,
  /** The thread's last NTSTATUS kernelbase recorded (or a plain success of an API without one). */
  lastStatus: 1,
  /** Mapped back from the Win32 error: no exact status was available. */
  fromWin32: 2,
  /** Completed by the addon because the platform (Wine) never would. */
  emulator: 3,
} as const;

export interface IoRecord {
  readonly kind: 'io';
  readonly request: number;
  /** NTSTATUS, unsigned. */
  readonly status: number;
  readonly win32: number;
  readonly hresult: number;
  readonly source: number;
  readonly information: bigint;
  /** open: the new handle id. */
  readonly handle?: number;
  /** read data, FSCTL output. */
  readonly data?: Uint8Array;
}

export interface SendRecord {
  readonly kind: 'send';
  readonly request: number;
  readonly hresult: number;
  readonly win32: number;
  readonly information: bigint;
  readonly data: Uint8Array;
}

export interface EventsRecord {
  readonly kind: 'events';
  /** One event batch, after the FILTER_MESSAGE_HEADER. */
  readonly data: Uint8Array;
}

export interface PortErrorRecord {
  readonly kind: 'port-error';
  readonly status: number;
  readonly win32: number;
  readonly hresult: number;
}

export interface NoticeRecord {
  readonly kind: 'notice';
  readonly message: string;
}

export type NativeRecord = IoRecord | SendRecord | EventsRecord | PortErrorRecord | NoticeRecord;
export type RecordCallback = (records: NativeRecord[]) => void;

export interface AddonVersion {
  readonly addon: string;
  readonly napi: number;
  readonly protocol: number;
  /** Wine's version when running under Wine, else null. */
  readonly wine: string | null;
}

export interface AddonDiagnostics {
  readonly operations: number;
  readonly fileHandles: number;
  readonly pumpThreads: number;
  readonly runnerThreads: number;
  readonly sessions: number;
  readonly handles: number;
  readonly ports: number;
}

export interface SessionStats {
  readonly inFlight: number;
  readonly runnerPending: number;
  readonly runnerThreads: number;
  readonly handles: number;
}

export interface PortStats {
  readonly messages: number;
  readonly bytes: number;
  readonly armed: number;
  readonly parked: number;
  readonly parks: number;
  readonly queuedBytes: number;
  readonly failed: boolean;
}

export type SetInformationKind = 'end-of-file' | 'allocation' | 'disposition' | 'rename';

/** The functions fltbridge.node exports (native/src/addon.cc). */
export interface NativeAddon {
  version(): AddonVersion;
  diagnostics(): AddonDiagnostics;

  sessionOpen(callback: RecordCallback): number;
  sessionRef(session: number, ref: boolean): void;
  sessionClose(session: number): Promise<{ leaked: number }>;
  sessionCancel(session: number, request: number): boolean;
  sessionStats(session: number): SessionStats;

  open(
    session: number,
    request: number,
    path: string,
    access: number,
    share: number,
    creation: number,
    flags: number,
  ): void;
  close(handle: number, request: number): void;
  read(handle: number, request: number, offset: bigint, length: number): void;
  write(handle: number, request: number, offset: bigint, data: Uint8Array): void;
  ioctl(
    handle: number,
    request: number,
    code: number,
    input: Uint8Array | null,
    outputLength: number,
  ): void;
  lock(
    handle: number,
    request: number,
    offset: bigint,
    length: bigint,
    exclusive: boolean,
    failImmediately: boolean,
  ): void;
  unlock(handle: number, request: number, offset: bigint, length: bigint): void;
  setInformation(
    handle: number,
    request: number,
    kind: SetInformationKind,
    value: bigint | boolean | string,
    replaceIfExists?: boolean,
  ): void;
  flush(handle: number, request: number): void;
  handleInfo(handle: number): { overlapped: boolean };
  /**
   * The NT path of an existing file or directory (CreateFileW with FILE_READ_ATTRIBUTES and
   * FILE_FLAG_BACKUP_SEMANTICS, then GetFinalPathNameByHandleW with FILE_NAME_NORMALIZED |
   * VOLUME_NAME_NT), on the session's runner: an `io` completion whose `data` is the name in
   * UTF-16LE (\Device\HarddiskVolume3\fltb), or the failing call's status.
   */
  finalPath(session: number, request: number, path: string): void;

  portConnect(name: string, context: Uint8Array, callback: RecordCallback): number;
  portStart(connection: number, slots: number, slotBytes: number): void;
  portSend(connection: number, request: number, input: Uint8Array, outputBytes: number): void;
  portRef(connection: number, ref: boolean): void;
  portClose(connection: number): Promise<{ leaked: number }>;
  portStats(connection: number): PortStats;
}

export const PLATFORM_PACKAGE = '@fltbridge/win32-x64';

let cached: { addon: NativeAddon; path: string } | undefined;

/** The directory of this module, in source (src/backends/windows) and built (dist/...) form. */
function here(): string {
  return dirname(fileURLToPath(import.meta.url));
}

/** Candidate paths, in order, with where each came from. */
export function addonCandidates(explicit?: string): { from: string; path: string }[] {
  const out: { from: string; path: string }[] = [];
  if (explicit) out.push({ from: 'the addonPath option', path: resolve(explicit) });
  const env = process.env.FLTBRIDGE_ADDON_PATH;
  if (env) out.push({ from: 'FLTBRIDGE_ADDON_PATH', path: resolve(env) });
  try {
    const require = createRequire(import.meta.url);
    out.push({
      from: PLATFORM_PACKAGE,
      path: join(dirname(require.resolve(`${PLATFORM_PACKAGE}/package.json`)), 'fltbridge.node'),
    });
  } catch {
    // not installed (every platform but win32-x64, or an install without optional packages)
  }
  // src/backends/windows or dist/backends/windows -> repository root.
  out.push({
    from: 'the development build',
    path: join(here(), '..', '..', '..', 'build', 'native', 'Release', 'fltbridge.node'),
  });
  return out;
}

/**
 * The addon, loaded once per process. Throws UnsupportedPlatformError off Windows (without
 * touching the file system) and BackendUnavailableError when no build can be found or loaded.
 */
export function loadAddon(explicitPath?: string): { addon: NativeAddon; path: string } {
  if (process.platform !== 'win32') {
    throw new UnsupportedPlatformError('the windows backend (fltbridge.node and the minifilter)');
  }
  if (cached && (!explicitPath || resolve(explicitPath) === cached.path)) return cached;
  if (process.arch !== 'x64') {
    throw new BackendUnavailableError(
      'windows',
      `fltbridge.node is built for x64 only (this is ${process.arch})`,
      "use the model backend: { backend: 'model' } or --backend model",
    );
  }
  const candidates = addonCandidates(explicitPath);
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const candidate of candidates) {
    if (!existsSync(candidate.path)) continue;
    try {
      const addon = require(candidate.path) as NativeAddon;
      cached = { addon, path: candidate.path };
      return cached;
    } catch (error) {
      failures.push(`${candidate.path} (${candidate.from}): ${(error as Error).message}`);
    }
  }
  throw new BackendUnavailableError(
    'windows',
    failures.length > 0
      ? `fltbridge.node could not be loaded: ${failures.join('; ')}`
      : `fltbridge.node was not found (looked in ${candidates.map((c) => c.path).join(', ')})`,
    `install with optional dependencies (npm install, not --omit=optional) so ${PLATFORM_PACKAGE} is present, or set FLTBRIDGE_ADDON_PATH`,
  );
}
