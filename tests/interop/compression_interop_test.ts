// permessage-deflate (RFC 7692) interop with peers nobody here wrote, over real processes:
//
// - wsflow servers on the byte-level (codec) path in Node 24, Node 20, Deno and Bun, started with
//   fixture_server.ts (the `/extensions?deflate=1` route: compression with threshold 0, the
//   negotiated header sent as the first message, then echo), against Chromium's WebSocket and
//   WebSocketStream, Bun's WebSocket, Deno's WebSocket (which offers no compression: the
//   connection must work uncompressed) and the ws client with perMessageDeflate;
// - wsflow's client (`compression: true`) in Node 24, Deno and Bun against Bun.serve with
//   `perMessageDeflate: true` and a ws server with perMessageDeflate.
//
// Every connection goes through a counting TCP proxy that also reads the frame headers, so the
// test sees what crossed the wire: how many bytes each way, and how many data frames had RSV1
// set. Each exchange is 3 x 20 KiB of JSON-like text and 100 KiB of patterned binary, echoed,
// then a close with 1000. The ws-in-both-roles parameter matrix is tests/streams/compression_test.ts.
//
// This file is the driver: it runs under Node 22+ (Node 24 in the matrix) and skips on the other
// runtimes of scripts/test.mjs, which it starts itself.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import WebSocket, { WebSocketServer } from "ws";
import { WebSocketStream } from "../../mod.ts";
import { chromiumMissing, launchChromium, runInChromium } from "./_chromium.ts";
import { openConnection, portable, within } from "./_peer.ts";
import {
  bin, compileFixtureForOldNode, driverSkip, lane, node24, otherNode, root, type Running, runChild, spawnServer, type Startable, startServers, stopServers,
} from "./_servers.ts";

const fixture = join(root, "tests/interop/fixture_server.ts");
const old = otherNode();
const TEXT = 20 * 1024;
const BINARY = 100 * 1024;
/** What each side sends (and gets back): 3 texts and one binary message. */
const PAYLOAD = 3 * TEXT + BINARY;

/** What a peer is asked to do. */
interface ExchangeInput {
  api: "WebSocket" | "WebSocketStream";
  url: string;
  /** The server sends its negotiated Sec-WebSocket-Extensions first (fixture_server.ts /extensions). */
  report: boolean;
  /** Second constructor argument (a WebSocketStream's options, or ws's/Bun's options object). */
  options?: Record<string, unknown>;
  /** In a child process: use wsflow's WebSocketStream instead of the runtime's own. */
  wsflow?: boolean;
}

/** What the peer saw, or `error` (with what it saw before). */
interface Exchange {
  extensions?: string;
  reported?: unknown;
  texts?: boolean[];
  binary?: { length: number; mismatches: number } | { kind: string };
  close?: { code: number; reason: string; wasClean: boolean };
  error?: string;
}

// deno-lint-ignore no-explicit-any
type Any = any;

/**
 * The exchange, self-contained but for `within` and `openConnection` from _peer.ts (`portable`
 * sends them along), so the same source runs in-process, in Chromium and in Deno and Bun (written
 * into a script).
 */
async function exchange(input: ExchangeInput, Impl?: Any): Promise<Exchange> {
  const Class: Any = Impl ?? (globalThis as Any)[input.api];
  const texts = [0, 1, 2].map((k) => {
    let s = "[";
    for (let i = 0; s.length < 20 * 1024 - 200; i++) {
      s += (i ? "," : "") + JSON.stringify({ id: k * 100_000 + i, name: `user ${i}`, email: `user${i}@example.com`, tags: ["alpha", "beta"], active: i % 3 === 0 });
    }
    return (s + "]").padEnd(20 * 1024, " ");
  });
  const binary = new Uint8Array(100 * 1024);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 7) & 255;

  const out: Exchange = {};
  try {
    const conn = await within(openConnection(Class, input.api, input.url, input.options), 10_000, "open");
    out.extensions = conn.extensions;
    if (input.report) out.reported = await within(conn.next(), 10_000, "the server's extensions");
    out.texts = [];
    for (const text of texts) {
      await conn.send(text);
      out.texts.push((await within(conn.next(), 10_000, "text echo")) === text);
    }
    await conn.send(binary);
    const back = await within(conn.next(), 10_000, "binary echo");
    if (back instanceof Uint8Array) {
      let mismatches = 0;
      for (let i = 0; i < back.length; i++) if (back[i] !== binary[i]) mismatches++;
      out.binary = { length: back.length, mismatches };
    } else {
      out.binary = { kind: typeof back };
    }
    conn.close(1000, "done");
    out.close = await within(conn.closed, 5000, "closed");
  } catch (error) {
    out.error = String((error as Any)?.message ?? error);
  }
  return out;
}

