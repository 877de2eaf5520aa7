// A Deno.Conn as a _Transport, over its direct read/write API rather than its web streams: each
// read lands in memory the transport reads into again once nothing can use it (the Session is
// told, and copies out what it keeps), its view goes straight to the Session, and each flush is
// one write. No stream hop (reader, byobRequest, writer queue) per chunk.
import { _concat } from "../../core/bytes.ts";
import { _roomIn } from "../../core/recent_text.ts";
import type { _RunPiece } from "../../streams/frame_run.ts";
import { _flushBytes, _flushLength, _TEXT_FROM, _utf8Length, _writeFlush } from "../../streams/text_flush.ts";
import { _noSink, type _Transport } from "../../streams/transport.ts";
import type { _DenoConn } from "./runtime.ts";

/** @internal Bytes per read, as Deno's own `conn.readable` allocates them. */
export const _READ_SIZE = 64 * 1024;
const READ_SIZE = _READ_SIZE;
/** The least room a read is given: below it, the next read gets a fresh slab. */
const MIN_READ = 16 * 1024;
/**
 * Bytes a read gets at first while the connection may be idle (the last read drained the
 * socket). Each connection adapts it to the bursts it gets after a pause, up to READ_SIZE.
 */
const IDLE_READ = 1024;
/** The least room such a read is given: below it, it gets a fresh small slab. */
const IDLE_MIN = 256;
const NOTHING = new Uint8Array(0);
/** Bytes queued or being written above which `write()` reports backpressure. */
const HIGH_WATER_MARK = 1024 * 1024;
/** Flushes up to this size are copied into a reused buffer (Deno.Conn has no writev). */
const JOIN_SIZE = 64 * 1024;
/** What the spare join buffers may hold in all, for all connections of the process. */
const SPARE_BYTES = 4 * 1024 * 1024;
// Spare join buffers by size class: spares[c] holds buffers of 2^(c + 10) bytes (1 to 64 KiB).
const spares: Uint8Array[][] = [[], [], [], [], [], [], []];
let spareBytes = 0;

// A flush's chunks in one buffer (the session's output: frame headers and payloads; a single
// chunk is a buffer of the session's own and goes as is). Up to JOIN_SIZE they are copied into a
// spare buffer of the next power-of-two size (no allocation, no zeroing), which goes back to the
// spares once its write is done: a connection has at most one write out, so the spares match
// how many connections write at once.
// A long text message's string (see _Transport.textLength) is encoded straight into the buffer.
function _join(chunks: (Uint8Array | string)[]): { bytes: Uint8Array; join?: Uint8Array } {
  const first = chunks[0];
  if (chunks.length === 1 && typeof first !== "string") return { bytes: first };
  const total = _flushLength(chunks, _utf8Length!);
  if (total > JOIN_SIZE) return { bytes: _concat(_flushBytes(chunks), total) };
  const c = Math.max(0, 32 - Math.clz32(total - 1) - 10);
  const spare = spares[c].pop();
  if (spare) spareBytes -= spare.length;
  const join = _writeFlush(chunks, spare ?? new Uint8Array(1024 << c));
  return { bytes: join.subarray(0, total), join };
}

// The transports with something queued and no write out: their write loops start in the event
// loop's check phase (setImmediate), once every read that completed in this turn has been
// handled. The replies to one turn's reads then leave as one burst, so a peer on the same host
// is woken once for many of them, and a turn's later writes and topic publishes go in the same
// write.
let due: (() => void)[] = [];
function startDueLoops(): void {
  const starts = due;
  due = [];
  for (const start of starts) start();
}
const { setImmediate = (callback: () => void) => setTimeout(callback, 0) } = globalThis as unknown as {
  setImmediate?: (callback: () => void) => unknown;
};

// A join buffer whose write is done goes back to the spares, if they have room.
function _spare(join: Uint8Array | undefined): void {
  if (!join || spareBytes + join.length > SPARE_BYTES) return;
  spareBytes += join.length;
  spares[31 - Math.clz32(join.length) - 10].push(join);
}

