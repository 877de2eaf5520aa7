import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameDecoder } from "../../src/core/frame_decoder.ts";
import { ProtocolError } from "../../src/core/protocol_error.ts";
import { type Decoded, decode, hex, splits } from "../_util.ts";

type Options = Parameters<typeof decode>[1];

/** Asserts the same outcome for the input whole, split at every byte boundary, and byte by byte. */
function assertDecodes(bytes: Uint8Array, options: Options, expected: Partial<Decoded>): void {
  for (const { name, chunks } of splits(bytes)) {
    const got = decode(chunks, options);
    if (expected.error) {
      assert.equal(got.error?.closeCode, expected.error.closeCode, `${name}: close code`);
      assert.match(got.error!.message, new RegExp(expected.error.message), `${name}: message`);
      if (expected.frames) assert.deepEqual(got.frames, expected.frames, `${name}: frames`);
      continue;
    }
    assert.equal(got.error, undefined, `${name}: no error, got ${got.error?.message}`);
    assert.deepEqual(got.frames, expected.frames ?? got.frames, `${name}: frames`);
    assert.deepEqual(got.messages, expected.messages ?? got.messages, `${name}: messages`);
  }
}

const server = { role: "server" } as const;
const client = { role: "client" } as const;

describe("RFC 6455 section 5.7: examples", () => {
  test("a single-frame unmasked text message decodes to Hello", () => {
    assertDecodes(hex("81 05 48 65 6c 6c 6f"), client, {
      frames: [{ fin: true, rsv1: false, opcode: 1, payload: "48 65 6c 6c 6f" }],
      messages: ["Hello"],
    });
  });

  test("a single-frame masked text message decodes to Hello", () => {
    assertDecodes(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), server, {
      frames: [{ fin: true, rsv1: false, opcode: 1, payload: "48 65 6c 6c 6f" }],
      messages: ["Hello"],
    });
  });

  test("a fragmented unmasked text message decodes to Hello", () => {
    assertDecodes(hex("01 03 48 65 6c 80 02 6c 6f"), client, {
      frames: [
        { fin: false, rsv1: false, opcode: 1, payload: "48 65 6c" },
        { fin: true, rsv1: false, opcode: 0, payload: "6c 6f" },
      ],
      messages: ["Hello"],
    });
  });

  test("an unmasked ping and a masked pong carry Hello", () => {
    assertDecodes(hex("89 05 48 65 6c 6c 6f"), client, {
      frames: [{ fin: true, rsv1: false, opcode: 9, payload: "48 65 6c 6c 6f" }],
    });
    assertDecodes(hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"), server, {
      frames: [{ fin: true, rsv1: false, opcode: 10, payload: "48 65 6c 6c 6f" }],
    });
  });

  test("256 bytes of binary data use a 16-bit length", () => {
    const payload = new Uint8Array(256).map((_, i) => i);
    const bytes = new Uint8Array([0x82, 0x7e, 0x01, 0x00, ...payload]);
    const got = decode([bytes], client);
    assert.deepEqual(got.messages, [payload]);
    assert.equal(got.error, undefined);
  });

  test("64 KiB of binary data use a 64-bit length", () => {
    const payload = new Uint8Array(65536).map((_, i) => i * 7);
    const bytes = new Uint8Array([0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0, ...payload]);
    for (const chunks of [[bytes.slice()], [bytes.slice(0, 5), bytes.slice(5, 40000), bytes.slice(40000)]]) {
      const got = decode(chunks, client);
      assert.deepEqual(got.messages, [payload]);
      assert.equal(got.error, undefined);
    }
  });
});

