import type { AcceptOptions } from "../core/handshake.ts";
import type { ConnectionOptions, WebSocketStream } from "./websocket_stream.ts";

/** Options for {@linkcode upgradeWebSocket}: the handshake checks plus the connection's limits and heartbeat. */
export interface UpgradeOptions extends AcceptOptions, ConnectionOptions {}

/**
 * The outcome of {@linkcode upgradeWebSocket}: return `response` from the handler either way.
 * `socket` is the connection when the upgrade is valid, `undefined` when `response` is the
 * 400/403/426 that refuses it.
 */
export type UpgradeResult =
  | { socket: WebSocketStream; response: Response }
  | { socket: undefined; response: Response };

/** @internal How an adapter upgrades one of its requests. */
export type _Upgrader = (options: UpgradeOptions) => Promise<UpgradeResult>;

const upgraders = new WeakMap<Request, _Upgrader>();
// Requests upgradeWebSocket was called on: a second call is a mistake, not a foreign request.
const used = new WeakSet<Request>();
let fallback: ((request: Request, options: UpgradeOptions) => Promise<UpgradeResult>) | undefined;

/** @internal An adapter registers how to upgrade each request it hands to a handler. */
export function _registerUpgrader(request: Request, upgrader: _Upgrader): void {
  upgraders.set(request, upgrader);
}

/**
 * @internal The `response` of an upgrade where the runtime cannot build a 101 Response (the 101
 * is already written, or the runtime writes it). Adapters know per request that the upgrade
 * happened and ignore whatever the handler returns after it (this, or a middleware's copy or
 * replacement of it), so after the 101 nothing more is written as HTTP.
 */
export function _upgradeResponse(): Response {
  return new Response(null, { status: 200, headers: { "x-wsflow-upgrade": "1" } });
}

/**
 * @internal How to upgrade a request no adapter registered: a runtime whose platform hands the
 * request to the user's own `fetch` (Cloudflare Workers) sets it, so the same handler works there.
 */
export function _setDefaultUpgrader(upgrade: (request: Request, options: UpgradeOptions) => Promise<UpgradeResult>): void {
  fallback = upgrade;
}

/**
 * Upgrades a request that a wsflow server adapter handed to your handler (`serve()`, or the
 * Node, Deno and Bun adapters), on any runtime: the same handler code everywhere. In a
 * Cloudflare Worker it upgrades the `fetch` handler's request through `WebSocketPair` (the npm
 * package's `workerd` condition sets that up; with JSR, import `wsflow/cloudflare` once). Works
 * after `await`, so auth can come first. Return `response` from the handler.
 *
 * @throws {TypeError} When the request did not come from a wsflow server adapter, outside a Worker.
 * @throws {DOMException} `InvalidStateError` when `upgradeWebSocket` was already called on this
 * request (whatever the first call's outcome: a request is upgraded, or refused, once).
 *
 * @example
 * ```ts ignore
 * import { upgradeWebSocket } from "@wsflow/wsflow";
 *
 * async function handler(request: Request): Promise<Response> {
 *   if (!await authorized(request)) return new Response("Unauthorized", { status: 401 });
 *   const { socket, response } = await upgradeWebSocket(request, { protocol: ["chat", "superchat"] });
 *   if (socket) {
 *     const { readable, writable } = await socket.opened;
 *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
 *   }
 *   return response;
 * }
 * ```
 */
export function upgradeWebSocket(request: Request, options: UpgradeOptions = {}): Promise<UpgradeResult> {
  if (used.has(request)) {
    throw new DOMException("Cannot upgrade: this request was already upgraded (upgradeWebSocket was called on it before); call it once per request", "InvalidStateError");
  }
  const upgrader = upgraders.get(request);
  if (!upgrader) {
    if (!fallback) {
      throw new TypeError(
        "Cannot upgrade: this request did not come from a wsflow server adapter; serve it with serve() or the wsflow/node, wsflow/deno or wsflow/bun adapter (in a Cloudflare Worker, import wsflow/cloudflare)",
      );
    }
    used.add(request);
    return fallback(request, options);
  }
  upgraders.delete(request);
  used.add(request);
  return upgrader(options);
}
