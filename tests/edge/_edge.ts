// Test glue for the edge runtimes: wsflow bundled by esbuild as a user's project bundles it (the
// package resolved through its npm exports and conditions, here pointing at the sources), free
// ports, and workerd started on a config the test writes (127.0.0.1 only). Node only.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const root = new URL("../..", import.meta.url).pathname;
export const WORKERD = join(root, "node_modules", "workerd", "bin", "workerd");

/** Whether this is the Node 24 that drives these tests (they start the other runtimes themselves). */
export const isNode24 = !("Deno" in globalThis) && !("Bun" in globalThis) && Number(process.versions.node.split(".")[0]) >= 22;

/**
 * A project directory whose node_modules/wsflow is the package as npm ships it, but on the
 * sources: package.json with the npm exports (conditions and sideEffects included, from
 * scripts/check_exports.mjs, as build_npm.mjs writes them) naming the `.ts` files, which
 * esbuild compiles. Removed by `cleanup`.
 */
export async function sourcePackage(): Promise<{ dir: string; cleanup(): void }> {
  const { npmExports, SIDE_EFFECTS } = await import(join(root, "scripts", "check_exports.mjs"));
  const dir = mkdtempSync(join(tmpdir(), "wsflow-edge-"));
  const pkg = join(dir, "node_modules", "wsflow");
  mkdirSync(pkg, { recursive: true });
  const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "wsflow", type: "module", exports: npmExports(deno.exports, ".ts"), sideEffects: SIDE_EFFECTS }, null, 2));
  symlinkSync(join(root, "mod.ts"), join(pkg, "mod.ts"));
  symlinkSync(join(root, "src"), join(pkg, "src"), "dir");
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** How a platform's users bundle: esbuild's platform and the export conditions it applies. */
export const TARGETS = {
  /** wrangler's settings for a Worker. */
  workerd: { platform: "neutral", conditions: ["workerd", "worker", "browser"], mainFields: ["browser", "module", "main"] },
  browser: { platform: "browser", conditions: [], mainFields: undefined },
  neutral: { platform: "neutral", conditions: [], mainFields: undefined },
  node: { platform: "node", conditions: [], mainFields: undefined },
} as const;

/** What a bundle came to: its code and the imports it left to the runtime. */
export interface Bundle {
  code: string;
  imports: string[];
  warnings: string[];
}

/**
 * Bundles `source` (TypeScript, importing "wsflow" and its subpaths) from the project `dir` for
 * `target`, leaving only `cloudflare:*` to the runtime (what wrangler leaves). Rejects with
 * esbuild's errors, such as an import it cannot resolve.
 */
export async function bundle(dir: string, source: string, target: keyof typeof TARGETS, format: "esm" | "iife" = "esm"): Promise<Bundle> {
  const esbuild = await import("esbuild");
  const { platform, conditions, mainFields } = TARGETS[target];
  const result = await esbuild.build({
    stdin: { contents: source, resolveDir: dir, loader: "ts", sourcefile: "entry.ts" },
    bundle: true,
    write: false,
    format,
    platform,
    conditions: [...conditions],
    mainFields: mainFields ? [...mainFields] : undefined,
    preserveSymlinks: true,
    target: "es2022",
    external: ["cloudflare:*"],
    metafile: true,
    logLevel: "silent",
  });
  const output = Object.values(result.metafile!.outputs)[0];
  return {
    code: result.outputFiles![0].text,
    imports: output.imports.map((i) => i.path),
    warnings: result.warnings.map((w) => w.text),
  };
}

/** A port nothing listens on, on 127.0.0.1. */
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

/** Resolves once something accepts connections on 127.0.0.1:`port`, or rejects after `timeoutMs`. */
export async function listening(port: number, timeoutMs: number, output: () => string): Promise<void> {
  for (const end = Date.now() + timeoutMs; Date.now() < end;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Nothing listened on 127.0.0.1:${port} after ${timeoutMs} ms:\n${output()}`);
}

/** A Worker for a workerd config: its bundled module, flags and bindings. */
export interface WorkerSpec {
  /** The service's name. */
  name: string;
  /** The bundled ES module. */
  code: string;
  /** The port it serves HTTP on, on 127.0.0.1. */
  port: number;
  compatibilityFlags?: string[];
  /** Durable Object classes the module exports, each bound under its own name. */
  durableObjects?: string[];
}

/** A running workerd. */
export interface Workerd {
  output(): string;
  stop(): Promise<void>;
}

const COMPATIBILITY_DATE = "2025-09-01";

/**
 * Writes a capnp config for `workers` (each on 127.0.0.1:port; outbound connections allowed to
 * loopback only, for cloudflare:sockets to reach the test's servers) and starts workerd on it.
 */
export async function startWorkerd(workers: WorkerSpec[]): Promise<Workerd> {
  const dir = mkdtempSync(join(tmpdir(), "wsflow-workerd-"));
  const lines = ['using Workerd = import "/workerd/workerd.capnp";', "const config :Workerd.Config = ("];
  lines.push(`  services = [ ${workers.map((w) => `(name = "${w.name}", worker = .${w.name})`).join(", ")}, (name = "loopback", network = (allow = ["local"])) ],`);
  lines.push(`  sockets = [ ${workers.map((w) => `(name = "${w.name}", address = "127.0.0.1:${w.port}", http = (), service = "${w.name}")`).join(", ")} ],`);
  lines.push(");");
  for (const w of workers) {
    writeFileSync(join(dir, `${w.name}.js`), w.code);
    const flags = (w.compatibilityFlags ?? []).map((f) => `"${f}"`).join(", ");
    const objects = w.durableObjects ?? [];
    lines.push(`const ${w.name} :Workerd.Worker = (`);
    lines.push(`  modules = [ (name = "${w.name}.js", esModule = embed "${w.name}.js") ],`);
    lines.push(`  compatibilityDate = "${COMPATIBILITY_DATE}",`, `  compatibilityFlags = [ ${flags} ],`, `  globalOutbound = "loopback",`);
    if (objects.length > 0) {
      lines.push(`  durableObjectNamespaces = [ ${objects.map((c) => `(className = "${c}", uniqueKey = "wsflow-${w.name}-${c}")`).join(", ")} ],`);
      lines.push(`  durableObjectStorage = (inMemory = void),`);
      lines.push(`  bindings = [ ${objects.map((c) => `(name = "${c}", durableObjectNamespace = "${c}")`).join(", ")} ],`);
    }
    lines.push(");");
  }
  writeFileSync(join(dir, "config.capnp"), `${lines.join("\n")}\n`);
  const child: ChildProcess = spawn(WORKERD, ["serve", join(dir, "config.capnp"), "--experimental"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const w of workers) await listening(w.port, 20_000, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { output: () => output, stop };
}
