// The server's HTTP side of the upgrade on every byte-level path wsflow owns (Node serve() and
// attach(), Deno codec, Bun codec, readUpgradeRequest): the handshake deadline (a slow or
// unfinished head, a handler that never decides) and the same head checks everywhere. Each
// runtime runs its own paths; the peer is raw TCP.
// test:own-process (it measures this process's memory; scripts/test.mjs runs it alone on Bun)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import process from "node:process";
import { connect as tlsConnect } from "node:tls";
import { HttpHeadError, readUpgradeRequest, upgradeWebSocket, type UpgradeResult } from "../../mod.ts";
import { attach, type ServeHandle, serve as serveNode } from "../../src/adapters/node/mod.ts";
import { runtime, serve } from "../../src/adapters/serve.ts";
import { duplexPair } from "../_net.ts";
import { selfSignedCertificate } from "../_tls.ts";
import { probe, statusLine, upgradeHead } from "./_raw_http.ts";

const TIMEOUT = 400;
// A server's deadline fires on a timer: late under load, never early (a few ms of timer slack).
const SLACK = 2000;

interface Fixture {
  port: number;
  /** What upgradeWebSocket gave the handler of /late, which asked after the deadline. */
  late: Promise<UpgradeResult>;
  stop(): Promise<void>;
}

// /hang never decides; /late decides after the deadline; /slow-plain answers a plain request
// after the deadline; anything else upgrades and echoes.
function handlerFor(release: Promise<void>, late: (result: UpgradeResult) => void) {
  return async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    if (path === "/slow-plain") {
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT + 300));
      return new Response("slow ok");
    }
    if (path === "/hang") {
      await release; // an auth check that never answers (until the test ends)
      return new Response("too late", { status: 401 });
    }
    if (path === "/late") await new Promise((resolve) => setTimeout(resolve, TIMEOUT + 300));
    const result = await upgradeWebSocket(request);
    if (path === "/late") late(result);
    if (result.socket) {
      const { readable, writable } = await result.socket.opened;
      void readable.pipeTo(writable).catch(() => {});
    }
    return result.response;
  };
}

type Start = (handshakeTimeout: number) => Promise<Fixture>;

function fixture(listen: (handler: (request: Request) => Promise<Response>) => Promise<{ port: number; stop(): Promise<void> }>): Promise<Fixture> {
  let release!: () => void;
  let late!: (result: UpgradeResult) => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const lateResult = new Promise<UpgradeResult>((resolve) => (late = resolve));
  return listen(handlerFor(released, late)).then(({ port, stop }) => ({
    port,
    late: lateResult,
    stop: () => (release(), stop()),
  }));
}

