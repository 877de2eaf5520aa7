// The last bytes of one direction's uncompressed stream, as much as a deflate window can refer
// back to: what permessage-deflate needs to free an idle zlib context and later rebuild it.

const EMPTY = new Uint8Array(0);

/**
 * @internal Keeps the last `capacity` bytes appended (a ring once full). It starts empty and
 * grows with the data, so a connection that sent little holds little.
 */
export class _WindowHistory {
  readonly #capacity: number;
  #buffer: Uint8Array = EMPTY;
  #length = 0;
  // Where the next byte goes once the ring is full (the oldest byte sits there too).
  #at = 0;

  /** @param capacity The window size, 2^windowBits. */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** How many bytes are kept. */
  get length(): number {
    return this.#length;
  }

  /** Appends bytes, keeping only the last `capacity` of everything appended. */
  append(bytes: Uint8Array): void {
    const capacity = this.#capacity;
    if (bytes.length >= capacity) {
      if (this.#buffer.length < capacity) this.#buffer = new Uint8Array(capacity);
      this.#buffer.set(bytes.subarray(bytes.length - capacity));
      this.#length = capacity;
      this.#at = 0;
      return;
    }
    const need = this.#length + bytes.length;
    if (need <= capacity) {
      if (need > this.#buffer.length) {
        let size = Math.max(256, this.#buffer.length * 2);
        while (size < need) size *= 2;
        const grown = new Uint8Array(Math.min(size, capacity));
        grown.set(this.#buffer.subarray(0, this.#length));
        this.#buffer = grown;
      }
      this.#buffer.set(bytes, this.#length);
      this.#length = need;
      this.#at = need % capacity;
      return;
    }
    // Full ring: overwrite the oldest bytes, wrapping once at most.
    if (this.#buffer.length < capacity) {
      const grown = new Uint8Array(capacity);
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
      this.#at = this.#length;
    }
    const first = Math.min(bytes.length, capacity - this.#at);
    this.#buffer.set(bytes.subarray(0, first), this.#at);
    this.#buffer.set(bytes.subarray(first), 0);
    this.#at = (this.#at + bytes.length) % capacity;
    this.#length = capacity;
  }

  /** The kept bytes, oldest first, in a buffer of exactly their size. */
  snapshot(): Uint8Array {
    const out = new Uint8Array(this.#length);
    if (this.#length < this.#capacity) {
      out.set(this.#buffer.subarray(0, this.#length));
    } else {
      out.set(this.#buffer.subarray(this.#at, this.#capacity));
      out.set(this.#buffer.subarray(0, this.#at), this.#capacity - this.#at);
    }
    return out;
  }

  /**
   * The kept bytes, oldest first, for reading at once: a view when they lie in order (as after
   * {@linkcode _WindowHistory.restore}), else a snapshot.
   */
  bytes(): Uint8Array {
    if (this.#length < this.#capacity || this.#at === 0) return this.#buffer.subarray(0, this.#length);
    return this.snapshot();
  }

  /** Keeps `bytes` (a snapshot) as the whole history, without copying it. */
  restore(bytes: Uint8Array): void {
    this.#buffer = bytes;
    this.#length = bytes.length;
    this.#at = bytes.length % this.#capacity;
  }

  /** Forgets everything. */
  clear(): void {
    this.#buffer = EMPTY;
    this.#length = 0;
    this.#at = 0;
  }
}
