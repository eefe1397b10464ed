/**
 * Read and write: size tracking, end of file, handle access, the order of the checks; byte-range
 * lock ownership by process; synchronous handles. In the three configurations.
 *
 * Sources: [MS-FSA] 2.1.5.3 Server Requests a Read ("If ByteOffset is negative ...", "(ByteOffset
 * + ByteCount) is larger than MAXLONGLONG" -> STATUS_INVALID_PARAMETER; STATUS_END_OF_FILE),
 * 2.1.5.4 Server Requests a Write, 2.1.5.8 byte-range lock; fastfat read.c / write.c (zero-length
 * I/O completes first; oplock check, then FsRtlCheckLockFor{Read,Write}Access, then end of
 * file); NtReadFile / NtWriteFile / ZwWriteFile pages (FILE_READ_DATA needed; FILE_APPEND_DATA
 * alone writes at end of file); LockFileEx page (locks belong to a process); btrfs oplock.cpp
 * and the FSCTL_REQUEST_OPLOCK page (a synchronous handle never gets an oplock).
 */
import { describe, expect, it } from 'vitest';
import { MAX_FILE_SIZE } from '../../../src/model/fs/ntfs.js';
import { CONFIGS, Model, S, text } from './harness.js';

describe.each(CONFIGS)('read and write ($name)', ({ options }) => {
  const model = () => new Model({ ...options, files: { 'C:\\f': 'hello', 'C:\\dir\\x': '' } });

  it('a read that starts at end of file: STATUS_END_OF_FILE, no data', () => {
    const m = model();
    const h = m.handle('C:\\f');
    const r = m.now(m.bridge.read(h, { offset: 5n, length: 1 }));
    expect(r.status).toBe(S.STATUS_END_OF_FILE);
    expect(r.information).toBe(0n);
  });

  it('a zero-byte read completes with success even at or past end of file (fastfat read.c)', () => {
    const m = model();
    const h = m.handle('C:\\f');
    expect(m.now(m.bridge.read(h, { offset: 5n, length: 0 })).status).toBe(S.STATUS_SUCCESS);
    expect(m.now(m.bridge.read(h, { offset: 99n, length: 0 })).status).toBe(S.STATUS_SUCCESS);
  });

  it('a read across end of file returns what is there', () => {
    const m = model();
    const r = m.now(m.bridge.read(m.handle('C:\\f'), { offset: 3n, length: 10 }));
    expect(r.status).toBe(S.STATUS_SUCCESS);
    expect(text(r.data)).toBe('lo');
    expect(r.information).toBe(2n);
  });

  it('a write past end of file extends it; the gap reads as zeros', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw' });
    const w = m.now(m.bridge.write(h, { offset: 8n, data: new TextEncoder().encode('!') }));
    expect(w.status).toBe(S.STATUS_SUCCESS);
    expect(w.information).toBe(1n);
    const r = m.now(m.bridge.read(h, { offset: 0n, length: 64 }));
    expect([...r.data]).toEqual([...new TextEncoder().encode('hello'), 0, 0, 0, 33]);
  });

  it('a zero-byte write changes nothing ([MS-FSA] 2.1.5.4)', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw' });
    expect(m.now(m.bridge.write(h, { offset: 100n, data: 0 })).status).toBe(S.STATUS_SUCCESS);
    expect(text(m.contents('C:\\f'))).toBe('hello');
  });

  it('an offset past MAXLONGLONG (a negative LARGE_INTEGER): STATUS_INVALID_PARAMETER', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw' });
    expect(m.now(m.bridge.read(h, { offset: 1n << 63n, length: 1 })).status).toBe(
      S.STATUS_INVALID_PARAMETER,
    );
    expect(m.now(m.bridge.read(h, { offset: (1n << 63n) - 1n, length: 2 })).status).toBe(
      S.STATUS_INVALID_PARAMETER,
    );
    expect(m.now(m.bridge.write(h, { offset: (1n << 64n) - 1n, data: 1 })).status).toBe(
      S.STATUS_INVALID_PARAMETER,
    );
  });

  it('a write past the largest file size: STATUS_DISK_FULL, nothing written', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw' });
    expect(m.now(m.bridge.write(h, { offset: MAX_FILE_SIZE, data: 1 })).status).toBe(
      S.STATUS_DISK_FULL,
    );
    expect(text(m.contents('C:\\f'))).toBe('hello');
  });

  it('read needs FILE_READ_DATA, write FILE_WRITE_DATA or FILE_APPEND_DATA: STATUS_ACCESS_DENIED', () => {
    const m = model();
    const w = m.handle('C:\\f', { access: 'write' });
    const r = m.handle('C:\\f', { access: 'read' });
    expect(m.now(m.bridge.read(w, { offset: 0n, length: 1 })).status).toBe(S.STATUS_ACCESS_DENIED);
    expect(m.now(m.bridge.write(r, { offset: 0n, data: 1 })).status).toBe(S.STATUS_ACCESS_DENIED);
  });

  it('a handle with FILE_APPEND_DATA but not FILE_WRITE_DATA writes at end of file (ZwWriteFile)', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'append' });
    expect(
      m.now(m.bridge.write(h, { offset: 0n, data: new TextEncoder().encode('!') })).status,
    ).toBe(S.STATUS_SUCCESS);
    expect(text(m.contents('C:\\f'))).toBe('hello!');
  });

  it('read or write on a directory: STATUS_INVALID_DEVICE_REQUEST', () => {
    const m = model();
    const d = m.handle('C:\\dir', { access: 'rw' });
    expect(m.now(m.bridge.read(d, { offset: 0n, length: 1 })).status).toBe(
      S.STATUS_INVALID_DEVICE_REQUEST,
    );
    expect(m.now(m.bridge.write(d, { offset: 0n, data: 1 })).status).toBe(
      S.STATUS_INVALID_DEVICE_REQUEST,
    );
  });

  it('STATUS_END_OF_FILE comes after the lock check: a locked range past the end refuses with STATUS_FILE_LOCK_CONFLICT', () => {
    const m = model();
    const owner = m.handle('C:\\f', { access: 'rw' });
    expect(m.now(m.bridge.lock(owner, { offset: 100n, length: 10n })).status).toBe(
      S.STATUS_SUCCESS,
    );
    const other = m.handle('C:\\f', { access: 'rw' });
    expect(m.now(m.bridge.read(other, { offset: 100n, length: 1 })).status).toBe(
      S.STATUS_FILE_LOCK_CONFLICT,
    );
    expect(m.now(m.bridge.read(other, { offset: 200n, length: 1 })).status).toBe(
      S.STATUS_END_OF_FILE,
    );
  });

  it('a byte-range lock belongs to the process that took it (LockFileEx): the same handle used by another process is refused', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw' });
    expect(m.now(m.bridge.lock(h, { offset: 0n, length: 5n, process: 7 })).status).toBe(
      S.STATUS_SUCCESS,
    );
    expect(m.now(m.bridge.write(h, { offset: 0n, data: 1, process: 7 })).status).toBe(
      S.STATUS_SUCCESS,
    );
    expect(m.now(m.bridge.write(h, { offset: 0n, data: 1, process: 8 })).status).toBe(
      S.STATUS_FILE_LOCK_CONFLICT,
    );
    expect(m.now(m.bridge.unlock(h, { offset: 0n, length: 5n, process: 8 })).status).toBe(
      S.STATUS_RANGE_NOT_LOCKED,
    );
    expect(m.now(m.bridge.unlock(h, { offset: 0n, length: 5n, process: 7 })).status).toBe(
      S.STATUS_SUCCESS,
    );
  });

  it('lock and unlock need FILE_READ_DATA or FILE_WRITE_DATA (NtLockFile); locks on a directory: STATUS_INVALID_PARAMETER', () => {
    const m = model();
    const a = m.handle('C:\\f', { access: 'read-attributes' });
    expect(m.now(m.bridge.lock(a, { offset: 0n, length: 1n })).status).toBe(S.STATUS_ACCESS_DENIED);
    const d = m.handle('C:\\dir', { access: 'read' });
    expect(m.now(m.bridge.lock(d, { offset: 0n, length: 1n })).status).toBe(
      S.STATUS_INVALID_PARAMETER,
    );
  });

  it('a lock range that wraps past 2^64-1: STATUS_INVALID_LOCK_RANGE ([MS-FSA] 2.1.5.8)', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw' });
    expect(m.now(m.bridge.lock(h, { offset: (1n << 64n) - 1n, length: 2n })).status).toBe(
      S.STATUS_INVALID_LOCK_RANGE,
    );
  });
});

