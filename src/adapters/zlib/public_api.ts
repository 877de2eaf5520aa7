// permessage-deflate engines over node:zlib's documented one-shot functions, for a runtime whose
// node:zlib lacks the native handle handle.ts drives. They keep no zlib stream between calls:
// each message is a new zlib stream that starts from the last window of data (what the peer's
// context holds), which is what context takeover means on the wire (back-references into
// earlier messages, RFC 7692 section 7.2.3.2), so negotiation is as with the native engine. The
// deflater passes the window as a preset dictionary; the inflater feeds it first as stored
// blocks and drops their output. The cost is a zlib stream per message, and, since a stream
// cannot be resumed, a message's compressed pieces are kept and inflated together when its last
// piece arrives (bounded by the message size limit). Between messages an engine holds only its
// window (at most 32 KiB). Deno's deflateRawSync ignores a dictionary: its messages then refer
// only to themselves, which any peer reads, and are no smaller for context.
import { _storedBlock, type DeflateEngine, type InflateEngine } from "../../core/deflate.ts";
import { ProtocolError } from "../../core/protocol_error.ts";
import { _concat } from "../../core/bytes.ts";
import { _WindowHistory } from "../../core/window_history.ts";
import { _deflateWindowBits, _stripTail, TAIL, _zlib, type _ZlibOptions, Z_SYNC_FLUSH, type ZlibEnginesOptions } from "./options.ts";

// The largest maxOutputLength every runtime takes (Node 20's buffer limit is 4 GiB).
const MAX_OUTPUT = 2 ** 31 - 1;

/** @internal A deflater on `zlib.deflateRawSync`, the window as preset dictionary. */
export class _PublicDeflate implements DeflateEngine {
  readonly #options: _ZlibOptions;
  readonly #windowSize: number;
  #window: _WindowHistory;

  constructor(windowBits: number, options: ZlibEnginesOptions) {
    const bits = _deflateWindowBits(windowBits);
    this.#options = { windowBits: bits, level: options.level ?? -1, memLevel: options.memLevel ?? 8, finishFlush: Z_SYNC_FLUSH };
    this.#windowSize = 1 << bits;
    this.#window = new _WindowHistory(this.#windowSize);
  }

  compress(data: Uint8Array, last = true): Uint8Array {
    const dictionary = this.#window.length > 0 ? this.#window.bytes() : undefined;
    let payload: Uint8Array;
    try {
      payload = _bytes(_zlib().deflateRawSync(data, { ...this.#options, dictionary }));
    } catch (error) {
      throw new Error(`Cannot compress message: zlib failed (${(error as Error).message})`);
    }
    this.#window.append(data);
    return last ? _stripTail(payload) : payload;
  }

  restore(history: Uint8Array): void {
    this.#window.append(history);
  }

  reset(): void {
    this.#window = new _WindowHistory(this.#windowSize);
  }

  close(): void {
    this.reset();
  }
}

/** @internal An inflater on `zlib.inflateRawSync`, the window fed first as stored blocks. */
export class _PublicInflate implements InflateEngine {
  readonly #windowBits: number;
  #window: _WindowHistory;
  // The compressed pieces of the message so far, copied (the caller's views are reused).
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  constructor(windowBits: number) {
    this.#windowBits = windowBits;
    this.#window = new _WindowHistory(1 << windowBits);
  }

  decompress(piece: Uint8Array, last: boolean, limit: number): Uint8Array[] | ProtocolError {
    this.#pending.push(piece.slice());
    this.#pendingBytes += piece.length;
    // Deflate adds at most 5 bytes per 64 KiB stored block to data that does not compress, so a
    // message that inflates to at most `limit` bytes is never much more than that compressed.
    if (this.#pendingBytes > limit + limit / 8192 + 1024) return this.#tooBig(limit);
    if (!last) return [];
    // The window goes first, as stored blocks whose output is dropped: the peer's back-references
    // into earlier messages resolve (a preset dictionary would do the same, but Deno's
    // inflateRawSync ignores one).
    const window = this.#window.length > 0 ? _storedBlock(this.#window.bytes()) : new Uint8Array(0);
    const skip = this.#window.length;
    const input = _concat([window, ...this.#pending, TAIL], window.length + this.#pendingBytes + TAIL.length);
    this.#pending = [];
    this.#pendingBytes = 0;
    let output: Uint8Array;
    try {
      const maxOutputLength = Math.max(1, Math.min(skip + limit, MAX_OUTPUT));
      output = _bytes(_zlib().inflateRawSync(input, { windowBits: this.#windowBits, finishFlush: Z_SYNC_FLUSH, maxOutputLength })).subarray(skip);
    } catch (error) {
      if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") return this.#tooBig(limit);
      return new ProtocolError(`Cannot decode message: invalid compressed data (${(error as Error).message})`, 1007);
    }
    if (output.length > limit) return this.#tooBig(limit);
    this.#window.append(output);
    return output.length > 0 ? [output] : [];
  }

  restore(history: Uint8Array): void {
    this.#window.append(history);
  }

  reset(): void {
    this.#window = new _WindowHistory(1 << this.#windowBits);
    this.#pending = [];
    this.#pendingBytes = 0;
  }

  close(): void {
    this.reset();
  }

  #tooBig(limit: number): ProtocolError {
    this.reset();
    return new ProtocolError(`Cannot decode message: it inflates to more than ${limit} bytes`, 1009);
  }
}

// A Buffer's bytes as a plain Uint8Array (what every engine hands out), without a copy.
function _bytes(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
