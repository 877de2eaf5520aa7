// Memory per idle connection: wsflow's Node server beside the `ws` package's, with and without
// permessage-deflate (RFC 7692), measured in the server's own process.
//
//   npm run bench:memory [-- --connections 1000 --rounds 3 --idle 2500 --waves 1 --json]   (Node 20, via .build/)
//   ... [-- --heap-snapshots DIR]   (also writes DIR/<server>-<deflate|plain>-{before,after}.heapsnapshot
//                                    in round 1, to see where the bytes go, e.g. in Chrome DevTools'
//                                    Comparison view; slows that round down)
//
// Per configuration, each in fresh processes:
//
// 1. A server process (bench/memory_server.ts, run with --expose-gc): wsflow's `serve` from
//    wsflow/node with `upgradeWebSocket(request, { compression: true })` and the README's echo
//    (`readable.pipeTo(writable)`), or ws's `WebSocketServer({ perMessageDeflate: true })`
//    echoing with `ws.send(data, { binary })`. Without compression: `{}` and `false`.
// 2. A client process (bench/memory_client.ts) with `ws` clients (the same client for both
//    servers; `perMessageDeflate` on only for the compressed rows). Warm-up: 20 connections are
//    opened, used and closed, so module loading, JIT code and first-use caches are paid before
//    the baseline. Then the server measures (baseline), the client opens N connections, each
//    sends one ~2 KiB JSON-like text message (above both libraries' 1024-byte threshold) and
//    waits for its echo, so on the server both zlib contexts exist (inflate from the client's
//    compressed message, deflate from the compressed echo; ws and wsflow both create them on
//    first use), then everything idles and the server measures again.
// 3. bytes per connection = (after - baseline) / N for rss, heapTotal, heapUsed, external and arrayBuffers
//    from process.memoryUsage() after forced full GCs, as the server reports it over IPC.
//    "opening" is how long the connections took to open and exchange their message (in all
//    waves): when it is longer than releaseIdleAfter, the first connections' contexts are freed
//    (and their memory reused) before the last ones open.
//
// What the columns see: heapTotal is the V8 heap V8 keeps committed (heapUsed plus free space
// between GCs).  zlib's own buffers (deflate: 2^(windowBits+2) + 2^(memLevel+9) bytes,
// 256 KiB at 15/8; inflate: 2^windowBits, 32 KiB, plus a few KiB of state) are malloc'd by zlib
// and, on Node 20, appear only in rss, not in `external`. `external` and `arrayBuffers` hold
// Buffers and ArrayBuffers (e.g. each node:zlib stream's 16 KiB output buffer). rss is the
// honest total but noisy (allocator slack, pages not yet returned); with --rounds > 1 the table
// shows the median of the rounds for every cell.
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { flag, info, jsonText, machineName, median, numberOption, option, sleep, Table } from "./_util.ts";

const json = flag("--json");
const CONNECTIONS = numberOption("--connections", 1000);
// How long the connections idle before the measurement: longer than wsflow's default
// compression.releaseIdleAfter (1 s; contexts are freed 1 to 2 s after their last message).
const IDLE_MS = numberOption("--idle", 2500);
// Connections opened in this many waves, each followed by the idle time: with several, the
// connections are active at different times, as on a server whose clients come and go.
const WAVES = numberOption("--waves", 1);
const ROUNDS = numberOption("--rounds", 3);
const SNAPSHOTS = flag("--heap-snapshots") ? option("--heap-snapshots", "") : undefined;
const WARMUP = 20;
const TIMEOUT_MS = 60_000; // per step; the whole run is bounded by the steps

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

type Usage = NodeJS.MemoryUsage;
type Message = { type: string; [key: string]: unknown };

// Waits for the next IPC message of `type` from `child` (or fails on an error report, an exit or the timeout).
function next(child: ChildProcess, type: string, what: string): Promise<Message> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`memory bench: timed out waiting for ${what}`)), TIMEOUT_MS);
    const onMessage = (message: Message) => {
      if (message.type === "error") done(new Error(`memory bench: ${what}: ${message.message}`));
      else if (message.type === type) done(undefined, message);
    };
    const onExit = (code: number | null) => done(new Error(`memory bench: a child exited (${code}) while waiting for ${what}`));
    const done = (error?: Error, message?: Message) => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (error) reject(error);
      else resolve(message!);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

