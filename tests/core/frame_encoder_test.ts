import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameEncoder } from "../../src/core/frame_encoder.ts";
import { _encodeText, MessageEncoder } from "../../src/core/message_encoder.ts";
import { Session } from "../../src/core/session.ts";
import { concat, decode, hex, toHex } from "../_util.ts";

/** randomBytes that repeats one masking key, so masked output is deterministic. */
function fixedKey(key: number[]) {
  return (n: number) => new Uint8Array(n).map((_, i) => key[i % 4]);
}

const rfcKey = fixedKey([0x37, 0xfa, 0x21, 0x3d]);
const hello = new TextEncoder().encode("Hello");

/** Round trip: encode then decode must give back the frame. */
function assertRoundTrip(role: "server" | "client", frame: { opcode: number; payload: Uint8Array; fin?: boolean; rsv1?: boolean }) {
  const encoder = new FrameEncoder({ role });
  const bytes = concat(...encoder.encode(frame));
  const got = decode([bytes], { role: role === "server" ? "client" : "server", allowedRsv: 4 });
  assert.equal(got.error, undefined);
  assert.deepEqual(got.frames, [{ fin: frame.fin ?? true, rsv1: frame.rsv1 ?? false, opcode: frame.opcode, payload: toHex(frame.payload) }]);
}

describe("RFC 6455 section 5.7: examples, encoded", () => {
  test("FrameEncoder writes an unmasked Hello byte for byte", () => {
    const out = new FrameEncoder({ role: "server" }).encode({ opcode: 1, payload: hello });
    assert.equal(toHex(concat(...out)), "81 05 48 65 6c 6c 6f");
  });

  test("FrameEncoder writes a masked Hello byte for byte", () => {
    const out = new FrameEncoder({ role: "client", randomBytes: rfcKey }).encode({ opcode: 1, payload: hello });
    assert.equal(toHex(concat(...out)), "81 85 37 fa 21 3d 7f 9f 4d 51 58");
  });

  test("FrameEncoder writes a fragmented Hello byte for byte", () => {
    const encoder = new FrameEncoder({ role: "server" });
    const frames = new MessageEncoder({ fragmentSize: 3 }).encode("Hello");
    assert.equal(toHex(concat(...frames.flatMap((f) => encoder.encode(f)))), "01 03 48 65 6c 80 02 6c 6f");
  });

  test("FrameEncoder writes a ping and a masked pong byte for byte", () => {
    assert.equal(toHex(concat(...new FrameEncoder({ role: "server" }).encode({ opcode: 9, payload: hello }))), "89 05 48 65 6c 6c 6f");
    assert.equal(
      toHex(concat(...new FrameEncoder({ role: "client", randomBytes: rfcKey }).encode({ opcode: 10, payload: hello }))),
      "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
    );
  });

  test("FrameEncoder writes 256 bytes with a 16-bit length and 64 KiB with a 64-bit length", () => {
    const encoder = new FrameEncoder({ role: "server", copyThreshold: Infinity });
    assert.equal(toHex(encoder.encode({ opcode: 2, payload: new Uint8Array(256) })[0].subarray(0, 4)), "82 7e 01 00");
    assert.equal(toHex(encoder.encode({ opcode: 2, payload: new Uint8Array(65536) })[0].subarray(0, 10)), "82 7f 00 00 00 00 00 01 00 00");
  });
});

describe("RFC 6455 sections 5.2 and 5.3: encoding", () => {
  for (const size of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
    for (const role of ["server", "client"] as const) {
      test(`FrameEncoder round-trips ${size} bytes as a ${role}`, () => {
        assertRoundTrip(role, { opcode: 2, payload: new Uint8Array(size).map((_, i) => i * 13) });
      });
    }
  }

  test("FrameEncoder sets FIN and RSV1 as asked", () => {
    assertRoundTrip("server", { opcode: 1, payload: hello, fin: false, rsv1: true });
    assert.equal(toHex(new FrameEncoder({ role: "server" }).encode({ opcode: 1, payload: hello, fin: false, rsv1: true })[0].subarray(0, 1)), "41");
  });

  test("FrameEncoder leaves a large unmasked payload uncopied", () => {
    const payload = new Uint8Array(100_000);
    const out = new FrameEncoder({ role: "server" }).encode({ opcode: 2, payload });
    assert.equal(out.length, 2);
    assert.equal(out[1], payload);
    assert.equal(toHex(out[0]), "82 7f 00 00 00 00 00 01 86 a0");
  });

  test("FrameEncoder copies an unmasked payload of up to 256 bytes by default, and no more", () => {
    const encoder = new FrameEncoder({ role: "server" });
    assert.equal(encoder.encode({ opcode: 2, payload: new Uint8Array(256) }).length, 1);
    assert.equal(encoder.encode({ opcode: 2, payload: new Uint8Array(257) }).length, 2);
  });

  test("FrameEncoder output stays intact while later frames are encoded (chunks share a slab)", () => {
    for (const role of ["server", "client"] as const) {
      const encoder = new FrameEncoder({ role });
      const kept: { size: number; chunks: Uint8Array[] }[] = [];
      for (let i = 0; i < 3000; i++) {
        const size = (i * 7) % 300;
        kept.push({ size, chunks: encoder.encode({ opcode: 2, payload: new Uint8Array(size).fill(i & 0xff) }) });
      }
      for (const [i, { size, chunks }] of kept.entries()) {
        const got = decode([concat(...chunks)], { role: role === "server" ? "client" : "server" });
        assert.equal(got.error, undefined);
        assert.deepEqual(got.frames.map((f) => f.payload), [toHex(new Uint8Array(size).fill(i & 0xff))], `frame ${i}`);
      }
    }
  });

  test("FrameEncoder never modifies the caller's payload when masking", () => {
    const payload = new Uint8Array(1000).fill(0x55);
    new FrameEncoder({ role: "client" }).encode({ opcode: 2, payload });
    assert.ok(payload.every((b) => b === 0x55));
  });

  test("FrameEncoder draws masking keys from a pool, not one call per frame", () => {
    let calls = 0;
    let counter = 0;
    const encoder = new FrameEncoder({
      role: "client",
      randomBytes: (n) => {
        calls++;
        return new Uint8Array(n).map(() => counter++ & 0xff);
      },
    });
    const keys = new Set<string>();
    for (let i = 0; i < 100; i++) keys.add(toHex(encoder.encode({ opcode: 2, payload: hello })[0].subarray(2, 6)));
    assert.equal(calls, 1);
    assert.equal(keys.size, 64, "keys differ frame to frame (the 256-value counter cycles every 64 keys)");
  });

  test("FrameEncoder masks with crypto.getRandomValues by default, a different key each frame", () => {
    const encoder = new FrameEncoder({ role: "client" });
    const keys = new Set<string>();
    for (let i = 0; i < 50; i++) keys.add(toHex(encoder.encode({ opcode: 2, payload: hello })[0].subarray(2, 6)));
    assert.ok(keys.size > 45);
  });

  test("FrameEncoder refuses a control frame over 125 bytes or not final with a RangeError", () => {
    const encoder = new FrameEncoder({ role: "server" });
    assert.throws(() => encoder.encode({ opcode: 9, payload: new Uint8Array(126) }), RangeError);
    assert.throws(() => encoder.encode({ opcode: 8, payload: new Uint8Array(0), fin: false }), RangeError);
  });
});

