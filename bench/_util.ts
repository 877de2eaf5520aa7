// Helpers shared by the benchmark scripts: command-line options, output, deterministic payloads
// and hand-written frames. Only node: built-ins, so every bench process can import it: Node from
// .build/ (or from the sources with type stripping), Deno and Bun from the sources.
import { Buffer } from "node:buffer";
import os from "node:os";
import process from "node:process";

const args = process.argv.slice(2);

/** Whether `name` (such as `--json`) is on the command line. */
export function flag(name: string): boolean {
  return args.includes(name);
}

/** The word after `name` on the command line, or `fallback` when `name` is absent. */
export function option(name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}

/** The number after `name` on the command line, or `fallback` when `name` is absent. */
export function numberOption(name: string, fallback: number): number {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

/** The comma-separated list after `name` on the command line (`--sizes 16,1024`), or `fallback`'s. */
export function listOption(name: string, fallback: string): string[] {
  return option(name, fallback).split(",");
}

/** Prints a line for the reader: to stderr under `--json`, so that stdout holds only JSON rows. */
export function info(text: string): void {
  if (flag("--json")) console.error(text);
  else console.log(text);
}

/** The machine's CPUs, for a bench's first line: `2 x AMD EPYC`. */
export function machineName(): string {
  return `${os.cpus().length} x ${os.cpus()[0]?.model ?? "unknown CPU"}`;
}

/** A count for a table cell: `1.23M`, `45.6k` or `789`. */
export function shortCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}

/**
 * A fixed-width text table: the first `left` columns (names) are padded on the right, the others
 * (numbers) on the left, and cells are two spaces apart.
 */
export class Table {
  readonly #widths: number[];
  readonly #left: number;

  constructor(widths: number[], left: number) {
    this.#widths = widths;
    this.#left = left;
  }

  /** One line of `cells`, one per column. */
  line(cells: string[]): string {
    const widths = this.#widths;
    return cells.map((c, i) => (i < this.#left ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  }

  /** The column names over a rule of dashes (two lines). */
  head(columns: string[]): string {
    return this.line(columns) + "\n" + this.line(this.#widths.map((w) => "-".repeat(w)));
  }
}

/** The median of `xs` (the mean of the middle two when there is an even number). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Resolves after `ms` milliseconds (after a turn of the event loop for 0). */
export function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}

/** A Buffer over the same memory as `bytes` (no copy), for APIs that want one. */
export function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// One step of Marsaglia's xorshift32.
function _xorshift(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x;
}

/** `size` deterministic pseudo-random bytes (xorshift32 from `seed`), so that runs compare. */
export function randomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = _xorshift(x);
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Deterministic JSON-like text of about `size` characters (ASCII, so as many UTF-8 bytes):
 * records with repeated keys and varied values, as an API would send.
 */
export function jsonText(size: number): string {
  const names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"];
  const tags = ["admin", "beta", "mobile", "web", "eu", "us", "trial", "pro"];
  const items: string[] = [];
  let x = 0x2545f491;
  let length = 2;
  for (let id = 1; length < size; id++) {
    x = _xorshift(x);
    const r = x >>> 0;
    const item = JSON.stringify({
      id,
      name: names[r % 8],
      email: `${names[(r >>> 3) % 8]}.${id}@example.com`,
      active: (r & 1) === 1,
      score: (r % 100000) / 100,
      tags: [tags[(r >>> 6) % 8], tags[(r >>> 9) % 8]],
      updated: `2024-0${1 + ((r >>> 12) % 9)}-1${(r >>> 16) % 10}T12:${10 + ((r >>> 20) % 50)}:00Z`,
    });
    items.push(item);
    length += item.length + 1;
  }
  return `[${items.join(",")}]`.slice(0, Math.max(size, 2));
}

/** The masking key of the `index`th hand-written frame: nonzero, and different from frame to frame. */
export function maskKeyOf(index: number): number[] {
  return [(index * 37 + 1) & 0xff, (index * 101 + 7) & 0xff, 0x5a, 0xc3];
}

/** Options for {@link frameOf}. */
export interface FrameOptions {
  /**
   * The first byte: FIN, RSV1-3 and the opcode.
   * @default 0x82 (FIN, binary)
   */
  first?: number;
  /**
   * The masking key (4 bytes), for a client's frame; without one the frame is unmasked.
   * @default undefined
   */
  key?: number[];
}

/**
 * One frame written by hand (neither library's encoder) around `payload` (RFC 6455 section 5.2),
 * masked with `options.key` when given. Payloads of 4 GiB or more are not supported.
 */
export function frameOf(payload: Uint8Array, options: FrameOptions = {}): Uint8Array {
  const { first = 0x82, key } = options;
  const size = payload.length;
  const len7 = size < 126 ? size : size < 0x10000 ? 126 : 127;
  const header = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (key ? 4 : 0);
  const frame = new Uint8Array(header + size);
  frame[0] = first;
  frame[1] = len7 | (key ? 0x80 : 0);
  const view = new DataView(frame.buffer);
  if (len7 === 126) view.setUint16(2, size);
  else if (len7 === 127) view.setUint32(6, size);
  if (!key) {
    frame.set(payload, header);
    return frame;
  }
  frame.set(key, header - 4);
  for (let i = 0; i < size; i++) frame[header + i] = payload[i] ^ key[i & 3];
  return frame;
}

/** One sample from the echo load generator (bench/echo_load.ts), as bench/echo.ts reads it. */
export interface EchoSample {
  /** Round trips per second, over all connections. */
  msgs: number;
  /** Round-trip latency percentiles, in ms. */
  p50: number;
  p99: number;
  /** CPU (in cores) used by the load generator and, when its pid was given, the server. */
  genCpu: number;
  serverCpu: number | null;
  /** CPU (in cores) used by everything else on the machine during the sample: noise. */
  otherCpu: number | null;
}
