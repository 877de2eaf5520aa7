import type { ByteDuplex } from "./types.ts";

/** Options the default transport takes. */
export interface DefaultTransportOptions {
  /** Certificates (PEM) to trust for `wss:`. */
  ca?: string[];
  /** Aborts the connection attempt. */
  signal?: AbortSignal;
}

type Connect = (url: URL, options: DefaultTransportOptions) => Promise<ByteDuplex>;

/**
 * @internal Opens a TCP or TLS connection with the runtime's own sockets: Deno.connect(Tls),
 * Bun.connect, or node:net/node:tls. The adapter is imported when first needed, by a computed
 * name, so this module (and mod.ts) stays free of runtime imports.
 */
export async function _defaultTransport(url: URL, options: DefaultTransportOptions): Promise<ByteDuplex> {
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  const name = runtime.Deno ? "deno_connect" : runtime.Bun ? "bun_connect" : "node_connect";
  const module: { connect: Connect } = await import(`../adapters/${name}.ts`);
  return module.connect(url, options);
}
