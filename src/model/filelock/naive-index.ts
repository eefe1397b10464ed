/**
 * The linear oracle for the interval index: a plain array in insertion order, scanned end to
 * end. It implements the same RangeIndex contract with the same overlap rule, in the most
 * obvious way, so tests can compare the AVL tree against it operation by operation and the
 * benchmark can show what the tree buys. Not used by the model itself.
 */

import { BugCheckError } from '../../bridge/errors.js';
import type { IntervalNode, NodePredicate, RangeIndex } from './interval-index.js';

function overlaps(
  n: IntervalNode,
  qsHi: number,
  qsLo: number,
  qeHi: number,
  qeLo: number,
): boolean {
  const startsByQe = n.sHi < qeHi || (n.sHi === qeHi && n.sLo <= qeLo);
  const endsFromQs = n.eHi > qsHi || (n.eHi === qsHi && n.eLo >= qsLo);
  return startsByQe && endsFromQs;
}

function order(a: IntervalNode, b: IntervalNode): number {
  return a.sHi - b.sHi || a.sLo - b.sLo || a.seq - b.seq;
}

export class NaiveIndex<T extends IntervalNode> implements RangeIndex<T> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  insert(node: T): void {
    if (node.indexed) throw new BugCheckError('naive index: node inserted twice');
    node.indexed = true;
    this.items.push(node);
  }

  remove(node: T): void {
    const at = this.items.indexOf(node);
    if (at < 0 || !node.indexed)
      throw new BugCheckError('naive index: removing a node it does not hold');
    this.items.splice(at, 1);
    node.indexed = false;
  }

  hasOverlap(qsHi: number, qsLo: number, qeHi: number, qeLo: number): boolean {
    return this.findOverlap(qsHi, qsLo, qeHi, qeLo) !== null;
  }

  findForeignOverlap(
    qsHi: number,
    qsLo: number,
    qeHi: number,
    qeLo: number,
    _tag: number,
    sameOwner: NodePredicate<T>,
  ): T | null {
    return this.findOverlap(qsHi, qsLo, qeHi, qeLo, (n) => !sameOwner(n));
  }

  findOverlap(
    qsHi: number,
    qsLo: number,
    qeHi: number,
    qeLo: number,
    pred?: NodePredicate<T>,
  ): T | null {
    for (const n of this.items) {
      if (overlaps(n, qsHi, qsLo, qeHi, qeLo) && (pred === undefined || pred(n))) return n;
    }
    return null;
  }

  collectOverlaps(qsHi: number, qsLo: number, qeHi: number, qeLo: number, out: T[]): T[] {
    const found = this.items.filter((n) => overlaps(n, qsHi, qsLo, qeHi, qeLo)).sort(order);
    for (const n of found) out.push(n);
    return out;
  }

  findAtStart(sHi: number, sLo: number, pred: NodePredicate<T>): T | null {
    for (const n of this.items) {
      if (n.sHi === sHi && n.sLo === sLo && pred(n)) return n;
    }
    return null;
  }

  min(): T | null {
    let best: T | null = null;
    for (const n of this.items) if (best === null || order(n, best) < 0) best = n;
    return best;
  }

  toArray(): T[] {
    return [...this.items].sort(order);
  }

  clear(): void {
    for (const n of this.items) n.indexed = false;
    this.items = [];
  }
}
