/**
 * Opens: dispositions, names, types, create options, access checks. Every case runs in the three
 * configurations (managed, observe, unfiltered): the file system's answers do not depend on who
 * owns the oplocks and locks.
 *
 * Sources: [MS-FSA] 2.1.5.1 (phases 1, 6, 7), 2.1.5.1.1, 2.1.5.1.2, 2.1.5.1.2.1 (quoted by
 * Microsoft's own FSA model program, WindowsProtocolTestSuites OpenFile.cs, which checks them
 * against Windows); the NtCreateFile / CreateFile pages; Samba smbtorture source4/torture/basic/
 * delete.c (deltest9, 9a, 12), run against Windows; fastfat create.c (FatOpenExistingDirectory).
 */
import { describe, expect, it } from 'vitest';
import { AccessRight, CreateInformation, CreateOption } from '../../../src/bridge/flags.js';
import { CONFIGS, Model, S, text } from './harness.js';

describe.each(CONFIGS)('opens ($name)', ({ options }) => {
  const model = () => new Model({ ...options, files: { 'C:\\dir\\a.txt': 'hello' } });

  describe('dispositions ([MS-FSA] 2.1.5.1 phase 6, 2.1.5.1.1, 2.1.5.1.2; NtCreateFile page)', () => {
    it('open of an existing file: STATUS_SUCCESS, FILE_OPENED', () => {
      const r = model().open('C:\\dir\\a.txt');
      expect(r.status).toBe(S.STATUS_SUCCESS);
      expect(r.information).toBe(BigInt(CreateInformation.FILE_OPENED));
    });

    it('open of a missing file: STATUS_OBJECT_NAME_NOT_FOUND ("If CreateDisposition == FILE_OPEN")', () => {
      const r = model().open('C:\\dir\\missing.txt');
      expect(r.status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
      expect(r.handle).toBeUndefined();
    });

    it('create of a new file: FILE_CREATED, size 0', () => {
      const m = model();
      const r = m.open('C:\\dir\\new.txt', { disposition: 'create', access: 'rw' });
      expect(r.status).toBe(S.STATUS_SUCCESS);
      expect(r.information).toBe(BigInt(CreateInformation.FILE_CREATED));
      expect(m.contents('C:\\dir\\new.txt')).toEqual(new Uint8Array(0));
    });

    it('create of an existing file: STATUS_OBJECT_NAME_COLLISION', () => {
      expect(model().open('C:\\dir\\a.txt', { disposition: 'create' }).status).toBe(
        S.STATUS_OBJECT_NAME_COLLISION,
      );
    });

    it('open-if: FILE_OPENED when it exists, FILE_CREATED when not', () => {
      const m = model();
      expect(m.open('C:\\dir\\a.txt', { disposition: 'open-if' }).information).toBe(
        BigInt(CreateInformation.FILE_OPENED),
      );
      expect(m.open('C:\\dir\\b.txt', { disposition: 'open-if' }).information).toBe(
        BigInt(CreateInformation.FILE_CREATED),
      );
    });

    it('overwrite of an existing file: FILE_OVERWRITTEN and the data is gone', () => {
      const m = model();
      const r = m.open('C:\\dir\\a.txt', { disposition: 'overwrite', access: 'rw' });
      expect(r.information).toBe(BigInt(CreateInformation.FILE_OVERWRITTEN));
      expect(m.contents('C:\\dir\\a.txt')).toEqual(new Uint8Array(0));
    });

    it('overwrite of a missing file: STATUS_OBJECT_NAME_NOT_FOUND ("If CreateDisposition == FILE_OVERWRITE")', () => {
      expect(model().open('C:\\dir\\none', { disposition: 'overwrite', access: 'rw' }).status).toBe(
        S.STATUS_OBJECT_NAME_NOT_FOUND,
      );
    });

    it('overwrite-if: FILE_OVERWRITTEN when it exists, FILE_CREATED when not', () => {
      const m = model();
      expect(
        m.open('C:\\dir\\a.txt', { disposition: 'overwrite-if', access: 'rw' }).information,
      ).toBe(BigInt(CreateInformation.FILE_OVERWRITTEN));
      expect(
        m.open('C:\\dir\\c.txt', { disposition: 'overwrite-if', access: 'rw' }).information,
      ).toBe(BigInt(CreateInformation.FILE_CREATED));
    });

    it('supersede: FILE_SUPERSEDED when it exists (data gone), FILE_CREATED when not', () => {
      const m = model();
      const r = m.open('C:\\dir\\a.txt', { disposition: 'supersede', access: 'rw,delete' });
      expect(r.information).toBe(BigInt(CreateInformation.FILE_SUPERSEDED));
      expect(m.contents('C:\\dir\\a.txt')).toEqual(new Uint8Array(0));
      expect(m.open('C:\\dir\\d.txt', { disposition: 'supersede', access: 'rw' }).information).toBe(
        BigInt(CreateInformation.FILE_CREATED),
      );
    });
  });

  describe('names ([MS-FSA] 2.1.5.1 phases 1 and 6; [MS-FSCC] 2.1.5)', () => {
    it('a missing directory on the path: STATUS_OBJECT_PATH_NOT_FOUND', () => {
      expect(model().open('C:\\nodir\\a.txt', { disposition: 'open-if' }).status).toBe(
        S.STATUS_OBJECT_PATH_NOT_FOUND,
      );
    });

    it('a file used as a directory on the path: STATUS_OBJECT_PATH_NOT_FOUND', () => {
      expect(model().open('C:\\dir\\a.txt\\x', { disposition: 'open-if' }).status).toBe(
        S.STATUS_OBJECT_PATH_NOT_FOUND,
      );
    });

    it('names compare case-insensitively, and POSIX, Win32 and NT spellings name the same file', () => {
      const m = model();
      for (const path of [
        'C:\\DIR\\A.TXT',
        'c:\\dir\\a.txt',
        '/dir/a.txt',
        '\\Dir\\A.txt',
        '\\??\\C:\\dir\\a.txt',
      ]) {
        expect(text(m.contents(path)), path).toBe('hello');
      }
    });

    it('a reserved character in a name: STATUS_OBJECT_NAME_INVALID', () => {
      const m = model();
      for (const path of [
        'C:\\dir\\a?.txt',
        'C:\\dir\\a*b',
        'C:\\dir\\a<b',
        'C:\\dir\\a|b',
        'C:\\dir\\a"b',
      ]) {
        expect(m.open(path, { disposition: 'open-if' }).status, path).toBe(
          S.STATUS_OBJECT_NAME_INVALID,
        );
      }
    });

    it('a component longer than 255 characters: STATUS_OBJECT_NAME_INVALID', () => {
      expect(model().open(`C:\\${'x'.repeat(256)}`, { disposition: 'open-if' }).status).toBe(
        S.STATUS_OBJECT_NAME_INVALID,
      );
    });

    it('another drive letter: STATUS_OBJECT_PATH_NOT_FOUND (the model has only C:)', () => {
      expect(model().open('D:\\dir\\a.txt').status).toBe(S.STATUS_OBJECT_PATH_NOT_FOUND);
    });

    it('a trailing backslash cannot create a file (CreateFile("x\\", CREATE_NEW): ERROR_INVALID_NAME)', () => {
      expect(model().open('C:\\dir\\new\\', { disposition: 'create' }).status).toBe(
        S.STATUS_OBJECT_NAME_INVALID,
      );
    });

    it('a trailing backslash with FILE_NON_DIRECTORY_FILE: STATUS_OBJECT_NAME_INVALID (phase 1)', () => {
      expect(model().open('C:\\dir\\a.txt\\', { options: 'non_directory_file' }).status).toBe(
        S.STATUS_OBJECT_NAME_INVALID,
      );
    });

    it('"." and ".." are resolved, trailing dots and spaces dropped, as Win32 does', () => {
      const m = model();
      expect(text(m.contents('C:\\dir\\.\\sub\\..\\a.txt'))).toBe('hello');
      expect(text(m.contents('C:\\dir\\a.txt. .'))).toBe('hello');
    });
  });

  describe('directories ([MS-FSA] 2.1.5.1 phase 7; fastfat create.c)', () => {
    it('FILE_NON_DIRECTORY_FILE on a directory: STATUS_FILE_IS_A_DIRECTORY', () => {
      expect(model().open('C:\\dir', { options: 'non_directory_file' }).status).toBe(
        S.STATUS_FILE_IS_A_DIRECTORY,
      );
    });

    it('FILE_DIRECTORY_FILE on a file: STATUS_NOT_A_DIRECTORY; with FILE_CREATE: STATUS_OBJECT_NAME_COLLISION', () => {
      const m = model();
      expect(m.open('C:\\dir\\a.txt', { options: 'directory_file' }).status).toBe(
        S.STATUS_NOT_A_DIRECTORY,
      );
      expect(
        m.open('C:\\dir\\a.txt', { options: 'directory_file', disposition: 'create' }).status,
      ).toBe(S.STATUS_OBJECT_NAME_COLLISION);
    });

    it('FILE_DIRECTORY_FILE creates a directory, which then opens without options and holds files', () => {
      const m = model();
      const r = m.open('C:\\dir\\sub', { options: 'directory_file', disposition: 'create' });
      expect(r.information).toBe(BigInt(CreateInformation.FILE_CREATED));
      expect(m.open('C:\\dir\\sub').status).toBe(S.STATUS_SUCCESS);
      expect(m.open('C:\\dir\\sub\\f', { disposition: 'create' }).status).toBe(S.STATUS_SUCCESS);
    });

    it('a directory cannot be overwritten or superseded: STATUS_OBJECT_NAME_COLLISION (FatOpenExistingDirectory)', () => {
      const m = model();
      for (const disposition of ['overwrite', 'overwrite-if', 'supersede'] as const) {
        expect(m.open('C:\\dir', { disposition, access: 'rw' }).status, disposition).toBe(
          S.STATUS_OBJECT_NAME_COLLISION,
        );
      }
    });
  });

  describe('parameter validation: STATUS_INVALID_PARAMETER ([MS-FSA] 2.1.5.1 phase 1; IoCreateFile)', () => {
    it('FILE_DIRECTORY_FILE together with FILE_NON_DIRECTORY_FILE', () => {
      expect(model().open('C:\\dir', { options: 'directory_file,non_directory_file' }).status).toBe(
        S.STATUS_INVALID_PARAMETER,
      );
    });

    it('FILE_DIRECTORY_FILE with overwrite, overwrite-if or supersede', () => {
      const m = model();
      for (const disposition of ['overwrite', 'overwrite-if', 'supersede'] as const) {
        expect(m.open('C:\\dir\\x', { options: 'directory_file', disposition }).status).toBe(
          S.STATUS_INVALID_PARAMETER,
        );
      }
    });

    it('FILE_DELETE_ON_CLOSE without DELETE on a new file: refused and not created (smbtorture deltest9)', () => {
      const m = model();
      for (const disposition of ['supersede', 'overwrite-if', 'create', 'open-if'] as const) {
        const r = m.open('C:\\dir\\doc.txt', {
          access: 'rw',
          share: 0,
          disposition,
          options: 'delete_on_close',
        });
        expect(r.status, disposition).toBe(S.STATUS_INVALID_PARAMETER);
      }
      expect(m.open('C:\\dir\\doc.txt').status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
    });

    it('FILE_DELETE_ON_CLOSE without DELETE on an existing file: refused, file kept (smbtorture deltest9a)', () => {
      const m = model();
      for (const disposition of ['overwrite-if', 'open', 'overwrite', 'open-if'] as const) {
        const r = m.open('C:\\dir\\a.txt', {
          access: 'rw',
          share: 0,
          disposition,
          options: 'delete_on_close',
        });
        expect(r.status, disposition).toBe(S.STATUS_INVALID_PARAMETER);
      }
      expect(text(m.contents('C:\\dir\\a.txt'))).toBe('hello');
    });

    it('FILE_SYNCHRONOUS_IO_NONALERT without SYNCHRONIZE, and both synchronous options at once', () => {
      const m = model();
      expect(
        m.open('C:\\dir\\a.txt', {
          access: AccessRight.FILE_READ_DATA,
          options: 'synchronous_io_nonalert',
        }).status,
      ).toBe(S.STATUS_INVALID_PARAMETER);
      expect(
        m.open('C:\\dir\\a.txt', {
          access: 'read',
          options: 'synchronous_io_alert,synchronous_io_nonalert',
        }).status,
      ).toBe(S.STATUS_INVALID_PARAMETER);
    });

    it('FILE_COMPLETE_IF_OPLOCKED with FILE_RESERVE_OPFILTER', () => {
      expect(
        model().open('C:\\dir\\a.txt', { options: 'complete_if_oplocked,reserve_opfilter' }).status,
      ).toBe(S.STATUS_INVALID_PARAMETER);
    });

    it('FILE_NO_INTERMEDIATE_BUFFERING with FILE_APPEND_DATA', () => {
      expect(
        model().open('C:\\dir\\a.txt', { access: 'append', options: 'no_intermediate_buffering' })
          .status,
      ).toBe(S.STATUS_INVALID_PARAMETER);
    });

    it('create option bits outside FILE_VALID_OPTION_FLAGS', () => {
      expect(model().open('C:\\dir\\a.txt', { options: 0x01000000 }).status).toBe(
        S.STATUS_INVALID_PARAMETER,
      );
    });
  });

  describe('access ([MS-FSA] 2.1.5.1.2.1; CreateFile page)', () => {
    const readOnly = () =>
      new Model({ ...options, files: { 'C:\\ro.txt': { content: 'ro', readOnly: true } } });

    it('a read-only file opens for reading, not for writing: STATUS_ACCESS_DENIED', () => {
      const m = readOnly();
      expect(m.open('C:\\ro.txt', { access: 'read' }).status).toBe(S.STATUS_SUCCESS);
      expect(m.open('C:\\ro.txt', { access: 'write' }).status).toBe(S.STATUS_ACCESS_DENIED);
      expect(m.open('C:\\ro.txt', { access: 'append' }).status).toBe(S.STATUS_ACCESS_DENIED);
    });

    it('a read-only file with FILE_DELETE_ON_CLOSE: STATUS_CANNOT_DELETE (smbtorture deltest12), after the write-access check', () => {
      const m = readOnly();
      expect(
        m.open('C:\\ro.txt', { access: 'read,delete', options: 'delete_on_close' }).status,
      ).toBe(S.STATUS_CANNOT_DELETE);
      // [MS-FSA] 2.1.5.1.2.1 checks FILE_WRITE_DATA / FILE_APPEND_DATA on a read-only file first.
      expect(m.open('C:\\ro.txt', { access: 'all', options: 'delete_on_close' }).status).toBe(
        S.STATUS_ACCESS_DENIED,
      );
    });

    it('a read-only file cannot be overwritten: STATUS_ACCESS_DENIED (CREATE_ALWAYS on a read-only file)', () => {
      expect(
        readOnly().open('C:\\ro.txt', { access: 'read', disposition: 'overwrite-if' }).status,
      ).toBe(S.STATUS_ACCESS_DENIED);
    });

    it('MAXIMUM_ALLOWED on a read-only file grants reading but not writing', () => {
      const m = readOnly();
      const h = m.handle('C:\\ro.txt', { access: AccessRight.MAXIMUM_ALLOWED });
      expect(m.now(m.bridge.read(h, { offset: 0n, length: 2 })).status).toBe(S.STATUS_SUCCESS);
      expect(m.now(m.bridge.write(h, { offset: 0n, data: 1 })).status).toBe(S.STATUS_ACCESS_DENIED);
    });

    it('an open with no access at all succeeds (CreateFile: "If this parameter is zero, the application can query certain metadata")', () => {
      const m = model();
      const r = m.open('C:\\dir\\a.txt', { access: 0, share: 0 });
      expect(r.status).toBe(S.STATUS_SUCCESS);
      expect(m.now(m.bridge.read(r.handle!, { offset: 0n, length: 1 })).status).toBe(
        S.STATUS_ACCESS_DENIED,
      );
    });
  });
});

describe('opens as the filter reports them', () => {
  it('generic rights are mapped before anyone sees them (File Security and Access Rights: GENERIC_READ -> FILE_GENERIC_READ)', () => {
    const m = new Model({ files: { 'C:\\a': 'x' } });
    m.open('C:\\a', { access: (AccessRight.GENERIC_READ | AccessRight.GENERIC_WRITE) >>> 0 });
    const create = m.of('create')[0]!;
    expect(create.desiredAccess).toBe(0x00120089 | 0x00120116);
    expect(create.createDisposition).toBe(1);
    expect(create.information).toBe(CreateInformation.FILE_OPENED);
    expect(create.fileSize).toBe(1n);
  });

  it('a refused create is reported with its status, a fileObjectId and the streamId pre-create gave the name (driver FbStreamLookupForCreate)', () => {
    const m = new Model();
    m.open('C:\\missing');
    m.open('C:\\missing');
    const creates = m.of('create');
    expect(creates.map((c) => [c.status, c.fileObjectId, c.streamId])).toEqual([
      [S.STATUS_OBJECT_NAME_NOT_FOUND, 1n, 1n],
      [S.STATUS_OBJECT_NAME_NOT_FOUND, 2n, 2n],
    ]);
    expect(m.bridge.filter.streams.size).toBe(0);
  });

  it('parameters the I/O manager refuses never reach the filter: no record', () => {
    const m = new Model({ files: { 'C:\\a': 'x' } });
    m.open('C:\\a', {
      options: CreateOption.FILE_DIRECTORY_FILE | CreateOption.FILE_NON_DIRECTORY_FILE,
    });
    m.open('C:\\a?');
    expect(m.events).toEqual([]);
  });
});
