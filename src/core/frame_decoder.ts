import type { FramePart } from "./frame.ts";
import { applyMask } from "./mask.ts";
import { _plain } from "./bytes.ts";
import { ProtocolError } from "./protocol_error.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "./limits.ts";

/** Options for {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * Which end of the connection decodes. A server requires every frame to be masked and a client
   * requires none to be (RFC 6455 section 5.1).
   */
  role: "server" | "client";
  /** The largest frame payload accepted, in bytes; a larger one fails with 1009. @default {67108864} (64 MiB) */
  maxFrameSize?: number;
  /**
   * The RSV bits negotiated extensions may set, as a bit mask (4 = RSV1, 2 = RSV2, 1 = RSV3);
   * any other RSV bit fails with 1002 (section 5.2). @default {0}
   */
  allowedRsv?: number;
  /**
   * A data frame's payload shorter than this many bytes that is whole in one chunk is handed out
   * as a copy of its own instead of a view into the chunk. On JavaScriptCore (Bun), a view into
   * a small array with no `ArrayBuffer` of its own yet (as Bun's socket reads are) makes the
   * engine copy the array out into a new `ArrayBuffer` first, which costs several times a copy of
   * a short payload. @default {0}
   */
  copyBelow?: number;
}

const EMPTY = new Uint8Array(0);

/**
 * Decodes WebSocket frames (RFC 6455 section 5.2) from bytes that arrive in chunks of any size.
 *
 * Push a chunk, then call {@linkcode FrameDecoder.next} until it returns `undefined`. Each call
 * parses the next frame the chunk holds; a data frame's payload is handed out as soon as any of
 * it has arrived, as a `subarray` view into the chunk (unmasked in place: the decoder owns the
 * chunks pushed into it), or as a copy when it is whole and shorter than `copyBelow`. A chunk
 * of a `Uint8Array` subclass (Node's `Buffer`) is read as a plain `Uint8Array` over the same
 * memory, so payloads are plain arrays whatever the chunks are. Control frames always come
 * whole. The header is parsed as a resumable state, so a chunk may end anywhere, down to one
 * byte.
 *
 * A peer's violation is returned as a {@linkcode ProtocolError} with the close code to fail the
 * connection with (1002, or 1009 for a frame over the limit); after that the decoder ignores
 * further input.
 *
 * @example Decode the RFC 6455 section 5.7 masked "Hello" as a server
 * ```ts
 * import { FrameDecoder, ProtocolError } from "@wsflow/wsflow";
 *
 * const decoder = new FrameDecoder({ role: "server" });
 * decoder.push(new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]));
 * for (let part = decoder.next(); part !== undefined; part = decoder.next()) {
 *   if (part instanceof ProtocolError) throw part;
 *   console.log(part.opcode, new TextDecoder().decode(part.payload)); // 1 "Hello"
 * }
 * ```
 */
export class FrameDecoder {
  readonly #requireMask: boolean;
  readonly #maxFrameSize: number;
  readonly #allowedRsv: number;
  readonly #copyBelow: number;

  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  #failed = false;
  // A header split across chunks is gathered here (at most 2 + 8 + 4 bytes), made on first use.
  #header: Uint8Array | undefined;
  #headerLength = 0;
  // The frame being read.
  #inPayload = false;
  #b0 = 0;
  #masked = false;
  readonly #key = new Uint8Array(4);
  #length = 0;
  #received = 0;
  // Where a control payload is gathered (one split across chunks, or any for _nextPart), made
  // by the first, and _nextPart's view of it of the last length used.
  #controlMemory: Uint8Array | undefined;
  #controlView: Uint8Array = EMPTY;
  // The one part _nextPart fills.
  #shared: FramePart | undefined;

  /**
   * Creates a decoder for one connection.
   *
   * @param options The role, limits and negotiated RSV bits.
   * @throws {TypeError} When the role is neither "server" nor "client".
   */
  constructor(options: FrameDecoderOptions) {
    if (options.role !== "server" && options.role !== "client") {
      throw new TypeError(`Cannot create FrameDecoder: role must be "server" or "client", got ${options.role}`);
    }
    this.#requireMask = options.role === "server";
    this.#maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#allowedRsv = options.allowedRsv ?? 0;
    this.#copyBelow = options.copyBelow ?? 0;
  }

  /** Whether a frame has started and not yet been handed out whole. */
  get inFrame(): boolean {
    return this.#inPayload || this.#headerLength > 0;
  }

