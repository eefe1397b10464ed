/**
 * One native I/O session (an IOCP, its thread, its blocking runner) seen from JS: requests get
 * ids, completions settle their promises. The session keeps the event loop alive exactly while
 * requests are in flight, so a script waiting for a result does not exit and an idle CLI does.
 */
import { DisposedError } from '../../bridge/errors.js';
import type { IoRecord, NativeAddon, NativeRecord, SessionStats } from './addon.js';
import { fromNative } from './errors.js';

type Settle = (record: IoRecord) => void;

export class IoSession {
  readonly id: number;
  readonly #addon: NativeAddon;
  readonly #pending = new Map<number, Settle>();
  #nextRequest = 1;
  #closed: Promise<{ leaked: number }> | undefined;
  #refed = false;
  /** Records nobody waited for (notices); kept for diagnostics. */
  readonly notices: string[] = [];

  constructor(addon: NativeAddon) {
    this.#addon = addon;
    this.id = addon.sessionOpen((records) => this.#onRecords(records));
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /**
   * Issue one native call under a new request id. `issue` throws (synchronously) for misuse;
   * the error is translated to the library's typed errors.
   */
  submit(
    issue: (request: number) => void,
    context: { handle?: number } = {},
  ): {
    request: number;
    done: Promise<IoRecord>;
  } {
    if (this.#closed) throw new DisposedError('the windows bridge');
    const request = this.#nextRequest++;
    let settle!: Settle;
    const done = new Promise<IoRecord>((resolve) => {
      settle = resolve;
    });
    this.#pending.set(request, settle);
    this.#updateRef();
    try {
      issue(request);
    } catch (error) {
      this.#pending.delete(request);
      this.#updateRef();
      throw fromNative(error, context);
    }
    return { request, done };
  }

  /** CancelIoEx / CancelSynchronousIo on one request; false when nothing was cancelled. */
  cancel(request: number): boolean {
    if (this.#closed || !this.#pending.has(request)) return false;
    try {
      return this.#addon.sessionCancel(this.id, request);
    } catch (error) {
      throw fromNative(error);
    }
  }

  stats(): SessionStats {
    return this.#addon.sessionStats(this.id);
  }

  /** Cancel what is in flight, close every handle, stop the thread. Idempotent. */
  close(): Promise<{ leaked: number }> {
    this.#closed ??= this.#addon.sessionClose(this.id);
    return this.#closed;
  }

  #onRecords(records: NativeRecord[]): void {
    for (const record of records) {
      if (record.kind === 'notice') {
        this.notices.push(record.message);
        continue;
      }
      if (record.kind !== 'io') continue;
      const settle = this.#pending.get(record.request);
      if (!settle) continue;
      this.#pending.delete(record.request);
      settle(record);
    }
    this.#updateRef();
  }

  #updateRef(): void {
    const want = this.#pending.size > 0;
    if (want === this.#refed || this.#closed) return;
    this.#refed = want;
    this.#addon.sessionRef(this.id, want);
  }
}
