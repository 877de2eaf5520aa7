// Codec benchmark: wsflow's core against the `ws` package's Receiver and Sender, in one process,
// with a plain copy of the same bytes as the floor.
//
//   npm run bench:codec [-- --json] [-- --samples 5 --ms 200 --warmup 150]   (Node 20, via .build/)
//   ... [-- --sizes 16,1048576 --ops decode]                        (a subset, for profiling)
//   ... [-- --ops deflate --deflate-sizes 1024]                     (only compressed rows)
//   node_modules/.bin/node bench/codec.ts                          (Node 24, type stripping)
//   node_modules/.bin/deno run -A bench/codec.ts
//   node_modules/.bin/bun bench/codec.ts
//
// What one row measures (binary messages of `size` payload bytes; MB = 10^6 payload bytes):
//
// - decode: a byte stream of back-to-back frames, cut into 64 KiB socket-sized chunks with no
//   regard to frame boundaries (small frames and headers straddle chunks, a 1 MiB frame spans 17
//   chunks), is fed to wsflow's FrameDecoder + MessageDecoder and to ws's Receiver (via write(),
//   its real entry point, with synchronous events); every whole message goes to a callback that
//   adds up its length. Masked = client frames decoded by a server; unmasked = server frames
//   decoded by a client. Both get the very same bytes (ws as Buffer views, wsflow as Uint8Array
//   views over the same memory), each 64 KiB chunk in its own ArrayBuffer as a socket read
//   delivers it. Both unmask in place, so before every pass the stream is restored
//   from a pristine copy, outside the timed region, for both libraries alike.
// - encode: one payload -> the bytes a socket would be handed. wsflow: MessageEncoder.encode()
//   then FrameEncoder.encode() on each frame, chunk lengths summed; ws: Sender.send() into a fake
//   socket whose write() sums lengths. Masked = client role (a fresh key per frame, output copied
//   so the caller's payload is untouched, in both libraries).
// - copy: an allocating copy (Uint8Array.prototype.slice) of each message's payload (for decode,
//   from the payload's place in the stream): the floor any decoder that hands out a message it
//   owns must pay, since the stream's chunks are not its to keep. The "unmasking within 3x of
//   copy" target is judged against this. set: Uint8Array.prototype.set of the same bytes into one
//   preallocated buffer, shown for reference only (no decoder can hand out a reused buffer).
//
// - deflate-decode / deflate-encode (compressed: true in --json): permessage-deflate (RFC 7692)
//   with context takeover both ways, windows of 15 bits, zlib level 6 and memLevel 8 (both
//   libraries' defaults), on JSON-like text (records with repeated keys, every message a
//   different slice of one long text, so no message is a copy of one still in the window), sent
//   as binary messages so neither side pays for string decoding. MB = 10^6 uncompressed payload
//   bytes. deflate-decode: masked client frames compressed in sequence with one context (by
//   node:zlib through wsflow's engine; ws decodes the same bytes, the self-check proves it), cut
//   into 64 KiB chunks; wsflow: FrameDecoder -> PerMessageDeflate.receive() (zlibEngines,
//   synchronous) -> MessageDecoder; ws: Receiver with its PerMessageDeflate, whose inflate is
//   node:zlib's asynchronous stream (work on the libuv threadpool, results by callback), so a
//   pass writes all chunks and then awaits the last message. deflate-encode: server role
//   (unmasked); wsflow: PerMessageDeflate.compress() -> FrameEncoder.encode(); ws: Sender.send(
//   { compress: true }) with its PerMessageDeflate (asynchronous deflate, one message at a time,
//   later ones queued), a pass sends every message and awaits the last write callback. Both
//   are thus measured as whole batches to completion: messages per second of wall time, with
//   ws's event-loop turns inside the timed region, as they are on a real connection. copy and
//   set are the same floors on the uncompressed payloads, for scale only.
//
// Each cell is warmed up, then sampled `--samples` times for at least `--ms` ms each, with
// wsflow, ws, copy and set samples interleaved so a noisy neighbour hurts all three alike; the table
// shows the median.
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import process from "node:process";
import { FrameDecoder } from "../src/core/frame_decoder.ts";
import { FrameEncoder } from "../src/core/frame_encoder.ts";
import { MessageDecoder } from "../src/core/message_decoder.ts";
import { MessageEncoder } from "../src/core/message_encoder.ts";
import { ProtocolError } from "../src/core/protocol_error.ts";
import { PerMessageDeflate } from "../src/core/deflate.ts";
import type { DeflateParams } from "../src/core/extensions.ts";
import { zlibEngines } from "../src/adapters/zlib/mod.ts";
import { _concat } from "../src/core/bytes.ts";
import {
  bufferOf, flag, frameOf, info, jsonText, listOption, machineName, maskKeyOf, median, numberOption, randomBytes, shortCount,
  sleep, Table,
} from "./_util.ts";