  /**
   * Gives the decoder the next chunk of bytes. The previous chunk must have been consumed:
   * call {@linkcode FrameDecoder.next} until it returns `undefined` first.
   *
   * @throws {Error} When the previous chunk still holds unread frames.
   */
  push(chunk: Uint8Array): void {
    if (this.#pos < this.#chunk.length && !this.#failed) {
      throw new Error("Cannot push a chunk: the previous one is not consumed yet, call next() until it returns undefined");
    }
    this.#chunk = _plain(chunk);
    this.#pos = 0;
  }

  /**
   * Parses the next frame part from the pushed bytes.
   *
   * @returns A frame part, a {@linkcode ProtocolError} when the peer broke the protocol (returned
   * once; the decoder then ignores all input), or `undefined` when more bytes are needed.
   */
  next(): FramePart | ProtocolError | undefined {
    return this.#next(false);
  }

  /**
   * @internal Parses the next frame part like {@linkcode FrameDecoder.next}, for the Session,
   * which takes what it needs of a part before asking for the next one: the part is one object
   * of the decoder's, filled anew by each call, and a control frame's payload is unmasked into
   * memory of the decoder's own, written over by the next control frame, instead of in place in
   * the chunk. A peer's flood of control frames then costs no allocation per frame.
   */
  _nextPart(): FramePart | ProtocolError | undefined {
    return this.#next(true);
  }

  #next(own: boolean): FramePart | ProtocolError | undefined {
    if (this.#failed) return undefined;
    if (!this.#inPayload) {
      const header = this.#readHeader();
      if (header !== true) {
        if (header === false) return this.#consumed();
        this.#failed = true;
        return header;
      }
    }
    return this.#readPayload(own) ?? this.#consumed();
  }

