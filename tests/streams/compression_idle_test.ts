// permessage-deflate with idle contexts freed (`compression.releaseIdleAfter`), against the ws
// package in both roles: its contexts run on, ours are rebuilt from the kept window, and every
// message still round-trips, with the repeats as small on the wire as without freeing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { AddressInfo, Server } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { WebSocketStream } from "../../mod.ts";
import { countingEngines, echoServer } from "../_deflate.ts";

const isBun = "Bun" in globalThis; // Bun's "ws" is its own shim, with its own deflate settings
const json = JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: `user ${i}`, tags: ["a", "b"], active: i % 2 === 0 })));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The payload sizes of the frames a ws peer's socket receives, with their RSV1 bits. */
function wireSizes(ws: WebSocket): { rsv1: boolean; size: number }[] {
  const frames: { rsv1: boolean; size: number }[] = [];
  let pending = Buffer.alloc(0);
  (ws as unknown as { _socket: { on(e: "data", f: (b: Buffer) => void): void } })._socket.on("data", (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      const len7 = pending[1] & 0x7f;
      const header = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      if (pending.length < header) return;
      const size = len7 < 126 ? len7 : len7 === 126 ? pending.readUInt16BE(2) : Number(pending.readBigUInt64BE(2));
      if (pending.length < header + size) return;
      frames.push({ rsv1: (pending[0] & 0x40) !== 0, size });
      pending = pending.subarray(header + size);
    }
  });
  return frames;
}

describe("a wsflow server freeing idle contexts, against a ws client", { skip: isBun && "Bun's ws shim" }, () => {
  let server: Server;
  let port: number;
  let engines: ReturnType<typeof countingEngines>;
  before(async () => {
    ({ server, port } = await echoServer(() => ({ compression: { threshold: 0, releaseIdleAfter: 10, engines } })));
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  for (const [name, perMessageDeflate] of [
    ["context takeover both ways", { threshold: 0 }],
    ["client_max_window_bits=9", { threshold: 0, clientMaxWindowBits: 9 }],
    ["server_max_window_bits=10", { threshold: 0, serverMaxWindowBits: 10 }],
  ] as const) {
    test(`${name}: messages after idle pauses round-trip, and repeats still refer back`, async (t) => {
      engines = countingEngines();
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate });
      t.after(() => ws.terminate());
      await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
      const frames = wireSizes(ws);
      for (let i = 0; i < 4; i++) {
        ws.send(json);
        const [data] = await new Promise<[Buffer]>((r) => ws.once("message", (d) => r([d as Buffer])));
        assert.equal(String(data), json, `echo ${i}`);
        await pause(60); // several idle checks: both contexts are freed
      }
      assert.ok(engines.made >= 8 && engines.freed >= 8, `contexts made ${engines.made}, freed ${engines.freed}: rebuilt for every message`);
      assert.equal(frames.length, 4);
      assert.ok(frames.every((f) => f.rsv1));
      // The first echo stands alone; with a window the message fits in, the later ones are
      // back-references into it (a 1 KiB window cannot reach back a whole message).
      if (!("serverMaxWindowBits" in perMessageDeflate)) {
        for (const repeat of frames.slice(1)) assert.ok(repeat.size < frames[0].size / 4, `repeat ${repeat.size} B vs first ${frames[0].size} B`);
      }
      const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
      ws.close(1000);
      assert.equal(await closed, 1000);
    });
  }
});

describe("a wsflow client freeing idle contexts, against a ws server", { skip: isBun && "Bun's ws shim" }, () => {
  test("messages after idle pauses round-trip both ways", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: { threshold: 0 } });
    wss.on("connection", (ws) => ws.on("message", (data, binary) => ws.send(data, { binary })));
    await new Promise((r) => wss.once("listening", r));
    try {
      const engines = countingEngines();
      const { port } = wss.address() as AddressInfo;
      const client = new WebSocketStream(`ws://127.0.0.1:${port}/`, { compression: { threshold: 0, releaseIdleAfter: 10, engines } });
      const { readable, writable, extensions } = await client.opened;
      assert.match(extensions, /permessage-deflate/);
      const reader = readable.getReader();
      const writer = writable.getWriter();
      for (let i = 0; i < 3; i++) {
        await writer.write(json);
        assert.equal((await reader.read()).value, json);
        await pause(60);
      }
      assert.ok(engines.freed >= 4, `contexts freed ${engines.freed}`);
      client.close({ closeCode: 1000 });
      assert.equal((await client.closed).closeCode, 1000);
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });
});

describe("concurrencyLimit: at most N connections hold contexts, against ws clients", { skip: isBun && "Bun's ws shim" }, () => {
  test("two clients taking turns through a limit of 1: every echo right, one connection's contexts alive", async () => {
    const engines = countingEngines();
    const { server, port } = await echoServer(() => ({ compression: { threshold: 0, releaseIdleAfter: Infinity, concurrencyLimit: 1, engines } }));
    const clients = [0, 1].map(() => new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: { threshold: 0 } }));
    try {
      await Promise.all(clients.map((ws) => new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)))));
      for (let i = 0; i < 6; i++) {
        const ws = clients[i % 2];
        ws.send(json);
        const [data] = await new Promise<[Buffer]>((r) => ws.once("message", (d) => r([d as Buffer])));
        assert.equal(String(data), json, `echo ${i}`);
        assert.ok(engines.alive <= 2, `${engines.alive} contexts alive after echo ${i}`);
      }
      assert.ok(engines.made >= 10, `contexts rebuilt at each turn (${engines.made} made)`);
    } finally {
      for (const ws of clients) ws.terminate();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
