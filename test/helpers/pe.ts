/**
 * A small reader for PE32+ images (the driver's fltbridge.sys, the addon's .node): headers,
 * sections, imports, the COFF symbol table and the image checksum. Written from the PE/COFF
 * specification (learn.microsoft.com, "PE Format"); it reads only, and throws PeError on
 * anything malformed rather than guessing.
 */

export class PeError extends Error {}

export const IMAGE_FILE_MACHINE_AMD64 = 0x8664;
export const IMAGE_SUBSYSTEM_NATIVE = 1;
export const IMAGE_SUBSYSTEM_WINDOWS_GUI = 2;
export const IMAGE_SUBSYSTEM_WINDOWS_CUI = 3;

export const DllCharacteristics = {
  HIGH_ENTROPY_VA: 0x0020,
  DYNAMIC_BASE: 0x0040,
  FORCE_INTEGRITY: 0x0080,
  NX_COMPAT: 0x0100,
  NO_SEH: 0x0400,
  GUARD_CF: 0x4000,
} as const;

export const SectionFlags = {
  CNT_CODE: 0x00000020,
  CNT_INITIALIZED_DATA: 0x00000040,
  CNT_UNINITIALIZED_DATA: 0x00000080,
  MEM_DISCARDABLE: 0x02000000,
  MEM_EXECUTE: 0x20000000,
  MEM_READ: 0x40000000,
  MEM_WRITE: 0x80000000,
} as const;

/** Data directory indexes. */
export const Directory = {
  EXPORT: 0,
  IMPORT: 1,
  RESOURCE: 2,
  EXCEPTION: 3,
  SECURITY: 4,
  BASERELOC: 5,
  DEBUG: 6,
  IAT: 12,
  DELAY_IMPORT: 13,
} as const;

export interface PeSection {
  readonly name: string;
  readonly virtualSize: number;
  readonly virtualAddress: number;
  readonly rawSize: number;
  readonly rawPointer: number;
  readonly characteristics: number;
}

export interface PeImport {
  readonly dll: string;
  /** Function names (ordinal imports as `#<n>`). */
  readonly names: readonly string[];
}

export interface PeSymbol {
  readonly name: string;
  readonly value: number;
  /** 1-based section number; 0 undefined, negative special. */
  readonly section: number;
  readonly storageClass: number;
}

