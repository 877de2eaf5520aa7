import type { ByteDuplex } from "./types.ts";

/** Options every runtime's client transport (`connect(url, options)`) takes. */
export interface ConnectOptions {
  /** Certificates (PEM) to trust for `wss:`, for servers with self-signed certificates. @default {the system's} */
  ca?: string[];
  /** Aborts the connection attempt. */
  signal?: AbortSignal;
}

/**
 * @internal Waits for `connecting`, or rejects with `signal`'s reason as soon as it aborts. On
 * any failure `abandon` runs, to close a connection that still opens after the abort.
 */
export async function _unlessAborted<T>(connecting: Promise<T>, signal: AbortSignal | undefined, abandon: () => void): Promise<T> {
  if (!signal) return await connecting;
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => (onAbort = () => reject(signal.reason)));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([connecting, aborted]);
  } catch (error) {
    abandon();
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

type Connect = (url: URL, options: ConnectOptions) => Promise<ByteDuplex>;

/**
 * @internal Opens a TCP or TLS connection with the runtime's own sockets: Deno.connect(Tls),
 * Bun.connect, or node:net/node:tls. The adapter is imported when first needed, by a computed
 * name, so this module (and mod.ts) stays free of runtime imports.
 */
export async function _defaultTransport(url: URL, options: ConnectOptions): Promise<ByteDuplex> {
  const runtime = globalThis as { Deno?: unknown; Bun?: unknown };
  const name = runtime.Deno ? "deno" : runtime.Bun ? "bun" : "node";
  const module: { connect: Connect } = await import(`../adapters/${name}/connect.ts`);
  return module.connect(url, options);
}
