// The pieces of the WHATWG surface that every connection shares: the codec's and the
// message-level adapters' alike.
import { _unsendableCode } from "../core/close_code.ts";
import { WebSocketError } from "../core/websocket_error.ts";
import { _directTarget, _MessageReadable } from "./direct_pipe.ts";
import type { WebSocketMessage, WebSocketSendable } from "./types.ts";
import type { BufferSourceLike } from "../core/web_types.ts";

/**
 * @internal How much a queued received message weighs: one unit, plus one per KiB, so a queue of
 * 1,024 units holds about 1,024 small messages or about 1 MiB.
 */
export function _messageWeight(message: WebSocketMessage): number {
  if (typeof message === "string") return 1 + message.length / 1024;
  return "byteLength" in message ? 1 + message.byteLength / 1024 : 1;
}

/**
 * @internal The most bytes sending `data` adds to a socket's buffered amount: a string's UTF-8
 * form is at most 3 bytes per UTF-16 code unit.
 */
export function _bufferedBound(data: string | BufferSourceLike): number {
  return typeof data === "string" ? data.length * 3 : data.byteLength;
}

/**
 * @internal The close a `readable.cancel(reason)` or `writable.abort(reason)` asks for: a
 * `WebSocketError`'s code and reason, else 1000. A code no endpoint may send (1005 or 1006 of
 * another connection that ended, in a proxy) gives a close frame without a code.
 */
export function _closeFor(reason: unknown): [code: number | undefined, reason: string] {
  if (!(reason instanceof WebSocketError) || reason.closeCode === null) return [1000, ""];
  return _unsendableCode(reason.closeCode) ? [undefined, ""] : [reason.closeCode, reason.reason];
}

/**
 * @internal A connection's writable: `write` sends one message; closing it closes with 1000,
 * aborting it with the reason's code; `queued` is called as each write is queued, so a
 * `close()` can wait until everything written before it has gone out. A wsflow readable piped
 * into it sends through `write` directly.
 */
export function _messageWritable(
  write: (chunk: WebSocketSendable) => Promise<void> | undefined,
  close: (code: number | undefined, reason: string) => void,
  queued: () => void,
): { writable: WritableStream<WebSocketSendable>; controller: WritableStreamDefaultController } {
  let controller!: WritableStreamDefaultController;
  const writable = new WritableStream<WebSocketSendable>({
    start: (c) => void (controller = c),
    write,
    close: () => close(1000, ""),
    abort: (reason) => close(..._closeFor(reason)),
  }, {
    highWaterMark: 1,
    size: () => {
      queued();
      return 1;
    },
  });
  _directTarget(writable, (message) => {
    queued();
    return write(message);
  });
  return { writable, controller };
}

/**
 * @internal A pull for a readable that is fed by pushes. `flow` reads on (or not) and returns
 * whether reading is paused; while it is not, the pull stays pending, so the stream calls it
 * again only after `paused()` (the queue filled up), not after every message, each call being
 * a few promise hops.
 */
export function _pullWhilePaused(flow: () => boolean): { pull: () => Promise<void> | undefined; paused: () => void } {
  let release: (() => void) | undefined;
  return {
    pull: () => (flow() ? undefined : new Promise<void>((resolve) => (release = resolve))),
    paused: () => {
      const resolve = release;
      release = undefined;
      resolve?.();
    },
  };
}

/** @internal What a connection hands its WebSocketStream: built alike by every kind of connection. */
export interface _Surface<T> {
  readable: _MessageReadable;
  writable: WritableStream<WebSocketSendable>;
  closed: Promise<T>;
  /** Ends both streams: the readable closes (or errors with `error`), writes fail from now on. */
  endStreams(error: WebSocketError | undefined, code: number, reason: string): void;
  /** Settles `closed`: rejected with `error`, else resolved with `info`. */
  settle(error: WebSocketError | undefined, info: T): void;
}

/**
 * @internal A connection's readable, writable and `closed`. Whole messages queue in the readable
 * up to about 1 MiB or 1024 of them (with `streamMessages`, one message stream at a time);
 * cancelling it calls `cancelled`, then closes with the reason's code. `closed` rejecting
 * unobserved is not reported.
 */
export function _connectionSurface<T>(connection: {
  streamMessages?: boolean;
  pull?: () => Promise<void> | undefined;
  cancelled: () => void;
  write: (chunk: WebSocketSendable) => Promise<void> | undefined;
  close: (code: number | undefined, reason: string) => void;
  queued: () => void;
}): _Surface<T> {
  let resolveClosed!: (value: T) => void;
  let rejectClosed!: (error: WebSocketError) => void;
  const closed = new Promise<T>((resolve, reject) => {
    resolveClosed = resolve;
    rejectClosed = reject;
  });
  closed.catch(() => {});
  const readable = new _MessageReadable({
    ...(connection.pull ? { pull: connection.pull } : {}),
    cancel: (reason) => {
      connection.cancelled();
      connection.close(..._closeFor(reason));
    },
  }, connection.streamMessages ? 1 : 1024, _messageWeight);
  const { writable, controller } = _messageWritable(connection.write, connection.close, connection.queued);
  return {
    readable,
    writable,
    closed,
    endStreams(error, code, reason) {
      try {
        if (error) readable._controller.error(error);
        else readable._controller.close();
      } catch { /* already closed or errored */ }
      controller.error(error ?? WebSocketError._from("Cannot send: the connection is closed", code, reason));
    },
    settle(error, info) {
      if (error) rejectClosed(error);
      else resolveClosed(info);
    },
  };
}
