// The wsflow demo: one page (index.html, plain JavaScript) and one WebSocket endpoint with an echo
// panel, a small chat room and file transfer, on Node, Deno and Bun from this one file. The chat
// room is a topic (wsflow's Topics): in this process alone by default, or shared by every demo
// process started with the same --redis or --nats broker.
//
//   npm start                         (Node 24 from node_modules/.bin; strips the types)
//   deno task start                   (deno run -A examples/demo/server.ts)
//   bun examples/demo/server.ts       (`bun run start` runs the npm script, so Node)
//   ... --port 9000   or   PORT=9000 ...   (default 8080; 0 picks a free port)
//   ... --ping-interval 2000          (ms between the server's heartbeat pings; RTT shown on the page)
//   ... --redis redis://127.0.0.1:6379  (share the chat room with other demo processes through Redis)
//   ... --nats 127.0.0.1:4222           (the same through NATS)
//
// Protocol on /ws: JSON text messages {type, ...}; binary messages are FILE_DATA.
//   client -> server                       server -> client
//   {type:"echo", text}                    {type:"echo", text, at}
//   {type:"join", name}                    {type:"join", name, users} to everyone
//   {type:"chat", text}                    {type:"chat", name, text, at} to everyone
//   {type:"leave"}  (or disconnect)        {type:"leave", name, users} to everyone
//   {type:"NEW_FILE", id, name, size}      {type:"ACK_NEW_FILE", id, ok, reason?}
//   binary FILE_DATA: the file's bytes, as many chunk messages or as one message in fragments
//                                          {type:"FILE_PROGRESS", id, received} about every MiB
//   {type:"FILE_END", id, sha256}          {type:"ACK_FILE_END", id, ok, bytes, sha256, reason?,
//                                           ms, rssBefore, rssPeak}  (the server's memory, sampled every MiB)
//                                          {type:"rtt", ms, rss} after each heartbeat ping
//                                          {type:"welcome", runtime, mode, users, broker}
//
// join, chat and leave go to everyone through the "chat" topic; the processes sharing a broker
// keep the room's list of users through the "presence" topic (each announces its own users).
//
// The server never holds a file: FILE_DATA arrives as streams of fragments (streamMessages), each
// fragment goes into an incremental SHA-256 and is dropped. Ctrl-C (SIGINT) or SIGTERM closes
// every connection with 1001 (going away) and exits.
import { createHash, type Hash } from "node:crypto";
import { readFileSync } from "node:fs";
import process from "node:process";
import { type Backplane, Topics, upgradeWebSocket, type WebSocketStream } from "../../mod.ts";
import { runtime, serve, type ServeHandle } from "../../src/adapters/serve.ts";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const port = Number(flag("--port") ?? process.env.PORT ?? 8080);
const hostname = flag("--host") ?? "127.0.0.1";
const pingInterval = Number(flag("--ping-interval") ?? 2000);
const redisUrl = flag("--redis");
const natsUrl = flag("--nats");
const broker = redisUrl ? `redis ${redisUrl}` : natsUrl ? `nats ${natsUrl}` : "";
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`Bad port ${flag("--port") ?? process.env.PORT}: give --port N or PORT=N with 0 <= N <= 65535`);
  process.exit(2);
}

const MiB = 1024 * 1024;
const MAX_FILE = 16 * 1024 * MiB; // what NEW_FILE may announce
const MAX_TEXT = 64 * 1024; // a control message
const page = new URL("./index.html", import.meta.url);

type MessageStream = ReadableStream<Uint8Array> & { binary: boolean };
interface Transfer {
  id: number;
  name: string;
  size: number;
  received: number;
  reported: number;
  hash: Hash;
  started: number;
  rssBefore: number;
  rssPeak: number;
  failed?: string;
}
interface Client {
  socket: WebSocketStream;
  send(message: Record<string, unknown>): void;
  name?: string;
  transfer?: Transfer;
}

const clients = new Set<Client>();
const topics = new Topics({ backplane: await backplane() });
const publish = (topic: string, message: Record<string, unknown>) => {
  try {
    void topics.publish(topic, JSON.stringify(message));
  } catch { /* the hub is closed: the process is stopping */ }
};
const broadcast = (message: Record<string, unknown>) => publish("chat", message);

// Who is in the room: this process's users, and those each other process last announced on the
// "presence" topic (a process that stops announcing for 15 s is forgotten).
const processId = crypto.randomUUID();
const others = new Map<string, { names: string[]; at: number }>();
const localUsers = () => [...clients].flatMap((c) => (c.name ? [c.name] : []));
const users = () => {
  const now = Date.now();
  for (const [id, other] of others) if (now - other.at > 15_000) others.delete(id);
  return [...localUsers(), ...[...others.values()].flatMap((other) => other.names)].sort();
};
const announce = (type = "roster") => publish("presence", { type, process: processId, names: localUsers() });
const presence = topics.listen("presence", (message) => {
  const { type, process: from, names } = JSON.parse(String(message));
  if (from === processId) return;
  if (type === "bye") others.delete(from);
  else others.set(from, { names, at: Date.now() });
  if (type === "hello") announce();
});
await presence.ready;
announce("hello");
setInterval(announce, 5000).unref?.();

