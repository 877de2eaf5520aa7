import { checkServerResponse, createClientHandshake } from "../core/handshake.ts";
import { HttpHeadError, HttpHeadParser, type HttpHeadMode, type HttpHeadResult, serializeRequestHead } from "../core/http_head.ts";
import type { HeartbeatOptions } from "../core/session_types.ts";
import { _checkCloseInfo, WebSocketError, type WebSocketCloseInfo } from "../core/websocket_error.ts";
import { _Connection } from "./connection.ts";
import type { PerMessageDeflate } from "../core/deflate.ts";
import type { DeflateParams } from "../core/extensions.ts";
import { _clientDeflate, _compressionOptions, _defaultEnginesHere, _offerCompression, type CompressionOptions } from "./compression.ts";
import { _defaultTransport } from "./default_transport.ts";
import type { _TopicSink } from "./topic_sink.ts";
import { _checkClientOptions, _MAX_TIMER } from "./option_checks.ts";
import { _duplexTransport, type _Transport } from "./transport.ts";
import type { ByteDuplex, WebSocketMessage, WebSocketSendable } from "./types.ts";
import type { BufferSourceLike, HeadersLike } from "../core/web_types.ts";

/** Options shared by client and server connections: limits, heartbeat, timeouts. */
export interface ConnectionOptions {
  /** The largest frame payload accepted, in bytes (1009 above it). @default {67108864} */
  maxFrameSize?: number;
  /** The largest message accepted, in bytes (1009 above it). @default {67108864} */
  maxMessageSize?: number;
  /** The most frames one message may have (1009 above it). @default {262144} */
  maxFragments?: number;
  /** Ping an idle peer and fail the connection when it stays silent; `false` turns it off. @default {{ interval: 30000, timeout: 30000 }} */
  heartbeat?: HeartbeatOptions | false;
  /** Milliseconds to wait for the peer's close frame before closing the transport anyway. @default {10000} */
  closeTimeout?: number;
  /** The largest frame payload to send; longer messages go out as fragments. @default {Infinity} */
  fragmentSize?: number;
  /**
   * Each received message is a `ReadableStream<Uint8Array>` of its fragments as they arrive
   * (with a `binary` property), so a large message is never held whole. Read or cancel each
   * one before the next arrives. @default {false}
   */
  streamMessages?: boolean;
  /**
   * permessage-deflate (RFC 7692): `true` for the defaults, `false` for none, or the negotiation
   * knobs and the size threshold below which messages go uncompressed. A server accepts the
   * client's first offer it can honour; a client offers it, as browsers do (by default only
   * where the default engine works: `node:zlib` on Node, Deno, Bun and Workers with
   * nodejs_compat). An idle connection frees its zlib contexts after `releaseIdleAfter` (1 s)
   * either way.
   * @default {false on a server, true on a client (WebSocketStream)}
   */
  compression?: boolean | CompressionOptions;
}

/** Options for {@linkcode WebSocketStream}: the WHATWG ones plus wsflow's. */
export interface WebSocketStreamOptions extends ConnectionOptions {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** Aborts the opening handshake. */
  signal?: AbortSignal;
  /** Extra request headers (cookies, authorization). */
  headers?: HeadersLike;
  /**
   * The byte duplex to speak over, or a function that opens one for the URL.
   * @default {a TCP or TLS connection with the runtime's own sockets}
   */
  transport?: ByteDuplex | ((url: URL) => ByteDuplex | Promise<ByteDuplex>);
  /** TLS settings for `wss:` with the default transport: certificates (PEM) to trust, for self-signed servers. */
  tls?: { ca?: string | string[] };
  /** Milliseconds the opening handshake may take. @default {10000} */
  handshakeTimeout?: number;
  /** The largest response head accepted, in bytes. @default {16384} */
  maxHeadBytes?: number;
  /** Where masking keys and the handshake key come from (for deterministic tests). @default {crypto.getRandomValues} */
  randomBytes?: (n: number) => Uint8Array;
}

