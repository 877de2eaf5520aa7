import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PerMessageDeflate } from "../../src/core/deflate.ts";
import type { DeflateParams } from "../../src/core/extensions.ts";
import type { FramePart } from "../../src/core/frame.ts";
import { ProtocolError } from "../../src/core/protocol_error.ts";
import { dictionaryHonoured, zlibApis } from "../_deflate.ts";
import { concat, hex, toHex } from "../_util.ts";

for (const [api, zlibEngines] of zlibApis) {
  describe(`node:zlib ${api}`, () => {
    const takeover: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
    const noTakeover: DeflateParams = { ...takeover, serverNoContextTakeover: true, clientNoContextTakeover: true };
    const text = (s: string) => new TextEncoder().encode(s);
    // The byte counts of context takeover need a deflater that uses the window it is given.
    const noDictionary = !dictionaryHonoured && api === "public API" && "this runtime's deflateRawSync ignores a preset dictionary";

    function pair(params: DeflateParams, threshold = 0) {
      return {
        server: new PerMessageDeflate(params, { role: "server", engines: zlibEngines, threshold }),
        client: new PerMessageDeflate(params, { role: "client", engines: zlibEngines, threshold }),
      };
    }

    /** The frame parts FrameDecoder would hand out for one frame whose payload arrives in `pieces`. */
    function parts(frame: { opcode: number; fin: boolean; rsv1: boolean }, ...pieces: Uint8Array[]): FramePart[] {
      const length = pieces.reduce((n, p) => n + p.length, 0);
      let offset = 0;
      return pieces.map((payload) => {
        const part = { ...frame, rsv2: false, rsv3: false, payload, offset, length };
        offset += payload.length;
        return part;
      });
    }

    /** Runs frames through `receive`, returning the whole message's bytes or the error. */
    function receiveAll(pmd: PerMessageDeflate, frames: FramePart[][]): Uint8Array | ProtocolError {
      const out: Uint8Array[] = [];
      for (const frame of frames) {
        for (const part of frame) {
          const got = pmd.receive(part);
          if (got instanceof ProtocolError) return got;
          if (got) out.push(got.payload);
        }
      }
      return concat(...out);
    }

    describe("RFC 7692 section 7.2.3: the examples, byte for byte", () => {
      test("7.2.3.1: \"Hello\" compresses to f2 48 cd c9 c9 07 00 and back, in one frame or split anywhere", () => {
        const { server, client } = pair(takeover);
        const sent = server.compress(text("Hello"));
        assert.equal(toHex(sent.payload), "f2 48 cd c9 c9 07 00");
        assert.equal(sent.rsv1, true);
        const payload = hex("f2 48 cd c9 c9 07 00");
        for (let i = 0; i <= payload.length; i++) {
          const { client: fresh } = pair(takeover);
          const got = receiveAll(fresh, [parts({ opcode: 1, fin: true, rsv1: true }, payload.slice(0, i), payload.slice(i))]);
          assert.deepEqual(got, text("Hello"), `split at ${i}`);
        }
        // The fragmented form: 41 03 f2 48 cd, then 80 04 c9 c9 07 00.
        assert.deepEqual(receiveAll(client, [parts({ opcode: 1, fin: false, rsv1: true }, hex("f2 48 cd")), parts({ opcode: 0, fin: true, rsv1: false }, hex("c9 c9 07 00"))]), text("Hello"));
      });

      test("7.2.3.2: the same message again with context takeover compresses to f2 00 11 00 00", { skip: noDictionary }, () => {
        const { server, client } = pair(takeover);
        assert.equal(toHex(server.compress(text("Hello")).payload), "f2 48 cd c9 c9 07 00");
        assert.equal(toHex(server.compress(text("Hello")).payload), "f2 00 11 00 00");
        assert.deepEqual(receiveAll(client, [parts({ opcode: 1, fin: true, rsv1: true }, hex("f2 48 cd c9 c9 07 00"))]), text("Hello"));
        assert.deepEqual(receiveAll(client, [parts({ opcode: 1, fin: true, rsv1: true }, hex("f2 00 11 00 00"))]), text("Hello"));
      });

      test("7.2.3.2: without context takeover the second message compresses the same as the first", () => {
        const { server } = pair(noTakeover);
        assert.equal(toHex(server.compress(text("Hello")).payload), "f2 48 cd c9 c9 07 00");
        assert.equal(toHex(server.compress(text("Hello")).payload), "f2 48 cd c9 c9 07 00");
      });

      test("7.2.3.3: a message of one no-compression block decompresses", () => {
        const { client } = pair(takeover);
        assert.deepEqual(receiveAll(client, [parts({ opcode: 1, fin: true, rsv1: true }, hex("00 05 00 fa ff 48 65 6c 6c 6f 00"))]), text("Hello"));
      });

      test("7.2.3.4: a message with BFINAL set decompresses, and the next message starts afresh", () => {
        const { client } = pair(takeover);
        assert.deepEqual(receiveAll(client, [parts({ opcode: 1, fin: true, rsv1: true }, hex("f3 48 cd c9 c9 07 00 00"))]), text("Hello"));
        assert.deepEqual(receiveAll(client, [parts({ opcode: 1, fin: true, rsv1: true }, hex("f2 48 cd c9 c9 07 00"))]), text("Hello"));
      });

      test("7.2.3.5: two deflate blocks in one message decompress", () => {
        const { client } = pair(takeover);
        assert.deepEqual(receiveAll(client, [parts({ opcode: 1, fin: true, rsv1: true }, hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"))]), text("Hello"));
      });

      test("7.2.3.6: an empty message compresses to 00 and decompresses from 00", () => {
        const { server, client } = pair(takeover);
        assert.equal(toHex(server.compress(new Uint8Array(0)).payload), "00");
        assert.deepEqual(receiveAll(client, [parts({ opcode: 2, fin: true, rsv1: true }, hex("00"))]), new Uint8Array(0));
      });
    });

    describe("RFC 7692 section 6: which messages are compressed", () => {
      test("messages under the threshold, or opted out, go uncompressed with RSV1 clear", () => {
        const server = new PerMessageDeflate(takeover, { role: "server", engines: zlibEngines });
        const small = text("x".repeat(1023));
        assert.deepEqual(server.compress(small), { payload: small, rsv1: false });
        const big = text("x".repeat(1024));
        assert.equal(server.compress(big).rsv1, true);
        assert.deepEqual(server.compress(big, false), { payload: big, rsv1: false });
      });

      test("an uncompressed message passes through receive untouched", () => {
        const { client } = pair(takeover);
        const [part] = parts({ opcode: 2, fin: true, rsv1: false }, hex("01 02 03"));
        assert.equal(client.receive(part), part);
      });

      test("RSV1 on a continuation frame fails with 1002", () => {
        const { client } = pair(takeover);
        const got = receiveAll(client, [parts({ opcode: 1, fin: false, rsv1: true }, hex("f2 48 cd")), parts({ opcode: 0, fin: true, rsv1: true }, hex("c9 c9 07 00"))]);
        assert.ok(got instanceof ProtocolError);
        assert.equal(got.closeCode, 1002);
      });

      test("invalid compressed data fails with 1007", () => {
        const { client } = pair(takeover);
        const got = receiveAll(client, [parts({ opcode: 2, fin: true, rsv1: true }, hex("ff ff ff ff"))]);
        assert.ok(got instanceof ProtocolError);
        assert.equal(got.closeCode, 1007);
      });

      test("a message inflating past maxMessageSize fails with 1009", () => {
        const server = new PerMessageDeflate(takeover, { role: "server", engines: zlibEngines, threshold: 0 });
        const client = new PerMessageDeflate(takeover, { role: "client", engines: zlibEngines, maxMessageSize: 100_000 });
        const fits = server.compress(new Uint8Array(100_000)).payload;
        assert.deepEqual(receiveAll(client, [parts({ opcode: 2, fin: true, rsv1: true }, fits)]), new Uint8Array(100_000));
        const over = server.compress(new Uint8Array(100_001)).payload;
        const got = receiveAll(client, [parts({ opcode: 2, fin: true, rsv1: true }, over)]);
        assert.ok(got instanceof ProtocolError);
        assert.equal(got.closeCode, 1009);
        assert.match(got.message, /maxMessageSize \(100000 bytes\)/);
      });
    });

    describe("RFC 7692 section 7.1.1: context takeover", () => {
      const messages = ["The quick brown fox", "The quick brown fox jumps", "over the lazy dog", "The quick brown fox jumps over the lazy dog"].map(text);

      for (const [name, params] of [["with", takeover], ["without", noTakeover], ["server-only", { ...takeover, clientNoContextTakeover: true }]] as const) {
        test(`messages round-trip both ways ${name} context takeover`, () => {
          const { server, client } = pair(params);
          for (const message of messages) {
            const down = server.compress(message);
            assert.deepEqual(receiveAll(client, [parts({ opcode: 2, fin: true, rsv1: down.rsv1 }, down.payload)]), message);
            const up = client.compress(message);
            assert.deepEqual(receiveAll(server, [parts({ opcode: 2, fin: true, rsv1: up.rsv1 }, up.payload)]), message);
          }
        });
      }

      test("with context takeover a repeated message compresses smaller; without, it does not", { skip: noDictionary }, () => {
        const message = text("a message long enough to compress well, a message long enough");
        const a = pair(takeover).server;
        const first = a.compress(message).payload.length;
        assert.ok(a.compress(message).payload.length < first / 2);
        const b = pair(noTakeover).server;
        assert.equal(b.compress(message).payload.length, b.compress(message).payload.length);
      });

      test("a message sent in pieces keeps the sync flush tail between pieces and decompresses whole", () => {
        const { server, client } = pair(takeover);
        const first = server.compressPiece(text("Hel"), false);
        assert.deepEqual(Array.from(first.subarray(-4)), [0, 0, 0xff, 0xff]);
        const second = server.compressPiece(text("lo"), true);
        const got = receiveAll(client, [parts({ opcode: 1, fin: false, rsv1: true }, first), parts({ opcode: 0, fin: true, rsv1: false }, second)]);
        assert.deepEqual(got, text("Hello"));
      });
    });
  });
}
