// Checks that the npm package in npm/ exposes exactly the subpaths of deno.json's "exports" (and
// ./package.json, which only npm has), each with "types" and "default" pointing at files that
// exist and were emitted from the same source file (./src/adapters/node/mod.ts ->
// ./src/adapters/node/mod.js and .d.ts), and between them the runtime conditions of CONDITIONS. JSR and npm users then see the same entry points (as
// honojs/hono's build/validate-exports.ts keeps its two lists equal).
// Plain JavaScript, so Node 20 runs it.
//
//   node scripts/check_exports.mjs [npm-dir]
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = new URL("..", import.meta.url).pathname;
// Subpaths only npm has: package.json, which Node tools read through the exports.
const NPM_ONLY = { "./package.json": "./package.json" };

/**
 * npm export conditions, by subpath: what a runtime's bundler loads instead of the default. JSR
 * has no conditions, so these files add to their subpath's module, never change it.
 *
 * - `workerd` (wrangler, and esbuild with `conditions: ["workerd"]`): the main entry plus
 *   wsflow/cloudflare, whose static `cloudflare:sockets` import no other runtime resolves, so
 *   that `upgradeWebSocket` and the client's default transport work in a Worker by themselves.
 */
export const CONDITIONS = {
  ".": { workerd: "./src/adapters/cloudflare/main.ts" },
};

/** Files whose top-level code registers something (bundlers must keep them; the rest has no side effects). */
export const SIDE_EFFECTS = ["./src/adapters/cloudflare/mod.ts", "./src/adapters/cloudflare/main.ts"];

/**
 * The npm package's `exports` for deno.json's: `{ types, ...conditions, default }` per subpath,
 * with `.ts` source paths turned to `ext` (".js" for the package).
 */
export function npmExports(jsrExports, ext = ".js") {
  const exports = {};
  for (const [subpath, source] of Object.entries(jsrExports)) {
    const base = source.replace(/\.ts$/, "");
    const conditions = Object.fromEntries(Object.entries(CONDITIONS[subpath] ?? {}).map(([name, path]) => [name, path.replace(/\.ts$/, ext)]));
    exports[subpath] = { types: `${base}.d.ts`, ...conditions, default: `${base}${ext}` };
  }
  return exports;
}

/**
 * Compares deno.json's exports with `<npmDir>/package.json`'s; returns the problems found, one
 * sentence each, empty when they match.
 */
export function checkExports(npmDir = join(root, "npm")) {
  const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  const pkgPath = join(npmDir, "package.json");
  if (!existsSync(pkgPath)) return [`Cannot check exports: ${pkgPath} does not exist (run npm run build)`];
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));
  const problems = [];
  const jsr = typeof deno.exports === "string" ? { ".": deno.exports } : deno.exports ?? {};
  const npm = pkg.exports ?? {};
  for (const subpath of Object.keys(jsr)) {
    if (!(subpath in npm)) problems.push(`Subpath ${subpath} is in deno.json but not in the npm package`);
  }
  for (const [subpath, target] of Object.entries(npm)) {
    if (subpath in NPM_ONLY) {
      if (target !== NPM_ONLY[subpath]) problems.push(`Subpath ${subpath} maps to ${JSON.stringify(target)}; expected ${NPM_ONLY[subpath]}`);
      continue;
    }
    if (!(subpath in jsr)) {
      problems.push(`Subpath ${subpath} is in the npm package but not in deno.json`);
      continue;
    }
    const expected = npmExports({ [subpath]: jsr[subpath] })[subpath];
    if (typeof target !== "object" || target === null) {
      problems.push(`Subpath ${subpath} maps to ${JSON.stringify(target)}, not { types, default }`);
      continue;
    }
    const conditions = Object.keys(target);
    if (conditions.join() !== Object.keys(expected).join()) {
      problems.push(`Subpath ${subpath} has conditions ${conditions.join(", ")}; expected ${Object.keys(expected).join(", ")}`);
    }
    for (const [condition, path] of Object.entries(expected)) {
      if (target[condition] !== path) {
        problems.push(`Subpath ${subpath} "${condition}" is ${target[condition]}; deno.json's ${jsr[subpath]} means ${path}`);
      } else if (!existsSync(join(npmDir, path))) {
        problems.push(`Subpath ${subpath} "${condition}" points at ${path}, which was not emitted`);
      }
    }
  }
  if (pkg.name !== "wsflow") problems.push(`The npm package is named ${pkg.name}, not wsflow`);
  if (pkg.version !== deno.version) problems.push(`The npm package's version ${pkg.version} is not deno.json's ${deno.version}`);
  return problems;
}

if (resolve(process.argv[1] ?? "") === new URL(import.meta.url).pathname) {
  const problems = checkExports(process.argv[2] ? resolve(process.argv[2]) : undefined);
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) process.exit(1);
  console.log("npm exports match deno.json");
}