/** What `opened` resolves with. */
export interface WebSocketStreamOpenInfo {
  /** Received messages: `string` for text, `Uint8Array` for binary. */
  readable: ReadableStream<WebSocketMessage>;
  /** Messages to send: `string`, `BufferSourceLike`, or a `ReadableStream<Uint8Array>` sent as one message. */
  writable: WritableStream<WebSocketSendable>;
  /** The subprotocol in use, or the empty string. */
  protocol: string;
  /** The extensions in use, or the empty string. */
  extensions: string;
}

/** What `closed` resolves with. */
export interface WebSocketStreamCloseInfo {
  /** The close code the peer sent (1005 when it sent none). */
  closeCode: number;
  /** The close reason, or the empty string. */
  reason: string;
}

/**
 * @internal What a WebSocketStream runs on: our own codec over a duplex (`_Connection`), or a
 * runtime's native socket wrapped by a message-level adapter.
 */
export interface _ConnectionLike {
  readonly readable: ReadableStream<WebSocketMessage>;
  readonly writable: WritableStream<WebSocketSendable>;
  readonly closed: Promise<WebSocketStreamCloseInfo>;
  close(code: number | undefined, reason: string): void;
  ping(): Promise<number>;
}

/** @internal What a server hands over after its side of the opening handshake. */
export type _ServerInit =
  | {
    transport: _Transport;
    rest: Uint8Array;
    protocol: string;
    extensions: string;
    options: ConnectionOptions & { deflate?: PerMessageDeflate; allocate?: (size: number) => Uint8Array };
  }
  | { connection: _ConnectionLike; protocol: string; extensions: string };

/**
 * A WebSocket connection with the WHATWG `WebSocketStream` shape: `opened` gives a readable of
 * messages and a writable for messages, with backpressure both ways; `closed` settles when the
 * connection ends. A client here; a server gets the same object from an upgrade helper.
 *
 * Over any byte duplex (`transport`), in any runtime. The readable is pulled, so a consumer that
 * stops reading stops reads from the transport; a write resolves when the transport's writer is
 * ready again. Messages written before `close()` all go out before the close frame.
 *
 * @example A client over a transport
 * ```ts ignore
 * import { WebSocketStream } from "@wsflow/wsflow";
 *
 * const wss = new WebSocketStream("ws://127.0.0.1:8080/", { transport: await openTcp("127.0.0.1", 8080) });
 * const { readable, writable } = await wss.opened;
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * for await (const message of readable) console.log(message);
 * ```
 */
export class WebSocketStream {
  static #serverInit: _ServerInit | undefined;

  readonly #url: string;
  readonly #opened: Promise<WebSocketStreamOpenInfo>;
  readonly #closed: Promise<WebSocketStreamCloseInfo>;
  #connection: _ConnectionLike | undefined;
  #pendingClose: WebSocketCloseInfo | undefined;
  #abortHandshake: ((error: unknown) => void) | undefined;

