// The README's echo (`readable.pipeTo(writable)`) on every server path of this runtime, fed by a
// raw TCP client that cuts its frames at odd places: headers split from their masking keys,
// payloads across reads, several frames in one read. An echo of a message that arrived whole
// is framed in the memory it arrived in (Session's in-place path); whatever the cuts, the bytes
// that come back must be exactly the unmasked frames, in order.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { upgradeWebSocket } from "../../mod.ts";
import { runtime, serve, type ServeHandle } from "../../src/adapters/serve.ts";
import { upgradeHead } from "./_raw_http.ts";

const modes = runtime() === "node" ? ["codec"] as const : ["native", "codec"] as const;
const KEY = [0x11, 0x22, 0x33, 0x44];

function header(first: number, length: number, masked: boolean): number[] {
  const m = masked ? 0x80 : 0;
  if (length < 126) return [first, m | length];
  if (length < 65536) return [first, m | 126, length >> 8, length & 255];
  return [first, m | 127, 0, 0, 0, 0, length >>> 24, (length >> 16) & 255, (length >> 8) & 255, length & 255];
}

function masked(first: number, payload: Uint8Array): Uint8Array {
  const bytes = Buffer.concat([Buffer.from(header(first, payload.length, true)), Buffer.from(KEY), Buffer.from(payload)]);
  const at = bytes.length - payload.length;
  for (let i = 0; i < payload.length; i++) bytes[at + i] ^= KEY[i & 3];
  return bytes;
}

const plain = (first: number, payload: Uint8Array) => Buffer.concat([Buffer.from(header(first, payload.length, false)), Buffer.from(payload)]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function echoServer(request: Request): Promise<Response> {
  const { socket, response } = await upgradeWebSocket(request);
  if (socket) {
    void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  }
  return response;
}

// Opens a raw connection and collects every byte after the 101 head.
async function rawEcho(port: number): Promise<{ socket: Socket; received: () => Buffer }> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let got = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => (got = Buffer.concat([got, chunk])));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(upgradeHead("/"));
  for (const end = Date.now() + 10_000; got.indexOf("\r\n\r\n") < 0 && Date.now() < end;) await sleep(5);
  const headEnd = got.indexOf("\r\n\r\n");
  assert.ok(headEnd > 0, "a 101 head");
  assert.match(got.subarray(0, headEnd).toString("latin1"), /^HTTP\/1\.1 101/);
  const skip = headEnd + 4;
  return { socket, received: () => got.subarray(skip) };
}

// Writes `bytes` in pieces of the given sizes (cycled), with a short pause every few pieces so
// they reach the server as separate reads.
async function writeCut(socket: Socket, bytes: Uint8Array, sizes: number[]): Promise<void> {
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const n = sizes[k % sizes.length];
    socket.write(bytes.subarray(at, at + n));
    at += n;
    if (k % 5 === 4) await sleep(2);
  }
}

async function until(received: () => Buffer, length: number): Promise<Buffer> {
  for (const end = Date.now() + 15_000; received().length < length && Date.now() < end;) await sleep(10);
  return received();
}

for (const mode of modes) {
  describe(`${runtime()} server, mode ${mode}: echo with frames cut across reads`, { timeout: 60_000 }, () => {
    let server: ServeHandle;
    before(async () => {
      server = await serve({ port: 0, mode }, echoServer);
    });
    after(() => server.shutdown());

    test("binary and text of every header size come back as the exact unmasked frames, whatever the cuts", async () => {
      const { socket, received } = await rawEcho(server.port);
      try {
        const sizes = [0, 5, 125, 126, 300, 20_000, 65_535, 65_536, 70_000];
        const messages = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, j) => (j * 7 + i) & 255));
        const text = Buffer.from("héllo wörld ".repeat(100));
        const wire = Buffer.concat([...messages.map((m) => masked(0x82, m)), masked(0x81, text)]);
        const expected = Buffer.concat([...messages.map((m) => plain(0x82, m)), plain(0x81, text)]);
        // Cuts of 1, 3 and 7 bytes split headers from masking keys; 4096 and 65536 span frames.
        await writeCut(socket, wire, [1, 7, 300, 4096, 3, 65_536]);
        const got = await until(received, expected.length);
        assert.equal(got.length, expected.length, "bytes echoed");
        assert.ok(got.equals(expected), `first difference at byte ${got.findIndex((b, i) => b !== expected[i])}`);
      } finally {
        socket.destroy();
      }
    });

    test("many small messages in one read, and a fragmented one, come back in order", async () => {
      const { socket, received } = await rawEcho(server.port);
      try {
        const small = Array.from({ length: 200 }, (_, i) => Buffer.from(`message ${i}`));
        const pieces = [Buffer.from("frag"), Buffer.from("mented "), Buffer.from("message")];
        const wire = Buffer.concat([
          ...small.map((m) => masked(0x81, m)),
          masked(0x01, pieces[0]),
          masked(0x00, pieces[1]),
          masked(0x80, pieces[2]),
          masked(0x82, Buffer.from([1, 2, 3])),
        ]);
        const expected = Buffer.concat([
          ...small.map((m) => plain(0x81, m)),
          plain(0x81, Buffer.concat(pieces)),
          plain(0x82, Buffer.from([1, 2, 3])),
        ]);
        socket.write(wire.subarray(0, 3000));
        await sleep(5);
        await writeCut(socket, wire.subarray(3000), [13, 2, 700]);
        const got = await until(received, expected.length);
        assert.equal(got.length, expected.length, "bytes echoed");
        assert.ok(got.equals(expected), `first difference at byte ${got.findIndex((b, i) => b !== expected[i])}`);
      } finally {
        socket.destroy();
      }
    });
  });
}