// The slice of ws's internals used here (@types/ws does not describe lib/receiver.js or lib/sender.js).
interface WsReceiver {
  write(chunk: Buffer): boolean;
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this;
  on(event: "error", listener: (error: Error) => void): this;
}
interface WsSocket {
  write(chunk: Uint8Array, cb?: () => void): boolean;
  cork(): void;
  uncork(): void;
}
interface WsSender {
  send(data: Buffer, options: { binary: boolean; mask: boolean; fin: boolean; compress: boolean }, cb?: (error?: Error) => void): void;
}
type WsReceiverClass = new (options: { isServer: boolean; maxPayload: number; binaryType: "nodebuffer"; extensions?: WsExtensions }) => WsReceiver;
type WsSenderClass = new (socket: WsSocket, extensions?: WsExtensions) => WsSender;
interface WsPerMessageDeflate {
  accept(offers: Record<string, unknown>[]): unknown;
}
type WsPerMessageDeflateClass = new (options: { isServer: boolean; maxPayload: number; threshold?: number }) => WsPerMessageDeflate;
type WsExtensions = Record<string, WsPerMessageDeflate>;

// ws's package.json "exports" hides lib/, so require the files by path (works on all runtimes).
const require = createRequire(import.meta.url);
const wsDir = require.resolve("ws/package.json").replace(/package\.json$/, "");
const Receiver = require(wsDir + "lib/receiver.js") as WsReceiverClass;
const Sender = require(wsDir + "lib/sender.js") as WsSenderClass;
const WsPerMessageDeflate = require(wsDir + "lib/permessage-deflate.js") as WsPerMessageDeflateClass;
const wsVersion = (require("ws/package.json") as { version: string }).version;

const CHUNK = 64 * 1024;
const PASS_BYTES = 4 * 1024 * 1024; // payload bytes per pass (at most 65,536 messages, at least 4)

const json = flag("--json");
const SAMPLES = numberOption("--samples", 5);
const SAMPLE_MS = numberOption("--ms", 200);
const WARMUP_MS = numberOption("--warmup", 150);
// --sizes and --ops run a subset (for profiling); the targets are checked only on a full run.
const SIZES = listOption("--sizes", "16,1024,65536,1048576").map(Number);
const OPS = listOption("--ops", "decode,encode,deflate") as ("decode" | "encode" | "deflate")[];
const DEFLATE_SIZES = listOption("--deflate-sizes", "1024,65536").map(Number);

interface Runtime {
  Deno?: { version: { deno: string; v8: string } };
  Bun?: { version: string };
}
function runtimeName(): string {
  const g = globalThis as Runtime;
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  if (g.Bun) return `Bun ${g.Bun.version} (JavaScriptCore)`;
  return `Node ${process.version} (V8 ${process.versions.v8})`;
}
function installed(name: string): string {
  try {
    const path = createRequire(wsDir + "lib/buffer-util.js").resolve(name);
    return path.includes("/") ? "INSTALLED" : "built into the runtime";
  } catch {
    return "not installed";
  }
}
// What ws's buffer-util.js will mask with: a runtime's http.websocketMask, bufferutil, or a JS loop.
function wsMasking(): string {
  if (typeof (require("node:http") as { websocketMask?: unknown }).websocketMask === "function") return "http.websocketMask";
  try {
    require(createRequire(wsDir + "lib/buffer-util.js").resolve("bufferutil"));
    return "bufferutil";
  } catch {
    return "a plain JavaScript byte loop";
  }
}

