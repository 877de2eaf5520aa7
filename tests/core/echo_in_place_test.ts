// A server that sends back the message it just received (an echo) frames it in place: the
// header goes over the bytes of the masked header it came with, and the frame is one chunk in the
// same memory. What the peer gets must be exactly the message, and nothing the application holds
// (earlier messages' bytes, other chunks) may change, wherever the chunk boundaries fall.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PerMessageDeflate } from "../../src/core/deflate.ts";
import { FrameEncoder } from "../../src/core/frame_encoder.ts";
import { Session } from "../../src/core/session.ts";
import { concat as concatBytes, openServer } from "../_util.ts";
import { zlibApis } from "../_deflate.ts";

const utf8 = new TextEncoder();
const client = new FrameEncoder({ role: "client" });
const frame = (opcode: number, payload: Uint8Array) => concat(client.encode({ opcode, payload }));

const concat = (chunks: Uint8Array[]) => concatBytes(...chunks);
const server = openServer;

function messages(session: Session): (string | Uint8Array)[] {
  const got: (string | Uint8Array)[] = [];
  for (let e = session.nextEvent(); e; e = session.nextEvent()) if (e.type === "message") got.push(e.data);
  return got;
}

// What a client reads from the server's output.
function received(output: Uint8Array[]): (string | Uint8Array)[] {
  const peer = new Session({ role: "client", now: 0, heartbeat: false });
  peer.open(0);
  for (const chunk of output) peer.receive(chunk.slice(), 1);
  return messages(peer);
}

// The chunks of `out` that are whole frames in `buffer` (a payload sent as is is a view into it
// too, but behind a header of its own).
const framedIn = (out: Uint8Array[], buffer: ArrayBufferLike, size: number) => out.filter((c) => c.buffer === buffer && c.length > size);

const text = '{"id":1,"name":"item","tags":["a","b"],"ok":true}'.repeat(20) + " ünïcødé ✓";
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe("an echoed message framed in place", () => {
  for (const size of [300, 70_000]) {
    test(`text and binary of ${size} bytes: one chunk in the received memory, the exact message on the wire`, () => {
      const s = server();
      const t = text.repeat(Math.ceil(size / text.length));
      const b = bytes(size, 7);
      const textFrame = frame(0x1, utf8.encode(t));
      const chunk = concat([textFrame, frame(0x2, b)]);
      s.receive(chunk.subarray(0, textFrame.length), 1);
      const [gotText] = messages(s);
      s.send(gotText as string);
      const textOut = s.takeOutput();
      assert.equal(textOut.length, 1);
      assert.equal(framedIn(textOut, chunk.buffer, size).length, 1, "framed in the chunk it came in");
      s.receive(chunk.subarray(textFrame.length), 2);
      const [gotBinary] = messages(s) as Uint8Array[];
      s.send(gotBinary);
      const binaryOut = s.takeOutput();
      assert.equal(binaryOut.length, 1);
      assert.equal(framedIn(binaryOut, chunk.buffer, size).length, 1);
      assert.deepEqual(received([...textOut, ...binaryOut]), [t, b]);
      assert.deepEqual(gotBinary, b, "the message the application holds is unchanged");
    });
  }

  test("a frame whose header ended the previous chunk (same buffer) is copied, and the message before it stays intact", () => {
    const s = server();
    const first = bytes(400, 1);
    const second = bytes(400, 2);
    const wire = concat([frame(0x2, first), frame(0x2, second)]);
    const slab = wire.slice(); // one buffer, read in three chunks as a transport with slabs hands them out
    const secondHeader = frame(0x2, second).length - second.length;
    const split = first.length + 8 + secondHeader;
    s.receive(slab.subarray(0, split), 1); // the first frame and all of the second's header
    s.receive(slab.subarray(split), 2); // the second's payload, at the start of its chunk
    const [a, b] = messages(s) as Uint8Array[];
    s.send(b);
    const out = s.takeOutput();
    assert.equal(framedIn(out, slab.buffer, second.length).length, 0, "no room in this chunk: the normal path");
    assert.deepEqual(received(out), [second]);
    assert.deepEqual(a, first, "the bytes before the payload (another message the application holds) are untouched");
    assert.deepEqual(b, second);
  });

  test("only the message received last, and only the very view for binary", () => {
    const s = server();
    const one = bytes(300, 3);
    const two = bytes(300, 4);
    const chunk = concat([frame(0x2, one), frame(0x2, two), frame(0x1, utf8.encode(text))]);
    s.receive(chunk, 1);
    const [a, b, t] = messages(s) as [Uint8Array, Uint8Array, string];
    s.send(a); // not the last one received
    s.send(b.slice()); // a copy, not the view
    s.send(new Uint8Array(b.buffer, b.byteOffset, b.length)); // another view of the same bytes
    s.send(t); // the last one: in place
    const out = s.takeOutput();
    assert.deepEqual(received(out), [one, two, two, text]);
    assert.equal(framedIn(out, chunk.buffer, 300).length, 1);
    assert.deepEqual(a, one);
    assert.deepEqual(b, two);
  });

  test("sent twice, and sent after the next message arrived: the same bytes each time", () => {
    const s = server();
    s.receive(frame(0x1, utf8.encode(text)), 1);
    const [t] = messages(s) as string[];
    s.send(t);
    s.send(t);
    s.receive(frame(0x1, utf8.encode("next".repeat(100))), 2);
    messages(s);
    s.send(t);
    assert.deepEqual(received(s.takeOutput()), [text, text, text]);
  });

  test("a fragmented message whose last fragment came whole is sent whole", () => {
    const s = server();
    const parts = [bytes(300, 5), bytes(300, 6)];
    const chunk = concat([
      concat(client.encode({ opcode: 0x2, payload: parts[0], fin: false })),
      concat(client.encode({ opcode: 0x0, payload: parts[1], fin: true })),
    ]);
    s.receive(chunk, 1);
    const [message] = messages(s) as Uint8Array[];
    s.send(message);
    assert.deepEqual(received(s.takeOutput()), [concat(parts)]);
  });

  test("not with permessage-deflate, not past fragmentSize", () => {
    const engines = zlibApis[0][1];
    const params = { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
    const cases: [string, Session][] = [
      ["deflate", server({ deflate: new PerMessageDeflate(params, { role: "server", engines, threshold: 1 << 20 }) })],
      ["fragmentSize", server({ fragmentSize: 100 })],
    ];
    for (const [name, s] of cases) {
      const chunk = frame(0x1, utf8.encode(text));
      s.receive(chunk, 1);
      const [t] = messages(s) as string[];
      const before = chunk.slice();
      s.send(t);
      const out = s.takeOutput();
      assert.deepEqual(chunk, before, `${name}: nothing written into the received chunk`);
      assert.deepEqual(received(out), [text], name);
    }
  });
});
