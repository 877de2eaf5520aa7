// Codec benchmark: wsflow's core, driven as a connection drives it, against the `ws` package's
// Receiver and Sender, in one process, with a plain copy of the same bytes as the floor.
//
//   npm run bench:codec [-- --json] [-- --samples 7 --ms 200 --slice 10 --warmup 150]   (Node 20, via .build/)
//   ... [-- --sizes 16,1048576 --ops decode]                        (a subset, for profiling)
//   ... [-- --ops deflate --deflate-sizes 1024]                     (only compressed rows)
//   ... [-- --ops decode,text --sizes 16384 --text-sizes 16384]      (text against binary)
//   ... [-- --processes 0]                                           (no fresh-process runs, below)
//   node_modules/.bin/node bench/codec.ts                          (Node 24, type stripping)
//   node_modules/.bin/deno run -A bench/codec.ts
//   node_modules/.bin/bun bench/codec.ts
//
// What one row measures (messages of `size` payload bytes; MB = 10^6 payload bytes):
//
// - decode: a byte stream of back-to-back frames, cut into 64 KiB socket-sized chunks with no
//   regard to frame boundaries (small frames and headers straddle chunks, a 1 MiB frame spans 17
//   chunks). Before every pass, outside the timed region, both libraries get fresh chunks, as a
//   server reads them: each chunk in its own new ArrayBuffer (both unmask in place, so nothing is
//   reused from pass to pass). wsflow: every chunk goes to Session.receive(), then takeOutput()
//   and the events are handled until none is left, as a connection does; ws: Receiver.write()
//   (its real entry point, synchronous events). Every whole message goes to a callback that adds
//   up its length. Masked = client frames decoded by a server; unmasked = server frames decoded by
//   a client.
// - decode views: the same, but the chunks are views into one buffer of the whole stream (as a
//   transport that reads into one large buffer hands them out), so a 64 KiB or 1 MiB message
//   spans chunks that share one buffer; compare with the decode row of the same size.
// - text-decode: JSON-like text messages; wsflow hands out strings, ws's message (bytes it
//   validated as UTF-8) is turned into a string with toString(), as a server that wants the text does.
// - encode / text-encode: one message -> the bytes a socket is handed. wsflow: Session.send(),
//   then takeOutput() handed to the write the runtime's transport makes: on Node a vectored write
//   (a corked socket, one writev: chunks counted, not copied); on Deno and Bun, whose sockets have
//   no writev, a flush of several chunks up to 64 KiB joined into one reused buffer (the copy
//   is timed) and larger ones written chunk by chunk. On Deno and Bun, text of 256 code units or
//   more goes to the transport as a string after its header, which it encodes into the join
//   buffer, as wsflow's transports there do. ws: Sender.send() into a socket whose write()
//   counts lengths (ws corks a Node socket around a frame's writes) and turns a string it is
//   given into bytes with Buffer.from, as a Node socket's vectored write allocates and encodes. Masked = client role
//   (a fresh key per frame, output copied so the caller's payload is untouched, in both libraries).
// - copy: an allocating copy (Uint8Array.prototype.slice) of each message's payload: the floor
//   any decoder that hands out a message it owns must pay, since the stream's chunks are not its
//   to keep. set: Uint8Array.prototype.set of the same bytes into one preallocated buffer, shown
//   for reference only (no decoder can hand out a reused buffer).
// - deflate-decode / deflate-encode: see bench/codec_deflate.ts.
//
// Every row is prepared and warmed up first, so the JIT has seen every kind of traffic before
// anything is timed (as on a server). Then `--samples` rounds: each round runs every row, in an
// order rotated from round to round, and each row's wsflow, ws, copy and set cases for at least
// `--ms` ms each, taking turns in slices of about `--slice` ms (at least one pass), also in
// rotated order. A shared machine has slow spells of a second or so that halve every case, the
// memcpy floor too; taking turns spreads such a spell over all four cases of the row, where one
// case after another would put it on one or two of them. The table shows each case's median over
// the rounds, and the spread of the per-round wsflow/ws ratio (lowest-highest): a wide spread is
// then wsflow's or ws's own. On Node, the masked 16 B decode row is then run alone in
// `--processes` fresh processes (5 by default), one figure each: whether what a process gets
// depends on its history (a server decodes for as long as it lives with whatever mode it fell
// into), which the rounds of one process cannot show.
import process from "node:process";
import { flag, info, jsonText, listOption, machineName, median, numberOption, randomBytes, shortCount, sleep, Table } from "./_util.ts";
import {
  addSink, type Case, check, copyFloor, same, setFloor, streamOf, wsDecode, wsDir, wsEncode, wsflowDecode, wsflowEncode,
  type WritePolicy,
} from "./codec_cases.ts";
import { deflateCases } from "./codec_deflate.ts";
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";

