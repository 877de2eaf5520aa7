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
