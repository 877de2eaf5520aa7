// A topic's run of frames and the pieces subscribers hold of it: what bytes each piece gives,
// when the run seals, and who is listed as detached.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { _FrameRun, _RunPiece } from "../../src/streams/frame_run.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);
// Holders are the subscribers' sinks; any object will do here.
const holder = (name: string) => ({ name });

describe("_FrameRun", () => {
  test("a piece taken to the end gives every frame joined, the same array for every holder, and seals the run", () => {
    const run = new _FrameRun();
    run.append(bytes(1, 2));
    const a = new _RunPiece(run, holder("a"), 0);
    const b = new _RunPiece(run, holder("b"), 0);
    run.append(bytes(3));
    run.append(bytes(4, 5, 6));
    assert.equal(a.byteLength, 6);
    assert.equal(run.sealed, false);
    const taken = a.take();
    assert.deepEqual([...taken], [1, 2, 3, 4, 5, 6]);
    assert.equal(run.sealed, true);
    assert.equal(b.take(), taken, "joined once for all holders");
    assert.throws(() => run.append(bytes(7)), /sealed/);
  });

  test("a piece of one frame is that frame, with no copy", () => {
    const run = new _FrameRun();
    const frame = bytes(9, 9);
    run.append(frame);
    assert.equal(new _RunPiece(run, holder("a"), 0).take(), frame);
  });

  test("a cut piece ends where it was cut and lists its holder as detached; taking it seals the run", () => {
    const run = new _FrameRun();
    run.append(bytes(1));
    const cut = new _RunPiece(run, holder("cut"), 0);
    run.append(bytes(2));
    cut.cut();
    cut.cut(); // once is enough
    assert.deepEqual(run.detached, [{ name: "cut" }]);
    run.append(bytes(3));
    assert.equal(cut.byteLength, 2);
    // Its holder gets a new piece from the next frame on.
    const again = new _RunPiece(run, holder("cut"), 2);
    assert.equal(run.sealed, false);
    assert.deepEqual([...cut.take()], [1, 2]);
    assert.equal(run.sealed, true);
    assert.deepEqual([...again.take()], [3]);
  });

  test("a piece cut after the run sealed lists nobody", () => {
    const run = new _FrameRun();
    run.append(bytes(1));
    const first = new _RunPiece(run, holder("first"), 0);
    const late = new _RunPiece(run, holder("late"), 0);
    first.take();
    late.cut();
    assert.deepEqual(run.detached, []);
    assert.deepEqual([...late.take()], [1]);
  });
});
