/**
 * The interval indexes (IntervalBTree, the one the package uses, and AvlIntervalTree): their
 * structural invariants, the overlap rule at its edges, and agreement with the linear oracle
 * (NaiveIndex) over 100,000 random operations each (fast-check, fixed seed).
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BugCheckError } from '../../../src/bridge/errors.js';
import {
  AvlIntervalTree,
  IntervalBTree,
  IntervalNode,
  NaiveIndex,
  type RangeIndex,
} from '../../../src/model/filelock/index.js';
import { newSplitRange, splitRange } from '../../../src/model/filelock/u64.js';

let seq = 0;
function node(offset: bigint, length: bigint): IntervalNode {
  const r = splitRange(offset, length, newSplitRange());
  if (!r.valid || r.zeroZero) throw new Error('test node must be a valid, non-{0,0} range');
  const n = new IntervalNode();
  n.sHi = r.sHi;
  n.sLo = r.sLo;
  n.eHi = r.eHi;
  n.eLo = r.eLo;
  seq += 1;
  n.seq = seq;
  // Owner = seq % 5; tags collide for owners 0 and 3, as hashed owner tags may.
  n.tag = (seq % 5) % 3;
  return n;
}

function query(offset: bigint, length: bigint) {
  const r = splitRange(offset, length, newSplitRange());
  return [r.sHi, r.sLo, r.eHi, r.eLo] as const;
}

interface Checked extends RangeIndex<IntervalNode> {
  verify(): void;
  readonly height: number;
}

const impls: [string, () => Checked, (n: number) => number][] = [
  // B+-tree: every non-root node holds at least 4 of at most 15 entries.
  [
    'IntervalBTree',
    () => new IntervalBTree<IntervalNode>(),
    (n) => Math.ceil(Math.log(n) / Math.log(4)) + 1,
  ],
  // AVL: height at most 1.44 log2(n + 2).
  [
    'AvlIntervalTree',
    () => new AvlIntervalTree<IntervalNode>(2),
    (n) => Math.ceil(1.45 * Math.log2(n + 2)),
  ],
];

describe.each(impls)('%s basics', (_name, make, maxHeight) => {
  it('stays balanced and consistent through sequential, reverse and interleaved inserts and deletes', () => {
    const tree = make();
    const nodes: IntervalNode[] = [];
    for (let i = 0; i < 2000; i++) {
      const n = node(BigInt(i * 3), 2n);
      nodes.push(n);
      tree.insert(n);
    }
    for (let i = 2000; i > 0; i--) {
      const n = node(BigInt(i * 3 + 1), 1n);
      nodes.push(n);
      tree.insert(n);
    }
    tree.verify();
    expect(tree.size).toBe(4000);
    expect(tree.height).toBeLessThanOrEqual(maxHeight(4000));
    for (let i = 0; i < nodes.length; i += 2) tree.remove(nodes[i] as IntervalNode);
    tree.verify();
    expect(tree.size).toBe(2000);
    const order = tree.toArray();
    for (let i = 1; i < order.length; i++) {
      const a = order[i - 1] as IntervalNode;
      const b = order[i] as IntervalNode;
      expect(
        a.sHi < b.sHi || (a.sHi === b.sHi && (a.sLo < b.sLo || (a.sLo === b.sLo && a.seq < b.seq))),
      ).toBe(true);
    }
    tree.clear();
    expect(tree.size).toBe(0);
    expect(tree.min()).toBeNull();
    expect(nodes.every((n) => !n.indexed)).toBe(true);
  });

  it('closed-interval overlap with zero-length nodes and queries follows [MS-FSA] 2.1.4.10', () => {
    const tree = make();
    const zero = node(100n, 0n); // [100, 99]
    const ten = node(200n, 10n); // [200, 209]
    tree.insert(zero);
    tree.insert(ten);
    const has = (o: bigint, l: bigint) => tree.findOverlap(...query(o, l)) !== null;
    expect(has(99n, 2n)).toBe(true); // spans 99 and 100
    expect(has(100n, 5n)).toBe(false);
    expect(has(90n, 10n)).toBe(false);
    expect(has(100n, 0n)).toBe(false); // zero vs zero never
    expect(has(205n, 0n)).toBe(true); // [205, 204] inside [200, 209]
    expect(has(200n, 0n)).toBe(false);
    expect(has(210n, 0n)).toBe(false);
    expect(has(209n, 0n)).toBe(true);
  });

  it('compares all 64 bits (values that differ only in the high half)', () => {
    const tree = make();
    const hi = node((5n << 32n) + 10n, 10n);
    tree.insert(hi);
    tree.insert(node(10n, 10n));
    expect(tree.findOverlap(...query((4n << 32n) + 10n, 10n))).toBeNull();
    expect(tree.findOverlap(...query((5n << 32n) + 19n, 1n))).toBe(hi);
    expect(tree.findOverlap(...query((5n << 32n) - 5n, 15n))).toBeNull(); // ends at +9
    expect(tree.findOverlap(...query((5n << 32n) - 5n, (1n << 32n) + 20n))).toBe(hi);
    const top = node((1n << 64n) - 1n, 1n);
    tree.insert(top);
    expect(tree.findOverlap(...query((1n << 64n) - 2n, 2n))).toBe(top);
    tree.verify();
  });

  it('findAtStart returns the earliest inserted match; pred filters', () => {
    const tree = make();
    const a = node(50n, 5n);
    const b = node(50n, 5n);
    const c = node(50n, 7n);
    for (const n of [node(10n, 1n), a, b, c, node(60n, 1n)]) tree.insert(n);
    const s = query(50n, 1n);
    expect(tree.findAtStart(s[0], s[1], () => true)).toBe(a);
    expect(tree.findAtStart(s[0], s[1], (n) => n !== a)).toBe(b);
    expect(tree.findAtStart(s[0], s[1], (n) => n === c)).toBe(c);
    expect(tree.findAtStart(s[0], s[1] + 1, () => true)).toBeNull();
  });

  it('refuses double insert and removing a node it does not hold', () => {
    const tree = make();
    const n = node(1n, 1n);
    tree.insert(n);
    expect(() => tree.insert(n)).toThrow(BugCheckError);
    tree.remove(n);
    expect(() => tree.remove(n)).toThrow(BugCheckError);
    const other = make();
    const m = node(2n, 1n);
    other.insert(m);
    expect(() => tree.remove(m)).toThrow(BugCheckError);
  });
});

// ---------------------------------------------------------------------------------------------
// 100,000 random operations against the linear oracle
// ---------------------------------------------------------------------------------------------

const TWO32 = 1n << 32n;
const U64_MAX = (1n << 64n) - 1n;

/** Offsets clustered so that ranges collide: small, around 2^32, near 2^64. */
const offsetArb = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: 0n, max: 300n }) },
  { weight: 2, arbitrary: fc.bigInt({ min: TWO32 - 40n, max: TWO32 + 40n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: U64_MAX - 60n, max: U64_MAX }) },
);
const lengthArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0n) },
  { weight: 6, arbitrary: fc.bigInt({ min: 1n, max: 40n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: TWO32 + 100n }) },
);

