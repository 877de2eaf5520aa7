// Echo benchmark: loopback WebSocket round trips against wsflow's servers and the runtimes' own,
// all driven by one load generator (bench/echo_load.ts) in a separate process.
//
//   npm run bench:echo [-- --quick] [-- --json] [-- --runs 3 --ms 1500 --warmup 500]
//   npm run bench:echo -- --only wsflow-node,ws-node [--profile .prof]   (a subset; CPU profiles of the Node and Bun servers)
//   npm run bench:echo -- --gen bun|node   --no-pin
//   npm run bench:echo -- --kinds binary,text --sizes 32,16384 --conns 1,64   (the defaults)
//
// The orchestrator (this file) runs on Node 20 from .build/ (npm run bench:echo compiles first);
// Node servers run on the same Node, Deno and Bun servers on node_modules/.bin/{deno,bun}, from
// the TypeScript sources.
//
// What one row measures: `conns` connections each send a message of `size` bytes (binary: random
// bytes; text: JSON-like ASCII, which every server echoes as text), wait
// for the whole echo, and send again (closed loop). msgs/s = round trips completed per second
// over all connections; p50/p99 = round-trip latency. All servers run at once (idle but for the
// one under load); for each cell there are --runs rounds, and each round runs one generator
// process per server in turn (fresh connections, --warmup ms of load, one --ms sample), so noise
// from the rest of the machine hits every server alike. The table shows, per metric, the median
// over the rounds.
//
// Fairness on a small machine: the server is pinned to CPU 0 and the load generator to CPU 1
// (taskset; --no-pin to turn off), so each gets one core and they never contend. Each row
// shows the server's and the generator's CPU use (in cores) over the samples, and the footer how
// busy everything else on the machine was (noise). The `tcp` row is a raw TCP echo (no
// WebSocket work at all): the most the generator can drive, so the headroom the footer reports
// is that ceiling over the fastest WebSocket server. The `tcp-node` row is the same raw echo on
// Node's net module: the floor of any Node server's cost per message, shown as a ratio over ws;
// `tcp-upgrade-node` the same on a socket from node:http's `upgrade` event, as WebSocket servers
// on Node get theirs.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type EchoSample, flag, info, listOption, machineName, median, option, shortCount, Table } from "./_util.ts";

const QUICK = flag("--quick");
const JSON_OUT = flag("--json");
const RUNS = Number(option("--runs", QUICK ? "1" : "3"));
const SAMPLE_MS = Number(option("--ms", QUICK ? "500" : "1200"));
const WARMUP_MS = Number(option("--warmup", QUICK ? "250" : "400"));
const PIN = !flag("--no-pin") && spawnSync("taskset", ["-c", "0", "true"]).status === 0 && os.cpus().length >= 2;
const ONLY = listOption("--only", "").filter(Boolean);
const PROFILE = option("--profile", "");
const SIZES = listOption("--sizes", "32,16384").map(Number);
const CONNS = listOption("--conns", "1,64").map(Number);
const KINDS = listOption("--kinds", "binary,text") as ("binary" | "text")[];

// Where things are: from .build/bench/echo.js (Node 20) or bench/echo.ts (a runtime that runs .ts).
const here = dirname(fileURLToPath(import.meta.url));
const built = here.includes(`${join(".build", "bench")}`);
const root = built ? resolve(here, "../..") : resolve(here, "..");
const ext = built ? "js" : "ts";
const nodeScript = (name: string) => join(here, `${name}.${ext}`);
const sourceScript = (name: string) => join(root, "bench", `${name}.ts`);
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const NODE = process.execPath;
const DENO = bin("deno");
const BUN = bin("bun");
// The load generator runs on Bun (Bun.connect: the cheapest writes) unless told otherwise.
const GEN = option("--gen", existsSync(BUN) ? "bun" : "node") as "node" | "bun";

