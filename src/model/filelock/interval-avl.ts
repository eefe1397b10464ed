/**
 * An AVL interval tree with the same RangeIndex contract as IntervalBTree (interval-index.ts):
 * keyed by (first byte, seq), each node keeping the largest last byte of its subtree and of its
 * left subtree. It was the package's first index; the benchmark keeps it as a column because
 * the measurement is why the package uses the B+-tree (17 levels of one cache line each at
 * 100,000 locks, against 6 levels of a few adjacent lines).
 */

import { BugCheckError } from '../../bridge/errors.js';
import type { IntervalNode, NodePredicate, RangeIndex } from './interval-index.js';

const NIL = -1;

// Node layout: STRIDE int32 slots per node in one Int32Array. Everything a search step reads
// sits in the node's own slots, its left subtree's largest last byte included, so each level of
// a search costs one cache line (one typed array per field, or reading the child's maximum from
// the child, costs one miss per field per level: measured several times slower at 100,000
// locks). Endpoints are stored biased (x ^ 0x80000000): signed int32 order is then unsigned
// order. Links hold the child's base offset (node id * STRIDE) or NIL.
const S_HI = 0;
const S_LO = 1;
const E_HI = 2;
const E_LO = 3;
/** Largest last byte in the subtree. */
const M_HI = 4;
const M_LO = 5;
/** Largest last byte in the left subtree (meaningless when LEFT is NIL). */
const LM_HI = 6;
const LM_LO = 7;
const LEFT = 8;
const RIGHT = 9;
const TAG = 10;
const HT = 11;
const STRIDE = 16;
const SHIFT = 4;
const BIAS = 0x80000000;

/** AVL interval tree. Nodes live in one Int32Array (layout above). */
export class AvlIntervalTree<T extends IntervalNode> implements RangeIndex<T> {
  private a: Int32Array;
  private seq: Float64Array;
  private cap: number;
  private payload: (T | undefined)[] = [];
  private freeHead = NIL;
  private highWater = 0;
  private root = NIL;
  private count = 0;

  constructor(initialCapacity = 16) {
    this.cap = Math.max(1, initialCapacity);
    this.a = new Int32Array(this.cap * STRIDE);
    this.seq = new Float64Array(this.cap);
  }

  get size(): number {
    return this.count;
  }

  /** Tree height (0 when empty), for tests. */
  get height(): number {
    return this.root === NIL ? 0 : (this.a[this.root + HT] as number);
  }

  private grow(): void {
    const cap = this.cap * 2;
    const a = new Int32Array(cap * STRIDE);
    a.set(this.a);
    const seq = new Float64Array(cap);
    seq.set(this.seq);
    this.a = a;
    this.seq = seq;
    this.cap = cap;
  }

  /** A free node's base offset. */
  private alloc(): number {
    if (this.freeHead !== NIL) {
      const b = this.freeHead;
      this.freeHead = this.a[b + LEFT] as number;
      return b;
    }
    if (this.highWater === this.cap) this.grow();
    const b = this.highWater << SHIFT;
    this.highWater += 1;
    return b;
  }

  private release(b: number): void {
    this.payload[b >> SHIFT] = undefined;
    this.a[b + LEFT] = this.freeHead;
    this.a[b + RIGHT] = NIL;
    this.freeHead = b;
  }

  // --- AVL --------------------------------------------------------------------------------

  private h(b: number): number {
    return b === NIL ? 0 : (this.a[b + HT] as number);
  }

  private update(b: number): void {
    const a = this.a;
    const l = a[b + LEFT] as number;
    const r = a[b + RIGHT] as number;
    let h = 0;
    let hi = a[b + E_HI] as number;
    let lo = a[b + E_LO] as number;
    if (l !== NIL) {
      h = a[l + HT] as number;
      const lh = a[l + M_HI] as number;
      const ll = a[l + M_LO] as number;
      a[b + LM_HI] = lh;
      a[b + LM_LO] = ll;
      if (lh > hi || (lh === hi && ll > lo)) {
        hi = lh;
        lo = ll;
      }
    }
    if (r !== NIL) {
      const rh = a[r + HT] as number;
      if (rh > h) h = rh;
      const mh = a[r + M_HI] as number;
      const ml = a[r + M_LO] as number;
      if (mh > hi || (mh === hi && ml > lo)) {
        hi = mh;
        lo = ml;
      }
    }
    a[b + HT] = h + 1;
    a[b + M_HI] = hi;
    a[b + M_LO] = lo;
  }

  private rotateRight(b: number): number {
    const a = this.a;
    const l = a[b + LEFT] as number;
    a[b + LEFT] = a[l + RIGHT] as number;
    a[l + RIGHT] = b;
    this.update(b);
    this.update(l);
    return l;
  }

