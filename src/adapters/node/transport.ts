// A node:net socket as a _Transport: data events go straight to the Session, a flush is one
// corked write (a single writev), and backpressure is pause/resume and drain.
import type { Socket } from "node:net";
import type { _Transport } from "../../streams/transport.ts";

const kTransport = Symbol("wsflow.transport");
type OwnedSocket = Socket & { [kTransport]?: _SocketTransport };

// The socket's end, close and error listeners are these module-level functions (the emitter
// is `this`), not closures per connection: an idle connection holds none of its own.
function socketEnded(this: OwnedSocket): void {
  this[kTransport]?._ended();
}

/** @internal Wraps a connected node:net (or node:tls) socket. */
export function _socketTransport(socket: Socket): _Transport {
  return new _SocketTransport(socket);
}

class _SocketTransport implements _Transport {
  readonly #socket: Socket;
  #onEnd: (() => void) | undefined;
  #ended = false;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  start(onData: (chunk: Uint8Array) => void, onEnd: () => void): void {
    const socket = this.#socket as OwnedSocket;
    this.#onEnd = onEnd;
    socket[kTransport] = this;
    socket.on("data", onData);
    socket.on("end", socketEnded);
    socket.on("close", socketEnded);
    socket.on("error", socketEnded);
  }

  /** @internal The peer ended, or the socket closed or failed: reported once. */
  _ended(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd!();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  write(chunks: Uint8Array[]): boolean {
    const socket = this.#socket;
    if (socket.destroyed) return true;
    if (chunks.length === 1) return socket.write(chunks[0]);
    socket.cork();
    for (const chunk of chunks) socket.write(chunk);
    socket.uncork();
    return !socket.writableNeedDrain;
  }

  drained(): Promise<void> {
    const socket = this.#socket;
    if (!socket.writableNeedDrain || socket.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        socket.off("drain", done);
        socket.off("close", done);
        resolve();
      };
      socket.on("drain", done);
      socket.on("close", done);
    });
  }

  buffered(): number {
    return this.#socket.writableLength;
  }

  end(): Promise<void> {
    const socket = this.#socket;
    return new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      socket.once("close", () => resolve());
      socket.end(() => socket.destroy());
    });
  }

  abort(): void {
    this.#socket.destroy();
  }
}
