// Frames a hostile client writes after a good handshake, on every server path of this runtime
// (Node codec; Deno and Bun native and codec), against the README's echo, with and without
// permessage-deflate: the answer must be the RFC's, a close frame with the right code, then the
// end of TCP from the server (RFC 6455 section 7.1.7: the failing endpoint does not wait for a
// reply), and `closed` rejecting with that code. A raw TCP client writes the bytes and reads
// what comes back. Where a native path (Deno.serve, Bun.serve) decodes frames itself and
// answers otherwise, the test asserts what the runtime does and says so: not a wsflow defect.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runtime } from "../../src/adapters/serve.ts";
import { closeBody, codeOf, concat, deflateMessage, echoFixture, type EchoFixture, type Ended, frame, inflateMessage, RawConnection, upgradeRequest } from "./_attack.ts";

const modes = runtime() === "node" ? ["codec"] as const : ["native", "codec"] as const;
const DEFLATE = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
const bytes = (...b: number[]) => Uint8Array.from(b);
// Bun runs node:test tests with its own 5 s default unless told.
const T = { timeout: 30_000 };

/** What one attack came to: the close frame's code, whether and how soon TCP ended, and `closed`. */
interface Result {
  code: number | undefined;
  ended: boolean;
  /** Milliseconds from the last write to the end of TCP. */
  endMs: number;
  outcome: Ended;
  connection: RawConnection;
}

