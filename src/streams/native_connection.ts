// A runtime's own WebSocket (Deno.upgradeWebSocket's socket, Cloudflare's WebSocketPair, any
// WHATWG `WebSocket`-shaped object) behind the `_ConnectionLike` a WebSocketStream runs on. No
// runtime globals: the message-level adapters pass in the socket and what their runtime hides.
import { WebSocketError } from "../core/websocket_error.ts";
import { _isOutgoingMessage, type WebSocketMessage, type WebSocketSendable } from "./types.ts";
import type { _ConnectionLike, WebSocketStreamCloseInfo } from "./websocket_stream.ts";
import { _readAll } from "../core/bytes.ts";
import type { _Route } from "./direct_pipe.ts";
import { _bufferedBound, _connectionSurface, type _Surface } from "./surface.ts";
import type { BufferSourceLike } from "../core/web_types.ts";
import type { _TopicSink } from "./topic_sink.ts";
import { _closedBeforeWritten, type _NextTurn, _WriteLedger } from "./write_ledger.ts";

/** @internal The slice of the WHATWG `WebSocket` interface a native connection uses. */
export interface _NativeSocket {
  binaryType: string;
  readonly bufferedAmount: number;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string; wasClean: boolean }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
}

/** @internal Options of {@linkcode _NativeConnection}. */
export interface _NativeConnectionOptions {
  /** Why `ping()` cannot work on this runtime and what to use instead (the NotSupportedError's message). */
  pingUnsupported: string;
  /** A write resolves once `bufferedAmount` is at most this many bytes. @default {1048576} */
  highWaterMark?: number;
  /** Milliseconds between `bufferedAmount` checks while a write waits (WebSocket has no drain event). @default {5} */
  drainInterval?: number;
  /**
   * The socket counts a message in `bufferedAmount` until it has written it to an open
   * connection, and forgets one it drops only after `readyState` has left OPEN (Deno). Each
   * write then resolves once its bytes are written, and rejects if the connection ends first,
   * instead of resolving as the socket takes it (which a WHATWG socket does even in the moment
   * between reading the peer's close and reporting it, when it drops what it is sent). The
   * function runs a check once the event loop has turned (Deno: `setImmediate`).
   */
  confirmsWrites?: _NextTurn;
  /**
   * The close code the runtime sent the peer when it failed the connection with this error
   * event's message, where its close event says only that the connection ended uncleanly (Deno:
   * "Invalid close code", sent as 1002); undefined where it sent no close frame (then 1006).
   */
  failureCode?: (message: string) => number | undefined;
}

const HIGH_WATER_MARK = 1024 * 1024;

/**
 * @internal A native socket as a WebSocketStream's connection: one readable chunk per message
 * (`string` or `Uint8Array`), a writable of messages whose writes resolve when the socket's
 * `bufferedAmount` is back under the high-water mark, and `closed` from the close event.
 *
 * What a native socket cannot do, it does not pretend to: reads cannot be paused (messages queue
 * in the readable until read), a `ReadableStream` written is sent as one unfragmented message
 * once it has been read whole, and `ping()` rejects with `NotSupportedError`.
 */
export class _NativeConnection implements _ConnectionLike, _TopicSink {
  readonly readable: ReadableStream<WebSocketMessage>;
  readonly writable: WritableStream<WebSocketSendable>;
  readonly closed: Promise<WebSocketStreamCloseInfo>;

  readonly #socket: _NativeSocket;
  readonly #options: _NativeConnectionOptions;
  // Where received messages go while a direct pipe takes them (the readable's route, kept here:
  // see _Route).
  readonly #route: _Route;
  readonly #readController: ReadableStreamDefaultController<WebSocketMessage>;
  readonly #surface: _Surface<WebSocketStreamCloseInfo>;
  readonly #open: Promise<void>;
  readonly #ledger: _WriteLedger | undefined;
  #blobs: Promise<void> | undefined;
  #written = 0;
  #sent = 0;
  #closeRequest: { code: number | undefined; reason: string } | undefined;
  // The message of the runtime's error event, if it gave one before the close event.
  #failure: string | undefined;
  #closeSent = false;
  #done = false;
  #readableDone = false;
  // At most what the socket buffers: bufferedAmount when last read, plus every byte sent since.
  // While it is under the high-water mark, a write need not ask the socket (on Deno, a call
  // into the runtime per message).
  #buffered = 0;

