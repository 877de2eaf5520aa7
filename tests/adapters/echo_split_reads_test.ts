// The README's echo (`readable.pipeTo(writable)`) on every server path of this runtime, fed by a
// raw TCP client that cuts its frames at odd places: headers split from their masking keys,
// payloads across reads, several frames in one read. An echo of a message that arrived whole
// is framed in the memory it arrived in (Session's in-place path); whatever the cuts, the bytes
// that come back must be exactly the unmasked frames, in order, also when a flood of them
// arrives while the peer reads nothing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { upgradeWebSocket } from "../../mod.ts";
import { runtime, serve, type ServeHandle } from "../../src/adapters/serve.ts";
import { expectReceived, masked, plain, rawEcho, sleep, writeCut } from "./_raw_ws.ts";

const modes = runtime() === "node" ? ["codec"] as const : ["native", "codec"] as const;
async function echoServer(request: Request): Promise<Response> {
  const { socket, response } = await upgradeWebSocket(request);
  if (socket) {
    void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  }
  return response;
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
        await expectReceived(received, expected);
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
        await expectReceived(received, expected);
      } finally {
        socket.destroy();
      }
    });

    test("a flood of small messages from a peer that reads nothing until it is done comes back whole, in order", async () => {
      const { socket, received } = await rawEcho(server.port);
      try {
        // 80,000 messages of 8 bytes (14-byte frames): each 64 KiB read holds over 4,000, and
        // the server's writes back stall until the peer reads.
        const count = 80_000;
        const payload = (i: number) => Buffer.from([i & 255, (i >> 8) & 255, i >> 16, 1, 2, 3, 4, 5]);
        socket.pause();
        socket.write(Buffer.concat(Array.from({ length: count }, (_, i) => masked(0x82, payload(i)))));
        await sleep(300);
        socket.resume();
        await expectReceived(received, Buffer.concat(Array.from({ length: count }, (_, i) => plain(0x82, payload(i)))));
      } finally {
        socket.destroy();
      }
    });
  });
}