const PASS_BYTES = 4 * 1024 * 1024; // payload bytes per pass (at most 65,536 messages, at least 4)

const json = flag("--json");
const SAMPLES = numberOption("--samples", 7);
const SAMPLE_MS = numberOption("--ms", 200);
const WARMUP_MS = numberOption("--warmup", 150);
const SLICE_MS = numberOption("--slice", 10);
// --sizes and --ops run a subset (for profiling); the targets are checked on the rows that ran.
const SIZES = listOption("--sizes", "16,1024,65536,1048576").map(Number);
const OPS = listOption("--ops", "decode,views,text,encode,deflate");
const DEFLATE_SIZES = listOption("--deflate-sizes", "1024,65536").map(Number);
const TEXT_SIZES = listOption("--text-sizes", "16,16384").map(Number);

interface Runtime {
  Deno?: { version: { deno: string; v8: string } };
  Bun?: { version: string };
}
const g = globalThis as Runtime;
const runtime = g.Deno ? `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})` : g.Bun ? `Bun ${g.Bun.version} (JavaScriptCore)` : `Node ${process.version} (V8 ${process.versions.v8})`;
// What the runtime's byte-level transport does with a flush of several chunks.
const policy: WritePolicy = g.Deno || g.Bun ? "join" : "writev";
// After the table (Node only): the masked 16 B decode row alone in this many fresh processes, the
// question being whether a process's figure depends on its history (0: none).
const PROCESSES = g.Deno || g.Bun ? 0 : numberOption("--processes", 5);
const require = createRequire(import.meta.url);
const wsVersion = (require("ws/package.json") as { version: string }).version;
function installed(name: string): string {
  try {
    const path = createRequire(wsDir + "lib/buffer-util.js").resolve(name);
    return path.includes("/") ? "INSTALLED" : "built into the runtime";
  } catch {
    return "not installed";
  }
}

type Op = "decode" | "decode views" | "text-decode" | "encode" | "text-encode" | "deflate-decode" | "deflate-encode";
interface Row {
  op: Op;
  masked: boolean;
  size: number;
  wsflow_msgs: number;
  wsflow_mbps: number;
  ws_msgs: number;
  ws_mbps: number;
  /** Allocating copy (slice) of the same payload bytes: the floor the targets use. */
  copy_mbps: number;
  /** Copy into a preallocated buffer (set), for reference. */
  set_mbps: number;
  /** wsflow/ws of the medians, and the lowest and highest per-round wsflow/ws. */
  ratio: number;
  ratio_low: number;
  ratio_high: number;
  /** The lowest and highest per-round rates of each library (messages/s). */
  wsflow_low: number;
  wsflow_high: number;
  ws_low: number;
  ws_high: number;
  copy_ratio: number;
  /** permessage-deflate rows only: mean compressed payload bytes per message, from wsflow's and ws's encoders. */
  wsflow_wire?: number;
  ws_wire?: number;
}
interface Spec {
  op: Op;
  masked: boolean;
  size: number;
  cases: Case[]; // wsflow, ws, copy, set
  wire?: [number, number];
}

const TEXT = jsonText(1 << 20);
const countOf = (size: number) => Math.max(4, Math.min(65536, Math.floor(PASS_BYTES / size)));

// A decode row: the stream, the self-checks (both libraries deliver exactly the payloads), the cases.
function decodeSpec(op: "decode" | "decode views" | "text-decode", masked: boolean, size: number): Spec {
  const text = op === "text-decode" ? TEXT.slice(0, size) : undefined;
  const payload = text !== undefined ? new TextEncoder().encode(text) : randomBytes(size, 0x9e3779b9 ^ size);
  const count = countOf(size);
  const { bytes: pristine, offsets } = streamOf(payload, count, masked, text !== undefined ? 0x81 : 0x82);
  const chunking = op === "decode views" ? "views" : "owned";
  const expected = (m: string | Uint8Array) => (typeof m === "string" ? m === text : same(m, payload));
  for (const [name, make] of [["wsflow", wsflowDecode], ["ws", wsDecode]] as const) {
    let ok = 0;
    const c = make(pristine, chunking, masked, count, (m) => void (ok += expected(m) ? 1 : 0));
    c.reset!();
    c.run();
    check(ok === count, `${name} ${op} ${size}${masked ? " masked" : ""}`);
  }
  const sources = offsets.map((o) => pristine.subarray(o, o + size));
  const cases = [wsflowDecode(pristine, chunking, masked, count), wsDecode(pristine, chunking, masked, count), copyFloor(sources), setFloor(sources, size)];
  return { op, masked, size, cases };
}

