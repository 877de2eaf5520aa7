// Drives one Session over a transport: the glue every byte-level path shares. Not exported
// from mod.ts; WebSocketStream is its public face.
import { Session } from "../core/session.ts";
import type { SessionEvent, SessionOptions } from "../core/session_types.ts";
import { WebSocketError } from "../core/websocket_error.ts";
import type { _Route } from "./direct_pipe.ts";
import type { _RunPiece } from "./frame_run.ts";
import { _PieceReader } from "./piece_reader.ts";
import { _connectionSurface, type _Surface } from "./surface.ts";
import { _timers } from "./timer_heap.ts";
import type { _SharedDeflate, _TopicSink } from "./topic_sink.ts";
import type { _Transport, _TransportSink } from "./transport.ts";
import { _isOutgoingMessage, type WebSocketMessage, type WebSocketSendable } from "./types.ts";

/** What a finished connection reports: the WHATWG `closed` value. */
export interface CloseResult {
  closeCode: number;
  reason: string;
}

type Closed = Extract<SessionEvent, { type: "closed" }>;

const now = () => performance.now();
const HOLD_PONG = { holdPong: true } as const;
const REUSED = { reused: true } as const;
// Decodes text already checked as UTF-8 (a text message whose bytes could not be sent back).
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });
// node:buffer's isUtf8 where the runtime has one (Node, Deno, Bun; found through
// process.getBuiltinModule, which is no import): 16 KiB checked in a tenth to a half of the time
// a decode takes, with no string made.
const isUtf8 = (globalThis as { process?: { getBuiltinModule?: (id: string) => { isUtf8?: (bytes: Uint8Array) => boolean } | undefined } })
  .process?.getBuiltinModule?.("node:buffer")?.isUtf8;

/**
 * @internal A Session over a transport, after the opening handshake. Reads are pulled: when the readable's
 * queue is full the transport is paused (so a slow consumer holds the peer back through TCP);
 * a write resolves when the transport is under its high-water mark. While the transport is over
 * it, a pong waits in the session, replaced by each newer one, so a peer that pings and never
 * reads costs one pong, not a queue. (Reading goes on: what it adds to write is that one pong,
 * and stopping it would deadlock two peers that both write more than the buffers between them
 * hold before each reads what the other wrote.)
 * A peer's violation takes effect at its place in the stream: the messages before it are
 * delivered, what the application writes as it handles them goes out, then the connection fails.
 */
export class _Connection implements _TopicSink, _TransportSink {
  readonly readable: ReadableStream<WebSocketMessage>;
  readonly writable: WritableStream<WebSocketSendable>;
  readonly closed: Promise<CloseResult>;
  readonly session: Session;

  readonly #transport: _Transport;
  readonly #deflating: boolean;
  readonly #deflate: SessionOptions["deflate"];
  readonly #pieces: _PieceReader | undefined;
  // Where received messages go while a direct pipe takes them (the readable's route, kept here:
  // see _Route).
  readonly #route: _Route;
  readonly #readController: ReadableStreamDefaultController<WebSocketMessage>;
  readonly #surface: _Surface<CloseResult>;
  /** @internal Its place in the shared timer heap (-1: none). */
  _timerIndex = -1;
  #timerAt = Infinity;
  #written = 0;
  #sent = 0;
  // Pending while the transport is over its high-water mark; `#overMark` counts writes that found it so.
  // Meanwhile writes wait, and so does a pong.
  #backlog: Promise<void> | undefined;
  #overMark = 0;
  #paused = false;
  // A held violation: the readable's emptiness to wait for, and the writes to send before failing.
  readonly #emptyQueue: number;
  #failTimer = false;
  #failAfter: number | undefined;
  #closeRequest: { code?: number; reason: string } | undefined;
  // A close that waited closeTimeout for earlier writes to go out goes ahead without them.
  #closeForced = false;
  readonly #closeTimeout: number;
  // Aborts a transport whose end has waited closeTimeout for pending writes to go out.
  #endTimer: ReturnType<typeof setTimeout> | undefined;
  #transportDone = false;
  #handling = false; // inside #process's event loop
  #flushing = false; // inside #flush: the Session's output array is lent to the transport
  #readableDone = false;
  #final: Closed | undefined;
  #later: (string | Uint8Array)[] | undefined; // made by the first message that must wait
  #laterBytes = 0;
  // A message was enqueued since #flow last looked at the queue.
  #queueGrew = false;
  // Made by the first ping() (an idle connection may never ping).
  #pings: Map<number, { resolve: (rtt: number) => void; reject: (error: Error) => void }> | undefined;
  // Resolves the readable's pending pull (see _pullWhilePaused), once reading is paused.
  #release: (() => void) | undefined;

