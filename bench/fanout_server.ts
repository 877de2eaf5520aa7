// Servers of the fanout benchmark (bench/fanout.ts). Connections to /sub subscribe to topic "t";
// each message from a connection to /pub is published to it. Prints {"port":N} once listening.
//
//   --server ws            Node: ws, with its documented broadcast loop over wss.clients
//   --server bun-publish   Bun.serve: ws.subscribe("t") and server.publish("t", message)
//   --server wsflow --mode codec|native [--broker redis|nats URL]   wsflow's Topics
//   --compress 0|1         permessage-deflate (threshold 0 where there is one)
import process from "node:process";
import { option } from "./_util.ts";

const SERVER = option("--server", "wsflow");
const MODE = option("--mode", "codec") as "codec" | "native";
const COMPRESS = option("--compress", "0") === "1";
const BROKER = option("--broker", "");
const BROKER_URL = option("--broker-url", "");
const ready = (port: number) => console.log(JSON.stringify({ port }));

if (SERVER === "ws") {
  const { WebSocketServer, WebSocket } = await import("ws");
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: COMPRESS ? { threshold: 0 } : false });
  wss.on("connection", (ws, request) => {
    if (request.url !== "/pub") return;
    ws.on("message", (data, isBinary) => {
      // ws's README, "Server broadcast": every open client but the sender.
      wss.clients.forEach((client) => {
        if (client !== ws && client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      });
    });
  });
  wss.on("listening", () => ready((wss.address() as { port: number }).port));
} else if (SERVER === "bun-publish") {
  const bun = (globalThis as unknown as { Bun: { serve(options: unknown): { port: number; publish(topic: string, data: unknown, compress?: boolean): number; upgrade(request: Request, options: unknown): boolean } } }).Bun;
  const server = bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request: Request, server: { upgrade(request: Request, options: unknown): boolean }) {
      if (server.upgrade(request, { data: { path: new URL(request.url).pathname } })) return undefined;
      return new Response("upgrade only", { status: 400 });
    },
    websocket: {
      perMessageDeflate: COMPRESS ? { compress: "shared", decompress: true } : false,
      backpressureLimit: 1024 * 1024 * 1024,
      closeOnBackpressureLimit: false,
      idleTimeout: 0,
      open(ws: { data: { path: string }; subscribe(topic: string): void }) {
        if (ws.data.path === "/sub") ws.subscribe("t");
      },
      message(_ws: unknown, message: string | Uint8Array) {
        server.publish("t", message, COMPRESS);
      },
    },
  });
  ready(server.port);
} else {
  const { Topics, upgradeWebSocket } = await import("../mod.ts");
  const { serve } = await import("../src/adapters/serve.ts");
  let backplane;
  if (BROKER === "redis") {
    const { createClient } = await import("redis");
    const { redisBackplane } = await import("../src/adapters/redis/mod.ts");
    const publisher = await createClient({ url: BROKER_URL }).connect();
    const subscriber = await publisher.duplicate().connect();
    backplane = redisBackplane({ publisher, subscriber });
  } else if (BROKER === "nats") {
    const { connect } = await import("@nats-io/transport-node");
    const { natsBackplane } = await import("../src/adapters/nats/mod.ts");
    backplane = natsBackplane({ connection: await connect({ servers: BROKER_URL }) });
  }
  const topics = new Topics({ backplane });
  const server = await serve({ port: 0, mode: MODE }, async (request) => {
    const path = new URL(request.url).pathname;
    const { socket, response } = await upgradeWebSocket(request, { heartbeat: false, compression: COMPRESS ? { threshold: 0, serverNoContextTakeover: true } : false });
    if (!socket) return response;
    socket.closed.catch(() => {});
    if (path === "/sub") void topics.subscribe(socket, "t");
    else {
      void socket.opened.then(async ({ readable }) => {
        for await (const message of readable) topics.publish("t", message as string);
      }).catch(() => {});
    }
    return response;
  });
  ready(server.port);
}
process.on("SIGTERM", () => process.exit(0));