// An encode row, with its self-check: both emit exactly the expected frame bytes.
function encodeSpec(op: "encode" | "text-encode", masked: boolean, size: number): Spec {
  const message = op === "text-encode" ? TEXT.slice(0, size) : randomBytes(size, 0x9e3779b9 ^ size);
  const count = countOf(size);
  const cases = [wsflowEncode(message, masked, count, policy), wsEncode(message, masked, count)];
  const frameBytes = (2 + (size < 126 ? 0 : size < 0x10000 ? 2 : 8) + (masked ? 4 : 0) + size) * count;
  for (const [i, name] of [[0, "wsflow"], [1, "ws"]] as const) {
    const before = addSink(0);
    cases[i].run();
    check(addSink(0) - before === frameBytes, `${name} ${op} ${size}${masked ? " masked" : ""} emitted ${addSink(0) - before} bytes, expected ${frameBytes}`);
  }
  const payload = typeof message === "string" ? new TextEncoder().encode(message) : message;
  const sources: Uint8Array[] = Array(count).fill(payload);
  return { op, masked, size, cases: [...cases, copyFloor(sources), setFloor(sources, size)] };
}

// One round of one row: messages per second of each of `cases` over at least `ms` of timed
// passes each, the cases taking turns (in `order`) in slices of about `slice` ms (at least one
// pass), so that a slow spell of a shared machine falls on every case of the row alike. An
// asynchronous pass is timed until its promise settles.
async function sampleRow(cases: Case[], order: number[], ms: number, slice: number): Promise<number[]> {
  const time = cases.map(() => 0);
  const messages = cases.map(() => 0);
  while (time.some((t) => t < ms)) {
    for (const i of order) {
      if (time[i] >= ms) continue;
      const c = cases[i];
      const end = Math.min(ms, time[i] + slice);
      while (time[i] < end) {
        c.reset?.();
        const start = performance.now();
        const n = c.run();
        messages[i] += typeof n === "number" ? n : await n;
        time[i] += performance.now() - start;
      }
    }
    await sleep(0); // lets ws's deferred ticks run, as a real socket would
  }
  return messages.map((m, i) => (m * 1000) / time[i]);
}

const started = performance.now();
info(`wsflow codec benchmark on ${runtime}, ${machineName()}`);
info(
  `ws ${wsVersion}: bufferutil ${installed("bufferutil")}, utf-8-validate ${installed("utf-8-validate")};` +
    ` ${SAMPLES} rounds x ${SAMPLE_MS} ms per cell in turns of ${SLICE_MS} ms, rows in rotated order, median shown; wsflow writes a flush as ${policy === "join" ? "one joined write up to 64 KiB" : "one vectored write"}`,
);
info("MB = 10^6 payload bytes; copy = allocating copy (slice) of the same payload bytes, the floor for copy/wsflow; set = copy into a preallocated buffer, for reference only\n");

const specs: Spec[] = [];
for (const op of OPS) {
  for (const masked of [true, false]) {
    if (op === "decode" || op === "encode") for (const size of SIZES) specs.push(op === "decode" ? decodeSpec(op, masked, size) : encodeSpec(op, masked, size));
    if (op === "views") for (const size of SIZES.filter((s) => s >= 65536)) specs.push(decodeSpec("decode views", masked, size));
  }
  if (op === "text") {
    for (const size of TEXT_SIZES) specs.push(decodeSpec("text-decode", true, size));
    for (const size of TEXT_SIZES) specs.push(encodeSpec("text-encode", false, size));
  }
  if (op === "deflate") {
    for (const dop of ["deflate-decode", "deflate-encode"] as const) {
      for (const size of DEFLATE_SIZES) specs.push({ op: dop, masked: dop === "deflate-decode", size, ...(await deflateCases(dop, size)) });
    }
  }
}

