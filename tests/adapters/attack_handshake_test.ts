// Opening handshakes a hostile client writes, on every server path of this runtime (Node codec;
// Deno and Bun native and codec), against the README's echo: the answer must be the RFC's (RFC
// 6455 section 4.2, RFC 9110/9112 for the HTTP around it, RFC 7692 for permessage-deflate
// offers). On a native path Deno.serve or Bun.serve parses the head; where it answers otherwise
// the test asserts what the runtime does and says so: not a wsflow defect.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { runtime } from "../../src/adapters/serve.ts";
import { concat, deflateMessage, echoFixture, type EchoFixture, frame, inflateMessage, RawConnection, statusOf, upgradeRequest } from "./_attack.ts";

const modes = runtime() === "node" ? ["codec"] as const : ["native", "codec"] as const;
const T = { timeout: 30_000 };
const KEY_LINE = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/** The head of the response to `request`, and the connection (destroyed). */
async function ask(port: number, request: string | Uint8Array, ms = 5000): Promise<{ head: string; status: number; connection: RawConnection }> {
  const connection = await RawConnection.open(port, request);
  try {
    const head = await connection.head(ms);
    return { head, status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0), connection };
  } finally {
    connection.destroy();
  }
}

for (const mode of modes) {
  describe(`${runtime()} server, mode ${mode}: hostile opening handshakes`, { timeout: 120_000 }, () => {
    let fixture: EchoFixture;
    before(async () => {
      fixture = await echoFixture(mode);
    });
    after(() => fixture.server.shutdown());
    const native = mode === "native";
    const rt = runtime();
    const head = (path: string, extra = "", start?: string) => upgradeRequest(path, extra, start);

    describe("RFC 6455 section 4.2.1: the request's fields", () => {
      test("two Sec-WebSocket-Key fields are 400", T, async () => {
        const { status } = await ask(fixture.port, head("/", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"));
        assert.equal(status, 400);
      });

      test("a Sec-WebSocket-Key that is not 16 bytes of base64 is 400", T, async () => {
        for (const key of ["AAAA", "AAAAAAAAAAAAAAAAAAAAAAAA", "!!!!!!!!!!!!!!!!!!!!!!==", ""]) {
          const request = head("/").replace(KEY_LINE, `Sec-WebSocket-Key: ${key}\r\n`);
          const { status } = await ask(fixture.port, request);
          assert.equal(status, 400, `key ${JSON.stringify(key)}`);
        }
      });

      test("Sec-WebSocket-Version: 8 is 426 with Sec-WebSocket-Version: 13 (section 4.4)", T, async () => {
        const { status, head: answer } = await ask(fixture.port, head("/").replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"));
        assert.equal(status, 426);
        assert.match(answer, /\r\nsec-websocket-version: 13(\r\n|$)/i);
      });

      test("Connection: keep-alive, Upgrade is upgraded", T, async () => {
        const { status } = await ask(fixture.port, head("/").replace("Connection: Upgrade", "Connection: keep-alive, Upgrade"));
        assert.equal(status, 101);
      });

      test("Upgrade: WebSocket in mixed case is upgraded", T, async () => {
        const { status } = await ask(fixture.port, head("/").replace("Upgrade: websocket", "Upgrade: WebSocket"));
        assert.equal(status, 101);
      });

      test("a POST with the upgrade fields is not upgraded (section 4.1: the method MUST be GET)", T, async () => {
        const { status } = await ask(fixture.port, head("/", "Content-Length: 0\r\n", "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
        assert.ok(status >= 400 && status < 500, `answered ${status}`);
      });

      test("HTTP/1.0 is not upgraded (section 4.1: HTTP/1.1 or higher)", T, async () => {
        const { status } = await ask(fixture.port, head("/", "", "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n"));
        if (native) {
          // Deno.serve and Bun.serve upgrade an HTTP/1.0 request, and a Request does not carry
          // the HTTP version, so wsflow's handshake helper cannot tell.
          assert.equal(status, 101);
          return;
        }
        assert.equal(status, 505);
      });

      // Deno.serve hands on a request without Host (its Request has no host header and a URL of
      // http://localhost:PORT/): wsflow's handshake helper must refuse it (RFC 6455 section
      // 4.2.1 item 2, then "MUST ... return ... 400").
      test("no Host is 400 (RFC 6455 section 4.2.1; RFC 9112 section 3.2)", T, async () => {
        const { status } = await ask(fixture.port, head("/", "", "GET / HTTP/1.1\r\n"));
        assert.equal(status, 400);
      });

      test("an absolute-form request target is upgraded (RFC 9112 section 3.2.2: a server MUST accept it)", T, async () => {
        const { status } = await ask(fixture.port, head("/", "", "GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
        assert.equal(status, 101);
      });
    });

    describe("RFC 9112 section 5: malformed field lines", () => {
      test("whitespace between a field name and the colon is 400 (RFC 9112 section 5.1: MUST reject)", T, async () => {
        const { status } = await ask(fixture.port, head("/", "X-Test : a\r\n"));
        assert.equal(status, 400);
      });

      test("obs-fold (a continuation line) is 400 or folded into a space (RFC 9112 section 5.2)", T, async () => {
        const { status } = await ask(fixture.port, head("/", "X-Test: a\r\n b\r\n"));
        assert.ok(status === 400 || status === 101, `answered ${status}`);
      });

      test("obs-fold cannot smuggle a second Sec-WebSocket-Key", T, async () => {
        const { status } = await ask(fixture.port, head("/", "X-Test: a\r\n Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"));
        assert.ok(status === 400 || status === 101, `answered ${status}`);
      });

      test("a NUL in a field value is 400 or replaced (RFC 9110 section 5.5)", T, async () => {
        const { status } = await ask(fixture.port, head("/", "X-Test: a\0b\r\n"));
        assert.ok(status === 400 || status === 101, `answered ${status}`);
      });

      test("a CR alone in a field value is 400 or replaced, never a line end (RFC 9112 section 2.2)", T, async () => {
        // Were the CR a line end, this would be a second Sec-WebSocket-Key (a 400 for another reason).
        const { status } = await ask(fixture.port, head("/", "X-Test: a\rHost: evil.test\r\n"));
        assert.ok(status === 400 || status === 101, `answered ${status}`);
      });

      test("10,000 tiny fields (50 KB) are 431 (over maxHeadBytes)", T, async () => {
        const { status, connection } = await ask(fixture.port, head("/", "X:a\r\n".repeat(10_000)));
        if (native) {
          // Deno.serve and Bun.serve apply their own head limits.
          assert.notEqual(status, 101, `answered ${status}`);
          return;
        }
        assert.equal(status, 431);
        assert.ok(await connection.waitEnd(2000) || connection.socket.destroyed);
      });

      test("a 1 MiB field line is 431, answered before the rest is read", T, async () => {
        const connection = await RawConnection.open(fixture.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(1 << 20)}\r\n` + head("/").slice(head("/").indexOf("Upgrade:")));
        try {
          const answer = await connection.head(5000);
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
          if (native) {
            // Deno.serve and Bun.serve apply their own head limits: no upgrade either way.
            assert.notEqual(status, 101, `answered ${JSON.stringify(statusOf(answer))}`);
            return;
          }
          assert.equal(status, 431);
          assert.equal(await connection.waitEnd(2000), true, "the server closed");
        } finally {
          connection.destroy();
        }
      });

      test("frames pipelined in the same packet as the request head are decoded, not lost", T, async () => {
        const connection = await RawConnection.open(fixture.port, concat(new TextEncoder().encode(head("/")), frame(0x81, "early"), frame(0x82, new Uint8Array([1, 2, 3]))));
        try {
          assert.match(await connection.head(), /^HTTP\/1\.1 101/);
          assert.ok(await connection.until(() => connection.frames().length >= 2, 3000), `got ${connection.frames().length} frames`);
          const [text, binary] = connection.frames();
          assert.deepEqual([text.opcode, new TextDecoder().decode(text.payload)], [0x1, "early"]);
          assert.deepEqual([binary.opcode, [...binary.payload]], [0x2, [1, 2, 3]]);
        } finally {
          connection.destroy();
        }
      });
    });

    describe("RFC 7692 section 7.1: permessage-deflate offers", () => {
      // With `compression: true` on the server; a native path negotiates no compression.
      const offers: [string, string | undefined][] = [
        ["permessage-deflate; server_max_window_bits=7", undefined],
        ["permessage-deflate; server_max_window_bits=16", undefined],
        ["permessage-deflate; server_max_window_bits=abc", undefined],
        ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", undefined],
        ["permessage-deflate; client_max_window_bits=10; client_max_window_bits=10", undefined],
        ["permessage-deflate; unknown_parameter", undefined],
        ["permessage-deflate; server_max_window_bits=7, permessage-deflate", "permessage-deflate"],
        ["permessage-deflate; x=1, permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"],
        ["permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover"],
        ["x-webkit-deflate-frame, permessage-deflate", "permessage-deflate"],
        ["permessage-deflate;", undefined],
      ];
      for (const [offer, answer] of offers) {
        test(`the offer ${JSON.stringify(offer)} is answered ${answer === undefined ? "with no extension, and upgraded" : JSON.stringify(answer)}`, T, async () => {
          const { status, head: response } = await ask(fixture.port, head("/?compression=1", `Sec-WebSocket-Extensions: ${offer}\r\n`));
          assert.equal(status, 101);
          const got = /\r\nsec-websocket-extensions: ([^\r]*)/i.exec(response)?.[1];
          assert.equal(got, native ? undefined : answer);
        });
      }

      test("client_no_context_takeover: messages compressed each on its own are echoed", { ...T, skip: native && "no compression on this path" }, async () => {
        const connection = await RawConnection.open(fixture.port, head("/?compression=1", "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"));
        try {
          assert.match(await connection.head(), /client_no_context_takeover/);
          connection.write(concat(frame(0xc1, deflateMessage("repeat repeat repeat")), frame(0xc1, deflateMessage("repeat repeat repeat"))));
          assert.ok(await connection.until(() => connection.frames().length >= 2));
          for (const f of connection.frames()) assert.equal(new TextDecoder().decode(f.rsv & 4 ? inflateMessage(f.payload) : f.payload), "repeat repeat repeat");
        } finally {
          connection.destroy();
        }
      });

      test("8-bit windows both ways (server_max_window_bits=8; client_max_window_bits=8): the server's messages inflate with a 256-byte window", T, async () => {
        if (native) return;
        const connection = await RawConnection.open(fixture.port, head("/?compression=1", "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8; client_max_window_bits=8\r\n"));
        try {
          const response = await connection.head();
          const negotiated = /\r\nsec-websocket-extensions: ([^\r]*)/i.exec(response)?.[1] ?? "";
          assert.match(negotiated, /^permessage-deflate/);
          assert.match(negotiated, /server_max_window_bits=8/);
          // 300 pseudo-random bytes, 6 times: repeats at distances over 256, which a 9-bit window would use.
          const block = Uint8Array.from({ length: 300 }, (_, i) => (i * 2654435761) >>> 24);
          const message = concat(block, block, block, block, block, block);
          const messages = [message, message, Uint8Array.from({ length: 5000 }, (_, i) => (i % 700) & 255)];
          connection.write(concat(...messages.map((m) => frame(0xc2, deflateMessage(m, 8)))));
          assert.ok(await connection.until(() => connection.frames().length >= messages.length), `got ${connection.frames().length} echoes`);
          // One inflater with an 8-bit window for the whole connection (context takeover).
          const { default: zlib } = await import("node:zlib");
          const inflater = zlib.createInflateRaw({ windowBits: 8 });
          const inflate = (payload: Uint8Array) =>
            new Promise<Uint8Array>((resolve, reject) => {
              const chunks: Uint8Array[] = [];
              const onData = (chunk: Uint8Array) => chunks.push(chunk);
              inflater.on("data", onData);
              inflater.once("error", reject);
              inflater.write(concat(payload, Uint8Array.of(0, 0, 0xff, 0xff)));
              inflater.flush(zlib.constants.Z_SYNC_FLUSH, () => (inflater.off("data", onData), resolve(concat(...chunks))));
            });
          try {
            for (const [i, f] of connection.frames().entries()) {
              assert.equal(f.rsv, 4, `echo ${i} is compressed`);
              assert.deepEqual(await inflate(f.payload), messages[i], `echo ${i}`);
            }
          } finally {
            inflater.close();
          }
        } finally {
          connection.destroy();
        }
      });
    });
  });
}
