// wsflow's client (WebSocketStream, over this runtime's default transport) against a hostile raw
// TCP "server" on 127.0.0.1: a wrong or incomplete 101, what the client did not offer, a head
// sent slowly or too long, and frames a client must refuse (RFC 6455 section 4.1's checks of
// the response, section 5.1's masking rule, section 5.2's lengths). Each must fail the
// connection: `opened` (or `closed`) rejects, a close frame with the RFC's code goes out when
// the connection was open, and the client ends TCP. Every wait is bounded.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createServer, type Server, type Socket } from "node:net";
import { WebSocketStream } from "../../mod.ts";
import { computeAcceptKey } from "../../src/core/handshake.ts";
import { codeOf, concat, frame, parseFrames } from "./_attack.ts";

const T = { timeout: 30_000 };

/** One connection the scripted server took: what the client sent after its head, and when it closed. */
interface Taken {
  head: string;
  key: string;
  socket: Socket;
  /** The client's bytes after its request head. */
  after(): Buffer;
  /** Resolves with `performance.now()` when the client closed TCP. */
  closed: Promise<number>;
}

/** A TCP server on 127.0.0.1 that hands each connection (after the request head) to `script`. */
async function scripted(script: (taken: Taken) => void | Promise<void>): Promise<{ url: string; taken: Promise<Taken>; close(): void }> {
  const sockets = new Set<Socket>();
  let give!: (taken: Taken) => void;
  const taken = new Promise<Taken>((resolve) => (give = resolve));
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    let got = Buffer.alloc(0);
    let headEnd = -1;
    const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(performance.now())));
    socket.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (headEnd >= 0) return;
      headEnd = got.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      const head = got.subarray(0, headEnd).toString("latin1");
      const one: Taken = {
        head,
        key: /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? "",
        socket,
        after: () => got.subarray(headEnd + 4),
        closed,
      };
      give(one);
      void Promise.resolve(script(one)).catch(() => socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}/`,
    taken,
    close() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** A 101 for `key` with extra header lines (each ending in CRLF). */
async function switching(key: string, extra = "", accept?: string): Promise<string> {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Accept: ${accept ?? await computeAcceptKey(key)}\r\n${extra}\r\n`;
}

/** Settles within `ms`, or rejects saying what did not. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const servers: { close(): void }[] = [];
after(() => servers.forEach((s) => s.close()));

/** Opens a client against `script`; returns how opened and closed settled and when the client closed TCP. */
async function attempt(script: (taken: Taken) => void | Promise<void>, options: ConstructorParameters<typeof WebSocketStream>[1] = {}) {
  const server = await scripted(script);
  servers.push(server);
  const started = performance.now();
  const client = new WebSocketStream(server.url, { heartbeat: false, ...options });
  const opened = await within(client.opened.then((o) => ({ ok: true as const, value: o }), (error) => ({ ok: false as const, error })), 10_000, "opened");
  const closed = await within(client.closed.then((c) => ({ ok: true as const, value: c }), (error) => ({ ok: false as const, error })), 10_000, "closed");
  const taken = await server.taken;
  const tcpClosed = await within(taken.closed, 5000, "the client's TCP close").catch(() => undefined);
  return { client, opened, closed, taken, started, openedMs: performance.now() - started, tcpClosed, server };
}

