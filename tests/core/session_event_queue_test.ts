// Session's event queue: a whole message's event object is made as nextEvent() hands it out
// (the queue keeps its data and kind), so every kind of message event must come out with the
// same own keys and values as an event object queued whole, in order with the other events.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { SessionEvent } from "../../src/core/session_types.ts";
import { frame } from "../_frames.ts";
import { concat, openServer } from "../_util.ts";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const isUtf8 = (bytes: Uint8Array) => {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
};

// Each event with its own keys in order, so a key set to undefined shows.
const shapes = (events: SessionEvent[]) => events.map((e) => Object.entries(e).map(([key, value]) => [key, value instanceof Uint8Array ? [...value] : value]));

describe("Session event queue", () => {
  test("plain messages, in order with ping, closing, closed and closeTransport events", () => {
    const session = openServer();
    session.receive(concat(
      frame({ opcode: 0x2, payload: Uint8Array.of(1, 2) }),
      frame({ opcode: 0x9, payload: Uint8Array.of(7) }),
      frame({ opcode: 0x1, payload: "hi" }),
      frame({ opcode: 0x1, fin: false, payload: "in " }),
      frame({ opcode: 0x0, payload: "two" }),
      frame({ opcode: 0x8, payload: Uint8Array.of(0x03, 0xe8) }),
    ), 1);
    const got: SessionEvent[] = [];
    for (let e = session.nextEvent(); e; e = session.nextEvent()) got.push(e);
    assert.deepEqual(shapes(got), [
      [["type", "message"], ["data", [1, 2]]],
      [["type", "ping"], ["data", [7]]],
      [["type", "message"], ["data", "hi"]],
      [["type", "message"], ["data", "in two"]],
      [["type", "closing"], ["code", 1000], ["reason", ""], ["initiator", "remote"]],
      [["type", "closed"], ["code", 1000], ["reason", ""], ["wasClean", true]],
      [["type", "closeTransport"]],
    ]);
    assert.equal(session.nextEvent(), undefined);
    assert.equal(session.nextEvent(), undefined);
  });

  test("text bytes, views of a reused chunk, and both", () => {
    const session = openServer({ textBytes: () => isUtf8 });
    session.receive(frame({ opcode: 0x1, payload: "ok" }), 1);
    session.receive(frame({ opcode: 0x2, payload: Uint8Array.of(3) }), 1, { reused: true });
    session.receive(frame({ opcode: 0x1, payload: "ok" }), 1, { reused: true });
    session.receive(concat(frame({ opcode: 0x2, fin: false, payload: Uint8Array.of(4) }), frame({ opcode: 0x0, payload: Uint8Array.of(5) })), 1, { reused: true });
    const got: SessionEvent[] = [];
    for (let e = session.nextEvent(); e; e = session.nextEvent()) got.push(e);
    const ok = [..."ok"].map((c) => c.charCodeAt(0));
    assert.deepEqual(shapes(got), [
      [["type", "message"], ["data", ok], ["text", true]],
      [["type", "message"], ["data", [3]], ["view", true], ["text", undefined]],
      [["type", "message"], ["data", ok], ["view", true], ["text", true]],
      [["type", "message"], ["data", [4, 5]]],
    ]);
  });

  test("events taken between receives, and a new object for each message", () => {
    const session = openServer();
    const chunk = concat(frame({ opcode: 0x2, payload: Uint8Array.of(1) }), frame({ opcode: 0x2, payload: Uint8Array.of(2) }));
    session.receive(chunk, 1);
    const first = session.nextEvent();
    session.receive(frame({ opcode: 0x2, payload: Uint8Array.of(3) }), 1);
    const rest: SessionEvent[] = [];
    for (let e = session.nextEvent(); e; e = session.nextEvent()) rest.push(e);
    assert.deepEqual(shapes([first!, ...rest]), [1, 2, 3].map((b) => [["type", "message"], ["data", [b]]]));
    assert.equal(new Set([first, ...rest]).size, 3);
  });

  test("batches of every size in turn, a burst of 100 messages among them, come out whole and in order", () => {
    const session = openServer();
    let next = 0;
    for (const size of [1, 100, 2, 31, 100, 1, 64, 65, 3]) {
      // Binary messages of one byte each, numbered; a ping in the middle of each batch of two or more.
      const frames: Uint8Array[] = [];
      const want: unknown[] = [];
      for (let i = 0; i < size; i++) {
        const n = next++ & 0xff;
        frames.push(frame({ opcode: 0x2, payload: Uint8Array.of(n) }));
        want.push([["type", "message"], ["data", [n]]]);
        if (i === 0 && size > 1) {
          frames.push(frame({ opcode: 0x9, payload: Uint8Array.of(size) }));
          want.push([["type", "ping"], ["data", [size]]]);
        }
      }
      session.receive(concat(...frames), 1);
      const got: SessionEvent[] = [];
      for (let e = session.nextEvent(); e; e = session.nextEvent()) got.push(e);
      assert.deepEqual(shapes(got), want, `a batch of ${size}`);
      assert.equal(session.nextEvent(), undefined);
    }
  });
});
