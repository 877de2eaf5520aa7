/**
 * wsflow on Node: WebSocket servers on `node:http`/`node:https` with wsflow's own codec on the
 * socket (byte-level), and the client transport.
 *
 * @example Attach to an existing server
 * ```ts ignore
 * import { createServer } from "node:http";
 * import { upgradeWebSocket } from "wsflow";
 * import { attach } from "wsflow/node";
 *
 * const server = createServer((req, res) => res.end("hello"));
 * attach(server, async (request) => {
 *   const { socket, response } = await upgradeWebSocket(request);
 *   if (socket) {
 *     const { readable, writable } = await socket.opened;
 *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *   }
 *   return response;
 * });
 * server.listen(8080);
 * ```
 *
 * @module
 */
// Node's modules come from process.getBuiltinModule (./builtin.ts), not imports, so this entry
// bundles for any platform; only their types are imported.
import type * as NodeBuffer from "node:buffer";
import type * as Http from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type * as Https from "node:https";
import type { Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";
import type * as Stream from "node:stream";
import { _nodeBuiltin } from "./builtin.ts";
import { _plain } from "../../core/bytes.ts";
import { acceptUpgrade, rejectUpgrade } from "../../core/handshake.ts";
import { checkRequestHead, serializeResponse } from "../../core/http_head.ts";
import { _handshakeTimeout, _HandshakeDeadline } from "../../streams/handshake_deadline.ts";
import { _acceptOnDuplex } from "../../streams/upgrade.ts";
import { _registerUpgrader, _upgradeResponse, type UpgradeOptions, type UpgradeResult } from "../../streams/upgrade_web_socket.ts";
import type { WebSocketStream } from "../../streams/websocket_stream.ts";
import { _socketTransport } from "./transport.ts";
import { _checkServeOptions, type Handler, type ServeHandle, type ServeOptions as BaseServeOptions } from "../serve_types.ts";

export { connect, type ConnectOptions } from "./connect.ts";
export { socketDuplex } from "./duplex.ts";
export type { NodeSocket } from "./builtin.ts";
export type { Handler, ServeHandle } from "../serve_types.ts";

/** Options for {@linkcode serve} on Node: the cross-runtime ones plus TLS. */
export interface ServeOptions extends BaseServeOptions {
  /** Serve HTTPS and WSS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
}

/** Options for {@linkcode attach}. */
export interface AttachOptions {
  /**
   * Milliseconds from a connection's first byte (after TLS) until its request head is read and,
   * for an upgrade, until the handler has upgraded or returned its Response. Past it the peer
   * gets a 408 and the socket is closed. `Infinity` for no deadline.
   * @default {10000}
   */
  handshakeTimeout?: number;
}

/**
 * Binds WebSocket upgrades on an `http`/`https` server to a handler: each upgrade request is a
 * `Request` whose `upgradeWebSocket(request)` runs the handshake and wsflow's codec on the socket.
 * A Response the handler returns instead (a 401, say) is written to the socket; once the upgrade
 * is done, whatever the handler returns (its middleware's copy of the response, say) is ignored.
 *
 * Each new connection has `handshakeTimeout` to send its first request head, and an upgrade
 * request as long again, counted from the same start, for the handler's decision: past it the
 * peer gets a 408 and the socket is closed. Upgrade requests get the same checks as on every
 * wsflow server ({@linkcode checkRequestHead}): HTTP/1.1, one Host, no repeated handshake
 * field, no body.
 *
 * @returns The set of open connections (for a graceful shutdown).
 * @throws {TypeError} When `handler` is not a function.
 * @throws {RangeError} When `handshakeTimeout` is not a positive number.
 */
export function attach(server: Server | HttpsServer, handler: Handler, options: AttachOptions = {}): Set<WebSocketStream> {
  if (typeof handler !== "function") throw new TypeError(`Cannot attach: handler must be a function (request, info) => Response, got ${typeof handler}`);
  const timeout = _handshakeTimeout(options.handshakeTimeout, "Cannot attach");
  const open = new Set<WebSocketStream>();
  const secure = server instanceof _nodeBuiltin<typeof Https>("node:https", "attach").Server;
  const scheme = secure ? "https" : "http";
  // A connection's deadline runs from its first byte (after TLS) to its first request head, and
  // for an upgrade on to the handler's decision. It is kept on the socket until settled.
  server.on(secure ? "secureConnection" : "connection", (socket: DeadlineSocket) => {
    socket[kDeadline] = _deadline(socket, timeout);
    socket.on("close", _settleDeadline);
  });
  server.on("request", (message: IncomingMessage) => _settleDeadline.call(message.socket));
  server.on("upgrade", (message: IncomingMessage, socket: DeadlineSocket, head: Uint8Array) => {
    if (socket.destroyed || socket.writableEnded) return; // the deadline answered already
    let deadline = socket[kDeadline];
    if (!deadline || deadline.settled) {
      // An upgrade after plain requests on a kept-alive connection (or on one accepted before
      // attach): the decision gets its own deadline.
      deadline = socket[kDeadline] = _deadline(socket, timeout);
      socket.on("close", _settleDeadline);
    }
    const invalid = checkRequestHead(`HTTP/${message.httpVersion}`, message.rawHeaders);
    if (invalid) return void (_settleDeadline.call(socket) && _answer(socket, rejectUpgrade(invalid.status, invalid.message)));
    socket.setNoDelay(true);
    const request = toRequest(message, scheme);
    const pending = deadline;
    let upgraded = false;
    _registerUpgrader(request, async (upgradeOptions) => {
      // The hot path: socket data goes straight to the Session, each flush is one corked write.
      const result = await _acceptOnDuplex(request, _socketTransport(socket), head, { allocate: _allocUnsafe, ...upgradeOptions }, pending);
      if (pending.settled) _settleDeadline.call(socket); // by the 101 or the 408: let it go
      if (!result.socket) return result;
      upgraded = true;
      _track(open, result.socket);
      return { socket: result.socket, response: _upgradeResponse() };
    });
    void (async () => {
      let response: Response;
      try {
        response = await handler(request, { remoteAddress: socket.remoteAddress ?? "" });
      } catch {
        response = new Response("Internal Server Error", { status: 500 });
      }
      // After the 101 (or the deadline's 408) the socket takes no more HTTP.
      if (!upgraded && pending.settle()) await _answer(socket, response);
    })();
  });
  return open;
}

const kDeadline = Symbol("wsflow.handshakeDeadline");
type DeadlineSocket = Socket & { [kDeadline]?: _HandshakeDeadline };

// A socket's handshake deadline: past it, the 408 is written and the socket closed.
function _deadline(socket: Socket, timeout: number): _HandshakeDeadline {
  return new _HandshakeDeadline(timeout, (response) => void _answer(socket, response));
}

// Settles the socket's pending handshake deadline and forgets it, so neither the deadline nor
// a listener stays with the socket for its life. A module-level listener (`this` is the
// socket), not a closure per connection. True when the caller settled it.
function _settleDeadline(this: DeadlineSocket): boolean {
  const deadline = this[kDeadline];
  if (deadline === undefined) return false;
  this[kDeadline] = undefined;
  this.off("close", _settleDeadline);
  return deadline.settle();
}

// Writes a whole Response on a socket that leaves HTTP, and closes it once written.
async function _answer(socket: Socket, response: Response): Promise<void> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await serializeResponse(response);
  } catch { /* an unreadable body: close without an answer */ }
  if (socket.destroyed) return;
  if (bytes) socket.end(bytes, () => socket.destroy());
  else socket.destroy();
}