  private rotateLeft(b: number): number {
    const a = this.a;
    const r = a[b + RIGHT] as number;
    a[b + RIGHT] = a[r + LEFT] as number;
    a[r + LEFT] = b;
    this.update(b);
    this.update(r);
    return r;
  }

  private rebalance(b: number): number {
    this.update(b);
    const a = this.a;
    const l = a[b + LEFT] as number;
    const r = a[b + RIGHT] as number;
    const balance = this.h(l) - this.h(r);
    if (balance > 1) {
      if (this.h(a[l + LEFT] as number) < this.h(a[l + RIGHT] as number)) {
        a[b + LEFT] = this.rotateLeft(l);
      }
      return this.rotateRight(b);
    }
    if (balance < -1) {
      if (this.h(a[r + RIGHT] as number) < this.h(a[r + LEFT] as number)) {
        a[b + RIGHT] = this.rotateRight(r);
      }
      return this.rotateLeft(b);
    }
    return b;
  }

  /** Node x before node y in (first byte, seq) order. */
  private before(x: number, y: number): boolean {
    const a = this.a;
    const xh = a[x + S_HI] as number;
    const yh = a[y + S_HI] as number;
    if (xh !== yh) return xh < yh;
    const xl = a[x + S_LO] as number;
    const yl = a[y + S_LO] as number;
    if (xl !== yl) return xl < yl;
    return (this.seq[x >> SHIFT] as number) < (this.seq[y >> SHIFT] as number);
  }

  private insertAt(root: number, b: number): number {
    if (root === NIL) return b;
    const a = this.a;
    if (this.before(b, root)) a[root + LEFT] = this.insertAt(a[root + LEFT] as number, b);
    else a[root + RIGHT] = this.insertAt(a[root + RIGHT] as number, b);
    return this.rebalance(root);
  }

  private removeMin(b: number): number {
    const a = this.a;
    const l = a[b + LEFT] as number;
    if (l === NIL) return a[b + RIGHT] as number;
    a[b + LEFT] = this.removeMin(l);
    return this.rebalance(b);
  }

  private removeAt(root: number, b: number): number {
    if (root === NIL) throw new BugCheckError('interval index: node not found on delete');
    const a = this.a;
    if (root === b) {
      const l = a[b + LEFT] as number;
      const r = a[b + RIGHT] as number;
      if (l === NIL) return r;
      if (r === NIL) return l;
      let m = r;
      while ((a[m + LEFT] as number) !== NIL) m = a[m + LEFT] as number;
      a[m + RIGHT] = this.removeMin(r);
      a[m + LEFT] = l;
      return this.rebalance(m);
    }
    if (this.before(b, root)) a[root + LEFT] = this.removeAt(a[root + LEFT] as number, b);
    else a[root + RIGHT] = this.removeAt(a[root + RIGHT] as number, b);
    return this.rebalance(root);
  }

  // --- RangeIndex -------------------------------------------------------------------------

  insert(node: T): void {
    if (node.indexed) throw new BugCheckError('interval index: node inserted twice');
    const b = this.alloc();
    const a = this.a;
    a[b + S_HI] = node.sHi ^ BIAS;
    a[b + S_LO] = node.sLo ^ BIAS;
    a[b + E_HI] = node.eHi ^ BIAS;
    a[b + E_LO] = node.eLo ^ BIAS;
    a[b + M_HI] = node.eHi ^ BIAS;
    a[b + M_LO] = node.eLo ^ BIAS;
    a[b + LEFT] = NIL;
    a[b + RIGHT] = NIL;
    a[b + TAG] = node.tag | 0;
    a[b + HT] = 1;
    const id = b >> SHIFT;
    this.seq[id] = node.seq;
    this.payload[id] = node;
    node.slot = id;
    node.indexed = true;
    this.root = this.insertAt(this.root, b);
    this.count += 1;
  }

  remove(node: T): void {
    const id = node.slot;
    if (!node.indexed || id < 0 || this.payload[id] !== node) {
      throw new BugCheckError('interval index: removing a node it does not hold');
    }
    const b = id << SHIFT;
    this.root = this.removeAt(this.root, b);
    this.release(b);
    node.slot = -1;
    node.indexed = false;
    this.count -= 1;
  }

