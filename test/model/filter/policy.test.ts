/**
 * Namespace matching (twin of driver/src/policy.c). Source: fltbridge_proto.h, CONFIGURE: "a
 * path is inside a namespace when it equals it or continues it after a backslash, compared
 * case-insensitively. When namespaces overlap, the longest match wins; MANAGED and OBSERVE may
 * not name the same path."
 */
import { describe, expect, it } from 'vitest';
import { isPolicyError, Policy } from '../../../src/model/filter/policy.js';
import { parsePath } from '../../../src/model/fs/path.js';

const key = (p: string) => {
  const r = parsePath(p);
  if (!r.ok) throw new Error(p);
  return r.path.key;
};

function policy(...specs: ['managed' | 'observe', string][]): Policy {
  const p = Policy.create(specs.map(([kind, path]) => ({ kind, path })));
  if (isPolicyError(p)) throw new Error(p.reason);
  return p;
}

describe('Policy', () => {
  it('a path is inside a namespace when it equals it or continues it after a separator', () => {
    const p = policy(['managed', 'C:\\work']);
    expect(p.classify(key('C:\\work'))).toBe('managed');
    expect(p.classify(key('C:\\work\\a\\b.txt'))).toBe('managed');
    expect(p.classify(key('C:\\workspace\\a'))).toBeUndefined();
    expect(p.classify(key('C:\\wor'))).toBeUndefined();
  });

  it('compares case-insensitively, whatever spelling the namespace and the path use', () => {
    const p = policy(['observe', '\\Device\\HarddiskVolume3\\Work']);
    expect(p.classify(key('c:\\WORK\\x'))).toBe('observe');
    expect(p.classify(key('/work/x'))).toBe('observe');
  });

  it('the longest match wins when namespaces overlap', () => {
    const p = policy(['managed', 'C:\\'], ['observe', 'C:\\obs'], ['managed', 'C:\\obs\\inner']);
    expect(p.classify(key('C:\\a'))).toBe('managed');
    expect(p.classify(key('C:\\obs\\a'))).toBe('observe');
    expect(p.classify(key('C:\\obs\\inner\\a'))).toBe('managed');
    expect([p.managedCount, p.observeCount]).toEqual([2, 1]);
  });

  it('MANAGED and OBSERVE may not name the same path (in any spelling); the same kind twice is one entry', () => {
    const conflict = Policy.create([
      { kind: 'managed', path: 'C:\\x' },
      { kind: 'observe', path: '/X' },
    ]);
    expect(isPolicyError(conflict) && conflict.reason).toBe('conflict');
    const twice = policy(['managed', 'C:\\x'], ['managed', 'c:\\X\\']);
    expect(twice.managedCount).toBe(1);
  });

  it('a namespace that is not a path of the model volume is refused', () => {
    const bad = Policy.create([{ kind: 'managed', path: 'C:\\a|b' }]);
    expect(isPolicyError(bad) && bad.reason).toBe('bad-path');
  });

  it('no namespace: nothing is managed or observed', () => {
    expect(Policy.empty().classify(key('C:\\a'))).toBeUndefined();
  });
});
