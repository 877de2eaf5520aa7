// The package as bundlers see it: every entry point bundled by esbuild for the browser, neutral
// and node platforms through the package's npm exports, with no import left unresolved and no
// `node:` import; then the bundled main entry run where there is no Node, Deno or Bun: Vercel's
// edge-runtime (npm) and a Chromium page, with the codec over an in-memory pipe. Driven from
// Node 24 only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type * as Wsflow from "../../mod.ts";
import { chromiumMissing, launchChromium } from "../interop/_chromium.ts";
import { bundle, isNode24, root, sourcePackage } from "./_edge.ts";

// deno.json's subpaths (read when a test runs: the Node 20 build of this file lives elsewhere).
const subpaths = () => Object.keys(JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).exports as Record<string, string>);
const specifier = (subpath: string) => (subpath === "." ? "wsflow" : `wsflow/${subpath.slice(2)}`);

// What the bundled main entry does, run in the other runtime as source text (so no imports here;
// `wsflow` is the bundle's global): the codec streams both ways over an in-memory pipe (masked,
// fragmented), then a client and a server over two pipes with text, binary and a close code
// (or what the server says where the runtime forbids it), and what the default transport and
// compression say where the runtime has neither. The result comes back as JSON.
async function scenario(wsflow: typeof Wsflow): Promise<string> {
  const { FrameDecoderStream, FrameEncoderStream, MessageDecoderStream, MessageEncoderStream, readUpgradeRequest, WebSocketStream } = wsflow;
  const big = new Uint8Array(70_000).map((_, i) => i % 253);
  const same = (a: unknown, b: Uint8Array) => a instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  // Messages to a client's masked frames, through a pipe, decoded as a server decodes them.
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  const sent = new ReadableStream<string | Uint8Array>({
    start(controller) {
      controller.enqueue("Hello");
      controller.enqueue(big);
      controller.close();
    },
  });
  void sent.pipeThrough(new MessageEncoderStream({ fragmentSize: 16_384 })).pipeThrough(new FrameEncoderStream({ role: "client" })).pipeTo(pipe.writable);
  const codec: unknown[] = [];
  for await (const message of pipe.readable.pipeThrough(new FrameDecoderStream({ role: "server" })).pipeThrough(new MessageDecoderStream())) codec.push(message);

  let connection: Record<string, unknown>;
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  const client = new WebSocketStream("ws://in-memory/chat", { protocols: ["chat"], transport: { readable: down.readable, writable: up.writable } });
  try {
    const upgrade = await readUpgradeRequest({ readable: up.readable, writable: down.writable });
    const server = await upgrade.accept({ protocol: (offered) => offered[0] });
    void server.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
    const { readable, writable, protocol } = await client.opened;
    const reader = readable.getReader();
    const writer = writable.getWriter();
    await writer.write("over a pipe");
    const text = (await reader.read()).value;
    await writer.write(big);
    const binary = same((await reader.read()).value, big);
    client.close({ closeCode: 4005, reason: "bye" });
    connection = { protocol, text, binary, serverClosed: await server.closed, clientClosed: await client.closed };
  } catch (error) {
    connection = { serverError: `${(error as Error).name}: ${(error as Error).message}`, client: await client.opened.then(() => "opened", (e: Error) => e.message) };
  }

  const transport = await new WebSocketStream("ws://127.0.0.1:9/").opened.then(() => "opened", (error: Error) => `${error.name}: ${error.message}`);
  let compression = "accepted";
  try {
    new WebSocketStream("ws://127.0.0.1:9/", { compression: true, transport: { readable: down.readable, writable: up.writable } });
  } catch (error) {
    compression = `${(error as Error).name}: ${(error as Error).message}`;
  }
  return JSON.stringify({ codec: [codec[0], same(codec[1], big)], connection, transport, compression });
}

