// The ground of Autobahn|Testsuite cases 1-7 and 9, at the codec level: the bytes a client sends
// (masked) go through a server's FrameDecoder and MessageDecoder, and each case asserts exactly the
// messages and control frames seen, in order, and the close code the connection fails with.
// What a Session does next (answering pings, echoing close, ignoring frames after a close) is not
// the codec's job; the 7.1 cases show what the codec hands it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseClosePayload } from "../../src/core/close_payload.ts";
import { ProtocolError } from "../../src/core/protocol_error.ts";
import { chop, firstDifference, frame, run } from "../_frames.ts";
import { concat, hex, splits, toHex } from "../_util.ts";

const SERVER = { role: "server" } as const;
const utf8 = new TextEncoder();

const text = (payload: string | Uint8Array, fin = true, rsv = 0) => frame({ opcode: 0x1, payload, fin, rsv });
const binary = (payload: Uint8Array, fin = true, rsv = 0) => frame({ opcode: 0x2, payload, fin, rsv });
const cont = (payload: string | Uint8Array, fin = true) => frame({ opcode: 0x0, payload, fin });
const ping = (payload: string | Uint8Array = "", rsv = 0) => frame({ opcode: 0x9, payload, rsv });
const pong = (payload: string | Uint8Array = "") => frame({ opcode: 0xa, payload });
const close = (payload: Uint8Array = new Uint8Array(0), rsv = 0) => frame({ opcode: 0x8, payload, rsv });
const fill = (byte: number, n: number) => new Uint8Array(n).fill(byte);
const closeBody = (code: number, reason: string | Uint8Array = "") =>
  concat(Uint8Array.of(code >>> 8, code & 0xff), typeof reason === "string" ? utf8.encode(reason) : reason);
const h = (s: string | Uint8Array) => toHex(typeof s === "string" ? utf8.encode(s) : s);

/** Event names as `run` records them. */
const T = (s: string) => (s.length <= 64 ? `text:${s}` : `text:<${s.length} chars>`);
const B = (n: number) => `binary:<${n} bytes>`;
const PING = (p: string | Uint8Array = "") => `ping:${h(p)}`;
const PONG = (p: string | Uint8Array = "") => `pong:${h(p)}`;
const CLOSE = (p: Uint8Array = new Uint8Array(0)) => `close:${toHex(p)}`;
const ERROR = (code: number) => `error:${code}`;

interface Expectation {
  /** What the connection sees, in order, as `run` names it. */
  events: string[];
  /** The exact messages, when the events abbreviate them. */
  messages?: (string | Uint8Array)[];
  /** Extra ways the case sends its bytes (Autobahn's own chops), each as a list of chunks. */
  chunkings?: Uint8Array[][];
}

/**
 * Checks a case: its frames sent whole, one chunk per frame, one byte per chunk and (for short
 * streams) split in two at every byte boundary, plus the case's own chops.
 */
function check(frames: Uint8Array[], expected: Expectation): void {
  const stream = concat(...frames);
  const ways: { name: string; chunks: Uint8Array[] }[] = [
    { name: "one chunk per frame", chunks: frames },
    ...(stream.length <= 300 ? [...splits(stream)] : [{ name: "whole", chunks: [stream] }]),
    ...(stream.length > 300 && stream.length <= 140_000 ? [{ name: "byte by byte", chunks: chop(stream, 1) }] : []),
    ...(expected.chunkings ?? []).map((chunks, i) => ({ name: `case chop ${i}`, chunks })),
  ];
  for (const { name, chunks } of ways) {
    const got = run(chunks, SERVER);
    assert.deepEqual(got.events, expected.events, name);
    if (expected.messages) assertMessages(got.messages, expected.messages, name);
  }
}

function assertMessages(got: (string | Uint8Array)[], want: (string | Uint8Array)[], where: string): void {
  assert.equal(got.length, want.length, `${where}: message count`);
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    if (typeof w === "string") assert.ok(g === w, `${where}: text message ${i} differs`);
    else assert.equal(g instanceof Uint8Array ? firstDifference(g, w) : "not binary", undefined, `${where}: binary message ${i}`);
  }
}

/** The chunk index a run failed at, with the failure's close code. */
function failure(chunks: Uint8Array[]): [number, number] | undefined {
  const error = run(chunks, SERVER).error;
  return error && [error.closeCode, error.chunk];
}

describe("Autobahn 1.1 text messages of edge lengths (RFC 6455 section 5.2)", () => {
  for (const [id, n] of [["1.1.1", 0], ["1.1.2", 125], ["1.1.3", 126], ["1.1.4", 127], ["1.1.5", 128], ["1.1.6", 65535], ["1.1.7", 65536]] as const) {
    test(`${id}: a ${n}-byte text message is delivered whole`, () => {
      const s = "*".repeat(n);
      check([text(s)], { events: [T(s)], messages: [s] });
    });
  }
  test("1.1.8: a 65536-byte text message sent in 997-byte chops is delivered whole", () => {
    const s = "*".repeat(65536);
    check([text(s)], { events: [T(s)], messages: [s], chunkings: [chop(text(s), 997)] });
  });
});

