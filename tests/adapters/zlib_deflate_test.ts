import { describe, test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { PerMessageDeflate } from "../../src/core/deflate.ts";
import { ProtocolError } from "../../src/core/protocol_error.ts";
import { createZlibEngines, zlibEngines } from "../../src/adapters/zlib/mod.ts";
import { zlibApis } from "../_deflate.ts";
import { toHex } from "../_util.ts";

const text = (s: string) => new TextEncoder().encode(s);

/**
 * Inflates raw deflate data with a window of 2^windowBits bytes, one output byte per zlib call,
 * so every back-reference must be found in the window (zlib otherwise also reaches back into
 * the output buffer of the current call). Throws "invalid distance too far back" otherwise.
 */
function strictInflater(windowBits: number): { inflate(data: Uint8Array): Uint8Array; close(): void } {
  const stream = zlib.createInflateRaw({ windowBits }) as unknown as {
    _handle: { writeSync(...args: unknown[]): void; onerror: (message: string) => void; close(): void };
    _writeState: Uint32Array;
  };
  let error: string | undefined;
  stream._handle.onerror = (message) => {
    error = message;
  };
  const close = () => stream._handle.close();
  const inflate = (data: Uint8Array): Uint8Array => {
    const input = new Uint8Array([...data, 0x00, 0x00, 0xff, 0xff]);
    const out: number[] = [];
    const byte = new Uint8Array(1);
    let inOff = 0;
    for (let rounds = 0; rounds < 10_000_000; rounds++) {
      const inLen = input.length - inOff;
      stream._handle.writeSync(2, input, inOff, inLen, byte, 0, 1);
      if (error) throw new Error(error);
      const [availOut, availIn] = stream._writeState;
      if (availOut === 0) out.push(byte[0]);
      inOff += inLen - availIn;
      if (availOut !== 0) break;
    }
    return new Uint8Array(out);
  };
  return { inflate, close };
}

/** One message through a fresh {@linkcode strictInflater}. */
function inflateStrict(data: Uint8Array, windowBits: number): Uint8Array {
  const inflater = strictInflater(windowBits);
  try {
    return inflater.inflate(data);
  } finally {
    inflater.close();
  }
}

// Data with repeats 300, 700 and 3000 bytes back: a 10-bit window may only use the first two.
function repetitive(): Uint8Array {
  let seed = 1;
  const random = (n: number) => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  const a = random(64);
  return new Uint8Array([...a, ...random(236), ...a, ...random(636), ...a, ...random(2936), ...a, ...random(100)]);
}

describe("node:zlib engines: the synchronous path on this runtime", () => {
  test("_processChunk without a callback closes the engine after one call, which is why it is not used", () => {
    const engine = zlib.createDeflateRaw() as unknown as { _processChunk(chunk: Uint8Array, flush: number): Uint8Array };
    assert.equal(toHex(engine._processChunk(text("Hello"), zlib.constants.Z_SYNC_FLUSH)), "f2 48 cd c9 c9 07 00 00 00 ff ff");
    assert.throws(() => engine._processChunk(text("Hello"), zlib.constants.Z_SYNC_FLUSH));
  });

  test("the deflate engine keeps its context across calls and forgets it on reset", () => {
    const engine = zlibEngines.createDeflate(15);
    assert.equal(toHex(engine.compress(text("Hello"))), "f2 48 cd c9 c9 07 00");
    assert.equal(toHex(engine.compress(text("Hello"))), "f2 00 11 00 00");
    engine.reset();
    assert.equal(toHex(engine.compress(text("Hello"))), "f2 48 cd c9 c9 07 00");
    engine.close();
  });

  test("the inflate engine fails invalid data with 1007 and does not crash the runtime afterwards", () => {
    const engine = zlibEngines.createInflate(15);
    const got = engine.decompress(Uint8Array.of(0xff, 0xff, 0xff, 0xff), true, 1000);
    assert.ok(got instanceof ProtocolError);
    assert.equal(got.closeCode, 1007);
    const again = engine.decompress(Uint8Array.of(0xf2), true, 1000);
    assert.ok(again instanceof ProtocolError);
    engine.close();
  });

  test("a level option reaches zlib", () => {
    const data = new Uint8Array(repetitive());
    const stored = createZlibEngines({ level: 0 }).createDeflate(15).compress(data);
    assert.ok(stored.length > data.length);
    assert.deepEqual(inflateStrict(stored, 15), data);
  });
});

for (const [api, zlibEngines] of zlibApis) {
  describe(`node:zlib ${api}`, () => {
    describe("RFC 7692 section 7.1.2: window bits are honoured", () => {
      test("inflateStrict catches a back-reference farther than the window", () => {
        const data = repetitive();
        const wide = zlibEngines.createDeflate(15).compress(data);
        assert.deepEqual(inflateStrict(wide, 15), data);
        assert.throws(() => inflateStrict(wide, 10), /too far back/);
      });

      for (const bits of [8, 9, 10, 12]) {
        test(`with max_window_bits=${bits} no back-reference reaches past 2^${bits} bytes`, () => {
          const data = repetitive();
          const engine = zlibEngines.createDeflate(bits);
          // Several messages with context takeover: the window spans messages too.
          const inflater = strictInflater(bits);
          for (let i = 0; i < 3; i++) assert.deepEqual(inflater.inflate(engine.compress(data)), data);
          inflater.close();
          engine.close();
        });
      }

      test("an inflater with window bits 8 reads what a deflater asked for 8 (zlib's 9) writes", () => {
        const server = new PerMessageDeflate(
          { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
          { role: "server", engines: zlibEngines, threshold: 0 },
        );
        const inflate = zlibEngines.createInflate(8);
        const data = repetitive();
        for (let i = 0; i < 3; i++) {
          const got = inflate.decompress(server.compress(data).payload, true, Infinity);
          assert.ok(!(got instanceof ProtocolError));
          assert.deepEqual(new Uint8Array(got.flatMap((c) => [...c])), data);
        }
      });
    });

    describe("RFC 7692 section 8.1: a small message that inflates hugely", () => {
      test("1 MiB compressed that would inflate to 1 GiB fails with 1009 while memory stays bounded", () => {
        // Zeros compressed 1 MiB at a time with context: every flushed piece after the first is the same.
        const engine = zlibEngines.createDeflate(15);
        const zeros = new Uint8Array(1 << 20);
        const head = engine.compress(zeros, false).slice();
        const piece = engine.compress(zeros, false).slice();
        assert.deepEqual(engine.compress(zeros, false), piece);
        engine.close();
        const pieces = 1024;
        const bomb = new Uint8Array(head.length + piece.length * (pieces - 1));
        bomb.set(head, 0);
        for (let i = 0; i < pieces - 1; i++) bomb.set(piece, head.length + i * piece.length);
        assert.ok(bomb.length <= 1.5 * (1 << 20), `${bomb.length} bytes`);

        const memory = typeof process !== "undefined" && typeof process.memoryUsage === "function" ? () => process.memoryUsage().rss : undefined;
        const before = memory?.();
        const client = new PerMessageDeflate(
          { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
          { role: "client", engines: zlibEngines, maxMessageSize: 16 << 20 },
        );
        const started = performance.now();
        const got = client.receive({ fin: true, rsv1: true, rsv2: false, rsv3: false, opcode: 2, payload: bomb, offset: 0, length: bomb.length });
        const ms = performance.now() - started;
        assert.ok(got instanceof ProtocolError);
        assert.equal(got.closeCode, 1009);
        if (before !== undefined) {
          const grown = memory!() - before;
          assert.ok(grown < 128 << 20, `rss grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
        }
        // Stopping early also means stopping fast: inflating 1 GiB would take seconds.
        assert.ok(ms < 2000, `${ms.toFixed(0)} ms`);
        client.close();
      });
    });
  });
}

describe("node:zlib public API engines: the fallback where the native handle is missing", () => {
  const native = createZlibEngines({ api: "native" });
  const fallback = createZlibEngines({ api: "public" });
  const inflated = (got: Uint8Array[] | ProtocolError) => {
    assert.ok(!(got instanceof ProtocolError), String(got));
    return new Uint8Array(got.flatMap((c) => [...c]));
  };

  for (const [from, to, deflater, inflater] of [["public", "native", fallback, native], ["native", "public", native, fallback]] as const) {
    test(`messages deflated by the ${from} engine with context takeover inflate with the ${to} one`, () => {
      const deflate = deflater.createDeflate(15);
      const inflate = inflater.createInflate(15);
      const data = repetitive();
      for (let i = 0; i < 4; i++) assert.deepEqual(inflated(inflate.decompress(deflate.compress(data), true, Infinity)), data);
      // A message in pieces, each flushed: the pieces join into one stream.
      const pieces = [data.subarray(0, 1000), data.subarray(1000, 3000), data.subarray(3000)];
      const out = pieces.map((piece, i) => inflate.decompress(deflate.compress(piece, i === 2), i === 2, Infinity));
      assert.deepEqual(new Uint8Array(out.flatMap((got) => [...inflated(got)])), data);
      deflate.close();
      inflate.close();
    });
  }

  test("a message's compressed pieces are inflated at its last piece, split anywhere", () => {
    const payload = native.createDeflate(15).compress(repetitive());
    for (const at of [0, 1, 7, payload.length >> 1, payload.length]) {
      const inflate = fallback.createInflate(15);
      assert.deepEqual(inflate.decompress(payload.subarray(0, at), false, Infinity), []);
      assert.deepEqual(inflated(inflate.decompress(payload.subarray(at), true, Infinity)), repetitive());
    }
  });

  test("compressed pieces piling up past what the limit allows fail with 1009 before the message ends", () => {
    // Empty stored blocks inflate to nothing: a peer could send them forever.
    const empty = new Uint8Array(5000);
    for (let i = 0; i < 1000; i++) empty.set([0x00, 0x00, 0x00, 0xff, 0xff], i * 5);
    const inflate = fallback.createInflate(15);
    assert.deepEqual(inflate.decompress(empty, false, 4096), []);
    const got = inflate.decompress(empty, false, 4096);
    assert.ok(got instanceof ProtocolError);
    assert.equal(got.closeCode, 1009);
  });

  test("an api that is not auto, native or public is refused", () => {
    assert.throws(() => createZlibEngines({ api: "stream" as "public" }), /Cannot create zlib engines: api must be "auto", "native" or "public", got "stream"/);
  });
});
