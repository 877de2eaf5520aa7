// wsflow/bun against real peers in Bun: Bun's `ws` (in Bun, `import "ws"` is Bun's own shim of
// the package, not the npm code), Bun's global WebSocket client, and wsflow's WebSocketStream
// over connect(). Both serve() modes run the same suite. Skips outside Bun.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WsClient from "ws";
import { upgradeWebSocket, WebSocketStream, type WebSocketStreamCloseInfo } from "../../mod.ts";
import { connect, createWebSocketHandler, serve } from "../../src/adapters/bun/mod.ts";
import type { BunServer, BunWebSocketHandlers } from "../../src/adapters/bun/types.ts";

const isBun = "Bun" in globalThis;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
type Message = string | Uint8Array;

// A server whose behaviour depends on the path; its connections' `closed` values are recorded.
async function start(mode: "native" | "codec") {
  const closes: Promise<WebSocketStreamCloseInfo>[] = [];
  const held: WebSocketStream[] = [];
  const server = await serve({ port: 0, mode }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/plain") return new Response("plain hello", { headers: { "x-test": "1" } });
    await sleep(5); // auth first: the upgrade works after an await
    if (path === "/reject") return new Response("who are you?", { status: 401, headers: { "www-authenticate": "Bearer" } });
    const { socket, response } = await upgradeWebSocket(request, { protocol: (offered) => offered.includes("chat") ? "chat" : undefined });
    if (!socket) return response;
    closes.push(socket.closed);
    socket.closed.catch(() => {});
    void (async () => {
      const { readable, writable } = await socket.opened;
      const writer = writable.getWriter();
      const reader = readable.getReader();
      if (path === "/hold") return held.push(socket);
      if (path === "/ping") await writer.write(`rtt ${await socket.ping()}`);
      if (path === "/flood") {
        for (let i = 0; i < 32; i++) await writer.write(new Uint8Array(1 << 20).fill(i));
        return writer.write("done");
      }
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        if (path === "/close") return socket.close({ closeCode: 4002, reason: "srv" });
        await writer.write(value as Message).catch(() => {});
      }
    })();
    return response;
  });
  return { server, closes, held };
}

// One client API over Bun's `ws` shim, Bun's WebSocket and wsflow's WebSocketStream.
interface Client {
  protocol: string;
  send(data: Message): Promise<void>;
  next(): Promise<Message>;
  close(code: number, reason: string): void;
  closed: Promise<{ code: number; reason: string }>;
}

function openWebSocket(kind: "ws" | "global", url: string, protocols: string[]): Promise<Client> {
  const Ctor = kind === "ws" ? (WsClient as unknown as typeof WebSocket) : globalThis.WebSocket;
  const ws = new Ctor(url, protocols);
  ws.binaryType = "arraybuffer";
  const queue: Message[] = [];
  let wake: (() => void) | undefined;
  ws.onmessage = (event) => {
    queue.push(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
    wake?.();
  };
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (ws.onclose = (e) => resolve({ code: e.code, reason: e.reason })));
  return new Promise((resolve, reject) => {
    ws.onerror = () => reject(new Error("the WebSocket failed"));
    ws.onopen = () =>
      resolve({
        protocol: ws.protocol,
        send: async (data) => ws.send(data as string),
        async next() {
          for (let i = 0; i < 1000 && queue.length === 0; i++) await new Promise<void>((r) => (wake = r));
          return queue.shift()!;
        },
        close: (code, reason) => ws.close(code, reason),
        closed,
      });
  });
}

async function openStream(url: string, protocols: string[]): Promise<Client> {
  const wss = new WebSocketStream(url, { protocols, transport: (u) => connect(u, {}) });
  const { readable, writable, protocol } = await wss.opened;
  const reader = readable.getReader();
  const writer = writable.getWriter();
  return {
    protocol,
    send: (data) => writer.write(data),
    next: async () => (await reader.read()).value as Message,
    close: (closeCode, reason) => wss.close({ closeCode, reason }),
    closed: wss.closed.then(({ closeCode, reason }) => ({ code: closeCode, reason })),
  };
}

const peers = {
  "Bun's ws shim": (url: string, protocols: string[] = []) => openWebSocket("ws", url, protocols),
  "Bun's WebSocket": (url: string, protocols: string[] = []) => openWebSocket("global", url, protocols),
  "wsflow WebSocketStream over connect()": (url: string, protocols: string[] = []) => openStream(url, protocols),
};

