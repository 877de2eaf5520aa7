import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Session } from "../../src/core/session.ts";
import type { SessionEvent, SessionOptions } from "../../src/core/session_types.ts";
import { hex } from "../_util.ts";

/** Two sessions joined in memory, with a fake clock; `pump` moves bytes until both are quiet. */
function pair(options: Partial<SessionOptions> = {}, server: Partial<SessionOptions> = {}) {
  const clock = { now: 0 };
  const c = new Session({ role: "client", now: 0, ...options });
  const s = new Session({ role: "server", now: 0, ...options, ...server });
  c.open(0);
  s.open(0);
  const events = { client: [] as SessionEvent[], server: [] as SessionEvent[] };
  const transport = { client: "open", server: "open" };
  function drain(from: Session, to: Session, name: "client" | "server", peer: "client" | "server") {
    let moved = false;
    for (const chunk of from.takeOutput()) {
      moved = true;
      if (transport[name] === "open" && to.state !== "closed") to.receive(chunk, clock.now);
    }
    for (let e = from.nextEvent(); e; e = from.nextEvent()) {
      events[name].push(e);
      moved = true;
      if (e.type === "closeTransport") {
        transport[name] = "closed";
        to.transportClosed(clock.now); // the peer sees the TCP close
        transport[peer] = "closed";
      }
    }
    return moved;
  }
  function pump(limit = 100) {
    for (let i = 0; i < limit; i++) {
      const a = drain(c, s, "client", "server");
      const b = drain(s, c, "server", "client");
      if (!a && !b) return;
    }
    throw new Error("pump did not settle");
  }
  function advance(ms: number) {
    clock.now += ms;
    for (const session of [c, s]) {
      const deadline = session.nextDeadline();
      if (deadline !== undefined && deadline <= clock.now) session.handleTimeout(clock.now);
    }
    pump();
  }
  return { c, s, clock, events, transport, pump, advance };
}

const types = (events: SessionEvent[]) => events.map((e) => e.type);
const closed = (events: SessionEvent[]) => events.find((e) => e.type === "closed") as Extract<SessionEvent, { type: "closed" }> | undefined;

describe("Session: messages", () => {
  test("messages flow both ways, fragmented when asked", () => {
    const p = pair({ fragmentSize: 3 });
    p.c.send("Hello");
    p.s.send(new Uint8Array([1, 2, 3, 4, 5]));
    p.pump();
    assert.deepEqual(p.events.server, [{ type: "message", data: "Hello" }]);
    assert.deepEqual(p.events.client, [{ type: "message", data: new Uint8Array([1, 2, 3, 4, 5]) }]);
  });

  test("pings during a fragmented message are answered and the message still arrives", () => {
    const p = pair();
    const server = new Session({ role: "server", now: 0 });
    server.open(0);
    // A client's fragmented text with a ping in the middle (all masked with a zero key).
    server.receive(hex("01 83 00 00 00 00 48 65 6c 89 81 00 00 00 00 70 80 82 00 00 00 00 6c 6f"), 0);
    const out = server.takeOutput();
    assert.deepEqual(out, [hex("8a 01 70")]);
    const events = [server.nextEvent(), server.nextEvent()];
    assert.deepEqual(events, [{ type: "ping", data: hex("70") }, { type: "message", data: "Hello" }]);
    void p;
  });

  test("messages written just before close all arrive before the close", () => {
    const p = pair();
    for (let i = 0; i < 100; i++) p.c.send(`m${i}`);
    p.c.close(0, 1000, "done");
    p.pump();
    const messages = p.events.server.filter((e) => e.type === "message").map((e) => (e as { data: string }).data);
    assert.equal(messages.length, 100);
    assert.equal(messages[99], "m99");
    assert.deepEqual(closed(p.events.server), { type: "closed", code: 1000, reason: "done", wasClean: true });
  });

  test("streamMessages hands out pieces as frames arrive", () => {
    const p = pair({ fragmentSize: 4 }, { streamMessages: true });
    p.c.send(new Uint8Array(10).fill(9));
    p.pump();
    assert.deepEqual(p.events.server.map((e) => e.type === "piece" ? [e.data.length, e.first, e.last, e.binary] : e.type), [
      [4, true, false, true],
      [4, false, false, true],
      [2, false, true, true],
    ]);
  });

  test("send refuses to run outside the open states, naming the state", () => {
    const p = pair();
    p.c.close(0, 1000);
    assert.throws(() => p.c.send("late"), (e: unknown) => e instanceof DOMException && e.name === "InvalidStateError" && /closingLocal/.test(e.message));
    const fresh = new Session({ role: "client", now: 0 });
    assert.throws(() => fresh.send("early"), /Cannot send a message: the connection is connecting/);
    assert.throws(() => fresh.receive(new Uint8Array(1), 0), /connecting/);
  });
});

