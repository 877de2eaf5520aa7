// Topics on every server path of the runtime running the test: each subscriber receives each
// message once and in order, unsubscribing (and closing) stops delivery, compressed frames are
// shared where permessage-deflate allows, and a subscriber that stops reading costs at most its
// backlog limit, then is closed with 1013 (or, with "drop", misses messages and stays).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { InProcessBackplane, Topics, upgradeWebSocket, WebSocketStream } from "../../mod.ts";
import type { DeflateEngines } from "../../src/core/deflate.ts";
import { zlibEngines } from "../../src/adapters/zlib/mod.ts";
import { runtime, serve } from "../../src/adapters/serve.ts";
import { gatherer, type Message, modes, rawSubscriber, sleep, text, topicServer, waitFor } from "./_clients.ts";


for (const mode of modes) {
  describe(`topics on ${runtime()} (${mode})`, { timeout: 30_000 }, () => {
    test("each subscriber gets each message of its topics once, in publish order; unsubscribe and close stop delivery", { timeout: 30_000 }, async () => {
      const topics = new Topics();
      const { server, url, sockets } = await topicServer(topics, mode);
      try {
        const a = await gatherer(`${url}?id=a&topics=a`);
        const ab = await gatherer(`${url}?id=ab&topics=a,b`);
        const b = await gatherer(`${url}?id=b&topics=b`);
        await waitFor(() => topics.subscribers("a") === 2 && topics.subscribers("b") === 2, 5000, "the subscriptions");
        const sent: { topic: string; message: Message }[] = [];
        for (let i = 0; i < 300; i++) {
          const topic = i % 3 === 0 ? "b" : "a";
          const message = i % 5 === 0 ? Uint8Array.of(i & 0xff, i >> 8) : `${topic}-${i} ${"κ".repeat(i % 40)}`;
          sent.push({ topic, message });
          topics.publish(topic, message);
        }
        const expect = (names: string[]) => sent.filter((s) => names.includes(s.topic)).map((s) => text(s.message));
        assert.deepEqual((await a.until(200)).map(text), expect(["a"]));
        assert.deepEqual((await ab.until(300)).map(text), expect(["a", "b"]));
        assert.deepEqual((await b.until(100)).map(text), expect(["b"]));

        // b closes: it leaves its topic. ab unsubscribes from "a": only "b" reaches it.
        b.wss.close();
        await b.wss.closed;
        await waitFor(() => topics.subscribers("b") === 1, 5000, "b to leave on close");
        topics.unsubscribe(sockets.get("ab")!, "a");
        topics.publish("a", "after-a");
        topics.publish("b", "after-b");
        assert.deepEqual((await a.until(201)).slice(200).map(text), ["after-a"]);
        assert.deepEqual((await ab.until(301)).slice(300).map(text), ["after-b"]);
        await sleep(100);
        assert.equal(ab.received.length, 301, "nothing more reached ab");
        assert.equal(topics.subscribers("a"), 1);
      } finally {
        await topics.close();
        await server.shutdown();
      }
    });
  });
}

// Real zlib engines that count the messages each compressor compresses.
function countingCompress(): DeflateEngines & { compressed: number; compressors: number } {
  const counts = {
    compressed: 0,
    compressors: 0,
    createDeflate(bits: number) {
      const engine = zlibEngines.createDeflate(bits);
      counts.compressors++;
      return {
        compress: (data: Uint8Array, last?: boolean) => (counts.compressed++, engine.compress(data, last)),
        reset: () => engine.reset(),
        close: () => engine.close(),
      };
    },
    createInflate: (bits: number) => zlibEngines.createInflate(bits),
  };
  return counts;
}

