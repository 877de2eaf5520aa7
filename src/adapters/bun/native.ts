// The message-level path on Bun: Bun.serve's own framing (ServerWebSocket) behind a
// WebSocketStream, through a _ConnectionLike per connection.
import { toBytes } from "../../core/message_encoder.ts";
import { WebSocketError } from "../../core/websocket_error.ts";
import { _isOutgoingMessage, type WebSocketMessage, type WebSocketSendable } from "../../streams/types.ts";
import type { _ConnectionLike, WebSocketStreamCloseInfo } from "../../streams/websocket_stream.ts";
import type { BunServer, BunServerWebSocket } from "./types.ts";
import type { _NativeGroup, _NativeTopics, _TopicSink } from "../../streams/topic_sink.ts";
import { _readAll } from "../../core/bytes.ts";
import type { _Route } from "../../streams/direct_pipe.ts";
import { _bufferedBound, _connectionSurface, _pullWhilePaused, type _Surface } from "../../streams/surface.ts";
import type { BufferSourceLike } from "../../core/web_types.ts";

// Bytes Bun may hold for a connection before a write waits for `drain`.
const WRITE_HIGH_WATER = 1024 * 1024;
// Bun's reason when a message exceeds maxPayloadLength (it reports 1006 locally, sends 1009).
const TOO_BIG = "Received too big message";
// Bun's reason when a text message is not UTF-8 (it reports 1006 locally, sends 1007).
const BAD_UTF8 = "Received invalid UTF-8";
// How Bun's reasons for the peer's other violations begin ("Received unexpected RSV1 bit",
// "Received invalid close code", ...): it reports 1006 locally and sends 1002.
const RECEIVED = "Received ";

/**
 * @internal One Bun server's topics: Bun's `server.publish`, which frames a message once for all
 * its subscribers. A connection subscribed before Bun opened it (Bun cannot subscribe it yet)
 * gets what is published meanwhile when it opens, then Bun's subscription.
 */
class _BunGroup implements _NativeGroup {
  readonly #server: BunServer;
  readonly opening = new Set<_NativeConnection>();

  constructor(server: BunServer) {
    this.#server = server;
  }

  publish(topic: string, data: string | Uint8Array): void {
    this.#server.publish(topic, data, false);
    for (const connection of this.opening) connection._early(topic, data);
  }
}

const groups = new WeakMap<BunServer, _BunGroup>();

