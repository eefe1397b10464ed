/**
 * Failures of the Windows backend as the library's typed errors, each one line naming the
 * HRESULT or NTSTATUS and what to do.
 */
import {
  BackendUnavailableError,
  DisposedError,
  FltBridgeError,
  HandleClosedError,
  InvalidArgumentError,
  PortError,
  UnknownHandleError,
} from '../../bridge/errors.js';
import { formatNtStatus } from '../../bridge/ntstatus.js';

export function hexHresult(hresult: number): string {
  return `0x${(hresult >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

interface Known {
  readonly name: string;
  readonly meaning: string;
  readonly hint: string;
}

const KNOWN: ReadonlyMap<number, Known> = new Map([
  [
    0x80070002,
    {
      name: 'ERROR_FILE_NOT_FOUND',
      meaning: 'the port does not exist',
      hint: 'is the driver loaded? fltbridge driver load (fltbridge driver status shows it)',
    },
  ],
  [
    0x80070005,
    {
      name: 'E_ACCESSDENIED',
      meaning: 'the port admits administrators and SYSTEM only',
      hint: 'run from an elevated prompt (Run as administrator)',
    },
  ],
  [
    0x80004001,
    {
      name: 'E_NOTIMPL',
      meaning: 'this fltlib.dll implements no communication ports (Wine)',
      hint: "run on Windows with the driver loaded; elsewhere use the model backend ({ backend: 'model' }), or events: 'off' for test-client I/O only",
    },
  ],
  [
    0x8007051a,
    {
      name: 'ERROR_REVISION_MISMATCH',
      meaning: 'the driver does not speak this protocol version',
      hint: 'use the driver and the library of the same fltbridge release',
    },
  ],
  [
    0x80070006,
    {
      name: 'ERROR_INVALID_HANDLE',
      meaning: 'the port is disconnected (was the driver unloaded?)',
      hint: 'fltbridge driver status; load it again with fltbridge driver load and reconnect',
    },
  ],
  [
    0x800704d6,
    {
      name: 'ERROR_CONNECTION_COUNT_LIMIT',
      meaning: 'the port already has its maximum of connections',
      hint: 'close other fltbridge clients (watch, shell) and try again',
    },
  ],
  [
    0x80070057,
    {
      name: 'E_INVALIDARG',
      meaning: 'the driver refused the connection context',
      hint: 'use the driver and the library of the same fltbridge release',
    },
  ],
]);

/** "HRESULT 0x80070002 (ERROR_FILE_NOT_FOUND: the port does not exist)". */
export function describeHresult(hresult: number): string {
  const known = KNOWN.get(hresult >>> 0);
  if (known) return `HRESULT ${hexHresult(hresult)} (${known.name}: ${known.meaning})`;
  // FACILITY_NT_BIT: an NTSTATUS carried in an HRESULT.
  if ((hresult & 0x10000000) !== 0) {
    return `HRESULT ${hexHresult(hresult)} (${formatNtStatus((hresult & ~0x10000000) >>> 0)})`;
  }
  return `HRESULT ${hexHresult(hresult)}`;
}

export function portError(what: string, hresult: number): PortError {
  const known = KNOWN.get(hresult >>> 0);
  return new PortError(`${what} failed with ${describeHresult(hresult)}`, hresult, known?.hint);
}

interface NativeError extends Error {
  readonly code?: string;
  readonly hresult?: number;
}

/** A JS error the addon threw (it carries a `code`) as the library's typed error. */
export function fromNative(error: unknown, context: { handle?: number } = {}): unknown {
  if (!(error instanceof Error)) return error;
  const e = error as NativeError;
  switch (e.code) {
    case 'E_UNKNOWN_HANDLE':
      return new UnknownHandleError(context.handle ?? e.message);
    case 'E_HANDLE_CLOSED':
      return new HandleClosedError(context.handle ?? e.message);
    case 'E_INVALID_ARGUMENT':
      return new InvalidArgumentError(e.message);
    case 'E_DISPOSED':
      return new DisposedError('the windows bridge');
    case 'E_PORT':
      return e.hresult === undefined
        ? new PortError(e.message)
        : portError(e.message.replace(/ failed with HRESULT 0x[0-9A-F]+$/i, ''), e.hresult);
    case 'E_NATIVE':
      return new BackendUnavailableError('windows', e.message);
    default:
      return error instanceof FltBridgeError ? error : error;
  }
}
