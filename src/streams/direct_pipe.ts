// `readable.pipeTo(writable)` between wsflow connections without the streams in between: the
// echo, proxy and fan-in idiom. Each message goes from the connection that received it straight
// to the connection that sends it, while the readable's queue is empty and the writable is
// under its high-water mark; otherwise the pipe reads and waits as `pipeTo` does, so
// backpressure, order, locks and how the pipe ends stay those of the WHATWG algorithm.
import type { WebSocketMessage } from "./types.ts";

/** @internal A connection's writable's sender: sends one message now; a promise when the sender must wait before the next one. */
export interface _DirectTarget {
  /** `text`: the message is a text message's UTF-8 bytes (only from a connection to its own surface). */
  _directSend(message: WebSocketMessage, text?: boolean): Promise<void> | undefined;
  /**
   * The pipe that holds the writable's writer from now (`undefined`: none). The target calls its
   * `_destinationEnded` when the writable closes, aborts or errors, and at once if it already has.
   */
  _pipedFrom(pipe: _DirectPipe | undefined): void;
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
 * @internal Where a connection's received messages go while a direct pipe takes them straight
 * through. A plain object of its own, which the connection keeps, so that handing a message on
 * touches no stream: on Node 20 every web stream has a hidden class of its own (Node 24 fixed
 * that), so each property looked up on one is a megamorphic lookup, shared with every other
 * connection's.
 */
export class _Route {
  /** @internal The pipe that takes received messages straight through, while it does. */
  _pipe: _DirectPipe | undefined = undefined;

  /**
   * @internal Hands a received message to the pipe's destination, if a pipe takes it now:
   * `true` means it went there, `false` that the connection enqueues it as usual. `text`: a
   * text message's UTF-8 bytes, for a destination that is the connection's own (see `_routesTo`).
   */
  _deliver(message: WebSocketMessage, text?: boolean): boolean {
    const pipe = this._pipe;
    if (pipe === undefined) return false;
    const wait = _trySend(pipe._target, message, text);
    if (wait !== undefined) {
      // The destination must drain (or failed): the next messages queue until it has.
      this._pipe = undefined;
      pipe._blocked(wait);
    }
    return true;
  }

  /**
   * @internal Whether a received message goes straight to `target` now (an echo: a message that
   * is a view into memory its transport reuses is then sent before that, so it needs no copy).
   */
  _routesTo(target: _DirectTarget): boolean {
    return this._pipe?._target === target;
  }
}

/**
 * @internal A connection's readable. The connection hands each received message to its
 * `_route` (see {@linkcode _Route}), and enqueues it when no pipe takes it.
 */
export class _MessageReadable extends ReadableStream<WebSocketMessage> {
  /** @internal The controller, for the connection that feeds this readable. */
  readonly _controller: ReadableStreamDefaultController<WebSocketMessage>;
  /** @internal Where received messages go straight through while a pipe takes them: the connection hands each one to its `_deliver()`. */
  readonly _route: _Route = new _Route();
  readonly #highWaterMark: number;
  // The pipe that holds this readable's reader, told when the connection ends the readable.
  #pipe: _DirectPipe | undefined;
  #ended = false;

  constructor(source: _MessageSource, highWaterMark: number, size: (message: WebSocketMessage) => number) {
    super(source, { highWaterMark, size });
    this._controller = source._controller;
    this.#highWaterMark = highWaterMark;
  }

  /**
   * @internal The pipe that holds this readable's reader from now (`undefined`: none). Its
   * `_sourceEnded` is called when the readable closes or errors, and at once if it already has:
   * the pipe holds no reaction to `closed`.
   */
  _pipedBy(pipe: _DirectPipe | undefined): void {
    this.#pipe = pipe;
    if (pipe && this.#ended) pipe._sourceEnded();
  }

  /** @internal The connection closed or errored this readable (its only ends while a pipe holds the reader). */
  _ended(): void {
    this.#ended = true;
    this.#pipe?._sourceEnded();
  }

  /** @internal Whether messages wait in the queue. */
  _queued(): boolean {
    const size = this._controller.desiredSize;
    return size !== null && size !== this.#highWaterMark;
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
    const target = targets.get(destination);
    if (target === undefined || this.locked || destination.locked || (options && (options.preventAbort || options.preventCancel || options.preventClose || options.signal))) {
      return super.pipeTo(destination, options);
    }
    return new Promise<void>((resolve, reject) => new _DirectPipe(this, destination, target, resolve, reject));
  }
}

/**
 * @internal A direct pipe: event-driven, so an idle pipe holds this object, not a suspended
 * async function nor reactions to its locks' `closed` (both sides are wsflow's, and tell it when
 * they end). One step is pending at a time: the destination's `ready`, a read of the queue, a
 * wait for the destination to drain, or the route (received messages go straight to `_target`
 * until it must drain or either side ends).
 */
export class _DirectPipe {
  readonly _target: _DirectTarget;
  readonly #source: _MessageReadable;
  readonly #route: _Route;
  readonly #reader: ReadableStreamDefaultReader<WebSocketMessage>;
  readonly #writer: WritableStreamDefaultWriter<WebSocketMessage>;
  readonly #resolve: () => void;
  readonly #reject: (error: unknown) => void;
  #ended = false;
  #failed: { error: unknown } | undefined; // the destination's failure
  #routed = false;

