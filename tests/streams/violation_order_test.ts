// A violation takes effect at its place in the stream (RFC 6455 section 7.1.7): when one read
// holds valid messages and then a frame that breaks the protocol, the messages are delivered,
// what the application writes as it handles them goes out, and then the close frame with the
// RFC's code. Raw TCP peers in one write, against this runtime's byte-level server
// (`serve({ mode: "codec" })`) and its client (WebSocketStream over the default transport).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { upgradeWebSocket, type WebSocketStream, WebSocketStream as Client } from "../../mod.ts";
import { serve, type ServeHandle } from "../../src/adapters/serve.ts";
import { frame } from "../_frames.ts";
import { closeCodeOf, type RawPeer, rawClient, rawServer, textOf } from "../_raw.ts";
import { concat } from "../_util.ts";

const MESSAGES = ["one", "two", "three"];
const violations = [
  { name: "a reserved bit (RSV2)", bytes: (mask: boolean) => frame({ opcode: 0x1, rsv: 2, payload: "x", mask }) },
  { name: "a reserved opcode (0x3)", bytes: (mask: boolean) => frame({ opcode: 0x3, payload: "x", mask }) },
  { name: "a continuation with no message started", bytes: (mask: boolean) => frame({ opcode: 0x0, payload: "x", mask }) },
];
const echoes = ["pipeTo", "reader loop"] as const;
type Echo = (typeof echoes)[number];

// Echoes every message: by piping the readable into the writable, or by a loop that reads a
// message and awaits its write before reading on.
async function echo(socket: WebSocketStream, how: Echo): Promise<void> {
  const { readable, writable } = await socket.opened;
  if (how === "pipeTo") return await readable.pipeTo(writable);
  const reader = readable.getReader();
  const writer = writable.getWriter();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    await writer.write(value);
  }
}

// One write: the messages, then the violation. Expects the echoes, then a close frame with 1002,
// then the end of the TCP connection.
async function expectEchoesThenClose(peer: RawPeer, mask: boolean, violation: Uint8Array): Promise<void> {
  try {
    peer.read();
    peer.socket.write(concat(...MESSAGES.map((payload) => frame({ opcode: 0x1, payload, mask })), violation));
    await peer.until(() => peer.frames.some((f) => f.opcode === 0x8), 10_000, "a close frame");
    const got = peer.frames.map((f) => f.opcode === 0x8 ? `close ${closeCodeOf(f)}` : textOf(f.payload));
    assert.deepEqual(got, [...MESSAGES, "close 1002"]);
    for (const f of peer.frames) assert.equal(f.rsv, 0);
    await peer.closed;
  } finally {
    peer.socket.destroy();
  }
}

describe("a violation after valid messages in the same read (RFC 6455 section 7.1.7)", { timeout: 60_000 }, () => {
  let server: ServeHandle;
  before(async () => {
    server = await serve({ port: 0, mode: "codec" }, async (request) => {
      const { socket, response } = await upgradeWebSocket(request);
      if (socket) void echo(socket, new URL(request.url).searchParams.get("echo") as Echo).catch(() => {});
      return response;
    });
  });
  after(async () => {
    await server.shutdown();
  });

  for (const how of echoes) {
    for (const violation of violations) {
      test(`the server (${how}) sends the echoes of the messages before ${violation.name}, then closes with 1002`, async () => {
        const peer = await rawClient(server.port, `/?echo=${encodeURIComponent(how)}`);
        await expectEchoesThenClose(peer, true, violation.bytes(true));
      });
    }
  }

  for (const how of echoes) {
    test(`the client (${how}) sends the echoes of the messages before a reserved bit, then closes with 1002`, async () => {
      const raw = await rawServer();
      try {
        const client = new Client(`ws://127.0.0.1:${raw.port}/`);
        const peer = await raw.accept();
        const echoed = echo(client, how).catch(() => {});
        await expectEchoesThenClose(peer, false, violations[0].bytes(false));
        await assert.rejects(client.closed, (error: { closeCode?: number }) => error.closeCode === 1002);
        await echoed;
      } finally {
        raw.close();
      }
    });
  }
});
