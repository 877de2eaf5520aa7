// A Bun TCP socket as a push-based _Transport: Bun's `data` chunks go straight to the Session,
// each flush is one `socket.write`, and backpressure is pause/resume and `drain`. No Web Streams
// on the hot path.
import { _byteLength } from "../../core/bytes.ts";
import { _MIN_BYTES } from "../../core/recent_text.ts";
import { _RunPiece } from "../../streams/frame_run.ts";
import { _flushBytes, _flushLength, _hasText, _TEXT_FROM, _utf8Length, _writeFlush } from "../../streams/text_flush.ts";
import type { _Transport, _TransportSink } from "../../streams/transport.ts";
import type { _BunSocket, _BunSocketHandlers } from "./types.ts";
import { type _ChunkHolder, _releasable, _receiveReleasing } from "./release_after_turn.ts";

// Unwritten bytes held (waiting for `drain`) past which write() reports backpressure.
const WRITE_HIGH_WATER = 64 * 1024;
// Flushes up to this size are joined in one reused buffer, larger ones in a fresh one.
const SCRATCH_BYTES = 64 * 1024;
let scratch = new Uint8Array(0);

// The transports corked in this turn: one task writes what each held.
let corked: _BunTransport[] = [];
function uncorkAll(): void {
  const due = corked;
  corked = [];
  for (const transport of due) transport._uncork();
}

/**
 * @internal Where one socket's events go. Bun.listen takes one set of handlers per listener, so
 * each socket's `data` slot holds its current route: first the request head reader, then the
 * transport.
 */
export interface _BunRoute {
  _data(chunk: Uint8Array): void;
  _drain(): void;
  _end(): void;
  _closed(error?: Error): void;
}

/** @internal Listener handlers that pass each socket's events to the route in `socket.data`. */
export function _routedHandlers(open: (socket: _BunSocket<_BunRoute>) => void): _BunSocketHandlers<_BunRoute> {
  return {
    // Plain Uint8Arrays, not Buffers: one shape for the decoder's call sites, and no `.buffer`
    // (which makes JSC copy a small array's bytes out) to view one.
    binaryType: "uint8array",
    open(socket) {
      try {
        socket.setNoDelay?.(true);
      } catch { /* Bun's TLS sockets throw here */ }
      open(socket);
    },
    data: (socket, chunk) => socket.data._data(chunk),
    drain: (socket) => socket.data._drain(),
    end: (socket) => socket.data._end(),
    close: (socket, error) => socket.data?._closed(error),
    error: (socket, error) => socket.data?._closed(error),
  };
}

/**
 * @internal One socket's transport; it takes over the socket's route when created. Until
 * `start`, the socket is paused and anything that still arrives is held. Reads: Bun hands `data`
 * a fresh buffer each time (never reused, checked on Bun 1.4), so it goes on without a copy; one
 * of 64 KiB or more goes as reused memory and is released after its turn (release_after_turn.ts).
 * Writes: `socket.write` returns the bytes taken and drops the rest, so the rest is kept and
 * written on `drain`, with anything written meanwhile behind it.
 */
export class _BunTransport implements _Transport, _BunRoute, _ChunkHolder {
  // Bun's reads of up to about 1 KB are arrays JavaScriptCore keeps without an ArrayBuffer: the
  // first view into one makes it copy the array out into a new ArrayBuffer, which costs more
  // than copying a short payload out. Payloads of 256 bytes or more stay views (an echo of one
  // may be framed in place in the read, see recent_text.ts).
  get copyBelow(): number {
    return _MIN_BYTES;
  }
  readonly #socket: _BunSocket<_BunRoute>;
  #sink: _TransportSink | undefined;
  #early: Uint8Array[] = [];
  #endedEarly = false;
  #ended = false;
  #closed = false;
  #paused = false;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  // While corked: this turn's writes, written together by uncorkAll. The first is kept on its
  // own (a topic delivery is most often one run per connection per turn, with no array).
  #corked = false;
  #heldFirst: Uint8Array | _RunPiece | undefined;
  #held: (Uint8Array | _RunPiece)[] | undefined;
  #heldBytes = 0;
  // The last thing held, when it is a run's piece that may still grow: cut by any later write.
  #open: _RunPiece | undefined;
  #waiters: (() => void)[] = [];
  #ending: Promise<void> | undefined;

  constructor(socket: _BunSocket<_BunRoute>) {
    this.#socket = socket;
    socket.data = this;
    socket.pause();
  }