/** One direction of a proxied connection: bytes, and data frames with and without RSV1. */
interface Direction {
  bytes: number;
  compressed: number;
  plain: number;
}
interface Wire {
  up: Direction;
  down: Direction;
  connections: number;
}

/** Counts a direction's bytes, and after the HTTP head parses frame headers to see RSV1 on data frames. */
function frameCounter(direction: Direction): (chunk: Buffer) => void {
  let head = "";
  let inHead = true;
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0;
  return (chunk) => {
    direction.bytes += chunk.length;
    if (inHead) {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      inHead = false;
      chunk = Buffer.from(head.slice(end + 4), "latin1");
    }
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, pending.length - at);
        skip -= n;
        at += n;
        if (skip > 0) break;
      }
      if (pending.length - at < 2) break;
      const b0 = pending[at];
      const b1 = pending[at + 1];
      let length = b1 & 127;
      const headerLength = 2 + (length === 126 ? 2 : length === 127 ? 8 : 0) + (b1 & 128 ? 4 : 0);
      if (pending.length - at < headerLength) break;
      if (length === 126) length = pending.readUInt16BE(at + 2);
      else if (length === 127) length = Number(pending.readBigUInt64BE(at + 2));
      const opcode = b0 & 15;
      if (opcode === 1 || opcode === 2) (b0 & 0x40) ? direction.compressed++ : direction.plain++;
      at += headerLength;
      skip = length;
    }
    pending = pending.subarray(at);
  };
}

