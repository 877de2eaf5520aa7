// Test glue: a node:net socket as a ByteDuplex, with backpressure both ways, and an in-memory
// duplex pair. (The Node adapter grows from the same few lines.)
import type { Socket } from "node:net";
import type { ByteDuplex } from "../src/streams/types.ts";

export function socketDuplex(socket: Socket): ByteDuplex {
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
      socket.on("error", () => end());
    },
    pull() {
      socket.resume();
    },
    cancel() {
      socket.destroy();
    },
  }, { highWaterMark: 4 });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (socket.write(chunk)) return;
      return new Promise<void>((resolve, reject) => {
        socket.once("drain", resolve);
        socket.once("close", () => reject(new Error("socket closed")));
      });
    },
    close() {
      return new Promise<void>((resolve) => socket.end(resolve));
    },
    abort() {
      socket.destroy();
    },
  });
  return { readable, writable };
}

/** Two duplexes joined back to back in memory, each direction buffering `highWaterMark` chunks. */
export function duplexPair(highWaterMark = 4): [ByteDuplex, ByteDuplex] {
  const ab = new TransformStream<Uint8Array, Uint8Array>({}, { highWaterMark }, { highWaterMark });
  const ba = new TransformStream<Uint8Array, Uint8Array>({}, { highWaterMark }, { highWaterMark });
  return [{ readable: ba.readable, writable: ab.writable }, { readable: ab.readable, writable: ba.writable }];
}