/**
 * Starts an HTTP (or HTTPS) server on Node that hands every request to `handler`: plain requests
 * get the Response it returns, upgrade requests can call `upgradeWebSocket(request)`; on a plain
 * request it gives no socket and the handshake's refusal (400, 405 or 426) to return.
 *
 * @throws {TypeError} When `handler` is not a function, or an option has the wrong type (`port`,
 * `hostname`, `mode`, `onListen`, `signal`); the returned promise rejects when listening fails.
 * @throws {RangeError} When `port` is not an integer in 0-65535 or `handshakeTimeout` is not positive.
 *
 * @example Echo server
 * ```ts ignore
 * import { upgradeWebSocket } from "wsflow";
 * import { serve } from "wsflow/node";
 *
 * serve({ port: 8080 }, async (request) => {
 *   const { socket, response } = await upgradeWebSocket(request);
 *   if (socket) {
 *     const { readable, writable } = await socket.opened;
 *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *   }
 *   return response;
 * });
 * ```
 */
export function serve(options: ServeOptions, handler: Handler): Promise<ServeHandle> {
  _checkServeOptions(options, handler);
  const { port = 8080, hostname = "127.0.0.1", tls } = options;
  const handshakeTimeout = _handshakeTimeout(options.handshakeTimeout, "Cannot serve");
  const onRequest = (message: IncomingMessage, res: ServerResponse) => void respond(message, res, handler, tls ? "https" : "http");
  // With TLS, the TLS handshake has the same bound (tls.Server's own handshakeTimeout).
  const tlsHandshake = Number.isFinite(handshakeTimeout) ? { handshakeTimeout } : {};
  const server = tls
    ? _nodeBuiltin<typeof Https>("node:https", "serve").createServer({ cert: tls.cert, key: tls.key, ...tlsHandshake }, onRequest)
    : _nodeBuiltin<typeof Http>("node:http", "serve").createServer(onRequest);
  const open = attach(server, handler, { handshakeTimeout });
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  server.on("close", () => finish());
  const shutdown = async () => {
    server.close();
    for (const wss of open) wss._goAway();
    await Promise.allSettled([...open].map((wss) => wss.closed));
    server.closeAllConnections();
    await finished;
  };
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      const address = server.address();
      const actual = typeof address === "object" && address ? address.port : port;
      try {
        options.onListen?.({ hostname, port: actual });
      } catch (error) {
        // A throwing onListen rejects serve() rather than crashing in this callback.
        server.close();
        return reject(error);
      }
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      resolve({ hostname, port: actual, url: `${tls ? "https" : "http"}://${host}:${actual}`, finished, shutdown });
    });
  });
}