describe("RFC 6455 section 5.2: base framing", () => {
  test("FrameDecoder parses several frames from one chunk in order", () => {
    assertDecodes(hex("81 01 61 82 02 01 02 89 00 81 00"), client, {
      frames: [
        { fin: true, rsv1: false, opcode: 1, payload: "61" },
        { fin: true, rsv1: false, opcode: 2, payload: "01 02" },
        { fin: true, rsv1: false, opcode: 9, payload: "" },
        { fin: true, rsv1: false, opcode: 1, payload: "" },
      ],
      messages: ["a", new Uint8Array([1, 2]), ""],
    });
  });

  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    test(`FrameDecoder rejects reserved opcode 0x${opcode.toString(16)} with 1002`, () => {
      assertDecodes(new Uint8Array([0x80 | opcode, 0x00]), client, {
        error: { closeCode: 1002, message: `Cannot decode frame: opcode 0x${opcode.toString(16)} is reserved` },
      });
    });
  }

  for (const [bit, name] of [[0x40, "RSV1"], [0x20, "RSV2"], [0x10, "RSV3"]] as const) {
    test(`FrameDecoder rejects ${name} with no extension negotiated with 1002`, () => {
      assertDecodes(new Uint8Array([0x81 | bit, 0x01, 0x61]), client, {
        error: { closeCode: 1002, message: `${name} is set with no extension` },
      });
    });
  }

  test("FrameDecoder accepts RSV1 when an extension negotiated it", () => {
    assertDecodes(hex("c2 01 00"), { role: "client", allowedRsv: 0x4 }, {
      frames: [{ fin: true, rsv1: true, opcode: 2, payload: "00" }],
      messages: [new Uint8Array([0])],
    });
  });

  test("FrameDecoder rejects a 64-bit length with the most significant bit set with 1002", () => {
    assertDecodes(hex("82 7f 80 00 00 00 00 00 00 01"), client, {
      error: { closeCode: 1002, message: "most significant bit" },
    });
  });

  test("FrameDecoder fails a frame over maxFrameSize with 1009 before its payload arrives", () => {
    const decoder = new FrameDecoder({ role: "client", maxFrameSize: 1000 });
    decoder.push(hex("82 7e 03 e9")); // a 1001-byte payload announced, none of it sent
    const result = decoder.next();
    assert.ok(result instanceof ProtocolError);
    assert.equal(result.closeCode, 1009);
    assert.match(result.message, /1001 bytes exceeds maxFrameSize \(1000 bytes\)/);
    assertDecodes(hex("82 7e 03 e8"), { role: "client", maxFrameSize: 1000 }, { frames: [], messages: [] });
  });

  test("FrameDecoder fails a 64-bit length over the default limit with 1009", () => {
    assertDecodes(hex("82 7f 00 00 00 01 00 00 00 00"), client, { error: { closeCode: 1009, message: "maxFrameSize" } });
  });
});

describe("RFC 6455 section 5.1 and 5.3: masking", () => {
  test("FrameDecoder rejects an unmasked frame from a client with 1002", () => {
    assertDecodes(hex("81 05 48 65 6c 6c 6f"), server, {
      error: { closeCode: 1002, message: "Cannot decode frame: a client frame is not masked" },
    });
  });

  test("FrameDecoder rejects a masked frame from a server with 1002", () => {
    assertDecodes(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), client, {
      error: { closeCode: 1002, message: "Cannot decode frame: a server frame is masked" },
    });
  });

  test("FrameDecoder unmasks a payload that arrives in pieces at every offset", () => {
    const key = [0x01, 0x02, 0x03, 0x04];
    const plain = new Uint8Array(300).map((_, i) => (i * 31) & 0xff);
    const masked = plain.map((b, i) => b ^ key[i % 4]);
    const bytes = new Uint8Array([0x82, 0xfe, 0x01, 0x2c, ...key, ...masked]);
    for (const { name, chunks } of splits(bytes)) {
      assert.deepEqual(decode(chunks, server).messages, [plain], name);
    }
  });
});

