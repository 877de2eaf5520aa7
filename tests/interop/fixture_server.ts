// The interop fixture: one wsflow server with the routes the behavioural suite drives, started
// by interop_test.ts as a child process in Node, Deno or Bun. Prints {"port":N} once listening.
//
//   node  fixture_server.ts [--mode codec] [--tls cert.pem,key.pem] [--heartbeat 200]
//   deno run -A fixture_server.ts --mode native|codec [--heartbeat 1000]
//   bun fixture_server.ts --mode native|codec
//
// Routes (every one awaits before upgrading, as an auth check would):
//   /page                    a tiny HTML page, so Chromium opens sockets from this origin
//   /echo?id=X               echoes every message; records how the connection closed under X
//   /close?code=C&reason=R   the server starts the closing handshake at once
//   /fragmented              sends one 100,000-byte binary message written as a stream of pieces
//   /ping                    pings the peer, sends "ping ok" (or why not), then echoes
//   /slow?wait=MS&expect=N   reads nothing for MS ms, then reads N binary messages and sends a summary
//   /heartbeat?id=X          heartbeat every --heartbeat ms; records how the connection closed
//   /auth?token=T&delay=MS   waits MS ms; 401 with headers unless T is "good", else echoes
//   /closes/X                JSON of how connection X closed (waits up to 3 s for it)
//   /extensions              sends the negotiated Sec-WebSocket-Extensions as a text message, then echoes
//   /flood?id=X&count=N      writes N binary messages of 1 MiB (each filled with its index), each
//                            write awaited; /floods/X says how many writes have resolved so far
// With ?deflate=1 on any route, the upgrade accepts permessage-deflate (threshold 0).
import process from "node:process";
import { readFileSync } from "node:fs";
import { upgradeWebSocket, type WebSocketStream } from "../../mod.ts";
import { serve } from "../../src/adapters/serve.ts";
import { beforeUpgrade, CloseRecords, sleep } from "./_routes.ts";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const mode = (flag("--mode") ?? "codec") as "native" | "codec";
const heartbeatMs = Number(flag("--heartbeat") ?? 200);
const tlsFiles = flag("--tls")?.split(",");

const closes = new CloseRecords();
// /flood's progress: how many of its writes have resolved, by id.
const floods = new Map<string, { resolved: number }>();

function record(id: string | null, socket: WebSocketStream): void {
  if (!id) return;
  socket.closed.then(
    (info) => closes.set(id, { clean: true, closeCode: info.closeCode, reason: info.reason }),
    (error) => closes.set(id, { clean: false, closeCode: error?.closeCode, reason: error?.reason ?? "" }),
  );
}

function pieces(total: number, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const piece = new Uint8Array(Math.min(size, total - at));
      for (let i = 0; i < piece.length; i++) piece[i] = ((at + i) * 7) & 255;
      at += piece.length;
      controller.enqueue(piece);
      if (at >= total) controller.close();
    },
  });
}

async function route(url: URL, socket: WebSocketStream): Promise<void> {
  const { readable, writable } = await socket.opened;
  const echo = () => readable.pipeTo(writable);
  switch (url.pathname) {
    case "/close":
      return socket.close({ closeCode: Number(url.searchParams.get("code")), reason: url.searchParams.get("reason") ?? "" });
    case "/fragmented": {
      const writer = writable.getWriter();
      await writer.write(pieces(100_000, 16_384));
      writer.releaseLock();
      return echo();
    }
    case "/ping": {
      const writer = writable.getWriter();
      const answer = await socket.ping().then(
        (rtt) => Number.isFinite(rtt) && rtt >= 0 ? "ping ok" : `ping gave ${rtt}`,
        (error) => `ping failed: ${error?.name}: ${error?.message}`,
      );
      await writer.write(answer);
      writer.releaseLock();
      return echo();
    }
    case "/slow": {
      await sleep(Number(url.searchParams.get("wait") ?? 1000));
      const expect = Number(url.searchParams.get("expect") ?? 0);
      const reader = readable.getReader();
      let messages = 0;
      let bytes = 0;
      let intact = true;
      while (messages < expect) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!(value instanceof Uint8Array) || value[0] !== (messages & 255) || value[value.length - 1] !== (messages & 255)) intact = false;
        bytes += typeof value === "string" ? value.length : value.length;
        messages++;
      }
      const writer = writable.getWriter();
      await writer.write(JSON.stringify({ messages, bytes, intact }));
      writer.releaseLock();
      reader.releaseLock();
      return echo();
    }
    case "/heartbeat":
      await readable.pipeTo(new WritableStream());
      return;
    case "/extensions": {
      const writer = writable.getWriter();
      await writer.write((await socket.opened).extensions);
      writer.releaseLock();
      return echo();
    }
    case "/flood": {
      const progress = { resolved: 0 };
      floods.set(url.searchParams.get("id") ?? "", progress);
      const writer = writable.getWriter();
      for (let i = 0; i < Number(url.searchParams.get("count") ?? 0); i++) {
        await writer.write(new Uint8Array(1024 * 1024).fill(i & 255));
        progress.resolved++;
      }
      writer.releaseLock();
      return echo();
    }
    default:
      return echo();
  }
}

async function handler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/page") {
    return new Response("<!doctype html><title>wsflow interop</title><p>interop", { headers: { "content-type": "text/html" } });
  }
  if (url.pathname.startsWith("/floods/")) return Response.json(floods.get(decodeURIComponent(url.pathname.slice("/floods/".length))) ?? null);
  const early = await beforeUpgrade(url, closes); // /closes/X, or a refused /auth, after an await
  if (early) return early;
  const heartbeat = url.pathname === "/heartbeat" ? { interval: heartbeatMs, timeout: heartbeatMs } : undefined;
  const { socket, response } = await upgradeWebSocket(request, {
    protocol: (offered) => offered.includes("chat") ? "chat" : undefined,
    ...(heartbeat ? { heartbeat } : {}),
    ...(url.searchParams.get("deflate") === "1" ? { compression: { threshold: 0 } } : {}),
  });
  if (!socket) return response;
  record(url.searchParams.get("id"), socket);
  void route(url, socket).catch(() => {});
  return response;
}

const server = tlsFiles
  ? await (await import("../../src/adapters/node/mod.ts")).serve(
    { port: 0, tls: { cert: readFileSync(tlsFiles[0], "utf8"), key: readFileSync(tlsFiles[1], "utf8") } },
    handler,
  )
  // Bun's native WebSockets take the heartbeat per server (Bun's idleTimeout); the other paths per upgrade.
  : await serve({ port: 0, mode, ...(mode === "native" ? { heartbeat: { interval: heartbeatMs, timeout: heartbeatMs } } : {}) }, handler);
console.log(JSON.stringify({ port: server.port }));
