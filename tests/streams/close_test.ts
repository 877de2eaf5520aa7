// RFC 6455 section 7.4 and the close() calls people type, checked on the wire: a hand-written
// peer on the other end of an in-memory duplex reads the close frame wsflow sends, in both roles.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { computeAcceptKey, readUpgradeRequest, WebSocketError, WebSocketStream } from "../../mod.ts";
import { duplexPair } from "../_net.ts";
import { closePayload, upgradeHead, type WireClose, wireFrame, WireReader } from "../_wire.ts";

type Role = "client" | "server";

/** A wsflow connection in `role` whose peer is written by hand: `wire` reads what it sends. */
async function opened(role: Role) {
  const [ours, theirs] = duplexPair();
  const wire = new WireReader(theirs.readable);
  const writer = theirs.writable.getWriter();
  let local: WebSocketStream;
  if (role === "client") {
    local = new WebSocketStream("ws://test.local/", { transport: ours });
    const key = /sec-websocket-key: (.*)/i.exec(await wire.head())![1].trim();
    await writer.write(new TextEncoder().encode(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${await computeAcceptKey(key)}\r\n\r\n`,
    ));
  } else {
    const upgrade = readUpgradeRequest(ours);
    await writer.write(upgradeHead("/", "test.local"));
    local = await (await upgrade).accept();
    assert.match(await wire.head(), /^HTTP\/1\.1 101/);
  }
  await local.opened;
  return {
    local,
    wire,
    /** Sends bytes as the peer. */
    send: (bytes: Uint8Array) => writer.write(bytes),
    /** Ends the transport under the connection without a close frame, as a dropped TCP connection. */
    drop(): void {
      writer.abort().catch(() => {});
      wire.cancel();
    },
    /** Reads wsflow's close frame, answers it and ends the transport; returns what was sent and `closed`. */
    async finish(): Promise<{ sent: WireClose | undefined; closed: unknown }> {
      const sent = await wire.close();
      if (sent) {
        const echo = sent.code === undefined ? new Uint8Array(0) : closePayload(sent.code, sent.reason);
        await writer.write(wireFrame(0x8, echo, role === "server")).catch(() => {});
      }
      await writer.close().catch(() => {});
      wire.cancel();
      return { sent, closed: await local.closed.catch((error) => error) };
    },
  };
}

const SENDABLE = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999];
const NEVER_SENT = [1004, 1005, 1006, 1015, 0, 999, 1016, 2999, 5000, 1000.5, NaN];

for (const role of ["client", "server"] as const) {
  describe(`RFC 6455 section 7.4: the close codes a ${role} may send`, () => {
    test(`a ${role} sends 1000-1003, 1007-1014, 3000 and 4999 with close(code, reason)`, async () => {
      for (const code of SENDABLE) {
        const peer = await opened(role);
        peer.local.close(code, `r${code}`);
        const { sent, closed } = await peer.finish();
        assert.deepEqual(sent, { code, reason: `r${code}` }, `close(${code}) on the wire`);
        assert.deepEqual(closed, { closeCode: code, reason: `r${code}` });
      }
    });

    test(`a ${role} refuses the codes no endpoint sends (1004-1006, 1015, outside 1000-4999, fractions) with InvalidAccessError, and sends nothing`, async () => {
      const peer = await opened(role);
      for (const code of NEVER_SENT) {
        assert.throws(() => peer.local.close(code, "no"), (e: unknown) =>
          e instanceof DOMException && e.name === "InvalidAccessError" &&
          e.message === `Cannot close: close code ${code} may not be sent, use 1000-1003, 1007-1014 or 3000-4999`);
        assert.throws(() => peer.local.close({ closeCode: code }), (e: unknown) => e instanceof DOMException && e.name === "InvalidAccessError");
      }
      peer.local.close(4000, "after");
      assert.deepEqual((await peer.finish()).sent, { code: 4000, reason: "after" }, "the first close frame sent is the valid one");
    });

    test(`a ${role} closes with a server's code through writable.abort(new WebSocketError(...))`, async () => {
      const peer = await opened(role);
      await (await peer.local.opened).writable.abort(new WebSocketError("overloaded", { closeCode: 1013, reason: "later" }));
      assert.deepEqual((await peer.finish()).sent, { code: 1013, reason: "later" });
    });
  });
}