describe(`topics on ${runtime()} with permessage-deflate (codec)`, { timeout: 30_000 }, () => {
  test("subscribers without server context takeover share one compressed frame; the others compress on their own", { timeout: 30_000 }, async () => {
    const engines = countingCompress();
    const topics = new Topics();
    const { server, url } = await topicServer(topics, "codec", { engines, threshold: 64 });
    try {
      const shared = [
        await gatherer(`${url}?topics=t`, { compression: { serverNoContextTakeover: true } }),
        await gatherer(`${url}?topics=t`, { compression: { serverNoContextTakeover: true } }),
        await gatherer(`${url}?topics=t`, { compression: { serverNoContextTakeover: true, serverMaxWindowBits: 10 } }),
      ];
      const own = await gatherer(`${url}?topics=t`, { compression: { serverNoContextTakeover: false } });
      const plain = await gatherer(`${url}?topics=t`, { compression: false }); // a client offers compression unless told not to
      await waitFor(() => topics.subscribers("t") === 5, 5000, "the subscriptions");
      const sent: Message[] = [];
      for (let i = 0; i < 40; i++) {
        const message = i % 4 === 3 ? `short ${i}` : i % 2 === 0 ? `message ${i} `.repeat(200) : new TextEncoder().encode(`bytes ${i} `.repeat(300));
        sent.push(message);
        topics.publish("t", message);
      }
      for (const peer of [...shared, own, plain]) assert.deepEqual((await peer.until(40)).map(text), sent.map(text));
      const long = sent.filter((m) => (typeof m === "string" ? m.length : m.byteLength) >= 64).length;
      // One compression per window size for the three sharing peers (15 and 10 bits), one per
      // message for the peer with context takeover.
      assert.equal(engines.compressed, long * 2 + long);
      assert.equal(engines.compressors, 2 + 1);
    } finally {
      await topics.close();
      await server.shutdown();
    }
  });
});

for (const mode of modes) {
  describe(`a slow subscriber on ${runtime()} (${mode})`, { timeout: 30_000 }, () => {
    const MAX = 128 * 1024;
    // Publishes 16 KiB messages, paced by the reading peer, until `stop()` or 16 MiB; checks the
    // slow connection's backlog after each message.
    async function flood(topics: Topics, fast: Awaited<ReturnType<typeof gatherer>>, slow: WebSocketStream, stop: () => boolean) {
      const sink = slow._topicSink()!;
      let sent = 0;
      let most = 0;
      for (let i = 0; i < 1024 && !stop(); i++) {
        topics.publish("t", `${i} `.padEnd(16 * 1024, "x"));
        sent++;
        most = Math.max(most, sink._backlog());
        if (i % 4 === 3) await fast.until(sent);
      }
      await fast.until(sent);
      return { sent, most };
    }

    test("is closed with 1013 once its backlog would pass the limit, having cost at most the limit", { timeout: 30_000 }, async () => {
      const topics = new Topics({ maxBacklog: MAX });
      const { server, url, sockets } = await topicServer(topics, mode);
      try {
        const fast = await gatherer(`${url}?id=fast&topics=t`);
        const slow = await rawSubscriber(server.port, "id=slow&topics=t");
        await waitFor(() => topics.subscribers("t") === 2, 5000, "the subscriptions");
        const { sent, most } = await flood(topics, fast, sockets.get("slow")!, () => topics.subscribers("t") < 2);
        assert.equal(topics.subscribers("t"), 1, `the slow subscriber left after ${sent} messages`);
        assert.ok(most <= MAX, `its backlog reached ${most} bytes, over ${MAX}`);
        assert.deepEqual(fast.received.map((m) => Number(String(m).split(" ")[0])), [...Array(sent).keys()]);
        const { texts, close } = await slow.readAll(1000);
        assert.equal(close, 1013);
        assert.deepEqual(texts.map((t) => Number(t.split(" ")[0])), [...Array(texts.length).keys()], "what reached it came in order");
        assert.ok(texts.length < sent);
        slow.socket.destroy();
      } finally {
        await topics.close();
        await server.shutdown();
      }
    });

    test('with "drop", misses what does not fit and stays subscribed', { timeout: 30_000 }, async () => {
      const topics = new Topics({ maxBacklog: MAX, slowSubscriber: "drop" });
      const { server, url, sockets } = await topicServer(topics, mode);
      try {
        const fast = await gatherer(`${url}?id=fast&topics=t`);
        const slow = await rawSubscriber(server.port, "id=slow&topics=t");
        await waitFor(() => topics.subscribers("t") === 2, 5000, "the subscriptions");
        const { sent, most } = await flood(topics, fast, sockets.get("slow")!, () => false);
        assert.ok(most <= MAX, `its backlog reached ${most} bytes, over ${MAX}`);
        assert.equal(topics.subscribers("t"), 2);
        const first = await slow.readAll(500);
        topics.publish("t", `${sent} last`);
        const rest = await slow.readAll(500);
        assert.equal(rest.close, undefined, "not closed");
        const seen = rest.texts.map((t) => Number(t.split(" ")[0]));
        assert.ok(first.texts.length < sent, `${first.texts.length} of ${sent} reached it while it did not read`);
        assert.deepEqual(seen, [...seen].sort((x, y) => x - y), "in order");
        assert.equal(new Set(seen).size, seen.length, "no message twice");
        assert.equal(seen.at(-1), sent, "the message published after it read again reached it");
        slow.socket.destroy();
      } finally {
        await topics.close();
        await server.shutdown();
      }
    });
  });
}

