// Runs inside an empty project where the packed `wsflow` tarball is installed, on Node, Bun and
// Deno (run.mjs rewrites the specifiers to `npm:wsflow...` for Deno). Imports every subpath but
// wsflow/cloudflare (which only workerd loads; run.mjs bundles it), and package.json, then a real
// round trip on 127.0.0.1: wsflow/serve (the runtime's server, wsflow's codec) and
// WebSocketStream from "wsflow" with the default transport and permessage-deflate, which the main
// entry picks by the runtime's globals and process.getBuiltinModule, and a topic published to the
// server's connection. Prints one JSON line; exits non-zero on failure.
import { strict as assert } from "node:assert";
import * as wsflow from "wsflow";
import { Topics, upgradeWebSocket, WebSocketStream } from "wsflow";
import * as bun from "wsflow/bun";
import * as deno from "wsflow/deno";
import * as node from "wsflow/node";
import { runtime, serve } from "wsflow/serve";
import { createZlibEngines } from "wsflow/zlib";
import { natsBackplane } from "wsflow/nats";
import { redisBackplane } from "wsflow/redis";
import pkg from "wsflow/package.json" with { type: "json" };

const timer = setTimeout(() => {
  console.error("smoke: timed out after 10 s");
  process.exit(1);
}, 10_000);

assert.equal(typeof wsflow.FrameDecoderStream, "function");
assert.equal(typeof node.attach, "function");
assert.equal(typeof deno.serve, "function");
assert.equal(typeof bun.serve, "function");
assert.equal(typeof createZlibEngines().createDeflate, "function");
assert.equal(typeof redisBackplane, "function");
assert.equal(typeof natsBackplane, "function");
assert.equal(pkg.name, "wsflow");

const topics = new Topics();

const server = await serve({ port: 0, hostname: "127.0.0.1", mode: "codec" }, async (request) => {
  const { socket, response } = await upgradeWebSocket(request, {
    protocol: (offered) => (offered.includes("echo") ? "echo" : undefined),
    compression: true,
  });
  if (socket) {
    void topics.subscribe(socket, "news");
    void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
  }
  return response;
});

const wss = new WebSocketStream(`ws://127.0.0.1:${server.port}/`, { protocols: ["echo"], compression: true });
const { readable, writable, protocol, extensions } = await wss.opened;
const writer = writable.getWriter();
const reader = readable.getReader();
const big = "wsflow ".repeat(10_000);
await writer.write("hello");
await writer.write(new Uint8Array([1, 2, 3]));
await writer.write(big);
assert.equal((await reader.read()).value, "hello");
assert.deepEqual([...(await reader.read()).value], [1, 2, 3]);
assert.equal((await reader.read()).value, big);
await topics.publish("news", "to every subscriber");
assert.equal((await reader.read()).value, "to every subscriber");
wss.close({ closeCode: 1000, reason: "done" });
const closed = await wss.closed;
assert.deepEqual(closed, { closeCode: 1000, reason: "done" });
await server.shutdown();
await topics.close();
clearTimeout(timer);

assert.equal(protocol, "echo");
assert.match(extensions, /permessage-deflate/);
console.log(JSON.stringify({ ok: true, runtime: runtime(), protocol, extensions, closed }));
