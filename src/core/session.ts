import { encodeClosePayload, parseClosePayload } from "./close_payload.ts";
import type { FramePart } from "./frame.ts";
import { FrameDecoder } from "./frame_decoder.ts";
import { _encodeInPlace, _lengthBytes, FrameEncoder } from "./frame_encoder.ts";
import { MessageDecoder } from "./message_decoder.ts";
import { _encodeShortText, _encodeText, toBytes } from "./message_encoder.ts";
import { _forgetRecentText, _MIN_BYTES, _recallRoom, _recallText, _rememberRoom } from "./recent_text.ts";
import { ProtocolError } from "./protocol_error.ts";
import type { PerMessageDeflate } from "./deflate.ts";
import type { SendOptions, SessionEvent, SessionOptions, SessionState } from "./session_types.ts";
import type { BufferSourceLike } from "./web_types.ts";

/**
 * One WebSocket connection's protocol state, without I/O (RFC 6455 sections 5 to 7): bytes and
 * user actions in, bytes to write and events out. Every adapter drives the same Session, so close
 * and heartbeat behaviour is written once.
 *
 * After every call, the caller writes {@linkcode Session.takeOutput} to the transport in order,
 * handles {@linkcode Session.nextEvent} until it returns `undefined` (closing the transport on a
 * `closeTransport` event, once the output is written), and arms one timer for
 * {@linkcode Session.nextDeadline}, calling {@linkcode Session.handleTimeout} when it fires.
 * Time is an argument (milliseconds on any clock), so the Session never reads a clock.
 *
 * The closing handshake (section 7.1), by who starts it:
 *
 * ```
 *   local close()                          peer's close frame arrives
 *   open -> closingLocal                   open -> closingRemote
 *     send close frame                       (autoCloseReply) echo the code, -> closed
 *     ... peer's close arrives -> closed     or the caller's close() replies -> closed
 *     ... or closeTimeout -> closed (1006)
 *   closed: a server closes the transport at once (section 7.1.1); a client waits up to
 *   closeTimeout for the server to close it, then closes it itself.
 * ```
 *
 * A peer's violation fails the connection (section 7.1.7): a close frame with the code, then the
 * transport closes, and the `closed` event carries the {@linkcode ProtocolError}. With
 * `deferFailure`, the violation waits at its place in the stream until the caller fails the
 * connection with {@linkcode Session.failPending}, so replies to the messages before it go first.
 *
 * Pings are answered with one pong for the latest of them not yet answered (section 5.5.3): the
 * pong goes out with the next {@linkcode Session.takeOutput}, or, while the caller holds it back
 * (its transport is over its high-water mark), waits there, replaced by each newer ping.
 *
 * @example Two in-memory peers
 * ```ts
 * import { Session } from "@wsflow/wsflow";
 *
 * const client = new Session({ role: "client", now: 0 });
 * const server = new Session({ role: "server", now: 0 });
 * client.open(0);
 * server.open(0);
 * client.send("hi");
 * for (const chunk of client.takeOutput()) server.receive(chunk, 1);
 * console.log(server.nextEvent()); // { type: "message", data: "hi" }
 * ```
 */
export class Session {
  readonly #role: "server" | "client";
  readonly #frames: FrameDecoder;
  // The chunk receive() is reading, while it does, and whether its caller writes over it after.
  #chunk: Uint8Array | undefined;
  #reused = false;
  readonly #messages: MessageDecoder;
  readonly #encoder: FrameEncoder;
  readonly #autoPong: boolean;
  readonly #textBytes: SessionOptions["textBytes"];
  readonly #pingEvents: boolean;
  readonly #autoCloseReply: boolean;
  readonly #pingInterval: number;
  readonly #pongTimeout: number;
  readonly #closeTimeout: number;
  readonly #handshakeDeadline: number;
  readonly #fragmentSize: number;
  readonly #streamMessages: boolean;
  readonly #deflate: PerMessageDeflate | undefined;
  readonly #deferFailure: boolean;

  readonly #allocate: ((size: number) => Uint8Array) | undefined;
  readonly #textLength: ((text: string) => number) | undefined;
  readonly #textFrom: number;

