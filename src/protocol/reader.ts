/**
 * Bounds-checked little-endian reads over a byte buffer. Every read names the absolute byte
 * offset it failed at; decoders check sizes before reading, so these checks are the last line
 * of defence, not the validation itself. Nothing here allocates per read except 64-bit values
 * (bigint) and names (strings).
 */

import { ProtocolError } from '../bridge/errors.js';

/** What the decoders accept: a Uint8Array (a Node Buffer is one), any other view, or an ArrayBuffer. */
export type ByteInput = Uint8Array | ArrayBufferView | ArrayBuffer;

/** The bytes of an input, without copying; anything else is a ProtocolError('bad-buffer'). */
export function asBytes(input: unknown): Uint8Array {
  if (input instanceof Uint8Array) return input;
  try {
    if (ArrayBuffer.isView(input)) {
      return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    }
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
  } catch (error) {
    // A detached ArrayBuffer, for one.
    throw new ProtocolError('bad-buffer', 0, `unusable buffer: ${String(error)}`);
  }
  throw new ProtocolError(
    'bad-buffer',
    0,
    `expected a Uint8Array or ArrayBuffer, got ${kindOf(input)}`,
  );
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/** Code units per String.fromCharCode call; also the longest name (FLTB_MAX_NAME_BYTES / 2). */
const CHUNK_UNITS = 1024;
const scratch = new Uint16Array(CHUNK_UNITS);
/** Node's Buffer when present (fast, exact UTF-16LE decoding); the portable loop otherwise. */
const NodeBuffer: typeof Buffer | undefined = (globalThis as { Buffer?: typeof Buffer }).Buffer;

export class Reader {
  readonly bytes: Uint8Array;
  readonly length: number;
  /** Made on the first 64-bit read: most refusals never need one. */
  private dataView: DataView | undefined;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.length = bytes.byteLength;
  }

  get view(): DataView {
    this.dataView ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.length);
    return this.dataView;
  }

  /** Throws ProtocolError('short-buffer') unless `count` bytes exist at `offset`. */
  need(offset: number, count: number): void {
    if (!(offset >= 0 && count >= 0 && offset + count <= this.length)) {
      throw new ProtocolError(
        'short-buffer',
        offset,
        `need ${count} byte(s) at offset ${offset}, the buffer has ${this.length}`,
      );
    }
  }

  u8(offset: number): number {
    this.need(offset, 1);
    return this.bytes[offset] as number;
  }

  u16(offset: number): number {
    this.need(offset, 2);
    const b = this.bytes;
    return (b[offset] as number) | ((b[offset + 1] as number) << 8);
  }

  u32(offset: number): number {
    this.need(offset, 4);
    const b = this.bytes;
    return (
      ((b[offset] as number) |
        ((b[offset + 1] as number) << 8) |
        ((b[offset + 2] as number) << 16) |
        ((b[offset + 3] as number) << 24)) >>>
      0
    );
  }

  u64(offset: number): bigint {
    this.need(offset, 8);
    return this.view.getBigUint64(offset, true);
  }

  i64(offset: number): bigint {
    this.need(offset, 8);
    return this.view.getBigInt64(offset, true);
  }

  /** True when `count` bytes at `offset` are all zero. */
  isZero(offset: number, count: number): boolean {
    this.need(offset, count);
    const b = this.bytes;
    for (let i = offset; i < offset + count; i++) if (b[i] !== 0) return false;
    return true;
  }

  /** A copy of `count` bytes at `offset`. */
  slice(offset: number, count: number): Uint8Array {
    this.need(offset, count);
    return this.bytes.slice(offset, offset + count);
  }

  /**
   * `byteLength` bytes of UTF-16LE at `offset` as a JS string, code unit for code unit: unpaired
   * surrogates come through unchanged (Windows names are counted UINT16 arrays, not validated
   * UTF-16), so decoding and encoding round-trip every name bit for bit. (TextDecoder would
   * replace them with U+FFFD; Node's 'utf16le' Buffer decoding copies the units as they are.)
   */
  utf16(offset: number, byteLength: number): string {
    this.need(offset, byteLength);
    if (NodeBuffer !== undefined) {
      this.buffer ??= NodeBuffer.from(this.bytes.buffer, this.bytes.byteOffset, this.length);
      return this.buffer.toString('utf16le', offset, offset + byteLength);
    }
    const b = this.bytes;
    const units = byteLength >>> 1;
    let out = '';
    for (let start = 0; start < units; start += CHUNK_UNITS) {
      const n = Math.min(CHUNK_UNITS, units - start);
      let p = offset + start * 2;
      for (let i = 0; i < n; i++, p += 2) {
        scratch[i] = (b[p] as number) | ((b[p + 1] as number) << 8);
      }
      out += String.fromCharCode.apply(null, scratch.subarray(0, n) as unknown as number[]);
    }
    return out;
  }

  private buffer: Buffer | undefined;
}

/**
 * Run a decoder so that nothing but ProtocolError escapes it: any other exception (a bug) is
 * wrapped as ProtocolError('internal') naming what was being decoded.
 */
export function decodeGuard<T>(what: string, input: unknown, decode: (r: Reader) => T): T {
  let reader: Reader;
  try {
    reader = new Reader(asBytes(input));
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    // A view of a detached ArrayBuffer, for one.
    throw new ProtocolError('bad-buffer', 0, `${what}: unusable buffer (${String(error)})`);
  }
  try {
    return decode(reader);
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new ProtocolError('internal', 0, `${what}: unexpected failure (${detail})`);
  }
}
