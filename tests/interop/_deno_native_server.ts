// A server nobody here wrote: Deno.serve with Deno.upgradeWebSocket, with the routes of
// fixture_server.ts that Deno's own WebSocket can serve (no /ping: Deno has no ping API; no
// /fragmented: it cannot send fragments). Prints {"port":N}.  deno run -A _deno_native_server.ts
import { beforeUpgrade, CloseRecords, offersChat } from "./_routes.ts";

interface DenoSocket {
  protocol: string;
  binaryType: string;
  onopen: (() => void) | null;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null;
  send(data: string | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}
declare const Deno: {
  serve(
    options: { port: number; hostname: string; onListen(addr: { port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): unknown;
  upgradeWebSocket(request: Request, options?: { protocol?: string }): { socket: DenoSocket; response: Response };
};

const closes = new CloseRecords();

Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: ({ port }) => console.log(JSON.stringify({ port })) }, async (request) => {
  const url = new URL(request.url);
  const early = await beforeUpgrade(url, closes);
  if (early) return early;
  const { socket, response } = Deno.upgradeWebSocket(request, offersChat(request) ? { protocol: "chat" } : {});
  socket.binaryType = "arraybuffer";
  const id = url.searchParams.get("id");
  socket.onclose = (event) => closes.set(id, { clean: event.wasClean, closeCode: event.code, reason: event.reason });
  socket.onmessage = (event) => socket.send(event.data);
  if (url.pathname === "/close") {
    socket.onopen = () => socket.close(Number(url.searchParams.get("code")), url.searchParams.get("reason") ?? "");
  }
  return response;
});
