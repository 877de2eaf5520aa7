// permessage-deflate message compression (RFC 7692 sections 6 and 7.2), over engines injected by
// an adapter (zlib lives outside the pure core).
import type { DeflateParams } from "./extensions.ts";
import type { FramePart } from "./frame.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "./limits.ts";
import { ProtocolError } from "./protocol_error.ts";
import { _concat } from "./bytes.ts";
import { _WindowHistory } from "./window_history.ts";

/** A compressor with a context that lasts across messages until {@linkcode DeflateEngine.reset}. */
export interface DeflateEngine {
  /**
   * Compresses the next piece of a message and flushes it (Z_SYNC_FLUSH). On the last piece the
   * trailing `00 00 ff ff` is removed (RFC 7692 section 7.2.1); earlier pieces keep it, since
   * the stream goes on after them.
   */
  compress(data: Uint8Array, last?: boolean): Uint8Array;
  /**
   * Optional: starts a new engine from `history`, what was sent before it (at most its window),
   * as if it had compressed it. Without it, {@linkcode PerMessageDeflate} compresses the history
   * and discards the output.
   */
  restore?(history: Uint8Array): void;
  /** Forgets the context: the next message is compressed on its own (no context takeover). */
  reset(): void;
  /** Frees the engine. */
  close(): void;
}

/** A decompressor with a context that lasts across messages until {@linkcode InflateEngine.reset}. */
export interface InflateEngine {
  /**
   * Decompresses the next piece of a compressed message, appending `00 00 ff ff` after the last
   * one (RFC 7692 section 7.2.2). Output is produced in bounded chunks, and the engine stops
   * with a 1009 {@linkcode ProtocolError} as soon as it has produced more than `limit` bytes for
   * this call, so a small input that would inflate hugely is never held whole. Invalid data
   * fails with 1007. After a failure the engine is unusable. The arrays returned are the
   * caller's: the engine never writes them again (a message may be handed out as a view of them).
   */
  decompress(piece: Uint8Array, last: boolean, limit: number): Uint8Array[] | ProtocolError;
  /**
   * Optional: starts a new engine from `history`, what was received before it (at most its
   * window), as if it had decompressed it. Without it, {@linkcode PerMessageDeflate} feeds the
   * history as stored deflate blocks and discards the output.
   */
  restore?(history: Uint8Array): void;
  /** Forgets the context: the next message is decompressed on its own. */
  reset(): void;
  /** Frees the engine. */
  close(): void;
}

/** Makes engines: what an adapter injects (see `src/adapters/zlib/mod.ts`). */
export interface DeflateEngines {
  /** A compressor whose LZ77 window is at most 2^windowBits bytes (8 to 15). */
  createDeflate(windowBits: number): DeflateEngine;
  /** A decompressor for data compressed with a window of at most 2^windowBits bytes. */
  createInflate(windowBits: number): InflateEngine;
}

/** Options for {@linkcode PerMessageDeflate}. */
export interface PerMessageDeflateInit {
  /** Which end this is: it picks which negotiated parameters apply to sending and receiving. */
  role: "server" | "client";
  /** Makes the compressor and decompressor. */
  engines: DeflateEngines;
  /** Messages smaller than this many bytes are sent uncompressed. @default {1024} */
  threshold?: number;
  /** The largest message accepted after decompression; more fails with 1009. @default {67108864} (64 MiB) */
  maxMessageSize?: number;
  /**
   * How long, in milliseconds, a connection may go without a compressed message before its zlib
   * contexts (about 300 KiB of zlib state per connection) are freed; only the last window of data
   * each way is kept (at most 2^windowBits bytes, 32 KiB), and the next message rebuilds the
   * context from it, compressing exactly as well. A {@linkcode Session} frees them this long
   * after the last compressed message either way (a driver of its own can call
   * {@linkcode PerMessageDeflate.idleCheck} on this period); `Infinity` never frees them.
   * @default {1000}
   */
  releaseIdleAfter?: number;
  /** Shared with other connections: bounds how many of them hold zlib contexts at once. */
  pool?: DeflateContextPool;
}