// `count` frames of `payload` written by hand (neither library's encoder), each with its own
// nonzero masking key when masked; `offsets` are where the payloads start.
function streamOf(payload: Uint8Array, count: number, masked: boolean): { bytes: Uint8Array; offsets: number[] } {
  const frames = Array.from({ length: count }, (_, m) => frameOf(payload, masked ? { key: maskKeyOf(m) } : {}));
  const length = frames[0].length;
  return { bytes: _concat(frames), offsets: frames.map((_, m) => m * length + length - payload.length) };
}

function chunksOf(bytes: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  // Each chunk owns its memory, as a socket read delivers it.
  for (let p = 0; p < bytes.length; p += CHUNK) chunks.push(bytes.slice(p, Math.min(p + CHUNK, bytes.length)));
  return chunks;
}

// Writes `pristine` back over the chunks a decoder unmasked in place.
function restorer(chunks: Uint8Array[], pristine: Uint8Array): () => void {
  return () => {
    let at = 0;
    for (const chunk of chunks) {
      chunk.set(pristine.subarray(at, at + chunk.length));
      at += chunk.length;
    }
  };
}

/** One benchmark cell: `run()` does one pass and returns the messages it handled. */
interface Case {
  run(): number | Promise<number>;
  /** Called before every pass, outside the timed region. */
  reset?: () => void;
}

let sink = 0; // every delivered message's length lands here, so no work is dead

// wsflow's decoder configured as its Node adapter runs it: joined messages come from
// Buffer.allocUnsafe, as ws's do (the core's default zero-fills a Uint8Array).
const nodeAllocate = (size: number): Uint8Array => Buffer.allocUnsafe(size);

function wsflowDecode(chunks: Uint8Array[], masked: boolean, count: number): Case {
  const frames = new FrameDecoder({ role: masked ? "server" : "client" });
  const messages = new MessageDecoder({ allocate: nodeAllocate });
  return {
    run() {
      let n = 0;
      for (let c = 0; c < chunks.length; c++) {
        frames.push(chunks[c]);
        for (let part = frames.next(); part !== undefined; part = frames.next()) {
          if (part instanceof ProtocolError) throw part;
          const message = messages.push(part);
          if (message === undefined) continue;
          if (message instanceof ProtocolError) throw message;
          sink += message.length;
          n++;
        }
      }
      if (n !== count) throw new Error(`wsflow decoded ${n} messages, expected ${count}`);
      return n;
    },
  };
}

function wsDecode(chunks: Uint8Array[], masked: boolean, count: number): Case {
  const buffers = chunks.map(bufferOf);
  const receiver = new Receiver({ isServer: masked, maxPayload: 0, binaryType: "nodebuffer" });
  let n = 0;
  receiver.on("message", (data) => {
    sink += data.length;
    n++;
  });
  receiver.on("error", (error) => {
    throw error;
  });
  return {
    run() {
      n = 0;
      for (let c = 0; c < buffers.length; c++) receiver.write(buffers[c]);
      if (n !== count) throw new Error(`ws decoded ${n} messages, expected ${count}`);
      return n;
    },
  };
}

function wsflowEncode(payload: Uint8Array, masked: boolean, count: number): Case {
  const messages = new MessageEncoder();
  const frames = new FrameEncoder({ role: masked ? "client" : "server" });
  return {
    run() {
      for (let m = 0; m < count; m++) {
        const list = messages.encode(payload);
        for (let f = 0; f < list.length; f++) {
          const chunks = frames.encode(list[f]);
          for (let c = 0; c < chunks.length; c++) sink += chunks[c].length;
        }
      }
      return count;
    },
  };
}

