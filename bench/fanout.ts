// Fanout benchmark: topics, one publisher to many subscribers, side by side in one run.
//
//   npm run bench:fanout [-- --quick] [-- --runs 3 --subs 10000 --ms 2000] [-- --compression off,on]
//   npm run bench:fanout -- --skip-brokers | --skip-fanout [-- --rate 500 --b-subs 200]
//   npm run bench:fanout -- --skip-brokers --servers wsflow-node,wsflow-bun-codec   (those rows and their references)
//   npm run bench:fanout -- --profile .prof   (a CPU profile per Node and Bun server, written as each stops)
//
// Part 1, one process: 1 publisher, --subs subscribers (10,000), messages of 32 B and 1 KiB,
// compression off and on. Each row: deliveries per second (median over --runs rounds, each with
// fresh processes) and the server's CPU per delivery (utime + stime from /proc, in µs), for
// wsflow's Topics on Node, Deno and Bun, `ws` with its documented broadcast loop over
// wss.clients, and Bun.serve's own `server.publish`. The publisher (a raw WebSocket client)
// keeps --window messages in flight: it sends the next one as deliveries come in. Subscribers are
// raw clients in one generator process (bench/fanout_load.ts, on Bun) that count frames without
// decoding them, so every server meets the same cheap client. The server is pinned to CPU 0,
// the generator to CPU 1 (taskset). Compression: permessage-deflate with no server context
// takeover, threshold 0 (every message compressed), Bun's "shared" compressor.
//
// Part 2, across processes: 2 and 4 wsflow servers on Node, sharing topics through Redis and
// NATS (redis-server, nats-server started on free ports), --b-subs subscribers spread over
// them, the publisher on the first. At --rate messages/s: publish-to-receive latency p50 and p99
// (stamped by the generator's clock at the time each message was due). Then rates doubling from
// --rate until a round loses a delivery: the highest rate held with no loss.
//
// Goals (the issue's): wsflow on Node at least 2x ws's loop; wsflow on Bun, byte-level (codec),
// at least 0.8x Bun's own publish. Printed PASS/FAIL per cell.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { flag, info, listOption, machineName, median, numberOption, option, shortCount, sleep, Table } from "./_util.ts";
import { broker } from "../tests/topics/_brokers.ts";

const QUICK = flag("--quick");
const RUNS = numberOption("--runs", QUICK ? 1 : 3);
const SUBS = numberOption("--subs", QUICK ? 2000 : 10_000);
const MS = numberOption("--ms", QUICK ? 1000 : 2000);
const WARMUP = numberOption("--warmup", QUICK ? 300 : 500);
const WINDOW = numberOption("--window", 16);
const B_SUBS = numberOption("--b-subs", 200);
const RATE = numberOption("--rate", 500);
const COMPRESSION = listOption("--compression", "off,on").map((c) => (c === "on" ? 1 : 0));
const PROFILE = option("--profile", "");
const PIN = !flag("--no-pin") && spawnSync("taskset", ["-c", "0", "true"]).status === 0 && os.cpus().length >= 2;

const here = dirname(fileURLToPath(import.meta.url));
const built = here.includes(join(".build", "bench"));
const root = built ? resolve(here, "../..") : resolve(here, "..");
const nodeScript = join(here, `fanout_server.${built ? "js" : "ts"}`);
const sourceScript = (name: string) => join(root, "bench", `${name}.ts`);
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const NODE = process.execPath;
const DENO = bin("deno");
const BUN = bin("bun");
const GEN = existsSync(BUN) ? [BUN, sourceScript("fanout_load")] : [NODE, join(here, `fanout_load.${built ? "js" : "ts"}`)];

