// The client transport on Node: node:net for ws:, node:tls for wss:, both from
// process.getBuiltinModule, so the main entry that picks this transport by default bundles
// anywhere.
import { _nodeBuiltin, type _NodeNet, type _NodeTls } from "./builtin.ts";
import type { ByteDuplex } from "../../streams/types.ts";
import { socketDuplex } from "./duplex.ts";
import type { ConnectOptions } from "../../streams/connect_options.ts";

export type { ConnectOptions };

/**
 * Opens a TCP (`ws:`) or TLS (`wss:`) connection to the URL's host and port, as a byte duplex.
 *
 * @example
 * ```ts ignore
 * import { connect } from "wsflow/node";
 * import { WebSocketStream } from "wsflow";
 *
 * const wss = new WebSocketStream("wss://127.0.0.1:8443/", { transport: (url) => connect(url, { ca: [pem] }) });
 * ```
 */
export function connect(url: URL, options: ConnectOptions = {}): Promise<ByteDuplex> {
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port) || (secure ? 443 : 80);
  return new Promise((resolve, reject) => {
    // A throw here (no node:net in this runtime) rejects the promise.
    const socket = secure
      ? _nodeBuiltin<_NodeTls>("node:tls", "connect").connect({ host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, ca: options.ca, ALPNProtocols: ["http/1.1"] })
      : _nodeBuiltin<_NodeNet>("node:net", "connect").connect({ host, port });
    socket.setNoDelay(true);
    const fail = (error: unknown) => {
      socket.destroy();
      reject(error);
    };
    const onAbort = () => fail(options.signal?.reason ?? new DOMException("The operation was aborted", "AbortError"));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", fail);
    socket.once(secure ? "secureConnect" : "connect", () => {
      socket.off("error", fail);
      options.signal?.removeEventListener("abort", onAbort);
      resolve(socketDuplex(socket));
    });
  });
}