function wsEncode(payload: Uint8Array, masked: boolean, count: number): Case {
  const data = bufferOf(payload);
  const socket: WsSocket = {
    write(chunk) {
      sink += chunk.length;
      return true;
    },
    cork() {},
    uncork() {},
  };
  const sender = new Sender(socket);
  return {
    run() {
      for (let m = 0; m < count; m++) sender.send(data, { binary: true, mask: masked, fin: true, compress: false });
      return count;
    },
  };
}

// The floor: an allocating copy of every message's bytes.
function copyFloor(sources: Uint8Array[]): Case {
  return {
    run() {
      for (let m = 0; m < sources.length; m++) sink += sources[m].slice().length;
      return sources.length;
    },
  };
}

// For reference: a copy into one preallocated, reused buffer (memcpy speed, no allocation).
function setFloor(sources: Uint8Array[], size: number): Case {
  const target = new Uint8Array(size);
  return {
    run() {
      for (let m = 0; m < sources.length; m++) target.set(sources[m]);
      sink += target[size - 1];
      return sources.length;
    },
  };
}

// Messages per second over at least `ms` of timed passes (an asynchronous pass is timed until
// its promise settles).
async function sample(c: Case, ms: number): Promise<number> {
  let time = 0;
  let messages = 0;
  while (time < ms) {
    c.reset?.();
    const start = performance.now();
    const n = c.run();
    messages += typeof n === "number" ? n : await n;
    time += performance.now() - start;
  }
  return (messages * 1000) / time;
}

const tick = () => sleep(0);

// Untimed self-checks, so a fast wrong answer cannot pass: both decoders (fresh instances of the
// same classes) must deliver exactly the payloads, both encoders must emit the expected bytes.
function decodeAll(chunks: Uint8Array[], masked: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  const frames = new FrameDecoder({ role: masked ? "server" : "client" });
  const messages = new MessageDecoder();
  for (const chunk of chunks) {
    frames.push(chunk);
    for (let part = frames.next(); part !== undefined; part = frames.next()) {
      const message = part instanceof ProtocolError ? part : messages.push(part);
      if (message instanceof ProtocolError) throw message;
      if (message instanceof Uint8Array) out.push(message.slice());
    }
  }
  return out;
}
function wsDecodeAll(chunks: Uint8Array[], masked: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  const receiver = new Receiver({ isServer: masked, maxPayload: 0, binaryType: "nodebuffer" });
  receiver.on("message", (data) => out.push(Uint8Array.from(data)));
  for (const c of chunks) receiver.write(bufferOf(c));
  return out;
}
function check(ok: boolean, label: string): void {
  if (!ok) throw new Error(`Benchmark self-check failed: ${label}`);
}
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

interface Row {
  op: "decode" | "encode" | "deflate-decode" | "deflate-encode";
  /** permessage-deflate rows only: true. */
  compressed?: boolean;
  /** permessage-deflate rows only: mean compressed payload bytes per message, from wsflow's and ws's encoders. */
  wsflow_wire?: number;
  ws_wire?: number;
  masked: boolean;
  size: number;
  wsflow_msgs: number;
  wsflow_mbps: number;
  ws_msgs: number;
  ws_mbps: number;
  /** Allocating copy (slice) of the same payload bytes: the floor the targets use. */
  copy_mbps: number;
  /** Copy into a preallocated buffer (set), for reference. */
  set_mbps: number;
  ratio: number;
  copy_ratio: number;
}

// Warms every case up, then samples them interleaved; the median messages/s of each.
async function rates(cases: Case[]): Promise<number[]> {
  for (const c of cases) {
    await sample(c, WARMUP_MS);
    await tick();
  }
  const rates: number[][] = cases.map(() => []);
  for (let s = 0; s < SAMPLES; s++) {
    for (let i = 0; i < cases.length; i++) {
      rates[i].push(await sample(cases[i], SAMPLE_MS));
      await tick(); // lets ws's Writable run its deferred afterWrite ticks, as a real socket would
    }
  }
  return rates.map(median);
}