describe("RFC 6455 section 5.5: control frames", () => {
  test("FrameDecoder rejects a control frame longer than 125 bytes with 1002", () => {
    assertDecodes(new Uint8Array([0x89, 0x7e, 0x00, 0x7e, ...new Uint8Array(126)]), client, {
      error: { closeCode: 1002, message: "control frame \\(opcode 0x9\\) is longer than 125 bytes" },
    });
  });

  test("FrameDecoder accepts a control frame of exactly 125 bytes", () => {
    const payload = new Uint8Array(125).fill(0x61);
    const got = decode([new Uint8Array([0x8a, 0x7d, ...payload])], client);
    assert.equal(got.error, undefined);
    assert.equal(got.frames.length, 1);
    assert.equal(got.frames[0].opcode, 0xa);
  });

  test("FrameDecoder rejects a fragmented control frame with 1002", () => {
    assertDecodes(hex("09 00"), client, {
      error: { closeCode: 1002, message: "control frame \\(opcode 0x9\\) is fragmented" },
    });
  });

  test("FrameDecoder rejects RSV1 on a control frame even with compression negotiated", () => {
    assertDecodes(hex("c9 00"), { role: "client", allowedRsv: 0x4 }, {
      error: { closeCode: 1002, message: "RSV1" },
    });
  });

  test("FrameDecoder hands out a control frame split across chunks whole", () => {
    const decoder = new FrameDecoder({ role: "client" });
    decoder.push(hex("89 05 48 65"));
    assert.equal(decoder.next(), undefined);
    decoder.push(hex("6c 6c 6f"));
    const part = decoder.next();
    assert.ok(part && !(part instanceof ProtocolError));
    assert.equal(part.offset, 0);
    assert.equal(new TextDecoder().decode(part.payload), "Hello");
  });
});