async function backplane(): Promise<Backplane | undefined> {
  if (redisUrl) {
    const { createClient } = await import("redis");
    const { redisBackplane } = await import("../../src/adapters/redis/mod.ts");
    const publisher = createClient({ url: redisUrl });
    publisher.on("error", (error: Error) => console.error(`redis: ${error.message}`));
    const subscriber = publisher.duplicate();
    subscriber.on("error", () => {});
    await publisher.connect();
    await subscriber.connect();
    return redisBackplane({ publisher, subscriber });
  }
  if (natsUrl) {
    const { connect } = await import("@nats-io/transport-node");
    const { natsBackplane } = await import("../../src/adapters/nats/mod.ts");
    return natsBackplane({ connection: await connect({ servers: natsUrl, maxReconnectAttempts: -1 }) });
  }
  return undefined;
}

// Ctrl-C: every open connection gets a close frame with 1001, then the process exits. A second
// Ctrl-C, or connections that do not finish closing within 3 s, exit at once.
let stopping = false;
let server: ServeHandle | undefined;
function stop(signal: string): void {
  if (stopping) process.exit(130);
  stopping = true;
  console.log(`\n${signal}: closing ${clients.size} connection(s) with 1001 (going away)`);
  if (!server) process.exit(0); // not listening yet
  const timeout = new Promise((resolve) => setTimeout(resolve, 3000));
  announce("bye");
  void Promise.race([server.shutdown().then(() => topics.close()), timeout]).then(() => process.exit(0));
}
const deno = (globalThis as { Deno?: { addSignalListener(signal: string, listener: () => void): void } }).Deno;
for (const signal of ["SIGINT", "SIGTERM"]) {
  if (deno) deno.addSignalListener(signal, () => stop(signal));
  else process.on(signal, () => stop(signal));
}

