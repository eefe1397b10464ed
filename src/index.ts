/**
 * fltbridge: see and script Windows oplocks and byte-range locks.
 *
 * The public surface: the backend-neutral Bridge types, NTSTATUS helpers, typed errors and flag
 * parsers (from src/bridge), and the wire-protocol codec as the `protocol` namespace.
 */
export * from './bridge/index.js';
export * as protocol from './protocol/index.js';
