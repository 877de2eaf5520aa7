// A node:net socket as a ByteDuplex, with backpressure both ways. Works in Node, and in Deno and
// Bun through their node:net.
import type { NodeSocket } from "./builtin.ts";
import type { ByteDuplex } from "../../streams/types.ts";

/**
 * Wraps a `node:net` (or `node:tls`) socket as a `{ readable, writable }` byte duplex. Reads
 * pause while the readable's queue is full; a write resolves once the socket takes the bytes
 * without going over its buffer, or after `drain`.
 *
 * @example
 * ```ts ignore
 * import { connect } from "node:net";
 * import { socketDuplex } from "wsflow/node";
 *
 * const socket = connect(8080, "127.0.0.1");
 * const { readable, writable } = socketDuplex(socket);
 * ```
 */
export function socketDuplex(socket: NodeSocket, highWaterMark = 4): ByteDuplex {
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      socket.on("data", (chunk: Uint8Array) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) socket.pause();
      });
      const end = () => {
        try {
          controller.close();
        } catch { /* already closed */ }
      };
      socket.on("end", end);
      socket.on("close", end);
      socket.on("error", end);
    },
    pull() {
      socket.resume();
    },
    cancel() {
      socket.destroy();
    },
  }, { highWaterMark });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (socket.destroyed) throw new Error("Cannot write: the socket is closed");
      if (socket.write(chunk)) return;
      return new Promise<void>((resolve, reject) => {
        const done = (error?: Error) => {
          socket.off("drain", done);
          socket.off("close", closed);
          if (error) reject(error);
          else resolve();
        };
        const closed = () => done(new Error("Cannot write: the socket closed"));
        socket.on("drain", done);
        socket.on("close", closed);
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.end(() => resolve());
        socket.once("close", () => resolve());
      });
    },
    abort() {
      socket.destroy();
    },
  });
  return { readable, writable };
}
