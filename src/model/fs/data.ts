/**
 * The bytes of a data stream, stored sparsely so that a file can be set to a very large end of
 * file (as NTFS allows) without the model allocating it. Unwritten ranges read as zeros, as
 * NTFS returns zeros between valid data length and end of file ([MS-FSA] 2.1.5.3: bytes past
 * ValidDataLength read as zero).
 */

const CHUNK = 4096;
const CHUNK_BIG = BigInt(CHUNK);

export class StreamData {
  #size = 0n;
  readonly #chunks = new Map<bigint, Uint8Array>();

  get size(): bigint {
    return this.#size;
  }

  /** Read up to `length` bytes at `offset`, stopping at end of file. */
  read(offset: bigint, length: number): Uint8Array {
    if (offset >= this.#size || length <= 0) return new Uint8Array(0);
    const available = this.#size - offset;
    const count = Number(available < BigInt(length) ? available : BigInt(length));
    const out = new Uint8Array(count);
    let done = 0;
    while (done < count) {
      const pos = offset + BigInt(done);
      const index = pos / CHUNK_BIG;
      const within = Number(pos % CHUNK_BIG);
      const take = Math.min(CHUNK - within, count - done);
      const chunk = this.#chunks.get(index);
      if (chunk) out.set(chunk.subarray(within, within + take), done);
      done += take;
    }
    return out;
  }

  /** Write bytes at `offset`, extending the end of file when the write goes past it. */
  write(offset: bigint, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const pos = offset + BigInt(done);
      const index = pos / CHUNK_BIG;
      const within = Number(pos % CHUNK_BIG);
      const take = Math.min(CHUNK - within, data.length - done);
      let chunk = this.#chunks.get(index);
      if (!chunk) {
        chunk = new Uint8Array(CHUNK);
        this.#chunks.set(index, chunk);
      }
      chunk.set(data.subarray(done, done + take), within);
      done += take;
    }
    const end = offset + BigInt(data.length);
    if (end > this.#size) this.#size = end;
  }

  /** Set the end of file; bytes past a shrunk end are discarded (they read as zero if regrown). */
  setSize(size: bigint): void {
    if (size < this.#size) {
      for (const index of [...this.#chunks.keys()]) {
        const start = index * CHUNK_BIG;
        if (start >= size) {
          this.#chunks.delete(index);
        } else if (start + CHUNK_BIG > size) {
          this.#chunks.get(index)?.fill(0, Number(size - start));
        }
      }
    }
    this.#size = size;
  }
}
