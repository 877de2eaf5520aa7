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
    for (const length of [0, 1, 2, 3, 4, 5, 6, 7, 31, 32, 33, 62, 63, 64, 65, 100, 257, 300]) {
      for (let align = 0; align < 4; align++) {
        // Offsets past 3: a piece that starts further into its frame's payload.
        for (const offset of [0, 1, 2, 3, 5, 4098]) {
          const data = backing.slice().subarray(align, align + length);
          const want = naive(data, key, offset);
          applyMask(data, key, offset);
          assert.deepEqual(data, want, `length ${length}, align ${align}, offset ${offset}`);
        }
      }
    }
  });

  test("applyMask unmasks data read into the same memory again and again, between other buffers", () => {
    const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
    const memory = new Uint8Array(65536); // a transport's read memory: its 32-bit view is kept
    const large = new Uint8Array(70000); // over the size kept: a view per call
    for (let round = 0; round < 50; round++) {
      for (const buffer of [memory, large, new Uint8Array(300)]) {
        const at = (round * 131) % (buffer.length - 200);
        const length = 64 + (round % 130);
        buffer.fill(round);
        const data = buffer.subarray(at, at + length);
        const want = naive(data, key, round & 3);
        applyMask(data, key, round & 3);
        assert.deepEqual(data, want, `round ${round}, ${buffer.length} bytes, at ${at}`);
        assert.equal(buffer[at - 1] ?? round, round, "the byte before is left alone");
        assert.equal(buffer[at + length], round, "the byte after is left alone");
      }
    }
  });

  test("applyMask follows a resizable buffer that shrinks and grows again", { skip: !("resize" in ArrayBuffer.prototype) }, () => {
    const key = new Uint8Array([1, 2, 3, 4]);
    const buffer = new (ArrayBuffer as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(4096, { maxByteLength: 8192 });
    const resize = (n: number) => (buffer as unknown as { resize(n: number): void }).resize(n);
    for (const size of [4096, 1024, 8192, 512, 8192]) {
      resize(size);
      const data = new Uint8Array(buffer, size - 200, 128).fill(0x55);
      const want = naive(data, key, 1);
      applyMask(data, key, 1);
      assert.deepEqual(data, want, `buffer of ${size} bytes`);
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
