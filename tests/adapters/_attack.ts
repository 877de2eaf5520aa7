// Raw TCP glue for the attack suites (attack_*_test.ts): a connection that writes any bytes a test
// builds (an HTTP head, frames, both in one packet) and records every byte that comes back, with
// its own frame parser (FIN, RSV bits, the mask bit, 64-bit lengths) and the time the other end
// closed TCP; frames built by hand, masked or not; and a server fixture that records how each
// upgraded connection's `closed` settled. node:net only, so it runs in Node, Deno and Bun; every
// wait is bounded.
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import zlib from "node:zlib";
import { upgradeWebSocket } from "../../mod.ts";
import { serve, type ServeHandle } from "../../src/adapters/serve.ts";

/** One frame as it came off the wire, unmasked. */
export interface RawFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** A raw TCP connection to 127.0.0.1 that records what the other end sends. */
export class RawConnection {
  readonly socket: Socket;
  /** `performance.now()` when the other end closed TCP, or undefined. */
  endedAt: number | undefined;
  #got: Buffer = Buffer.alloc(0);
  #wake = new Set<() => void>();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      this.#got = Buffer.concat([this.#got, chunk]);
      this.#notify();
    });
    const ended = () => {
      this.endedAt ??= performance.now();
      this.#notify();
    };
    socket.on("end", ended);
    socket.on("close", ended);
  }

  /** Connects to 127.0.0.1:`port`, then writes `first` (latin1 for a string) if given. */
  static async open(port: number, first?: string | Uint8Array): Promise<RawConnection> {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => (socket.once("connect", () => resolve()), socket.once("error", reject)));
    const connection = new RawConnection(socket);
    if (first !== undefined) connection.write(first);
    return connection;
  }

  /** Writes bytes (a string as latin1), unless the socket is gone. */
  write(bytes: string | Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  }

  /** Everything received, as latin1. */
  get text(): string {
    return this.#got.toString("latin1");
  }

  get ended(): boolean {
    return this.endedAt !== undefined;
  }

  /** Waits up to `ms` for `done()`; returns whether it held. */
  until(done: () => boolean, ms = 5000): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (done()) finish(true);
        else if (this.ended) finish(done());
      };
      const timer = setTimeout(() => finish(done()), ms);
      const finish = (value: boolean) => {
        clearTimeout(timer);
        this.#wake.delete(check);
        resolve(value);
      };
      this.#wake.add(check);
    });
  }

  /** The response head (up to the blank line), or "" if none came within `ms`. */
  async head(ms = 5000): Promise<string> {
    await this.until(() => this.#headEnd() >= 0, ms);
    const end = this.#headEnd();
    return end < 0 ? "" : this.#got.subarray(0, end).toString("latin1");
  }

  /** The frames received after the head (all of it when `afterHead` is false), whole ones only. */
  frames(afterHead = true): RawFrame[] {
    const end = this.#headEnd();
    if (afterHead && end < 0) return [];
    return parseFrames(this.#got.subarray(afterHead ? end + 4 : 0)).frames;
  }

  /** The first close frame, waiting up to `ms`; undefined if none came. */
  async closeFrame(ms = 5000): Promise<RawFrame | undefined> {
    const find = () => this.frames().find((f) => f.opcode === 0x8);
    await this.until(() => find() !== undefined, ms);
    return find();
  }

  /** Waits up to `ms` for the other end to close TCP; returns whether it did. */
  waitEnd(ms = 5000): Promise<boolean> {
    return this.until(() => this.ended, ms);
  }

  destroy(): void {
    this.socket.destroy();
  }

  #headEnd(): number {
    return this.#got.indexOf("\r\n\r\n");
  }

  #notify(): void {
    for (const check of [...this.#wake]) check();
  }
}

/** The whole frames at the start of `bytes`, and how many bytes they took. */
export function parseFrames(bytes: Uint8Array): { frames: RawFrame[]; used: number } {
  const frames: RawFrame[] = [];
  let at = 0;
  for (;;) {
    if (bytes.length - at < 2) break;
    const masked = (bytes[at + 1] & 0x80) !== 0;
    let length = bytes[at + 1] & 0x7f;
    let p = at + 2;
    if (length === 126) {
      if (bytes.length - at < 4) break;
      length = (bytes[at + 2] << 8) | bytes[at + 3];
      p = at + 4;
    } else if (length === 127) {
      if (bytes.length - at < 10) break;
      const big = new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8).getBigUint64(0);
      if (big > BigInt(bytes.length)) break; // never all here
      length = Number(big);
      p = at + 10;
    }
    const key = masked ? bytes.subarray(p, p + 4) : undefined;
    if (masked) p += 4;
    if (bytes.length < p + length) break;
    const payload = new Uint8Array(length);
    payload.set(bytes.subarray(p, p + length));
    if (key) for (let i = 0; i < length; i++) payload[i] ^= key[i & 3];
    frames.push({ fin: (bytes[at] & 0x80) !== 0, rsv: (bytes[at] >> 4) & 7, opcode: bytes[at] & 0x0f, masked, payload });
    at = p + length;
  }
  return { frames, used: at };
}

