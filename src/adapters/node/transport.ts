// A node:net socket as a _Transport: data events go straight to the Session, writes are corked
// until the loop's check phase (one writev a socket a turn), and backpressure is pause/resume
// and drain.
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

// The sockets corked in this turn of the event loop, uncorked together in its check phase
// (setImmediate), once every socket read in this poll phase has been answered. The replies go
// out as one burst: the peers (a proxy on the same host, a load generator) are woken once for
// many replies, not once each, and a socket written twice in a turn makes one writev.
let corked: _SocketTransport[] = [];
// Bytes written to corked sockets this turn. Past _HOLD_LIMIT they go out at once, so a turn
// that answers many large messages does not hold them all (and their cache lines) to its end.
let held = 0;
const _HOLD_LIMIT = 256 * 1024;
// Node's setImmediate (Deno and Bun have it too), from the global: the package imports no
// module of a runtime's at the top level, so bundles for any platform resolve.
const { setImmediate } = globalThis as unknown as { setImmediate(callback: () => void): unknown };
function uncorkAll(): void {
  const due = corked;
  corked = [];
  held = 0;
  for (const transport of due) transport._uncork();
}
// Counts bytes just written to a corked socket; past the turn's limit, everything held goes out.
function heldMore(bytes: number): void {
  if ((held += bytes) > _HOLD_LIMIT) uncorkAll();
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
    this.cork();
    this.#cutOpen();
    let bytes = 0;
    for (const chunk of chunks) {
      socket.write(chunk);
      bytes += chunk.byteLength;
    }
    heldMore(bytes);
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

  // Node's own cork: what is written meanwhile goes out in one writev in this turn's check
  // phase, after every callback (and its microtasks) of the poll phase has run.
  cork(): void {
    if (this.#corked || this.#socket.destroyed) return;
    this.#corked = true;
    this.#socket.cork();
    if (corked.push(this) === 1) setImmediate(uncorkAll);
  }

  hold(chunk: Uint8Array): boolean {
    const socket = this.#socket;
    if (socket.destroyed) return true;
    this.cork();
    this.#cutOpen();
    const more = socket.write(chunk);
    heldMore(chunk.byteLength);
    return more;
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

  /** @internal The check phase after cork() (or the turn's limit): writes what was held. */
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