describe("close(): the call shapes of WebSocket, ws, Deno, Bun and the WHATWG draft", () => {
  test('close(1000, "bye") sends 1000 with its reason, and close(4000) a code alone', async () => {
    const one = await opened("server");
    one.local.close(1000, "bye");
    assert.deepEqual((await one.finish()).sent, { code: 1000, reason: "bye" });
    const two = await opened("client");
    two.local.close(4000);
    assert.deepEqual((await two.finish()).sent, { code: 4000, reason: "" });
  });

  test("close({ closeCode, reason }) as the WHATWG draft says; no code sends an empty body, a reason alone means 1000", async () => {
    const cases: [unknown[], WireClose][] = [
      [[{ closeCode: 4000, reason: "done" }], { code: 4000, reason: "done" }],
      [[{ closeCode: 1000 }], { code: 1000, reason: "" }],
      [[], { code: undefined, reason: "" }],
      [[{}], { code: undefined, reason: "" }],
      [[{ reason: "" }], { code: undefined, reason: "" }],
      [[{ reason: "non-empty" }], { code: 1000, reason: "non-empty" }],
    ];
    for (const [args, want] of cases) {
      const peer = await opened("client");
      (peer.local.close as (...args: unknown[]) => void).apply(peer.local, args);
      assert.deepEqual((await peer.finish()).sent, want, `close(${args.map((a) => JSON.stringify(a)).join(", ")})`);
    }
  });

  test("any other shape throws a TypeError naming the accepted ones, and sends nothing", async () => {
    const peer = await opened("server");
    const close = peer.local.close.bind(peer.local) as (...args: unknown[]) => void;
    const wrong: [unknown[], RegExp][] = [
      [[{ code: 4000, reason: "bye" }], /\{ code, reason \} is neither a close code nor \{ closeCode, reason \}/],
      [[{ code: 4000 }], /\{ code \}/],
      [["bye"], /"bye" is neither/],
      [[true], /true is neither/],
      [[[1000, "bye"]], /\[1000,"bye"\] is neither/],
      [[1000, 42], /the reason must be a string, got 42/],
      [[{ closeCode: 1000 }, "bye"], /a reason needs a close code before it/],
      [[undefined, "bye"], /a reason needs a close code before it/],
      [[{ closeCode: "4000" }], /closeCode must be a number, got "4000"/],
      [[{ closeCode: 4000, reason: 7 }], /reason must be a string, got 7/],
    ];
    for (const [args, message] of wrong) {
      assert.throws(() => close(...args), (e: unknown) =>
        e instanceof TypeError && message.test(e.message) &&
        e.message.startsWith("Cannot close: ") && e.message.endsWith("pass close(code, reason) or close({ closeCode, reason })"), `close(${args.map((a) => JSON.stringify(a)).join(", ")})`);
    }
    // The connection is still open: a message goes out, then the close asked for.
    const writer = (await peer.local.opened).writable.getWriter();
    await writer.write("still open");
    const frame = await peer.wire.frame();
    assert.equal(frame?.opcode, 0x1);
    assert.equal(new TextDecoder().decode(frame?.payload), "still open");
    writer.releaseLock();
    peer.local.close(1000, "now");
    assert.deepEqual((await peer.finish()).sent, { code: 1000, reason: "now" });
  });

  test("a reason over 123 bytes of UTF-8 is a SyntaxError in both forms", async () => {
    const peer = await opened("client");
    const long = "é".repeat(62); // 124 bytes
    assert.throws(() => peer.local.close(1000, long), (e: unknown) => e instanceof DOMException && e.name === "SyntaxError" && /123 bytes/.test(e.message));
    assert.throws(() => peer.local.close({ closeCode: 1000, reason: long }), (e: unknown) => e instanceof DOMException && e.name === "SyntaxError");
    peer.local.close(1000, "é".repeat(61) + "x"); // 123 bytes fit
    assert.equal((await peer.finish()).sent?.reason.length, 62);
  });

  test("before the connection opens, close(code, reason) validates the same way and aborts the handshake", async () => {
    const [ours] = duplexPair();
    const client = new WebSocketStream("ws://test.local/", { transport: ours });
    assert.throws(() => client.close({ code: 1000 } as never), TypeError);
    assert.throws(() => client.close(1005), (e: unknown) => (e as DOMException).name === "InvalidAccessError");
    client.close(1000, "never mind");
    await assert.rejects(client.opened, (e: unknown) => e instanceof WebSocketError && e.closeCode === 1006);
  });
});

describe("a pipe between connections closes with a code it may send", () => {
  test("a proxy whose destination drops (1006) closes its source with an empty close frame, never with 1006", async () => {
    const source = await opened("server");
    const destination = await opened("server");
    const pipe = (await source.local.opened).readable.pipeTo((await destination.local.opened).writable);
    destination.drop();
    await assert.rejects(pipe, (e: unknown) => e instanceof WebSocketError && e.closeCode === 1006);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sent = await Promise.race([
      source.finish().then((result) => result.sent),
      new Promise((resolve) => (timer = setTimeout(() => resolve("no close frame within 5 s"), 5000))),
    ]);
    clearTimeout(timer);
    assert.deepEqual(sent, { code: undefined, reason: "" });
  });
});

describe("how a connection's streams end when the peer closes cleanly (the WHATWG draft, WPT remote-close)", () => {
  test("the readable is done and the writable errored, so readable.pipeTo(writable) rejects, on the direct and the standard path", async () => {
    for (const options of [undefined, { preventCancel: true }]) {
      const peer = await opened("server");
      const { readable, writable } = await peer.local.opened;
      const pipe = readable.pipeTo(writable, options);
      await peer.send(wireFrame(0x8, closePayload(1000, "done"), true));
      assert.deepEqual(await peer.wire.close(), { code: 1000, reason: "done" }, "the close is echoed");
      await assert.rejects(pipe, (e: unknown) => e instanceof WebSocketError && /Cannot send: the connection is closed/.test(e.message), `pipeTo(writable, ${JSON.stringify(options)})`);
      assert.deepEqual(await peer.local.closed, { closeCode: 1000, reason: "done" });
    }
    const peer = await opened("client");
    const { readable, writable } = await peer.local.opened;
    await peer.send(wireFrame(0x8, closePayload(1000), false));
    assert.deepEqual(await peer.finish(), { sent: { code: 1000, reason: "" }, closed: { closeCode: 1000, reason: "" } });
    assert.equal((await readable.getReader().read()).done, true, "readable should be closed");
    await assert.rejects(writable.getWriter().ready, /Cannot send: the connection is closed/, "writable should be errored");
  });
});