/** The close code of a close frame (1005 for an empty body). */
export function codeOf(frame: RawFrame | undefined): number | undefined {
  if (!frame) return undefined;
  return frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
}

const KEY = [0x37, 0xfa, 0x21, 0x3d];

/**
 * One frame: `first` is the first byte (FIN, RSV bits, opcode); masked with a fixed key when
 * `mask` (a client's). `length` overrides the announced length (a header that lies).
 */
export function frame(first: number, payload: Uint8Array | string = new Uint8Array(0), mask = true, length?: number | bigint): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const n = length ?? body.length;
  const m = mask ? 0x80 : 0;
  let head: number[];
  if (typeof n === "bigint" || n > 65535) {
    const big = BigInt(n);
    head = [first, m | 127];
    for (let i = 7; i >= 0; i--) head.push(Number((big >> BigInt(i * 8)) & 0xffn));
  } else if (n > 125) head = [first, m | 126, n >> 8, n & 255];
  else head = [first, m | n];
  if (mask) head.push(...KEY);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  if (mask) for (let i = 0; i < body.length; i++) out[head.length + i] ^= KEY[i & 3];
  return out;
}

/** A close frame's payload: the code, then the reason. */
export function closeBody(code: number, reason: string | Uint8Array = ""): Uint8Array {
  const text = typeof reason === "string" ? new TextEncoder().encode(reason) : reason;
  const out = new Uint8Array(2 + text.length);
  out[0] = code >> 8;
  out[1] = code & 255;
  out.set(text, 2);
  return out;
}

/** Bytes joined. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A message's payload deflated as permessage-deflate sends it (sync flush, tail 00 00 ff ff removed). */
export function deflateMessage(data: Uint8Array | string, windowBits = 15): Uint8Array {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const out = zlib.deflateRawSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits: Math.max(windowBits, 9) });
  return new Uint8Array(out.subarray(0, out.length - 4));
}

/** A compressed message's payload inflated (the tail 00 00 ff ff added back). */
export function inflateMessage(data: Uint8Array, windowBits = 15): Uint8Array {
  return new Uint8Array(zlib.inflateRawSync(Buffer.concat([data, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits }));
}

/** An upgrade request head for `path`, with extra header lines (each ending in CRLF). */
export function upgradeRequest(path: string, extra = "", start = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`): string {
  return `${start}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
    `Sec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** The status line of a response, or "". */
export function statusOf(text: string): string {
  return text.slice(0, Math.max(0, text.indexOf("\r\n")));
}

/** How a server's connection ended. */
export interface Ended {
  clean: boolean;
  closeCode: number | undefined;
  message?: string;
}

/** An echo server (the README's) on one path of this runtime, recording how each connection ended. */
export interface EchoFixture {
  server: ServeHandle;
  port: number;
  /** How the connection opened with `?id=ID` ended (waits up to `ms`). */
  outcome(id: string, ms?: number): Promise<Ended>;
  /** Whether a connection with `?id=ID` was upgraded. */
  upgraded(id: string): boolean;
}

/**
 * Starts the README's echo on `mode`. Query options per connection: `compression=1`,
 * `maxMessageSize=N`, `maxFrameSize=N`, `closeTimeout=N`, `id=ID` (to find its outcome).
 */
export async function echoFixture(mode: "native" | "codec"): Promise<EchoFixture> {
  const ended = new Map<string, Promise<Ended>>();
  const server = await serve({ port: 0, mode }, async (request) => {
    const query = new URL(request.url).searchParams;
    const number = (name: string) => (query.has(name) ? Number(query.get(name)) : undefined);
    const { socket, response } = await upgradeWebSocket(request, {
      compression: query.get("compression") === "1",
      maxMessageSize: number("maxMessageSize"),
      maxFrameSize: number("maxFrameSize"),
      closeTimeout: number("closeTimeout"),
      heartbeat: false,
    });
    if (!socket) return response;
    const id = query.get("id") ?? "";
    ended.set(
      id,
      socket.closed.then(
        (info) => ({ clean: true, closeCode: info.closeCode }),
        (error) => ({ clean: false, closeCode: error?.closeCode, message: String(error?.message) }),
      ),
    );
    void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
    return response;
  });
  return {
    server,
    port: server.port,
    upgraded: (id) => ended.has(id),
    async outcome(id, ms = 10_000) {
      for (let i = 0; i < 100 && !ended.has(id); i++) await new Promise((r) => setTimeout(r, 20));
      const result = ended.get(id);
      if (!result) throw new Error(`the server did not upgrade ${id}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${id}: closed did not settle within ${ms} ms`)), ms)));
      return await Promise.race([result, late]).finally(() => clearTimeout(timer));
    },
  };
}
