// Reads that arrive as a subclass of Uint8Array (Node's sockets hand out Buffers): the decoder
// and the Session cut their views as plain Uint8Arrays over the same memory, so what a caller
// gets is the same type on every runtime, and a subclass whose slice() makes a view (as Buffer's
// does) cannot turn a copy the decoder hands out into a view of memory the transport reuses.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameDecoder } from "../../src/core/frame_decoder.ts";
import { FrameEncoder } from "../../src/core/frame_encoder.ts";
import { concat, openServer } from "../_util.ts";
import type { FramePart } from "../../src/core/frame.ts";

// Like Node's Buffer: a subclass whose slice() is a view, not a copy.
class ViewSlice extends Uint8Array {
  override slice(start?: number, end?: number): Uint8Array<ArrayBuffer> {
    return this.subarray(start, end);
  }
}
const asSubclass = (bytes: Uint8Array) => {
  const memory = new ViewSlice(bytes.length + 8); // at an offset, as a read into a larger buffer
  memory.set(bytes, 8);
  return memory.subarray(8) as ViewSlice;
};

const client = new FrameEncoder({ role: "client" });
const frame = (opcode: number, payload: Uint8Array, fin = true) => concat(...client.encode({ opcode, payload, fin }));
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("reads that are a subclass of Uint8Array", () => {
  test("FrameDecoder hands out plain Uint8Array views over the read's memory, unmasked in place", () => {
    const payload = bytes(300, 1);
    const chunk = asSubclass(frame(0x2, payload));
    assert.ok(chunk instanceof ViewSlice);
    const decoder = new FrameDecoder({ role: "server" });
    decoder.push(chunk);
    const part = decoder.next() as FramePart;
    assert.equal(part.payload.constructor, Uint8Array);
    assert.equal(part.payload.buffer, chunk.buffer, "a view, not a copy");
    assert.deepEqual([...part.payload], [...payload]);
    assert.deepEqual([...chunk.subarray(chunk.length - 300)], [...payload], "unmasked in the read's memory");
  });

  test("copyBelow's copies are copies even when the read's slice() is a view", () => {
    const decoder = new FrameDecoder({ role: "server", copyBelow: 64 });
    const chunk = asSubclass(frame(0x2, bytes(16, 2)));
    decoder.push(chunk);
    const part = decoder.next() as FramePart;
    assert.equal(part.payload.constructor, Uint8Array);
    assert.notEqual(part.payload.buffer, chunk.buffer, "16 bytes < copyBelow: memory of its own");
    chunk.fill(0); // the transport reads into this memory again
    assert.deepEqual([...part.payload], [...bytes(16, 2)]);
  });

  test("a Session hands out whole and joined binary messages as plain Uint8Arrays", () => {
    const session = openServer();
    const small = bytes(16, 3);
    const large = bytes(100_000, 4);
    const wire = concat(frame(0x2, small), frame(0x2, large.subarray(0, 60_000), false), frame(0x0, large.subarray(60_000)));
    // Two reads, the second frame split across them.
    session.receive(asSubclass(wire.subarray(0, 30_000)), 1);
    session.receive(asSubclass(wire.subarray(30_000)), 1);
    const got: Uint8Array[] = [];
    for (let e = session.nextEvent(); e; e = session.nextEvent()) if (e.type === "message") got.push(e.data as Uint8Array);
    assert.equal(got.length, 2);
    for (const message of got) assert.equal(message.constructor, Uint8Array);
    assert.deepEqual([...got[0]], [...small]);
    assert.equal(got[1].length, large.length);
    assert.ok(got[1].every((x, i) => x === large[i]));
  });

  test("text from a subclass read is decoded the same", () => {
    const session = openServer();
    const text = "héllo, wörld ".repeat(40);
    session.receive(asSubclass(frame(0x1, new TextEncoder().encode(text))), 1);
    const event = session.nextEvent();
    assert.equal(event?.type, "message");
    assert.equal(event?.type === "message" && event.data, text);
  });
});