/** A TCP proxy on 127.0.0.1 in front of `target`, counting what crosses it. */
async function wireProxy(target: number): Promise<{ port: number; wire: Wire; stop(): Promise<void> }> {
  const wire: Wire = { up: { bytes: 0, compressed: 0, plain: 0 }, down: { bytes: 0, compressed: 0, plain: 0 }, connections: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    wire.connections++;
    const upstream = connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => (client.destroy(), upstream.destroy()));
      s.on("close", () => sockets.delete(s));
    }
    const up = frameCounter(wire.up);
    const down = frameCounter(wire.down);
    client.on("data", (chunk: Buffer) => (up(chunk), upstream.write(chunk)));
    upstream.on("data", (chunk: Buffer) => (down(chunk), client.write(chunk)));
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    wire,
    stop: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("compression interop", { skip: driverSkip("the compression interop driver") }, () => {
  let tmp = "";
  let oldFixture: ReturnType<typeof compileFixtureForOldNode> | undefined;
  const peerScript = () => join(tmp, "peer.mjs");
  const inChild = (command: string, args: string[], input: ExchangeInput) => runChild<Exchange>(command, args, input, { timeoutMs: 25_000 });
  const bunServerScript = () => join(tmp, "bun_deflate_server.mjs");

  const wsflowServers: Startable[] = [
    { name: "Node 24 wsflow (codec)", start: () => spawnServer(node24, [fixture, "--mode", "codec"]) },
    {
      name: `Node ${old?.major ?? 20} wsflow (codec)`,
      unavailable: old ? undefined : "no Node older than 22 found (npm_node_execpath, /usr/bin/node)",
      start: () => spawnServer(old!.path, [(oldFixture ??= compileFixtureForOldNode()).entry, "--mode", "codec"]),
    },
    { name: "Deno wsflow (codec)", start: () => spawnServer(bin("deno"), ["run", "-A", fixture, "--mode", "codec"]) },
    { name: "Bun wsflow (codec)", start: () => spawnServer(bin("bun"), [fixture, "--mode", "codec"]) },
  ];
  const foreignServers: Startable[] = [
    { name: "Bun native server (perMessageDeflate: true)", start: () => spawnServer(bin("bun"), [bunServerScript()]) },
    {
      name: "ws server (perMessageDeflate)",
      start: async () => {
        const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: { threshold: 0 } });
        server.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
        await within(new Promise<void>((r) => server.once("listening", () => r())), 5000, "ws to listen");
        return {
          port: (server.address() as AddressInfo).port,
          stop: () => {
            for (const client of server.clients) client.terminate();
            return new Promise<void>((r) => server.close(() => r()));
          },
        };
      },
    },
  ];

  /** Peers of the wsflow servers: whether they offer compression, and why a peer cannot run. */
  const peers: { name: string; compresses: boolean; unavailable?: string }[] = [
    { name: "Chromium WebSocket", compresses: true, unavailable: chromiumMissing },
    { name: "Chromium WebSocketStream", compresses: true, unavailable: chromiumMissing },
    { name: "Bun WebSocket", compresses: true },
    { name: "Deno WebSocket", compresses: false },
    { name: "ws (perMessageDeflate)", compresses: true },
  ];
  const clients = ["wsflow client in Node 24", "wsflow client in Deno", "wsflow client in Bun"];

  let started = new Map<string, Promise<Running>>();
  const runs = new Map<string, Promise<{ result: Exchange; wire: Wire }>>();
  const proxies: { stop(): Promise<void> }[] = [];
  let browser: import("playwright-core").Browser | undefined;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "wsflow-deflate-"));
    writeFileSync(peerScript(), [
      'import process from "node:process";',
      `const exchange = ${portable(exchange)};`,
      "const input = JSON.parse(process.argv[process.argv.length - 1]);",
      `const Impl = input.wsflow ? (await import(${JSON.stringify(pathToFileURL(join(root, "mod.ts")).href)})).WebSocketStream : undefined;`,
      "console.log(JSON.stringify(await exchange(input, Impl)));",
      "process.exit(0);",
    ].join("\n"));
    // Bun.serve with Bun's own permessage-deflate. Bun (1.4) negotiates no context takeover both ways
    // and sends uncompressed unless send() is told to compress: send(data, true).
    writeFileSync(bunServerScript(), [
      "const server = Bun.serve({",
      '  port: 0, hostname: "127.0.0.1",',
      '  fetch(request, server) { return server.upgrade(request) ? undefined : new Response("Upgrade Required", { status: 426 }); },',
      "  websocket: { perMessageDeflate: true, message(ws, data) { ws.send(data, true); } },",
      "});",
      "console.log(JSON.stringify({ port: server.port }));",
    ].join("\n"));

    started = startServers([...wsflowServers, ...foreignServers]);
    browser = await launchChromium();

    // Two lanes (this machine may have two cores): in-process peers, and children and Chromium.
    let readyTimer: ReturnType<typeof setTimeout> | undefined;
    const ready = Promise.race([Promise.allSettled(started.values()), new Promise((r) => (readyTimer = setTimeout(r, 20_000)))])
      .finally(() => clearTimeout(readyTimer));
    const inProcess = lane(ready);
    const outOfProcess = lane(ready);
    const schedule = (key: string, serverName: string, inside: boolean, path: string, run: (url: string, directPort: number) => Promise<Exchange>) => {
      const job = (inside ? inProcess : outOfProcess)(async () => {
        const { port } = await within(started.get(serverName)!, 1000, `${serverName} to start`);
        const proxy = await wireProxy(port);
        proxies.push(proxy);
        try {
          const result = await within(run(`ws://127.0.0.1:${proxy.port}${path}`, port), 30_000, key);
          return { result, wire: proxy.wire };
        } finally {
          await proxy.stop();
        }
      });
      job.catch(() => {});
      runs.set(key, job);
    };

    for (const server of wsflowServers) {
      if (!started.has(server.name)) continue;
      for (const peer of peers) {
        if (peer.unavailable || (peer.name.startsWith("Chromium") && !browser)) continue;
        const input: ExchangeInput = { api: "WebSocket", url: "", report: true };
        const inside = peer.name.startsWith("ws");
        schedule(`${server.name}|${peer.name}`, server.name, inside, "/extensions?deflate=1", (url, directPort) => {
          const job = { ...input, url };
          switch (peer.name) {
            case "ws (perMessageDeflate)":
              return exchange({ ...job, options: { perMessageDeflate: { threshold: 0 } } }, WebSocket);
            case "Bun WebSocket": // Bun's client offers permessage-deflate by default
              return inChild(bin("bun"), [peerScript()], job);
            case "Deno WebSocket":
              return inChild(bin("deno"), ["run", "-A", peerScript()], job);
            default: {
              // The page comes straight from the server; only the WebSocket goes through the proxy.
              const api: ExchangeInput["api"] = peer.name.endsWith("WebSocketStream") ? "WebSocketStream" : "WebSocket";
              return runInChromium(browser!, `http://127.0.0.1:${directPort}/page`, exchange, { ...job, api });
            }
          }
        });
      }
    }
    for (const server of foreignServers) {
      for (const client of clients) {
        const input: ExchangeInput = { api: "WebSocketStream", url: "", report: false, options: { compression: true }, wsflow: true };
        const inside = client.endsWith("Node 24");
        schedule(`${server.name}|${client}`, server.name, inside, "/", (url) =>
          client.endsWith("Node 24") ? exchange({ ...input, url }, WebSocketStream)
          : client.endsWith("Deno") ? inChild(bin("deno"), ["run", "-A", peerScript()], { ...input, url })
          : inChild(bin("bun"), [peerScript()], { ...input, url }));
      }
    }
  });

  after(async () => {
    await Promise.allSettled([...runs.values()]);
    await browser?.close().catch(() => {});
    await Promise.allSettled(proxies.map((p) => p.stop()));
    await stopServers(started);
    oldFixture?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const echoed = (result: Exchange) => {
    assert.equal(result.error, undefined, `the exchange failed: ${JSON.stringify(result)}`);
    assert.deepEqual(result.texts, [true, true, true], "3 x 20 KiB text echoed");
    assert.deepEqual(result.binary, { length: BINARY, mismatches: 0 }, "100 KiB binary echoed");
    assert.deepEqual(result.close, { code: 1000, reason: "done", wasClean: true });
  };
  const describeWire = (wire: Wire) =>
    `up ${wire.up.bytes} B (${wire.up.compressed} compressed, ${wire.up.plain} plain data frames), ` +
    `down ${wire.down.bytes} B (${wire.down.compressed} compressed, ${wire.down.plain} plain); payload ${PAYLOAD} B each way`;
  // Compressed: well under the payload (JSON and the 256-byte-periodic binary deflate to a few KiB).
  const compressedWire = (wire: Wire, minCompressedUp: number, minCompressedDown: number) => {
    assert.ok(wire.up.compressed >= minCompressedUp, `client to server: ${describeWire(wire)}`);
    assert.ok(wire.down.compressed >= minCompressedDown, `server to client: ${describeWire(wire)}`);
    assert.ok(wire.up.bytes < PAYLOAD / 4, `client to server not compressed: ${describeWire(wire)}`);
    assert.ok(wire.down.bytes < PAYLOAD / 4, `server to client not compressed: ${describeWire(wire)}`);
  };

  for (const server of wsflowServers) {
    for (const peer of peers) {
      test(`${server.name} × ${peer.name}: ${peer.compresses ? "negotiates permessage-deflate, echoes compressed" : "no offer, echoes uncompressed"}`, {
        skip: server.unavailable ?? peer.unavailable ?? false,
      }, async (t) => {
        const { result, wire } = await within(runs.get(`${server.name}|${peer.name}`)!, 60_000, `${peer.name}'s run`);
        t.diagnostic(`client extensions ${JSON.stringify(result.extensions)}; server ${JSON.stringify(result.reported)}; ${describeWire(wire)}`);
        echoed(result);
        if (peer.compresses) {
          assert.match(String(result.reported), /^permessage-deflate\b/, "the server's negotiated extensions");
          assert.match(String(result.extensions), /^permessage-deflate\b/, "the client's view of the extensions");
          if (peer.name.startsWith("Chromium")) assert.equal(result.extensions, result.reported, "the browser reports the server's header");
          // The server's extensions message counts too: 5 compressed messages from the server.
          compressedWire(wire, 4, 5);
        } else {
          assert.equal(result.reported, "", "the server negotiated nothing");
          assert.equal(result.extensions, "");
          assert.equal(wire.up.compressed + wire.down.compressed, 0, describeWire(wire));
          assert.ok(wire.up.bytes >= PAYLOAD && wire.down.bytes >= PAYLOAD, describeWire(wire));
        }
      });
    }
  }
  for (const server of foreignServers) {
    for (const client of clients) {
      test(`${server.name} × ${client}: negotiates permessage-deflate, echoes compressed`, async (t) => {
        const { result, wire } = await within(runs.get(`${server.name}|${client}`)!, 60_000, `${client}'s run`);
        t.diagnostic(`extensions ${JSON.stringify(result.extensions)}; ${describeWire(wire)}`);
        echoed(result);
        assert.match(String(result.extensions), /^permessage-deflate\b/);
        compressedWire(wire, 4, 4);
      });
    }
  }
});
