// Short text messages are encoded through one scratch buffer shared by every session: what the
// peer reads must be each message as sent, however many are sent before the output is taken,
// whatever their characters, in both roles.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Session } from "../../src/core/session.ts";

function pair(role: "server" | "client", options: { fragmentSize?: number } = {}) {
  const from = new Session({ role, now: 0, heartbeat: false, ...options });
  const to = new Session({ role: role === "server" ? "client" : "server", now: 0, heartbeat: false });
  from.open(0);
  to.open(0);
  const read = () => {
    for (const chunk of from.takeOutput()) to.receive(chunk.slice(), 1);
    const got: unknown[] = [];
    for (let e = to.nextEvent(); e; e = to.nextEvent()) if (e.type === "message") got.push(e.data);
    return got;
  };
  return { from, read };
}

const texts = [
  "",
  "a",
  '{"id":12,"ok":1}',
  "ünïcødé ✓ 😀",
  "x".repeat(255),
  "✓".repeat(255), // 765 bytes: past the size a frame encoder would otherwise send as a view
  "😀".repeat(127),
  "a\uD800b", // a lone surrogate is sent as U+FFFD, as TextEncoder does
];
const expected = texts.map((t) => new TextDecoder().decode(new TextEncoder().encode(t)));

describe("short text messages", () => {
  for (const role of ["server", "client"] as const) {
    test(`${role}: each arrives as sent, all sent before the output is taken`, () => {
      const { from, read } = pair(role);
      for (const t of texts) from.send(t);
      assert.deepEqual(read(), expected);
    });
  }

  test("split by fragmentSize, and interleaved with binary messages", () => {
    const { from, read } = pair("server", { fragmentSize: 7 });
    from.send("✓".repeat(10));
    from.send(new Uint8Array([1, 2, 3]));
    from.send("hello, world");
    assert.deepEqual(read(), ["✓".repeat(10), new Uint8Array([1, 2, 3]), "hello, world"]);
  });

  test("two sessions sending in turn, output taken at the end", () => {
    const a = pair("server");
    const b = pair("server");
    a.from.send("first ✓ from a");
    b.from.send("first from b");
    a.from.send("second from a");
    assert.deepEqual(a.read(), ["first ✓ from a", "second from a"]);
    assert.deepEqual(b.read(), ["first from b"]);
  });
});
