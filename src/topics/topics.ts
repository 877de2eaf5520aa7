// Publish/subscribe over WebSocket connections, runtime-free: subscriptions, a publish framed
// once for every subscriber, and a bound on what a slow subscriber may hold.
import type { DeflateEngine, DeflateEngines } from "../core/deflate.ts";
import { FrameEncoder } from "../core/frame_encoder.ts";
import { toBytes } from "../core/message_encoder.ts";
import type { BufferSourceLike } from "../core/web_types.ts";
import { _FrameRun, _RunPiece } from "../streams/frame_run.ts";
import type { _NativeGroup, _NativeTopics, _SharedDeflate, _TopicSink } from "../streams/topic_sink.ts";
import { WebSocketStream } from "../streams/websocket_stream.ts";
import { _envelope, _openEnvelope, type Backplane } from "./backplane.ts";

/** Options for {@linkcode Topics}. */
export interface TopicsOptions {
  /** Reaches the hubs of other processes (wsflow/redis, wsflow/nats). @default {none: this process only} */
  backplane?: Backplane;
  /**
   * The most bytes a connection may have waiting to be sent (unsent topic messages and its own
   * writes) for a publish to be written to it. @default {1048576}
   */
  maxBacklog?: number;
  /**
   * What happens to a subscriber whose backlog would pass `maxBacklog`: `"close"` closes it
   * with 1013 (try again later), so its client reconnects and catches up from the application's
   * state; `"drop"` skips the messages that do not fit, and it stays subscribed. @default {"close"}
   */
  slowSubscriber?: "close" | "drop";
}

/** The close code for a subscriber past its backlog limit: 1013, try again later (RFC 6455 section 7.4.1, IANA registry). */
const SLOW_CLOSE = 1013;

interface _Subscriber {
  sink: _TopicSink;
  topics: Set<string>;
  native: _NativeTopics | undefined;
  paused: boolean;
  // How a publish reaches it, fixed once the connection is open: the frame it shares with the
  // others of its variant, or (undefined) a message through its own framing.
  variant: _Variant | undefined;
}

// The frames a group of subscribers share: plain, or compressed by one engine (one window
// size, no context takeover) from `threshold` bytes up.
interface _Variant {
  engine: DeflateEngine | undefined;
  threshold: number;
}

interface _Topic {
  members: Set<_Subscriber>;
  // The members with no variant: each publish reaches them one by one.
  others: Set<_Subscriber>;
  // This turn's runs of frames, one per variant, while publishes may still be appended to them.
  runs: Map<_Variant, _OpenRun> | undefined;
  listeners: Set<(message: string | Uint8Array) => void>;
  groups: Map<_NativeGroup, number>;
  ready: Promise<void>;
  // The last sequence number seen from each publishing hub, for this topic.
  seen: Map<string, number>;
}

// A topic's run of one variant's frames (src/streams/frame_run.ts): each member of that variant
// holds a piece of it from the turn's first publish, so a later publish in the turn costs one
// append, not one write per member. `extra`: frame bytes appended since; a holder's backlog
// passes the limit once `extra` does `limit`. `individual`: members whose transport cannot hold
// a piece.
interface _OpenRun {
  run: _FrameRun;
  extra: number;
  limit: number;
  individual: _Subscriber[];
}

