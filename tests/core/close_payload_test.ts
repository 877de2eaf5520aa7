import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { encodeClosePayload, parseClosePayload } from "../../src/core/close_payload.ts";
import { isValidCloseCode } from "../../src/core/close_code.ts";
import { ProtocolError } from "../../src/core/protocol_error.ts";
import { hex, toHex } from "../_util.ts";

describe("RFC 6455 sections 5.5.1 and 7.4: close frames", () => {
  test("an empty close body means 1005 with no reason", () => {
    assert.deepEqual(parseClosePayload(new Uint8Array(0)), { code: 1005, reason: "" });
  });

  test("a 1-byte close body fails with 1002", () => {
    const result = parseClosePayload(hex("03"));
    assert.ok(result instanceof ProtocolError);
    assert.equal(result.closeCode, 1002);
  });

  test("codes 1000-1003, 1007-1014 and 3000-4999 are accepted, every other code fails with 1002", () => {
    for (let code = 0; code < 65536; code++) {
      const result = parseClosePayload(new Uint8Array([code >> 8, code & 0xff]));
      const valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
      assert.equal(isValidCloseCode(code), valid, `code ${code}`);
      if (valid) assert.deepEqual(result, { code, reason: "" }, `code ${code}`);
      else assert.ok(result instanceof ProtocolError && result.closeCode === 1002, `code ${code}`);
    }
  });

  test("a UTF-8 reason is decoded", () => {
    assert.deepEqual(parseClosePayload(hex("0f a0 ce ba e1 bd b9 cf 83 ce bc ce b5")), { code: 4000, reason: "\u03ba\u1f79\u03c3\u03bc\u03b5" });
  });

  test("a reason that is not UTF-8 fails with 1007", () => {
    const result = parseClosePayload(hex("03 e8 ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80"));
    assert.ok(result instanceof ProtocolError);
    assert.equal(result.closeCode, 1007);
  });

  test("encodeClosePayload writes the code big-endian and the reason as UTF-8", () => {
    assert.equal(toHex(encodeClosePayload(1000, "ok")), "03 e8 6f 6b");
    assert.equal(encodeClosePayload().length, 0);
    assert.equal(encodeClosePayload(1001).length, 2);
  });

  test("encodeClosePayload refuses a reason over 123 bytes with a RangeError", () => {
    assert.equal(encodeClosePayload(1000, "a".repeat(123)).length, 125);
    assert.throws(() => encodeClosePayload(1000, "a".repeat(124)), RangeError);
    assert.throws(() => encodeClosePayload(1000, "é".repeat(62)), /124 bytes of UTF-8, at most 123 fit/);
  });

  test("encodeClosePayload refuses codes that may not be sent and a reason without a code", () => {
    for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5]) {
      assert.throws(() => encodeClosePayload(code), RangeError, `code ${code}`);
    }
    assert.throws(() => encodeClosePayload(undefined, "why"), TypeError);
  });
});