describe("Autobahn 1.2 binary messages of edge lengths (RFC 6455 section 5.2)", () => {
  for (const [id, n] of [["1.2.1", 0], ["1.2.2", 125], ["1.2.3", 126], ["1.2.4", 127], ["1.2.5", 128], ["1.2.6", 65535], ["1.2.7", 65536]] as const) {
    test(`${id}: a ${n}-byte binary message is delivered whole`, () => {
      check([binary(fill(0xfe, n))], { events: [B(n)], messages: [fill(0xfe, n)] });
    });
  }
  test("1.2.8: a 65536-byte binary message sent in 997-byte chops is delivered whole", () => {
    const f = binary(fill(0xfe, 65536));
    check([f], { events: [B(65536)], messages: [fill(0xfe, 65536)], chunkings: [chop(f, 997)] });
  });
});

describe("Autobahn 2 pings and pongs (RFC 6455 sections 5.5.2 and 5.5.3)", () => {
  test("2.1: a ping with no payload is seen", () => {
    check([ping()], { events: [PING()] });
  });
  test("2.2: a ping with a text payload is seen with it", () => {
    check([ping("Hello, world!")], { events: [PING("Hello, world!")] });
  });
  test("2.3: a ping with a binary payload is seen with it", () => {
    check([ping(hex("00 ff fe fd fc fb 00 ff"))], { events: ["ping:00 ff fe fd fc fb 00 ff"] });
  });
  test("2.4: a ping with a 125-byte payload is seen with it", () => {
    check([ping(fill(0xfe, 125))], { events: [PING(fill(0xfe, 125))] });
  });
  test("2.5: a ping with a 126-byte payload fails with 1002 as soon as its length is read", () => {
    const f = ping(fill(0xfe, 126));
    check([f], { events: [ERROR(1002)] });
    assert.deepEqual(failure(chop(f, 1)), [1002, 1]);
  });
  test("2.6: a 125-byte ping sent byte by byte is seen whole", () => {
    check([ping(fill(0xfe, 125))], { events: [PING(fill(0xfe, 125))], chunkings: [chop(ping(fill(0xfe, 125)), 1)] });
  });
  test("2.7: an unsolicited pong with no payload is seen", () => {
    check([pong()], { events: [PONG()] });
  });
  test("2.8: an unsolicited pong with a payload is seen", () => {
    check([pong("unsolicited pong payload")], { events: [PONG("unsolicited pong payload")] });
  });
  test("2.9: an unsolicited pong then a ping are seen in order", () => {
    check([pong("unsolicited pong payload"), ping("ping payload")], {
      events: [PONG("unsolicited pong payload"), PING("ping payload")],
    });
  });
  test("2.10 and 2.11: ten pings, whole and byte by byte, are seen in order", () => {
    const pings = Array.from({ length: 10 }, (_, i) => ping(`payload-${i}`));
    check(pings, { events: Array.from({ length: 10 }, (_, i) => PING(`payload-${i}`)) });
  });
});

describe("Autobahn 3 reserved bits (RFC 6455 section 5.2)", () => {
  test("3.1: a text frame with RSV1 and no extension fails with 1002 at its first two bytes", () => {
    const f = text("Hello, world!", true, 4);
    check([f], { events: [ERROR(1002)] });
    assert.deepEqual(failure(chop(f, 1)), [1002, 1]);
  });
  test("3.2: a valid text, then a text with RSV2, then a ping: the first is delivered, then 1002", () => {
    check([text("Hello, world!"), text("Hello, world!", true, 2), ping("Hello, world!")], {
      events: [T("Hello, world!"), ERROR(1002)],
    });
  });
  test("3.3: the same with RSV3 (RSV1 and RSV2) sent frame by frame", () => {
    check([text("Hello, world!"), text("Hello, world!", true, 3), ping("Hello, world!")], {
      events: [T("Hello, world!"), ERROR(1002)],
    });
  });
  test("3.4: the same with RSV=4 sent byte by byte", () => {
    check([text("Hello, world!"), text("Hello, world!", true, 4), ping("Hello, world!")], {
      events: [T("Hello, world!"), ERROR(1002)],
    });
  });
  test("3.5: a binary frame with RSV=5 fails with 1002", () => {
    check([binary(fill(0xff, 8), true, 5)], { events: [ERROR(1002)] });
  });
  test("3.6: a ping with RSV=6 fails with 1002", () => {
    check([ping("Hello, world!", 6)], { events: [ERROR(1002)] });
  });
  test("3.7: a close with RSV=7 fails with 1002", () => {
    check([close(closeBody(1000), 7)], { events: [ERROR(1002)] });
  });
});

