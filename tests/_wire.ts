// Test glue: WebSocket frames read and written by hand, so a test asserts the bytes on the wire
// without going through the decoder under test; and a raw TCP client for the runtime servers.
import { connect } from "node:net";
import { socketDuplex } from "./_net.ts";
import type { ByteDuplex } from "../src/streams/types.ts";

/** One frame as it crossed the wire, unmasked. */
export interface WireFrame {
  opcode: number;
  payload: Uint8Array;
}

/** What a close frame said: its code (undefined for an empty body) and reason. */
export interface WireClose {
  code: number | undefined;
  reason: string;
}

/** Reads an HTTP head, then frames (masked or not), from a byte stream. */
export class WireReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer = new Uint8Array(0);

  constructor(readable: ReadableStream<Uint8Array>) {
    this.#reader = readable.getReader();
  }

  /** The HTTP head (up to the blank line), as latin1 text. */
  async head(): Promise<string> {
    for (;;) {
      const text = new TextDecoder("latin1").decode(this.#buffer);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        this.#buffer = this.#buffer.slice(end + 4);
        return text.slice(0, end);
      }
      if (!(await this.#more())) throw new Error(`the connection ended before the HTTP head was complete: ${JSON.stringify(text)}`);
    }
  }

  /** The next whole frame, or undefined when the stream ends first. */
  async frame(): Promise<WireFrame | undefined> {
    for (;;) {
      const frame = this.#parse();
      if (frame) return frame;
      if (!(await this.#more())) return undefined;
    }
  }

  /** The next close frame, skipping other frames; undefined when the stream ends first. */
  async close(): Promise<WireClose | undefined> {
    for (let frame = await this.frame(); frame; frame = await this.frame()) {
      if (frame.opcode === 0x8) return closeOf(frame);
    }
    return undefined;
  }

  /** Whether the stream ends (within `ms`) with no more bytes. */
  async ended(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
    try {
      for (;;) {
        const more = await Promise.race([this.#more(), timeout]);
        if (more === "timeout") return false;
        if (!more) return true;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops reading. */
  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }

  async #more(): Promise<boolean> {
    const { value, done } = await this.#reader.read();
    if (done) return false;
    const joined = new Uint8Array(this.#buffer.length + value.length);
    joined.set(this.#buffer);
    joined.set(value, this.#buffer.length);
    this.#buffer = joined;
    return true;
  }

  #parse(): WireFrame | undefined {
    const bytes = this.#buffer;
    if (bytes.length < 2) return undefined;
    const masked = (bytes[1] & 0x80) !== 0;
    let length = bytes[1] & 0x7f;
    let at = 2;
    if (length === 126) {
      if (bytes.length < 4) return undefined;
      length = (bytes[2] << 8) | bytes[3];
      at = 4;
    } else if (length === 127) throw new Error("a 64-bit frame length in a test of small frames");
    const key = masked ? bytes.slice(at, at + 4) : undefined;
    if (masked) at += 4;
    if (bytes.length < at + length) return undefined;
    const payload = bytes.slice(at, at + length);
    if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i % 4];
    this.#buffer = bytes.slice(at + length);
    return { opcode: bytes[0] & 0x0f, payload };
  }
}

/** The code and reason of a close frame's payload. */
export function closeOf(frame: WireFrame): WireClose {
  const { payload } = frame;
  if (payload.length < 2) return { code: undefined, reason: "" };
  return { code: (payload[0] << 8) | payload[1], reason: new TextDecoder().decode(payload.subarray(2)) };
}

/** A final frame of at most 125 bytes, masked with a zero key when `masked` (a client's). */
export function wireFrame(opcode: number, payload: Uint8Array, masked: boolean): Uint8Array {
  if (payload.length > 125) throw new Error("wireFrame writes frames of at most 125 bytes");
  const head = masked ? [0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0] : [0x80 | opcode, payload.length];
  const frame = new Uint8Array(head.length + payload.length);
  frame.set(head);
  frame.set(payload, head.length);
  return frame;
}

/** A close frame's payload: the code, then the reason in UTF-8. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = new TextEncoder().encode(reason);
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return payload;
}

/** The request head of a client's opening handshake (RFC 6455 section 1.3's key). */
export function upgradeHead(path: string, host: string, headers: Record<string, string> = {}): Uint8Array {
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  return new TextEncoder().encode(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
  );
}

/** A raw TCP client that sent the opening handshake to 127.0.0.1:`port` and read the response head. */
export async function rawClient(port: number, path: string, headers: Record<string, string> = {}): Promise<{ head: string; wire: WireReader; duplex: ByteDuplex; end: () => void }> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => (socket.once("connect", resolve), socket.once("error", reject)));
  const duplex = socketDuplex(socket);
  const writer = duplex.writable.getWriter();
  await writer.write(upgradeHead(path, `127.0.0.1:${port}`, headers));
  writer.releaseLock();
  const wire = new WireReader(duplex.readable);
  return { head: await wire.head(), wire, duplex, end: () => void socket.destroy() };
}
