// wsflow/cloudflare's client transport: a TCP or TLS connection of `cloudflare:sockets`, whose
// socket already has web streams, so they serve as they are.
import { connect as socketsConnect } from "cloudflare:sockets";
import type { ByteDuplex } from "../../streams/types.ts";
import { _unlessAborted, type ConnectOptions } from "../../streams/connect_options.ts";
import type { _SocketsConnect } from "./types.ts";

export type { ConnectOptions };

const open: _SocketsConnect = socketsConnect;

/**
 * Opens a TCP (`ws:`, `http:`) or TLS (`wss:`, `https:`) connection to the URL's host and port
 * with `cloudflare:sockets`' `connect()`, for `WebSocketStream`'s `transport` option. It is the
 * default transport once wsflow/cloudflare is imported (the npm package's `workerd` condition
 * does that for the main entry).
 *
 * @throws {TypeError} With `ca`: Workers trust the system's certificates only. For a URL with
 * another scheme.
 *
 * @example
 * ```ts ignore
 * import { WebSocketStream } from "wsflow";
 * import { connect } from "wsflow/cloudflare";
 *
 * const wss = new WebSocketStream("wss://example.com/chat", { transport: (url) => connect(url, {}) });
 * const { readable, writable } = await wss.opened;
 * ```
 */
export async function connect(url: URL, options: ConnectOptions = {}): Promise<ByteDuplex> {
  const { signal } = options;
  signal?.throwIfAborted();
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  if (!secure && url.protocol !== "ws:" && url.protocol !== "http:") {
    throw new TypeError(`Cannot connect: the scheme ${url.protocol} is not ws:, wss:, http: or https:`);
  }
  if (options.ca) throw new TypeError("Cannot connect: cloudflare:sockets trusts the system's certificates only; leave out tls.ca");
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port) || (secure ? 443 : 80);
  const socket = open({ hostname, port }, { secureTransport: secure ? "on" : "off", allowHalfOpen: false });
  // An abort while connecting rejects at once and closes the socket.
  await _unlessAborted(socket.opened, signal, () => void socket.close().catch(() => {}));
  return { readable: socket.readable, writable: socket.writable };
}