describe("Autobahn 4 reserved opcodes (RFC 6455 section 5.2)", () => {
  for (const [group, opcodes] of [["4.1", [3, 4, 5, 6, 7]], ["4.2", [0xb, 0xc, 0xd, 0xe, 0xf]]] as const) {
    const [a, b, c, d, e] = opcodes;
    test(`${group}.1: opcode 0x${a.toString(16)} with no payload fails with 1002 at its first two bytes`, () => {
      const f = frame({ opcode: a });
      check([f], { events: [ERROR(1002)] });
      assert.deepEqual(failure(chop(f, 1)), [1002, 1]);
    });
    test(`${group}.2: opcode 0x${b.toString(16)} with a payload fails with 1002 before the payload`, () => {
      const f = frame({ opcode: b, payload: "reserved opcode payload" });
      check([f], { events: [ERROR(1002)] });
      assert.deepEqual(failure(chop(f, 1)), [1002, 1]);
    });
    for (const [n, opcode, payload] of [[3, c, ""], [4, d, "reserved opcode payload"], [5, e, "reserved opcode payload"]] as const) {
      test(`${group}.${n}: a text, opcode 0x${opcode.toString(16)}, then a ping: the text is delivered, then 1002`, () => {
        check([text("Hello, world!"), frame({ opcode, payload }), ping("Hello, world!")], {
          events: [T("Hello, world!"), ERROR(1002)],
        });
      });
    }
  }
});

describe("Autobahn 5 fragmentation (RFC 6455 sections 5.4 and 5.5)", () => {
  test("5.1: a ping in two fragments fails with 1002", () => {
    check([frame({ opcode: 0x9, payload: "fragment1", fin: false }), cont("fragment2")], { events: [ERROR(1002)] });
  });
  test("5.2: a pong in two fragments fails with 1002", () => {
    check([frame({ opcode: 0xa, payload: "fragment1", fin: false }), cont("fragment2")], { events: [ERROR(1002)] });
  });
  test("5.3 to 5.5: a text message in two fragments is delivered joined, in any chunking", () => {
    check([text("fragment1", false), cont("fragment2")], { events: [T("fragment1fragment2")] });
  });
  test("5.6 to 5.8: a ping between two text fragments is seen first, then the joined message", () => {
    check([text("fragment1", false), ping("ping payload"), cont("fragment2")], {
      events: [PING("ping payload"), T("fragment1fragment2")],
    });
  });
  test("5.9 to 5.11: a final continuation with nothing to continue fails with 1002", () => {
    check([cont("non-continuation payload"), text("Hello, world!")], { events: [ERROR(1002)] });
  });
  test("5.12 to 5.14: a non-final continuation with nothing to continue fails with 1002", () => {
    check([cont("non-continuation payload", false), text("Hello, world!")], { events: [ERROR(1002)] });
  });
  test("5.15: a message, then continuations after it ended: the message is delivered, then 1002", () => {
    check([text("fragment1", false), cont("fragment2"), cont("fragment3", false), text("fragment4")], {
      events: [T("fragment1fragment2"), ERROR(1002)],
    });
  });
  test("5.16: a non-final continuation first, then a fragmented text, twice: 1002 at once", () => {
    const round = [cont("fragment1", false), text("fragment2", false), cont("fragment3")];
    check([...round, ...round], { events: [ERROR(1002)] });
  });
  test("5.17: a final continuation first, then a fragmented text, twice: 1002 at once", () => {
    const round = [cont("fragment1"), text("fragment2", false), cont("fragment3")];
    check([...round, ...round], { events: [ERROR(1002)] });
  });
  test("5.18: a text fragment followed by a second text frame instead of a continuation fails with 1002", () => {
    check([text("fragment1", false), text("fragment2")], { events: [ERROR(1002)] });
  });
  test("5.19 and 5.20: a text in five fragments with two pings between is delivered after both pings", () => {
    check(
      [text("fragment1", false), cont("fragment2", false), ping("pongme 1!"), cont("fragment3", false), cont("fragment4", false), ping("pongme 2!"), cont("fragment5")],
      { events: [PING("pongme 1!"), PING("pongme 2!"), T("fragment1fragment2fragment3fragment4fragment5")] },
    );
  });
  test("a binary message in fragments with a pong and a close between is delivered joined (beyond Autobahn)", () => {
    check([binary(hex("01 02"), false), pong("x"), cont(hex("03"), false), close(closeBody(1000)), cont(hex(""))], {
      events: [PONG("x"), CLOSE(closeBody(1000)), B(3)],
      messages: [hex("01 02 03")],
    });
  });
});

