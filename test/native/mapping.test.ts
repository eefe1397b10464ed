/**
 * The Win32 mappings of the windows backend (win32.ts) and its error messages (errors.ts).
 */
import { describe, expect, it } from 'vitest';
import { describeHresult, fromNative, portError } from '../../src/backends/windows/errors.js';
import {
  creationFromDisposition,
  flagsFromCreateOptions,
  legacyBrokenTo,
  parseRequestOplockOutput,
  renameTarget,
  requestOplockInput,
} from '../../src/backends/windows/win32.js';
import {
  BackendUnavailableError,
  DisposedError,
  HandleClosedError,
  InvalidArgumentError,
  PortError,
  UnknownHandleError,
} from '../../src/bridge/errors.js';

describe('CreateFileW mapping', () => {
  it('maps every NT disposition CreateFileW can express', () => {
    expect([1, 2, 3, 4, 5].map(creationFromDisposition)).toEqual([3, 1, 4, 5, 2]);
    expect(() => creationFromDisposition(0)).toThrow(/FILE_SUPERSEDE/);
    expect(() => creationFromDisposition(6)).toThrow(InvalidArgumentError);
  });

  it('maps create options to flags and refuses the NtCreateFile-only ones', () => {
    expect(flagsFromCreateOptions(0, true)).toBe(0x40000080);
    expect(flagsFromCreateOptions(0, false)).toBe(0x80);
    expect(flagsFromCreateOptions(0x1000 | 0x4000 | 0x2, false)).toBe(
      (0x80 | 0x04000000 | 0x02000000 | 0x80000000) >>> 0,
    );
    expect(flagsFromCreateOptions(0x20, false)).toBe(0x80);
    for (const option of [0x1, 0x100, 0x2000, 0x100000, 0x200]) {
      expect(() => flagsFromCreateOptions(option, true)).toThrow(
        /CreateFileW cannot express FILE_/,
      );
    }
  });

  it('turns DOS rename targets into NT paths', () => {
    expect(renameTarget('C:\\a\\b.txt')).toBe('\\??\\C:\\a\\b.txt');
    expect(renameTarget('\\\\?\\D:\\x')).toBe('\\??\\D:\\x');
    expect(renameTarget('\\\\server\\share\\f')).toBe('\\??\\UNC\\server\\share\\f');
    expect(renameTarget('b.txt')).toBe('b.txt');
  });
});

describe('oplock buffers', () => {
  it('encodes REQUEST_OPLOCK_INPUT_BUFFER version 1', () => {
    expect([...requestOplockInput('RH', 1)]).toEqual([1, 0, 12, 0, 3, 0, 0, 0, 1, 0, 0, 0]);
    expect([...requestOplockInput('NONE', 2)]).toEqual([1, 0, 12, 0, 0, 0, 0, 0, 2, 0, 0, 0]);
  });

  it('parses REQUEST_OPLOCK_OUTPUT_BUFFER and legacy break information', () => {
    const out = new Uint8Array(24);
    const v = new DataView(out.buffer);
    v.setUint32(4, 5, true); // R|W
    v.setUint32(8, 0, true);
    v.setUint32(12, 3, true);
    v.setUint32(16, 0x120089, true);
    v.setUint16(20, 7, true);
    expect(parseRequestOplockOutput(out)).toEqual({
      originalLevel: 'RW',
      newLevel: 'NONE',
      flags: 3,
      accessMode: 0x120089,
      shareMode: 7,
    });
    expect(parseRequestOplockOutput(out.subarray(0, 8))).toBeUndefined();
    expect(legacyBrokenTo(7n)).toBe('LEVEL2');
    expect(legacyBrokenTo(8n)).toBe('NONE');
    expect(legacyBrokenTo(0n)).toBeUndefined();
  });
});

describe('errors', () => {
  it('describes the HRESULTs a user meets, with what to do', () => {
    expect(describeHresult(0x80070002)).toBe(
      'HRESULT 0x80070002 (ERROR_FILE_NOT_FOUND: the port does not exist)',
    );
    expect(portError('connect', 0x80070005).hint).toContain('elevated prompt');
    expect(portError('connect', 0x80004001).hint).toContain('model backend');
    expect(portError('connect', 0x8007051a).hint).toContain('same fltbridge release');
    expect(describeHresult(0xd0000022)).toContain('STATUS_ACCESS_DENIED');
    expect(describeHresult(0x80070057 + 1)).toBe('HRESULT 0x80070058');
  });

  it('turns the addon’s coded errors into the library’s typed errors', () => {
    const coded = (code: string, extra: object = {}) =>
      Object.assign(new Error('x'), { code, ...extra });
    expect(fromNative(coded('E_UNKNOWN_HANDLE'), { handle: 4 })).toBeInstanceOf(UnknownHandleError);
    expect(fromNative(coded('E_HANDLE_CLOSED'), { handle: 4 })).toBeInstanceOf(HandleClosedError);
    expect(fromNative(coded('E_INVALID_ARGUMENT'))).toBeInstanceOf(InvalidArgumentError);
    expect(fromNative(coded('E_DISPOSED'))).toBeInstanceOf(DisposedError);
    expect(fromNative(coded('E_NATIVE'))).toBeInstanceOf(BackendUnavailableError);
    const port = fromNative(coded('E_PORT', { hresult: 0x80070002 })) as PortError;
    expect(port).toBeInstanceOf(PortError);
    expect(port.hresult).toBe(0x80070002);
    const plain = new Error('plain');
    expect(fromNative(plain)).toBe(plain);
  });
});