interface Spec {
  id: string;
  name: string;
  runtime: string;
  path: string;
  ref?: string;
  cmd: string[];
}
const profiled = PROFILE ? ["--cpu-prof", "--cpu-prof-dir", resolve(PROFILE)] : [];
const node = (args: string[]) => [NODE, ...profiled, nodeScript, ...args];
const deno = (args: string[]) => [DENO, "run", "-A", "--no-check", sourceScript("fanout_server"), ...args];
const bun = (args: string[]) => [BUN, ...profiled, sourceScript("fanout_server"), ...args];
const SPECS: Spec[] = [
  { id: "ws-node", name: "ws (loop)", runtime: "node", path: "ws", cmd: node(["--server", "ws"]) },
  { id: "wsflow-node", name: "wsflow", runtime: "node", path: "codec", ref: "ws-node", cmd: node(["--server", "wsflow", "--mode", "codec"]) },
  { id: "wsflow-deno", name: "wsflow", runtime: "deno", path: "codec", cmd: deno(["--server", "wsflow", "--mode", "codec"]) },
  { id: "bun-publish", name: "Bun publish", runtime: "bun", path: "native", cmd: bun(["--server", "bun-publish"]) },
  { id: "wsflow-bun-codec", name: "wsflow", runtime: "bun", path: "codec", ref: "bun-publish", cmd: bun(["--server", "wsflow", "--mode", "codec"]) },
  { id: "wsflow-bun-native", name: "wsflow", runtime: "bun", path: "native", ref: "bun-publish", cmd: bun(["--server", "wsflow", "--mode", "native"]) },
];
const GOALS: Record<string, number> = { "wsflow-node": 2, "wsflow-bun-codec": 0.8 };
// --servers ws-node,wsflow-node: only these rows (a row's reference is run with it).
const WANTED = new Set(listOption("--servers", SPECS.map((spec) => spec.id).join(",")));
for (const spec of SPECS) if (WANTED.has(spec.id) && spec.ref) WANTED.add(spec.ref);
const RUN_SPECS = SPECS.filter((spec) => WANTED.has(spec.id));

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** Starts a process; resolves with it and the first JSON line it prints. */
function start(cmd: string[], cpu: string | undefined): Promise<{ child: ChildProcess; port: number }> {
  const [command, ...args] = PIN && cpu ? ["taskset", "-c", cpu, ...cmd] : cmd;
  const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd.join(" ")} did not start: ${out}`)), 30_000);
    child.stderr!.on("data", (d) => (out += d));
    child.stdout!.on("data", (d) => {
      out += d;
      const match = /\{"port":(\d+)\}/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.once("exit", (code) => reject(new Error(`${cmd.join(" ")} exited (${code}): ${out}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((done) => child.once("exit", done));
  // A profiled server writes its profile as it exits on SIGTERM.
  child.kill(PROFILE ? "SIGTERM" : "SIGKILL");
  await exited;
  children.delete(child);
}

/** Runs the generator; resolves with the JSON rows it printed. */
function generate(args: string[]): Promise<Record<string, number>[]> {
  const cmd = PIN ? ["taskset", "-c", "1", ...GEN] : GEN;
  const child = spawn(cmd[0], [...cmd.slice(1), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      const rows = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
      if (code !== 0 || rows.length === 0) reject(new Error(`the generator failed (${code}): ${out.slice(-2000)}`));
      else resolve(rows);
    });
  });
}

// CPU seconds the whole machine has used so far (every process, ours included).
function busy(): number {
  const [user, nice, system] = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/).slice(1, 4).map(Number);
  return (user + nice + system) / 100;
}

