import type { BufferSourceLike } from "../core/web_types.ts";
/**
 * Any pair of byte streams that carries a connection: a TCP socket's two sides, a TLS stream,
 * an HTTP/2 stream, a tunnel, or an in-memory pipe in a test.
 */
export interface ByteDuplex {
  /** Bytes from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  writable: WritableStream<Uint8Array>;
}

/** A received message: `string` for text, `Uint8Array` for binary. */
export type WebSocketMessage = string | Uint8Array;

/** A message with options for this one message. */
export interface OutgoingMessage {
  /** The message: `string` for text, a `BufferSourceLike` for binary. */
  data: string | BufferSourceLike;
  /** With permessage-deflate negotiated, `false` sends this message uncompressed. @default {true} */
  compress?: boolean;
}

/**
 * What the writable takes: text, binary, a stream of bytes sent as one fragmented message, or
 * an {@linkcode OutgoingMessage} with per-message options.
 */
export type WebSocketSendable = string | BufferSourceLike | ReadableStream<Uint8Array> | OutgoingMessage;

/** @internal Whether a written chunk is an {@linkcode OutgoingMessage} (data with options). */
export function _isOutgoingMessage(chunk: unknown): chunk is OutgoingMessage {
  return typeof chunk === "object" && chunk !== null && !ArrayBuffer.isView(chunk) && !(chunk instanceof ArrayBuffer) &&
    "data" in chunk;
}
