import type { Frame } from "./frame.ts";
import { _recallText } from "./recent_text.ts";
import type { BufferSourceLike } from "./web_types.ts";

/** Options for {@linkcode MessageEncoder}. */
export interface MessageEncoderOptions {
  /**
   * The largest frame payload to send; longer messages are split into fragments of this size
   * (RFC 6455 section 5.4). @default {Infinity} (one frame per message)
   */
  fragmentSize?: number;
}

const textEncoder = new TextEncoder();
// Text up to this many UTF-16 code units is encoded through the scratch buffer when an allocator
// is given; the scratch (3 bytes per code unit, the most UTF-8 needs) is shared by the process.
const SCRATCH_UNITS = 65536;
let scratch = new Uint8Array(0);

/**
 * @internal Encodes text as UTF-8. With `allocate` (an allocator that need not zero, such as
 * Node's `Buffer.allocUnsafe`), text up to 64 Ki code units is encoded into an array of one byte
 * per code unit from `allocate`, which ASCII fills exactly; the rest of other text goes through a
 * shared scratch buffer, and both parts are copied into an array of the exact size. On Node that
 * is 2 to 3 times faster for 16 KiB than `TextEncoder.encode`, which is kept otherwise. The
 * text decoded last in the process is not encoded at all: its bytes are reused. The result is
 * read, never written: it may be memory the caller does not own.
 */
export function _encodeText(text: string, allocate?: (size: number) => Uint8Array): Uint8Array {
  // The text just received, sent back or on: its bytes as they came (see recent_text.ts).
  const recent = _recallText(text);
  if (recent !== undefined) return recent;
  const n = text.length;
  if (allocate === undefined || n > SCRATCH_UNITS || n < 256) return textEncoder.encode(text);
  // Straight into an array of one byte per code unit: ASCII fits it exactly, with no copy.
  const first = allocate(n);
  const { read, written } = textEncoder.encodeInto(text, first);
  if (read === n) return first;
  // Other text: the rest through the scratch, then both parts into an array of the exact size.
  const rest = n - read;
  if (scratch.length < rest * 3) scratch = new Uint8Array(Math.min(SCRATCH_UNITS, Math.max(rest, 4096)) * 3);
  const more = textEncoder.encodeInto(text.slice(read), scratch).written;
  const out = allocate(written + more);
  out.set(first.subarray(0, written));
  out.set(scratch.subarray(0, more), written);
  return out;
}

// Short text is encoded into this scratch (3 bytes per code unit at most), which the frame
// encoder then copies into the frame.
const SHORT_UNITS = 256;
const shortScratch = new Uint8Array(SHORT_UNITS * 3);

/**
 * @internal Encodes text of fewer than 256 UTF-16 code units as UTF-8 into a shared scratch
 * buffer, and returns a view of it that is valid until the next call: the caller copies it at
 * once. ASCII is copied by a loop; other text goes through `encodeInto`. Either is many times
 * faster than `TextEncoder.encode` for short strings on Node and Deno (about 30 and 40 ns against
 * 900 and 1,100 ns for 16 characters), which allocates a new array each time.
 */
export function _encodeShortText(text: string): Uint8Array | undefined {
  const n = text.length;
  if (n >= SHORT_UNITS) return undefined;
  const out = shortScratch;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return out.subarray(0, textEncoder.encodeInto(text, out).written);
    out[i] = c;
  }
  return out.subarray(0, n);
}

/**
 * Turns a message (`string` for text, `BufferSource` for binary) into data frames, split into
 * fragments of at most `fragmentSize` bytes (RFC 6455 section 5.4). Binary payloads are views of
 * the caller's bytes, not copies.
 *
 * @example Split a text message into two fragments
 * ```ts
 * import { MessageEncoder } from "@wsflow/wsflow";
 *
 * const encoder = new MessageEncoder({ fragmentSize: 3 });
 * for (const frame of encoder.encode("Hello")) {
 *   console.log(frame.opcode, frame.fin, frame.payload.length); // 1 false 3, then 0 true 2
 * }
 * ```
 */
export class MessageEncoder {
  readonly #fragmentSize: number;

  /**
   * Creates an encoder that splits messages into fragments of `fragmentSize` bytes.
   *
   * @param options The fragment size.
   * @throws {RangeError} When `fragmentSize` is below 1.
   */
  constructor(options: MessageEncoderOptions = {}) {
    const size = options.fragmentSize ?? Infinity;
    if (!(size >= 1)) {
      throw new RangeError(`Cannot create MessageEncoder: fragmentSize must be at least 1, got ${size}`);
    }
    this.#fragmentSize = size;
  }

  /**
   * Encodes one message into its frames.
   *
   * @throws {TypeError} When the message is neither a string nor a `BufferSource`.
   */
  encode(message: string | BufferSourceLike): Frame[] {
    const text = typeof message === "string";
    const payload = text ? textEncoder.encode(message) : toBytes(message);
    const size = this.#fragmentSize;
    const opcode = text ? 0x1 : 0x2;
    if (payload.length <= size) return [{ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode, payload }];
    const frames: Frame[] = [];
    let offset = 0;
    do {
      const end = Math.min(offset + size, payload.length);
      frames.push({
        fin: end === payload.length,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: offset === 0 ? opcode : 0x0,
        payload: payload.subarray(offset, end),
      });
      offset = end;
    } while (offset < payload.length);
    return frames;
  }
}

/**
 * A `Uint8Array` view of a `BufferSource` (an `ArrayBuffer` or any `ArrayBufferView`), without a copy.
 *
 * @throws {TypeError} When `data` is not a `BufferSource`.
 */
export function toBytes(data: BufferSourceLike): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const buffer: unknown = data;
  if (buffer instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && buffer instanceof SharedArrayBuffer)) {
    return new Uint8Array(buffer);
  }
  throw new TypeError(`Cannot send message: expected a string, ArrayBuffer or ArrayBufferView, got ${typeof data}`);
}
