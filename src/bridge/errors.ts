/**
 * Typed errors. Every error the library throws is a FltBridgeError with a stable `code`, a
 * one-line message that names the problem, and, where there is one, a `hint` saying what to do.
 * NTSTATUS results of file operations are not errors: they are values in the results.
 */

import { formatNtStatus } from './ntstatus.js';

export type FltBridgeErrorCode =
  | 'E_PROTOCOL'
  | 'E_INVALID_ARGUMENT'
  | 'E_UNKNOWN_HANDLE'
  | 'E_HANDLE_CLOSED'
  | 'E_UNSUPPORTED_PLATFORM'
  | 'E_BACKEND_UNAVAILABLE'
  | 'E_NTSTATUS'
  | 'E_PORT'
  | 'E_DISPOSED'
  | 'E_DRIVER'
  | 'E_BUG_CHECK';

export class FltBridgeError extends Error {
  readonly code: FltBridgeErrorCode;
  readonly hint: string | undefined;

  constructor(code: FltBridgeErrorCode, message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.hint = hint;
  }
}

/** Why a protocol buffer was refused. */
export type ProtocolErrorReason =
  | 'short-buffer'
  | 'bad-magic'
  | 'version-mismatch'
  | 'bad-header-size'
  | 'bad-total'
  | 'bad-count'
  | 'record-size'
  | 'record-unaligned'
  | 'unknown-type'
  | 'bad-name'
  | 'bad-value'
  | 'bad-sequence'
  | 'bad-command'
  | 'bad-flags'
  | 'too-large'
  /** The input is not a byte buffer (Uint8Array or ArrayBuffer). */
  | 'bad-buffer'
  /** An unexpected failure inside a decoder, wrapped so that only ProtocolError escapes. */
  | 'internal';

/** A malformed wire buffer: names the byte offset and the reason. */
export class ProtocolError extends FltBridgeError {
  readonly offset: number;
  readonly reason: ProtocolErrorReason;

  constructor(reason: ProtocolErrorReason, offset: number, detail: string) {
    super('E_PROTOCOL', `protocol error at byte ${offset}: ${reason}: ${detail}`);
    this.offset = offset;
    this.reason = reason;
  }
}

export class InvalidArgumentError extends FltBridgeError {
  constructor(message: string, hint?: string) {
    super('E_INVALID_ARGUMENT', message, hint);
  }
}

export class UnknownHandleError extends FltBridgeError {
  constructor(handle: string | number) {
    super(
      'E_UNKNOWN_HANDLE',
      `unknown handle ${String(handle)}`,
      'open the file first and use the handle it returned',
    );
  }
}

export class HandleClosedError extends FltBridgeError {
  constructor(handle: string | number) {
    super(
      'E_HANDLE_CLOSED',
      `handle ${String(handle)} is already closed`,
      'open the file again to get a new handle',
    );
  }
}

export class UnsupportedPlatformError extends FltBridgeError {
  constructor(what: string, platform: string = process.platform) {
    super(
      'E_UNSUPPORTED_PLATFORM',
      `${what} needs Windows (this is ${platform})`,
      "use the in-process model backend instead: { backend: 'model' } or --backend model",
    );
  }
}

export class BackendUnavailableError extends FltBridgeError {
  constructor(backend: string, why: string, hint?: string) {
    super('E_BACKEND_UNAVAILABLE', `backend '${backend}' is not available: ${why}`, hint);
  }
}

/** An operation that Windows answers with an error status, raised where a value would not do. */
export class NtStatusError extends FltBridgeError {
  readonly status: number;

  constructor(status: number, what: string, hint?: string) {
    super('E_NTSTATUS', `${what} failed with ${formatNtStatus(status)}`, hint);
    this.status = status >>> 0;
  }
}

/** The communication port (or a test double of it) failed: connect, send or pump. */
export class PortError extends FltBridgeError {
  /** HRESULT from fltlib, when the failure came from there. */
  readonly hresult: number | undefined;

  constructor(message: string, hresult?: number, hint?: string) {
    super('E_PORT', message, hint);
    this.hresult = hresult === undefined ? undefined : hresult >>> 0;
  }
}

export class DisposedError extends FltBridgeError {
  constructor(what: string) {
    super('E_DISPOSED', `${what} was disposed`);
  }
}

/** Misuse of a package where Windows would bug-check the machine (the model refuses instead). */
export class BugCheckError extends FltBridgeError {
  constructor(message: string) {
    super('E_BUG_CHECK', `Windows would bug-check here: ${message}`);
  }
}
