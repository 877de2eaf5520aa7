// Property tests: random messages through MessageEncoder -> FrameEncoder -> bytes in random chunks
// -> FrameDecoder -> MessageDecoder come out equal, in both roles, with chunks that own their
// buffers, that are views into one shared buffer, or that are read into reused memory. Seeded: a failure prints the
// seed that reproduces it (WSFLOW_SEED=<seed> runs that case first).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FrameEncoder } from "../../src/core/frame_encoder.ts";
import { MessageEncoder } from "../../src/core/message_encoder.ts";
import { FrameDecoder } from "../../src/core/frame_decoder.ts";
import { MessageDecoder } from "../../src/core/message_decoder.ts";
import { ProtocolError } from "../../src/core/protocol_error.ts";
import { baseSeed, firstDifference, Random } from "../_frames.ts";
import { concat, toHex } from "../_util.ts";

const EDGE_SIZES = [0, 1, 2, 125, 126, 127, 128, 65535, 65536, 65537] as const;
const MAX_SIZE = 200 * 1024;
const textEncoder = new TextEncoder();

/** A message size: half the time an edge of the length encoding, else log-uniform up to 200 KiB. */
function messageSize(r: Random): number {
  if (r.chance(0.5)) return r.pick(EDGE_SIZES);
  return Math.min(MAX_SIZE, Math.floor(Math.exp(r.next() * Math.log(MAX_SIZE + 1))));
}

// Code points by UTF-8 length, including U+0000, the BOM, the surrogate neighbours and U+10FFFF.
const CHARS_1 = ["\0", "a", "~", "\x7f"];
const CHARS_2 = ["\u0080", "\u00b5", "\u03ba", "\u07ff"];
const CHARS_3 = ["\u0800", "\u20ac", "\ud7ff", "\ue000", "\ufeff", "\ufffd", "\uffff"];
const CHARS_4 = ["\u{10000}", "\u{1f600}", "\u{10ffff}"];

/** A string of exactly `bytes` bytes of UTF-8, mixing 1- to 4-byte characters. */
function randomText(r: Random, bytes: number): string {
  const parts: string[] = [];
  // Long runs of one width keep big messages cheap to build while still crossing fragment edges.
  let left = bytes;
  while (left > 0) {
    const width = r.int(1, Math.min(4, left));
    const chars = width === 1 ? CHARS_1 : width === 2 ? CHARS_2 : width === 3 ? CHARS_3 : CHARS_4;
    const count = Math.max(1, Math.floor(r.int(1, Math.min(64, left)) / width));
    const run = Math.min(count, Math.floor(left / width));
    parts.push(r.pick(chars).repeat(run));
    left -= run * width;
  }
  return parts.join("");
}

function randomBinary(r: Random, size: number): Uint8Array {
  if (size > 4096 && r.chance(0.5)) {
    // A repeated random block: cheaper than size random draws, still not uniform.
    const block = r.bytes(r.int(1, 4096));
    const out = new Uint8Array(size);
    for (let at = 0; at < size; at += block.length) out.set(block.subarray(0, size - at), at);
    return out;
  }
  return r.bytes(size);
}

/** A fragment size: one frame, tiny fragments, edge sizes or random, keeping under ~2,000 frames. */
function fragmentSize(r: Random, size: number): number {
  const minimum = Math.max(1, Math.ceil(size / 2000));
  const choice = r.pick(["whole", "tiny", "edge", "random"] as const);
  const wanted = choice === "whole" ? Infinity
    : choice === "tiny" ? r.int(1, 3)
    : choice === "edge" ? r.pick(EDGE_SIZES)
    : r.int(1, Math.max(1, size));
  return Math.max(minimum, wanted);
}