describe("Session: closing handshake (RFC 6455 section 7)", () => {
  test("a local close is echoed, the server closes the transport and both report a clean close", () => {
    const p = pair();
    p.c.close(0, 4000, "bye");
    assert.equal(p.c.state, "closingLocal");
    p.pump();
    assert.deepEqual(types(p.events.server), ["closing", "closed", "closeTransport"]);
    assert.deepEqual(closed(p.events.server), { type: "closed", code: 4000, reason: "bye", wasClean: true });
    assert.deepEqual(closed(p.events.client), { type: "closed", code: 4000, reason: "bye", wasClean: true });
    assert.equal(p.c.state, "closed");
    assert.equal(p.s.state, "closed");
  });

  test("a client whose server never closes TCP closes it itself after closeTimeout", () => {
    const c = new Session({ role: "client", now: 0, closeTimeout: 500 });
    c.open(0);
    c.close(0, 1000);
    c.takeOutput();
    c.receive(hex("88 02 03 e8"), 10);
    assert.deepEqual([c.nextEvent()?.type, c.nextEvent()?.type, c.nextEvent()], ["closing", "closed", undefined]);
    assert.equal(c.nextDeadline(), 510);
    c.handleTimeout(509);
    assert.equal(c.nextEvent(), undefined);
    c.handleTimeout(510);
    assert.deepEqual(c.nextEvent(), { type: "closeTransport" });
  });

  test("both sides closing at once end clean with their own codes", () => {
    const p = pair();
    p.c.close(0, 4001, "client");
    p.s.close(0, 4002, "server");
    p.pump();
    assert.deepEqual(closed(p.events.client), { type: "closed", code: 4002, reason: "server", wasClean: true });
    assert.deepEqual(closed(p.events.server), { type: "closed", code: 4001, reason: "client", wasClean: true });
  });

  test("a peer that never answers our close is cut off after closeTimeout with 1006", () => {
    const s = new Session({ role: "server", now: 0, closeTimeout: 1000, heartbeat: false });
    s.open(0);
    s.close(5, 1000);
    assert.equal(s.nextDeadline(), 1005);
    s.handleTimeout(1005);
    const events = [s.nextEvent(), s.nextEvent(), s.nextEvent()];
    assert.equal(events[0]?.type, "closing");
    assert.deepEqual({ ...events[1], error: undefined }, { type: "closed", code: 1006, reason: "", wasClean: false, error: undefined });
    assert.match((events[1] as { error: Error }).error.message, /did not answer the close frame in time/);
    assert.deepEqual(events[2], { type: "closeTransport" });
  });

  test("with autoCloseReply off the peer's close waits for close() to be answered", () => {
    const p = pair({}, { autoCloseReply: false });
    p.c.close(0, 1001, "away");
    p.pump();
    assert.equal(p.s.state, "closingRemote");
    assert.deepEqual(types(p.events.server), ["closing"]);
    p.s.send("last words");
    p.s.close(0, 1001);
    p.pump();
    assert.deepEqual(closed(p.events.server), { type: "closed", code: 1001, reason: "away", wasClean: true });
    assert.deepEqual(p.events.client.filter((e) => e.type === "message"), [{ type: "message", data: "last words" }]);
  });

  test("an empty close frame is echoed empty and reported as 1005", () => {
    const s = new Session({ role: "server", now: 0 });
    s.open(0);
    s.receive(hex("88 80 00 00 00 00"), 0);
    assert.deepEqual(s.takeOutput(), [hex("88 00")]);
    assert.deepEqual(types([s.nextEvent()!, s.nextEvent()!, s.nextEvent()!]), ["closing", "closed", "closeTransport"]);
  });

  test("frames after the peer's close frame are ignored", () => {
    const s = new Session({ role: "server", now: 0, autoCloseReply: false });
    s.open(0);
    s.receive(hex("88 82 00 00 00 00 03 e8 81 81 00 00 00 00 61"), 0);
    s.receive(hex("81 81 00 00 00 00 62"), 0);
    assert.deepEqual(types([s.nextEvent()!]), ["closing"]);
    assert.equal(s.nextEvent(), undefined);
  });

  test("the transport ending without a close frame reports 1006", () => {
    const p = pair();
    p.s.transportClosed(0);
    assert.deepEqual(p.s.nextEvent(), { type: "closed", code: 1006, reason: "", wasClean: false });
    assert.equal(p.s.nextEvent(), undefined, "no closeTransport for a transport already closed");
  });
});