function versionOf(cmd: string, flagArg = "--version"): string {
  const r = spawnSync(cmd, [flagArg], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split("\n")[0].trim() : "missing";
}

type Family = "node" | "deno" | "bun";
interface ServerSpec {
  id: string;
  /** What the table calls it. */
  name: string;
  runtime: string;
  path: string;
  family: Family;
  /** The reference this row is compared with (another spec's id). */
  ref?: string;
  cmd: string[];
  /** Why it cannot run, when it cannot. */
  missing?: string;
}

const adapterMissing = (file: string) => (existsSync(join(root, "src", "adapters", file)) ? undefined : "n/a (adapter missing)");
const denoServer = (extra: string[]) => [DENO, "run", "-A", "--no-check", sourceScript("echo_server"), ...extra];
// Node and Bun take the same --cpu-prof flags (Bun's profiles open in the same tools).
const profileFlags = PROFILE ? ["--cpu-prof", "--cpu-prof-dir", resolve(PROFILE)] : [];
const bunServer = (extra: string[]) => [BUN, ...profileFlags, sourceScript("echo_server"), ...extra];
const nodeServer = (extra: string[], profile = false) => [
  NODE,
  ...(profile ? profileFlags : []),
  nodeScript("echo_server"),
  ...extra,
];

const SPECS: ServerSpec[] = [
  { id: "tcp", name: "tcp echo", runtime: "bun", path: "ceiling", family: "bun", cmd: bunServer(["--server", "tcp"]) },
  { id: "tcp-node", name: "tcp echo", runtime: "node", path: "floor", family: "node", cmd: nodeServer(["--server", "tcp"], true) },
  { id: "tcp-upgrade-node", name: "upgrade", runtime: "node", path: "floor", family: "node", cmd: nodeServer(["--server", "upgrade"], true) },
  { id: "ws-node", name: "ws", runtime: "node", path: "ws", family: "node", cmd: nodeServer(["--server", "ws"], true) },
  {
    id: "wsflow-node", name: "wsflow", runtime: "node", path: "codec", family: "node", ref: "ws-node",
    cmd: nodeServer(["--server", "wsflow", "--mode", "codec", "--loop", option("--loop", "pipe")], true),
  },
  { id: "tcp-deno", name: "tcp echo", runtime: "deno", path: "floor", family: "deno", cmd: denoServer(["--server", "tcp"]) },
  { id: "deno-native", name: "Deno.serve", runtime: "deno", path: "native", family: "deno", cmd: denoServer(["--server", "native"]) },
  {
    id: "wsflow-deno-native", name: "wsflow", runtime: "deno", path: "native", family: "deno", ref: "deno-native",
    cmd: denoServer(["--server", "wsflow", "--mode", "native"]), missing: adapterMissing("deno/mod.ts"),
  },
  {
    id: "wsflow-deno-codec", name: "wsflow", runtime: "deno", path: "codec", family: "deno", ref: "deno-native",
    cmd: denoServer(["--server", "wsflow", "--mode", "codec"]), missing: adapterMissing("deno/mod.ts"),
  },
  { id: "bun-native", name: "Bun.serve", runtime: "bun", path: "native", family: "bun", cmd: bunServer(["--server", "native"]) },
  {
    id: "wsflow-bun-native", name: "wsflow", runtime: "bun", path: "native", family: "bun", ref: "bun-native",
    cmd: bunServer(["--server", "wsflow", "--mode", "native"]), missing: adapterMissing("bun/mod.ts"),
  },
  {
    id: "wsflow-bun-codec", name: "wsflow", runtime: "bun", path: "codec", family: "bun", ref: "bun-native",
    cmd: bunServer(["--server", "wsflow", "--mode", "codec"]), missing: adapterMissing("bun/mod.ts"),
  },
];

interface Row {
  server: string;
  id: string;
  runtime: string;
  path: string;
  size: number;
  kind: "binary" | "text";
  conns: number;
  msgs: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  server_cpu: number | null;
  gen_cpu: number | null;
  other_cpu: number | null;
  ref: string | null;
  ratio: number | null;
  /** Server CPU time per round trip, in microseconds: the cost, less sensitive to noise than msgs/s. */
  server_us: number | null;
  /** server_us of the reference over this row's (above 1: cheaper than the reference). */
  cost_ratio: number | null;
  note?: string;
}

function pinned(cpu: number, cmd: string[]): string[] {
  return PIN ? ["taskset", "-c", String(cpu), ...cmd] : cmd;
}

interface Running {
  child: ChildProcess;
  port: number;
  pid: number;
  runtime: string;
  stderr: () => string;
}

// Starts a server and waits (at most 20 s) for its `{ port, pid }` line.
function startServer(spec: ServerSpec): Promise<Running> {
  const [cmd, ...rest] = pinned(0, spec.cmd);
  const child = spawn(cmd, rest, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no port within 20 s${err ? `: ${err.trim()}` : ""}`));
    }, 20_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        const { port, pid, runtime } = JSON.parse(out.slice(0, nl)) as { port: number; pid: number; runtime: string };
        resolvePromise({ child, port, pid, runtime, stderr: () => err });
      } catch {
        child.kill("SIGKILL");
        reject(new Error(`unexpected output: ${out.slice(0, 200)}`));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}${err ? `: ${err.trim().split("\n").slice(0, 3).join(" | ")}` : ""}`));
    });
  });
}

