/**
 * The interval index under the FILE_LOCK twin, and the contract every index implements.
 *
 * `IntervalBTree` (the one the package uses) is an interval B+-tree: leaves hold the ranges
 * sorted by (first byte, insertion sequence); an internal node keeps, per child, the child's
 * smallest key and the largest last byte under it. "Is there a range overlapping [qs, qe]"
 * follows one root-to-leaf path: descend into the first child whose largest last byte reaches
 * qs (if that child holds no overlap, its range ending at or after qs starts after qe, and so
 * does everything after it: the CLRS INTERVAL-SEARCH argument, per child). A query is O(log n)
 * node visits plus O(k) for overlaps a predicate rejects; insert and delete are O(log n) node
 * visits with split / borrow / merge. Windows keeps its locks in splay trees ordered by starting
 * byte (ntoskrnl FsRtlPrivateInsertExclusiveLock / FsRtlFindFirstOverlappingExclusiveNode);
 * the order is the same, the bounds are worst-case instead of amortised, and a lookup does not
 * restructure the tree (checks run from read and write paths).
 *
 * Endpoints are unsigned 64-bit values kept as two 32-bit halves (see u64.ts), stored biased
 * (x ^ 0x80000000) in Int32Arrays so that signed int32 order is unsigned order and a search
 * reads a few adjacent cache lines per level, not one object per level. A range's last byte may
 * be its first byte minus one (a zero-length range): closed-interval overlap then gives exactly
 * [MS-FSA] 2.1.4.10's rule, with no special case. {0, 0} ranges never go into an index.
 *
 * Measured (bench/filelock.bench.ts): the B+-tree answers a check at 100,000 locks two to four
 * times faster than the AVL tree in interval-avl.ts (same contract, kept for comparison), mostly
 * because a search touches 6 nodes of a few adjacent cache lines instead of 17 scattered ones.
 *
 * `NaiveIndex` (naive-index.ts) is the linear oracle the tests compare both with.
 */

import { BugCheckError } from '../../bridge/errors.js';

export class IntervalNode {
  /** First byte, high and low 32 bits. */
  sHi = 0;
  sLo = 0;
  /** Last byte (first - 1 for a zero-length range), high and low 32 bits. */
  eHi = 0;
  eLo = 0;
  /** Unique insertion number: ties on the first byte keep insertion order. */
  seq = 0;
  /**
   * A 32-bit summary of the node's owner kept inside the index, so that "an overlapping node of
   * another owner" is usually decided without touching the node object (equal tags still ask
   * the caller, different tags mean different owners).
   */
  tag = 0;
  /** Set while the node belongs to an index (guards double insert / delete). */
  indexed = false;
  /** The node's slot (entry id) inside the index that holds it (-1 when none). */
  slot = -1;
}

export type NodePredicate<T extends IntervalNode> = (node: T) => boolean;

export interface RangeIndex<T extends IntervalNode> {
  readonly size: number;
  insert(node: T): void;
  remove(node: T): void;
  /** Does any node overlap the closed interval [qs, qe]? */
  hasOverlap(qsHi: number, qsLo: number, qeHi: number, qeLo: number): boolean;
  /**
   * Some node overlapping [qs, qe] for which `pred` (default: any) is true, or null. Which one,
   * when several qualify, is not specified.
   */
  findOverlap(
    qsHi: number,
    qsLo: number,
    qeHi: number,
    qeLo: number,
    pred?: NodePredicate<T>,
  ): T | null;
  /**
   * Some node overlapping [qs, qe] that belongs to another owner: its tag differs from `tag`,
   * or it is equal and `sameOwner(node)` is false. Null when every overlap is the owner's.
   */
  findForeignOverlap(
    qsHi: number,
    qsLo: number,
    qeHi: number,
    qeLo: number,
    tag: number,
    sameOwner: NodePredicate<T>,
  ): T | null;
  /** Every node overlapping [qs, qe], in (first byte, seq) order. */
  collectOverlaps(qsHi: number, qsLo: number, qeHi: number, qeLo: number, out: T[]): T[];
  /** The first node (in seq order) whose first byte is exactly s and for which pred is true. */
  findAtStart(sHi: number, sLo: number, pred: NodePredicate<T>): T | null;
  /** The node with the smallest first byte, or null. */
  min(): T | null;
  /** Every node in (first byte, seq) order. */
  toArray(): T[];
  clear(): void;
}