describe("Session: failing the connection (RFC 6455 section 7.1.7)", () => {
  test("a protocol violation sends a close with its code, reports it and closes the transport", () => {
    const s = new Session({ role: "server", now: 0 });
    s.open(0);
    s.receive(hex("81 05 48 65 6c 6c 6f"), 0); // unmasked from a client
    assert.deepEqual(s.takeOutput(), [hex("88 02 03 ea")]);
    const e = s.nextEvent() as Extract<SessionEvent, { type: "closed" }>;
    assert.equal(e.type, "closed");
    assert.equal(e.code, 1002);
    assert.equal(e.wasClean, false);
    assert.match(e.error!.message, /not masked/);
    assert.deepEqual(s.nextEvent(), { type: "closeTransport" });
  });

  test("a failure mid-message drops the partial message", () => {
    const s = new Session({ role: "server", now: 0 });
    s.open(0);
    s.receive(hex("01 81 00 00 00 00 61 81 81 00 00 00 00 62"), 0);
    assert.deepEqual(s.takeOutput(), [hex("88 02 03 ea")]);
    assert.equal(s.nextEvent()?.type, "closed");
  });

  test("invalid UTF-8 fails with 1007 and a close frame with a 1-byte body with 1002", () => {
    for (const [input, code] of [["81 82 00 00 00 00 c3 28", "03 ef"], ["88 81 00 00 00 00 03", "03 ea"]]) {
      const s = new Session({ role: "server", now: 0 });
      s.open(0);
      s.receive(hex(input), 0);
      assert.deepEqual(s.takeOutput(), [hex(`88 02 ${code}`)]);
    }
  });
});