export interface PeImage {
  readonly machine: number;
  readonly characteristics: number;
  readonly timeDateStamp: number;
  readonly magic: number;
  readonly entryPoint: number;
  readonly imageBase: bigint;
  readonly sectionAlignment: number;
  readonly fileAlignment: number;
  readonly subsystem: number;
  readonly subsystemVersion: readonly [number, number];
  readonly dllCharacteristics: number;
  readonly checkSum: number;
  /** File offset of the CheckSum field (for recomputing it). */
  readonly checkSumOffset: number;
  readonly sizeOfImage: number;
  readonly directories: readonly { readonly rva: number; readonly size: number }[];
  readonly sections: readonly PeSection[];
  readonly imports: readonly PeImport[];
  readonly delayImports: readonly PeImport[];
  readonly symbols: readonly PeSymbol[];
  /** Map an RVA to a file offset (throws when it is in no section). */
  offsetOf(rva: number): number;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function need(ok: boolean, what: string): asserts ok {
  if (!ok) throw new PeError(what);
}

function cString(bytes: Uint8Array, offset: number, max = 4096): string {
  let end = offset;
  while (end < bytes.length && end - offset < max && bytes[end] !== 0) end++;
  need(end < bytes.length, `unterminated string at ${offset}`);
  return new TextDecoder('latin1').decode(bytes.subarray(offset, end));
}

/** Parse a PE32+ image. */
export function parsePe(bytes: Uint8Array): PeImage {
  const v = view(bytes);
  need(bytes.length >= 0x40 && v.getUint16(0, true) === 0x5a4d, 'no MZ header');
  const peOffset = v.getUint32(0x3c, true);
  need(
    peOffset + 24 <= bytes.length && v.getUint32(peOffset, true) === 0x00004550,
    'no PE signature',
  );
  const coff = peOffset + 4;
  const machine = v.getUint16(coff, true);
  const sectionCount = v.getUint16(coff + 2, true);
  const timeDateStamp = v.getUint32(coff + 4, true);
  const symbolPointer = v.getUint32(coff + 8, true);
  const symbolCount = v.getUint32(coff + 12, true);
  const optionalSize = v.getUint16(coff + 16, true);
  const characteristics = v.getUint16(coff + 18, true);
  const opt = coff + 20;
  need(opt + optionalSize <= bytes.length && optionalSize >= 112, 'truncated optional header');
  const magic = v.getUint16(opt, true);
  need(magic === 0x20b, `optional header magic 0x${magic.toString(16)} is not PE32+`);
  const entryPoint = v.getUint32(opt + 16, true);
  const imageBase = v.getBigUint64(opt + 24, true);
  const sectionAlignment = v.getUint32(opt + 32, true);
  const fileAlignment = v.getUint32(opt + 36, true);
  const subsystemVersion = [v.getUint16(opt + 48, true), v.getUint16(opt + 50, true)] as const;
  const sizeOfImage = v.getUint32(opt + 56, true);
  const checkSumOffset = opt + 64;
  const checkSum = v.getUint32(checkSumOffset, true);
  const subsystem = v.getUint16(opt + 68, true);
  const dllCharacteristics = v.getUint16(opt + 70, true);
  const directoryCount = v.getUint32(opt + 108, true);
  need(112 + directoryCount * 8 <= optionalSize, 'data directories past the optional header');
  const directories = Array.from({ length: directoryCount }, (_, i) => ({
    rva: v.getUint32(opt + 112 + i * 8, true),
    size: v.getUint32(opt + 116 + i * 8, true),
  }));

  const table = opt + optionalSize;
  need(table + sectionCount * 40 <= bytes.length, 'truncated section table');
  const sections: PeSection[] = [];
  for (let i = 0; i < sectionCount; i++) {
    const s = table + i * 40;
    const rawName = bytes.subarray(s, s + 8);
    const nul = rawName.indexOf(0);
    sections.push({
      name: new TextDecoder('latin1').decode(nul < 0 ? rawName : rawName.subarray(0, nul)),
      virtualSize: v.getUint32(s + 8, true),
      virtualAddress: v.getUint32(s + 12, true),
      rawSize: v.getUint32(s + 16, true),
      rawPointer: v.getUint32(s + 20, true),
      characteristics: v.getUint32(s + 36, true),
    });
  }

  const offsetOf = (rva: number): number => {
    for (const s of sections) {
      const span = Math.max(s.virtualSize, s.rawSize);
      if (rva >= s.virtualAddress && rva < s.virtualAddress + span) {
        const off = rva - s.virtualAddress;
        need(off < s.rawSize, `RVA 0x${rva.toString(16)} is in ${s.name}'s uninitialised part`);
        return s.rawPointer + off;
      }
    }
    throw new PeError(`RVA 0x${rva.toString(16)} is in no section`);
  };

  const thunkNames = (rva: number): string[] => {
    const names: string[] = [];
    for (let t = offsetOf(rva); ; t += 8) {
      need(t + 8 <= bytes.length, 'import thunks run past the file');
      const thunk = v.getBigUint64(t, true);
      if (thunk === 0n) break;
      if (thunk & 0x8000000000000000n) names.push(`#${Number(thunk & 0xffffn)}`);
      else names.push(cString(bytes, offsetOf(Number(thunk & 0x7fffffffn)) + 2));
      need(names.length < 100_000, 'import list does not end');
    }
    return names;
  };

  const imports: PeImport[] = [];
  const importDir = directories[Directory.IMPORT];
  if (importDir && importDir.rva !== 0) {
    for (let d = offsetOf(importDir.rva); ; d += 20) {
      need(d + 20 <= bytes.length, 'import descriptors run past the file');
      const lookup = v.getUint32(d, true);
      const nameRva = v.getUint32(d + 12, true);
      const iat = v.getUint32(d + 16, true);
      if (lookup === 0 && nameRva === 0 && iat === 0) break;
      imports.push({ dll: cString(bytes, offsetOf(nameRva)), names: thunkNames(lookup || iat) });
    }
  }

  const delayImports: PeImport[] = [];
  const delayDir = directories[Directory.DELAY_IMPORT];
  if (delayDir && delayDir.rva !== 0) {
    for (let d = offsetOf(delayDir.rva); ; d += 32) {
      need(d + 32 <= bytes.length, 'delay-import descriptors run past the file');
      const nameRva = v.getUint32(d + 4, true);
      const intRva = v.getUint32(d + 16, true);
      if (nameRva === 0) break;
      delayImports.push({ dll: cString(bytes, offsetOf(nameRva)), names: thunkNames(intRva) });
    }
  }

  const symbols: PeSymbol[] = [];
  if (symbolPointer !== 0 && symbolCount !== 0) {
    const strings = symbolPointer + symbolCount * 18;
    need(strings <= bytes.length, 'symbol table runs past the file');
    for (let i = 0; i < symbolCount; i++) {
      const s = symbolPointer + i * 18;
      let name: string;
      if (v.getUint32(s, true) === 0) name = cString(bytes, strings + v.getUint32(s + 4, true));
      else {
        const raw = bytes.subarray(s, s + 8);
        const nul = raw.indexOf(0);
        name = new TextDecoder('latin1').decode(nul < 0 ? raw : raw.subarray(0, nul));
      }
      symbols.push({
        name,
        value: v.getUint32(s + 8, true),
        section: v.getInt16(s + 12, true),
        storageClass: bytes[s + 16] as number,
      });
      i += bytes[s + 17] as number;
    }
  }

  return {
    machine,
    characteristics,
    timeDateStamp,
    magic,
    entryPoint,
    imageBase,
    sectionAlignment,
    fileAlignment,
    subsystem,
    subsystemVersion,
    dllCharacteristics,
    checkSum,
    checkSumOffset,
    sizeOfImage,
    directories,
    sections,
    imports,
    delayImports,
    symbols,
    offsetOf,
  };
}

/**
 * The PE image checksum (the algorithm of CheckSumMappedFile): the file as 16-bit little-endian
 * words summed with end-around carry, the CheckSum field itself counted as zero, plus the file
 * length.
 */
export function peChecksum(bytes: Uint8Array, checkSumOffset: number): number {
  let sum = 0;
  const words = Math.floor(bytes.length / 2);
  for (let i = 0; i < words; i++) {
    const off = i * 2;
    if (off === checkSumOffset || off === checkSumOffset + 2) continue;
    sum += (bytes[off] as number) | ((bytes[off + 1] as number) << 8);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (bytes.length % 2) {
    sum += bytes[bytes.length - 1] as number;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum + bytes.length) >>> 0;
}

/** The RVA of a symbol (COFF symbol table) or undefined. */
export function symbolRva(image: PeImage, name: string): number | undefined {
  const symbol = image.symbols.find((s) => s.name === name && s.section > 0);
  if (symbol === undefined) return undefined;
  const section = image.sections[symbol.section - 1];
  return section === undefined ? undefined : section.virtualAddress + symbol.value;
}