type Op =
  | { t: 'insert'; offset: bigint; length: bigint }
  | { t: 'remove'; pick: number }
  | { t: 'query'; offset: bigint; length: bigint; odd: boolean; owner: number }
  | { t: 'start'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('insert' as const),
      offset: offsetArb,
      length: lengthArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('remove' as const), pick: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('query' as const),
      offset: offsetArb,
      length: lengthArb,
      odd: fc.boolean(),
      owner: fc.nat({ max: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('start' as const), pick: fc.nat() }) },
);

function clampValid(offset: bigint, length: bigint): [bigint, bigint] | null {
  if (length !== 0n && offset + length - 1n > U64_MAX) length = U64_MAX - offset + 1n;
  if (offset === 0n && length === 0n) return null;
  return [offset, length];
}

/** A failed comparison (plain throw: expect() per operation would dominate the run time). */
function agree(ok: boolean, what: string): void {
  if (!ok) throw new Error(`index and oracle disagree: ${what}`);
}

describe.each(impls)('%s agrees with the linear oracle', (_name, make) => {
  it('on 100 random sequences of 1,000 operations (100,000 operations, fixed seed)', () => {
    let ops = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1000, maxLength: 1000 }), (script) => {
        const tree = make();
        const naive = new NaiveIndex<IntervalNode>();
        // Each index needs its own node objects (slot and indexed flags are per index).
        const live: [IntervalNode, IntervalNode][] = [];
        const twin = new Map<IntervalNode, IntervalNode>();
        for (const op of script) {
          ops += 1;
          if (op.t === 'insert') {
            const r = clampValid(op.offset, op.length);
            if (r === null) continue;
            const a = node(r[0], r[1]);
            const b = Object.assign(new IntervalNode(), {
              sHi: a.sHi,
              sLo: a.sLo,
              eHi: a.eHi,
              eLo: a.eLo,
              seq: a.seq,
              tag: a.tag,
            });
            tree.insert(a);
            naive.insert(b);
            live.push([a, b]);
            twin.set(a, b);
          } else if (op.t === 'remove') {
            if (live.length === 0) continue;
            const at = op.pick % live.length;
            const [a, b] = live[at] as [IntervalNode, IntervalNode];
            live.splice(at, 1);
            twin.delete(a);
            tree.remove(a);
            naive.remove(b);
          } else if (op.t === 'query') {
            const r = clampValid(op.offset, op.length);
            if (r === null) continue;
            const q = query(r[0], r[1]);
            const expected = naive.collectOverlaps(...q, []);
            const got = tree.collectOverlaps(...q, []);
            agree(
              got.length === expected.length && got.every((n, i) => twin.get(n) === expected[i]),
              'collectOverlaps',
            );
            // findOverlap: same existence, and what it returns overlaps and passes pred.
            const pred = op.odd ? (n: IntervalNode) => n.seq % 2 === 1 : undefined;
            const hit = tree.findOverlap(...q, pred);
            const oracleHit = naive.findOverlap(...q, pred);
            agree((hit === null) === (oracleHit === null), 'findOverlap existence');
            if (hit !== null) {
              agree(expected.includes(twin.get(hit) as IntervalNode), 'findOverlap overlaps');
              agree(pred === undefined || pred(hit), 'findOverlap pred');
            }
            agree(tree.hasOverlap(...q) === expected.length > 0, 'hasOverlap');
            // findForeignOverlap: an overlap of another owner exists iff the oracle finds one.
            const mine = (n: IntervalNode) => n.seq % 5 === op.owner;
            const foreign = tree.findForeignOverlap(...q, op.owner % 3, mine);
            const oracleForeign = naive.findForeignOverlap(...q, op.owner % 3, mine);
            agree((foreign === null) === (oracleForeign === null), 'findForeignOverlap existence');
            if (foreign !== null) {
              agree(!mine(foreign), 'findForeignOverlap owner');
              agree(
                expected.includes(twin.get(foreign) as IntervalNode),
                'findForeignOverlap overlaps',
              );
            }
          } else {
            if (live.length === 0) continue;
            const [a] = live[op.pick % live.length] as [IntervalNode, IntervalNode];
            const hit = tree.findAtStart(a.sHi, a.sLo, () => true);
            const oracleHit = naive.findAtStart(a.sHi, a.sLo, () => true);
            agree((hit === null ? null : twin.get(hit)) === oracleHit, 'findAtStart');
          }
          if (ops % 250 === 0) tree.verify();
        }
        tree.verify();
        expect(tree.size).toBe(naive.size);
        expect(tree.toArray().map((n) => twin.get(n))).toEqual(naive.toArray());
        const min = tree.min();
        expect(min === null ? null : twin.get(min)).toBe(naive.min());
        // Drain: delete everything (every other entry from the front, then the rest from the
        // back), so borrow, merge and root collapse all run; check the structure as it shrinks.
        const order = [
          ...live.filter((_, i) => i % 2 === 0),
          ...live.filter((_, i) => i % 2 === 1).reverse(),
        ];
        for (let i = 0; i < order.length; i++) {
          const [a, b] = order[i] as [IntervalNode, IntervalNode];
          tree.remove(a);
          naive.remove(b);
          if (i % 7 === 0) {
            tree.verify();
            agree(
              tree.hasOverlap(0, 0, 0xffffffff, 0xffffffff) === naive.size > 0,
              'drain hasOverlap',
            );
          }
        }
        tree.verify();
        expect(tree.size).toBe(0);
        expect(tree.toArray()).toEqual([]);
      }),
      { seed: 0x5eed_f11e, numRuns: 100 },
    );
    expect(ops).toBe(100_000);
  });
});
