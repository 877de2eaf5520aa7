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

/** What the writable takes: text, binary, or a stream of bytes sent as one fragmented message. */
export type WebSocketSendable = string | BufferSource | ArrayBufferView | ReadableStream<Uint8Array>;
