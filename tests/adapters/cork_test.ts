// Transports that hold one turn's writes (cork) and write them together: what Topics uses so a
// publish of several messages to many connections costs one write per connection, not one per
// message. The Node transport over a real socket pair, Bun's over a socket that records writes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createServer, connect, type Server, type Socket } from "node:net";
import process from "node:process";
import { setImmediate } from "node:timers";
import { _socketTransport } from "../../src/adapters/node/transport.ts";
import { _BunTransport, type _BunRoute } from "../../src/adapters/bun/transport.ts";
import type { _BunSocket } from "../../src/adapters/bun/types.ts";
import { transportSink } from "../_util.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const bytes = (...values: number[]) => new Uint8Array(values);
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

// A connected pair over 127.0.0.1: the server's side of it is the one under test.
async function socketPair(): Promise<{ server: Server; client: Socket; socket: Socket }> {
  let accept: (socket: Socket) => void = () => {};
  const accepted = new Promise<Socket>((resolve) => (accept = resolve));
  const server = createServer((socket) => accept(socket)).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const client = connect((server.address() as { port: number }).port, "127.0.0.1");
  return { server, client, socket: await accepted };
}

describe(`cork on ${runtime}`, () => {
  test("node: writes in one turn are held by the socket's cork and arrive together in its check phase", { skip: runtime !== "node" && "Node's own socket cork" }, async () => {
    const { server, client, socket } = await socketPair();
    try {
      const received: Uint8Array[] = [];
      client.on("data", (chunk) => received.push(chunk));
      const transport = _socketTransport(socket);
      transport.cork!();
      transport.write([bytes(1, 2)]);
      transport.cork!(); // once per turn is enough; a second call changes nothing
      transport.write([bytes(3), bytes(4, 5)]);
      assert.equal(socket.writableCorked, 1);
      assert.equal(transport.buffered(), 5, "held bytes count in the backlog");
      await new Promise((resolve) => process.nextTick(resolve));
      assert.equal(socket.writableCorked, 1, "still held after the tick");
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(socket.writableCorked, 0);
      for (const end = Date.now() + 5000; received.reduce((n, c) => n + c.length, 0) < 5 && Date.now() < end;) await nextTask();
      assert.deepEqual([...Buffer.concat(received)], [1, 2, 3, 4, 5]);
    } finally {
      client.destroy();
      socket.destroy();
      server.close();
    }
  });

  test("node: a write is held to the check phase, unless a turn's writes pass 256 KiB", { skip: runtime !== "node" && "Node's own socket cork" }, async () => {
    const a = await socketPair();
    const b = await socketPair();
    try {
      let got = 0;
      b.client.on("data", (chunk) => (got += chunk.length));
      const first = _socketTransport(a.socket);
      const second = _socketTransport(b.socket);
      first.write([bytes(1)]);
      second.write([new Uint8Array(64 * 1024)]);
      assert.equal(a.socket.writableCorked, 1, "a write is held without cork()");
      assert.equal(b.socket.writableCorked, 1);
      await new Promise((resolve) => process.nextTick(resolve));
      assert.equal(a.socket.writableCorked, 1, "held past the tick");
      // Both sockets' writes count toward the turn's limit: past it, every held write goes out.
      second.write([new Uint8Array(128 * 1024), new Uint8Array(64 * 1024 - 1)]);
      assert.equal(b.socket.writableCorked, 1, "256 KiB held (1 byte on the other socket), not past the limit");
      second.write([bytes(2)]);
      assert.equal(a.socket.writableCorked, 0, "past the limit: the other socket's write goes too");
      assert.equal(b.socket.writableCorked, 0);
      second.write([bytes(3)]);
      assert.equal(b.socket.writableCorked, 1, "the count starts again");
      const total = 256 * 1024 - 1 + 2;
      for (const end = Date.now() + 5000; got < total && Date.now() < end;) await nextTask();
      assert.equal(got, total);
      assert.equal(b.socket.writableCorked, 0);
    } finally {
      for (const { server, client, socket } of [a, b]) {
        client.destroy();
        socket.destroy();
        server.close();
      }
    }
  });

  test("bun: writes in one turn are held and go out as one write in a later task, in order", async () => {
    const writes: number[][] = [];
    const socket = {
      data: undefined as unknown as _BunRoute,
      remoteAddress: "127.0.0.1",
      write: (data: Uint8Array, offset = 0, length = data.byteLength - offset) => {
        writes.push([...data.subarray(offset, offset + length)]);
        return length;
      },
      end() {},
      terminate() {},
      pause() {},
      resume() {},
    } satisfies _BunSocket<_BunRoute>;
    const transport = new _BunTransport(socket);
    transport.start(transportSink(() => {}, () => {}));
    transport.write([bytes(0)]);
    assert.deepEqual(writes, [[0]], "without cork a write goes out at once");
    transport.cork();
    assert.equal(transport.write([bytes(1, 2)]), true);
    transport.write([bytes(3), bytes(4)]);
    assert.deepEqual(writes, [[0]], "held while corked");
    assert.equal(transport.buffered(), 4, "held bytes count in the backlog");
    await transport.drained();
    await nextTask();
    assert.deepEqual(writes, [[0], [1, 2, 3, 4]]);
    assert.equal(transport.buffered(), 0);
    transport.cork();
    transport.write([bytes(5)]);
    await transport.end(); // ending writes what is held first
    assert.deepEqual(writes.at(-1), [5]);
  });
});