describe("FrameDecoder: streaming behaviour", () => {
  test("hands out the payload of a large frame in pieces as views into the chunks", () => {
    const decoder = new FrameDecoder({ role: "client" });
    const first = new Uint8Array([0x82, 0x7e, 0x10, 0x00, ...new Uint8Array(1000).fill(7)]);
    decoder.push(first);
    const a = decoder.next();
    assert.ok(a && !(a instanceof ProtocolError));
    assert.deepEqual([a.offset, a.payload.length, a.length], [0, 1000, 4096]);
    assert.equal(a.payload.buffer, first.buffer, "the piece is a view, not a copy");
    assert.equal(decoder.next(), undefined);
    decoder.push(new Uint8Array(3096).fill(8));
    const b = decoder.next();
    assert.ok(b && !(b instanceof ProtocolError));
    assert.deepEqual([b.offset, b.payload.length, b.length, b.fin], [1000, 3096, 4096, true]);
    assert.equal(decoder.next(), undefined);
  });

  test("copyBelow: a whole payload shorter than it is a copy of its own, unmasked; longer or split ones stay views", () => {
    const key = [0x37, 0xfa, 0x21, 0x3d];
    const masked = (payload: number[]) => [0x82, 0x80 | payload.length, ...key, ...payload.map((b, i) => b ^ key[i & 3])];
    const short = Array.from({ length: 8 }, (_, i) => i + 1);
    const long = Array.from({ length: 16 }, (_, i) => 100 + i);
    const chunk = new Uint8Array([...masked(short), ...masked(long)]);
    const wire = chunk.slice();
    const decoder = new FrameDecoder({ role: "server", copyBelow: 16 });
    decoder.push(chunk);
    const a = decoder.next();
    const b = decoder.next();
    assert.ok(a && !(a instanceof ProtocolError) && b && !(b instanceof ProtocolError));
    assert.deepEqual([...a.payload], short);
    assert.notEqual(a.payload.buffer, chunk.buffer, "8 bytes < copyBelow: a copy");
    assert.deepEqual([...chunk.subarray(0, 14)], [...wire.subarray(0, 14)], "the copy is unmasked, not the chunk");
    assert.deepEqual([...b.payload], long);
    assert.equal(b.payload.buffer, chunk.buffer, "16 bytes: a view, unmasked in place");
    // A short frame split across chunks: its pieces are views, as without the option.
    const split = new FrameDecoder({ role: "client", copyBelow: 16 });
    const first = new Uint8Array([0x82, 0x04, 1, 2]);
    split.push(first);
    const c = split.next();
    assert.ok(c && !(c instanceof ProtocolError));
    assert.equal(c.payload.buffer, first.buffer);
  });

  test("_nextPart hands out the parts next() does, at every split, in one object of the decoder's", () => {
    const bytes = hex(
      "01 83 37 fa 21 3d 7f 9f 4d " + // text "Hel", not final
        "89 85 37 fa 21 3d 7f 9f 4d 51 58 " + // ping "Hello" between the fragments
        "80 82 01 02 03 04 6d 6d " + // continuation "lo"
        "8a 80 01 02 03 04 " + // empty pong
        "82 84 00 00 00 00 01 02 03 04 " + // binary
        "89 82 05 06 07 08 6c 6b " + // ping "ij", shorter than the one before
        "88 82 00 00 00 00 03 e8", // close 1000
    );
    const snapshot = (part: ReturnType<FrameDecoder["next"]>) =>
      part instanceof ProtocolError || part === undefined ? part : { ...part, payload: Array.from(part.payload) };
    for (const { name, chunks } of splits(bytes)) {
      const viaNext: unknown[] = [];
      const viaPart: unknown[] = [];
      const a = new FrameDecoder(server);
      const b = new FrameDecoder(server);
      let shared: unknown;
      for (const chunk of chunks) {
        a.push(chunk.slice());
        for (let part = a.next(); part; part = a.next()) viaNext.push(snapshot(part));
        const copy = chunk.slice();
        b.push(copy);
        for (let part = b._nextPart(); part; part = b._nextPart()) {
          assert.ok(!(part instanceof ProtocolError));
          shared ??= part;
          assert.equal(part, shared, `${name}: one object`);
          if (part.opcode >= 0x8) assert.notEqual(part.payload.buffer, copy.buffer, `${name}: a control payload is not unmasked in the chunk`);
          viaPart.push(snapshot(part));
        }
      }
      assert.deepEqual(viaPart, viaNext, name);
    }
  });

  test("a control frame split across chunks is whole when next() and _nextPart read the chunks in turn", () => {
    const bytes = hex("89 85 37 fa 21 3d 7f 9f 4d 51 58 81 81 00 00 00 00 61"); // ping "Hello", text "a"
    for (const { name, chunks } of splits(bytes)) {
      if (chunks.length !== 2) continue;
      for (const firstOwn of [true, false]) {
        const decoder = new FrameDecoder(server);
        const pings: string[] = [];
        let text = "";
        chunks.forEach((chunk, i) => {
          const own = i === 0 ? firstOwn : !firstOwn;
          decoder.push(chunk.slice());
          for (let part = own ? decoder._nextPart() : decoder.next(); part; part = own ? decoder._nextPart() : decoder.next()) {
            assert.ok(!(part instanceof ProtocolError));
            if (part.opcode === 0x9) pings.push(new TextDecoder().decode(part.payload));
            else text += new TextDecoder().decode(part.payload);
          }
        });
        const how = `${name}, ${firstOwn ? "_nextPart" : "next()"} first`;
        assert.deepEqual(pings, ["Hello"], how);
        assert.equal(text, "a", how);
      }
    }
  });

  test("_nextPart leaves a control frame's masked bytes in the chunk", () => {
    const chunk = hex("89 85 37 fa 21 3d 7f 9f 4d 51 58");
    const decoder = new FrameDecoder(server);
    decoder.push(chunk);
    const part = decoder._nextPart();
    assert.ok(part && !(part instanceof ProtocolError));
    assert.equal(new TextDecoder().decode(part.payload), "Hello");
    assert.deepEqual(chunk, hex("89 85 37 fa 21 3d 7f 9f 4d 51 58"));
  });

  test("reports a failure once and ignores all input after it", () => {
    const decoder = new FrameDecoder({ role: "client" });
    decoder.push(hex("83 00 81 01 61"));
    assert.ok(decoder.next() instanceof ProtocolError);
    assert.equal(decoder.next(), undefined);
    decoder.push(hex("81 01 61"));
    assert.equal(decoder.next(), undefined);
  });

  test("push refuses a new chunk while the previous one holds unread frames", () => {
    const decoder = new FrameDecoder({ role: "client" });
    decoder.push(hex("81 01 61 81 01 62"));
    decoder.next();
    assert.throws(() => decoder.push(hex("81 01 63")), /call next\(\) until it returns undefined/);
  });

  test("the constructor refuses an unknown role", () => {
    assert.throws(() => new FrameDecoder({ role: "peer" as "server" }), TypeError);
  });
});
