// permessage-deflate engines over node:zlib's native handle: synchronous, with context takeover
// (about 290k 1 KiB messages/s on Node 24), for Node, Deno and Bun, whose node:zlib all have it.
//
// Why not zlib's public API for this: its streams are asynchronous, and the one-shot
// `deflateRawSync` / `inflateRawSync` keep no context between calls (public_api.ts makes do with
// a preset dictionary, slower; mod.ts falls back to it where this handle is missing). The sync
// path inside them, `engine._processChunk(chunk, flushFlag)`, exists on Node 20, Node 24, Deno
// 2.9 and Bun 1.4 but closes the engine after one call (`processChunkSync` ends with `_close`),
// so a second message fails ("Cannot read properties of null (reading 'writeSync')" and the
// like). What all four share one level down is the native handle's `writeSync(flush, in, inOff,
// inLen, out, outOff, outLen)` with the remaining output and input space in `_writeState`, which
// `processChunkSync` itself loops over; this file runs that loop without the close. An error is
// reported through `handle.onerror`, which we replace (Node's own closes the handle and a
// further `writeSync` then aborts the process), so an error is seen before the next call.
import type { DeflateEngine, InflateEngine } from "../../core/deflate.ts";
import { ProtocolError } from "../../core/protocol_error.ts";
import { _concat } from "../../core/bytes.ts";
import { _deflateWindowBits, _stripTail, TAIL, _zlib, Z_SYNC_FLUSH, type ZlibEnginesOptions } from "./options.ts";

const CHUNK = 16 * 1024;
// zlib writes its output here, for every engine of the process; what it produces is copied out
// at once. An idle connection holds no output buffer of its own.
const scratch = new Uint8Array(CHUNK);
// The node:zlib stream's own output buffer, which this file never uses: as small as zlib allows.
const STREAM_CHUNK = 64;

interface _Handle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number) => void;
}

// One zlib stream driven synchronously through its native handle.
class _Zlib {
  readonly #handle: _Handle;
  readonly #state: Uint32Array;
  #error: string | undefined;
  #closed = false;
  /** Input bytes zlib left unread by the last write: the deflate stream ended (BFINAL) before them. */
  leftover = 0;

  constructor(stream: object) {
    const internal = stream as unknown as { _handle?: _Handle; _writeState?: Uint32Array };
    const handle = internal._handle;
    const state = internal._writeState;
    if (!handle || typeof handle.writeSync !== "function" || !(state instanceof Uint32Array)) {
      throw new Error("Cannot create a zlib engine: this runtime's node:zlib has no synchronous handle (_handle.writeSync)");
    }
    this.#handle = handle;
    this.#state = state;
    handle.onerror = (message) => {
      this.#error = message;
    };
  }

  /**
   * Runs `input` through zlib with Z_SYNC_FLUSH, handing out the output in chunks. Stops early
   * once more than `limit` bytes came out and returns `undefined` then.
   */
  write(input: Uint8Array, limit: number, out: Uint8Array[]): number | string | undefined {
    if (this.#closed) return "the engine is closed";
    let inOff = 0;
    let inLen = input.length;
    let total = 0;
    for (;;) {
      const space = scratch.length;
      this.#handle.writeSync(Z_SYNC_FLUSH, input, inOff, inLen, scratch, 0, space);
      if (this.#error !== undefined) {
        this.close();
        return this.#error;
      }
      const availOut = this.#state[0];
      const availIn = this.#state[1];
      const produced = space - availOut;
      if (produced > 0) {
        out.push(scratch.slice(0, produced));
        total += produced;
        if (total > limit) return undefined;
      }
      inOff += inLen - availIn;
      inLen = availIn;
      // zlib is done with the input and the flush when it leaves output space unused.
      if (availOut !== 0) {
        this.leftover = inLen;
        return total;
      }
    }
  }

  reset(): void {
    if (!this.#closed) this.#handle.reset();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
  }
}

/** @internal A deflater on the native handle. */
export class _ZlibDeflate implements DeflateEngine {
  readonly #zlib: _Zlib;

  constructor(windowBits: number, options: ZlibEnginesOptions) {
    this.#zlib = new _Zlib(_zlib().createDeflateRaw({ windowBits: _deflateWindowBits(windowBits), level: options.level ?? -1, memLevel: options.memLevel ?? 8, chunkSize: STREAM_CHUNK }));
  }

  compress(data: Uint8Array, last = true): Uint8Array {
    const out: Uint8Array[] = [];
    const result = this.#zlib.write(data, Infinity, out);
    if (typeof result === "string") throw new Error(`Cannot compress message: zlib failed (${result})`);
    const payload = _concat(out, result ?? 0);
    return last ? _stripTail(payload) : payload;
  }

  reset(): void {
    this.#zlib.reset();
  }

  close(): void {
    this.#zlib.close();
  }
}

/** @internal An inflater on the native handle. */
export class _ZlibInflate implements InflateEngine {
  readonly #zlib: _Zlib;

  constructor(windowBits: number) {
    this.#zlib = new _Zlib(_zlib().createInflateRaw({ windowBits, chunkSize: STREAM_CHUNK }));
  }

  decompress(piece: Uint8Array, last: boolean, limit: number): Uint8Array[] | ProtocolError {
    const out: Uint8Array[] = [];
    let total = this.#zlib.write(piece, limit, out);
    // RFC 7692 section 7.2.2: append 00 00 ff ff to the message before inflating its end.
    if (last && typeof total === "number") {
      const more = this.#zlib.write(TAIL, limit - total, out);
      total = typeof more === "number" ? total + more : more;
    }
    // A final block (BFINAL, section 7.2.3.4) ended the deflate stream, so the tail stayed unread:
    // the peer starts its next message on a new stream, and so do we.
    if (last && typeof total === "number" && this.#zlib.leftover > 0) this.#zlib.reset();
    if (total === undefined) return new ProtocolError(`Cannot decode message: it inflates to more than ${limit} bytes`, 1009);
    if (typeof total === "string") return new ProtocolError(`Cannot decode message: invalid compressed data (${total})`, 1007);
    return out;
  }

  reset(): void {
    this.#zlib.reset();
  }

  close(): void {
    this.#zlib.close();
  }
}

/** @internal Whether this runtime's node:zlib has the native handle {@linkcode _ZlibDeflate} drives. */
export function _hasNativeHandle(): boolean {
  const stream = _zlib().createDeflateRaw({ chunkSize: STREAM_CHUNK });
  const internal = stream as unknown as { _handle?: Partial<_Handle>; _writeState?: unknown };
  const found = typeof internal._handle?.writeSync === "function" && internal._writeState instanceof Uint32Array;
  stream.close();
  return found;
}