interface _Group {
  members: Set<_Subscriber>;
  // "drop": members taken out of the runtime's topics while over the limit.
  paused: Set<_Subscriber>;
  sinceCheck: number;
  margin: number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
const MAX_ORIGINS = 1024;
// The most frames a run takes before a publish starts a new one.
const MAX_RUN = 4096;

/**
 * Topics: subscribe connections, publish a string or bytes to everyone subscribed, from
 * anywhere in the process. Every subscriber gets each message once, in the order each
 * publisher published (across processes too, with a {@linkcode Backplane}); a connection
 * leaves all its topics when it closes.
 *
 * A publish frames the message once: on wsflow's codec (Node, `mode: "codec"` on Deno and
 * Bun) the same frame's bytes are written to every subscriber. With permessage-deflate, the
 * subscribers that negotiated no server context takeover share one compressed frame per
 * window size; those that keep a context get the message compressed on their own. On Bun's
 * native path Bun's own `server.publish` is used; Deno's native path sends to each socket.
 *
 * Each connection has a backlog limit (`maxBacklog`): a subscriber that does not read costs at
 * most that much, then `slowSubscriber` applies.
 *
 * @example Publish with nobody subscribed yet
 * ```ts
 * import { Topics } from "@wsflow/wsflow";
 *
 * const topics = new Topics({ maxBacklog: 64 * 1024, slowSubscriber: "close" });
 * await topics.publish("news", "nobody listens yet");
 * console.log(topics.subscribers("news")); // 0
 * await topics.close();
 * ```
 *
 * @example A chat room
 * ```ts ignore
 * import { Topics, upgradeWebSocket } from "@wsflow/wsflow";
 * import { serve } from "@wsflow/wsflow/serve";
 *
 * const topics = new Topics();
 * await serve({ port: 8080 }, async (request) => {
 *   const { socket, response } = await upgradeWebSocket(request);
 *   if (!socket) return response;
 *   topics.subscribe(socket, "room");
 *   void socket.opened.then(async ({ readable }) => {
 *     for await (const message of readable) topics.publish("room", message);
 *   });
 *   return response;
 * });
 * ```
 */
export class Topics {
  readonly #backplane: Backplane | undefined;
  readonly #maxBacklog: number;
  readonly #drop: boolean;
  readonly #topics = new Map<string, _Topic>();
  readonly #subscribers = new Map<_TopicSink, _Subscriber>();
  readonly #groups = new Map<_NativeGroup, _Group>();
  readonly #encoder = new FrameEncoder({ role: "server", copyThreshold: Infinity });
  readonly #deflaters = new Map<DeflateEngines, Map<number, DeflateEngine>>();
  readonly #plain: _Variant = { engine: undefined, threshold: Infinity };
  readonly #variants = new Map<DeflateEngine, Map<number, _Variant>>();
  readonly #origin = crypto.getRandomValues(new Uint8Array(8));
  readonly #originKey: string;
  readonly #opened: Promise<void>;
  #seq = 0;
  #closed = false;

  /**
   * Creates a hub; with a backplane, opens it.
   *
   * @throws {RangeError} When `maxBacklog` is not a positive number.
   * @throws {TypeError} When `slowSubscriber` is neither "close" nor "drop".
   */
  constructor(options: TopicsOptions = {}) {
    const max = options.maxBacklog ?? 1024 * 1024;
    if (!(max > 0)) throw new RangeError(`Cannot create Topics: maxBacklog must be a number of bytes above 0, got ${max}`);
    const policy = options.slowSubscriber ?? "close";
    if (policy !== "close" && policy !== "drop") throw new TypeError(`Cannot create Topics: slowSubscriber must be "close" or "drop", got ${JSON.stringify(policy)}`);
    this.#maxBacklog = max;
    this.#drop = policy === "drop";
    this.#backplane = options.backplane;
    this.#originKey = _openEnvelope(_envelope(this.#origin, 0, true, new Uint8Array(0)))!.origin;
    this.#opened = Promise.resolve(this.#backplane?.open((topic, data) => this.#received(topic, data)));
    this.#opened.catch(() => {});
  }

