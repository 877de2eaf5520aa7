// The byte transport a connection drives: push-based, so a hot adapter can hand socket data
// straight to the Session and write each flush in one go, with no stream hop per chunk.
import type { _RunPiece } from "./frame_run.ts";
import type { ByteDuplex } from "./types.ts";

/**
 * @internal What `_Connection` needs from a transport. Its backlog is the bytes written to it
 * that the operating system has not taken yet; `write()` says when that is over the transport's
 * high-water mark, and `drained()` when it is under again. The connection stops reading while
 * it is over, so a peer that never reads cannot make it queue without bound.
 */
export interface _Transport {
  /**
   * Starts delivering bytes to `sink`; its `_transportEnded` is called once, when the peer ends
   * or the transport fails. A sink object rather than two callbacks: the connection is its own
   * sink, so an idle connection holds no closures for it.
   */
  start(sink: _TransportSink): void;
  /** Stops delivering bytes until `resume()` (backpressure: a slow consumer, or a backlog). */
  pause(): void;
  resume(): void;
  /**
   * Whole data payloads shorter than this are copied out of a read chunk rather than viewed (see
   * `FrameDecoderOptions.copyBelow`): for a runtime whose small reads make views costly. Optional.
   */
  readonly copyBelow?: number;
  /**
   * Writes chunks in order, as one write where the transport can; false when the backlog is over
   * the high-water mark. The array is the caller's and is emptied once this returns: keep the
   * chunks, never the array.
   */
  write(chunks: Uint8Array[]): boolean;
  /**
   * For a transport that writes a string as UTF-8 itself (Deno's and Bun's encode it into their
   * join buffer): the UTF-8 length of a string. The connection's long text messages then go out
   * as a header and the string itself, through `writeText`. Optional, with `writeText`. (A Node
   * socket takes strings too, but its vectored write allocates for each and encodes it more
   * slowly than `encodeInto`: Node's transport has none.)
   */
  readonly textLength?: (text: string) => number;
  /** The fewest UTF-16 code units of a text message sent as a string (see `textLength`). @default {4096} */
  readonly textFrom?: number;
  /** `write()` for chunks among which there may be strings, each written as UTF-8 (see `textLength`). */
  writeText?(chunks: (Uint8Array | string)[]): boolean;
  /** Resolves when the backlog is under the high-water mark again (or the transport closed). */
  drained(): Promise<void>;
  /** The backlog in bytes: what `write()` compares with the high-water mark. */
  buffered(): number;
  /**
   * Holds the writes of this turn of the event loop and writes them together when it ends, so
   * many small writes in one turn (a publish to many connections, several messages each) cost
   * one system call per connection. Held bytes count in the backlog. Optional.
   */
  cork?(): void;
  /**
   * Corks as `cork()` does and writes one chunk, as `write([chunk])` would: the path of a topic's
   * frame to each subscriber, with no array per write. Optional (transports with `cork` only).
   */
  hold?(chunk: Uint8Array): boolean;
  /**
   * Corks, and holds a subscriber's piece of a topic's run of frames (src/streams/frame_run.ts):
   * its bytes are taken when the transport uncorks, so frames published later in the turn go
   * with it. Anything written after it cuts the piece first, to keep the order. Optional
   * (Node, Bun and Deno sockets have it).
   */
  holdRun?(piece: _RunPiece): boolean;
  /** Ends the write side once pending writes are out, and closes the transport. */
  end(): Promise<void>;
  /** Closes the transport now, dropping what is not written yet (a peer that never reads). */
  abort(): void;
}

/** @internal Where a transport delivers: the connection that drives it. */
export interface _TransportSink {
  /**
   * Bytes read from the peer. `reused`: the transport reads into the chunk's memory again once
   * this returns, so the connection keeps no view into it (see `Session.receive`).
   */
  _received(chunk: Uint8Array, reused?: boolean): void;
  /** The peer ended, or the transport failed or closed: called once. */
  _transportEnded(): void;
}

/** @internal The sink of a transport not started yet: it drops what it is given. */
export const _noSink: _TransportSink = { _received() {}, _transportEnded() {} };

/** @internal Bytes a duplex transport's writes may hold unresolved before `write()` reports backpressure. */
export const _DUPLEX_HIGH_WATER_MARK = 64 * 1024;

/**
 * @internal A `{ readable, writable }` byte duplex as a transport: any runtime, any stream. Its
 * backlog is the bytes of writes the writable has not resolved yet.
 */
export function _duplexTransport(duplex: ByteDuplex): _Transport {
  const reader = duplex.readable.getReader();
  const writer = duplex.writable.getWriter();
  let paused = false;
  let reading = false;
  let ended = false;
  let backlog = 0;
  const sizes: number[] = []; // of the writes not yet resolved, in order (they resolve in order)
  let waiters: (() => void)[] = [];
  let sink = _noSink;
  const wake = () => {
    const woken = waiters;
    waiters = [];
    for (const resolve of woken) resolve();
  };
  const finish = () => {
    if (ended) return;
    ended = true;
    reader.cancel().catch(() => {});
    wake();
    sink._transportEnded();
  };
  const written = () => {
    backlog -= sizes.shift()!;
    if (backlog <= _DUPLEX_HIGH_WATER_MARK) wake();
  };
  const failed = () => {
    written();
    finish();
  };
  const loop = async () => {
    if (reading) return;
    reading = true;
    try {
      while (!paused && !ended) {
        const { value, done } = await reader.read();
        if (done) break;
        sink._received(value);
      }
      if (!paused) finish();
    } catch {
      finish();
    } finally {
      reading = false;
    }
  };
  return {
    start(to) {
      sink = to;
      void loop();
    },
    pause() {
      paused = true;
    },
    resume() {
      if (!paused) return;
      paused = false;
      void loop();
    },
    write(chunks) {
      if (ended) return true;
      for (const chunk of chunks) {
        backlog += chunk.byteLength;
        sizes.push(chunk.byteLength);
        writer.write(chunk).then(written, failed);
      }
      return backlog <= _DUPLEX_HIGH_WATER_MARK;
    },
    drained() {
      if (backlog <= _DUPLEX_HIGH_WATER_MARK || ended) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    buffered: () => backlog,
    async end() {
      await writer.close().catch(() => {});
      finish();
    },
    abort() {
      writer.abort().catch(() => {});
      finish();
    },
  };
}
