// A server nobody here wrote: Deno.serve with Deno.upgradeWebSocket, with the routes of
// fixture_server.ts that Deno's own WebSocket can serve (no /ping: Deno has no ping API; no
// /fragmented: it cannot send fragments). Prints {"port":N}.  deno run -A _deno_native_server.ts
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

const closes = new Map<string, unknown>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: ({ port }) => console.log(JSON.stringify({ port })) }, async (request) => {
  const url = new URL(request.url);
  if (url.pathname.startsWith("/closes/")) {
    const id = decodeURIComponent(url.pathname.slice("/closes/".length));
    for (let i = 0; i < 150 && !closes.has(id); i++) await sleep(20);
    return closes.has(id) ? Response.json(closes.get(id)) : new Response("no record", { status: 404 });
  }
  await sleep(5);
  if (url.pathname === "/auth") {
    await sleep(Number(url.searchParams.get("delay") ?? 0));
    if (url.searchParams.get("token") !== "good") {
      return new Response("bad token", { status: 401, headers: { "www-authenticate": 'Bearer realm="interop"', "x-reason": "bad token" } });
    }
  }
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  const { socket, response } = Deno.upgradeWebSocket(request, offered.includes("chat") ? { protocol: "chat" } : {});
  socket.binaryType = "arraybuffer";
  const id = url.searchParams.get("id");
  socket.onclose = (event) => id && closes.set(id, { clean: event.wasClean, closeCode: event.code, reason: event.reason });
  socket.onmessage = (event) => socket.send(event.data);
  if (url.pathname === "/close") {
    socket.onopen = () => socket.close(Number(url.searchParams.get("code")), url.searchParams.get("reason") ?? "");
  }
  return response;
});
