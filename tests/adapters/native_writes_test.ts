// What a write's promise means on the message-level paths, where the runtime frames the
// messages: a write resolves only when the runtime's socket took the message while open, and a
// write that cannot be sent rejects. Bun's ServerWebSocket reports an empty message as 0 bytes
// sent; a WHATWG WebSocket that is closing or closed drops what it is sent without an error.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import WsClient from "ws";
import { upgradeWebSocket, type WebSocketStream } from "../../mod.ts";
import { _NativeConnection, type _NativeSocket } from "../../src/streams/native_connection.ts";
import { closeRace } from "../interop/_close_race.ts";

const isBun = "Bun" in globalThis;

// A WHATWG-WebSocket-shaped socket in memory, as Deno's, Cloudflare's or a browser's behave:
// send() on a socket that is not open drops the message and throws nothing.
class MemorySocket extends EventTarget {
  binaryType = "blob";
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: unknown[] = [];
  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    if (this.readyState === 1) this.sent.push(data);
  }
  close(): void {
    this.readyState = 2;
  }
  // The runtime answered the peer's close frame; its close event comes later.
  peerClosed(): void {
    this.readyState = 3;
  }
  fireClose(code: number): void {
    this.dispatchEvent(Object.assign(new Event("close"), { code, reason: "", wasClean: true }));
  }
}

describe("native connection writes (WHATWG socket)", () => {
  test("a write to a socket that closed before its close event rejects, and nothing is sent", async () => {
    const socket = new MemorySocket();
    const connection = new _NativeConnection(socket as unknown as _NativeSocket, { pingUnsupported: "no ping" });
    const writer = connection.writable.getWriter();
    await writer.write("first");
    assert.deepEqual(socket.sent, ["first"]);
    socket.peerClosed();
    await assert.rejects(writer.write("second"), (error: Error) => error.name === "WebSocketError" && /closing or closed/.test(error.message));
    assert.deepEqual(socket.sent, ["first"]);
    socket.fireClose(1000);
    assert.deepEqual(await connection.closed, { closeCode: 1000, reason: "" });
  });
});

// A Bun.serve server of wsflow in the given mode whose handler runs `app` on each connection.
async function bunServer(mode: "native" | "codec", app: (socket: WebSocketStream) => Promise<void>) {
  const { serve } = await import("../../src/adapters/bun/mod.ts");
  return serve({ port: 0, mode }, async (request) => {
    const { socket, response } = await upgradeWebSocket(request);
    if (socket) void app(socket);
    return response;
  });
}

describe("Bun native writes", { skip: !isBun && "needs Bun", timeout: 60_000 }, () => {
  test("1,000 empty text and 1,000 empty binary messages reach a ws client once each, then a non-empty one", async () => {
    const server = await bunServer("native", async (socket) => {
      const { writable } = await socket.opened;
      const writer = writable.getWriter();
      for (let i = 0; i < 1000; i++) await writer.write("");
      for (let i = 0; i < 1000; i++) await writer.write(new Uint8Array(0));
      await writer.write("end");
    });
    try {
      const client = new WsClient(`ws://127.0.0.1:${server.port}/`);
      const seen = { text: 0, binary: 0, other: [] as string[] };
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`stalled after ${JSON.stringify(seen)}`)), 20_000);
        client.on("message", (data, isBinary) => {
          const text = isBinary ? "" : String(data);
          if (text === "end") {
            clearTimeout(timer);
            return resolve();
          }
          if (isBinary && (data as Buffer).length === 0) seen.binary++;
          else if (text === "") seen.text++;
          else seen.other.push(text);
        });
        client.on("error", reject);
      });
      assert.deepEqual(seen, { text: 1000, binary: 1000, other: [] });
      client.close();
    } finally {
      await server.shutdown();
    }
  });

  for (const mode of ["native", "codec"] as const) {
    test(`${mode}: a peer that closes right after 5,000 messages gets every echo whose write resolved; the others reject`, async () => {
      const writes: Promise<boolean>[] = [];
      const server = await bunServer(mode, async (socket) => {
        const { readable, writable } = await socket.opened;
        const writer = writable.getWriter();
        let i = 0;
        try {
          for await (const message of readable) {
            if (++i % 200 === 0) await new Promise((resolve) => setTimeout(resolve, 1)); // a busy app
            writes.push(writer.write(message).then(() => true, () => false));
          }
        } catch { /* the readable ends with the connection */ }
      });
      try {
        const races = await Promise.all([0, 1, 2, 3].map(() => closeRace(server.port, 5000)));
        const settled = await Promise.all(writes);
        const resolved = settled.filter(Boolean).length;
        const received = races.reduce((sum, race) => sum + race.received, 0);
        assert.ok(resolved <= received, `${resolved} writes resolved, ${received} messages arrived`);
      } finally {
        await server.shutdown();
      }
    });
  }
});
