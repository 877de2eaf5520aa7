/**
 * wsflow on Bun (`wsflow/bun`): `serve()` on `Bun.serve` with Bun's own WebSocket framing
 * (`mode: "native"`, the default) or on `Bun.listen` with wsflow's codec (`mode: "codec"`);
 * `createWebSocketHandler()` for your own `Bun.serve`; and `connect()`, the client transport.
 *
 * What Bun's native WebSockets (`server.upgrade`) hide, compared with the codec path:
 * - Frames: no fragmentation on send (a `ReadableStream` written is joined and sent as one
 *   message), and `maxFrameSize`, `maxFragments`, `fragmentSize` and `closeTimeout` do not
 *   apply. With `streamMessages`, each message arrives whole, as a one-chunk stream.
 * - Limits and heartbeat are per server, not per connection: `maxMessageSize` becomes Bun's
 *   `maxPayloadLength` (a smaller per-upgrade `maxMessageSize` is checked on each message and
 *   fails the connection with 1009). `heartbeat` becomes Bun's `idleTimeout` (seconds, the
 *   interval rounded up; Bun rounds it down to a multiple of 4) with `sendPings`: Bun pings a
 *   connection silent for that long and closes it (1006) about 4 s later without a pong; the
 *   heartbeat's `timeout` is Bun's fixed wait. `heartbeat: false` turns both off.
 * - Compression: Bun's permessage-deflate is turned off and the `extensions` callback is not
 *   consulted (use `mode: "codec"` to negotiate extensions).
 * - Backpressure: `send()` queues under backpressure (-1) or drops past `backpressureLimit`
 *   (0); wsflow waits for `drain` once Bun holds 1 MiB, so nothing is dropped. Reads pause with
 *   `ws.pause()` while the readable is full (Bun 1.4 has it; without it reads are event-driven
 *   and the readable queue is unbounded).
 * - The close handshake is Bun's: `closed` resolves as soon as Bun reports the close, with the
 *   code and reason Bun gives (for a local close, the ones sent).
 *
 * @example
 * ```ts ignore
 * import { upgradeWebSocket } from "wsflow";
 * import { serve } from "wsflow/bun";
 *
 * await serve({ port: 8080 }, async (request) => {
 *   const { socket, response } = await upgradeWebSocket(request);
 *   if (socket) {
 *     const { readable, writable } = await socket.opened;
 *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *   }
 *   return response;
 * });
 * ```
 *
 * @module
 */
import { DEFAULT_MAX_MESSAGE_SIZE } from "../../core/limits.ts";
import type { HeartbeatOptions } from "../../core/session_types.ts";
import { acceptUpgrade } from "../../core/handshake.ts";
import { _registerUpgrader, _upgradeResponse, type UpgradeOptions, type UpgradeResult } from "../../streams/upgrade_web_socket.ts";
import { _decideWithin, _handshakeTimeout, type _HandshakeDeadline } from "../../streams/handshake_deadline.ts";
import { WebSocketStream } from "../../streams/websocket_stream.ts";
import { _listenCodec } from "./codec.ts";
import { _NativeConnection } from "./native.ts";
import { _bun, type BunServer, type BunWebSocketHandlers } from "./types.ts";
import { _checkServeOptions, type Handler, type ServeHandle, type ServeOptions as BaseServeOptions } from "../serve_types.ts";

export { connect, type ConnectOptions } from "./connect.ts";
export type { BunServer, BunServerWebSocket, BunWebSocketHandlers } from "./types.ts";
export type { Handler, ServeHandle } from "../serve_types.ts";

/** Server-wide options of Bun's native WebSockets (Bun has no per-connection ones). */
export interface BunWebSocketOptions {
  /** The largest message accepted, as Bun's `maxPayloadLength` (1009 above it). @default {67108864} */
  maxMessageSize?: number;
  /** As Bun's `idleTimeout` and `sendPings` (see the module doc); `false` turns them off. @default {{ interval: 30000, timeout: 30000 }} */
  heartbeat?: HeartbeatOptions | false;
}

