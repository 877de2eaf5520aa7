// Publishes within one turn of the event loop, as a server that publishes every message of one
// read makes them. On Node and Bun's codec a turn's publishes to a topic share one run of frames
// that each subscriber's transport writes at the turn's end (src/streams/frame_run.ts); what a
// client receives must be what one write per publish would give: the server's own writes,
// joins, leaves, other topics and the backlog limit all in publish order.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Topics } from "../../mod.ts";
import { runtime } from "../../src/adapters/serve.ts";
import { gatherer, type Message, modes, rawSubscriber, sleep, text, topicServer, waitFor } from "./_clients.ts";


for (const mode of modes) {
  describe(`publishes in one turn on ${runtime()} (${mode})`, { timeout: 30_000 }, () => {
    test("a message the server writes to one subscriber between two publishes arrives between them", async () => {
      const topics = new Topics();
      const { server, url, sockets } = await topicServer(topics, mode);
      try {
        const one = await gatherer(`${url}?id=one&topics=t`);
        const two = await gatherer(`${url}?id=two&topics=t`);
        await waitFor(() => topics.subscribers("t") === 2, 5000, "the subscriptions");
        const writer = (await sockets.get("one")!.opened).writable.getWriter();
        topics.publish("t", "a");
        topics.publish("t", "b");
        await writer.write("only for one");
        topics.publish("t", "c");
        await writer.write(Uint8Array.of(1, 2));
        topics.publish("t", Uint8Array.of(3));
        assert.deepEqual((await one.until(6)).map(text), ["a", "b", "only for one", "c", "bytes:1,2", "bytes:3"]);
        assert.deepEqual((await two.until(4)).map(text), ["a", "b", "c", "bytes:3"]);
      } finally {
        await topics.close();
        await server.shutdown();
      }
    });

    test("publishes to two topics interleave in publish order for a subscriber of both", async () => {
      const topics = new Topics();
      const { server, url } = await topicServer(topics, mode);
      try {
        const both = await gatherer(`${url}?topics=x,y`);
        const x = await gatherer(`${url}?topics=x`);
        await waitFor(() => topics.subscribers("x") === 2 && topics.subscribers("y") === 1, 5000, "the subscriptions");
        const sent: string[] = [];
        for (let i = 0; i < 60; i++) {
          // x x y x y y x ...: runs of either topic, of varying length
          const topic = (i * 7) % 5 < 2 ? "y" : "x";
          sent.push(`${topic}${i}`);
          topics.publish(topic, `${topic}${i}`);
        }
        assert.deepEqual(await both.until(60), sent);
        assert.deepEqual(await x.until(sent.filter((m) => m[0] === "x").length), sent.filter((m) => m[0] === "x"));
      } finally {
        await topics.close();
        await server.shutdown();
      }
    });

    test("a subscriber that joins between two publishes gets only the later; one that leaves, only the earlier", async () => {
      const topics = new Topics();
      const { server, url, sockets } = await topicServer(topics, mode);
      try {
        const stays = await gatherer(`${url}?id=stays&topics=t`);
        const leaves = await gatherer(`${url}?id=leaves&topics=t`);
        const joins = await gatherer(`${url}?id=joins`);
        await waitFor(() => topics.subscribers("t") === 2 && sockets.has("joins"), 5000, "the subscriptions");
        topics.publish("t", "first");
        topics.publish("t", "second");
        void topics.subscribe(sockets.get("joins")!, "t");
        topics.unsubscribe(sockets.get("leaves")!, "t");
        topics.publish("t", "third");
        topics.publish("t", "fourth");
        assert.deepEqual(await stays.until(4), ["first", "second", "third", "fourth"]);
        assert.deepEqual(await joins.until(2), ["third", "fourth"]);
        await leaves.until(2);
        await sleep(100);
        assert.deepEqual(leaves.received, ["first", "second"]);
        assert.equal(joins.received.length, 2);
      } finally {
        await topics.close();
        await server.shutdown();
      }
    });

    test("a close between two publishes goes after the first; nothing follows it", async () => {
      const topics = new Topics();
      const { server, url, sockets } = await topicServer(topics, mode);
      try {
        const closing = await rawSubscriber(server.port, "id=closing&topics=t");
        const other = await gatherer(`${url}?id=other&topics=t`);
        await waitFor(() => topics.subscribers("t") === 2, 5000, "the subscriptions");
        topics.publish("t", "before");
        sockets.get("closing")!.close({ closeCode: 4001, reason: "bye" });
        topics.publish("t", "after");
        const { texts, close } = await closing.readAll(1000);
        assert.deepEqual(texts, ["before"]);
        assert.equal(close, 4001);
        assert.deepEqual(await other.until(2), ["before", "after"]);
        closing.socket.destroy();
      } finally {
        await topics.close();
        await server.shutdown();
      }
    });
  });
}

