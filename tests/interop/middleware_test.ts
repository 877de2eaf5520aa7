// A Hono app with middleware that copies or replaces the Response (cors(), secureHeaders(),
// etag()) in front of upgradeWebSocket, on every server path of the running runtime: the upgrade
// survives, and nothing is written as HTTP after the 101. The peer is the ws package.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Server } from "node:http";
import WebSocket from "ws";
import { Hono } from "hono";
import { cors } from "hono/cors";
import { etag } from "hono/etag";
import { secureHeaders } from "hono/secure-headers";
import { upgradeWebSocket } from "../../mod.ts";
import { runtime, serve } from "../../src/adapters/serve.ts";

function app(): Hono {
  const hono = new Hono();
  hono.use("*", cors(), secureHeaders(), etag());
  hono.get("/", (c) => c.text("plain"));
  hono.get("/ws", async (c) => {
    const { socket, response } = await upgradeWebSocket(c.req.raw);
    if (socket) {
      void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
    }
    return response;
  });
  return hono;
}

interface Running {
  port: number;
  stop(): Promise<void>;
}

const paths: Record<string, () => Promise<Running>> = {};
const serveOn = (mode: "native" | "codec") => async (): Promise<Running> => {
  const server = await serve({ port: 0, mode }, app().fetch);
  return { port: server.port, stop: () => server.shutdown() };
};
if (runtime() === "node") {
  paths["wsflow/serve on Node"] = serveOn("codec");
  paths["attach() on @hono/node-server"] = async () => {
    const { serve: honoServe } = await import("@hono/node-server");
    const { attach } = await import("../../src/adapters/node/mod.ts");
    const hono = app();
    const server = await new Promise<Server>((resolve) => {
      const created = honoServe({ fetch: hono.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(created as Server));
    });
    attach(server, hono.fetch);
    const { port } = server.address() as { port: number };
    return { port, stop: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
  };
} else {
  const name = runtime() === "deno" ? "Deno" : "Bun";
  paths[`${name} codec`] = serveOn("codec");
  paths[`${name} native`] = serveOn("native");
}

interface Session {
  messages: (string | Uint8Array)[];
  close: { code: number; reason: string };
  errors: string[];
  /** The 101's headers: no trace of wsflow's internal placeholder response. */
  upgradeHeaders: Record<string, string | string[] | undefined>;
}

// Opens a ws client, echoes "hello" and 01 02 03, closes with 1000, bounded at 10 s.
function echoSession(port: number): Promise<Session> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const session: Session = { messages: [], close: { code: 0, reason: "" }, errors: [], upgradeHeaders: {} };
    const timer = setTimeout(() => (ws.terminate(), reject(new Error(`no clean close within 10 s: ${JSON.stringify(session)}`))), 10_000);
    ws.on("upgrade", (response) => (session.upgradeHeaders = response.headers));
    ws.on("open", () => {
      ws.send("hello");
      ws.send(Uint8Array.of(1, 2, 3));
    });
    ws.on("message", (data, isBinary) => {
      session.messages.push(isBinary ? new Uint8Array(data as Buffer) : String(data));
      if (session.messages.length === 2) ws.close(1000, "done");
    });
    ws.on("error", (error) => session.errors.push(error.message));
    ws.on("close", (code, reason) => {
      clearTimeout(timer);
      session.close = { code, reason: String(reason) };
      resolve(session);
    });
  });
}

for (const [name, start] of Object.entries(paths)) {
  describe(`Hono with cors(), secureHeaders() and etag() in front of upgradeWebSocket: ${name}`, { timeout: 60_000 }, () => {
    const started = start();
    after(async () => await (await started).stop());

    test("a ws client upgrades, echoes text and binary, and closes with 1000", async () => {
      const { port } = await started;
      for (let round = 0; round < 3; round++) {
        const session = await echoSession(port);
        assert.deepEqual(session.errors, []);
        assert.deepEqual(session.messages, ["hello", Uint8Array.of(1, 2, 3)]);
        assert.deepEqual(session.close, { code: 1000, reason: "done" });
        assert.equal(session.upgradeHeaders["x-wsflow-upgrade"], undefined);
      }
    });

    test("the middleware still applies to plain requests", async () => {
      const { port } = await started;
      const response = await fetch(`http://127.0.0.1:${port}/`, { headers: { origin: "https://a.test" } });
      assert.equal(await response.text(), "plain");
      assert.equal(response.headers.get("access-control-allow-origin"), "*");
      assert.equal(response.headers.get("x-content-type-options"), "nosniff");
      assert.ok(response.headers.get("etag"));
    });
  });
}
