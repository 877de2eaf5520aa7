// Real brokers for the tests: redis-server and nats-server (Debian packages) on free ports of
// 127.0.0.1, without persistence, started and stopped by the test; and server processes.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";

export function installed(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function accepting(port: number, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`Nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface Broker {
  kind: "redis" | "nats";
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A broker on a free port; `start()` again after `stop()` restarts it on the same port. */
export async function broker(kind: "redis" | "nats"): Promise<Broker> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const self: Broker = {
    kind,
    port,
    url: kind === "redis" ? `redis://127.0.0.1:${port}` : `127.0.0.1:${port}`,
    async start() {
      child = kind === "redis"
        ? spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"], { stdio: "ignore" })
        : spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
      await accepting(port, 5000);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGKILL");
      await exited;
    },
  };
  await self.start();
  return self;
}

export interface Peer {
  name: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A `_broker_server.ts` process; resolves once it listens. */
export function peer(name: string, command: string, args: string[]): Promise<Peer> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise<Peer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${output}`)), 20_000);
    child.stderr!.on("data", (chunk) => (output += chunk));
    child.stdout!.on("data", (chunk) => {
      output += chunk;
      const match = /\{"port":(\d+)\}/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        name,
        port: Number(match[1]),
        child,
        async stop() {
          if (child.exitCode !== null) return;
          const exited = new Promise((done) => child.once("exit", done));
          child.kill("SIGTERM");
          await exited;
        },
      });
    });
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}: ${output}`)));
  });
}