  constructor(socket: _NativeSocket, options: _NativeConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    socket.binaryType = "arraybuffer";
    if (options.confirmsWrites) this.#ledger = new _WriteLedger(socket, options.confirmsWrites, options.drainInterval ?? 5);
    // A server's socket opens once the handler has returned its 101; writes and close wait for it.
    this.#open = socket.readyState === 0
      ? new Promise((resolve) => {
        socket.addEventListener("open", () => resolve());
        socket.addEventListener("close", () => resolve());
      })
      : Promise.resolve();
    const surface = this.#surface = _connectionSurface<WebSocketStreamCloseInfo>({
      cancelled: () => void (this.#readableDone = true),
      write: (chunk, piped) => this.#write(chunk, piped),
      close: (code, reason) => this.close(code, reason),
      queued: () => this.#written++,
    });
    this.readable = surface.readable;
    this.#route = surface.readable._route;
    this.writable = surface.writable;
    this.closed = surface.closed;
    this.#readController = surface.readable._controller;
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", (event) => this.#ended(event));
    // The close event that follows says how it ended; the error says why, where the runtime says.
    socket.addEventListener("error", (event) => {
      const message = (event as { message?: unknown } | undefined)?.message;
      if (typeof message === "string" && message) this.#failure ??= message;
    });
  }

  /** @internal Whether the connection has closed. */
  _ended(): boolean {
    return this.#done;
  }

  /** Rejects: a WHATWG WebSocket has no ping API. */
  ping(): Promise<number> {
    return Promise.reject(new DOMException(this.#options.pingUnsupported, "NotSupportedError"));
  }

  /** Starts the closing handshake once every message written so far has been handed to the socket. */
  close(code: number | undefined, reason: string): void {
    if (this.#closeRequest || this.#done) return;
    this.#closeRequest = { code, reason };
    this.#ledger?.watch();
    void this.#open.then(() => this.#maybeClose());
  }

  /** @internal Topics: the runtime frames each message. */
  readonly _topicMode = "messages";

  /** @internal Topics: what the socket has not sent yet, which also refreshes the bound writes go by. */
  _backlog(): number {
    return this.#buffered = this.#socket.bufferedAmount;
  }

  /** @internal Topics: never called in `"messages"` mode. */
  _sendFrame(): boolean {
    return false;
  }

  /** @internal Topics: the runtime compresses (or not) by itself. */
  _deflate(): undefined {
    return undefined;
  }

  /** @internal Topics: one message, straight to the socket. */
  _sendMessage(data: string | Uint8Array): boolean {
    if (this.#done || this.#closeRequest || this.#socket.readyState !== 1) return false;
    (this.#ledger ?? this.#socket).send(data);
    this.#buffered += _bufferedBound(data);
    return true;
  }

  /** @internal Topics: closes now, ahead of queued writes. */
  _closeNow(code: number, reason: string): void {
    if (this.#done || this.#closeSent) return;
    this.#closeRequest ??= { code, reason };
    this.#closeSent = true;
    try {
      this.#socket.close(code, reason);
    } catch {
      this.#socket.close(1000, reason); // a socket that allows only 1000 and 3000-4999, as a browser's does
    }
  }

  #maybeClose(): void {
    const request = this.#closeRequest;
    if (!request || this.#closeSent || this.#done || this.#sent < this.#written) return;
    this.#closeSent = true;
    if (request.code === undefined) this.#socket.close();
    else this.#socket.close(request.code, request.reason);
  }

  #receive(data: unknown): void {
    if (this.#readableDone) return;
    // binaryType "arraybuffer" is asked for; a runtime that ignores it gets its Blobs read in order.
    if (typeof data === "object" && data !== null && !(data instanceof ArrayBuffer) && "arrayBuffer" in data) {
      const blob = data as Blob;
      const previous = this.#blobs ?? Promise.resolve();
      const read = blob.arrayBuffer();
      this.#blobs = previous.then(() => read).then((buffer) => this.#enqueue(new Uint8Array(buffer)), () => {});
      return;
    }
    const message = typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer);
    if (this.#blobs) this.#blobs = this.#blobs.then(() => this.#enqueue(message));
    else this.#enqueue(message);
  }

  #enqueue(message: WebSocketMessage): void {
    if (this.#readableDone) return;
    try {
      if (!this.#route._deliver(message)) this.#readController.enqueue(message);
    } catch { /* closed meanwhile */ }
  }

  // The sink's write. The runtime's socket compresses (or not) by itself: per-message options do
  // not apply. On an open socket that stays under the high-water mark a message is sent at once
  // and costs no promise of ours; otherwise the write waits (for open, a stream, or drain).
  // With confirmsWrites, a write resolves once the ledger has seen it written; a piped one only
  // counts as done then (a close waits for it), and the pipe goes on under the high-water mark.
  #write(written: WebSocketSendable, piped?: boolean): Promise<void> | undefined {
    const chunk = _isOutgoingMessage(written) ? written.data : written;
    if (chunk instanceof ReadableStream || this.#socket.readyState !== 1 || this.#done) return this.#writeLater(chunk);
    try {
      this.#send(chunk);
    } catch (error) {
      this.#wrote();
      throw error;
    }
    const ledger = this.#ledger;
    if (ledger && !piped) return ledger.written().finally(this.#wroteOne);
    // A piped write waits for no more than backpressure, but is done (for a close to wait on)
    // only once the ledger saw it written: it is checked for when a close waits on it.
    if (ledger) ledger.track(this.#wroteOne, this.#wroteOne, true);
    const limit = this.#options.highWaterMark ?? HIGH_WATER_MARK;
    this.#buffered += _bufferedBound(chunk);
    if (this.#buffered > limit && (this.#buffered = this.#socket.bufferedAmount) > limit) return ledger ? this.#drained() : this.#drained().finally(this.#wroteOne);
    if (!ledger) this.#wrote();
    return undefined;
  }

  async #writeLater(chunk: string | BufferSourceLike | ReadableStream<Uint8Array>): Promise<void> {
    try {
      const data = chunk instanceof ReadableStream ? await _readAll(chunk) : chunk;
      await this.#open;
      // A WHATWG socket that is closing or closed drops what it is sent without a word.
      if (this.#done || this.#socket.readyState !== 1) throw WebSocketError._from("Cannot send: the connection is closing or closed", null, "");
      this.#send(data);
      await (this.#ledger ? this.#ledger.written() : this.#drained());
    } finally {
      this.#wrote();
    }
  }

  #send(data: string | BufferSourceLike): void {
    (this.#ledger ?? this.#socket).send(data instanceof ArrayBuffer || ArrayBuffer.isView(data) || typeof data === "string" ? data : new Uint8Array(data));
  }

  readonly #wroteOne = () => this.#wrote();

  // A write is done (sent or failed): a close asked for after it may go now.
  #wrote(): void {
    this.#sent++;
    if (this.#closeRequest) void this.#open.then(() => this.#maybeClose());
  }

  // WebSocket has no drain event: poll bufferedAmount until it is under the high-water mark.
  async #drained(): Promise<void> {
    const limit = this.#options.highWaterMark ?? HIGH_WATER_MARK;
    const interval = this.#options.drainInterval ?? 5;
    while (!this.#done && (this.#buffered = this.#socket.bufferedAmount) > limit) {
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }

  #ended(event: { code: number; reason: string; wasClean: boolean }): void {
    if (this.#done) return;
    this.#done = true;
    // A connection that ended without a close frame has the close code 1006 (RFC 6455 section
    // 7.1.5), as on every other path; Deno's close event says 0 when the peer just went away, or
    // when Deno failed the connection, with or without sending a close frame (see failureCode).
    const failure = this.#failure;
    const sent = !event.wasClean && failure !== undefined ? this.#options.failureCode?.(failure) : undefined;
    const code = sent ?? (!event.wasClean && !event.code ? 1006 : event.code);
    this.#ledger?.fail(_closedBeforeWritten(code, event.reason));
    const finish = () => {
      const error = event.wasClean
        ? undefined
        : sent !== undefined
        ? WebSocketError._from(`Cannot keep connection: the peer broke the protocol (${failure})`, code, "")
        : WebSocketError._from(`Cannot keep connection: it closed without a closing handshake (code ${code}${failure ? `; ${failure}` : ""})`, code, event.reason);
      this.#surface.endStreams(error, code, event.reason);
      this.#surface.settle(error, { closeCode: code, reason: event.reason });
    };
    // Messages whose Blobs are still being read come before the end.
    if (this.#blobs) void this.#blobs.then(finish);
    else finish();
  }
}
