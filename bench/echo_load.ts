// The echo benchmark's load generator: a separate process, the same for every server, that is not
// the code under test (no wsflow, no ws). Raw TCP sockets, a hand-written HTTP upgrade and frames
// masked once, ahead of time: per round trip it does one socket write of ready bytes, a header
// parse and a memcmp of the echo, so it stays cheaper than any server it drives.
//
//   <runtime> echo_load.(ts|js) --port 1234 --size 32 [--kind binary|text] --conns 64 --warmup 500 --ms 1500 --runs 3
//                               [--server-pid 4321] [--no-verify]
//
// Closed loop: every connection sends one binary message, waits for the whole echo, records the
// round-trip time and sends again. After --warmup ms, --runs samples of --ms each run back to back
// (load never pauses); each sample reports messages/s, p50/p99 latency, this process's CPU use
// and, when --server-pid is given, the server's (from /proc, Linux only). One JSON line on stdout.
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import process from "node:process";
import { bufferOf, type EchoSample, flag, frameOf, jsonText, maskKeyOf, numberOption, option, randomBytes, sleep } from "./_util.ts";

const PORT = numberOption("--port", 0);
const SIZE = numberOption("--size", 32);
// binary: random bytes in binary frames; text: JSON-like ASCII text in text frames (echoed as text).
const KIND = option("--kind", "binary");
if (KIND !== "binary" && KIND !== "text") throw new Error(`--kind binary|text, not ${KIND}`);
const FIRST = KIND === "text" ? 0x81 : 0x82;
const CONNS = numberOption("--conns", 1);
const WARMUP_MS = numberOption("--warmup", 500);
const SAMPLE_MS = numberOption("--ms", 1500);
const RUNS = numberOption("--runs", 3);
const SERVER_PID = numberOption("--server-pid", 0);
// The TCP echo ceiling sends our masked frames straight back: accept them, skip the payload check.
const VERIFY = !flag("--no-verify");

// Latency histogram: 1 microsecond buckets up to 200 ms, then one overflow bucket.
const BUCKETS = 200_000;
const histogram = new Uint32Array(BUCKETS + 1);
let measuring = false;
let count = 0;

const payload = KIND === "text" ? Buffer.from(jsonText(SIZE).padEnd(SIZE), "latin1") : bufferOf(randomBytes(SIZE, 0x2545f491 ^ SIZE));

function fail(message: string): never {
  process.stderr.write(`echo_load: ${message}\n`);
  process.exit(1);
}

// The socket a connection needs: node:net everywhere, Bun.connect on Bun (cheaper per write).
interface Transport {
  write(bytes: Buffer): void;
  destroy(): void;
}
interface Handlers {
  open(): void;
  data(chunk: Buffer): void;
  error(error: Error): void;
  close(): void;
}
interface BunTcp {
  write(data: Uint8Array): number;
  end(): void;
  setNoDelay?(on: boolean): void;
}
interface BunLike {
  connect(options: {
    hostname: string;
    port: number;
    socket: {
      open(s: BunTcp): void;
      data(s: BunTcp, data: Buffer): void;
      drain?(s: BunTcp): void;
      close(s: BunTcp): void;
      error(s: BunTcp, error: Error): void;
      connectError?(s: BunTcp, error: Error): void;
    };
  }): Promise<BunTcp>;
}
const Bun = (globalThis as { Bun?: BunLike }).Bun;
const USE_BUN = Bun !== undefined && !flag("--node-net");

