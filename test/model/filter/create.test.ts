/**
 * IRP_MJ_CREATE on a managed stream, in NTFS's order (driver/src/create.c and its twin
 * src/model/filter/create.ts; docs/events.md "create"). Sources:
 *  - [MS-FSA] 2.1.5.1.2 (Open of an Existing File): the share check comes first; on
 *    STATUS_SHARING_VIOLATION with handle-caching holders the object store breaks HANDLE_CACHING
 *    (OPEN_BREAK_H), waits, and checks share access again; an open that still conflicts fails
 *    and no other oplock check is made for it;
 *  - fastfat create.c FatOpenExistingFcb (the WDK sample file system, research §1.2): a batch or
 *    filter oplock is checked before IoCheckShareAccess ("Take special action if there is a
 *    current batch oplock or batch oplock break in process"), FsRtlCheckOplock after it;
 *  - ntifs.h FILE_OPBATCH_BREAK_UNDERWAY, cdfs/fastfat create.c (Information set before the
 *    batch check);
 *  - FltCheckOplockEx page, OPLOCK_FLAG_OPLOCK_KEY_CHECK_ONLY; OPLOCK_KEY_ECP_CONTEXT page.
 * Each managed answer is compared with the observe configuration, where the NTFS twin answers.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createModelBridge } from '../../../src/backends/model.js';
import { BreakFlag, CreateFlag, MajorFunction } from '../../../src/bridge/events.js';
import { OplockBreakInformation } from '../../../src/bridge/flags.js';
import { DEMO_MODEL_OPTIONS, DEMO_SCENARIO } from '../../../src/cli/demo-scenario.js';
import { loadScenario, parseScenario } from '../../../src/scenario/parse.js';
import { runScenario } from '../../../src/scenario/runner.js';
import { MANAGED, Model, OBSERVE, S } from '../fs/harness.js';

const KEY = '6b29fc40-ca47-1067-b31d-00dd010662da';

describe('a sharing violation against handle-caching holders ([MS-FSA] 2.1.5.1.2)', () => {
  it('breaks H only (RWH -> RW), waits, re-checks share access; still conflicting, the open fails with no FltCheckOplockEx break', async () => {
    const m = new Model({ files: { 'C:\\f': 'x' } });
    const a = m.handle('C:\\f', { access: 'read,write', share: 'read' });
    const rwh = m.bridge.requestOplock(a, { level: 'RWH' });
    m.clear();
    const open = m.bridge.open('C:\\f', { access: 'read,write', share: 'read,write', process: 2 });
    expect(open.completed).toBeUndefined();
    expect(m.types()).toEqual(['oplock-break']);
    const brk = m.of('oplock-break')[0]!;
    expect([brk.fromLevel, brk.toLevel]).toEqual(['RWH', 'RW']);
    expect(brk.breakFlags).toBe(BreakFlag.ACK_REQUIRED | BreakFlag.OPERATION_WAITS);
    expect(brk.operationId).toBe(m.bridge.operationIds(rwh)[0]);
    m.clear();
    const ack = m.bridge.acknowledgeOplock(a, { kind: 'ack', level: 'RW' });
    // The ack is held as the RW oplock; the open resumes, still conflicts with A's share mode,
    // and goes down without any further oplock check: no second break of the RW oplock.
    expect(m.types()).toEqual([
      'oplock-request',
      'oplock-break-completed',
      'oplock-acknowledged',
      'oplock-granted',
      'create',
    ]);
    const create = m.of('create')[0]!;
    expect(create.status).toBe(S.STATUS_SHARING_VIOLATION);
    expect(create.createFlags).toBe(CreateFlag.SHARING_BREAK | CreateFlag.WAITED_FOR_BREAK);
    expect((await open.result).status).toBe(S.STATUS_SHARING_VIOLATION);
    // The RW oplock is still held: nothing broke it.
    expect(ack.completed).toBeUndefined();
  });

  it('a conflict without handle-caching holders: no break at all, STATUS_SHARING_VIOLATION (an RW holder keeps its oplock)', () => {
    for (const config of [MANAGED, OBSERVE]) {
      const m = new Model({ ...config.options, files: { 'C:\\f': 'x' } });
      const a = m.handle('C:\\f', { access: 'read,write', share: 'read' });
      const rw = m.bridge.requestOplock(a, { level: 'RW' });
      m.clear();
      const r = m.open('C:\\f', { access: 'read,write', share: 'read,write', process: 2 });
      expect(r.status, config.name).toBe(S.STATUS_SHARING_VIOLATION);
      expect(m.of('oplock-break'), config.name).toEqual([]);
      expect(rw.completed, config.name).toBeUndefined();
    }
  });

  it('the holder closes instead: the open goes through (examples/05 in both configurations)', async () => {
    const file = join(import.meta.dirname, '..', '..', '..', 'examples');
    for (const config of [MANAGED, OBSERVE]) {
      const bridge = createModelBridge(config.options);
      try {
        const scenario = await loadScenario(
          join(file, '05-rh-handle-break-on-sharing-violation.yaml'),
        );
        const result = await runScenario(scenario, bridge);
        expect(
          result.steps.flatMap((s) => s.failures.map((f) => `${f.field}: ${f.actual}`)),
          config.name,
        ).toEqual([]);
        expect(result.passed, config.name).toBe(true);
      } finally {
        await bridge.dispose();
      }
    }
  });
});

describe('a batch oplock is checked before the share check (fastfat create.c)', () => {
  it('a share-conflicting open breaks the batch oplock and waits; the holder closes and the open succeeds', async () => {
    for (const config of [MANAGED, OBSERVE]) {
      const m = new Model({ ...config.options, files: { 'C:\\f': 'x' } });
      const a = m.handle('C:\\f', { access: 'read,write', share: 'none' });
      m.bridge.requestOplock(a, { level: 'BATCH' });
      m.clear();
      const open = m.bridge.open('C:\\f', { access: 'read', share: 'read,write', process: 2 });
      expect(open.completed, config.name).toBeUndefined();
      const brk = m.of('oplock-break')[0]!;
      expect([brk.fromLevel, brk.toLevel], config.name).toEqual(['BATCH', 'LEVEL2']);
      if (config === MANAGED) {
        expect(brk.causedByMajor).toBe(MajorFunction.CREATE);
        expect(brk.breakFlags & BreakFlag.OPERATION_WAITS).toBe(BreakFlag.OPERATION_WAITS);
      }
      m.close(a);
      expect((await open.result).status, config.name).toBe(S.STATUS_SUCCESS);
    }
  });

  it('the holder acknowledges and keeps its share-none handle: the open then fails with STATUS_SHARING_VIOLATION', async () => {
    for (const config of [MANAGED, OBSERVE]) {
      const m = new Model({ ...config.options, files: { 'C:\\f': 'x' } });
      const a = m.handle('C:\\f', { access: 'read,write', share: 'none' });
      m.bridge.requestOplock(a, { level: 'BATCH' });
      const open = m.bridge.open('C:\\f', { access: 'read', share: 'read,write', process: 2 });
      m.bridge.acknowledgeOplock(a, { kind: 'acknowledge' });
      expect((await open.result).status, config.name).toBe(S.STATUS_SHARING_VIOLATION);
    }
  });

  it('FILE_COMPLETE_IF_OPLOCKED on a batch oplock: STATUS_OPLOCK_BREAK_IN_PROGRESS with Information FILE_OPBATCH_BREAK_UNDERWAY, in both configurations', () => {
    for (const config of [MANAGED, OBSERVE]) {
      const m = new Model({ ...config.options, files: { 'C:\\f': 'x' } });
      const a = m.handle('C:\\f', { share: 'read,write,delete' });
      m.bridge.requestOplock(a, { level: 'BATCH' });
      m.clear();
      const r = m.open('C:\\f', { share: 'read,write,delete', options: 'complete_if_oplocked' });
      expect(r.status, config.name).toBe(S.STATUS_OPLOCK_BREAK_IN_PROGRESS);
      expect(r.information, config.name).toBe(
        BigInt(OplockBreakInformation.FILE_OPBATCH_BREAK_UNDERWAY),
      );
      const create = m.of('create')[0]!;
      expect(create.information, config.name).toBe(
        OplockBreakInformation.FILE_OPBATCH_BREAK_UNDERWAY,
      );
      expect(create.createFlags & CreateFlag.BREAK_IN_PROGRESS, config.name).toBe(
        CreateFlag.BREAK_IN_PROGRESS,
      );
    }
  });

  it('FILE_COMPLETE_IF_OPLOCKED on an RWH oplock: BREAK_IN_PROGRESS, Information stays FILE_OPENED (not a batch oplock)', () => {
    const m = new Model({ files: { 'C:\\f': 'x' } });
    const a = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(a, { level: 'RWH' });
    const r = m.open('C:\\f', { share: 'read,write,delete', options: 'complete_if_oplocked' });
    expect(r.status).toBe(S.STATUS_OPLOCK_BREAK_IN_PROGRESS);
    expect(r.information).toBe(1n);
  });
});

describe('oplock keys (OPLOCK_KEY_ECP_CONTEXT; FltOplockFsctrlEx OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH)', () => {
  it('`create` reports the oplock key of the create (HAS_OPLOCK_KEY), managed and observed; none without one', () => {
    for (const config of [MANAGED, OBSERVE]) {
      const m = new Model({ ...config.options, files: { 'C:\\f': 'x' } });
      m.handle('C:\\f', { oplockKey: `{${KEY.toUpperCase()}}` });
      m.handle('C:\\f');
      const [keyed, plain] = m.of('create');
      expect(keyed!.createFlags & CreateFlag.HAS_OPLOCK_KEY, config.name).toBe(
        CreateFlag.HAS_OPLOCK_KEY,
      );
      expect(keyed!.oplockKey, config.name).toBe(KEY);
      expect(plain!.createFlags & CreateFlag.HAS_OPLOCK_KEY, config.name).toBe(0);
      expect(plain!.oplockKey, config.name).toBeUndefined();
    }
  });

  it('an exclusive request with every other handle under the same key passes ALL_KEYS_MATCH and RWH is granted with two handles', () => {
    const m = new Model({ files: { 'C:\\f': 'x' } });
    const a = m.handle('C:\\f', { oplockKey: KEY, share: 'read,write,delete' });
    m.handle('C:\\f', { oplockKey: KEY, share: 'read,write,delete' });
    m.clear();
    const rwh = m.bridge.requestOplock(a, { level: 'RWH' });
    expect(rwh.completed).toBeUndefined();
    expect(m.of('oplock-request')[0]).toMatchObject({ openCount: 2, fsctrlFlags: 1 });
    expect(m.types()).toEqual(['oplock-request', 'oplock-granted']);
  });

  it('a handle without the key, or with another one, leaves the flag clear (and RWH is refused)', () => {
    for (const other of [undefined, 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee']) {
      const m = new Model({ files: { 'C:\\f': 'x' } });
      const a = m.handle('C:\\f', { oplockKey: KEY, share: 'read,write,delete' });
      m.handle('C:\\f', {
        share: 'read,write,delete',
        ...(other === undefined ? {} : { oplockKey: other }),
      });
      m.clear();
      const r = m.now(m.bridge.requestOplock(a, { level: 'RWH' }));
      expect(r.status).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
      expect(m.of('oplock-request')[0]!.fsctrlFlags).toBe(0);
    }
  });
});

describe('the CLI demo (src/cli/demo-scenario.ts) runs on a managed stream', () => {
  it("passes its own expectations with full causality: the one break (RWH -> RW) is caused by B's open, which waits, and fails after the acknowledgement", async () => {
    expect(DEMO_MODEL_OPTIONS).toEqual({});
    const bridge = createModelBridge(DEMO_MODEL_OPTIONS);
    const events: import('../../../src/bridge/events.js').BridgeEvent[] = [];
    bridge.subscribe((e) => events.push(e));
    try {
      const result = await runScenario(parseScenario(DEMO_SCENARIO, '<demo>'), bridge);
      expect(result.passed).toBe(true);
    } finally {
      await bridge.dispose();
    }
    const breaks = events.filter((e) => e.type === 'oplock-break');
    expect(breaks).toHaveLength(1);
    expect(breaks[0]).toMatchObject({
      fromLevel: 'RWH',
      toLevel: 'RW',
      causedByMajor: MajorFunction.CREATE,
      causedByProcessId: 2,
      breakFlags: BreakFlag.ACK_REQUIRED | BreakFlag.OPERATION_WAITS,
    });
    const refused = events.find(
      (e) => e.type === 'create' && e.status === S.STATUS_SHARING_VIOLATION,
    );
    expect(refused?.type === 'create' && refused.createFlags).toBe(
      CreateFlag.SHARING_BREAK | CreateFlag.WAITED_FOR_BREAK,
    );
  });
});