// An independent reading of where a streaming UTF-8 decoder must see that bytes are invalid
// (the WHATWG decoder's rule, RFC 3629 section 4): the index of the first byte that no valid
// continuation explains, or `bytes.length` when only the end of the message reveals it.
function firstInvalid(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= bytes.length) return bytes.length;
      const c = bytes[i + k];
      const low = k === 1 && b === 0xe0 ? 0xa0 : k === 1 && b === 0xf0 ? 0x90 : 0x80;
      const high = k === 1 && b === 0xed ? 0x9f : k === 1 && b === 0xf4 ? 0x8f : 0xbf;
      if (c < low || c > high) return i + k;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * A 6.x case: the payload as one text frame and as one frame per byte, in every chunking.
 * A valid payload is delivered as its text; an invalid one fails with 1007 at the first byte
 * that makes it invalid (fail-fast), which is checked by sending one fragment per byte and by
 * sending the single frame one byte at a time.
 */
function utf8Case(payload: Uint8Array, valid: boolean): void {
  assert.equal(firstInvalid(payload) < 0, valid, "the fixture's validity");
  const whole = text(payload);
  const perByte = payload.length === 0 ? [whole] : Array.from(payload, (b, i) => (i === 0 ? text : cont)(Uint8Array.of(b), i === payload.length - 1));
  if (valid) {
    const s = new TextDecoder().decode(payload);
    check([whole], { events: [T(s)], messages: [s] });
    check(perByte, { events: [T(s)], messages: [s] });
    return;
  }
  check([whole], { events: [ERROR(1007)] });
  check(perByte, { events: [ERROR(1007)] });
  const at = Math.min(firstInvalid(payload), payload.length - 1);
  assert.deepEqual(failure(perByte), [1007, at], "fails at the fragment holding the first invalid byte");
  const header = whole.length - payload.length;
  assert.deepEqual(failure(chop(whole, 1)), [1007, header + at], "fails at the chunk holding the first invalid byte");
}

const KOSME = "ce ba e1 bd b9 cf 83 ce bc ce b5";

describe("Autobahn 6.1 empty text messages (RFC 6455 section 5.6)", () => {
  test("6.1.1: an empty text message is delivered", () => {
    check([text("")], { events: [T("")] });
  });
  test("6.1.2: an empty text message in three empty fragments is delivered", () => {
    check([text("", false), cont("", false), cont("")], { events: [T("")] });
  });
  test("6.1.3: empty first and last fragments around a non-empty one are delivered joined", () => {
    check([text("", false), cont("middle frame payload", false), cont("")], { events: [T("middle frame payload")] });
  });
});

describe("Autobahn 6.2 valid UTF-8 in fragments (RFC 6455 section 8.1)", () => {
  const s = "Hello-µ@ßöäüàá-UTF-8!!";
  test("6.2.1: valid UTF-8 in one frame is delivered", () => {
    utf8Case(utf8.encode(s), true);
  });
  test("6.2.2: valid UTF-8 in two fragments split at a code point boundary is delivered joined", () => {
    const bytes = utf8.encode(s);
    check([text(bytes.subarray(0, 7), false), cont(bytes.subarray(7))], { events: [T(s)] });
  });
  test("6.2.3 and 6.2.4: valid UTF-8 in 1-byte fragments, splitting code points, is delivered joined", () => {
    utf8Case(utf8.encode(s), true);
    utf8Case(hex(KOSME), true);
  });
});

describe("Autobahn 6.3 invalid UTF-8 (RFC 6455 section 8.1)", () => {
  test("6.3.1 and 6.3.2: a surrogate in the middle fails with 1007, whole and in 1-byte fragments", () => {
    utf8Case(hex(`${KOSME} ed a0 80 65 64 69 74 65 64`), false);
  });
});

