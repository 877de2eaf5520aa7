// Python WebSocket clients nobody here wrote (websockets 10.4's asyncio client and aiohttp 3.8's
// ws_connect, both from Debian's /usr/bin/python3) against every wsflow server path: the codec in
// Node 24, Node 20, Deno and Bun, and the native paths on Deno.serve and Bun.serve. Each (server,
// library) pair runs _python_client.py once, which prints one JSON line of observations per
// behaviour; the tests assert on those lines and on the server's own record of a close
// (/closes/X). fixture_server.ts has the routes.
//
// This file is the driver: it runs under Node 22+ (Node 24 in the matrix) and skips on the other
// runtimes of scripts/test.mjs, which it starts itself.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { within } from "./_peer.ts";
import {
  bin, compileFixtureForOldNode, driverSkip, lane, node24, otherNode, root, type Running, spawnServer, type Startable, startServers, stopServers,
} from "./_servers.ts";

const PYTHON = "/usr/bin/python3";
const client = join(root, "tests/interop/_python_client.py");
const fixture = join(root, "tests/interop/fixture_server.ts");
const has = (file: string) => existsSync(join(root, file));
const LIBS = ["websockets", "aiohttp"] as const;
type Lib = (typeof LIBS)[number];

/** Why the Python clients cannot run here, or false. Only asked when the driver runs. */
function pythonMissing(): string | false {
  const probe = spawnSync(PYTHON, ["-c", "import websockets, aiohttp"], { encoding: "utf8", timeout: 20_000 });
  if (probe.error) return `${PYTHON} cannot run: ${probe.error.message}`;
  return probe.status === 0 ? false : `${PYTHON} cannot import websockets and aiohttp: ${probe.stderr.trim().split("\n").pop()}`;
}
const skip = driverSkip("the Python clients driver") || pythonMissing();

interface Server extends Startable {
  /** "ok" when the server's ping() works; "NotSupportedError" when it rejects so, as the path documents. */
  serverPing: "ok" | "NotSupportedError";
  /** Whether `compression` on the upgrade negotiates permessage-deflate on this path. */
  deflate: boolean;
  /**
   * What the peer sees and the server records when the runtime, not wsflow, fails a connection for
   * invalid UTF-8 in another way than a 1007 close frame (both 1007 by default).
   */
  invalidUtf8?: { peerSees: number; serverRecords: number; why: string };
  /** Why the runtime may close TCP before the peer's answering close frame is written, if it does. */
  closesAtOnce?: string;
}

const old = otherNode();
let oldFixture: ReturnType<typeof compileFixtureForOldNode> | undefined;
const noDeno = has("src/adapters/deno/mod.ts") ? undefined : "src/adapters/deno/mod.ts has not landed yet";
const noBun = has("src/adapters/bun/mod.ts") ? undefined : "src/adapters/bun/mod.ts has not landed yet";
const codec = { serverPing: "ok", deflate: true } as const;
const servers: Server[] = [
  { ...codec, name: "Node 24 wsflow (codec)", start: () => spawnServer(node24, [fixture]) },
  {
    ...codec,
    name: `Node ${old?.major ?? 20} wsflow (codec)`,
    unavailable: old ? undefined : "no Node older than 22 found (npm_node_execpath, /usr/bin/node)",
    start: () => spawnServer(old!.path, [(oldFixture ??= compileFixtureForOldNode()).entry]),
  },
  {
    // Deno.upgradeWebSocket has no ping API (ping() rejects with NotSupportedError) and no compression.
    name: "Deno wsflow (native)",
    serverPing: "NotSupportedError",
    deflate: false,
    invalidUtf8: {
      // RFC 6455 §7.1.5: a connection closed without a close frame has the close code 1006, whatever
      // code Deno's close event carries (it says 0 here).
      peerSees: 1006,
      serverRecords: 1006,
      why: "Deno.upgradeWebSocket (Deno 2.9) drops the TCP connection on a text frame of invalid UTF-8 without a " +
        "close frame (1007), so the peer sees 1006; a bare Deno.serve server (_deno_native_server.ts) does the same",
    },
    unavailable: noDeno,
    start: () => spawnServer(bin("deno"), ["run", "-A", fixture, "--mode", "native"]),
  },
  { ...codec, name: "Deno wsflow (codec)", unavailable: noDeno, start: () => spawnServer(bin("deno"), ["run", "-A", fixture, "--mode", "codec"]) },
  {
    ...codec,
    // wsflow's Bun.serve path turns Bun's perMessageDeflate off (src/adapters/bun/mod.ts). Bun
    // reports invalid UTF-8 to its close handler as 1006 (it sends 1007); wsflow says 1007.
    name: "Bun wsflow (native)",
    deflate: false,
    closesAtOnce: "Bun.serve (1.4) sends FIN right after its close frame without waiting for the peer's (RFC 6455 " +
      "§7.1.1 has the server close TCP once both close frames have passed); aiohttp's answering close frame then fails " +
      "with ConnectionResetError. A bare Bun.serve server (_bun_native_server.ts) does the same",
    unavailable: noBun,
    start: () => spawnServer(bin("bun"), [fixture, "--mode", "native"]),
  },
  { ...codec, name: "Bun wsflow (codec)", unavailable: noBun, start: () => spawnServer(bin("bun"), [fixture, "--mode", "codec"]) },
];