// ---------------------------------------------------------------------------------------------
// IntervalBTree
// ---------------------------------------------------------------------------------------------

const NIL = -1;
const BIAS = 0x80000000;

/** Entries (leaf) or children (internal) per node. */
const FANOUT = 16;
/** Fewest entries a non-root node keeps after a delete (then it borrows or merges). */
const MIN_FILL = 4;

// Node layout in the Int32Array: a header, then one FANOUT-wide column per field, so a scan
// over one field reads consecutive ints. Endpoints are biased (x ^ 0x80000000): signed order
// is unsigned order.
const COUNT = 0;
const LEAF = 1;
const KHI = 4; // leaf: first byte of the entry; internal: smallest first byte under the child
const KLO = KHI + FANOUT;
const EHI = KLO + FANOUT; // leaf: last byte of the entry; internal: largest last byte under the child
const ELO = EHI + FANOUT;
const REF = ELO + FANOUT; // leaf: entry id; internal: child node base
const TAG = REF + FANOUT; // leaf only: the entry's owner tag
const NODE = TAG + FANOUT;
const COLUMNS = [KHI, KLO, EHI, ELO, REF, TAG] as const;

interface Split {
  /** Base of the new right sibling, or NIL. */
  right: number;
}

/** Interval B+-tree: the index the FILE_LOCK twin uses (see the module comment). */
export class IntervalBTree<T extends IntervalNode> implements RangeIndex<T> {
  private a = new Int32Array(NODE * 16);
  /** seq of each slot, per node: seq[(base / NODE) * FANOUT + j]. */
  private sq = new Float64Array(FANOUT * 16);
  private nodeCap = 16;
  private nodeHigh = 0;
  private freeNodes: number[] = [];
  private payload: (T | undefined)[] = [];
  private freeIds: number[] = [];
  private root = NIL;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Levels from root to leaf (0 when empty), for tests. */
  get height(): number {
    let h = 0;
    let b = this.root;
    while (b !== NIL) {
      h += 1;
      b = this.a[b + LEAF] === 1 ? NIL : (this.a[b + REF] as number);
    }
    return h;
  }

  // --- storage ----------------------------------------------------------------------------

  private newNode(leaf: boolean): number {
    let b: number;
    const free = this.freeNodes.pop();
    if (free !== undefined) {
      b = free;
    } else {
      if (this.nodeHigh === this.nodeCap) {
        const cap = this.nodeCap * 2;
        const a = new Int32Array(cap * NODE);
        a.set(this.a);
        const sq = new Float64Array(cap * FANOUT);
        sq.set(this.sq);
        this.a = a;
        this.sq = sq;
        this.nodeCap = cap;
      }
      b = this.nodeHigh * NODE;
      this.nodeHigh += 1;
    }
    this.a[b + COUNT] = 0;
    this.a[b + LEAF] = leaf ? 1 : 0;
    return b;
  }

  private freeNode(b: number): void {
    this.a[b + COUNT] = 0;
    this.freeNodes.push(b);
  }

  private sqAt(b: number, j: number): number {
    return ((b / NODE) | 0) * FANOUT + j;
  }

  /** Copy slot j of node s to slot i of node d (all columns). */
  private copySlot(s: number, j: number, d: number, i: number): void {
    const a = this.a;
    a[d + KHI + i] = a[s + KHI + j] as number;
    a[d + KLO + i] = a[s + KLO + j] as number;
    a[d + EHI + i] = a[s + EHI + j] as number;
    a[d + ELO + i] = a[s + ELO + j] as number;
    a[d + REF + i] = a[s + REF + j] as number;
    a[d + TAG + i] = a[s + TAG + j] as number;
    this.sq[this.sqAt(d, i)] = this.sq[this.sqAt(s, j)] as number;
  }

  /** Shift slots [from, count) of node b by `by` (±1), column by column. */
  private shift(b: number, from: number, by: number): void {
    const n = this.a[b + COUNT] as number;
    if (from >= n) return;
    const a = this.a;
    for (const col of COLUMNS) {
      const base = b + col;
      a.copyWithin(base + from + by, base + from, base + n);
    }
    const q = this.sqAt(b, 0);
    this.sq.copyWithin(q + from + by, q + from, q + n);
  }

