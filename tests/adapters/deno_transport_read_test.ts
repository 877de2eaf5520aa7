// The Deno codec's read side and memory: a read that waits on a silent peer holds a small
// buffer, not a 64 KiB one, and bytes that flow still arrive whole and in order. And its writes
// of topic runs: a piece goes out with what its turn appended, cut where the server wrote.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { _denoTransport } from "../../src/adapters/deno/transport.ts";
import type { _DenoConn } from "../../src/adapters/deno/runtime.ts";
import { _FrameRun, _RunPiece } from "../../src/streams/frame_run.ts";
import { transportSink } from "../_util.ts";

// A connection in memory whose reads take as many queued bytes as the buffer has room for, and
// which records the size of the memory each read was given (what a pending read pins).
class StreamConn {
  readonly remoteAddr = { hostname: "127.0.0.1" };
  readonly pinned: number[] = [];
  #bytes = new Uint8Array(0);
  #ended = false;
  #wake: (() => void) | undefined;
  feed(bytes: Uint8Array | null): void {
    if (bytes === null) this.#ended = true;
    else {
      const joined = new Uint8Array(this.#bytes.length + bytes.length);
      joined.set(this.#bytes);
      joined.set(bytes, this.#bytes.length);
      this.#bytes = joined;
    }
    this.#wake?.();
  }
  async read(buffer: Uint8Array): Promise<number | null> {
    this.pinned.push(buffer.buffer.byteLength);
    while (this.#bytes.length === 0 && !this.#ended) await new Promise<void>((r) => (this.#wake = r));
    if (this.#bytes.length === 0) return null;
    const n = Math.min(buffer.length, this.#bytes.length);
    buffer.set(this.#bytes.subarray(0, n));
    this.#bytes = this.#bytes.slice(n);
    return n;
  }
  write(bytes: Uint8Array): Promise<number> {
    return Promise.resolve(bytes.length);
  }
  closeWrite(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("_denoTransport reads", () => {
  test("a read that waits on a silent peer pins 1 KiB, before and after 200 KiB flowed; every byte arrives in order", async () => {
    const conn = new StreamConn();
    const transport = _denoTransport(conn as unknown as _DenoConn);
    const received: number[] = [];
    let ended = false;
    transport.start(transportSink((chunk) => {
      for (const byte of chunk) received.push(byte);
    }, () => (ended = true)));
    await settle();
    assert.equal(conn.pinned.at(-1), 1024, "the first read, waiting for the peer");
    const burst = new Uint8Array(200 * 1024).map((_, i) => (i * 7) & 0xff);
    conn.feed(burst);
    await settle();
    assert.equal(received.length, burst.length);
    assert.ok(received.every((b, i) => b === burst[i]));
    assert.ok(conn.pinned.some((size) => size === 64 * 1024), "reads while bytes flow use a 64 KiB slab");
    assert.equal(conn.pinned.at(-1), 1024, "the read after the burst, waiting again");
    conn.feed(null);
    await settle();
    assert.ok(ended);
  });

  test("a peer whose messages after each pause are 16 KiB gets one read per message once the read after a pause has grown, and small ones shrink it back", async () => {
    const conn = new StreamConn();
    const transport = _denoTransport(conn as unknown as _DenoConn);
    let received = 0;
    transport.start(transportSink((chunk) => void (received += chunk.length), () => {}));
    await settle();
    const message = new Uint8Array(16 * 1024 + 8).fill(0x61);
    const readsFor = async (bytes: Uint8Array) => {
      const before = conn.pinned.length;
      conn.feed(bytes);
      await settle();
      return conn.pinned.length - before; // reads that returned bytes (each ends with a new read)
    };
    const reads: number[] = [];
    for (let i = 0; i < 8; i++) reads.push(await readsFor(message));
    assert.equal(received, 8 * message.length);
    assert.ok(reads.slice(0, 2).every((n) => n >= 2), `the first messages take two reads or more: ${reads}`);
    assert.deepEqual(reads.slice(-3), [1, 1, 1], `then one read each: ${reads}`);
    assert.equal(conn.pinned.at(-1), 64 * 1024, "the read after a pause has grown to 64 KiB");
    for (let i = 0; i < 8; i++) await readsFor(new Uint8Array(100));
    assert.equal(conn.pinned.at(-1), 1024, "small messages bring it back to 1 KiB");
  });
});

// A connection whose writes wait until `finish()`, recording each write's bytes.
class HeldWrites {
  readonly remoteAddr = { hostname: "127.0.0.1" };
  readonly writes: number[][] = [];
  #finish: (() => void)[] = [];
  read(): Promise<number | null> {
    return new Promise(() => {});
  }
  write(bytes: Uint8Array): Promise<number> {
    this.writes.push([...bytes]);
    return new Promise((resolve) => this.#finish.push(() => resolve(bytes.length)));
  }
  finish(): void {
    for (const f of this.#finish.splice(0)) f();
  }
  closeWrite(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
}

describe("_denoTransport topic runs", () => {
  test("a piece held while a write is out goes in the next write, cut where something else was written after it", async () => {
    const conn = new HeldWrites();
    const transport = _denoTransport(conn as unknown as _DenoConn);
    transport.start(transportSink(() => {}, () => {}));
    const run = new _FrameRun();
    transport.write([Uint8Array.of(1)]);
    await settle(); // out in the turn's check phase, and not finished
    assert.deepEqual(conn.writes, [[1]]);
    run.append(Uint8Array.of(10));
    transport.holdRun!(new _RunPiece(run, {}, 0));
    run.append(Uint8Array.of(11)); // a later publish in the turn
    assert.equal(transport.buffered(), 3, "the written byte and the piece so far");
    transport.write([Uint8Array.of(2)]); // the server's own write: cuts the piece
    assert.equal(run.detached.length, 1);
    run.append(Uint8Array.of(12)); // not for this holder's piece any more
    conn.finish();
    await settle();
    assert.deepEqual(conn.writes, [[1], [10, 11, 2]]);
    assert.equal(run.sealed, true);
    conn.finish();
    await settle();
    assert.equal(transport.buffered(), 0);
  });

  test("a turn's writes wait for its check phase and go out as one write, in order", async () => {
    const conn = new HeldWrites();
    const transport = _denoTransport(conn as unknown as _DenoConn);
    transport.start(transportSink(() => {}, () => {}));
    transport.write([Uint8Array.of(1)]);
    await Promise.resolve();
    transport.write([Uint8Array.of(2), Uint8Array.of(3)]); // a microtask later: still this turn
    assert.deepEqual(conn.writes, [], "nothing written before the check phase");
    assert.equal(transport.buffered(), 3, "held bytes count in the backlog");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(conn.writes, [[1, 2, 3]]);
    conn.finish();
    await settle();
    assert.equal(transport.buffered(), 0);
  });

  test("a piece held with no write out goes in a later task, with what the turn appended", async () => {
    const conn = new HeldWrites();
    const transport = _denoTransport(conn as unknown as _DenoConn);
    transport.start(transportSink(() => {}, () => {}));
    const run = new _FrameRun();
    run.append(Uint8Array.of(10));
    transport.holdRun!(new _RunPiece(run, {}, 0));
    run.append(Uint8Array.of(11));
    await Promise.resolve();
    run.append(Uint8Array.of(12)); // a microtask later: still this turn
    assert.deepEqual(conn.writes, []);
    await settle();
    assert.deepEqual(conn.writes, [[10, 11, 12]]);
    conn.finish();
  });
});
