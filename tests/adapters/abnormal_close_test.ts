// How a server's connection ends when the peer does not close it cleanly, on every server path of
// this runtime (Node's codec; Deno and Bun native and codec), seen from the server's `closed`: a
// peer that drops TCP after the handshake gives 1006 (RFC 6455 section 7.1.5), and a text frame
// of invalid UTF-8 gives 1007 (section 8.1), with the close frame on the wire where the runtime
// sends one. A raw TCP client writes the bytes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { upgradeWebSocket } from "../../mod.ts";
import { runtime, serve, type ServeHandle } from "../../src/adapters/serve.ts";
import { rawClient, wireFrame } from "../_wire.ts";

const modes = runtime() === "node" ? ["codec"] as const : ["native", "codec"] as const;

interface Ended {
  clean: boolean;
  closeCode: number | undefined;
  name?: string;
  message?: string;
}

for (const mode of modes) {
  describe(`${runtime()} server, mode ${mode}: a peer that does not close cleanly`, { timeout: 60_000 }, () => {
    let server: ServeHandle;
    // How each connection ended, by the path it was opened with.
    const ended = new Map<string, Promise<Ended>>();
    before(async () => {
      server = await serve({ port: 0, mode }, async (request) => {
        const { socket, response } = await upgradeWebSocket(request);
        if (!socket) return response;
        const path = new URL(request.url).pathname;
        ended.set(
          path,
          socket.closed.then(
            (info) => ({ clean: true, closeCode: info.closeCode }),
            (error) => ({ clean: false, closeCode: error?.closeCode, name: error?.name, message: error?.message }),
          ),
        );
        void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
        return response;
      });
    });
    after(() => server.shutdown());

    const outcome = async (path: string): Promise<Ended> => {
      for (let i = 0; i < 100 && !ended.has(path); i++) await new Promise((r) => setTimeout(r, 20));
      const result = ended.get(path);
      assert.ok(result, `the server upgraded ${path}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${path}: closed did not settle within 10 s`)), 10_000)));
      return await Promise.race([result, late]).finally(() => clearTimeout(timer));
    };

    test("a peer that drops TCP after the handshake: closed rejects with 1006, not 0 or 1005", async () => {
      const client = await rawClient(server.port, "/drop");
      assert.match(client.head, /^HTTP\/1\.1 101/);
      // One echo first, so the connection is open on both sides before it is cut.
      const writer = client.duplex.writable.getWriter();
      await writer.write(wireFrame(0x1, new TextEncoder().encode("hi"), true));
      const echo = await client.wire.frame();
      assert.deepEqual(echo && { opcode: echo.opcode, text: new TextDecoder().decode(echo.payload) }, { opcode: 0x1, text: "hi" });
      client.end();
      const result = await outcome("/drop");
      assert.equal(result.clean, false);
      assert.equal(result.closeCode, 1006);
      assert.equal(result.name, "WebSocketError");
    });

    test("a text frame of invalid UTF-8: closed rejects with 1007, and the peer gets a 1007 close frame", async () => {
      const client = await rawClient(server.port, "/utf8");
      try {
        assert.match(client.head, /^HTTP\/1\.1 101/);
        const writer = client.duplex.writable.getWriter();
        await writer.write(wireFrame(0x1, Uint8Array.of(0x68, 0xc3, 0x28, 0xff), true));
        const close = await client.wire.close();
        const result = await outcome("/utf8");
        assert.equal(result.clean, false);
        if (runtime() === "deno" && mode === "native") {
          // Deno.upgradeWebSocket (Deno 2.9) drops the TCP connection without a close frame, so
          // both sides have 1006; a bare Deno.serve server does the same.
          assert.equal(close, undefined, "Deno sends no close frame");
          assert.equal(result.closeCode, 1006);
        } else {
          assert.equal(close?.code, 1007, "the close frame on the wire");
          assert.equal(result.closeCode, 1007, `the server's closed (${result.message})`);
          assert.match(result.message ?? "", /not valid UTF-8/);
        }
      } finally {
        client.end();
      }
    });
  });
}
