// The Node adapter: serve() and attach() with wsflow's codec on the socket, against the ws
// package, Node's global WebSocket (Node 22+) and wsflow's own client, over ws: and wss:.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { upgradeWebSocket, WebSocketError, WebSocketStream } from "../../mod.ts";
import { type ServeHandle, serve } from "../../src/adapters/node/mod.ts";
import { selfSignedCertificate } from "../_tls.ts";

const isNode = !("Deno" in globalThis) && !("Bun" in globalThis);

async function handler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/plain") return new Response("just http", { headers: { "x-kind": "plain" } });
  await new Promise((r) => setTimeout(r, 5)); // auth takes a moment: the upgrade comes after an await
  if (request.headers.get("authorization") === "bad") {
    return new Response("Unauthorized", { status: 401, headers: { "www-authenticate": "Bearer" } });
  }
  const { socket, response } = await upgradeWebSocket(request, { protocol: (offered) => offered.find((p) => p === "chat") });
  if (!socket) return response;
  void (async () => {
    const { readable, writable } = await socket.opened;
    if (url.pathname === "/bye") return socket.close({ closeCode: 4003, reason: "bye now" });
    if (url.pathname === "/types") {
      // Answers each binary message with what it arrived as: its type and length.
      const writer = writable.getWriter();
      for await (const message of readable) await writer.write(`${(message as Uint8Array).constructor.name} ${message.length}`);
      return;
    }
    await readable.pipeTo(writable).catch(() => {});
  })();
  return response;
}

describe("wsflow/node serve()", { skip: !isNode && "runs on Node" }, () => {
  let server: ServeHandle;
  let secure: ServeHandle;
  let cert: string;

  before(async () => {
    const tls = selfSignedCertificate();
    cert = tls.cert;
    server = await serve({ port: 0 }, handler);
    secure = await serve({ port: 0, tls }, handler);
  });
  after(async () => {
    await server.shutdown();
    await secure.shutdown();
  });

  test("answers plain HTTP requests with the handler's Response", async () => {
    const response = await fetch(`${server.url}/plain`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-kind"), "plain");
    assert.equal(await response.text(), "just http");
  });

  test("the ws package echoes text and binary through the wsflow server, with a subprotocol", async () => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/echo`, ["chat"]);
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    assert.equal(ws.protocol, "chat");
    const next = () => new Promise<[string, boolean]>((r) => ws.once("message", (d, b) => r([String(d), b])));
    ws.send("hi");
    assert.deepEqual(await next(), ["hi", false]);
    ws.send(Buffer.from("bin"));
    assert.deepEqual(await next(), ["bin", true]);
    const closed = new Promise<[number, string]>((r) => ws.once("close", (c, reason) => r([c, String(reason)])));
    ws.close(4000, "done");
    assert.deepEqual(await closed, [4000, "done"]);
  });

  test("binary messages read from the socket's Buffers reach the handler as plain Uint8Arrays, small and joined", async () => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/types`);
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    const replies: string[] = [];
    const done = new Promise<void>((r) => ws.on("message", (d) => replies.push(String(d)) === 3 && r()));
    ws.send(Buffer.alloc(16, 1));
    ws.send(Buffer.alloc(300_000, 2)); // read in several chunks and joined
    ws.send(Buffer.alloc(3000, 3), { fin: false });
    ws.send(Buffer.alloc(5, 4), { fin: true }); // fragments, joined
    await done;
    assert.deepEqual(replies, ["Uint8Array 16", "Uint8Array 300000", "Uint8Array 3005"]);
    ws.close();
  });

  test("wsflow's WebSocketStream connects with no transport option, over ws: and wss:", async () => {
    for (const [base, options] of [[server.url, {}], [secure.url, { tls: { ca: cert } }]] as const) {
      const wss = new WebSocketStream(`${base.replace("http", "ws")}/echo`, options);
      const { readable, writable } = await wss.opened;
      const writer = writable.getWriter();
      const reader = readable.getReader();
      await writer.write("over " + base.slice(0, 5));
      assert.equal((await reader.read()).value, "over " + base.slice(0, 5));
      const big = new Uint8Array(16 * 1024 * 1024).fill(3);
      await writer.write(big);
      const echoed = (await reader.read()).value as Uint8Array;
      assert.equal(echoed.length, big.length);
      // Read from the client's node:net (or node:tls) Buffers, handed out as a plain array.
      assert.equal(echoed.constructor, Uint8Array);
      await writer.write(new Uint8Array([1, 2, 3]));
      assert.equal(((await reader.read()).value as Uint8Array).constructor, Uint8Array);
      wss.close({ closeCode: 1000, reason: "ok" });
      assert.deepEqual(await wss.closed, { closeCode: 1000, reason: "ok" });
    }
  });

  test("wss: without the CA is refused by certificate checks", async () => {
    const wss = new WebSocketStream(`${secure.url.replace("http", "ws")}/echo`);
    await assert.rejects(wss.opened, WebSocketError);
  });

  test("Node's global WebSocket talks to the wsflow server", { skip: typeof globalThis.WebSocket !== "function" && "no global WebSocket (Node 20)" }, async () => {
    const ws = new globalThis.WebSocket(`${server.url.replace("http", "ws")}/echo`, ["chat"]);
    const message = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send("from the browser API");
      ws.onmessage = (event) => resolve(String(event.data));
      ws.onerror = () => reject(new Error("WebSocket error"));
    });
    assert.equal(message, "from the browser API");
    const closed = new Promise<CloseEvent>((r) => (ws.onclose = r));
    ws.close(3000, "fin");
    const event = await closed;
    assert.deepEqual([event.code, event.reason, event.wasClean], [3000, "fin", true]);
  });

  test("the server closing reaches the client with its code and reason", async () => {
    const wss = new WebSocketStream(`${server.url.replace("http", "ws")}/bye`);
    await wss.opened;
    assert.deepEqual(await wss.closed, { closeCode: 4003, reason: "bye now" });
  });

  test("a handler that refuses answers with its status and headers", async () => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/echo`, { headers: { authorization: "bad" } });
    ws.on("error", () => {});
    const res = await new Promise<{ status: number; auth: unknown }>((r) => ws.once("unexpected-response", (_q, res) => r({ status: res.statusCode!, auth: res.headers["www-authenticate"] })));
    assert.deepEqual(res, { status: 401, auth: "Bearer" });
  });

  test("an invalid upgrade gets the handshake's 426 with the version header", async () => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/echo`, { protocolVersion: 8 });
    ws.on("error", () => {});
    const res = await new Promise<{ status: number; version: unknown }>((r) => ws.once("unexpected-response", (_q, res) => r({ status: res.statusCode!, version: res.headers["sec-websocket-version"] })));
    assert.deepEqual(res, { status: 426, version: "13" });
  });

  test("shutdown() closes open connections with 1001", async () => {
    const local = await serve({ port: 0 }, handler);
    const ws = new WebSocket(`${local.url.replace("http", "ws")}/echo`);
    await new Promise((resolve) => ws.once("open", resolve));
    const closed = new Promise<[number, string]>((r) => ws.once("close", (c, reason) => r([c, String(reason)])));
    await local.shutdown();
    assert.deepEqual(await closed, [1001, "going away"]);
  });
});
