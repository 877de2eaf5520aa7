// `readable.pipeTo(writable)` between wsflow connections without the streams in between: the
// echo, proxy and fan-in idiom. Each message goes from the connection that received it straight
// to the connection that sends it, while the readable's queue is empty and the writable is
// under its high-water mark; otherwise the pipe reads and waits as `pipeTo` does, so
// backpressure, order, locks and how the pipe ends stay those of the WHATWG algorithm.
import type { WebSocketMessage } from "./types.ts";

/** @internal A connection's writable's sender: sends one message now; a promise when the sender must wait before the next one. */
export interface _DirectTarget {
  _directSend(message: WebSocketMessage): Promise<void> | undefined;
}

const targets = new WeakMap<WritableStream, _DirectTarget>();

/** @internal Marks `writable` as a connection's writable that a piped readable may send to directly. */
export function _directTarget(writable: WritableStream, target: _DirectTarget): void {
  targets.set(writable, target);
}

/**
 * @internal A connection's readable's underlying source: `start` keeps the controller as
 * `_controller`, for the connection that feeds the readable.
 */
export interface _MessageSource extends UnderlyingDefaultSource<WebSocketMessage> {
  _controller: ReadableStreamDefaultController<WebSocketMessage>;
}

/**
 * @internal A connection's readable. The connection hands each received message to
 * `_deliver()`: `true` means it went straight to a pipe's destination, `false` that the
 * connection enqueues it as usual.
 */
export class _MessageReadable extends ReadableStream<WebSocketMessage> {
  /** @internal The controller, for the connection that feeds this readable. */
  readonly _controller: ReadableStreamDefaultController<WebSocketMessage>;
  readonly #highWaterMark: number;
  #route: _DirectTarget | undefined;
  #blocked: ((wait: { wait: Promise<void> }) => void) | undefined;

  constructor(source: _MessageSource, highWaterMark: number, size: (message: WebSocketMessage) => number) {
    super(source, { highWaterMark, size });
    this._controller = source._controller;
    this.#highWaterMark = highWaterMark;
  }

  /** @internal Hands a received message to the pipe's destination, if a pipe takes it now. */
  _deliver(message: WebSocketMessage): boolean {
    const send = this.#route;
    if (send === undefined) return false;
    const wait = _trySend(send, message);
    if (wait !== undefined) {
      // The destination must drain (or failed): the next messages queue until it has.
      this.#route = undefined;
      this.#blocked!({ wait });
    }
    return true;
  }

  /**
   * Pipes to `destination`, as `ReadableStream.prototype.pipeTo` does. To a wsflow connection's
   * writable with no options, each message skips both streams' queues whenever the readable's
   * queue is empty and the destination is under its high-water mark.
   *
   * @example
   * ```ts ignore
   * import { upgradeWebSocket } from "@wsflow/wsflow";
   * import { serve } from "@wsflow/wsflow/serve";
   *
   * await serve({ port: 8080 }, async (request) => {
   *   const { socket, response } = await upgradeWebSocket(request);
   *   if (socket) {
   *     const { readable, writable } = await socket.opened;
   *     readable.pipeTo(writable).catch(() => {}); // echo; the pipe rejects when the connection closes, even cleanly
   *   }
   *   return response;
   * });
   * ```
   */
  override pipeTo(destination: WritableStream<WebSocketMessage>, options?: StreamPipeOptions): Promise<void> {
    const send = targets.get(destination);
    if (send === undefined || this.locked || destination.locked || (options && (options.preventAbort || options.preventCancel || options.preventClose || options.signal))) {
      return super.pipeTo(destination, options);
    }
    return this.#pipeDirect(destination, send);
  }

  async #pipeDirect(destination: WritableStream<WebSocketMessage>, send: _DirectTarget): Promise<void> {
    const reader = this.getReader();
    const writer = destination.getWriter();
    let ended = false;
    let failed: { error: unknown } | undefined; // the destination's failure
    let wake: (() => void) | undefined;
    const stop = () => {
      this.#route = undefined;
      wake?.();
    };
    const destinationFailed = (error: unknown): never => {
      failed ??= { error };
      throw error;
    };
    // One reaction per lock, not a chain of derived promises: each idle pipe holds these two.
    const sourceEnded = () => {
      ended = true;
      stop();
    };
    const destinationEnded = (error: unknown) => {
      failed ??= { error };
      stop();
    };
    void reader.closed.then(sourceEnded, sourceEnded);
    void writer.closed.then(() => destinationEnded(new TypeError("Cannot pipe: the destination closed")), destinationEnded);
    try {
      // A write the destination was given before the pipe goes out first.
      await writer.ready.catch(destinationFailed);
      for (;;) {
        // The queue first (messages that came before the pipe, or while it waited), in order.
        while (failed === undefined && (ended || this.#queued())) {
          const { value, done } = await reader.read();
          // Closing propagates forward, and an errored destination's error back (the standard's
          // WritableStreamDefaultWriterCloseWithErrorPropagation), not close()'s TypeError.
          if (done) return await writer.close().catch(() => writer.closed);
          await _trySend(send, value)?.catch(destinationFailed);
        }
        if (failed !== undefined) throw failed.error;
        // Then straight through, until the destination must drain or either side ends.
        const blocked = await new Promise<{ wait: Promise<void> } | undefined>((resolve) => {
          wake = () => resolve(undefined);
          this.#blocked = resolve;
          this.#route = send;
        });
        wake = this.#blocked = undefined;
        if (blocked !== undefined) await blocked.wait.catch(destinationFailed);
      }
    } catch (error) {
      this.#route = undefined;
      // Forward a failure of the source to the destination, and back from the destination.
      if (failed?.error === error) await reader.cancel(error).catch(() => {});
      else await writer.abort(error).catch(() => {});
      throw error;
    } finally {
      reader.releaseLock();
      writer.releaseLock();
    }
  }

  #queued(): boolean {
    const size = this._controller.desiredSize;
    return size !== null && size !== this.#highWaterMark;
  }
}

// A send that threw is a failed send: as a rejected promise, so both lanes handle it alike.
function _trySend(target: _DirectTarget, message: WebSocketMessage): Promise<void> | undefined {
  try {
    return target._directSend(message);
  } catch (error) {
    return Promise.reject(error);
  }
}
