// The client's default transport: the runtime's own TCP and TLS sockets, picked by what the
// runtime offers rather than by an import built at run time, so every bundler follows it.
// Deno and Bun are found by their globals; Node's sockets come from process.getBuiltinModule
// (no import at all); Cloudflare Workers need `cloudflare:sockets`, a static import that only
// wsflow/cloudflare makes (and the npm package's `workerd` condition loads for the main entry).
import type { ByteDuplex } from "./types.ts";
import type { ConnectOptions } from "./connect_options.ts";
import { connect as bunConnect } from "../adapters/bun/connect.ts";
import { connect as denoConnect } from "../adapters/deno/connect.ts";
import { _hasNodeBuiltins } from "../adapters/node/builtin.ts";
import { connect as nodeConnect } from "../adapters/node/connect.ts";

export type { ConnectOptions };

/** @internal A client transport: opens a byte duplex to the URL's host and port. */
export type _Connect = (url: URL, options: ConnectOptions) => Promise<ByteDuplex>;

let registered: _Connect | undefined;

/**
 * @internal Makes `connect` the default transport of every client in this process: how
 * wsflow/cloudflare brings `cloudflare:sockets`, which cannot be reached without an import.
 */
export function _setDefaultTransport(connect: _Connect): void {
  registered = connect;
}

/**
 * @internal Opens a TCP or TLS connection with the runtime's own sockets: a registered
 * transport (cloudflare:sockets), Deno.connect(Tls), Bun.connect, or node:net/node:tls.
 *
 * @throws {TypeError} Where none of them exists (a browser page, a Worker without
 * wsflow/cloudflare), saying to pass `transport`.
 */
export function _defaultTransport(url: URL, options: ConnectOptions): Promise<ByteDuplex> {
  if (registered) return registered(url, options);
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown; navigator?: { userAgent?: string } };
  if (runtime.Deno) return denoConnect(url, options);
  if (runtime.Bun) return bunConnect(url, options);
  const workers = runtime.navigator?.userAgent === "Cloudflare-Workers";
  if (_hasNodeBuiltins() && !workers) return nodeConnect(url, options);
  const hint = workers ? "import wsflow/cloudflare (its connect() runs on cloudflare:sockets) or pass" : "pass";
  throw new TypeError(
    `Cannot connect to ${url.href}: this runtime has no TCP socket wsflow can open (no Deno, Bun, process.getBuiltinModule or cloudflare:sockets); ${hint} a byte duplex { readable, writable } as the transport option`,
  );
}
