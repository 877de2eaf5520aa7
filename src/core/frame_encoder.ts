import type { FrameInit } from "./frame.ts";
import { applyMask } from "./mask.ts";

/** Options for {@linkcode FrameEncoder}. */
export interface FrameEncoderOptions {
  /** Which end of the connection encodes. A client masks every frame (RFC 6455 section 5.3). */
  role: "server" | "client";
  /**
   * Where masking keys come from: returns `n` random bytes. Keys are drawn from a pool that this
   * refills, not one call per frame. Inject a generator to make output deterministic in tests.
   * @default {crypto.getRandomValues}
   */
  randomBytes?: (n: number) => Uint8Array;
  /**
   * Unmasked payloads longer than this are not copied: {@linkcode FrameEncoder.encode} returns
   * the header and the caller's payload as two chunks. @default {256}
   */
  copyThreshold?: number;
}

const POOL_SIZE = 4096;
// Small output chunks are cut from a shared slab, as Node's Buffer pool does: one allocation per
// 64 KiB instead of one per frame. A slab is never written twice, so a chunk stays valid for as
// long as it is referenced; a new slab replaces a full one.
const SLAB_SIZE = 65536;
const SLAB_MAX = 8192;
let slab = new ArrayBuffer(0);
let slabPos = 0;

// A new zero-filled array of `n` bytes: a view of the slab when small, else its own buffer.
function allocate(n: number): Uint8Array {
  if (n > SLAB_MAX) return new Uint8Array(n);
  if (slabPos + n > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_SIZE);
    slabPos = 0;
  }
  const out = new Uint8Array(slab, slabPos, n);
  slabPos = (slabPos + n + 7) & ~7; // 8-byte aligned, so masking works on aligned words
  return out;
}

function _randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

const NO_KEYS = new Uint8Array(0);

/** @internal The bytes after the second header byte that hold a payload length: 0, 2 or 8 (RFC 6455 section 5.2). */
export function _lengthBytes(length: number): number {
  return length < 126 ? 0 : length < 0x10000 ? 2 : 8;
}

// Writes an unmasked header at out[at]: the first byte, then the payload length in 7 bits, or
// 126 and 16 bits, or 127 and 64 bits (lengthBytes 0, 2 or 8).
function _writeHeader(out: Uint8Array, at: number, b0: number, length: number, lengthBytes: number): void {
  out[at] = b0;
  if (lengthBytes === 0) {
    out[at + 1] = length;
  } else if (lengthBytes === 2) {
    out[at + 1] = 126;
    out[at + 2] = length >>> 8;
    out[at + 3] = length & 0xff;
  } else {
    out[at + 1] = 127;
    const high = Math.floor(length / 0x100000000);
    out[at + 2] = high >>> 24;
    out[at + 3] = (high >>> 16) & 0xff;
    out[at + 4] = (high >>> 8) & 0xff;
    out[at + 5] = high & 0xff;
    out[at + 6] = length >>> 24; // >>> takes the low 32 bits
    out[at + 7] = (length >>> 16) & 0xff;
    out[at + 8] = (length >>> 8) & 0xff;
    out[at + 9] = length & 0xff;
  }
}

/**
 * @internal Frames `payload` as one final unmasked frame in place: the header is written into
 * the bytes right before the payload in its buffer, and the frame is a view over both. Only for
 * a payload received in a masked frame whose header lies right before it in the same chunk:
 * that header is longer than the one written (by the 4 bytes of its masking key), and nothing
 * reads it again.
 */
export function _encodeInPlace(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const lengthBytes = _lengthBytes(length);
  const start = payload.byteOffset - 2 - lengthBytes;
  const frame = new Uint8Array(payload.buffer, start, 2 + lengthBytes + length);
  _writeHeader(frame, 0, 0x80 | opcode, length, lengthBytes);
  return frame;
}

/**
 * Encodes WebSocket frames (RFC 6455 section 5.2).
 *
 * A server's frames are unmasked and a payload over the copy threshold is returned as is, after
 * a separate header chunk. A client's frames are masked with a fresh key each (section 5.3) into
 * a new buffer, so the caller's payload is never modified.
 *
 * Output chunks of up to 8 KiB are views of a shared 64 KiB `ArrayBuffer` (never reused while
 * referenced), so a chunk's `buffer` is not its own: do not transfer or detach it (for example
 * with `postMessage` transfer lists or a byte stream's `enqueue`); copy it first if you must.
 *
 * @example Encode the RFC 6455 section 5.7 unmasked "Hello"
 * ```ts
 * import { FrameEncoder, Opcode } from "@wsflow/wsflow";
 *
 * const encoder = new FrameEncoder({ role: "server" });
 * const chunks = encoder.encode({ opcode: Opcode.Text, payload: new TextEncoder().encode("Hello") });
 * console.log(chunks); // [ Uint8Array(7) [ 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f ] ]
 * ```
 */
