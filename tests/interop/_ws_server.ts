// A server nobody here wrote, in-process: the `ws` package on node:http or node:https, with the
// routes of fixture_server.ts (/echo, /close, /fragmented, /ping, /auth, /closes/X).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { authorized, CloseRecords, REFUSAL_HEADERS } from "./_routes.ts";
import type { Running } from "./_servers.ts";

/** Starts a `ws` server on 127.0.0.1, over TLS when given a certificate and key. */
export async function startWsServer(tls?: { cert: string; key: string }): Promise<Running> {
  const closes = new CloseRecords();
  const refusal = `HTTP/1.1 401 Unauthorized\r\n${Object.entries(REFUSAL_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`).join("")}content-length: 0\r\n\r\n`;
  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const record = await closes.get(decodeURIComponent((req.url ?? "").replace(/^\/closes\//, "")));
    res.writeHead(record ? 200 : 404, { "content-type": "application/json" }).end(JSON.stringify(record ?? null));
  };
  const http = tls ? createHttpsServer(tls, (req, res) => void onRequest(req, res)) : createServer((req, res) => void onRequest(req, res));
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024, handleProtocols: (offered) => offered.has("chat") ? "chat" : false });
  http.on("upgrade", async (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!(await authorized(url))) {
      socket.end(refusal);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const id = url.searchParams.get("id");
      ws.on("close", (code, reason) => closes.set(id, { clean: code !== 1006, closeCode: code, reason: String(reason) }));
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
      if (url.pathname === "/close") ws.close(Number(url.searchParams.get("code")), url.searchParams.get("reason") ?? "");
      if (url.pathname === "/ping") {
        ws.once("pong", () => ws.send("ping ok"));
        ws.ping("are you there");
      }
      if (url.pathname === "/fragmented") {
        const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) & 255);
        for (let at = 0; at < bytes.length; at += 16_384) ws.send(bytes.subarray(at, at + 16_384), { binary: true, fin: at + 16_384 >= bytes.length });
      }
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    port: (http.address() as AddressInfo).port,
    stop: () => {
      for (const client of wss.clients) client.terminate();
      http.closeAllConnections();
      return new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
