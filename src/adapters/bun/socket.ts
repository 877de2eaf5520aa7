// A Bun TCP socket (Bun.listen / Bun.connect) as a ByteDuplex, with backpressure both ways.
import type { ByteDuplex } from "../../streams/types.ts";
import type { _BunSocket, _BunSocketHandlers } from "./types.ts";

// Bytes the readable holds before the socket is paused.
const READ_HIGH_WATER = 64 * 1024;

/**
 * @internal One socket's duplex. Reads: Bun calls `data` with a fresh Buffer each time (its
 * `ArrayBuffer` is its own and never reused, checked on Bun 1.4), so chunks are handed on
 * without a copy; when the readable's queue is full the socket is paused (`socket.pause()`,
 * so TCP holds the peer back) and resumed on pull. Writes: `socket.write` returns the bytes
 * the kernel took and drops the rest, so the rest waits for `drain` and a write resolves only
 * once all its bytes are written.
 */
export class _SocketDuplex implements ByteDuplex {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly #socket: _BunSocket<_SocketDuplex>;
  #reads!: ReadableStreamDefaultController<Uint8Array>;
  #paused = false;
  #ended = false;
  #pending: { rest: Uint8Array; resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(socket: _BunSocket<_SocketDuplex>) {
    this.#socket = socket;
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => void (this.#reads = controller),
      pull: () => {
        if (!this.#paused) return;
        this.#paused = false;
        socket.resume();
      },
      cancel: () => {
        this.#ended = true;
        socket.end();
      },
    }, { highWaterMark: READ_HIGH_WATER, size: (chunk) => chunk.byteLength });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.#write(chunk),
      close: () => socket.end(),
      abort: () => socket.terminate(),
    });
  }

  #write(chunk: Uint8Array): Promise<void> | void {
    const written = this.#socket.write(chunk);
    if (written < 0) throw new Error("Cannot write: the socket is closed");
    if (written === chunk.byteLength) return;
    return new Promise((resolve, reject) => (this.#pending = { rest: chunk.subarray(written), resolve, reject }));
  }

  /** @internal */
  _data(chunk: Uint8Array): void {
    if (this.#ended) return;
    this.#reads.enqueue(chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((this.#reads.desiredSize ?? 1) <= 0 && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /** @internal */
  _drain(): void {
    const pending = this.#pending;
    if (!pending) return;
    const written = this.#socket.write(pending.rest);
    if (written < 0) return this._closed(new Error("Cannot write: the socket is closed"));
    if (written < pending.rest.byteLength) return void (pending.rest = pending.rest.subarray(written));
    this.#pending = undefined;
    pending.resolve();
  }

  /** @internal The peer's end of stream. */
  _end(): void {
    if (!this.#ended) {
      this.#ended = true;
      try {
        this.#reads.close();
      } catch { /* already closed */ }
    }
  }

  /** @internal The socket closed; with an error (a failed TLS handshake, say), reads fail with it. */
  _closed(error?: Error): void {
    if (error && !this.#ended) {
      this.#ended = true;
      this.#reads.error(error);
    }
    this._end();
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(error ?? new Error("Cannot write: the socket closed"));
  }
}

/** @internal Socket handlers that route Bun's events to each socket's `_SocketDuplex`. */
export function _socketHandlers(onOpen?: (socket: _BunSocket<_SocketDuplex>) => void): _BunSocketHandlers<_SocketDuplex> {
  return {
    open(socket) {
      socket.data = new _SocketDuplex(socket);
      try {
        socket.setNoDelay?.(true);
      } catch { /* Bun's TLS sockets throw here */ }
      onOpen?.(socket);
    },
    data: (socket, data) => socket.data._data(data),
    drain: (socket) => socket.data._drain(),
    end: (socket) => socket.data._end(),
    close: (socket, error) => socket.data?._closed(error),
    error: (socket, error) => socket.data?._closed(error),
    handshake: (socket, success, error) => {
      if (!success) socket.data?._closed(error ?? new Error("Cannot connect: the TLS handshake failed"));
    },
  };
}
