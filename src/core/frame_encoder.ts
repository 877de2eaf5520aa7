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
   * the header and the caller's payload as two chunks. @default {16384}
   */
  copyThreshold?: number;
}

const POOL_SIZE = 4096;

function _randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/**
 * Encodes WebSocket frames (RFC 6455 section 5.2).
 *
 * A server's frames are unmasked and a payload over the copy threshold is returned as is, after
 * a separate header chunk. A client's frames are masked with a fresh key each (section 5.3) into
 * a new buffer, so the caller's payload is never modified.
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
  #pool: Uint8Array = new Uint8Array(0);
  #poolPos = 0;

  /** @param options The role, the source of masking keys and the copy threshold. */
  constructor(options: FrameEncoderOptions) {
    if (options.role !== "server" && options.role !== "client") {
      throw new TypeError(`Cannot create FrameEncoder: role must be "server" or "client", got ${options.role}`);
    }
    this.#mask = options.role === "client";
    this.#randomBytes = options.randomBytes ?? _randomBytes;
    this.#copyThreshold = options.copyThreshold ?? 16384;
  }

  /**
   * Encodes one frame.
   *
   * @returns The frame's bytes: one chunk, or a header chunk followed by the caller's own
   * payload when it is unmasked and longer than the copy threshold. Write them in order.
   * @throws {RangeError} When a control frame's payload is over 125 bytes or not final.
   */
  encode(frame: FrameInit): Uint8Array[] {
    const { opcode, payload } = frame;
    const length = payload.length;
    const fin = frame.fin ?? true;
    if (opcode >= 0x8 && (length > 125 || !fin)) {
      throw new RangeError(
        `Cannot encode frame: a control frame must be final and at most 125 bytes, got ${length} bytes${fin ? "" : " with fin false"}`,
      );
    }
    const mask = this.#mask;
    const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
    const headerSize = 2 + lengthBytes + (mask ? 4 : 0);
    const split = !mask && length > this.#copyThreshold;
    const out = new Uint8Array(split ? headerSize : headerSize + length);
    out[0] = (fin ? 0x80 : 0) | (frame.rsv1 ? 0x40 : 0) | opcode;
    if (lengthBytes === 0) {
      out[1] = length;
    } else if (lengthBytes === 2) {
      out[1] = 126;
      out[2] = length >>> 8;
      out[3] = length & 0xff;
    } else {
      out[1] = 127;
      const high = Math.floor(length / 0x100000000);
      out[2] = high >>> 24;
      out[3] = (high >>> 16) & 0xff;
      out[4] = (high >>> 8) & 0xff;
      out[5] = high & 0xff;
      out[6] = length >>> 24; // >>> takes the low 32 bits
      out[7] = (length >>> 16) & 0xff;
      out[8] = (length >>> 8) & 0xff;
      out[9] = length & 0xff;
    }
    if (split) return [out, payload];
    out.set(payload, headerSize);
    if (mask) {
      out[1] |= 0x80;
      const k = headerSize - 4;
      this.#nextKey(out, k);
      if (length > 0) applyMask(out.subarray(headerSize), out.subarray(k, headerSize));
    }
    return [out];
  }

  // Writes the next 4-byte masking key from the pool into `out` at `at`.
  #nextKey(out: Uint8Array, at: number): void {
    if (this.#poolPos + 4 > this.#pool.length) {
      const pool = this.#randomBytes(POOL_SIZE);
      if (!(pool instanceof Uint8Array) || pool.length < 4) {
        throw new TypeError("Cannot mask frame: randomBytes(n) must return a Uint8Array of n bytes");
      }
      this.#pool = pool;
      this.#poolPos = 0;
    }
    const pool = this.#pool;
    const p = this.#poolPos;
    out[at] = pool[p];
    out[at + 1] = pool[p + 1];
    out[at + 2] = pool[p + 2];
    out[at + 3] = pool[p + 3];
    this.#poolPos = p + 4;
  }
}
