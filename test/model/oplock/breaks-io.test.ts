/**
 * Breaks caused by data and metadata operations from another handle: read, write, lock, unlock,
 * flush, set-information (end of file, allocation, valid data length, rename, link, delete
 * disposition) and FSCTL_SET_ZERO_DATA; and the holder's own operations, which never break it
 * (except Level 2). Sources: maharmstone/btrfs src/tests/oplock.cpp (NTFS: "Read from second
 * handle", "Write to first/second handle", "Lock file", "Set end of file", "Set allocation",
 * "Set valid data length", "Rename file", "Create hardlink", "Set zero data", "Set disposition
 * information"), [MS-FSA] 2.1.4.12 READ/WRITE/LOCK_CONTROL/FLUSH_DATA/SET_INFORMATION/FS_CONTROL.
 */
import { describe, expect, it } from 'vitest';
import { FileInformationClass as FIC, type OplockLevel } from '../../../src/bridge/flags.js';
import type { OplockFileObject } from '../../../src/model/oplock/index.js';
import { type Harness as H, Harness, PENDING, PROCEED, S, type Sent } from './harness.js';

type Doer = (h: H, fo: OplockFileObject) => Sent;
const OPS: Record<string, Doer> = {
  read: (h, fo) => h.read(fo),
  write: (h, fo) => h.write(fo),
  lock: (h, fo) => h.lock(fo, 'LOCK'),
  unlock: (h, fo) => h.lock(fo, 'UNLOCK_SINGLE'),
  'unlock-all': (h, fo) => h.lock(fo, 'UNLOCK_ALL'),
  flush: (h, fo) => h.flush(fo),
  'end-of-file': (h, fo) => h.setInfo(fo, FIC.FileEndOfFileInformation),
  allocation: (h, fo) => h.setInfo(fo, FIC.FileAllocationInformation),
  'valid-data-length': (h, fo) => h.setInfo(fo, FIC.FileValidDataLengthInformation),
  rename: (h, fo) => h.setInfo(fo, FIC.FileRenameInformation),
  link: (h, fo) => h.setInfo(fo, FIC.FileLinkInformation),
  shortname: (h, fo) => h.setInfo(fo, FIC.FileShortNameInformation),
  'delete-disposition': (h, fo) => h.setInfo(fo, FIC.FileDispositionInformation, true),
  'undelete-disposition': (h, fo) => h.setInfo(fo, FIC.FileDispositionInformation, false),
  basic: (h, fo) => h.setInfo(fo, FIC.FileBasicInformation),
  'zero-data': (h, fo) => h.zeroData(fo),
};

/** [holder, op, new level or undefined (no break), op waits] — from another handle, no keys. */
const OTHER: ReadonlyArray<[OplockLevel, string, OplockLevel | undefined, boolean]> = [
  ['LEVEL2', 'read', undefined, false],
  ['LEVEL2', 'write', 'NONE', false],
  ['LEVEL2', 'lock', 'NONE', false],
  ['LEVEL2', 'unlock', 'NONE', false],
  ['LEVEL2', 'flush', undefined, false],
  ['LEVEL2', 'end-of-file', 'NONE', false],
  ['LEVEL2', 'allocation', 'NONE', false],
  ['LEVEL2', 'valid-data-length', 'NONE', false],
  ['LEVEL2', 'rename', undefined, false],
  ['LEVEL2', 'link', undefined, false],
  ['LEVEL2', 'delete-disposition', undefined, false],
  ['LEVEL2', 'zero-data', 'NONE', false],
  ['R', 'read', undefined, false],
  ['R', 'write', 'NONE', false],
  ['R', 'lock', 'NONE', false],
  ['R', 'end-of-file', 'NONE', false],
  ['R', 'allocation', 'NONE', false],
  ['R', 'valid-data-length', 'NONE', false],
  ['R', 'rename', undefined, false],
  ['R', 'link', undefined, false],
  ['R', 'zero-data', 'NONE', false],
  ['R', 'delete-disposition', undefined, false],
  ['RH', 'read', undefined, false],
  ['RH', 'write', 'NONE', false],
  ['RH', 'lock', 'NONE', false],
  ['RH', 'rename', 'R', true],
  ['RH', 'delete-disposition', 'R', true],
  ['RH', 'undelete-disposition', undefined, false],
  ['RH', 'basic', undefined, false],
  ['RW', 'read', 'R', true],
  ['RW', 'flush', 'R', true],
  ['RW', 'write', 'NONE', true],
  ['RW', 'rename', undefined, false],
  ['RWH', 'read', 'RH', true],
  ['RWH', 'write', 'NONE', true],
  ['RWH', 'rename', 'RW', true],
  ['RWH', 'delete-disposition', 'RW', true],
  ['RWH', 'end-of-file', 'NONE', true],
  ['LEVEL1', 'read', 'LEVEL2', true],
  ['LEVEL1', 'write', 'NONE', true],
  ['LEVEL1', 'rename', undefined, false],
  ['BATCH', 'read', 'LEVEL2', true],
  ['BATCH', 'lock', 'NONE', true],
  ['BATCH', 'rename', 'NONE', true],
  ['BATCH', 'link', 'NONE', true],
  ['FILTER', 'read', undefined, false],
  ['FILTER', 'write', 'NONE', true],
];

