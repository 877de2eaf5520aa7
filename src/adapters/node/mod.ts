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
 *   if (socket) void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable));
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
import { serializeResponse } from "../../core/http_head.ts";
import { _acceptOnDuplex } from "../../streams/upgrade.ts";
import { _isUpgradeResponse, _registerUpgrader, _upgradeResponse } from "../../streams/upgrade_web_socket.ts";
import type { WebSocketStream } from "../../streams/websocket_stream.ts";
import { _socketTransport } from "./transport.ts";
import type { Handler, ServeHandle, ServeOptions as BaseServeOptions } from "../serve_types.ts";

export { connect, type ConnectOptions } from "./connect.ts";
export { socketDuplex } from "./duplex.ts";
export type { Handler, ServeHandle } from "../serve_types.ts";

/** Options for {@linkcode serve} on Node: the cross-runtime ones plus TLS. */
export interface ServeOptions extends BaseServeOptions {
  /** Serve HTTPS and WSS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
}

/**
 * Binds WebSocket upgrades on an `http`/`https` server to a handler: each upgrade request is a
 * `Request` whose `upgradeWebSocket(request)` runs the handshake and wsflow's codec on the socket.
 * A Response the handler returns instead (a 401, say) is written to the socket.
 *
 * @returns The set of open connections (for a graceful shutdown).
 */
export function attach(server: Server | HttpsServer, handler: Handler): Set<WebSocketStream> {
  const open = new Set<WebSocketStream>();
  const scheme = server instanceof _nodeBuiltin<typeof Https>("node:https", "attach").Server ? "https" : "http";
  server.on("upgrade", (message: IncomingMessage, socket: Socket, head: Uint8Array) => {
    socket.setNoDelay(true);
    const request = toRequest(message, scheme);
    _registerUpgrader(request, async (options) => {
      // The hot path: socket data goes straight to the Session, each flush is one corked write.
      const result = await _acceptOnDuplex(request, _socketTransport(socket), head, { allocate: _allocUnsafe, ...options });
      if (!result.socket) return result;
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
      if (_isUpgradeResponse(response)) return;
      if (!socket.destroyed) socket.end(await serializeResponse(response));
    })();
  });
  return open;
}

/**
 * Starts an HTTP (or HTTPS) server on Node that hands every request to `handler`: plain requests
 * get the Response it returns, upgrade requests can call `upgradeWebSocket(request)`.
 *
 * @example Echo server
 * ```ts ignore
 * import { upgradeWebSocket } from "wsflow";
 * import { serve } from "wsflow/node";
 *
 * serve({ port: 8080 }, async (request) => {
 *   const { socket, response } = await upgradeWebSocket(request);
 *   if (socket) void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable));
 *   return response;
 * });
 * ```
 */
export function serve(options: ServeOptions, handler: Handler): Promise<ServeHandle> {
  const { port = 8080, hostname = "127.0.0.1", tls } = options;
  const onRequest = (message: IncomingMessage, res: ServerResponse) => void respond(message, res, handler, tls ? "https" : "http");
  const server = tls
    ? _nodeBuiltin<typeof Https>("node:https", "serve").createServer({ cert: tls.cert, key: tls.key }, onRequest)
    : _nodeBuiltin<typeof Http>("node:http", "serve").createServer(onRequest);
  const open = attach(server, handler);
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
      options.onListen?.({ hostname, port: actual });
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      resolve({ hostname, port: actual, url: `${tls ? "https" : "http"}://${host}:${actual}`, finished, shutdown });
    });
  });
}

// Joined messages are overwritten at once: no need to zero-fill them first.
let _buffer: typeof NodeBuffer.Buffer | undefined;
const _allocUnsafe = (size: number): Uint8Array => (_buffer ??= _nodeBuiltin<typeof NodeBuffer>("node:buffer", "serve").Buffer).allocUnsafe(size);

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
  let response: Response;
  try {
    response = await handler(toRequest(message, scheme), { remoteAddress: message.socket.remoteAddress ?? "" });
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