describe.each(CONFIGS)('synchronous handles ($name)', ({ options }) => {
  const model = () => new Model({ ...options, files: { 'C:\\f': 'hello' } });

  it('are never granted an oplock (FSCTL_REQUEST_OPLOCK page; btrfs oplock.cpp on NTFS)', () => {
    const m = model();
    const h = m.handle('C:\\f', { overlapped: false });
    expect(m.now(m.bridge.requestOplock(h, { level: 'R' })).status).toBe(
      S.STATUS_OPLOCK_NOT_GRANTED,
    );
    expect(m.now(m.bridge.requestOplock(h, { level: 'LEVEL2' })).status).toBe(
      S.STATUS_OPLOCK_NOT_GRANTED,
    );
  });

  it('take their requests one at a time: a read behind a waiting lock stays in flight until the lock is granted', async () => {
    const m = model();
    const owner = m.handle('C:\\f', { access: 'rw' });
    m.now(m.bridge.lock(owner, { offset: 0n, length: 5n }));
    const sync = m.handle('C:\\f', { access: 'rw', overlapped: false });
    const waiting = m.bridge.lock(sync, { offset: 0n, length: 5n, failImmediately: false });
    const read = m.bridge.read(sync, { offset: 0n, length: 5 });
    expect(waiting.completed).toBeUndefined();
    expect(read.completed).toBeUndefined();
    m.now(m.bridge.unlock(owner, { offset: 0n, length: 5n }));
    expect((await waiting.result).status).toBe(S.STATUS_SUCCESS);
    expect((await read.result).status).toBe(S.STATUS_SUCCESS);
  });
});