describe("Session: heartbeat", () => {
  test("pings an idle peer, reports the round-trip time, and stays open", () => {
    const p = pair({ heartbeat: { interval: 1000, timeout: 500 } });
    p.advance(999);
    assert.equal(p.events.client.length, 0);
    p.advance(1);
    const pong = (p.events.client.find((e) => e.type === "pong") ?? p.events.server.find((e) => e.type === "pong")) as
      | Extract<SessionEvent, { type: "pong" }>
      | undefined;
    assert.equal(pong?.rtt, 0);
    assert.equal(p.c.state, "open");
  });

  test("a missed pong fails the connection after the timeout", () => {
    const s = new Session({ role: "server", now: 0, heartbeat: { interval: 1000, timeout: 500 } });
    s.open(0);
    assert.equal(s.nextDeadline(), 1000);
    s.handleTimeout(1000);
    assert.equal(s.takeOutput()[0][0], 0x89, "a ping went out");
    assert.equal(s.nextDeadline(), 1500);
    s.handleTimeout(1500);
    const e = s.nextEvent() as Extract<SessionEvent, { type: "closed" }>;
    assert.equal(e.code, 1006);
    assert.match(e.error!.message, /no pong or other traffic within 500 ms/);
    assert.deepEqual(s.nextEvent(), { type: "closeTransport" });
  });

  test("any traffic from the peer counts as alive and postpones the ping", () => {
    const s = new Session({ role: "server", now: 0, heartbeat: { interval: 1000, timeout: 500 } });
    s.open(0);
    s.handleTimeout(1000);
    s.takeOutput();
    s.receive(hex("81 81 00 00 00 00 61"), 1200);
    assert.equal(s.nextDeadline(), 2200);
  });

  test("ping() reports the round-trip time of its own pong", () => {
    const p = pair({ heartbeat: false });
    const id = p.c.ping(0);
    p.clock.now = 42;
    p.pump();
    assert.deepEqual(p.events.client.filter((e) => e.type === "pong").map((e) => e.type === "pong" && [e.id, e.rtt]), [[id, 42]]);
  });

  test("autoPong off leaves pings unanswered", () => {
    const s = new Session({ role: "server", now: 0, autoPong: false });
    s.open(0);
    s.receive(hex("89 80 00 00 00 00"), 0);
    assert.deepEqual(s.takeOutput(), []);
    assert.equal(s.nextEvent()?.type, "ping");
  });

  test("the handshake times out while connecting", () => {
    const s = new Session({ role: "client", now: 100, handshakeTimeout: 50 });
    assert.equal(s.nextDeadline(), 150);
    s.handleTimeout(150);
    assert.equal(s.nextEvent()?.type, "closed");
    assert.deepEqual(s.nextEvent(), { type: "closeTransport" });
  });
});

describe("Session: pongs (RFC 6455 section 5.5.3)", () => {
  // Masked with a zero key: the payload bytes are as written.
  const ping = (byte: string) => hex(`89 81 00 00 00 00 ${byte}`);

  test("several pings in one chunk get one pong, for the latest", () => {
    const s = new Session({ role: "server", now: 0 });
    s.open(0);
    s.receive(hex(`${"89 81 00 00 00 00 61 ".repeat(3)} 89 81 00 00 00 00 62`), 0);
    assert.deepEqual(s.takeOutput(), [hex("8a 01 62")]);
    assert.deepEqual(types([s.nextEvent()!, s.nextEvent()!, s.nextEvent()!, s.nextEvent()!]), ["ping", "ping", "ping", "ping"]);
  });

  test("holdPong keeps one pong back, replaced by each newer ping, and it owns its payload", () => {
    const s = new Session({ role: "server", now: 0 });
    s.open(0);
    const chunks = [ping("61"), ping("62"), ping("63")];
    for (const chunk of chunks) {
      s.receive(chunk, 0);
      assert.deepEqual(s.takeOutput({ holdPong: true }), []);
    }
    for (const chunk of chunks) chunk.fill(0); // the transport reuses its buffers
    s.send("m");
    assert.deepEqual(s.takeOutput({ holdPong: true }), [hex("81 01 6d")]);
    assert.deepEqual(s.takeOutput(), [hex("8a 01 63")]);
    assert.deepEqual(s.takeOutput(), []);
  });

  test("pingEvents off: pings are answered as before, with no event for them", () => {
    const s = new Session({ role: "server", now: 0, pingEvents: false });
    s.open(0);
    s.receive(hex(`${"89 81 00 00 00 00 61 ".repeat(3)} 89 81 00 00 00 00 62 81 81 00 00 00 00 6d`), 0);
    assert.deepEqual(s.takeOutput(), [hex("8a 01 62")]);
    assert.deepEqual(s.nextEvent(), { type: "message", data: "m" });
    assert.equal(s.nextEvent(), undefined);
  });

  test("pings of every length, the chunks split in several places: one pong with the latest payload exactly, events with copies", () => {
    const masked = (payload: Uint8Array) => {
      const key = [0x37, 0xfa, 0x21, 0x3d];
      return Uint8Array.from([0x89, 0x80 | payload.length, ...key, ...payload.map((b, i) => b ^ key[i & 3])]);
    };
    const payloads = Array.from({ length: 126 }, (_, n) => Uint8Array.from({ length: n }, (_, i) => (n * 7 + i) & 0xff));
    const last = payloads[125];
    const wire = Uint8Array.from(payloads.flatMap((p) => [...masked(p)]));
    for (const at of [1, 7, 131, 2000, wire.length - 60, wire.length - 1]) {
      const s = new Session({ role: "server", now: 0 });
      s.open(0);
      const chunks = [wire.slice(0, at), wire.slice(at)];
      for (const chunk of chunks) {
        s.receive(chunk, 0);
        assert.equal(s.takeOutput({ holdPong: true }).length, 0);
      }
      for (const chunk of chunks) chunk.fill(0xee); // nothing of the pings is a view into them
      assert.deepEqual(s.takeOutput(), [Uint8Array.from([0x8a, 125, ...last])], `split at ${at}`);
      const pings: Uint8Array[] = [];
      for (let e = s.nextEvent(); e; e = s.nextEvent()) if (e.type === "ping") pings.push(e.data);
      assert.deepEqual(pings, payloads, `split at ${at}: each event holds its own payload`);
    }
  });

  test("pingEvents off with autoPong off is refused: no one would answer the pings", () => {
    assert.throws(() => new Session({ role: "server", now: 0, autoPong: false, pingEvents: false }), TypeError);
  });

  test("a held pong goes out before the close frame, and none after it", () => {
    const s = new Session({ role: "server", now: 0 });
    s.open(0);
    s.receive(ping("61"), 0);
    s.close(0, 1000);
    assert.deepEqual(s.takeOutput({ holdPong: true }), [hex("8a 01 61"), hex("88 02 03 e8")]);
    s.receive(ping("62"), 0);
    assert.deepEqual(s.takeOutput(), []);
  });
});