/**
 * Bounds how many connections hold zlib contexts (about 300 KiB each) at once: the limit on
 * concurrent compression state. Compression here is synchronous, so there is never more than one
 * zlib call running; what grows with the number of busy connections is their contexts. When one
 * more connection needs a context, the connection that used its contexts least recently frees
 * them, as an idle one does (see {@linkcode PerMessageDeflateInit.releaseIdleAfter}), and
 * rebuilds them from its kept window at its next message. A connection in the middle of a
 * message keeps its contexts, so the limit can be passed while every holder is mid-message.
 *
 * @example Two connections' contexts at most
 * ```ts
 * import { DeflateContextPool } from "@wsflow/wsflow";
 *
 * const pool = new DeflateContextPool(2);
 * console.log(pool.limit, pool.size); // 2 0
 * ```
 */
export class DeflateContextPool {
  /** The most connections holding contexts at once. */
  readonly limit: number;
  // Least recently used first.
  readonly #holders = new Set<PerMessageDeflate>();

  /**
   * Creates a pool to pass as `pool` to every {@linkcode PerMessageDeflate} it bounds.
   *
   * @param limit The most connections holding zlib contexts at once, at least 1.
   * @throws {RangeError} When `limit` is not at least 1.
   */
  constructor(limit: number) {
    if (!(limit >= 1)) throw new RangeError(`Cannot create DeflateContextPool: limit must be at least 1, got ${limit}`);
    this.limit = limit;
  }

  /** How many connections hold contexts now. */
  get size(): number {
    return this.#holders.size;
  }

  /** @internal `holder` used its contexts: it becomes the most recent, and the oldest may free. */
  _touch(holder: PerMessageDeflate): void {
    this.#holders.delete(holder);
    this.#holders.add(holder);
    if (this.#holders.size <= this.limit) return;
    for (const other of this.#holders) {
      if (other !== holder && other.release()) return;
    }
  }

  /** @internal `holder` holds no context any more. */
  _forget(holder: PerMessageDeflate): void {
    this.#holders.delete(holder);
  }
}

/** What {@linkcode PerMessageDeflate.compress} gives back: the payload to send and its RSV1 bit. */
export interface CompressedMessage {
  /** The payload: compressed when `rsv1` is set, else the data as given. */
  payload: Uint8Array;
  /** Set RSV1 on the message's first frame (RFC 7692 section 6). */
  rsv1: boolean;
}

const EMPTY = new Uint8Array(0);

/**
 * permessage-deflate for one connection (RFC 7692): compresses outgoing messages and
 * decompresses incoming ones, keeping each direction's context across messages unless the
 * negotiated `*_no_context_takeover` says otherwise. Engines are created on first use.
 *
 * Sending: {@linkcode PerMessageDeflate.compress} a whole message (or
 * {@linkcode PerMessageDeflate.compressPiece} for one sent in pieces), then frame the payload
 * with RSV1 set on the first frame only. Receiving: pass every data frame part through
 * {@linkcode PerMessageDeflate.receive} before the MessageDecoder.
 *
 * @example A message compressed by one end and decompressed by the other
 * ```ts ignore
 * import { PerMessageDeflate } from "@wsflow/wsflow";
 * import { zlibEngines } from "@wsflow/wsflow/zlib";
 *
 * const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
 * const server = new PerMessageDeflate(params, { role: "server", engines: zlibEngines, threshold: 0 });
 * const sent = server.compress(new TextEncoder().encode("Hello")); // { payload: f2 48 cd c9 c9 07 00, rsv1: true }
 * ```
 */
export class PerMessageDeflate {
  readonly #params: DeflateParams;
  readonly #server: boolean;
  readonly #engines: DeflateEngines;
  readonly #threshold: number;
  readonly #maxMessageSize: number;
  #deflate: DeflateEngine | undefined;
  #inflate: InflateEngine | undefined;
  // Receiving: whether the current message is compressed, its inflated size, and the inflated
  // chunks of the current frame.
  #inMessage = false;
  #compressed = false;
  #size = 0;
  #chunks: Uint8Array[] = [];
  #frameSize = 0;
  #failed = false;
  // With context takeover: each direction's recent uncompressed bytes, to rebuild a freed context.
  #sentHistory: _WindowHistory | undefined;
  #receivedHistory: _WindowHistory | undefined;
  #sendingPieces = false;
  #receivingPieces = false;
  #used = false;
  /** How long a context may sit unused before {@linkcode PerMessageDeflate.idleCheck} frees it. */
  readonly releaseIdleAfter: number;
  readonly #pool: DeflateContextPool | undefined;

