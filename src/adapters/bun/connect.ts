// The client transport on Bun: Bun.connect (TCP, or TLS for wss:) as a ByteDuplex.
import type { ByteDuplex } from "../../streams/types.ts";
import { _bun } from "./types.ts";
import { _socketHandlers, type _SocketDuplex } from "./socket.ts";
import { _unlessAborted, type ConnectOptions } from "../../streams/connect_options.ts";

export type { ConnectOptions };

/**
 * Opens a TCP connection (TLS for `wss:` and `https:`) with `Bun.connect` for a
 * `WebSocketStream` client, as its `transport`. Backpressure both ways: reads pause the socket
 * (`socket.pause()`) while the readable is full; a write resolves once the kernel took all
 * its bytes (Bun writes what it can and the rest waits for `drain`).
 *
 * @throws {TypeError} Outside Bun.
 *
 * @example
 * ```ts ignore
 * import { WebSocketStream } from "wsflow";
 * import { connect } from "wsflow/bun";
 *
 * const wss = new WebSocketStream("wss://example.com/chat", { transport: (url) => connect(url, {}) });
 * const { readable, writable } = await wss.opened;
 * ```
 */
export async function connect(url: URL, options: ConnectOptions = {}): Promise<ByteDuplex> {
  const bun = _bun("connect");
  const { signal } = options;
  signal?.throwIfAborted();
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port) || (secure ? 443 : 80);
  // Over TLS, Bun.connect can resolve before `open` has run: wait for `open` itself.
  let opened!: (duplex: _SocketDuplex) => void;
  const open = new Promise<_SocketDuplex>((resolve) => (opened = resolve));
  const connecting = bun.connect<_SocketDuplex>({
    hostname,
    port,
    tls: secure ? { ca: options.ca, serverName: hostname } : undefined,
    socket: _socketHandlers((socket) => opened(socket.data)),
  });
  // An abort while connecting rejects at once; the socket, if it still opens, is closed.
  return await _unlessAborted(connecting.then(() => open), signal, () => void connecting.then((socket) => socket.terminate(), () => {}));
}