// Warm-up, then the rounds.
for (const spec of specs) await sampleRow(spec.cases, spec.cases.map((_, i) => i), WARMUP_MS, SLICE_MS);
const rates = specs.map((spec) => spec.cases.map((): number[] => []));
for (let r = 0; r < SAMPLES; r++) {
  for (let k = 0; k < specs.length; k++) {
    const s = (k + r) % specs.length;
    const cases = specs[s].cases;
    const order = cases.map((_, j) => (j + r) % cases.length);
    const round = await sampleRow(cases, order, SAMPLE_MS, SLICE_MS);
    for (let i = 0; i < cases.length; i++) rates[s][i].push(round[i]);
  }
}

const rows: Row[] = specs.map((spec, s) => {
  const [wsflow, ws, copy, set] = rates[s].map(median);
  const perRound = rates[s][0].map((x, r) => x / rates[s][1][r]);
  const mbps = (rate: number) => Number(((rate * spec.size) / 1e6).toFixed(1));
  const row: Row = {
    op: spec.op,
    masked: spec.masked,
    size: spec.size,
    wsflow_msgs: Math.round(wsflow),
    wsflow_mbps: mbps(wsflow),
    ws_msgs: Math.round(ws),
    ws_mbps: mbps(ws),
    copy_mbps: mbps(copy),
    set_mbps: mbps(set),
    ratio: Number((wsflow / ws).toFixed(2)),
    ratio_low: Number(Math.min(...perRound).toFixed(2)),
    ratio_high: Number(Math.max(...perRound).toFixed(2)),
    wsflow_low: Math.round(Math.min(...rates[s][0])),
    wsflow_high: Math.round(Math.max(...rates[s][0])),
    ws_low: Math.round(Math.min(...rates[s][1])),
    ws_high: Math.round(Math.max(...rates[s][1])),
    copy_ratio: Number((copy / wsflow).toFixed(2)),
  };
  if (spec.wire) [row.wsflow_wire, row.ws_wire] = spec.wire.map(Math.round);
  return row;
});

const sizeName = (n: number) => (n >= 1 << 20 ? `${n >> 20} MiB` : n >= 1024 ? `${n >> 10} KiB` : `${n} B`);
const mb = (n: number) => (n >= 1000 ? n.toFixed(0) : n.toFixed(1));
const columns = ["op", "masked", "size", "wsflow msg/s", "wsflow MB/s", "ws msg/s", "ws MB/s", "copy MB/s", "set MB/s", "wsflow/ws", "per round", "copy/wsflow"];
const table = new Table([14, 6, 7, 12, 11, 10, 9, 9, 9, 9, 11, 11], 2);
if (json) for (const row of rows) console.log(JSON.stringify(row));
else {
  console.log(table.head(columns));
  for (const row of rows) {
    console.log(table.line([
      row.op, row.masked ? "yes" : "no", sizeName(row.size), shortCount(row.wsflow_msgs), mb(row.wsflow_mbps), shortCount(row.ws_msgs), mb(row.ws_mbps),
      mb(row.copy_mbps), mb(row.set_mbps), `${row.ratio.toFixed(2)}x`, `${row.ratio_low.toFixed(2)}-${row.ratio_high.toFixed(2)}`, `${row.copy_ratio.toFixed(2)}x`,
    ]));
  }
}
const wire = rows.filter((r) => r.op === "deflate-encode").map((r) => `${sizeName(r.size)} -> ${r.wsflow_wire} B (wsflow), ${r.ws_wire} B (ws)`);
if (wire.length) {
  info(
    `\ndeflate rows: JSON-like text as binary messages, context takeover, zlib level 6 / memLevel 8 / 15-bit windows in both;` +
      ` MB/s of uncompressed payload; ws's zlib is asynchronous, so its passes are timed until the last message completes.` +
      ` Mean compressed payload per message: ${wire.join("; ")}.`,
  );
}