const BEHAVIOURS = [
  "subprotocol", "text", "binary", "large", "fragments out", "fragmented", "client ping", "server ping",
  "close from peer", "close from server", "rejection", "compression", "invalid utf-8",
] as const;
type Behaviour = (typeof BEHAVIOURS)[number];

/** Why `lib` cannot do `behaviour`, or false. */
function libSkip(lib: Lib, behaviour: Behaviour): string | false {
  if (lib === "aiohttp" && behaviour === "fragments out") return "aiohttp's client cannot send a message in fragments: send_bytes() writes one frame";
  return false;
}
const sameEverywhere: Partial<Record<Behaviour, unknown>> = {
  subprotocol: { chosen: "chat", none: null },
  text: "hello κόσμε 🙂",
  binary: { type: "binary", bytes: Array.from({ length: 256 }, (_, i) => i) },
  large: { type: "binary", length: 16 * 1024 * 1024, mismatches: 0 },
  "fragments out": { type: "binary", length: 100_000, mismatches: 0 },
  fragmented: { type: "binary", length: 100_000, mismatches: 0 },
  "client ping": { pong: "abc" },
  "close from server": { code: 4003, reason: "server says bye", clean: true },
  rejection: { opened: false, status: 401 },
};
// aiohttp's close() keeps the close code the server echoes, not its reason.
const closeFromPeer = { websockets: { code: 4001, reason: "peer says bye", clean: true }, aiohttp: { code: 4001, clean: true } };
const closeDone = { websockets: { code: 1000, reason: "done", clean: true }, aiohttp: { code: 1000, clean: true } };

/** One line of _python_client.py's output. */
interface Line {
  behaviour: string;
  observed?: unknown;
  error?: string;
}
interface Run {
  lines: Map<string, Line>;
  stderr: string;
}

const pythons = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of pythons) child.kill("SIGKILL");
});

/**
 * Runs _python_client.py for `lib` against `base`, bounded at `timeoutMs` (killed then), and
 * collects its lines by behaviour; resolves with what it printed even when it failed part way.
 */
function runPython(lib: Lib, base: string, behaviours: readonly string[], timeoutMs = 240_000): Promise<Run> {
  const child = spawn(PYTHON, [client, "--lib", lib, "--id", `python-${lib}`, base, ...behaviours], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  pythons.add(child);
  let out = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (data: string) => (out += data));
  child.stderr!.setEncoding("utf8").on("data", (data: string) => (stderr += data));
  return new Promise((resolve) => {
    const finish = (why: string) => {
      clearTimeout(timer);
      pythons.delete(child);
      const lines = new Map<string, Line>();
      for (const text of out.split("\n")) {
        if (!text.trim()) continue;
        try {
          const line = JSON.parse(text) as Line;
          lines.set(line.behaviour, line);
        } catch {
          stderr += `\nnot JSON on stdout: ${text.slice(0, 200)}`;
        }
      }
      resolve({ lines, stderr: `${why}\n${stderr.slice(-2000)}` });
    };
    const timer = setTimeout(() => (child.kill("SIGKILL"), finish(`killed after ${timeoutMs / 1000} s`)), timeoutMs);
    child.once("error", (error) => finish(error.message));
    child.once("exit", (code, signal) => finish(`exited ${code ?? signal}`));
  });
}

