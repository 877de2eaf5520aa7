// The echo benchmark's servers, one file for every runtime. Prints one JSON line
// `{ "port", "pid", "runtime" }` once listening, then echoes every message until killed.
//
//   <runtime> echo_server.(ts|js) --server wsflow [--mode codec|native] [--loop pipe|manual]
//   <runtime> echo_server.(ts|js) --server ws          (the ws package, Node)
//   <runtime> echo_server.(ts|js) --server native      (Deno.serve + Deno.upgradeWebSocket, or Bun.serve)
//   node echo_server.js --server upgrade               (raw echo on an http upgrade socket: Node's floor)
//   node echo_server.js --server streams [--loop pipe|manual]  (the same socket behind a web stream pair)
//   <runtime> echo_server.(ts|js) --server tcp         (raw TCP echo after a canned 101: the ceiling)
//                                   [--read-size N]   (Deno: bytes per read, 64 KiB by default)
//   --compression (wsflow: upgradeWebSocket(request, { compression: true }), the README's echo;
//   ws: perMessageDeflate) and --handshake-timeout MS (wsflow: serve()'s handshakeTimeout)
import process from "node:process";
import { option } from "./_util.ts";

const SERVER = option("--server", "wsflow");
const MODE = option("--mode", "codec") as "codec" | "native";
const LOOP = option("--loop", "pipe");
const COMPRESSION = process.argv.includes("--compression");
const HANDSHAKE_TIMEOUT = option("--handshake-timeout", "");
const HOST = "127.0.0.1";
// What the servers that are not WebSocket answer an upgrade with before echoing raw bytes.
const CANNED_101 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";

interface DenoLike {
  version: { deno: string };
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response,
  ): unknown;
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
}
interface BunSocket {
  send(data: string | Uint8Array): number;
}
interface BunLike {
  version: string;
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: { upgrade(request: Request): boolean }): Response | undefined;
    websocket: { message(ws: BunSocket, message: string | Uint8Array): void; perMessageDeflate: boolean };
  }): { port: number };
}
const g = globalThis as { Deno?: DenoLike; Bun?: BunLike };
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : g.Bun ? `Bun ${g.Bun.version}` : `Node ${process.version}`;

// Exit cleanly on a signal, so `node --cpu-prof` (or `bun --cpu-prof`) writes its profile.
if (!g.Deno) for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));

function listening(port: number): void {
  process.stdout.write(JSON.stringify({ port, pid: process.pid, runtime }) + "\n");
}

// Echo over wsflow's public surface: one WebSocketStream per connection, its readable piped into
// its writable as the README's echo does (no async function of ours waiting on the pipe for the
// connection's life), or a read/write loop (--loop manual) to compare.
function echo(readable: ReadableStream<unknown>, writable: WritableStream<unknown>): Promise<void> {
  return LOOP === "pipe" ? readable.pipeTo(writable) : echoLoop(readable, writable);
}

async function echoLoop(readable: ReadableStream<unknown>, writable: WritableStream<unknown>): Promise<void> {
  const reader = readable.getReader();
  const writer = writable.getWriter();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    await writer.write(value);
  }
}

// A node:http server that answers every upgrade with the canned 101 and hands the socket on.
async function serveUpgrades(onSocket: (socket: import("node:net").Socket) => void): Promise<void> {
  const { createServer } = await import("node:http");
  const server = createServer();
  server.on("upgrade", (_request, socket: import("node:net").Socket) => {
    socket.setNoDelay(true);
    socket.write(CANNED_101);
    socket.on("error", () => {});
    onSocket(socket);
  });
  server.listen(0, HOST, () => listening((server.address() as { port: number }).port));
}

