// The cells of the codec benchmark (bench/codec.ts): wsflow's core driven as a server or client
// drives it, `ws`'s Receiver and Sender, and the copy floors, each as a Case whose run() is one
// timed pass. Inputs are built here too, with the untimed self-checks that make a fast wrong
// answer fail.
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { Session } from "../src/core/session.ts";
import { _concat, _plain } from "../src/core/bytes.ts";
import { _flushBytes, _flushLength, _TEXT_FROM, _utf8Length, _writeFlush } from "../src/streams/text_flush.ts";
import { bufferOf, frameOf, maskKeyOf } from "./_util.ts";

// The slice of ws's internals used here (@types/ws does not describe lib/receiver.js or lib/sender.js).
interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: "error", listener: (error: Error) => void): this;
}
/** The socket ws's Sender writes to. */
export interface WsSocket {
  write(chunk: Uint8Array | string, cb?: () => void): boolean;
  cork(): void;
  uncork(): void;
}
interface WsSender {
  send(data: Buffer | string, options: { binary: boolean; mask: boolean; fin: boolean; compress: boolean }, cb?: (error?: Error) => void): void;
}
type WsReceiverClass = new (options: { isServer: boolean; maxPayload: number; binaryType: "nodebuffer"; extensions?: WsExtensions }) => WsReceiver;
type WsSenderClass = new (socket: WsSocket, extensions?: WsExtensions) => WsSender;
interface WsPerMessageDeflate {
  accept(offers: Record<string, unknown>[]): unknown;
}
type WsPerMessageDeflateClass = new (options: { isServer: boolean; maxPayload: number; threshold?: number }) => WsPerMessageDeflate;
/** ws's negotiated extensions, by name. */
export type WsExtensions = Record<string, WsPerMessageDeflate>;

// ws's package.json "exports" hides lib/, so require the files by path (works on all runtimes).
const require = createRequire(import.meta.url);
/** Where the ws package is installed. */
export const wsDir = require.resolve("ws/package.json").replace(/package\.json$/, "");
/** ws's classes. */
export const Receiver = require(wsDir + "lib/receiver.js") as WsReceiverClass;
export const Sender = require(wsDir + "lib/sender.js") as WsSenderClass;
export const WsPerMessageDeflate = require(wsDir + "lib/permessage-deflate.js") as WsPerMessageDeflateClass;

/** Socket-sized chunks: what one read hands a decoder. */
export const CHUNK = 64 * 1024;

/** One benchmark cell: `run()` does one pass and returns the messages it handled. */
export interface Case {
  run(): number | Promise<number>;
  /** Called before every pass, outside the timed region. */
  reset?: () => void;
}

let sink = 0; // every delivered message's length lands here, so no work is dead
/** Adds to the sink (for cases defined elsewhere); returns its total. */
export function addSink(n: number): number {
  return (sink += n);
}

/** How the chunks of a decode row are cut from the byte stream. */
export type Chunking = "owned" | "views";

/**
 * `count` frames of `payload` written by hand (neither library's encoder), each with its own
 * nonzero masking key when masked; `offsets` are where the payloads start.
 */
export function streamOf(payload: Uint8Array, count: number, masked: boolean, first = 0x82): { bytes: Uint8Array; offsets: number[] } {
  const frames = Array.from({ length: count }, (_, m) => frameOf(payload, { first, key: masked ? maskKeyOf(m) : undefined }));
  const length = frames[0].length;
  return { bytes: _concat(frames), offsets: frames.map((_, m) => m * length + length - payload.length) };
}

/**
 * Fresh 64 KiB chunks of `pristine`, as a server reads them: "owned", each chunk in its own
 * ArrayBuffer (a socket read), or "views", every chunk a view into one buffer of the whole stream
 * (as a transport that reads into one large buffer hands them out).
 */
export function freshChunks(pristine: Uint8Array, chunking: Chunking): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const all = chunking === "views" ? pristine.slice() : pristine;
  for (let p = 0; p < all.length; p += CHUNK) {
    const end = Math.min(p + CHUNK, all.length);
    chunks.push(chunking === "views" ? all.subarray(p, end) : all.slice(p, end));
  }
  return chunks;
}

// Decoded messages are joined, and sent text encoded, in memory from Buffer.allocUnsafe seen as a
// plain array, as the Node adapter passes it (ws allocates the same way); elsewhere the core's default.
const allocate = typeof (globalThis as { Deno?: unknown }).Deno === "undefined" && typeof (globalThis as { Bun?: unknown }).Bun === "undefined"
  ? (size: number): Uint8Array => _plain(Buffer.allocUnsafe(size))
  : undefined;
// Long text goes to the transport as a string where the runtime's transport takes it so (Deno's
// and Bun's encode it into their join buffer; Node's takes bytes).
const textLength = allocate ? undefined : _utf8Length;
const textFrom = allocate ? undefined : _TEXT_FROM;

/**
 * wsflow decoding as a connection does: every chunk goes to `Session.receive`, then the output is
 * taken and the events handled until none is left, with fresh chunks for every pass.
 */