describe("RFC 6455 section 4.1: the client checks the server's opening handshake", () => {
  const refused: [string, (taken: Taken) => Promise<string> | string, ConstructorParameters<typeof WebSocketStream>[1]?][] = [
    ["a 101 with a wrong Sec-WebSocket-Accept", async ({ key }) => switching(key, "", await computeAcceptKey(key + "x"))],
    ["a 101 with no Sec-WebSocket-Accept", () => "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"],
    ["a 101 with no Upgrade field", async ({ key }) => (await switching(key)).replace("Upgrade: websocket\r\n", "")],
    ["a 101 with Upgrade: h2c", async ({ key }) => (await switching(key)).replace("Upgrade: websocket", "Upgrade: h2c")],
    ["a 101 choosing a subprotocol not offered", ({ key }) => switching(key, "Sec-WebSocket-Protocol: superchat\r\n"), { protocols: ["chat"] }],
    ["a 101 choosing a subprotocol when none was offered", ({ key }) => switching(key, "Sec-WebSocket-Protocol: chat\r\n")],
    ["a 101 with an extension not offered", ({ key }) => switching(key, "Sec-WebSocket-Extensions: x-foo\r\n")],
    ["a 101 with permessage-deflate when compression is off", ({ key }) => switching(key, "Sec-WebSocket-Extensions: permessage-deflate\r\n"), { compression: false }],
    ["a 101 with permessage-deflate; server_max_window_bits=7", ({ key }) => switching(key, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n"), { compression: true }],
    ["a 101 with permessage-deflate and an unknown parameter", ({ key }) => switching(key, "Sec-WebSocket-Extensions: permessage-deflate; foo=1\r\n"), { compression: true }],
    ["a 101 with permessage-deflate twice", ({ key }) => switching(key, "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n"), { compression: true }],
    ["a 200 OK", () => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
  ];
  for (const [what, answer, options] of refused) {
    test(`${what}: opened and closed reject, and the client ends TCP`, T, async () => {
      const result = await attempt(async (taken) => void taken.socket.write(await answer(taken)), options);
      assert.equal(result.opened.ok, false, "opened rejects");
      assert.equal(result.closed.ok, false, "closed rejects");
      assert.equal((result.closed as { error: Error }).error?.name, "WebSocketError");
      assert.ok(result.tcpClosed !== undefined, "the client closed TCP");
      assert.equal(result.taken.after().length, 0, "no frame was sent");
    });
  }

  test("a 101 head sent one byte every 100 ms is cut at handshakeTimeout", T, async () => {
    let stop = false;
    const result = await attempt(async ({ key, socket }) => {
      const bytes = Buffer.from(await switching(key), "latin1");
      for (let i = 0; i < bytes.length && !stop && !socket.destroyed; i++) {
        socket.write(bytes.subarray(i, i + 1));
        await new Promise((r) => setTimeout(r, 100));
      }
    }, { handshakeTimeout: 500 });
    stop = true;
    assert.equal(result.opened.ok, false, "opened rejects");
    assert.ok(result.openedMs < 2500, `opened settled after ${Math.round(result.openedMs)} ms`);
    assert.equal((result.closed as { error: { closeCode?: number } }).error?.closeCode, 1006);
    assert.ok(result.tcpClosed !== undefined, "the client closed TCP");
  });

  test("a response head of 1 MiB is refused at maxHeadBytes, without reading it all", T, async () => {
    const result = await attempt(async ({ key, socket }) => {
      socket.write((await switching(key)).replace("\r\n\r\n", `\r\nX-Big: ${"a".repeat(1 << 20)}\r\n\r\n`));
    });
    assert.equal(result.opened.ok, false, "opened rejects");
    assert.ok(result.openedMs < 2000, `opened settled after ${Math.round(result.openedMs)} ms`);
    assert.match(String((result.opened as { error: Error }).error?.message), /head|16384|large|maxHeadBytes/i);
    assert.ok(result.tcpClosed !== undefined, "the client closed TCP");
  });

  test("a frame in the same packet as the 101 is delivered as the first message", T, async () => {
    const server = await scripted(async ({ key, socket }) => {
      socket.write(concat(Buffer.from(await switching(key), "latin1"), frame(0x81, "early", false), frame(0x88, Uint8Array.of(0x03, 0xe8), false)));
      // A server closes TCP after the closing handshake (section 7.1.1); the client waits for it.
      setTimeout(() => socket.end(), 300);
    });
    servers.push(server);
    const client = new WebSocketStream(server.url, { heartbeat: false });
    const { readable } = await within(client.opened, 5000, "opened");
    const reader = readable.getReader();
    const first = await within(reader.read(), 5000, "the first message");
    assert.equal(first.value, "early");
    const end = await within(reader.read(), 5000, "the end of the messages");
    assert.equal(end.done, true);
    assert.deepEqual(await within(client.closed, 5000, "closed"), { closeCode: 1000, reason: "" });
  });
});

describe("RFC 6455 sections 5.1 and 5.2: frames a client must refuse", () => {
  // Upgrades properly, then writes `bytes`; the client must send a close frame with `code`.
  async function refuse(bytes: Uint8Array, code: number, options: ConstructorParameters<typeof WebSocketStream>[1] = {}) {
    const result = await attempt(async ({ key, socket }) => {
      socket.write(await switching(key));
      await new Promise((r) => setTimeout(r, 50));
      socket.write(bytes);
    }, { compression: false, ...options });
    assert.equal(result.opened.ok, true, "the handshake succeeded");
    assert.equal(result.closed.ok, false, "closed rejects");
    assert.equal((result.closed as { error: { closeCode?: number } }).error?.closeCode, code, String((result.closed as { error: Error }).error?.message));
    const sent = parseFrames(result.taken.after()).frames;
    const close = sent.find((f) => f.opcode === 0x8);
    assert.equal(codeOf(close), code, "the client's close frame");
    assert.equal(close?.masked, true, "a client's frames are masked");
    assert.ok(result.tcpClosed !== undefined, "the client closed TCP");
    return result;
  }

  test("a masked frame from the server is 1002 (section 5.1)", T, async () => {
    await refuse(frame(0x81, "masked", true), 1002);
  });

  test("RSV1 without a negotiated extension is 1002", T, async () => {
    await refuse(frame(0xc1, "x", false), 1002);
  });

  test("a 64-bit length of 2^40 is 1009 at once (over maxFrameSize)", T, async () => {
    const result = await refuse(frame(0x82, new Uint8Array(10), false, 2n ** 40n), 1009);
    assert.ok(performance.now() - result.started < 3000);
  });

  test("a 64-bit length with the most significant bit set is 1002", T, async () => {
    await refuse(concat(Uint8Array.of(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1), new Uint8Array(8)), 1002);
  });

  test("a frame over maxFrameSize announced but never sent is 1009 at once", T, async () => {
    await refuse(frame(0x82, new Uint8Array(10), false, 1 << 20), 1009, { maxFrameSize: 1024 });
  });

  test("a close frame with code 1005 in it is 1002", T, async () => {
    await refuse(frame(0x88, Uint8Array.of(0x03, 0xed), false), 1002);
  });

  test("a fragmented ping is 1002", T, async () => {
    await refuse(frame(0x09, "p", false), 1002);
  });

  test("text that is not UTF-8 is 1007", T, async () => {
    await refuse(frame(0x81, Uint8Array.of(0xc3, 0x28), false), 1007);
  });
});
