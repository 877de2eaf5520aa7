// Received messages as streams of their pieces (the `streamMessages` option).
import type { SessionEvent } from "../core/session_types.ts";

type Piece = Extract<SessionEvent, { type: "piece" }>;

/** A message as a stream of its pieces, with its type. */
class _MessageStream extends ReadableStream<Uint8Array> {
  binary = false;
}

/**
 * @internal Turns `piece` events into one `ReadableStream<Uint8Array>` per message, queueing at
 * most 64 KiB of a message before it reports itself full (so the connection pauses reading).
 */
export class _PieceReader {
  readonly #flow: () => void;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #cancelled = false;

  /** @param flow Called when the consumer reads or cancels, so reading can resume. */
  constructor(flow: () => void) {
    this.#flow = flow;
  }

  /** Whether the current message's stream has a full queue. */
  full(): boolean {
    return this.#controller !== undefined && !this.#cancelled && (this.#controller.desiredSize ?? 1) <= 0;
  }

  /** Takes a piece; returns the new message's stream when the piece starts a message. */
  push(piece: Piece): ReadableStream<Uint8Array> | undefined {
    let stream: _MessageStream | undefined;
    if (piece.first) {
      stream = new _MessageStream({
        start: (controller) => void (this.#controller = controller),
        pull: () => this.#flow(),
        cancel: () => {
          this.#cancelled = true;
          this.#flow();
        },
      }, { highWaterMark: 65536, size: (chunk) => chunk.byteLength });
      stream.binary = piece.binary;
      this.#cancelled = false;
    }
    const controller = this.#controller!;
    // Copied: the piece is a view into a transport chunk the stream may outlive.
    if (!this.#cancelled && piece.data.length > 0) controller.enqueue(piece.data.slice());
    if (piece.last) {
      if (!this.#cancelled) controller.close();
      this.#controller = undefined;
    }
    return stream;
  }

  /** Errors the message being received, if any: the connection ended inside it. */
  end(error: Error): void {
    if (!this.#controller || this.#cancelled) return;
    try {
      this.#controller.error(error);
    } catch { /* already done */ }
    this.#controller = undefined;
  }
}
