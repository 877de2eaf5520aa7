// wsflow/deno against real peers: the `ws` package, Deno's own WebSocket client and wsflow's
// WebSocketStream over connect(), on both server paths (Deno.upgradeWebSocket and our codec).
// Runs under Deno only.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { upgradeWebSocket, WebSocketError, WebSocketStream } from "../../mod.ts";
import { connect, serve, type ServeHandle, upgrade } from "../../src/adapters/deno/mod.ts";
import type { _DenoConn } from "../../src/adapters/deno/runtime.ts";
import { _denoTransport } from "../../src/adapters/deno/transport.ts";
import { transportSink } from "../_util.ts";

const skip = !("Deno" in globalThis) && "needs Deno";
type Message = string | Uint8Array;
type Closed = { closeCode: number; reason: string; clean: boolean };
type Mode = "native" | "codec";
const modes: Mode[] = ["native", "codec"];
const peers = ["ws", "deno", "wsflow"] as const;
type Peer = (typeof peers)[number];

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Messages in arrival order; next() waits at most 10 s.
class Inbox {
  #items: Message[] = [];
  #waiting: ((m: Message) => void) | undefined;
  push(message: Message): void {
    if (this.#waiting) {
      this.#waiting(message);
      this.#waiting = undefined;
    } else this.#items.push(message);
  }
  next(): Promise<Message> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no message within 10 s")), 10_000);
      this.#waiting = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }
}

interface Fixture {
  server: ServeHandle;
  closes: Closed[];
  pings: (number | Error)[];
}

// An echo server: /close answers a text message by closing with 4002 and that reason; /ping
// pings the client once; /heartbeat pings an idle client (300 ms + 300 ms); /plain and /reject are plain HTTP.
function start(mode: Mode): Fixture {
  const fixture: Fixture = { server: undefined!, closes: [], pings: [] };
  fixture.server = serve({ port: 0, mode }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/plain") return new Response("plain", { headers: { "x-test": "yes" } });
    if (path === "/reject") return new Response("Log in first", { status: 401, headers: { "www-authenticate": "Bearer" } });
    await delay(5); // auth would go here: the upgrade works after an await
    const { socket, response } = await upgradeWebSocket(request, {
      protocol: (offered) => offered.includes("chat") ? "chat" : undefined,
      headers: { "x-upgraded": mode },
      heartbeat: path === "/heartbeat" ? { interval: 300, timeout: 300 } : false,
    });
    if (socket) void run(socket, path, fixture);
    return response;
  });
  return fixture;
}

async function run(socket: WebSocketStream, path: string, fixture: Fixture): Promise<void> {
  socket.closed.then(
    (c) => fixture.closes.push({ ...c, clean: true }),
    (e: WebSocketError) => fixture.closes.push({ closeCode: e.closeCode ?? 0, reason: e.reason, clean: false }),
  );
  const { readable, writable } = await socket.opened;
  if (path === "/ping") socket.ping().then((rtt) => fixture.pings.push(rtt), (e) => fixture.pings.push(e));
  const writer = writable.getWriter();
  try {
    for await (const message of readable) {
      if (path === "/close" && typeof message === "string") socket.close({ closeCode: 4002, reason: message });
      else await writer.write(message);
    }
  } catch { /* the connection failed; closed says how */ }
}

interface Client {
  protocol: string;
  inbox: Inbox;
  send(message: Message): void;
  close(code?: number, reason?: string): void;
  closed: Promise<Closed>;
  wss?: WebSocketStream;
  ws?: WebSocket;
}

async function open(peer: Peer, url: string, protocols: string[] = []): Promise<Client> {
  const inbox = new Inbox();
  if (peer === "ws") {
    const ws = new WebSocket(url, protocols, { maxPayload: 64 << 20 });
    ws.on("message", (data, binary) => inbox.push(binary ? new Uint8Array(data as Buffer) : String(data)));
    const closed = new Promise<Closed>((r) => ws.once("close", (code, reason) => r({ closeCode: code, reason: String(reason), clean: code !== 1006 })));
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    return { ws, protocol: ws.protocol, inbox, closed, send: (m) => ws.send(m), close: (c, r) => ws.close(c, r) };
  }
  if (peer === "deno") {
    const ws = new globalThis.WebSocket(url, protocols);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => inbox.push(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
    const closed = new Promise<Closed>((r) => (ws.onclose = (e) => r({ closeCode: e.code, reason: e.reason, clean: e.wasClean })));
    await new Promise((resolve, reject) => ((ws.onopen = resolve), (ws.onerror = reject)));
    return { protocol: ws.protocol, inbox, closed, send: (m) => ws.send(m as string | Uint8Array<ArrayBuffer>), close: (c, r) => ws.close(c, r) };
  }
  const wss = new WebSocketStream(url, { protocols, transport: (u) => connect(u, {}), heartbeat: false });
  const { readable, writable, protocol } = await wss.opened;
  void (async () => {
    try {
      for await (const m of readable) inbox.push(m);
    } catch { /* closed says how */ }
  })();
  const writer = writable.getWriter();
  const closed = wss.closed.then((c) => ({ ...c, clean: true }), (e: WebSocketError) => ({ closeCode: e.closeCode ?? 0, reason: e.reason, clean: false }));
  return { wss, protocol, inbox, closed, send: (m) => void writer.write(m).catch(() => {}), close: (c, r) => wss.close({ closeCode: c, reason: r }) };
}

const wsUrl = (server: ServeHandle, path = "/") => `ws://127.0.0.1:${server.port}${path}`;

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await delay(10);
  assert.ok(condition(), "condition not met within 5 s");
}