server = await serve({ port, hostname, mode: "codec" }, async (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/ws") {
    // Only this page may connect: a cross-site page in the same browser may not.
    const origin = request.headers.get("origin");
    if (origin && new URL(origin).host !== request.headers.get("host")) return new Response("Forbidden origin", { status: 403 });
    const { socket, response } = await upgradeWebSocket(request, {
      streamMessages: true,
      maxMessageSize: 1024 * MiB, // FILE_DATA may come as one large message in fragments
      maxFragments: 1 << 20,
    });
    if (socket) session(socket).catch(() => {}); // a failed connection: `closed` says why
    return response;
  }
  if (url.pathname === "/" || url.pathname === "/index.html") {
    return new Response(readFileSync(page), { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
  }
  return new Response("Not found", { status: 404 });
});

console.log(`wsflow demo on ${server.url}/ (${runtime()} ${runtimeVersion()}, WebSocket at /ws${broker ? `, chat room shared through ${broker}` : ""}); Ctrl-C to stop`);

async function session(socket: WebSocketStream): Promise<void> {
  const { readable, writable } = await socket.opened;
  const writer = writable.getWriter();
  const client: Client = {
    socket,
    send(message) {
      // A client that stops reading gets closed rather than buffered without bound.
      if ((writer.desiredSize ?? 0) < -1000) return socket.close({ closeCode: 4008, reason: "not reading" });
      writer.write(JSON.stringify(message)).catch(() => {});
    },
  };
  clients.add(client);
  await topics.subscribe(socket, "chat");
  client.send({ type: "welcome", runtime: `${runtime()} ${runtimeVersion()}`, mode: "codec", users: users(), pingInterval, broker: broker || undefined });
  const heartbeat = startPings(client);
  try {
    for await (const message of readable as unknown as AsyncIterable<MessageStream>) {
      if (message.binary) await fileData(client, message);
      else {
        const text = await readText(message);
        if (text === undefined) return socket.close({ closeCode: 4009, reason: `control messages are at most ${MAX_TEXT} bytes` });
        await control(client, text);
      }
    }
  } catch {
    // The connection failed; `closed` says why.
  } finally {
    clearInterval(heartbeat);
    clients.delete(client);
    if (client.name) {
      announce();
      broadcast({ type: "leave", name: client.name, users: users() });
    }
  }
}

function startPings(client: Client): ReturnType<typeof setInterval> {
  const ping = () =>
    client.socket.ping().then(
      (ms) => client.send({ type: "rtt", ms: Math.round(ms * 100) / 100, rss: rss() }),
      () => {},
    );
  setTimeout(ping, 100);
  return setInterval(ping, pingInterval);
}

async function readText(message: MessageStream): Promise<string | undefined> {
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for await (const piece of message) {
    bytes += piece.byteLength;
    if (bytes > MAX_TEXT) {
      await message.cancel().catch(() => {});
      return undefined;
    }
    text += decoder.decode(piece, { stream: true });
  }
  return text + decoder.decode();
}

async function control(client: Client, text: string): Promise<void> {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(text);
  } catch {
    return client.send({ type: "error", message: "not JSON" });
  }
  const str = (value: unknown, max: number) => (typeof value === "string" ? value.trim().slice(0, max) : "");
  switch (message.type) {
    case "echo":
      return client.send({ type: "echo", text: message.text, at: Date.now() });
    case "join": {
      const name = str(message.name, 32);
      if (!name) return client.send({ type: "error", message: "join needs a name" });
      if (client.name) return;
      if (users().includes(name)) return client.send({ type: "error", message: `${name} is taken` });
      client.name = name;
      announce();
      return broadcast({ type: "join", name, users: users() });
    }
    case "chat": {
      const chat = str(message.text, 2000);
      if (!client.name) return client.send({ type: "error", message: "join first" });
      if (chat) broadcast({ type: "chat", name: client.name, text: chat, at: Date.now() });
      return;
    }
    case "leave": {
      const name = client.name;
      if (!name) return;
      client.name = undefined;
      announce();
      return broadcast({ type: "leave", name, users: users() });
    }
    case "NEW_FILE": {
      const id = Number(message.id);
      const size = Number(message.size);
      const ack = (ok: boolean, reason?: string) => client.send({ type: "ACK_NEW_FILE", id, ok, reason });
      if (client.transfer) return ack(false, `transfer ${client.transfer.id} is still running`);
      if (!Number.isSafeInteger(size) || size < 0 || size > MAX_FILE) return ack(false, `size must be 0 to ${MAX_FILE} bytes`);
      const before = rss();
      client.transfer = { id, name: str(message.name, 200) || "unnamed", size, received: 0, reported: 0, hash: createHash("sha256"), started: Date.now(), rssBefore: before, rssPeak: before };
      return ack(true);
    }
    case "FILE_END": {
      const transfer = client.transfer;
      if (!transfer || transfer.id !== Number(message.id)) {
        return client.send({ type: "ACK_FILE_END", id: message.id, ok: false, reason: "no such transfer" });
      }
      client.transfer = undefined;
      const sha256 = transfer.hash.digest("hex");
      const reason = transfer.failed
        ?? (transfer.received !== transfer.size ? `got ${transfer.received} bytes, NEW_FILE said ${transfer.size}` : undefined)
        ?? (sha256 !== String(message.sha256).toLowerCase() ? "SHA-256 mismatch" : undefined);
      const ms = Date.now() - transfer.started;
      const { rssBefore, rssPeak } = transfer;
      console.log(`${transfer.name}: ${transfer.received} bytes in ${ms} ms, ${reason ?? "SHA-256 ok"}; RSS ${mib(rssBefore)} before, ${mib(rssPeak)} at most`);
      return client.send({ type: "ACK_FILE_END", id: transfer.id, ok: !reason, reason, bytes: transfer.received, sha256, ms, rssBefore, rssPeak });
    }
    default:
      return client.send({ type: "error", message: `unknown type ${JSON.stringify(message.type)}` });
  }
}

// FILE_DATA: hash each fragment as it arrives and let it go.
async function fileData(client: Client, message: MessageStream): Promise<void> {
  const transfer = client.transfer;
  if (!transfer || transfer.failed) {
    await message.cancel().catch(() => {});
    if (!transfer) client.send({ type: "error", message: "FILE_DATA without NEW_FILE" });
    return;
  }
  for await (const piece of message) {
    transfer.received += piece.byteLength;
    if (transfer.received > transfer.size) {
      transfer.failed = `more than the ${transfer.size} bytes NEW_FILE said`;
      await message.cancel().catch(() => {});
      return;
    }
    transfer.hash.update(piece);
    if (transfer.received - transfer.reported >= MiB) {
      transfer.reported = transfer.received;
      transfer.rssPeak = Math.max(transfer.rssPeak, rss());
      client.send({ type: "FILE_PROGRESS", id: transfer.id, received: transfer.received });
    }
  }
  if (transfer.received === transfer.size && transfer.reported !== transfer.received) {
    transfer.reported = transfer.received;
    client.send({ type: "FILE_PROGRESS", id: transfer.id, received: transfer.received });
  }
}

function rss(): number {
  return process.memoryUsage.rss?.() ?? process.memoryUsage().rss;
}
function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

function runtimeVersion(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  return g.Deno?.version.deno ?? g.Bun?.version ?? process.versions.node;
}