// The paths of this runtime; `native` ones are where the runtime reads the head itself.
const paths: Record<string, Start> = {};
const native = new Set<string>();
if (runtime() === "node") {
  paths["Node serve()"] = (handshakeTimeout) =>
    fixture(async (handler) => {
      const server = await serve({ port: 0, handshakeTimeout }, handler);
      return { port: server.port, stop: () => server.shutdown() };
    });
  paths["Node attach()"] = (handshakeTimeout) =>
    fixture(async (handler) => {
      const server = createServer((_, res) => void setTimeout(() => res.end("slow ok"), TIMEOUT + 300));
      attach(server, handler, { handshakeTimeout });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const { port } = server.address() as { port: number };
      return { port, stop: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
    });
} else {
  for (const mode of ["codec", "native"] as const) {
    const name = `${runtime() === "deno" ? "Deno" : "Bun"} ${mode}`;
    if (mode === "native") native.add(name);
    paths[name] = (handshakeTimeout) =>
      fixture(async (handler) => {
        const server = await serve({ port: 0, mode, handshakeTimeout }, handler);
        return { port: server.port, stop: () => server.shutdown() };
      });
  }
}

// A masked text frame "x" (mask 01 02 03 04): the server would echo it as 81 01 78.
const MASKED_X = String.fromCharCode(0x81, 0x81, 1, 2, 3, 4, 0x78 ^ 1);
const ECHO_X = String.fromCharCode(0x81, 0x01, 0x78);

for (const [name, start] of Object.entries(paths)) {
  describe(`${name}: the handshake deadline (handshakeTimeout ${TIMEOUT} ms)`, { timeout: 60_000 }, () => {
    let server: Fixture;
    let started: Promise<Fixture>;
    before(() => void (started = start(TIMEOUT).then((s) => (server = s))));
    after(async () => await (await started).stop());

    const ownsHead = !native.has(name) ? {} : { skip: "the runtime reads the head (see the README's Limits)" };

    test("a partial head, then silence: 408 and the close at handshakeTimeout", ownsHead, async () => {
      await started;
      const seen = await probe(server.port, ["GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"], { boundMs: TIMEOUT + SLACK + 3000 });
      assert.equal(seen.closed, true, `still open after ${seen.ms} ms`);
      assert.equal(statusLine(seen.text), "HTTP/1.1 408 Request Timeout");
      assert.ok(seen.ms >= TIMEOUT - 50 && seen.ms <= TIMEOUT + SLACK, `closed after ${seen.ms} ms`);
    });

    test("a head sent one byte every 40 ms is cut at handshakeTimeout", ownsHead, async () => {
      await started;
      const seen = await probe(server.port, [...upgradeHead("/")], { gapMs: 40, boundMs: TIMEOUT + SLACK + 3000 });
      assert.equal(seen.closed, true, `still open after ${seen.ms} ms`);
      assert.equal(statusLine(seen.text), "HTTP/1.1 408 Request Timeout");
      assert.ok(seen.ms <= TIMEOUT + SLACK, `closed after ${seen.ms} ms`);
    });

    test("an upgrade whose handler never decides (an auth that never answers) gets 408 at handshakeTimeout", async () => {
      await started;
      const seen = await probe(server.port, [upgradeHead("/hang")], { boundMs: TIMEOUT + SLACK + 1000 });
      assert.equal(statusLine(seen.text), "HTTP/1.1 408 Request Timeout");
      assert.match(seen.text, /\r\nconnection: close\r\n/i);
      // Deno.serve keeps the connection after a response with Connection: close (the peer closes).
      if (name !== "Deno native") assert.equal(seen.closed, true, `still open after ${seen.ms} ms`);
      assert.ok(seen.firstMs >= TIMEOUT - 50 && seen.firstMs <= TIMEOUT + SLACK, `answered after ${seen.firstMs} ms`);
    });

    test("a handler that upgrades after the deadline gets a 408 and no socket; the peer sees only the 408", async () => {
      await started;
      // (Bytes sent early to Deno.serve or Bun.serve would be read as the next request.)
      const pieces = native.has(name) ? [upgradeHead("/late")] : [upgradeHead("/late"), MASKED_X];
      const seen = await probe(server.port, pieces, { boundMs: TIMEOUT + SLACK + 1000 });
      const result = await server.late;
      assert.equal(result.socket, undefined);
      assert.equal(result.response.status, 408);
      assert.equal(statusLine(seen.text), "HTTP/1.1 408 Request Timeout");
      assert.equal(seen.text.match(/HTTP\/1\.1/g)?.length, 1, seen.text);
      assert.ok(!seen.text.includes(ECHO_X));
    });

    test("a plain request whose handler takes longer than handshakeTimeout still gets its response", async () => {
      await started;
      const seen = await probe(server.port, ["GET /slow-plain HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"], { boundMs: TIMEOUT + 3000 });
      assert.equal(statusLine(seen.text), "HTTP/1.1 200 OK");
      assert.ok(seen.text.includes("\r\n\r\n") && seen.text.includes("slow ok"), seen.text);
    });

    test("a connection upgraded in time is not cut by the deadline afterwards", async () => {
      await started;
      const seen = await probe(server.port, [upgradeHead("/echo"), MASKED_X, MASKED_X], { gapMs: TIMEOUT + 400, boundMs: 2 * TIMEOUT + 1500 });
      assert.equal(statusLine(seen.text), "HTTP/1.1 101 Switching Protocols");
      assert.equal(seen.text.split(ECHO_X).length - 1, 2, "both frames echoed, the second after the deadline");
      assert.equal(seen.closed, false);
    });

    test("200 half-open heads at once are all cut by handshakeTimeout + 2 s, and the memory comes back", ownsHead, async () => {
      await started;
      const before = process.memoryUsage().rss;
      const all = await Promise.all(
        Array.from({ length: 200 }, () => probe(server.port, ["GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + "a".repeat(4000)], { boundMs: TIMEOUT + SLACK + 5000 })),
      );
      const cut = all.filter((seen) => seen.closed && seen.ms <= TIMEOUT + SLACK && statusLine(seen.text) === "HTTP/1.1 408 Request Timeout");
      assert.equal(cut.length, 200, `slowest: ${Math.max(...all.map((seen) => seen.ms))} ms`);
      (globalThis as { gc?: () => void }).gc?.();
      const grown = (process.memoryUsage().rss - before) / 2 ** 20;
      assert.ok(grown < 64, `RSS grew ${grown.toFixed(1)} MiB`);
    });
  });

  if (native.has(name)) continue; // the runtime's own parser
  describe(`${name}: the same head checks as wsflow's own parser`, { timeout: 60_000 }, () => {
    let server: Fixture;
    let started: Promise<Fixture>;
    before(() => void (started = start(10_000).then((s) => (server = s))));
    after(async () => await (await started).stop());

    const bad: [string, string, string][] = [
      ["HTTP/1.0", upgradeHead("/", "", "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n"), "HTTP/1.1 505 HTTP Version Not Supported"],
      ["no Host", upgradeHead("/", "", "GET / HTTP/1.1\r\n"), "HTTP/1.1 400 Bad Request"],
      ["two Host fields", upgradeHead("/", "Host: other.test\r\n"), "HTTP/1.1 400 Bad Request"],
      ["two Upgrade fields", upgradeHead("/", "Upgrade: websocket\r\n"), "HTTP/1.1 400 Bad Request"],
      ["two Connection fields", upgradeHead("/", "Connection: Upgrade\r\n"), "HTTP/1.1 400 Bad Request"],
      ["two Sec-WebSocket-Key fields", upgradeHead("/", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"), "HTTP/1.1 400 Bad Request"],
      ["Transfer-Encoding: chunked", upgradeHead("/", "Transfer-Encoding: chunked\r\n") + "7\r\n" + MASKED_X + "\r\n0\r\n\r\n", "HTTP/1.1 400 Bad Request"],
    ];
    for (const [what, head, status] of bad) {
      test(`an upgrade request with ${what} is answered ${status.slice(9)}`, async () => {
        await started;
        const seen = await probe(server.port, [head]);
        assert.equal(statusLine(seen.text), status);
        assert.equal(seen.closed, true);
        assert.ok(!seen.text.includes(ECHO_X), "a frame was echoed");
      });
    }

    test("an upgrade request with a Content-Length body is answered 400, and the masked frame in the body is not echoed", async () => {
      await started;
      const seen = await probe(server.port, [upgradeHead("/", `Content-Length: ${MASKED_X.length}\r\n`) + MASKED_X]);
      assert.equal(statusLine(seen.text), "HTTP/1.1 400 Bad Request");
      assert.ok(!seen.text.includes("101 Switching Protocols"));
      assert.ok(!seen.text.includes(ECHO_X), "the body was read as a frame and echoed");
    });

    test("a valid upgrade request (Content-Length: 0 allowed) is upgraded and echoes", async () => {
      await started;
      const seen = await probe(server.port, [upgradeHead("/", "Content-Length: 0\r\n") + MASKED_X], { boundMs: 1500 });
      assert.equal(statusLine(seen.text), "HTTP/1.1 101 Switching Protocols");
      assert.ok(seen.text.endsWith(ECHO_X));
    });
  });
}

describe("Node serve() over TLS: the handshake deadline", { skip: runtime() !== "node" && "runs on Node", timeout: 30_000 }, () => {
  let tls: { cert: string; key: string };
  let started: Promise<ServeHandle>;
  before(() => {
    tls = selfSignedCertificate();
    started = serveNode({ port: 0, tls, handshakeTimeout: TIMEOUT }, () => new Response("never"));
  });
  after(async () => await (await started).shutdown());

  test("a partial head inside TLS gets 408 and the close at handshakeTimeout", async () => {
    const { port } = await started;
    const seen = await new Promise<{ text: string; ms: number }>((resolve, reject) => {
      const began = performance.now();
      let text = "";
      const socket = tlsConnect({ port, host: "127.0.0.1", ca: [tls.cert] }, () => socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
      const bound = setTimeout(() => (socket.destroy(), reject(new Error(`still open; got ${JSON.stringify(text)}`))), TIMEOUT + SLACK + 3000);
      socket.on("data", (chunk) => (text += chunk.toString("latin1")));
      socket.on("error", () => {});
      socket.on("close", () => (clearTimeout(bound), resolve({ text, ms: Math.round(performance.now() - began) })));
    });
    assert.equal(statusLine(seen.text), "HTTP/1.1 408 Request Timeout");
    assert.ok(seen.ms <= TIMEOUT + SLACK, `closed after ${seen.ms} ms`);
  });

  test("a TCP connection that never starts TLS is closed at handshakeTimeout", async () => {
    const { port } = await started;
    const seen = await probe(port, [], { boundMs: TIMEOUT + SLACK + 3000 });
    assert.equal(seen.closed, true, `still open after ${seen.ms} ms`);
    assert.ok(seen.ms <= TIMEOUT + SLACK, `closed after ${seen.ms} ms`);
  });
});

describe("readUpgradeRequest: the handshake deadline", () => {
  const encoder = new TextEncoder();

  async function readAll(readable: ReadableStream<Uint8Array>): Promise<string> {
    let text = "";
    for await (const chunk of readable as unknown as AsyncIterable<Uint8Array>) text += new TextDecoder("latin1").decode(chunk);
    return text;
  }

  test("a partial head, then silence: the peer gets 408 and the end, the promise rejects with a 408 HttpHeadError", async () => {
    const [client, server] = duplexPair();
    const writer = client.writable.getWriter();
    await writer.write(encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n"));
    const answer = readAll(client.readable);
    const reading = readUpgradeRequest(server, { handshakeTimeout: 200 });
    await assert.rejects(reading, (error) => error instanceof HttpHeadError && error.status === 408);
    assert.equal(statusLine(await answer), "HTTP/1.1 408 Request Timeout");
  });

  test("a head read in time but not answered within handshakeTimeout gets 408, and a later accept() rejects", async () => {
    const [client, server] = duplexPair();
    const writer = client.writable.getWriter();
    await writer.write(encoder.encode(upgradeHead("/")));
    const answer = readAll(client.readable);
    const upgrade = await readUpgradeRequest(server, { handshakeTimeout: 200 });
    assert.equal(statusLine(await answer), "HTTP/1.1 408 Request Timeout");
    await assert.rejects(upgrade.accept(), /answered 408/);
  });

  test("handshakeTimeout must be a positive number", async () => {
    const [, server] = duplexPair();
    await assert.rejects(readUpgradeRequest(server, { handshakeTimeout: 0 }), RangeError);
    await assert.rejects(readUpgradeRequest(server, { handshakeTimeout: Number.NaN }), /Cannot read the upgrade request: handshakeTimeout must be a positive number/);
  });
});
