// Helpers for the permessage-deflate tests: zlib engines that count their contexts, and a
// wsflow echo server over node:net with the accept options a test gives.
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { readUpgradeRequest } from "../mod.ts";
import type { DeflateEngines } from "../src/core/deflate.ts";
import type { UpgradeRequest } from "../src/streams/upgrade.ts";
import { zlibEngines } from "../src/adapters/zlib/mod.ts";
import { socketDuplex } from "./_net.ts";

/** zlib engines that count the contexts made, freed, and alive now. */
export function countingEngines(): DeflateEngines & { made: number; freed: number; readonly alive: number } {
  const counts = {
    made: 0,
    freed: 0,
    get alive() {
      return counts.made - counts.freed;
    },
    createDeflate(bits: number) {
      const engine = zlibEngines.createDeflate(bits);
      counts.made++;
      return { compress: engine.compress.bind(engine), reset: engine.reset.bind(engine), close: () => (counts.freed++, engine.close()) };
    },
    createInflate(bits: number) {
      const engine = zlibEngines.createInflate(bits);
      counts.made++;
      return { decompress: engine.decompress.bind(engine), reset: engine.reset.bind(engine), close: () => (counts.freed++, engine.close()) };
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