// The targets, each checked on the rows that ran.
const find = (op: Op, masked: boolean, size: number) => rows.find((r) => r.op === op && r.masked === masked && r.size === size);
const name = (r: Row) => `${r.op}${r.masked ? " masked" : ""} ${sizeName(r.size)}`;
const targets: [string, Row[], (r: Row) => boolean, (r: Row) => string][] = [
  ["wsflow >= 1.5x ws for 16 B binary messages", rows.filter((r) => r.size === 16 && (r.op === "decode" || r.op === "encode")), (r) => r.ratio >= 1.5, (r) => `${r.ratio}x`],
  ["masked 16 B decode steady: every round's wsflow/ws within 1.5x of the others", rows.filter((r) => r.op === "decode" && r.masked && r.size === 16), (r) => r.ratio_high <= 1.5 * r.ratio_low, (r) => `${r.ratio_low}x-${r.ratio_high}x (per round: wsflow ${shortCount(r.wsflow_low)}-${shortCount(r.wsflow_high)}, ws ${shortCount(r.ws_low)}-${shortCount(r.ws_high)} messages/s)`],
  ["wsflow >= 3x ws for masked 1 MiB", rows.filter((r) => r.masked && r.size === 1 << 20 && (r.op === "decode" || r.op === "encode")), (r) => r.ratio >= 3, (r) => `${r.ratio}x`],
  ["unmasked encode of 1 KiB to 1 MiB at or above ws", rows.filter((r) => r.op === "encode" && !r.masked && r.size >= 1024), (r) => r.ratio >= 1, (r) => `${r.ratio}x`],
  ["wsflow never below ws", rows, (r) => r.ratio >= 1, (r) => `${r.ratio}x`],
  ["unmasking 1 MiB within 3x of an allocating copy", rows.filter((r) => r.op === "decode" && r.masked && r.size === 1 << 20), (r) => r.copy_ratio <= 3, (r) => `${r.copy_ratio}x slower than slice()`],
  [
    "chunks that are views into one buffer decode within 10% of chunks that own their buffers",
    rows.filter((r) => r.op === "decode views" && find("decode", r.masked, r.size)),
    (r) => r.wsflow_msgs >= 0.9 * find("decode", r.masked, r.size)!.wsflow_msgs,
    (r) => `${(r.wsflow_msgs / find("decode", r.masked, r.size)!.wsflow_msgs).toFixed(2)}x of owned`,
  ],
];
// The masked 16 B decode row in fresh processes, each running only it (and its unmasked twin):
// one figure per process, for the line below.
const fresh: { wsflow: number; ws: number }[] = [];
if (PROCESSES > 0 && OPS.includes("decode") && SIZES.includes(16)) {
  const args = ["--ops", "decode", "--sizes", "16", "--samples", "5", "--processes", "0"];
  info(`\nmasked 16 B decode alone in ${PROCESSES} fresh processes (${args.join(" ")}):`);
  for (let p = 0; p < PROCESSES; p++) {
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...args, "--json"], { encoding: "utf8" });
    const row = child.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Row).find((r) => r.op === "decode" && r.masked && r.size === 16);
    if (!row) throw new Error(`codec: a fresh process printed no masked 16 B row (status ${child.status}): ${child.stderr.slice(-500)}`);
    fresh.push({ wsflow: row.wsflow_msgs, ws: row.ws_msgs });
    info(`  process ${p + 1}: wsflow ${shortCount(row.wsflow_msgs)}, ws ${shortCount(row.ws_msgs)} messages/s (${row.ratio}x)`);
  }
}
info("");
for (const [title, subjects, ok, detail] of targets) {
  if (subjects.length === 0) continue;
  const failed = subjects.filter((r) => !ok(r));
  const shown = title === "wsflow never below ws" ? (failed.length ? failed : [subjects.reduce((a, b) => (b.ratio < a.ratio ? b : a))]) : subjects;
  info(`${failed.length ? "FAIL" : "PASS"}  ${title}: ${shown.map((r) => `${name(r)} ${detail(r)}`).join(", ")}`);
}
if (fresh.length > 0) {
  const rates = fresh.map((f) => f.wsflow);
  const [low, high] = [Math.min(...rates), Math.max(...rates)];
  const ratios = fresh.map((f) => f.wsflow / f.ws);
  info(
    `${high <= 1.5 * low ? "PASS" : "FAIL"}  masked 16 B decode, one mode across ${fresh.length} fresh processes: every process's wsflow figure within 1.5x of the others: ` +
      `wsflow ${shortCount(low)}-${shortCount(high)} messages/s (${(high / low).toFixed(2)}x apart), wsflow/ws ${Math.min(...ratios).toFixed(2)}x-${Math.max(...ratios).toFixed(2)}x`,
  );
}
info(`\n${((performance.now() - started) / 1000).toFixed(0)} s; sink ${addSink(0) > 0 ? "ok" : "empty"}`);
