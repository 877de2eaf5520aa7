// Raw TCP probes of a server's HTTP side: what it answers to a head sent whole, in slow pieces or
// never finished, and when it closes. node:net, so the same probe runs in Node, Deno and Bun.
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";

/** What a probe saw: every byte the server sent (Latin-1), and whether and when it closed. */
export interface Probed {
  text: string;
  closed: boolean;
  /** Milliseconds from the connection's establishment to the server's close (or to the bound). */
  ms: number;
  /** Milliseconds from the connection's establishment to the server's first byte, or -1. */
  firstMs: number;
}

/** How {@linkcode probe} sends. */
export interface ProbeOptions {
  /** Milliseconds between pieces. @default {0} */
  gapMs?: number;
  /** Gives up (and destroys the socket) after this many milliseconds. @default {5000} */
  boundMs?: number;
}

/**
 * Connects to 127.0.0.1:port, sends each piece (with `gapMs` between them, stopping once the
 * server closes), then waits for the server to close, at most `boundMs` in all.
 */
export function probe(port: number, pieces: (string | Uint8Array)[], options: ProbeOptions = {}): Promise<Probed> {
  const { gapMs = 0, boundMs = 5000 } = options;
  return new Promise((resolve) => {
    let started = performance.now(); // then again once connected
    const chunks: Buffer[] = [];
    let done = false;
    let firstMs = -1;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(bound);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed, ms: Math.round(performance.now() - started), firstMs });
    };
    const bound = setTimeout(() => finish(false), boundMs);
    const socket: Socket = connect(port, "127.0.0.1");
    let next = 0;
    const send = () => {
      if (done || next >= pieces.length) return;
      const piece = pieces[next++];
      socket.write(typeof piece === "string" ? Buffer.from(piece, "latin1") : piece);
      if (next < pieces.length) timer = setTimeout(send, gapMs);
    };
    socket.on("connect", () => {
      started = performance.now();
      send();
    });
    socket.on("data", (chunk: Buffer) => {
      if (firstMs < 0) firstMs = Math.round(performance.now() - started);
      chunks.push(chunk);
    });
    socket.on("error", () => finish(true));
    socket.on("close", () => finish(true));
  });
}

/** An upgrade request head for `path`, with extra header lines (each ending in CRLF) before the empty line. */
export function upgradeHead(path: string, extra = "", start = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`): string {
  return `${start}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
    `Sec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** The status line of a response, or "" if none came. */
export function statusLine(text: string): string {
  return text.slice(0, Math.max(0, text.indexOf("\r\n")));
}
