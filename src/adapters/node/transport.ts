// A node:net socket as a _Transport: data events go straight to the Session, a flush is one
// corked write (a single writev), and backpressure is pause/resume and drain.
import type { Socket } from "node:net";
import type { _Transport } from "../../streams/transport.ts";

/** @internal Wraps a connected node:net (or node:tls) socket. */
export function _socketTransport(socket: Socket): _Transport {
  let ended = false;
  return {
    start(onData, onEnd) {
      const end = () => {
        if (ended) return;
        ended = true;
        onEnd();
      };
      socket.on("data", onData);
      socket.once("end", end);
      socket.once("close", end);
      socket.once("error", end);
    },
    pause: () => void socket.pause(),
    resume: () => void socket.resume(),
    write(chunks) {
      if (socket.destroyed) return true;
      if (chunks.length === 1) return socket.write(chunks[0]);
      socket.cork();
      for (const chunk of chunks) socket.write(chunk);
      socket.uncork();
      return !socket.writableNeedDrain;
    },
    drained() {
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
    },
    buffered: () => socket.writableLength,
    end() {
      return new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.once("close", () => resolve());
        socket.end(() => socket.destroy());
      });
    },
    abort: () => void socket.destroy(),
  };
}