// What every runtime without sockets and zlib gives.
function checkScenario(json: string): Record<string, unknown> {
  const result = JSON.parse(json);
  assert.deepEqual(result.codec, ["Hello", true]);
  assert.match(result.transport, /^WebSocketError: Cannot open connection: Cannot connect to ws:\/\/127\.0\.0\.1:9\/: this runtime has no TCP socket .* pass a byte duplex \{ readable, writable \} as the transport option$/);
  assert.match(result.compression, /^TypeError: Cannot use compression: this runtime has no node:zlib .* pass compression: \{ engines \}/);
  return result.connection;
}

describe("bundling wsflow with esbuild", { skip: !isNode24 && "driven from Node 24; esbuild, edge-runtime and Chromium are started from there" }, () => {
  let pkg: { dir: string; cleanup(): void };
  let iife: string;

  before(async () => {
    pkg = await sourcePackage();
    // A script that leaves the main entry on `globalThis.wsflow`, for runtimes without modules.
    iife = (await bundle(pkg.dir, 'import * as wsflow from "wsflow"; globalThis.wsflow = wsflow;', "browser", "iife")).code;
  });
  after(() => pkg.cleanup());

  for (const target of ["browser", "neutral", "node"] as const) {
    test(`every entry point bundles for platform ${target} with no import left but cloudflare:sockets in wsflow/cloudflare`, async () => {
      const left: Record<string, string[]> = {};
      for (const subpath of subpaths()) {
        const result = await bundle(pkg.dir, `export * from "${specifier(subpath)}";`, target);
        left[subpath] = result.imports;
        assert.deepEqual(result.warnings, [], `${specifier(subpath)} for ${target}`);
      }
      const expected = Object.fromEntries(subpaths().map((s) => [s, s === "./cloudflare" ? ["cloudflare:sockets"] : []]));
      assert.deepEqual(left, expected);
    });
  }

  test("the main entry under the workerd condition adds wsflow/cloudflare, and only there", async () => {
    const workerd = await bundle(pkg.dir, 'export { upgradeWebSocket } from "wsflow";', "workerd");
    assert.deepEqual(workerd.imports, ["cloudflare:sockets"]);
    assert.match(workerd.code, /WebSocketPair/);
    const browser = await bundle(pkg.dir, 'export { upgradeWebSocket } from "wsflow";', "browser");
    assert.doesNotMatch(browser.code, /WebSocketPair|cloudflare:sockets/);
  });

  test("the bundled main entry runs in edge-runtime: the codec over an in-memory pipe, and what it cannot do there says what to do", { timeout: 30_000 }, async () => {
    const { EdgeRuntime } = await import("edge-runtime");
    const runtime = new EdgeRuntime({ initialCode: iife });
    const connection = checkScenario(await runtime.evaluate(`(${scenario.toString()})(globalThis.wsflow)`));
    assert.deepEqual(connection, { protocol: "chat", text: "over a pipe", binary: true, serverClosed: { closeCode: 4005, reason: "bye" }, clientClosed: { closeCode: 4005, reason: "bye" } });
  });

  test("the bundled main entry runs in a Chromium page: the codec over an in-memory pipe; a server upgrade says the page forbids it", { skip: chromiumMissing, timeout: 60_000 }, async () => {
    const browser = (await launchChromium())!;
    try {
      const page = await (await browser.newContext()).newPage();
      await page.addScriptTag({ content: iife });
      const connection = checkScenario(await page.evaluate(`(${scenario.toString()})(globalThis.wsflow)`));
      // A page's Request drops Upgrade, Connection and Sec-WebSocket-*: the server says so, and
      // its client gets the 500.
      assert.match(String(connection.serverError), /^TypeError: Cannot read upgrade request: this runtime's Request drops the Upgrade, Connection and Sec-WebSocket-\* headers/);
      assert.match(String(connection.client), /answered 500 instead of 101/);
    } finally {
      await browser.close();
    }
  });
});