/** Chunks of the byte stream: whole, byte by byte (when small), or random sizes. */
function chunkStream(r: Random, bytes: Uint8Array): Uint8Array[] {
  const mode = bytes.length <= 8192 ? r.pick(["whole", "bytes", "small", "mixed"] as const) : r.pick(["whole", "small", "mixed"] as const);
  if (mode === "whole") return [bytes];
  const out: Uint8Array[] = [];
  const limit = mode === "bytes" ? 1 : mode === "small" ? Math.max(1, Math.ceil(bytes.length / 4000)) + 16 : 70000;
  for (let at = 0; at < bytes.length;) {
    const n = mode === "bytes" ? 1 : mode === "small" ? r.int(1, limit) : r.chance(0.3) ? r.int(1, 3) : r.int(1, limit);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

interface Case {
  role: "client" | "server";
  sent: (string | Uint8Array)[];
  controls: string[];
  stream: Uint8Array;
  chunks: Uint8Array[];
  describe: string;
}

/** Encodes 1 to 4 random messages, with random pings and pongs between fragments. */
function makeCase(r: Random): Case {
  const role = r.pick(["client", "server"] as const);
  const encoder = new FrameEncoder({ role, randomBytes: (n) => r.bytes(n), copyThreshold: r.pick([0, 125, 16384]) });
  const sent: (string | Uint8Array)[] = [];
  const controls: string[] = [];
  const pieces: Uint8Array[] = [];
  const notes: string[] = [];
  const count = r.int(1, 4);
  for (let m = 0; m < count; m++) {
    const size = messageSize(r);
    const message = r.chance(0.5) ? randomText(r, size) : randomBinary(r, size);
    const fragment = fragmentSize(r, size);
    notes.push(`${typeof message === "string" ? "text" : "binary"} ${size} B in fragments of ${fragment}`);
    sent.push(message);
    const frames = new MessageEncoder({ fragmentSize: fragment }).encode(message);
    for (const f of frames) {
      for (const chunk of encoder.encode(f)) pieces.push(chunk.slice());
      if (r.chance(0.05)) {
        const opcode = r.pick([0x9, 0xa]);
        const payload = r.bytes(r.pick([0, 1, 125, r.int(0, 125)]));
        controls.push(`${opcode}:${toHex(payload)}`);
        for (const chunk of encoder.encode({ opcode, payload })) pieces.push(chunk.slice());
      }
    }
  }
  const stream = concat(...pieces);
  const chunks = chunkStream(r, stream);
  return { role, sent, controls, stream, chunks, describe: `${role} sends ${notes.join(", ")}; ${stream.length} B in ${chunks.length} chunks` };
}

/**
 * How the chunks reach the decoders: "owned", each in a buffer of its own, as socket reads
 * arrive; "shared", each a view into one buffer of the whole stream, as a transport that reads
 * into one large buffer hands them out; "shared end", the same with the stream in the last
 * eighth of a buffer 8 times its size (so the pieces there are too little of it to be kept as
 * views); "reused", each copied into one memory that is written over once the chunk is read
 * (MessageDecoder._pushReused), as a transport that reuses its reads.
 */
type Delivery = "owned" | "shared" | "shared end" | "reused";
const DELIVERIES: Delivery[] = ["owned", "shared", "shared end", "reused"];

// The stream in a buffer of its own, or at the end of one 8 times its size.
function sharedBuffer(stream: Uint8Array, atEnd: boolean): Uint8Array {
  if (!atEnd) return stream.slice();
  const big = new Uint8Array(stream.length * 8);
  big.set(stream, big.length - stream.length);
  return big.subarray(big.length - stream.length);
}

/** Decodes the case's chunks as the other end, checking each part as it comes. */
function receive(c: Case, delivery: Delivery = "owned"): { messages: (string | Uint8Array)[]; controls: string[] } {
  const frames = new FrameDecoder({ role: c.role === "client" ? "server" : "client" });
  const messages = new MessageDecoder();
  const out = { messages: [] as (string | Uint8Array)[], controls: [] as string[] };
  const shared = delivery === "shared" || delivery === "shared end" ? sharedBuffer(c.stream, delivery === "shared end") : undefined;
  const memory = delivery === "reused" ? new Uint8Array(Math.max(1, ...c.chunks.map((chunk) => chunk.length))) : undefined;
  let at = 0;
  for (const chunk of c.chunks) {
    if (shared) frames.push(shared.subarray(at, at + chunk.length));
    else if (memory) {
      memory.set(chunk);
      frames.push(memory.subarray(0, chunk.length));
    } else frames.push(chunk.slice());
    at += chunk.length;
    for (let part = frames.next(); part !== undefined; part = frames.next()) {
      if (part instanceof ProtocolError) throw new Error(`FrameDecoder failed: ${part.closeCode} ${part.message}`);
      if (part.opcode >= 0x8) {
        out.controls.push(`${part.opcode}:${toHex(part.payload)}`);
        continue;
      }
      const message = memory ? messages._pushReused(part) : messages.push(part);
      if (message instanceof ProtocolError) throw new Error(`MessageDecoder failed: ${message.closeCode} ${message.message}`);
      if (message !== undefined) out.messages.push(typeof message === "string" ? message : message.slice());
    }
    memory?.fill(0xee); // the next read lands here
  }
  assert.equal(frames.inFrame, false, "the stream ended inside a frame");
  assert.equal(messages.inMessage, false, "the stream ended inside a message");
  return out;
}

function checkCase(seed: number): void {
  const r = new Random(seed);
  const c = makeCase(r);
  for (const delivery of DELIVERIES) checkDelivery(c, delivery, `seed ${seed} (rerun with WSFLOW_SEED=${seed}), ${delivery} chunks: ${c.describe}`);
}

function checkDelivery(c: Case, delivery: Delivery, where: string): void {
  let got: ReturnType<typeof receive>;
  try {
    got = receive(c, delivery);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  assert.equal(got.messages.length, c.sent.length, `${where}: message count`);
  for (let i = 0; i < c.sent.length; i++) {
    const want = c.sent[i];
    const have = got.messages[i];
    if (typeof want === "string") {
      assert.equal(typeof have, "string", `${where}: message ${i} type`);
      if (have !== want) {
        const diff = firstDifference(textEncoder.encode(have as string), textEncoder.encode(want));
        assert.fail(`${where}: text message ${i} differs at ${diff}`);
      }
    } else {
      assert.ok(have instanceof Uint8Array, `${where}: message ${i} type`);
      const diff = firstDifference(have, want);
      if (diff !== undefined) assert.fail(`${where}: binary message ${i} differs at ${diff}`);
    }
  }
  assert.deepEqual(got.controls, c.controls, `${where}: control frames`);
}

const SEED = baseSeed(0x5eed_6455);
const CASES = 400;

describe("Round trip through the encoders and decoders (RFC 6455 sections 5.2-5.4)", () => {
  test(`random messages, fragmentations, roles and chunkings come out equal (${CASES} cases from seed ${SEED})`, () => {
    for (let i = 0; i < CASES; i++) checkCase((SEED + i) >>> 0);
  });

  test("every edge size round-trips as text and binary in both roles, in one frame and in fragments of 125, 126 and 65535 bytes", () => {
    const r = new Random(SEED ^ 0xed9e);
    for (const role of ["client", "server"] as const) {
      for (const size of EDGE_SIZES) {
        for (const message of [randomText(r, size), randomBinary(r, size)]) {
          for (const fragment of [Infinity, 125, 126, 65535]) {
            const encoder = new FrameEncoder({ role, randomBytes: (n) => r.bytes(n) });
            const stream = concat(...new MessageEncoder({ fragmentSize: fragment }).encode(message).flatMap((f) => encoder.encode(f)));
            const c: Case = { role, sent: [message], controls: [], stream, chunks: [stream], describe: "" };
            const got = receive(c);
            const where = `${role} ${typeof message} ${size} B in fragments of ${fragment}`;
            assert.equal(got.messages.length, 1, where);
            if (typeof message === "string") assert.ok(got.messages[0] === message, where);
            else assert.equal(firstDifference(got.messages[0] as Uint8Array, message), undefined, where);
          }
        }
      }
    }
  });
});