describe('operations through another handle ([MS-FSA] 2.1.4.12; btrfs oplock.cpp for LEVEL2 and R)', () => {
  it.each(OTHER)('%s held, %s from another handle -> %s (waits %s)', (held, name, to, waits) => {
    const h = new Harness();
    const holder = h.request(h.open(), held);
    const doer = OPS[name];
    if (doer === undefined) throw new Error(name);
    const sent = doer(h, h.open());
    expect(sent.result.preop).toBe(waits ? PENDING : PROCEED);
    const c = h.completion(holder.op);
    if (to === undefined) {
      expect(c).toBeUndefined();
    } else {
      expect(c).toMatchObject({ status: S.STATUS_SUCCESS, reason: 'break', toLevel: to });
      expect(c?.cause).toEqual({ operation: sent.op, waits });
    }
  });
});

/**
 * Rows the IFS oplock-state pages give (windows-driver-docs-pr/ifs/irp-mj-write2.md,
 * irp-mj-lock-control2.md, irp-mj-set-information2.md, irp-mj-file-system-control2.md,
 * irp-mj-read2.md): filter oplocks, which [MS-FSA] does not cover, and the rows that say which
 * operation waits. [holder, op, new level or undefined, op waits].
 */
const IFS_PAGES: ReadonlyArray<[OplockLevel, string, OplockLevel | undefined, boolean, string]> = [
  ['FILTER', 'lock', undefined, false, 'IRP_MJ_LOCK_CONTROL: "Filter: The oplock is not broken"'],
  ['FILTER', 'unlock', undefined, false, 'IRP_MJ_LOCK_CONTROL: "Filter: The oplock is not broken"'],
  ['FILTER', 'rename', 'NONE', true, 'IRP_MJ_SET_INFORMATION: rename, Batch/Filter -> None'],
  ['FILTER', 'link', 'NONE', true, 'IRP_MJ_SET_INFORMATION: link, Batch/Filter -> None'],
  ['FILTER', 'shortname', 'NONE', true, 'IRP_MJ_SET_INFORMATION: short name, Batch/Filter -> None'],
  ['BATCH', 'shortname', 'NONE', true, 'IRP_MJ_SET_INFORMATION: short name, Batch/Filter -> None'],
  ['FILTER', 'end-of-file', 'NONE', true, 'IRP_MJ_SET_INFORMATION: EOF, Filter -> None'],
  ['FILTER', 'allocation', 'NONE', true, 'IRP_MJ_SET_INFORMATION: allocation, Filter -> None'],
  ['FILTER', 'valid-data-length', 'NONE', true, 'IRP_MJ_SET_INFORMATION: VDL, Filter -> None'],
  ['FILTER', 'zero-data', 'NONE', true, 'IRP_MJ_FILE_SYSTEM_CONTROL: FSCTL_SET_ZERO_DATA'],
  ['FILTER', 'flush', undefined, false, 'IRP_MJ_READ: Filter not broken (flush as read, [MS-FSA])'],
  ['FILTER', 'delete-disposition', undefined, false, 'disposition: only RH and RWH rows'],
  ['BATCH', 'delete-disposition', undefined, false, 'disposition: only RH and RWH rows'],
  ['LEVEL1', 'delete-disposition', undefined, false, 'disposition: only RH and RWH rows'],
  ['RW', 'delete-disposition', undefined, false, 'disposition: only RH and RWH rows'],
  [
    'LEVEL1',
    'link',
    undefined,
    false,
    'rename/link: "Level 1, Level 2, Read, Read-Write: not broken"',
  ],
  [
    'RW',
    'shortname',
    undefined,
    false,
    'rename/link: "Level 1, Level 2, Read, Read-Write: not broken"',
  ],
  ['RH', 'shortname', 'R', true, 'rename/link: Read-Handle -> Read, ack before the operation'],
  [
    'RH',
    'end-of-file',
    'NONE',
    false,
    'EOF: Read-Handle, ack required but the operation continues',
  ],
  ['RH', 'zero-data', 'NONE', false, 'SET_ZERO_DATA: Read-Handle continues immediately'],
  [
    'RH',
    'unlock',
    'NONE',
    false,
    'LOCK_CONTROL: "For the Handle request ... continues immediately"',
  ],
  ['RWH', 'lock', 'NONE', true, 'LOCK_CONTROL: Read-Write-Handle -> None, ack first'],
  ['RWH', 'zero-data', 'NONE', true, 'SET_ZERO_DATA: Read-Write-Handle -> None, ack first'],
  ['RW', 'valid-data-length', 'NONE', true, 'VDL: Read-Write -> None, ack first'],
];

