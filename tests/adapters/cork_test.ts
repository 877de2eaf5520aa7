// Transports that hold one turn's writes (cork) and write them together: what Topics uses so a
// publish of several messages to many connections costs one write per connection, not one per
// message. The Node transport over a real socket pair, Bun's over a socket that records writes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createServer, connect, type Socket } from "node:net";
import process from "node:process";
import { _socketTransport } from "../../src/adapters/node/transport.ts";
import { _BunTransport, type _BunRoute } from "../../src/adapters/bun/transport.ts";
import type { _BunSocket } from "../../src/adapters/bun/types.ts";
import { transportSink } from "../_util.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const bytes = (...values: number[]) => new Uint8Array(values);
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

describe(`cork on ${runtime}`, () => {
  test("node: writes in one turn are held by the socket's cork and arrive together after the tick", { skip: runtime !== "node" && "Node's own socket cork" }, async () => {
    let accept: (socket: Socket) => void = () => {};
    const accepted = new Promise<Socket>((resolve) => (accept = resolve));
    const server = createServer((socket) => accept(socket)).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    const client = connect((server.address() as { port: number }).port, "127.0.0.1");
    const socket = await accepted;
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
      assert.equal(socket.writableCorked, 0);
      for (const end = Date.now() + 5000; received.reduce((n, c) => n + c.length, 0) < 5 && Date.now() < end;) await nextTask();
      assert.deepEqual([...Buffer.concat(received)], [1, 2, 3, 4, 5]);
    } finally {
      client.destroy();
      socket.destroy();
      server.close();
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
