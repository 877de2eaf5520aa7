import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameDecoder } from "../../src/core/frame_decoder.ts";
import { MessageDecoder } from "../../src/core/message_decoder.ts";
import { ProtocolError } from "../../src/core/protocol_error.ts";
import { concat, decode, hex, splits } from "../_util.ts";

const client = { role: "client" } as const;

/** An unmasked frame, as a server sends it. */
function frame(b0: number, payload: Uint8Array | string): Uint8Array {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const n = bytes.length;
  const head = n < 126 ? [b0, n] : n < 65536 ? [b0, 126, n >> 8, n & 0xff] : [b0, 127, 0, 0, 0, 0, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return concat(new Uint8Array(head), bytes);
}

function assertEverySplit(bytes: Uint8Array, options: Parameters<typeof decode>[1], check: (got: ReturnType<typeof decode>, name: string) => void) {
  for (const { name, chunks } of splits(bytes)) check(decode(chunks, options), name);
}

describe("RFC 6455 section 5.4: fragmentation", () => {
  test("MessageDecoder reassembles fragments with control frames interleaved", () => {
    const bytes = concat(frame(0x01, "Hel"), frame(0x89, "p"), frame(0x00, "l"), frame(0x8a, "q"), frame(0x80, "o"));
    assertEverySplit(bytes, client, (got, name) => {
      assert.equal(got.error, undefined, name);
      assert.deepEqual(got.messages, ["Hello"], name);
      assert.deepEqual(got.frames.map((f) => f.opcode), [1, 9, 0, 10, 0], name);
    });
  });

  test("MessageDecoder reassembles a fragmented binary message", () => {
    const bytes = concat(frame(0x02, hex("01 02")), frame(0x00, new Uint8Array(0)), frame(0x80, hex("03")));
    assertEverySplit(bytes, client, (got, name) => {
      assert.equal(got.error, undefined, name);
      assert.deepEqual(got.messages, [hex("01 02 03")], name);
    });
  });

  test("MessageDecoder fails a continuation with no message started with 1002", () => {
    assertEverySplit(frame(0x80, "x"), client, (got, name) => {
      assert.equal(got.error?.closeCode, 1002, name);
      assert.match(got.error!.message, /continuation frame with no message started/);
    });
  });

  test("MessageDecoder fails a new data frame inside a fragmented message with 1002", () => {
    for (const b0 of [0x81, 0x01, 0x82]) {
      assertEverySplit(concat(frame(0x01, "a"), frame(b0, "b")), client, (got, name) => {
        assert.equal(got.error?.closeCode, 1002, name);
        assert.match(got.error!.message, /frame inside a fragmented message, expected a continuation/);
        assert.deepEqual(got.messages, []);
      });
    }
  });

  test("MessageDecoder accepts 4 MiB in 65,536 fragments of 64 bytes with the default limits", () => {
    const piece = new Uint8Array(64).fill(0x61);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 65536; i++) parts.push(frame(i === 0 ? 0x01 : i === 65535 ? 0x80 : 0x00, piece));
    const got = decode([concat(...parts)], client);
    assert.equal(got.error, undefined);
    assert.equal(got.messages.length, 1);
    assert.equal((got.messages[0] as string).length, 4 * 1024 * 1024);
  });

  test("MessageDecoder fails a message over maxFragments with 1009", () => {
    const bytes = concat(frame(0x02, "a"), frame(0x00, "b"), frame(0x00, "c"), frame(0x80, "d"));
    assertEverySplit(bytes, { ...client, maxFragments: 3 }, (got, name) => {
      assert.equal(got.error?.closeCode, 1009, name);
      assert.match(got.error!.message, /more than maxFragments \(3\) frames/);
    });
    assert.equal(decode([bytes], { ...client, maxFragments: 4 }).error, undefined);
  });

  test("MessageDecoder fails a message over maxMessageSize with 1009 when the frame header arrives", () => {
    const bytes = concat(frame(0x02, new Uint8Array(600)), frame(0x80, new Uint8Array(500)));
    assertEverySplit(bytes, { ...client, maxMessageSize: 1000 }, (got, name) => {
      assert.equal(got.error?.closeCode, 1009, name);
      assert.match(got.error!.message, /1100 bytes exceed maxMessageSize \(1000 bytes\)/);
    });
    const exact = concat(frame(0x02, new Uint8Array(600)), frame(0x80, new Uint8Array(400)));
    assert.equal(decode([exact], { ...client, maxMessageSize: 1000 }).messages[0].length, 1000);
  });

  test("MessageDecoder hands out a single-frame binary message as a view without a copy", () => {
    const frames = new FrameDecoder(client);
    const messages = new MessageDecoder();
    const bytes = frame(0x82, hex("0a 0b 0c"));
    frames.push(bytes);
    const part = frames.next();
    assert.ok(part && !(part instanceof ProtocolError));
    const message = messages.push(part);
    assert.ok(message instanceof Uint8Array);
    assert.equal(message.buffer, bytes.buffer);
  });

  test("MessageDecoder joins a message in pieces into the buffer its allocate option makes", () => {
    const made: number[] = [];
    const allocate = (size: number) => {
      made.push(size);
      return new Uint8Array(size).fill(0xee); // stale bytes, as an unzeroed allocator gives
    };
    const bytes = concat(frame(0x02, new Uint8Array(5000).fill(1)), frame(0x80, new Uint8Array(5000).fill(2)));
    const got = decode([bytes], { ...client, allocate });
    assert.deepEqual(made, [10000]);
    assert.deepEqual(got.messages, [concat(new Uint8Array(5000).fill(1), new Uint8Array(5000).fill(2))]);
  });

  test("MessageDecoder refuses a control frame with a TypeError", () => {
    const messages = new MessageDecoder();
    assert.throws(
      () => messages.push({ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 9, payload: new Uint8Array(0), offset: 0, length: 0 }),
      TypeError,
    );
  });
});