  /**
   * One root-to-leaf path that ends on an overlapping node if there is any (CLRS
   * INTERVAL-SEARCH: when the left subtree reaches qs but holds no overlap, its node ending at
   * or after qs starts after qe, and so does everything to the right). Biased query.
   */
  private anyOverlap(qsH: number, qsL: number, qeH: number, qeL: number): number {
    const a = this.a;
    let b = this.root;
    while (b !== NIL) {
      const sh = a[b + S_HI] as number;
      const eh = a[b + E_HI] as number;
      if (
        (sh < qeH || (sh === qeH && (a[b + S_LO] as number) <= qeL)) &&
        (eh > qsH || (eh === qsH && (a[b + E_LO] as number) >= qsL))
      ) {
        return b;
      }
      if ((a[b + LEFT] as number) !== NIL) {
        const lh = a[b + LM_HI] as number;
        if (lh > qsH || (lh === qsH && (a[b + LM_LO] as number) >= qsL)) {
          b = a[b + LEFT] as number;
          continue;
        }
      }
      b = a[b + RIGHT] as number;
    }
    return NIL;
  }

  /**
   * Full search (biased query): the first node in order overlapping [qs, qe] that `accept`
   * takes. `tag` is passed through for accept's use.
   */
  private search(
    b: number,
    qsH: number,
    qsL: number,
    qeH: number,
    qeL: number,
    accept: (b: number) => boolean,
  ): number {
    const a = this.a;
    while (b !== NIL) {
      // Nothing in this subtree ends at or after qs.
      const mh = a[b + M_HI] as number;
      if (mh < qsH || (mh === qsH && (a[b + M_LO] as number) < qsL)) return NIL;
      const l = a[b + LEFT] as number;
      if (l !== NIL) {
        const found = this.search(l, qsH, qsL, qeH, qeL, accept);
        if (found !== NIL) return found;
      }
      // This node and everything to its right start after qe.
      const sh = a[b + S_HI] as number;
      if (sh > qeH || (sh === qeH && (a[b + S_LO] as number) > qeL)) return NIL;
      const eh = a[b + E_HI] as number;
      if ((eh > qsH || (eh === qsH && (a[b + E_LO] as number) >= qsL)) && accept(b)) return b;
      b = a[b + RIGHT] as number;
    }
    return NIL;
  }

  hasOverlap(qsHi: number, qsLo: number, qeHi: number, qeLo: number): boolean {
    return this.anyOverlap(qsHi ^ BIAS, qsLo ^ BIAS, qeHi ^ BIAS, qeLo ^ BIAS) !== NIL;
  }

  findOverlap(
    qsHi: number,
    qsLo: number,
    qeHi: number,
    qeLo: number,
    pred?: NodePredicate<T>,
  ): T | null {
    const qsH = qsHi ^ BIAS;
    const qsL = qsLo ^ BIAS;
    const qeH = qeHi ^ BIAS;
    const qeL = qeLo ^ BIAS;
    const b = this.anyOverlap(qsH, qsL, qeH, qeL);
    if (b === NIL) return null;
    const hit = this.payload[b >> SHIFT] as T;
    if (pred === undefined || pred(hit)) return hit;
    // The overlap found is one pred rejects: look at every overlap, in order.
    const payload = this.payload;
    const j = this.search(this.root, qsH, qsL, qeH, qeL, (x) => pred(payload[x >> SHIFT] as T));
    return j === NIL ? null : (payload[j >> SHIFT] as T);
  }

  findForeignOverlap(
    qsHi: number,
    qsLo: number,
    qeHi: number,
    qeLo: number,
    tag: number,
    sameOwner: NodePredicate<T>,
  ): T | null {
    const qsH = qsHi ^ BIAS;
    const qsL = qsLo ^ BIAS;
    const qeH = qeHi ^ BIAS;
    const qeL = qeLo ^ BIAS;
    const b = this.anyOverlap(qsH, qsL, qeH, qeL);
    if (b === NIL) return null;
    const a = this.a;
    const payload = this.payload;
    const t = tag | 0;
    if ((a[b + TAG] as number) !== t || !sameOwner(payload[b >> SHIFT] as T)) {
      return payload[b >> SHIFT] as T;
    }
    // The first overlap is the owner's own: look at every overlap.
    const j = this.search(
      this.root,
      qsH,
      qsL,
      qeH,
      qeL,
      (x) => (a[x + TAG] as number) !== t || !sameOwner(payload[x >> SHIFT] as T),
    );
    return j === NIL ? null : (payload[j >> SHIFT] as T);
  }

  private collect(b: number, qsH: number, qsL: number, qeH: number, qeL: number, out: T[]): void {
    const a = this.a;
    while (b !== NIL) {
      const mh = a[b + M_HI] as number;
      if (mh < qsH || (mh === qsH && (a[b + M_LO] as number) < qsL)) return;
      this.collect(a[b + LEFT] as number, qsH, qsL, qeH, qeL, out);
      const sh = a[b + S_HI] as number;
      if (sh > qeH || (sh === qeH && (a[b + S_LO] as number) > qeL)) return;
      const eh = a[b + E_HI] as number;
      if (eh > qsH || (eh === qsH && (a[b + E_LO] as number) >= qsL)) {
        out.push(this.payload[b >> SHIFT] as T);
      }
      b = a[b + RIGHT] as number;
    }
  }

