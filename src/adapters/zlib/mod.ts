// permessage-deflate engines over node:zlib, synchronous and with context takeover, for Node,
// Deno, Bun and Cloudflare Workers with nodejs_compat (all four provide node:zlib).
//
// Why not zlib's public API: its streams are asynchronous, and the one-shot `deflateRawSync` /
// `inflateRawSync` keep no context between calls. The sync path inside them,
// `engine._processChunk(chunk, flushFlag)`, exists on Node 20, Node 24, Deno 2.9 and Bun 1.4
// but closes the engine after one call (`processChunkSync` ends with `_close`), so a second
// message fails ("Cannot read properties of null (reading 'writeSync')" and the like). What all
// four share one level down is the native handle's `writeSync(flush, in, inOff, inLen, out,
// outOff, outLen)` with the remaining output and input space in `_writeState`, which
// `processChunkSync` itself loops over; this file runs that loop without the close. An error
// is reported through `handle.onerror`, which we replace (Node's own closes the handle and a
// further `writeSync` then aborts the process), so an error is seen before the next call.
//
// Why not `CompressionStream("deflate-raw")`: it has no flush. A message boundary can only be
// made by closing the stream, which ends the deflate stream (BFINAL) and its context, so there
// is no context takeover, and every message costs promises and a stream.
import { _nodeBuiltin } from "../node/builtin.ts";
import type { DeflateEngine, DeflateEngines, InflateEngine } from "../../core/deflate.ts";
import { ProtocolError } from "../../core/protocol_error.ts";
import { _concat } from "../../core/bytes.ts";

const Z_SYNC_FLUSH = 2;
const CHUNK = 16 * 1024;
// zlib writes its output here, for every engine of the process; what it produces is copied out
// at once. An idle connection holds no output buffer of its own.
const scratch = new Uint8Array(CHUNK);
// The node:zlib stream's own output buffer, which this file never uses: as small as zlib allows.
const STREAM_CHUNK = 64;
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** Options for {@linkcode createZlibEngines}. */
export interface ZlibEnginesOptions {
  /** The zlib compression level, 0 to 9. @default {-1} (zlib's default, 6) */
  level?: number;
  /** The zlib memory level, 1 to 9. @default {8} */
  memLevel?: number;
}

// The slice of node:zlib used here, which comes from process.getBuiltinModule (see
// ../node/builtin.ts): no import, so the main entry that defaults to these engines bundles anywhere.
interface _ZlibModule {
  createDeflateRaw(options: { windowBits: number; level: number; memLevel: number; chunkSize: number }): object;
  createInflateRaw(options: { windowBits: number; chunkSize: number }): object;
}

function _zlib(): _ZlibModule {
  return _nodeBuiltin<_ZlibModule>("node:zlib", "compress");
}

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

class _ZlibDeflate implements DeflateEngine {
  readonly #zlib: _Zlib;

  constructor(windowBits: number, options: ZlibEnginesOptions) {
    // zlib cannot deflate with a 256-byte window and Node raises windowBits 8 to 9 for raw
    // deflate; zlib's deflate never emits a distance above 2^windowBits - 262 (MIN_LOOKAHEAD),
    // which for 9 is 250, so the stream still fits a peer's 256-byte window.
    this.#zlib = new _Zlib(_zlib().createDeflateRaw({ windowBits: Math.max(windowBits, 9), level: options.level ?? -1, memLevel: options.memLevel ?? 8, chunkSize: STREAM_CHUNK }));
  }

  compress(data: Uint8Array, last = true): Uint8Array {
    const out: Uint8Array[] = [];
    const result = this.#zlib.write(data, Infinity, out);
    if (typeof result === "string") throw new Error(`Cannot compress message: zlib failed (${result})`);
    let payload = _concat(out, result ?? 0);
    // RFC 7692 section 7.2.1: drop the 00 00 ff ff a sync flush ends with.
    if (last && _endsWithTail(payload)) payload = payload.subarray(0, payload.length - 4);
    return payload;
  }

  reset(): void {
    this.#zlib.reset();
  }

  close(): void {
    this.#zlib.close();
  }
}

class _ZlibInflate implements InflateEngine {
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

/**
 * permessage-deflate engines over `node:zlib`, to pass as `engines` to `PerMessageDeflate`.
 *
 * @throws {Error} From an engine's creation when the runtime's `node:zlib` lacks the native
 * handle this relies on (it is there on Node 20 and 24, Deno 2.9 and Bun 1.4).
 * @example
 * ```ts ignore
 * import { PerMessageDeflate } from "@wsflow/wsflow";
 * import { createZlibEngines } from "@wsflow/wsflow/zlib";
 *
 * const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
 * const deflate = new PerMessageDeflate(params, { role: "server", engines: createZlibEngines({ level: 1 }) });
 * ```
 */
export function createZlibEngines(options: ZlibEnginesOptions = {}): DeflateEngines {
  return {
    createDeflate: (windowBits) => new _ZlibDeflate(windowBits, options),
    createInflate: (windowBits) => new _ZlibInflate(windowBits),
  };
}

/** {@linkcode createZlibEngines} with zlib's default level and memory level. */
export const zlibEngines: DeflateEngines = createZlibEngines();

function _endsWithTail(bytes: Uint8Array): boolean {
  const n = bytes.length;
  return n >= 4 && bytes[n - 4] === 0x00 && bytes[n - 3] === 0x00 && bytes[n - 2] === 0xff && bytes[n - 1] === 0xff;
}

