// Drives one Session over a transport: the glue every byte-level path shares. Not exported
// from mod.ts; WebSocketStream is its public face.
import { Session } from "../core/session.ts";
import type { SessionEvent, SessionOptions } from "../core/session_types.ts";
import { WebSocketError } from "../core/websocket_error.ts";
import type { _MessageReadable } from "./direct_pipe.ts";
import { _PieceReader } from "./piece_reader.ts";
import { _connectionSurface, _pullWhilePaused, type _Surface } from "./surface.ts";
import type { _SharedDeflate, _TopicSink } from "./topic_sink.ts";
import type { _Transport } from "./transport.ts";
import { _isOutgoingMessage, type WebSocketMessage, type WebSocketSendable } from "./types.ts";

/** What a finished connection reports: the WHATWG `closed` value. */
export interface CloseResult {
  closeCode: number;
  reason: string;
}

type Closed = Extract<SessionEvent, { type: "closed" }>;

const now = () => performance.now();

/**
 * A Session over a transport, after the opening handshake. Reads are pulled: when the readable's
 * queue is full the transport is paused (so a slow consumer holds the peer back through TCP);
 * a write resolves when the transport is under its high-water mark.
 */
export class _Connection implements _TopicSink {
  readonly readable: ReadableStream<WebSocketMessage>;
  readonly writable: WritableStream<WebSocketSendable>;
  readonly closed: Promise<CloseResult>;
  readonly session: Session;

