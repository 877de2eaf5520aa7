import { acceptUpgrade, type AcceptOptions, rejectUpgrade } from "../core/handshake.ts";
import { HttpHeadError, requestFromHead, serializeResponse, serializeResponseHead } from "../core/http_head.ts";
import type { MessageDecoderOptions } from "../core/message_decoder.ts";
import { WebSocketError } from "../core/websocket_error.ts";
import { _acceptCompression, _compressionOptions } from "./compression.ts";
import { _handshakeTimeout, _HandshakeDeadline } from "./handshake_deadline.ts";
import { _checkConnectionOptions } from "./option_checks.ts";
import { _duplexTransport, type _Transport } from "./transport.ts";
import type { ByteDuplex } from "./types.ts";
import { _readHead, type ConnectionOptions, WebSocketStream } from "./websocket_stream.ts";

/** Options for {@linkcode readUpgradeRequest}. */
export interface ReadUpgradeOptions {
  /** The largest request head accepted; a larger one is answered with 431. @default {16384} */
  maxHeadBytes?: number;
  /** The scheme of the request's URL: `https` behind TLS. @default {"http"} */
  scheme?: "http" | "https";
  /**
   * Milliseconds from the call until the head is read and `accept()` or `reject()` answers it.
   * Past it the peer gets a 408 and the transport is closed: the promise rejects with a 408
   * {@linkcode HttpHeadError}, or a later `accept()` rejects. `Infinity` for no deadline.
   * @default {10000}
   */
  handshakeTimeout?: number;
}

/** An opening request read from a byte duplex, waiting for the server's decision. */
export interface UpgradeRequest {
  /** The request, for auth, origin and routing checks. */
  request: Request;
  /**
   * Validates the upgrade and answers 101, giving the connection; or answers 400/403/426 and
   * closes the transport, then rejects with a `WebSocketError` that names the status. Options
   * of the wrong type or out of range reject with a `TypeError` or `RangeError` before anything
   * is answered.
   */
  accept(options?: AcceptOptions & ConnectionOptions): Promise<WebSocketStream>;
  /** Answers with `response` (a 401 after a failed auth, say) and closes the transport. */
  reject(response: Response): Promise<void>;
}

/**
 * Reads the opening request from a byte duplex (a server's accepted TCP socket, say), so the
 * server can look at it, do async work (auth) and then accept or reject the upgrade. A malformed
 * or oversized head is answered with 400, 431 or 505 (see {@linkcode checkRequestHead}), the
 * transport closed, and the promise rejects with the {@linkcode HttpHeadError}. The head and the
 * decision together have `handshakeTimeout` (10 s by default); past it the peer gets a 408.
 *
 * @throws {TypeError} In a browser page, whose `Request` drops the handshake's headers (after
 * answering 500).
 *
 * @example A byte-level server's handler
 * ```ts ignore
 * import { readUpgradeRequest } from "@wsflow/wsflow";
 *
 * const upgrade = await readUpgradeRequest(socket); // socket: { readable, writable }
 * if (!await authorized(upgrade.request)) return upgrade.reject(new Response("who?", { status: 401 }));
 * const wss = await upgrade.accept({ protocol: (offered) => offered.includes("chat") ? "chat" : undefined });
 * const { readable, writable } = await wss.opened;
 * readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 * ```
 */