  /**
   * Creates the per-connection state; engines are made when first needed.
   *
   * @param params The negotiated parameters (from the `extensions.ts` negotiation functions).
   * @param options The role, the engines, the threshold and the message size limit.
   */
  constructor(params: DeflateParams, options: PerMessageDeflateInit) {
    if (options.role !== "server" && options.role !== "client") {
      throw new TypeError(`Cannot create PerMessageDeflate: role must be "server" or "client", got ${options.role}`);
    }
    this.#params = params;
    this.#server = options.role === "server";
    this.#engines = options.engines;
    this.#threshold = options.threshold ?? 1024;
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    const release = options.releaseIdleAfter ?? 1000;
    if (!(release >= 0)) throw new RangeError(`Cannot create PerMessageDeflate: releaseIdleAfter must be a number of milliseconds >= 0, got ${release}`);
    this.releaseIdleAfter = release;
    this.#pool = options.pool;
  }

  /** Whether a zlib context is alive (so {@linkcode PerMessageDeflate.idleCheck} has work). */
  get holding(): boolean {
    return this.#deflate !== undefined || this.#inflate !== undefined;
  }

  /**
   * Called every `releaseIdleAfter` milliseconds while {@linkcode PerMessageDeflate.holding}:
   * frees the contexts when no message went through them since the previous call, keeping each
   * direction's last window of data to rebuild them from. A context stays while a message is
   * half received or half sent.
   */
  idleCheck(): void {
    if (this.#used) this.#used = false;
    else this.release();
  }

  /**
   * Frees the contexts now, keeping each direction's last window of data to rebuild them from,
   * unless a message is half sent or half received.
   *
   * @returns Whether it freed them (or held none).
   */
  release(): boolean {
    if ((this.#inMessage && this.#compressed) || this.#sendingPieces || this.#receivingPieces) return false;
    if (this.#deflate) {
      this.#sentHistory?.restore(this.#sentHistory.snapshot());
      this.#dropDeflate();
    }
    if (this.#inflate) {
      this.#receivedHistory?.restore(this.#receivedHistory.snapshot());
      this.#dropInflate();
    }
    return true;
  }

  /**
   * @internal How another party may compress for this connection: when this end starts every
   * message with a fresh context (no context takeover), a message compressed on its own with
   * at most `windowBits` is exactly what this connection would send, so one compressed frame
   * serves every such connection. `undefined` with context takeover.
   */
  get _shared(): { engines: DeflateEngines; windowBits: number; threshold: number } | undefined {
    if (!this.#ownNoContextTakeover()) return undefined;
    return { engines: this.#engines, windowBits: this.#ownBits(), threshold: this.#threshold };
  }

  /** The RSV bits FrameDecoder must allow: RSV1 (`allowedRsv: 4`). */
  get allowedRsv(): number {
    return 4;
  }

  /**
   * Compresses a whole message (RFC 7692 section 7.2.1), unless it is below the threshold or
   * `compress` is `false`: then it goes as is, with RSV1 clear.
   */
  compress(data: Uint8Array, compress = true): CompressedMessage {
    if (!compress || data.length < this.#threshold) return { payload: data, rsv1: false };
    return { payload: this.compressPiece(data, true), rsv1: true };
  }

  /**
   * Compresses one piece of a message sent in pieces; every piece of the message must go
   * through here, and the first frame gets RSV1. `last` ends the message (and drops the tail).
   */
  compressPiece(data: Uint8Array, last: boolean): Uint8Array {
    const engine = this.#deflate ??= this.#newDeflate();
    const payload = engine.compress(data, last);
    this.#markUsed();
    this.#sendingPieces = !last;
    // Without context takeover nothing outlives the message: free the context (about 200 KiB
    // for deflate) rather than keep it idle; the next message makes a new one.
    if (this.#ownNoContextTakeover()) {
      if (last) this.#dropDeflate();
    } else {
      (this.#sentHistory ??= new _WindowHistory(1 << this.#ownBits())).append(data);
    }
    return payload;
  }

  // A compressor, primed with what was sent before it when an idle one was freed: compressing
  // the history (output discarded, since the peer has it already) fills the window the same way.
  #newDeflate(): DeflateEngine {
    const engine = this.#engines.createDeflate(this.#ownBits());
    const history = this.#sentHistory;
    if (history && history.length > 0) {
      if (engine.restore) engine.restore(history.bytes());
      else engine.compress(history.bytes(), false);
    }
    return engine;
  }

  // A decompressor, primed with what was received before it: the history as stored (uncompressed)
  // deflate blocks, whose output is discarded, so the peer's back-references resolve as before.
  #newInflate(): InflateEngine {
    const engine = this.#engines.createInflate(this.#peerBits());
    const history = this.#receivedHistory;
    if (history && history.length > 0 && engine.restore) {
      engine.restore(history.bytes());
    } else if (history && history.length > 0) {
      const primed = engine.decompress(_storedBlock(history.bytes()), false, Infinity);
      if (primed instanceof ProtocolError) throw new Error(`Cannot restore the inflate context: ${primed.message}`);
    }
    return engine;
  }

  /**
   * Takes a data frame part from the FrameDecoder, before the MessageDecoder.
   *
   * @returns For a message sent uncompressed, the part itself. For a compressed message,
   * `undefined` until the frame's last part has arrived, then one whole frame part (offset 0,
   * RSV1 clear) holding the frame's inflated bytes. A {@linkcode ProtocolError} when RSV1 is set
   * on a continuation frame (1002), the data is invalid (1007), or the message inflates past
   * `maxMessageSize` (1009, found while inflating, without producing the rest).
   */
  receive(part: FramePart): FramePart | ProtocolError | undefined {
    if (this.#failed) return undefined;
    const frameStart = part.offset === 0;
    if (frameStart) {
      if (part.opcode !== 0x0) {
        this.#inMessage = true;
        this.#compressed = part.rsv1;
        this.#size = 0;
      } else if (part.rsv1) {
        // Only the first frame of a message carries RSV1 (section 6.1).
        return this.#fail(new ProtocolError("Cannot decode message: RSV1 is set on a continuation frame", 1002));
      }
    }
    if (!this.#compressed || !this.#inMessage) return part;
    const frameEnd = part.offset + part.payload.length === part.length;
    const last = part.fin && frameEnd;
    const inflate = this.#inflate ??= this.#newInflate();
    const chunks = inflate.decompress(part.payload, last, this.#maxMessageSize - this.#size);
    this.#markUsed();
    if (chunks instanceof ProtocolError) {
      if (chunks.closeCode === 1009) {
        return this.#fail(new ProtocolError(`Cannot decode message: it inflates to more than maxMessageSize (${this.#maxMessageSize} bytes)`, 1009));
      }
      return this.#fail(chunks);
    }
    this.#remember(chunks);
    for (const chunk of chunks) {
      this.#size += chunk.length;
      this.#frameSize += chunk.length;
      this.#chunks.push(chunk);
    }
    if (!frameEnd) return undefined;
    const payload = _concat(this.#chunks, this.#frameSize);
    this.#chunks = [];
    this.#frameSize = 0;
    if (last) {
      this.#inMessage = false;
      if (this.#peerNoContextTakeover()) this.#dropInflate();
    }
    return { fin: part.fin, rsv1: false, rsv2: part.rsv2, rsv3: part.rsv3, opcode: part.opcode, payload, offset: 0, length: payload.length };
  }

  /**
   * Decompresses one piece of a compressed message directly, for a caller that streams the
   * message (pieces as they arrive, never joined). `limit` is how many more bytes the message
   * may grow by. Resets the context after the last piece when negotiated.
   */
  decompressPiece(piece: Uint8Array, last: boolean, limit: number): Uint8Array[] | ProtocolError {
    const inflate = this.#inflate ??= this.#newInflate();
    const chunks = inflate.decompress(piece, last, limit);
    this.#markUsed();
    this.#receivingPieces = !last;
    if (chunks instanceof ProtocolError) return chunks;
    this.#remember(chunks);
    if (last && this.#peerNoContextTakeover()) this.#dropInflate();
    return chunks;
  }

  // Keeps the inflated bytes when the peer takes its context over to the next message.
  #remember(chunks: Uint8Array[]): void {
    if (this.#peerNoContextTakeover()) return;
    const history = this.#receivedHistory ??= new _WindowHistory(1 << this.#peerBits());
    for (const chunk of chunks) history.append(chunk);
  }

  // A message went through a context: not idle, and the most recent holder in the pool.
  #markUsed(): void {
    this.#used = true;
    this.#pool?._touch(this);
  }

  #dropDeflate(): void {
    this.#deflate?.close();
    this.#deflate = undefined;
    if (!this.#inflate) this.#pool?._forget(this);
  }

  #dropInflate(): void {
    this.#inflate?.close();
    this.#inflate = undefined;
    if (!this.#deflate) this.#pool?._forget(this);
  }

  /** Frees both engines and the histories. */
  close(): void {
    this.#deflate?.close();
    this.#inflate?.close();
    this.#deflate = undefined;
    this.#inflate = undefined;
    this.#sentHistory = undefined;
    this.#receivedHistory = undefined;
    this.#pool?._forget(this);
  }

  #fail(error: ProtocolError): ProtocolError {
    this.#failed = true;
    this.#chunks = [];
    return error;
  }

  // Our compressor's window and reset rule, then the peer's (section 7.1).
  #ownBits(): number {
    return this.#server ? this.#params.serverMaxWindowBits : this.#params.clientMaxWindowBits;
  }

  #ownNoContextTakeover(): boolean {
    return this.#server ? this.#params.serverNoContextTakeover : this.#params.clientNoContextTakeover;
  }

  #peerBits(): number {
    return this.#server ? this.#params.clientMaxWindowBits : this.#params.serverMaxWindowBits;
  }

  #peerNoContextTakeover(): boolean {
    return this.#server ? this.#params.clientNoContextTakeover : this.#params.serverNoContextTakeover;
  }
}


/**
 * @internal `data` as deflate stored blocks (RFC 1951 section 3.2.4), none of them final: BFINAL
 * 0 and BTYPE 00 in a byte of their own, then LEN and its complement, little-endian, then the bytes.
 */
export function _storedBlock(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 0xffff));
  const out = new Uint8Array(data.length + blocks * 5);
  let at = 0;
  for (let from = 0; from < data.length || at === 0; from += 0xffff) {
    const n = Math.min(0xffff, data.length - from);
    out[at] = 0x00;
    out[at + 1] = n & 0xff;
    out[at + 2] = n >>> 8;
    out[at + 3] = ~n & 0xff;
    out[at + 4] = (~n >>> 8) & 0xff;
    out.set(data.subarray(from, from + n), at + 5);
    at += 5 + n;
  }
  return out;
}
