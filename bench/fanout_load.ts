// Load generator of the fanout benchmark (bench/fanout.ts): raw WebSocket subscribers over
// node:net (no WebSocket library, so every server meets the same cheap client) and one publisher.
// Runs on Bun by default (any runtime with node:net). Prints one JSON line per result.
//
//   --ports 4001,4002  --subs 10000  --sizes 32,1024  --compress 0|1  --server-pids 123,456
//   --mode throughput  --window 4 --warmup 500 --ms 2000        (closed loop: deliveries/s, CPU)
//   --mode latency     --rates 1000,4000 --ms 1500              (steady rate: p50/p99, loss)
import { connect, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import process from "node:process";
import { jsonText, listOption, numberOption, option, sleep } from "./_util.ts";

const PORTS = listOption("--ports", "").map(Number);
const SUBS = numberOption("--subs", 1000);
const SIZES = listOption("--sizes", "32").map(Number);
const COMPRESS = option("--compress", "0") === "1";
const MODE = option("--mode", "throughput");
const WINDOW = numberOption("--window", 4);
const WARMUP = numberOption("--warmup", 500);
const MS = numberOption("--ms", 2000);
const RATES = listOption("--rates", "1000").map(Number);
const PIDS = listOption("--server-pids", "").filter(Boolean).map(Number);
const EXTENSIONS = COMPRESS ? "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n" : "";

// Latency histogram: 20 µs buckets up to 10 s.
const BUCKET = 0.02;
const histogram = new Uint32Array(500_000);
let delivered = 0;
let measuring = false;

/** One subscriber: skips the 101 head, then counts data frames (reading timestamps in latency mode). */
class Subscriber {
  head = true;
  headText = "";
  skip = 0; // payload bytes left in the current frame
  partial: number[] = []; // a frame header split across chunks
  stamp = ""; // the payload's first bytes, in latency mode
  stampLeft = 0;
  closed = false;

  data(chunk: Uint8Array): void {
    let i = 0;
    if (this.head) {
      this.headText += new TextDecoder("latin1").decode(chunk);
      const end = this.headText.indexOf("\r\n\r\n");
      if (end < 0) return;
      i = chunk.length - (this.headText.length - end - 4);
      this.head = false;
      opened++;
    }
    const n = chunk.length;
    while (i < n) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, n - i);
        if (this.stampLeft > 0) this.#stampBytes(chunk, i, Math.min(take, this.stampLeft));
        this.skip -= take;
        i += take;
        if (this.skip === 0) this.#frameDone();
        continue;
      }
      // A header: 2 bytes, then 2 or 8 bytes of length (servers do not mask).
      let b0: number, b1: number, at: number;
      const have = this.partial.length;
      if (have > 0 || n - i < 2) {
        while (this.partial.length < 2 && i < n) this.partial.push(chunk[i++]);
        if (this.partial.length < 2) return;
        b0 = this.partial[0];
        b1 = this.partial[1];
        const extra = (b1 & 127) === 126 ? 2 : (b1 & 127) === 127 ? 8 : 0;
        while (this.partial.length < 2 + extra && i < n) this.partial.push(chunk[i++]);
        if (this.partial.length < 2 + extra) return;
        this.#start(b0, this.#length(this.partial, 1));
        this.partial = [];
        continue;
      }
      b0 = chunk[i];
      b1 = chunk[i + 1];
      const extra = (b1 & 127) === 126 ? 2 : (b1 & 127) === 127 ? 8 : 0;
      if (n - i < 2 + extra) {
        while (i < n) this.partial.push(chunk[i++]);
        return;
      }
      at = i + 1;
      i += 2 + extra;
      this.#start(b0, this.#length(chunk, at));
    }
  }

  #length(bytes: ArrayLike<number>, at: number): number {
    const l = bytes[at] & 127;
    if (l < 126) return l;
    if (l === 126) return (bytes[at + 1] << 8) | bytes[at + 2];
    let v = 0;
    for (let k = 1; k <= 8; k++) v = v * 256 + bytes[at + k];
    return v;
  }

  #opcode = 0;
  #start(b0: number, length: number): void {
    this.#opcode = b0 & 0x0f;
    if (this.#opcode === 0x8) this.closed = true;
    this.skip = length;
    this.stamp = "";
    this.stampLeft = MODE === "latency" && this.#opcode === 0x1 ? Math.min(16, length) : 0;
    if (length === 0) this.#frameDone();
  }

  #stampBytes(chunk: Uint8Array, from: number, count: number): void {
    for (let k = 0; k < count; k++) this.stamp += String.fromCharCode(chunk[from + k]);
    this.stampLeft -= count;
  }

  #frameDone(): void {
    if (this.#opcode !== 0x1 && this.#opcode !== 0x2) return;
    delivered++;
    if (MODE === "latency" && measuring) {
      const sent = parseFloat(this.stamp);
      if (sent > 0) histogram[Math.min(histogram.length - 1, Math.floor((performance.now() - sent) / BUCKET))]++;
    }
  }
}

