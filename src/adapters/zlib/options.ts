// The zlib engines' options, and what both engines (handle.ts, public_api.ts) do alike: among it
// the lookup of node:zlib, which comes from process.getBuiltinModule (see ../node/builtin.ts)
// rather than an import, so the main entry that defaults to these engines bundles anywhere.
import { _nodeBuiltin } from "../node/builtin.ts";

/** Options for {@linkcode createZlibEngines}. */
export interface ZlibEnginesOptions {
  /** The zlib compression level, 0 to 9. @default {-1} (zlib's default, 6) */
  level?: number;
  /** The zlib memory level, 1 to 9. @default {8} */
  memLevel?: number;
  /**
   * Which part of `node:zlib` runs zlib. `"native"`: the zlib stream's native handle, driven
   * synchronously with the context kept between messages (fast; an internal of Node that Deno
   * and Bun reproduce, so an engine fails to create where it is missing). `"public"`: zlib's
   * documented one-shot functions (`deflateRawSync`, `inflateRawSync`) with the last window of
   * data as a preset dictionary, which keeps context takeover at a cost of a zlib stream per
   * message (slower, and a message's compressed frames are inflated together at its end).
   * `"auto"`: the native handle where the runtime has it, else the public functions.
   * @default {"auto"}
   */
  api?: "auto" | "native" | "public";
}

/** @internal The 00 00 ff ff a sync flush ends with (RFC 7692 section 7.2.1). */
export const TAIL: Uint8Array = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** @internal `payload` without the 00 00 ff ff it ends with, if it does (RFC 7692 section 7.2.1). */
export function _stripTail(payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const tail = n >= 4 && payload[n - 4] === 0x00 && payload[n - 3] === 0x00 && payload[n - 2] === 0xff && payload[n - 1] === 0xff;
  return tail ? payload.subarray(0, n - 4) : payload;
}

/**
 * @internal The window bits to deflate with for a peer's `windowBits`: zlib cannot deflate with a
 * 256-byte window and Node raises windowBits 8 to 9 for raw deflate; zlib's deflate never emits
 * a distance above 2^windowBits - 262 (MIN_LOOKAHEAD), which for 9 is 250, so the stream still
 * fits a peer's 256-byte window.
 */
export function _deflateWindowBits(windowBits: number): number {
  return Math.max(windowBits, 9);
}

/** @internal zlib's Z_SYNC_FLUSH (zlib.h), the flush every engine ends a message's data with. */
export const Z_SYNC_FLUSH = 2;

/** @internal The options of node:zlib's functions that the engines pass. */
export interface _ZlibOptions {
  windowBits?: number;
  level?: number;
  memLevel?: number;
  chunkSize?: number;
  finishFlush?: number;
  dictionary?: Uint8Array;
  maxOutputLength?: number;
}

/** @internal The slice of node:zlib the engines use, declared so no runtime types are needed. */
export interface _ZlibModule {
  createDeflateRaw(options: _ZlibOptions): { close(): void };
  createInflateRaw(options: _ZlibOptions): { close(): void };
  deflateRawSync(data: Uint8Array, options: _ZlibOptions): Uint8Array;
  inflateRawSync(data: Uint8Array, options: _ZlibOptions): Uint8Array;
}

/**
 * @internal node:zlib, from process.getBuiltinModule.
 *
 * @throws {TypeError} Where the runtime does not hand it out, saying where it does.
 */
export function _zlib(): _ZlibModule {
  return _nodeBuiltin<_ZlibModule>("node:zlib", "compress");
}