export async function readUpgradeRequest(duplex: ByteDuplex, options: ReadUpgradeOptions = {}): Promise<UpgradeRequest> {
  const timeout = _handshakeTimeout(options.handshakeTimeout, "Cannot read the upgrade request");
  const reading = new AbortController();
  const deadline = new _HandshakeDeadline(timeout, (response) => {
    reading.abort();
    void respond(duplex, response);
  });
  const refuse = async (error: HttpHeadError): Promise<never> => {
    if (!deadline.settle()) throw new HttpHeadError(`Cannot read the upgrade request: the head was not complete within handshakeTimeout (${timeout} ms)`, 408);
    await respond(duplex, rejectUpgrade(error.status, error.message));
    throw error;
  };
  let head;
  try {
    head = await _readHead(duplex.readable, "request", options.maxHeadBytes, reading.signal);
  } catch (error) {
    return await refuse(error instanceof HttpHeadError ? error : new HttpHeadError(error instanceof Error ? error.message : "Bad request", 400));
  }
  const request = requestFromHead(head, { scheme: options.scheme });
  if (request instanceof HttpHeadError) return await refuse(request);
  // A browser's Request drops forbidden headers (Connection, Upgrade, Sec-WebSocket-*) without
  // a word, which would turn every upgrade into a 400 that blames the client.
  if (head.headers.has("sec-websocket-key") && !request.headers.has("sec-websocket-key")) {
    if (deadline.settle()) await respond(duplex, rejectUpgrade(500, "Cannot accept WebSocket upgrades in this runtime"));
    throw new TypeError(
      "Cannot read upgrade request: this runtime's Request drops the Upgrade, Connection and Sec-WebSocket-* headers (a browser forbids them), so no upgrade can be accepted here; run the server side in Node, Deno, Bun or a Worker",
    );
  }
  let answered = false;
  const once = () => {
    if (answered) throw new DOMException("Cannot answer the upgrade request: it was already accepted or rejected", "InvalidStateError");
    answered = true;
  };
  return {
    request,
    async accept(acceptOptions = {}) {
      // Misuse throws before the request is answered: it can still be accepted or rejected.
      _checkConnectionOptions(acceptOptions, ACCEPT);
      once();
      const result = await _acceptOnDuplex(request, duplex, head.rest, acceptOptions, deadline);
      if (!result.socket) {
        const body = await result.response.clone().text();
        if (deadline.settle()) await respond(duplex, result.response);
        throw WebSocketError._from(`Cannot accept the upgrade: answered ${result.response.status} (${body})`, null, "");
      }
      return result.socket;
    },
    async reject(response) {
      once();
      if (deadline.settle()) await respond(duplex, response);
    },
  };
}

// How a misused accept or upgrade option's message starts.
const ACCEPT = "Cannot accept the upgrade";

/**
 * @internal The byte-level server's side of the opening handshake: validates the request, and
 * for a valid one writes the 101 head and wraps the duplex; otherwise hands back the 4xx to send.
 * With a `deadline`, the 101 is written only if it settles the handshake (no 408 went first).
 */
export async function _acceptOnDuplex(
  request: Request,
  duplex: ByteDuplex | _Transport,
  rest: Uint8Array,
  options: AcceptOptions & ConnectionOptions & Pick<MessageDecoderOptions, "allocate">,
  deadline?: _HandshakeDeadline,
): Promise<{ socket: WebSocketStream; response?: undefined } | { socket?: undefined; response: Response }> {
  _checkConnectionOptions(options, ACCEPT);
  const compression = await _acceptCompression(request, _compressionOptions(options.compression), options.maxMessageSize);
  const decision = await acceptUpgrade(request, { ...options, extensions: compression ? () => compression.response : options.extensions });
  if (!decision.ok) return { response: decision.response };
  // The 101 goes out only if the handshake deadline has not answered 408 already.
  const late = deadline?.claimUpgrade();
  if (late) return { response: late };
  const transport = "readable" in duplex ? _duplexTransport(duplex) : duplex;
  transport.write([serializeResponseHead({ status: 101, headers: decision.headers })]);
  const url = new URL(request.url);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const connection = { ...options, deflate: compression?.deflate };
  const socket = WebSocketStream._server(url.href, { transport, rest, protocol: decision.protocol, extensions: decision.extensions, options: connection });
  return { socket };
}

/** @internal Writes a whole HTTP response and closes the transport. */
export async function _respond(duplex: ByteDuplex, response: Response): Promise<void> {
  return await respond(duplex, response);
}

// Writes a whole HTTP response and closes the transport.
async function respond(duplex: ByteDuplex, response: Response): Promise<void> {
  const writer = duplex.writable.getWriter();
  try {
    await writer.write(await serializeResponse(response));
    await writer.close();
  } catch {
    // The peer is gone; nothing more to say.
  } finally {
    duplex.readable.cancel().catch(() => {});
  }
}
