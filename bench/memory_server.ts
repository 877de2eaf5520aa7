// The memory benchmark's server process (see bench/memory.ts): a WebSocket echo server, wsflow's
// Node `serve` or the `ws` package's WebSocketServer, with or without permessage-deflate, that
// answers the driver's IPC requests with its own process.memoryUsage() after forced GCs.
//
//   node --expose-gc .build/bench/memory_server.js --server wsflow|ws --compression on|off
//   (forked by bench/memory.ts with an IPC channel; not meant to be run by hand)
//
// IPC, driver -> server: { type: "measure" }, or { type: "snapshot", path } (a V8 heap snapshot,
// for bench/memory.ts --heap-snapshots). Server -> driver: { type: "listening", port } once,
// then { type: "memory", usage, open, deflated } per request (open = connections whose
// handshake completed and that have not closed; deflated = those of them with permessage-deflate).
import process from "node:process";
import { option, sleep } from "./_util.ts";

const SERVER = option("--server", "wsflow");
const COMPRESSION = option("--compression", "on") !== "off";
// "keep": zlib contexts kept for the connection's life, as ws keeps them.
const KEEP = option("--compression", "on") === "keep";
const HOST = "127.0.0.1";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc || !process.send) throw new Error("memory_server: run me through bench/memory.ts (needs --expose-gc and an IPC channel)");
const send = (message: unknown) => process.send!(message);
// Never outlive the driver.
process.on("disconnect", () => process.exit(0));

let open = 0;
let deflated = 0;

if (SERVER === "wsflow") {
  const { serve } = await import("../src/adapters/node/mod.ts");
  const { upgradeWebSocket } = await import("../mod.ts");
  await serve({ port: 0, hostname: HOST, onListen: ({ port }) => send({ type: "listening", port }) }, async (request) => {
    const { socket, response } = await upgradeWebSocket(request, COMPRESSION ? { compression: KEEP ? { releaseIdleAfter: Infinity } : true } : {});
    if (socket) {
      void socket.opened
        .then(({ readable, writable, extensions }) => {
          const withDeflate = extensions.includes("permessage-deflate");
          open++;
          if (withDeflate) deflated++;
          // The README's echo idiom: every message goes back as it came (text as text).
          return readable.pipeTo(writable).finally(() => {
            open--;
            if (withDeflate) deflated--;
          });
        })
        .catch(() => {});
    }
    return response;
  });
} else if (SERVER === "ws") {
  const { WebSocketServer } = await import("ws");
  // perMessageDeflate: true is ws's defaults: level and memLevel 8 from zlib, both windows 15,
  // context takeover both ways, threshold 1024, zlib contexts made on first use.
  const wss = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: COMPRESSION });
  wss.on("listening", () => send({ type: "listening", port: (wss.address() as { port: number }).port }));
  wss.on("connection", (ws) => {
    const withDeflate = ws.extensions.includes("permessage-deflate");
    open++;
    if (withDeflate) deflated++;
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("close", () => {
      open--;
      if (withDeflate) deflated--;
    });
    ws.on("error", () => {});
  });
} else {
  throw new Error(`memory_server: unknown --server ${SERVER}`);
}

process.on("message", async (message: { type: string; path?: string }) => {
  if (message.type === "snapshot") {
    gc!();
    const { writeHeapSnapshot } = await import("node:v8");
    writeHeapSnapshot(message.path);
    return send({ type: "snapshot" });
  }
  if (message.type !== "measure") return;
  // Several full collections with turns of the event loop between them, so weak callbacks and
  // finalizers (closed zlib handles, sockets) run and what is left is what is reachable.
  for (let i = 0; i < 4; i++) {
    gc!();
    await sleep(20);
  }
  gc!();
  send({ type: "memory", usage: process.memoryUsage(), open, deflated });
});
