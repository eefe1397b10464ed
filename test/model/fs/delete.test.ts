/**
 * Delete pending: FileDispositionInformation and FILE_DELETE_ON_CLOSE, in the three
 * configurations.
 *
 * Sources: Wine dlls/ntdll/tests/file.c test_file_disposition_information (runs on Windows);
 * Samba smbtorture source4/torture/basic/delete.c deltests 1-17 (run against Windows); [MS-FSA]
 * 2.1.5.15.3 FileDispositionInformation and 2.1.5.5 (closing an open); the
 * FILE_DISPOSITION_INFORMATION page ("Setting this member to FALSE has no effect if the handle was
 * opened with FILE_FLAG_DELETE_ON_CLOSE").
 */
import { describe, expect, it } from 'vitest';
import { CONFIGS, Model, S } from './harness.js';

describe.each(CONFIGS)('delete pending ($name)', ({ options }) => {
  const model = () =>
    new Model({
      ...options,
      files: { 'C:\\f': 'data', 'C:\\d\\child': 'x', 'C:\\ro': { content: 'r', readOnly: true } },
      directories: ['C:\\empty'],
    });
  const dispose = (m: Model, h: Parameters<Model['close']>[0], deleteFile = true) =>
    m.now(m.bridge.setInformation(h, { class: 'disposition', deleteFile })).status;

  it('Wine: a handle without DELETE cannot set the disposition: STATUS_ACCESS_DENIED, file kept', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'write', share: 'none' });
    expect(dispose(m, h)).toBe(S.STATUS_ACCESS_DENIED);
    m.close(h);
    expect(m.open('C:\\f').status).toBe(S.STATUS_SUCCESS);
  });

  it('Wine: with DELETE access it succeeds and the file is gone after the handle closes', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'write,delete', share: 'none' });
    expect(dispose(m, h)).toBe(S.STATUS_SUCCESS);
    m.close(h);
    expect(m.open('C:\\f').status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
  });

  it('Wine / deltest11: a read-only file: STATUS_CANNOT_DELETE', () => {
    const m = model();
    const h = m.handle('C:\\ro', { access: 'read,delete' });
    expect(dispose(m, h)).toBe(S.STATUS_CANNOT_DELETE);
  });

  it('Wine / deltest7: set, then reset: the file stays', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw,delete', share: 'none' });
    expect(dispose(m, h, true)).toBe(S.STATUS_SUCCESS);
    expect(dispose(m, h, false)).toBe(S.STATUS_SUCCESS);
    m.close(h);
    expect(m.open('C:\\f').status).toBe(S.STATUS_SUCCESS);
  });

  it('deltest4: once delete-pending, every new open fails with STATUS_DELETE_PENDING, whatever its sharing', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw,delete', share: 'read,write' });
    expect(dispose(m, h)).toBe(S.STATUS_SUCCESS);
    expect(m.open('C:\\f', { access: 'read', share: 'read,write,delete' }).status).toBe(
      S.STATUS_DELETE_PENDING,
    );
    expect(m.open('C:\\f', { access: 0 }).status).toBe(S.STATUS_DELETE_PENDING);
    expect(m.open('C:\\f', { disposition: 'open-if' }).status).toBe(S.STATUS_DELETE_PENDING);
  });

  it('deltest8: the file lives until its last handle closes; the others still work meanwhile', () => {
    const m = model();
    const a = m.handle('C:\\f', { access: 'rw,delete', share: 'read,write,delete' });
    const b = m.handle('C:\\f', { access: 'rw,delete', share: 'read,write,delete' });
    expect(dispose(m, a)).toBe(S.STATUS_SUCCESS);
    m.close(a);
    expect(m.now(m.bridge.read(b, { offset: 0n, length: 4 })).status).toBe(S.STATUS_SUCCESS);
    expect(m.open('C:\\f').status).toBe(S.STATUS_DELETE_PENDING);
    m.close(b);
    expect(m.open('C:\\f').status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
  });

  it('deltest13: another handle can reset what one handle set', () => {
    const m = model();
    const a = m.handle('C:\\f', { access: 'rw,delete', share: 'read,write,delete' });
    const b = m.handle('C:\\f', { access: 'rw,delete', share: 'read,write,delete' });
    expect(dispose(m, a, true)).toBe(S.STATUS_SUCCESS);
    expect(dispose(m, b, false)).toBe(S.STATUS_SUCCESS);
    m.close(a);
    m.close(b);
    expect(m.open('C:\\f').status).toBe(S.STATUS_SUCCESS);
  });

  it('deltest16: FILE_DELETE_ON_CLOSE is not delete-pending until that handle closes; then the file goes with the last handle', () => {
    const m = model();
    const a = m.handle('C:\\new', {
      access: 'all',
      share: 'read,write,delete',
      disposition: 'create',
      options: 'delete_on_close',
    });
    const b = m.handle('C:\\new', { access: 'read', share: 'read,write,delete' });
    m.close(a);
    expect(m.open('C:\\new', { share: 'read,write,delete' }).status).toBe(S.STATUS_DELETE_PENDING);
    m.close(b);
    expect(m.open('C:\\new').status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
  });

  it('deltest1/10: a lone delete-on-close handle deletes the file when it closes', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'all', share: 'delete', options: 'delete_on_close' });
    m.close(h);
    expect(m.open('C:\\f').status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
  });

  it("Wine: resetting the disposition does not cancel a handle's own FILE_DELETE_ON_CLOSE", () => {
    const m = model();
    const h = m.handle('C:\\f', {
      access: 'write,delete',
      share: 'none',
      options: 'delete_on_close',
    });
    expect(dispose(m, h, false)).toBe(S.STATUS_SUCCESS);
    m.close(h);
    expect(m.open('C:\\f').status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
  });

  it('Wine: a non-empty directory: STATUS_DIRECTORY_NOT_EMPTY; an empty one is deleted when closed', () => {
    const m = model();
    const d = m.handle('C:\\d', { access: 'delete' });
    expect(dispose(m, d)).toBe(S.STATUS_DIRECTORY_NOT_EMPTY);
    const e = m.handle('C:\\empty', { access: 'delete' });
    expect(dispose(m, e)).toBe(S.STATUS_SUCCESS);
    m.close(e);
    expect(m.open('C:\\empty').status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
  });

  it('nothing can be created in a delete-pending directory: STATUS_DELETE_PENDING', () => {
    const m = model();
    const e = m.handle('C:\\empty', { access: 'delete', share: 'read,write,delete' });
    expect(dispose(m, e)).toBe(S.STATUS_SUCCESS);
    expect(m.open('C:\\empty\\x', { disposition: 'create' }).status).toBe(S.STATUS_DELETE_PENDING);
  });

  it('after the delete, the name is free for a new file', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'all', share: 'none' });
    expect(dispose(m, h)).toBe(S.STATUS_SUCCESS);
    m.close(h);
    const r = m.open('C:\\f', { access: 'rw', disposition: 'create' });
    expect(r.status).toBe(S.STATUS_SUCCESS);
    expect(m.now(m.bridge.read(r.handle!, { offset: 0n, length: 4 })).status).toBe(
      S.STATUS_END_OF_FILE,
    );
  });

  it('the root directory cannot be deleted: STATUS_CANNOT_DELETE', () => {
    const m = model();
    const root = m.handle('C:\\', { access: 'delete' });
    expect(dispose(m, root)).toBe(S.STATUS_CANNOT_DELETE);
  });
});

describe('delete pending as the filter reports it', () => {
  it('the last cleanup of a deleted stream carries DELETE_ON_CLOSE and DELETED; the earlier one neither', () => {
    const m = new Model({ files: { 'C:\\f': 'x' } });
    const a = m.handle('C:\\f', {
      access: 'all',
      share: 'read,write,delete',
      options: 'delete_on_close',
    });
    const b = m.handle('C:\\f', { access: 'read', share: 'read,write,delete' });
    m.close(b);
    m.close(a);
    const cleanups = m.of('cleanup');
    expect(cleanups.map((c) => [c.openHandlesRemaining, c.cleanupFlags])).toEqual([
      [1, 0],
      [0, 0x3],
    ]);
  });
});
