// The connection writes the Session's output from the Session's own array, lent to the transport
// for the call (src/streams/connection.ts #flush). A transport that hands the connection bytes
// from inside its write (a ping read while the echo is written) makes the connection flush again
// inside the flush: every frame must still reach the wire once, in order.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { _acceptOnDuplex } from "../../src/streams/upgrade.ts";
import type { _Transport, _TransportSink } from "../../src/streams/transport.ts";
import { frame } from "../_frames.ts";

function request(): Request {
  return new Request("http://127.0.0.1/", {
    headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" },
  });
}

// Records every chunk written, and on the first write of a data frame delivers `inside` from within it.
function transport(inside: Uint8Array) {
  const wire: Uint8Array[] = [];
  let sink: _TransportSink | undefined;
  let delivered = false;
  const t: _Transport = {
    start: (to) => void (sink = to),
    pause() {},
    resume() {},
    write(chunks) {
      for (const chunk of chunks) wire.push(chunk.slice());
      const dataFrame = chunks.some((chunk) => chunk[0] === 0x81);
      if (dataFrame && !delivered) {
        delivered = true;
        sink!._received(inside.slice());
      }
      return true;
    },
    drained: () => Promise.resolve(),
    buffered: () => 0,
    end: () => Promise.resolve(),
    abort() {},
  };
  return { t, wire };
}

describe("lent output", () => {
  test("a ping read from inside the transport's write: the text frame once, then the pong", async () => {
    const { t, wire } = transport(frame({ opcode: 0x9, payload: Uint8Array.of(7, 8) }));
    const result = await _acceptOnDuplex(request(), t, new Uint8Array(0), {});
    const socket = result.socket!;
    const { writable } = await socket.opened;
    const writer = writable.getWriter();
    await writer.write("hi");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const frames = wire.filter((chunk) => chunk[0] !== 0x48); // not the 101 head ("HTTP/1.1 ...")
    assert.deepEqual(frames.map((chunk) => [...chunk]), [
      [0x81, 2, 0x68, 0x69], // "hi"
      [0x8a, 2, 7, 8], // the pong, after it, once
    ]);
    socket.close();
  });
});
