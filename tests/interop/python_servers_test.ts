// wsflow's client (WebSocketStream) against Python WebSocket servers nobody on this project wrote:
// python-websockets 10.4 and aiohttp 3.8, each with and without permessage-deflate, websockets
// also with 10-bit windows both ways (so wsflow must honour a reduced client_max_window_bits) and
// over TLS. The servers are _python_server.py run with Debian's /usr/bin/python3 (the routes of
// fixture_server.ts); the client runs in-process under Node 24 and in Deno and Bun child processes
// (_python_peer.ts), and reports what it saw per behaviour; this file asserts. The compression
// exchange goes through a byte-counting proxy, so the test sees that it was compressed. No mocks.
//
// This file is the driver: it runs under Node 22+ (Node 24 in the matrix) and skips on the other
// runtimes of scripts/test.mjs, which it starts itself; it skips too when /usr/bin/python3 lacks
// the two modules.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certificateAuthority } from "./_ca.ts";
import { within } from "./_peer.ts";
import { PYTHON_BEHAVIOURS, type PythonPeerInput, runPythonPeer } from "./_python_peer.ts";
import { bin, driverSkip, lane, root, type Running, runChild, spawnServer, type Startable, startServers, stopServers } from "./_servers.ts";

const PYTHON = "/usr/bin/python3";
const serverScript = join(root, "tests/interop/_python_server.py");
const peerScript = join(root, "tests/interop/_python_peer.ts");
type Observations = Record<string, unknown>;
/** What the compression behaviour sends, and gets back: 3 x 20 KiB + 2 x 6 KiB of text, 100 KiB binary. */
const PAYLOAD = 3 * 20 * 1024 + 2 * 6 * 1024 + 100 * 1024;

/** Why the Python servers cannot run here, or false. */
function pythonMissing(): string | false {
  const result = spawnSync(PYTHON, ["-c", "import websockets, aiohttp"], { encoding: "utf8", timeout: 20_000 });
  if (result.status === 0) return false;
  const why = (result.error?.message ?? result.stderr ?? "").trim().split("\n").pop();
  return `${PYTHON} cannot import websockets and aiohttp (${why}); on Debian: apt-get install python3-websockets python3-aiohttp`;
}

/** A TCP proxy on 127.0.0.1 in front of `target` that counts the bytes each way. */
async function countingProxy(target: number): Promise<{ port: number; bytes: { up: number; down: number }; stop(): Promise<void> }> {
  const bytes = { up: 0, down: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => (client.destroy(), upstream.destroy()));
      s.on("close", () => sockets.delete(s));
    }
    client.on("data", (chunk: Buffer) => void (bytes.up += chunk.length));
    upstream.on("data", (chunk: Buffer) => void (bytes.down += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await within(new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)), 5000, "the proxy to listen");
  const stop = () => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { port: (server.address() as AddressInfo).port, bytes, stop };
}

interface PyServer extends Startable {
  scheme: "ws" | "wss";
  /** The Sec-WebSocket-Extensions the server answers wsflow's default offer with ("" for none). */
  negotiated: string;
  /**
   * Whether the server's reply to a close frame carries the code and reason it received. RFC 6455
   * section 5.5.1 says an endpoint "typically" echoes the code; aiohttp answers 1000 and no reason.
   */
  echoesClose: boolean;
  /** true when the server can send a message as fragments, else why not. */
  fragmentsOut: true | string;
}

let tmp = "";
let ca = "";
const python = (...args: string[]) => () => spawnServer(PYTHON, [serverScript, ...args]);
const websockets = { scheme: "ws", echoesClose: true, fragmentsOut: true } as const;
const aiohttp = {
  scheme: "ws",
  echoesClose: false,
  fragmentsOut: "aiohttp cannot send a message as fragments: WebSocketResponse.send_bytes writes one frame and has no API for continuation frames",
} as const;