async function stopServer(running: Running): Promise<void> {
  if (running.child.exitCode !== null) return;
  const exited = new Promise<void>((r) => running.child.once("exit", () => r()));
  running.child.kill("SIGTERM");
  const timer = setTimeout(() => running.child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

// One cell: a load generator process against a running server.
function runLoad(running: Running, size: number, kind: string, conns: number, verify: boolean): Promise<EchoSample[]> {
  const loadArgs = [
    "--port", String(running.port), "--size", String(size), "--kind", kind, "--conns", String(conns), "--warmup", String(WARMUP_MS),
    "--ms", String(SAMPLE_MS), "--runs", "1", "--server-pid", String(running.pid), ...(verify ? [] : ["--no-verify"]),
  ];
  const genCmd = GEN === "bun"
    ? [BUN, sourceScript("echo_load"), ...loadArgs] : [NODE, nodeScript("echo_load"), ...loadArgs];
  const [cmd, ...rest] = pinned(1, genCmd);
  const child = spawn(cmd, rest, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const limit = WARMUP_MS + SAMPLE_MS + 20_000;
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`load generator still running after ${limit} ms`));
    }, limit);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(err.trim() || `load generator exited with ${code}`));
      try {
        resolvePromise((JSON.parse(out) as { samples: EchoSample[] }).samples);
      } catch {
        reject(new Error(`load generator printed ${out.slice(0, 200)}`));
      }
    });
  });
}

const sizeName = (n: number) => (n >= 1024 ? `${n >> 10} KiB` : `${n} B`);
const ms = (n: number) => (n >= 10 ? n.toFixed(1) : n >= 1 ? n.toFixed(2) : n.toFixed(3));
const runtimeLabel: Record<string, string> = {};

const columns = ["server", "runtime", "path", "size", "kind", "conns", "msgs/s", "p50 ms", "p99 ms", "srv cpu", "gen cpu", "srv us/msg", "vs ref", "by cost"];
const table = new Table([10, 7, 7, 6, 6, 5, 8, 7, 7, 7, 7, 10, 18, 7], 3);

function printRow(row: Row): void {
  if (JSON_OUT) return console.log(JSON.stringify(row));
  const cells = [row.server, runtimeLabel[row.runtime] ?? row.runtime, row.path, sizeName(row.size), row.kind, String(row.conns)];
  if (row.msgs === null) {
    console.log(table.line([...cells, "", "", "", "", "", ""]).trimEnd() + "  " + (row.note ?? "n/a"));
    return;
  }
  const ratio = row.ratio === null ? (row.ref ? "n/a" : "") : `${row.ratio.toFixed(2)}x ${SPECS.find((s) => s.id === row.ref)!.name}`;
  console.log(table.line([
    ...cells, shortCount(row.msgs), ms(row.p50_ms!), ms(row.p99_ms!),
    row.server_cpu === null ? "?" : row.server_cpu.toFixed(2), row.gen_cpu!.toFixed(2),
    row.server_us === null ? "?" : row.server_us.toFixed(1), ratio, row.cost_ratio === null ? "" : `${row.cost_ratio.toFixed(2)}x`,
  ]));
}

// ---------------------------------------------------------------------------------------------

