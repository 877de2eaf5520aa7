// A server nobody here wrote: Bun.serve with its own WebSocket, with the routes of
// fixture_server.ts that Bun can serve (no /fragmented: Bun cannot send fragments).
// Prints {"port":N}.  bun _bun_native_server.ts
import { beforeUpgrade, CloseRecords, offersChat } from "./_routes.ts";

interface BunSocket {
  data: { path: string; id: string | null; code: number; reason: string; pinged: number };
  send(data: string | Uint8Array): void;
  ping(data?: string): void;
  close(code?: number, reason?: string): void;
}
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: { upgrade(request: Request, options: { data: BunSocket["data"]; headers?: HeadersInit }): boolean }): Promise<Response | undefined>;
    websocket: {
      open(ws: BunSocket): void;
      message(ws: BunSocket, data: string | Uint8Array): void;
      pong(ws: BunSocket): void;
      close(ws: BunSocket, code: number, reason: string): void;
    };
  }): { port: number };
};

const closes = new CloseRecords();

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request, server) {
    const url = new URL(request.url);
    const early = await beforeUpgrade(url, closes);
    if (early) return early;
    const data = {
      path: url.pathname,
      id: url.searchParams.get("id"),
      code: Number(url.searchParams.get("code")),
      reason: url.searchParams.get("reason") ?? "",
      pinged: 0,
    };
    if (server.upgrade(request, { data, headers: offersChat(request) ? { "sec-websocket-protocol": "chat" } : {} })) return undefined;
    return new Response("Upgrade Required", { status: 426 });
  },
  websocket: {
    open(ws) {
      if (ws.data.path === "/close") ws.close(ws.data.code, ws.data.reason);
      if (ws.data.path === "/ping") {
        ws.data.pinged = performance.now();
        ws.ping("are you there");
      }
    },
    message(ws, data) {
      ws.send(data);
    },
    pong(ws) {
      if (ws.data.pinged) ws.send("ping ok");
      ws.data.pinged = 0;
    },
    close(ws, code, reason) {
      closes.set(ws.data.id, { clean: code !== 1006, closeCode: code, reason });
    },
  },
});
console.log(JSON.stringify({ port: server.port }));
