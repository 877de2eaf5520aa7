// Flow control against peers that never read: a flood of pings (RFC 6455 section 5.5.3 lets an
// endpoint answer only the latest) and an application writing to such a peer. Raw TCP peers
// against this runtime's byte-level server (`serve({ mode: "codec" })`: wsflow/node on Node, the
// codec on Deno and Bun) and its client (WebSocketStream over the default transport). Memory is
// this process's RSS once garbage is collected, against a baseline taken the same way after a
// first flood of the same size from a peer that reads (which sizes the heaps for the reading).
// test:own-process (it measures this process's memory; scripts/test.mjs runs it alone on Bun)
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { upgradeWebSocket, WebSocketStream } from "../../mod.ts";
import { serve, type ServeHandle } from "../../src/adapters/serve.ts";
import { frame } from "../_frames.ts";
import { collect, flood, heldMiB, peakRss, type RawPeer, rawClient, rawServer, rssMiB, textOf } from "../_raw.ts";

const PINGS = 300_000;
const FLOOD_MS = 30_000;
/** The most RSS a flood may leave held, in MiB. */
const BOUND_MIB = 16;
const payload = new Uint8Array(125).fill(0x61);
const LAST = "the last ping";
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const writes = { resolved: 0 };
const closer = { closing: false, closed: undefined as number | undefined };
const WRITES = 1024;

async function handler(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  const { socket, response } = await upgradeWebSocket(request, { heartbeat: false, closeTimeout: path === "/closer" ? 300 : undefined });
  if (!socket) return response;
  void (async () => {
    const { readable, writable } = await socket.opened;
    if (path === "/closer") {
      // Writes until a write waits, then closes.
      const writer = writable.getWriter();
      socket.closed.then((info) => (closer.closed = info.closeCode), (error) => (closer.closed = error.closeCode));
      while (writer.desiredSize! > 0 && (await Promise.race([writer.write(new Uint8Array(65536)).then(() => true), delay(300).then(() => false)])));
      closer.closing = true;
      socket.close({ closeCode: 1000 });
      return;
    }
    if (path !== "/writer") return await readable.pipeTo(writable);
    // Writes 1,024 messages of 64 KiB, each write awaited, and reads (and drops) what arrives.
    void readable.pipeTo(new WritableStream()).catch(() => {});
    const writer = writable.getWriter();
    for (let i = 0; i < WRITES; i++) {
      await writer.write(new Uint8Array(65536));
      writes.resolved++;
    }
  })().catch(() => {});
  return response;
}

const ping = (masked: boolean, data: Uint8Array | string = payload) => frame({ opcode: 0x9, payload: data, mask: masked });

/** A flood from a peer that reads as it goes: afterwards the heaps are sized for reading one. */
async function warmUp(peer: RawPeer, masked: boolean): Promise<void> {
  try {
    peer.read();
    await flood(peer.socket, ping(masked), PINGS, FLOOD_MS);
    peer.socket.write(ping(masked, LAST));
    await peer.until(() => peer.lastPong !== undefined && textOf(peer.lastPong) === LAST, 30_000, "the last pong");
  } finally {
    peer.socket.destroy();
    await peer.closed;
  }
}

/**
 * Floods `peer` with pings while it reads nothing, then lets it read. Checks the RSS held while
 * it does not read and after it left (and with `peakBound`, the highest RSS sampled during the
 * flood), that it gets fewer pongs than a tenth of its pings, the last one answering its last
 * ping, and that the connection still echoes.
 */
async function floodAndRecover(peer: RawPeer, masked: boolean, baseline: number, peakBound = Infinity): Promise<void> {
  try {
    const sampler = peakRss();
    const { frames, timedOut } = await flood(peer.socket, ping(masked), PINGS, FLOOD_MS);
    assert.equal(timedOut, false, `the flood stalled after ${frames} pings: reading stopped for good`);
    const held = await heldMiB(baseline);
    const peak = sampler.stop() - baseline;
    assert.ok(held < BOUND_MIB, `${held.toFixed(1)} MiB held after ${frames} pings (peak ${peak.toFixed(1)} MiB)`);
    assert.ok(peak < peakBound, `RSS peaked ${peak.toFixed(1)} MiB over the baseline during ${frames} pings`);
    peer.socket.write(ping(masked, LAST));
    peer.read();
    await peer.until(() => peer.lastPong !== undefined && textOf(peer.lastPong) === LAST, 30_000, "the pong to the last ping");
    assert.ok(peer.pongs < frames / 10, `${peer.pongs} pongs for ${frames} pings: pongs that could not be written were kept`);
    peer.socket.write(frame({ opcode: 0x1, payload: "still here", mask: masked }));
    assert.equal(textOf((await peer.frame(0)).payload), "still here");
  } finally {
    peer.socket.destroy();
    await peer.closed;
  }
  const left = await heldMiB(baseline);
  assert.ok(left < BOUND_MIB, `${left.toFixed(1)} MiB still held after the peer left`);
}