const started = performance.now();
const nodeVersion = process.version;
runtimeLabel.node = `Node${nodeVersion.replace(/^v/, "").split(".")[0]}`;
runtimeLabel.deno = "Deno";
runtimeLabel.bun = "Bun";
info(`wsflow echo benchmark, ${machineName()}, ${os.platform()} ${os.release()}`);
info(
  `servers: Node ${nodeVersion} (${NODE}), ${versionOf(DENO)}, Bun ${versionOf(BUN)}; load generator: ${
    GEN === "bun" ? `Bun ${versionOf(BUN)} (Bun.connect)` : `Node ${nodeVersion} (node:net)`
  }, raw TCP, pre-masked frames`,
);
info(
  `${PIN ? "server pinned to CPU 0, load generator to CPU 1" : "no CPU pinning"}; ${WARMUP_MS} ms warm-up, then one ${SAMPLE_MS} ms sample per` +
    ` cell per round, ${RUNS} round(s) interleaving all servers, median shown; cpu = cores used during the samples`,
);
if (!/^v20\./.test(nodeVersion)) info(`note: the targets are stated for Node 20; this run's Node servers run on Node ${nodeVersion}`);
if (!JSON_OUT) console.log("\n" + table.head(columns));

const rows: Row[] = [];
const specs = SPECS.filter((s) => ONLY.length === 0 || ONLY.includes(s.id));

// Every server starts first (idle ones cost nothing), so the rounds can interleave them.
const running = new Map<string, Running>();
const failures = new Map<string, string>();
for (const spec of specs) {
  if (spec.missing) {
    failures.set(spec.id, spec.missing);
    continue;
  }
  try {
    running.set(spec.id, await startServer(spec));
  } catch (error) {
    failures.set(spec.id, `n/a (server failed: ${(error as Error).message.slice(0, 160)})`);
  }
}

for (const kind of KINDS) for (const size of SIZES) {
  for (const conns of CONNS) {
    // Round-robin: round r runs one sample against every server before round r + 1, so noise
    // from the rest of the machine hits each server alike.
    const samples = new Map<string, EchoSample[]>();
    for (let round = 0; round < RUNS; round++) {
      for (const spec of specs) {
        const server = running.get(spec.id);
        if (!server || failures.has(spec.id)) continue;
        try {
          const got = await runLoad(server, size, kind, conns, !spec.id.startsWith("tcp"));
          samples.set(spec.id, [...(samples.get(spec.id) ?? []), ...got]);
        } catch (error) {
          const message = (error as Error).message.split("\n")[0].slice(0, 160);
          const serverErr = server.child.exitCode !== null ? ` (server exited: ${server.stderr().trim().split("\n")[0]})` : "";
          // A server that died fails from here on; a load failure fails this cell only.
          if (server.child.exitCode !== null) failures.set(spec.id, `n/a (${message}${serverErr})`);
          else samples.set(spec.id, []);
          if (server.child.exitCode === null) failures.set(`${spec.id}@${kind}${size}x${conns}`, `n/a (${message})`);
        }
      }
    }
    for (const spec of specs) {
      const got = samples.get(spec.id) ?? [];
      const note = failures.get(`${spec.id}@${kind}${size}x${conns}`) ?? failures.get(spec.id);
      let row: Row;
      if (note || got.length === 0) {
        row = {
          server: spec.name, id: spec.id, runtime: spec.runtime, path: spec.path, size, kind, conns, msgs: null, p50_ms: null,
          p99_ms: null, server_cpu: null, gen_cpu: null, other_cpu: null, ref: spec.ref ?? null, ratio: null, server_us: null,
          cost_ratio: null, note: note ?? "n/a",
        };
      } else {
        const pick = (f: (s: EchoSample) => number | null) => {
          const xs = got.map(f).filter((x): x is number => x !== null);
          return xs.length ? Number(median(xs).toFixed(3)) : null;
        };
        const ref = spec.ref ? rows.find((r) => r.id === spec.ref && r.size === size && r.kind === kind && r.conns === conns) : undefined;
        const msgs = Math.round(pick((s) => s.msgs)!);
        // Per-sample CPU per message, then the median (not a ratio of medians).
        const server_us = pick((s) => (s.serverCpu === null ? null : (s.serverCpu * 1e6) / s.msgs));
        row = {
          server: spec.name, id: spec.id, runtime: spec.runtime, path: spec.path, size, kind, conns, msgs,
          p50_ms: pick((s) => s.p50), p99_ms: pick((s) => s.p99), server_cpu: pick((s) => s.serverCpu),
          gen_cpu: pick((s) => s.genCpu), other_cpu: pick((s) => s.otherCpu), ref: spec.ref ?? null,
          ratio: ref?.msgs ? Number((msgs / ref.msgs).toFixed(2)) : null,
          server_us: server_us === null ? null : Number(server_us.toFixed(2)),
          cost_ratio: ref?.server_us && server_us ? Number((ref.server_us / server_us).toFixed(2)) : null,
        };
      }
      rows.push(row);
      printRow(row);
    }
    if (!JSON_OUT) console.log("");
  }
}
for (const server of running.values()) await stopServer(server);

