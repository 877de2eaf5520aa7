import type { ByteDuplex } from "./types.ts";

/** Options every runtime's client transport (`connect(url, options)`) takes. */
export interface ConnectOptions {
  /** Certificates (PEM) to trust for `wss:`, for servers with self-signed certificates. @default {the system's} */
  ca?: string[];
  /** Aborts the connection attempt. */
  signal?: AbortSignal;
}

type Connect = (url: URL, options: ConnectOptions) => Promise<ByteDuplex>;

/**
 * @internal Opens a TCP or TLS connection with the runtime's own sockets: Deno.connect(Tls),
 * Bun.connect, or node:net/node:tls. The adapter is imported when first needed, by a computed
 * name, so this module (and mod.ts) stays free of runtime imports.
 */
export async function _defaultTransport(url: URL, options: ConnectOptions): Promise<ByteDuplex> {
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  const name = runtime.Deno ? "deno_connect" : runtime.Bun ? "bun_connect" : "node_connect";
  const module: { connect: Connect } = await import(`../adapters/${name}.ts`);
  return module.connect(url, options);
}
