/**
 * One `serve()` for every runtime: Deno.serve on Deno, Bun.serve on Bun, `node:http` on Node,
 * so the same handler file runs unchanged on all three.
 *
 * Server-only: this module holds all three adapters (picked at run time by the runtime's
 * globals, with no import built at run time, so bundlers follow it). A Cloudflare Worker has no
 * server to start; it exports its `fetch` handler and imports `wsflow/cloudflare` instead.
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
import { serve as serveBun } from "./bun/mod.ts";
import { serve as serveDeno } from "./deno/mod.ts";
import { serve as serveNode } from "./node/mod.ts";
import type { Handler, ServeHandle, ServeOptions } from "./serve_types.ts";

export type { Handler, ServeHandle, ServeOptions } from "./serve_types.ts";

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
  const adapters = { deno: serveDeno, bun: serveBun, node: serveNode };
  return await adapters[runtime()](options, handler);
}
