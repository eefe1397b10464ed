/**
 * Share access as the I/O manager checks it for the file system (IoCheckShareAccess /
 * IoSetShareAccess / IoRemoveShareAccess), in the three configurations.
 *
 * Sources: Wine dlls/kernel32/tests/file.c test_file_sharing (runs every pair of 24 access masks
 * and 8 share modes on Windows; is_sharing_compatible is the rule it expects), [MS-FSA]
 * 2.1.5.1.2.2 "Algorithm to Check Sharing Access to an Existing Stream or Directory", the
 * IoCheckShareAccess page, smbtorture deltest3 ("open for delete is only compatible with
 * SHARE_DELETE").
 */
import { describe, expect, it } from 'vitest';
import { AccessRight, mapGenericAccess, ShareMode } from '../../../src/bridge/flags.js';
import {
  addShareAccess,
  isShareCompatible,
  newShareAccess,
  removeShareAccess,
  shareEntry,
} from '../../../src/model/fs/shareaccess.js';
import { CONFIGS, Model, S } from './harness.js';

const R = ShareMode.FILE_SHARE_READ;
const W = ShareMode.FILE_SHARE_WRITE;
const D = ShareMode.FILE_SHARE_DELETE;

/** Wine's is_sharing_compatible, written out from its description (not copied). */
function wineCompatible(a1: number, s1: number, a2: number, s2: number): boolean {
  const data =
    AccessRight.FILE_READ_DATA |
    AccessRight.FILE_WRITE_DATA |
    AccessRight.FILE_APPEND_DATA |
    AccessRight.FILE_EXECUTE |
    AccessRight.DELETE;
  const x1 = mapGenericAccess(a1) & data;
  const x2 = mapGenericAccess(a2) & data;
  const sh1 = x1 === 0 ? R | W | D : s1;
  const sh2 = x2 === 0 ? R | W | D : s2;
  const reads = AccessRight.FILE_READ_DATA | AccessRight.FILE_EXECUTE;
  const writes = AccessRight.FILE_WRITE_DATA | AccessRight.FILE_APPEND_DATA;
  const conflicts = (x: number, sh: number) =>
    (x & reads && !(sh & R)) || (x & writes && !(sh & W)) || (x & AccessRight.DELETE && !(sh & D));
  return !conflicts(x1, sh2) && !conflicts(x2, sh1);
}

const ACCESS_MODES = [
  0,
  AccessRight.GENERIC_READ,
  AccessRight.GENERIC_WRITE,
  (AccessRight.GENERIC_READ | AccessRight.GENERIC_WRITE) >>> 0,
  AccessRight.DELETE,
  (AccessRight.GENERIC_READ | AccessRight.DELETE) >>> 0,
  AccessRight.GENERIC_EXECUTE,
  AccessRight.FILE_READ_DATA,
  AccessRight.FILE_WRITE_DATA,
  AccessRight.FILE_APPEND_DATA,
  AccessRight.FILE_READ_EA,
  AccessRight.FILE_EXECUTE,
  AccessRight.FILE_READ_ATTRIBUTES,
  AccessRight.FILE_WRITE_ATTRIBUTES,
];
const SHARE_MODES = [0, R, W, R | W, D, R | D, W | D, R | W | D];

describe('IoCheckShareAccess twin (unit)', () => {
  it('matches Wine test_file_sharing for every pair of its access masks and share modes', () => {
    let pairs = 0;
    for (const a1 of ACCESS_MODES) {
      for (const s1 of SHARE_MODES) {
        const share = newShareAccess();
        addShareAccess(shareEntry(mapGenericAccess(a1), s1), share);
        for (const a2 of ACCESS_MODES) {
          for (const s2 of SHARE_MODES) {
            const ok = isShareCompatible(shareEntry(mapGenericAccess(a2), s2), share);
            expect(ok, `${a1.toString(16)}/${s1} then ${a2.toString(16)}/${s2}`).toBe(
              wineCompatible(a1, s1, a2, s2),
            );
            pairs += 1;
          }
        }
      }
    }
    expect(pairs).toBe(ACCESS_MODES.length ** 2 * SHARE_MODES.length ** 2);
  });

  it('IoRemoveShareAccess undoes IoSetShareAccess exactly', () => {
    const share = newShareAccess();
    const a = shareEntry(AccessRight.FILE_READ_DATA | AccessRight.DELETE, R);
    addShareAccess(a, share);
    removeShareAccess(a, share);
    expect(share).toEqual(newShareAccess());
  });
});