function versionOf(command: string): string {
  const r = spawnSync(command, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split("\n")[0].trim() : "missing";
}

async function partOne(): Promise<boolean> {
  info(`\n## 1. One process: 1 publisher, ${shortCount(SUBS)} subscribers (median of ${RUNS} round(s), ${MS} ms each after ${WARMUP} ms warm-up, ${WINDOW} messages in flight)\n`);
  const samples = new Map<string, { rate: number; us: number; cores: number; live: number }[]>();
  const key = (id: string, compress: number, size: number) => `${id}/${compress}/${size}`;
  const machine0 = busy();
  const wall0 = performance.now();
  for (let run = 0; run < RUNS; run++) {
    for (const compress of COMPRESSION) {
      for (const spec of RUN_SPECS) {
        console.error(`[${new Date().toISOString().slice(11, 19)}] round ${run + 1}/${RUNS}, compression ${compress ? "on" : "off"}: ${spec.id}`);
        const server = await start([...spec.cmd, "--compress", String(compress)], "0");
        try {
          const rows = await generate(["--ports", String(server.port), "--subs", String(SUBS), "--sizes", "32,1024", "--compress", String(compress), "--server-pids", String(server.child.pid), "--window", String(WINDOW), "--ms", String(MS), "--warmup", String(WARMUP)]);
          for (const row of rows) {
            const k = key(spec.id, compress, row.size);
            if (!samples.has(k)) samples.set(k, []);
            samples.get(k)!.push({ rate: row.deliveries_per_s, us: row.server_cpu_us ?? NaN, cores: row.server_cores, live: row.live });
          }
        } catch (error) {
          info(`${spec.id} compress ${compress}: ${(error as Error).message.split("\n")[0]}`);
        } finally {
          await stop(server.child);
        }
      }
    }
  }
  const seconds = (performance.now() - wall0) / 1000;
  const machineCores = (busy() - machine0) / seconds;
  const table = new Table([11, 7, 6, 5, 12, 5, 8, 14, 11], 4);
  let ok = true;
  for (const compress of COMPRESSION) {
    info(`compression ${compress ? "on (permessage-deflate, no server context takeover)" : "off"}:\n`);
    info(table.head(["server", "runtime", "path", "size", "deliveries/s", "cores", "µs/deliv", "vs ref (cpu)", "goal"]));
    for (const size of [32, 1024]) {
      for (const spec of SPECS) {
        const s = samples.get(key(spec.id, compress, size)) ?? [];
        const rate = s.length ? median(s.map((x) => x.rate)) : NaN;
        if (!s.length) continue;
        const us = s.length ? median(s.map((x) => x.us)) : NaN;
        const cores = s.length ? median(s.map((x) => x.cores)) : NaN;
        let vs = "";
        let goal = "";
        if (spec.ref) {
          const r = samples.get(key(spec.ref, compress, size)) ?? [];
          const ratio = rate / median(r.map((x) => x.rate));
          const cost = median(r.map((x) => x.us)) / us;
          vs = `${ratio.toFixed(2)}x (${cost.toFixed(2)}x)`;
          const want = GOALS[spec.id];
          if (want !== undefined) {
            const pass = ratio >= want;
            ok &&= pass;
            goal = `${pass ? "PASS" : "FAIL"} >=${want}x`;
          }
        }
        const closed = s.length ? SUBS - Math.min(...s.map((x) => x.live)) : 0;
        const fixed = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");
        info(table.line([spec.name, spec.runtime, spec.path, size === 32 ? "32 B" : "1 KiB", shortCount(rate), fixed(cores), fixed(us), vs, goal]) + (closed > 0 ? `  (${closed} subscribers closed)` : ""));
      }
    }
    info("");
  }
  info(`deliveries/s: subscribers' frames counted by the generator; cores: the server's CPU use; µs/deliv: the server's CPU time per delivery.`);
  info(`vs ref: deliveries/s over the reference's (ws for Node, Bun's publish for Bun), and in brackets its CPU per delivery over ours (above 1: we cost less).`);
  info(`the whole machine was busy ${machineCores.toFixed(2)} of ${os.cpus().length} cores on average during part 1 (ours and everyone else's).`);
  return ok;
}

async function partTwo(): Promise<void> {
  info(`\n## 2. Across processes: wsflow on Node, ${B_SUBS} subscribers spread over the processes, publisher on the first\n`);
  const table = new Table([6, 9, 12, 9, 9, 14], 2);
  info(table.head(["broker", "processes", "steady rate", "p50 ms", "p99 ms", "held, no loss"]));
  for (const kind of ["redis", "nats"] as const) {
    const server = await broker(kind);
    try {
      for (const count of [2, 4]) {
        const servers: { child: ChildProcess; port: number }[] = [];
        try {
          for (let i = 0; i < count; i++) servers.push(await start([...node(["--server", "wsflow", "--broker", kind, "--broker-url", server.url])], undefined));
          const rates = [RATE];
          for (let r = RATE * 2; r <= 64_000; r *= 2) rates.push(r);
          const rows = await generate(["--mode", "latency", "--ports", servers.map((s) => s.port).join(","), "--subs", String(B_SUBS), "--sizes", "64", "--rates", rates.join(","), "--ms", String(QUICK ? 1000 : 1500)]);
          const steady = rows[0];
          const held = rows.filter((row, i) => row.lost === 0 && rows.slice(0, i).every((earlier) => earlier.lost === 0)).at(-1);
          info(table.line([kind, String(count), `${RATE} msg/s`, steady.p50_ms.toFixed(2), steady.p99_ms.toFixed(2), held ? `${shortCount(held.rate)} msg/s` : "none"]));
        } finally {
          for (const s of servers) await stop(s.child);
        }
      }
    } finally {
      await server.stop();
    }
  }
  info(`\nlatency: from the time a message was due at the publisher to its arrival at a subscriber (same clock: one generator process). ` +
    `held: the highest of the rates tried (doubling from ${RATE}) at which every subscriber got every message, ${B_SUBS} subscribers x rate deliveries/s.`);
}

info(`# wsflow fanout benchmark\n\n${machineName()}; Node ${process.versions.node}, ${versionOf(DENO)}, Bun ${versionOf(BUN)}; ws ${JSON.parse(readFileSync(join(root, "node_modules", "ws", "package.json"), "utf8")).version}; ` +
  `server pinned to CPU 0 and generator to CPU 1: ${PIN ? "yes" : "no"}; generator on ${GEN[0].endsWith("bun") ? "Bun" : "Node"}`);
const passed = flag("--skip-fanout") ? undefined : await partOne();
if (!flag("--skip-brokers")) await partTwo();
info(`\ngoals: ${passed === undefined ? "not measured (part 1 skipped)" : passed ? "PASS" : "FAIL"}`);
await sleep(0);
process.exit(0);