// A row's rate columns from the messages/s of its wsflow, ws, copy and set cases.
function rateFields([wsflow, ws, copy, set]: number[], size: number): Omit<Row, "op" | "compressed" | "masked" | "size"> {
  const mbps = (r: number) => Number(((r * size) / 1e6).toFixed(1));
  return {
    wsflow_msgs: Math.round(wsflow),
    wsflow_mbps: mbps(wsflow),
    ws_msgs: Math.round(ws),
    ws_mbps: mbps(ws),
    copy_mbps: mbps(copy),
    set_mbps: mbps(set),
    ratio: Number((wsflow / ws).toFixed(2)),
    copy_ratio: Number((copy / wsflow).toFixed(2)),
  };
}

async function measureRow(op: "decode" | "encode", masked: boolean, size: number): Promise<Row> {
  const payload = randomBytes(size, 0x9e3779b9 ^ size);
  const count = Math.max(4, Math.min(65536, Math.floor(PASS_BYTES / size)));
  let cases: Case[];
  if (op === "decode") {
    const { bytes, offsets } = streamOf(payload, count, masked);
    const pristine = bytes.slice();
    const chunks = chunksOf(bytes);
    const restore = masked ? restorer(chunks, pristine) : undefined;
    const sources = offsets.map((o) => pristine.subarray(o, o + size));
    cases = [wsflowDecode(chunks, masked, count), wsDecode(chunks, masked, count), copyFloor(sources), setFloor(sources, size)];
    for (const [name, decode] of [["wsflow", decodeAll], ["ws", wsDecodeAll]] as const) {
      restore?.();
      const got = decode(chunks, masked);
      check(got.length === count && got.every((m) => same(m, payload)), `${name} decode ${size}${masked ? " masked" : ""}`);
    }
    cases[0].reset = cases[1].reset = restore;
    cases[2].reset = cases[3].reset = restore;
  } else {
    const sources: Uint8Array[] = Array(count).fill(payload);
    cases = [wsflowEncode(payload, masked, count), wsEncode(payload, masked, count), copyFloor(sources), setFloor(sources, size)];
    const frameBytes = (2 + (size < 126 ? 0 : size < 0x10000 ? 2 : 8) + (masked ? 4 : 0) + size) * count;
    for (const [i, name] of [[0, "wsflow"], [1, "ws"]] as const) {
      const before = sink;
      cases[i].run();
      check(sink - before === frameBytes, `${name} encode ${size}${masked ? " masked" : ""} emitted ${sink - before} bytes, expected ${frameBytes}`);
    }
  }
  return { op, masked, size, ...rateFields(await rates(cases), size) };
}

// ---- permessage-deflate rows ----

// Context takeover both ways, 15-bit windows: what both libraries negotiate by default.
const DEFLATE_PARAMS: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const wsflowDeflate = (role: "server" | "client") => new PerMessageDeflate(DEFLATE_PARAMS, { role, engines: zlibEngines, threshold: 0 });
function wsDeflate(isServer: boolean): WsExtensions {
  const pmd = new WsPerMessageDeflate({ isServer, maxPayload: 0, threshold: 0 });
  // The parsed offer (server) or response (client) with no parameters: takeover, 15-bit windows.
  pmd.accept([{}]);
  return { "permessage-deflate": pmd };
}

// Client frames of `payloads`, compressed in sequence with one context, masked, RSV1 set.
function compressedStreamOf(payloads: Uint8Array[]): Uint8Array {
  const deflate = wsflowDeflate("client");
  const frames = payloads.map((payload, m) => frameOf(deflate.compress(payload).payload, { first: 0xc2 /* FIN, RSV1, binary */, key: maskKeyOf(m) }));
  deflate.close();
  return _concat(frames);
}

