// The slice of the Deno namespace wsflow/deno uses, declared here rather than taken from a
// dependency (as oakserver/oak's http_server_bun.ts declares Bun), and the check that fails fast
// in another runtime.
import type { _NativeSocket } from "../../streams/native_connection.ts";

/** @internal A TCP or TLS connection of `Deno.listen`, `Deno.connect` or `Deno.connectTls`. */
export interface _DenoConn {
  readonly remoteAddr: { hostname?: string };
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Reads into `buffer`: the number of bytes read, or null at EOF. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes` (perhaps not all): the number written. */
  write(bytes: Uint8Array): Promise<number>;
  /** Shuts down the write side (TCP FIN), leaving the read side open. */
  closeWrite(): Promise<void>;
  /** TCP connections only: turn off Nagle's algorithm. */
  setNoDelay?(noDelay?: boolean): void;
  close(): void;
}

/** @internal A listener of `Deno.listen`. */
export interface _DenoListener {
  readonly addr: { hostname: string; port: number };
  accept(): Promise<_DenoConn>;
  close(): void;
}

/** @internal A server of `Deno.serve`. */
export interface _DenoHttpServer {
  readonly addr: { hostname: string; port: number };
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** @internal The slice of the `Deno` namespace the adapter uses. */
export interface _DenoNamespace {
  version: { deno: string };
  serve(
    options: { hostname: string; port: number; onListen: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request, info: { remoteAddr: { hostname: string } }) => Response | Promise<Response>,
  ): _DenoHttpServer;
  upgradeWebSocket(request: Request, options: { protocol?: string; idleTimeout?: number }): { socket: _NativeSocket; response: Response };
  listen(options: { hostname: string; port: number; transport: "tcp" }): _DenoListener;
  connect(options: { hostname: string; port: number; transport: "tcp" }): Promise<_DenoConn>;
  connectTls(options: { hostname: string; port: number; caCerts?: string[] }): Promise<_DenoConn>;
}

/**
 * @internal The `Deno` namespace, or a TypeError naming the runtime that was found instead.
 *
 * @param action What could not be done, for the message: `serve`, `upgrade`, `connect`.
 */
export function _deno(action: string): _DenoNamespace {
  const deno = (globalThis as { Deno?: _DenoNamespace }).Deno;
  if (deno && typeof deno.upgradeWebSocket === "function") return deno;
  const versions = (globalThis as { process?: { versions?: Record<string, string> } }).process?.versions;
  const runtime = versions?.bun ? `Bun ${versions.bun}` : versions?.node ? `Node ${versions.node}` : "not Deno";
  throw new TypeError(`Cannot ${action}: wsflow/deno needs Deno, this is ${runtime}; use wsflow/node or wsflow/bun there`);
}