// Joined messages are overwritten at once: no need to zero-fill them first. Handed out as plain
// arrays, as every message read is (see _plain).
let _buffer: typeof NodeBuffer.Buffer | undefined;
const _allocUnsafe = (size: number): Uint8Array => _plain((_buffer ??= _nodeBuiltin<typeof NodeBuffer>("node:buffer", "serve").Buffer).allocUnsafe(size));

// Tracks an open connection until it closes. A module-level function, so the closure that
// forgets it does not keep the upgrade request (and its IncomingMessage) alive.
function _track(open: Set<WebSocketStream>, socket: WebSocketStream): void {
  open.add(socket);
  const forget = () => void open.delete(socket);
  socket.closed.then(forget, forget);
}

// An IncomingMessage as a fetch Request (the body streamed for methods that have one).
function toRequest(message: IncomingMessage, scheme: "http" | "https"): Request {
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  const url = `${scheme}://${message.headers.host ?? "localhost"}${message.url ?? "/"}`;
  const method = message.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(url, {
    method,
    headers,
    body: hasBody ? (_nodeBuiltin<typeof Stream>("node:stream", "serve").Readable.toWeb(message) as ReadableStream<Uint8Array>) : undefined,
    ...(hasBody ? { duplex: "half" } : {}),
  } as RequestInit);
}

async function respond(message: IncomingMessage, res: ServerResponse, handler: Handler, scheme: "http" | "https"): Promise<void> {
  const request = toRequest(message, scheme);
  _registerUpgrader(request, _refuseUpgrade.bind(undefined, request));
  let response: Response;
  try {
    response = await handler(request, { remoteAddress: message.socket.remoteAddress ?? "" });
  } catch {
    response = new Response("Internal Server Error", { status: 500 });
  }
  res.statusCode = response.status;
  for (const [name, value] of response.headers) if (name !== "set-cookie") res.setHeader(name, value);
  const cookies = response.headers.getSetCookie();
  if (cookies.length) res.setHeader("set-cookie", cookies);
  if (!response.body) return void res.end();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve));
  }
  res.end();
}

// upgradeWebSocket on a plain request (node:http hands upgrade requests to attach's "upgrade"
// listener): no socket, and the handshake's own refusal (400, 405 or 426), as on Deno and Bun.
async function _refuseUpgrade(request: Request, options: UpgradeOptions): Promise<UpgradeResult> {
  const decision = await acceptUpgrade(request, options);
  if (!decision.ok) return { socket: undefined, response: decision.response };
  return { socket: undefined, response: rejectUpgrade(400, "Cannot upgrade to WebSocket: the request did not reach the server as an upgrade") };
}
