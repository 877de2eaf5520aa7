// Session.receive with `reused`: the caller writes over the chunk once the call's turn is over
// (a transport that reads into the same memory again). Whatever the Session keeps or hands out
// must survive that, but for a binary message whole in the chunk, which is marked `view` for its
// caller to copy; and only the Session that received a message may frame its echo in place.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameEncoder } from "../../src/core/frame_encoder.ts";
import { Session } from "../../src/core/session.ts";
import { concat as concatBytes, openServer } from "../_util.ts";
import type { SessionEvent } from "../../src/core/session_types.ts";
import { _roomIn } from "../../src/core/recent_text.ts";

const client = new FrameEncoder({ role: "client" });
const frame = (opcode: number, payload: Uint8Array, fin = true) => concat(client.encode({ opcode, payload, fin }));
const REUSED = { reused: true };

const concat = (chunks: Uint8Array[]) => concatBytes(...chunks);
const server = openServer;

function events(session: Session): SessionEvent[] {
  const got: SessionEvent[] = [];
  for (let e = session.nextEvent(); e; e = session.nextEvent()) got.push(e);
  return got;
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

// Reads `wire` through one reused buffer, `size` bytes at a time, as a transport that reuses
// its read memory does: each read overwrites the one before.
function receiveThrough(session: Session, wire: Uint8Array, size: number): SessionEvent[] {
  const memory = new Uint8Array(size);
  const got: SessionEvent[] = [];
  for (let at = 0; at < wire.length; at += size) {
    const n = Math.min(size, wire.length - at);
    memory.set(wire.subarray(at, at + n));
    session.receive(memory.subarray(0, n), 1, REUSED);
    got.push(...events(session));
    memory.fill(0xee); // the next read lands here
  }
  return got;
}

describe("Session.receive over reused memory", () => {
  test("a fragmented binary message gathered across reads holds its own bytes", () => {
    const s = server();
    const parts = [bytes(6000, 1), bytes(6000, 2), bytes(500, 3)]; // kept as views (4 KiB or more) unless copied
    const wire = concat([frame(0x2, parts[0], false), frame(0x0, parts[1], false), frame(0x0, parts[2])]);
    const got = receiveThrough(s, wire, 7000);
    const message = got.find((e) => e.type === "message");
    assert.ok(message && message.type === "message");
    assert.deepEqual(message.data, concat(parts));
    assert.equal(message.view, undefined, "a copy, not a view");
  });

  test("a large binary message across reads is copied once, into its own buffer as its first read arrives", () => {
    const made: Uint8Array[] = [];
    const s = server({ allocate: (size) => (made.push(new Uint8Array(size)), made[made.length - 1]) });
    const payload = bytes(64 * 1024, 5);
    const wire = frame(0x2, payload);
    const memory = new Uint8Array(16 * 1024);
    const got: SessionEvent[] = [];
    const madeAfter: number[] = [];
    for (let at = 0; at < wire.length; at += memory.length) {
      const n = Math.min(memory.length, wire.length - at);
      memory.set(wire.subarray(at, at + n));
      s.receive(memory.subarray(0, n), 1, REUSED);
      got.push(...events(s));
      madeAfter.push(made.length);
      memory.fill(0xee);
    }
    // The message's buffer is made by the first read (16 KiB of 64 KiB, more than an eighth),
    // each read's piece is copied straight into it, and it is the message handed out.
    assert.deepEqual(madeAfter, [1, 1, 1, 1, 1]);
    assert.equal(made[0].length, 64 * 1024);
    const message = got.find((e) => e.type === "message");
    assert.ok(message && message.type === "message");
    assert.deepEqual(message.data, payload);
    assert.equal((message.data as Uint8Array).buffer, made[0].buffer);
    assert.equal(message.view, undefined, "a copy, not a view");
  });

  test("a fragmented text message across reads, cut inside characters, decodes whole", () => {
    const s = server();
    const text = "ünïcødé ✓ ".repeat(120);
    const encoded = new TextEncoder().encode(text);
    const wire = concat([frame(0x1, encoded.subarray(0, 501), false), frame(0x0, encoded.subarray(501))]);
    const message = receiveThrough(s, wire, 97).find((e) => e.type === "message");
    assert.equal(message?.type === "message" && message.data, text);
  });

  test("streamed pieces hold their own bytes", () => {
    const s = server({ streamMessages: true });
    const parts = [bytes(500, 4), bytes(500, 5)];
    const wire = concat([frame(0x2, parts[0], false), frame(0x0, parts[1])]);
    const pieces = receiveThrough(s, wire, 128).filter((e) => e.type === "piece");
    const data = concat(pieces.map((e) => (e as Extract<SessionEvent, { type: "piece" }>).data));
    assert.deepEqual(data, concat(parts));
  });

  test("a ping's event holds its own copy; its pong carries the payload after the memory is written over", () => {
    const s = server();
    const payload = new TextEncoder().encode("are you there? ".repeat(8));
    const memory = frame(0x9, payload);
    s.receive(memory, 1, REUSED);
    const ping = events(s).find((e) => e.type === "ping");
    assert.ok(ping?.type === "ping");
    memory.fill(0xee);
    assert.notEqual(ping.data.buffer, memory.buffer);
    assert.deepEqual(ping.data, payload);
    const peer = new Session({ role: "client", now: 0, heartbeat: false });
    peer.open(0);
    for (const chunk of s.takeOutput()) peer.receive(chunk.slice(), 1);
    const pong = events(peer).find((e) => e.type === "pong");
    assert.deepEqual(pong?.type === "pong" && pong.data, payload);
  });

  test("pings read through one memory while the pong is held: one pong, the latest ping's payload exactly", () => {
    const s = server({ pingEvents: false });
    const payloads = Array.from({ length: 40 }, (_, i) => bytes(125 - (i % 7), i));
    const wire = concat(payloads.map((p) => frame(0x9, p)));
    const memory = new Uint8Array(1000);
    for (let at = 0; at < wire.length; at += memory.length) {
      const n = Math.min(memory.length, wire.length - at);
      memory.set(wire.subarray(at, at + n));
      s.receive(memory.subarray(0, n), 1, REUSED);
      assert.deepEqual(s.takeOutput({ holdPong: true }), [], "held while the transport is over its mark");
      assert.equal(s.nextEvent(), undefined);
      memory.fill(0xee); // the next read lands here
    }
    const last = payloads[payloads.length - 1];
    assert.deepEqual(s.takeOutput(), [concat([new Uint8Array([0x8a, last.length]), last])]);
    assert.deepEqual(s.takeOutput(), []);
  });

  test("a ping split between a reused read and a fresh one is answered with its payload exactly", () => {
    const payload = bytes(125, 9);
    const wire = frame(0x9, payload);
    for (const at of [3, 6, 7, 70, wire.length - 1]) {
      for (const reusedFirst of [true, false]) {
        const s = server({ pingEvents: false });
        const first = wire.slice(0, at);
        const rest = wire.slice(at);
        s.receive(first, 1, reusedFirst ? REUSED : undefined);
        first.fill(0xee);
        s.receive(rest, 1, reusedFirst ? undefined : REUSED);
        rest.fill(0xee);
        assert.deepEqual(s.takeOutput(), [concat([new Uint8Array([0x8a, 125]), payload])], `split at ${at}`);
      }
    }
  });

  test("a pong's event holds its own copy, and still answers our ping", () => {
    const s = server({ heartbeat: false });
    const id = s.ping(1);
    const sent = s.takeOutput()[0];
    const memory = frame(0xa, sent.subarray(2)); // the client echoes the ping's payload
    s.receive(memory, 5, REUSED);
    const pong = events(s).find((e) => e.type === "pong");
    assert.ok(pong?.type === "pong");
    memory.fill(0xee);
    assert.notEqual(pong.data.buffer, memory.buffer);
    assert.deepEqual(pong.data, sent.subarray(2));
    assert.equal(pong.id, id);
    assert.equal(pong.rtt, 4);
  });

  test("a whole binary message is a view marked `view`; its echo is framed in place by its own Session only", () => {
    const a = server();
    const b = server();
    const payload = bytes(400, 9);
    const memory = frame(0x2, payload);
    a.receive(memory, 1, REUSED);
    const message = events(a).find((e) => e.type === "message");
    assert.ok(message && message.type === "message" && message.data instanceof Uint8Array);
    assert.equal(message.view, true);
    assert.equal(message.data.buffer, memory.buffer);
    assert.ok(_roomIn(memory.buffer), "an echo may still be framed there");
    const before = memory.slice();
    b.send(message.data); // (a caller copies a `view` message it does not send straight back)
    assert.deepEqual(memory, before, "another Session does not frame in that memory");
    assert.equal(b.takeOutput().length, 2, "a header of its own, then the payload");
    a.send(message.data);
    const out = a.takeOutput();
    assert.equal(out.length, 1);
    assert.equal(out[0].buffer, memory.buffer, "the echo is framed in place");
  });

  test("a text message's bytes are not remembered for later sends, and its echo's room is its Session's", () => {
    const a = server();
    const b = server();
    const text = "x".repeat(500);
    const memory = frame(0x1, new TextEncoder().encode(text));
    a.receive(memory, 1, REUSED);
    const message = events(a).find((e) => e.type === "message");
    assert.equal(message?.type === "message" && message.data, text);
    b.send(text);
    assert.ok(b.takeOutput().every((c) => c.buffer !== memory.buffer), "another Session encodes it anew");
    a.send(text);
    assert.equal(a.takeOutput()[0].buffer, memory.buffer);
  });

  test("without `reused`, chunks are never copied: views as before", () => {
    const s = server();
    const memory = frame(0x2, bytes(400, 1));
    s.receive(memory, 1);
    const message = events(s).find((e) => e.type === "message");
    assert.ok(message?.type === "message" && message.data instanceof Uint8Array);
    assert.equal(message.data.buffer, memory.buffer);
    assert.equal(message.view, undefined);
  });
});