describe("RFC 6455 section 8.1: UTF-8 in text messages", () => {
  test("MessageDecoder decodes multi-byte UTF-8 split across fragments", () => {
    const text = "κόσμε 🙂 ünïcödé";
    const bytes = new TextEncoder().encode(text);
    const message = concat(frame(0x01, bytes.subarray(0, 1)), frame(0x00, bytes.subarray(1, 11)), frame(0x80, bytes.subarray(11)));
    assertEverySplit(message, client, (got, name) => assert.deepEqual(got.messages, [text], name));
  });

  test("MessageDecoder fails invalid UTF-8 in a single-frame text message with 1007", () => {
    assertEverySplit(frame(0x81, hex("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64")), client, (got, name) => {
      assert.equal(got.error?.closeCode, 1007, name);
      assert.equal(got.error!.message, "Cannot decode message: text is not valid UTF-8");
    });
  });

  test("MessageDecoder fails a first fragment that can never be valid before the rest arrives", () => {
    // Autobahn 6.4.1: the first fragment holds F4 90 80 80 (above U+10FFFF).
    const frames = new FrameDecoder(client);
    const messages = new MessageDecoder();
    frames.push(frame(0x01, hex("ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90 80 80")));
    const part = frames.next();
    assert.ok(part && !(part instanceof ProtocolError));
    const result = messages.push(part);
    assert.ok(result instanceof ProtocolError);
    assert.equal(result.closeCode, 1007);
  });

  test("MessageDecoder fails invalid UTF-8 inside one frame that arrives in several chunks", () => {
    // A single 200-byte text frame whose 11th byte is 0xff: the failure comes with the first chunk.
    const payload = new Uint8Array(200).fill(0x61);
    payload[10] = 0xff;
    const frames = new FrameDecoder(client);
    const messages = new MessageDecoder();
    const bytes = frame(0x81, payload);
    frames.push(bytes.subarray(0, 20));
    const part = frames.next();
    assert.ok(part && !(part instanceof ProtocolError));
    assert.equal(part.payload.length, 16);
    const result = messages.push(part);
    assert.ok(result instanceof ProtocolError);
    assert.equal(result.closeCode, 1007);
  });

  test("MessageDecoder fails a text message that ends inside a code point with 1007", () => {
    assertEverySplit(concat(frame(0x01, hex("e2 82")), frame(0x80, new Uint8Array(0))), client, (got, name) => {
      assert.equal(got.error?.closeCode, 1007, name);
    });
  });

  test("MessageDecoder accepts a U+FFFD sent as such, and fails invalid bytes next to one with 1007", () => {
    // EF BF BD is U+FFFD itself: valid, though a replacing decoder's output for invalid bytes holds it too.
    assertEverySplit(frame(0x81, hex("41 ef bf bd 42")), client, (got, name) => {
      assert.equal(got.error, undefined, name);
      assert.deepEqual(got.messages, ["A\uFFFDB"], name);
    });
    assertEverySplit(frame(0x81, hex("ef bf bd 41 ff")), client, (got, name) => assert.equal(got.error?.closeCode, 1007, name));
  });

  test("MessageDecoder decodes text in pieces whose first non-ASCII byte comes late, and fails it as soon as it can", () => {
    const ascii = "a".repeat(100);
    const text = `${ascii}🙂é${ascii}`;
    const bytes = new TextEncoder().encode(text);
    // The emoji's four bytes split across two fragments, after an all-ASCII first fragment.
    const message = concat(frame(0x01, bytes.subarray(0, 100)), frame(0x00, bytes.subarray(100, 102)), frame(0x80, bytes.subarray(102)));
    assertEverySplit(message, client, (got, name) => assert.deepEqual(got.messages, [text], name));
    // A surrogate (ED A0 80) in the second fragment fails there, before the final fragment.
    const frames = new FrameDecoder(client);
    const messages = new MessageDecoder();
    const results: unknown[] = [];
    for (const f of [frame(0x01, bytes.subarray(0, 100)), frame(0x00, hex("41 ed a0 80"))]) {
      frames.push(f);
      for (let part = frames.next(); part !== undefined; part = frames.next()) results.push(messages.push(part as never));
    }
    assert.equal(results[0], undefined);
    assert.ok(results[1] instanceof ProtocolError && results[1].closeCode === 1007);
  });

  test("MessageDecoder keeps a byte order mark in text", () => {
    assert.deepEqual(decode([frame(0x81, hex("ef bb bf 61"))], client).messages, ["\ufeffa"]);
  });

  test("MessageDecoder starts each message afresh after a fragmented one", () => {
    const bytes = concat(frame(0x01, hex("e2 82")), frame(0x80, hex("ac")), frame(0x81, "x"), frame(0x82, hex("ff")));
    assertEverySplit(bytes, client, (got, name) => {
      assert.equal(got.error, undefined, name);
      assert.deepEqual(got.messages, ["€", "x", hex("ff")], name);
    });
  });
});

