// SHA-1 for the opening handshake: the FIPS 180-4 / RFC 3174 test vectors, and agreement with
// node:crypto's SHA-1 at every length around the padding boundaries.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { _sha1 } from "../../src/core/sha1.ts";
import { computeAcceptKey } from "../../src/core/handshake.ts";

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const ascii = (s: string) => new TextEncoder().encode(s);

describe("SHA-1", () => {
  test("the published test vectors", () => {
    assert.equal(hex(_sha1(ascii(""))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert.equal(hex(_sha1(ascii("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert.equal(hex(_sha1(ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    assert.equal(hex(_sha1(new Uint8Array(1_000_000).fill(0x61))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  });

  test("agrees with node:crypto at every length from 0 to 300 bytes", () => {
    let x = 7;
    for (let length = 0; length <= 300; length++) {
      const bytes = Uint8Array.from({ length }, () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24);
      assert.equal(hex(_sha1(bytes)), createHash("sha1").update(bytes).digest("hex"), `length ${length}`);
    }
  });

  test("gives RFC 6455's Sec-WebSocket-Accept example", async () => {
    assert.equal(await computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  });
});