  #state: SessionState = "connecting";
  // Strings too, with _textLength (see #textOut).
  #output: (Uint8Array | string)[] = [];
  // The events nextEvent() hands out: a plain message's data in one slot, anything else in two,
  // its kind (_EVENT, _TEXT, _VIEW, _VIEW_TEXT), then the event object or the message's data. A
  // message's event object is made by nextEvent(), as it is handed out, not when the message is
  // decoded: a chunk of small messages queues thousands of them, and objects from one allocation
  // site that stay alive that long can make V8 (Node 20) allocate every later one from it in the
  // old generation, pretenured, where a collection of the young generation cannot free them and
  // each keeps its message's data alive through that collection too: decoding ran 3 times slower
  // for the rest of the process.
  // The array is kept from one batch to the next, its slots cleared as it is read through (one
  // store per slot, no length written: V8's optimized code writes an array's length through a
  // runtime call), and replaced only after a batch of more than EVENTS_KEPT slots, so a burst does
  // not leave every idle connection with a long array. Replacing it after every batch, as before,
  // put a new array into a long-lived Session per message, which made Bun's `codec` echo of 16 KiB
  // messages over 64 connections cost more per round trip (see the README's echo benchmark).
  #events: (SessionEvent | string | Uint8Array | number)[] = [];
  #eventIndex = 0;
  #eventEnd = 0;
  #lastReceived = 0;
  #lastNow = 0;
  // When a compressed message last went through permessage-deflate (either way).
  #deflateUsedAt = 0;
  #heartbeatSentAt: number | undefined;
  #closeDeadline: number | undefined;
  #transportDeadline: number | undefined;
  #transportClosing = false;
  #sentClose = false;
  #pings: Map<number, number> | undefined; // made by the first ping
  #pingId = 0;
  #sending = false;
  // The payload of the latest ping not yet answered (section 5.5.3): a view of #pongMemory.
  #pong: Uint8Array | undefined;
  // Where that payload is copied, each ping's over the one before (made by the first ping), and
  // the view of it used last (made again only when a ping's length differs).
  #pongMemory: Uint8Array | undefined;
  #pongView: Uint8Array | undefined;
  // A peer's violation held at its place in the stream (deferFailure).
  #pendingFailure: ProtocolError | undefined;
  // Pre-encoded frames that came while a message was being sent in pieces: they follow its end.
  #deferred: Uint8Array[] | undefined; // made by the first such frame (most connections never have one)
  #deferredBytes = 0;

  /**
   * Creates a connection in the `connecting` state; call `open(now)` once the handshake is done.
   *
   * @param options The role, the clock reading at the start, limits and timeouts.
   * @throws {TypeError} When the role is neither "server" nor "client", or when both `autoPong`
   *   and `pingEvents` are off (no one would answer the peer's pings).
   */
  constructor(options: SessionOptions) {
    const { role } = options;
    if (role !== "server" && role !== "client") {
      throw new TypeError(`Cannot create Session: role must be "server" or "client", got ${role}`);
    }
    this.#role = role;
    this.#deflate = options.deflate;
    this.#allocate = options.allocate;
    this.#textLength = options._textLength;
    this.#textFrom = options._textFrom ?? _TEXT_FROM;
    this.#frames = new FrameDecoder({ ...options, allowedRsv: options.allowedRsv ?? this.#deflate?.allowedRsv ?? 0 });
    this.#messages = new MessageDecoder(options);
    this.#encoder = new FrameEncoder(options);
    this.#autoPong = options.autoPong ?? true;
    this.#pingEvents = options.pingEvents ?? true;
    if (!this.#autoPong && !this.#pingEvents) {
      throw new TypeError("Cannot create Session: with autoPong off, pingEvents must stay on (the caller answers the ping events)");
    }
    this.#autoCloseReply = options.autoCloseReply ?? true;
    const heartbeat = options.heartbeat === false ? undefined : options.heartbeat ?? {};
    this.#pingInterval = heartbeat ? heartbeat.interval ?? 30_000 : Infinity;
    this.#pongTimeout = heartbeat?.timeout ?? 30_000;
    this.#closeTimeout = options.closeTimeout ?? 10_000;
    this.#handshakeDeadline = options.now + (options.handshakeTimeout ?? 10_000);
    this.#fragmentSize = options.fragmentSize ?? Infinity;
    this.#streamMessages = options.streamMessages ?? false;
    this.#deferFailure = options.deferFailure ?? false;
    this.#textBytes = options.textBytes;
  }

  /** The connection's state: who started closing decides between the two closing states. */
  get state(): SessionState {
    return this.#state;
  }

  /**
   * The opening handshake succeeded (section 4): the connection is open.
   *
   * @throws {DOMException} `InvalidStateError` unless the state is `connecting`.
   */
  open(now: number): void {
    this.#guard("open the connection", "connecting");
    this.#state = "open";
    this.#lastReceived = now;
    this.#lastNow = now;
  }

