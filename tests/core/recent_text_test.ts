// A text message sent right after it was received (an echo, a proxy) goes out with the bytes it
// came in, not encoded again: what the peer gets must be that text, whatever happened to the
// memory in between (an inflater reusing its output buffer, other messages, other sessions).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PerMessageDeflate } from "../../src/core/deflate.ts";
import type { DeflateEngines } from "../../src/core/deflate.ts";
import type { DeflateParams } from "../../src/core/extensions.ts";
import { Session } from "../../src/core/session.ts";
import { zlibApis } from "../_deflate.ts";

const takeover: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

// Inflaters that hand out every message in one output buffer, written over by the next one: an
// engine may do so, since the session copies nothing it will keep.
function reusingInflaters(base: DeflateEngines): DeflateEngines {
  return {
    createDeflate: (bits) => base.createDeflate(bits),
    createInflate(bits) {
      const engine = base.createInflate(bits);
      const out = new Uint8Array(1 << 20);
      return {
        decompress(piece, last, limit) {
          const chunks = engine.decompress(piece, last, limit);
          if (!Array.isArray(chunks)) return chunks;
          let at = 0;
          for (const chunk of chunks) (out.set(chunk, at), (at += chunk.length));
          return [out.subarray(0, at)];
        },
        restore: engine.restore?.bind(engine),
        reset: () => engine.reset(),
        close: () => engine.close(),
      };
    },
  };
}

function pair(engines?: DeflateEngines) {
  const deflate = (role: "client" | "server") => (engines ? new PerMessageDeflate(takeover, { role, engines, threshold: 0 }) : undefined);
  const server = new Session({ role: "server", now: 0, heartbeat: false, deflate: deflate("server") });
  const client = new Session({ role: "client", now: 0, heartbeat: false, deflate: deflate("client") });
  server.open(0);
  client.open(0);
  const deliver = (from: Session, to: Session) => {
    for (const chunk of from.takeOutput()) to.receive(chunk.slice(), 1);
  };
  const messages = (session: Session) => {
    const got: (string | Uint8Array)[] = [];
    for (let e = session.nextEvent(); e; e = session.nextEvent()) if (e.type === "message") got.push(e.data);
    return got;
  };
  return { server, client, deliver, messages };
}

const textA = "a".repeat(300) + " ünïcødé ✓ ".repeat(40);
const textB = "b".repeat(300) + " ÜNÏCØDÉ ✗ ".repeat(40);

describe("a received text sent again", () => {
  test("goes out as the same text, once echoed as received, once as an equal string made apart", () => {
    const { server, client, deliver, messages } = pair();
    client.send(textA);
    deliver(client, server);
    const [received] = messages(server);
    assert.equal(received, textA);
    server.send(received as string);
    server.send([...(received as string)].join(""));
    deliver(server, client);
    assert.deepEqual(messages(client), [textA, textA]);
  });

  test("after other sessions decoded other texts in between, each echo is its own text", () => {
    const a = pair();
    const b = pair();
    a.client.send(textA);
    b.client.send(textB);
    a.deliver(a.client, a.server);
    b.deliver(b.client, b.server);
    const [fromA] = a.messages(a.server);
    const [fromB] = b.messages(b.server);
    a.server.send(fromA as string);
    b.server.send(fromB as string);
    a.server.send(fromB as string);
    a.deliver(a.server, a.client);
    b.deliver(b.server, b.client);
    assert.deepEqual(a.messages(a.client), [textA, textB]);
    assert.deepEqual(b.messages(b.client), [textB]);
  });

  for (const [api, engines] of zlibApis) {
    test(`with permessage-deflate (${api} zlib) and an inflater that reuses its output buffer, a text echoed after a binary message of the same size is still that text`, () => {
      const { server, client, deliver, messages } = pair(reusingInflaters(engines));
      client.send(textA);
      deliver(client, server);
      const [received] = messages(server);
      assert.equal(received, textA);
      // The next message overwrites the inflater's buffer where textA's bytes were.
      const binary = new TextEncoder().encode(textB);
      client.send(binary);
      deliver(client, server);
      assert.deepEqual(messages(server), [binary]);
      server.send(received as string);
      deliver(server, client);
      assert.deepEqual(messages(client), [textA]);
    });
  }
});
