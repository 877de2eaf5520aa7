// A Worker (and a Durable Object) with wsflow's server, bundled by workerd_test.ts with wrangler's
// settings: `upgradeWebSocket` from the main entry, as on every other runtime (the package's
// workerd condition brings wsflow/cloudflare). Echoes what it gets, prefixed for text with where
// it ran; "close-me" closes with 4001, "ping" answers with what ping() did. /last-close tells
// how the last connection closed, as the Worker saw it; /refused what the options the platform
// cannot honour throw.
import { upgradeWebSocket, WebSocketStream } from "wsflow";

let lastClose = null;

async function echo(request, where) {
  const { socket, response } = await upgradeWebSocket(request, {
    protocol: (offered) => (offered.includes("echo") ? "echo" : undefined),
    origins: (origin) => origin !== "https://refused.example",
    compression: true,
  });
  if (!socket) return response;
  socket.closed.then((info) => (lastClose = info), (error) => (lastClose = { error: `${error.name}: ${error.message}`, closeCode: error.closeCode }));
  void (async () => {
    const { readable, writable } = await socket.opened;
    const reader = readable.getReader();
    const writer = writable.getWriter();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (value === "close-me") return socket.close({ closeCode: 4001, reason: "asked to" });
      if (value === "ping") {
        await socket.ping().then((ms) => writer.write(`pong ${ms}`), (error) => writer.write(`${error.name}: ${error.message}`));
        continue;
      }
      await writer.write(typeof value === "string" ? `${where}: ${value}` : value);
    }
  })().catch(() => {});
  return response;
}

export class Room {
  fetch(request) {
    return echo(request, "durable object");
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/last-close") return Response.json(lastClose);
    if (url.pathname === "/refused") {
      const streamMessages = await upgradeWebSocket(request, { streamMessages: true }).then(() => "upgraded", (error) => `${error.name}: ${error.message}`);
      const ca = await new WebSocketStream("wss://127.0.0.1:1/", { tls: { ca: "PEM" } }).opened.then(() => "opened", (error) => error.message);
      return Response.json({ streamMessages, ca });
    }
    if (url.pathname === "/room") return env.Room.get(env.Room.idFromName("room")).fetch(request);
    return echo(request, "worker");
  },
};
