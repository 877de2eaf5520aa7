/**
 * wsflow on Deno: `serve()` with two paths, and `upgrade()` for your own `Deno.serve`.
 *
 * - `mode: "native"` (the default) runs `Deno.serve` and upgrades through
 *   `Deno.upgradeWebSocket`: Deno's own framing, message-level. Deno hides from it: ping (no
 *   API, so `ping()` rejects with `NotSupportedError`; Deno answers the peer's pings itself),
 *   compression (no permessage-deflate), limits (Deno's own 64 MiB message cap; `maxFrameSize`,
 *   `maxMessageSize`, `maxFragments`, `fragmentSize`, `closeTimeout` are ignored), read
 *   backpressure (messages queue until read), fragmented sends (a `ReadableStream` written is
 *   read whole, then sent as one frame) and `streamMessages` (refused with a `TypeError`).
 *   `heartbeat` maps onto Deno's `idleTimeout` in whole seconds, `(interval + timeout) / 1000`:
 *   Deno pings after half of it without traffic and closes with 1001 ("No response from ping
 *   frame.") after the other half; `heartbeat: false` is `idleTimeout: 0`.
 * - `mode: "codec"` runs `Deno.listen` and wsflow's own codec on each TCP connection: ping
 *   with round-trip time, every limit, heartbeat and close timeout as on Node and Bun, read
 *   backpressure. Plain HTTP requests get the handler's Response written with
 *   `Connection: close` (one request per connection; request bodies are not read).
 *
 * @example
 * ```ts ignore
 * import { upgradeWebSocket } from "@wsflow/wsflow";
 * import { serve } from "@wsflow/wsflow/deno";
 *
 * const server = serve({ port: 8080, mode: "codec" }, async (request) => {
 *   const { socket, response } = await upgradeWebSocket(request);
 *   if (socket) {
 *     const { readable, writable } = await socket.opened;
 *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *   }
 *   return response;
 * });
 * await server.finished;
 * ```
 *
 * @module
 */
import { acceptUpgrade, rejectUpgrade } from "../../core/handshake.ts";
import { _decideWithin, _handshakeTimeout, type _HandshakeDeadline } from "../../streams/handshake_deadline.ts";
import { _NativeConnection } from "../../streams/native_connection.ts";
import { _registerUpgrader, type UpgradeOptions, type UpgradeResult } from "../../streams/upgrade_web_socket.ts";
import { WebSocketStream } from "../../streams/websocket_stream.ts";
import { _serveCodec } from "./codec.ts";
import { _deno } from "./runtime.ts";
import { _Sockets } from "./sockets.ts";
import { _checkServeOptions, type Handler, type ServeHandle, type ServeOptions } from "../serve_types.ts";

export { connect, type ConnectOptions } from "./connect.ts";
export type { ByteDuplex } from "../../streams/types.ts";
export type { UpgradeOptions, UpgradeResult } from "../../streams/upgrade_web_socket.ts";

/** A request handler: return a Response, or the `response` of `upgradeWebSocket(request)`. */
export type ServeHandler = Handler;
export type { ServeHandle, ServeOptions };

const PING_UNSUPPORTED = 'Cannot ping: Deno.upgradeWebSocket exposes no ping API; serve with mode "codec" (wsflow/deno) to ping';

// Deno fails a connection for a peer's violation with an error event and a close event of code 0.
// Of its violations, only a close frame's invalid code is answered with a close frame (1002);
// the others end TCP without one (1006).
function denoFailureCode(message: string): number | undefined {
  return message === "Invalid close code" ? 1002 : undefined;
}

/**
 * Serves HTTP and WebSocket on Deno. Inside the handler, `upgradeWebSocket(request, options)`
 * (from the main entry point) upgrades the request; it works after `await`, so auth can come first.
 *
 * @throws {TypeError} Outside Deno, when `handler` is not a function, or an option has the
 * wrong type (`port`, `hostname`, `mode` other than "native" or "codec", `onListen`, `signal`).
 * @throws {RangeError} When `port` is not an integer in 0-65535 or `handshakeTimeout` is not positive.
 *
 * @example An echo server that checks a token first
 * ```ts ignore
 * import { upgradeWebSocket } from "@wsflow/wsflow";
 * import { serve } from "@wsflow/wsflow/deno";
 *
 * const server = serve({ port: 0, onListen: ({ port }) => console.log(port) }, async (request) => {
 *   if (request.headers.get("authorization") !== "Bearer secret") return new Response("Unauthorized", { status: 401 });
 *   const { socket, response } = await upgradeWebSocket(request, { protocol: ["chat"] });
 *   if (socket) {
 *     const { readable, writable } = await socket.opened;
 *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *   }
 *   return response;
 * });
 * Deno.addSignalListener("SIGINT", () => void server.shutdown()); // closes every connection with 1001
 * ```
 */