  /**
   * Takes bytes that arrived from the peer. Ignored once the connection is closed.
   *
   * @param chunk The bytes. The Session unmasks data frames in place and, by default, hands out
   *   views into them (binary messages, message pieces), so their memory must not be written
   *   again. Ping and pong payloads are copied out (into one memory for the pong to send, and
   *   into each ping or pong event), so control frames never keep a view into a chunk.
   * @param now The clock reading.
   * @param options `reused` (for wsflow's own transports): the caller writes over the chunk's
   *   memory once this call's turn is over, so what the Session keeps or hands out is copied out
   *   of it (fragments, pieces), but for a binary message whole in the chunk: its event is marked
   *   `view`, for the caller to copy unless it is sent straight back.
   *   Only this Session may frame an echo in place in the chunk (see `send`), and the caller
   *   reads into that memory again only once `_roomIn` (src/core/recent_text.ts) is false for it.
   * @throws {DOMException} `InvalidStateError` while `connecting`: the handshake reads those bytes.
   */
  receive(chunk: Uint8Array, now: number, options?: { reused?: boolean }): void {
    // Nothing is read after the peer's close frame (section 5.5.1), nor after a violation.
    if (this.#state === "closed" || this.#state === "closingRemote" || this.#pendingFailure) return;
    this.#guard("receive frames", "open", "closingLocal");
    if (chunk.length === 0) return;
    this.#lastReceived = now;
    this.#lastNow = now;
    this.#heartbeatSentAt = undefined; // any traffic proves the peer alive
    const frames = this.#frames;
    this.#chunk = chunk;
    this.#reused = options?.reused === true;
    frames.push(chunk);
    for (let part = this.#nextPart(frames); part !== undefined; part = this.#nextPart(frames)) {
      if (part instanceof ProtocolError) {
        this.#violation(part);
        break;
      }
      if (part.opcode >= 0x8) this.#control(part, now);
      else this.#data(part);
      if (!this.#reading()) break;
    }
    this.#chunk = undefined;
    this.#reused = false;
  }

  // Over memory its caller reuses (wsflow's own transports), one part object filled anew for each
  // part, a control frame's payload in the decoder's memory until the next part: a flood of
  // control frames allocates nothing per frame (see FrameDecoder._nextPart). Over fresh chunks,
  // a part and a view per frame, as `next()` hands them out: Node reads into a fresh 64 KiB buffer
  // each time, freed only when a collection runs, and that garbage makes V8 collect often enough
  // to free them (without it a ping flood's peak RSS on Node 24 grew from about 10 to 14 MiB).
  #nextPart(frames: FrameDecoder): FramePart | ProtocolError | undefined {
    return this.#reused ? frames._nextPart() : frames.next();
  }

  /** The peer's violation that `deferFailure` holds, until {@linkcode Session.failPending}. */
  get pendingFailure(): ProtocolError | undefined {
    return this.#pendingFailure;
  }

  /**
   * Fails the connection with the violation that `deferFailure` held (section 7.1.7): a close
   * frame with its code, then the transport closes. Call it once the messages received before
   * the violation are handled. Does nothing when no violation is held.
   */
  failPending(now: number): void {
    const error = this.#pendingFailure;
    if (!error) return;
    this.#pendingFailure = undefined;
    this.#lastNow = now;
    this.#fail(error);
  }

  /**
   * Sends a message: a `string` as text, a `BufferSource` as binary (as text with `text`).
   *
   * @throws {DOMException} `InvalidStateError` unless the state is `open` or `closingRemote`.
   */
  send(message: string | BufferSourceLike, options?: SendOptions): void {
    this.#guard("send a message", "open", "closingRemote");
    if (this.#sending) {
      throw new DOMException("Cannot send a message: a streamed message is being sent, finish it first", "InvalidStateError");
    }
    const text = typeof message === "string" || options?.text === true;
    if (this.#deflate === undefined) {
      // The message just received, sent back as it is: one chunk, no copy (see #noteRoom).
      const room = this.#role === "server" ? _recallRoom(message as string | Uint8Array, this) : undefined;
      if (room !== undefined && room.length <= this.#fragmentSize) {
        this.#output.push(_encodeInPlace(text ? 0x1 : 0x2, room));
        return;
      }
      // Short text: through a scratch buffer, copied into the frame (no array per message).
      const short = typeof message === "string" ? _encodeShortText(message) : undefined;
      if (short !== undefined && short.length <= this.#fragmentSize) {
        this.#encoder._encodeTo(this.#output, 0x1, short, true, false, true);
        return;
      }
      // Long text, for a transport that writes strings as UTF-8: the header, then the string.
      if (typeof message === "string" && this.#textOut(message)) return;
    }
    const payload = typeof message === "string" ? _encodeText(message, this.#allocate) : toBytes(message);
    let rsv1 = false;
    let data = payload;
    if (this.#deflate) {
      if (options?.now !== undefined) this.#lastNow = options.now;
      const compressed = this.#compress(() => this.#deflate!.compress(payload, options?.compress ?? true));
      if (!compressed) return;
      ({ payload: data, rsv1 } = compressed);
    }
    this.#sendData(text ? 0x1 : 0x2, data, rsv1);
  }

  /**
   * Sends one piece of a message that is sent as it is produced (a fragmented message, section
   * 5.4). The first piece fixes the type; `last` ends the message. No other message may be sent
   * until it ends, but control frames still go out between the pieces.
   *
   * @throws {DOMException} `InvalidStateError` unless the state is `open` or `closingRemote`.
   */
  sendPiece(data: Uint8Array, options: { binary: boolean; last: boolean; now?: number }): void {
    this.#guard("send a message piece", "open", "closingRemote");
    const first = !this.#sending;
    const opcode = first ? (options.binary ? 0x2 : 0x1) : 0x0;
    this.#sending = !options.last;
    if (options.now !== undefined) this.#lastNow = options.now;
    // A message sent in pieces is compressed whole when deflate is on: every piece, RSV1 first.
    const payload = this.#deflate ? this.#compress(() => this.#deflate!.compressPiece(data, options.last)) : data;
    if (!payload) return;
    this.#push(opcode, payload, options.last, first && this.#deflate !== undefined);
    const deferred = this.#deferred;
    if (options.last && deferred !== undefined) {
      for (const frame of deferred) this.#output.push(frame);
      this.#deferred = undefined;
      this.#deferredBytes = 0;
    }
  }

  /**
   * @internal Sends one message already framed by the caller (a topic's frame, encoded once for
   * many connections): unmasked, complete, RSV1 only as this connection's negotiated
   * permessage-deflate allows. While a message is being sent in pieces it waits for that
   * message's end (section 5.4: no interleaving of data messages).
   *
   * @returns Whether the frame was taken: false once closing has started from this side;
   *   `"direct"` when nothing is waiting to go out before it, so the caller writes it itself
   *   (a publish to many connections then costs no output queue per connection).
   */
  _sendEncoded(frame: Uint8Array): boolean | "direct" {
    if (this._sendsDirect()) return "direct";
    if (this.#state !== "open" && this.#state !== "closingRemote") return false;
    if (this.#sending) {
      (this.#deferred ??= []).push(frame);
      this.#deferredBytes += frame.byteLength;
    } else this.#output.push(frame);
    return true;
  }

  /** @internal Whether a pre-encoded frame would go straight to the transport now: open, and nothing queued before it. */
  _sendsDirect(): boolean {
    const state = this.#state;
    return (state === "open" || state === "closingRemote") && !this.#sending && this.#output.length === 0 && this.#pong === undefined;
  }

  /** @internal Bytes of pre-encoded frames waiting for a message sent in pieces to end. */
  get _deferredBytes(): number {
    return this.#deferredBytes;
  }

  /** @internal Whether a message is being sent in pieces (no other message may start). */
  get _streaming(): boolean {
    return this.#sending;
  }

  /**
   * Sends a ping (section 5.5.2). The `pong` event that answers it carries its `id` and the
   * round-trip time.
   *
   * @returns The ping's id.
   * @throws {DOMException} `InvalidStateError` unless the state is `open` or `closingRemote`.
   */
  ping(now: number): number {
    this.#guard("send a ping", "open", "closingRemote");
    return this.#ping(now);
  }

  /**
   * Starts the closing handshake, or answers the peer's close when `autoCloseReply` is off
   * (section 7.1.2). Does nothing once closing has started from this side or the connection is
   * closed.
   *
   * @param code 1000-1003, 1007-1014 or 3000-4999; without it the close frame has no body.
   * @param reason At most 123 bytes of UTF-8.
   * @throws {RangeError} When the code may not be sent or the reason is too long.
   */
  close(now: number, code?: number, reason = ""): void {
    const payload = encodeClosePayload(code, reason);
    // A held violation decides the close code: the connection fails with it.
    if (this.#pendingFailure) return this.failPending(now);
    if (this.#state === "connecting") {
      this.#finish({ code: 1006, reason: "", wasClean: false }, now);
      return;
    }
    if (this.#state !== "open" && this.#state !== "closingRemote") return;
    this.#sendClose(payload);
    if (this.#state === "open") {
      this.#state = "closingLocal";
      this.#closeDeadline = now + this.#closeTimeout;
      this.#event({ type: "closing", code: code ?? 1005, reason, initiator: "local" });
    } else {
      this.#finish(this.#remoteClose!, now);
    }
  }

  /**
   * Tells the heartbeat the peer is alive without new bytes: an adapter calls it when the
   * peer's data waits unread because the consumer holds back, so the pong may be among it.
   */
  keepAlive(now: number): void {
    this.#lastReceived = now;
    this.#lastNow = now;
    this.#heartbeatSentAt = undefined;
  }

  /** The transport ended (the peer closed it, or it failed). The connection is closed now. */
  transportClosed(now: number): void {
    this.#transportDeadline = undefined;
    this.#transportClosing = true;
    // A held violation is why the connection ended, though its close frame can no longer go out.
    if (this.#pendingFailure) this.failPending(now);
    if (this.#state !== "closed") this.#finish({ code: 1006, reason: "", wasClean: false }, now);
  }

  /** The next time {@linkcode Session.handleTimeout} must be called, or `undefined` for none. */
  nextDeadline(): number | undefined {
    const deadline = this.#protocolDeadline();
    const check = this.#deflateCheck();
    return check === undefined || (deadline !== undefined && deadline < check) ? deadline : check;
  }

  // While permessage-deflate holds a zlib context, it is freed `releaseIdleAfter` ms after the
  // last message that went through it; no context, no deadline.
  #deflateCheck(): number | undefined {
    const deflate = this.#deflate;
    if (!deflate?.holding || this.#state === "closed" || deflate.releaseIdleAfter === Infinity) return undefined;
    return this.#deflateUsedAt + deflate.releaseIdleAfter;
  }

  #protocolDeadline(): number | undefined {
    switch (this.#state) {
      case "connecting":
        return this.#handshakeDeadline;
      case "open":
      case "closingRemote":
        if (this.#pingInterval === Infinity) return undefined;
        return this.#heartbeatSentAt !== undefined
          ? this.#heartbeatSentAt + this.#pongTimeout
          : this.#lastReceived + this.#pingInterval;
      case "closingLocal":
        return this.#closeDeadline;
      case "closed":
        return this.#transportDeadline;
    }
  }

  /** Acts on every deadline that has passed by `now`: handshake, heartbeat, close, idle compression contexts. */
  handleTimeout(now: number): void {
    this.#lastNow = now;
    const deflate = this.#deflate;
    const check = this.#deflateCheck();
    // Idle for releaseIdleAfter: free the contexts, unless a message is half through (then the
    // check comes round again a full period later).
    if (check !== undefined && now >= check && !deflate!.release()) this.#deflateUsedAt = now;
    const deadline = this.#protocolDeadline();
    if (deadline === undefined || now < deadline) return;
    switch (this.#state) {
      case "connecting":
        return this.#finish({ code: 1006, reason: "", wasClean: false, error: new ProtocolError("Cannot open connection: the handshake timed out", 1006) }, now);
      case "closingLocal":
        return this.#finish({ code: 1006, reason: "", wasClean: false, error: new ProtocolError("Cannot close cleanly: the peer did not answer the close frame in time", 1006) }, now);
      case "closed":
        this.#transportDeadline = undefined;
        return this.#closeTransport();
    }
    if (this.#heartbeatSentAt !== undefined) {
      this.#finish({ code: 1006, reason: "", wasClean: false, error: new ProtocolError(`Cannot keep connection: no pong or other traffic within ${this.#pongTimeout} ms`, 1006) }, now);
    } else {
      this.#heartbeatSentAt = now;
      this.#ping(now);
    }
  }

  /**
   * Removes and returns the bytes to write to the transport, in order.
   *
   * @param options `holdPong: true` keeps the pong to an unanswered ping back (for a transport
   *   over its high-water mark): it waits, replaced by newer pings' pongs (section 5.5.3), for
   *   a later call without it.
   */
  takeOutput(options?: { holdPong?: boolean }): Uint8Array[] {
    return this._takeOutput(options) as Uint8Array[]; // strings only with the internal _textLength
  }

  /** @internal {@linkcode Session.takeOutput}, typed with the strings `_textLength` puts there (see #textOut). */
  _takeOutput(options?: { holdPong?: boolean }): (Uint8Array | string)[] {
    const output = this._lendOutput(options);
    if (output.length === 0) return output;
    this.#output = [];
    return output;
  }

  /**
   * @internal {@linkcode Session._takeOutput} for a caller that is done with the array before it
   * returns (a transport's `write` keeps chunks, never the array): the Session's own array, which
   * `_outputWritten` then empties. Putting a new array into a long-lived Session per flush made
   * Bun's `codec` echo cost more per round trip (see #events).
   */
  _lendOutput(options?: { holdPong?: boolean }): (Uint8Array | string)[] {
    if (this.#pong !== undefined && options?.holdPong !== true) this.#flushPong();
    return this.#output;
  }

  /**
   * @internal The first `count` chunks of the array `_lendOutput` lent are written: they go. A few
   * are popped: `length = 0` costs about 50 ns on Node 20 (a runtime call), a pop about 15.
   */
  _outputWritten(output: (Uint8Array | string)[], count: number): void {
    if (output !== this.#output || count === 0) return;
    if (output.length !== count) output.splice(0, count);
    else if (count > 8) output.length = 0;
    else for (let i = 0; i < count; i++) output.pop();
  }

  /** Removes and returns the next event, or `undefined` when there is none. */
  nextEvent(): SessionEvent | undefined {
    const events = this.#events;
    const i = this.#eventIndex;
    if (i >= this.#eventEnd) {
      if (i > 0) this.#clearEvents(i);
      return undefined;
    }
    const entry = events[i];
    if (typeof entry !== "number") {
      this.#eventIndex = i + 1;
      return { type: "message", data: entry as string | Uint8Array };
    }
    this.#eventIndex = i + 2;
    if (entry === _EVENT) return events[i + 1] as SessionEvent;
    const data = events[i + 1] as string | Uint8Array;
    switch (entry) {
      case _TEXT:
        return { type: "message", data, text: true };
      case _VIEW:
        return { type: "message", data, view: true, text: undefined };
      default:
        return { type: "message", data, view: true, text: true };
    }
  }

  #remoteClose: { code: number; reason: string; wasClean: boolean } | undefined;

  #data(frame: FramePart): void {
    // permessage-deflate (RFC 7692) inflates a compressed frame before the message layer.
    let part: FramePart | ProtocolError | undefined = frame;
    if (this.#deflate) {
      this.#deflateUsedAt = this.#lastNow;
      part = this.#deflate.receive(frame);
    }
    if (part instanceof ProtocolError) return this.#violation(part);
    if (part === undefined) return;
    const messages = this.#messages;
    // Over a chunk its caller reuses, a piece handed out as it is is copied out, and the decoder
    // copies what it keeps of a message (once); a whole message is decoded, or copied below.
    const reused = this.#reused && part.payload.buffer === this.#chunk!.buffer;
    if (this.#streamMessages) {
      if (reused) part = { ...part, payload: part.payload.slice() };
      const piece = messages.pushPiece(part);
      if (piece instanceof ProtocolError) return this.#violation(piece);
      if (piece) this.#event({ type: "piece", binary: piece.binary, data: piece.data, first: piece.first, last: piece.last });
      return;
    }
    // A text message whole in one uncompressed frame, for a caller that takes its bytes: checked, not decoded.
    const utf8 = part === frame && part.opcode === 0x1 && _whole(part, messages) ? this.#textBytes?.() : undefined;
    const message = reused ? messages._pushReused(part, utf8) : messages.push(part, utf8);
    if (message instanceof ProtocolError) return this.#violation(message);
    if (message === undefined) return;
    if (part === frame && this.#role === "server") this.#noteRoom(message, part);
    const text = utf8 !== undefined;
    if (!this.#reused) return this.#message(message, text ? _TEXT : _PLAIN);
    // Its bytes are written over after this call: a text's are forgotten, and a binary message
    // (or a text's bytes) whole in the chunk is its caller's to copy (an echo framed in place needs no copy).
    if (typeof message === "string") _forgetRecentText();
    else if (message.buffer === this.#chunk!.buffer) return this.#message(message, text ? _VIEW_TEXT : _VIEW);
    this.#message(message, text ? _TEXT : _PLAIN);
  }

  // A message that came whole in one masked frame, the frame's header right before its payload
  // in the chunk being read: sent back as it is, it can be framed in place (see send()).
  #noteRoom(message: string | Uint8Array, part: FramePart): void {
    const payload = part.payload;
    const chunk = this.#chunk;
    const length = part.length;
    // One frame, whole in this chunk: not a continuation (the last fragment of a longer message).
    // A short one is not remembered, so its view's buffer is not asked for (see copyBelow).
    if (chunk === undefined || length < _MIN_BYTES || part.opcode === 0 || part.offset !== 0 || payload.length !== length || payload.buffer !== chunk.buffer) return;
    const header = 6 + _lengthBytes(length); // masked: 2, the length, 4 for the key
    if (payload.byteOffset - chunk.byteOffset >= header) _rememberRoom(message, payload, this.#reused ? this : undefined);
  }

  // Control frames (section 5.5). The payload is the decoder's memory, written over by the next
  // control frame (over reused memory, see #nextPart) or a view into the chunk: a ping's is
  // copied into the Session's own (at most 125 bytes, no allocation), an event gets a copy, a
  // close payload is parsed at once. Over reused memory, a peer that floods pings then costs no
  // allocation per ping (with `pingEvents: false`).
  #control(part: FramePart, now: number): void {
    const { opcode, payload } = part;
    if (opcode === 0x9) {
      // Only the latest ping not yet answered gets a pong (section 5.5.3): one per flush.
      if (this.#autoPong && !this.#sentClose) this.#pong = this.#keepPong(payload);
      if (this.#pingEvents) this.#event({ type: "ping", data: payload.slice() });
    } else if (opcode === 0xa) {
      this.#event({ type: "pong", data: payload.slice(), ...this.#matchPong(payload, now) });
    } else {
      const info = parseClosePayload(payload);
      if (info instanceof ProtocolError) return this.#violation(info);
      const close = { code: info.code, reason: info.reason, wasClean: true };
      if (this.#state === "closingLocal") return this.#finish(close, now);
      // The peer started closing (section 7.1.3).
      this.#state = "closingRemote";
      this.#remoteClose = close;
      this.#event({ type: "closing", code: info.code, reason: info.reason, initiator: "remote" });
      if (this.#autoCloseReply) {
        // Echo the code and reason (section 5.5.1); 1005 means the peer sent none, so neither do we.
        this.#sendClose(info.code === 1005 ? new Uint8Array(0) : encodeClosePayload(info.code, info.reason));
        this.#finish(close, now);
      }
    }
  }

  // Frames are read until the peer's close frame arrives or the connection fails.
  #reading(): boolean {
    return (this.#state === "open" || this.#state === "closingLocal") && this.#pendingFailure === undefined;
  }

  #flushPong(): void {
    const pong = this.#pong!;
    this.#pong = undefined;
    // Copied into the frame: the payload is #pongMemory, written over by the next ping.
    this.#encoder._encodeTo(this.#output, 0xa, pong, true, false, true);
  }

  // Copies a ping's payload (at most 125 bytes) into the Session's own memory, for its pong.
  #keepPong(payload: Uint8Array): Uint8Array {
    const memory = this.#pongMemory ??= new Uint8Array(125);
    memory.set(payload);
    const view = this.#pongView;
    if (view !== undefined && view.length === payload.length) return view;
    return (this.#pongView = memory.subarray(0, payload.length));
  }

  #ping(now: number): number {
    const id = ++this.#pingId;
    const payload = new Uint8Array(8);
    new DataView(payload.buffer).setFloat64(0, id);
    (this.#pings ??= new Map()).set(id, now);
    this.#push(0x9, payload, true);
    return id;
  }

  // A pong answers our ping with the same payload; a peer may answer only the latest of several
  // pings (section 5.5.3), so every earlier one counts as answered too.
  #matchPong(payload: Uint8Array, now: number): { id?: number; rtt?: number } {
    if (payload.length !== 8 || this.#pings === undefined) return {};
    const id = new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0);
    const sentAt = this.#pings.get(id);
    if (sentAt === undefined) return {};
    for (const key of this.#pings.keys()) if (key <= id) this.#pings.delete(key);
    return { id, rtt: now - sentAt };
  }

  // Compression failing is our internal error: fail with 1011 and an empty reason.
  #compress<T>(compress: () => T): T | undefined {
    this.#deflateUsedAt = this.#lastNow;
    try {
      return compress();
    } catch (error) {
      this.#fail(new ProtocolError(`Cannot compress message: ${error instanceof Error ? error.message : String(error)}`, 1011));
      return undefined;
    }
  }

  // A whole message, split into fragments of fragmentSize; RSV1 goes on the first frame only.
  #sendData(opcode: number, payload: Uint8Array, rsv1: boolean): void {
    const size = this.#fragmentSize;
    if (payload.length <= size) return this.#push(opcode, payload, true, rsv1);
    for (let offset = 0; offset < payload.length; offset += size) {
      const end = Math.min(offset + size, payload.length);
      this.#push(offset === 0 ? opcode : 0x0, payload.subarray(offset, end), end === payload.length, rsv1 && offset === 0);
    }
  }

  // A server's long text (not the text just received, whose bytes are at hand) framed as its
  // header and the string itself, for a transport that encodes it (see `_textLength`): on Deno
  // and Bun, a text message then costs no array of its own, which TextEncoder.encode makes.
  #textOut(text: string): boolean {
    const textLength = this.#textLength;
    if (textLength === undefined || text.length < this.#textFrom || this.#role !== "server" || _recallText(text) !== undefined) return false;
    const length = textLength(text);
    if (length > this.#fragmentSize) return false;
    this.#encoder._encodeTextTo(this.#output, text, length);
    return true;
  }

  #push(opcode: number, payload: Uint8Array, fin: boolean, rsv1 = false): void {
    this.#encoder._encodeTo(this.#output, opcode, payload, fin, rsv1);
  }

  #sendClose(payload: Uint8Array): void {
    if (this.#sentClose) return;
    this.#sentClose = true;
    if (this.#pong !== undefined) this.#flushPong(); // nothing goes out after the close frame
    this.#push(0x8, payload, true);
  }

  // A peer's violation: fails the connection now, or holds it (deferFailure).
  #violation(error: ProtocolError): void {
    if (this.#deferFailure) this.#pendingFailure = error;
    else this.#fail(error);
  }

  // Fail the WebSocket connection (section 7.1.7): send a close frame with the code, then close.
  #fail(error: ProtocolError): void {
    if (error.closeCode !== 1006) this.#sendClose(encodeClosePayload(error.closeCode));
    this.#finish({ code: error.closeCode, reason: "", wasClean: false, error }, this.#lastReceived);
  }

  // The one transition into `closed`.
  #finish(close: { code: number; reason: string; wasClean: boolean; error?: ProtocolError }, now: number): void {
    if (this.#state === "closed") return;
    const clean = close.wasClean;
    this.#state = "closed";
    this.#pong = undefined;
    this.#deflate?.close();
    this.#event({ type: "closed", ...close });
    if (this.#transportClosing) return;
    if (this.#role === "server" || !clean) this.#closeTransport();
    else this.#transportDeadline = now + this.#closeTimeout; // a client lets the server close TCP first
  }

  #closeTransport(): void {
    if (this.#transportClosing) return;
    this.#transportClosing = true;
    this.#transportDeadline = undefined;
    this.#event({ type: "closeTransport" });
  }

  #event(event: SessionEvent): void {
    const events = this.#events;
    const end = this.#eventEnd;
    events[end] = _EVENT;
    events[end + 1] = event;
    this.#eventEnd = end + 2;
  }

  // A whole message, its event made by nextEvent() (see #events).
  #message(data: string | Uint8Array, kind: number): void {
    const events = this.#events;
    const end = this.#eventEnd;
    if (kind === _PLAIN) {
      events[end] = data;
      this.#eventEnd = end + 1;
    } else {
      events[end] = kind;
      events[end + 1] = data;
      this.#eventEnd = end + 2;
    }
  }

  // The events read through: their slots let go of what they held (see #events).
  #clearEvents(end: number): void {
    this.#eventIndex = this.#eventEnd = 0;
    if (end > EVENTS_KEPT) {
      this.#events = [];
      return;
    }
    const events = this.#events;
    for (let j = 0; j < end; j++) events[j] = 0;
  }

  // Two states at most, as arguments rather than a rest array: it runs once per message.
  #guard(action: string, state: SessionState, other?: SessionState): void {
    if (this.#state !== state && this.#state !== other) {
      throw new DOMException(`Cannot ${action}: the connection is ${this.#state}`, "InvalidStateError");
    }
  }
}

// The kinds of the entries of Session's event queue: an event object, or a message's data, whose
// event nextEvent() makes: { type: "message", data } (a plain message, queued without its kind),
// with text: true, with view: true and text: undefined, with view: true and text: true.
const _EVENT = 0;
const _PLAIN = 1;
const _TEXT = 2;
const _VIEW = 3;
const _VIEW_TEXT = 4;
// Slots of the event queue kept for the next batch once read through (see #events): 64 is a few
// hundred bytes per connection.
const EVENTS_KEPT = 64;

// Text of at least this many UTF-16 code units goes to a transport that writes strings as a
// string (see #textOut), unless the transport says from how many (`_textFrom`).
const _TEXT_FROM = 4096;

// Whether a data frame part is a whole message by itself: one frame, all of it in this part.
function _whole(part: FramePart, messages: MessageDecoder): boolean {
  return part.fin && part.offset === 0 && part.payload.length === part.length && !messages.inMessage;
}
