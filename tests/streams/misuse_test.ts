// Misuse by a caller gets an exception that says what to do (DESIGN.md, rule 5): the mistakes a
// newcomer from ws, Deno, Bun or the WHATWG draft makes with the public API, each with the error
// they need: its type, that it comes at once (synchronously where the WHATWG API throws), and a
// message that names the option or call and what is allowed. Tests that fail here are findings.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readUpgradeRequest, Topics, upgradeWebSocket, WebSocketStream } from "../../mod.ts";
import { serve } from "../../src/adapters/serve.ts";
import { duplexPair } from "../_net.ts";

type Options = NonNullable<ConstructorParameters<typeof WebSocketStream>[1]>;
type AcceptOptions = Parameters<Awaited<ReturnType<typeof readUpgradeRequest>>["accept"]>[0];

/** Settles `promise` or gives "timeout" after `ms`: no wait here is unbounded. */
function within<T>(promise: Promise<T>, ms = 2000): Promise<{ value: T } | { error: unknown } | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then((value) => ({ value }), (error: unknown) => ({ error })),
    new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** A client and a server WebSocketStream joined in memory. */
async function connected(clientOptions: Options = {}, serverOptions: AcceptOptions = {}) {
  const [a, b] = duplexPair();
  const client = new WebSocketStream("ws://test.local/chat", { transport: a, ...clientOptions });
  const server = await (await readUpgradeRequest(b)).accept(serverOptions);
  return { client, server };
}

/**
 * Asserts that `new WebSocketStream(url, options)` throws `type` at once with a message matching
 * `message`. A constructor that does not throw is closed before anything is written (some of these
 * values make a write loop forever).
 */
