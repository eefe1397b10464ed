/**
 * Little-endian writes into a zero-filled buffer, each checking that the value fits its C field.
 * Encoders report bad values as InvalidArgumentError naming the field (the caller's mistake,
 * not a malformed buffer); every byte not written stays zero, which is what the header wants
 * for Reserved fields and padding.
 */

import { InvalidArgumentError } from '../bridge/errors.js';

const U64_LIMIT = 1n << 64n;
/** Node's Buffer when present (fast UTF-16LE copies); the portable loop otherwise. */
const NodeBuffer: typeof Buffer | undefined = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const I64_MIN = -(1n << 63n);
const I64_LIMIT = 1n << 63n;

function show(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'symbol') return 'a symbol';
  return String(value);
}

/** An unsigned integer of `bits` bits (8, 16 or 32). */
export function checkUint(value: unknown, bits: 8 | 16 | 32, what: string): number {
  const max = bits === 32 ? 0xffffffff : (1 << bits) - 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidArgumentError(`${what} must be an integer 0..${max}, got ${show(value)}`);
  }
  return value;
}

/** An unsigned 64-bit integer, as a bigint. */
export function checkU64(value: unknown, what: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value >= U64_LIMIT) {
    throw new InvalidArgumentError(`${what} must be a bigint 0..2^64-1, got ${show(value)}`);
  }
  return value;
}

/** A signed 64-bit integer, as a bigint. */
export function checkI64(value: unknown, what: string): bigint {
  if (typeof value !== 'bigint' || value < I64_MIN || value >= I64_LIMIT) {
    throw new InvalidArgumentError(`${what} must be a bigint -2^63..2^63-1, got ${show(value)}`);
  }
  return value;
}

/** An NTSTATUS: unsigned (0xC0000043) or signed (-1073741757); returned unsigned. */
export function checkStatus(value: unknown, what: string): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < -0x80000000 ||
    value > 0xffffffff
  ) {
    throw new InvalidArgumentError(`${what} must be a 32-bit NTSTATUS, got ${show(value)}`);
  }
  return value >>> 0;
}

/** Flags: a 32-bit (or 16-bit) mask with no bit outside `valid`. */
export function checkFlags(
  value: unknown,
  valid: number,
  what: string,
  bits: 16 | 32 = 32,
): number {
  const v = checkUint(value, bits, what);
  if ((v & ~valid) !== 0) {
    throw new InvalidArgumentError(
      `${what} 0x${v.toString(16)} has bits outside 0x${valid.toString(16)}`,
    );
  }
  return v;
}

export class Writer {
  readonly bytes: Uint8Array;
  readonly view: DataView;

  /** A writer over `bytes` (which should be zero where nothing is written). */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  static alloc(size: number): Writer {
    return new Writer(new Uint8Array(size));
  }

  u8(offset: number, value: unknown, what: string): void {
    this.view.setUint8(offset, checkUint(value, 8, what));
  }

  u16(offset: number, value: unknown, what: string): void {
    this.view.setUint16(offset, checkUint(value, 16, what), true);
  }

  u32(offset: number, value: unknown, what: string): void {
    this.view.setUint32(offset, checkUint(value, 32, what), true);
  }

  /** An NTSTATUS into an FLTB_I32 field (same bits as the unsigned form). */
  status(offset: number, value: unknown, what: string): void {
    this.view.setUint32(offset, checkStatus(value, what), true);
  }

  u64(offset: number, value: unknown, what: string): void {
    this.view.setBigUint64(offset, checkU64(value, what), true);
  }

  i64(offset: number, value: unknown, what: string): void {
    this.view.setBigInt64(offset, checkI64(value, what), true);
  }

  /** Raw bytes. */
  copy(offset: number, bytes: Uint8Array): void {
    this.bytes.set(bytes, offset);
  }

  /** The first `units` UTF-16 code units of `text` as UTF-16LE, code unit for code unit. */
  utf16(offset: number, text: string, units: number = text.length): void {
    if (NodeBuffer !== undefined && units === text.length && units > 16) {
      // Node copies the code units as they are, unpaired surrogates included.
      this.buffer ??= NodeBuffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
      this.buffer.write(text, offset, units * 2, 'utf16le');
      return;
    }
    const b = this.bytes;
    let p = offset;
    for (let i = 0; i < units; i++, p += 2) {
      const c = text.charCodeAt(i);
      b[p] = c & 0xff;
      b[p + 1] = c >>> 8;
    }
  }

  private buffer: Buffer | undefined;
}

/** A name for a command: a non-empty string of at most `maxBytes / 2` UTF-16 code units. */
export function checkName(value: unknown, maxBytes: number, what: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(`${what} must be a non-empty string, got ${show(value)}`);
  }
  if (value.length * 2 > maxBytes) {
    throw new InvalidArgumentError(
      `${what} is ${value.length * 2} bytes of UTF-16, longer than the ${maxBytes} allowed`,
    );
  }
  return value;
}