for (const mode of modes) {
  describe(`wsflow/deno serve, mode ${mode}`, { skip, timeout: 60_000 }, () => {
    for (const peer of peers) {
      test(`a ${peer} client: text, binary and the chat subprotocol echo back after an awaited upgrade`, async () => {
        const { server } = start(mode);
        try {
          const c = await open(peer, wsUrl(server), ["superchat", "chat"]);
          assert.equal(c.protocol, "chat");
          c.send("hello κόσμε");
          assert.equal(await c.inbox.next(), "hello κόσμε");
          c.send(new Uint8Array([0, 1, 2, 255]));
          assert.deepEqual(await c.inbox.next(), new Uint8Array([0, 1, 2, 255]));
          c.close(1000);
          assert.equal((await c.closed).closeCode, 1000);
        } finally {
          await server.shutdown();
        }
      });

      test(`a ${peer} client: a 16 MiB message echoes back whole`, async () => {
        const { server } = start(mode);
        try {
          const c = await open(peer, wsUrl(server));
          const big = new Uint8Array(16 << 20).map((_, i) => i * 31);
          c.send(big);
          const echoed = await c.inbox.next() as Uint8Array;
          assert.equal(echoed.length, big.length);
          assert.ok(echoed.every((b, i) => b === big[i]));
          c.close(1000);
          await c.closed;
        } finally {
          await server.shutdown();
        }
      });

      test(`a ${peer} client: close codes and reasons go both ways`, async () => {
        const fixture = start(mode);
        try {
          const a = await open(peer, wsUrl(fixture.server));
          a.close(4001, "bye");
          assert.deepEqual(await a.closed, { closeCode: 4001, reason: "bye", clean: true });
          await waitFor(() => fixture.closes.length === 1);
          assert.deepEqual(fixture.closes[0], { closeCode: 4001, reason: "bye", clean: true });
          const b = await open(peer, wsUrl(fixture.server, "/close"));
          b.send("done here");
          assert.deepEqual(await b.closed, { closeCode: 4002, reason: "done here", clean: true });
          await waitFor(() => fixture.closes.length === 2);
          assert.deepEqual(fixture.closes[1], { closeCode: 4002, reason: "done here", clean: true });
        } finally {
          await fixture.server.shutdown();
        }
      });
    }

    test("shutdown() closes every client with 1001 and ends finished", async () => {
      const { server } = start(mode);
      const clients = await Promise.all(peers.map((peer) => open(peer, wsUrl(server))));
      await server.shutdown();
      for (const c of clients) assert.equal((await c.closed).closeCode, 1001);
      await server.finished;
    });

    test("ping: the client's ping is answered; the server's ping needs the codec", async () => {
      const fixture = start(mode);
      try {
        const c = await open("wsflow", wsUrl(fixture.server, "/ping"));
        assert.equal(typeof await c.wss!.ping(), "number");
        const w = await open("ws", wsUrl(fixture.server));
        const pong = new Promise<Buffer>((r) => w.ws!.once("pong", r));
        w.ws!.ping("are you there");
        assert.equal(String(await pong), "are you there");
        await waitFor(() => fixture.pings.length === 1);
        if (mode === "codec") assert.equal(typeof fixture.pings[0], "number");
        else {
          assert.ok(fixture.pings[0] instanceof DOMException);
          assert.equal(fixture.pings[0].name, "NotSupportedError");
          assert.match(fixture.pings[0].message, /mode "codec"/);
        }
        c.close(1000);
        w.close(1000);
        await Promise.all([c.closed, w.closed]);
      } finally {
        await fixture.server.shutdown();
      }
    });

    test("heartbeat: a client that stops answering pings is dropped", async () => {
      const { server } = start(mode);
      try {
        // Deno's idleTimeout is whole seconds: 300 + 300 ms rounds to 1 s (a ping after 0.5 s idle).
        const ws = new WebSocket(wsUrl(server, "/heartbeat"), { autoPong: false });
        let pinged = 0;
        ws.on("ping", () => pinged++);
        const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
        ws.on("error", () => {});
        const started = performance.now();
        const code = await Promise.race([closed, delay(5000).then(() => 0)]);
        assert.ok(pinged >= 1, "the server pinged");
        assert.notEqual(code, 0, "closed within 5 s");
        assert.ok(performance.now() - started < 3000);
        if (mode === "native") assert.equal(code, 1001); // Deno's "No response from ping frame."
      } finally {
        await server.shutdown();
      }
    });

    test("plain requests get the handler's Response; refusals keep their status and headers", async () => {
      const { server } = start(mode);
      try {
        const plain = await fetch(`${server.url}/plain`);
        assert.equal(plain.status, 200);
        assert.equal(plain.headers.get("x-test"), "yes");
        assert.equal(await plain.text(), "plain");
        const refused = (path: string, options: WebSocket.ClientOptions = {}) =>
          new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
            const ws = new WebSocket(wsUrl(server, path), options);
            ws.once("unexpected-response", (_req, res) => {
              resolve({ status: res.statusCode!, headers: res.headers });
              res.resume();
              ws.terminate();
            });
            ws.once("open", () => reject(new Error("opened")));
            ws.on("error", () => {});
          });
        const auth = await refused("/reject");
        assert.equal(auth.status, 401);
        assert.equal(auth.headers["www-authenticate"], "Bearer");
        const version = await refused("/", { protocolVersion: 8 });
        assert.equal(version.status, 426);
        assert.equal(version.headers["sec-websocket-version"], "13");
      } finally {
        await server.shutdown();
      }
    });

    test("the caller's headers reach the 101", async () => {
      const { server } = start(mode);
      try {
        const ws = new WebSocket(wsUrl(server));
        const headers = new Promise<Record<string, unknown>>((r) => ws.once("upgrade", (res) => r(res.headers)));
        await new Promise((r) => ws.once("open", r));
        assert.equal((await headers)["x-upgraded"], mode);
        ws.close();
        await new Promise((r) => ws.once("close", r));
      } finally {
        await server.shutdown();
      }
    });
  });
}

