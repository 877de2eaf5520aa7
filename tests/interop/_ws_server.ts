// A server nobody here wrote, in-process: the `ws` package on node:http or node:https, with the
// routes of fixture_server.ts (/echo, /close, /fragmented, /ping, /auth, /closes/X).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

/** A running ws server: its port and how to stop it. */
export interface WsServer {
  port: number;
  stop(): Promise<void>;
}

/** Starts a `ws` server on 127.0.0.1, over TLS when given a certificate and key. */
export async function startWsServer(tls?: { cert: string; key: string }): Promise<WsServer> {
  const closes = new Map<string, unknown>();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const id = decodeURIComponent((req.url ?? "").replace(/^\/closes\//, ""));
    for (let i = 0; i < 150 && !closes.has(id); i++) await sleep(20);
    res.writeHead(closes.has(id) ? 200 : 404, { "content-type": "application/json" }).end(JSON.stringify(closes.get(id) ?? null));
  };
  const http = tls ? createHttpsServer(tls, (req, res) => void onRequest(req, res)) : createServer((req, res) => void onRequest(req, res));
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024, handleProtocols: (offered) => offered.has("chat") ? "chat" : false });
  http.on("upgrade", async (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    await sleep(5);
    if (url.pathname === "/auth") {
      await sleep(Number(url.searchParams.get("delay") ?? 0));
      if (url.searchParams.get("token") !== "good") {
        socket.end('HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer realm="interop"\r\nx-reason: bad token\r\ncontent-length: 0\r\n\r\n');
        return;
      }
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const id = url.searchParams.get("id");
      ws.on("close", (code, reason) => id && closes.set(id, { clean: code !== 1006, closeCode: code, reason: String(reason) }));
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
