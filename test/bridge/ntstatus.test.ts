import { describe, expect, it } from 'vitest';
import {
  allNtStatuses,
  formatNtStatus,
  NtStatus,
  ntError,
  ntStatusByName,
  ntStatusName,
  ntSuccess,
  toNtStatus,
} from '../../src/bridge/ntstatus.js';

describe('NtStatus table', () => {
  it('names and codes agree with [MS-ERREF] 2.3.1 for the lock and oplock statuses', () => {
    expect(NtStatus.STATUS_SHARING_VIOLATION).toBe(0xc0000043);
    expect(NtStatus.STATUS_FILE_LOCK_CONFLICT).toBe(0xc0000054);
    expect(NtStatus.STATUS_LOCK_NOT_GRANTED).toBe(0xc0000055);
    expect(NtStatus.STATUS_RANGE_NOT_LOCKED).toBe(0xc000007e);
    expect(NtStatus.STATUS_INVALID_LOCK_RANGE).toBe(0xc00001a1);
    expect(NtStatus.STATUS_OPLOCK_NOT_GRANTED).toBe(0xc00000e2);
    expect(NtStatus.STATUS_INVALID_OPLOCK_PROTOCOL).toBe(0xc00000e3);
    expect(NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS).toBe(0x00000108);
    expect(NtStatus.STATUS_CANNOT_GRANT_REQUESTED_OPLOCK).toBe(0x8000002e);
  });

  it('maps to the Win32 errors LockFileEx and CreateFile callers see', () => {
    expect(ntStatusByName('STATUS_SHARING_VIOLATION')?.win32).toBe(32);
    expect(ntStatusByName('LOCK_NOT_GRANTED')?.win32).toBe(33);
    expect(ntStatusByName('STATUS_FILE_LOCK_CONFLICT')?.win32).toBe(33);
    expect(ntStatusByName('STATUS_RANGE_NOT_LOCKED')?.win32).toBe(158);
    expect(ntStatusByName('STATUS_PENDING')?.win32).toBe(997);
  });

  it('derives severity from the top two bits', () => {
    for (const info of allNtStatuses()) {
      const expected = ['success', 'informational', 'warning', 'error'][info.code >>> 30];
      expect(info.severity).toBe(expected);
    }
    expect(ntSuccess(NtStatus.STATUS_OPLOCK_BREAK_IN_PROGRESS)).toBe(true);
    expect(ntSuccess(NtStatus.STATUS_CANNOT_GRANT_REQUESTED_OPLOCK)).toBe(false);
    expect(ntError(NtStatus.STATUS_SHARING_VIOLATION)).toBe(true);
  });

  it('normalises signed values and formats unknown codes as hex', () => {
    expect(toNtStatus(-1073741757)).toBe(0xc0000043);
    expect(ntStatusName(-1073741757)).toBe('STATUS_SHARING_VIOLATION');
    expect(formatNtStatus(0xc0000043)).toBe('STATUS_SHARING_VIOLATION (0xC0000043)');
    expect(formatNtStatus(0xc0dead01)).toBe('0xC0DEAD01');
  });

  it('has unique names and codes', () => {
    const all = allNtStatuses();
    expect(new Set(all.map((s) => s.name)).size).toBe(all.length);
    expect(new Set(all.map((s) => s.code)).size).toBe(all.length);
  });
});
