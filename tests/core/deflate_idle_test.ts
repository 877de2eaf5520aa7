// Freeing idle zlib contexts (PerMessageDeflate.idleCheck and the Session's deadline for it): a
// freed context is rebuilt from the last window of data, so a peer that never freed anything
// decodes every later message, and back-references into earlier messages still work.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DeflateContextPool, PerMessageDeflate } from "../../src/core/deflate.ts";
import type { DeflateParams } from "../../src/core/extensions.ts";
import type { FramePart } from "../../src/core/frame.ts";
import { ProtocolError } from "../../src/core/protocol_error.ts";
import { Session } from "../../src/core/session.ts";
import { _WindowHistory } from "../../src/core/window_history.ts";
import { countingEngines, dictionaryHonoured, zlibApis } from "../_deflate.ts";

const takeover: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

function whole(payload: Uint8Array, rsv1: boolean): FramePart {
  return { fin: true, rsv1, rsv2: false, rsv3: false, opcode: 2, payload, offset: 0, length: payload.length };
}

function receive(pmd: PerMessageDeflate, sent: { payload: Uint8Array; rsv1: boolean }): Uint8Array {
  const got = pmd.receive(whole(sent.payload, sent.rsv1));
  if (got instanceof ProtocolError) throw got;
  return got!.payload;
}

// Text whose every message repeats a long run of an earlier one, so back-references reach into
// earlier messages, plus fresh words of its own.
function messages(count: number, size: number): Uint8Array[] {
  const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
  let x = 7;
  const random = (n: number) => {
    let s = "";
    while (s.length < n) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      s += `${words[x % 8]}-${x % 997} `;
    }
    return s.slice(0, n);
  };
  const shared = random(2 * size);
  return Array.from({ length: count }, (_, m) => {
    const start = (m * 211) % size;
    return text(`message ${m}: ${shared.slice(start, start + size / 2)}${random(size / 2)}`);
  });
}

