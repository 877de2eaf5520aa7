// The shapes every server adapter shares, in a file of their own so the adapters and the
// cross-runtime serve() that imports them do not import each other.

/** A request handler: the same shape on every runtime. Call `upgradeWebSocket(request)` inside it. */
export type Handler = (request: Request, info: { remoteAddress: string }) => Response | Promise<Response>;

/** Options for `serve()` (`wsflow/serve` and each runtime adapter). */
export interface ServeOptions {
  /** The port; 0 picks a free one. @default {8080} */
  port?: number;
  /** The interface to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Stops the server (like `shutdown()`). */
  signal?: AbortSignal;
  /** Called once listening. */
  onListen?: (addr: { hostname: string; port: number }) => void;
  /**
   * On Deno and Bun: `"native"` upgrades through the runtime's own WebSocket (message-level),
   * `"codec"` runs wsflow's codec on the socket (byte-level: ping API, limits, compression).
   * Node always runs the codec. @default {"native"}
   */
  mode?: "native" | "codec";
  /**
   * Milliseconds a new connection has to send its request head and, for an upgrade, for the
   * handler to upgrade or answer: past it the peer gets a 408 and the connection is closed, and
   * a later `upgradeWebSocket` gets the 408 and no socket. A plain request's handler is not
   * bounded. In `"native"` mode Deno.serve and Bun.serve read the head themselves, so only the
   * decision is bounded (see the README's Limits). `Infinity` for no deadline.
   * @default {10000}
   */
  handshakeTimeout?: number;
}

/** A running server. */
export interface ServeHandle {
  /** The interface listened on. */
  hostname: string;
  /** The port listened on. */
  port: number;
  /** `http://hostname:port`. */
  url: string;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  /** Stops listening, closes every WebSocket with 1001 (going away), and resolves when done. */
  shutdown(): Promise<void>;
}