function open(h: Handlers): Transport {
  if (USE_BUN) {
    let socket: BunTcp | undefined;
    let pending: Buffer | undefined; // what a short write left over, sent on drain
    let closed = false;
    void Bun!.connect({
      hostname: "127.0.0.1",
      port: PORT,
      socket: {
        open(s) {
          socket = s;
          s.setNoDelay?.(true);
          h.open();
        },
        data: (_s, data) => h.data(data),
        drain(s) {
          if (!pending) return;
          const n = s.write(pending);
          pending = n < pending.length ? pending.subarray(n) : undefined;
        },
        close: () => {
          if (!closed) h.close();
          closed = true;
        },
        error: (_s, error) => h.error(error),
        connectError: (_s, error) => h.error(error),
      },
    }).catch((error: Error) => h.error(error));
    return {
      write(bytes) {
        if (pending) return void (pending = Buffer.concat([pending, bytes]));
        const n = socket!.write(bytes);
        if (n < bytes.length) pending = bytes.subarray(Math.max(0, n));
      },
      destroy() {
        closed = true;
        socket?.end();
      },
    };
  }
  const socket = connect({ port: PORT, host: "127.0.0.1", noDelay: true });
  socket.once("connect", () => {
    socket.setNoDelay(true);
    h.open();
  });
  socket.on("data", (chunk: Buffer) => h.data(chunk));
  socket.on("error", (error) => h.error(error));
  socket.on("close", () => h.close());
  return { write: (bytes) => void socket.write(bytes), destroy: () => socket.destroy() };
}

class Conn {
  readonly socket: Transport;
  readonly frame: Buffer;
  #head = true;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #sentAt = 0;
  stopped = false;
  idle: (() => void) | undefined;
  ready: Promise<void>;