let opened = 0;
// Called after every chunk read: the throughput loop sends more when the window allows.
let pump: (() => void) | undefined;
const request = (port: number, path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${EXTENSIONS}\r\n`;

function open(port: number, path: string, subscriber: Subscriber): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => {
      subscriber.data(chunk);
      pump?.();
    });
    socket.once("connect", () => {
      socket.write(request(port, path));
      resolve(socket);
    });
    socket.once("error", reject);
    socket.on("close", () => (subscriber.closed = true));
  });
}

// A masked text frame with a zero key (the payload goes as is), for the publisher.
function frame(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const n = payload.length;
  const header = n < 126 ? [0x81, 0x80 | n] : [0x81, 0x80 | 126, n >> 8, n & 0xff];
  const out = new Uint8Array(header.length + 4 + n);
  out.set(header);
  out.set(payload, header.length + 4);
  return out;
}

function cpuSeconds(): number {
  let ticks = 0;
  for (const pid of PIDS) {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks / 100;
}

async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

const subscribers: Subscriber[] = [];
const sockets: Socket[] = [];
for (let i = 0; i < SUBS; i++) {
  const subscriber = new Subscriber();
  subscribers.push(subscriber);
  sockets.push(await open(PORTS[i % PORTS.length], "/sub", subscriber));
  if (i % 500 === 499) await waitUntil(() => opened >= i - 200, 10_000);
}
if (!await waitUntil(() => opened === SUBS, 30_000)) throw new Error(`Only ${opened} of ${SUBS} subscribers opened`);
const pubState = new Subscriber();
const pub = await open(PORTS[0], "/pub", pubState);
await waitUntil(() => opened === SUBS + 1, 10_000);
await sleep(300); // the servers' subscriptions reach the broker
const live = () => subscribers.filter((s) => !s.closed).length;

if (MODE === "probe") {
  for (let k = 0; k < 5; k++) {
    const before = delivered;
    const t = performance.now();
    pub.write(frame("probe message"));
    let first = 0;
    await waitUntil(() => ((first ||= delivered > before ? performance.now() - t : 0), delivered - before >= SUBS), 5000);
    console.log(`first ${first.toFixed(1)} ms, all ${(performance.now() - t).toFixed(1)} ms, got ${delivered - before}`);
  }
} else if (MODE === "throughput") {
  for (const size of SIZES) {
    delivered = 0;
    const message = frame(jsonText(size).slice(0, size).padEnd(size, " "));
    let sent = 0;
    // At most WINDOW messages ahead of the deliveries (counted in messages' worth).
    pump = () => {
      while (sent - delivered / SUBS < WINDOW) {
        pub.write(message);
        sent++;
      }
    };
    const run = async (ms: number) => {
      pump!();
      await sleep(ms);
    };
    await run(WARMUP);
    const d0 = delivered;
    const c0 = cpuSeconds();
    const t0 = performance.now();
    await run(MS);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds() - c0;
    const count = delivered - d0;
    pump = undefined;
    await waitUntil(() => delivered >= sent * SUBS, 5000);
    console.log(JSON.stringify({ size, deliveries_per_s: count / seconds, server_cpu_us: (cpu * 1e6) / count, server_cores: cpu / seconds, live: live(), lost: sent * SUBS - delivered }));
  }
} else {
  const size = SIZES[0];
  for (const rate of RATES) {
    histogram.fill(0);
    const start = delivered;
    let sent = 0;
    measuring = true;
    const t0 = performance.now();
    // Every 5 ms, the messages due by then, each stamped with the time it was due.
    while (performance.now() - t0 < MS) {
      const due = Math.floor(((performance.now() - t0) / 1000) * rate);
      for (; sent < due; sent++) pub.write(frame(`${(t0 + (sent / rate) * 1000).toFixed(3)} `.padEnd(size, "x")));
      await sleep(5);
    }
    const expected = sent * SUBS;
    await waitUntil(() => delivered - start >= expected, 3000);
    measuring = false;
    const got = delivered - start;
    const percentile = (p: number) => {
      const total = histogram.reduce((a, b) => a + b, 0);
      let seen = 0;
      for (let b = 0; b < histogram.length; b++) {
        seen += histogram[b];
        if (seen >= total * p) return (b + 0.5) * BUCKET;
      }
      return NaN;
    };
    console.log(JSON.stringify({ rate, sent, subscribers: live(), expected, delivered: got, lost: Math.max(0, expected - got), p50_ms: percentile(0.5), p99_ms: percentile(0.99) }));
    if (live() < SUBS || got < expected) break;
    await sleep(200);
  }
}
for (const socket of [...sockets, pub]) socket.destroy();
process.exit(0);
