// Node's built-in modules without an import: `process.getBuiltinModule` (Node 20.16 and later,
// Deno, Bun, and Cloudflare Workers with nodejs_compat) hands them out at run time, so a module
// that uses them still bundles for a browser or a Worker, where nothing calls it. The slices of
// node:net and node:tls the client transport uses are declared here, so the runtime-free entry
// that reaches them type-checks without @types/node.

/**
 * The slice of a `node:net` (or `node:tls`) socket that `socketDuplex` uses: a `net.Socket` or
 * `tls.TLSSocket` is one, and the type needs no `@types/node`.
 */
export interface NodeSocket {
  /** Whether the socket was destroyed. */
  readonly destroyed: boolean;
  /** Adds a listener for received bytes. */
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown;
  /** Adds a listener for the end of input, the close, an error, or room to write again. */
  on(event: "end" | "close" | "error" | "drain", listener: () => void): unknown;
  /** Adds a one-time listener. */
  once(event: string, listener: (error?: Error) => void): unknown;
  /** Removes a listener. */
  off(event: string, listener: (error?: Error) => void): unknown;
  /** Stops reading. */
  pause(): unknown;
  /** Reads again. */
  resume(): unknown;
  /** Writes bytes; false when the kernel buffer is full (wait for `drain`). */
  write(chunk: Uint8Array): boolean;
  /** Ends the output side. */
  end(callback?: () => void): unknown;
  /** Closes the socket at once. */
  destroy(): unknown;
  /** Turns Nagle's algorithm off (or on). */
  setNoDelay(noDelay?: boolean): unknown;
}

/** @internal The slice of `node:net` the client transport uses. */
export interface _NodeNet {
  connect(options: { host: string; port: number }): NodeSocket;
}

/** @internal The slice of `node:tls` the client transport uses. */
export interface _NodeTls {
  connect(options: { host: string; port: number; servername?: string; ca?: string[]; ALPNProtocols?: string[] }): NodeSocket;
}

/** @internal Whether this runtime hands out Node's built-in modules (`process.getBuiltinModule`). */
export function _hasNodeBuiltins(): boolean {
  return typeof (globalThis as { process?: { getBuiltinModule?: unknown } }).process?.getBuiltinModule === "function";
}

/**
 * @internal A Node built-in module (`"node:net"`), or a TypeError that says what to do.
 *
 * @param name The module's name, with its `node:` prefix.
 * @param action What could not be done without it, for the message: `connect`, `compress`.
 */
export function _nodeBuiltin<T>(name: string, action: string): T {
  const process = (globalThis as { process?: { getBuiltinModule?(name: string): unknown } }).process;
  const module = typeof process?.getBuiltinModule === "function" ? process.getBuiltinModule(name) : undefined;
  if (module) return module as T;
  throw new TypeError(
    `Cannot ${action}: ${name} is not available here (it comes from process.getBuiltinModule, in Node 20.16 or later, Deno, Bun, and Cloudflare Workers with nodejs_compat)`,
  );
}
