import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { applyMask } from "../../src/core/mask.ts";

function naive(data: Uint8Array, key: Uint8Array, offset: number): Uint8Array {
  return data.map((b, i) => b ^ key[(i + offset) & 3]);
}

describe("RFC 6455 section 5.3: masking", () => {
  test("applyMask matches byte-by-byte masking for every length, alignment and offset", () => {
    const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
    const backing = new Uint8Array(400).map((_, i) => (i * 151) & 0xff);
    for (const length of [0, 1, 3, 4, 63, 64, 65, 100, 257, 300]) {
      for (let align = 0; align < 4; align++) {
        for (let offset = 0; offset < 4; offset++) {
          const data = backing.slice().subarray(align, align + length);
          const want = naive(data, key, offset);
          applyMask(data, key, offset);
          assert.deepEqual(data, want, `length ${length}, align ${align}, offset ${offset}`);
        }
      }
    }
  });

  test("applyMask twice gives back the input", () => {
    const key = new Uint8Array([1, 2, 3, 4]);
    const data = new Uint8Array(1000).map((_, i) => i);
    const copy = data.slice();
    applyMask(data, key, 3);
    assert.notDeepEqual(data, copy);
    applyMask(data, key, 3);
    assert.deepEqual(data, copy);
  });
});
