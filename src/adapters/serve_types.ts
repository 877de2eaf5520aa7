// The shapes every server adapter shares, and the check of their options, in a file of their
// own so the adapters and the cross-runtime serve() that imports them do not import each other.
import { _show } from "../core/shown.ts";

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

/**
 * @internal Checks what every adapter's `serve()` takes before it listens, so a mistake is a
 * TypeError (or a RangeError for a port out of range) naming the option, the same on every
 * runtime, rather than a crash in a listen callback, a Unix socket named by a string port, or a
 * 500 on every request. `handshakeTimeout` is checked by `_handshakeTimeout`.
 */
export function _checkServeOptions(options: unknown, handler: unknown): void {
  const where = "Cannot serve";
  if (typeof options === "function") throw new TypeError(`${where}: the options come first; call serve(options, handler)`);
  if (typeof options !== "object" || options === null) throw new TypeError(`${where}: options must be an object, got ${_show(options)}`);
  if (typeof handler !== "function") throw new TypeError(`${where}: handler must be a function (request, info) => Response, got ${_show(handler)}`);
  const { port, hostname, mode, onListen, signal } = options as Record<string, unknown>;
  if (port !== undefined) {
    if (typeof port !== "number") throw new TypeError(`${where}: port must be a number (0 picks a free one), got ${_show(port)}`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`${where}: port must be an integer in 0-65535, got ${port}`);
  }
  if (hostname !== undefined && (typeof hostname !== "string" || hostname === "")) {
    throw new TypeError(`${where}: hostname must be a non-empty string, got ${_show(hostname)}`);
  }
  if (mode !== undefined && mode !== "native" && mode !== "codec") {
    throw new TypeError(`${where}: mode must be "native" or "codec", got ${_show(mode)}`);
  }
  if (onListen !== undefined && typeof onListen !== "function") throw new TypeError(`${where}: onListen must be a function, got ${_show(onListen)}`);
  if (signal !== undefined && typeof (signal as { addEventListener?: unknown } | null)?.addEventListener !== "function") {
    throw new TypeError(`${where}: signal must be an AbortSignal, got ${_show(signal)}`);
  }
}