if (SERVER === "wsflow") {
  const { serve } = await import("../src/adapters/serve.ts");
  const { upgradeWebSocket } = await import("../mod.ts");
  const options = { port: 0, hostname: HOST, mode: MODE, onListen: ({ port }: { port: number }) => listening(port) };
  if (HANDSHAKE_TIMEOUT) Object.assign(options, { handshakeTimeout: Number(HANDSHAKE_TIMEOUT) });
  await serve(options, async (request) => {
    const { socket, response } = await upgradeWebSocket(request, COMPRESSION ? { compression: true } : {});
    if (socket) {
      void socket.opened
        .then(({ readable, writable }) => echo(readable, writable))
        .catch(() => {});
    }
    return response;
  });
} else if (SERVER === "ws") {
  const { WebSocketServer } = await import("ws");
  const wss = new WebSocketServer({ port: 0, host: HOST, perMessageDeflate: COMPRESSION });
  wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  wss.on("listening", () => listening((wss.address() as { port: number }).port));
} else if (SERVER === "native" && g.Deno) {
  const Deno = g.Deno;
  Deno.serve({ port: 0, hostname: HOST, onListen: ({ port }) => listening(port) }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
} else if (SERVER === "native" && g.Bun) {
  const server = g.Bun.serve({
    port: 0,
    hostname: HOST,
    fetch(request, server) {
      if (server.upgrade(request)) return undefined;
      return new Response("Upgrade Required", { status: 426 });
    },
    websocket: {
      perMessageDeflate: false,
      message(ws, message) {
        ws.send(message);
      },
    },
  });
  listening(server.port);
} else if (SERVER === "tcp" && g.Bun) {
  // Not WebSocket: after a canned 101 it sends every byte straight back (the client's masked
  // frames), the cheapest possible peer, to show what the load generator can drive.
  const listener = (g.Bun as unknown as { listen(o: unknown): { port: number } }).listen({
    hostname: HOST,
    port: 0,
    socket: {
      open(s: { data: unknown }) {
        s.data = { head: true };
      },
      data(s: { data: { head: boolean }; write(d: Uint8Array | string): number }, chunk: Uint8Array) {
        if (s.data.head) {
          s.data.head = false;
          s.write(CANNED_101);
          return;
        }
        s.write(chunk); // loopback with one message in flight per connection: never a short write
      },
    },
  });
  listening(listener.port);
} else if (SERVER === "tcp" && g.Deno) {
  // The raw echo on Deno's own connection API (`Deno.listen`, `conn.read` into one reused
  // buffer, `conn.write`), the calls wsflow's Deno `codec` path makes: the floor of its cost.
  // `--read-size` (default 64 KiB): the buffer's size (an idle wsflow connection reads into 1 KiB).
  const Deno = g.Deno as unknown as {
    listen(o: { hostname: string; port: number }): AsyncIterable<DenoConn> & { addr: { port: number } };
  };
  type DenoConn = { read(b: Uint8Array): Promise<number | null>; write(b: Uint8Array): Promise<number>; setNoDelay(v: boolean): void; close(): void };
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const readSize = Number(option("--read-size", String(64 * 1024)));
  const pump = async (conn: DenoConn) => {
    conn.setNoDelay(true);
    const buffer = new Uint8Array(readSize);
    let head = true;
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        if (head) {
          head = false;
          await conn.write(new TextEncoder().encode(CANNED_101));
          continue;
        }
        for (let at = 0; at < n;) at += await conn.write(buffer.subarray(at, n));
      }
    } catch { /* the peer left */ }
    try {
      conn.close();
    } catch { /* closed */ }
  };
  listening(listener.addr.port);
  for await (const conn of listener) void pump(conn);
} else if (SERVER === "upgrade") {
  // Not WebSocket either: the raw echo on a socket from node:http's `upgrade` event, as every
  // WebSocket server on Node gets its sockets (after a 101, every byte goes straight back).
  await serveUpgrades((socket) => void socket.on("data", (chunk: Buffer) => socket.write(chunk)));
} else if (SERVER === "streams") {
  // Not WebSocket either: the socket of node:http's `upgrade` event behind a WHATWG
  // ReadableStream and WritableStream, the readable piped into the writable, each chunk echoed as
  // it is (piped, or with --loop manual a reader and a writer, the cheapest way to hold a pair in
  // use). What any library whose connection is a pair of web streams costs on Node before it
  // parses a frame: the floor under wsflow's memory per idle connection.
  await serveUpgrades((socket) => {
    const readable = new ReadableStream<Uint8Array>({
      start(controller) {
        socket.on("data", (chunk: Buffer) => controller.enqueue(chunk));
        socket.on("end", () => controller.close());
      },
    });
    const writable = new WritableStream<Uint8Array>({ write: (chunk) => void socket.write(chunk) });
    echo(readable, writable).catch(() => {});
  });
} else if (SERVER === "tcp") {
  // Not WebSocket: after a canned 101 it sends every byte straight back (the client's masked
  // frames), the cheapest possible peer, to show what the load generator can drive.
  const { createServer } = await import("node:net");
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let head = true;
    socket.on("data", (chunk: Buffer) => {
      if (head) {
        head = false;
        socket.write(CANNED_101);
        return;
      }
      socket.write(chunk);
    });
    socket.on("error", () => {});
  });
  server.listen(0, HOST, () => listening((server.address() as { port: number }).port));
} else {
  process.stderr.write(`echo_server: no server "${SERVER}" on ${runtime}\n`);
  process.exit(2);
}