const servers: PyServer[] = [
  { ...websockets, name: "websockets", negotiated: "", start: python("--lib", "websockets") },
  // websockets' own default for a server: 12-bit windows both ways.
  {
    ...websockets,
    name: "websockets (deflate, its defaults)",
    negotiated: "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    start: python("--lib", "websockets", "--deflate"),
  },
  {
    ...websockets,
    name: "websockets (deflate, 10-bit windows)",
    negotiated: "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10",
    start: python("--lib", "websockets", "--window-bits", "10"),
  },
  {
    ...websockets,
    name: "websockets (wss)",
    scheme: "wss",
    negotiated: "",
    start: () => spawnServer(PYTHON, [serverScript, "--lib", "websockets", "--tls", `${join(tmp, "cert.pem")},${join(tmp, "key.pem")}`]),
  },
  { ...aiohttp, name: "aiohttp", negotiated: "", start: python("--lib", "aiohttp") },
  // aiohttp ignores a bare client_max_window_bits in the offer and answers with no parameters.
  { ...aiohttp, name: "aiohttp (deflate)", negotiated: "permessage-deflate", start: python("--lib", "aiohttp", "--deflate") },
];
const clients = ["Node 24", "Deno", "Bun"] as const;
const clientId = (client: string) => client.replace(/\W/g, "").toLowerCase();

const pattern = (length: number) => ({ kind: "binary", length, mismatches: 0, expectedLength: length });
const expected: Record<string, unknown> = {
  subprotocol: { chosen: "chat", none: "" },
  text: "hello κόσμε 🙂",
  binary: { kind: "binary", bytes: Array.from({ length: 256 }, (_, i) => i) },
  large: pattern(16 * 1024 * 1024),
  streamed: pattern(100_000),
  fragmented: pattern(100_000),
  "server ping": "ping ok",
  "client ping": { rtt: "in range", echoed: "after the ping" },
  "close from server": { code: 4003, reason: "server says bye", wasClean: true },
};

function skipFor(server: PyServer, behaviour: string): string | false {
  return behaviour === "fragmented" && server.fragmentsOut !== true ? server.fragmentsOut : false;
}

