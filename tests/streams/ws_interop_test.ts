// WebSocketStream over real TCP on 127.0.0.1 against the `ws` package, in both roles.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, connect, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { readUpgradeRequest, WebSocketError, WebSocketStream } from "../../mod.ts";
import { socketDuplex } from "../_net.ts";
import { streamOf } from "../_util.ts";

function tcp(port: number) {
  return () => new Promise<ReturnType<typeof socketDuplex>>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socketDuplex(socket)));
    socket.once("error", reject);
  });
}

describe("wsflow client against a ws server over TCP", () => {
  let server: WebSocketServer;
  let port: number;
  const closes: { code: number; reason: string }[] = [];

  before(async () => {
    server = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 64 * 1024 * 1024, handleProtocols: (p) => p.has("echo") ? "echo" : false });
    await new Promise<void>((r) => server.once("listening", () => r()));
    port = (server.address() as AddressInfo).port;
    server.on("connection", (ws, request) => {
      const path = request.url ?? "/";
      ws.on("message", (data, isBinary) => {
        if (path === "/close") return ws.close(4001, String(data));
        if (path === "/fragments") {
          // Echo as fragments of 1000 bytes.
          const bytes = data as Buffer;
          for (let i = 0; i < bytes.length; i += 1000) ws.send(bytes.subarray(i, i + 1000), { binary: isBinary, fin: i + 1000 >= bytes.length });
          return;
        }
        ws.send(data, { binary: isBinary });
      });
      ws.on("close", (code, reason) => closes.push({ code, reason: String(reason) }));
      if (path === "/ping") ws.ping("hi");
      if (path === "/terminate") setTimeout(() => ws.terminate(), 20);
    });
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  async function open(path = "/", options: ConstructorParameters<typeof WebSocketStream>[1] = {}) {
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}${path}`, { transport: tcp(port), ...options });
    const { readable, writable, protocol } = await wss.opened;
    return { wss, reader: readable.getReader(), writer: writable.getWriter(), protocol };
  }

  test("text, binary and a negotiated subprotocol echo back", async () => {
    const { wss, reader, writer, protocol } = await open("/", { protocols: ["echo"] });
    assert.equal(protocol, "echo");
    await writer.write("hello κόσμε");
    assert.equal((await reader.read()).value, "hello κόσμε");
    await writer.write(new Uint8Array([0, 1, 2, 255]));
    assert.deepEqual((await reader.read()).value, new Uint8Array([0, 1, 2, 255]));
    wss.close({ closeCode: 1000, reason: "bye" });
    assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "bye" });
    for (let i = 0; i < 100 && closes.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(closes.at(-1), { code: 1000, reason: "bye" });
  });

  test("a 16 MiB message goes out fragmented and comes back whole", async () => {
    const { wss, reader, writer } = await open("/", { fragmentSize: 64 * 1024 });
    const big = new Uint8Array(16 * 1024 * 1024).map((_, i) => i * 31);
    await writer.write(big);
    const echoed = (await reader.read()).value as Uint8Array;
    assert.equal(echoed.length, big.length);
    assert.ok(echoed.every((b, i) => b === big[i]));
    wss.close();
    await wss.closed;
  });

  test("a message the server sends in fragments arrives whole, or piece by piece as a stream", async () => {
    const payload = new Uint8Array(10_500).fill(7);
    const one = await open("/fragments");
    await one.writer.write(payload);
    assert.deepEqual((await one.reader.read()).value, payload);
    one.wss.close();
    const two = await open("/fragments", { streamMessages: true });
    await two.writer.write(streamOf([payload.subarray(0, 5000), payload.subarray(5000)]));
    const message = (await two.reader.read()).value as unknown as ReadableStream<Uint8Array>;
    const pieces: number[] = [];
    for await (const piece of message) pieces.push(piece.length);
    assert.equal(pieces.reduce((a, b) => a + b), 10_500);
    assert.ok(pieces.length >= 2, `pieces: ${pieces}`);
    two.wss.close();
    await Promise.all([one.wss.closed, two.wss.closed]);
  });

  test("the server's ping is answered and our ping() gets a round-trip time", async () => {
    const { wss, reader } = await open("/ping");
    void reader.read().catch(() => {});
    const rtt = await wss.ping();
    assert.ok(rtt >= 0 && rtt < 2000, `rtt ${rtt}`);
    wss.close();
    await wss.closed;
  });

  test("the server closing with a code and reason is reported by closed", async () => {
    const { wss, reader, writer } = await open("/close");
    await writer.write("why not");
    assert.deepEqual(await wss.closed, { closeCode: 4001, reason: "why not" });
    assert.equal((await reader.read()).done, true);
  });

  test("the server dropping TCP without a close frame rejects closed with 1006", async () => {
    const { wss } = await open("/terminate");
    const error = await wss.closed.then(() => undefined, (e) => e as WebSocketError);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1006);
  });
});

describe("ws client against a wsflow server over TCP", () => {
  let server: Server;
  let port: number;
  const served: WebSocketStream[] = [];

  before(async () => {
    server = createServer((socket) => {
      void (async () => {
        const upgrade = await readUpgradeRequest(socketDuplex(socket));
        if (upgrade.request.headers.get("authorization") === "no") {
          return upgrade.reject(new Response("denied", { status: 401, headers: { "x-why": "token" } }));
        }
        const wss = await upgrade.accept({ protocol: (offered) => offered.find((p) => p === "chat"), fragmentSize: 4096 });
        served.push(wss);
        const { readable, writable } = await wss.opened;
        const path = new URL(upgrade.request.url).pathname;
        if (path === "/close") {
          wss.close({ closeCode: 4002, reason: "server says bye" });
          return;
        }
        await readable.pipeTo(writable).catch(() => {});
      })().catch(() => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  function client(path = "/", options: WebSocket.ClientOptions = {}, protocols?: string[]) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, protocols, { maxPayload: 64 * 1024 * 1024, ...options });
    const messages: { data: Buffer; isBinary: boolean }[] = [];
    const waiters: (() => void)[] = [];
    ws.on("message", (data, isBinary) => {
      messages.push({ data: data as Buffer, isBinary });
      waiters.shift()?.();
    });
    const next = () => messages.length ? Promise.resolve(messages.shift()!) : new Promise<{ data: Buffer; isBinary: boolean }>((r) => waiters.push(() => r(messages.shift()!)));
    const opened = new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once("close", (code, reason) => r({ code, reason: String(reason) })));
    return { ws, next, opened, closed };
  }

  test("text, binary, a subprotocol and a 16 MiB message round-trip through the wsflow server", async () => {
    const c = client("/", {}, ["other", "chat"]);
    await c.opened;
    assert.equal(c.ws.protocol, "chat");
    c.ws.send("hello");
    const text = await c.next();
    assert.deepEqual([String(text.data), text.isBinary], ["hello", false]);
    c.ws.send(new Uint8Array([9, 8, 7]));
    const binary = await c.next();
    assert.deepEqual([[...binary.data], binary.isBinary], [[9, 8, 7], true]);
    const big = Buffer.alloc(16 * 1024 * 1024, 0xab);
    c.ws.send(big);
    const echoed = await c.next();
    assert.equal(echoed.data.length, big.length);
    assert.ok(echoed.data.equals(big));
    c.ws.close(4010, "done");
    assert.deepEqual(await c.closed, { code: 4010, reason: "done" });
  });

  test("ws's ping is answered with a pong carrying its payload", async () => {
    const c = client();
    await c.opened;
    const pong = new Promise<Buffer>((r) => c.ws.once("pong", r));
    c.ws.ping("are you there");
    assert.equal(String(await pong), "are you there");
    c.ws.close();
    await c.closed;
  });

  test("the wsflow server closing with a code and reason reaches ws", async () => {
    const c = client("/close");
    assert.deepEqual(await c.closed, { code: 4002, reason: "server says bye" });
  });

  test("a rejected upgrade reaches ws as the status with the caller's headers", async () => {
    const c = client("/", { headers: { authorization: "no" } });
    const response = await new Promise<{ status: number; why: string | undefined }>((resolve) =>
      c.ws.once("unexpected-response", (_req, res) => resolve({ status: res.statusCode!, why: res.headers["x-why"] as string }))
    );
    assert.deepEqual(response, { status: 401, why: "token" });
    c.ws.on("error", () => {});
  });
});
