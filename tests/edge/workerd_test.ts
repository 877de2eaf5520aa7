// wsflow in Cloudflare's runtime: workerd (npm `workerd`) on a config this test writes, serving
// Workers that esbuild bundled with wrangler's settings from the package's npm exports. Checked
// from outside with the `ws` package and wsflow's client on Node, and from inside with a Worker's
// client against a wsflow server on Node. Driven from Node 24 only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import WebSocket from "ws";
import { upgradeWebSocket, WebSocketStream } from "../../mod.ts";
import { serve } from "../../src/adapters/node/mod.ts";
import type { ServeHandle } from "../../src/adapters/serve_types.ts";
import { bundle, freePort, isNode24, root, sourcePackage, startWorkerd, type Workerd } from "./_edge.ts";

/** The README's Worker block (`<!-- readme-test: worker -->`), as written. */
function readmeWorker(): string {
  const match = /<!-- readme-test: worker -->\n```ts\n([\s\S]*?)```/.exec(readFileSync(join(root, "README.md"), "utf8"));
  assert.ok(match, "README.md has a block marked <!-- readme-test: worker -->");
  return match[1];
}

/** Opens a `ws` client; resolves once open, or rejects with the status of a refused upgrade. */
function wsOpen(url: string, protocols: string[], options: WebSocket.ClientOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_request, response) => reject(Object.assign(new Error(`status ${response.statusCode}`), { status: response.statusCode })));
    ws.once("error", reject);
  });
}

function wsNext(ws: WebSocket): Promise<string | Uint8Array> {
  return new Promise((resolve) => ws.once("message", (data: Uint8Array, binary: boolean) => resolve(binary ? new Uint8Array(data) : String(data))));
}

function wsClosed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once("close", (code: number, reason: Uint8Array) => resolve({ code, reason: String(reason) })));
}

/** Sends a raw HTTP/1.1 request head and resolves with the response's status line. */
function rawStatus(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(head));
    let text = "";
    socket.on("data", (d) => {
      text += d;
      if (text.includes("\r\n")) {
        socket.destroy();
        resolve(text.slice(0, text.indexOf("\r\n")));
      }
    });
    socket.once("error", reject);
    setTimeout(() => (socket.destroy(), reject(new Error(`no response in 5 s: ${text}`))), 5_000).unref();
  });
}

const binary = (size: number) => new Uint8Array(size).map((_, i) => (i * 7) % 256);