// ---------------------------------------------------------------------------------------------
// The targets from the issue.

type Cell = [size: number, conns: number, kind: "binary" | "text"];
const get = (id: string, size: number, conns: number, kind = "binary") =>
  rows.find((r) => r.id === id && r.size === size && r.conns === conns && r.kind === kind);
const cellName = ([size, conns, kind]: Cell) => `${sizeName(size)}${kind === "text" ? " text" : ""} x${conns}`;
type Verdict = "PASS" | "FAIL" | "n/a";
const verdicts: [Verdict, string, string][] = [];
function verdict(label: string, min: number, cells: Cell[], ratioOf: (cell: Cell) => { ratio: number | null; detail?: string; note?: string }): void {
  const found = cells.map((cell) => ({ cell, ...ratioOf(cell) }));
  const missing = found.find((f) => f.ratio === null);
  if (missing) return void verdicts.push(["n/a", label, missing.note ?? "not measured"]);
  const worst = Math.min(...found.map((f) => f.ratio!));
  const detail = found.map((f) => `${cellName(f.cell)} ${f.ratio!.toFixed(2)}x${f.detail ?? ""}`).join(", ");
  verdicts.push([worst >= min ? "PASS" : "FAIL", label, detail]);
}
// Messages per second against the row's reference (with its CPU cost ratio beside it).
function atLeast(label: string, id: string, min: number, cells: Cell[]): void {
  verdict(label, min, cells, (cell) => {
    const row = get(id, ...cell);
    if (!row || row.ratio === null) return { ratio: null, note: row?.note };
    return { ratio: row.ratio, detail: row.cost_ratio === null ? "" : ` (by CPU cost ${row.cost_ratio.toFixed(2)}x)` };
  });
}
// Server CPU per round trip: the raw echo's over this row's (1x: costs what the bare socket costs).
function nearFloor(label: string, id: string, floorId: string, min: number, cells: Cell[]): void {
  verdict(label, min, cells, (cell) => {
    const row = get(id, ...cell);
    const floor = get(floorId, ...cell);
    if (!row?.server_us || !floor?.server_us) return { ratio: null, note: row?.note ?? floor?.note };
    return { ratio: Number((floor.server_us / row.server_us).toFixed(2)), detail: ` (${floor.server_us.toFixed(1)} vs ${row.server_us.toFixed(1)} us)` };
  });
}
const all: Cell[] = KINDS.flatMap((kind) => SIZES.flatMap((size) => CONNS.map((conns) => [size, conns, kind] as Cell)));
const binary = all.filter(([, , kind]) => kind === "binary");
atLeast("wsflow Node >= 1.3x ws at 32 B over 64 connections", "wsflow-node", 1.3, [[32, 64, "binary"]]);
atLeast("wsflow Node >= 2.5x ws at 16 KiB over 64 connections", "wsflow-node", 2.5, [[16384, 64, "binary"]]);
atLeast("wsflow Deno message-level within 10% of Deno.serve (>= 0.9x, every cell)", "wsflow-deno-native", 0.9, all);
atLeast("wsflow Bun message-level within 10% of Bun.serve (>= 0.9x, every cell)", "wsflow-bun-native", 0.9, all);
atLeast("wsflow Deno byte-level >= 0.8x Deno.serve (every cell)", "wsflow-deno-codec", 0.8, all);
atLeast("wsflow Bun byte-level >= 0.8x Bun.serve (every cell)", "wsflow-bun-codec", 0.8, all);
// The cells named by the byte-level speed issue (64 connections).
atLeast("wsflow Deno codec, 16 KiB text echo >= 0.9x Deno.serve", "wsflow-deno-codec", 0.9, [[16384, 64, "text"]]);
atLeast("wsflow Bun codec, 32 B echo >= 0.9x Bun.serve", "wsflow-bun-codec", 0.9, [[32, 64, "binary"]]);
atLeast("wsflow Bun codec, 16 KiB text echo >= 0.9x Bun.serve", "wsflow-bun-codec", 0.9, [[16384, 64, "text"]]);
nearFloor("wsflow Node, server CPU per round trip: raw TCP echo's over wsflow's >= 0.85x", "wsflow-node", "tcp-node", 0.85, [[32, 64, "binary"], [16384, 64, "binary"]]);

