// Drives one Session over a byte duplex: the glue every byte-level path shares. Not exported
// from mod.ts; WebSocketStream is its public face.
import { Session } from "../core/session.ts";
import type { SessionEvent, SessionOptions } from "../core/session_types.ts";
import { WebSocketError } from "../core/websocket_error.ts";
import type { ByteDuplex, WebSocketMessage, WebSocketSendable } from "./types.ts";

/** What a finished connection reports: the WHATWG `closed` value. */
export interface CloseResult {
  closeCode: number;
  reason: string;
}

const now = () => performance.now();

/** A message as a stream of its pieces, with its type. */
class _MessageStream extends ReadableStream<Uint8Array> {
  binary = false;
}

/**
 * A Session over a duplex, after the opening handshake. Reads are pulled: when the readable's
 * queue is full, the duplex is not read (so a slow consumer holds the peer back through TCP);
 * writes resolve when the duplex's writer is ready again.
 */
export class _Connection {
  readonly readable: ReadableStream<WebSocketMessage>;
  readonly writable: WritableStream<WebSocketSendable>;
  readonly closed: Promise<CloseResult>;
  readonly session: Session;

  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #readController!: ReadableStreamDefaultController<WebSocketMessage>;
  #writeController!: WritableStreamDefaultController;
  #resolveClosed!: (result: CloseResult) => void;
  #rejectClosed!: (error: WebSocketError) => void;
  #wantRead: (() => void) | undefined;
  #piece: ReadableStreamDefaultController<Uint8Array> | undefined;
  #pieceWanted: (() => void) | undefined;
  #pieceCancelled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #written = 0;
  #sent = 0;
  #closeRequest: { code?: number; reason: string } | undefined;
  #transportDone = false;
  #readableDone = false;
  #final: { type: "closed"; code: number; reason: string; wasClean: boolean; error?: Error } | undefined;
  #pings = new Map<number, { resolve: (rtt: number) => void; reject: (error: Error) => void }>();
  #paused = false;

