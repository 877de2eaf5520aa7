// Test helpers that build raw frames (valid or not), drive the decoders the way a connection
// does (stop at the first failure), and make seeded random numbers for property and fuzz tests.
import { FrameDecoder, type FrameDecoderOptions } from "../src/core/frame_decoder.ts";
import { MessageDecoder, type MessageDecoderOptions } from "../src/core/message_decoder.ts";
import { parseClosePayload } from "../src/core/close_payload.ts";
import { ProtocolError } from "../src/core/protocol_error.ts";
import { concat, toHex } from "./_util.ts";

const textEncoder = new TextEncoder();

/** The masking key frames get unless told otherwise (the one of RFC 6455 section 5.7). */
export const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** What {@linkcode frame} builds. Every field may break the protocol on purpose. */
export interface FrameSpec {
  /** @default {true} */
  fin?: boolean;
  /** The three RSV bits as a number: 4 = RSV1, 2 = RSV2, 1 = RSV3. @default {0} */
  rsv?: number;
  opcode: number;
  /** Text is encoded as UTF-8. @default {empty} */
  payload?: Uint8Array | string;
  /** `true` masks with {@linkcode KEY}, a key masks with it, `false` sends unmasked. @default {true} */
  mask?: boolean | Uint8Array;
}

/**
 * The bytes of one frame, with the minimal length encoding, masked by default (as a client
 * sends). Masks with its own loop, not the library's, so it is an independent oracle.
 */
export function frame(spec: FrameSpec): Uint8Array {
  const payload = typeof spec.payload === "string" ? textEncoder.encode(spec.payload) : spec.payload ?? new Uint8Array(0);
  const key = spec.mask === false ? undefined : spec.mask === undefined || spec.mask === true ? KEY : spec.mask;
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const head = new Uint8Array(2 + lengthBytes + (key ? 4 : 0));
  head[0] = (spec.fin === false ? 0 : 0x80) | ((spec.rsv ?? 0) << 4) | spec.opcode;
  head[1] = (key ? 0x80 : 0) | (lengthBytes === 0 ? n : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) {
    head[2] = n >>> 8;
    head[3] = n & 0xff;
  } else if (lengthBytes === 8) {
    // Bytes 2-9, big-endian; lengths here stay below 2^53, so the high word is exact.
    const high = Math.floor(n / 0x100000000);
    head[2] = high >>> 24;
    head[3] = (high >>> 16) & 0xff;
    head[4] = (high >>> 8) & 0xff;
    head[5] = high & 0xff;
    head[6] = n >>> 24;
    head[7] = (n >>> 16) & 0xff;
    head[8] = (n >>> 8) & 0xff;
    head[9] = n & 0xff;
  }
  const out = concat(head, payload);
  if (key) {
    head.set(key, head.length - 4);
    out.set(key, head.length - 4);
    for (let i = 0; i < n; i++) out[head.length + i] ^= key[i & 3];
  }
  return out;
}

/** Splits `bytes` into copies of at most `size` bytes (the last may be shorter). */
export function chop(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.slice(at, at + size));
  return out;
}

/** A control frame as the connection would see it. */
export interface SeenControl {
  opcode: number;
  payload: string;
}

/** What a connection made of a byte stream: messages and control frames in order, and the failure. */
export interface Run {
  messages: (string | Uint8Array)[];
  controls: SeenControl[];
  /** Everything in arrival order, as `text:…`, `binary:<n bytes>`, `ping:<hex>`, and so on. */
  events: string[];
  error?: { closeCode: number; message: string; chunk: number };
}

const CONTROL_NAMES: Record<number, string> = { 0x8: "close", 0x9: "ping", 0xa: "pong" };

/**
 * Feeds copies of `chunks` through FrameDecoder and MessageDecoder as a connection does: data
 * frame parts go to the MessageDecoder, control frames are recorded (a close frame's payload is
 * parsed with parseClosePayload), and the first failure stops everything. `error.chunk` is the
 * index of the chunk whose arrival made it fail, which is how fail-fast is checked.
 */
export function run(chunks: Iterable<Uint8Array>, options: FrameDecoderOptions & MessageDecoderOptions): Run {
  const frames = new FrameDecoder(options);
  const messages = new MessageDecoder(options);
  const out: Run = { messages: [], controls: [], events: [] };
  let index = 0;
  for (const chunk of chunks) {
    frames.push(chunk.slice());
    for (let part = frames.next(); part !== undefined; part = frames.next()) {
      const failure = _take(part, messages, out);
      if (failure) {
        out.error = { closeCode: failure.closeCode, message: failure.message, chunk: index };
        out.events.push(`error:${failure.closeCode}`);
        return out;
      }
    }
    index++;
  }
  return out;
}

function _take(
  part: ReturnType<FrameDecoder["next"]>,
  messages: MessageDecoder,
  out: Run,
): ProtocolError | undefined {
  if (part === undefined) return undefined;
  if (part instanceof ProtocolError) return part;
  if (part.opcode >= 0x8) {
    const seen = { opcode: part.opcode, payload: toHex(part.payload) };
    out.controls.push(seen);
    out.events.push(`${CONTROL_NAMES[part.opcode]}:${seen.payload}`);
    if (part.opcode === 0x8) {
      const info = parseClosePayload(part.payload);
      if (info instanceof ProtocolError) return info;
    }
    return undefined;
  }
  const message = messages.push(part);
  if (message instanceof ProtocolError) return message;
  if (typeof message === "string") {
    out.messages.push(message);
    out.events.push(message.length <= 64 ? `text:${message}` : `text:<${message.length} chars>`);
  } else if (message !== undefined) {
    out.messages.push(message.slice());
    out.events.push(`binary:<${message.length} bytes>`);
  }
  return undefined;
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seeded random helpers over {@linkcode mulberry32}. */
export class Random {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}

/**
 * The base seed of a seeded test: `WSFLOW_SEED` from the environment when set (a number, or
 * `random` for a fresh one), else `fallback`, so CI runs the same cases every time.
 */
export function baseSeed(fallback: number): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.WSFLOW_SEED;
  if (value === undefined || value === "") return fallback;
  if (value === "random") return Math.floor(Math.random() * 0x100000000);
  const seed = Number(value);
  if (!Number.isInteger(seed)) throw new Error(`WSFLOW_SEED must be an integer or "random", got ${value}`);
  return seed >>> 0;
}

/** Whether two byte arrays are equal; reports the first difference, for large payloads. */
export function firstDifference(a: Uint8Array, b: Uint8Array): string | undefined {
  if (a.length !== b.length) return `length ${a.length} != ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return `byte ${i}: ${a[i]} != ${b[i]}`;
  }
  return undefined;
}
