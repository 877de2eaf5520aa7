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
