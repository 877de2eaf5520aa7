// readable.pipeTo(writable) between wsflow connections: messages skip both streams' queues, yet
// what peers see (order, backpressure, how the pipe and the connections end) is what the WHATWG
// pipeTo does. Every case runs twice: through the direct lane (no options) and through the
// standard algorithm (an AbortSignal that never fires turns the direct lane off), with the same
// assertions.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readUpgradeRequest, WebSocketStream } from "../../mod.ts";
import { duplexPair } from "../_net.ts";

/** A client and a server WebSocketStream joined by an in-memory duplex pair. */
async function connected() {
  const [a, b] = duplexPair();
  const client = new WebSocketStream("ws://test.local/", { transport: a });
  const server = await (await readUpgradeRequest(b)).accept();
  return { client, server, c: await client.opened, s: await server.opened };
}

const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);

const settle = (promise: Promise<unknown>) => promise.then(() => "resolved", (error) => error);

for (const lane of ["direct", "standard"] as const) {
  const options = () => (lane === "direct" ? undefined : { signal: new AbortController().signal });

  describe(`pipeTo between connections (${lane})`, () => {
    test("an echo returns every message in order, text and binary, those queued before the pipe first", async () => {
      const { client, c, s } = await connected();
      const writer = c.writable.getWriter();
      await writer.write("early 1");
      await writer.write(Uint8Array.of(1, 2));
      // Let them reach the server's readable queue before anything reads it.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const piped = settle(s.readable.pipeTo(s.writable, options()));
      for (let i = 0; i < 300; i++) void writer.write(i % 2 ? `text ${i}` : Uint8Array.of(i & 0xff, i >> 8));
      const reader = c.readable.getReader();
      assert.equal((await reader.read()).value, "early 1");
      assert.deepEqual((await reader.read()).value, Uint8Array.of(1, 2));
      for (let i = 0; i < 300; i++) {
        const { value } = await within(reader.read(), 5000, `echo ${i}`);
        assert.deepEqual(value, i % 2 ? `text ${i}` : Uint8Array.of(i & 0xff, i >> 8));
      }
      client.close({ closeCode: 4001, reason: "bye" });
      assert.deepEqual(await client.closed, { closeCode: 4001, reason: "bye" });
      await within(piped, 5000, "the pipe settling");
    });

    test("a peer that stops reading holds its own sender back through the echo, and nothing is lost", async () => {
      const { client, c, s } = await connected();
      void s.readable.pipeTo(s.writable, options()).catch(() => {});
      const writer = c.writable.getWriter();
      const size = 64 * 1024;
      const total = 256; // 16 MiB, far over every buffer on the way
      let written = 0;
      const writes: Promise<void>[] = [];
      for (let i = 0; i < total; i++) writes.push(writer.write(new Uint8Array(size).fill(i)).then(() => void written++));
      // Wait until the writes stop going out (or 4 s): without backpressure all of them would.
      for (let last = -1, at = Date.now(); written !== last && Date.now() - at < 4000;) {
        last = written;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.ok(written < total / 2, `with nobody reading the echoes, ${written} of ${total} writes went out`);
      const reader = c.readable.getReader();
      for (let i = 0; i < total; i++) {
        const { value } = await within(reader.read(), 5000, `echo ${i}`);
        assert.equal((value as Uint8Array).length, size);
        assert.equal((value as Uint8Array)[size - 1], i & 0xff, `echo ${i} is message ${i}`);
      }
      await within(Promise.all(writes), 5000, "the writes");
      client.close({ closeCode: 1000 });
      assert.deepEqual(await client.closed, { closeCode: 1000, reason: "" });
    });

    test("a proxy: a clean close of the source closes the destination with 1000 and the pipe resolves", async () => {
      const from = await connected();
      const to = await connected();
      const piped = settle(from.s.readable.pipeTo(to.s.writable, options()));
      const writer = from.c.writable.getWriter();
      for (let i = 0; i < 50; i++) void writer.write(`m${i}`);
      const reader = to.c.readable.getReader();
      for (let i = 0; i < 50; i++) assert.equal((await within(reader.read(), 5000, `m${i}`)).value, `m${i}`);
      from.client.close({ closeCode: 4000, reason: "done" });
      assert.deepEqual(await from.client.closed, { closeCode: 4000, reason: "done" });
      assert.equal(await within(piped, 5000, "the pipe"), "resolved");
      assert.deepEqual(await to.client.closed, { closeCode: 1000, reason: "" });
    });

    test("a proxy: the destination's peer closing cancels the source with its code and the pipe rejects", async () => {
      const from = await connected();
      const to = await connected();
      const piped = settle(from.s.readable.pipeTo(to.s.writable, options()));
      const writer = from.c.writable.getWriter();
      await writer.write("one");
      assert.equal((await to.c.readable.getReader().read()).value, "one");
      to.client.close({ closeCode: 4002, reason: "gone" });
      assert.deepEqual(await to.client.closed, { closeCode: 4002, reason: "gone" });
      const outcome = await within(piped, 5000, "the pipe");
      assert.ok(outcome instanceof Error, `the pipe rejects (got ${String(outcome)})`);
      assert.deepEqual(await within(from.client.closed, 5000, "the source's close"), { closeCode: 4002, reason: "gone" });
    });
  });
}

describe("pipeTo from a connection's readable, other cases", () => {
  test("into a plain WritableStream it behaves as ReadableStream.prototype.pipeTo", async () => {
    const { client, c, s } = await connected();
    const got: unknown[] = [];
    const piped = s.readable.pipeTo(new WritableStream({ write: (message) => void got.push(message) }));
    const writer = c.writable.getWriter();
    await writer.write("a");
    await writer.write(Uint8Array.of(7));
    client.close({ closeCode: 1000 });
    await within(piped, 5000, "the pipe");
    assert.deepEqual(got, ["a", Uint8Array.of(7)]);
  });

  test("a locked readable or writable is refused with a TypeError, as the standard says", async () => {
    const { client, s } = await connected();
    const writer = s.writable.getWriter();
    await assert.rejects(s.readable.pipeTo(s.writable), TypeError);
    writer.releaseLock();
    s.readable.getReader();
    await assert.rejects(s.readable.pipeTo(s.writable), TypeError);
    client.close({ closeCode: 1000 });
  });
});
