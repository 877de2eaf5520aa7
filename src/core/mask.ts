// Masking (RFC 6455 section 5.3): payload byte i is XORed with key byte (i mod 4).

const scratch = new Uint8Array(4);
const scratchWord = new Uint32Array(scratch.buffer);
/** Buffers up to this size keep their 32-bit view for the next call (a transport's read memory). */
const KEEP_WORDS = 64 * 1024;
// The 32-bit view over the last such buffer, from its start: data read into the same memory
// again and again is unmasked without a view made per frame.
let wordsOf: ArrayBufferLike | undefined;
let wordsView: Uint32Array = new Uint32Array(0);

// A 32-bit view over `buffer` from its start, with at least `end` words: the kept one when it is
// of the same buffer and covers them (a resizable or growable buffer may have changed size under
// it since), else a new one, kept when the buffer is small.
function _words(buffer: ArrayBufferLike, end: number): Uint32Array {
  if (buffer === wordsOf && wordsView.length >= end) return wordsView;
  const words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
  if (buffer.byteLength <= KEEP_WORDS) {
    wordsOf = buffer;
    wordsView = words;
  }
  return words;
}

/**
 * XORs `data` in place with the 4-byte masking `key`, as if `data` started at byte `offset` of
 * the payload (so a payload that arrives in pieces is unmasked piece by piece). Masking and
 * unmasking are the same operation.
 *
 * Data under 64 bytes goes four bytes a step, with the key's bytes held apart; longer data is
 * worked on in its aligned middle as 32-bit words, eight per loop step. Both are several times
 * faster than byte by byte.
 *
 * @param data The bytes to (un)mask, changed in place.
 * @param key The masking key, 4 bytes.
 * @param offset The position of `data[0]` in the frame payload.
 *
 * @example
 * ```ts
 * import { applyMask } from "@wsflow/wsflow";
 *
 * const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
 * const data = new Uint8Array([0x7f, 0x9f, 0x4d, 0x51, 0x58]);
 * applyMask(data, key);
 * console.log(new TextDecoder().decode(data)); // Hello
 * ```
 */
export function applyMask(data: Uint8Array, key: Uint8Array, offset = 0): void {
  const n = data.length;
  let i = 0;
  if (n < 64) {
    // Short data (most messages): four bytes a step with the key's bytes in locals, about twice
    // as fast on Node 20 as indexing the key for every byte (32 B: 45 against 21 ns).
    const k0 = key[offset & 3], k1 = key[(offset + 1) & 3], k2 = key[(offset + 2) & 3], k3 = key[(offset + 3) & 3];
    for (; i + 3 < n; i += 4) {
      data[i] ^= k0;
      data[i + 1] ^= k1;
      data[i + 2] ^= k2;
      data[i + 3] ^= k3;
    }
    if (i < n) data[i] ^= k0;
    if (i + 1 < n) data[i + 1] ^= k1;
    if (i + 2 < n) data[i + 2] ^= k2;
    return;
  }
  const lead = (4 - (data.byteOffset & 3)) & 3;
  for (; i < lead; i++) data[i] ^= key[(i + offset) & 3];
  // The key rotated to start at the aligned position, read in native byte order.
  scratch[0] = key[(i + offset) & 3];
  scratch[1] = key[(i + offset + 1) & 3];
  scratch[2] = key[(i + offset + 2) & 3];
  scratch[3] = key[(i + offset + 3) & 3];
  const word = scratchWord[0];
  const count = (n - i) >>> 2;
  let j = (data.byteOffset + i) >>> 2;
  const end = j + count;
  const words = _words(data.buffer, end);
  const unrolled = j + (count & ~7);
  for (; j < unrolled; j += 8) {
    words[j] ^= word;
    words[j + 1] ^= word;
    words[j + 2] ^= word;
    words[j + 3] ^= word;
    words[j + 4] ^= word;
    words[j + 5] ^= word;
    words[j + 6] ^= word;
    words[j + 7] ^= word;
  }
  for (; j < end; j++) words[j] ^= word;
  i += count << 2;
  for (; i < n; i++) data[i] ^= key[(i + offset) & 3];
}
