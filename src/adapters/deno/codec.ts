// wsflow/deno's byte-level server: Deno.listen, one HTTP/1.1 request per TCP connection, and
// wsflow's codec on the upgraded ones. The Conn is driven through its direct API (conn.read,
// conn.write), not its web streams (see deno_transport.ts): every read lands in a freshly
// allocated buffer, never reused, so the frame decoder may unmask client frames in place.
import { rejectUpgrade } from "../../core/handshake.ts";
import { HttpHeadError, HttpHeadParser, type HttpHeadResult, requestFromHead, serializeResponse } from "../../core/http_head.ts";
import { _handshakeTimeout, _HandshakeDeadline } from "../../streams/handshake_deadline.ts";
import { _acceptOnDuplex } from "../../streams/upgrade.ts";
import { _registerUpgrader, _upgradeResponse } from "../../streams/upgrade_web_socket.ts";
import type { Handler as ServeHandler, ServeHandle, ServeOptions } from "../serve_types.ts";
import type { _DenoConn, _DenoNamespace } from "./runtime.ts";
import { _Sockets } from "./sockets.ts";
import { _denoTransport } from "./transport.ts";

// Bytes per read of the request head: a browser's upgrade request is well under 1 KiB, and a
// read waiting on a slow or silent peer holds its buffer (64 KiB, the transport's read size,
// made 2,000 half-open heads hold 128 MiB). A longer head takes more reads.
const HEAD_READ_SIZE = 4096;

/** @internal `serve()` with `mode: "codec"`. */
export function _serveCodec(deno: _DenoNamespace, options: ServeOptions, handler: ServeHandler): ServeHandle {
  const timeout = _handshakeTimeout(options.handshakeTimeout, "Cannot serve");
  const listener = deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: options.port ?? 8080, transport: "tcp" });
  const { hostname, port } = listener.addr;
  const sockets = new _Sockets();
  const waiting = new Set<_DenoConn>(); // connections whose request head or handler is pending
  const accepting = (async () => {
    for (;;) {
      let conn: _DenoConn;
      try {
        conn = await listener.accept();
      } catch {
        return; // the listener was closed
      }
      waiting.add(conn);
      void handle(conn, handler, sockets, timeout).catch(() => {}).finally(() => waiting.delete(conn));
    }
  })();
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      try {
        listener.close();
      } catch { /* already closed */ }
      for (const conn of waiting) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
      await Promise.all([accepting, sockets.closeAll()]);
    })();
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  if (options.signal?.aborted) void shutdown();
  options.onListen?.({ hostname, port });
  const finished = accepting.then(() => sockets.closeAll());
  return { hostname, port, url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`, finished, shutdown };
}

// One connection: read the request head, hand the request to the handler, then either leave the
// connection to the WebSocket it was upgraded to or write the handler's Response and close. The
// head and the handler's decision together have `timeout` ms; past it the peer gets a 408.
async function handle(conn: _DenoConn, handler: ServeHandler, sockets: _Sockets, timeout: number): Promise<void> {
  // Frames go out as soon as they are written: Nagle's algorithm would hold a payload written
  // after its header until the peer's delayed ACK (about 40 ms).
  conn.setNoDelay?.(true);
  // The connection is read through conn.read only, never conn.readable: the head here, then
  // the WebSocket's transport, which gets the bytes after the head as `rest`.
  const transport = _denoTransport(conn);
  const respond = async (response: Response) => {
    try {
      transport.write([await serializeResponse(response)]);
    } catch { /* an unreadable body: close without an answer */ }
    await transport.end();
  };
  // On expiry the 408 goes out and the connection closes, which ends a pending head read.
  const deadline = new _HandshakeDeadline(timeout, (response) => void respond(response));
  const answer = async (response: Response) => {
    if (deadline.settle()) await respond(response);
  };
  let head;
  try {
    head = await readHead(conn);
  } catch (error) {
    const status = error instanceof HttpHeadError ? error.status : 400;
    return await answer(rejectUpgrade(status, error instanceof Error ? error.message : "Bad request"));
  }
  const request = requestFromHead(head, { scheme: "http" });
  if (request instanceof HttpHeadError) return await answer(rejectUpgrade(request.status, request.message));
  // The deadline bounds an upgrade's decision, not a plain request's handler.
  const plain = !request.headers.has("upgrade") && deadline.settle();
  let upgraded = false;
  const rest = head.rest;
  _registerUpgrader(request, async (upgradeOptions) => {
    if (sockets.closing) return { socket: undefined, response: rejectUpgrade(503, "Cannot upgrade: the server is shutting down") };
    const result = await _acceptOnDuplex(request, transport, rest, upgradeOptions, deadline);
    if (!result.socket) return result;
    upgraded = true;
    sockets.add(result.socket);
    return { socket: result.socket, response: _upgradeResponse() };
  });
  let response: Response;
  try {
    response = await handler(request, { remoteAddress: conn.remoteAddr.hostname ?? "" });
  } catch {
    response = new Response("Internal Server Error", { status: 500 });
  }
  // After an upgrade the 101 is written and the connection belongs to the WebSocket, whatever
  // the handler returned (a middleware's copy of the response, say).
  if (upgraded) return;
  if (plain) await respond(response);
  else await answer(response);
}

// Reads the request head with conn.read, each read into a fresh 4 KiB buffer (`rest` is a view
// into the last one, which the frame decoder may unmask in place): a head that waits, or the
// frames after it, pins 4 KiB per connection, not the 64 KiB of a socket read.
async function readHead(conn: _DenoConn): Promise<HttpHeadResult<"request">> {
  const parser = new HttpHeadParser("request");
  for (;;) {
    const buffer = new Uint8Array(HEAD_READ_SIZE);
    const n = await conn.read(buffer);
    if (n === null) throw new HttpHeadError("Cannot read HTTP head: the connection ended before the request head was complete", 400);
    const result = parser.push(buffer.subarray(0, n));
    if (result instanceof HttpHeadError) throw result;
    if (result) return result;
  }
}
