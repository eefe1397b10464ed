/**
 * A small harness over the model backend for the file-system, filter and backend tests: a
 * bridge with a recording subscriber, and helpers that read synchronous completions.
 *
 * CONFIGS names the three ways a stream can sit under the filter. The file-system answers must
 * be the same in all three (research §7.1: "Same answers to the user either way; different
 * visibility"):
 *   managed     the filter owns oplocks and byte-range locks (the default);
 *   observe     the file system twin owns them, the filter reports;
 *   unfiltered  outside every namespace: the filter passes everything through, no records.
 */

import { expect } from 'vitest';
import {
  createModelBridge,
  type ModelBridge,
  type ModelBridgeOptions,
} from '../../../src/backends/model.js';
import type { BridgeEvent, EventType } from '../../../src/bridge/events.js';
import { NtStatus } from '../../../src/bridge/ntstatus.js';
import type {
  Handle,
  IoRequest,
  IoResult,
  OpenOptions,
  OpenResult,
} from '../../../src/bridge/types.js';

export const S = NtStatus;

/** The event variant(s) of a type name (LockEvent carries four type names). */
export type Of<T extends EventType> = BridgeEvent & { readonly type: T };

export interface Config {
  readonly name: 'managed' | 'observe' | 'unfiltered';
  readonly options: ModelBridgeOptions;
}

export const MANAGED: Config = { name: 'managed', options: {} };
export const OBSERVE: Config = { name: 'observe', options: { managed: [], observe: ['C:\\'] } };
export const UNFILTERED: Config = { name: 'unfiltered', options: { managed: [], observe: [] } };
export const CONFIGS: readonly Config[] = [MANAGED, OBSERVE, UNFILTERED];

export class Model {
  readonly bridge: ModelBridge;
  readonly events: BridgeEvent[] = [];

  constructor(options: ModelBridgeOptions = {}) {
    this.bridge = createModelBridge(options);
    this.bridge.subscribe((e) => this.events.push(e));
  }

  /** The result of a request Windows completes synchronously. */
  now<R extends IoResult>(request: IoRequest<R>): R {
    const done = request.completed;
    if (done === undefined)
      throw new Error(`request ${request.id} (${request.operation}) is pending`);
    return done;
  }

  /** Open and return the result (synchronous completion expected). */
  open(path: string, options: OpenOptions = {}): OpenResult {
    return this.now(this.bridge.open(path, options));
  }

  /** Open and return the handle; fails the test when the open fails. */
  handle(path: string, options: OpenOptions = {}): Handle {
    const r = this.open(path, options);
    expect(r.status, `open ${path}`).toBe(S.STATUS_SUCCESS);
    return r.handle as Handle;
  }

  close(handle: Handle): IoResult {
    return this.now(this.bridge.close(handle));
  }

  /** Bytes of a file as a fresh reader sees them (opens, reads, closes). */
  contents(path: string): Uint8Array | number {
    const r = this.open(path, { access: 'read', share: 'read,write,delete' });
    if (r.handle === undefined) return r.status;
    const data = this.now(this.bridge.read(r.handle, { offset: 0n, length: 1 << 20 }));
    this.close(r.handle);
    return data.status === S.STATUS_END_OF_FILE ? new Uint8Array(0) : data.data;
  }

  types(): EventType[] {
    return this.events.map((e) => e.type);
  }

  of<T extends EventType>(type: T): Of<T>[] {
    return this.events.filter((e): e is Of<T> => e.type === type);
  }

  clear(): void {
    this.events.length = 0;
  }
}

export function text(bytes: Uint8Array | number): string {
  return typeof bytes === 'number'
    ? `status 0x${bytes.toString(16)}`
    : new TextDecoder().decode(bytes);
}