  constructor(
    source: _MessageReadable,
    destination: WritableStream<WebSocketMessage>,
    target: _DirectTarget,
    resolve: () => void,
    reject: (error: unknown) => void,
  ) {
    this.#source = source;
    this.#route = source._route;
    this._target = target;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#reader = source.getReader();
    const writer = this.#writer = destination.getWriter();
    source._pipedBy(this);
    target._pipedFrom(this);
    // A write the destination was given before the pipe goes out first.
    this.#after(writer.ready);
  }

  /** @internal The source closed or errored (told by the readable): taken in a microtask, as `reader.closed` would be. */
  _sourceEnded(): void {
    queueMicrotask(() => {
      this.#ended = true;
      this.#stop();
    });
  }

  /** @internal The destination ended with `error` (told by its connection): taken in a microtask, as `writer.closed` would be. */
  _destinationEnded(error: unknown): void {
    queueMicrotask(() => {
      this.#failed ??= { error };
      this.#stop();
    });
  }

  /** @internal The destination must drain (or failed) after a message the route sent. */
  _blocked(wait: Promise<void>): void {
    this.#routed = false;
    this.#after(wait);
  }

  // Goes on once `wait` settles; its rejection is the destination's failure.
  #after(wait: Promise<void>): void {
    wait.then(() => this.#next(), (error: unknown) => this.#destinationFailed(error));
  }

  // Either side ended: a route in place gives way to the next step.
  #stop(): void {
    if (!this.#routed) return;
    this.#routed = false;
    this.#route._pipe = undefined;
    this.#next();
  }

  // The queue first (messages that came before the pipe, or while it waited), in order; then
  // straight through.
  #next(): void {
    const failed = this.#failed;
    if (failed === undefined && (this.#ended || this.#source._queued())) {
      this.#reader.read().then((result) => this.#read(result), (error: unknown) => this.#fail(error));
    } else if (failed !== undefined) {
      this.#fail(failed.error);
    } else {
      this.#routed = true;
      this.#route._pipe = this;
    }
  }

  #read(result: ReadableStreamReadResult<WebSocketMessage>): void {
    if (result.done) {
      // Closing propagates forward, and an errored destination's error back (the standard's
      // WritableStreamDefaultWriterCloseWithErrorPropagation), not close()'s TypeError.
      const writer = this.#writer;
      writer.close().catch(() => writer.closed).then(() => this.#finish(), (error: unknown) => this.#fail(error));
      return;
    }
    const wait = _trySend(this._target, result.value);
    if (wait === undefined) this.#next();
    else this.#after(wait);
  }

  #destinationFailed(error: unknown): void {
    this.#failed ??= { error };
    this.#fail(error);
  }

  // Forwards a failure of the source to the destination, and back from the destination.
  #fail(error: unknown): void {
    const done = this.#failed?.error === error ? this.#reader.cancel(error) : this.#writer.abort(error);
    const end = () => {
      this.#release();
      this.#reject(error);
    };
    done.then(end, end);
  }

  #finish(): void {
    this.#release();
    this.#resolve();
  }

  #release(): void {
    this.#source._pipedBy(undefined);
    this._target._pipedFrom(undefined);
    this.#reader.releaseLock();
    this.#writer.releaseLock();
  }
}

// A send that threw is a failed send: as a rejected promise, so both lanes handle it alike.
function _trySend(target: _DirectTarget, message: WebSocketMessage, text?: boolean): Promise<void> | undefined {
  try {
    return target._directSend(message, text);
  } catch (error) {
    return Promise.reject(error);
  }
}
