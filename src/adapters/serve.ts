/**
 * One `serve()` for every runtime: Deno.serve on Deno, Bun.serve on Bun, `node:http` on Node,
 * so the same handler file runs unchanged on all three.
 *
 * @example
 * ```ts ignore
 * import { upgradeWebSocket } from "wsflow";
 * import { serve } from "wsflow/serve";
 *
 * await serve({ port: 8080 }, async (request) => {
 *   const { socket, response } = await upgradeWebSocket(request);
 *   if (socket) {
 *     const { readable, writable } = await socket.opened;
 *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *   }
 *   return response;
 * });
 * ```
 *
 * @module
 */

/** A request handler: the same shape on every runtime. Call `upgradeWebSocket(request)` inside it. */
export type Handler = (request: Request, info: { remoteAddress: string }) => Response | Promise<Response>;

/** Options for {@linkcode serve}. */
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

/** The runtime `serve()` picks: `"deno"`, `"bun"` or `"node"`. */
export function runtime(): "deno" | "bun" | "node" {
  const global = globalThis as { Deno?: unknown; Bun?: unknown };
  return global.Deno ? "deno" : global.Bun ? "bun" : "node";
}

/**
 * Starts a server with the runtime's own HTTP server and hands every request to `handler`.
 * Inside it, `upgradeWebSocket(request)` (from the main entry) upgrades on every runtime.
 */
export async function serve(options: ServeOptions, handler: Handler): Promise<ServeHandle> {
  const adapter: { serve: (options: ServeOptions, handler: Handler) => ServeHandle | Promise<ServeHandle> } = await import(
    `./${runtime()}/mod.ts`
  );
  return await adapter.serve(options, handler);
}