describe("Python clients against wsflow servers", { skip }, () => {
  let started = new Map<string, Promise<Running>>();
  const runs = new Map<string, Promise<Run>>();

  before(() => {
    started = startServers(servers);
    // One lane per library (this machine may have two cores): one Python process at a time in each.
    let readyTimer: ReturnType<typeof setTimeout> | undefined;
    const ready = Promise.race([Promise.allSettled(started.values()), new Promise((r) => (readyTimer = setTimeout(r, 25_000)))])
      .finally(() => clearTimeout(readyTimer));
    for (const lib of LIBS) {
      const queue = lane(ready);
      for (const server of servers) {
        const start = started.get(server.name);
        if (!start) continue;
        const behaviours = BEHAVIOURS.filter((b) => !libSkip(lib, b));
        const run = queue(() => start.then(({ port }) => runPython(lib, `ws://127.0.0.1:${port}`, behaviours)));
        run.catch(() => {});
        runs.set(`${server.name}|${lib}`, run);
      }
    }
  });

  after(async () => {
    await Promise.race([Promise.allSettled(runs.values()), new Promise((r) => setTimeout(r, 10_000))]);
    for (const child of pythons) child.kill("SIGKILL");
    await stopServers(started);
    oldFixture?.cleanup();
  });

  async function observed(server: Server, lib: Lib, behaviour: Behaviour): Promise<unknown> {
    const run = await within(runs.get(`${server.name}|${lib}`)!, 300_000, `${lib}'s run against ${server.name}`);
    const line = run.lines.get(behaviour);
    assert.ok(line, `${lib} printed nothing for "${behaviour}": ${run.stderr}`);
    assert.equal(line.error, undefined, `${lib} raised in "${behaviour}"`);
    return line.observed;
  }
  async function closeRecord(server: Server, id: string): Promise<unknown> {
    const { port } = await within(started.get(server.name)!, 25_000, `${server.name} to start`);
    const response = await within(fetch(`http://127.0.0.1:${port}/closes/${encodeURIComponent(id)}`), 10_000, `/closes/${id}`);
    return response.status === 200 ? await response.json() : `${response.status} ${await response.text()}`;
  }

  for (const server of servers) {
    for (const lib of LIBS) {
      for (const behaviour of BEHAVIOURS) {
        test(`${server.name} × Python ${lib}: ${behaviour}`, { skip: server.unavailable ?? libSkip(lib, behaviour) }, async (t) => {
          const seen = await observed(server, lib, behaviour);
          switch (behaviour) {
            case "server ping":
              if (server.serverPing === "ok") assert.equal(seen, "ping ok");
              else assert.match(String(seen), /^ping failed: NotSupportedError: /);
              break;
            case "close from peer":
              assert.deepEqual(seen, closeFromPeer[lib], "the Python side's close");
              assert.deepEqual(await closeRecord(server, `python-${lib}-close`), { clean: true, closeCode: 4001, reason: "peer says bye" }, "how the server saw the close");
              break;
            case "close from server": {
              // The code and reason still count when the runtime closed TCP under aiohttp's answer.
              const { exception, ...close } = seen as { clean: boolean; exception?: string };
              const reset = server.closesAtOnce && lib === "aiohttp" && /Cannot write to closing transport/.test(exception ?? "");
              if (reset) t.diagnostic(`${lib} saw ${JSON.stringify(seen)}: ${server.closesAtOnce}`);
              assert.deepEqual(reset ? { ...close, clean: true } : seen, sameEverywhere[behaviour]);
              break;
            }
            case "invalid utf-8": {
              const runtime = server.invalidUtf8;
              if (runtime) t.diagnostic(runtime.why);
              assert.deepEqual(seen, { code: runtime?.peerSees ?? 1007 }, "the close the Python peer saw");
              const record = await closeRecord(server, `python-${lib}-utf8`);
              t.diagnostic(`the server recorded ${JSON.stringify(record)}`);
              assert.equal((record as { closeCode?: number }).closeCode, runtime?.serverRecords ?? 1007, "how the server saw the close");
              break;
            }
            case "compression":
              assertCompression(t, server, lib, seen as Compression);
              break;
            default:
              assert.deepEqual(seen, sameEverywhere[behaviour]);
          }
        });
      }
    }
  }
});

/** What the compression behaviour observed. */
interface Compression {
  python: string[] | { compress: number };
  reported: string;
  texts: boolean[];
  binary: unknown;
  close: unknown;
}

function assertCompression(t: { diagnostic(message: string): void }, server: Server, lib: Lib, seen: Compression): void {
  t.diagnostic(`server negotiated ${JSON.stringify(seen.reported)}; ${lib} sees ${JSON.stringify(seen.python)}`);
  if (server.deflate) {
    assert.match(seen.reported, /^permessage-deflate\b/, "the server's negotiated Sec-WebSocket-Extensions");
    if (lib === "websockets") {
      assert.equal((seen.python as string[]).length, 1, "websockets' ws.extensions");
      assert.match((seen.python as string[])[0], /^PerMessageDeflate\(/, "websockets' ws.extensions");
    } else {
      assert.deepEqual(seen.python, { compress: 15 }, "aiohttp's ws.compress (window bits)");
    }
  } else {
    // The native path negotiates nothing: the Python client must work uncompressed.
    assert.equal(seen.reported, "", "the server negotiated nothing on this native path");
    assert.deepEqual(seen.python, lib === "websockets" ? [] : { compress: 0 });
  }
  assert.deepEqual(seen.texts, [true, true, true], "3 x 20 KiB text echoed");
  assert.deepEqual(seen.binary, { type: "binary", length: 100 * 1024, mismatches: 0 }, "100 KiB binary echoed");
  assert.deepEqual(seen.close, closeDone[lib]);
}
