// Shared test helpers: hex fixtures, every-split runs, and decoding whole byte sequences.
import { FrameDecoder, type FrameDecoderOptions } from "../src/core/frame_decoder.ts";
import { MessageDecoder, type MessageDecoderOptions } from "../src/core/message_decoder.ts";
import { ProtocolError } from "../src/core/protocol_error.ts";
import { Session } from "../src/core/session.ts";
import type { SessionOptions } from "../src/core/session_types.ts";
import type { _TransportSink } from "../src/streams/transport.ts";

/** Bytes from hex with any whitespace: `hex("81 05 48 65")`. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex fixture: ${text}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Lower-case hex with a space between bytes. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Every way to feed `bytes` that a decoder test is run with: whole, split in two at every byte
 * boundary, and one byte at a time. Each split is a fresh copy (decoders unmask in place).
 */
export function* splits(bytes: Uint8Array): Generator<{ name: string; chunks: Uint8Array[] }> {
  yield { name: "whole", chunks: [bytes.slice()] };
  for (let i = 1; i < bytes.length; i++) {
    yield { name: `split at ${i}`, chunks: [bytes.slice(0, i), bytes.slice(i)] };
  }
  if (bytes.length > 2) {
    yield { name: "byte by byte", chunks: Array.from(bytes, (b) => Uint8Array.of(b)) };
  }
}

/** A decoded frame, gathered whole, in a form `assert.deepEqual` compares well. */
export interface DecodedFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: string;
}

/** What the decoders made of a byte sequence. */
export interface Decoded {
  frames: DecodedFrame[];
  messages: (string | Uint8Array)[];
  error?: { closeCode: number; message: string };
}

/** Runs chunks through FrameDecoder and MessageDecoder, gathering frames, messages and the error. */
export function decode(
  chunks: Uint8Array[],
  options: FrameDecoderOptions & MessageDecoderOptions,
): Decoded {
  const frames = new FrameDecoder(options);
  const messages = new MessageDecoder(options);
  const out: Decoded = { frames: [], messages: [] };
  let gathered: Uint8Array[] = [];
  let frameFailed = false;
  const fail = (e: ProtocolError) => {
    out.error ??= { closeCode: e.closeCode, message: e.message };
  };
  for (const chunk of chunks) {
    frames.push(chunk);
    for (let part = frames.next(); part !== undefined; part = frames.next()) {
      if (part instanceof ProtocolError) {
        fail(part);
        frameFailed = true;
        continue;
      }
      if (frameFailed) throw new Error("FrameDecoder handed out a frame after a failure");
      // Like a connection, stop feeding messages once the connection has failed.
      if (out.error) continue;
      gathered.push(part.payload.slice());
      if (part.offset + part.payload.length === part.length) {
        const payload = concatAll(gathered);
        gathered = [];
        out.frames.push({ fin: part.fin, rsv1: part.rsv1, opcode: part.opcode, payload: toHex(payload) });
      }
      if (part.opcode < 0x8) {
        const message = messages.push(part);
        if (message instanceof ProtocolError) fail(message);
        else if (message !== undefined) out.messages.push(typeof message === "string" ? message : message.slice());
      }
    }
  }
  return out;
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : concat(...parts);
}

/** A ReadableStream of the given chunks (ReadableStream.from is missing from the DOM lib types). */
export function streamOf<T>(chunks: Iterable<T>): ReadableStream<T> {
  return new ReadableStream<T>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

/** A transport's sink from two callbacks, for tests that drive a transport directly. */
export function transportSink(received: (chunk: Uint8Array, reused?: boolean) => unknown, ended: () => unknown): _TransportSink {
  return { _received: (chunk, reused) => void received(chunk, reused), _transportEnded: () => void ended() };
}

/** An open server Session with no heartbeat, on a clock starting at 0. */
export function openServer(options: Partial<SessionOptions> = {}): Session {
  const session = new Session({ role: "server", now: 0, heartbeat: false, ...options });
  session.open(0);
  return session;
}
