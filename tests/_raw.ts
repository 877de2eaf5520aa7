// A raw TCP WebSocket peer for hostile probes: it completes the opening handshake by hand (as a
// client or as a server), writes whatever bytes a test builds, reads only when told to, and
// parses what comes back with its own small frame parser. Uses node:net, so it runs in Node,
// Deno and Bun alike; every wait is bounded.
import { connect, createServer, type Server, type Socket } from "node:net";
import process from "node:process";
import { computeAcceptKey } from "../src/core/handshake.ts";

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();

/** One frame as it came off the wire, unmasked. */
export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Uint8Array;
}

/** The close code in a close frame's payload, or 1005 when it has none. */
export function closeCodeOf(frame: WireFrame): number {
  return frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
}

/** A payload's text. */
export function textOf(payload: Uint8Array): string {
  return utf8.decode(payload);
}

/**
 * One end of a raw connection. It reads nothing until `read()` (what the peer sends waits in
 * the kernel's buffers, so the peer's writes back up). Pongs and binary frames are only counted
 * (and the last pong kept), so a flood of them costs little here; every other frame is kept in
 * `frames`, in order.
 */
export class RawPeer {
  readonly socket: Socket;
  /** Every frame but pongs and binary frames, in arrival order. */
  readonly frames: WireFrame[] = [];
  pongs = 0;
  binaries = 0;
  lastPong: Uint8Array | undefined;
  /** Resolves when the TCP connection has closed. */
  readonly closed: Promise<void>;
  #pending: Uint8Array = new Uint8Array(0);
  #changed: (() => boolean)[] = [];

  constructor(socket: Socket, rest: Uint8Array) {
    this.socket = socket;
    socket.pause();
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    socket.on("close", () => this.#wake());
    socket.on("data", (chunk: Uint8Array) => this.#parse(chunk));
    if (rest.length > 0) this.#parse(rest);
  }

  /** Starts reading what the other end sent. */
  read(): void {
    this.socket.resume();
  }

  /** Waits up to `ms` for `done()` to hold, checking after each chunk read and at close. */
  until(done: () => boolean, ms = 10_000, what = "the expected frames"): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#changed = this.#changed.filter((f) => f !== check);
        reject(new Error(`Waited ${ms} ms for ${what}; got ${this.frames.map((f) => `0x${f.opcode.toString(16)}`).join(" ")} and ${this.pongs} pongs`));
      }, ms);
      const check = () => {
        if (!done() && !this.socket.destroyed) return false;
        clearTimeout(timer);
        if (done()) resolve();
        else reject(new Error(`The connection closed before ${what}; got ${this.frames.map((f) => `0x${f.opcode.toString(16)}`).join(" ")}`));
        return true;
      };
      this.#changed.push(check);
    });
  }

  /** Waits for the next frame (not a pong) after the first `seen` ones. */
  async frame(seen: number, ms = 10_000): Promise<WireFrame> {
    await this.until(() => this.frames.length > seen, ms, `frame ${seen + 1}`);
    return this.frames[seen];
  }

  #wake(): void {
    this.#changed = this.#changed.filter((check) => !check());
  }

  #parse(chunk: Uint8Array): void {
    let buf = this.#pending.length === 0 ? chunk : concatBytes(this.#pending, chunk);
    for (;;) {
      if (buf.length < 2) break;
      const masked = (buf[1] & 0x80) !== 0;
      let length = buf[1] & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buf.length < 4) break;
        length = (buf[2] << 8) | buf[3];
        at = 4;
      } else if (length === 127) {
        if (buf.length < 10) break;
        length = Number(new DataView(buf.buffer, buf.byteOffset + 2, 8).getBigUint64(0));
        at = 10;
      }
      const keyAt = at;
      if (masked) at += 4;
      if (buf.length < at + length) break;
      const payload = buf.slice(at, at + length);
      if (masked) for (let i = 0; i < length; i++) payload[i] ^= buf[keyAt + (i & 3)];
      const opcode = buf[0] & 0x0f;
      if (opcode === 0xa) {
        this.pongs++;
        this.lastPong = payload;
      } else if (opcode === 0x2) this.binaries++;
      else this.frames.push({ fin: (buf[0] & 0x80) !== 0, rsv: (buf[0] >> 4) & 7, opcode, payload });
      buf = buf.subarray(at + length);
    }
    this.#pending = buf.slice();
    this.#wake();
  }
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// Reads from `socket` until a blank line ends an HTTP head; resolves with the head and what came after it.
function readHead(socket: Socket, ms: number): Promise<{ head: string; rest: Uint8Array }> {
  return new Promise((resolve, reject) => {
    let got: Uint8Array = new Uint8Array(0);
    const timer = setTimeout(() => done(new Error(`No HTTP head within ${ms} ms`)), ms);
    const onData = (chunk: Uint8Array) => {
      got = concatBytes(got, chunk);
      const text = latin1.decode(got);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) done(undefined, { head: text.slice(0, end), rest: got.slice(end + 4) });
    };
    const onClose = () => done(new Error("The connection closed during the HTTP head"));
    const done = (error?: Error, value?: { head: string; rest: Uint8Array }) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.pause();
      if (error) reject(error);
      else resolve(value!);
    };
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}