/**
 * @internal Wraps an accepted or connected Deno TCP/TLS connection.
 *
 * Reads go into slabs that are read into again from their start once nothing can use what they
 * hold: the connection is told each chunk's memory is reused (the Session copies out what it
 * hands out or keeps), and a slab is not rewound while a write queued or out holds a view into
 * it (an echo framed in place) or the connection may still frame an echo in it. Otherwise a read
 * goes into the unused tail of its 64 KiB slab, or into a second one, and a fresh slab is
 * allocated when neither has 16 KiB free; a read that may wait on an idle peer (the one after a
 * read that drained the socket) goes into a 1 KiB slab instead. Writes go out in order, one at a
 * time, starting in the turn's check phase (setImmediate): a flush with several chunks is joined
 * into one write (in a reused buffer up to 64 KiB), and the flushes of one turn, like those
 * queued while a write is out, go together in one write, as do a turn's topic publishes (a run
 * piece, `holdRun`). `write()` is false while more than 1 MiB is queued or in flight.
 *
 * @param conn The connection; nothing may read from it (`conn.read` or `conn.readable`) but
 *   this transport once it is started.
 */
export function _denoTransport(conn: _DenoConn): _Transport {
  let sink = _noSink;
  let ended = false; // the sink was told the transport ended (EOF, a failure, or end())
  let closed = false; // conn.close() was called
  let paused = false;
  let reading = false;

  // Flushes to write, in order; a topic's run piece is taken (its bytes joined) when written.
  // `counted`: a piece's bytes are in inFlight (from when it was cut; an uncut one's when taken).
  let queue: { bytes: Uint8Array; join?: Uint8Array; piece?: _RunPiece; counted?: boolean }[] = [];
  // The last thing queued, when it is a run's piece that may still grow: cut by any later write.
  let open: _RunPiece | undefined;
  let loopDue = false;
  let inFlight = 0; // bytes queued or being written
  let writing = false;
  let out: Uint8Array | undefined; // the bytes of the write that is out
  let failed = false;
  let drainWaiters: (() => void)[] = [];
  let idleWaiters: (() => void)[] = [];
  let ending: Promise<void> | undefined;

  const finish = () => {
    if (ended) return;
    ended = true;
    sink._transportEnded();
  };
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const wake = (waiters: (() => void)[]) => {
    for (const resolve of waiters) resolve();
  };
  // The peer is gone or the connection was closed: what is left will never go out.
  const lose = () => {
    failed = true;
    queue = [];
    open = undefined;
    inFlight = 0;
    const waiters = drainWaiters;
    drainWaiters = [];
    wake(waiters);
  };

  // Whether a slab may be read into again from its start: no write holds a view into it, and no
  // echo may still be framed in place in it.
  const reusable = (slab: Uint8Array) => {
    const buffer = slab.buffer;
    if (out?.buffer === buffer || _roomIn(buffer)) return false;
    for (const flush of queue) if (flush.bytes.buffer === buffer) return false;
    return true;
  };

  // While bytes flow, reads land in a 64 KiB slab: from its start when it is reusable (see
  // above), else in the part after the bytes read last, else in a second slab that is reusable,
  // and a new slab is allocated when neither is. Fresh memory costs its allocation, zeroing and
  // page faults on every read (as much as the rest of a 16 KiB echo on Deno), and reused memory
  // stays in the cache. A read after one that drained the socket may wait for as long as the
  // peer is silent, so it goes into a 1 KiB slab instead, and the big ones are held only weakly
  // meanwhile: an idle connection pins 1 KiB, not 64. A small read that fills up means bytes flow
  // again.
  // A peer whose messages after a pause are larger than that read (a request, then silence)
  // would cost two reads per message: the second read after a pause in a row that fills up makes
  // the next such read four times larger (up to 64 KiB), and one that uses under a quarter of it
  // halves it. One burst after a long silence leaves it at 1 KiB.
  let idleSize = IDLE_READ;
  let filledAfterPause = false;
  let flowing = false;
  let slab: Uint8Array = NOTHING; // the slab reads go into, from `offset`
  let offset = 0;
  const earlier: WeakRef<Uint8Array>[] = []; // the last two slabs given up, for when they are reusable
  // Gives the next read `size` bytes of slab with at least `min` of them free.
  const place = (size: number, min: number) => {
    if (slab.length === size) {
      if (reusable(slab)) return void (offset = 0);
      if (size - offset >= min) return;
    }
    let next: Uint8Array | undefined;
    for (let i = 0; i < earlier.length; i++) {
      const other = earlier[i].deref();
      if (other === undefined || other.length !== size || !reusable(other)) continue;
      next = other;
      earlier.splice(i, 1);
      break;
    }
    if (slab.length > 0) {
      earlier.push(new WeakRef(slab));
      if (earlier.length > 2) earlier.shift();
    }
    slab = next ?? new Uint8Array(size);
    offset = 0;
  };
  const readLoop = async () => {
    if (reading) return;
    reading = true;
    try {
      while (!paused && !ended) {
        if (flowing) place(READ_SIZE, MIN_READ);
        else place(idleSize, Math.max(IDLE_MIN, idleSize >> 2));
        const start = offset;
        const n = await conn.read(slab.subarray(start));
        if (n === null) return finish();
        if (ended) return; // end() ran while the read was out
        offset = start + n;
        if (!flowing) {
          const filled = start + n === slab.length;
          if (filled && filledAfterPause) idleSize = Math.min(READ_SIZE, idleSize * 4);
          else if (!filled && n * 4 < idleSize) idleSize = Math.max(IDLE_READ, idleSize >> 1);
          filledAfterPause = filled;
        }
        flowing = start + n === slab.length;
        sink._received(slab.subarray(start, start + n), true);
      }
    } catch {
      finish();
    } finally {
      reading = false;
    }
  };

  // Something is queued after the open piece (the last thing queued): it ends there.
  const cutOpen = () => {
    if (open === undefined) return;
    open.cut();
    inFlight += open.byteLength;
    queue[queue.length - 1].counted = true;
    open = undefined;
  };
  const startLater = () => {
    loopDue = false;
    if (!writing && queue.length > 0) void writeLoop();
  };
  // With no write out, the write loop starts in this turn's check phase (see startDueLoops).
  const startSoon = () => {
    if (writing || loopDue) return;
    loopDue = true;
    if (due.push(startLater) === 1) setImmediate(startDueLoops);
  };

  // Writes the queue out, one write at a time (a write may take only part of its bytes).
  const writeLoop = async () => {
    writing = true;
    try {
      while (queue.length > 0) {
        // Flushes queued while a write was out go together in the next one.
        const flushes = queue;
        queue = [];
        open = undefined;
        for (const flush of flushes) {
          if (flush.piece === undefined) continue;
          flush.bytes = flush.piece.take();
          if (!flush.counted) inFlight += flush.bytes.length;
        }
        let bytes = flushes.length === 1 ? flushes[0].bytes : _concat(flushes.map((flush) => flush.bytes));
        const join = flushes.length === 1 ? flushes[0].join : undefined;
        if (flushes.length > 1) for (const flush of flushes) _spare(flush.join);
        out = bytes;
        while (bytes.length > 0) {
          const n = await conn.write(bytes);
          inFlight -= n;
          bytes = bytes.subarray(n);
          if (inFlight < HIGH_WATER_MARK && drainWaiters.length > 0) {
            const waiters = drainWaiters;
            drainWaiters = [];
            wake(waiters);
          }
        }
        _spare(join);
      }
    } catch {
      lose();
      finish();
    } finally {
      out = undefined;
      writing = false;
      const waiters = idleWaiters;
      idleWaiters = [];
      wake(waiters);
    }
  };

  const writeFlush = (chunks: (Uint8Array | string)[]): boolean => {
    if (failed || closed) return true;
    if (chunks.length === 0) return inFlight < HIGH_WATER_MARK;
    cutOpen();
    const flush = _join(chunks);
    inFlight += flush.bytes.length;
    queue.push(flush);
    startSoon();
    return inFlight < HIGH_WATER_MARK;
  };

  return {
    start(to) {
      sink = to;
      void readLoop();
    },
    pause() {
      paused = true;
    },
    resume() {
      if (!paused) return;
      paused = false;
      void readLoop();
    },
    write: writeFlush,
    // Deno's connection takes bytes only: strings go into the flush's join buffer (see _join).
    textLength: _utf8Length,
    textFrom: _TEXT_FROM,
    writeText: writeFlush,
    holdRun(piece) {
      if (failed || closed) return true;
      cutOpen();
      open = piece;
      queue.push({ bytes: NOTHING, piece });
      startSoon();
      return inFlight + piece.byteLength < HIGH_WATER_MARK;
    },
    buffered: () => inFlight + (open?.byteLength ?? 0),
    drained() {
      if (inFlight < HIGH_WATER_MARK || failed || closed) return Promise.resolve();
      return new Promise<void>((resolve) => drainWaiters.push(resolve));
    },
    abort() {
      // A write that is out rejects once the connection is closed, which ends the write loop.
      lose();
      close();
      finish();
    },
    end() {
      return ending ??= (async () => {
        if (!writing && queue.length > 0 && !failed) void writeLoop(); // a run piece due in a later task
        if (writing) await new Promise<void>((resolve) => idleWaiters.push(resolve));
        if (!failed) {
          try {
            await conn.closeWrite();
          } catch { /* the peer is gone */ }
        }
        close();
        finish();
      })();
    },
  };
}