/** Options for {@linkcode serve}: the common ones, and in native mode Bun's server-wide WebSocket options. */
export interface ServeOptions extends BaseServeOptions, BunWebSocketOptions {}

/** What {@linkcode createWebSocketHandler} returns. */
export interface BunWebSocketHandler {
  /** The `websocket` handlers object to pass to `Bun.serve`. */
  websocket: BunWebSocketHandlers<never>;
  /**
   * Runs wsflow's handshake checks, then `server.upgrade(request)`. Return `response` from
   * `fetch` when `socket` is undefined (a 4xx); otherwise return `undefined` (Bun answers 101).
   */
  upgrade(request: Request, server: BunServer, options?: UpgradeOptions): Promise<UpgradeResult>;
}

/**
 * The wiring of Bun's native WebSockets for your own `Bun.serve`: pass `websocket` to it and
 * call `upgrade()` in `fetch`. Each connection is a `WebSocketStream`.
 *
 * @example
 * ```ts ignore
 * import { createWebSocketHandler } from "wsflow/bun";
 *
 * const ws = createWebSocketHandler();
 * Bun.serve({
 *   port: 8080,
 *   websocket: ws.websocket,
 *   async fetch(request, server) {
 *     const { socket, response } = await ws.upgrade(request, server);
 *     if (!socket) return response;
 *     const { readable, writable } = await socket.opened;
 *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *   },
 * });
 * ```
 */
export function createWebSocketHandler(options: BunWebSocketOptions = {}): BunWebSocketHandler {
  return native(options, new Set());
}

function native(options: BunWebSocketOptions, open: Set<WebSocketStream>): BunWebSocketHandler {
  const maxPayloadLength = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  const heartbeat = options.heartbeat ?? { interval: 30_000, timeout: 30_000 };
  const websocket: BunWebSocketHandlers<_NativeConnection> = {
    open: (ws) => ws.data._open(ws),
    message: (ws, message) => ws.data._message(message),
    drain: (ws) => ws.data._drain(),
    pong: (ws, data) => ws.data._pong(data),
    close: (ws, code, reason) => ws.data._close(code, reason),
    maxPayloadLength,
    idleTimeout: heartbeat ? Math.min(960, Math.max(1, Math.ceil((heartbeat.interval ?? 30_000) / 1000))) : 0,
    sendPings: heartbeat !== false,
    backpressureLimit: 2 ** 31 - 1, // wsflow waits for drain at 1 MiB; Bun never drops
    closeOnBackpressureLimit: false,
    perMessageDeflate: false,
  };
  const upgrade = async (request: Request, server: BunServer, upgradeOptions: UpgradeOptions = {}): Promise<UpgradeResult> => {
    const { extensions: _notConsulted, ...acceptOptions } = upgradeOptions;
    const decision = await acceptUpgrade(request, acceptOptions);
    if (!decision.ok) return { socket: undefined, response: decision.response };
    const headers = new Headers(upgradeOptions.headers);
    // Without this header Bun answers with the client's first subprotocol; empty means none.
    headers.set("sec-websocket-protocol", decision.protocol);
    const connection = new _NativeConnection({
      maxMessageSize: Math.min(upgradeOptions.maxMessageSize ?? maxPayloadLength, maxPayloadLength),
      streamMessages: upgradeOptions.streamMessages,
      server,
    });
    if (!server.upgrade(request, { headers, data: connection })) {
      return { socket: undefined, response: new Response("Cannot upgrade: Bun refused the upgrade", { status: 400 }) };
    }
    const url = new URL(request.url);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const socket = WebSocketStream._server(url.href, { connection, protocol: decision.protocol, extensions: "" });
    open.add(socket);
    return { socket, response: _upgradeResponse() };
  };
  return { websocket: websocket as unknown as BunWebSocketHandlers<never>, upgrade };
}

