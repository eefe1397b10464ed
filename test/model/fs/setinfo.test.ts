/**
 * Set-information: end of file, allocation, rename (disposition is in delete.test.ts), in the
 * three configurations.
 *
 * Sources: [MS-FSA] 2.1.5.15.1 FileAllocationInformation, 2.1.5.15.4 FileEndOfFileInformation
 * ("If Open.Stream.StreamType is DirectoryStream" / "greater than the maximum file size" ->
 * STATUS_INVALID_PARAMETER; no FILE_WRITE_DATA -> STATUS_ACCESS_DENIED), 2.1.5.15.11
 * FileRenameInformation; [MS-FSCC] 2.4.42 FileRenameInformation status table (ACCESS_DENIED:
 * "The handle was not opened with delete access, or the target file was open and
 * ReplaceIfExists is nonzero"; OBJECT_NAME_COLLISION: "The specified name already exists and
 * ReplaceIfExists is zero"; NOT_SAME_DEVICE); FILE_ALLOCATION_INFO remarks ("If the allocation
 * size is set to a value that is less than EOF, the EOF position is automatically adjusted");
 * the NtSetInformationFile page (the access each class needs); smbtorture deltest15 (rename
 * while another handle is open).
 */
import { describe, expect, it } from 'vitest';
import type { Handle, SetInformationRequest } from '../../../src/bridge/types.js';
import { MAX_FILE_SIZE } from '../../../src/model/fs/ntfs.js';
import { CONFIGS, Model, S, text } from './harness.js';