describe("Autobahn 6.4 fail-fast on invalid UTF-8 (RFC 6455 section 8.1)", () => {
  test("6.4.1: a first fragment that is already invalid fails before the second fragment arrives", () => {
    const chunks = [text(hex(`${KOSME} f4 90 80 80`), false), cont(hex("65 64 69 74 65 64"))];
    assert.deepEqual(failure(chunks), [1007, 0]);
    check(chunks, { events: [ERROR(1007)] });
  });
  test("6.4.2: a first fragment ending in a valid prefix (f4) fails on the second fragment's 90, before the third", () => {
    const chunks = [text(hex(`${KOSME} f4`), false), cont(hex("90"), false), cont(hex("80 80 65 64 69 74 65 64"))];
    assert.deepEqual(failure(chunks), [1007, 1]);
    check(chunks, { events: [ERROR(1007)] });
  });
  test("6.4.3: one frame sent in three chops fails on the second chop, before the rest arrives", () => {
    const f = text(hex(`${KOSME} f4 90 80 80 65 64 69 74 65 64`));
    const header = f.length - 21;
    const chunks = [f.slice(0, header + 11), f.slice(header + 11, header + 15), f.slice(header + 15)];
    assert.deepEqual(failure(chunks), [1007, 1]);
    check([f], { events: [ERROR(1007)] });
  });
  test("6.4.4: one frame sent in chops ending after f4, then 90: fails on the 90 chop, before the rest", () => {
    const f = text(hex(`${KOSME} f4 90 80 80 65 64 69 74 65 64`));
    const header = f.length - 21;
    const chunks = [f.slice(0, header + 12), f.slice(header + 12, header + 13), f.slice(header + 13)];
    assert.deepEqual(failure(chunks), [1007, 1]);
  });
  test("a first fragment that is invalid fails even if no later fragment ever arrives", () => {
    assert.deepEqual(failure([text(hex("41 c0"), false)]), [1007, 0]);
    assert.deepEqual(failure([text(hex("41 ed a0"), false)]), [1007, 0]);
    assert.deepEqual(failure([text(hex("41 ff"), false)]), [1007, 0]);
  });
  test("a first fragment ending in an incomplete but valid prefix does not fail until the message ends", () => {
    for (const prefix of ["c2", "e0 a0", "ed 9f", "f0 90 80", "f4 8f bf"]) {
      assert.equal(failure([text(hex(`41 ${prefix}`), false)]), undefined, prefix);
      assert.deepEqual(failure([text(hex(`41 ${prefix}`), false), cont("")]), [1007, 1], prefix);
    }
  });
});

/** Named UTF-8 sequences of Autobahn 6.5 to 6.21 (from Markus Kuhn's UTF-8 decoder stress test). */
const SEQUENCES: [group: string, title: string, cases: [hex: string, valid: boolean][]][] = [
  ["6.5", "valid UTF-8 (kosme)", [[KOSME, true]]],
  ["6.6", "kosme truncated at every byte", [
    ["ce", false], ["ce ba", true], ["ce ba e1", false], ["ce ba e1 bd", false], ["ce ba e1 bd b9", true],
    ["ce ba e1 bd b9 cf", false], ["ce ba e1 bd b9 cf 83", true], ["ce ba e1 bd b9 cf 83 ce", false],
    ["ce ba e1 bd b9 cf 83 ce bc", true], ["ce ba e1 bd b9 cf 83 ce bc ce", false], [KOSME, true],
  ]],
  ["6.7", "first possible sequence of each length", [["00", true], ["c2 80", true], ["e0 a0 80", true], ["f0 90 80 80", true]]],
  ["6.8", "first possible 5- and 6-byte sequences", [["f8 88 80 80 80", false], ["fc 84 80 80 80 80", false]]],
  ["6.9", "last possible sequence of each length", [["7f", true], ["df bf", true], ["ef bf bf", true], ["f4 8f bf bf", true]]],
  ["6.10", "last possible sequences beyond U+10FFFF", [["f7 bf bf bf", false], ["fb bf bf bf bf", false], ["fd bf bf bf bf bf", false]]],
  ["6.11", "other boundary conditions", [["ed 9f bf", true], ["ee 80 80", true], ["ef bf bd", true], ["f4 8f bf bf", true], ["f4 90 80 80", false]]],
  ["6.12", "unexpected continuation bytes", [
    ["80", false], ["bf", false], ["80 bf", false], ["80 bf 80", false], ["80 bf 80 bf", false],
    ["80 bf 80 bf 80", false], ["80 bf 80 bf 80 bf", false],
    [Array.from({ length: 64 }, (_, i) => (0x80 + i).toString(16)).join(" "), false],
  ]],
  ["6.13", "lonely start characters followed by a space", [
    [Array.from({ length: 32 }, (_, i) => `${(0xc0 + i).toString(16)} 20`).join(" "), false],
    [Array.from({ length: 16 }, (_, i) => `${(0xe0 + i).toString(16)} 20`).join(" "), false],
    [Array.from({ length: 8 }, (_, i) => `${(0xf0 + i).toString(16)} 20`).join(" "), false],
    ["f8 20 f9 20 fa 20 fb 20", false], ["fc 20 fd 20", false],
  ]],
  ["6.14", "sequences with the last continuation byte missing", [
    ["c0", false], ["e0 80", false], ["f0 80 80", false], ["f8 80 80 80", false], ["fc 80 80 80 80", false],
    ["df", false], ["ef bf", false], ["f7 bf bf", false], ["fb bf bf bf", false], ["fd bf bf bf bf", false],
  ]],
  ["6.15", "concatenated incomplete sequences", [
    ["c0 e0 80 f0 80 80 f8 80 80 80 fc 80 80 80 80 df ef bf f7 bf bf fb bf bf bf fd bf bf bf bf", false],
  ]],
  ["6.16", "impossible bytes", [["fe", false], ["ff", false], ["fe fe ff ff", false]]],
  ["6.17", "overlong ASCII slash", [["c0 af", false], ["e0 80 af", false], ["f0 80 80 af", false], ["f8 80 80 80 af", false], ["fc 80 80 80 80 af", false]]],
  ["6.18", "maximum overlong sequences", [["c1 bf", false], ["e0 9f bf", false], ["f0 8f bf bf", false], ["f8 87 bf bf bf", false], ["fc 83 bf bf bf bf", false]]],
  ["6.19", "overlong NUL", [["c0 80", false], ["e0 80 80", false], ["f0 80 80 80", false], ["f8 80 80 80 80", false], ["fc 80 80 80 80 80", false]]],
  ["6.20", "single UTF-16 surrogates", [
    ["ed a0 80", false], ["ed ad bf", false], ["ed ae 80", false], ["ed af bf", false],
    ["ed b0 80", false], ["ed be 80", false], ["ed bf bf", false],
  ]],
  ["6.21", "paired UTF-16 surrogates", [
    ["ed a0 80 ed b0 80", false], ["ed a0 80 ed bf bf", false], ["ed ad bf ed b0 80", false], ["ed ad bf ed bf bf", false],
    ["ed ae 80 ed b0 80", false], ["ed ae 80 ed bf bf", false], ["ed af bf ed b0 80", false], ["ed af bf ed bf bf", false],
  ]],
];

