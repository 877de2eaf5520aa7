// Test peers for topics: wsflow clients that gather what they receive, and a raw TCP client
// that can stop reading (a slow subscriber) and later read every frame that reached it.
import { connect, type Socket } from "node:net";
import { FrameDecoder } from "../../src/core/frame_decoder.ts";
import { type CompressionOptions, upgradeWebSocket, WebSocketStream, type WebSocketStreamOptions } from "../../mod.ts";
import { runtime, serve, type ServeHandle } from "../../src/adapters/serve.ts";
import type { Topics } from "../../src/topics/topics.ts";

export type Message = string | Uint8Array;

/** The server paths of the runtime running the test. */
export const modes: ("native" | "codec")[] = runtime() === "node" ? ["codec"] : ["codec", "native"];
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A message as text to compare: bytes as "bytes:1,2,3". */
export const text = (m: Message) => (typeof m === "string" ? m : `bytes:${[...m].join(",")}`);

/** Waits until `check()` holds, polling every 10 ms; throws after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A wsflow client that keeps every message it receives. */
export interface Gatherer {
  wss: WebSocketStream;
  received: Message[];
  /** Resolves once `count` messages have arrived (rejects after `ms`). */
  until(count: number, ms?: number): Promise<Message[]>;
  send(message: Message): Promise<void>;
}

export async function gatherer(url: string, options: WebSocketStreamOptions = {}): Promise<Gatherer> {
  const wss = new WebSocketStream(url, options);
  const { readable, writable } = await wss.opened;
  const writer = writable.getWriter();
  const received: Message[] = [];
  let wake: (() => void) | undefined;
  void (async () => {
    try {
      for await (const message of readable) {
        received.push(message as Message);
        wake?.();
      }
    } catch { /* closed */ }
    wake?.();
  })();
  return {
    wss,
    received,
    async until(count, ms = 10_000) {
      const deadline = performance.now() + ms;
      while (received.length < count) {
        if (performance.now() > deadline) throw new Error(`Got ${received.length} of ${count} messages within ${ms} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
      return received;
    },
    send: (message) => writer.write(message),
  };
}

/**
 * A server whose connections subscribe to the topics in the `topics` query parameter
 * (comma-separated); each connection's WebSocketStream is kept in `sockets` by its `id` parameter.
 */
export async function topicServer(topics: Topics, mode: "native" | "codec", compression?: boolean | CompressionOptions): Promise<{ server: ServeHandle; url: string; sockets: Map<string, WebSocketStream> }> {
  const sockets = new Map<string, WebSocketStream>();
  const server = await serve({ port: 0, mode }, async (request) => {
    const url = new URL(request.url);
    const { socket, response } = await upgradeWebSocket(request, { compression, heartbeat: false });
    if (!socket) return response;
    sockets.set(url.searchParams.get("id") ?? "", socket);
    for (const topic of (url.searchParams.get("topics") ?? "").split(",").filter(Boolean)) void topics.subscribe(socket, topic);
    socket.closed.catch(() => {});
    return response;
  });
  return { server, url: `ws://127.0.0.1:${server.port}/`, sockets };
}

/** A raw client: the handshake by hand, then the socket paused until `readAll()`. */
export async function rawSubscriber(port: number, query: string): Promise<{ socket: Socket; readAll(ms: number): Promise<{ texts: string[]; close?: number }> }> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(
    `GET /?${query} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const chunks: Uint8Array[] = [];
  let head = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Uint8Array) => {
      const text = new TextDecoder("latin1").decode(chunk);
      const end = (head + text).indexOf("\r\n\r\n");
      if (end < 0) return void (head += text);
      const rest = chunk.subarray(end - head.length + 4);
      if (rest.length > 0) chunks.push(rest.slice());
      socket.off("data", onData);
      socket.pause();
      if (!(head + text).startsWith("HTTP/1.1 101")) reject(new Error(`Cannot upgrade: ${head + text}`));
      else resolve();
    };
    socket.on("data", onData);
  });
  let listening = false;
  return {
    socket,
    // Reads until the server closes or `ms` pass, then decodes every frame.
    async readAll(ms) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        if (!listening) socket.on("data", (chunk: Uint8Array) => chunks.push(chunk.slice()));
        listening = true;
        socket.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        socket.resume();
      });
      const decoder = new FrameDecoder({ role: "client" });
      const texts: string[] = [];
      let close: number | undefined;
      let text: Uint8Array[] = [];
      for (const chunk of chunks) {
        decoder.push(chunk);
        for (let part = decoder.next(); part !== undefined; part = decoder.next()) {
          if (part instanceof Error) throw part;
          if (part.opcode === 0x8) close = (part.payload[0] << 8) | part.payload[1];
          else if (part.opcode === 0x1 || part.opcode === 0x0) {
            text.push(part.payload.slice());
            if (part.fin && part.offset + part.payload.length === part.length) {
              texts.push(new TextDecoder().decode(Uint8Array.from(text.flatMap((t) => [...t]))));
              text = [];
            }
          }
        }
      }
      return { texts, close };
    },
  };
}
