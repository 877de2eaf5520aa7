// A transport may read into the same memory again once a read is handled (the Deno codec does,
// src/adapters/deno/transport.ts), so nothing a server holds past that may be a view into it:
// messages waiting in the readable's queue, an echo sent after an await, a message piped into
// another connection, a ping's payload. A raw TCP client sends many messages at once (many reads,
// each landing where an earlier one was) and checks every byte that comes back, on every server
// path of this runtime.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { upgradeWebSocket, type WebSocketMessage } from "../../mod.ts";
import { runtime, serve, type ServeHandle } from "../../src/adapters/serve.ts";
import { masked, plain, rawEcho, sleep, until, writeCut } from "./_raw_ws.ts";

const modes = runtime() === "node" ? ["codec"] as const : ["native", "codec"] as const;

// Distinct messages of sizes that fill reads differently, binary and text alternately.
function messages(round: number): { first: number; payload: Buffer }[] {
  return [300, 1000, 5000, 16_384, 20_000, 40_000, 700].map((size, i) => {
    const first = i % 2 === 0 ? 0x82 : 0x81;
    const seed = round * 31 + i * 7;
    const payload = first === 0x82
      ? Buffer.from(Uint8Array.from({ length: size }, (_, j) => (j * 13 + seed) & 255))
      : Buffer.from(Array.from({ length: size }, (_, j) => String.fromCharCode(97 + ((j + seed) % 26))).join(""));
    return { first, payload };
  });
}

const ROUNDS = 4;
const all = Array.from({ length: ROUNDS }, (_, r) => messages(r)).flat();
const wire = Buffer.concat(all.map((m) => masked(m.first, m.payload)));
const expected = Buffer.concat(all.map((m) => plain(m.first, m.payload)));

// Server frames (unmasked, 7-, 16- or 64-bit lengths) as [opcode, payload].
function frames(bytes: Buffer): [number, Buffer][] {
  const out: [number, Buffer][] = [];
  for (let at = 0; at < bytes.length;) {
    let length = bytes[at + 1] & 0x7f;
    let start = at + 2;
    if (length === 126) [length, start] = [bytes.readUInt16BE(at + 2), at + 4];
    else if (length === 127) [length, start] = [Number(bytes.readBigUInt64BE(at + 2)), at + 10];
    if (start + length > bytes.length) break;
    out.push([bytes[at] & 0x0f, bytes.subarray(start, start + length)]);
    at = start + length;
  }
  return out;
}

const firstDifference = (got: Buffer) => `first difference at byte ${got.findIndex((b, i) => b !== expected[i])} of ${expected.length}`;

// Where a proxy's incoming connections are piped: the writable of the connection on /out.
let proxyOut: WritableStream<WebSocketMessage> | undefined;

async function handler(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  const { socket, response } = await upgradeWebSocket(request);
  if (!socket) return response;
  void socket.opened.then(async ({ readable, writable }) => {
    if (path === "/echo") return readable.pipeTo(writable);
    if (path === "/out") {
      proxyOut = writable;
      return;
    }
    if (path === "/in") return readable.pipeTo(proxyOut!);
    const reader = readable.getReader();
    const writer = writable.getWriter();
    if (path === "/late") {
      // Every message waits in the queue until the last one is read, then all go back.
      const held: WebSocketMessage[] = [];
      while (held.length < all.length) {
        const { value, done } = await reader.read();
        if (done) return;
        held.push(value);
      }
      for (const message of held) await writer.write(message);
      return;
    }
    // /delayed: each echo after an await that lets later reads land first.
    for (let i = 0;; i++) {
      const { value, done } = await reader.read();
      if (done) return;
      await sleep(i % 3);
      await writer.write(value);
    }
  }).catch(() => {});
  return response;
}

for (const mode of modes) {
  describe(`${runtime()} server, mode ${mode}: nothing held is overwritten by later reads`, { timeout: 60_000 }, () => {
    let server: ServeHandle;
    before(async () => {
      server = await serve({ port: 0, mode }, handler);
    });
    after(() => server.shutdown());

    for (const path of ["/echo", "/late", "/delayed"]) {
      test(`${path}: ${all.length} messages sent at once come back byte for byte`, async () => {
        const { socket, received } = await rawEcho(server.port, path);
        try {
          await writeCut(socket, wire, [65_536, 3000, 17]);
          const got = await until(received, expected.length);
          assert.equal(got.length, expected.length, "bytes echoed");
          assert.ok(got.equals(expected), firstDifference(got));
        } finally {
          socket.destroy();
        }
      });
    }

    test("a connection piped into another: every message reaches the other peer byte for byte", async () => {
      const out = await rawEcho(server.port, "/out");
      for (const end = Date.now() + 5000; proxyOut === undefined && Date.now() < end;) await sleep(5);
      const incoming = await rawEcho(server.port, "/in");
      try {
        await writeCut(incoming.socket, wire, [65_536, 3000, 17]);
        const got = await until(out.received, expected.length);
        assert.equal(got.length, expected.length, "bytes forwarded");
        assert.ok(got.equals(expected), firstDifference(got));
      } finally {
        proxyOut = undefined;
        incoming.socket.destroy();
        out.socket.destroy();
      }
    });

    test("pings between the messages are answered with their own payloads, and the echoes are intact", async () => {
      const { socket, received } = await rawEcho(server.port, "/echo");
      try {
        const pings = all.map((_, i) => Buffer.from(`ping ${i} `.repeat(10)));
        await writeCut(socket, Buffer.concat(all.flatMap((m, i) => [masked(0x89, pings[i]), masked(m.first, m.payload)])), [65_536, 3000, 17]);
        // Pongs may be fewer than pings: wait for the last echo.
        let parsed = frames(received());
        const echoes = () => parsed.filter(([opcode]) => opcode !== 0xa);
        for (const end = Date.now() + 15_000; echoes().length < all.length && Date.now() < end;) {
          await sleep(10);
          parsed = frames(received());
        }
        const pongs = parsed.filter(([opcode]) => opcode === 0xa).map(([, payload]) => payload.toString());
        assert.equal(echoes().length, all.length, "every message echoed");
        echoes().forEach(([opcode, payload], i) => {
          assert.equal(opcode, all[i].first & 0x0f, `message ${i}'s type`);
          assert.ok(payload.equals(all[i].payload), `message ${i}'s bytes`);
        });
        // A peer may answer only the latest of several pings (RFC 6455 section 5.5.3): each pong
        // is one of the pings, in order, and the last ping is answered.
        assert.ok(pongs.length > 0);
        const order = pongs.map((p) => pings.findIndex((ping) => ping.toString() === p));
        assert.ok(order.every((k, i) => k >= 0 && (i === 0 || k > order[i - 1])), `pongs answer pings in order: ${order}`);
        assert.equal(order.at(-1), pings.length - 1);
      } finally {
        socket.destroy();
      }
    });
  });
}
