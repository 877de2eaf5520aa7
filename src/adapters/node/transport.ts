// A node:net socket as a _Transport: data events go straight to the Session, a flush is one
// corked write (a single writev), and backpressure is pause/resume and drain.
import type { Socket } from "node:net";
import type { _RunPiece } from "../../streams/frame_run.ts";
import type { _Transport, _TransportSink } from "../../streams/transport.ts";

const kTransport = Symbol("wsflow.transport");
type OwnedSocket = Socket & { [kTransport]?: _SocketTransport };

// The socket's data, end, close and error listeners are these module-level functions (the
// emitter is `this`), not closures per connection: an idle connection holds none of its own.
function socketData(this: OwnedSocket, chunk: Uint8Array): void {
  this[kTransport]!._sink!._received(chunk);
}
function socketEnded(this: OwnedSocket): void {
  this[kTransport]?._ended();
}

// The sockets corked in this turn, uncorked on one tick for all of them.
let corked: _SocketTransport[] = [];
function uncorkAll(): void {
  const due = corked;
  corked = [];
  for (const transport of due) transport._uncork();
}

/** @internal Wraps a connected node:net (or node:tls) socket. */
export function _socketTransport(socket: Socket): _Transport {
  return new _SocketTransport(socket);
}

class _SocketTransport implements _Transport {
  readonly #socket: Socket;
  /** @internal Where the socket's data goes, once started. */
  _sink: _TransportSink | undefined;
  #ended = false;
  #corked = false;
  // A run's piece held since cork(), written at uncork, or before anything written after it.
  #open: _RunPiece | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  start(sink: _TransportSink): void {
    const socket = this.#socket as OwnedSocket;
    this._sink = sink;
    socket[kTransport] = this;
    socket.on("data", socketData);
    socket.on("end", socketEnded);
    socket.on("close", socketEnded);
    socket.on("error", socketEnded);
  }

  /** @internal The peer ended, or the socket closed or failed: reported once. */
  _ended(): void {
    if (this.#ended) return;
    this.#ended = true;
    this._sink!._transportEnded();
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
    this.#cutOpen();
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

  // Node's own cork: what is written meanwhile goes out in one writev on the next tick, which
  // comes once the current microtasks (a for await over messages, say) have run.
  cork(): void {
    if (this.#corked || this.#socket.destroyed) return;
    this.#corked = true;
    this.#socket.cork();
    if (corked.push(this) === 1) (globalThis as unknown as { process: { nextTick(f: () => void): void } }).process.nextTick(uncorkAll);
  }

  hold(chunk: Uint8Array): boolean {
    const socket = this.#socket;
    if (socket.destroyed) return true;
    this.cork();
    this.#cutOpen();
    return socket.write(chunk);
  }

  holdRun(piece: _RunPiece): boolean {
    const socket = this.#socket;
    if (socket.destroyed) return true;
    this.cork();
    this.#cutOpen();
    this.#open = piece;
    return !socket.writableNeedDrain;
  }

  // Something is written after the held piece (if any): the piece ends here and goes first.
  #cutOpen(): void {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    open.cut();
    this.#socket.write(open.take());
  }

  /** @internal The tick after cork(): writes what was held. */
  _uncork(): void {
    const open = this.#open;
    if (open !== undefined) {
      this.#open = undefined;
      if (!this.#socket.destroyed) this.#socket.write(open.take());
    }
    this.#corked = false;
    this.#socket.uncork();
  }

  buffered(): number {
    return this.#socket.writableLength + (this.#open?.byteLength ?? 0);
  }

  end(): Promise<void> {
    const socket = this.#socket;
    if (!socket.destroyed) this.#cutOpen();
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