describe("wsflow/deno upgrade() in your own Deno.serve, and connect()", { skip, timeout: 30_000 }, () => {
  test("upgrade() checks the request, then gives a WebSocketStream on Deno's socket", async () => {
    const closes: unknown[] = [];
    const deno = (globalThis as unknown as { Deno: { serve: (o: object, h: (r: Request) => Promise<Response>) => { addr: { port: number }; shutdown(): Promise<void> } } }).Deno;
    const server = deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
      const { socket, response } = await upgrade(request, { origins: ["http://allowed.test"], heartbeat: { interval: 1000, timeout: 1000 } });
      if (socket) {
        socket.closed.then((c) => closes.push(c));
        socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
      }
      return response;
    });
    try {
      const url = `ws://127.0.0.1:${server.addr.port}/`;
      const refused = new WebSocket(url, { origin: "http://evil.test" });
      refused.on("error", () => {});
      assert.equal(await new Promise((r) => refused.once("unexpected-response", (_q, res) => (r(res.statusCode), res.resume(), refused.terminate()))), 403);
      const c = await open("ws", url.replace("ws:", "ws:"), []).catch(() => undefined);
      assert.equal(c, undefined, "no Origin is refused too");
      const ws = new WebSocket(url, { origin: "http://allowed.test" });
      await new Promise((r) => ws.once("open", r));
      ws.send("round trip");
      assert.equal(String(await new Promise((r) => ws.once("message", r))), "round trip");
      ws.close(4000, "ok");
      await new Promise((r) => ws.once("close", r));
      await waitFor(() => closes.length === 1);
      assert.deepEqual(closes[0], { closeCode: 4000, reason: "ok" });
    } finally {
      await server.shutdown();
    }
  });

  test("upgrade() refuses streamMessages, which needs the codec", async () => {
    const request = new Request("http://127.0.0.1/", { headers: { upgrade: "websocket" } });
    await assert.rejects(upgrade(request, { streamMessages: true }), (e: Error) => e instanceof TypeError && /mode "codec"/.test(e.message));
  });

  test("connect() rejects an aborted signal and a scheme it cannot open", async () => {
    await assert.rejects(connect(new URL("ws://127.0.0.1:1/"), { signal: AbortSignal.abort() }), (e: Error) => e.name === "AbortError");
    await assert.rejects(connect(new URL("ftp://127.0.0.1/"), {}), TypeError);
  });
});

