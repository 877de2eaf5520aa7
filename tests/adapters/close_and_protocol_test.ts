// The server habits of ws, Deno and Bun users on every server path of this runtime (Node's codec,
// Deno and Bun native and codec): close(code, reason) with the codes a server needs, on the wire,
// and the `protocol` option as a name, a list or a function. A raw TCP client reads the bytes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type UpgradeOptions, upgradeWebSocket } from "../../mod.ts";
import { runtime, serve, type ServeHandle } from "../../src/adapters/serve.ts";
import { rawClient } from "../_wire.ts";

const modes = runtime() === "node" ? ["codec"] as const : ["native", "codec"] as const;

// `?close=CODE&reason=R`: the server closes with close(CODE, R) once open; if close() throws, it
// sends the error's name and message as a text message, then closes with 1000 "refused".
// `?protocol=chat` or `?protocol=v2,chat`: the protocol option as a name or a list.
async function handler(request: Request): Promise<Response> {
  const query = new URL(request.url).searchParams;
  const choice = query.get("protocol");
  const protocol: UpgradeOptions["protocol"] = choice === null ? undefined : choice.includes(",") ? choice.split(",") : choice;
  const { socket, response } = await upgradeWebSocket(request, { protocol });
  const code = query.get("close");
  if (socket && code !== null) {
    void socket.opened.then(async ({ writable }) => {
      try {
        socket.close(Number(code), query.get("reason") ?? "");
      } catch (error) {
        const writer = writable.getWriter();
        await writer.write(`${(error as Error).name}: ${(error as Error).message}`);
        writer.releaseLock();
        socket.close(1000, "refused");
      }
    }).catch(() => {});
  }
  return response;
}

for (const mode of modes) {
  describe(`${runtime()} server, mode ${mode}: close codes and the protocol option`, { timeout: 60_000 }, () => {
    let server: ServeHandle;
    before(async () => {
      server = await serve({ port: 0, mode }, handler);
    });
    after(() => server.shutdown());

    test("close(code, reason) sends 1001, 1008, 1011, 1012, 1013 and 1014 as a server needs them (RFC 6455 section 7.4.1)", async () => {
      for (const code of [1000, 1001, 1003, 1008, 1011, 1012, 1013, 1014, 4000]) {
        const client = await rawClient(server.port, `/?close=${code}&reason=why`);
        try {
          assert.match(client.head, /^HTTP\/1\.1 101/);
          assert.deepEqual(await client.wire.close(), { code, reason: "why" }, `close(${code}, "why")`);
        } finally {
          client.end();
        }
      }
    });

    test("close() refuses 1005, 1006, 1015 and 5000 with InvalidAccessError naming what may be sent, and sends none of them", async () => {
      for (const code of [1004, 1005, 1006, 1015, 2999, 5000]) {
        const client = await rawClient(server.port, `/?close=${code}`);
        try {
          const message = await client.wire.frame();
          assert.equal(message?.opcode, 0x1);
          assert.equal(
            new TextDecoder().decode(message?.payload),
            `InvalidAccessError: Cannot close: close code ${code} may not be sent, use 1000-1003, 1007-1014 or 3000-4999`,
          );
          assert.deepEqual(await client.wire.close(), { code: 1000, reason: "refused" });
        } finally {
          client.end();
        }
      }
    });

    test('protocol: "chat" (Deno\'s option) is chosen when offered, and no subprotocol when not', async () => {
      const offered = await rawClient(server.port, "/?protocol=chat", { "Sec-WebSocket-Protocol": "superchat, chat" });
      offered.end();
      assert.match(offered.head, /^HTTP\/1\.1 101/);
      assert.match(offered.head, /\r\nsec-websocket-protocol: chat\r\n/i);
      const other = await rawClient(server.port, "/?protocol=chat", { "Sec-WebSocket-Protocol": "superchat" });
      other.end();
      assert.match(other.head, /^HTTP\/1\.1 101/);
      assert.doesNotMatch(other.head, /sec-websocket-protocol/i);
      const none = await rawClient(server.port, "/", { "Sec-WebSocket-Protocol": "superchat" });
      none.end();
      assert.doesNotMatch(none.head, /sec-websocket-protocol/i, "with no protocol option, no subprotocol (Bun picks the client's first unless told)");
    });

    test("protocol: a list is the server's order of preference: the first of it the client offered", async () => {
      const client = await rawClient(server.port, "/?protocol=v2,chat", { "Sec-WebSocket-Protocol": "chat, v2" });
      client.end();
      assert.match(client.head, /^HTTP\/1\.1 101/);
      assert.match(client.head, /\r\nsec-websocket-protocol: v2\r\n/i);
    });
  });
}