describe("Cloudflare Workers (workerd), with wsflow bundled by esbuild as wrangler bundles it", { skip: !isNode24 && "driven from Node 24; it starts workerd itself" }, () => {
  let workerd: Workerd;
  let nodeServer: ServeHandle;
  let cleanup = () => {};
  const ports = { echo: 0, compat: 0, plain: 0, readme: 0 };
  const offers: (string | null)[] = [];

  before(async () => {
    const pkg = await sourcePackage();
    cleanup = pkg.cleanup;
    const source = (name: string) => readFileSync(join(root, "tests", "edge", name), "utf8");
    const [echo, client, readme] = await Promise.all([
      bundle(pkg.dir, source("_worker_echo.js"), "workerd"),
      bundle(pkg.dir, source("_worker_client.js"), "workerd"),
      bundle(pkg.dir, readmeWorker(), "workerd"),
    ]);
    for (const [name, port] of Object.entries(ports)) if (port === 0) ports[name as keyof typeof ports] = await freePort();
    workerd = await startWorkerd([
      { name: "echo", code: echo.code, port: ports.echo, durableObjects: ["Room"] },
      { name: "compat", code: client.code, port: ports.compat, compatibilityFlags: ["nodejs_compat"] },
      { name: "plain", code: client.code, port: ports.plain },
      { name: "readme", code: readme.code, port: ports.readme },
    ]);
    // The server the Workers' clients talk to: wsflow on Node, echoing, compression on offer.
    nodeServer = await serve({ port: 0 }, async (request) => {
      offers.push(request.headers.get("sec-websocket-extensions"));
      const { socket, response } = await upgradeWebSocket(request, { compression: true });
      if (socket) void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
      return response;
    });
  });

  after(async () => {
    await nodeServer?.shutdown();
    await workerd?.stop();
    cleanup();
  });

  test("the Worker bundle holds no import but cloudflare:sockets, and the main entry alone none", async () => {
    const pkg = await sourcePackage();
    try {
      assert.deepEqual((await bundle(pkg.dir, 'export * from "wsflow";', "workerd")).imports, ["cloudflare:sockets"]);
      assert.deepEqual((await bundle(pkg.dir, 'export * from "wsflow";', "browser")).imports, []);
    } finally {
      pkg.cleanup();
    }
  });

  for (const [where, path, prefix] of [["a Worker", "/", "worker"], ["a Durable Object", "/room", "durable object"]]) {
    test(`the ws package to ${where}: subprotocol, text, 1 MiB binary, permessage-deflate, the client's close code reaches it`, { timeout: 20_000 }, async () => {
      const ws = await wsOpen(`ws://127.0.0.1:${ports.echo}${path}`, ["other", "echo"], { perMessageDeflate: true });
      assert.equal(ws.protocol, "echo");
      assert.match(ws.extensions, /^permessage-deflate/);
      ws.send("hello");
      assert.equal(await wsNext(ws), `${prefix}: hello`);
      const big = binary(1 << 20);
      ws.send(big);
      assert.deepEqual(await wsNext(ws), big);
      const closed = wsClosed(ws);
      ws.close(4002, "from ws");
      assert.deepEqual(await closed, { code: 4002, reason: "from ws" });
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await (await fetch(`http://127.0.0.1:${ports.echo}/last-close`)).json(), { closeCode: 4002, reason: "from ws" });
    });
  }

  test("wsflow's client to a Worker: text, 1 MiB binary, ping() there rejects as documented, the client's close code reaches it", { timeout: 20_000 }, async () => {
    const wss = new WebSocketStream(`ws://127.0.0.1:${ports.echo}/`, { protocols: ["echo"], compression: true });
    const { readable, writable, protocol, extensions } = await wss.opened;
    assert.equal(protocol, "echo");
    assert.equal(extensions, "permessage-deflate");
    const reader = readable.getReader();
    const writer = writable.getWriter();
    await writer.write("hello");
    assert.equal((await reader.read()).value, "worker: hello");
    const big = binary(1 << 20);
    await writer.write(big);
    assert.deepEqual((await reader.read()).value, big);
    await writer.write("ping");
    assert.match(String((await reader.read()).value), /^NotSupportedError: Cannot ping: a Cloudflare Worker's WebSocket has no ping API/);
    wss.close({ closeCode: 4003, reason: "from wsflow" });
    assert.deepEqual(await wss.closed, { closeCode: 4003, reason: "from wsflow" });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${ports.echo}/last-close`)).json(), { closeCode: 4003, reason: "from wsflow" });
  });

  test("the Worker's close code reaches ws and wsflow's client", { timeout: 20_000 }, async () => {
    const ws = await wsOpen(`ws://127.0.0.1:${ports.echo}/`, []);
    const closed = wsClosed(ws);
    ws.send("close-me");
    assert.deepEqual(await closed, { code: 4001, reason: "asked to" });

    const wss = new WebSocketStream(`ws://127.0.0.1:${ports.echo}/`);
    const { writable } = await wss.opened;
    await writable.getWriter().write("close-me");
    assert.deepEqual(await wss.closed, { closeCode: 4001, reason: "asked to" });
  });

  test("a refused upgrade keeps its status through workerd: 403 for a refused Origin, 426 for another version", { timeout: 20_000 }, async () => {
    await assert.rejects(wsOpen(`ws://127.0.0.1:${ports.echo}/`, [], { origin: "https://refused.example" }), { status: 403 });
    const wss = new WebSocketStream(`ws://127.0.0.1:${ports.echo}/`, { headers: { origin: "https://refused.example" } });
    await assert.rejects(wss.opened, /answered 403 instead of 101/);
    const head = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n";
    assert.equal(await rawStatus(ports.echo, head), "HTTP/1.1 426 Upgrade Required");
  });

  test("what the platform cannot do is refused with what to do: streamMessages, tls.ca", async () => {
    const refused = await (await fetch(`http://127.0.0.1:${ports.echo}/refused`)).json();
    assert.equal(refused.streamMessages, "TypeError: Cannot upgrade: streamMessages needs wsflow's codec; a Worker's WebSocket delivers whole messages");
    assert.match(refused.ca, /Cannot connect: cloudflare:sockets trusts the system's certificates only; leave out tls\.ca$/);
  });

  test("a Worker's client over cloudflare:sockets, with nodejs_compat: permessage-deflate with wsflow's server on Node", { timeout: 20_000 }, async () => {
    offers.length = 0;
    const response = await fetch(`http://127.0.0.1:${ports.compat}/?to=ws://127.0.0.1:${nodeServer.port}/&compression=1`);
    assert.deepEqual(await response.json(), { extensions: "permessage-deflate", text: true, binary: true, closed: { closeCode: 4000, reason: "done" } });
    assert.deepEqual(offers, ["permessage-deflate; client_max_window_bits"]);
  });

  test("without nodejs_compat: the client works uncompressed, and compression: true says what to do", { timeout: 20_000 }, async () => {
    offers.length = 0;
    const plain = await fetch(`http://127.0.0.1:${ports.plain}/?to=ws://127.0.0.1:${nodeServer.port}/`);
    assert.deepEqual(await plain.json(), { extensions: "", text: true, binary: true, closed: { closeCode: 4000, reason: "done" } });
    assert.deepEqual(offers, [null]);
    const asked = await (await fetch(`http://127.0.0.1:${ports.plain}/?to=ws://127.0.0.1:${nodeServer.port}/&compression=1`)).json();
    assert.match(asked.error, /^TypeError: Cannot use compression: this runtime has no node:zlib .*nodejs_compat.*pass compression: \{ engines \}/);
  });

  test("the README's Worker runs as written: its server echoes, its client reaches a wsflow server", { timeout: 20_000 }, async () => {
    const ws = await wsOpen(`ws://127.0.0.1:${ports.readme}/ws`, ["chat"]);
    assert.equal(ws.protocol, "chat");
    ws.send("hi");
    assert.equal(await wsNext(ws), "hi");
    ws.close();
    const response = await fetch(`http://127.0.0.1:${ports.readme}/?to=ws://127.0.0.1:${nodeServer.port}/`);
    assert.equal(await response.text(), "The server said: hello from the edge");
  });
});
