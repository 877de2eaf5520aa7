// What every runtime's client transport (`connect(url, options)`) takes, and the abort race they
// share. Its own file so the transports and the default transport that picks one of them import
// it without importing each other.

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