describe("Session: deferFailure holds a violation at its place in the stream (section 7.1.7)", () => {
  test("messages before it are delivered, replies go out, and failPending sends the close frame", () => {
    const s = new Session({ role: "server", now: 0, deferFailure: true });
    s.open(0);
    // "a", then a frame with RSV2 set, then "b" that is never read.
    s.receive(hex("81 81 00 00 00 00 61 a1 81 00 00 00 00 78 81 81 00 00 00 00 62"), 0);
    assert.deepEqual(s.nextEvent(), { type: "message", data: "a" });
    assert.equal(s.nextEvent(), undefined);
    assert.deepEqual(s.takeOutput(), []);
    assert.equal(s.state, "open");
    assert.equal(s.pendingFailure?.closeCode, 1002);
    s.receive(hex("81 81 00 00 00 00 63"), 0); // nothing after the violation is read
    assert.equal(s.nextEvent(), undefined);
    s.send("a");
    s.failPending(1);
    assert.deepEqual(s.takeOutput(), [hex("81 01 61"), hex("88 02 03 ea")]);
    assert.equal(closed([s.nextEvent()!])?.code, 1002);
    assert.deepEqual(s.nextEvent(), { type: "closeTransport" });
    assert.equal(s.pendingFailure, undefined);
  });

  test("close() while a violation is held fails with the violation's code", () => {
    const s = new Session({ role: "server", now: 0, deferFailure: true });
    s.open(0);
    s.receive(hex("81 81 00 00 00 00 61 83 80 00 00 00 00"), 0);
    s.close(0, 1000);
    assert.deepEqual(s.takeOutput(), [hex("88 02 03 ea")]);
  });

  test("the transport closing while a violation is held reports the violation", () => {
    const s = new Session({ role: "server", now: 0, deferFailure: true });
    s.open(0);
    s.receive(hex("81 81 00 00 00 00 61 83 80 00 00 00 00"), 0);
    s.transportClosed(0);
    s.nextEvent();
    const e = closed([s.nextEvent()!]);
    assert.equal(e?.code, 1002);
    assert.match(e!.error!.message, /opcode/);
  });
});