describe("MessageDecoder memory: pieces kept as views, copied once", () => {
  // Pushes chunks into a client's decoders; `between(i)` runs after chunk i is pushed.
  function decodeChunks(chunks: Uint8Array[], between: (i: number, made: number[]) => void = () => {}) {
    const made: number[] = [];
    const frames = new FrameDecoder(client);
    const messages = new MessageDecoder({ allocate: (size) => (made.push(size), new Uint8Array(size)) });
    const out: Uint8Array[] = [];
    chunks.forEach((chunk, i) => {
      frames.push(chunk);
      for (let part = frames.next(); part !== undefined; part = frames.next()) {
        assert.ok(!(part instanceof ProtocolError));
        const message = messages.push(part);
        assert.ok(!(message instanceof ProtocolError) && typeof message !== "string");
        if (message) out.push(message);
      }
      between(i, made);
    });
    return { out, made };
  }
  const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);

  test("MessageDecoder hands out a frame spanning views into one large buffer as one view of it, whatever the buffer's size", () => {
    // One 1 MiB buffer, a 96 KiB message at its start, handed out as 16 KiB views of it.
    const big = new Uint8Array(1 << 20);
    const bytes = frame(0x82, pattern(96 * 1024));
    big.set(bytes);
    const chunks: Uint8Array[] = [];
    for (let p = 0; p < bytes.length; p += 16384) chunks.push(big.subarray(p, Math.min(p + 16384, bytes.length)));
    // Bytes changed in the buffer after their chunk was pushed show in the message: they were
    // kept as views, not copied early; and the pieces lie back to back, so nothing is copied.
    const { out, made } = decodeChunks(chunks, (i) => {
      if (i === chunks.length - 2) big[10] ^= 0xff;
    });
    const expected = pattern(96 * 1024);
    expected[0] ^= 0xff; // after the 10 header bytes
    assert.deepEqual(made, []);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], expected);
    assert.equal(out[0].buffer, big.buffer);
    assert.equal(out[0].byteOffset, 10);
  });

  test("MessageDecoder copies a fragmented message over views into one buffer once (headers lie between its pieces)", () => {
    const big = new Uint8Array(1 << 20);
    const bytes = concat(frame(0x02, pattern(40 * 1024)), frame(0x80, pattern(40 * 1024)));
    big.set(bytes);
    const chunks: Uint8Array[] = [];
    for (let p = 0; p < bytes.length; p += 16384) chunks.push(big.subarray(p, Math.min(p + 16384, bytes.length)));
    const { out, made } = decodeChunks(chunks);
    assert.deepEqual(made, [80 * 1024]);
    assert.deepEqual(out, [concat(pattern(40 * 1024), pattern(40 * 1024))]);
    assert.notEqual(out[0].buffer, big.buffer);
  });

  test("MessageDecoder copies pieces back to back in memory but in different buffers", () => {
    // Socket reads each own their buffer: a frame across two of them is joined, never viewed.
    const bytes = frame(0x82, pattern(100 * 1024));
    const chunks = [bytes.slice(0, 65536), bytes.slice(65536)];
    const { out, made } = decodeChunks(chunks);
    assert.deepEqual(made, [100 * 1024]);
    assert.deepEqual(out, [pattern(100 * 1024)]);
  });

  test("MessageDecoder copies views that cover under an eighth of their buffer once the message moves on", () => {
    // Each 64 KiB buffer carries one 5 KiB fragment at its start and nothing else.
    const buffers = [0x02, 0x00, 0x80].map((b0, i) => {
      const buffer = new Uint8Array(65536);
      const bytes = frame(b0, new Uint8Array(5120).fill(i + 1));
      buffer.set(bytes);
      return { buffer, chunk: buffer.subarray(0, bytes.length) };
    });
    const { out } = decodeChunks(buffers.map((b) => b.chunk), (i) => {
      // Scribble over the fragments already pushed: copies are unaffected.
      if (i === 2) for (const { buffer } of buffers.slice(0, 2)) buffer.fill(0xee, 4, 5124);
    });
    assert.deepEqual(out, [concat(new Uint8Array(5120).fill(1), new Uint8Array(5120).fill(2), new Uint8Array(5120).fill(3))]);
  });

  test("MessageDecoder copies a view at once when the rest of its buffer could not make up an eighth", () => {
    // A 5 KiB first fragment at the very end of a 1 MiB buffer, then the rest later.
    const big = new Uint8Array(1 << 20);
    const first = frame(0x02, new Uint8Array(5120).fill(1));
    big.set(first, big.length - first.length);
    const { out } = decodeChunks([big.subarray(big.length - first.length), frame(0x80, new Uint8Array(8).fill(2))], (i) => {
      if (i === 0) big.fill(0xee);
    });
    assert.deepEqual(out, [concat(new Uint8Array(5120).fill(1), new Uint8Array(8).fill(2))]);
  });

  test("MessageDecoder copies a message spanning the end of a shared buffer once, into the message's own buffer", () => {
    // A 64 KiB message whose first 48 KiB end a 1 MiB buffer that chunks are views into (too
    // little of it to pin), then its last 16 KiB in a chunk of its own.
    const big = new Uint8Array(1 << 20);
    const bytes = frame(0x82, pattern(64 * 1024));
    const split = 10 + 48 * 1024;
    big.set(bytes.subarray(0, split), big.length - split);
    const rest = bytes.slice(split);
    let afterFirst: number[] = [];
    const { out, made } = decodeChunks([big.subarray(big.length - split), rest], (i, madeSoFar) => {
      // Scribble over the shared buffer once its chunk is pushed: the message was copied out.
      if (i === 0) big.fill(0xee), afterFirst = [...madeSoFar];
    });
    // The message's own buffer is made as the first piece is copied out (not a buffer for the
    // piece, joined later), and nothing else is: every byte is copied once.
    assert.deepEqual(afterFirst, [64 * 1024]);
    assert.deepEqual(made, [64 * 1024]);
    assert.deepEqual(out, [pattern(64 * 1024)]);
  });

  test("MessageDecoder does not allocate a frame's claimed size for a piece under an eighth of it", () => {
    // A frame that claims 1 MiB; its first 5 KiB end a shared 1 MiB buffer, so they are copied
    // at once, but into an array of their own: 1 MiB is made only when the message is joined.
    const big = new Uint8Array(1 << 20);
    const bytes = frame(0x82, pattern(1 << 20));
    const split = 10 + 5120;
    big.set(bytes.subarray(0, split), big.length - split);
    const chunks = [big.subarray(big.length - split)];
    for (let p = split; p < bytes.length; p += 65536) chunks.push(bytes.slice(p, p + 65536));
    const sizes: number[][] = [];
    const { out, made } = decodeChunks(chunks, (i, madeSoFar) => {
      if (i === 0) big.fill(0xee);
      sizes.push([...madeSoFar]);
    });
    assert.deepEqual(sizes[0], []);
    assert.deepEqual(made, [1 << 20]);
    assert.deepEqual(out, [pattern(1 << 20)]);
  });

  test("MessageDecoder keeps views into chunks that own their buffers (a frame across socket reads)", () => {
    const bytes = frame(0x82, pattern(200 * 1024));
    const chunks: Uint8Array[] = [];
    for (let p = 0; p < bytes.length; p += 65536) chunks.push(bytes.slice(p, p + 65536));
    const { out, made } = decodeChunks(chunks, (i) => {
      if (i === 1) chunks[0][100] ^= 0xff;
    });
    const expected = pattern(200 * 1024);
    expected[100 - 10] ^= 0xff; // 10 header bytes
    assert.deepEqual(made, [200 * 1024]);
    assert.deepEqual(out, [expected]);
  });
});