info("");
if (!/^v20\./.test(nodeVersion)) info("(Node targets judged on a non-20 Node: not the headline)");
for (const [verdict, label, detail] of verdicts) info(`${verdict.padEnd(4)}  ${label}: ${detail}`);

// What no WebSocket server on node:net can beat: the same Node echoing raw bytes, no WebSocket
// work at all (the `tcp-node` row), as a ratio over ws.
const floorOverWs = (id: string) =>
  binary.flatMap((cell) => {
    const floor = get(id, ...cell);
    const ws = get("ws-node", ...cell);
    return floor?.msgs && ws?.msgs ? [`${cellName(cell)} ${(floor.msgs / ws.msgs).toFixed(2)}x`] : [];
  });
const floors = floorOverWs("tcp-node");
if (floors.length) info(`Node floor, a raw TCP echo on the same Node over ws: ${floors.join(", ")}`);
const upgradeFloors = floorOverWs("tcp-upgrade-node");
if (upgradeFloors.length) info(`Node floor on http upgrade sockets, the same raw echo over ws: ${upgradeFloors.join(", ")}`);

// The load generator's headroom, two ways: the TCP echo ceiling over the fastest WebSocket server
// per cell, and the generator's own CPU per round trip against each server's (on an otherwise
// quiet machine with one core each, the side that costs more per round trip saturates first).
const headroom: string[] = [];
const usPer = (cores: number | null, msgs: number | null) => (cores === null || !msgs ? null : (cores * 1e6) / msgs);
for (const cell of all) {
  const [size, conns, kind] = cell;
  const ceiling = get("tcp", ...cell);
  const real = rows.filter((r) => !r.id.startsWith("tcp") && r.size === size && r.conns === conns && r.kind === kind && r.msgs !== null);
  if (real.length === 0) continue;
  const best = real.reduce((a, b) => (b.msgs! > a.msgs! ? b : a));
  const genUs = real.map((r) => usPer(r.gen_cpu, r.msgs)).filter((x): x is number => x !== null);
  const tighter = real.filter((r) => r.server_us !== null && (usPer(r.gen_cpu, r.msgs) ?? 0) >= r.server_us);
  headroom.push(
    `${cellName(cell)}: ` +
      (ceiling?.msgs ? `ceiling ${shortCount(ceiling.msgs)} vs best ${shortCount(best.msgs!)} (${best.server} ${runtimeLabel[best.runtime]} ${best.path}) = ${(ceiling.msgs / best.msgs!).toFixed(2)}x; ` : "") +
      `generator ${median(genUs).toFixed(1)} us of CPU per round trip (median) vs servers ${
        Math.min(...real.map((r) => r.server_us ?? Infinity)).toFixed(1)
      }-${Math.max(...real.map((r) => r.server_us ?? 0)).toFixed(1)} us` +
      (tighter.length ? `; generator as costly as: ${tighter.map((r) => `${r.server} ${runtimeLabel[r.runtime]} ${r.path}`).join(", ")}` : ""),
  );
}
if (headroom.length) info(`\nload generator headroom:\n  ${headroom.join("\n  ")}`);
const noise = rows.map((r) => r.other_cpu).filter((x): x is number => x !== null);
if (noise.length) {
  const worst = Math.max(...noise);
  info(
    `other processes on the machine used ${median(noise).toFixed(2)} cores (median over cells; worst ${worst.toFixed(2)})` +
      (median(noise) > 0.1 ? ": the machine was not quiet, numbers are noisy" : worst > 0.3 ? ": some cells were disturbed" : ""),
  );
}
info(`\n${((performance.now() - started) / 1000).toFixed(0)} s`);