describe.each(CONFIGS)('share access at open ($name)', ({ options }) => {
  const model = () => new Model({ ...options, files: { 'C:\\f': 'data' } });

  it('readers sharing read coexist', () => {
    const m = model();
    m.handle('C:\\f', { access: 'read', share: 'read' });
    expect(m.open('C:\\f', { access: 'read', share: 'read' }).status).toBe(S.STATUS_SUCCESS);
  });

  it('a writer is refused when an existing open does not share write: STATUS_SHARING_VIOLATION', () => {
    const m = model();
    m.handle('C:\\f', { access: 'read', share: 'read' });
    expect(m.open('C:\\f', { access: 'write', share: 'read,write' }).status).toBe(
      S.STATUS_SHARING_VIOLATION,
    );
  });

  it('a new open that does not share what an existing open uses is refused (Wine: GENERIC_READ|WRITE, FILE_SHARE_READ)', () => {
    const m = model();
    m.handle('C:\\f', { access: 'rw', share: 'read' });
    expect(m.open('C:\\f', { access: 'read', share: 'read' }).status).toBe(
      S.STATUS_SHARING_VIOLATION,
    );
    expect(m.open('C:\\f', { access: 'read', share: 'read,write' }).status).toBe(S.STATUS_SUCCESS);
  });

  it('share none keeps every data open out', () => {
    const m = model();
    m.handle('C:\\f', { access: 'read', share: 'none' });
    expect(m.open('C:\\f', { access: 'read', share: 'read,write,delete' }).status).toBe(
      S.STATUS_SHARING_VIOLATION,
    );
  });

  it('opens for attributes only neither count nor conflict', () => {
    const m = model();
    m.handle('C:\\f', { access: 'read-attributes', share: 'none' });
    expect(m.open('C:\\f', { access: 'rw', share: 'none' }).status).toBe(S.STATUS_SUCCESS);
    expect(m.open('C:\\f', { access: 'read-attributes', share: 'none' }).status).toBe(
      S.STATUS_SUCCESS,
    );
  });

  it('DELETE access needs FILE_SHARE_DELETE from the other opens (smbtorture deltest3)', () => {
    const m = model();
    m.handle('C:\\f', { access: 'all', share: 'read,write' });
    expect(m.open('C:\\f', { access: 'read', share: 'read,write' }).status).toBe(
      S.STATUS_SHARING_VIOLATION,
    );
    expect(m.open('C:\\f', { access: 'read', share: 'read,write,delete' }).status).toBe(
      S.STATUS_SUCCESS,
    );
  });

  it('FILE_EXECUTE counts as reading, FILE_APPEND_DATA as writing', () => {
    const m = model();
    m.handle('C:\\f', { access: 'read-attributes', share: 'none' });
    m.handle('C:\\f', { access: AccessRight.FILE_EXECUTE, share: 'read,write,delete' });
    expect(m.open('C:\\f', { access: 'read', share: 'write,delete' }).status).toBe(
      S.STATUS_SHARING_VIOLATION,
    );
    m.handle('C:\\f', { access: 'append', share: 'read,write,delete' });
    expect(m.open('C:\\f', { access: 'read', share: 'read,delete' }).status).toBe(
      S.STATUS_SHARING_VIOLATION,
    );
  });

  it('share access is given back at cleanup: after CloseHandle the open goes through', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'rw', share: 'none' });
    expect(m.open('C:\\f', { access: 'read', share: 'read,write' }).status).toBe(
      S.STATUS_SHARING_VIOLATION,
    );
    m.close(h);
    expect(m.open('C:\\f', { access: 'read', share: 'read,write' }).status).toBe(S.STATUS_SUCCESS);
  });

  it('a refused open takes no share access (the next compatible open still works)', () => {
    const m = model();
    m.handle('C:\\f', { access: 'read', share: 'read' });
    expect(m.open('C:\\f', { access: 'write', share: 'none' }).status).toBe(
      S.STATUS_SHARING_VIOLATION,
    );
    expect(m.open('C:\\f', { access: 'read', share: 'read' }).status).toBe(S.STATUS_SUCCESS);
  });

  it('overwrite is refused by a sharing violation and leaves the data alone', () => {
    const m = model();
    m.handle('C:\\f', { access: 'read', share: 'read' });
    expect(m.open('C:\\f', { access: 'rw', share: 'read', disposition: 'overwrite' }).status).toBe(
      S.STATUS_SHARING_VIOLATION,
    );
    m.close(m.handle('C:\\f', { access: 'read', share: 'read' }));
    expect(new TextDecoder().decode(m.contents('C:\\f') as Uint8Array)).toBe('data');
  });
});