export function serve(options: ServeOptions, handler: ServeHandler): ServeHandle {
  const deno = _deno("serve");
  _checkServeOptions(options, handler);
  if (options.mode === "codec") return _serveCodec(deno, options, handler);
  const handshakeTimeout = _handshakeTimeout(options.handshakeTimeout, "Cannot serve");
  const sockets = new _Sockets();
  const server = deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 8080,
    onListen: () => {},
  }, (request, info) => {
    const respond = async (deadline?: _HandshakeDeadline) => {
      let upgraded: Response | undefined;
      _registerUpgrader(request, async (upgradeOptions) => {
        if (sockets.closing) return { socket: undefined, response: new Response("Cannot upgrade: the server is shutting down", { status: 503 }) };
        const late = deadline?.claimUpgrade();
        if (late) return { socket: undefined, response: late };
        const result = await upgradeNative(request, upgradeOptions, sockets);
        if (result.socket) upgraded = result.response;
        return result;
      });
      let response: Response;
      try {
        response = await handler(request, { remoteAddress: info.remoteAddr.hostname });
      } catch (error) {
        if (!upgraded) throw error;
        response = upgraded;
      }
      // Once upgraded, Deno's 101 goes back, whatever the handler returned (a middleware's copy).
      return upgraded ?? response;
    };
    // Deno.serve read the head; an upgrade's decision has handshakeTimeout.
    return request.headers.has("upgrade") ? _decideWithin(handshakeTimeout, respond) : respond();
  });
  const { hostname, port } = server.addr;
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      await Promise.all([server.shutdown(), sockets.closeAll()]);
    })();
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  if (options.signal?.aborted) void shutdown();
  options.onListen?.({ hostname, port });
  const finished = server.finished.then(() => sockets.closeAll());
  return { hostname, port, url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`, finished, shutdown };
}

/**
 * Upgrades a request of your own `Deno.serve` through `Deno.upgradeWebSocket`, after the same
 * checks as every wsflow upgrade (method, headers, version, `hosts`, `origins`, the `protocol`
 * callback): a refused request gets its 400/403/405/426 back and no socket. Return `response`
 * from your handler. The connection is message-level, with what Deno hides (see the module doc):
 * `ping()` rejects, no compression (the `extensions` callback is not consulted), Deno's limits.
 * `heartbeat` becomes Deno's `idleTimeout` (seconds, `(interval + timeout) / 1000`).
 *
 * @throws {TypeError} Outside Deno, or with `streamMessages`, which needs mode "codec".
 *
 * @example
 * ```ts ignore
 * import { upgrade } from "@wsflow/wsflow/deno";
 *
 * Deno.serve({ port: 8080 }, async (request) => {
 *   const { socket, response } = await upgrade(request, { heartbeat: { interval: 10_000, timeout: 10_000 } });
 *   if (socket) {
 *     const { readable, writable } = await socket.opened;
 *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *   }
 *   return response;
 * });
 * ```
 */
export function upgrade(request: Request, options: UpgradeOptions = {}): Promise<UpgradeResult> {
  return upgradeNative(request, options, undefined);
}

// After the event loop's I/O, when Deno has run the writes that send() started.
const nextTurn = (callback: () => void): unknown => (globalThis as unknown as { setImmediate: (callback: () => void) => unknown }).setImmediate(callback);

async function upgradeNative(request: Request, options: UpgradeOptions, sockets: _Sockets | undefined): Promise<UpgradeResult> {
  const deno = _deno("upgrade");
  if (options.streamMessages) {
    throw new TypeError('Cannot upgrade: streamMessages needs wsflow\'s codec; Deno.upgradeWebSocket delivers whole messages; serve with mode "codec"');
  }
  // RFC 6455 section 4.2.1 requires Host; Deno.serve hands on a request without one (its URL made
  // up from the server's own address), where wsflow's own head parser answers 400.
  if (!request.headers.has("host")) {
    return { socket: undefined, response: rejectUpgrade(400, "Cannot upgrade to WebSocket: the Host header is missing") };
  }
  const decision = await acceptUpgrade(request, { ...options, extensions: undefined });
  if (!decision.ok) return { socket: undefined, response: decision.response };
  const heartbeat = options.heartbeat;
  const idleTimeout = heartbeat === false ? 0 : Math.max(1, Math.round(((heartbeat?.interval ?? 30_000) + (heartbeat?.timeout ?? 30_000)) / 1000));
  const native = deno.upgradeWebSocket(request, { idleTimeout });
  // Deno writes the handshake headers itself; the caller's extra ones (Set-Cookie) join them.
  // The subprotocol goes in here too: Deno's own `protocol` option splits the offer on ", "
  // only, so it refuses "a,b" (which RFC 7230 lists allow) with a TypeError.
  for (const [name, value] of new Headers(options.headers)) native.response.headers.append(name, value);
  if (decision.protocol) native.response.headers.set("sec-websocket-protocol", decision.protocol);
  // Deno's socket resolves nothing of its own: a write waits until bufferedAmount shows it written.
  const connection = new _NativeConnection(native.socket, { pingUnsupported: PING_UNSUPPORTED, confirmsWrites: nextTurn, failureCode: denoFailureCode });
  const url = new URL(request.url);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const socket = WebSocketStream._server(url.href, { connection, protocol: decision.protocol, extensions: "" });
  sockets?.add(socket);
  return { socket, response: native.response };
}