  constructor(index: number) {
    this.frame = bufferOf(frameOf(payload, { first: FIRST, key: maskKeyOf(index) }));
    let resolveReady!: () => void;
    let rejectReady!: (error: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.socket = open({
      open: () => {
        this.socket.write(Buffer.from(
          `GET / HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
          "latin1",
        ));
      },
      error: (error) => (this.#head ? rejectReady(error) : fail(`socket error: ${error.message}`)),
      close: () => {
        if (this.#head) rejectReady(new Error("closed during the handshake"));
        else if (!this.stopped) fail("the server closed a connection");
      },
      data: (chunk) => {
        if (this.#head) {
          this.#push(chunk);
          const all = this.#take(this.#buffered);
          const end = all.indexOf("\r\n\r\n");
          if (end < 0) return void this.#push(all);
          const status = all.subarray(0, all.indexOf("\r\n")).toString("latin1");
          if (!/^HTTP\/1\.1 101/.test(status)) return rejectReady(new Error(`upgrade refused: ${status}`));
          this.#head = false;
          if (all.length > end + 4) this.#push(all.subarray(end + 4));
          resolveReady();
          return;
        }
        this.#push(chunk);
        this.#parse();
        // Bun may reuse the memory it hands to `data`: keep a copy of any partial frame.
        if (USE_BUN && this.#buffered > 0) this.#chunks = [Buffer.concat(this.#chunks, this.#buffered)];
      },
    });
  }

  #push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  // The first `n` buffered bytes, as one Buffer (a view when a single chunk holds them).
  #take(n: number): Buffer {
    const first = this.#chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = Buffer.concat(this.#chunks, this.#buffered).subarray(0, n);
      const rest = this.#buffered > n ? Buffer.concat(this.#chunks, this.#buffered).subarray(n) : undefined;
      this.#chunks = rest ? [rest] : [];
    }
    this.#buffered -= n;
    return out;
  }

  #peek(): Buffer {
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks, this.#buffered)];
    return this.#chunks[0];
  }

  #parse(): void {
    for (;;) {
      if (this.#buffered < 2) return;
      let head = this.#chunks[0];
      if (head.length < 14 && head.length < this.#buffered) head = this.#peek();
      const b0 = head[0];
      const b1 = head[1];
      let len = b1 & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (head.length < 4) return;
        len = head.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (head.length < 10) return;
        len = Number(head.readBigUInt64BE(2));
        offset = 10;
      }
      if (b1 & 0x80) offset += 4;
      if (this.#buffered < offset + len) return;
      const frame = this.#take(offset + len);
      const opcode = b0 & 0x0f;
      if (opcode === 0x8) fail(`the server sent a close frame (code ${len >= 2 ? frame.readUInt16BE(offset) : "none"})`);
      if (opcode === 0x9 || opcode === 0xa) continue; // a ping or pong: not part of the loop
      if (b0 !== FIRST) fail(`expected one unfragmented ${KIND} frame, got first byte 0x${b0.toString(16)}`);
      if (len !== SIZE) fail(`echo of ${len} bytes, expected ${SIZE}`);
      if (VERIFY && !(b1 & 0x80) && !payload.equals(frame.subarray(offset))) fail("echo payload differs from what was sent");
      this.#received();
    }
  }

  #received(): void {
    const now = performance.now();
    if (measuring) {
      const us = Math.round((now - this.#sentAt) * 1000);
      histogram[us < BUCKETS ? us : BUCKETS]++;
      count++;
    }
    if (this.stopped) {
      this.idle?.();
      return;
    }
    this.send();
  }

  send(): void {
    this.#sentAt = performance.now();
    this.socket.write(this.frame);
  }
}

function percentile(p: number): number {
  const target = Math.ceil(count * p);
  let seen = 0;
  for (let i = 0; i <= BUCKETS; i++) {
    seen += histogram[i];
    if (seen >= target) return i / 1000;
  }
  return BUCKETS / 1000;
}

// utime + stime of a process, in ms (Linux /proc; undefined elsewhere).
function procCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}
// Busy time of the whole machine (every CPU), in ms, from /proc/stat.
function machineBusyMs(): number | undefined {
  try {
    const cpu = readFileSync("/proc/stat", "latin1").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = cpu;
    return ((user + nice + system + irq + softirq + (steal ?? 0)) * 1000) / 100;
  } catch {
    return undefined;
  }
}
const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const conns: Conn[] = [];
for (let i = 0; i < CONNS; i++) conns.push(new Conn(i));
const deadline = setTimeout(() => fail("connecting took more than 10 s"), 10_000);
try {
  await Promise.all(conns.map((c) => c.ready));
} catch (error) {
  fail(`cannot connect: ${(error as Error).message}`);
}
clearTimeout(deadline);
for (const c of conns) c.send();
await sleep(WARMUP_MS);

const samples: EchoSample[] = [];
for (let r = 0; r < RUNS; r++) {
  histogram.fill(0);
  count = 0;
  const cpu0 = ownCpuMs();
  const server0 = SERVER_PID ? procCpuMs(SERVER_PID) : undefined;
  const busy0 = machineBusyMs();
  const t0 = performance.now();
  measuring = true;
  await sleep(SAMPLE_MS);
  measuring = false;
  const elapsed = performance.now() - t0;
  const server1 = SERVER_PID ? procCpuMs(SERVER_PID) : undefined;
  const busy1 = machineBusyMs();
  const cpu1 = ownCpuMs();
  if (count === 0) fail("no round trip completed in a sample");
  samples.push({
    msgs: Math.round((count * 1000) / elapsed),
    p50: percentile(0.5),
    p99: percentile(0.99),
    genCpu: Number(((cpu1 - cpu0) / elapsed).toFixed(3)),
    serverCpu: server0 !== undefined && server1 !== undefined ? Number(((server1 - server0) / elapsed).toFixed(3)) : null,
    otherCpu: busy0 !== undefined && busy1 !== undefined && server0 !== undefined && server1 !== undefined
      ? Number(Math.max(0, (busy1 - busy0 - (server1 - server0) - (cpu1 - cpu0)) / elapsed).toFixed(3))
      : null,
  });
}

// Let every connection finish its round trip, then leave.
await Promise.race([
  Promise.all(conns.map((c) => new Promise<void>((resolve) => {
    c.stopped = true;
    c.idle = resolve;
  }))),
  sleep(2000),
]);
for (const c of conns) c.socket.destroy();
process.stdout.write(JSON.stringify({ samples }) + "\n");
process.exit(0);