// The same loop as wsflowDecode's plus the inflate step; kept apart on purpose, so that
// wsflowDecode's timed pass carries no deflate branch or per-message callback.
function wsflowDeflateDecode(chunks: Uint8Array[], count: number, onMessage?: (m: Uint8Array) => void): Case {
  const deflate = wsflowDeflate("server");
  const frames = new FrameDecoder({ role: "server", allowedRsv: deflate.allowedRsv });
  const messages = new MessageDecoder();
  return {
    run() {
      let n = 0;
      for (let c = 0; c < chunks.length; c++) {
        frames.push(chunks[c]);
        for (let raw = frames.next(); raw !== undefined; raw = frames.next()) {
          if (raw instanceof ProtocolError) throw raw;
          const part = deflate.receive(raw);
          if (part === undefined) continue;
          if (part instanceof ProtocolError) throw part;
          const message = messages.push(part);
          if (message === undefined) continue;
          if (message instanceof ProtocolError) throw message;
          if (typeof message === "string") throw new Error("expected binary messages");
          onMessage?.(message);
          sink += message.length;
          n++;
        }
      }
      if (n !== count) throw new Error(`wsflow inflated ${n} messages, expected ${count}`);
      return n;
    },
  };
}

function wsDeflateDecode(chunks: Uint8Array[], count: number, onMessage?: (m: Uint8Array) => void): Case {
  const buffers = chunks.map(bufferOf);
  const receiver = new Receiver({ isServer: true, maxPayload: 0, binaryType: "nodebuffer", extensions: wsDeflate(true) });
  let n = 0;
  let done: ((n: number) => void) | undefined;
  let failed: ((e: Error) => void) | undefined;
  receiver.on("message", (data) => {
    onMessage?.(data);
    sink += data.length;
    if (++n === count) done?.(n);
  });
  receiver.on("error", (error) => failed?.(error));
  return {
    run() {
      n = 0;
      const finished = new Promise<number>((resolve, reject) => {
        done = resolve;
        failed = reject;
      });
      for (let c = 0; c < buffers.length; c++) receiver.write(buffers[c]);
      return finished;
    },
  };
}

function wsflowDeflateEncode(payloads: Uint8Array[], onChunk?: (c: Uint8Array) => void): Case {
  const deflate = wsflowDeflate("server");
  const frames = new FrameEncoder({ role: "server" });
  return {
    run() {
      for (let m = 0; m < payloads.length; m++) {
        const { payload, rsv1 } = deflate.compress(payloads[m]);
        const chunks = frames.encode({ opcode: 0x2, payload, rsv1 });
        for (let c = 0; c < chunks.length; c++) {
          onChunk?.(chunks[c]);
          sink += chunks[c].length;
        }
      }
      return payloads.length;
    },
  };
}

function wsDeflateEncode(payloads: Uint8Array[], onChunk?: (c: Uint8Array) => void): Case {
  const data = payloads.map(bufferOf);
  const socket: WsSocket = {
    write(chunk, cb) {
      onChunk?.(chunk);
      sink += chunk.length;
      cb?.();
      return true;
    },
    cork() {},
    uncork() {},
  };
  const sender = new Sender(socket, wsDeflate(true));
  return {
    run() {
      return new Promise<number>((resolve, reject) => {
        let sent = 0;
        const cb = (error?: Error) => {
          if (error) reject(error);
          else if (++sent === data.length) resolve(sent);
        };
        for (let m = 0; m < data.length; m++) sender.send(data[m], { binary: true, mask: false, fin: true, compress: true }, cb);
      });
    },
  };
}

