// The byte-level path on Bun: Bun.listen with wsflow's own codec on each socket.
import { rejectUpgrade } from "../core/handshake.ts";
import { HttpHeadError, requestFromHead } from "../core/http_head.ts";
import type { ByteDuplex } from "../streams/types.ts";
import { _acceptOnDuplex, _respond } from "../streams/upgrade.ts";
import { _isUpgradeResponse, _registerUpgrader, _upgradeResponse } from "../streams/upgrade_web_socket.ts";
import { _readHead, type WebSocketStream } from "../streams/websocket_stream.ts";
import type { _BunListener } from "./bun_types.ts";
import { _bun } from "./bun_types.ts";
import { _socketHandlers } from "./bun_socket.ts";
import type { Handler } from "./serve.ts";

/**
 * @internal Listens with `Bun.listen` and serves one HTTP/1.1 request per connection: an
 * upgrade runs wsflow's codec on the socket; any other Response is written with
 * `Connection: close`. Open connections are added to `open` (for shutdown with 1001).
 */
export function _listenCodec(hostname: string, port: number, handler: Handler, open: Set<WebSocketStream>): _BunListener {
  return _bun("serve").listen({
    hostname,
    port,
    socket: _socketHandlers((socket) => void serveSocket(socket.data, socket.remoteAddress, handler, open)),
  });
}

async function serveSocket(duplex: ByteDuplex, remoteAddress: string, handler: Handler, open: Set<WebSocketStream>): Promise<void> {
  let head;
  try {
    head = await _readHead(duplex.readable, "request");
  } catch (error) {
    return _respond(duplex, rejectUpgrade(error instanceof HttpHeadError ? error.status : 400, error instanceof Error ? error.message : "Bad request"));
  }
  const request = requestFromHead(head, { scheme: "http" });
  if (request instanceof HttpHeadError) return _respond(duplex, rejectUpgrade(request.status, request.message));
  _registerUpgrader(request, async (options) => {
    // Over _duplexTransport: a push-based Bun transport would skip a stream hop per read.
    const result = await _acceptOnDuplex(request, duplex, head.rest, options);
    if (!result.socket) return result;
    open.add(result.socket);
    return { socket: result.socket, response: _upgradeResponse() };
  });
  let response: Response;
  try {
    response = await handler(request, { remoteAddress });
  } catch {
    response = new Response("Internal Server Error", { status: 500 });
  }
  if (!_isUpgradeResponse(response)) await _respond(duplex, response);
}