  /** Slot i of internal node p := summary of child c (smallest key, largest last byte). */
  private summarize(p: number, i: number, c: number): void {
    const a = this.a;
    const n = a[c + COUNT] as number;
    a[p + KHI + i] = a[c + KHI] as number;
    a[p + KLO + i] = a[c + KLO] as number;
    this.sq[this.sqAt(p, i)] = this.sq[this.sqAt(c, 0)] as number;
    let mh = a[c + EHI] as number;
    let ml = a[c + ELO] as number;
    for (let j = 1; j < n; j++) {
      const h = a[c + EHI + j] as number;
      const l = a[c + ELO + j] as number;
      if (h > mh || (h === mh && l > ml)) {
        mh = h;
        ml = l;
      }
    }
    a[p + EHI + i] = mh;
    a[p + ELO + i] = ml;
    a[p + REF + i] = c;
  }

  /** (kh, kl, seq) before slot j of node b? */
  private keyBefore(kh: number, kl: number, seq: number, b: number, j: number): boolean {
    const a = this.a;
    const h = a[b + KHI + j] as number;
    if (kh !== h) return kh < h;
    const l = a[b + KLO + j] as number;
    if (kl !== l) return kl < l;
    return seq < (this.sq[this.sqAt(b, j)] as number);
  }

  /** Index of the child of internal node b whose key range holds the key. */
  private route(b: number, kh: number, kl: number, seq: number): number {
    const n = this.a[b + COUNT] as number;
    let i = 0;
    while (i + 1 < n && !this.keyBefore(kh, kl, seq, b, i + 1)) i += 1;
    return i;
  }

  // --- insert -----------------------------------------------------------------------------

  insert(node: T): void {
    if (node.indexed) throw new BugCheckError('interval index: node inserted twice');
    const id = this.freeIds.pop() ?? this.payload.length;
    this.payload[id] = node;
    node.slot = id;
    node.indexed = true;
    const kh = node.sHi ^ BIAS;
    const kl = node.sLo ^ BIAS;
    if (this.root === NIL) this.root = this.newNode(true);
    const split = this.insertAt(
      this.root,
      kh,
      kl,
      node.seq,
      node.eHi ^ BIAS,
      node.eLo ^ BIAS,
      id,
      node.tag | 0,
    );
    if (split.right !== NIL) {
      const r = this.newNode(false);
      this.summarize(r, 0, this.root);
      this.summarize(r, 1, split.right);
      this.a[r + COUNT] = 2;
      this.root = r;
    }
    this.count += 1;
  }

  private insertAt(
    b: number,
    kh: number,
    kl: number,
    seq: number,
    eh: number,
    el: number,
    id: number,
    tag: number,
  ): Split {
    const a = this.a;
    if (a[b + LEAF] === 1) {
      const n = a[b + COUNT] as number;
      let at = n;
      while (at > 0 && this.keyBefore(kh, kl, seq, b, at - 1)) at -= 1;
      this.shift(b, at, 1);
      a[b + KHI + at] = kh;
      a[b + KLO + at] = kl;
      a[b + EHI + at] = eh;
      a[b + ELO + at] = el;
      a[b + REF + at] = id;
      a[b + TAG + at] = tag;
      this.sq[this.sqAt(b, at)] = seq;
      a[b + COUNT] = n + 1;
      return { right: n + 1 > FANOUT - 1 ? this.splitNode(b) : NIL };
    }
    const i = this.route(b, kh, kl, seq);
    const c = a[b + REF + i] as number;
    const split = this.insertAt(c, kh, kl, seq, eh, el, id, tag);
    // The recursion may have grown (replaced) the node array: no cached `a` from here on.
    // The child's smallest key and largest last byte may have changed.
    this.summarize(b, i, c);
    if (split.right !== NIL) {
      this.shift(b, i + 1, 1);
      this.summarize(b, i + 1, split.right);
      const n = (this.a[b + COUNT] as number) + 1;
      this.a[b + COUNT] = n;
      if (n > FANOUT - 1) return { right: this.splitNode(b) };
    }
    return { right: NIL };
  }

  /** Move the upper half of full node b into a new right sibling; returns it. */
  private splitNode(b: number): number {
    // Allocate first: newNode may replace this.a.
    const r = this.newNode(this.a[b + LEAF] === 1);
    const a = this.a;
    const n = a[b + COUNT] as number;
    const keep = n >> 1;
    for (let j = keep; j < n; j++) this.copySlot(b, j, r, j - keep);
    a[r + COUNT] = n - keep;
    a[b + COUNT] = keep;
    return r;
  }

