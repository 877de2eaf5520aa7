// With `_textLength` (a transport that writes strings as UTF-8, as Deno's and Bun's do), a
// server's long text goes out as its frame's header followed by the string itself. What a peer
// reads must be the same message as without it; strings appear only where they may.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Session } from "../../src/core/session.ts";
import type { SessionOptions } from "../../src/core/session_types.ts";

const encoder = new TextEncoder();
const utf8Length = (text: string) => encoder.encode(text).length;

function sender(options: Partial<SessionOptions> = {}) {
  const from = new Session({ role: "server", now: 0, heartbeat: false, _textLength: utf8Length, ...options });
  from.open(0);
  const to = new Session({ role: options.role === "client" ? "server" : "client", now: 0, heartbeat: false });
  to.open(0);
  // What the transport writes: each string as its UTF-8.
  const take = () => {
    const output = from._takeOutput();
    const kinds = output.map((chunk) => typeof chunk === "string" ? "string" : "bytes");
    for (const chunk of output) to.receive(typeof chunk === "string" ? encoder.encode(chunk) : chunk.slice(), 1);
    const got: unknown[] = [];
    for (let e = to.nextEvent(); e; e = to.nextEvent()) if (e.type === "message") got.push(e.data);
    return { kinds, got };
  };
  return { from, to, take };
}

const long = ["x".repeat(4096), "é".repeat(5000), "😀".repeat(2100), "日本".repeat(3000), "a\uD800".repeat(2100)];
const asDecoded = (text: string) => new TextDecoder().decode(encoder.encode(text));

describe("long text to a transport that writes strings", () => {
  test("a server's text of 4,096 code units or more: a header, then the string; the peer reads it as sent", () => {
    const { from, take } = sender();
    for (const text of long) {
      from.send(text);
      const { kinds, got } = take();
      assert.deepEqual(kinds, ["bytes", "string"], `${text.slice(0, 8)}...`);
      assert.deepEqual(got, [asDecoded(text)]); // a lone surrogate arrives as U+FFFD
    }
  });

  test("_textFrom sets the fewest code units sent as a string", () => {
    const { from, take } = sender({ _textFrom: 256 });
    for (const [text, kinds] of [["q".repeat(255), ["bytes"]], ["q".repeat(256), ["bytes", "string"]], ["ö".repeat(300), ["bytes", "string"]]] as const) {
      from.send(text);
      const got = take();
      assert.deepEqual(got.kinds, kinds, `${text.length} code units`);
      assert.deepEqual(got.got, [text]);
    }
  });

  test("the header carries the UTF-8 length, not the code units", () => {
    const { from } = sender();
    from.send("é".repeat(5000)); // 10,000 bytes
    const [header, text] = from._takeOutput();
    assert.deepEqual([...(header as Uint8Array)], [0x81, 126, 10_000 >> 8, 10_000 & 0xff]);
    assert.equal(text, "é".repeat(5000));
  });

  test("shorter text, a client, fragments, or no _textLength: bytes only", () => {
    const cases: [string, Partial<SessionOptions>, string][] = [
      ["shorter", {}, "x".repeat(4095)],
      ["client", { role: "client" }, "x".repeat(8000)],
      ["fragments", { fragmentSize: 4096 }, "x".repeat(8000)],
      ["without _textLength", { _textLength: undefined }, "x".repeat(8000)],
    ];
    for (const [name, options, text] of cases) {
      const { from, take } = sender(options);
      from.send(text);
      const { kinds, got } = take();
      assert.ok(kinds.every((kind) => kind === "bytes"), `${name}: ${kinds}`);
      assert.deepEqual(got, [text], name);
    }
  });

  test("the text just received, sent back: its bytes as they came, not the string", () => {
    const { from, take } = sender();
    const client = new Session({ role: "client", now: 0, heartbeat: false });
    client.open(0);
    const text = "ü".repeat(6000);
    client.send(text);
    for (const chunk of client.takeOutput()) from.receive(chunk, 1);
    const event = from.nextEvent();
    assert.equal(event?.type === "message" && event.data, text);
    from.send(text);
    const { kinds, got } = take();
    assert.ok(kinds.every((kind) => kind === "bytes"), `${kinds}`);
    assert.deepEqual(got, [text]);
  });

  test("takeOutput() and _takeOutput() hand out the same output", () => {
    const { from } = sender();
    from.send("z".repeat(5000));
    const output = from.takeOutput() as unknown[];
    assert.equal(output.length, 2);
    assert.equal(output[1], "z".repeat(5000));
    assert.deepEqual(from._takeOutput(), []);
  });
});