// Raw bytes over Deno.connect, for what no WebSocket client does on its own.
async function rawExchange(port: number, bytes: Uint8Array, until: (received: Uint8Array) => boolean): Promise<{ received: Uint8Array; eof: boolean }> {
  const conn = await (globalThis as unknown as { Deno: { connect(o: { hostname: string; port: number }): Promise<_DenoConn> } }).Deno
    .connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes);
    let received = new Uint8Array(0);
    const deadline = Date.now() + 10_000;
    while (!until(received) && Date.now() < deadline) {
      const buffer = new Uint8Array(65536);
      const n = await conn.read(buffer);
      if (n === null) return { received, eof: true };
      const joined = new Uint8Array(received.length + n);
      joined.set(received);
      joined.set(buffer.subarray(0, n), received.length);
      received = joined;
    }
    return { received, eof: false };
  } finally {
    conn.close();
  }
}

const ascii = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);

describe("wsflow/deno codec: the connection read through conn.read", { skip, timeout: 30_000 }, () => {
  test("a frame sent in the same write as the request head is echoed; a malformed head gets 400 and the end", async () => {
    const { server } = start("codec");
    try {
      const head = "GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
      const payload = new TextEncoder().encode("early");
      const mask = [1, 2, 3, 4];
      const frame = new Uint8Array([0x82, 0x80 | payload.length, ...mask, ...payload.map((b, i) => b ^ mask[i % 4])]);
      const request = new Uint8Array([...new TextEncoder().encode(head), ...frame]);
      const echo = [0x82, payload.length, ...payload];
      const ends = (r: Uint8Array) => r.length >= echo.length && echo.every((b, i) => r[r.length - echo.length + i] === b);
      const { received } = await rawExchange(server.port, request, ends);
      assert.match(ascii(received), /^HTTP\/1\.1 101 /);
      assert.ok(ends(received), `no echo of the early frame in ${JSON.stringify(ascii(received))}`);

      const bad = await rawExchange(server.port, new TextEncoder().encode("GET / HTTP/1.1\nHost: a\n\n"), () => false);
      assert.match(ascii(bad.received), /^HTTP\/1\.1 400 /);
      assert.ok(bad.eof);
    } finally {
      await server.shutdown();
    }
  });
});

// A scripted Deno.Conn: reads come from `incoming` (null: EOF); a write waits for `gate` when
// set and takes only part of its bytes (3 of a small one, 65521 of a large one).
class FakeConn {
  incoming: (Uint8Array | null)[] = [];
  written: number[] = [];
  calls: string[] = [];
  gate: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  remoteAddr = {};
  get readable(): ReadableStream<Uint8Array> {
    throw new Error("the transport must not touch conn.readable");
  }
  get writable(): WritableStream<Uint8Array> {
    throw new Error("the transport must not touch conn.writable");
  }
  feed(chunk: Uint8Array | null): void {
    this.incoming.push(chunk);
    this.#wake?.();
  }
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.incoming.length === 0) await new Promise<void>((r) => (this.#wake = r));
    const chunk = this.incoming.shift()!;
    if (chunk === null) return null;
    buffer.set(chunk);
    return chunk.length;
  }
  async write(bytes: Uint8Array): Promise<number> {
    await this.gate;
    const n = Math.min(bytes.length < 100 ? 3 : 65521, bytes.length);
    this.written.push(...bytes.subarray(0, n));
    return n;
  }
  async closeWrite(): Promise<void> {
    this.calls.push(`closeWrite after ${this.written.length} bytes`);
  }
  close(): void {
    this.calls.push("close");
  }
}