/** Connects to a WebSocket server on 127.0.0.1 and upgrades by hand. */
export async function rawClient(port: number, path = "/"): Promise<RawPeer> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const { head, rest } = await readHead(socket, 10_000);
  if (!head.startsWith("HTTP/1.1 101")) throw new Error(`The upgrade was refused: ${head.split("\r\n")[0]}`);
  return new RawPeer(socket, rest);
}

/** A server on 127.0.0.1 (a free port) that upgrades each connection by hand. */
export interface RawServer {
  port: number;
  /** The next upgraded connection. */
  accept(): Promise<RawPeer>;
  close(): void;
}

/** Starts a {@linkcode RawServer}. */
export async function rawServer(): Promise<RawServer> {
  const peers: Promise<RawPeer>[] = [];
  const waiting: ((peer: Promise<RawPeer>) => void)[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const peer = (async () => {
      const { head, rest } = await readHead(socket, 10_000);
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? "";
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Accept: ${await computeAcceptKey(key)}\r\n\r\n`,
      );
      return new RawPeer(socket, rest);
    })();
    peer.catch(() => {});
    const take = waiting.shift();
    if (take) take(peer);
    else peers.push(peer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as { port: number }).port,
    accept: () => peers.shift() ?? new Promise<RawPeer>((resolve) => waiting.push(resolve)),
    close() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** How a flood went: frames written, and whether it stopped on its time bound. */
export interface Flooded {
  frames: number;
  timedOut: boolean;
}

/**
 * Writes `frame` (the bytes of one frame) `count` times, in batches, as fast as the socket
 * takes them: a batch waits for `drain` when the socket's buffer is full. Stops after `ms`.
 */
export async function flood(socket: Socket, frame: Uint8Array, count: number, ms: number): Promise<Flooded> {
  const perBatch = Math.max(1, Math.floor(65536 / frame.length));
  const batch = new Uint8Array(perBatch * frame.length);
  for (let i = 0; i < perBatch; i++) batch.set(frame, i * frame.length);
  const end = performance.now() + ms;
  let frames = 0;
  while (frames < count && !socket.destroyed) {
    if (performance.now() > end) return { frames, timedOut: true };
    const n = Math.min(perBatch, count - frames);
    const ok = socket.write(n === perBatch ? batch : batch.subarray(0, n * frame.length));
    frames += n;
    if (!ok) {
      const left = end - performance.now();
      const drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => finish(false), Math.max(0, left));
        const finish = (value: boolean) => {
          clearTimeout(timer);
          socket.off("drain", onDrain);
          socket.off("close", onClose);
          resolve(value);
        };
        const onDrain = () => finish(true);
        const onClose = () => finish(false);
        socket.once("drain", onDrain);
        socket.once("close", onClose);
      });
      if (!drained) return { frames, timedOut: !socket.destroyed };
    }
  }
  return { frames, timedOut: false };
}

/** This process's resident set size in MiB. */
export function rssMiB(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}

let gc: (() => void) | undefined;
/** Collects garbage now (Bun.gc, or V8's gc exposed through node:v8), so RSS shows what is held. */
export async function collect(): Promise<void> {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun) return bun.gc(true);
  if (!gc) {
    const v8 = await import("node:v8");
    const vm = await import("node:vm");
    v8.setFlagsFromString("--expose-gc");
    gc = vm.runInNewContext("gc") as () => void;
  }
  gc();
}

/** RSS growth over `baseline` (MiB) once garbage is collected and what was read is handled. */
export async function heldMiB(baseline: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  await collect();
  return rssMiB() - baseline;
}

/** Samples {@linkcode rssMiB} every 50 ms until `stop()`, which returns the highest seen. */
export function peakRss(): { stop(): number } {
  let peak = rssMiB();
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB())), 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMiB());
    },
  };
}
