/**
 * Oplock keys: a holder is not broken by operations under its own key, except Level 2 (whose
 * break ignores keys) and except with OPLOCK_FLAG_IGNORE_OPLOCK_KEYS. Sources: [MS-FSA]
 * 2.1.4.12.2 "Algorithm to Compare Oplock Keys", FsRtlOplockKeysEqual page (no key: only the same
 * file object matches), FltCheckOplockEx page (IGNORE_OPLOCK_KEYS), FltOplockFsctrlEx page.
 */
import { describe, expect, it } from 'vitest';
import { canonicalKey, keysMatch } from '../../../src/model/oplock/index.js';
import { Harness, PENDING, PROCEED } from './harness.js';

const K = '6f0d7b1e-2c4a-4e51-9b7d-0a1b2c3d4e5f';

describe('[MS-FSA] 2.1.4.12.2 Compare Oplock Keys', () => {
  it('a file object matches itself with or without a key', () => {
    expect(keysMatch({ id: 1n, synchronous: false }, { id: 1n, synchronous: false })).toBe(true);
  });
  it('two file objects without keys never match', () => {
    expect(keysMatch({ id: 1n, synchronous: false }, { id: 2n, synchronous: false })).toBe(false);
  });
  it('one key missing: no match', () => {
    expect(
      keysMatch({ id: 1n, synchronous: false, oplockKey: K }, { id: 2n, synchronous: false }),
    ).toBe(false);
  });
  it('equal GUIDs match regardless of case and braces', () => {
    expect(canonicalKey(`{${K.toUpperCase()}}`)).toBe(K);
    expect(
      keysMatch(
        { id: 1n, synchronous: false, oplockKey: K },
        { id: 2n, synchronous: false, oplockKey: `{${K.toUpperCase()}}` },
      ),
    ).toBe(true);
  });
});

describe('breaks and keys', () => {
  it.each(['R', 'RH', 'RW', 'RWH'] as const)(
    '%s is not broken by a write through another handle with the same key',
    (held) => {
      const h = new Harness();
      const r = h.win7(h.open({ key: K }), held);
      expect(h.write(h.open({ key: K })).result.preop).toBe(PROCEED);
      expect(h.completion(r.op)).toBeUndefined();
    },
  );

  it.each(['R', 'RW', 'RWH'] as const)(
    'FltCheckOplockEx OPLOCK_FLAG_IGNORE_OPLOCK_KEYS: %s is broken by a same-key write',
    (held) => {
      const h = new Harness();
      const r = h.win7(h.open({ key: K }), held);
      h.write(h.open({ key: K }), 0x8);
      expect(h.completion(r.op)?.toLevel).toBe('NONE');
    },
  );

  it('Level 2 is broken by a write under its own key', () => {
    const h = new Harness();
    const l2 = h.legacy(h.open({ key: K }), 'LEVEL2');
    h.write(h.open({ key: K }));
    expect(h.completion(l2.op)?.toLevel).toBe('NONE');
  });

  it('an RWH holder is not broken by an open with its key, and the opener then shares the RWH via ALL_KEYS_MATCH', () => {
    const h = new Harness();
    const a = h.win7(h.open({ key: K }), 'RWH');
    const fo = h.open({ key: K });
    expect(h.create(fo).result.preop).toBe(PROCEED);
    expect(h.completion(a.op)).toBeUndefined();
    expect(h.win7(fo, 'RWH', 2, 1).result.preop).toBe(PENDING);
    expect(h.completion(a.op)?.reason).toBe('switched');
  });

  it("a batch oplock is not broken by an open with the holder's key", () => {
    const h = new Harness();
    const b = h.legacy(h.open({ key: K }), 'BATCH');
    expect(h.create(h.open({ key: K })).result.preop).toBe(PROCEED);
    expect(h.completion(b.op)).toBeUndefined();
  });

  it("mixed keys: a write breaks only the R holders whose key differs from the writer's", () => {
    const h = new Harness();
    const same = h.win7(h.open({ key: K }), 'R');
    const other = h.win7(h.open({ key: 'other' }), 'R');
    const none = h.win7(h.open(), 'R');
    h.write(h.open({ key: K }));
    expect(h.completion(same.op)).toBeUndefined();
    expect(h.completion(other.op)?.toLevel).toBe('NONE');
    expect(h.completion(none.op)?.toLevel).toBe('NONE');
  });
});
