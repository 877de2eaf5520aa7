// The byte transport a connection drives: push-based, so a hot adapter can hand socket data
// straight to the Session and write each flush in one go, with no stream hop per chunk.
import type { ByteDuplex } from "./types.ts";

/** @internal What `_Connection` needs from a transport. */
export interface _Transport {
  /** Starts delivering bytes; `onEnd` is called once, when the peer ends or the transport fails. */
  start(onData: (chunk: Uint8Array) => void, onEnd: () => void): void;
  /** Stops delivering bytes until `resume()` (backpressure: a slow consumer). */
  pause(): void;
  resume(): void;
  /** Writes chunks in order, as one write where the transport can; false when over its high-water mark. */
  write(chunks: Uint8Array[]): boolean;
  /** Resolves when the transport is under its high-water mark again (or closed). */
  drained(): Promise<void>;
  /** Bytes written and not yet handed to the operating system (or the stream's sink). */
  buffered(): number;
  /** Ends the write side once pending writes are out, and closes the transport. */
  end(): Promise<void>;
}

/**
 * @internal A `{ readable, writable }` byte duplex as a transport: any runtime, any stream.
 */
export function _duplexTransport(duplex: ByteDuplex): _Transport {
  const reader = duplex.readable.getReader();
  const writer = duplex.writable.getWriter();
  let paused = false;
  let reading = false;
  let ended = false;
  let onData: (chunk: Uint8Array) => void = () => {};
  let onEnd: () => void = () => {};
  let buffered = 0;
  const finish = () => {
    if (ended) return;
    ended = true;
    reader.cancel().catch(() => {});
    onEnd();
  };
  const loop = async () => {
    if (reading) return;
    reading = true;
    try {
      while (!paused && !ended) {
        const { value, done } = await reader.read();
        if (done) break;
        onData(value);
      }
      if (!paused) finish();
    } catch {
      finish();
    } finally {
      reading = false;
    }
  };
  return {
    start(data, end) {
      onData = data;
      onEnd = end;
      void loop();
    },
    pause() {
      paused = true;
    },
    resume() {
      if (!paused) return;
      paused = false;
      void loop();
    },
    write(chunks) {
      for (const chunk of chunks) {
        const size = chunk.byteLength;
        buffered += size;
        writer.write(chunk).then(() => void (buffered -= size), () => {
          buffered -= size;
          finish();
        });
      }
      return (writer.desiredSize ?? 0) > 0;
    },
    drained: () => writer.ready.catch(() => {}),
    buffered: () => buffered,
    async end() {
      await writer.close().catch(() => {});
      finish();
    },
  };
}
