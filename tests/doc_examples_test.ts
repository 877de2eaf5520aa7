// Every documented server (the README's and each @example of the API docs that starts one) runs
// as written on the runtime it targets, with its import names pointed at this checkout and its
// port made free; clients close it with 1000, with 1001 and by dropping TCP, and the server must
// still be running and serve the next client. The examples are read from the source text, so
// the docs cannot drift from what is tested. A raw TCP client speaks to each server.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import process from "node:process";
import { closeOf, closePayload, rawClient, wireFrame } from "./_wire.ts";

type Runtime = "node" | "deno" | "bun";

// Under Node 20 this file runs compiled in .build/, where the examples' imports must go too.
const here = new URL(".", import.meta.url).pathname;
const compiled = here.includes("/.build/");
const root = join(here, compiled ? "../.." : "..");
const modules = compiled ? join(root, ".build") : root;
const current: Runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const execPath = current === "deno" ? (globalThis as unknown as { Deno: { execPath(): string } }).Deno.execPath() : process.execPath;

interface Example {
  where: string;
  code: string;
  runtimes: Runtime[];
}

// The ```ts blocks of a JSDoc comment's @example tags, with the comment's " * " stripped.
function jsdocExamples(file: string): { where: string; code: string }[] {
  const text = readFileSync(join(root, file), "utf8");
  const found: { where: string; code: string }[] = [];
  const pattern = /^([ \t]*)\* ```ts[^\n]*\n([\s\S]*?)^[ \t]*\* ```/gm;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    const code = m[2].split("\n").map((line) => line.replace(/^[ \t]*\* ?/, "")).join("\n");
    found.push({ where: `${file}:${text.slice(0, m.index).split("\n").length}`, code });
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => relative(root, join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)))
    .sort();
}

function readmeBlocks(): { where: string; code: string; role: string }[] {
  const text = readFileSync(join(root, "README.md"), "utf8");
  const found: { where: string; code: string; role: string }[] = [];
  const pattern = /<!-- readme-test: (\w+) -->\n```ts\n([\s\S]*?)```/g;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    found.push({ where: `README.md:${text.slice(0, m.index).split("\n").length + 2}`, code: m[2], role: m[1] });
  }
  return found;
}

// Which runtimes a server example is for: the one whose subpath or globals it uses, else
// (wsflow/serve) all three.
function targets(code: string): Runtime[] {
  if (/wsflow\/deno"|\bDeno\./.test(code)) return ["deno"];
  if (/wsflow\/bun"|\bBun\./.test(code)) return ["bun"];
  if (/wsflow\/node"|"node:http"/.test(code)) return ["node"];
  return ["node", "deno", "bun"];
}

const startsServer = (code: string) => /\b(serve|attach|Deno\.serve|Bun\.serve)\(/.test(code) && code.includes("pipeTo(");

function serverExamples(): Example[] {
  const docs = ["mod.ts", ...sourceFiles("src")].flatMap(jsdocExamples);
  const readme = readmeBlocks().filter((block) => block.role === "server");
  return [...readme, ...docs].filter((example) => startsServer(example.code)).map((example) => ({ ...example, runtimes: targets(example.code) }));
}

const exportsMap: Record<string, string> = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).exports;

// The example with its package imports pointed at this checkout and its port made free.
function runnable(example: Example): string {
  let code = example.code.replace(/from "(?:@wsflow\/wsflow|wsflow)(\/[\w-]+)?"/g, (_, subpath: string | undefined) => {
    const target = exportsMap[subpath ? `.${subpath}` : "."];
    assert.ok(target, `${example.where}: no export for ${subpath}`);
    return `from ${JSON.stringify(join(modules, compiled ? target.replace(/\.ts$/, ".js") : target))}`;
  });
  code = code.replace(/\bport: 8080\b/g, "port: 0").replace(/\.listen\(8080\)/g, ".listen(0, \"127.0.0.1\")");
  assert.doesNotMatch(code, /8080/, `${example.where}: the test cannot give this example a free port`);
  return code;
}

// The TCP ports `pid` listens on, from /proc: no change to the example is needed to find them.
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch { /* closed meanwhile */ }
  }
  const ports: number[] = [];
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === "0A" && inodes.has(cols[9])) ports.push(parseInt(cols[1].split(":")[1], 16));
    }
  }
  return ports;
}