/** @internal A ServerWebSocket as a WebSocketStream's connection. */
export class _NativeConnection implements _ConnectionLike, _TopicSink {
  readonly readable: ReadableStream<WebSocketMessage>;
  readonly writable: WritableStream<WebSocketSendable>;
  readonly closed: Promise<WebSocketStreamCloseInfo>;
  readonly #maxMessageSize: number;
  readonly #streamMessages: boolean;
  #ws: BunServerWebSocket<_NativeConnection> | undefined;
  #opened!: () => void;
  readonly #open: Promise<void>;
  // Where received messages go while a direct pipe takes them (the readable's route, kept here:
  // see _Route).
  readonly #route: _Route;
  readonly #reads: ReadableStreamDefaultController<WebSocketMessage>;
  readonly #surface: _Surface<WebSocketStreamCloseInfo>;
  #done = false;
  #readableDone = false;
  #paused = false;
  readonly #pull = _pullWhilePaused(() => {
    this.#resume();
    return this.#paused;
  });
  #drained: (() => void) | undefined;
  // At most what Bun buffers: getBufferedAmount() when last read, plus every byte sent since.
  // While it is under the high-water mark, a write need not ask Bun.
  #buffered = 0;
  #written = 0;
  #sent = 0;
  #closeRequest: { code: number | undefined; reason: string } | undefined;
  #failure: WebSocketError | undefined;
  #pingId = 0;
  #pings = new Map<number, { sentAt: number; resolve: (rtt: number) => void; reject: (error: Error) => void }>();

  readonly #topics: _NativeTopics | undefined;
  // Before Bun opens the socket: the topics to subscribe at open, and what they got meanwhile.
  #pendingTopics = new Set<string>();
  #early: (string | Uint8Array)[] = [];

  constructor(options: { maxMessageSize: number; streamMessages?: boolean; server?: BunServer }) {
    this.#maxMessageSize = options.maxMessageSize;
    const server = options.server;
    if (server) {
      let group = groups.get(server);
      if (!group) groups.set(server, group = new _BunGroup(server));
      const bunGroup = group;
      this.#topics = {
        group,
        subscribe: (topic) => {
          if (this.#done || this.#closeRequest) return;
          if (this.#ws) return this.#ws.subscribe(topic);
          this.#pendingTopics.add(topic);
          bunGroup.opening.add(this);
        },
        unsubscribe: (topic) => {
          if (this.#ws && !this.#done) this.#ws.unsubscribe(topic);
          this.#pendingTopics.delete(topic);
        },
      };
    }
    this.#streamMessages = options.streamMessages ?? false;
    this.#open = new Promise((resolve) => (this.#opened = resolve));
    const surface = this.#surface = _connectionSurface<WebSocketStreamCloseInfo>({
      streamMessages: this.#streamMessages,
      pull: this.#pull.pull,
      cancelled: () => {
        this.#readableDone = true;
        this.#resume();
      },
      write: (chunk) => this.#write(chunk),
      close: (code, reason) => this.close(code, reason),
      queued: () => this.#written++,
    });
    this.readable = surface.readable;
    this.#route = surface.readable._route;
    this.writable = surface.writable;
    this.closed = surface.closed;
    this.#reads = surface.readable._controller;
  }

  /** Sends a ping with a 4-byte id; resolves with the round-trip time when its pong arrives. */
  ping(): Promise<number> {
    const ws = this.#ws;
    if (!ws || this.#done || this.#closeRequest) {
      return Promise.reject(new DOMException(`Cannot ping: the connection is ${this.#done || this.#closeRequest ? "closing or closed" : "not open yet"}`, "InvalidStateError"));
    }
    const id = ++this.#pingId;
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, id);
    return new Promise((resolve, reject) => {
      this.#pings.set(id, { sentAt: performance.now(), resolve, reject });
      ws.ping(payload);
    });
  }

  /** Closes once every message written so far has been handed to Bun (Bun sends them first). */
  close(code: number | undefined, reason: string): void {
    if (this.#closeRequest || this.#done) return;
    this.#closeRequest = { code, reason };
    this.#leaveTopics();
    this.#resume(); // read on, so the peer's close frame is seen
    void this.#maybeClose();
  }

  // Once close() is called, Bun's publish reaches it no more (as Topics' own paths do).
  #leaveTopics(): void {
    if (!this.#topics) return;
    this.#pendingTopics.clear();
    const ws = this.#ws;
    if (ws && !this.#done) for (const topic of ws.subscriptions ?? []) ws.unsubscribe(topic);
  }

  async #maybeClose(): Promise<void> {
    const request = this.#closeRequest;
    if (!request || this.#sent < this.#written) return;
    await this.#open;
    if (this.#done) return;
    if (request.code === undefined) this.#ws!.close();
    else this.#ws!.close(request.code, request.reason);
  }

  #resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#ws?.resume?.();
  }

  // The sink's write. Bun's socket compresses (or not) by itself: per-message options do not
  // apply. On an open socket under the high-water mark a message Bun takes at once costs no
  // promise of ours; otherwise the write waits (for open, a stream, or drain).
  #write(written: WebSocketSendable): Promise<void> | undefined {
    const chunk = _isOutgoingMessage(written) ? written.data : written;
    const ws = this.#ws;
    if (ws && !this.#done && !(chunk instanceof ReadableStream) && (this.#buffered <= WRITE_HIGH_WATER || (this.#buffered = ws.getBufferedAmount()) <= WRITE_HIGH_WATER)) {
      let result: number;
      let data: string | Uint8Array;
      try {
        data = typeof chunk === "string" ? chunk : toBytes(chunk);
        result = ws.send(data);
      } catch (error) {
        this.#sent++;
        void this.#maybeClose();
        throw error;
      }
      if (result < 0) return this.#writeLater(undefined); // queued under backpressure: wait for drain
      this.#sent++;
      if (this.#closeRequest) void this.#maybeClose();
      if (!sentWhole(result, data, ws)) throw notSent();
      this.#buffered += _bufferedBound(data);
      return undefined;
    }
    return this.#writeLater(chunk);
  }

  async #writeLater(chunk: string | BufferSourceLike | ReadableStream<Uint8Array> | undefined): Promise<void> {
    try {
      if (chunk === undefined) return await this.#drainedOpen();
      const data = typeof chunk === "string" ? chunk : chunk instanceof ReadableStream ? await _readAll(chunk) : toBytes(chunk);
      await this.#open;
      for (;;) {
        const ws = this.#ws!;
        if (this.#done) throw notSent();
        if ((this.#buffered = ws.getBufferedAmount()) <= WRITE_HIGH_WATER) break;
        await this.#drain();
      }
      const result = this.#ws!.send(data);
      if (!sentWhole(result, data, this.#ws!)) throw notSent();
      this.#buffered += _bufferedBound(data);
      if (result < 0) await this.#drainedOpen();
    } finally {
      this.#sent++;
      void this.#maybeClose();
    }
  }

  #drain(): Promise<void> {
    return new Promise((resolve) => (this.#drained = resolve));
  }

  // A message Bun queued under backpressure (-1) went out when Bun drains; if the connection
  // closes first, it may never have left Bun's buffer, and its write rejects.
  async #drainedOpen(): Promise<void> {
    await this.#drain();
    if (this.#done) throw notSent();
  }

  /** @internal Topics: Bun frames each message (and publishes through {@linkcode _BunGroup}). */
  readonly _topicMode = "messages";

  /** @internal Topics: Bun's publish for this server. */
  _native(): _NativeTopics | undefined {
    return this.#topics;
  }

  /**
   * @internal Topics: what Bun holds for this connection, read from Bun (what Bun's publish
   * wrote is in it too), which also refreshes the bound writes go by; before the open, what
   * waits for it.
   */
  _backlog(): number {
    if (this.#done) return 0;
    return this.#ws ? (this.#buffered = this.#ws.getBufferedAmount()) : this.#buffered;
  }

  /** @internal Topics: never called in `"messages"` mode. */
  _sendFrame(): boolean {
    return false;
  }

  /** @internal Topics: Bun's compression is off on this path. */
  _deflate(): undefined {
    return undefined;
  }

  /** @internal Topics: one message, straight to Bun (before open: when it opens). */
  _sendMessage(data: string | Uint8Array): boolean {
    if (this.#done || this.#closeRequest) return false;
    if (!this.#ws) this.#early.push(data);
    else this.#ws.send(data);
    this.#buffered += _bufferedBound(data);
    return true;
  }

  /** @internal Topics: a message published to `topic` before Bun opened this socket. */
  _early(topic: string, data: string | Uint8Array): void {
    if (!this.#pendingTopics.has(topic)) return;
    this.#early.push(data);
    this.#buffered += _bufferedBound(data);
  }

  /** @internal Topics: closes now, ahead of queued writes. */
  _closeNow(code: number, reason: string): void {
    if (this.#done) return;
    this.#closeRequest ??= { code, reason };
    if (this.#ws) this.#ws.close(code, reason);
    else void this.#open.then(() => this.#done || this.#ws!.close(code, reason));
  }

  /** @internal Bun's `open`. */
  _open(ws: BunServerWebSocket<_NativeConnection>): void {
    this.#ws = ws;
    ws.binaryType = "uint8array";
    // What topics got before the open goes first, then Bun's own subscriptions take over.
    const early = this.#early;
    this.#early = [];
    for (const data of early) ws.send(data);
    for (const topic of this.#pendingTopics) ws.subscribe(topic);
    this.#pendingTopics.clear();
    if (this.#topics) (this.#topics.group as _BunGroup).opening.delete(this);
    this.#opened();
  }

  /** @internal Bun's `message`: enqueued, and reads paused while the readable is full. */
  _message(message: string | Uint8Array): void {
    if (this.#readableDone || this.#done) return;
    if (byteLength(message, this.#maxMessageSize) > this.#maxMessageSize) {
      this.#failure = WebSocketError._from(`Cannot receive message: it is over maxMessageSize (${this.#maxMessageSize} bytes)`, 1009, "");
      return this.#ws!.close(1009, "");
    }
    const data = typeof message === "string" || message.constructor === Uint8Array ? message : new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
    const received = this.#streamMessages ? oneChunkMessage(data) : data;
    if (this.#route._deliver(received)) return;
    this.#reads.enqueue(received);
    if ((this.#reads.desiredSize ?? 1) <= 0 && !this.#closeRequest && this.#ws!.pause) {
      this.#paused = true;
      this.#ws!.pause();
      this.#pull.paused();
    }
  }

  /** @internal Bun's `drain`. */
  _drain(): void {
    this.#buffered = this.#ws?.getBufferedAmount() ?? 0;
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.();
  }

  /** @internal Bun's `pong`: settles the pings up to its id. */
  _pong(data: Uint8Array): void {
    if (data.byteLength !== 4) return; // Bun's own heartbeat pings are empty
    const id = new DataView(data.buffer, data.byteOffset, 4).getUint32(0);
    for (const [key, ping] of this.#pings) {
      if (key > id) break;
      ping.resolve(performance.now() - ping.sentAt);
      this.#pings.delete(key);
    }
  }

  /** @internal Whether the connection has closed. */
  _ended(): boolean {
    return this.#done;
  }

  /** @internal Bun's `close`: 1006 means no closing handshake (Bun also reports heartbeat failures so). */
  _close(code: number, reason: string): void {
    this.#done = true;
    if (this.#topics) (this.#topics.group as _BunGroup).opening.delete(this);
    this.#early = [];
    let error = this.#failure;
    if (!error && code === 1006) {
      error = reason === TOO_BIG
        ? WebSocketError._from("Cannot receive message: it is over maxMessageSize", 1009, "")
        : reason === BAD_UTF8
        ? WebSocketError._from("Cannot decode message: text is not valid UTF-8", 1007, "")
        : reason.startsWith(RECEIVED)
        ? WebSocketError._from(`Cannot keep connection: the peer broke the protocol (${reason})`, 1002, "")
        : WebSocketError._from(`Cannot keep connection: ${reason || "it closed without a closing handshake"}`, 1006, "");
    }
    this.#surface.endStreams(error, code, reason);
    this._drain();
    this.#opened(); // a connection that never opened
    for (const ping of this.#pings.values()) ping.reject(WebSocketError._from("Cannot ping: the connection closed", code, reason));
    this.#pings.clear();
    this.#surface.settle(error, { closeCode: code, reason });
  }
}

// Whether Bun took a message: send() returns the payload's byte count (so 0 for an empty
// message), -1 when it queued the message under backpressure, and 0 when it dropped it. With
// backpressureLimit at its maximum (see mod.ts), Bun drops only on a socket that is not open.
function sentWhole(result: number, data: string | Uint8Array, ws: BunServerWebSocket<_NativeConnection>): boolean {
  return result !== 0 || (data.length === 0 && ws.readyState === 1);
}

function notSent(): WebSocketError {
  return WebSocketError._from("Cannot send: the connection is closing or closed", null, "");
}

// A message's length in bytes, encoding a string only when its UTF-8 length could pass `max`.
function byteLength(message: string | Uint8Array, max: number): number {
  if (typeof message !== "string") return message.byteLength;
  return message.length > max || message.length * 3 <= max ? message.length : new TextEncoder().encode(message).byteLength;
}


// With streamMessages, a whole message as a one-chunk stream with its `binary` flag.
function oneChunkMessage(data: string | Uint8Array): WebSocketMessage {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  }) as ReadableStream<Uint8Array> & { binary: boolean };
  stream.binary = typeof data !== "string";
  return stream as unknown as WebSocketMessage;
}
