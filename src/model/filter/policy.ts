/**
 * Twin of driver/src/policy.c: which namespace a stream belongs to.
 *
 * fltbridge_proto.h, CONFIGURE: namespaces are paths of directories or files; a path is inside a
 * namespace when it equals it or continues it after a backslash, compared case-insensitively;
 * when namespaces overlap the longest match wins; MANAGED and OBSERVE may not name the same
 * path. A stream under no namespace is neither owned nor reported (the filter passes it through
 * without records).
 *
 * The model's names are paths on its one volume (src/model/fs/path.ts): `C:\dir`, `\dir`,
 * `/dir` and `\Device\HarddiskVolumeN\dir` all name the same directory.
 */

import { keyWithin, parsePath } from '../fs/path.js';

export type NamespaceKind = 'managed' | 'observe';

export interface NamespaceSpec {
  readonly kind: NamespaceKind;
  readonly path: string;
}

interface Entry {
  readonly kind: NamespaceKind;
  readonly key: string;
  readonly path: string;
}

export type PolicyError =
  | { readonly reason: 'bad-path'; readonly path: string }
  | { readonly reason: 'conflict'; readonly path: string };

export class Policy {
  readonly #entries: readonly Entry[];

  private constructor(entries: readonly Entry[]) {
    // Longest key first: the first match is the longest.
    this.#entries = [...entries].sort((a, b) => b.key.length - a.key.length);
  }

  /** Build a policy, or say which entry is unacceptable. */
  static create(specs: readonly NamespaceSpec[]): Policy | PolicyError {
    const entries: Entry[] = [];
    const seen = new Map<string, NamespaceKind>();
    for (const spec of specs) {
      const parsed = parsePath(spec.path);
      if (!parsed.ok) return { reason: 'bad-path', path: spec.path };
      const key = parsed.path.key;
      const other = seen.get(key);
      if (other !== undefined && other !== spec.kind)
        return { reason: 'conflict', path: spec.path };
      if (other === spec.kind) continue;
      seen.set(key, spec.kind);
      entries.push({ kind: spec.kind, key, path: parsed.path.display });
    }
    return new Policy(entries);
  }

  static empty(): Policy {
    return new Policy([]);
  }

  /** The kind of the longest namespace containing the path key, if any. */
  classify(key: string): NamespaceKind | undefined {
    for (const entry of this.#entries) if (keyWithin(key, entry.key)) return entry.kind;
    return undefined;
  }

  get managedCount(): number {
    return this.#entries.filter((e) => e.kind === 'managed').length;
  }

  get observeCount(): number {
    return this.#entries.filter((e) => e.kind === 'observe').length;
  }

  get entries(): readonly NamespaceSpec[] {
    return this.#entries.map((e) => ({ kind: e.kind, path: e.path }));
  }
}

export function isPolicyError(value: Policy | PolicyError): value is PolicyError {
  return !(value instanceof Policy);
}