// Sends a raw HTTP request and returns the response head and body.
function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, "127.0.0.1", () => socket.write(head));
    let text = "";
    socket.on("data", (d) => (text += String(d)));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
    setTimeout(() => (socket.destroy(), resolve(text)), 2000);
  });
}
const upgradeHead = (path: string, version = "13") =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: ${version}\r\n\r\n`;

for (const mode of ["native", "codec"] as const) {
  describe(`wsflow/bun serve (${mode})`, { skip: !isBun && "needs Bun" }, () => {
    let current: Awaited<ReturnType<typeof start>> | undefined;
    async function withServer(fn: (s: Awaited<ReturnType<typeof start>>, ws: string) => Promise<void>) {
      current = await start(mode);
      try {
        await fn(current, current.server.url.replace("http:", "ws:"));
      } finally {
        await current.server.shutdown();
      }
    }

    for (const [name, open] of Object.entries(peers)) {
      test(`${name}: text and binary echo, the subprotocol chosen after an await, and a client close with 4001`, () =>
        withServer(async ({ closes }, url) => {
          const client = await open(`${url}/`, ["other", "chat"]);
          assert.equal(client.protocol, "chat");
          await client.send("hello κόσμε");
          assert.equal(await client.next(), "hello κόσμε");
          await client.send(new Uint8Array([0, 1, 2, 255]));
          assert.deepEqual(await client.next(), new Uint8Array([0, 1, 2, 255]));
          client.close(4001, "bye");
          assert.deepEqual(await client.closed, { code: 4001, reason: "bye" });
          assert.deepEqual(await closes[0], { closeCode: 4001, reason: "bye" });
        }));

      test(`${name}: a 16 MiB message echoes whole`, () =>
        withServer(async (_, url) => {
          const client = await open(`${url}/`);
          assert.equal(client.protocol, "");
          const big = new Uint8Array(16 * 1024 * 1024).map((_, i) => i * 31);
          await client.send(big);
          const echoed = (await client.next()) as Uint8Array;
          assert.equal(echoed.length, big.length);
          assert.ok(echoed.every((b, i) => b === big[i]));
          client.close(1000, "");
          await client.closed;
        }));

      test(`${name}: the server closes with 4002 and a reason`, () =>
        withServer(async ({ closes }, url) => {
          const client = await open(`${url}/close`);
          await client.send("close please");
          assert.deepEqual(await client.closed, { code: 4002, reason: "srv" });
          assert.equal((await closes[0]).closeCode, 4002);
        }));

      test(`${name}: server ping() resolves with the round-trip time`, () =>
        withServer(async (_, url) => {
          const client = await open(`${url}/ping`);
          const rtt = Number(String(await client.next()).slice(4));
          assert.ok(rtt >= 0 && rtt < 2000, `rtt ${rtt}`);
          client.close(1000, "");
          await client.closed;
        }));

      test(`${name}: shutdown() closes open connections with 1001`, async () => {
        const { server, held } = await start(mode);
        const client = await open(`${server.url.replace("http:", "ws:")}/hold`);
        for (let i = 0; i < 100 && held.length === 0; i++) await sleep(10);
        await server.shutdown();
        assert.equal((await client.closed).code, 1001);
        await server.finished;
      });
    }

    test("writes wait while the client does not read, and nothing is dropped", () =>
      withServer(async (_, url) => {
        const client = await openStream(`${url}/flood`, []);
        await sleep(300); // the server writes until TCP and both sides' buffers are full
        for (let i = 0; i < 32; i++) {
          const message = (await client.next()) as Uint8Array;
          assert.equal(message.length, 1 << 20);
          assert.ok(message[0] === i && message[message.length - 1] === i, `message ${i}`);
        }
        assert.equal(await client.next(), "done");
        client.close(1000, "");
        await client.closed;
      }));

    test("a handler's 401 with its headers refuses the upgrade", () =>
      withServer(async ({ server }) => {
        const text = await rawRequest(server.port, upgradeHead("/reject"));
        assert.match(text, /^HTTP\/1\.1 401/);
        assert.match(text, /www-authenticate: Bearer/i);
        assert.match(text, /who are you\?/);
      }));

    test("an upgrade with version 12 is answered 426", () =>
      withServer(async ({ server }) => {
        const text = await rawRequest(server.port, upgradeHead("/", "12"));
        assert.match(text, /^HTTP\/1\.1 426/);
        assert.match(text, /sec-websocket-version: 13/i);
      }));

    test("a plain request gets the handler's Response", () =>
      withServer(async ({ server }) => {
        const response = await fetch(`${server.url}/plain`);
        assert.equal(response.status, 200);
        assert.equal(response.headers.get("x-test"), "1");
        assert.equal(await response.text(), "plain hello");
      }));
  });
}

describe("wsflow/bun createWebSocketHandler on your own Bun.serve, with connect() over wss:", { skip: !isBun && "needs Bun" }, () => {
  const hasOpenssl = isBun && spawnSync("openssl", ["version"]).status === 0;
  test("a wss: echo with a private CA", { skip: !hasOpenssl && "needs openssl" }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "wsflow-bun-"));
    try {
      const made = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")]);
      assert.equal(made.status, 0, String(made.stderr));
      const cert = readFileSync(join(dir, "cert.pem"), "utf8");
      const key = readFileSync(join(dir, "key.pem"), "utf8");
      const ws = createWebSocketHandler();
      const bun = (globalThis as unknown as { Bun: { serve(o: object): BunServer } }).Bun;
      const server = bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        tls: { cert, key },
        websocket: ws.websocket satisfies BunWebSocketHandlers<never>,
        async fetch(request: Request, server: BunServer) {
          const { socket, response } = await ws.upgrade(request, server);
          if (!socket) return response;
          void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
          return undefined;
        },
      });
      try {
        const wss = new WebSocketStream(`wss://127.0.0.1:${server.port}/`, { transport: (u) => connect(u, { ca: [cert] }) });
        const { readable, writable } = await wss.opened;
        const writer = writable.getWriter();
        const reader = readable.getReader();
        await writer.write("over tls");
        assert.equal((await reader.read()).value, "over tls");
        wss.close({ closeCode: 1000, reason: "done" });
        assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "done" });
        const untrusted = new WebSocketStream(`wss://127.0.0.1:${server.port}/`, { transport: (u) => connect(u, {}) });
        await assert.rejects(untrusted.opened, (error: Error) => error.name === "WebSocketError" && /cert|sign|verify/i.test(error.message));
      } finally {
        await server.stop(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("wsflow/bun serve (codec): short messages", { skip: !isBun && "needs Bun" }, () => {
  test("a short binary message is an array of its own, a longer one arrives whole; both echo exactly", async () => {
    const seen: { length: number; own: boolean }[] = [];
    const server = await serve({ port: 0, mode: "codec" }, async (request) => {
      const { socket, response } = await upgradeWebSocket(request);
      if (!socket) return response;
      void (async () => {
        const { readable, writable } = await socket.opened;
        const writer = writable.getWriter();
        for await (const message of readable) {
          if (message instanceof Uint8Array) seen.push({ length: message.length, own: message.buffer.byteLength === message.length });
          await writer.write(message);
        }
      })().catch(() => {});
      return response;
    });
    try {
      const client = await openWebSocket("global", server.url.replace("http:", "ws:"), []);
      const short = Uint8Array.from({ length: 32 }, (_, i) => i * 5);
      const long = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
      await client.send(short);
      assert.deepEqual(await client.next(), short);
      await client.send(long);
      assert.deepEqual(await client.next(), long);
      await client.send("short text");
      assert.equal(await client.next(), "short text");
      // Bun's read of 38 bytes is viewed by no one: the 32-byte payload was copied out of it.
      assert.deepEqual(seen[0], { length: 32, own: true });
      assert.equal(seen[1].length, 300);
      client.close(1000, "done");
      assert.equal((await client.closed).code, 1000);
    } finally {
      await server.shutdown();
    }
  });
});

describe("wsflow/bun outside Bun", { skip: isBun && "runs outside Bun" }, () => {
  test("serve() and connect() fail fast with the runtime's name", async () => {
    assert.throws(() => serve({ port: 0 }, () => new Response()), /Cannot serve: wsflow\/bun needs Bun, this is (Node|Deno) /);
    await assert.rejects(connect(new URL("ws://127.0.0.1:1/"), {}), /Cannot connect: wsflow\/bun needs Bun/);
  });
});

