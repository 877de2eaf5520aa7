// The pieces of the WHATWG surface that every connection shares: the codec's and the
// message-level adapters' alike.
import { _unsendableCode } from "../core/close_code.ts";
import { WebSocketError } from "../core/websocket_error.ts";
import { _directTarget, type _DirectPipe, type _DirectTarget, _MessageReadable, type _MessageSource } from "./direct_pipe.ts";
import type { WebSocketMessage, WebSocketSendable } from "./types.ts";
import type { BufferSourceLike } from "../core/web_types.ts";

/**
 * @internal How much a queued received message weighs: one unit, plus one per KiB, so a queue of
 * 1,024 units holds about 1,024 small messages or about 1 MiB.
 */
export function _messageWeight(message: WebSocketMessage): number {
  if (typeof message === "string") return 1 + message.length / 1024;
  return "byteLength" in message ? 1 + message.byteLength / 1024 : 1;
}

/**
 * @internal The most bytes sending `data` adds to a socket's buffered amount: a string's UTF-8
 * form is at most 3 bytes per UTF-16 code unit.
 */
export function _bufferedBound(data: string | BufferSourceLike): number {
  return typeof data === "string" ? data.length * 3 : data.byteLength;
}

/**
 * @internal The close a `readable.cancel(reason)` or `writable.abort(reason)` asks for: a
 * `WebSocketError`'s code and reason, else 1000. A code no endpoint may send (1005 or 1006 of
 * another connection that ended, in a proxy) gives a close frame without a code.
 */
export function _closeFor(reason: unknown): [code: number | undefined, reason: string] {
  if (!(reason instanceof WebSocketError) || reason.closeCode === null) return [1000, ""];
  return _unsendableCode(reason.closeCode) ? [undefined, ""] : [reason.closeCode, reason.reason];
}

/**
 * @internal A pull for a readable that is fed by pushes. `flow` reads on (or not) and returns
 * whether reading is paused; while it is not, the pull stays pending, so the stream calls it
 * again only after `paused()` (the queue filled up), not after every message, each call being
 * a few promise hops.
 */
export function _pullWhilePaused(flow: () => boolean): { pull: () => Promise<void> | undefined; paused: () => void } {
  let release: (() => void) | undefined;
  return {
    pull: () => (flow() ? undefined : new Promise<void>((resolve) => (release = resolve))),
    paused: () => {
      const resolve = release;
      release = undefined;
      resolve?.();
    },
  };
}

/** @internal What a connection hands its WebSocketStream: built alike by every kind of connection. */
export interface _Surface<T> extends _DirectTarget {
  readable: _MessageReadable;
  writable: WritableStream<WebSocketSendable>;
  closed: Promise<T>;
  /** Ends both streams: the readable closes (or errors with `error`), writes fail from now on. */
  endStreams(error: WebSocketError | undefined, code: number, reason: string): void;
  /** Settles `closed`: rejected with `error`, else resolved with `info`. */
  settle(error: WebSocketError | undefined, info: T): void;
}

/** @internal What a connection does for its surface's streams (see {@linkcode _connectionSurface}). */
export interface _SurfaceConnection {
  /** Each received message is a stream of its fragments: the readable holds one at a time. */
  streamMessages?: boolean;
  /** The readable's pull (see {@linkcode _pullWhilePaused}); none for a readable fed by pushes alone. */
  pull?: () => Promise<void> | undefined;
  /** The readable was cancelled. */
  cancelled: () => void;
  /**
   * The writable's sink write: sends one message; a promise when the next write must wait.
   * `piped`: a wsflow readable piped here sends it, and no one holds a promise of this write
   * (the pipe fails if the connection ends), so only backpressure need be waited for. `text`:
   * a piped `Uint8Array` is a text message's UTF-8 bytes (only from the connection itself).
   */
  write: (chunk: WebSocketSendable, piped?: boolean, text?: boolean) => Promise<void> | undefined;
  /** Closes the connection once what was written before has gone out. */
  close: (code: number | undefined, reason: string) => void;
  /** A write was queued (so a close can wait until everything written before it is out). */
  queued: () => void;
}

/**
 * @internal A connection's readable, writable and `closed`. Whole messages queue in the readable
 * up to about 1 MiB or 1024 of them (with `streamMessages`, one message stream at a time);
 * cancelling it calls `cancelled`, then closes with the reason's code. The writable: `write`
 * sends one message; closing it closes with 1000, aborting it with the reason's code; `queued`
 * is called as each write is queued, so a `close()` can wait until everything written before
 * it has gone out. A wsflow readable piped into it sends through `write` directly. `closed`
 * rejecting unobserved is not reported.
 *
 * `connection`'s functions are called as its methods, so a connection object can be its own
 * hooks (no closures per connection for them).
 */
