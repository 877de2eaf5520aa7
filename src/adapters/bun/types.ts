// The slice of Bun's API the Bun adapter uses, declared here instead of depending on bun-types
// (as oakserver/oak's http_server_bun.ts does), and the fail-fast check for the wrong runtime.
import type { HeadersLike } from "../../core/web_types.ts";

/** @internal A TCP socket of `Bun.listen` / `Bun.connect`; `data` is ours, one per socket. */
export interface _BunSocket<T> {
  data: T;
  readonly remoteAddress: string;
  /** Bytes the kernel took; the rest is not buffered and must be written again after `drain`. */
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay?(noDelay: boolean): boolean;
}

/** @internal The handlers of a `Bun.listen` / `Bun.connect` socket. */
export interface _BunSocketHandlers<T> {
  /** What `data` gets: a Buffer (the default), or a plain Uint8Array with `"uint8array"`. */
  binaryType?: "buffer" | "arraybuffer" | "uint8array";
  open?(socket: _BunSocket<T>): void;
  data(socket: _BunSocket<T>, data: Uint8Array): void;
  drain(socket: _BunSocket<T>): void;
  end(socket: _BunSocket<T>): void;
  close(socket: _BunSocket<T>, error?: Error): void;
  error(socket: _BunSocket<T>, error: Error): void;
  /** TLS only: whether the handshake succeeded, and why not (an untrusted certificate, say). */
  handshake?(socket: _BunSocket<T>, success: boolean, authorizationError: Error | null): void;
}

/** The `ServerWebSocket` of `Bun.serve` that wsflow uses. */
export interface BunServerWebSocket<T = unknown> {
  /** The value given to `server.upgrade(request, { data })`. */
  data: T;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readyState: number;
  /** How binary messages arrive. */
  binaryType?: string;
  /** Bytes sent (> 0), -1 when queued under backpressure, 0 when dropped or closed. */
  send(data: string | Uint8Array, compress?: boolean): number;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Closes the TCP connection at once. */
  terminate(): void;
  /** Sends a ping. */
  ping(data?: Uint8Array): number;
  /** Bytes queued for sending. */
  getBufferedAmount(): number;
  /** Receives what `server.publish(topic)` sends. */
  subscribe(topic: string): void;
  /** Stops receiving a topic. */
  unsubscribe(topic: string): void;
  /** The topics it is subscribed to (Bun 1.2 and later). */
  readonly subscriptions?: string[];
  /** Stops reading from the socket (Bun 1.4). */
  pause?(): void;
  /** Reads from the socket again (Bun 1.4). */
  resume?(): void;
}

/** The `websocket` handlers object that `Bun.serve` takes. */
export interface BunWebSocketHandlers<T = unknown> {
  /** A socket opened. */
  open(ws: BunServerWebSocket<T>): void;
  /** A message arrived. */
  message(ws: BunServerWebSocket<T>, message: string | Uint8Array): void;
  /** The send queue drained. */
  drain(ws: BunServerWebSocket<T>): void;
  /** A pong arrived. */
  pong(ws: BunServerWebSocket<T>, data: Uint8Array): void;
  /** A socket closed. */
  close(ws: BunServerWebSocket<T>, code: number, reason: string): void;
  /** The largest message, in bytes. */
  maxPayloadLength: number;
  /** Seconds of silence before a ping, then a close. */
  idleTimeout: number;
  /** Whether Bun pings idle peers. */
  sendPings: boolean;
  /** Queued bytes at which Bun stops queueing. */
  backpressureLimit: number;
  /** Whether Bun closes a socket over the backpressure limit. */
  closeOnBackpressureLimit: boolean;
  /** Whether Bun compresses. */
  perMessageDeflate: boolean;
}

/** The `Server` of `Bun.serve` that wsflow uses. */
export interface BunServer {
  /** The port listened on. */
  readonly port: number;
  /** The interface listened on. */
  readonly hostname: string;
  /** Upgrades a request to a WebSocket; Bun writes the 101. */
  upgrade(request: Request, options?: { headers?: HeadersLike; data?: unknown }): boolean;
  /** The peer's address. */
  requestIP(request: Request): { address: string } | null;
  /** Stops the server. */
  stop(closeActiveConnections?: boolean): void | Promise<void>;
  /** Sends a message once to every WebSocket subscribed to `topic`. */
  publish(topic: string, data: string | Uint8Array, compress?: boolean): number;
}

/** @internal A `Bun.listen` listener. */
export interface _BunListener {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): void;
}

/** @internal The `Bun` global, as far as wsflow uses it. */
export interface _Bun {
  version: string;
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer): Response | undefined | Promise<Response | undefined>;
    websocket: BunWebSocketHandlers<never>;
  }): BunServer;
  listen<T>(options: { hostname: string; port: number; socket: _BunSocketHandlers<T> }): _BunListener;
  connect<T>(options: {
    hostname: string;
    port: number;
    tls?: boolean | { ca?: string[]; serverName?: string };
    socket: _BunSocketHandlers<T> & { connectError?(socket: unknown, error: Error): void };
  }): Promise<_BunSocket<T>>;
}

/**
 * @internal The `Bun` global, or a TypeError naming the runtime we are in instead.
 * @param what What the caller cannot do without Bun, such as `serve`.
 */
export function _bun(what: string): _Bun {
  const global = globalThis as { Bun?: _Bun; Deno?: { version: { deno: string } }; process?: { versions?: { node?: string } } };
  if (global.Bun) return global.Bun;
  const here = global.Deno ? `Deno ${global.Deno.version.deno}` : global.process?.versions?.node ? `Node ${global.process.versions.node}` : "not Bun";
  throw new TypeError(`Cannot ${what}: wsflow/bun needs Bun, this is ${here}`);
}
