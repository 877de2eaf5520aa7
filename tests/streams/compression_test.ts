// permessage-deflate (RFC 7692) end to end, over TCP on 127.0.0.1, against the ws package.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { deflateRawSync } from "node:zlib";
import WebSocket, { WebSocketServer } from "ws";
import { readUpgradeRequest, WebSocketError, WebSocketStream } from "../../mod.ts";
import { socketDuplex } from "../_net.ts";
import { echoServer } from "../_deflate.ts";
import { createZlibEngines } from "../../src/adapters/zlib/mod.ts";

const isBun = "Bun" in globalThis; // Bun's "ws" is its own shim, with its own deflate settings
const json = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `user ${i}`, tags: ["a", "b"], active: i % 2 === 0 })));

// ws's perMessageDeflate settings, and what the negotiated header must then say.
const combinations: [string, WebSocket.PerMessageDeflateOptions, RegExp][] = [
  ["defaults", { threshold: 0 }, /^permessage-deflate/],
  ["server_no_context_takeover", { threshold: 0, serverNoContextTakeover: true }, /server_no_context_takeover/],
  ["client_no_context_takeover", { threshold: 0, clientNoContextTakeover: true }, /client_no_context_takeover/],
  ["server_max_window_bits=10", { threshold: 0, serverMaxWindowBits: 10 }, /server_max_window_bits=10/],
  ["client_max_window_bits=9", { threshold: 0, clientMaxWindowBits: 9 }, /client_max_window_bits=9/],
];

