/**
 * fltbridge: see and script Windows oplocks and byte-range locks.
 * The public surface: the backend-neutral Bridge types, NTSTATUS helpers, typed errors and the
 * wire-protocol codec.
 */
export * from './bridge/index.js';
