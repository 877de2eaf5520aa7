/**
 * wsflow on Cloudflare Workers: the same handler as on Node, Deno and Bun inside a Worker's
 * `fetch` (or a Durable Object's), upgraded through `WebSocketPair`, and a client transport
 * over `cloudflare:sockets`.
 *
 * Importing this module once makes them the defaults of the main entry in this Worker:
 * `upgradeWebSocket(request)` upgrades the request `fetch` got, and `new WebSocketStream(url)`
 * connects with `cloudflare:sockets`. The npm package's `workerd` export condition (which
 * wrangler and esbuild with `conditions: ["workerd"]` use) imports it along with `wsflow`.
 *
 * A Worker's WebSocket is message-level, like Deno's native one; what the platform hides:
 * - ping: there is no API, so `ping()` rejects with `NotSupportedError` (workerd answers the
 *   peer's pings itself); `heartbeat` and `closeTimeout` are not applied.
 * - limits: the platform's own (1 MiB per message on Cloudflare); `maxFrameSize`,
 *   `maxMessageSize` and `maxFragments` are not applied.
 * - read backpressure: none; messages queue in the readable until read.
 * - fragments: a `ReadableStream` written is read whole, then sent as one message;
 *   `streamMessages` is refused with a `TypeError`.
 * - compression: the platform compresses. `compression` (`true` or options) accepts the
 *   client's permessage-deflate offer with the negotiation options; `threshold`, `engines`,
 *   `releaseIdleAfter` and `concurrencyLimit` do not apply, nor per-message `compress`.
 * - hibernation (`state.acceptWebSocket` in a Durable Object) is not supported: it delivers
 *   messages to class methods while the object's memory may be dropped between them, so there
 *   is no stream for a reader to hold (see the README's "Edge" section).
 *
 * @example A Worker that echoes
 * ```ts ignore
 * import { upgradeWebSocket } from "wsflow";
 * import "wsflow/cloudflare"; // the npm package's workerd condition does this for you
 *
 * export default {
 *   async fetch(request: Request): Promise<Response> {
 *     const { socket, response } = await upgradeWebSocket(request, { protocol: (offered) => offered[0] });
 *     if (socket) {
 *       const { readable, writable } = await socket.opened;
 *       readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *     }
 *     return response;
 *   },
 * };
 * ```
 *
 * @module
 */
import { acceptUpgrade } from "../../core/handshake.ts";
import { acceptPerMessageDeflate } from "../../core/extensions.ts";
import { _compressionOptions } from "../../streams/compression.ts";
import { _setDefaultTransport } from "../../streams/default_transport.ts";
import { _NativeConnection } from "../../streams/native_connection.ts";
import { _setDefaultUpgrader, type UpgradeOptions, type UpgradeResult } from "../../streams/upgrade_web_socket.ts";
import { WebSocketStream } from "../../streams/websocket_stream.ts";
import { connect } from "./connect.ts";
import { _webSocketPair, type _WorkersWebSocket } from "./types.ts";

export { connect, type ConnectOptions } from "./connect.ts";
export type { ByteDuplex } from "../../streams/types.ts";
export type { UpgradeOptions, UpgradeResult } from "../../streams/upgrade_web_socket.ts";

const PING_UNSUPPORTED = "Cannot ping: a Cloudflare Worker's WebSocket has no ping API (workerd answers the peer's pings itself)";

/**
 * Upgrades the request of a Worker's (or a Durable Object's) `fetch` through `WebSocketPair`,
 * after the same checks as every wsflow upgrade (method, headers, version, `hosts`, `origins`,
 * the `protocol` callback): a refused request gets its 400/403/405/426 back and no socket.
 * Return `response` from `fetch`: a 101 that carries the client's end of the pair, which is the
 * only 101 workerd accepts. The main entry's `upgradeWebSocket(request)` calls this in a Worker
 * once this module is imported. What the platform hides is in the module doc.
 *
 * @throws {TypeError} Outside a Worker, or with `streamMessages`, which needs wsflow's codec.
 *
 * @example
 * ```ts ignore
 * import { upgrade } from "wsflow/cloudflare";
 *
 * export default {
 *   async fetch(request: Request): Promise<Response> {
 *     const { socket, response } = await upgrade(request, { origins: ["https://example.com"] });
 *     if (socket) {
 *       const { readable, writable } = await socket.opened;
 *       readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *     }
 *     return response;
 *   },
 * };
 * ```
 */
export async function upgrade(request: Request, options: UpgradeOptions = {}): Promise<UpgradeResult> {
  const WebSocketPair = _webSocketPair("upgrade");
  if (options.streamMessages) {
    throw new TypeError("Cannot upgrade: streamMessages needs wsflow's codec; a Worker's WebSocket delivers whole messages");
  }
  const compression = _compressionOptions(options.compression);
  const extensions = compression ? (offer: string) => acceptPerMessageDeflate(offer, compression)?.response : undefined;
  const decision = await acceptUpgrade(request, { ...options, extensions });
  if (!decision.ok) return { socket: undefined, response: decision.response };
  const pair = new WebSocketPair();
  const server = pair[1];
  server.accept();
  _answerClose(server);
  const connection = new _NativeConnection(server, { pingUnsupported: PING_UNSUPPORTED });
  const url = new URL(request.url);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const socket = WebSocketStream._server(url.href, { connection, protocol: decision.protocol, extensions: decision.extensions });
  // workerd writes Upgrade, Connection and Sec-WebSocket-Accept itself; the rest is ours.
  const headers = new Headers(options.headers);
  if (decision.protocol) headers.set("sec-websocket-protocol", decision.protocol);
  if (decision.extensions) headers.set("sec-websocket-extensions", decision.extensions);
  return { socket, response: new Response(null, { status: 101, webSocket: pair[0], headers } as ResponseInit) };
}

// Answers the peer's close frame with one of ours (RFC 6455 section 5.5.1), which workerd does
// by itself only from the web_socket_auto_reply_to_close compatibility flag on; where it did,
// or where we started the closing handshake, the socket is closed and this does nothing.
function _answerClose(socket: _WorkersWebSocket): void {
  socket.addEventListener("close", (event) => {
    if (socket.readyState === 3) return;
    try {
      if (event.code === 1005 || event.code === 1006) socket.close();
      else socket.close(event.code, event.reason);
    } catch { /* already closed */ }
  });
}

_setDefaultTransport(connect);
_setDefaultUpgrader(upgrade);
