/**
 * PE contract of build/driver/fltbridge.sys (built by scripts/suites/50-driver.mjs): what Windows
 * and Driver Verifier expect of a kernel-mode minifilter image, checked here because the driver
 * cannot be loaded on Linux. What only Windows can check (that it loads, that FltMgr accepts its
 * registration, the semantics of the calls) is listed in driver/README.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Directory,
  DllCharacteristics,
  IMAGE_FILE_MACHINE_AMD64,
  IMAGE_SUBSYSTEM_NATIVE,
  parsePe,
  peChecksum,
  SectionFlags,
  symbolRva,
} from '../helpers/pe.js';
import { unavailable } from '../helpers/toolchain.js';

const root = process.cwd();
const sysPath = join(root, 'build', 'driver', 'fltbridge.sys');
const signedPath = join(root, 'build', 'driver', 'signed', 'fltbridge.sys');
const skip = unavailable('driver', [sysPath]);

/** The imports the issue requires, each called on the driver's real path. */
const REQUIRED = [
  'FltRegisterFilter',
  'FltStartFiltering',
  'FltUnregisterFilter',
  'FltInitializeOplock',
  'FltUninitializeOplock',
  'FltOplockFsctrlEx',
  'FltCheckOplockEx',
  'FltAllocateFileLock',
  'FltFreeFileLock',
  'FltProcessFileLock',
  'FltCheckLockForReadAccess',
  'FltCheckLockForWriteAccess',
  'FltAllocateCallbackData',
  'FltPerformAsynchronousIo',
  'FltFreeCallbackData',
  'FltCreateCommunicationPort',
  'FltCloseCommunicationPort',
  'FltSendMessage',
  'FltCloseClientPort',
  'FltCompletePendedPreOperation',
  'FsRtlFastUnlockAll',
  '__C_specific_handler',
];

/** fltmgr.sys: exactly the names of driver/fltmgr.def (the import library's source). */
function fltmgrAllowList(): Set<string> {
  const def = readFileSync(join(root, 'driver', 'fltmgr.def'), 'utf8');
  const names = def
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^Flt[A-Za-z0-9]+$/.test(l));
  return new Set(names);
}

/** ntoskrnl.exe routines the driver may import (every one documented for kernel mode). */
const NTOSKRNL = new Set([
  '__C_specific_handler',
  'memcpy',
  'memmove',
  'memset',
  'DbgPrintEx',
  'ExAllocatePool2',
  'ExFreePoolWithTag',
  'ExInitializeResourceLite',
  'ExDeleteResourceLite',
  'FsRtlAreThereCurrentOrInProgressFileLocks',
  'FsRtlAreThereWaitingFileLocks',
  'FsRtlFastUnlockAll',
  'KeAcquireSpinLockRaiseToDpc',
  'KeReleaseSpinLock',
  'KeInitializeEvent',
  'KeSetEvent',
  'KeClearEvent',
  'KeWaitForSingleObject',
  'KeWaitForMultipleObjects',
  'KeQuerySystemTimePrecise',
  'ObReferenceObjectByHandle',
  'ObfDereferenceObject',
  'PsCreateSystemThread',
  'PsTerminateSystemThread',
  'PsGetCurrentProcessId',
  'PsGetCurrentThreadId',
  'PsGetThreadId',
  'PsThreadType',
  'RtlCompareMemory',
  'RtlEqualUnicodeString',
  'RtlInitUnicodeString',
  'RtlUpcaseUnicodeChar',
  'ZwClose',
  'ZwWaitForSingleObject',
]);

const HAL = new Set(['KeGetCurrentIrql', 'KfRaiseIrql', 'KfLowerIrql']);

