import { _forgetText, _rememberText } from "./recent_text.ts";
import type { FramePart } from "./frame.ts";
import { DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_MESSAGE_SIZE } from "./limits.ts";
import { ProtocolError } from "./protocol_error.ts";
import { _byteLength, _copyInto } from "./bytes.ts";

/** Options for {@linkcode MessageDecoder}. */
export interface MessageDecoderOptions {
  /** The largest message accepted, in bytes; a larger one fails with 1009. @default {67108864} (64 MiB) */
  maxMessageSize?: number;
  /** The most frames one message may have; more fail with 1009. @default {262144} */
  maxFragments?: number;
  /**
   * Makes the buffer a message in several pieces is joined into. Its contents are overwritten
   * at once, so a runtime's allocator that skips zero-filling fits (the Node adapter passes
   * `Buffer.allocUnsafe`). A Session also encodes the text messages it sends (256 to 65,536 UTF-16
   * code units) into buffers from it. @default {(size) => new Uint8Array(size)}
   */
  allocate?: (size: number) => Uint8Array;
}

/** A piece of a message, as {@linkcode MessageDecoder.pushPiece} hands it out. */
export interface MessagePart {
  /** Whether the message is binary (otherwise text, already checked to be UTF-8 so far). */
  binary: boolean;
  /** The bytes of this piece: a view into the chunk it came in. */
  data: Uint8Array;
  /** Whether this is the first piece of the message. */
  first: boolean;
  /** Whether this is the last piece of the message. */
  last: boolean;
}

const EMPTY = new Uint8Array(0);
const _allocate = (size: number) => new Uint8Array(size);
// Non-streaming decodes keep no state between calls, so one decoder serves every connection.
const wholeDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const replacingDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

