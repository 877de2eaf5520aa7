// Helpers for the permessage-deflate tests: zlib engines that count their contexts, and a
// wsflow echo server over node:net with the accept options a test gives.
import { createServer, type Server } from "node:net";
import zlib from "node:zlib";
import type { AddressInfo } from "node:net";
import { readUpgradeRequest } from "../mod.ts";
import type { DeflateEngines } from "../src/core/deflate.ts";
import type { UpgradeRequest } from "../src/streams/upgrade.ts";
import { createZlibEngines, zlibEngines } from "../src/adapters/zlib/mod.ts";
import { socketDuplex } from "./_net.ts";

/**
 * The engines of each part of node:zlib the compression suites run through: the native handle
 * (the default wherever it exists) and zlib's public one-shot functions (the fallback where it
 * does not), forced here on every runtime.
 */
export const zlibApis: [string, DeflateEngines][] = [
  ["native handle", createZlibEngines({ api: "native" })],
  ["public API", createZlibEngines({ api: "public" })],
];

/**
 * Whether this runtime's `deflateRawSync` uses a preset dictionary (Deno 2.9's ignores it, so
 * its public-API messages reference only themselves: still valid, never smaller for context).
 */
export const dictionaryHonoured: boolean = (() => {
  const hello = new TextEncoder().encode("Hello");
  return zlib.deflateRawSync(hello, { dictionary: hello }).length < zlib.deflateRawSync(hello).length;
})();

/** zlib engines (`base`, by default the runtime's default) that count the contexts made, freed, and alive now. */
export function countingEngines(base: DeflateEngines = zlibEngines): DeflateEngines & { made: number; freed: number; readonly alive: number } {
  const counts = {
    made: 0,
    freed: 0,
    get alive() {
      return counts.made - counts.freed;
    },
    createDeflate(bits: number) {
      const engine = base.createDeflate(bits);
      counts.made++;
      return { compress: engine.compress.bind(engine), restore: engine.restore?.bind(engine), reset: engine.reset.bind(engine), close: () => (counts.freed++, engine.close()) };
    },
    createInflate(bits: number) {
      const engine = base.createInflate(bits);
      counts.made++;
      return { decompress: engine.decompress.bind(engine), restore: engine.restore?.bind(engine), reset: engine.reset.bind(engine), close: () => (counts.freed++, engine.close()) };
    },
  };
  return counts;
}

/** A wsflow echo server on 127.0.0.1 accepting with `options()` (read per connection). */
export async function echoServer(options: () => Parameters<UpgradeRequest["accept"]>[0]): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    void (async () => {
      const upgrade = await readUpgradeRequest(socketDuplex(socket));
      const wss = await upgrade.accept(options());
      const { readable, writable } = await wss.opened;
      await readable.pipeTo(writable).catch(() => {});
    })().catch(() => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port };
}