// Decodes server frames (a client's view) with a fresh wsflow decoder: the encoders' self-check.
function inflateServerFrames(bytes: Uint8Array): Uint8Array[] {
  const deflate = wsflowDeflate("client");
  const frames = new FrameDecoder({ role: "client", allowedRsv: 4 });
  const messages = new MessageDecoder();
  const out: Uint8Array[] = [];
  frames.push(bytes);
  for (let raw = frames.next(); raw !== undefined; raw = frames.next()) {
    if (raw instanceof ProtocolError) throw raw;
    if (!raw.rsv1 || raw.opcode !== 0x2) throw new Error("expected compressed binary frames");
    const part = deflate.receive(raw);
    if (part instanceof ProtocolError) throw part;
    const message = part && messages.push(part);
    if (message instanceof ProtocolError) throw message;
    if (message instanceof Uint8Array) out.push(message.slice());
  }
  return out;
}

const TEXT = new TextEncoder().encode(jsonText(4 << 20));

async function measureDeflateRow(op: "deflate-decode" | "deflate-encode", size: number): Promise<Row> {
  // About 1 MiB (1 KiB messages) or 2 MiB (64 KiB) of distinct messages per pass.
  const count = size <= 1024 ? 1024 : Math.max(4, Math.floor((2 << 20) / size));
  if (count * size > TEXT.length) throw new Error(`--deflate-sizes: ${size} is too large`);
  const payloads = Array.from({ length: count }, (_, m) => TEXT.subarray(m * size, (m + 1) * size));
  const masked = op === "deflate-decode";
  let cases: Case[];
  let wire: [number, number] | undefined;
  if (op === "deflate-decode") {
    const bytes = compressedStreamOf(payloads);
    const pristine = bytes.slice();
    const chunks = chunksOf(bytes);
    const restore = restorer(chunks, pristine);
    // Self-check on fresh instances: both deliver exactly the payloads, in order.
    for (const [name, make] of [["wsflow", wsflowDeflateDecode], ["ws", wsDeflateDecode]] as const) {
      restore();
      const got: Uint8Array[] = [];
      await make(chunks, count, (m) => got.push(Uint8Array.from(m))).run();
      check(got.length === count && got.every((m, i) => same(m, payloads[i])), `${name} ${op} ${size}`);
    }
    cases = [wsflowDeflateDecode(chunks, count), wsDeflateDecode(chunks, count), copyFloor(payloads), setFloor(payloads, size)];
    for (const c of cases) c.reset = restore;
    wire = [pristine.length / count, pristine.length / count];
  } else {
    // Self-check: a fresh decoder inflates either encoder's output back to the payloads.
    wire = [0, 0];
    for (const [i, name, make] of [[0, "wsflow", wsflowDeflateEncode], [1, "ws", wsDeflateEncode]] as const) {
      const out: Uint8Array[] = [];
      await make(payloads, (c) => out.push(c.slice())).run();
      const bytes = _concat(out);
      const got = inflateServerFrames(bytes);
      check(got.length === count && got.every((m, j) => same(m, payloads[j])), `${name} ${op} ${size}`);
      wire[i] = bytes.length / count;
    }
    cases = [wsflowDeflateEncode(payloads), wsDeflateEncode(payloads), copyFloor(payloads), setFloor(payloads, size)];
  }
  return { op, compressed: true, masked, size, ...rateFields(await rates(cases), size), wsflow_wire: Math.round(wire[0]), ws_wire: Math.round(wire[1]) };
}

const sizeName = (n: number) => (n >= 1 << 20 ? `${n >> 20} MiB` : n >= 1024 ? `${n >> 10} KiB` : `${n} B`);
const mb = (n: number) => (n >= 1000 ? n.toFixed(0) : n.toFixed(1));
const columns = ["op", "masked", "size", "wsflow msg/s", "wsflow MB/s", "ws msg/s", "ws MB/s", "copy MB/s", "set MB/s", "wsflow/ws", "copy/wsflow"];
const table = new Table([14, 6, 7, 12, 11, 10, 9, 9, 9, 9, 11], 2);