  collectOverlaps(qsHi: number, qsLo: number, qeHi: number, qeLo: number, out: T[]): T[] {
    this.collect(this.root, qsHi ^ BIAS, qsLo ^ BIAS, qeHi ^ BIAS, qeLo ^ BIAS, out);
    return out;
  }

  private findStart(b: number, sH: number, sL: number, pred: NodePredicate<T>): number {
    const a = this.a;
    while (b !== NIL) {
      const h = a[b + S_HI] as number;
      const l = a[b + S_LO] as number;
      if (h > sH || (h === sH && l > sL)) {
        b = a[b + LEFT] as number;
      } else if (h < sH || l < sL) {
        b = a[b + RIGHT] as number;
      } else {
        // Equal first byte: earlier seqs on the left, later on the right.
        const found = this.findStart(a[b + LEFT] as number, sH, sL, pred);
        if (found !== NIL) return found;
        if (pred(this.payload[b >> SHIFT] as T)) return b;
        b = a[b + RIGHT] as number;
      }
    }
    return NIL;
  }

  findAtStart(sHi: number, sLo: number, pred: NodePredicate<T>): T | null {
    const b = this.findStart(this.root, sHi ^ BIAS, sLo ^ BIAS, pred);
    return b === NIL ? null : (this.payload[b >> SHIFT] as T);
  }

  min(): T | null {
    let b = this.root;
    if (b === NIL) return null;
    while ((this.a[b + LEFT] as number) !== NIL) b = this.a[b + LEFT] as number;
    return this.payload[b >> SHIFT] as T;
  }

  private inOrder(b: number, out: T[]): void {
    while (b !== NIL) {
      this.inOrder(this.a[b + LEFT] as number, out);
      out.push(this.payload[b >> SHIFT] as T);
      b = this.a[b + RIGHT] as number;
    }
  }

  toArray(): T[] {
    const out: T[] = [];
    this.inOrder(this.root, out);
    return out;
  }

  clear(): void {
    for (const n of this.toArray()) {
      n.indexed = false;
      n.slot = -1;
    }
    this.payload = [];
    this.freeHead = NIL;
    this.highWater = 0;
    this.root = NIL;
    this.count = 0;
  }

  /**
   * Check every AVL and augmentation invariant and the payload links; throws BugCheckError
   * naming the first broken one. For tests: O(n).
   */
  verify(): void {
    const a = this.a;
    let seen = 0;
    const walk = (b: number, lo: number, hi: number): void => {
      if (b === NIL) return;
      seen += 1;
      const id = b >> SHIFT;
      const node = this.payload[id];
      if (node === undefined || node.slot !== id || !node.indexed) {
        throw new BugCheckError('interval index: payload link broken');
      }
      if (
        (node.sHi ^ BIAS) !== a[b + S_HI] ||
        (node.sLo ^ BIAS) !== a[b + S_LO] ||
        (node.eHi ^ BIAS) !== a[b + E_HI] ||
        (node.eLo ^ BIAS) !== a[b + E_LO] ||
        (node.tag | 0) !== a[b + TAG] ||
        node.seq !== this.seq[id]
      ) {
        throw new BugCheckError('interval index: stored key differs from the node');
      }
      if (lo !== NIL && !this.before(lo, b))
        throw new BugCheckError('interval index: order broken');
      if (hi !== NIL && !this.before(b, hi))
        throw new BugCheckError('interval index: order broken');
      const l = a[b + LEFT] as number;
      const r = a[b + RIGHT] as number;
      walk(l, lo, b);
      walk(r, b, hi);
      if (Math.abs(this.h(l) - this.h(r)) > 1)
        throw new BugCheckError('interval index: unbalanced');
      const saved = [a[b + HT], a[b + M_HI], a[b + M_LO], a[b + LM_HI], a[b + LM_LO]];
      this.update(b);
      const now = [a[b + HT], a[b + M_HI], a[b + M_LO], a[b + LM_HI], a[b + LM_LO]];
      const leftMaxMatters = [true, true, true, l !== NIL, l !== NIL];
      for (let i = 0; i < saved.length; i++) {
        if (leftMaxMatters[i] && saved[i] !== now[i]) {
          throw new BugCheckError('interval index: stale height or max');
        }
      }
    };
    walk(this.root, NIL, NIL);
    if (seen !== this.count) throw new BugCheckError('interval index: size mismatch');
  }
}
