// A raw TCP peer that sends a burst of messages and its close frame in one write, then counts
// what the server sends back before its close frame: how a server's writes race a peer's close.
import { connect } from "node:net";
import { frame } from "../_frames.ts";
import { concat } from "../_util.ts";

/** What the peer saw: text frames before the server's close frame, and whether one came. */
export interface CloseRace {
  received: number;
  closeFrame: boolean;
}

/**
 * Upgrades on `port`, sends `count` text messages then a close frame (1000), and reads until the
 * server's close frame or the end of the connection (at most `bound` ms). By default it sends
 * them in one write; with `batch`, `batch` messages per write, `pause` ms apart, so the server
 * is answering while the close arrives.
 */
export function closeRace(port: number, count: number, bound = 20_000, { batch = count, pause = 1 } = {}): Promise<CloseRace> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let buffer: Uint8Array = new Uint8Array(0);
    let upgraded = false;
    let received = 0;
    let closeFrame = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server had not ended within ${bound} ms (${received} messages seen)`));
    }, bound);
    const finish = () => {
      clearTimeout(timer);
      resolve({ received, closeFrame });
    };
    socket.on("connect", () => {
      socket.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    const sendAll = async () => {
      for (let from = 0; from < count; from += batch) {
        if (from > 0) await new Promise((resolve) => setTimeout(resolve, pause));
        const frames: Uint8Array[] = [];
        for (let i = from; i < Math.min(count, from + batch); i++) frames.push(frame({ opcode: 1, payload: `m${i}` }));
        if (from + batch >= count) frames.push(frame({ opcode: 8, payload: Uint8Array.of(0x03, 0xe8) }));
        if (!socket.destroyed) socket.write(concat(...frames));
      }
    };
    socket.on("data", (chunk: Uint8Array) => {
      buffer = concat(buffer, new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      if (!upgraded) {
        const end = indexOfHeadEnd(buffer);
        if (end < 0) return;
        if (!new TextDecoder().decode(buffer.subarray(0, 12)).startsWith("HTTP/1.1 101")) return reject(new Error("the upgrade was refused"));
        upgraded = true;
        buffer = buffer.slice(end);
        void sendAll();
      }
      // Server frames are unmasked; every payload here is under 126 bytes.
      while (!closeFrame && buffer.length >= 2 && buffer.length >= 2 + (buffer[1] & 0x7f)) {
        const opcode = buffer[0] & 0x0f;
        const length = buffer[1] & 0x7f;
        if (opcode === 1 && !closeFrame) received++;
        if (opcode === 8) closeFrame = true;
        buffer = buffer.subarray(2 + length);
      }
      if (closeFrame) socket.end();
    });
    socket.on("error", () => {});
    socket.on("close", finish);
  });
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i - 3] === 13 && bytes[i - 2] === 10 && bytes[i - 1] === 13 && bytes[i] === 10) return i + 1;
  }
  return -1;
}
