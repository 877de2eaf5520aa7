// What a write's promise means on the message-level paths, where the runtime frames the
// messages: a write resolves only when the runtime's socket took the message while open (on Deno,
// only once its bufferedAmount shows it written), and a write that cannot be sent rejects. Bun's
// ServerWebSocket reports an empty message as 0 bytes sent; a WHATWG WebSocket that is closing or
// closed drops what it is sent without an error.
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

// A socket that counts what it was sent in bufferedAmount until `flush()` writes it, as Deno's does.
class CountingSocket extends MemorySocket {
  readonly written: unknown[] = [];
  override send(data: string | ArrayBufferLike | ArrayBufferView): void {
    if (this.readyState !== 1) return;
    super.send(data);
    this.bufferedAmount += typeof data === "string" ? new TextEncoder().encode(data).byteLength : data.byteLength;
  }
  flush(): void {
    this.written.push(...this.sent.splice(0));
    this.bufferedAmount = 0;
  }
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 5));

describe("native connection writes (WHATWG socket)", () => {
  test("confirmsWrites: a write resolves once bufferedAmount shows its bytes written, not as the socket takes it", async () => {
    const socket = new CountingSocket();
    const connection = new _NativeConnection(socket as unknown as _NativeSocket, { pingUnsupported: "no ping", confirmsWrites: (callback) => setTimeout(callback, 0) });
    const writer = connection.writable.getWriter();
    let settled: string | undefined;
    void writer.write("héllo").then(() => settled = "resolved", () => settled = "rejected");
    await turn();
    assert.deepEqual(socket.sent, ["héllo"]);
    assert.equal(settled, undefined, "resolved while the socket still counted its bytes");
    socket.flush();
    await turn();
    assert.equal(settled, "resolved");
    let binary = false;
    const next = writer.write(new Uint8Array(3)).then(() => binary = true);
    await turn();
    assert.equal(binary, false);
    socket.flush();
    await next;
    assert.deepEqual(socket.written, ["héllo", new Uint8Array(3)]);
  });

  test("confirmsWrites: a wsflow readable piped in sends without waiting for each write; a close waits until they are written", async () => {
    const source = new MemorySocket();
    const from = new _NativeConnection(source as unknown as _NativeSocket, { pingUnsupported: "no ping" });
    const socket = new CountingSocket();
    const to = new _NativeConnection(socket as unknown as _NativeSocket, { pingUnsupported: "no ping", confirmsWrites: (callback) => setTimeout(callback, 0) });
    const piping = from.readable.pipeTo(to.writable).catch(() => {});
    for (const data of ["a", "b", "c"]) source.dispatchEvent(Object.assign(new Event("message"), { data }));
    await turn();
    assert.deepEqual(socket.sent, ["a", "b", "c"], "the pipe waited for a write to be written");
    source.fireClose(1000); // the source ends: the pipe closes its destination
    await turn();
    assert.equal(socket.readyState, 1, "closed before its messages were written");
    socket.flush();
    await turn();
    assert.equal(socket.readyState, 2);
    assert.deepEqual(socket.written, ["a", "b", "c"]);
    socket.fireClose(1000);
    await piping;
  });

  test("confirmsWrites: a write still counted when the close event comes rejects, and the next ones too", async () => {
    const socket = new CountingSocket();
    const connection = new _NativeConnection(socket as unknown as _NativeSocket, { pingUnsupported: "no ping", confirmsWrites: (callback) => setTimeout(callback, 0) });
    const writer = connection.writable.getWriter();
    await Promise.all([writer.write("one"), turn().then(() => socket.flush())]);
    const second = writer.write("two");
    await turn();
    socket.peerClosed(); // the runtime dropped "two" as it answered the peer's close
    socket.fireClose(1000);
    await assert.rejects(second, (error: Error) => error.name === "WebSocketError" && /closed \(code 1000\) before this message was written/.test(error.message));
    await assert.rejects(writer.write("three"));
    assert.deepEqual(socket.written, ["one"]);
  });


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

const isDeno = "Deno" in globalThis;

// A Bun.serve or Deno.serve server of wsflow in the given mode whose handler runs `app` on each
// connection.
async function runtimeServer(mode: "native" | "codec", app: (socket: WebSocketStream) => Promise<void>) {
  const { serve } = isDeno ? await import("../../src/adapters/deno/mod.ts") : await import("../../src/adapters/bun/mod.ts");
  const server = await serve({ port: 0, mode }, async (request) => {
    const { socket, response } = await upgradeWebSocket(request);
    if (socket) void app(socket);
    return response;
  });
  return { port: server.port, shutdown: () => server.shutdown() };
}

describe("Bun native writes", { skip: !isBun && "needs Bun", timeout: 60_000 }, () => {
  test("1,000 empty text and 1,000 empty binary messages reach a ws client once each, then a non-empty one", async () => {
    const server = await runtimeServer("native", async (socket) => {
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

});

describe("native and codec writes against a peer's close", { skip: !isBun && !isDeno && "needs Bun or Deno", timeout: 120_000 }, () => {
  for (const mode of ["native", "codec"] as const) {
    test(`${mode}: a peer that closes right after 5,000 messages (sent at once, or in batches) gets every echo whose write resolved; the others reject`, async () => {
      const writes: Promise<boolean>[] = [];
      const server = await runtimeServer(mode, async (socket) => {
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
        // All at once, then 250 per write 1 ms apart, so that the close lands while echoes flow.
        for (const batch of [undefined, { batch: 250 }]) {
          writes.length = 0;
          const races = await Promise.all([0, 1, 2, 3].map(() => closeRace(server.port, 5000, 20_000, batch)));
          const settled = await Promise.all(writes);
          const resolved = settled.filter(Boolean).length;
          const received = races.reduce((sum, race) => sum + race.received, 0);
          assert.ok(resolved <= received, `${resolved} writes resolved, ${received} messages arrived`);
          // At once, the close can come before any echo; in batches, the first ones get out.
          if (batch) assert.ok(resolved > 0, "no write resolved");
        }
      } finally {
        await server.shutdown();
      }
    });
  }
});

describe("write ledger", () => {
  test("a pipe that always has a write out keeps a bounded list of waiting writes", async () => {
    const { _WriteLedger } = await import("../../src/streams/write_ledger.ts");
    const socket = { bufferedAmount: 0, readyState: 1, send: () => void (socket.bufferedAmount += 10) };
    const ledger = new _WriteLedger(socket, (callback) => setTimeout(callback, 0), 5);
    let settled = 0;
    let rejected = 0;
    for (let i = 0; i < 10_000; i++) {
      // The socket wrote everything but the last message by the time the next one is sent.
      socket.bufferedAmount = socket.bufferedAmount > 0 ? 10 : 0;
      ledger.send("0123456789");
      ledger.track(() => settled++, () => rejected++, true);
    }
    // Each track checks after its own send, while the socket still counts that one and the one before.
    assert.equal(settled, 9_998);
    assert.equal(rejected, 0);
    assert.ok(ledger._entries() < 200, `${ledger._entries()} entries kept`);
    ledger.fail(new Error("closed"));
    assert.equal(rejected, 2, "the two still counted reject at the end");
  });
});