describe('IFS "Checking the Oplock State of an IRP_MJ_xxx operation" pages', () => {
  it.each(IFS_PAGES)(
    '%s held, %s from another handle -> %s (waits %s): %s',
    (held, name, to, waits) => {
      const h = new Harness();
      const holder = h.request(h.open(), held);
      const doer = OPS[name];
      if (doer === undefined) throw new Error(name);
      const sent = doer(h, h.open());
      expect(sent.result.preop).toBe(waits ? PENDING : PROCEED);
      const c = h.completion(holder.op);
      if (to === undefined) expect(c).toBeUndefined();
      else expect(c).toMatchObject({ reason: 'break', toLevel: to });
    },
  );

  // Samba smb2.oplock.brl1 (Windows): "a self BRL acquisition should break to none" - a Level 2
  // oplock (from a batch broken by a second open) is broken by a lock on its own handle.
  it('smb2.oplock.brl1 (Windows): a Level 2 is broken to none by a byte-range lock on its own handle', () => {
    const h = new Harness();
    const fo = h.open();
    const l2 = h.legacy(fo, 'LEVEL2');
    expect(h.lock(fo).result.preop).toBe(PROCEED);
    expect(h.completion(l2.op)).toMatchObject({ toLevel: 'NONE', information: 8 });
  });

  // Samba smb2.lease.multibreak (Windows): an R lease and a Level 2 oplock coexist; an
  // OVERWRITE_IF open breaks both to none, without waiting.
  it('smb2.lease.multibreak (Windows): R and Level 2 coexist; an OVERWRITE_IF open breaks both to none and does not wait', () => {
    const h = new Harness();
    const r = h.win7(h.open(), 'R');
    const l2 = h.legacy(h.open(), 'LEVEL2');
    expect(l2.result.preop).toBe(PENDING);
    const open = h.create(h.open(), { disposition: 5 });
    expect(open.result.preop).toBe(PROCEED);
    expect(h.completion(r.op)).toMatchObject({ toLevel: 'NONE', ackRequired: false });
    expect(h.completion(l2.op)).toMatchObject({ toLevel: 'NONE', ackRequired: false });
  });
});

describe('the holder\'s own handle (btrfs oplock.cpp, NTFS: "Check oplock not broken" after own I/O)', () => {
  const OWN: ReadonlyArray<[OplockLevel, string]> = [];
  for (const held of ['LEVEL1', 'BATCH', 'FILTER', 'RW', 'RWH', 'RH', 'R'] as const) {
    for (const name of [
      'read',
      'write',
      'lock',
      'end-of-file',
      'rename',
      'delete-disposition',
      'zero-data',
    ]) {
      (OWN as Array<[OplockLevel, string]>).push([held, name]);
    }
  }
  it.each(OWN)('%s is not broken by %s on its own handle', (held, name) => {
    const h = new Harness();
    const fo = h.open();
    const holder = h.request(fo, held);
    const sent = OPS[name]?.(h, fo);
    expect(sent?.result.preop).toBe(PROCEED);
    expect(h.completion(holder.op)).toBeUndefined();
  });

  it('btrfs oplock.cpp "Write to first handle" (NTFS): Level 2 is broken by its own handle\'s write', () => {
    const h = new Harness();
    const fo = h.open();
    const l2 = h.legacy(fo, 'LEVEL2');
    expect(h.write(fo).result.preop).toBe(PROCEED);
    expect(h.completion(l2.op)).toMatchObject({ information: 8, ackRequired: false });
  });

  it('a write breaks every Level 2 and R holder in grant order, each without an ack', () => {
    const h = new Harness();
    const a = h.legacy(h.open(), 'LEVEL2');
    const b = h.win7(h.open(), 'R');
    const c = h.legacy(h.open(), 'LEVEL2');
    h.write(h.open());
    const order = h.log.filter((e) => e.kind === 'complete').map((e) => e.opId);
    expect(order).toEqual([a.op.operationId, c.op.operationId, b.op.operationId]);
    expect(h.oplock.isEmpty()).toBe(true);
  });
});