  readonly #transport: _Transport;
  readonly #deflating: boolean;
  readonly #deflate: SessionOptions["deflate"];
  readonly #pieces: _PieceReader | undefined;
  readonly #readable: _MessageReadable;
  readonly #readController: ReadableStreamDefaultController<WebSocketMessage>;
  readonly #surface: _Surface<CloseResult>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #written = 0;
  #sent = 0;
  #underWaterMark = true;
  #paused = false;
  #closeRequest: { code?: number; reason: string } | undefined;
  #transportDone = false;
  #readableDone = false;
  #final: Closed | undefined;
  #later: (string | Uint8Array)[] = [];
  #laterBytes = 0;
  #pings = new Map<number, { resolve: (rtt: number) => void; reject: (error: Error) => void }>();
  readonly #pull = _pullWhilePaused(() => {
    this.#flow();
    return this.#paused;
  });

  constructor(transport: _Transport, options: Omit<SessionOptions, "now">, leftover?: Uint8Array) {
    this.#transport = transport;
    this.#deflating = options.deflate !== undefined;
    this.#deflate = options.deflate;
    this._topicMode = options.role === "server" ? "frames" : "messages";
    this.session = new Session({ ...options, now: now() });
    this.session.open(now());
    const surface = this.#surface = _connectionSurface<CloseResult>({
      streamMessages: options.streamMessages,
      pull: this.#pull.pull,
      cancelled: () => {
        this.#readableDone = true;
        this.#flow();
      },
      write: (chunk) => this.#write(chunk),
      close: (code, reason) => this.close(code, reason),
      queued: () => this.#written++,
    });
    this.readable = this.#readable = surface.readable;
    this.writable = surface.writable;
    this.closed = surface.closed;
    this.#readController = surface.readable._controller;
    this.#pieces = options.streamMessages ? new _PieceReader(() => this.#flow()) : undefined;
    if (leftover && leftover.length > 0) this.session.receive(leftover, now());
    this.#process();
    transport.start((chunk) => {
      this.session.receive(chunk, now());
      this.#process();
    }, () => this.#transportEnded());
  }

  /** Sends a ping; resolves with the round-trip time in milliseconds. */
  ping(): Promise<number> {
    const id = this.session.ping(now());
    const rtt = new Promise<number>((resolve, reject) => this.#pings.set(id, { resolve, reject }));
    this.#process();
    return rtt;
  }

  /** Starts the closing handshake once every message written so far has gone out. */
  close(code: number | undefined, reason: string): void {
    if (this.#closeRequest) return;
    this.#closeRequest = { code, reason };
    this.#maybeClose();
  }

  /** @internal Topics: a server's connection takes frames encoded once for many; a client's masks each frame, so it takes messages. */
  readonly _topicMode: "frames" | "messages";

  /** @internal Topics: bytes the transport holds, and frames waiting for a streamed message's end. */
  _backlog(): number {
    return this.#transport.buffered() + this.session._deferredBytes + this.#laterBytes;
  }

  /** @internal Topics: writes one pre-encoded frame, with no other work per connection. */
  _sendFrame(frame: Uint8Array): boolean {
    if (this.#transportDone || !this.session._sendEncoded(frame)) return false;
    const output = this.session.takeOutput();
    if (output.length > 0) this.#underWaterMark = this.#transport.write(output);
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
      this.#later.push(data);
      this.#laterBytes += typeof data === "string" ? data.length * 3 : data.byteLength;
      return true;
    }
    this.session.send(data, this.#deflating ? { now: now() } : undefined);
    this.#process();
    return true;
  }

  // Topic messages that waited for a message sent in pieces to end.
  #sendLater(): void {
    const later = this.#later;
    if (later.length === 0) return;
    this.#later = [];
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
    if (!request || this.#sent < this.#written) return;
    const state = this.session.state;
    if (state === "open" || state === "closingRemote") {
      this.session.close(now(), request.code, request.reason);
      this.#process();
    }
  }

  // The sink's write: synchronous while the transport is under its high-water mark, so a
  // message costs no promise of ours; a promise only when it must wait.
  #write(chunk: WebSocketSendable): Promise<void> | undefined {
    if (chunk instanceof ReadableStream) return this.#countSent(this.#writeStream(chunk));
    try {
      // With permessage-deflate, each message is dated, so idle contexts are freed on time.
      if (_isOutgoingMessage(chunk)) this.session.send(chunk.data, { compress: chunk.compress, now: this.#deflating ? now() : undefined });
      else this.session.send(chunk, this.#deflating ? { now: now() } : undefined);
      this.#process();
    } catch (error) {
      this.#sent++;
      throw error;
    }
    if (!this.#underWaterMark) return this.#countSent(this.#drained());
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
        if (!this.#underWaterMark) await this.#drained();
      }
      last = value;
    }
    this.session.sendPiece(last ?? new Uint8Array(0), { binary: true, last: true, now: now() });
    this.#process();
    this.#sendLater();
    if (!this.#underWaterMark) await this.#drained();
  }

  async #drained(): Promise<void> {
    await this.#transport.drained();
    this.#underWaterMark = true;
  }

  // Pauses the transport while the consumer holds back, resumes when it reads again. While
  // closing, reading goes on, so the peer's close frame is seen.
  #flow(): void {
    const full = !this.#readableDone && this.session.state === "open" &&
      ((this.#pieces?.full() ?? false) || (this.#readController.desiredSize ?? 1) <= 0);
    if (full === this.#paused) return;
    this.#paused = full;
    if (full) {
      this.#transport.pause();
      this.#pull.paused();
    } else this.#transport.resume();
  }

  // Writes the session's output in one go, handles its events, re-arms the timer.
  #process(): void {
    const session = this.session;
    const output = session.takeOutput();
    if (output.length > 0 && !this.#transportDone) this.#underWaterMark = this.#transport.write(output);
    for (let event = session.nextEvent(); event; event = session.nextEvent()) this.#handle(event);
    this.#flow();
    this.#arm();
  }

  #handle(event: SessionEvent): void {
    switch (event.type) {
      case "message":
        if (!this.#readableDone) this.#enqueue(event.data);
        return;
      case "piece": {
        const stream = this.#pieces!.push(event);
        if (stream && !this.#readableDone) this.#enqueue(stream as unknown as WebSocketMessage);
        return;
      }
      case "pong":
        if (event.id === undefined) return;
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
        void this.#transport.end().finally(() => this.#transportEnded());
        return;
    }
  }

  // A received message goes to the readable's queue, or straight to where the readable is piped.
  #enqueue(message: WebSocketMessage): void {
    if (!this.#readable._deliver(message)) this.#readController.enqueue(message);
  }

  #endStreams(event: Closed): void {
    const error = event.wasClean ? undefined : _closeError(event);
    this.#surface.endStreams(error, event.code, event.reason);
    this.#pieces?.end(error ?? WebSocketError._from("Cannot read message: the connection closed inside it", event.code, event.reason));
    for (const ping of this.#pings.values()) ping.reject(WebSocketError._from("Cannot ping: the connection closed", event.code, event.reason));
    this.#pings.clear();
    this.#pull.paused();
    this.#settle();
  }

  #transportEnded(): void {
    if (!this.#transportDone) {
      this.#transportDone = true;
      this.session.transportClosed(now());
      this.#process();
      void this.#transport.end();
    }
    this.#settle();
  }

  // `closed` settles once the protocol is closed and the transport has ended.
  #settle(): void {
    const final = this.#final;
    if (!final || !this.#transportDone) return;
    clearTimeout(this.#timer);
    this.#timerAt = -Infinity;
    this.#surface.settle(final.wasClean ? undefined : _closeError(final), { closeCode: final.code, reason: final.reason });
  }

  // One timer for the session's next deadline. A later deadline (the heartbeat moves with every
  // message) keeps the earlier timer, which re-arms when it fires: no timer churn per message.
  #arm(): void {
    const deadline = this.session.nextDeadline();
    if (deadline === undefined || deadline >= this.#timerAt || this.#timerAt === -Infinity) return;
    clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => {
      this.#timerAt = Infinity;
      // A consumer holding back the readable keeps the peer's data unread in our buffers: that
      // peer is alive, and its pong may be among the unread bytes.
      if (this.#paused) this.session.keepAlive(now());
      this.session.handleTimeout(now());
      this.#process();
    }, Math.max(0, deadline - now()));
    // The transport keeps a process alive, not the heartbeat (Node and Bun timers have unref).
    (this.#timer as { unref?: () => void }).unref?.();
  }
}

function _closeError(event: Closed): WebSocketError {
  return WebSocketError._from(event.error?.message ?? "Cannot keep connection: it closed without a closing handshake", event.code, event.reason);
}