describe(`two hubs on an InProcessBackplane (${runtime()})`, { timeout: 30_000 }, () => {
  test("a publish on either reaches every subscriber and listener of both once, in publish order", { timeout: 30_000 }, async () => {
    const first = new InProcessBackplane();
    const a = new Topics({ backplane: first });
    const b = new Topics({ backplane: new InProcessBackplane(first) });
    const serverA = await topicServer(a, "codec");
    const serverB = await topicServer(b, "codec");
    try {
      const onA = await gatherer(`${serverA.url}?topics=room`);
      const onB = await gatherer(`${serverB.url}?topics=room`);
      const heard: string[] = [];
      const listening = b.listen("room", (message) => heard.push(String(message)));
      await listening.ready;
      await waitFor(() => a.subscribers("room") === 1 && b.subscribers("room") === 1, 5000, "the subscriptions");
      const sent: string[] = [];
      for (let i = 0; i < 50; i++) {
        const message = `${i % 2 ? "a" : "b"}${i}`;
        sent.push(message);
        await (i % 2 ? a : b).publish("room", message);
      }
      assert.deepEqual(await onA.until(50), sent);
      assert.deepEqual(await onB.until(50), sent);
      assert.deepEqual(heard, sent);
      listening.stop();
      await a.publish("room", "after");
      assert.deepEqual(heard, sent, "a stopped listener hears nothing");
      await onB.until(51);
      await sleep(50);
      assert.equal(onB.received.length, 51, "nothing came twice");
    } finally {
      await a.close();
      await b.close();
      await serverA.server.shutdown();
      await serverB.server.shutdown();
    }
  });
});

describe(`a client connection as a subscriber (${runtime()})`, { timeout: 30_000 }, () => {
  test("takes each message through its own framing, masked, so the server accepts it", { timeout: 30_000 }, async () => {
    const server = await serve({ port: 0, mode: "codec" }, async (request) => {
      const { socket, response } = await upgradeWebSocket(request, { heartbeat: false });
      if (socket) void socket.opened.then(({ readable, writable }) => readable.pipeTo(writable)).catch(() => {});
      return response;
    });
    const topics = new Topics();
    try {
      const client = await gatherer(`ws://127.0.0.1:${server.port}/`);
      await topics.subscribe(client.wss, "out");
      topics.publish("out", "to the server");
      topics.publish("out", Uint8Array.of(1, 2, 3));
      assert.deepEqual((await client.until(2)).map(text), ["to the server", "bytes:1,2,3"]);
      client.wss.close({ closeCode: 1000 });
      assert.deepEqual(await client.wss.closed, { closeCode: 1000, reason: "" });
    } finally {
      await topics.close();
      await server.shutdown();
    }
  });
});
