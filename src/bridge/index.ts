export * from './errors.js';
export * from './events.js';
export * from './flags.js';
export * from './ntstatus.js';
export type * from './types.js';