  /**
   * Opens a client connection.
   *
   * @param url A `ws:`, `wss:`, `http:` or `https:` URL with no fragment.
   * @param options The options; `null` means none.
   * @throws {DOMException} `SyntaxError` for a bad URL or bad protocols.
   * @throws {TypeError} For options that are not an object (pass subprotocols as `{ protocols }`),
   *   an option of the wrong type, `protocols` that are not a list, or ws's option names
   *   (`maxPayload`, `perMessageDeflate`).
   * @throws {RangeError} For a limit, size or time out of range (such as `maxMessageSize: -1`).
   */
  constructor(url: string | URL, options: WebSocketStreamOptions | null = {}) {
    const server = WebSocketStream.#serverInit;
    WebSocketStream.#serverInit = undefined;
    if (server) {
      this.#url = String(url);
      const connection = this.#connection = "connection" in server
        ? server.connection
        : new _Connection(server.transport, { ...server.options, role: "server" }, server.rest);
      this.#opened = Promise.resolve({ readable: connection.readable, writable: connection.writable, protocol: server.protocol, extensions: server.extensions });
      this.#closed = connection.closed;
      return;
    }
    options = _checkClientOptions(options);
    // The default offer stands only where the default engines work: a runtime without node:zlib
    // connects uncompressed rather than failing (an explicit `compression` there throws, saying
    // to pass `engines`).
    const compression = _offerCompression(_compressionOptions(options.compression ?? _defaultEnginesHere()));
    const handshake = createClientHandshake(url, { protocols: options.protocols, headers: options.headers, randomBytes: options.randomBytes, extensions: compression?.offer });
    this.#url = handshake.url.href;
    let rejectClosed!: (error: unknown) => void;
    const closed = new Promise<WebSocketStreamCloseInfo>((_, reject) => (rejectClosed = reject));
    this.#opened = this.#connect(handshake, options, compression);
    this.#opened.catch(rejectClosed);
    this.#closed = this.#opened.then(() => this.#connection!.closed, () => closed);
    this.#opened.catch(() => {});
    this.#closed.catch(() => {});
  }

  /** @internal Wraps the server side of an accepted upgrade. */
  static _server(url: string, init: _ServerInit): WebSocketStream {
    WebSocketStream.#serverInit = init;
    return new WebSocketStream(url);
  }

  /** The URL of the connection. */
  get url(): string {
    return this.#url;
  }

  /** Resolves when the connection is open; rejects with a `WebSocketError` when it cannot open. */
  get opened(): Promise<WebSocketStreamOpenInfo> {
    return this.#opened;
  }

  /** Resolves with the close code and reason after a clean close; rejects with a `WebSocketError` otherwise. */
  get closed(): Promise<WebSocketStreamCloseInfo> {
    return this.#closed;
  }