function assertCtorThrows(options: unknown, type: new (...args: never[]) => Error, message: RegExp, label: string): void {
  let made: WebSocketStream | undefined;
  try {
    made = new WebSocketStream("ws://test.local/", options as Options);
  } catch (error) {
    assert.ok(error instanceof type, `${label}: expected a ${type.name}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    assert.match((error as Error).message, message, label);
    return;
  } finally {
    made?.close();
  }
  assert.fail(`${label}: new WebSocketStream(url, ${label}) did not throw; expected a ${type.name} matching ${message}`);
}

const opts = (extra: Record<string, unknown>) => ({ transport: duplexPair()[0], ...extra });

describe("misuse: the URL and protocols of new WebSocketStream", () => {
  test("a fragment, a relative URL or another scheme throws SyntaxError at once; http: and https: map to ws: and wss:", () => {
    for (const url of ["ws://a.test/#frag", "ws://a.test/#", "/chat", "ftp://a.test/", "ws://"]) {
      assert.throws(() => new WebSocketStream(url, opts({})), (e: unknown) => e instanceof DOMException && e.name === "SyntaxError" && /Cannot create WebSocket handshake/.test(e.message), url);
    }
    for (const [url, mapped] of [["http://a.test/x", "ws://a.test/x"], ["https://a.test/", "wss://a.test/"], ["WS://A.test/", "ws://a.test/"]]) {
      const wss = new WebSocketStream(url, opts({}));
      assert.equal(wss.url, mapped);
      wss.close();
    }
  });

  test("a protocol that is not a token, or repeated, throws SyntaxError at once naming it", () => {
    for (const protocols of [["a b"], ["chat", "chat"], [""]]) {
      assert.throws(() => new WebSocketStream("ws://a.test/", opts({ protocols })), (e: unknown) => e instanceof DOMException && e.name === "SyntaxError" && e.message.includes(JSON.stringify(protocols.at(-1))));
    }
  });

  test("protocols that are not a list throw a TypeError that says to pass a list of names", () => {
    assertCtorThrows(opts({ protocols: {} }), TypeError, /protocols/, "{ protocols: {} }");
    assertCtorThrows(opts({ protocols: {} }), TypeError, /string|list|array/i, "{ protocols: {} }");
  });
});

describe("misuse: option values of new WebSocketStream", () => {
  // NaN silently means no limit at all (every comparison with it is false); 0 and -1 fail every
  // message with 1009 only once one arrives; "10" works by coercion.
  for (const name of ["maxMessageSize", "maxFrameSize", "maxFragments"]) {
    test(`${name}: a negative, NaN, fractional or string value throws a RangeError naming ${name} at once`, () => {
      for (const value of [-1, NaN, "10", 1.5]) {
        assertCtorThrows(opts({ [name]: value }), value === "10" ? TypeError : RangeError, new RegExp(name), `{ ${name}: ${JSON.stringify(value) ?? String(value)} }`);
      }
    });
  }

  test("fragmentSize 0, negative or NaN throws a RangeError at once (0 and -1 loop until the heap runs out on the first write)", () => {
    for (const value of [0, -1, NaN]) assertCtorThrows(opts({ fragmentSize: value }), RangeError, /fragmentSize/, `{ fragmentSize: ${value} }`);
  });

  test("heartbeat of another shape, or with a negative or NaN time, throws at once naming heartbeat", () => {
    assertCtorThrows(opts({ heartbeat: true }), TypeError, /heartbeat/, "{ heartbeat: true }");
    assertCtorThrows(opts({ heartbeat: 5000 }), TypeError, /heartbeat.*interval/, "{ heartbeat: 5000 }");
    assertCtorThrows(opts({ heartbeat: { interval: -1 } }), RangeError, /interval/, "{ heartbeat: { interval: -1 } }");
    assertCtorThrows(opts({ heartbeat: { timeout: NaN } }), RangeError, /timeout/, "{ heartbeat: { timeout: NaN } }");
    assertCtorThrows(opts({ heartbeat: { interval: "1000" } }), TypeError, /interval/, '{ heartbeat: { interval: "1000" } }');
  });

  test("closeTimeout, handshakeTimeout and maxHeadBytes out of range throw a RangeError at once, as the server's handshakeTimeout does", () => {
    // Today: handshakeTimeout -1 makes Node warn (TimeoutNegativeWarning) and `opened` reject with
    // "the handshake took longer than -1 ms"; maxHeadBytes 0 rejects `opened` as a 1006.
    for (const [name, value] of [["closeTimeout", -1], ["closeTimeout", NaN], ["handshakeTimeout", -1], ["handshakeTimeout", NaN], ["handshakeTimeout", 0], ["maxHeadBytes", 0], ["maxHeadBytes", -1]] as const) {
      assertCtorThrows(opts({ [name]: value }), RangeError, new RegExp(name), `{ ${name}: ${value} }`);
    }
    assertCtorThrows(opts({ handshakeTimeout: "x" }), TypeError, /handshakeTimeout/, '{ handshakeTimeout: "x" }');
  });

  test("compression window bits out of range throw a RangeError at once (regression)", () => {
    assertCtorThrows(opts({ compression: { clientMaxWindowBits: 16 } }), RangeError, /clientMaxWindowBits must be an integer from 8 to 15/, "clientMaxWindowBits 16");
    assertCtorThrows(opts({ compression: { serverMaxWindowBits: 7 } }), RangeError, /serverMaxWindowBits must be an integer from 8 to 15/, "serverMaxWindowBits 7");
  });

  test("compression of another type, or a bad threshold, releaseIdleAfter or concurrencyLimit, throws at once", () => {
    // Today "yes" offers compression with the defaults; threshold -1 and NaN are accepted;
    // releaseIdleAfter -1 and concurrencyLimit 0 reject `opened` with a 1006 WebSocketError only
    // after the server has accepted the offer (and on a server, accept() throws after the upgrade
    // was decided).
    assertCtorThrows(opts({ compression: "yes" }), TypeError, /compression/, '{ compression: "yes" }');
    assertCtorThrows(opts({ compression: { threshold: -1 } }), RangeError, /threshold/, "{ threshold: -1 }");
    assertCtorThrows(opts({ compression: { threshold: NaN } }), RangeError, /threshold/, "{ threshold: NaN }");
    assertCtorThrows(opts({ compression: { releaseIdleAfter: -1 } }), RangeError, /releaseIdleAfter/, "{ releaseIdleAfter: -1 }");
    assertCtorThrows(opts({ compression: { concurrencyLimit: 0 } }), RangeError, /concurrencyLimit/, "{ concurrencyLimit: 0 }");
  });

  test("options that are not an object (ws's and WebSocket's protocols argument) throw a TypeError that says to pass { protocols }", () => {
    // `new WebSocket(url, "chat")` habits: today both connect silently without a subprotocol.
    assertCtorThrows("chat", TypeError, /protocols/, '"chat"');
    assertCtorThrows(["chat"], TypeError, /protocols/, '["chat"]');
  });

  test("ws's option names (maxPayload, perMessageDeflate) throw a TypeError that names wsflow's", () => {
    // Silently ignored today: { maxPayload: 1024 } leaves the 64 MiB default in force.
    assertCtorThrows(opts({ maxPayload: 1024 }), TypeError, /maxMessageSize/, "{ maxPayload }");
    assertCtorThrows(opts({ perMessageDeflate: false }), TypeError, /compression/, "{ perMessageDeflate }");
  });

  test("a transport or signal of the wrong shape throws a TypeError at once naming the option", () => {
    // Today `opened` rejects with "Cannot read properties of undefined (reading 'abort')" and
    // "signal?.removeEventListener is not a function".
    assertCtorThrows(opts({ transport: {} }), TypeError, /transport/, "{ transport: {} }");
    assertCtorThrows(opts({ signal: {} }), TypeError, /signal/, "{ signal: {} }");
  });

  test("null options mean no options, as WebIDL reads a null dictionary (cosmetic)", () => {
    const wss = new WebSocketStream("ws://a.test/", null as unknown as Options);
    wss.close();
  });
});

describe("misuse: writing", () => {
  test("a number, object, null, undefined, boolean, Blob or array rejects the write with a TypeError naming what the writable takes", async () => {
    for (const chunk of [42, { a: 1 }, null, undefined, true, new Blob(["x"]), [1, 2], { data: 5 }]) {
      const { client, server } = await connected();
      const writer = (await client.opened).writable.getWriter();
      await assert.rejects(writer.write(chunk as never), (e: unknown) => e instanceof TypeError && /expected a string, ArrayBuffer or ArrayBufferView/.test(e.message));
      client.close();
      server.close();
    }
  });

  test("after a write of the wrong type the connection does not stay half open: closed settles and the peer's read ends", async () => {
    // Today the writable is errored for good, but the connection stays open: `closed` never
    // settles and the peer waits forever.
    const { client, server } = await connected();
    const writer = (await client.opened).writable.getWriter();
    const reader = (await server.opened).readable.getReader();
    await writer.write(42 as never).catch(() => {});
    const closed = await within(client.closed);
    const read = await within(reader.read());
    client.close();
    server.close();
    assert.notEqual(closed, "timeout", "client.closed never settled after a rejected write");
    assert.notEqual(read, "timeout", "the peer's read never ended after the writer's connection lost its writable");
  });

  test("a SharedArrayBuffer view or a DataView goes out intact (regression)", async () => {
    const { client, server } = await connected();
    const writer = (await client.opened).writable.getWriter();
    const reader = (await server.opened).readable.getReader();
    const shared = new Uint8Array(new SharedArrayBuffer(3));
    shared.set([1, 2, 3]);
    await writer.write(shared);
    assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2, 3]));
    await writer.write(new DataView(new Uint8Array([4, 5]).buffer));
    assert.deepEqual((await reader.read()).value, new Uint8Array([4, 5]));
    client.close();
    await within(client.closed);
  });

  test("getWriter twice throws a TypeError; a write after close() rejects with InvalidStateError (regression)", async () => {
    const { client } = await connected();
    const { writable } = await client.opened;
    const writer = writable.getWriter();
    assert.throws(() => writable.getWriter(), TypeError);
    client.close();
    await assert.rejects(writer.write("late"), (e: unknown) => e instanceof DOMException && e.name === "InvalidStateError" && /Cannot send a message/.test(e.message));
    await within(client.closed);
  });

  test("readable.pipeTo(writable) twice: the second rejects with a TypeError (the readable is locked), the first goes on (regression)", async () => {
    const { client, server } = await connected();
    const c = await client.opened;
    void (await server.opened).readable.pipeTo((await server.opened).writable).catch(() => {});
    const first = c.readable.pipeTo(c.writable);
    first.catch(() => {});
    await assert.rejects(c.readable.pipeTo(c.writable), TypeError);
    client.close(1000);
    assert.deepEqual(await within(client.closed), { value: { closeCode: 1000, reason: "" } });
  });
});

describe("misuse: close() and ping()", () => {
  test("close(1005) throws InvalidAccessError, a 124-byte reason SyntaxError, nothing is sent and the connection goes on (regression)", async () => {
    const { client, server } = await connected();
    const c = await client.opened;
    const reader = (await server.opened).readable.getReader();
    assert.throws(() => client.close(1005), (e: unknown) => e instanceof DOMException && e.name === "InvalidAccessError" && /1000-1003, 1007-1014 or 3000-4999/.test(e.message));
    assert.throws(() => client.close(1000, "x".repeat(124)), (e: unknown) => e instanceof DOMException && e.name === "SyntaxError" && /123 bytes/.test(e.message));
    assert.throws(() => client.close({ code: 1000 } as never), (e: unknown) => e instanceof TypeError && /closeCode/.test(e.message));
    await c.writable.getWriter().write("still open");
    assert.equal((await reader.read()).value, "still open");
    client.close(1000, "a");
    client.close(4000, "b"); // a second close is a no-op, as WebSocket's
    assert.deepEqual(await within(server.closed), { value: { closeCode: 1000, reason: "a" } });
    assert.deepEqual(await within(client.closed), { value: { closeCode: 1000, reason: "a" } });
    client.close(); // after the end too
  });

  test("ping() after the close rejects with InvalidStateError (regression)", async () => {
    const { client, server } = await connected();
    await client.opened;
    void (await server.opened).readable.getReader().read();
    client.close();
    await within(client.closed);
    await assert.rejects(client.ping(), (e: unknown) => e instanceof DOMException && e.name === "InvalidStateError");
  });

  test("ping() before the open waits for it and resolves; close() before the open rejects it (regression)", async () => {
    const [a, b] = duplexPair();
    const client = new WebSocketStream("ws://test.local/", { transport: a });
    const ping = client.ping();
    const server = await (await readUpgradeRequest(b)).accept();
    void (await server.opened).readable.getReader().read();
    const rtt = await within(ping);
    assert.ok(rtt !== "timeout" && "value" in rtt && rtt.value >= 0, "ping() before open did not resolve once open");
    client.close();
    const lone = new WebSocketStream("ws://test.local/", { transport: duplexPair()[0] });
    const early = lone.ping();
    lone.close();
    const result = await within(early);
    assert.ok(result !== "timeout" && "error" in result, "ping() before an open that never comes must reject once closed");
  });
});

describe("misuse: the server helpers", () => {
  test("upgradeWebSocket on a Request no adapter handed out throws a TypeError that says to use serve() (regression)", () => {
    assert.throws(() => upgradeWebSocket(new Request("http://x/")), (e: unknown) => e instanceof TypeError && /serve\(\)/.test(e.message));
  });

  test("a plain GET (no Upgrade) to a handler that calls upgradeWebSocket gets { socket: undefined } and a 400/426, not a 500", async () => {
    // Today on Node: upgradeWebSocket throws "this request did not come from a wsflow server
    // adapter" (it did) and the client gets a 500.
    const seen: string[] = [];
    const server = await serve({ port: 0 }, async (request) => {
      try {
        const { socket, response } = await upgradeWebSocket(request);
        seen.push(`socket=${socket !== undefined} status=${response.status}`);
        return response;
      } catch (error) {
        seen.push(`threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
        throw error;
      }
    });
    try {
      const answer = await fetch(server.url);
      await answer.body?.cancel();
      assert.equal(seen.length, 1);
      assert.match(seen[0], /^socket=false status=4(00|26)$/);
      assert.ok(answer.status === 400 || answer.status === 426, `status ${answer.status}`);
    } finally {
      await server.shutdown();
    }
  });

  test("upgradeWebSocket twice on one request: the second throws InvalidStateError saying it was already upgraded", async () => {
    // Today it says the request "did not come from a wsflow server adapter", which it did.
    let second: unknown = "not called";
    const server = await serve({ port: 0 }, async (request) => {
      const first = await upgradeWebSocket(request);
      try {
        await upgradeWebSocket(request);
        second = "no error";
      } catch (error) {
        second = error;
      }
      if (first.socket) void first.socket.opened.then(() => first.socket?.close(1000), () => {});
      return first.response;
    });
    try {
      const client = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
      await within(client.opened);
      await within(client.closed);
      assert.ok(second instanceof Error, `second upgradeWebSocket: ${String(second)}`);
      assert.equal(second.name, "InvalidStateError", second.message);
      assert.match(second.message, /already/);
    } finally {
      await server.shutdown();
    }
  });

  test("serve: handshakeTimeout -1 rejects with a RangeError naming it (regression)", async () => {
    await assert.rejects(async () => await serve({ port: 0, handshakeTimeout: -1 }, () => new Response("x")), (e: unknown) => e instanceof RangeError && /handshakeTimeout/.test(e.message));
  });

  test('serve: mode "Native" (a typo) throws a TypeError on every runtime; Node must not ignore it', async () => {
    let server: Awaited<ReturnType<typeof serve>> | undefined;
    try {
      await assert.rejects(async () => (server = await serve({ port: 0, mode: "Native" as never }, () => new Response("x"))), (e: unknown) => e instanceof TypeError && /mode/.test(e.message));
    } finally {
      await server?.shutdown();
    }
  });

  test("serve without a handler throws a TypeError at once (today every request gets a 500)", async () => {
    let server: Awaited<ReturnType<typeof serve>> | undefined;
    try {
      await assert.rejects(async () => (server = await serve({ port: 0 }, undefined as never)), (e: unknown) => e instanceof TypeError && /handler/.test(e.message));
    } finally {
      await server?.shutdown();
    }
  });

  // These crash the process (an exception in the listening callback) or listen where nobody
  // asked (a Unix socket file named by the string), so they run in a child Node process with its
  // own directory. (serve(handler, options), swapped, is left out: today it listens on the
  // default port 8080, which other tests use.)
  const isNode = !("Deno" in globalThis) && !("Bun" in globalThis);
  test("serve: hostname 5, onListen 5 and port \"abc\" reject with a TypeError naming the option (Node)", { skip: !isNode }, async () => {
    const { spawnSync } = await import("node:child_process");
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const serveUrl = new URL(`../../src/adapters/serve.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url).href;
    const script = `
      const { serve } = await import(${JSON.stringify(serveUrl)});
      const handler = () => new Response("x");
      const cases = [["hostname 5", () => serve({ port: 0, hostname: 5 }, handler)], ["onListen 5", () => serve({ port: 0, onListen: 5 }, handler)],
        ["port abc", () => serve({ port: "abc" }, handler)]];
      for (const [name, start] of cases) {
        process.removeAllListeners("uncaughtException");
        const crashed = new Promise((resolve) => process.once("uncaughtException", (e) => resolve("crashed: " + e.message)));
        const started = (async () => start())().then(async (s) => { await s.shutdown(); return "listened on " + s.port; }, (e) => e.name + ": " + e.message);
        const outcome = await Promise.race([started, crashed, new Promise((r) => setTimeout(() => r("hang"), 2000))]);
        console.log(JSON.stringify([name, outcome]));
      }
      process.exit(0);`;
    const cwd = mkdtempSync(join(tmpdir(), "wsflow-misuse-"));
    try {
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd, encoding: "utf8", timeout: 20_000 });
      const outcomes = Object.fromEntries(child.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as [string, string]));
      assert.equal(Object.keys(outcomes).length, 3, child.stdout + child.stderr);
      const wrong = Object.entries(outcomes).filter(([name, outcome]) => {
        const option = name.split(" ")[0];
        return !(outcome.startsWith("TypeError") && outcome.includes(option));
      });
      assert.deepEqual(wrong, [], "each should be a TypeError naming the option");
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe("misuse: topics", () => {
  test("a topic that is not a non-empty string, or a message that is not text or bytes, throws a TypeError (regression)", async () => {
    const topics = new Topics();
    const { client, server } = await connected();
    await server.opened;
    for (const topic of [123, null, "", undefined, ["a"]]) {
      assert.throws(() => topics.subscribe(server, topic as never), (e: unknown) => e instanceof TypeError && /the topic must be a non-empty string/.test(e.message));
      assert.throws(() => topics.publish(topic as never, "x"), (e: unknown) => e instanceof TypeError && /the topic must be a non-empty string/.test(e.message));
    }
    assert.throws(() => topics.publish("room", 5 as never), (e: unknown) => e instanceof TypeError && /expected a string, ArrayBuffer or ArrayBufferView/.test(e.message));
    assert.throws(() => topics.subscribe({} as never, "room"), (e: unknown) => e instanceof TypeError && /expected a WebSocketStream/.test(e.message));
    client.close();
    await within(client.closed);
    topics.close();
  });

  test("subscribing a closed connection throws InvalidStateError and does not count it as a subscriber", async () => {
    // Today it is accepted: subscribers("room") is 1 for a connection that is gone, for good.
    const topics = new Topics();
    const { client, server } = await connected();
    await server.opened;
    client.close();
    await within(server.closed);
    let error: unknown;
    try {
      await topics.subscribe(server, "room");
    } catch (caught) {
      error = caught;
    }
    const count = topics.subscribers("room");
    topics.close();
    assert.equal(count, 0, "a closed connection is counted as a subscriber");
    assert.ok(error instanceof DOMException && error.name === "InvalidStateError", `expected InvalidStateError, got ${String(error)}`);
  });
});
