// Raw WebSocket over TCP for the outside-in tests: frames built by hand (masked as a client
// sends them, or plain as a server does), a client that upgrades by hand and collects every byte
// after the 101 head.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import { upgradeHead } from "./_raw_http.ts";

export const KEY = [0x11, 0x22, 0x33, 0x44];

export function header(first: number, length: number, masked: boolean): number[] {
  const m = masked ? 0x80 : 0;
  if (length < 126) return [first, m | length];
  if (length < 65536) return [first, m | 126, length >> 8, length & 255];
  return [first, m | 127, 0, 0, 0, 0, length >>> 24, (length >> 16) & 255, (length >> 8) & 255, length & 255];
}

export function masked(first: number, payload: Uint8Array): Uint8Array {
  const bytes = Buffer.concat([Buffer.from(header(first, payload.length, true)), Buffer.from(KEY), Buffer.from(payload)]);
  const at = bytes.length - payload.length;
  for (let i = 0; i < payload.length; i++) bytes[at + i] ^= KEY[i & 3];
  return bytes;
}

export const plain = (first: number, payload: Uint8Array) => Buffer.concat([Buffer.from(header(first, payload.length, false)), Buffer.from(payload)]);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Opens a raw connection and collects every byte after the 101 head.
export async function rawEcho(port: number, path = "/"): Promise<{ socket: Socket; received: () => Buffer }> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let got = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => (got = Buffer.concat([got, chunk])));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(upgradeHead(path));
  for (const end = Date.now() + 10_000; got.indexOf("\r\n\r\n") < 0 && Date.now() < end;) await sleep(5);
  const headEnd = got.indexOf("\r\n\r\n");
  assert.ok(headEnd > 0, "a 101 head");
  assert.match(got.subarray(0, headEnd).toString("latin1"), /^HTTP\/1\.1 101/);
  const skip = headEnd + 4;
  return { socket, received: () => got.subarray(skip) };
}

// Writes `bytes` in pieces of the given sizes (cycled), with a short pause every few pieces so
// they reach the server as separate reads.
export async function writeCut(socket: Socket, bytes: Uint8Array, sizes: number[]): Promise<void> {
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const n = sizes[k % sizes.length];
    socket.write(bytes.subarray(at, at + n));
    at += n;
    if (k % 5 === 4) await sleep(2);
  }
}

export async function until(received: () => Buffer, length: number): Promise<Buffer> {
  for (const end = Date.now() + 15_000; received().length < length && Date.now() < end;) await sleep(10);
  return received();
}

/** Waits for `expected.length` bytes, then checks they are exactly `expected` (naming the first byte that differs). */
export async function expectReceived(received: () => Buffer, expected: Buffer): Promise<void> {
  const got = await until(received, expected.length);
  assert.equal(got.length, expected.length, "bytes received");
  assert.ok(got.equals(expected), `first difference at byte ${got.findIndex((b, i) => b !== expected[i])}`);
}