export function wsflowDecode(pristine: Uint8Array, chunking: Chunking, masked: boolean, count: number, onMessage?: (m: string | Uint8Array) => void): Case {
  const session = new Session({ role: masked ? "server" : "client", now: 0, allocate, heartbeat: false });
  session.open(0);
  let chunks: Uint8Array[] = [];
  return {
    // On Node as Buffers, as the Node transport hands the socket's reads to the Session (and
    // ws's Receiver gets them); elsewhere as the plain arrays those runtimes' reads are.
    reset: () => void (chunks = allocate ? freshChunks(pristine, chunking).map(bufferOf) : freshChunks(pristine, chunking)),
    run() {
      let n = 0;
      for (let c = 0; c < chunks.length; c++) {
        session.receive(chunks[c], 0);
        session.takeOutput();
        for (let event = session.nextEvent(); event !== undefined; event = session.nextEvent()) {
          if (event.type !== "message") throw new Error(`wsflow: unexpected ${event.type} event`);
          onMessage?.(event.data);
          sink += event.data.length;
          n++;
        }
      }
      if (n !== count) throw new Error(`wsflow decoded ${n} messages, expected ${count}`);
      return n;
    },
  };
}

/** ws decoding the same fresh chunks (as Buffers over the same memory) through its Receiver. */
export function wsDecode(pristine: Uint8Array, chunking: Chunking, masked: boolean, count: number, onMessage?: (m: string | Uint8Array) => void): Case {
  const receiver = new Receiver({ isServer: masked, maxPayload: 0, binaryType: "nodebuffer" });
  let n = 0;
  receiver.on("message", (data, isBinary) => {
    // ws hands text out as bytes; a server that wants the string decodes it (as its docs show).
    const message = isBinary ? data : data.toString();
    onMessage?.(message);
    sink += message.length;
    n++;
  });
  receiver.on("error", (error) => {
    throw error;
  });
  let chunks: Buffer[] = [];
  return {
    reset: () => void (chunks = freshChunks(pristine, chunking).map(bufferOf)),
    run() {
      n = 0;
      for (let c = 0; c < chunks.length; c++) receiver.write(chunks[c]);
      if (n !== count) throw new Error(`ws decoded ${n} messages, expected ${count}`);
      return n;
    },
  };
}

/** What a byte-level transport does with a flush of several chunks. */
export type WritePolicy = "writev" | "join";

// The join a transport without vectored writes (Deno's, Bun's) makes of a flush up to 64 KiB:
// into one reused buffer; larger flushes go out chunk by chunk.
const JOIN_MAX = 64 * 1024;
const scratch = new Uint8Array(JOIN_MAX);
function _write(chunks: (Uint8Array | string)[], policy: WritePolicy, onChunk?: (c: Uint8Array) => void): void {
  if (policy === "join" && chunks.length > 1) {
    const total = _flushLength(chunks, textLength!);
    if (total <= JOIN_MAX) {
      _writeFlush(chunks, scratch);
      onChunk?.(scratch.subarray(0, total));
      sink += total;
      return;
    }
    chunks = _flushBytes(chunks);
  }
  // Strings come only where the transport joins (Deno, Bun), and went into the join above or
  // into arrays of their own.
  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c] as Uint8Array;
    onChunk?.(chunk);
    sink += chunk.length;
  }
}

/**
 * wsflow encoding as a connection does: `Session.send`, then `takeOutput()` handed to a write
 * that does what the runtime's transport does with it (a vectored write on Node, a join into a
 * reused buffer up to 64 KiB on Deno and Bun).
 */
export function wsflowEncode(message: Uint8Array | string, masked: boolean, count: number, policy: WritePolicy, onChunk?: (c: Uint8Array) => void): Case {
  const session = new Session({ role: masked ? "client" : "server", now: 0, allocate, heartbeat: false, _textLength: textLength, _textFrom: textFrom });
  session.open(0);
  return {
    run() {
      for (let m = 0; m < count; m++) {
        session.send(message);
        _write(session._takeOutput(), policy, onChunk);
      }
      return count;
    },
  };
}

/** ws's Sender into a socket that takes every write (a corked Node socket: one writev). */
export function wsEncode(message: Uint8Array | string, masked: boolean, count: number, onChunk?: (c: Uint8Array) => void): Case {
  const data = typeof message === "string" ? message : bufferOf(message);
  const binary = typeof message !== "string";
  // ws hands an unmasked text message's string to the socket as is, in a corked (vectored)
  // write, for which a Node socket allocates memory and encodes the string into it in C++; so
  // does Buffer.from here. (Encoding into one reused buffer instead, as this bench once did, made
  // ws's text sends cheaper than a real socket makes them: on a Node 20 socket, ws sending 16 KiB
  // strings cost 24 to 38 us of CPU per message against 22 to 25 for Buffer.from(string).)
  const socket: WsSocket = {
    write(chunk: Uint8Array | string) {
      if (typeof chunk === "string") chunk = Buffer.from(chunk, "utf8");
      onChunk?.(chunk);
      sink += chunk.length;
      return true;
    },
    cork() {},
    uncork() {},
  };
  const sender = new Sender(socket);
  return {
    run() {
      for (let m = 0; m < count; m++) sender.send(data, { binary, mask: masked, fin: true, compress: false });
      return count;
    },
  };
}

/** The floor: an allocating copy of every message's bytes. */
export function copyFloor(sources: Uint8Array[]): Case {
  return {
    run() {
      for (let m = 0; m < sources.length; m++) sink += sources[m].slice().length;
      return sources.length;
    },
  };
}

/** For reference: a copy into one preallocated, reused buffer (memcpy speed, no allocation). */
export function setFloor(sources: Uint8Array[], size: number): Case {
  const target = new Uint8Array(size);
  return {
    run() {
      for (let m = 0; m < sources.length; m++) target.set(sources[m]);
      sink += target[size - 1];
      return sources.length;
    },
  };
}

/** Whether two byte arrays hold the same bytes. */
export const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Throws unless `ok`: a benchmark whose output is wrong measures nothing. */
export function check(ok: boolean, label: string): void {
  if (!ok) throw new Error(`Benchmark self-check failed: ${label}`);
}