  constructor(transport: _Transport, options: Omit<SessionOptions, "now">, leftover?: Uint8Array) {
    this.#transport = transport;
    this.#deflating = options.deflate !== undefined;
    this.#deflate = options.deflate;
    this._topicMode = options.role === "server" ? "frames" : "messages";
    this.#closeTimeout = options.closeTimeout ?? 10_000; // the Session's default
    // Ping events are not handled here (autoPong answers): none is made unless autoPong is off.
    // Where the runtime has a cheap UTF-8 check, an echo piped to this connection's own writable
    // sends a text message's bytes back unmade into a string (see #enqueueText).
    const utf8 = isUtf8;
    const textBytes = utf8 && !options.streamMessages ? () => (this.#route._routesTo(this.#surface) ? utf8 : undefined) : undefined;
    this.session = new Session({
      ...options,
      now: now(),
      deferFailure: true,
      pingEvents: options.autoPong === false,
      textBytes,
      copyBelow: transport.copyBelow,
      _textLength: transport.textLength,
      _textFrom: transport.textFrom,
    });
    this.session.open(now());
    this.#pieces = options.streamMessages ? new _PieceReader(() => this.#flow()) : undefined;
    // The connection is its surface's hooks (streamMessages, pull, cancelled, write, close, queued).
    const surface = this.#surface = _connectionSurface<CloseResult>(this);
    this.readable = surface.readable;
    this.#route = surface.readable._route;
    this.writable = surface.writable;
    this.closed = surface.closed;
    this.#readController = surface.readable._controller;
    this.#emptyQueue = this.#readController.desiredSize ?? 0;
    if (leftover && leftover.length > 0) this.session.receive(leftover, now());
    this.#process();
    transport.start(this);
  }

  /** @internal The transport's sink: bytes from the peer. */
  _received(chunk: Uint8Array, reused?: boolean): void {
    this.session.receive(chunk, now(), reused ? REUSED : undefined);
    this.#process();
  }

  /** @internal For the surface: each received message is a stream of its fragments. */
  get streamMessages(): boolean {
    return this.#pieces !== undefined;
  }

  /** @internal The readable's pull: reads on, and stays pending while reading is not paused (see _pullWhilePaused). */
  pull(): Promise<void> | undefined {
    this.#flow();
    return this.#paused ? undefined : new Promise<void>((resolve) => (this.#release = resolve));
  }

  /** @internal The readable was cancelled. */
  cancelled(): void {
    this.#readableDone = true;
    this.#flow();
  }

  /** @internal The writable's write: sends one message. */
  write(chunk: WebSocketSendable, _piped?: boolean, text?: boolean): Promise<void> | undefined {
    return this.#write(chunk, text);
  }

  /** @internal A write was queued on the writable. */
  queued(): void {
    this.#written++;
  }

  // The readable's queue is full (or the connection ended): the pending pull resolves.
  #pullPaused(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  /** @internal Whether the connection has closed. */
  _ended(): boolean {
    return this.session.state === "closed";
  }

  /** Sends a ping; resolves with the round-trip time in milliseconds. */
  ping(): Promise<number> {
    const id = this.session.ping(now());
    const pings = this.#pings ??= new Map();
    const rtt = new Promise<number>((resolve, reject) => pings.set(id, { resolve, reject }));
    this.#process();
    return rtt;
  }

  /**
   * Starts the closing handshake once every message written so far has gone out, or after
   * closeTimeout without that (a peer that does not read would hold the close back for ever).
   */
  close(code: number | undefined, reason: string): void {
    if (this.#closeRequest) return;
    this.#closeRequest = { code, reason };
    this.#maybeClose();
    if (this.#sent >= this.#written) return;
    _unref(setTimeout(() => {
      this.#closeForced = true;
      this.#maybeClose();
    }, this.#closeTimeout));
  }

  /** @internal Topics: a server's connection takes frames encoded once for many; a client's masks each frame, so it takes messages. */
  readonly _topicMode: "frames" | "messages";

  /** @internal Topics: bytes the transport holds, and frames waiting for a streamed message's end. */
  _backlog(): number {
    return this.#transport.buffered() + this.session._deferredBytes + this.#laterBytes;
  }

  /** @internal Topics: writes one pre-encoded frame, with no other work per connection; the transport holds this turn's writes to send them together. */
  _sendFrame(frame: Uint8Array): boolean {
    if (this.#transportDone) return false;
    const taken = this.session._sendEncoded(frame);
    if (!taken) return false;
    const transport = this.#transport;
    if (taken === "direct" && transport.hold !== undefined) {
      if (!transport.hold(frame)) this.#overMarkNow();
      return true;
    }
    transport.cork?.();
    if (taken === "direct") this.#writeChunks([frame]);
    else this.#flush();
    return true;
  }

  /** @internal Topics: holds a piece of a topic's run of frames, when the transport can and nothing is queued before it. */
  _sendRun(piece: _RunPiece): boolean {
    const transport = this.#transport;
    if (transport.holdRun === undefined || this.#transportDone || !this.session._sendsDirect()) return false;
    if (!transport.holdRun(piece)) this.#overMarkNow();
    return true;
  }

  /** @internal Topics: whether a compressed frame can be shared with this connection. */
  _deflate(): undefined | _SharedDeflate | "own" {
    return this.#deflate ? this.#deflate._shared ?? "own" : undefined;
  }

  /** @internal Topics: one message through this connection's own compression. */
  _sendMessage(data: string | Uint8Array): boolean {
    const state = this.session.state;
    if (this.#transportDone || (state !== "open" && state !== "closingRemote")) return false;
    if (this.session._streaming) {
      // A message is going out in pieces: this one follows its end.
      (this.#later ??= []).push(data);
      this.#laterBytes += typeof data === "string" ? data.length * 3 : data.byteLength;
      return true;
    }
    this.#transport.cork?.();
    this.session.send(data, this.#deflating ? { now: now() } : undefined);
    this.#process();
    return true;
  }

  // Topic messages that waited for a message sent in pieces to end.
  #sendLater(): void {
    const later = this.#later;
    if (later === undefined) return;
    this.#later = undefined;
    this.#laterBytes = 0;
    const state = this.session.state;
    if (state !== "open" && state !== "closingRemote") return;
    for (const data of later) this.session.send(data, this.#deflating ? { now: now() } : undefined);
    this.#process();
  }

  /** @internal Topics: closes now, ahead of queued writes (which then fail). */
  _closeNow(code: number, reason: string): void {
    this.#closeRequest ??= { code, reason };
    const state = this.session.state;
    if (state !== "open" && state !== "closingRemote") return;
    this.session.close(now(), code, reason);
    this.#process();
  }

  #maybeClose(): void {
    const request = this.#closeRequest;
    this.#maybeFail();
    if (!request || (this.#sent < this.#written && !this.#closeForced)) return;
    const state = this.session.state;
    if (state === "open" || state === "closingRemote") {
      this.session.close(now(), request.code, request.reason);
      this.#process();
    }
  }

  // The sink's write: synchronous while the transport is under its high-water mark, so a
  // message costs no promise of ours; a promise only when it must wait.
  #write(chunk: WebSocketSendable, text?: boolean): Promise<void> | undefined {
    if (chunk instanceof ReadableStream) return this.#countSent(this.#writeStream(chunk));
    try {
      // With permessage-deflate, each message is dated, so idle contexts are freed on time.
      if (_isOutgoingMessage(chunk)) this.session.send(chunk.data, { compress: chunk.compress, now: this.#deflating ? now() : undefined });
      else if (text) this.session.send(chunk, { text, now: this.#deflating ? now() : undefined });
      else this.session.send(chunk, this.#deflating ? { now: now() } : undefined);
      this.#process();
    } catch (error) {
      this.#sent++;
      throw error;
    }
    if (this.#backlog) return this.#countSent(this.#backlog);
    this.#sent++;
    this.#maybeClose();
    return undefined;
  }

  // Counts a write as sent once `done` settles, then lets a pending close go out.
  async #countSent(done: Promise<void>): Promise<void> {
    try {
      await done;
    } finally {
      this.#sent++;
      this.#maybeClose();
    }
  }

  // Sends a ReadableStream of bytes as one fragmented binary message, piece by piece.
  async #writeStream(stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.getReader();
    let last: Uint8Array | undefined;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (last) {
        this.session.sendPiece(last, { binary: true, last: false, now: now() });
        this.#process();
        if (this.#backlog) await this.#backlog;
      }
      last = value;
    }
    this.session.sendPiece(last ?? new Uint8Array(0), { binary: true, last: true, now: now() });
    this.#process();
    this.#sendLater();
    if (this.#backlog) await this.#backlog;
  }

  // The transport is over its high-water mark: writes wait until it is under again (a write that
  // found it over meanwhile means another wait), then a held pong goes out.
  async #drain(): Promise<void> {
    for (let seen = -1; seen !== this.#overMark;) {
      seen = this.#overMark;
      await this.#transport.drained();
    }
    this.#backlog = undefined;
    this.#process();
  }

  // Pauses the transport while the consumer holds back, resumes when it reads again. While
  // closing, reading goes on, so the peer's close frame is seen. After a violation nothing more
  // is read.
  #flow(): void {
    const held = this.session.pendingFailure !== undefined;
    // Only an enqueue fills the queue: while reading goes on and nothing was enqueued since the
    // last look, it is not full (the common case, once per message, with a piped readable).
    if (!held && !this.#paused && !this.#queueGrew && this.#pieces === undefined) return;
    this.#queueGrew = false;
    const full = this.session.state === "open" && !this.#readableDone &&
      ((this.#pieces?.full() ?? false) || (this.#readController.desiredSize ?? 1) <= 0);
    // The pull is released while the queue is full, and while a violation waits for the
    // consumer to take the messages before it (each read then calls pull, so #flow sees it).
    if (full || held) this.#pullPaused();
    if (held) this.#failWhenHandled();
    const paused = full || held;
    if (paused === this.#paused) return;
    this.#paused = paused;
    if (paused) this.#transport.pause();
    else this.#transport.resume();
  }

  // A violation the session holds fails the connection once the messages before it are handled:
  // the consumer has taken them all, a task has passed (so what it wrote as it handled them,
  // synchronously or after awaiting a write, was queued), and each write queued by then is out.
  #failWhenHandled(): void {
    if (this.#failTimer || (!this.#readableDone && this.#readController.desiredSize !== this.#emptyQueue)) return;
    this.#failTimer = true;
    setTimeout(() => {
      this.#failAfter = this.#written;
      this.#maybeFail();
    }, 0);
  }

  #maybeFail(): void {
    if (this.#failAfter === undefined || this.#sent < this.#failAfter || !this.session.pendingFailure) return;
    this.session.failPending(now());
    this.#process();
  }

  // Writes the session's output in one go, handles its events, re-arms the timer. While the
  // transport is over its high-water mark, a pong waits in the session. Events are handled by
  // one loop at a time: a message piped straight back (an echo) is written from inside the loop,
  // and that write's own call only flushes, so the next event waits for the loop, not for a
  // deeper call (a read of thousands of small frames would otherwise nest a call per message).
  #process(): void {
    const session = this.session;
    this.#flush();
    if (!this.#handling) {
      this.#handling = true;
      try {
        for (let event = session.nextEvent(); event; event = session.nextEvent()) this.#handle(event);
      } finally {
        this.#handling = false;
      }
    }
    this.#flow();
    this.#arm();
  }

  // Writes the session's output; a pong waits while the transport is over its high-water mark.
  // The array is the Session's own, lent: a flush called from inside the transport's write (none
  // does so today) returns at once, and what it would have written goes out after what is being
  // written, by the loop here, not twice.
  #flush(): void {
    if (this.#flushing) return;
    const session = this.session;
    this.#flushing = true;
    try {
      for (;;) {
        const output = session._lendOutput(this.#backlog ? HOLD_PONG : undefined);
        const count = output.length;
        if (count === 0) return;
        this.#writeChunks(output);
        session._outputWritten(output, count);
      }
    } finally {
      this.#flushing = false;
    }
  }

  #writeChunks(output: (Uint8Array | string)[]): void {
    if (output.length === 0 || this.#transportDone) return;
    const transport = this.#transport;
    // Strings only for a transport that writes them (it gave the session its textLength).
    if (!(transport.writeText ? transport.writeText(output) : transport.write(output as Uint8Array[]))) this.#overMarkNow();
  }

  // A write found the transport over its high-water mark: writes wait for it to drain.
  #overMarkNow(): void {
    this.#overMark++;
    this.#backlog ??= this.#drain();
  }

  #handle(event: SessionEvent): void {
    switch (event.type) {
      case "message":
        if (this.#readableDone) return;
        if (event.text) return this.#enqueueText(event.data as Uint8Array);
        this.#enqueue(event.view && !this.#route._routesTo(this.#surface) ? (event.data as Uint8Array).slice() : event.data);
        return;
      case "piece": {
        const stream = this.#pieces!.push(event);
        if (stream && !this.#readableDone) this.#enqueue(stream as unknown as WebSocketMessage);
        return;
      }
      case "pong":
        if (event.id === undefined || !this.#pings) return;
        for (const [id, ping] of this.#pings) {
          if (id > event.id) continue;
          ping.resolve(event.rtt!);
          this.#pings.delete(id);
        }
        return;
      case "closed":
        this.#final = event;
        return this.#endStreams(event);
      case "closeTransport":
        void this.#endTransport().finally(() => this._transportEnded());
        return;
    }
  }

  // A text message's checked UTF-8 bytes (textBytes): sent back as they are while the readable is
  // piped to this connection's own writable, else decoded as any text message is.
  #enqueueText(bytes: Uint8Array): void {
    if (this.#route._routesTo(this.#surface) && this.#route._deliver(bytes, true)) return;
    this.#enqueue(utf8Decoder.decode(bytes));
  }

  // A received message goes to the readable's queue, or straight to where the readable is piped.
  #enqueue(message: WebSocketMessage): void {
    if (this.#route._deliver(message)) return;
    this.#queueGrew = true;
    this.#readController.enqueue(message);
  }

  #endStreams(event: Closed): void {
    const error = event.wasClean ? undefined : _closeError(event);
    this.#surface.endStreams(error, event.code, event.reason);
    this.#pieces?.end(error ?? WebSocketError._from("Cannot read message: the connection closed inside it", event.code, event.reason));
    for (const ping of this.#pings?.values() ?? []) ping.reject(WebSocketError._from("Cannot ping: the connection closed", event.code, event.reason));
    this.#pings?.clear();
    this.#pullPaused();
    this.#settle();
  }

  /** @internal The transport's sink: the peer ended, or the transport failed or closed. */
  _transportEnded(): void {
    if (!this.#transportDone) {
      this.#transportDone = true;
      this.session.transportClosed(now());
      this.#process();
      void this.#endTransport();
    }
    this.#settle();
  }

  // Ends the transport once its pending writes are out; after closeTimeout without that (a peer
  // that does not read), aborts it.
  #endTransport(): Promise<void> {
    this.#endTimer ??= _unref(setTimeout(() => this.#transport.abort(), this.#closeTimeout));
    return this.#transport.end().finally(() => clearTimeout(this.#endTimer));
  }

  // `closed` settles once the protocol is closed and the transport has ended.
  #settle(): void {
    const final = this.#final;
    if (!final || !this.#transportDone) return;
    _timers.cancel(this);
    this.#timerAt = -Infinity;
    this.#surface.settle(final.wasClean ? undefined : _closeError(final), { closeCode: final.code, reason: final.reason });
  }

  // One deadline in the shared timer heap for the session's next deadline. A later deadline
  // (the heartbeat moves with every message) keeps the earlier one, which re-arms when it
  // fires: no heap churn per message.
  #arm(): void {
    const deadline = this.session.nextDeadline();
    if (deadline === undefined || deadline >= this.#timerAt || this.#timerAt === -Infinity) return;
    this.#timerAt = deadline;
    _timers.schedule(this, deadline);
  }

  /** @internal The shared timer heap calls this once the deadline armed last has passed. */
  _timerFired(): void {
    this.#timerAt = Infinity;
    // A consumer holding back the readable keeps the peer's data unread in our buffers: that
    // peer is alive, and its pong may be among the unread bytes.
    if (this.#paused) this.session.keepAlive(now());
    this.session.handleTimeout(now());
    this.#process();
  }
}

// The transport keeps a process alive, not the connection's timers (Node and Bun timers have unref).
function _unref(timer: ReturnType<typeof setTimeout>): ReturnType<typeof setTimeout> {
  (timer as { unref?: () => void }).unref?.();
  return timer;
}

function _closeError(event: Closed): WebSocketError {
  return WebSocketError._from(event.error?.message ?? "Cannot keep connection: it closed without a closing handshake", event.code, event.reason);
}