describe("_denoTransport", { timeout: 10_000 }, () => {
  test("reads say their memory is reused, and reuse it: 2000 reads of 40 bytes, each whole while the sink has it, in one slab; EOF ends once", async () => {
    const conn = new FakeConn();
    const transport = _denoTransport(conn);
    const chunks: Uint8Array[] = [];
    const buffers = new Set<ArrayBufferLike>();
    let ends = 0;
    transport.start(transportSink((chunk, reused) => {
      assert.equal(reused, true);
      buffers.add(chunk.buffer);
      chunks.push(chunk.slice());
    }, () => ends++));
    for (let i = 0; i < 2000; i++) conn.feed(new Uint8Array(40).fill(i & 0xff));
    conn.feed(null);
    await waitFor(() => ends > 0);
    assert.equal(chunks.length, 2000);
    chunks.forEach((chunk, i) => assert.deepEqual(chunk, new Uint8Array(40).fill(i & 0xff)));
    assert.equal(buffers.size, 1, "every read went into the same memory");
    await transport.end();
    assert.equal(ends, 1);
  });

  test("a write that holds a view into a read's memory keeps it from being read into until the write is done", async () => {
    const conn = new FakeConn();
    let open!: () => void;
    conn.gate = new Promise<void>((resolve) => (open = resolve));
    const transport = _denoTransport(conn);
    let first = true;
    const later: number[][] = [];
    transport.start(transportSink((chunk) => {
      if (first) transport.write([chunk]); // an echo framed in place: the very bytes read
      else later.push([...chunk]);
      first = false;
    }, () => {}));
    const echoed = new Uint8Array(200).map((_, i) => i);
    conn.feed(echoed);
    for (let i = 0; i < 50; i++) conn.feed(new Uint8Array(200).fill(0xee));
    await waitFor(() => later.length === 50);
    open();
    await waitFor(() => conn.written.length === 200);
    assert.deepEqual(conn.written, [...echoed], "the echo went out as it was read, not as later reads left its memory");
    assert.ok(later.every((bytes) => bytes.length === 200 && bytes.every((b) => b === 0xee)));
    await transport.end();
  });

  test("pause stops reading until resume", async () => {
    const conn = new FakeConn();
    const transport = _denoTransport(conn);
    const chunks: Uint8Array[] = [];
    transport.start(transportSink((chunk) => {
      chunks.push(chunk);
      transport.pause();
    }, () => {}));
    conn.feed(new Uint8Array([1]));
    conn.feed(new Uint8Array([2]));
    await delay(20);
    assert.equal(chunks.length, 1);
    transport.resume();
    await waitFor(() => chunks.length === 2);
    assert.deepEqual(chunks[1], new Uint8Array([2]));
  });

  test("partial writes go out whole and in order; backpressure over 1 MiB; end() waits for them", async () => {
    const conn = new FakeConn();
    const transport = _denoTransport(conn);
    transport.start(transportSink(() => {}, () => {}));
    let open!: () => void;
    conn.gate = new Promise((r) => (open = r));
    assert.equal(transport.write([new Uint8Array([1, 2]), new Uint8Array([3, 4, 5, 6, 7])]), true);
    assert.equal(transport.write([new Uint8Array([8, 9, 10, 11])]), true);
    assert.equal(transport.write([new Uint8Array(1 << 20)]), false);
    let drained = false;
    const draining = transport.drained().then(() => (drained = true));
    const ending = transport.end();
    await delay(10);
    assert.equal(drained, false);
    assert.deepEqual(conn.calls, []);
    open();
    await draining;
    await ending;
    assert.deepEqual(conn.written.slice(0, 11), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assert.equal(conn.written.length, 11 + (1 << 20));
    assert.deepEqual(conn.calls, [`closeWrite after ${11 + (1 << 20)} bytes`, "close"]);
  });

  test("flushes of several chunks, joined in reused buffers, keep their bytes while other connections write", async () => {
    // Three connections write at once, their writes held until each one's gate opens; every
    // flush is a header and a payload, 1 byte to 70,000 (past the 64 KiB of a reused buffer).
    let x = 5;
    const next = () => (x = (x * 1103515245 + 12345) >>> 0) >>> 8;
    const peers = [0, 1, 2].map(() => {
      const conn = new FakeConn();
      const transport = _denoTransport(conn);
      transport.start(transportSink(() => {}, () => {}));
      let open!: () => void;
      conn.gate = new Promise((r) => (open = r));
      return { conn, transport, open, expected: [] as number[] };
    });
    for (let round = 0; round < 40; round++) {
      for (const peer of peers) {
        const header = Uint8Array.from({ length: 1 + (next() % 10) }, () => next() & 0xff);
        const payload = Uint8Array.from({ length: 1 + (next() % 70_000) }, () => next() & 0xff);
        peer.transport.write([header, payload]);
        peer.expected.push(...header, ...payload);
        // The caller may reuse its buffers once write() returns.
        header.fill(0xee);
        payload.fill(0xee);
      }
      if (round === 10) peers[1].open();
      if (round === 20) peers[0].open();
      await delay(0);
    }
    peers[2].open();
    await Promise.all(peers.map((peer) => peer.transport.end()));
    for (const [i, peer] of peers.entries()) {
      assert.equal(peer.conn.written.length, peer.expected.length, `connection ${i}: byte count`);
      assert.ok(peer.conn.written.every((b, at) => b === peer.expected[at]), `connection ${i}: bytes differ`);
    }
  });
});