export function _connectionSurface<T>(connection: _SurfaceConnection): _Surface<T> {
  return new _ConnectionSurface<T>(connection);
}

const ignore = () => {};

// The streams' underlying source and sink are these objects, with their algorithms as methods:
// what a connection holds for them while idle is the objects, not a closure per algorithm.
class _ConnectionSurface<T> implements _Surface<T> {
  readonly readable: _MessageReadable;
  readonly writable: WritableStream<WebSocketSendable>;
  readonly closed: Promise<T>;
  readonly #connection: _SurfaceConnection;
  #resolveClosed!: (value: T) => void;
  #rejectClosed!: (error: WebSocketError) => void;
  #controller!: WritableStreamDefaultController;
  // The direct pipe that holds the writable's writer, and the error the writable ended with.
  #pipeIn: _DirectPipe | undefined;
  #writableError: { error: unknown } | undefined;

  constructor(connection: _SurfaceConnection) {
    this.#connection = connection;
    this.closed = new Promise<T>((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    const source = connection.pull ? new _PulledSource(connection) : new _PushedSource(connection);
    this.readable = new _MessageReadable(source, connection.streamMessages ? 1 : 1024, _messageWeight);
    this.writable = new WritableStream<WebSocketSendable>(this, { highWaterMark: 1, size: _countingSize(connection) });
    _directTarget(this.writable, this);
  }

  /** @internal The sink's start. */
  start(controller: WritableStreamDefaultController): void {
    this.#controller = controller;
  }

  /**
   * @internal The sink's write. A chunk the writable cannot take (a TypeError) errors it for good,
   * as the streams standard has it; the connection then closes as an abort with that error would,
   * rather than staying open with nothing left to write it.
   */
  write(chunk: WebSocketSendable): Promise<void> | undefined {
    try {
      return this.#connection.write(chunk);
    } catch (error) {
      if (error instanceof TypeError) this.abort(error);
      throw error;
    }
  }

  /** @internal The sink's close: closes the connection with 1000. */
  close(): void {
    this.#writableEnded(new TypeError("Cannot pipe: the destination closed"));
    this.#connection.close(1000, "");
  }

  /** @internal The sink's abort: closes the connection with the reason's code. */
  abort(reason: unknown): void {
    this.#writableEnded(reason);
    this.#connection.close(..._closeFor(reason));
  }

  /** @internal A piped wsflow readable sends here directly, skipping both streams. */
  _directSend(message: WebSocketMessage, text?: boolean): Promise<void> | undefined {
    this.#connection.queued();
    return this.#connection.write(message, true, text);
  }

  /** @internal A direct pipe holds the writable's writer from now (`undefined`: none). */
  _pipedFrom(pipe: _DirectPipe | undefined): void {
    this.#pipeIn = pipe;
    if (pipe && this.#writableError) pipe._destinationEnded(this.#writableError.error);
  }

  endStreams(error: WebSocketError | undefined, code: number, reason: string): void {
    try {
      if (error) this.readable._controller.error(error);
      else this.readable._controller.close();
    } catch { /* already closed or errored */ }
    this.readable._ended();
    const writableError = error ?? WebSocketError._from("Cannot send: the connection is closed", code, reason);
    this.#controller.error(writableError);
    this.#writableEnded(writableError);
  }

  // The writable closed, was aborted or errored: the first end is the one a pipe hears of.
  #writableEnded(error: unknown): void {
    if (this.#writableError) return;
    this.#writableError = { error };
    this.#pipeIn?._destinationEnded(error);
  }

  settle(error: WebSocketError | undefined, info: T): void {
    if (error) {
      // Marked handled as it rejects, not from the start: an idle connection holds no reaction for it.
      this.closed.catch(ignore);
      this.#rejectClosed(error);
    } else this.#resolveClosed(info);
  }
}

// The writable's size: each write counts as queued as it is queued, and weighs one.
function _countingSize(connection: _SurfaceConnection): () => number {
  return () => {
    connection.queued();
    return 1;
  };
}

// A readable's source that the connection only pushes into.
class _PushedSource implements _MessageSource {
  _controller!: ReadableStreamDefaultController<WebSocketMessage>;
  readonly #connection: _SurfaceConnection;

  constructor(connection: _SurfaceConnection) {
    this.#connection = connection;
  }

  start(controller: ReadableStreamDefaultController<WebSocketMessage>): void {
    this._controller = controller;
  }

  cancel(reason: unknown): void {
    const connection = this.#connection;
    connection.cancelled();
    connection.close(..._closeFor(reason));
  }

  protected get connection(): _SurfaceConnection {
    return this.#connection;
  }
}

// A readable's source with a pull: the connection learns when the consumer reads again.
class _PulledSource extends _PushedSource {
  pull(): Promise<void> | undefined {
    return this.connection.pull!();
  }
}