describe("wsflow client × Python servers", { skip: driverSkip("the Python servers driver") || pythonMissing() }, () => {
  let started = new Map<string, Promise<Running>>();
  const runs = new Map<string, Promise<Observations>>();
  /** Bytes each way through the proxy the compression behaviour went through (ws: servers), by run. */
  const wire = new Map<string, { up: number; down: number }>();

  before(() => {
    let cert = "";
    let key = "";
    ({ ca, cert, key } = certificateAuthority());
    tmp = mkdtempSync(join(tmpdir(), "wsflow-python-"));
    writeFileSync(join(tmp, "cert.pem"), cert);
    writeFileSync(join(tmp, "key.pem"), key);
    started = startServers(servers);
    // Two lanes (this machine may have two cores): the in-process client, and Deno and Bun children.
    let readyTimer: ReturnType<typeof setTimeout> | undefined;
    const ready = Promise.race([Promise.allSettled(started.values()), new Promise((r) => (readyTimer = setTimeout(r, 25_000)))])
      .finally(() => clearTimeout(readyTimer));
    const inProcess = lane(ready);
    const outOfProcess = lane(ready);
    for (const server of servers) {
      const start = started.get(server.name)!;
      const behaviours = PYTHON_BEHAVIOURS.filter((b) => !skipFor(server, b));
      for (const client of clients) {
        const key = `${server.name}|${client}`;
        const job = async () => {
          const { port } = await within(start, 1000, `${server.name} to start`);
          const proxy = server.scheme === "ws" ? await countingProxy(port) : undefined;
          if (proxy) wire.set(key, proxy.bytes);
          const input: PythonPeerInput = {
            base: `${server.scheme}://127.0.0.1:${port}`,
            id: clientId(client),
            behaviours: [...behaviours],
            ...(server.scheme === "wss" ? { ca } : { compressionBase: `ws://127.0.0.1:${proxy!.port}` }),
          };
          try {
            switch (client) {
              case "Node 24":
                return await within(runPythonPeer(input), 150_000, `${client} × ${server.name}`);
              case "Deno":
                return await runChild<Observations>(bin("deno"), ["run", "-A", peerScript], input, { timeoutMs: 150_000 });
              case "Bun":
                return await runChild<Observations>(bin("bun"), [peerScript], input, { timeoutMs: 150_000 });
            }
          } finally {
            await proxy?.stop();
          }
        };
        const run = (client === "Node 24" ? inProcess : outOfProcess)(job);
        run.catch(() => {});
        runs.set(key, run);
      }
    }
  });

  after(async () => {
    await Promise.allSettled([...runs.values()]);
    await stopServers(started);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  // GET with the test CA (Node's fetch takes none), bounded.
  function getJson(url: string): Promise<unknown> {
    return within(new Promise((resolve, reject) => {
      const done = (res: IncomingMessage) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${url}: ${res.statusCode} ${body}`))));
      };
      (url.startsWith("https:") ? httpsGet(url, { ca }, done) : httpGet(url, done)).on("error", reject);
    }), 5000, url);
  }

  for (const server of servers) {
    for (const client of clients) {
      for (const behaviour of PYTHON_BEHAVIOURS) {
        test(`${server.name} × wsflow client in ${client}: ${behaviour}`, { skip: skipFor(server, behaviour) }, async (t) => {
          const observations = await within(runs.get(`${server.name}|${client}`)!, 300_000, `${client}'s run`);
          const seen = observations[behaviour];
          switch (behaviour) {
            case "rejection": {
              const { opened, name, message } = seen as { opened?: boolean; name?: string; message?: string };
              assert.equal(opened, false, JSON.stringify(seen));
              assert.equal(name, "WebSocketError", JSON.stringify(seen));
              assert.match(String(message), /\b401\b/, `the error should name the status: ${JSON.stringify(seen)}`);
              assert.deepEqual((seen as { response?: unknown }).response, { status: 401, authenticate: 'Bearer realm="interop"' }, "the refusal on the error");
              break;
            }
            case "close from client": {
              const echoed = server.echoesClose ? { code: 4001, reason: "client says bye" } : { code: 1000, reason: "" };
              assert.deepEqual(seen, { ...echoed, wasClean: true }, "what wsflow's closed resolved with (the server's close frame)");
              const { port } = await started.get(server.name)!;
              const http = server.scheme === "wss" ? "https" : "http";
              const record = await getJson(`${http}://127.0.0.1:${port}/closes/${clientId(client)}-close`);
              assert.deepEqual(record, { clean: true, closeCode: 4001, reason: "client says bye" }, "how the server saw the close");
              break;
            }
            case "compression": {
              const bytes = wire.get(`${server.name}|${client}`);
              const crossed = bytes ? `; ${bytes.up} B up, ${bytes.down} B down for ${PAYLOAD} B each way` : "";
              t.diagnostic(`${server.name} negotiated ${JSON.stringify((seen as { reported?: unknown }).reported)}${crossed}`);
              const close = { code: 1000, reason: server.echoesClose ? "done" : "", wasClean: true };
              const binary = pattern(100 * 1024);
              const all = { extensions: server.negotiated, reported: server.negotiated, texts: [true, true, true], repeats: [true, true], binary, close };
              assert.deepEqual(seen, all);
              if (server.negotiated) assert.match(server.negotiated, /^permessage-deflate\b/);
              if (!bytes) break;
              // Compressed both ways, well under the payload; else all of it. (Node's zlib deflates the
              // whole exchange to about 13 KiB with 10-bit windows; Deno's and Bun's node:zlib deflate the
              // 256-byte-periodic binary to 34 KiB at the default level with them, so: under half.)
              if (server.negotiated) assert.ok(bytes.up < PAYLOAD / 2 && bytes.down < PAYLOAD / 2, `not compressed${crossed}`);
              else assert.ok(bytes.up >= PAYLOAD && bytes.down >= PAYLOAD, `fewer bytes than the payload${crossed}`);
              break;
            }
            default:
              assert.deepEqual(seen, expected[behaviour]);
          }
        });
      }
    }
  }
});