const dir = mkdtempSync(join(tmpdir(), "wsflow-doc-examples-"));
const children = new Set<ChildProcess>();

async function start(example: Example, index: number): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const file = join(dir, `example_${index}.${compiled ? "mjs" : "ts"}`);
  writeFileSync(file, runnable(example));
  const args = current === "deno" ? ["run", "-A", file] : current === "bun" ? ["run", file] : [file];
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
  delete env.FORCE_COLOR;
  const child = spawn(execPath, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  for (const end = Date.now() + 30_000; Date.now() < end && child.exitCode === null;) {
    const ports = child.pid ? listeningPorts(child.pid) : [];
    if (ports.length > 0) return { child, port: ports[0], output: () => output };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`${example.where} did not listen within 30 s (exit code ${child.exitCode}):\n${output}`);
}

const HEADERS = { authorization: "Bearer secret", "Sec-WebSocket-Protocol": "chat" };

// One client: a text message must come back; then it closes with `code` (answered with a close
// frame and the end of TCP), or drops the connection when `code` is undefined.
async function client(port: number, text: string, code: number | undefined): Promise<void> {
  const peer = await rawClient(port, "/", HEADERS);
  try {
    assert.match(peer.head, /^HTTP\/1\.1 101/);
    const writer = peer.duplex.writable.getWriter();
    await writer.write(wireFrame(0x1, new TextEncoder().encode(text), true));
    const echo = await peer.wire.frame();
    assert.equal(echo?.opcode, 0x1, `an echo of ${JSON.stringify(text)}`);
    assert.equal(new TextDecoder().decode(echo?.payload), text);
    if (code === undefined) return;
    await writer.write(wireFrame(0x8, closePayload(code, "bye"), true));
    const reply = await peer.wire.frame();
    assert.equal(reply?.opcode, 0x8, `the close reply to ${code}`);
    assert.equal(closeOf(reply!).code, code);
    assert.ok(await peer.wire.ended(10_000), "the server closes TCP after the closing handshake");
  } finally {
    peer.end();
  }
}

describe(`the documented servers survive normal and abrupt closes (${current})`, () => {
  after(() => {
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  const examples = serverExamples();

  test("the README and the JSDoc of wsflow/serve, wsflow/node, wsflow/deno and wsflow/bun document servers", () => {
    const places = new Set(examples.map((example) => example.where.split(":")[0]));
    for (const file of ["README.md", "src/adapters/serve.ts", "src/adapters/node/mod.ts", "src/adapters/deno/mod.ts", "src/adapters/bun/mod.ts"]) {
      assert.ok(places.has(file), `no server example found in ${file}`);
    }
  });

  test("every documented pipeTo handles its rejection, in the same idiom", () => {
    const blocks = [...["mod.ts", ...sourceFiles("src")].flatMap(jsdocExamples), ...readmeBlocks()];
    const pipes = blocks.flatMap((block) => block.code.split("\n").filter((line) => line.includes(".pipeTo(")).map((line) => ({ where: block.where, line: line.trim() })));
    assert.ok(pipes.length >= 10, `only ${pipes.length} documented pipes found`);
    for (const { where, line } of pipes) {
      assert.match(line, /^readable\.pipeTo\(writable\)\.catch\(\(\) => \{\}\); \/\/ echo; the pipe rejects when the connection closes, even cleanly$/, where);
    }
  });

  for (const [index, example] of examples.entries()) {
    test(`${example.where}: closes with 1000 and 1001 and a dropped connection leave it serving`, {
      skip: !existsSync("/proc/self/net/tcp") ? "needs Linux's /proc to find the port" : !example.runtimes.includes(current) && `runs on ${example.runtimes.join(", ")}`,
      timeout: 90_000,
    }, async () => {
      const server = await start(example, index);
      try {
        await client(server.port, "first", 1000);
        await client(server.port, "second", 1001);
        await client(server.port, "third", undefined);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await client(server.port, "after", 1000);
        assert.equal(server.child.exitCode, null, `the server exited:\n${server.output()}`);
      } catch (error) {
        throw new Error(`${example.where}: ${(error as Error).message}\nserver output:\n${server.output()}`, { cause: error });
      } finally {
        server.child.kill("SIGKILL");
      }
    });
  }
});