// Decodes a whole text message, or returns undefined when it is not valid UTF-8. One decode both
// checks and produces the string: a decoder that replaces invalid sequences with U+FFFD is
// several times faster than a fatal one on Deno (and no slower on Node and Bun), and its output
// can hold a U+FFFD only if the bytes were invalid or held a real U+FFFD; only then does the fatal
// decoder decide.
function _decodeWhole(bytes: Uint8Array): string | undefined {
  const text = replacingDecoder.decode(bytes);
  if (text.indexOf("\uFFFD") < 0) {
    _rememberText(text, bytes);
    return text;
  }
  try {
    return wholeDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Reassembles messages from data frame parts (RFC 6455 section 5.4), validating text as UTF-8
 * as it arrives (section 8.1).
 *
 * Push every data frame part the {@linkcode FrameDecoder} hands out (control frames, which may
 * arrive between fragments, go elsewhere: to a Session, say). A text message whose bytes can
 * never become valid UTF-8 fails with 1007 at the first such byte, even in its first fragment
 * and before the rest has arrived. A message that arrives in one piece is handed out without a
 * copy (a view into the chunk it came in), and so is one frame whose pieces lie back to back in
 * one buffer (chunks that are views into one large read); any other message in pieces is copied
 * once.
 *
 * @example Reassemble a fragmented text message (RFC 6455 section 5.7)
 * ```ts
 * import { FrameDecoder, MessageDecoder, ProtocolError } from "@wsflow/wsflow";
 *
 * const frames = new FrameDecoder({ role: "client" });
 * const messages = new MessageDecoder();
 * frames.push(new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]));
 * for (let part = frames.next(); part !== undefined; part = frames.next()) {
 *   if (part instanceof ProtocolError) throw part;
 *   const message = messages.push(part);
 *   if (message instanceof ProtocolError) throw message;
 *   if (message !== undefined) console.log(message); // "Hello"
 * }
 * ```
 */
export class MessageDecoder {
  readonly #maxMessageSize: number;
  readonly #maxFragments: number;
  readonly #allocate: (size: number) => Uint8Array;
  // A message that arrives whole is decoded by one decoder shared by every connection; a
  // fragmented text message gets a streaming decoder of its own, made when first needed.
  #utf8: TextDecoder | undefined;
  #opcode = -1;
  #size = 0;
  #fragments = 0;
  #text = "";
  // A binary message in pieces: large pieces kept as views, small ones gathered in #tail.
  #pieces: Uint8Array[] = [];
  #tail: Uint8Array = EMPTY;
  #tailLength = 0;
  // The buffer the latest kept views point into, the index in #pieces of the first of them, and
  // the bytes they cover (see #append).
  #buffer: ArrayBufferLike | undefined;
  #bufferFirst = 0;
  #bufferKept = 0;
  // The message's size once its final frame has begun (-1 before); and, once views would have to
  // be copied and that size is known, the message's own buffer, filled as pieces arrive (#settle).
  #total = -1;
  #target: Uint8Array | undefined;
  #targetLength = 0;
  #failed = false;
  #started = false;
  // Whether the part being pushed is in memory written over after the call (_pushReused); set
  // by every push.
  #reused = false;

  /**
   * Creates a decoder for one connection's messages.
   *
   * @param options The message size and fragment count limits.
   */
  constructor(options: MessageDecoderOptions = {}) {
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.#allocate = options.allocate ?? _allocate;
  }

  /** Whether a message has started and not yet ended. */
  get inMessage(): boolean {
    return this.#opcode >= 0;
  }

  /**
   * Takes the next data frame part.
   *
   * @param utf8 A UTF-8 check: a text message whole in this one part is checked with it and
   *   returned as its bytes, not decoded.
   * @returns The whole message when this part ends it (`string` for text, `Uint8Array` for
   * binary), `undefined` when the message goes on, or a {@linkcode ProtocolError} when the peer
   * broke the protocol (after which the decoder ignores further parts).
   * @throws {TypeError} When given a control frame: those are not part of a message.
   */
  push(part: FramePart, utf8?: (bytes: Uint8Array) => boolean): string | Uint8Array | ProtocolError | undefined {
    return this.#push(part, false, utf8) as string | Uint8Array | ProtocolError | undefined;
  }

  /**
   * @internal {@linkcode MessageDecoder.push} for a part in memory its caller writes over after
   * the call (a reused read buffer): what is kept of it is copied, once. A message whole in the
   * part is still handed out as a view, for the caller to copy.
   */
  _pushReused(part: FramePart, utf8?: (bytes: Uint8Array) => boolean): string | Uint8Array | ProtocolError | undefined {
    return this.#push(part, false, utf8, true) as string | Uint8Array | ProtocolError | undefined;
  }

  /**
   * Takes the next data frame part like {@linkcode MessageDecoder.push}, but hands the message
   * out piece by piece as its bytes arrive, checked the same way (fragments, limits, UTF-8), so a
   * large message is never held whole.
   *
   * @returns The piece (`last` is set on the final one), a {@linkcode ProtocolError}, or
   * `undefined` after a failure.
   * @throws {TypeError} When given a control frame.
   */
  pushPiece(part: FramePart): MessagePart | ProtocolError | undefined {
    return this.#push(part, true) as MessagePart | ProtocolError | undefined;
  }

  #push(part: FramePart, pieces: boolean, utf8?: (bytes: Uint8Array) => boolean, reused = false): string | Uint8Array | MessagePart | ProtocolError | undefined {
    _forgetText(); // the bytes it remembers may be an inflater's output, reused for this part
    if (this.#failed) return undefined;
    this.#reused = reused;
    const opcode = part.opcode;
    if (opcode > 0x2) {
      throw new TypeError(`Cannot decode message: opcode 0x${opcode.toString(16)} is a control frame, handle it apart from messages`);
    }
    const payload = part.payload;
    if (part.offset === 0) {
      const failure = this.#startFrame(opcode, part.length);
      if (failure) {
        this.#failed = true;
        this.#reset();
        return failure;
      }
      if (part.fin) this.#total = this.#size + part.length;
    }
    const done = part.fin && part.offset + payload.length === part.length;
    if (pieces) return this.#piece(payload, done);
    if (done && this.#fragments === 1 && part.offset === 0) {
      // The whole message arrived in one piece: no copy, no streaming decoder state, and no
      // state to reset but what #startFrame set (no pieces were kept, no text gathered).
      const text = this.#opcode === 0x1;
      this.#opcode = -1;
      this.#fragments = 0;
      this.#total = -1;
      if (!text) return payload;
      if (utf8) return utf8(payload) ? payload : this.#fail();
      return _decodeWhole(payload) ?? this.#fail();
    }
    this.#size += payload.length;
    if (this.#opcode === 0x1) {
      try {
        this.#text += this.#streaming().decode(payload, { stream: !done });
      } catch {
        return this.#fail();
      }
      if (!done) return undefined;
      const text = this.#text;
      this.#reset();
      return text;
    }
    this.#append(payload, done);
    if (!done) return undefined;
    const message = this.#join();
    this.#reset();
    return message;
  }

  // Checks a frame's first part against the message state (section 5.4) and the limits.
  #startFrame(opcode: number, length: number): ProtocolError | undefined {
    if (opcode === 0x0) {
      if (this.#opcode < 0) {
        return new ProtocolError("Cannot decode message: continuation frame with no message started", 1002);
      }
      if (++this.#fragments > this.#maxFragments) {
        return new ProtocolError(`Cannot decode message: more than maxFragments (${this.#maxFragments}) frames`, 1009);
      }
    } else {
      if (this.#opcode >= 0) {
        return new ProtocolError(
          `Cannot decode message: ${opcode === 0x1 ? "text" : "binary"} frame inside a fragmented message, expected a continuation`,
          1002,
        );
      }
      this.#opcode = opcode;
      this.#fragments = 1;
      this.#size = 0;
    }
    if (this.#size + length > this.#maxMessageSize) {
      return new ProtocolError(
        `Cannot decode message: ${this.#size + length} bytes exceed maxMessageSize (${this.#maxMessageSize} bytes)`,
        1009,
      );
    }
    return undefined;
  }

  // Keeps a binary piece until the message ends, and joins the pieces once, at the end (or, once
  // pieces would be copied early and the message's size is known, copies each into the message's
  // own buffer as it comes: see #settle). Pieces of 4 KiB or more are kept as views into the
  // chunks they came in, counted by buffer: however many views share a buffer (consecutive chunks
  // that are views into one large buffer, as some transports hand them out), the buffer is
  // counted once, and it stays pinned only while its views cover at least an eighth of it. That
  // is judged when the pieces move on to another buffer (the views into the one left behind are
  // then copied if they cover less), and at once when even the rest of the buffer after a piece
  // could not make up the eighth. So what is pinned stays within 8 times what was received, plus
  // the one buffer being read, whatever the buffers' sizes; tiny fragments never pin many whole
  // chunks. Smaller pieces are copied into an accumulator of 8 or 64 KiB. Memory grows with the
  // bytes received (a message's own buffer is made only once an eighth of it has come), never
  // with the length a header claims. The last piece is kept as a view whatever its size: the
  // message is joined at once, so it pins nothing, and a small tail needs no accumulator of its
  // own. Over reused memory (_pushReused), a piece kept past the call is copied first.
  #append(payload: Uint8Array, last: boolean): void {
    const n = payload.length;
    if (n === 0) return;
    if (this.#target !== undefined) {
      this.#target.set(payload, this.#targetLength);
      this.#targetLength += n;
      return;
    }
    if (n < 4096 && !(last && this.#tailLength + n > this.#tail.length)) {
      if (this.#tailLength + n > this.#tail.length) {
        this.#flushTail();
        // Start small (a message's last piece is often its only small one), then grow.
        this.#tail = new Uint8Array(this.#pieces.length < 4 ? 8192 : 65536);
      }
      this.#tail.set(payload, this.#tailLength);
      this.#tailLength += n;
      return;
    }
    this.#flushTail();
    if (last) {
      this.#pieces.push(payload);
      return;
    }
    if (this.#reused) {
      // Kept past this call, so copied: into the message's own buffer when that fits (see #settle).
      if (this.#targetFits()) {
        this.#toTarget();
        return this.#append(payload, last);
      }
      payload = payload.slice();
    }
    const buffer = payload.buffer;
    if (buffer !== this.#buffer) {
      this.#settle();
      if (this.#target !== undefined) return this.#append(payload, last);
      this.#buffer = buffer;
      this.#bufferFirst = this.#pieces.length;
    }
    this.#pieces.push(payload);
    this.#bufferKept += n;
    // Even if the rest of the buffer came next, the views would cover less than an eighth.
    if ((this.#bufferKept + buffer.byteLength - payload.byteOffset - n) * 8 < buffer.byteLength) this.#settle(true);
  }

  // Done with the views into #buffer: they are copied unless they cover at least an eighth of it.
  // When the message's size is known and at most 8 times what has come (so memory still follows
  // the bytes received), they go with every piece so far into the message's own buffer, and so
  // does each later piece: every byte is copied once, however the chunks share buffers. Otherwise
  // they are copied into one array, and copied again by the join.
  #settle(force = false): void {
    const buffer = this.#buffer;
    if (buffer === undefined) return;
    if (force || this.#bufferKept * 8 < buffer.byteLength) {
      if (this.#targetFits()) this.#toTarget();
      else {
        const views = this.#pieces.splice(this.#bufferFirst);
        this.#pieces.push(_copyInto(views, new Uint8Array(_byteLength(views))));
      }
    }
    this.#buffer = undefined;
    this.#bufferKept = 0;
  }

  // Whether the message's size is known and at most 8 times what has come: its own buffer may be
  // made now, and memory still follows the bytes received.
  #targetFits(): boolean {
    return this.#total >= 0 && this.#total <= 8 * this.#size;
  }

  // Moves the pieces so far into the message's own buffer, which takes every later piece.
  #toTarget(): void {
    this.#flushTail();
    const target = this.#target = this.#allocate(this.#total);
    _copyInto(this.#pieces, target);
    this.#targetLength = _byteLength(this.#pieces);
    this.#pieces = [];
    this.#buffer = undefined;
    this.#bufferKept = 0;
  }

  #flushTail(): void {
    if (this.#tailLength === 0) return;
    this.#pieces.push(this.#tail.subarray(0, this.#tailLength));
    this.#tail = this.#tail.subarray(this.#tailLength);
    this.#tailLength = 0;
  }

  // The message from its pieces: its own buffer if it has one, the one piece, one view over
  // pieces that lie back to back in one buffer (a frame spanning chunks that are views into one
  // large read: nothing to copy; never when the last piece is in memory its caller reuses), or
  // else a copy of them all.
  #join(): Uint8Array {
    if (this.#target !== undefined) return this.#target;
    this.#flushTail();
    const pieces = this.#pieces;
    if (pieces.length === 1) return pieces[0];
    return (this.#reused ? undefined : _adjacent(pieces, this.#size)) ?? _copyInto(pieces, this.#allocate(this.#size));
  }

  #piece(data: Uint8Array, last: boolean): MessagePart | ProtocolError {
    const binary = this.#opcode === 0x2;
    if (!binary) {
      try {
        this.#streaming().decode(data, { stream: !last });
      } catch {
        return this.#fail();
      }
    }
    const first = !this.#started;
    this.#started = true;
    this.#size += data.length;
    if (last) this.#reset();
    return { binary, data, first, last };
  }

  #streaming(): TextDecoder {
    return this.#utf8 ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  }

  #fail(): ProtocolError {
    this.#failed = true;
    this.#reset();
    return new ProtocolError("Cannot decode message: text is not valid UTF-8", 1007);
  }

  #reset(): void {
    this.#opcode = -1;
    this.#started = false;
    this.#size = 0;
    this.#fragments = 0;
    this.#text = "";
    this.#pieces = [];
    this.#tail = EMPTY;
    this.#tailLength = 0;
    this.#buffer = undefined;
    this.#bufferKept = 0;
    this.#total = -1;
    this.#target = undefined;
    this.#targetLength = 0;
  }
}

// One view over `pieces` when each starts where the one before ends, in the same buffer (they
// were kept as views, so that memory is not written again); otherwise undefined.
function _adjacent(pieces: Uint8Array[], size: number): Uint8Array | undefined {
  const first = pieces[0];
  const buffer = first.buffer;
  let end = first.byteOffset + first.byteLength;
  for (let i = 1; i < pieces.length; i++) {
    const piece = pieces[i];
    if (piece.buffer !== buffer || piece.byteOffset !== end) return undefined;
    end += piece.byteLength;
  }
  return new Uint8Array(buffer, first.byteOffset, size);
}