  /**
   * Starts the closing handshake after every message already written has gone out (RFC 6455
   * section 7.1.2). Before the connection opens, it aborts the handshake. With no code the close
   * frame has no body (the peer sees 1005); a reason without a code means 1000.
   *
   * @param closeInfo The WHATWG form, `{ closeCode, reason }`.
   * @throws {TypeError} For an argument of another shape, such as `{ code }` or a string.
   * @throws {DOMException} `InvalidAccessError` for a code an endpoint may not send (only 1000-1003, 1007-1014 and 3000-4999 may be sent), `SyntaxError` for a reason over 123 bytes of UTF-8.
   *
   * @example A server that is too busy (1013), over an in-memory pipe
   * ```ts
   * import { readUpgradeRequest, WebSocketStream } from "@wsflow/wsflow";
   *
   * const up = new TransformStream<Uint8Array, Uint8Array>();
   * const down = new TransformStream<Uint8Array, Uint8Array>();
   * const client = new WebSocketStream("ws://in-memory/", { transport: { readable: down.readable, writable: up.writable } });
   * const server = await (await readUpgradeRequest({ readable: up.readable, writable: down.writable })).accept();
   * await client.opened;
   * server.close(1013, "try again later"); // or server.close({ closeCode: 1013, reason: "try again later" })
   * console.log(await client.closed); // { closeCode: 1013, reason: "try again later" }
   * ```
   */
  close(closeInfo?: WebSocketCloseInfo): void;
  /**
   * Starts the closing handshake, as {@linkcode WebSocketStream.prototype.close} with
   * `{ closeCode: code, reason }`: the call of `WebSocket`, `ws`, Deno and Bun.
   *
   * @param code The close code: 1000-1003, 1007-1014 or 3000-4999 (1001 going away, 1008 policy violation, 1011 internal error, 1012 restart, 1013 try again later...).
   * @param reason At most 123 bytes of UTF-8.
   * @throws {TypeError} When `reason` is not a string.
   * @throws {DOMException} `InvalidAccessError` for a code an endpoint may not send, `SyntaxError` for a reason over 123 bytes of UTF-8.
   */
  close(code: number, reason?: string): void;
  close(closeInfo?: WebSocketCloseInfo | number | null, reason?: string): void {
    const { closeCode, reason: text } = _checkCloseInfo(_closeArguments(closeInfo, reason), "close");
    if (this.#connection) return this.#connection.close(closeCode ?? undefined, text);
    this.#pendingClose = { closeCode: closeCode ?? undefined, reason: text };
    this.#abortHandshake?.(WebSocketError._from("Cannot open connection: closed before the handshake finished", 1006, ""));
  }

  /** @internal The connection's hook for topics, once it is open (a server's at once); else undefined. */
  _topicSink(): _TopicSink | undefined {
    const connection = this.#connection as Partial<_TopicSink> | undefined;
    return connection?._topicMode ? connection as _TopicSink : undefined;
  }

  /** @internal Closes with 1001 (going away): a server shutting down. */
  _goAway(): void {
    if (this.#connection) this.#connection.close(1001, "going away");
  }

  /**
   * Sends a ping and resolves with the round-trip time in milliseconds when its pong arrives
   * (wsflow's addition to the WHATWG interface). Called before the connection is open, it waits
   * for `opened` (and rejects as `opened` does).
   *
   * @throws {DOMException} `InvalidStateError` once the connection is closing or closed.
   */
  async ping(): Promise<number> {
    await this.#opened;
    return this.#connection!.ping();
  }

  async #connect(
    handshake: ReturnType<typeof createClientHandshake>,
    options: WebSocketStreamOptions,
    compression: ReturnType<typeof _offerCompression>,
  ): Promise<WebSocketStreamOpenInfo> {
    const { signal } = options;
    const timeout = options.handshakeTimeout ?? 10_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    let opening: ByteDuplex | Promise<ByteDuplex> | undefined;
    let duplex: ByteDuplex | undefined;
    const aborted = new Promise<never>((_, reject) => {
      this.#abortHandshake = reject;
      // Infinity (or longer than a timer can wait) means no deadline.
      if (timeout <= _MAX_TIMER) timer = setTimeout(() => reject(WebSocketError._from(`Cannot open connection: the handshake took longer than ${timeout} ms`, 1006, "")), timeout);
      onAbort = () => reject(signal!.reason ?? new DOMException("The operation was aborted", "AbortError"));
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {});
    try {
      if (signal?.aborted) throw signal.reason ?? new DOMException("The operation was aborted", "AbortError");
      const transport = options.transport ?? ((url: URL) => {
        const ca = options.tls?.ca;
        return _defaultTransport(url, { ca: typeof ca === "string" ? [ca] : ca, signal });
      });
      opening = typeof transport === "function" ? transport(handshake.url) : transport;
      duplex = await Promise.race([opening, aborted]);
      const writer = duplex.writable.getWriter();
      await Promise.race([writer.write(serializeRequestHead({ method: "GET", target: handshake.path, headers: handshake.headers })), aborted]);
      writer.releaseLock();
      const head = await Promise.race([readHead(duplex.readable, "response", options.maxHeadBytes), aborted]);
      let params: DeflateParams | undefined;
      const result = await checkServerResponse(head, handshake, {
        // A response the offer does not allow throws, which fails the handshake with its message.
        extensions: compression ? (response) => ((params = compression.check(response)), true) : undefined,
      });
      if (this.#pendingClose) throw WebSocketError._from("Cannot open connection: closed before the handshake finished", 1006, "");
      const deflate = params ? await _clientDeflate(params, _compressionOptions(options.compression ?? true)!, options.maxMessageSize) : undefined;
      const connection = this.#connection = new _Connection(_duplexTransport(duplex), { ...options, role: "client", deflate }, head.rest);
      return { readable: connection.readable, writable: connection.writable, protocol: result.protocol, extensions: result.extensions };
    } catch (error) {
      // A transport still opening (close(), the timeout) is closed once it opens: else its TCP
      // connection would stay open, unread, until the server gave up on it.
      if (!duplex && opening) void Promise.resolve(opening).then(_closeDuplex, () => {});
      if (duplex) _closeDuplex(duplex);
      throw error instanceof WebSocketError || (error instanceof DOMException && error.name === "AbortError")
        ? error
        : WebSocketError._from(`Cannot open connection: ${error instanceof Error ? error.message : String(error)}`, 1006, "");
    } finally {
      clearTimeout(timer);
      // A long-lived signal (an application's shutdown signal) must not keep every connection.
      signal?.removeEventListener("abort", onAbort!);
      this.#abortHandshake = undefined;
    }
  }
}

// Closes a byte duplex both ways, whatever state its streams are in.
function _closeDuplex(duplex: ByteDuplex): void {
  duplex.writable.abort().catch(() => {});
  duplex.readable.cancel().catch(() => {});
}

/**
 * @internal Reads one HTTP/1.1 head from a byte stream and releases it; bytes after the head come back
 * as `rest`.
 */
export async function _readHead<M extends HttpHeadMode>(
  readable: ReadableStream<Uint8Array>,
  mode: M,
  maxHeadBytes?: number,
  signal?: AbortSignal,
): Promise<HttpHeadResult<M>> {
  const parser = new HttpHeadParser(mode, { maxHeadBytes });
  const reader = readable.getReader();
  // An abort (the server's handshake deadline) cancels the read: the stream ends here.
  const cancel = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new HttpHeadError(`Cannot read HTTP head: the connection ended before the ${mode} head was complete`, 400);
      const result = parser.push(value);
      if (result instanceof HttpHeadError) throw result;
      if (result) return result;
    }
  } finally {
    signal?.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
}

const readHead = _readHead;

const CLOSE_SHAPES = "pass close(code, reason) or close({ closeCode, reason })";

// The close() calls people type: the WHATWG `{ closeCode, reason }`, or `(code, reason)` as with
// WebSocket, ws, Deno and Bun. Any other shape (`{ code }`, a string) is refused rather than
// read as a close without a code.
function _closeArguments(first: unknown, second: unknown): WebSocketCloseInfo {
  if (second !== undefined && typeof second !== "string") {
    throw new TypeError(`Cannot close: the reason must be a string, got ${_shape(second)}; ${CLOSE_SHAPES}`);
  }
  if (typeof first === "number") return { closeCode: first, reason: second };
  if (second !== undefined) throw new TypeError(`Cannot close: a reason needs a close code before it, got ${_shape(first)}; ${CLOSE_SHAPES}`);
  if (first === undefined || first === null) return {};
  if (typeof first !== "object" || Array.isArray(first) || ("code" in first && !("closeCode" in first))) {
    throw new TypeError(`Cannot close: ${_shape(first)} is neither a close code nor { closeCode, reason }; ${CLOSE_SHAPES}`);
  }
  const { closeCode, reason } = first as { closeCode?: unknown; reason?: unknown };
  if (closeCode !== undefined && closeCode !== null && typeof closeCode !== "number") {
    throw new TypeError(`Cannot close: closeCode must be a number, got ${_shape(closeCode)}; ${CLOSE_SHAPES}`);
  }
  if (reason !== undefined && typeof reason !== "string") {
    throw new TypeError(`Cannot close: reason must be a string, got ${_shape(reason)}; ${CLOSE_SHAPES}`);
  }
  return { closeCode: closeCode ?? undefined, reason };
}

// How an unexpected argument reads in an error message: `"bye"`, `{ code, reason }`, `true`.
function _shape(value: unknown): string {
  if (typeof value === "string" || Array.isArray(value)) return JSON.stringify(value);
  if (typeof value === "object" && value !== null) return `{ ${Object.keys(value).join(", ")} }`;
  return String(value);
}