  start(sink: _TransportSink): void {
    this.#sink = sink;
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) sink._received(chunk);
    if (this.#endedEarly) return this.#finish();
    if (!this.#paused && !this.#closed) this.#socket.resume();
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    if (this.#sink && !this.#closed) this.#socket.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#sink && !this.#closed) this.#socket.resume();
  }

  // Bun's socket takes bytes here: a long text's string is encoded into the join buffer when the
  // flush is written at once, else into an array of its own (see src/streams/text_flush.ts).
  get textLength(): ((text: string) => number) | undefined {
    return _utf8Length;
  }

  get textFrom(): number {
    return _TEXT_FROM;
  }

  writeText(chunks: (Uint8Array | string)[]): boolean {
    if (!_hasText(chunks)) return this.write(chunks as Uint8Array[]);
    if (this.#closed) return true;
    const size = this.#corked || this.#pendingBytes > 0 ? Infinity : _flushLength(chunks, _utf8Length!);
    if (size > SCRATCH_BYTES) return this.write(_flushBytes(chunks));
    this.#sendJoined(join(chunks, size), size);
    return this.#pendingBytes <= WRITE_HIGH_WATER;
  }

  write(chunks: Uint8Array[]): boolean {
    if (this.#closed || chunks.length === 0) return true;
    if (this.#corked) {
      for (const chunk of chunks) this.#hold(chunk);
      return this.buffered() <= WRITE_HIGH_WATER;
    }
    this.#writeNow(chunks);
    return this.#pendingBytes <= WRITE_HIGH_WATER;
  }

  // Writes after what is pending, or at once when nothing is.
  #writeNow(chunks: Uint8Array[]): void {
    if (this.#pendingBytes > 0) {
      for (const chunk of chunks) this.#keepAlso(chunk);
    } else {
      this.#send(chunks);
    }
  }

  #keepAlso(chunk: Uint8Array): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.byteLength;
  }

  // One chunk with nothing pending before it.
  #sendOne(bytes: Uint8Array): void {
    const written = this.#socket.write(bytes);
    if (written === bytes.byteLength) return;
    if (written < 0) return this.#lost();
    this.#keep([bytes.subarray(written)], 0);
  }

  // Bun's sockets have no cork: the writes of this turn are held, then written as one (joined up
  // to 64 KiB) in a task of their own, which Bun runs once the current microtasks are done.
  cork(): void {
    if (this.#corked || this.#closed) return;
    this.#corked = true;
    if (corked.push(this) === 1) setImmediate(uncorkAll);
  }

  hold(chunk: Uint8Array): boolean {
    if (this.#closed) return true;
    if (!this.#corked) this.cork();
    this.#hold(chunk);
    return this.buffered() <= WRITE_HIGH_WATER;
  }

  holdRun(piece: _RunPiece): boolean {
    if (this.#closed) return true;
    if (!this.#corked) this.cork();
    this.#hold(piece);
    this.#open = piece;
    return this.buffered() <= WRITE_HIGH_WATER;
  }

  #hold(item: Uint8Array | _RunPiece): void {
    const open = this.#open;
    if (open !== undefined) {
      open.cut();
      this.#heldBytes += open.byteLength;
      this.#open = undefined;
    }
    const first = this.#heldFirst;
    if (first === undefined) this.#heldFirst = item;
    else if (this.#held === undefined) this.#held = [first, item];
    else this.#held.push(item);
    if (item instanceof Uint8Array) this.#heldBytes += item.byteLength;
  }

  /** @internal Writes what was held since `cork()`. */
  _uncork(): void {
    if (!this.#corked) return;
    const first = this.#heldFirst;
    const held = this.#held;
    this.#corked = false;
    this.#heldFirst = this.#held = this.#open = undefined;
    this.#heldBytes = 0;
    if (this.#closed || first === undefined) return;
    if (held !== undefined) this.#writeNow(held.map(bytesOf));
    else if (this.#pendingBytes > 0) this.#keepAlso(bytesOf(first));
    else this.#sendOne(bytesOf(first));
    if (this.#pendingBytes <= WRITE_HIGH_WATER) this.#wake();
  }

  // Writes chunks with nothing pending before them: joined in one write when small, else one
  // write each (no copy of a large message). What the socket does not take becomes pending.
  #send(chunks: Uint8Array[]): void {
    const size = _byteLength(chunks);
    if (chunks.length > 1 && size <= SCRATCH_BYTES) return this.#sendJoined(join(chunks, size), size);
    for (let i = 0; i < chunks.length; i++) {
      const bytes = chunks[i];
      const written = this.#socket.write(bytes);
      if (written === bytes.byteLength) continue;
      if (written < 0) return this.#lost();
      return this.#keep(chunks, i, bytes.subarray(written));
    }
    this.#clear();
  }

  // A flush joined in the shared scratch buffer, with nothing pending before it.
  #sendJoined(joined: Uint8Array, size: number): void {
    const written = this.#socket.write(joined, 0, size);
    if (written === size) return this.#clear();
    if (written < 0) return this.#lost();
    // The rest outlives this call: copied off the shared scratch buffer.
    return this.#keep([joined.slice(written, size)], 0);
  }

  #clear(): void {
    if (this.#pendingBytes === 0) return;
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  // Keeps `first` (if given, instead of chunks[from]) and the chunks after it for `drain`.
  #keep(chunks: Uint8Array[], from: number, first?: Uint8Array): void {
    const pending = [first ?? chunks[from]];
    let pendingBytes = pending[0].byteLength;
    for (let j = from + 1; j < chunks.length; j++) {
      pending.push(chunks[j]);
      pendingBytes += chunks[j].byteLength;
    }
    this.#pending = pending;
    this.#pendingBytes = pendingBytes;
  }

  // The socket is gone; its end is reported outside the caller's flush.
  #lost(): void {
    this.#clear();
    queueMicrotask(() => this._closed());
  }

  drained(): Promise<void> {
    if (this.buffered() <= WRITE_HIGH_WATER || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  buffered(): number {
    return this.#pendingBytes + this.#heldBytes + (this.#open?.byteLength ?? 0);
  }

  end(): Promise<void> {
    this.#ending ??= (async () => {
      // Bun calls `close` inside socket.end(): not inside the caller's flush.
      await undefined;
      this._uncork();
      while (this.#pendingBytes > 0 && !this.#closed) await new Promise<void>((resolve) => this.#waiters.push(resolve));
      if (!this.#closed) this.#socket.end();
      this._closed();
    })();
    return this.#ending;
  }

  abort(): void {
    if (!this.#closed) this.#socket.terminate();
    this._closed();
  }

  /** @internal Bun's `data`. */
  _data(chunk: Uint8Array): void {
    const sink = this.#sink;
    if (!sink) {
      if (!this.#endedEarly) this.#early.push(chunk);
    } else if (_releasable(chunk)) {
      _receiveReleasing(sink, chunk, this);
    } else {
      sink._received(chunk);
    }
  }

  /** @internal Whether a write waiting here (pending or corked) is a view into `buffer`. */
  _holds(buffer: ArrayBufferLike): boolean {
    for (const chunk of this.#pending) if (chunk.buffer === buffer) return true;
    const first = this.#heldFirst;
    if (first instanceof Uint8Array && first.buffer === buffer) return true;
    for (const item of this.#held ?? []) if (item instanceof Uint8Array && item.buffer === buffer) return true;
    return false;
  }

  /** @internal Bun's `drain`: writes what is pending. */
  _drain(): void {
    if (this.#pendingBytes === 0 || this.#closed) return;
    this.#send(this.#pending);
    if (this.#pendingBytes <= WRITE_HIGH_WATER) this.#wake();
  }

  /** @internal Bun's `end`: the peer ended its side. */
  _end(): void {
    this.#finish();
  }

  /** @internal Bun's `close` and `error`, and ours once the socket is gone. */
  _closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#corked = false;
    this.#heldFirst = this.#held = this.#open = undefined;
    this.#heldBytes = 0;
    this.#wake();
    this.#finish();
  }

  #wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  // The sink's _transportEnded, once; before start, remembered for it.
  #finish(): void {
    if (this.#ended) return;
    if (!this.#sink) return void (this.#endedEarly = true);
    this.#ended = true;
    this.#sink._transportEnded();
  }
}

const bytesOf = (item: Uint8Array | _RunPiece): Uint8Array => item instanceof Uint8Array ? item : item.take();

// Joins chunks (size <= SCRATCH_BYTES; a string as its UTF-8) into the start of the shared
// scratch buffer, which the caller must not keep past its synchronous write.
function join(chunks: (Uint8Array | string)[], size: number): Uint8Array {
  if (scratch.byteLength < size) scratch = new Uint8Array(Math.min(SCRATCH_BYTES, Math.max(size, 4096, scratch.byteLength * 2)));
  return _writeFlush(chunks, scratch);
}