for (const [group, title, cases] of SEQUENCES) {
  describe(`Autobahn ${group} ${title} (RFC 6455 section 8.1)`, () => {
    cases.forEach(([bytes, valid], i) => {
      test(`${group}.${i + 1}: ${bytes.length > 40 ? bytes.slice(0, 38) + "…" : bytes} ${valid ? "is delivered" : "fails with 1007 at its first invalid byte"}`, () => {
        utf8Case(hex(bytes), valid);
      });
    });
  });
}

describe("Autobahn 6.22 and 6.23 noncharacters and specials are valid UTF-8 (RFC 6455 section 8.1)", () => {
  test("6.22: U+FFFE and U+FFFF of every plane, and U+FDD0 to U+FDEF, are delivered", () => {
    const points = [...Array.from({ length: 17 }, (_, p) => [p * 0x10000 + 0xfffe, p * 0x10000 + 0xffff]).flat()];
    for (let c = 0xfdd0; c <= 0xfdef; c++) points.push(c);
    for (const c of points) utf8Case(utf8.encode(String.fromCodePoint(c)), true);
  });
  test("6.23: the specials U+FFF9 to U+FFFD and a leading byte order mark are delivered as is", () => {
    for (let c = 0xfff9; c <= 0xfffd; c++) utf8Case(utf8.encode(String.fromCodePoint(c)), true);
    // ignoreBOM: a BOM at the start of a message is content, not dropped.
    check([text(hex("ef bb bf 41"))], { events: [T("\ufeffA")], messages: ["\ufeffA"] });
    check([text(hex("ef bb"), false), cont(hex("bf 41"))], { events: [T("\ufeffA")], messages: ["\ufeffA"] });
  });
});

describe("Autobahn 7.1 close frames among other frames (RFC 6455 section 5.5.1)", () => {
  test("7.1.1: a text message then a close are seen in order", () => {
    check([text("Hello World"), close(closeBody(1000))], { events: [T("Hello World"), CLOSE(closeBody(1000))] });
  });
  test("7.1.2 and 7.1.3: the codec hands on a second close or a ping after a close; the Session ignores them", () => {
    check([close(closeBody(1000)), close(closeBody(1000))], { events: [CLOSE(closeBody(1000)), CLOSE(closeBody(1000))] });
    check([close(closeBody(1000)), ping("Hello World")], { events: [CLOSE(closeBody(1000)), PING("Hello World")] });
  });
  test("7.1.4: a text message after a close is still decoded by the codec", () => {
    check([close(closeBody(1000)), text("Hello World")], { events: [CLOSE(closeBody(1000)), T("Hello World")] });
  });
  test("7.1.5: a close between two fragments of a message is seen before the message", () => {
    check([text("fragment1", false), close(closeBody(1000)), cont("fragment2")], {
      events: [CLOSE(closeBody(1000)), T("fragment1fragment2")],
    });
  });
  test("7.1.6: a large text, a ping and a close are seen in order", () => {
    const s = "BAsd7&jh23".repeat(26214);
    check([text(s), ping("Hello World"), close(closeBody(1000))], {
      events: [T(s), PING("Hello World"), CLOSE(closeBody(1000))],
      messages: [s],
    });
  });
});