const started = performance.now();
info(`wsflow codec benchmark on ${runtimeName()}, ${machineName()}`);
info(
  `ws ${wsVersion}: bufferutil ${installed("bufferutil")}, utf-8-validate ${installed("utf-8-validate")}` +
    ` (ws masks with ${wsMasking()}); ${SAMPLES} samples x ${SAMPLE_MS} ms per cell, median shown`,
);
info(
  "binary messages, decoded from 64 KiB chunks; MB = 10^6 payload bytes; copy = allocating copy (slice) of the same" +
    " payload bytes, the floor for copy/wsflow; set = copy into a preallocated buffer, for reference only\n",
);
if (!json) console.log(table.head(columns));

const rows: Row[] = [];
const printRow = (row: Row) => {
  if (json) return console.log(JSON.stringify(row));
  console.log(table.line([
    row.op, row.masked ? "yes" : "no", sizeName(row.size), shortCount(row.wsflow_msgs), mb(row.wsflow_mbps), shortCount(row.ws_msgs),
    mb(row.ws_mbps), mb(row.copy_mbps), mb(row.set_mbps), `${row.ratio.toFixed(2)}x`, `${row.copy_ratio.toFixed(2)}x`,
  ]));
};
for (const op of OPS) {
  if (op === "deflate") continue;
  for (const masked of [true, false]) {
    for (const size of SIZES) {
      const row = await measureRow(op, masked, size);
      rows.push(row);
      printRow(row);
    }
  }
}
const deflateRows: Row[] = [];
if (OPS.includes("deflate")) {
  for (const op of ["deflate-decode", "deflate-encode"] as const) {
    for (const size of DEFLATE_SIZES) {
      const row = await measureDeflateRow(op, size);
      deflateRows.push(row);
      printRow(row);
    }
  }
  const wire = deflateRows.filter((r) => r.op === "deflate-encode").map((r) => `${sizeName(r.size)} -> ${r.wsflow_wire} B (wsflow), ${r.ws_wire} B (ws)`);
  info(
    `\ndeflate rows: JSON-like text as binary messages, context takeover, zlib level 6 / memLevel 8 / 15-bit windows in both;` +
      ` MB/s of uncompressed payload; ws's zlib is asynchronous, so its passes are timed until the last message completes.` +
      (wire.length ? ` Mean compressed payload per message: ${wire.join("; ")}.` : ""),
  );
}

// The targets from the issue, checked on a full run.
function checkTargets(): void {
  const small = rows.filter((r) => r.size === 16);
  const bigMasked = rows.filter((r) => r.size === 1 << 20 && r.masked);
  const unmask = rows.find((r) => r.op === "decode" && r.masked && r.size === 1 << 20)!;
  const worst = rows.reduce((a, b) => (b.ratio < a.ratio ? b : a));
  const targets: [string, boolean, string][] = [
    ["wsflow >= 1.5x ws for 16 B messages", small.every((r) => r.ratio >= 1.5), small.map((r) => `${r.op}${r.masked ? " masked" : ""} ${r.ratio}x`).join(", ")],
    ["wsflow >= 3x ws for masked 1 MiB", bigMasked.every((r) => r.ratio >= 3), bigMasked.map((r) => `${r.op} ${r.ratio}x`).join(", ")],
    ["wsflow never below ws", worst.ratio >= 1, `lowest ${worst.ratio}x (${worst.op}${worst.masked ? " masked" : ""} ${sizeName(worst.size)})`],
    [
      "unmasking 1 MiB within 3x of an allocating copy",
      unmask.copy_ratio <= 3,
      `masked 1 MiB decode is ${unmask.copy_ratio}x slower than slice() (${(unmask.set_mbps / unmask.wsflow_mbps).toFixed(2)}x slower than set into a reused buffer)`,
    ],
  ];
  info("");
  for (const [name, ok, detail] of targets) info(`${ok ? "PASS" : "FAIL"}  ${name}: ${detail}`);
}
if (rows.length === 16) checkTargets();
else info(`\n${rows.length} of 16 rows run; the targets are checked on a full run only`);
info(`\n${((performance.now() - started) / 1000).toFixed(0)} s; sink ${sink > 0 ? "ok" : "empty"}`);