async function baselineMiB(): Promise<number> {
  await delay(300);
  await collect();
  return rssMiB();
}

describe("a ping flood from a peer that never reads", { timeout: 180_000 }, () => {
  let server: ServeHandle;
  before(async () => {
    server = await serve({ port: 0, mode: "codec" }, handler);
  });
  after(async () => {
    await server.shutdown();
  });

  // The peak too: on Bun, each read's fresh buffer and each ping's objects used to wait for the
  // collector (peaks of 16.2 to 17.6 MiB here; 2.5 to 7 since they no longer do).
  test("the server peaks and holds under 16 MiB through 300,000 pings, answers the latest, and still echoes", { timeout: 120_000 }, async () => {
    await warmUp(await rawClient(server.port), true);
    const baseline = await baselineMiB();
    await floodAndRecover(await rawClient(server.port), true, baseline, BOUND_MIB);
  });

  test("the client holds under 16 MiB through 300,000 pings from a server, answers the latest, and still echoes", { timeout: 120_000 }, async () => {
    const raw = await rawServer();
    const open = async () => {
      const client = new WebSocketStream(`ws://127.0.0.1:${raw.port}/`, { heartbeat: false });
      const peer = await raw.accept();
      const { readable, writable } = await client.opened;
      void readable.pipeTo(writable).catch(() => {});
      return peer;
    };
    try {
      await warmUp(await open(), false);
      const baseline = await baselineMiB();
      await floodAndRecover(await open(), false, baseline);
    } finally {
      raw.close();
    }
  });

  test("an application writing to a peer that reads nothing waits on its writes, and the peer's pings add one pong, not a queue", { timeout: 120_000 }, async () => {
    const baseline = await baselineMiB();
    writes.resolved = 0;
    const peer = await rawClient(server.port, "/writer");
    try {
      const { frames } = await flood(peer.socket, ping(true), 100_000, 3_000);
      // Then pings one at a time, so each is read alone while the writes wait.
      peer.socket.setNoDelay(true);
      for (let i = 0; i < 1000; i++) {
        peer.socket.write(ping(true));
        await delay(1);
      }
      const held = await heldMiB(baseline);
      // The kernel's buffers on loopback (a few MiB) plus one high-water mark.
      assert.ok(writes.resolved < WRITES / 2, `${writes.resolved} writes of 64 KiB resolved while the peer read nothing`);
      assert.ok(held < BOUND_MIB, `${held.toFixed(1)} MiB held after ${frames + 1000} pings and ${writes.resolved} writes`);
      peer.socket.write(ping(true, LAST));
      peer.read();
      await peer.until(() => peer.binaries === WRITES && peer.lastPong !== undefined && textOf(peer.lastPong) === LAST, 60_000, "every message and the last pong");
      assert.ok(peer.pongs < 100, `${peer.pongs} pongs for ${frames + 1001} pings sent while the writes waited`);
    } finally {
      peer.socket.destroy();
      await peer.closed;
    }
  });

  test("close() with writes waiting on a peer that reads nothing ends the connection within three closeTimeouts", { timeout: 60_000 }, async () => {
    const peer = await rawClient(server.port, "/closer");
    try {
      for (const until = performance.now() + 20_000; !closer.closing && performance.now() < until;) await delay(20);
      assert.ok(closer.closing, "the server's writes did not wait within 20 s");
      // The server's side ends on its own; the peer sees it once it reads.
      const started = performance.now();
      for (const until = started + 15_000; closer.closed === undefined && performance.now() < until;) await delay(20);
      assert.equal(closer.closed, 1006, "the connection was still open 15 s after close() (closeTimeout 300 ms)");
      assert.ok(performance.now() - started < 10_000, `closed after ${Math.round(performance.now() - started)} ms`);
      peer.read();
      const gone = await Promise.race([peer.closed.then(() => true), delay(10_000).then(() => false)]);
      assert.ok(gone, "the peer's TCP connection was still open");
    } finally {
      peer.socket.destroy();
    }
  });
});