describe("wsflow client with compression against a ws server", { skip: isBun && "Bun's ws shim" }, () => {
  const servers: WebSocketServer[] = [];
  after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

  for (const [name, perMessageDeflate, expected] of combinations) {
    test(`${name}: negotiated, and text and binary round-trip compressed`, async () => {
      const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate });
      servers.push(server);
      await new Promise<void>((r) => server.once("listening", () => r()));
      const rsv1: boolean[] = [];
      server.on("connection", (ws) => {
        // ws's receiver reports each frame's RSV1 through its internal state; observe it from the raw socket instead.
        (ws as unknown as { _socket: { on(e: "data", f: (b: Buffer) => void): void } })._socket.on("data", (b) => rsv1.push((b[0] & 0x40) !== 0));
        ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
      });
      const port = (server.address() as AddressInfo).port;
      const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`, { compression: true });
      const { readable, writable, extensions } = await wss.opened;
      assert.match(extensions, expected);
      const writer = writable.getWriter();
      const reader = readable.getReader();
      for (let i = 0; i < 3; i++) {
        await writer.write(json);
        assert.equal((await reader.read()).value, json);
      }
      const binary = new TextEncoder().encode(json);
      await writer.write(binary);
      assert.deepEqual((await reader.read()).value, binary);
      assert.ok(rsv1.includes(true), "the client sent compressed frames");
      // Per-message opt-out: this one goes uncompressed.
      rsv1.length = 0;
      await writer.write({ data: json, compress: false });
      assert.equal((await reader.read()).value, json);
      assert.deepEqual(rsv1.slice(0, 1), [false], "sent with RSV1 clear");
      wss.close();
      await wss.closed;
    });
  }

  test("a server that answers with an extension the client did not offer fails the handshake", async () => {
    const server = createServer((socket) => {
      socket.once("data", (head) => {
        const key = /sec-websocket-key: (.*)\r\n/i.exec(String(head))![1];
        void (async () => {
          const { computeAcceptKey } = await import("../../mod.ts");
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${await computeAcceptKey(key)}\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n\r\n`);
        })();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`, { compression: { clientMaxWindowBits: false } });
    await assert.rejects(wss.opened, (e: unknown) => e instanceof WebSocketError && /permessage-deflate/.test(e.message));
    await new Promise((r) => server.close(r));
  });
});

describe("ws client with compression against a wsflow server", { skip: isBun && "Bun's ws shim" }, () => {
  let server: Server;
  let port: number;
  before(async () => {
    ({ server, port } = await echoServer(() => ({ compression: { threshold: 0 }, maxMessageSize: 1024 * 1024 })));
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const [name, perMessageDeflate, expected] of combinations) {
    test(`${name}: negotiated, and messages round-trip through the wsflow server`, async (t) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate });
      t.after(() => ws.terminate());
      const answered = new Promise<string>((r) => ws.once("upgrade", (res) => r(String(res.headers["sec-websocket-extensions"]))));
      await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
      // A client_max_window_bits value in the offer binds the client; the server need not echo it.
      assert.match(await answered, name === "client_max_window_bits=9" ? /^permessage-deflate/ : expected);
      const frames: boolean[] = [];
      (ws as unknown as { _socket: { on(e: "data", f: (b: Buffer) => void): void } })._socket.on("data", (b) => frames.push((b[0] & 0x40) !== 0));
      for (let i = 0; i < 3; i++) {
        ws.send(json);
        const [data] = await new Promise<[Buffer]>((r) => ws.once("message", (d) => r([d as Buffer])));
        assert.equal(String(data), json);
      }
      assert.ok(frames.includes(true), "the wsflow server sent compressed frames");
      const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
      ws.close(1000);
      assert.equal(await closed, 1000);
    });
  }

  test("a small compressed message that inflates past maxMessageSize fails with 1009", async (t) => {
    // 64 MiB of zeros compress to about 64 KiB; the server's limit is 1 MiB.
    const bomb = deflateRawSync(new Uint8Array(64 * 1024 * 1024));
    assert.ok(bomb.length < 128 * 1024);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 } });
    t.after(() => ws.terminate());
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    const socket = (ws as unknown as { _socket: import("node:net").Socket })._socket;
    // A raw masked binary frame with RSV1 and the bomb as its payload (zero mask key).
    const n = bomb.length;
    const header = Buffer.from([0xc2, 0xff, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, 0, 0, 0, 0]);
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    socket.write(Buffer.concat([header, bomb]));
    assert.equal(await closed, 1009);
  });
});

/** Sends `messages` on a new client and checks each comes back; returns the negotiated extensions. */
async function echoes(url: string, options: ConstructorParameters<typeof WebSocketStream>[1], messages: (string | Uint8Array)[]): Promise<string> {
  const wss = new WebSocketStream(url, options);
  const { readable, writable, extensions } = await wss.opened;
  const writer = writable.getWriter();
  const reader = readable.getReader();
  for (const message of messages) {
    await writer.write(message);
    assert.deepEqual((await reader.read()).value, message);
  }
  wss.close();
  await wss.closed;
  return extensions;
}

describe("a wsflow client offers permessage-deflate unless told not to", () => {
  let server: Server;
  let port: number;
  before(async () => ({ server, port } = await echoServer(() => ({ compression: { threshold: 0 } }))));
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const [name, options, expected] of [["by default", {}, "permessage-deflate"], ["with compression: false", { compression: false }, ""]] as const) {
    test(`${name}: the server's answer is ${JSON.stringify(expected)}, and messages round-trip`, async () => {
      const extensions = await echoes(`ws://127.0.0.1:${port}/`, options, [json, new Uint8Array([1, 2, 3])]);
      assert.equal(extensions.split(";")[0], expected);
    });
  }
});

describe("compression through node:zlib's public API (the fallback engines) end to end", () => {
  const engines = createZlibEngines({ api: "public" });
  const messages = [json, json, `${json}!`, new Uint8Array(5000).fill(7)];

  test("a wsflow client and a wsflow server, both on the public API, with context takeover", async () => {
    const { server, port } = await echoServer(() => ({ compression: { threshold: 0, engines } }));
    try {
      const extensions = await echoes(`ws://127.0.0.1:${port}/`, { compression: { threshold: 0, engines } }, messages);
      assert.equal(extensions, "permessage-deflate");
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test("a wsflow client on the public API against a ws server on zlib's streams", { skip: isBun && "Bun's ws shim" }, async () => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: { threshold: 0 } });
    server.on("connection", (ws) => ws.on("message", (data, binary) => ws.send(binary ? data : String(data))));
    await new Promise((r) => server.once("listening", r));
    try {
      const port = (server.address() as AddressInfo).port;
      assert.match(await echoes(`ws://127.0.0.1:${port}/`, { compression: { threshold: 0, engines } }, messages), /^permessage-deflate/);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
