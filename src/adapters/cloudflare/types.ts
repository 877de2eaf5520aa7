// The slice of the Cloudflare Workers runtime wsflow/cloudflare uses, declared here rather than
// taken from @cloudflare/workers-types (as oakserver/oak's http_server_bun.ts declares Bun), and
// the check that fails fast in another runtime.
import type { _NativeSocket } from "../../streams/native_connection.ts";

/** @internal A Worker's WebSocket: the WHATWG interface plus `accept()`. */
export interface _WorkersWebSocket extends _NativeSocket {
  /** Starts delivering events on this end of a `WebSocketPair`. */
  accept(): void;
}

/** @internal `WebSocketPair`: two joined WebSockets, 0 for the 101 Response, 1 for the Worker. */
export type _WebSocketPair = new () => { 0: _WorkersWebSocket; 1: _WorkersWebSocket };

/** @internal A TCP connection of `cloudflare:sockets`' `connect()`. */
export interface _CloudflareSocket {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly opened: Promise<unknown>;
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/** @internal `cloudflare:sockets`' `connect()`. */
export type _SocketsConnect = (
  address: { hostname: string; port: number },
  options: { secureTransport: "on" | "off"; allowHalfOpen: boolean },
) => _CloudflareSocket;

/**
 * @internal The `WebSocketPair` global, or a TypeError naming the runtime found instead.
 *
 * @param action What could not be done, for the message: `upgrade`.
 */
export function _webSocketPair(action: string): _WebSocketPair {
  const global = globalThis as { WebSocketPair?: _WebSocketPair; Deno?: unknown; Bun?: unknown; process?: { versions?: { node?: string } } };
  if (typeof global.WebSocketPair === "function") return global.WebSocketPair;
  const here = global.Deno ? "Deno" : global.Bun ? "Bun" : global.process?.versions?.node ? `Node ${global.process.versions.node}` : "not a Worker";
  throw new TypeError(`Cannot ${action}: wsflow/cloudflare needs a Cloudflare Worker's WebSocketPair, this is ${here}; use wsflow/node, wsflow/deno or wsflow/bun there`);
}