  // The chunk is read through: let it go, so an idle connection does not keep its last read.
  #consumed(): undefined {
    this.#chunk = EMPTY;
    this.#pos = 0;
    return undefined;
  }

  // Reads a whole header from the chunk when it is all there (the fast path), else gathers it.
  #readHeader(): boolean | ProtocolError {
    const chunk = this.#chunk;
    const pos = this.#pos;
    const available = chunk.length - pos;
    if (this.#headerLength === 0 && available >= 2) {
      const size = _headerSize(chunk[pos + 1]);
      if (available >= size) {
        this.#pos = pos + size;
        return this.#checkStart(chunk[pos], chunk[pos + 1]) ?? this.#parseRest(chunk, pos);
      }
    }
    return this.#gatherHeader();
  }

  #gatherHeader(): boolean | ProtocolError {
    const chunk = this.#chunk;
    const header = this.#header ??= new Uint8Array(14);
    let pos = this.#pos;
    let have = this.#headerLength;
    while (have < 2 && pos < chunk.length) header[have++] = chunk[pos++];
    if (have === 2 && this.#headerLength < 2) {
      // Fail on the first two bytes as soon as they are here, before the rest of the header.
      const failure = this.#checkStart(header[0], header[1]);
      if (failure) return failure;
    }
    if (have >= 2) {
      const size = _headerSize(header[1]);
      while (have < size && pos < chunk.length) header[have++] = chunk[pos++];
      this.#pos = pos;
      if (have === size) {
        this.#headerLength = 0;
        return this.#parseRest(header, 0);
      }
    }
    this.#pos = pos;
    this.#headerLength = have;
    return false;
  }

  // Checks the first two header bytes (RFC 6455 sections 5.1, 5.2 and 5.5).
  #checkStart(b0: number, b1: number): ProtocolError | undefined {
    const opcode = b0 & 0x0f;
    const rsv = (b0 >>> 4) & 0x07;
    if ((rsv & ~this.#allowedRsv) !== 0) {
      return new ProtocolError(`Cannot decode frame: ${_rsvNames(rsv & ~this.#allowedRsv)} set with no extension that uses it`, 1002);
    }
    if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xa) {
      return new ProtocolError(`Cannot decode frame: opcode 0x${opcode.toString(16)} is reserved`, 1002);
    }
    if (opcode >= 0x8) {
      if ((b0 & 0x80) === 0) {
        return new ProtocolError(`Cannot decode frame: control frame (opcode 0x${opcode.toString(16)}) is fragmented`, 1002);
      }
      if ((b1 & 0x7f) > 125) {
        return new ProtocolError(`Cannot decode frame: control frame (opcode 0x${opcode.toString(16)}) is longer than 125 bytes`, 1002);
      }
      if ((rsv & 0x4) !== 0) {
        return new ProtocolError("Cannot decode frame: control frame has RSV1 set (RFC 7692 section 6.1)", 1002);
      }
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.#requireMask) {
      return new ProtocolError(
        this.#requireMask ? "Cannot decode frame: a client frame is not masked" : "Cannot decode frame: a server frame is masked",
        1002,
      );
    }
    this.#b0 = b0;
    this.#masked = masked;
    return undefined;
  }

  // Reads the payload length and masking key; `buf[p]` is the frame's first byte.
  #parseRest(buf: Uint8Array, p: number): true | ProtocolError {
    let length = buf[p + 1] & 0x7f;
    p += 2;
    if (length === 126) {
      length = (buf[p] << 8) | buf[p + 1];
      p += 2;
    } else if (length === 127) {
      const high = ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]) >>> 0;
      if (high >= 0x80000000) {
        return new ProtocolError("Cannot decode frame: 64-bit payload length has its most significant bit set", 1002);
      }
      const low = ((buf[p + 4] << 24) | (buf[p + 5] << 16) | (buf[p + 6] << 8) | buf[p + 7]) >>> 0;
      length = high * 0x100000000 + low;
      p += 8;
    }
    if (length > this.#maxFrameSize) {
      return new ProtocolError(
        `Cannot decode frame: payload of ${length} bytes exceeds maxFrameSize (${this.#maxFrameSize} bytes)`,
        1009,
      );
    }
    if (this.#masked) {
      const key = this.#key;
      key[0] = buf[p];
      key[1] = buf[p + 1];
      key[2] = buf[p + 2];
      key[3] = buf[p + 3];
    }
    this.#length = length;
    this.#received = 0;
    this.#inPayload = true;
    return true;
  }

  #readPayload(own: boolean): FramePart | undefined {
    const chunk = this.#chunk;
    const pos = this.#pos;
    const length = this.#length;
    const remaining = length - this.#received;
    const available = chunk.length - pos;
    if (remaining === 0) {
      this.#inPayload = false;
      return own ? this.#fill(EMPTY, 0) : this.#part(EMPTY, 0);
    }
    if (available === 0) return undefined;
    const n = available < remaining ? available : remaining;
    // A control frame split across chunks is gathered, so it is handed out whole.
    if ((this.#b0 & 0x08) !== 0 && (own || n < length)) return this.#gatherControl(chunk, pos, n, own);
    const payload = n === length && n < this.#copyBelow ? chunk.slice(pos, pos + n) : chunk.subarray(pos, pos + n);
    const offset = this.#received;
    if (this.#masked) applyMask(payload, this.#key, offset);
    this.#received = offset + n;
    this.#pos = pos + n;
    if (this.#received === length) this.#inPayload = false;
    return own ? this.#fill(payload, offset) : this.#part(payload, offset);
  }

  // `n` more bytes of a control payload at `pos`, unmasked byte by byte (at most 125) into the
  // decoder's memory, the same whichever method reads each chunk; once all have come, the part:
  // for next() with a copy of its own, for _nextPart with a view of the memory.
  #gatherControl(chunk: Uint8Array, pos: number, n: number, own: boolean): FramePart | undefined {
    const memory = this.#controlMemory ??= new Uint8Array(125);
    const key = this.#key;
    const at = this.#received;
    if (this.#masked) for (let i = 0; i < n; i++) memory[at + i] = chunk[pos + i] ^ key[(at + i) & 3];
    else for (let i = 0; i < n; i++) memory[at + i] = chunk[pos + i];
    this.#received = at + n;
    this.#pos = pos + n;
    const length = this.#length;
    if (this.#received < length) return undefined;
    this.#inPayload = false;
    if (!own) return this.#part(memory.slice(0, length), 0);
    if (this.#controlView.length !== length) this.#controlView = memory.subarray(0, length);
    return this.#fill(this.#controlView, 0);
  }

  #fill(payload: Uint8Array, offset: number): FramePart {
    const part = this.#shared ??= this.#part(EMPTY, 0);
    const b0 = this.#b0;
    part.fin = (b0 & 0x80) !== 0;
    part.rsv1 = (b0 & 0x40) !== 0;
    part.rsv2 = (b0 & 0x20) !== 0;
    part.rsv3 = (b0 & 0x10) !== 0;
    part.opcode = b0 & 0x0f;
    part.payload = payload;
    part.offset = offset;
    part.length = this.#length;
    return part;
  }

  #part(payload: Uint8Array, offset: number): FramePart {
    const b0 = this.#b0;
    return {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      payload,
      offset,
      length: this.#length,
    };
  }
}

// The header size implied by the second header byte: 2, plus 2 or 8 length bytes, plus 4 for a mask.
function _headerSize(b1: number): number {
  const length = b1 & 0x7f;
  return 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}

function _rsvNames(bits: number): string {
  const names = [];
  if (bits & 4) names.push("RSV1");
  if (bits & 2) names.push("RSV2");
  if (bits & 1) names.push("RSV3");
  return names.join(" and ") + (names.length > 1 ? " are" : " is");
}
