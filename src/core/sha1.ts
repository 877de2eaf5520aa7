// SHA-1 (FIPS 180-4, section 6.1), synchronous and free of runtime globals: the opening
// handshake hashes one 60-byte string per connection (RFC 6455 section 4.2.2), which
// `crypto.subtle.digest` would turn into a promise and, on Node, a job on the thread pool.
// SHA-1 is used here only because the RFC fixes it; it is not a security primitive in this role.

const W = new Int32Array(80);

/**
 * @internal The SHA-1 digest of `message` (20 bytes).
 *
 * @example
 * ```ts ignore
 * _sha1(new TextEncoder().encode("abc")); // a9 99 3e 36 ... 9c d0 d8 9d
 * ```
 */
export function _sha1(message: Uint8Array): Uint8Array {
  // Padding (section 5.1.1): a 1 bit, zeros, then the length in bits as a 64-bit big-endian number.
  const blocks = ((message.length + 8) >>> 6) + 1;
  const padded = new Uint8Array(blocks * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bits = message.length * 8;
  view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(padded.length - 4, bits >>> 0);
  const digest = new Uint8Array(20);
  _sha1Padded(view, padded.length, new DataView(digest.buffer));
  return digest;
}

/**
 * @internal Writes into `out` (20 bytes) the SHA-1 of a message already padded (section 5.1.1)
 * in `view`'s first `length` bytes (a multiple of 64). The handshake hashes its fixed-length
 * input this way, into memory of its own, allocating nothing.
 */
export function _sha1Padded(view: DataView, length: number, out: DataView): void {
  let h0 = 0x67452301, h1 = 0xefcdab89 | 0, h2 = 0x98badcfe | 0, h3 = 0x10325476, h4 = 0xc3d2e1f0 | 0;
  const w = W;
  for (let offset = 0; offset < length; offset += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getInt32(offset + t * 4);
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (t < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (t < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const next = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = next;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  out.setInt32(0, h0);
  out.setInt32(4, h1);
  out.setInt32(8, h2);
  out.setInt32(12, h3);
  out.setInt32(16, h4);
}