export class FrameEncoder {
  readonly #mask: boolean;
  readonly #randomBytes: (n: number) => Uint8Array;
  readonly #copyThreshold: number;
  // A client's masking keys; a server's encoder never allocates them.
  #pool: Uint8Array = NO_KEYS;
  #poolPos = 0;
  #key: Uint8Array | undefined;

  /**
   * Creates an encoder for one connection.
   *
   * @param options The role, the source of masking keys and the copy threshold.
   * @throws {TypeError} When the role is neither "server" nor "client".
   */
  constructor(options: FrameEncoderOptions) {
    if (options.role !== "server" && options.role !== "client") {
      throw new TypeError(`Cannot create FrameEncoder: role must be "server" or "client", got ${options.role}`);
    }
    this.#mask = options.role === "client";
    this.#randomBytes = options.randomBytes ?? _randomBytes;
    this.#copyThreshold = options.copyThreshold ?? 256;
  }

  /**
   * Encodes one frame.
   *
   * @returns The frame's bytes: one chunk, or a header chunk followed by the caller's own
   * payload when it is unmasked and longer than the copy threshold. Write them in order.
   * @throws {RangeError} When a control frame's payload is over 125 bytes or not final.
   */
  encode(frame: FrameInit): Uint8Array[] {
    const output: Uint8Array[] = [];
    this._encodeTo(output, frame.opcode, frame.payload, frame.fin ?? true, frame.rsv1 ?? false);
    return output;
  }

  /**
   * @internal Encodes one frame like {@linkcode FrameEncoder.encode}, appending its chunks to
   * `output`: no frame object and no result array per frame (the Session's send path). With
   * `copy`, the payload is copied whatever its size: it is a scratch buffer, written over next.
   */
  _encodeTo(output: (Uint8Array | string)[], opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean, copy = false): void {
    const length = payload.length;
    if (opcode >= 0x8 && (length > 125 || !fin)) {
      throw new RangeError(
        `Cannot encode frame: a control frame must be final and at most 125 bytes, got ${length} bytes${fin ? "" : " with fin false"}`,
      );
    }
    const mask = this.#mask;
    const lengthBytes = _lengthBytes(length);
    const headerSize = 2 + lengthBytes + (mask ? 4 : 0);
    const split = !mask && !copy && length > this.#copyThreshold;
    const out = allocate(split ? headerSize : headerSize + length);
    _writeHeader(out, 0, (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode, length, lengthBytes);
    if (split) {
      output.push(out, payload);
      return;
    }
    if (!mask) {
      out.set(payload, headerSize);
      output.push(out);
      return;
    }
    out[1] |= 0x80;
    const key = this.#nextKey();
    const k0 = key[0], k1 = key[1], k2 = key[2], k3 = key[3];
    out[headerSize - 4] = k0;
    out[headerSize - 3] = k1;
    out[headerSize - 2] = k2;
    out[headerSize - 1] = k3;
    if (length < 64) {
      // Copy and mask in one pass, without a subarray: small frames are the common case.
      let i = 0;
      for (let p = headerSize; i + 3 < length; i += 4, p += 4) {
        out[p] = payload[i] ^ k0;
        out[p + 1] = payload[i + 1] ^ k1;
        out[p + 2] = payload[i + 2] ^ k2;
        out[p + 3] = payload[i + 3] ^ k3;
      }
      for (; i < length; i++) out[headerSize + i] = payload[i] ^ key[i & 3];
    } else {
      out.set(payload, headerSize);
      applyMask(out.subarray(headerSize), key);
    }
    output.push(out);
  }

  /**
   * @internal Appends the header of one final unmasked text frame of `length` payload bytes,
   * then `text` itself: for a transport that writes a string as UTF-8 (Deno's and Bun's encode
   * it into their join buffer), whose UTF-8 length `length` is. A server's encoder only (a client
   * masks its payload).
   */
  _encodeTextTo(output: (Uint8Array | string)[], text: string, length: number): void {
    if (this.#mask) throw new TypeError("Cannot frame a string: a client's frames are masked, so their payload must be bytes");
    const lengthBytes = _lengthBytes(length);
    const out = allocate(2 + lengthBytes);
    _writeHeader(out, 0, 0x81, length, lengthBytes);
    output.push(out, text);
  }

  // The next 4-byte masking key from the pool, in #key.
  #nextKey(): Uint8Array {
    if (this.#poolPos + 4 > this.#pool.length) {
      const pool = this.#randomBytes(POOL_SIZE);
      if (!(pool instanceof Uint8Array) || pool.length < 4) {
        throw new TypeError("Cannot mask frame: randomBytes(n) must return a Uint8Array of n bytes");
      }
      this.#pool = pool;
      this.#poolPos = 0;
    }
    const pool = this.#pool;
    const key = this.#key ??= new Uint8Array(4);
    const p = this.#poolPos;
    key[0] = pool[p];
    key[1] = pool[p + 1];
    key[2] = pool[p + 2];
    key[3] = pool[p + 3];
    this.#poolPos = p + 4;
    return key;
  }
}