/**
 * Starts a server on Bun that hands every request to `handler`: plain requests get the
 * Response it returns, upgrade requests can call `upgradeWebSocket(request)` (after any
 * `await`). Native mode runs on `Bun.serve` with Bun's framing (see the module doc for what
 * it hides); codec mode on `Bun.listen` with wsflow's codec.
 *
 * @throws {TypeError} Outside Bun, when `handler` is not a function, or an option has the wrong
 * type (`port`, `hostname`, `mode` other than "native" or "codec", `onListen`, `signal`).
 * @throws {RangeError} When `port` is not an integer in 0-65535 or `handshakeTimeout` is not positive.
 *
 * @example Echo server on any free port
 * ```ts ignore
 * import { upgradeWebSocket } from "wsflow";
 * import { serve } from "wsflow/bun";
 *
 * const server = await serve({ port: 0, mode: "codec" }, async (request) => {
 *   const { socket, response } = await upgradeWebSocket(request);
 *   if (socket) {
 *     const { readable, writable } = await socket.opened;
 *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *   }
 *   return response;
 * });
 * console.log(server.url); // server.shutdown() closes every connection with 1001 and stops
 * ```
 */
export function serve(options: ServeOptions, handler: Handler): Promise<ServeHandle> {
  const bun = _bun("serve");
  _checkServeOptions(options, handler);
  const { port = 8080, hostname = "127.0.0.1", mode = "native" } = options;
  const handshakeTimeout = _handshakeTimeout(options.handshakeTimeout, "Cannot serve");
  const open = new _Open();
  let stop: () => void | Promise<void>;
  let actualPort: number;
  if (mode === "codec") {
    const listener = _listenCodec(hostname, port, handler, open, handshakeTimeout);
    actualPort = listener.port;
    stop = () => listener.stop(true);
  } else {
    const { websocket, upgrade } = native(options, open);
    const server = bun.serve({
      hostname,
      port,
      websocket,
      fetch(request, server) {
        const respond = async (deadline?: _HandshakeDeadline) => {
          let upgraded = false;
          _registerUpgrader(request, async (upgradeOptions) => {
            const late = deadline?.claimUpgrade();
            if (late) return { socket: undefined, response: late };
            const result = await upgrade(request, server, upgradeOptions);
            upgraded = result.socket !== undefined;
            return result;
          });
          let response: Response;
          try {
            response = await handler(request, { remoteAddress: server.requestIP(request)?.address ?? "" });
          } catch {
            response = new Response("Internal Server Error", { status: 500 });
          }
          // Once upgraded, Bun answers 101, whatever the handler returned (a middleware's copy).
          return upgraded ? undefined : response;
        };
        // Bun.serve read the head; an upgrade's decision has handshakeTimeout.
        return request.headers.has("upgrade") ? _decideWithin(handshakeTimeout, respond) : respond();
      },
    });
    actualPort = server.port;
    stop = () => server.stop(true);
  }
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      await open.closeAll();
      await stop();
      finish();
    })();
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  options.onListen?.({ hostname, port: actualPort });
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return Promise.resolve({ hostname, port: actualPort, url: `http://${host}:${actualPort}`, finished, shutdown });
}

// A server's open connections, so shutdown() can close them with 1001.
class _Open extends Set<WebSocketStream> {
  override add(socket: WebSocketStream): this {
    const forget = () => void this.delete(socket);
    socket.closed.then(forget, forget);
    return super.add(socket);
  }

  // Closes every connection with 1001 and waits for them, at most 10 seconds (a silent peer).
  async closeAll(): Promise<void> {
    const all = [...this];
    for (const socket of all) socket._goAway();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wait = new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)));
    await Promise.race([Promise.allSettled(all.map((socket) => socket.closed)), wait]);
    clearTimeout(timer);
  }
}