  /**
   * Subscribes a connection to a topic; once is enough (a second call changes nothing).
   *
   * @returns A promise that resolves once the backplane receives the topic (at once without one).
   * @throws {TypeError} When `socket` is not a WebSocketStream, a client's is not open yet, or `topic` is not a non-empty string.
   * @throws {DOMException} `InvalidStateError` when the connection has closed.
   */
  subscribe(socket: WebSocketStream, topic: string): Promise<void> {
    const sink = this.#sink(socket, "subscribe");
    _checkTopic(topic, "subscribe");
    if (sink._ended()) throw new DOMException("Cannot subscribe: the connection has closed; subscribe connections while they are open", "InvalidStateError");
    let subscriber = this.#subscribers.get(sink);
    if (!subscriber) {
      const deflate = sink._topicMode === "frames" ? sink._deflate() : "own";
      subscriber = { sink, topics: new Set(), native: sink._native?.(), paused: false, variant: deflate === "own" ? undefined : this.#variant(deflate) };
      this.#subscribers.set(sink, subscriber);
      const added = subscriber;
      const gone = () => this.#leaveAll(added);
      sink.closed.then(gone, gone);
    }
    const entry = this.#topic(topic);
    if (subscriber.topics.has(topic)) return entry.ready;
    subscriber.topics.add(topic);
    const native = subscriber.native;
    if (native) {
      if (!subscriber.paused) native.subscribe(topic);
      entry.groups.set(native.group, (entry.groups.get(native.group) ?? 0) + 1);
      let group = this.#groups.get(native.group);
      if (!group) this.#groups.set(native.group, group = { members: new Set(), paused: new Set(), sinceCheck: 0, margin: 0 });
      group.members.add(subscriber);
    } else {
      entry.members.add(subscriber);
      if (!subscriber.variant) entry.others.add(subscriber);
      entry.runs = undefined;
    }
    return entry.ready;
  }

  /**
   * Unsubscribes a connection from a topic; nothing happens when it was not subscribed.
   *
   * @throws {TypeError} When `socket` is not a WebSocketStream or `topic` is not a non-empty string.
   */
  unsubscribe(socket: WebSocketStream, topic: string): void {
    _checkTopic(topic, "unsubscribe");
    const sink = _sinkOf(socket, "unsubscribe");
    const subscriber = sink && this.#subscribers.get(sink);
    if (subscriber?.topics.has(topic)) this.#leave(subscriber, topic);
  }

  /**
   * Calls `listener` with every message published to `topic`, here or (with a backplane) in
   * another process: the server's own subscription, for state the processes share (who is in
   * a room). A listener that throws does not stop delivery to the others.
   *
   * @returns `stop()`, which removes the listener, and `ready`, which resolves once the backplane receives the topic.
   * @throws {TypeError} When `topic` is not a non-empty string or `listener` is not a function.
   */
  listen(topic: string, listener: (message: string | Uint8Array) => void): { stop: () => void; ready: Promise<void> } {
    _checkTopic(topic, "listen");
    if (typeof listener !== "function") throw new TypeError(`Cannot listen: the listener must be a function, got ${typeof listener}`);
    const entry = this.#topic(topic);
    const own = (message: string | Uint8Array) => listener(message);
    entry.listeners.add(own);
    const stop = () => {
      if (!entry.listeners.delete(own)) return;
      this.#forget(topic, entry);
    };
    return { stop, ready: entry.ready };
  }

  /** The number of this process's connections subscribed to `topic`. */
  subscribers(topic: string): number {
    const entry = this.#topics.get(topic);
    if (!entry) return 0;
    let count = entry.members.size;
    for (const n of entry.groups.values()) count += n;
    return count;
  }

  /**
   * Publishes a message to every subscriber of `topic`, in this process at once and through the
   * backplane to the others: a `string` as a text message, a `BufferSource` as binary.
   *
   * @returns A promise that resolves once the backplane took the message (at once without one);
   *   it rejects when the broker refused it, and is safe to ignore.
   * @throws {TypeError} When the topic is not a non-empty string, the message is neither a string nor a BufferSource, or the hub is closed.
   */
  publish(topic: string, message: string | BufferSourceLike): Promise<void> {
    _checkTopic(topic, "publish");
    if (this.#closed) throw new TypeError("Cannot publish: the Topics hub is closed; create a new one");
    const text = typeof message === "string";
    const payload = text ? textEncoder.encode(message) : toBytes(message);
    const seq = ++this.#seq;
    this.#deliver(topic, text, payload, text ? message : undefined);
    if (!this.#backplane) return Promise.resolve();
    const sent = this.#backplane.publish(topic, _envelope(this.#origin, seq, text, payload));
    sent.catch(() => {});
    return sent;
  }

  /** Closes the backplane and forgets every subscription (the connections stay open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscriber of [...this.#subscribers.values()]) this.#leaveAll(subscriber);
    for (const [topic, entry] of this.#topics) {
      entry.listeners.clear();
      this.#forget(topic, entry);
    }
    for (const byBits of this.#deflaters.values()) for (const engine of byBits.values()) engine.close();
    this.#deflaters.clear();
    this.#variants.clear();
    await this.#opened.catch(() => {});
    await this.#backplane?.close();
  }

  #sink(socket: WebSocketStream, action: string): _TopicSink {
    const sink = _sinkOf(socket, action);
    if (!sink) throw new TypeError(`Cannot ${action}: the connection is not open yet; await socket.opened first`);
    return sink;
  }

  #topic(topic: string): _Topic {
    let entry = this.#topics.get(topic);
    if (entry) return entry;
    if (this.#closed) throw new TypeError("Cannot subscribe: the Topics hub is closed; create a new one");
    const backplane = this.#backplane;
    const ready = backplane ? this.#opened.then(() => backplane.subscribe(topic)) : Promise.resolve();
    ready.catch(() => {});
    entry = { members: new Set(), others: new Set(), runs: undefined, listeners: new Set(), groups: new Map(), ready, seen: new Map() };
    this.#topics.set(topic, entry);
    return entry;
  }

  #leave(subscriber: _Subscriber, topic: string): void {
    subscriber.topics.delete(topic);
    const entry = this.#topics.get(topic);
    if (!entry) return;
    const native = subscriber.native;
    if (native) {
      if (!subscriber.paused) native.unsubscribe(topic);
      const left = (entry.groups.get(native.group) ?? 1) - 1;
      if (left > 0) entry.groups.set(native.group, left);
      else entry.groups.delete(native.group);
    } else {
      entry.members.delete(subscriber);
      entry.others.delete(subscriber);
      entry.runs = undefined;
    }
    this.#forget(topic, entry);
  }

  // A topic nobody here subscribes to or listens to any more is forgotten, at the broker too.
  #forget(topic: string, entry: _Topic): void {
    if (entry.members.size > 0 || entry.groups.size > 0 || entry.listeners.size > 0 || this.#topics.get(topic) !== entry) return;
    this.#topics.delete(topic);
    void this.#backplane?.unsubscribe(topic).catch(() => {});
  }

  #leaveAll(subscriber: _Subscriber): void {
    if (this.#subscribers.get(subscriber.sink) !== subscriber) return;
    this.#subscribers.delete(subscriber.sink);
    for (const topic of [...subscriber.topics]) this.#leave(subscriber, topic);
    const group = subscriber.native && this.#groups.get(subscriber.native.group);
    group?.members.delete(subscriber);
    group?.paused.delete(subscriber);
  }

  // A message from the backplane: not our own, not one seen before, in each publisher's order.
  #received(topic: string, data: Uint8Array): void {
    const entry = this.#topics.get(topic);
    const message = _openEnvelope(data);
    if (!entry || !message || message.origin === this.#originKey) return;
    const last = entry.seen.get(message.origin);
    if (last !== undefined && message.seq <= last) return;
    entry.seen.delete(message.origin);
    entry.seen.set(message.origin, message.seq);
    if (entry.seen.size > MAX_ORIGINS) entry.seen.delete(entry.seen.keys().next().value!);
    this.#deliver(topic, message.text, message.payload, undefined);
  }

  // Every local subscriber, once: one frame for all the codec connections that can share it,
  // appended to the topic's run when one is open this turn.
  #deliver(topic: string, text: boolean, payload: Uint8Array, string: string | undefined): void {
    const entry = this.#topics.get(topic);
    if (!entry) return;
    const out = new _Outgoing(this.#encoder, text, payload, string);
    const runs = entry.runs;
    if (runs !== undefined && this.#appendable(runs, out)) {
      for (const [variant, open] of runs) this.#append(entry, open, out.frame(variant));
      for (const subscriber of entry.others) this.#sendOwn(subscriber, out);
    } else {
      entry.runs = undefined;
      let opened: Map<_Variant, _OpenRun> | undefined;
      let held = false;
      for (const subscriber of entry.members) {
        const variant = subscriber.variant;
        if (variant === undefined) {
          this.#sendOwn(subscriber, out);
          continue;
        }
        const frame = out.frame(variant);
        if (!this.#room(subscriber, frame.byteLength)) continue;
        let open = (opened ??= new Map()).get(variant);
        if (open === undefined) {
          opened.set(variant, open = { run: new _FrameRun(), extra: 0, limit: Infinity, individual: [] });
          open.run.append(frame);
        }
        if (this.#give(open, subscriber, frame, 0)) held = true;
      }
      // Open while a transport holds a piece: the first to write one seals its run, at the
      // turn's end. (A member too slow to take this message left before it was given a piece.)
      entry.runs = held ? opened : undefined;
    }
    for (const group of entry.groups.keys()) {
      this.#checkGroup(group, out.size);
      group.publish(topic, out.message());
    }
    for (const listener of entry.listeners) {
      try {
        listener(text ? out.message() : payload.slice());
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  // A publish in the turn of an open run: one append; the members that cannot hold a piece,
  // and those that wrote something after theirs (detached), get the frame on their own.
  #append(entry: _Topic, open: _OpenRun, frame: Uint8Array): void {
    const run = open.run;
    const from = run.length;
    run.append(frame);
    open.extra += frame.byteLength;
    const individual = open.individual;
    for (let i = 0, n = individual.length; i < n; i++) {
      const subscriber = individual[i];
      if (entry.members.has(subscriber) && this.#room(subscriber, frame.byteLength)) subscriber.sink._sendFrame(frame);
    }
    const detached = run.detached;
    if (detached.length === 0) return;
    run.detached = [];
    for (const holder of detached) {
      const subscriber = this.#subscribers.get(holder as _TopicSink);
      if (subscriber && entry.members.has(subscriber) && this.#room(subscriber, frame.byteLength)) this.#give(open, subscriber, frame, from);
    }
  }

  // Gives a member a piece of the run from frame `from` (`frame`, just appended, on), or, when
  // its transport cannot hold one, that frame and a place among the individual members.
  #give(open: _OpenRun, subscriber: _Subscriber, frame: Uint8Array, from: number): boolean {
    const sink = subscriber.sink;
    if (sink._sendRun?.(new _RunPiece(open.run, sink, from))) {
      open.limit = Math.min(open.limit, open.extra + this.#maxBacklog - sink._backlog());
      return true;
    }
    if (sink._sendFrame(frame)) open.individual.push(subscriber);
    return false;
  }

  // Whether this publish can join the turn's runs: none sealed or full, and every holder has room.
  #appendable(runs: Map<_Variant, _OpenRun>, out: _Outgoing): boolean {
    for (const [variant, open] of runs) {
      if (open.run.sealed || open.run.length >= MAX_RUN || open.extra + out.frame(variant).byteLength > open.limit) return false;
    }
    return true;
  }

  // A subscriber with a context of its own: the message through the connection's own framing.
  #sendOwn(subscriber: _Subscriber, out: _Outgoing): void {
    if (this.#room(subscriber, out.size)) subscriber.sink._sendMessage(out.message());
  }

  // The variant of the frames a subscriber can share: one per engine and threshold.
  #variant(deflate: _SharedDeflate | undefined): _Variant {
    if (deflate === undefined) return this.#plain;
    const engine = this.#deflater(deflate);
    let byThreshold = this.#variants.get(engine);
    if (!byThreshold) this.#variants.set(engine, byThreshold = new Map());
    let variant = byThreshold.get(deflate.threshold);
    if (!variant) byThreshold.set(deflate.threshold, variant = { engine, threshold: deflate.threshold });
    return variant;
  }

  #deflater(shared: _SharedDeflate): DeflateEngine {
    let byBits = this.#deflaters.get(shared.engines);
    if (!byBits) this.#deflaters.set(shared.engines, byBits = new Map());
    let engine = byBits.get(shared.windowBits);
    if (!engine) byBits.set(shared.windowBits, engine = shared.engines.createDeflate(shared.windowBits));
    return engine;
  }

  // Whether `size` more bytes fit in the subscriber's backlog; if not, the policy applies.
  #room(subscriber: _Subscriber, size: number): boolean {
    if (subscriber.sink._backlog() + size <= this.#maxBacklog) return true;
    if (!this.#drop) this.#tooSlow(subscriber);
    return false;
  }

  #tooSlow(subscriber: _Subscriber): void {
    this.#leaveAll(subscriber);
    subscriber.sink._closeNow(SLOW_CLOSE, "subscriber too slow");
  }

  // A runtime's publish writes to every member of its group without asking us, so the backlogs
  // are read again (one call per member) whenever what was published since the last check
  // could have taken one past the limit; in between, none can pass it. Members paused by
  // "drop" are checked at every publish, and rejoin as soon as the message fits.
  #checkGroup(native: _NativeGroup, size: number): void {
    const group = this.#groups.get(native);
    if (!group) return;
    for (const subscriber of group.paused) {
      if (subscriber.sink._backlog() + size <= this.#maxBacklog) this.#pause(group, subscriber, false);
    }
    if (group.sinceCheck + size <= this.#maxBacklog - group.margin) {
      group.sinceCheck += size;
      return;
    }
    let margin = 0;
    for (const subscriber of group.members) {
      if (subscriber.paused) continue;
      const backlog = subscriber.sink._backlog();
      if (backlog + size <= this.#maxBacklog) margin = Math.max(margin, backlog);
      else if (this.#drop) this.#pause(group, subscriber, true);
      else this.#tooSlow(subscriber);
    }
    group.margin = margin;
    group.sinceCheck = size;
  }

  // "drop" on a runtime's publish: out of its topics while over the limit, back in once under it.
  #pause(group: _Group, subscriber: _Subscriber, paused: boolean): void {
    subscriber.paused = paused;
    if (paused) group.paused.add(subscriber);
    else group.paused.delete(subscriber);
    for (const topic of subscriber.topics) {
      if (paused) subscriber.native!.unsubscribe(topic);
      else subscriber.native!.subscribe(topic);
    }
  }
}

// One publish's frames and text, each made once, when a subscriber first needs it.
class _Outgoing {
  readonly #encoder: FrameEncoder;
  readonly #text: boolean;
  readonly #payload: Uint8Array;
  readonly size: number;
  #string: string | undefined;
  #plain: Uint8Array | undefined;
  #compressed: Map<DeflateEngine, Uint8Array> | undefined;

  constructor(encoder: FrameEncoder, text: boolean, payload: Uint8Array, string: string | undefined) {
    this.#encoder = encoder;
    this.#text = text;
    this.#payload = payload;
    this.size = payload.byteLength;
    this.#string = string;
  }

  /** The frame a variant's subscribers share. */
  frame(variant: _Variant): Uint8Array {
    return variant.engine !== undefined && this.size >= variant.threshold ? this.compressed(variant.engine) : this.plain();
  }

  plain(): Uint8Array {
    return this.#plain ??= this.#encoder.encode({ opcode: this.#text ? 0x1 : 0x2, payload: this.#payload })[0];
  }

  // The message compressed on its own (RFC 7692 section 7.2.1, no context takeover), framed with RSV1.
  compressed(engine: DeflateEngine): Uint8Array {
    const cache = this.#compressed ??= new Map();
    let frame = cache.get(engine);
    if (frame === undefined) {
      const data = engine.compress(this.#payload, true);
      engine.reset();
      cache.set(engine, frame = this.#encoder.encode({ opcode: this.#text ? 0x1 : 0x2, payload: data, rsv1: true })[0]);
    }
    return frame;
  }

  message(): string | Uint8Array {
    return this.#text ? this.#string ??= textDecoder.decode(this.#payload) : this.#payload;
  }
}

function _sinkOf(socket: WebSocketStream, action: string): _TopicSink | undefined {
  if (!(socket instanceof WebSocketStream)) throw new TypeError(`Cannot ${action}: expected a WebSocketStream, got ${socket === null ? "null" : typeof socket}`);
  return socket._topicSink();
}

function _checkTopic(topic: string, action: string): void {
  if (typeof topic !== "string" || topic.length === 0) {
    throw new TypeError(`Cannot ${action}: the topic must be a non-empty string, got ${typeof topic === "string" ? '""' : typeof topic}`);
  }
}