describe("Autobahn 7.3 close frame payloads (RFC 6455 section 5.5.1)", () => {
  test("7.3.1: a close with no payload is seen and means 1005", () => {
    check([close()], { events: [CLOSE()] });
    assert.deepEqual(parseClosePayload(new Uint8Array(0)), { code: 1005, reason: "" });
  });
  test("7.3.2: a close with a 1-byte payload fails with 1002", () => {
    check([close(hex("03"))], { events: ["close:03", ERROR(1002)] });
  });
  test("7.3.3: a close with a code and no reason is accepted", () => {
    check([close(closeBody(1000))], { events: [CLOSE(closeBody(1000))] });
    assert.deepEqual(parseClosePayload(closeBody(1000)), { code: 1000, reason: "" });
  });
  test("7.3.4: a close with a code and a reason is accepted", () => {
    check([close(closeBody(1000, "Hello World!"))], { events: [CLOSE(closeBody(1000, "Hello World!"))] });
    assert.deepEqual(parseClosePayload(closeBody(1000, "Hello World!")), { code: 1000, reason: "Hello World!" });
  });
  test("7.3.5: a close with a 123-byte reason (125-byte payload) is accepted", () => {
    const body = closeBody(1000, "*".repeat(123));
    check([close(body)], { events: [CLOSE(body)] });
    assert.deepEqual(parseClosePayload(body), { code: 1000, reason: "*".repeat(123) });
  });
  test("7.3.6: a close with a 124-byte reason (126-byte payload) fails with 1002 before the payload", () => {
    const f = close(closeBody(1000, "*".repeat(124)));
    check([f], { events: [ERROR(1002)] });
    assert.deepEqual(failure(chop(f, 1)), [1002, 1]);
  });
});

describe("Autobahn 7.5 close reason that is not UTF-8 (RFC 6455 section 5.5.1)", () => {
  test("7.5.1: a close whose reason holds a surrogate fails with 1007", () => {
    const body = closeBody(1000, hex(`${KOSME} ed a0 80 65 64 69 74 65 64`));
    check([close(body)], { events: [CLOSE(body), ERROR(1007)] });
  });
  test("a close whose reason is truncated inside a code point fails with 1007", () => {
    const result = parseClosePayload(closeBody(1000, hex("ce")));
    assert.ok(result instanceof ProtocolError);
    assert.equal(result.closeCode, 1007);
  });
});

describe("Autobahn 7.7 valid close codes (RFC 6455 section 7.4)", () => {
  const codes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  for (const code of codes) {
    test(`7.7: close code ${code} is accepted`, () => {
      check([close(closeBody(code))], { events: [CLOSE(closeBody(code))] });
      assert.deepEqual(parseClosePayload(closeBody(code, "ok")), { code, reason: "ok" });
    });
  }
});

describe("Autobahn 7.9 and 7.13 invalid close codes (RFC 6455 section 7.4)", () => {
  // 1012-1014 were invalid in old Autobahn versions; IANA has since assigned them, so they pass (7.7).
  const codes = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  for (const code of codes) {
    test(`close code ${code} fails with 1002`, () => {
      check([close(closeBody(code))], { events: [CLOSE(closeBody(code)), ERROR(1002)] });
    });
  }
});

// 9.x: big messages within the default limits (64 MiB per frame and message, 2^18 fragments).

/** Text of exactly `size` bytes with 1- to 4-byte characters, so fragment edges split code points. */
function bigText(size: number): string {
  const unit = "😀€κ*"; // 4 + 3 + 2 + 1 bytes
  return unit.repeat(Math.floor(size / 10)) + "*".repeat(size % 10);
}

function bigBinary(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >>> 8)) & 0xff;
  return out;
}

/** One run of a 9.x case, whole-stream comparisons only (these are too big for every split). */
function bigCase(chunks: Uint8Array[], message: string | Uint8Array): void {
  const got = run(chunks, SERVER);
  assert.equal(got.error, undefined, got.error?.message);
  assertMessages(got.messages, [message], `${chunks.length} chunks`);
}

/** The frames of `payload` as `opcode`, in fragments of `size`. */
function fragments(opcode: number, payload: Uint8Array, size: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let at = 0; at === 0 || at < payload.length; at += size) {
    parts.push(frame({ opcode: at === 0 ? opcode : 0x0, payload: payload.subarray(at, at + size), fin: at + size >= payload.length }));
  }
  return concat(...parts);
}

const K = 1024;
const M = 1024 * 1024;

describe("Autobahn 9.1 and 9.2 large messages in one frame (RFC 6455 section 5.2, 64-bit lengths)", () => {
  for (const [id, size] of [["9.1.1", 64 * K], ["9.1.2", 256 * K], ["9.1.3", M], ["9.1.4", 4 * M], ["9.1.5", 8 * M], ["9.1.6", 16 * M]] as const) {
    test(`${id}: a ${size / K} KiB text message in one frame is delivered, whole and in 64 KiB chunks`, () => {
      const s = bigText(size);
      const f = text(s);
      bigCase([f], s);
      bigCase(chop(f, 64 * K), s);
    });
  }
  for (const [id, size] of [["9.2.1", 64 * K], ["9.2.2", 256 * K], ["9.2.3", M], ["9.2.4", 4 * M], ["9.2.5", 8 * M], ["9.2.6", 16 * M]] as const) {
    test(`${id}: a ${size / K} KiB binary message in one frame is delivered, whole and in 64 KiB chunks`, () => {
      const b = bigBinary(size);
      const f = binary(b);
      bigCase([f], b);
      bigCase(chop(f, 64 * K), b);
    });
  }
});

