// The interop checks that need more than the WHATWG interface: a silent raw TCP peer for the
// heartbeat, backpressure from a slow reader seen by ws and by wsflow's client, a ws client that
// stops reading a server's writes, ws's own ping and fragments, and ws's view of a rejected upgrade.
import { connect } from "node:net";
import WebSocket from "ws";
import { WebSocketStream } from "../../mod.ts";
import { within } from "./_peer.ts";
import { sleep } from "./_routes.ts";

const MiB = 1024 * 1024;

/** Waits up to 5 s for a ws client to open. */
function opened(ws: WebSocket): Promise<unknown> {
  return within(new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject))), 5000, "open");
}

/**
 * Completes a handshake on raw TCP, then never answers anything. Resolves with how long the
 * server took to close the TCP connection after the 101, and how many ping frames it had sent.
 */
export function silentPeer(port: number, path: string, bound: number): Promise<{ ms: number; pings: number; upgraded: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let head = "";
    let upgradedAt = 0;
    let pings = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server had not closed the connection ${bound} ms after the upgrade (pings seen: ${pings})`));
    }, bound);
    socket.on("connect", () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on("data", (chunk: Buffer) => {
      if (!upgradedAt) {
        head += chunk.toString("latin1");
        if (head.includes("\r\n\r\n")) upgradedAt = head.startsWith("HTTP/1.1 101") ? performance.now() : -1;
        chunk = Buffer.from(head.slice(head.indexOf("\r\n\r\n") + 4), "latin1");
      }
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x89) pings++; // a rough count: unmasked server frames
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ ms: upgradedAt > 0 ? Math.round(performance.now() - upgradedAt) : -1, pings, upgraded: upgradedAt > 0 });
    });
  });
}

/** What a slow reader did to a fast writer: how much was still queued, and what arrived in the end. */
export interface Backpressure {
  /** ws: `bufferedAmount` 800 ms in; wsflow: MiB of writes not yet resolved 800 ms in. */
  heldBackMiB: number;
  /** The server's summary once it started reading. */
  summary: unknown;
}

/** The ws client sends 64 x 1 MiB to /slow, whose server reads nothing for 2 s. */
export async function wsBackpressure(base: string, options: WebSocket.ClientOptions = {}): Promise<Backpressure> {
  const ws = new WebSocket(`${base}/slow?wait=2000&expect=64`, options);
  try {
    await opened(ws);
    const summary = new Promise((resolve) => ws.once("message", (data) => resolve(JSON.parse(String(data)))));
    for (let i = 0; i < 64; i++) ws.send(Buffer.alloc(MiB, i & 255));
    await sleep(800);
    const heldBackMiB = Math.round(ws.bufferedAmount / MiB);
    return { heldBackMiB, summary: await within(summary, 20_000, "the server's summary") };
  } finally {
    ws.terminate();
  }
}

/** wsflow's client writes 64 x 1 MiB to /slow; counts the writes still pending while the server does not read. */
export async function wsflowBackpressure(base: string, options: ConstructorParameters<typeof WebSocketStream>[1] = {}): Promise<Backpressure> {
  const wss = new WebSocketStream(`${base}/slow?wait=2000&expect=64`, options);
  const { readable, writable } = await within(wss.opened, 5000, "open");
  const writer = writable.getWriter();
  const reader = readable.getReader();
  let resolved = 0;
  const writes = Array.from({ length: 64 }, (_, i) => writer.write(new Uint8Array(MiB).fill(i & 255)).then(() => void resolved++));
  await sleep(800);
  const heldBackMiB = 64 - resolved;
  const summary = JSON.parse(String((await within(reader.read(), 20_000, "the server's summary")).value));
  await within(Promise.all(writes), 5000, "every write");
  wss.close();
  await wss.closed.catch(() => {});
  return { heldBackMiB, summary };
}

/** ws pings the server and returns the pong's payload. */
export async function wsPing(base: string, options: WebSocket.ClientOptions = {}): Promise<string> {
  const ws = new WebSocket(`${base}/echo`, options);
  try {
    await opened(ws);
    const pong = new Promise<string>((resolve) => ws.once("pong", (data) => resolve(String(data))));
    ws.ping("are you there");
    return await within(pong, 5000, "pong");
  } finally {
    ws.terminate();
  }
}

/** ws sends one binary message as 7 fragments to /echo; returns what came back. */
export async function wsFragments(base: string, options: WebSocket.ClientOptions = {}): Promise<{ length: number; mismatches: number }> {
  const ws = new WebSocket(`${base}/echo`, options);
  try {
    await opened(ws);
    const echoed = new Promise<Buffer>((resolve) => ws.once("message", (data) => resolve(data as Buffer)));
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) & 255);
    for (let at = 0; at < bytes.length; at += 16_384) ws.send(bytes.subarray(at, at + 16_384), { binary: true, fin: at + 16_384 >= bytes.length });
    const back = await within(echoed, 5000, "echo");
    return { length: back.length, mismatches: back.filter((b, i) => b !== ((i * 7) & 255)).length };
  } finally {
    ws.terminate();
  }
}

/** wsflow's client sends one binary message as 16 KiB fragments to /echo, and pings. */
export async function wsflowFragmentsAndPing(base: string, options: ConstructorParameters<typeof WebSocketStream>[1] = {}) {
  const wss = new WebSocketStream(`${base}/echo`, { ...options, fragmentSize: 16_384 });
  const { readable, writable } = await within(wss.opened, 5000, "open");
  const writer = writable.getWriter();
  const reader = readable.getReader();
  try {
    const rtt = await within(wss.ping(), 5000, "ping");
    await writer.write(new Uint8Array(100_000).map((_, i) => (i * 7) & 255));
    const back = (await within(reader.read(), 5000, "echo")).value as Uint8Array;
    return { rtt, length: back.length, mismatches: back.filter((b, i) => b !== ((i * 7) & 255)).length };
  } finally {
    wss.close();
    await wss.closed.catch(() => {});
  }
}

/** ws's view of a refused upgrade: the status and the handler's headers. */
export async function wsRejection(base: string, options: WebSocket.ClientOptions = {}) {
  const ws = new WebSocket(`${base}/auth?token=bad&delay=20`, options);
  ws.on("error", () => {});
  try {
    return await within(
      new Promise((resolve) =>
        ws.once("unexpected-response", (_req, res) =>
          resolve({ status: res.statusCode, wwwAuthenticate: res.headers["www-authenticate"], reason: res.headers["x-reason"] }))
      ),
      5000,
      "the refusal",
    );
  } finally {
    ws.terminate();
  }
}

/** What a ws client that stopped reading saw of the server's 64 x 1 MiB writes to it. */
export interface SlowClient {
  /** The server's writes resolved 800 ms after the client stopped reading (of 64). */
  resolvedWhilePaused: number;
  /** Messages received once the client read again, and whether each held its index. */
  received: number;
  intact: boolean;
}

/**
 * Opens /flood?count=64, stops reading at once (ws's `pause()`: the socket is no longer read),
 * asks over HTTP how many of the server's writes have resolved 800 ms later, then reads all 64.
 */
export async function wsSlowClient(base: string, httpBase: string, getJson: (url: string) => Promise<unknown>, options: WebSocket.ClientOptions = {}): Promise<SlowClient> {
  const id = `flood-${Math.random().toString(36).slice(2)}`;
  const ws = new WebSocket(`${base}/flood?id=${id}&count=64`, options);
  try {
    let received = 0;
    let intact = true;
    const all = new Promise<void>((resolve) =>
      ws.on("message", (data: Buffer) => {
        if (data.length !== MiB || data[0] !== (received & 255) || data[MiB - 1] !== (received & 255)) intact = false;
        if (++received === 64) resolve();
      })
    );
    ws.once("open", () => ws.pause());
    await opened(ws);
    await sleep(800);
    const progress = await getJson(`${httpBase}/floods/${id}`) as { resolved: number } | null;
    ws.resume();
    await within(all, 20_000, "the 64 messages");
    return { resolvedWhilePaused: progress?.resolved ?? -1, received, intact };
  } finally {
    ws.terminate();
  }
}
