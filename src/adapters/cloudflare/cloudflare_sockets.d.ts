// The type of the one export of `cloudflare:sockets` that wsflow/cloudflare imports, for the
// TypeScript compiler; workerd provides the module itself.
declare module "cloudflare:sockets" {
  export function connect(
    address: { hostname: string; port: number },
    options: { secureTransport: "on" | "off"; allowHalfOpen: boolean },
  ): {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    readonly opened: Promise<unknown>;
    readonly closed: Promise<void>;
    close(): Promise<void>;
  };
}
