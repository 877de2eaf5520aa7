// A server process for the cross-process topics tests: `<runtime> _broker_server.ts redis|nats
// URL native|codec`. Connections subscribe to the topics in their `topics` query parameter and get
// "ready" once the broker has the subscriptions; a text message "pub TOPIC PAYLOAD" publishes.
// Prints {"port":N} when listening; SIGTERM exits.
import process from "node:process";
import { Topics, upgradeWebSocket } from "../../mod.ts";
import { serve } from "../../src/adapters/serve.ts";
import type { Backplane } from "../../src/topics/backplane.ts";

const [kind, url, mode] = process.argv.slice(2);

async function backplane(): Promise<Backplane> {
  if (kind === "redis") {
    const { createClient } = await import("redis");
    const { redisBackplane } = await import("../../src/adapters/redis/mod.ts");
    const publisher = createClient({ url, socket: { reconnectStrategy: () => 100 } });
    publisher.on("error", () => {}); // reconnects by itself
    await publisher.connect();
    const subscriber = publisher.duplicate();
    subscriber.on("error", () => {});
    await subscriber.connect();
    return redisBackplane({ publisher, subscriber });
  }
  const { connect } = await import("@nats-io/transport-node");
  const { natsBackplane } = await import("../../src/adapters/nats/mod.ts");
  const connection = await connect({ servers: url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
  return natsBackplane({ connection });
}

const topics = new Topics({ backplane: await backplane() });
const server = await serve({ port: 0, mode: mode as "native" | "codec" }, async (request) => {
  const wanted = (new URL(request.url).searchParams.get("topics") ?? "").split(",").filter(Boolean);
  const { socket, response } = await upgradeWebSocket(request, { heartbeat: false });
  if (!socket) return response;
  socket.closed.catch(() => {});
  void (async () => {
    const { readable, writable } = await socket.opened;
    const writer = writable.getWriter();
    await Promise.all(wanted.map((topic) => topics.subscribe(socket, topic)));
    await writer.write("ready");
    for await (const message of readable) {
      const [command, topic, ...rest] = String(message).split(" ");
      if (command === "pub") topics.publish(topic, rest.join(" "));
    }
  })().catch(() => {});
  return response;
});
console.log(JSON.stringify({ port: server.port }));
process.on("SIGTERM", () => process.exit(0));