describe("RFC 6455 section 5.4: MessageEncoder", () => {
  test("splits a message into fragments of the chosen size", () => {
    const frames = new MessageEncoder({ fragmentSize: 4 }).encode(hex("01 02 03 04 05 06 07 08 09"));
    assert.deepEqual(frames.map((f) => [f.opcode, f.fin, toHex(f.payload)]), [
      [2, false, "01 02 03 04"],
      [0, false, "05 06 07 08"],
      [0, true, "09"],
    ]);
  });

  test("sends an empty message as one empty final frame", () => {
    const frames = new MessageEncoder({ fragmentSize: 4 }).encode("");
    assert.deepEqual(frames.map((f) => [f.opcode, f.fin, f.payload.length]), [[1, true, 0]]);
  });

  test("takes every kind of BufferSource without a copy", () => {
    const buffer = new ArrayBuffer(8);
    const encoder = new MessageEncoder();
    assert.equal(encoder.encode(buffer)[0].payload.buffer, buffer);
    assert.equal(encoder.encode(new DataView(buffer, 2, 4))[0].payload.byteOffset, 2);
    assert.equal(encoder.encode(new Uint16Array(buffer, 4, 2))[0].payload.length, 4);
  });

  test("refuses a message that is neither a string nor a BufferSource", () => {
    assert.throws(() => new MessageEncoder().encode(42 as unknown as string), /expected a string, ArrayBuffer or ArrayBufferView/);
    assert.throws(() => new MessageEncoder({ fragmentSize: 0 }), RangeError);
  });
});

describe("Text encoding through an allocator", () => {
  test("_encodeText encodes into an array from the allocator, of the exact size, for any text", () => {
    const made: Uint8Array[] = [];
    const allocate = (size: number) => {
      const out = new Uint8Array(size).fill(0xee); // stale bytes, as an unzeroed allocator gives
      made.push(out);
      return out;
    };
    // ASCII fills an array of one byte per code unit; other text takes a second, exact one.
    const cases = [
      ["a".repeat(300), 1],
      ["{\"k\":1}".repeat(9000), 1],
      ["κόσμε 🙂 ".repeat(100), 2],
      ["a".repeat(299) + "🙂", 2], // a surrogate pair that does not fit the first array
      ["a".repeat(500) + "é" + "b".repeat(500), 2],
    ] as const;
    for (const [text, arrays] of cases) {
      made.length = 0;
      const bytes = _encodeText(text, allocate);
      assert.equal(made.length, arrays);
      assert.equal(bytes, made.at(-1));
      assert.deepEqual(bytes, new TextEncoder().encode(text));
    }
    // Short and very long text, and no allocator: TextEncoder's own array.
    for (const [text, with_] of [["short", true], ["x".repeat(70000), true], ["y".repeat(1000), false]] as const) {
      made.length = 0;
      assert.deepEqual(_encodeText(text, with_ ? allocate : undefined), new TextEncoder().encode(text));
      assert.equal(made.length, 0);
    }
  });

  test("Session sends text encoded into buffers from its allocate option", () => {
    const made: Uint8Array[] = [];
    const server = new Session({ role: "server", now: 0, allocate: (size) => (made.push(new Uint8Array(size)), made.at(-1)!) });
    server.open(0);
    const text = "héllo ".repeat(100);
    server.send(text);
    const out = server.takeOutput();
    assert.equal(out.at(-1), made.at(-1));
    assert.deepEqual(decode([concat(...out)], { role: "client" }).messages, [text]);
  });
});
