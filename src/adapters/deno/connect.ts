// wsflow/deno's client transport: a TCP or TLS connection as a ByteDuplex. Deno's Conn already
// has web streams; its readable reads only when pulled and never reuses a buffer, and a write
// resolves once the bytes are written, so they serve as they are.
import type { ByteDuplex } from "../../streams/types.ts";
import { _deno } from "./runtime.ts";
import { _unlessAborted, type ConnectOptions } from "../../streams/connect_options.ts";

export type { ConnectOptions };

/**
 * Opens a TCP (`ws:`, `http:`) or TLS (`wss:`, `https:`) connection to the URL's host and port
 * with `Deno.connect` / `Deno.connectTls`, for `WebSocketStream`'s `transport` option.
 *
 * @throws {TypeError} Outside Deno, or for a URL with another scheme.
 *
 * @example
 * ```ts ignore
 * import { WebSocketStream } from "@wsflow/wsflow";
 * import { connect } from "@wsflow/wsflow/deno";
 *
 * const wss = new WebSocketStream("wss://example.com/chat", { transport: (url) => connect(url, {}) });
 * const { readable, writable } = await wss.opened;
 * ```
 */
export async function connect(url: URL, options: ConnectOptions = {}): Promise<ByteDuplex> {
  const deno = _deno("connect");
  const { signal } = options;
  signal?.throwIfAborted();
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  if (!secure && url.protocol !== "ws:" && url.protocol !== "http:") {
    throw new TypeError(`Cannot connect: the scheme ${url.protocol} is not ws:, wss:, http: or https:`);
  }
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port) || (secure ? 443 : 80);
  const connecting = secure
    ? deno.connectTls({ hostname, port, caCerts: options.ca })
    : deno.connect({ hostname, port, transport: "tcp" });
  // An abort while connecting rejects at once; the connection, if it still opens, is closed.
  return duplexOf(await _unlessAborted(connecting, signal, () => void connecting.then((conn) => conn.close(), () => {})));
}

function duplexOf(conn: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array>; setNoDelay?(on: boolean): void }): ByteDuplex {
  conn.setNoDelay?.(true);
  return { readable: conn.readable, writable: conn.writable };
}