  // --- delete -----------------------------------------------------------------------------

  remove(node: T): void {
    const id = node.slot;
    if (!node.indexed || id < 0 || this.payload[id] !== node || this.root === NIL) {
      throw new BugCheckError('interval index: removing a node it does not hold');
    }
    this.removeAt(this.root, node.sHi ^ BIAS, node.sLo ^ BIAS, node.seq, id);
    const a = this.a;
    if (a[this.root + LEAF] === 0 && a[this.root + COUNT] === 1) {
      const only = a[this.root + REF] as number;
      this.freeNode(this.root);
      this.root = only;
    } else if (a[this.root + LEAF] === 1 && a[this.root + COUNT] === 0) {
      this.freeNode(this.root);
      this.root = NIL;
    }
    this.payload[id] = undefined;
    this.freeIds.push(id);
    node.slot = -1;
    node.indexed = false;
    this.count -= 1;
  }

  private removeAt(b: number, kh: number, kl: number, seq: number, id: number): void {
    const a = this.a;
    if (a[b + LEAF] === 1) {
      const n = a[b + COUNT] as number;
      let at = -1;
      for (let j = 0; j < n; j++) {
        if (a[b + REF + j] === id) {
          at = j;
          break;
        }
      }
      if (at < 0) throw new BugCheckError('interval index: node not found on delete');
      this.shift(b, at + 1, -1);
      a[b + COUNT] = n - 1;
      return;
    }
    const i = this.route(b, kh, kl, seq);
    const c = a[b + REF + i] as number;
    this.removeAt(c, kh, kl, seq, id);
    if ((a[c + COUNT] as number) >= MIN_FILL || (a[b + COUNT] as number) === 1) {
      if ((a[c + COUNT] as number) > 0) this.summarize(b, i, c);
      return;
    }
    this.refill(b, i);
  }

  /** Child i of b is under-full: borrow from a sibling or merge with it. */
  private refill(b: number, i: number): void {
    const a = this.a;
    const n = a[b + COUNT] as number;
    const j = i + 1 < n ? i + 1 : i - 1; // sibling
    const left = Math.min(i, j);
    const l = a[b + REF + left] as number;
    const r = a[b + REF + left + 1] as number;
    const ln = a[l + COUNT] as number;
    const rn = a[r + COUNT] as number;
    if (ln + rn <= FANOUT - 1) {
      // Merge r into l and drop r's slot.
      for (let k = 0; k < rn; k++) this.copySlot(r, k, l, ln + k);
      a[l + COUNT] = ln + rn;
      this.freeNode(r);
      this.shift(b, left + 2, -1);
      a[b + COUNT] = n - 1;
      this.summarize(b, left, l);
      return;
    }
    if (ln < rn) {
      // Borrow r's first slot into l's end.
      this.copySlot(r, 0, l, ln);
      a[l + COUNT] = ln + 1;
      this.shift(r, 1, -1);
      a[r + COUNT] = rn - 1;
    } else {
      // Borrow l's last slot into r's front.
      this.shift(r, 0, 1);
      this.copySlot(l, ln - 1, r, 0);
      a[r + COUNT] = rn + 1;
      a[l + COUNT] = ln - 1;
    }
    this.summarize(b, left, l);
    this.summarize(b, left + 1, r);
  }

  // --- queries ----------------------------------------------------------------------------

  /** The leaf base and slot of an entry overlapping the biased query, or NIL (single path). */
  private anyOverlap(qsH: number, qsL: number, qeH: number, qeL: number): number {
    const a = this.a;
    let b = this.root;
    while (b !== NIL) {
      const n = a[b + COUNT] as number;
      if (a[b + LEAF] === 1) {
        for (let j = 0; j < n; j++) {
          const sh = a[b + KHI + j] as number;
          if (sh > qeH || (sh === qeH && (a[b + KLO + j] as number) > qeL)) return NIL;
          const eh = a[b + EHI + j] as number;
          if (eh > qsH || (eh === qsH && (a[b + ELO + j] as number) >= qsL)) return b + REF + j;
        }
        return NIL;
      }
      let next = NIL;
      for (let j = 0; j < n; j++) {
        const eh = a[b + EHI + j] as number;
        if (eh > qsH || (eh === qsH && (a[b + ELO + j] as number) >= qsL)) {
          const sh = a[b + KHI + j] as number;
          if (sh > qeH || (sh === qeH && (a[b + KLO + j] as number) > qeL)) return NIL;
          next = a[b + REF + j] as number;
          break;
        }
      }
      b = next;
    }
    return NIL;
  }

