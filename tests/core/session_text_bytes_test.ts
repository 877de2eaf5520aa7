// Session's `textBytes`: a text message that arrives whole in one uncompressed frame is checked
// with the caller's UTF-8 check instead of decoded, and reported as its bytes, for a caller that
// sends them back with `send(bytes, { text: true })`; bad UTF-8 still fails with 1007.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Session } from "../../src/core/session.ts";
import type { SessionEvent } from "../../src/core/session_types.ts";
import { frame } from "../_frames.ts";
import { concat, openServer } from "../_util.ts";

function events(session: Session): SessionEvent[] {
  const got: SessionEvent[] = [];
  for (let e = session.nextEvent(); e; e = session.nextEvent()) got.push(e);
  return got;
}

// A strict UTF-8 check, standing in for node:buffer's isUtf8; counts its calls.
function checker() {
  const strict = new TextDecoder("utf-8", { fatal: true });
  const check = Object.assign((bytes: Uint8Array) => {
    check.calls++;
    try {
      strict.decode(bytes);
      return true;
    } catch {
      return false;
    }
  }, { calls: 0 });
  return check;
}

const text = "héllo wörld, 𝄞 ".repeat(40); // multi-byte, over the 256 bytes an echo is framed in place from
const utf8 = new TextEncoder().encode(text);

describe("Session textBytes", () => {
  test("a whole text frame is reported as its checked bytes, marked text", () => {
    const check = checker();
    const session = openServer({ textBytes: () => check });
    session.receive(frame({ opcode: 0x1, payload: text }), 1);
    const [event] = events(session);
    assert.equal(event.type, "message");
    assert.equal((event as { text?: true }).text, true);
    assert.ok((event as { data: unknown }).data instanceof Uint8Array);
    assert.deepEqual((event as { data: Uint8Array }).data, utf8);
    assert.equal(check.calls, 1);
  });

  test("textBytes answering undefined, a binary frame, and a fragmented text decode as before", () => {
    const check = checker();
    let wanted = false;
    const session = openServer({ textBytes: () => (wanted ? check : undefined) });
    session.receive(frame({ opcode: 0x1, payload: "as a string" }), 1);
    wanted = true;
    session.receive(concat(
      frame({ opcode: 0x2, payload: Uint8Array.of(1, 2, 3) }),
      frame({ opcode: 0x1, fin: false, payload: "in " }),
      frame({ opcode: 0x0, payload: "two" }),
    ), 1);
    assert.deepEqual(events(session), [
      { type: "message", data: "as a string" },
      { type: "message", data: Uint8Array.of(1, 2, 3) },
      { type: "message", data: "in two" },
    ]);
    assert.equal(check.calls, 0);
  });

  test("bad UTF-8 in a checked frame fails the connection with 1007, and nothing is reported", () => {
    const session = openServer({ textBytes: () => checker() });
    session.receive(frame({ opcode: 0x1, payload: Uint8Array.of(0x68, 0xc3, 0x28) }), 1);
    const got = events(session);
    assert.equal(got.some((e) => e.type === "message"), false);
    const closed = got.find((e) => e.type === "closed") as { code: number } | undefined;
    assert.equal(closed?.code, 1007);
    const wire = concat(...session.takeOutput());
    assert.deepEqual([...wire.subarray(0, 4)], [0x88, 0x02, 0x03, 0xef], "a close frame with 1007");
  });

  test("send(bytes, { text: true }) frames them as text; the bytes of the message just received are framed in place", () => {
    const session = openServer({ textBytes: () => checker() });
    session.receive(frame({ opcode: 0x1, payload: text }), 1);
    const [event] = events(session);
    session.send((event as { data: Uint8Array }).data, { text: true });
    const echo = session.takeOutput();
    assert.equal(echo.length, 1, "one chunk: framed in place");
    const wire = echo[0];
    assert.equal(wire[0], 0x81, "FIN and the text opcode");
    assert.deepEqual(new TextDecoder().decode(wire.subarray(wire.length - utf8.length)), text);
    session.send(Uint8Array.of(0x6f, 0x6b), { text: true });
    assert.deepEqual([...concat(...session.takeOutput())], [0x81, 0x02, 0x6f, 0x6b]);
  });
});