interface Measure {
  usage: Usage;
  open: number;
  deflated: number;
}
async function measure(server: ChildProcess): Promise<Measure> {
  const reply = next(server, "memory", "the server's memory report");
  server.send({ type: "measure" });
  return (await reply) as unknown as Measure;
}

const FIELDS = ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"] as const;
type Field = (typeof FIELDS)[number];
type PerConnection = Record<Field, number>;

const TEXT = jsonText(2048);

async function snapshot(server: ChildProcess, path: string): Promise<void> {
  const reply = next(server, "snapshot", "a heap snapshot");
  server.send({ type: "snapshot", path });
  await reply;
}

async function run(server: "wsflow" | "ws", compression: boolean, keep: boolean, snapshots?: string): Promise<PerConnection & { openMs: number }> {
  const serverProcess = fork(here(`memory_server${ext}`), ["--server", server, "--compression", compression ? (keep ? "keep" : "on") : "off"], {
    execArgv: ["--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const clientProcess = fork(here(`memory_client${ext}`), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  // A send to a child that died throws through 'error'; the waiting step reports the exit instead.
  for (const child of [serverProcess, clientProcess]) child.on("error", () => {});
  try {
    const { port } = await next(serverProcess, "listening", "the server to listen");
    const url = `ws://127.0.0.1:${port}/`;
    const openClients = async (count: number, add = count) => {
      const reply = next(clientProcess, "opened", `${count} connections`);
      clientProcess.send({ type: "open", url, count: add, compression, text: TEXT });
      const opened = await reply;
      if (opened.count !== count || opened.deflated !== (compression ? count : 0)) {
        throw new Error(`memory bench: the client has ${opened.count} connections, ${opened.deflated} with deflate; expected ${count}`);
      }
    };
    const closeClients = async () => {
      const reply = next(clientProcess, "closed", "the connections to close");
      clientProcess.send({ type: "close" });
      await reply;
    };
    // The server's count trails the client's by its own close handling.
    const settle = async (open: number): Promise<Measure> => {
      for (let tries = 0; ; tries++) {
        const m = await measure(serverProcess);
        if (m.open === open && m.deflated === (compression ? open : 0)) return m;
        if (tries > 100) throw new Error(`memory bench: the server has ${m.open} connections (${m.deflated} with deflate), expected ${open}`);
        await sleep(50);
      }
    };
    await openClients(WARMUP);
    await closeClients();
    const before = await settle(0);
    const name = `${snapshots}/${server}-${compression ? "deflate" : "plain"}`;
    if (snapshots) await snapshot(serverProcess, `${name}-before.heapsnapshot`);
    let openMs = 0; // time spent opening connections (and exchanging their message)
    for (let wave = 1, open = 0; wave <= WAVES; wave++) {
      const total = Math.round((CONNECTIONS * wave) / WAVES);
      const opening = performance.now();
      await openClients(total, total - open);
      openMs += performance.now() - opening;
      open = total;
      await sleep(IDLE_MS); // idle
    }
    const after = await settle(CONNECTIONS);
    if (snapshots) await snapshot(serverProcess, `${name}-after.heapsnapshot`);
    const per = { openMs } as PerConnection & { openMs: number };
    for (const field of FIELDS) per[field] = (after.usage[field] - before.usage[field]) / CONNECTIONS;
    return per;
  } finally {
    clientProcess.kill();
    serverProcess.kill();
  }
}

const started = performance.now();
const wsVersion = (createRequire(import.meta.url)("ws/package.json") as { version: string }).version;
info(`wsflow memory benchmark on Node ${process.version} (V8 ${process.versions.v8}), ${machineName()}, ws ${wsVersion}`);
info(
  `${CONNECTIONS} idle connections from ws clients over 127.0.0.1, each after one ${TEXT.length}-byte JSON-like text message` +
    ` echoed back (compressed both ways when deflate is on), ${WAVES > 1 ? `opened in ${WAVES} waves, each followed by` : "then"} ${IDLE_MS} ms idle; bytes per connection in the server = (after - before) / ${CONNECTIONS},` +
    ` after forced GCs; median of ${ROUNDS} round(s), fresh processes each\n`,
);

const configs = [
  { server: "wsflow", compression: true },
  { server: "ws", compression: true },
  { server: "wsflow", compression: false },
  { server: "ws", compression: false },
  // wsflow keeping its zlib contexts for the connection's life, as ws does (releaseIdleAfter: Infinity).
  { server: "wsflow", compression: true, keep: true },
] as const;
const samples = configs.map(() => [] as (PerConnection & { openMs: number })[]);
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order, so neither library always runs on a fresher machine.
  const order = round % 2 ? [...configs.keys()].reverse() : [...configs.keys()];
  for (const i of order) samples[i].push(await run(configs[i].server, configs[i].compression, "keep" in configs[i], round === 0 ? SNAPSHOTS : undefined));
}
const results = configs.map((c, i) => {
  const row = { server: c.server, compression: c.compression, kept_contexts: "keep" in c, connections: CONNECTIONS, rounds: ROUNDS, idle_ms: IDLE_MS } as Record<string, unknown>;
  for (const field of FIELDS) row[field] = Math.round(median(samples[i].map((s) => s[field])));
  row.rss_samples = samples[i].map((s) => Math.round(s.rss));
  row.open_ms = Math.round(median(samples[i].map((s) => s.openMs)));
  return row as { server: string; compression: boolean } & PerConnection & Record<string, unknown>;
});

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const table = new Table([8, 8, 12, 12, 12, 12, 13, 9, 24], 2);
if (json) {
  for (const row of results) console.log(JSON.stringify(row));
} else {
  console.log(table.head(["server", "deflate", "rss", "heapTotal", "heapUsed", "external", "arrayBuffers", "opening", "rss per round"]));
  for (const r of results) {
    console.log(table.line([r.server, r.kept_contexts ? "kept" : r.compression ? "yes" : "no", kib(r.rss), kib(r.heapTotal), kib(r.heapUsed), kib(r.external), kib(r.arrayBuffers), `${((r.open_ms as number) / 1000).toFixed(1)} s`, (r.rss_samples as number[]).map((n) => (n / 1024).toFixed(0)).join(" / ")]));
  }
}
info("");
for (const compression of [true, false]) {
  const [a, b] = [results.find((r) => r.server === "wsflow" && r.compression === compression && !r.kept_contexts)!, results.find((r) => r.server === "ws" && r.compression === compression)!];
  const ratio = (f: (r: PerConnection) => number) => (f(b) > 256 ? `${(f(a) / f(b)).toFixed(2)}x` : "n/a (ws ~0)");
  info(
    `wsflow/ws ${compression ? "with deflate   " : "without deflate"}: rss ${ratio((r) => r.rss)}, heapUsed ${ratio((r) => r.heapUsed)},` +
      ` external ${ratio((r) => r.external)}, heapUsed+external ${ratio((r) => r.heapUsed + r.external)}`,
  );
}
const [wd, wsd, wp, wsp, wk] = results;
info(`deflate's own cost (deflate row - plain row): wsflow rss ${kib(wd.rss - wp.rss)}, heapUsed+external ${kib(wd.heapUsed + wd.external - wp.heapUsed - wp.external)};` +
  ` ws rss ${kib(wsd.rss - wsp.rss)}, heapUsed+external ${kib(wsd.heapUsed + wsd.external - wsp.heapUsed - wsp.external)}`);
info(`wsflow keeping its contexts (compression.releaseIdleAfter: Infinity, "kept"): rss ${kib(wk.rss)} = ${(wk.rss / wsd.rss).toFixed(2)}x ws, heapUsed+external ${kib(wk.heapUsed + wk.external)}`);
const ok = wd.rss <= wsd.rss && wd.heapUsed + wd.external <= wsd.heapUsed + wsd.external;
info(`\n${ok ? "PASS" : "FAIL"}  memory per idle deflate connection no more than ws (rss and heapUsed+external): wsflow ${kib(wd.rss)} rss, ${kib(wd.heapUsed + wd.external)} heap+external; ws ${kib(wsd.rss)} rss, ${kib(wsd.heapUsed + wsd.external)} heap+external`);
info(`\n${((performance.now() - started) / 1000).toFixed(0)} s`);