for (const mode of modes) {
  describe(`${runtime()} server, mode ${mode}: frames from a hostile client`, { timeout: 120_000 }, () => {
    let fixture: EchoFixture;
    let n = 0;
    before(async () => {
      fixture = await echoFixture(mode);
    });
    after(() => fixture.server.shutdown());
    const native = mode === "native";
    const rt = runtime();

    // Upgrades (with `query` and `extra` header lines), writes each piece in turn, then waits for
    // a close frame and the end of TCP without answering.
    async function attack(pieces: Uint8Array[], options: { query?: string; extra?: string; endMs?: number } = {}): Promise<Result> {
      const id = `${mode}-${n++}`;
      const connection = await RawConnection.open(fixture.port, upgradeRequest(`/?id=${id}&${options.query ?? ""}`, options.extra ?? ""));
      try {
        const head = await connection.head();
        assert.match(head, /^HTTP\/1\.1 101/);
        for (const piece of pieces) connection.write(piece);
        const wrote = performance.now();
        const close = await connection.closeFrame(5000);
        const ended = await connection.waitEnd(options.endMs ?? 3000);
        const outcome = await fixture.outcome(id);
        return { code: codeOf(close), ended, endMs: Math.round((connection.endedAt ?? performance.now()) - wrote), outcome, connection };
      } finally {
        connection.destroy();
      }
    }

    // The RFC's answer to a violation: a close frame with `code`, TCP ended, and closed rejects
    // with the code that went out. On a native path the runtime decodes the frames and answers
    // itself: Deno.serve (2.x) drops TCP without a close frame for most violations ("drop"),
    // Bun.serve sends its own code; either way `closed` must report what the peer was told
    // (the README's "Behaviour you can count on"), 1006 when nothing was.
    function assertFailed(result: Result, code: number, what: string, runtimeAnswer: { deno?: number | "drop"; bun?: number } = {}): void {
      const wire = !native ? code : rt === "deno" ? runtimeAnswer.deno ?? "drop" : runtimeAnswer.bun ?? code;
      assert.equal(result.ended, true, `${what}: the server ended TCP`);
      assert.equal(result.outcome.clean, false, `${what}: closed rejects`);
      if (wire === "drop") {
        assert.equal(result.code, undefined, `${what}: ${rt} sends no close frame`);
        assert.equal(result.outcome.closeCode, 1006, `${what}: closed's code (${result.outcome.message})`);
        return;
      }
      assert.equal(result.code, wire, `${what}: the close frame's code`);
      assert.equal(result.outcome.closeCode, wire, `${what}: closed's code is the one sent (${result.outcome.message})`);
    }

    describe("RFC 6455 section 5.2: reserved bits and opcodes, masking, lengths", () => {
      test("RSV1 without an extension that defines it is 1002", T, async () => {
        assertFailed(await attack([frame(0xc1, "hi")]), 1002, "RSV1");
      });

      test("RSV2 and RSV3 are 1002", T, async () => {
        assertFailed(await attack([frame(0xa1, "hi")]), 1002, "RSV2");
        assertFailed(await attack([frame(0x91, "hi")]), 1002, "RSV3");
      });

      test("reserved opcodes 0x3 and 0xB are 1002", T, async () => {
        assertFailed(await attack([frame(0x83, "hi")]), 1002, "opcode 0x3");
        assertFailed(await attack([frame(0x8b, "hi")]), 1002, "opcode 0xB");
      });

      test("RSV1 on a continuation frame is 1002 (RFC 7692 section 6.1: only the first frame), without compression", T, async () => {
        assertFailed(await attack([frame(0x01, "a"), frame(0xc0, "b")]), 1002, "RSV1 on a continuation");
      });

      test("RSV1 on a control frame is 1002, without compression", T, async () => {
        assertFailed(await attack([frame(0xc9, "p")]), 1002, "RSV1 on a ping");
      });

      test("an unmasked client frame is 1002 (section 5.1)", T, async () => {
        if (native && rt === "deno") {
          // Deno.serve (2.x) takes an unmasked client frame as if it were masked: the echo comes back.
          const connection = await RawConnection.open(fixture.port, upgradeRequest(`/?id=${mode}-${n++}`));
          try {
            assert.match(await connection.head(), /^HTTP\/1\.1 101/);
            connection.write(frame(0x81, "hi", false));
            assert.ok(await connection.until(() => connection.frames().length > 0), "an answer");
            assert.deepEqual(connection.frames().map((f) => [f.opcode, new TextDecoder().decode(f.payload)]), [[0x1, "hi"]]);
          } finally {
            connection.destroy();
          }
          return;
        }
        assertFailed(await attack([frame(0x81, "hi", false)]), 1002, "unmasked");
      });

      test("a 64-bit length with the most significant bit set is 1002 (section 5.2: it MUST be 0)", T, async () => {
        const head = bytes(0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 0x37, 0xfa, 0x21, 0x3d);
        // Bun.serve answers 1009 (a length over its limit), not 1002.
        assertFailed(await attack([concat(head, new Uint8Array(16))]), 1002, "64-bit length with MSB", { bun: 1009 });
      });

      test("a frame announced over maxFrameSize is 1009 at once, before its bytes arrive", T, async () => {
        // 1 MiB announced against maxFrameSize 1024; only 10 bytes follow.
        if (native) {
          // Deno.serve and Bun.serve have no maxFrameSize (the option is ignored on this path, as
          // the README says): they wait for the announced bytes.
          const connection = await RawConnection.open(fixture.port, upgradeRequest(`/?id=${mode}-${n++}&maxFrameSize=1024`));
          try {
            assert.match(await connection.head(), /^HTTP\/1\.1 101/);
            connection.write(frame(0x82, new Uint8Array(10), true, 1 << 20));
            assert.equal(await connection.closeFrame(1000), undefined, "the runtime waits for the announced bytes");
            assert.equal(connection.ended, false);
          } finally {
            connection.destroy();
          }
          return;
        }
        const result = await attack([frame(0x82, new Uint8Array(10), true, 1 << 20)], { query: "maxFrameSize=1024" });
        assertFailed(result, 1009, "announced over maxFrameSize");
        assert.ok(result.endMs < 2000, `ended after ${result.endMs} ms`);
      });

      test("a frame announcing 2^40 bytes is 1009 at once with the default limits", T, async () => {
        const result = await attack([frame(0x82, new Uint8Array(10), true, 2n ** 40n)]);
        assertFailed(result, 1009, "announced 1 TiB");
        if (native && rt === "deno") return; // Deno drops TCP (above)
        assert.ok(result.endMs < 2000, `ended after ${result.endMs} ms`);
      });
    });

    describe("RFC 6455 section 5.4 and 5.5: fragmentation and control frames", () => {
      test("a ping of 126 bytes is 1002 (control frames carry at most 125)", T, async () => {
        assertFailed(await attack([frame(0x89, new Uint8Array(126))]), 1002, "126-byte ping");
      });

      test("a fragmented ping is 1002", T, async () => {
        assertFailed(await attack([frame(0x09, "a"), frame(0x80, "b")]), 1002, "fragmented ping");
      });

      test("a continuation with no message started is 1002", T, async () => {
        assertFailed(await attack([frame(0x80, "a")]), 1002, "lone continuation");
      });

      test("a new text frame while a fragmented message is open is 1002", T, async () => {
        assertFailed(await attack([frame(0x01, "a"), frame(0x81, "b")]), 1002, "text inside a fragmented message");
      });

      test("a ping between fragments is answered, and the message is echoed whole", T, async () => {
        const id = `${mode}-${n++}`;
        const connection = await RawConnection.open(fixture.port, upgradeRequest(`/?id=${id}`));
        try {
          assert.match(await connection.head(), /^HTTP\/1\.1 101/);
          connection.write(concat(frame(0x01, "frag"), frame(0x89, "p"), frame(0x80, "ment")));
          assert.ok(await connection.until(() => connection.frames().some((f) => f.opcode === 0x1)), "an echo");
          const frames = connection.frames();
          assert.deepEqual(frames.find((f) => f.opcode === 0xa)?.payload, new TextEncoder().encode("p"));
          assert.equal(new TextDecoder().decode(frames.find((f) => f.opcode === 0x1)?.payload), "fragment");
        } finally {
          connection.destroy();
        }
      });
    });

    describe("RFC 6455 section 5.5.1 and 7.4: close frames", () => {
      test("a close frame with a 1-byte body is 1002", T, async () => {
        assertFailed(await attack([frame(0x88, bytes(0x03))]), 1002, "1-byte close body");
      });

      for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
        test(`close code ${code} is 1002 (section 7.4.1: not to be sent, or not defined)`, T, async () => {
          // Deno.serve sends 1002 here (and reports "Invalid close code" in its error event).
          assertFailed(await attack([frame(0x88, closeBody(code))]), 1002, `close ${code}`, { deno: 1002 });
        });
      }

      for (const code of [1000, 1001, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4999]) {
        test(`close code ${code} is echoed and ends the connection cleanly`, T, async () => {
          const result = await attack([frame(0x88, closeBody(code, "bye"))]);
          if (native && rt === "deno" && code === 1014) {
            // Deno.serve (2.x) does not know 1014 (registered after RFC 6455): it answers 1002.
            return assertFailed(result, 1002, "close 1014", { deno: 1002 });
          }
          assert.equal(result.code, code, "the echoed close code");
          assert.equal(result.ended, true, "the server ended TCP");
          assert.equal(result.outcome.clean, true, `closed resolves (${result.outcome.message})`);
          assert.equal(result.outcome.closeCode, code);
        });
      }

      test("an empty close frame is answered with an empty one, and closed reports 1005", T, async () => {
        const result = await attack([frame(0x88)]);
        assert.equal(result.code, 1005, "an empty close body");
        assert.equal(result.ended, true);
        assert.deepEqual({ clean: result.outcome.clean, closeCode: result.outcome.closeCode }, { clean: true, closeCode: 1005 });
      });

      test("a close reason that is not UTF-8 is 1007", T, async () => {
        const result = await attack([frame(0x88, closeBody(1000, bytes(0x68, 0xc3, 0x28)))]);
        assertFailed(result, 1007, "close reason not UTF-8");
      });

      test("frames after the peer's close frame are ignored: not echoed", T, async () => {
        const result = await attack([concat(frame(0x88, closeBody(1000)), frame(0x81, "after"), frame(0x89, "p"))]);
        assert.equal(result.code, 1000);
        const frames = result.connection.frames();
        assert.deepEqual(frames.map((f) => f.opcode), [0x8], "only the close frame came back");
        assert.equal(result.ended, true);
        assert.equal(result.outcome.clean, true);
      });

      test("a peer that sends its close frame and never closes TCP: the server ends TCP (section 7.1.1: the server closes first)", T, async () => {
        const result = await attack([frame(0x88, closeBody(1000))], { query: "closeTimeout=500" });
        assert.equal(result.code, 1000);
        assert.equal(result.ended, true, "the server ended TCP");
        assert.ok(result.endMs < 2000, `ended after ${result.endMs} ms`);
      });
    });

    describe("RFC 6455 section 8.1: UTF-8 across fragments", () => {
      test("text whose UTF-8 is invalid only across the fragment boundary is 1007", T, async () => {
        // e2 82 | 28: a 3-byte sequence cut, then a byte that cannot continue it.
        // Deno.serve drops TCP without a close frame on invalid UTF-8 (see abnormal_close_test.ts).
        const result = await attack([frame(0x01, bytes(0x61, 0xe2, 0x82)), frame(0x80, bytes(0x28))]);
        assertFailed(result, 1007, "invalid across the boundary");
      });

      test("text whose last fragment ends mid-code-point is 1007", T, async () => {
        if (native && rt === "deno") {
          // Deno.serve (2.x) drops the unfinished code point and delivers "a": the echo is "a".
          const connection = await RawConnection.open(fixture.port, upgradeRequest(`/?id=${mode}-${n++}`));
          try {
            assert.match(await connection.head(), /^HTTP\/1\.1 101/);
            connection.write(concat(frame(0x01, "a"), frame(0x80, bytes(0xe2, 0x82))));
            assert.ok(await connection.until(() => connection.frames().length > 0), "an answer");
            assert.deepEqual(connection.frames().map((f) => [f.opcode, new TextDecoder().decode(f.payload)]), [[0x1, "a"]]);
          } finally {
            connection.destroy();
          }
          return;
        }
        const result = await attack([frame(0x01, "a"), frame(0x80, bytes(0xe2, 0x82))]);
        assertFailed(result, 1007, "ends mid-code-point");
      });

      test("a valid code point cut across three fragments is echoed whole", T, async () => {
        const id = `${mode}-${n++}`;
        const connection = await RawConnection.open(fixture.port, upgradeRequest(`/?id=${id}`));
        try {
          assert.match(await connection.head(), /^HTTP\/1\.1 101/);
          connection.write(concat(frame(0x01, bytes(0xf0, 0x9d)), frame(0x00, bytes(0x84)), frame(0x80, bytes(0x9e))));
          assert.ok(await connection.until(() => connection.frames().some((f) => f.opcode === 0x1)), "an echo");
          assert.equal(new TextDecoder().decode(connection.frames()[0].payload), "𝄞");
        } finally {
          connection.destroy();
        }
      });
    });

    describe("RFC 7692: permessage-deflate frames", { skip: native && "the runtime negotiates no compression on this path" }, () => {
      const query = "compression=1";

      test("the echo is compressed, and an uncompressed message (RSV1 clear) is accepted too", T, async () => {
        const id = `${mode}-${n++}`;
        const connection = await RawConnection.open(fixture.port, upgradeRequest(`/?id=${id}&${query}`, DEFLATE));
        try {
          const head = await connection.head();
          assert.match(head, /\r\nsec-websocket-extensions: permessage-deflate\r\n/i);
          connection.write(concat(frame(0xc1, deflateMessage("hello hello hello")), frame(0x81, "plain")));
          assert.ok(await connection.until(() => connection.frames().length >= 2), "two echoes");
          const [first, second] = connection.frames();
          const text = (f: typeof first) => new TextDecoder().decode(f.rsv & 4 ? inflateMessage(f.payload) : f.payload);
          assert.equal(text(first), "hello hello hello");
          assert.equal(text(second), "plain");
        } finally {
          connection.destroy();
        }
      });

      test("RSV1 on a continuation frame is 1002 with compression negotiated", T, async () => {
        const data = deflateMessage("abcabc");
        assertFailed(await attack([frame(0x41, data.subarray(0, 2)), frame(0xc0, data.subarray(2))], { query, extra: DEFLATE }), 1002, "RSV1 on a continuation");
      });

      test("RSV1 on a control frame is 1002 with compression negotiated", T, async () => {
        assertFailed(await attack([frame(0xc9, "p")], { query, extra: DEFLATE }), 1002, "RSV1 on a ping");
      });

      test("RSV2 is 1002 with compression negotiated", T, async () => {
        assertFailed(await attack([frame(0xe1, deflateMessage("x"))], { query, extra: DEFLATE }), 1002, "RSV2");
      });

      test("garbage deflate data fails the connection with 1007 (as ws does; RFC 7692 section 6.2 only says to fail)", T, async () => {
        const result = await attack([frame(0xc1, bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff))], { query, extra: DEFLATE });
        assertFailed(result, 1007, "garbage deflate");
      });

      test("a compressed message inflating beyond maxMessageSize is 1009", T, async () => {
        const result = await attack([frame(0xc2, deflateMessage(new Uint8Array(1 << 20)))], { query: `${query}&maxMessageSize=65536`, extra: DEFLATE });
        assertFailed(result, 1009, "inflates over maxMessageSize");
      });

      test("a 1 MiB frame that inflates to 1 GiB is 1009 without holding the gigabyte", T, async () => {
        // The deflate of 1 MiB of zeros, sync-flushed, 1024 times over: one valid stream of 1 GiB.
        const piece = deflateMessage(new Uint8Array(1 << 20));
        const tail = bytes(0, 0, 0xff, 0xff);
        const bomb = concat(...Array.from({ length: 1024 }, (_, i) => (i < 1023 ? concat(piece, tail) : piece)));
        const { rss } = process.memoryUsage();
        let peak = rss;
        const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
        try {
          const result = await attack([frame(0xc2, bomb)], { query, extra: DEFLATE });
          assertFailed(result, 1009, "a 1 GiB bomb");
        } finally {
          clearInterval(timer);
        }
        const grown = (peak - rss) / 2 ** 20;
        assert.ok(grown < 256, `RSS grew ${grown.toFixed(0)} MiB at its peak`);
      });
    });
  });
}
