// permessage-deflate for a connection: the negotiation in both handshakes, and the engines.
import { _hasNodeBuiltins, _nodeBuiltin } from "../adapters/node/builtin.ts";
import { DeflateContextPool, type DeflateEngines, PerMessageDeflate } from "../core/deflate.ts";
import { zlibEngines } from "../adapters/zlib/mod.ts";
import { acceptPerMessageDeflate, checkPerMessageDeflate, type DeflateParams, offerPerMessageDeflate, type PerMessageDeflateOptions } from "../core/extensions.ts";
import { _checkCompression } from "./option_checks.ts";

/** permessage-deflate settings (RFC 7692): the negotiation knobs, the size threshold, the engine. */
export interface CompressionOptions extends PerMessageDeflateOptions {
  /**
   * The compressor. The default is zlib through `node:zlib` (synchronous, with context takeover),
   * which Node (20.16 or later), Deno, Bun and Cloudflare Workers with `nodejs_compat` provide
   * through `process.getBuiltinModule`; elsewhere pass your own.
   */
  engines?: DeflateEngines;
  /**
   * Frees a connection's zlib contexts (about 300 KiB) after this many milliseconds without a
   * compressed message either way, keeping only the last window of data (at most 32 KiB each
   * way) to rebuild them from when the next message comes; compression is as good as before.
   * `Infinity` keeps them for the connection's life. @default {1000}
   */
  releaseIdleAfter?: number;
  /**
   * The most connections holding zlib contexts at once, among all connections with the same
   * `engines` and the same limit: beyond it, the least recently active one frees its contexts
   * early and rebuilds them at its next message (see `DeflateContextPool`). zlib runs
   * synchronously, so there is never more than one compression running; this bounds the memory
   * that busy connections hold. @default {Infinity}
   */
  concurrencyLimit?: number;
}

const pools = new WeakMap<DeflateEngines, Map<number, DeflateContextPool>>();

// The pool shared by every connection with these engines and this limit.
function _pool(engines: DeflateEngines, limit: number | undefined): DeflateContextPool | undefined {
  if (limit === undefined || limit === Infinity) return undefined;
  let byLimit = pools.get(engines);
  if (!byLimit) pools.set(engines, byLimit = new Map());
  let pool = byLimit.get(limit);
  if (!pool) byLimit.set(limit, pool = new DeflateContextPool(limit));
  return pool;
}

// The per-connection state, for either role.
function _perMessageDeflate(params: DeflateParams, role: "server" | "client", options: CompressionOptions, maxMessageSize: number | undefined): PerMessageDeflate {
  const engines = _engines(options);
  return new PerMessageDeflate(params, {
    role,
    engines,
    threshold: options.threshold,
    maxMessageSize,
    releaseIdleAfter: options.releaseIdleAfter,
    pool: _pool(engines, options.concurrencyLimit),
  });
}

/**
 * @internal The `compression` option as an object, or undefined when off.
 *
 * @throws {TypeError} For another type, {@linkcode RangeError} for a knob out of range (see `_checkCompression`).
 */
export function _compressionOptions(compression: boolean | CompressionOptions | undefined): CompressionOptions | undefined {
  _checkCompression(compression, "Cannot use compression");
  if (!compression) return undefined;
  return compression === true ? {} : compression;
}

let zlibHere: boolean | undefined;

/**
 * @internal Whether the default engines work here: the runtime hands out `node:zlib` (through
 * `process.getBuiltinModule`). Where they do not (a browser, a Worker without nodejs_compat), a
 * client leaves out its default offer and connects uncompressed.
 */
export function _defaultEnginesHere(): boolean {
  if (zlibHere === undefined) {
    try {
      zlibHere = _hasNodeBuiltins() && _nodeBuiltin<object>("node:zlib", "compress") !== undefined;
    } catch {
      zlibHere = false;
    }
  }
  return zlibHere;
}

/**
 * @internal The engines: the caller's, or zlib's where the runtime hands out `node:zlib`.
 *
 * @throws {TypeError} Where it does not and the caller brought none, saying what to do.
 */
export function _engines(options: CompressionOptions): DeflateEngines {
  if (options.engines) return options.engines;
  if (_defaultEnginesHere()) return zlibEngines;
  throw new TypeError(
    "Cannot use compression: this runtime has no node:zlib (it comes from process.getBuiltinModule, in Node 20.16 or later, Deno, Bun, and Cloudflare Workers with nodejs_compat); pass compression: { engines } or leave compression off",
  );
}

/**
 * @internal A server's side: the response header value and the per-connection state for the
 * first offer it can honour, or undefined to go uncompressed.
 */
export async function _acceptCompression(
  request: Request,
  options: CompressionOptions | undefined,
  maxMessageSize: number | undefined,
): Promise<{ response: string; deflate: PerMessageDeflate } | undefined> {
  const offer = request.headers.get("sec-websocket-extensions");
  if (!options || !offer) return undefined;
  const accepted = acceptPerMessageDeflate(offer, options);
  if (!accepted) return undefined;
  const deflate = await _perMessageDeflate(accepted.params, "server", options, maxMessageSize);
  return { response: accepted.response, deflate };
}

/**
 * @internal A client's side: the offer to send, and a check of the server's answer.
 *
 * @throws {TypeError} When there is no engine to honour the offer with (see `_engines`).
 */
export function _offerCompression(options: CompressionOptions | undefined): { offer: string; check(response: string): DeflateParams } | undefined {
  if (!options) return undefined;
  _engines(options);
  return { offer: offerPerMessageDeflate(options), check: (response) => checkPerMessageDeflate(response, options) };
}

/** @internal The client's per-connection state once the server accepted the offer. */
export async function _clientDeflate(params: DeflateParams, options: CompressionOptions, maxMessageSize: number | undefined): Promise<PerMessageDeflate> {
  return _perMessageDeflate(params, "client", options, maxMessageSize);
}