describe.each(CONFIGS)('set-information ($name)', ({ options }) => {
  const model = () =>
    new Model({
      ...options,
      files: { 'C:\\f': 'abcdef', 'C:\\g': 'other', 'C:\\d\\x': 'in d' },
      directories: ['C:\\e'],
    });
  const set = (m: Model, h: Handle, r: SetInformationRequest) =>
    m.now(m.bridge.setInformation(h, r)).status;

  describe('end of file ([MS-FSA] 2.1.5.15.4)', () => {
    it('extending: the new bytes read as zero', () => {
      const m = model();
      const h = m.handle('C:\\f', { access: 'rw' });
      expect(set(m, h, { class: 'end-of-file', size: 10n })).toBe(S.STATUS_SUCCESS);
      const r = m.now(m.bridge.read(h, { offset: 0n, length: 100 }));
      expect(r.information).toBe(10n);
      expect([...r.data]).toEqual([...new TextEncoder().encode('abcdef'), 0, 0, 0, 0]);
    });

    it('truncating: reads at the old end get STATUS_END_OF_FILE; the kept bytes stay', () => {
      const m = model();
      const h = m.handle('C:\\f', { access: 'rw' });
      expect(set(m, h, { class: 'end-of-file', size: 2n })).toBe(S.STATUS_SUCCESS);
      expect(m.now(m.bridge.read(h, { offset: 4n, length: 2 })).status).toBe(S.STATUS_END_OF_FILE);
      expect(text(m.contents('C:\\f'))).toBe('ab');
    });

    it('a handle without FILE_WRITE_DATA: STATUS_ACCESS_DENIED', () => {
      const m = model();
      const h = m.handle('C:\\f', { access: 'read' });
      expect(set(m, h, { class: 'end-of-file', size: 0n })).toBe(S.STATUS_ACCESS_DENIED);
    });

    it('a directory: STATUS_INVALID_PARAMETER', () => {
      const m = model();
      const h = m.handle('C:\\e', { access: 'rw' });
      expect(set(m, h, { class: 'end-of-file', size: 0n })).toBe(S.STATUS_INVALID_PARAMETER);
    });

    it('past the largest file size: STATUS_INVALID_PARAMETER; at it: success without allocating memory', () => {
      const m = model();
      const h = m.handle('C:\\f', { access: 'rw' });
      expect(set(m, h, { class: 'end-of-file', size: MAX_FILE_SIZE + 1n })).toBe(
        S.STATUS_INVALID_PARAMETER,
      );
      expect(set(m, h, { class: 'end-of-file', size: MAX_FILE_SIZE })).toBe(S.STATUS_SUCCESS);
      const tail = m.now(m.bridge.read(h, { offset: MAX_FILE_SIZE - 2n, length: 8 }));
      expect([...tail.data]).toEqual([0, 0]);
    });
  });

  describe('allocation ([MS-FSA] 2.1.5.15.1; FILE_ALLOCATION_INFO)', () => {
    it('an allocation below end of file moves end of file down to it', () => {
      const m = model();
      const h = m.handle('C:\\f', { access: 'rw' });
      expect(set(m, h, { class: 'allocation', size: 3n })).toBe(S.STATUS_SUCCESS);
      expect(text(m.contents('C:\\f'))).toBe('abc');
    });

    it('an allocation above end of file leaves end of file alone', () => {
      const m = model();
      const h = m.handle('C:\\f', { access: 'rw' });
      expect(set(m, h, { class: 'allocation', size: 1n << 20n })).toBe(S.STATUS_SUCCESS);
      expect(text(m.contents('C:\\f'))).toBe('abcdef');
    });

    it('a directory: STATUS_INVALID_PARAMETER; without FILE_WRITE_DATA: STATUS_ACCESS_DENIED', () => {
      const m = model();
      expect(set(m, m.handle('C:\\e', { access: 'rw' }), { class: 'allocation', size: 0n })).toBe(
        S.STATUS_INVALID_PARAMETER,
      );
      expect(set(m, m.handle('C:\\f', { access: 'read' }), { class: 'allocation', size: 0n })).toBe(
        S.STATUS_ACCESS_DENIED,
      );
    });
  });

  describe('rename ([MS-FSA] 2.1.5.15.11; [MS-FSCC] 2.4.42)', () => {
    const rename = (target: string, replaceIfExists = false): SetInformationRequest => ({
      class: 'rename',
      target,
      replaceIfExists,
    });

    it('the file moves: the old name is gone, the new one has the data', () => {
      const m = model();
      const h = m.handle('C:\\f', { access: 'read,delete' });
      expect(set(m, h, rename('C:\\d\\moved'))).toBe(S.STATUS_SUCCESS);
      m.close(h);
      expect(m.open('C:\\f').status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
      expect(text(m.contents('C:\\D\\MOVED'))).toBe('abcdef');
    });

    it('a handle without DELETE: STATUS_ACCESS_DENIED', () => {
      const m = model();
      expect(set(m, m.handle('C:\\f', { access: 'rw' }), rename('C:\\h'))).toBe(
        S.STATUS_ACCESS_DENIED,
      );
    });

    it('an existing target without ReplaceIfExists: STATUS_OBJECT_NAME_COLLISION', () => {
      const m = model();
      expect(set(m, m.handle('C:\\f', { access: 'delete' }), rename('C:\\g'))).toBe(
        S.STATUS_OBJECT_NAME_COLLISION,
      );
    });

    it('ReplaceIfExists over a closed file replaces it', () => {
      const m = model();
      const h = m.handle('C:\\f', { access: 'delete' });
      expect(set(m, h, rename('C:\\g', true))).toBe(S.STATUS_SUCCESS);
      m.close(h);
      expect(text(m.contents('C:\\g'))).toBe('abcdef');
    });

    it('ReplaceIfExists over an open file: STATUS_ACCESS_DENIED', () => {
      const m = model();
      m.handle('C:\\g', { access: 'read', share: 'read,write,delete' });
      expect(set(m, m.handle('C:\\f', { access: 'delete' }), rename('C:\\g', true))).toBe(
        S.STATUS_ACCESS_DENIED,
      );
    });

    it('ReplaceIfExists over a directory: STATUS_ACCESS_DENIED', () => {
      const m = model();
      expect(set(m, m.handle('C:\\f', { access: 'delete' }), rename('C:\\e', true))).toBe(
        S.STATUS_ACCESS_DENIED,
      );
    });

    it('a missing target directory: STATUS_OBJECT_PATH_NOT_FOUND; another volume: STATUS_NOT_SAME_DEVICE', () => {
      const m = model();
      const h = m.handle('C:\\f', { access: 'delete' });
      expect(set(m, h, rename('C:\\nodir\\x'))).toBe(S.STATUS_OBJECT_PATH_NOT_FOUND);
      expect(set(m, h, rename('D:\\x'))).toBe(S.STATUS_NOT_SAME_DEVICE);
      expect(set(m, h, rename('C:\\bad?name'))).toBe(S.STATUS_OBJECT_NAME_INVALID);
    });

    it('a directory with an open file below it: STATUS_ACCESS_DENIED; once closed it moves', () => {
      const m = model();
      const child = m.handle('C:\\d\\x', { access: 'read', share: 'read,write,delete' });
      const d = m.handle('C:\\d', { access: 'delete', share: 'read,write,delete' });
      expect(set(m, d, rename('C:\\d2'))).toBe(S.STATUS_ACCESS_DENIED);
      m.close(child);
      expect(set(m, d, rename('C:\\d2'))).toBe(S.STATUS_SUCCESS);
      expect(text(m.contents('C:\\d2\\x'))).toBe('in d');
    });

    it('a directory cannot move below itself: STATUS_INVALID_PARAMETER', () => {
      const m = model();
      expect(set(m, m.handle('C:\\d', { access: 'delete' }), rename('C:\\d\\inner'))).toBe(
        S.STATUS_INVALID_PARAMETER,
      );
    });

    it('a change of case only is a rename of the same file', () => {
      const m = model();
      const h = m.handle('C:\\f', { access: 'delete' });
      expect(set(m, h, rename('C:\\F'))).toBe(S.STATUS_SUCCESS);
      expect(m.bridge.fileSystem.root.children.get('F')?.name).toBe('F');
    });

    it('deltest15: renaming while another handle (sharing delete) is open; that handle keeps working', () => {
      const m = model();
      const other = m.handle('C:\\f', { access: 'read', share: 'read,write,delete' });
      const h = m.handle('C:\\f', { access: 'delete', share: 'read,write,delete' });
      expect(set(m, h, rename('C:\\f.new'))).toBe(S.STATUS_SUCCESS);
      expect(text(m.now(m.bridge.read(other, { offset: 0n, length: 6 })).data)).toBe('abcdef');
    });
  });
});

describe('set-information as the filter reports it', () => {
  it("io records carry the class and the new size; from the rename's own post-operation record on, records name the new path", () => {
    const m = new Model({ files: { 'C:\\f': 'abc' } });
    const h = m.handle('C:\\f', { access: 'all' });
    m.now(m.bridge.setInformation(h, { class: 'end-of-file', size: 9n }));
    m.now(m.bridge.setInformation(h, { class: 'rename', target: '/dir2' }));
    m.now(m.bridge.flush(h));
    const io = m.of('io');
    expect(io.map((e) => [e.major, e.detail, e.length])).toEqual([
      [0x06, 20, 9n],
      [0x06, 10, 0n],
      [0x09, 0, 0n],
    ]);
    expect(io.map((e) => e.name)).toEqual(['C:\\f', 'C:\\dir2', 'C:\\dir2']);
  });
});
