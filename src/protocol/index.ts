/**
 * The wire codec: the TypeScript side of driver/include/fltbridge_proto.h. See docs/protocol.md.
 *
 *   layout    constants and structure tables with the header's names
 *   reader    bounds-checked little-endian reads (decoders)
 *   writer    range-checked little-endian writes (encoders)
 *   commands  connect context, commands and replies, both directions
 *   batch     event batches <-> BridgeEvent[], BatchBuilder for producers
 */
export * from './batch.js';
export * from './commands.js';
export * from './layout.js';
export { asBytes, type ByteInput, Reader } from './reader.js';
export { Writer } from './writer.js';
