// The permessage-deflate rows of the codec benchmark (bench/codec.ts): RFC 7692 with context
// takeover both ways, 15-bit windows, zlib level 6 and memLevel 8 (both libraries' defaults), on
// JSON-like text sent as binary messages. See bench/codec.ts for what each row measures.
import type { Buffer } from "node:buffer";
import { FrameDecoder } from "../src/core/frame_decoder.ts";
import { FrameEncoder } from "../src/core/frame_encoder.ts";
import { MessageDecoder } from "../src/core/message_decoder.ts";
import { ProtocolError } from "../src/core/protocol_error.ts";
import { PerMessageDeflate } from "../src/core/deflate.ts";
import type { DeflateParams } from "../src/core/extensions.ts";
import { zlibEngines } from "../src/adapters/zlib/mod.ts";
import { _concat } from "../src/core/bytes.ts";
import { bufferOf, frameOf, jsonText, maskKeyOf } from "./_util.ts";
import { addSink, type Case, check, copyFloor, freshChunks, Receiver, same, Sender, setFloor, WsPerMessageDeflate, type WsExtensions, type WsSocket } from "./codec_cases.ts";

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
function wsflowDeflateDecode(pristine: Uint8Array, count: number, onMessage?: (m: Uint8Array) => void): Case {
  const deflate = wsflowDeflate("server");
  const frames = new FrameDecoder({ role: "server", allowedRsv: deflate.allowedRsv });
  const messages = new MessageDecoder();
  let chunks: Uint8Array[] = [];
  return {
    reset: () => void (chunks = freshChunks(pristine, "owned")),
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
          addSink(message.length);
          n++;
        }
      }
      if (n !== count) throw new Error(`wsflow inflated ${n} messages, expected ${count}`);
      return n;
    },
  };
}

function wsDeflateDecode(pristine: Uint8Array, count: number, onMessage?: (m: Uint8Array) => void): Case {
  let buffers: Buffer[] = [];
  const receiver = new Receiver({ isServer: true, maxPayload: 0, binaryType: "nodebuffer", extensions: wsDeflate(true) });
  let n = 0;
  let done: ((n: number) => void) | undefined;
  let failed: ((e: Error) => void) | undefined;
  receiver.on("message", (data) => {
    onMessage?.(data);
    addSink(data.length);
    if (++n === count) done?.(n);
  });
  receiver.on("error", (error) => failed?.(error));
  return {
    reset: () => void (buffers = freshChunks(pristine, "owned").map(bufferOf)),
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
          addSink(chunks[c].length);
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
      if (typeof chunk === "string") throw new Error("expected binary messages");
      onChunk?.(chunk);
      addSink(chunk.length);
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

/**
 * The cases of one permessage-deflate row (wsflow, ws, copy, set), after their self-checks, with
 * the mean compressed payload per message each library's frames carry.
 */
export async function deflateCases(op: "deflate-decode" | "deflate-encode", size: number): Promise<{ cases: Case[]; wire: [number, number] }> {
  // About 1 MiB (1 KiB messages) or 2 MiB (64 KiB) of distinct messages per pass.
  const count = size <= 1024 ? 1024 : Math.max(4, Math.floor((2 << 20) / size));
  if (count * size > TEXT.length) throw new Error(`--deflate-sizes: ${size} is too large`);
  const payloads = Array.from({ length: count }, (_, m) => TEXT.subarray(m * size, (m + 1) * size));
  let cases: Case[];
  let wire: [number, number];
  if (op === "deflate-decode") {
    const pristine = compressedStreamOf(payloads);
    // Self-check on fresh instances: both deliver exactly the payloads, in order.
    for (const [name, make] of [["wsflow", wsflowDeflateDecode], ["ws", wsDeflateDecode]] as const) {
      const got: Uint8Array[] = [];
      const c = make(pristine, count, (m) => got.push(Uint8Array.from(m)));
      c.reset!();
      await c.run();
      check(got.length === count && got.every((m, i) => same(m, payloads[i])), `${name} ${op} ${size}`);
    }
    cases = [wsflowDeflateDecode(pristine, count), wsDeflateDecode(pristine, count), copyFloor(payloads), setFloor(payloads, size)];
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
  return { cases, wire };
}