  constructor(duplex: ByteDuplex, options: Omit<SessionOptions, "now">, leftover?: Uint8Array) {
    this.session = new Session({ ...options, now: now() });
    this.session.open(now());
    this.#reader = duplex.readable.getReader();
    this.#writer = duplex.writable.getWriter();
    this.closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    this.closed.catch(() => {});
    // At most one message stream waits unread; whole messages queue up to about 1 MiB or 1024 of them.
    const highWaterMark = options.streamMessages ? 1 : 1024;
    this.readable = new ReadableStream<WebSocketMessage>({
      start: (controller) => {
        this.#readController = controller;
      },
      pull: () => {
        this.#wantRead?.();
      },
      cancel: (reason) => {
        this.#readableDone = true;
        this.#closeWith(reason);
      },
    }, { highWaterMark, size: (m) => 1 + (typeof m === "string" ? m.length : "byteLength" in m ? m.byteLength : 0) / 1024 });
    this.writable = new WritableStream<WebSocketSendable>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.close(1000, ""),
      abort: (reason) => this.#closeWith(reason),
    }, {
      highWaterMark: 1,
      size: () => {
        this.#written++;
        return 1;
      },
    });
    if (leftover && leftover.length > 0) this.session.receive(leftover, now());
    this.#process();
    void this.#readLoop();
  }

  /** Sends a ping; resolves with the round-trip time in milliseconds. */
  ping(): Promise<number> {
    const id = this.session.ping(now());
    const rtt = new Promise<number>((resolve, reject) => this.#pings.set(id, { resolve, reject }));
    this.#process();
    return rtt;
  }

  /** Starts the closing handshake once every message written so far has gone out. */
  close(code: number | undefined, reason: string): void {
    if (this.#closeRequest) return;
    this.#closeRequest = { code, reason };
    this.#maybeClose();
  }

  // readable.cancel(reason) and writable.abort(reason) close with a WebSocketError's code.
  #closeWith(reason: unknown): void {
    if (reason instanceof WebSocketError && reason.closeCode !== null) this.close(reason.closeCode, reason.reason);
    else this.close(1000, "");
  }

  #maybeClose(): void {
    const request = this.#closeRequest;
    if (!request || this.#sent < this.#written) return;
    const state = this.session.state;
    if (state === "open" || state === "closingRemote") {
      this.session.close(now(), request.code, request.reason);
      this.#process();
    }
  }

  async #write(chunk: WebSocketSendable): Promise<void> {
    try {
      if (chunk instanceof ReadableStream) {
        await this.#writeStream(chunk);
      } else {
        this.session.send(chunk);
        this.#process();
        await this.#writer.ready;
      }
    } finally {
      this.#sent++;
      this.#maybeClose();
    }
  }

  // Sends a ReadableStream of bytes as one fragmented binary message, piece by piece.
  async #writeStream(stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.getReader();
    let last: Uint8Array | undefined;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (last) {
        this.session.sendPiece(last, { binary: true, last: false });
        this.#process();
        await this.#writer.ready;
      }
      last = value;
    }
    this.session.sendPiece(last ?? new Uint8Array(0), { binary: true, last: true });
    this.#process();
    await this.#writer.ready;
  }

  async #readLoop(): Promise<void> {
    try {
      while (!this.#transportDone) {
        await this.#roomToRead();
        if (this.#transportDone) break;
        const { value, done } = await this.#reader.read();
        if (done) break;
        this.session.receive(value, now());
        this.#process();
      }
    } catch {
      // A transport read error ends the connection like an end of stream.
    }
    this.#transportEnded();
  }

  #transportEnded(): void {
    if (!this.#transportDone) {
      this.#transportDone = true;
      this.session.transportClosed(now());
      this.#process();
    }
    this.#settle();
  }

  // Waits while the consumer holds back: a full readable queue, or an unread message piece.
  // While closing, reads go on, so the peer's close frame is seen.
  async #roomToRead(): Promise<void> {
    for (;;) {
      if (this.session.state !== "open") return;
      if (this.#piece && !this.#pieceCancelled && (this.#piece.desiredSize ?? 1) <= 0) {
        this.#paused = true;
        await new Promise<void>((resolve) => (this.#pieceWanted = resolve));
        this.#paused = false;
        continue;
      }
      if (this.#piece || this.#readableDone || (this.#readController.desiredSize ?? 1) > 0) return;
      this.#paused = true;
      await new Promise<void>((resolve) => (this.#wantRead = resolve));
      this.#paused = false;
      this.#wantRead = undefined;
    }
  }

  // Writes the session's output, handles its events and re-arms the timer.
  #process(): void {
    const session = this.session;
    const output = session.takeOutput();
    for (let i = 0; i < output.length; i++) this.#writer.write(output[i]).catch(() => this.#transportFailed());
    for (let event = session.nextEvent(); event; event = session.nextEvent()) this.#handle(event);
    this.#arm();
  }

  #handle(event: SessionEvent): void {
    switch (event.type) {
      case "message":
        if (!this.#readableDone) this.#readController.enqueue(event.data);
        return;
      case "piece":
        return this.#handlePiece(event);
      case "pong":
        if (event.id !== undefined) {
          for (const [id, ping] of this.#pings) {
            if (id <= event.id) {
              ping.resolve(event.rtt!);
              this.#pings.delete(id);
            }
          }
        }
        return;
      case "closing":
        return;
      case "closed":
        this.#final = event;
        return this.#endStreams(event);
      case "closeTransport":
        this.#closeTransport();
        return;
    }
  }

  #handlePiece(event: Extract<SessionEvent, { type: "piece" }>): void {
    if (event.first) {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new _MessageStream({
        start: (c) => void (controller = c),
        pull: () => this.#pieceWanted?.(),
        cancel: () => {
          this.#pieceCancelled = true;
          this.#pieceWanted?.();
        },
      }, { highWaterMark: 65536, size: (chunk) => chunk.byteLength });
      stream.binary = event.binary;
      this.#piece = controller;
      this.#pieceCancelled = false;
      if (!this.#readableDone) this.#readController.enqueue(stream as unknown as WebSocketMessage);
    }
    const controller = this.#piece!;
    if (!this.#pieceCancelled && event.data.length > 0) controller.enqueue(event.data.slice());
    if (event.last) {
      if (!this.#pieceCancelled) controller.close();
      this.#piece = undefined;
    }
  }

  #endStreams(event: { code: number; reason: string; wasClean: boolean; error?: Error }): void {
    const error = event.wasClean
      ? undefined
      : WebSocketError._from(event.error?.message ?? "Cannot keep connection: it closed without a closing handshake", event.code, event.reason);
    try {
      if (error) this.#readController.error(error);
      else this.#readController.close();
    } catch { /* already closed or errored */ }
    if (this.#piece && !this.#pieceCancelled) {
      try {
        this.#piece.error(error ?? WebSocketError._from("Cannot read message: the connection closed inside it", event.code, event.reason));
      } catch { /* already done */ }
    }
    this.#writeController.error(error ?? WebSocketError._from("Cannot send: the connection is closed", event.code, event.reason));
    this.#wantRead?.();
    this.#pieceWanted?.();
    for (const ping of this.#pings.values()) ping.reject(WebSocketError._from("Cannot ping: the connection closed", event.code, event.reason));
    this.#pings.clear();
    if (this.#transportDone) this.#settle();
  }

  // Closes the transport once the output written so far has gone out.
  #closeTransport(): void {
    if (this.#transportDone) return this.#settle();
    this.#writer.close().catch(() => {}).finally(() => {
      this.#reader.cancel().catch(() => {});
      this.#transportEnded();
    });
  }

  #transportFailed(): void {
    if (!this.#transportDone) {
      this.#reader.cancel().catch(() => {});
      this.#transportEnded();
    }
  }

  // `closed` settles once the protocol is closed and the transport has ended.
  #settle(): void {
    const final = this.#final;
    if (!final) return;
    clearTimeout(this.#timer);
    this.#timerAt = Infinity;
    if (final.wasClean) this.#resolveClosed({ closeCode: final.code, reason: final.reason });
    else this.#rejectClosed(WebSocketError._from(final.error?.message ?? "Cannot keep connection: it closed without a closing handshake", final.code, final.reason));
  }

  #arm(): void {
    const deadline = this.session.nextDeadline();
    if (deadline === undefined) {
      clearTimeout(this.#timer);
      this.#timerAt = Infinity;
      return;
    }
    if (deadline === this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => {
      this.#timerAt = Infinity;
      // A consumer holding back the readable keeps the peer's data unread in our buffers: that
      // peer is alive, and its pong may be among the unread bytes.
      if (this.#paused) this.session.keepAlive(now());
      else this.session.handleTimeout(now());
      this.#process();
    }, Math.max(0, deadline - now()));
    // The transport keeps a process alive, not the heartbeat (Node and Bun timers have unref).
    (this.#timer as { unref?: () => void }).unref?.();
  }
}