describe(`publishes in one turn with permessage-deflate on ${runtime()} (codec)`, { timeout: 30_000 }, () => {
  test("each window size's compressed run keeps order with the server's own writes, and plain peers get theirs", async () => {
    const topics = new Topics();
    const { server, url, sockets } = await topicServer(topics, "codec", { threshold: 64, serverNoContextTakeover: true });
    try {
      const wide = await gatherer(`${url}?id=wide&topics=t`, { compression: { serverNoContextTakeover: true } });
      const narrow = await gatherer(`${url}?id=narrow&topics=t`, { compression: { serverNoContextTakeover: true, serverMaxWindowBits: 9 } });
      const plain = await gatherer(`${url}?id=plain&topics=t`, { compression: false });
      await waitFor(() => topics.subscribers("t") === 3, 5000, "the subscriptions");
      const writers = await Promise.all(["wide", "narrow", "plain"].map(async (id) => (await sockets.get(id)!.opened).writable.getWriter()));
      const long = (i: number) => `long message ${i} `.repeat(20);
      topics.publish("t", long(1));
      topics.publish("t", "short");
      for (const writer of writers) await writer.write("own write");
      topics.publish("t", long(2));
      topics.publish("t", Uint8Array.of(7));
      const expected = [long(1), "short", "own write", long(2), "bytes:7"];
      for (const peer of [wide, narrow, plain]) assert.deepEqual((await peer.until(5)).map(text), expected);
    } finally {
      await topics.close();
      await server.shutdown();
    }
  });
});

// The limit counts what one turn holds for a subscriber: the run's frames as much as single
// writes. Native paths write at once (the runtime takes the bytes), so only the codec is exact.
describe(`the backlog limit within one turn on ${runtime()} (codec)`, { timeout: 30_000 }, () => {
  // 20 publishes of 100-byte texts: 102-byte frames, of which 9 (918 bytes) fit under 1000.
  const messages = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, "0")} `.padEnd(100, "."));

  test('"drop": the frames that fit go, the rest are skipped, and the next turn delivers again', async () => {
    const topics = new Topics({ maxBacklog: 1000, slowSubscriber: "drop" });
    const { server, url } = await topicServer(topics, "codec");
    try {
      const peer = await gatherer(`${url}?topics=t`);
      await waitFor(() => topics.subscribers("t") === 1, 5000, "the subscription");
      for (const message of messages) topics.publish("t", message);
      assert.deepEqual(await peer.until(9), messages.slice(0, 9));
      topics.publish("t", "next turn");
      assert.deepEqual((await peer.until(10)).slice(9), ["next turn"]);
      assert.equal(topics.subscribers("t"), 1);
    } finally {
      await topics.close();
      await server.shutdown();
    }
  });

  test('"close": the frames that fit go, then a close with 1013', async () => {
    const topics = new Topics({ maxBacklog: 1000 });
    const { server } = await topicServer(topics, "codec");
    try {
      const peer = await rawSubscriber(server.port, "topics=t");
      await waitFor(() => topics.subscribers("t") === 1, 5000, "the subscription");
      for (const message of messages) topics.publish("t", message);
      const { texts, close } = await peer.readAll(1000);
      assert.deepEqual(texts, messages.slice(0, 9));
      assert.equal(close, 1013);
      assert.equal(topics.subscribers("t"), 0);
      peer.socket.destroy();
    } finally {
      await topics.close();
      await server.shutdown();
    }
  });
});
