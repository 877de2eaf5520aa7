// Topics on every server path of the runtime running the test: each subscriber receives each
// message once and in order, unsubscribing (and closing) stops delivery, compressed frames are
// shared where permessage-deflate allows, and a subscriber that stops reading costs at most its
// backlog limit, then is closed with 1013 (or, with "drop", misses messages and stays).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Topics } from "../../mod.ts";
import { runtime } from "../../src/adapters/serve.ts";
import { gatherer, type Message, topicServer } from "./_clients.ts";

const modes: ("native" | "codec")[] = runtime() === "node" ? ["codec"] : ["codec", "native"];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (m: Message) => (typeof m === "string" ? m : `bytes:${[...m].join(",")}`);

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

for (const mode of modes) {
  describe(`topics on ${runtime()} (${mode})`, () => {
    test("each subscriber gets each message of its topics once, in publish order; unsubscribe and close stop delivery", async () => {
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
