// A node:net socket as a _Transport: data events go straight to the Session, a flush is one
// corked write (a single writev), and backpressure is pause/resume and drain.
import type { Socket } from "node:net";
import process from "node:process";
import type { _Transport } from "../../streams/transport.ts";

// The uncorks of the sockets corked in this turn: one tick for all of them.
let uncorks: (() => void)[] = [];
function uncorkAll(): void {
  const due = uncorks;
  uncorks = [];
  for (const uncork of due) uncork();
}

/** @internal Wraps a connected node:net (or node:tls) socket. */
export function _socketTransport(socket: Socket): _Transport {
  let ended = false;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
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
    // Node's own cork: what is written meanwhile goes out in one writev on the next tick, which
    // comes once the current microtasks (a for await over messages, say) have run.
    cork() {
      if (corked || socket.destroyed) return;
      corked = true;
      socket.cork();
      if (uncorks.push(uncork) === 1) process.nextTick(uncorkAll);
    },
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
