import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { computeAcceptKey, readUpgradeRequest, WebSocketError, WebSocketStream } from "../../mod.ts";
import { duplexPair } from "../_net.ts";
import { streamOf } from "../_util.ts";

type Options = ConstructorParameters<typeof WebSocketStream>[1];
type AcceptOptions = Parameters<Awaited<ReturnType<typeof readUpgradeRequest>>["accept"]>[0];

/** A client and a server WebSocketStream joined by an in-memory duplex pair. */
async function connected(clientOptions: Options = {}, serverOptions: AcceptOptions = {}) {
  const [a, b] = duplexPair();
  const client = new WebSocketStream("ws://test.local/chat", { transport: a, ...clientOptions });
  const upgrade = await readUpgradeRequest(b);
  const server = await upgrade.accept(serverOptions);
  return { client, server, request: upgrade.request, a, b };
}

describe("WebSocketStream over an in-memory duplex", () => {
  test("opens both ends and moves text and binary both ways", async () => {
    const { client, server, request } = await connected({ protocols: ["chat", "v2"] }, { protocol: (offered) => offered[1] });
    assert.equal(request.headers.get("sec-websocket-protocol"), "chat, v2");
    const c = await client.opened;
    const s = await server.opened;
    assert.equal(c.protocol, "v2");
    assert.equal(s.protocol, "v2");
    assert.equal(client.url, "ws://test.local/chat");
    const cw = c.writable.getWriter();
    const sr = s.readable.getReader();
    await cw.write("hello");
    await cw.write(new Uint8Array([1, 2, 3]));
    await cw.write(new Uint16Array([0x0201]).buffer);
    assert.deepEqual((await sr.read()).value, "hello");
    assert.deepEqual((await sr.read()).value, new Uint8Array([1, 2, 3]));
    assert.deepEqual((await sr.read()).value, new Uint8Array([1, 2]));
    const sw = s.writable.getWriter();
    await sw.write("back");
    assert.equal((await c.readable.getReader().read()).value, "back");
    client.close({ closeCode: 4000, reason: "done" });
    assert.deepEqual(await server.closed, { closeCode: 4000, reason: "done" });
    assert.deepEqual(await client.closed, { closeCode: 4000, reason: "done" });
    assert.equal((await sr.read()).done, true);
  });

  test("messages written just before close all arrive before the close frame", async () => {
    const { client, server } = await connected();
    const writer = (await client.opened).writable.getWriter();
    for (let i = 0; i < 200; i++) void writer.write(`m${i}`).catch(() => {});
    client.close({ closeCode: 1000 });
    const got: unknown[] = [];
    for await (const m of (await server.opened).readable) got.push(m);
    assert.equal(got.length, 200);
    assert.equal(got[199], "m199");
    assert.deepEqual(await server.closed, { closeCode: 1000, reason: "" });
  });

  test("the server closing is echoed and both report its code", async () => {
    const { client, server } = await connected();
    await client.opened;
    server.close({ closeCode: 3001, reason: "bye" });
    assert.deepEqual(await client.closed, { closeCode: 3001, reason: "bye" });
    assert.deepEqual(await server.closed, { closeCode: 3001, reason: "bye" });
  });

  test("closing the writable closes with 1000, aborting with a WebSocketError uses its code", async () => {
    const one = await connected();
    await (await one.client.opened).writable.close();
    assert.deepEqual(await one.server.closed, { closeCode: 1000, reason: "" });
    const two = await connected();
    await (await two.client.opened).writable.abort(new WebSocketError("stop", { closeCode: 4321, reason: "abort" }));
    assert.deepEqual(await two.server.closed, { closeCode: 4321, reason: "abort" });
  });

  test("ping() resolves with the round-trip time", async () => {
    const { client, server } = await connected();
    await server.opened;
    // The server must read for the client's ping to be answered.
    void (await server.opened).readable.getReader().read();
    const rtt = await client.ping();
    assert.ok(rtt >= 0 && rtt < 5000);
    client.close();
  });

  test("a ReadableStream written is sent as one fragmented message and can be read as a stream", async () => {
    const { client, server } = await connected({}, { streamMessages: true });
    const chunks = Array.from({ length: 50 }, (_, i) => new Uint8Array(1000).fill(i));
    const writer = (await client.opened).writable.getWriter();
    void writer.write(streamOf(chunks));
    const reader = (await server.opened).readable.getReader();
    const message = (await reader.read()).value as unknown as ReadableStream<Uint8Array> & { binary: boolean };
    assert.equal(message.binary, true);
    let total = 0;
    let pieces = 0;
    for await (const piece of message) {
      total += piece.length;
      pieces++;
    }
    assert.equal(total, 50_000);
    assert.ok(pieces >= 2, "arrived in pieces");
    client.close();
  });

  test("a slow reader stops the writer: writes stay pending instead of buffering without bound", async () => {
    const { client, server } = await connected();
    const writer = (await client.opened).writable.getWriter();
    await server.opened; // never read
    const payload = new Uint8Array(64 * 1024);
    let resolved = 0;
    for (let i = 0; i < 400; i++) void writer.write(payload).then(() => resolved++, () => {});
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(resolved < 100, `only a bounded number of 64 KiB writes complete (${resolved} of 400)`);
    const reader = (await server.opened).readable.getReader();
    let received = 0;
    while (received < 400) {
      const { value } = await reader.read();
      assert.equal((value as Uint8Array).length, 65536);
      received++;
    }
    assert.equal(received, 400);
    client.close();
  });

  test("the server rejects a bad upgrade with its status and the client fails", async () => {
    const [a, b] = duplexPair();
    const client = new WebSocketStream("ws://test.local/", { transport: a, protocols: ["x"] });
    const upgrade = await readUpgradeRequest(b);
    await assert.rejects(upgrade.accept({ origins: ["https://allowed.test"] }), /answered 403/);
    await assert.rejects(client.opened, (e: unknown) => e instanceof WebSocketError && /403/.test(e.message));
    await assert.rejects(client.closed, WebSocketError);
  });

  test("reject() answers with the caller's response after async auth", async () => {
    const [a, b] = duplexPair();
    const client = new WebSocketStream("ws://test.local/", { transport: a, headers: { authorization: "Bearer nope" } });
    const upgrade = await readUpgradeRequest(b);
    await new Promise((r) => setTimeout(r, 10)); // auth takes a while
    assert.equal(upgrade.request.headers.get("authorization"), "Bearer nope");
    await upgrade.reject(new Response("who are you", { status: 401, headers: { "www-authenticate": "Bearer" } }));
    await assert.rejects(client.opened, /401/);
  });

  test("a refused handshake's status and headers are on the error's response; other errors have none", async () => {
    const [a, b] = duplexPair();
    const client = new WebSocketStream("ws://test.local/", { transport: a });
    client.closed.catch(() => {});
    const upgrade = await readUpgradeRequest(b);
    await upgrade.reject(new Response("slow down", { status: 429, headers: { "retry-after": "30", "set-cookie": "a=1" } }));
    const error = await client.opened.then(() => assert.fail("opened"), (e: unknown) => e);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1006);
    assert.equal(error.response?.status, 429);
    assert.equal(error.response?.headers.get("retry-after"), "30");
    assert.equal(error.response?.headers.get("set-cookie"), "a=1");
    assert.equal(new WebSocketError("x").response, undefined);

    const [c, d] = duplexPair();
    const timedOut = new WebSocketStream("ws://test.local/", { transport: c, handshakeTimeout: 50 });
    timedOut.closed.catch(() => {});
    const other = await timedOut.opened.then(() => assert.fail("opened"), (e: unknown) => e);
    assert.ok(other instanceof WebSocketError);
    assert.equal(other.response, undefined);
    void d;
  });

  test("the handshake times out and an abort signal aborts it", async () => {
    const [a] = duplexPair();
    const slow = new WebSocketStream("ws://test.local/", { transport: a, handshakeTimeout: 50 });
    await assert.rejects(slow.opened, /handshake took longer than 50 ms/);
    const [c] = duplexPair();
    const controller = new AbortController();
    const aborted = new WebSocketStream("ws://test.local/", { transport: c, signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted.opened, (e: unknown) => (e as Error).name === "AbortError");
  });

  test("close() validates its code and reason with the WHATWG errors", async () => {
    const { client } = await connected();
    await client.opened;
    assert.throws(() => client.close({ closeCode: 1005 }), (e: unknown) => (e as DOMException).name === "InvalidAccessError");
    assert.throws(() => client.close({ closeCode: 1000, reason: "x".repeat(124) }), (e: unknown) => (e as DOMException).name === "SyntaxError");
    assert.throws(() => new WebSocketStream("ftp://x/"), (e: unknown) => (e as DOMException).name === "SyntaxError");
    client.close();
  });

  test("a protocol violation by the peer fails the connection with its close code", async () => {
    const [a, raw] = duplexPair();
    const client = new WebSocketStream("ws://test.local/", { transport: a });
    // A hand-written server: answer the handshake, then send a frame with reserved opcode 0x3.
    const reader = raw.readable.getReader();
    let head = "";
    while (!head.includes("\r\n\r\n")) head += new TextDecoder().decode((await reader.read()).value);
    const key = /sec-websocket-key: (.*)\r\n/i.exec(head)![1];
    const accept = await computeAcceptKey(key);
    const writer = raw.writable.getWriter();
    await writer.write(new TextEncoder().encode(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`));
    const { readable } = await client.opened;
    await writer.write(new Uint8Array([0x83, 0x00]));
    const error = await client.closed.then(() => undefined, (e: WebSocketError) => e);
    assert.ok(error instanceof WebSocketError);
    assert.equal(error.closeCode, 1002);
    assert.match(error.message, /opcode 0x3 is reserved/);
    await assert.rejects(readable.getReader().read(), WebSocketError);
    // The client sent a masked close frame with 1002 and an empty reason.
    const frame = (await reader.read()).value!;
    assert.equal(frame[0], 0x88);
    assert.equal(frame[1], 0x82);
    const code = ((frame[6] ^ frame[2]) << 8) | (frame[7] ^ frame[3]);
    assert.equal(code, 1002);
  });
});