for (const [api, zlibEngines] of zlibApis) {
  describe(`node:zlib ${api}`, () => {
    // Whether a repeat compresses to a back-reference: not where deflateRawSync ignores a preset
    // dictionary (Deno's), which the public API engine relies on for it.
    const refersBack = api !== "public API" || dictionaryHonoured;
    describe("RFC 7692 section 7.2.1 with freed contexts: the window is kept, not the zlib state", () => {
      test("a context idle for two checks is freed; one used in between is kept", () => {
        const engines = countingEngines(zlibEngines);
        const server = new PerMessageDeflate(takeover, { role: "server", engines, threshold: 0 });
        server.compress(text("hello hello hello"));
        assert.equal(server.holding, true);
        server.idleCheck(); // used since the last check: kept
        assert.equal(engines.alive, 1);
        server.idleCheck();
        assert.equal(server.holding, false);
        assert.equal(engines.alive, 0);
      });

      test("after a free, our messages still decode at a peer that never freed, and still refer back", () => {
        const engines = countingEngines(zlibEngines);
        const server = new PerMessageDeflate(takeover, { role: "server", engines, threshold: 0 });
        const client = new PerMessageDeflate(takeover, { role: "client", engines: zlibEngines, threshold: 0, releaseIdleAfter: Infinity });
        const message = text("a message long enough to compress well, a message long enough to compress");
        const first = server.compress(message);
        assert.deepEqual(receive(client, first), message);
        server.idleCheck();
        server.idleCheck();
        assert.equal(server.holding, false);
        const again = server.compress(message);
        if (refersBack) assert.ok(again.payload.length < first.payload.length / 3, `the repeat refers back (${again.payload.length} vs ${first.payload.length} bytes)`);
        assert.deepEqual(receive(client, again), message);
        assert.equal(engines.made, 2);
      });

      test("after a free, a peer's messages that refer back into earlier ones still decode", () => {
        const server = new PerMessageDeflate(takeover, { role: "server", engines: zlibEngines, threshold: 0 });
        const client = new PerMessageDeflate(takeover, { role: "client", engines: zlibEngines, threshold: 0 });
        const message = text("the same words again and again, the same words again and again");
        assert.deepEqual(receive(server, client.compress(message)), message);
        server.idleCheck();
        server.idleCheck();
        assert.equal(server.holding, false);
        const again = client.compress(message);
        if (refersBack) assert.ok(again.payload.length < 12, "the peer's repeat is only a back-reference");
        assert.deepEqual(receive(server, again), message);
      });

      for (const bits of [15, 9]) {
        test(`freed between every message, ${bits}-bit windows, over more data than the window, against a peer that never frees`, () => {
          const params = { ...takeover, serverMaxWindowBits: bits, clientMaxWindowBits: bits };
          const server = new PerMessageDeflate(params, { role: "server", engines: zlibEngines, threshold: 0 });
          const client = new PerMessageDeflate(params, { role: "client", engines: zlibEngines, threshold: 0 });
          const list = messages(24, 3000); // 72 KB: the history wraps its 32 KiB ring twice
          for (const [i, message] of list.entries()) {
            assert.equal(decode(receive(client, server.compress(message))), decode(message), `down ${i}`);
            assert.equal(decode(receive(server, client.compress(message))), decode(message), `up ${i}`);
            // Only our side frees: the peer's contexts run on, as a peer's do.
            for (let k = 0; k < 2; k++) server.idleCheck();
            assert.equal(server.holding, false);
          }
        });
      }

      test("a message half sent in pieces, or half received, keeps its context", () => {
        const { server, client } = {
          server: new PerMessageDeflate(takeover, { role: "server", engines: zlibEngines, threshold: 0 }),
          client: new PerMessageDeflate(takeover, { role: "client", engines: zlibEngines, threshold: 0 }),
        };
        const first = server.compressPiece(text("Hello, "), false);
        for (let k = 0; k < 3; k++) server.idleCheck();
        assert.equal(server.holding, true);
        const second = server.compressPiece(text("world"), true);
        const part1: FramePart = { fin: false, rsv1: true, rsv2: false, rsv3: false, opcode: 1, payload: first, offset: 0, length: first.length };
        const part2: FramePart = { fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 0, payload: second, offset: 0, length: second.length };
        const a = client.receive(part1) as FramePart;
        for (let k = 0; k < 3; k++) client.idleCheck();
        assert.equal(client.holding, true);
        const b = client.receive(part2) as FramePart;
        assert.equal(decode(a.payload) + decode(b.payload), "Hello, world");
      });

      test("releaseIdleAfter must be a duration", () => {
        assert.throws(() => new PerMessageDeflate(takeover, { role: "server", engines: zlibEngines, releaseIdleAfter: -1 }), /releaseIdleAfter must be/);
      });
    });

    describe("DeflateContextPool: the limit on connections holding contexts", () => {
      test("a third busy connection makes the least recently used one free its contexts; all still round-trip", () => {
        const engines = countingEngines(zlibEngines);
        const pool = new DeflateContextPool(2);
        const servers = [0, 1, 2].map(() => new PerMessageDeflate(takeover, { role: "server", engines, threshold: 0, pool }));
        const clients = [0, 1, 2].map(() => new PerMessageDeflate(takeover, { role: "client", engines: zlibEngines, threshold: 0 }));
        const message = text("a message long enough to compress well, a message long enough to compress");
        for (let round = 0; round < 3; round++) {
          for (const [i, server] of servers.entries()) {
            const sent = server.compress(message);
            assert.deepEqual(receive(clients[i], sent), message);
            if (round > 0 && refersBack) assert.ok(sent.payload.length < 20, `connection ${i} still refers back after being freed`);
            assert.ok(pool.size <= 2, `pool holds ${pool.size}`);
          }
        }
        assert.deepEqual(servers.map((s) => s.holding), [false, true, true]);
        assert.equal(engines.alive, 2);
      });

      test("a holder in the middle of a message is passed over; limits below 1 are refused", () => {
        const pool = new DeflateContextPool(1);
        const a = new PerMessageDeflate(takeover, { role: "server", engines: zlibEngines, threshold: 0, pool });
        const b = new PerMessageDeflate(takeover, { role: "server", engines: zlibEngines, threshold: 0, pool });
        a.compressPiece(text("half a "), false);
        b.compress(text("message"));
        assert.equal(a.holding, true, "a is mid-message: kept");
        a.compressPiece(text("message"), true);
        assert.equal(b.holding, false, "b was the least recent, and free to go");
        assert.throws(() => new DeflateContextPool(0), /limit must be at least 1/);
      });
    });

    describe("Session: the idle check is one more deadline", () => {
      function sessions(releaseIdleAfter: number) {
        const engines = countingEngines(zlibEngines);
        const deflate = new PerMessageDeflate(takeover, { role: "server", engines, threshold: 0, releaseIdleAfter });
        const server = new Session({ role: "server", now: 0, deflate, heartbeat: false });
        const client = new Session({ role: "client", now: 0, heartbeat: false, deflate: new PerMessageDeflate(takeover, { role: "client", engines: zlibEngines, threshold: 0 }) });
        server.open(0);
        client.open(0);
        const deliver = (from: Session, to: Session, now: number) => {
          for (const chunk of from.takeOutput()) to.receive(chunk, now);
        };
        return { engines, server, client, deliver };
      }
      const messageOf = (session: Session) => {
        for (let e = session.nextEvent(); e; e = session.nextEvent()) if (e.type === "message") return e.data;
        return undefined;
      };

      test("no context, no deadline; a context makes one; it is freed releaseIdleAfter after its last message", () => {
        const { engines, server, client, deliver } = sessions(1000);
        assert.equal(server.nextDeadline(), undefined);
        server.send("x".repeat(100), { now: 100 });
        deliver(server, client, 105);
        assert.equal(messageOf(client), "x".repeat(100));
        assert.equal(server.nextDeadline(), 1100);
        server.send("x".repeat(100), { now: 700 });
        deliver(server, client, 705);
        assert.equal(messageOf(client), "x".repeat(100));
        assert.equal(server.nextDeadline(), 1700, "the deadline moves with each message");
        server.handleTimeout(1100);
        assert.equal(engines.alive, 1, "used 400 ms ago: kept");
        server.handleTimeout(1700);
        assert.equal(engines.alive, 0);
        assert.equal(server.nextDeadline(), undefined);
        server.send("x".repeat(100), { now: 2500 });
        deliver(server, client, 2505);
        assert.equal(messageOf(client), "x".repeat(100), "rebuilt from the kept window, the peer still inflates");
        assert.equal(engines.made, 2);
      });

      test("a received compressed message dates the context by receive's clock", () => {
        const { engines, server, client, deliver } = sessions(1000);
        client.send("y".repeat(100));
        deliver(client, server, 300);
        assert.equal(messageOf(server), "y".repeat(100));
        assert.equal(server.nextDeadline(), 1300);
        server.handleTimeout(1299);
        assert.equal(engines.alive, 1);
        server.handleTimeout(1300);
        assert.equal(engines.alive, 0);
      });

      test("Infinity never frees", () => {
        const { server } = sessions(Infinity);
        server.send("x".repeat(100));
        assert.equal(server.nextDeadline(), undefined);
      });
    });

    describe("the window history", () => {
      test("keeps exactly the last bytes through growth and wrap-around", () => {
        const history = new _WindowHistory(1024);
        let all: number[] = [];
        let x = 1;
        for (const size of [1, 300, 0, 700, 23, 1024, 5, 2000, 999, 17, 1023]) {
          const bytes = Uint8Array.from({ length: size }, () => (x = (x * 75 + 74) % 65537) & 0xff);
          history.append(bytes);
          all = all.concat(Array.from(bytes));
          assert.deepEqual(Array.from(history.snapshot()), all.slice(-1024), `after appending ${size}`);
          assert.deepEqual(Array.from(history.bytes()), all.slice(-1024), `bytes() after appending ${size}`);
          if (size === 23) history.restore(history.snapshot());
        }
      });
    });
  });
}
