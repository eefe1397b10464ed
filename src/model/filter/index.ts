/**
 * The filter twin: the model of driver/src, file for file (see filter.ts for the map).
 */

export { ProbeManager, type ProbeSpec } from './asyncio.js';
export { bareReply, CommPort, Connection, type ConnectResult, type MessageResult } from './comm.js';
export {
  BATCH_HEADER_BYTES,
  type EventInit,
  EventQueue,
  type EventQueueOptions,
  type EventQueueStats,
  MODEL_EPOCH,
  RECORD_HEADER_BYTES,
  recordBytes,
} from './events.js';
export { type FilterOptions, FltBridgeFilter, WHOLE_VOLUME } from './filter.js';
export {
  isPolicyError,
  type NamespaceKind,
  type NamespaceSpec,
  Policy,
  type PolicyError,
} from './policy.js';
export { type HandleContext, StreamResource, StreamState, StreamTable } from './stream.js';
