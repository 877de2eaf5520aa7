// The byte-level path on Bun: Bun.listen with wsflow's own codec on each socket. The request
// head is read in the socket's `data` callback, then the socket becomes a push-based transport:
// no Web Streams between Bun's callbacks and the Session.
import { rejectUpgrade } from "../../core/handshake.ts";
import { HttpHeadError, HttpHeadParser, type HttpHeadResult, requestFromHead, serializeResponse } from "../../core/http_head.ts";
import { _HandshakeDeadline } from "../../streams/handshake_deadline.ts";
import { _acceptOnDuplex } from "../../streams/upgrade.ts";
import { _registerUpgrader, _upgradeResponse } from "../../streams/upgrade_web_socket.ts";
import type { WebSocketStream } from "../../streams/websocket_stream.ts";
import type { _BunListener, _BunSocket } from "./types.ts";
import { _bun } from "./types.ts";
import { _BunTransport, type _BunRoute, _routedHandlers } from "./transport.ts";
import type { Handler } from "../serve_types.ts";

/**
 * @internal Listens with `Bun.listen` and serves one HTTP/1.1 request per connection: an
 * upgrade runs wsflow's codec on the socket; any other Response is written with
 * `Connection: close`. Open connections are added to `open` (for shutdown with 1001). The head
 * and the handler's decision together have `timeout` ms; past it the peer gets a 408.
 */
export function _listenCodec(hostname: string, port: number, handler: Handler, open: Set<WebSocketStream>, timeout: number): _BunListener {
  return _bun("serve").listen({
    hostname,
    port,
    socket: _routedHandlers((socket) => readHead(socket, handler, open, timeout)),
  });
}

// The socket's first route: feeds the head parser until the head is complete (or bad), then
// hands the socket to a transport.
function readHead(socket: _BunSocket<_BunRoute>, handler: Handler, open: Set<WebSocketStream>, timeout: number): void {
  const parser = new HttpHeadParser("request");
  let done = false;
  // Created once the head is in (it takes over the socket's route), or for an early answer.
  let transport: _BunTransport | undefined;
  const answer = (response: Response) => {
    done = true;
    void respond(transport ??= new _BunTransport(socket), response);
  };
  const deadline = new _HandshakeDeadline(timeout, answer);
  const fail = (error: HttpHeadError) => deadline.settle() && answer(rejectUpgrade(error.status, error.message));
  socket.data = {
    _data(chunk) {
      if (done) return;
      const result = parser.push(chunk);
      if (!result) return;
      if (result instanceof HttpHeadError) return void fail(result);
      done = true;
      void serveSocket(transport = new _BunTransport(socket), result, socket.remoteAddress, handler, open, deadline);
    },
    _drain() {},
    _end() {
      if (!done) fail(new HttpHeadError("Cannot read HTTP head: the connection ended before the request head was complete", 400));
    },
    _closed() {
      done = true;
      deadline.settle();
    },
  };
}

async function serveSocket(
  transport: _BunTransport,
  head: HttpHeadResult<"request">,
  remoteAddress: string,
  handler: Handler,
  open: Set<WebSocketStream>,
  deadline: _HandshakeDeadline,
): Promise<void> {
  const request = requestFromHead(head, { scheme: "http" });
  if (request instanceof HttpHeadError) return deadline.settle() ? respond(transport, rejectUpgrade(request.status, request.message)) : undefined;
  // The deadline bounds an upgrade's decision, not a plain request's handler.
  const plain = !request.headers.has("upgrade") && deadline.settle();
  let upgraded = false;
  _registerUpgrader(request, async (options) => {
    const result = await _acceptOnDuplex(request, transport, head.rest, options, deadline);
    if (!result.socket) return result;
    upgraded = true;
    open.add(result.socket);
    return { socket: result.socket, response: _upgradeResponse() };
  });
  let response: Response;
  try {
    response = await handler(request, { remoteAddress });
  } catch {
    response = new Response("Internal Server Error", { status: 500 });
  }
  // After the 101 (or the deadline's 408) the socket takes no more HTTP, whatever the handler
  // returned (a middleware's copy of the response, say).
  if (!upgraded && (plain || deadline.settle())) await respond(transport, response);
}

// Writes a whole HTTP response and closes the socket.
async function respond(transport: _BunTransport, response: Response): Promise<void> {
  try {
    transport.write([await serializeResponse(response)]);
  } catch {
    // The body failed; close without it.
  }
  await transport.end();
}