  /** Full search: the first slot (address of its REF) overlapping the query that accept takes. */
  private search(
    b: number,
    qsH: number,
    qsL: number,
    qeH: number,
    qeL: number,
    accept: (refAt: number) => boolean,
  ): number {
    const a = this.a;
    const n = a[b + COUNT] as number;
    const leaf = a[b + LEAF] === 1;
    for (let j = 0; j < n; j++) {
      const sh = a[b + KHI + j] as number;
      if (sh > qeH || (sh === qeH && (a[b + KLO + j] as number) > qeL)) return NIL;
      const eh = a[b + EHI + j] as number;
      if (eh < qsH || (eh === qsH && (a[b + ELO + j] as number) < qsL)) continue;
      if (leaf) {
        if (accept(b + REF + j)) return b + REF + j;
      } else {
        const found = this.search(a[b + REF + j] as number, qsH, qsL, qeH, qeL, accept);
        if (found !== NIL) return found;
      }
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
    const at = this.anyOverlap(qsH, qsL, qeH, qeL);
    if (at === NIL) return null;
    const a = this.a;
    const payload = this.payload;
    const hit = payload[a[at] as number] as T;
    if (pred === undefined || pred(hit)) return hit;
    const j = this.search(this.root, qsH, qsL, qeH, qeL, (x) => pred(payload[a[x] as number] as T));
    return j === NIL ? null : (payload[a[j] as number] as T);
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
    const at = this.anyOverlap(qsH, qsL, qeH, qeL);
    if (at === NIL) return null;
    const a = this.a;
    const payload = this.payload;
    const t = tag | 0;
    // TAG sits FANOUT slots after REF in the same node.
    if ((a[at + FANOUT] as number) !== t || !sameOwner(payload[a[at] as number] as T)) {
      return payload[a[at] as number] as T;
    }
    const j = this.search(
      this.root,
      qsH,
      qsL,
      qeH,
      qeL,
      (x) => (a[x + FANOUT] as number) !== t || !sameOwner(payload[a[x] as number] as T),
    );
    return j === NIL ? null : (payload[a[j] as number] as T);
  }

  collectOverlaps(qsHi: number, qsLo: number, qeHi: number, qeLo: number, out: T[]): T[] {
    if (this.root === NIL) return out;
    const a = this.a;
    const payload = this.payload;
    this.search(this.root, qsHi ^ BIAS, qsLo ^ BIAS, qeHi ^ BIAS, qeLo ^ BIAS, (x) => {
      out.push(payload[a[x] as number] as T);
      return false;
    });
    return out;
  }

  private findStart(b: number, sH: number, sL: number, pred: NodePredicate<T>): T | null {
    const a = this.a;
    const n = a[b + COUNT] as number;
    const leaf = a[b + LEAF] === 1;
    for (let j = 0; j < n; j++) {
      const h = a[b + KHI + j] as number;
      const l = a[b + KLO + j] as number;
      if (h > sH || (h === sH && l > sL)) return null;
      if (leaf) {
        if (h === sH && l === sL) {
          const node = this.payload[a[b + REF + j] as number] as T;
          if (pred(node)) return node;
        }
        continue;
      }
      // Child j holds keys from its smallest key up to the next child's smallest key.
      if (j + 1 < n) {
        const nh = a[b + KHI + j + 1] as number;
        const nl = a[b + KLO + j + 1] as number;
        if (nh < sH || (nh === sH && nl < sL)) continue;
      }
      const found = this.findStart(a[b + REF + j] as number, sH, sL, pred);
      if (found !== null) return found;
    }
    return null;
  }

  findAtStart(sHi: number, sLo: number, pred: NodePredicate<T>): T | null {
    if (this.root === NIL) return null;
    return this.findStart(this.root, sHi ^ BIAS, sLo ^ BIAS, pred);
  }

  min(): T | null {
    let b = this.root;
    if (b === NIL) return null;
    while (this.a[b + LEAF] === 0) b = this.a[b + REF] as number;
    return this.payload[this.a[b + REF] as number] as T;
  }

  private inOrder(b: number, out: T[]): void {
    const a = this.a;
    const n = a[b + COUNT] as number;
    for (let j = 0; j < n; j++) {
      if (a[b + LEAF] === 1) out.push(this.payload[a[b + REF + j] as number] as T);
      else this.inOrder(a[b + REF + j] as number, out);
    }
  }

  toArray(): T[] {
    const out: T[] = [];
    if (this.root !== NIL) this.inOrder(this.root, out);
    return out;
  }

  clear(): void {
    for (const n of this.toArray()) {
      n.indexed = false;
      n.slot = -1;
    }
    this.payload = [];
    this.freeIds = [];
    this.freeNodes = [];
    this.nodeHigh = 0;
    this.root = NIL;
    this.count = 0;
  }

  /**
   * Check every structural invariant: key order, summaries, fill, equal leaf depth, payload
   * links. Throws BugCheckError naming the first broken one. For tests: O(n).
   */
  verify(): void {
    const a = this.a;
    let seen = 0;
    let leafDepth = -1;
    let prev: { h: number; l: number; s: number } | null = null;
    const walk = (
      b: number,
      depth: number,
      isRoot: boolean,
    ): { kh: number; kl: number; ks: number; mh: number; ml: number } => {
      const n = a[b + COUNT] as number;
      if (n < 1 || n > FANOUT - 1)
        throw new BugCheckError('interval index: node count out of range');
      if (!isRoot && n < MIN_FILL && this.count >= MIN_FILL) {
        // Under-full nodes are allowed only while the whole tree is tiny.
        throw new BugCheckError('interval index: under-full node');
      }
      let mh = Number.NEGATIVE_INFINITY;
      let ml = Number.NEGATIVE_INFINITY;
      let first: { kh: number; kl: number; ks: number } | null = null;
      for (let j = 0; j < n; j++) {
        let eh: number;
        let el: number;
        const kh = a[b + KHI + j] as number;
        const kl = a[b + KLO + j] as number;
        const ks = this.sq[this.sqAt(b, j)] as number;
        if (a[b + LEAF] === 1) {
          if (leafDepth === -1) leafDepth = depth;
          if (leafDepth !== depth)
            throw new BugCheckError('interval index: leaves at different depths');
          seen += 1;
          const id = a[b + REF + j] as number;
          const node = this.payload[id];
          if (node === undefined || node.slot !== id || !node.indexed) {
            throw new BugCheckError('interval index: payload link broken');
          }
          if (
            (node.sHi ^ BIAS) !== kh ||
            (node.sLo ^ BIAS) !== kl ||
            (node.eHi ^ BIAS) !== a[b + EHI + j] ||
            (node.eLo ^ BIAS) !== a[b + ELO + j] ||
            (node.tag | 0) !== a[b + TAG + j] ||
            node.seq !== ks
          ) {
            throw new BugCheckError('interval index: stored key differs from the node');
          }
          if (
            prev !== null &&
            !(prev.h < kh || (prev.h === kh && (prev.l < kl || (prev.l === kl && prev.s < ks))))
          ) {
            throw new BugCheckError('interval index: order broken');
          }
          prev = { h: kh, l: kl, s: ks };
          eh = a[b + EHI + j] as number;
          el = a[b + ELO + j] as number;
        } else {
          const c = walk(a[b + REF + j] as number, depth + 1, false);
          if (c.kh !== kh || c.kl !== kl || c.ks !== ks)
            throw new BugCheckError('interval index: stale child key');
          if (c.mh !== a[b + EHI + j] || c.ml !== a[b + ELO + j]) {
            throw new BugCheckError('interval index: stale child max');
          }
          eh = c.mh;
          el = c.ml;
        }
        if (first === null) first = { kh, kl, ks };
        if (eh > mh || (eh === mh && el > ml)) {
          mh = eh;
          ml = el;
        }
      }
      const f = first as { kh: number; kl: number; ks: number };
      return { kh: f.kh, kl: f.kl, ks: f.ks, mh, ml };
    };
    if (this.root !== NIL) walk(this.root, 0, true);
    if (seen !== this.count) throw new BugCheckError('interval index: size mismatch');
  }
}