describe.skipIf(skip !== undefined)(`fltbridge.sys PE contract${skip ? ` (${skip})` : ''}`, () => {
  const bytes = skip ? new Uint8Array() : new Uint8Array(readFileSync(sysPath));
  const image = skip ? undefined : parsePe(bytes);
  const pe = () => image!;

  it('is an AMD64 PE32+ image', () => {
    expect(pe().machine).toBe(IMAGE_FILE_MACHINE_AMD64);
    expect(pe().magic).toBe(0x20b);
  });

  it('runs in the native subsystem (a kernel-mode driver), Windows 10 or later', () => {
    expect(pe().subsystem).toBe(IMAGE_SUBSYSTEM_NATIVE);
    expect(pe().subsystemVersion[0]).toBeGreaterThanOrEqual(10);
  });

  it('enters at DriverEntry', () => {
    const rva = symbolRva(pe(), 'DriverEntry');
    expect(rva).toBeDefined();
    expect(pe().entryPoint).toBe(rva);
  });

  it('is DYNAMIC_BASE and NX_COMPAT, with relocations', () => {
    expect(pe().dllCharacteristics & DllCharacteristics.DYNAMIC_BASE).toBeTruthy();
    expect(pe().dllCharacteristics & DllCharacteristics.NX_COMPAT).toBeTruthy();
    expect(pe().directories[Directory.BASERELOC]?.size ?? 0).toBeGreaterThan(0);
  });

  it('has no section that is both writable and executable, and page-aligned sections', () => {
    expect(pe().sectionAlignment).toBe(0x1000);
    for (const s of pe().sections) {
      const wx =
        (s.characteristics & SectionFlags.MEM_WRITE) !== 0 &&
        (s.characteristics & SectionFlags.MEM_EXECUTE) !== 0;
      expect({ section: s.name, wx }).toEqual({ section: s.name, wx: false });
      expect(s.virtualAddress % pe().sectionAlignment).toBe(0);
    }
  });

  it('carries a valid image checksum', () => {
    expect(pe().checkSum).not.toBe(0);
    expect(pe().checkSum).toBe(peChecksum(bytes, pe().checkSumOffset));
  });

  it('has unwind data (.pdata, the exception directory) for SEH and stack walks', () => {
    expect(pe().sections.some((s) => s.name === '.pdata')).toBe(true);
    const exception = pe().directories[Directory.EXCEPTION];
    expect(exception?.size ?? 0).toBeGreaterThan(12 * 20);
  });

  it('imports only from fltmgr.sys, ntoskrnl.exe and hal.dll, each name on the allow-list', () => {
    const fltmgr = fltmgrAllowList();
    const allowed: Record<string, Set<string>> = {
      'fltmgr.sys': fltmgr,
      'ntoskrnl.exe': NTOSKRNL,
      'hal.dll': HAL,
    };
    const unexpected: string[] = [];
    for (const imp of pe().imports) {
      const list = allowed[imp.dll.toLowerCase()];
      if (list === undefined) {
        unexpected.push(`${imp.dll} (module)`);
        continue;
      }
      for (const name of imp.names) if (!list.has(name)) unexpected.push(`${imp.dll}!${name}`);
    }
    expect(unexpected).toEqual([]);
    expect(pe().delayImports).toEqual([]);
  });

  it('imports every routine the issue requires', () => {
    const names = new Set(pe().imports.flatMap((imp) => imp.names));
    expect(REQUIRED.filter((n) => !names.has(n))).toEqual([]);
  });

  it('exports no function (a driver is not a DLL for others to link against)', () => {
    const dir = pe().directories[Directory.EXPORT];
    if (dir === undefined || dir.rva === 0) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const offset = pe().offsetOf(dir.rva);
    expect(view.getUint32(offset + 20, true)).toBe(0); // NumberOfFunctions
    expect(view.getUint32(offset + 24, true)).toBe(0); // NumberOfNames
  });

  it.skipIf(unavailable('driver', [signedPath]) !== undefined)(
    'the test-signed copy keeps the contract and carries a certificate table',
    () => {
      const signed = new Uint8Array(readFileSync(signedPath));
      const s = parsePe(signed);
      expect(s.directories[Directory.SECURITY]?.size ?? 0).toBeGreaterThan(0);
      expect(s.checkSum).toBe(peChecksum(signed, s.checkSumOffset));
      expect(s.entryPoint).toBe(pe().entryPoint);
    },
  );
});
