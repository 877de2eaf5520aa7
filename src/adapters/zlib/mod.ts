/**
 * permessage-deflate engines over `node:zlib`, which Node (20.16 or later), Deno, Bun and
 * Cloudflare Workers with `nodejs_compat` hand out through `process.getBuiltinModule`: the
 * default compressor of wsflow's connections. `node:zlib` is looked up when the first engine is
 * created, not imported, so this module bundles for any platform. Import it to pass your own
 * level and memory level, or to choose which part of `node:zlib` runs zlib.
 *
 * zlib runs synchronously with its context kept between messages (context takeover), through
 * the zlib stream's native handle (about 290k 1 KiB messages/s on Node 24). Where a runtime's
 * `node:zlib` lacks that handle, the engines fall back to zlib's documented one-shot functions
 * with the last window of data as a preset dictionary: slower, negotiated and correct as before.
 *
 * Why not `CompressionStream("deflate-raw")`: it has no flush. A message boundary can only be
 * made by closing the stream, which ends the deflate stream (BFINAL) and its context, so there
 * is no context takeover, and every message costs promises and a stream.
 *
 * @example A server that compresses at level 1
 * ```ts ignore
 * import { upgradeWebSocket } from "@wsflow/wsflow";
 * import { serve } from "@wsflow/wsflow/serve";
 * import { createZlibEngines } from "@wsflow/wsflow/zlib";
 *
 * const engines = createZlibEngines({ level: 1 });
 * await serve({ port: 8080 }, async (request) => {
 *   const { socket, response } = await upgradeWebSocket(request, { compression: { engines } });
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
import type { DeflateEngines } from "../../core/deflate.ts";
import { _hasNativeHandle, _ZlibDeflate, _ZlibInflate } from "./handle.ts";
import type { ZlibEnginesOptions } from "./options.ts";
import { _PublicDeflate, _PublicInflate } from "./public_api.ts";

export type { ZlibEnginesOptions } from "./options.ts";

// Whether this runtime's node:zlib has the native handle, found on first use.
let nativeHandle: boolean | undefined;

/**
 * permessage-deflate engines over `node:zlib`, to pass as `engines` to `PerMessageDeflate` or
 * in a connection's `compression` option.
 *
 * @throws {Error} From an engine's creation, with `api: "native"`, when the runtime's
 * `node:zlib` lacks the native handle (it is there on Node 20 and 24, Deno 2.9 and Bun 1.4).
 * @throws {TypeError} From an engine's creation where the runtime hands out no `node:zlib`.
 * @example zlib's public one-shot functions, whatever the runtime has
 * ```ts
 * import { PerMessageDeflate } from "@wsflow/wsflow";
 * import { createZlibEngines } from "@wsflow/wsflow/zlib";
 *
 * const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
 * const engines = createZlibEngines({ api: "public" });
 * const server = new PerMessageDeflate(params, { role: "server", engines, threshold: 0 });
 * const client = new PerMessageDeflate(params, { role: "client", engines, threshold: 0 });
 * for (const text of ["Hello", "Hello again"]) {
 *   const { payload } = server.compress(new TextEncoder().encode(text));
 *   const [part] = client.decompressPiece(payload, true, 1024) as Uint8Array[];
 *   console.log(new TextDecoder().decode(part)); // "Hello", then "Hello again"
 * }
 * ```
 */
export function createZlibEngines(options: ZlibEnginesOptions = {}): DeflateEngines {
  const api = options.api ?? "auto";
  if (api !== "auto" && api !== "native" && api !== "public") {
    throw new TypeError(`Cannot create zlib engines: api must be "auto", "native" or "public", got ${JSON.stringify(api)}`);
  }
  const native = () => api === "native" || (api === "auto" && (nativeHandle ??= _hasNativeHandle()));
  return {
    createDeflate: (windowBits) => native() ? new _ZlibDeflate(windowBits, options) : new _PublicDeflate(windowBits, options),
    createInflate: (windowBits) => native() ? new _ZlibInflate(windowBits) : new _PublicInflate(windowBits),
  };
}

/** {@linkcode createZlibEngines} with zlib's default level and memory level. */
export const zlibEngines: DeflateEngines = createZlibEngines();
