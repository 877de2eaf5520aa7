// One timer for every connection's next deadline (heartbeat, close, idle compression
// contexts): a binary min-heap of deadlines under a single setTimeout, so an idle connection
// costs two array slots and an index, not a Timeout object and its closure.

/** @internal What the heap schedules: it keeps the item's place in `_timerIndex` (-1: not scheduled). */
export interface _Timed {
  _timerIndex: number;
  /** Called once the item's deadline has passed; the item is no longer scheduled then. */
  _timerFired(): void;
}

const now = () => performance.now();

/**
 * @internal Deadlines on one runtime timer. The timer is unref'd where the runtime can (Node,
 * Bun), as a connection's own timer was: the transport keeps a process alive, not its timers.
 */
export class _TimerHeap {
  readonly #at: number[] = [];
  readonly #items: _Timed[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  /** The number of scheduled items. */
  get size(): number {
    return this.#items.length;
  }

  /** Schedules `item` for `at` (a performance.now() time), replacing its earlier deadline. */
  schedule(item: _Timed, at: number): void {
    const i = item._timerIndex;
    if (i >= 0) {
      const before = this.#at[i];
      this.#at[i] = at;
      if (at < before) this.#up(i);
      else this.#down(i);
    } else {
      const n = this.#items.length;
      this.#at.push(at);
      this.#items.push(item);
      item._timerIndex = n;
      this.#up(n);
    }
    this.#arm();
  }

  /** Unschedules `item` (nothing when it is not scheduled). */
  cancel(item: _Timed): void {
    const i = item._timerIndex;
    if (i < 0) return;
    this.#remove(i);
    if (this.#items.length === 0) this.#stop();
  }

  #remove(i: number): void {
    const at = this.#at;
    const items = this.#items;
    items[i]._timerIndex = -1;
    const last = items.length - 1;
    const lastAt = at.pop()!;
    const lastItem = items.pop()!;
    if (i === last) return;
    at[i] = lastAt;
    items[i] = lastItem;
    lastItem._timerIndex = i;
    this.#down(i);
    this.#up(lastItem._timerIndex);
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const time = now();
    try {
      while (this.#items.length > 0 && this.#at[0] <= time) {
        const item = this.#items[0];
        this.#remove(0);
        item._timerFired();
      }
    } finally {
      this.#arm();
    }
  }

  // One runtime timer, for the earliest deadline (re-armed when an earlier one comes).
  #arm(): void {
    if (this.#items.length === 0) return this.#stop();
    const first = this.#at[0];
    if (this.#timer !== undefined && this.#timerAt <= first) return;
    clearTimeout(this.#timer);
    this.#timerAt = first;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, first - now()));
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #stop(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #up(i: number): void {
    const at = this.#at;
    const items = this.#items;
    const key = at[i];
    const item = items[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (at[parent] <= key) break;
      this.#place(i, at[parent], items[parent]);
      i = parent;
    }
    this.#place(i, key, item);
  }

  #down(i: number): void {
    const at = this.#at;
    const items = this.#items;
    const n = items.length;
    const key = at[i];
    const item = items[i];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && at[right] < at[left] ? right : left;
      if (at[child] >= key) break;
      this.#place(i, at[child], items[child]);
      i = child;
    }
    this.#place(i, key, item);
  }

  #place(i: number, at: number, item: _Timed): void {
    this.#at[i] = at;
    this.#items[i] = item;
    item._timerIndex = i;
  }
}

/** @internal The heap every connection of this process shares. */
export const _timers: _TimerHeap = new _TimerHeap();
