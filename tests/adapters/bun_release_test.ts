// The Bun codec's large reads (src/adapters/bun/release_after_turn.ts): a chunk of 64 KiB or more
// goes to the connection as reused memory and its buffer is detached once its turn is over (at
// the next such read, or in a task after it), so its memory goes back at once instead of at the
// next collection; a chunk that a write or an echo framed in place may still use is left alone.
// The module needs only setImmediate and ArrayBuffer.prototype.transfer, so it runs everywhere
// but on Node 20, which has no transfer (there the release leaves every chunk to the collector).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { _receiveReleasing, _releasable } from "../../src/adapters/bun/release_after_turn.ts";
import { _forgetText, _rememberRoom } from "../../src/core/recent_text.ts";
import { transportSink } from "../_util.ts";

const KiB = 1024;
const task = () => new Promise((resolve) => setImmediate(resolve));
const nobody = { _holds: () => false };

// A sink that records each chunk's length and a byte as received, and whether it came as reused.
function recorder() {
  const seen: { length: number; first: number; reused: boolean | undefined }[] = [];
  const sink = transportSink((chunk, reused) => seen.push({ length: chunk.length, first: chunk[0], reused }), () => {});
  return { seen, sink };
}

const chunk = (size: number, fill: number) => new Uint8Array(size).fill(fill);
const canTransfer = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === "function";

describe("Bun codec: large reads are released after their turn", () => {
  test("only a whole buffer of 64 KiB or more is releasable", () => {
    assert.equal(_releasable(chunk(64 * KiB, 1)), true);
    assert.equal(_releasable(chunk(64 * KiB - 1, 1)), false);
    assert.equal(_releasable(chunk(128 * KiB, 1).subarray(1)), false, "a view into part of a buffer");
  });

  test("without ArrayBuffer.prototype.transfer, every chunk is left to the collector", { skip: canTransfer && "this runtime has transfer" }, async () => {
    const { seen, sink } = recorder();
    const a = chunk(64 * KiB, 1);
    _receiveReleasing(sink, a, nobody);
    await task();
    assert.deepEqual(seen, [{ length: 64 * KiB, first: 1, reused: true }]);
    assert.equal(a.length, 64 * KiB);
  });

  test("a chunk is whole through its turn (microtasks too), detached at the next read, the last one in a task", { skip: !canTransfer && "needs ArrayBuffer.prototype.transfer (not in Node 20)" }, async () => {
    const { seen, sink } = recorder();
    const a = chunk(64 * KiB, 1);
    const b = chunk(512 * KiB, 2);
    let duringTurn = -1;
    _receiveReleasing(sink, a, nobody);
    queueMicrotask(() => (duringTurn = a.length));
    await Promise.resolve();
    assert.equal(duringTurn, 64 * KiB);
    await new Promise((resolve) => setTimeout(resolve, 0)); // the next read comes in a later callback
    _receiveReleasing(sink, b, nobody);
    assert.deepEqual(seen, [{ length: 64 * KiB, first: 1, reused: true }, { length: 512 * KiB, first: 2, reused: true }]);
    assert.equal(a.buffer.byteLength, 0, "the earlier chunk is detached");
    assert.equal(b.length, 512 * KiB, "the chunk of this turn is not");
    await task();
    assert.equal(b.buffer.byteLength, 0, "detached in a task after its turn");
  });

  test("a chunk a write still holds, or where an echo may be framed in place, is left to the collector", async () => {
    const { sink } = recorder();
    const held = chunk(64 * KiB, 3);
    _receiveReleasing(sink, held, { _holds: (buffer) => buffer === held.buffer });
    const room = chunk(64 * KiB, 4);
    try {
      _receiveReleasing(sink, room, nobody);
      _rememberRoom(room.subarray(10), room.subarray(10));
      await task();
      assert.equal(held.length, 64 * KiB);
      assert.equal(room.length, 64 * KiB);
    } finally {
      _forgetText();
    }
  });
});