describe("Autobahn 9.3 and 9.4 a 4 MiB message in fragments (RFC 6455 section 5.4)", () => {
  const sizes = [64, 256, K, 4 * K, 16 * K, 64 * K, 256 * K, M, 4 * M];
  const s = bigText(4 * M);
  const b = bigBinary(4 * M);
  sizes.forEach((size, i) => {
    test(`9.3.${i + 1}: a 4 MiB text message in ${size}-byte fragments is delivered`, () => {
      bigCase([fragments(0x1, utf8.encode(s), size)], s);
    });
    test(`9.4.${i + 1}: a 4 MiB binary message in ${size}-byte fragments is delivered`, () => {
      bigCase([fragments(0x2, b, size)], b);
    });
  });
});

describe("Autobahn 9.5 and 9.6 a 1 MiB message in one frame, sent in small chops", () => {
  const chops = [64, 128, 256, 512, K, 2 * K];
  const s = bigText(M);
  const b = bigBinary(M);
  chops.forEach((size, i) => {
    test(`9.5.${i + 1}: a 1 MiB text frame sent in ${size}-byte chops is delivered`, () => {
      bigCase(chop(text(s), size), s);
    });
    test(`9.6.${i + 1}: a 1 MiB binary frame sent in ${size}-byte chops is delivered`, () => {
      bigCase(chop(binary(b), size), b);
    });
  });
});

describe("Autobahn 9.7 and 9.8 many small messages in one stream", () => {
  for (const size of [0, 16, 64, 256, K, 4 * K]) {
    test(`1000 text and 1000 binary messages of ${size} bytes are all delivered in order, whole and in 1500-byte chunks`, () => {
      const s = bigText(size);
      const b = bigBinary(size);
      for (const [f, m] of [[text(s), s], [binary(b), b]] as const) {
        const stream = concat(...Array.from({ length: 1000 }, () => f));
        for (const chunks of [[stream], chop(stream, 1500)]) {
          const got = run(chunks, SERVER);
          assert.equal(got.error, undefined);
          assertMessages(got.messages, Array.from({ length: 1000 }, () => m), `${chunks.length} chunks`);
        }
      }
    });
  }
});

describe("limits around the 9.x sizes (RFC 6455 section 10.4)", () => {
  test("a message one byte over maxMessageSize fails with 1009 before its payload is read", () => {
    const f = binary(bigBinary(64 * K + 1));
    const got = run(chop(f, 1), { role: "server", maxMessageSize: 64 * K });
    assert.deepEqual(got.events, [ERROR(1009)]);
    // Chunk 13 is the last of the 2 + 8 + 4 header bytes. The MessageDecoder sees a frame only
    // with its first payload byte (chunk 14), so that is when it fails; no later.
    assert.ok(got.error !== undefined && got.error.chunk <= 14, `failed at chunk ${got.error?.chunk}`);
  });
  test("a frame one byte over maxFrameSize fails with 1009 at the last byte of its header", () => {
    const got = run(chop(binary(bigBinary(64 * K + 1)), 1), { role: "server", maxFrameSize: 64 * K });
    assert.deepEqual(got.events, [ERROR(1009)]);
    assert.equal(got.error?.chunk, 13);
  });
  test("a fragmented message that crosses maxMessageSize fails with 1009 at the crossing fragment", () => {
    const got = run([fragments(0x1, utf8.encode(bigText(4 * K)), K)], { role: "server", maxMessageSize: 3 * K + 1 });
    assert.deepEqual(got.events, [ERROR(1009)]);
  });
  test("a frame one byte over maxFrameSize fails with 1009; one at the limit is delivered", () => {
    assert.deepEqual(run([binary(bigBinary(K + 1))], { role: "server", maxFrameSize: K }).events, [ERROR(1009)]);
    assert.deepEqual(run([binary(bigBinary(K))], { role: "server", maxFrameSize: K }).events, [B(K)]);
  });
  test("more fragments than maxFragments fail with 1009", () => {
    assert.deepEqual(run([fragments(0x2, bigBinary(5), 1)], { role: "server", maxFragments: 4 }).events, [ERROR(1009)]);
    assert.deepEqual(run([fragments(0x2, bigBinary(4), 1)], { role: "server", maxFragments: 4 }).events, [B(4)]);
  });
});
