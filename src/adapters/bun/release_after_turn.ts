// Bun hands each socket `data` callback a fresh buffer of its own (up to 512 KiB per read), which
// JavaScriptCore frees only when a collection finds it dead: a peer that sends fast makes the
// process hold many of them at once (in a ping flood, several MiB of peak RSS). A transport reads
// such a chunk as memory it reuses (the Session copies out what it keeps) and gives the memory
// back once the chunk's turn is over, by detaching its ArrayBuffer (`transfer(0)` frees it then).
import { _roomIn } from "../../core/recent_text.ts";
import type { _TransportSink } from "../../streams/transport.ts";

// Chunks of this many bytes or more are read as reused memory and released after their turn.
const RELEASE_BYTES = 64 * 1024;

/** @internal What may still hold a view into a chunk after its turn: a write not out yet. */
export interface _ChunkHolder {
  /** Whether a write waiting here is a view into `buffer` (an echo framed in place). */
  _holds(buffer: ArrayBufferLike): boolean;
}

// The chunks read in earlier turns (or this one), not released yet, and their transports.
let chunks: Uint8Array[] = [];
let holders: _ChunkHolder[] = [];
// How many _receiveReleasing calls are on the stack: a release only runs outside all of them.
let depth = 0;

/**
 * @internal Whether `chunk` may be released after its turn: it is large and the whole of its
 * buffer (so the buffer is the one Bun made for this read, and no one else's).
 */
export function _releasable(chunk: Uint8Array): boolean {
  return chunk.byteLength >= RELEASE_BYTES && chunk.byteOffset === 0 && chunk.buffer.byteLength === chunk.byteLength;
}

/**
 * @internal Hands `chunk` (see `_releasable`) to `sink` as reused memory, and releases it after
 * its turn: at the next such read (each Bun callback is a turn of its own, its microtasks run
 * before the next one), or in a task after this one, whichever comes first. A chunk stays to
 * the collector when a write of `holder` is a view into it or an echo may still be framed in
 * place in it (`_roomIn`).
 */
export function _receiveReleasing(sink: _TransportSink, chunk: Uint8Array, holder: _ChunkHolder): void {
  if (depth === 0) releaseAll(); // what earlier turns read
  depth++;
  try {
    sink._received(chunk, true);
  } finally {
    depth--;
  }
  if (chunks.push(chunk) === 1) setImmediate(releaseAll);
  holders.push(holder);
}

function releaseAll(): void {
  if (chunks.length === 0) return;
  const due = chunks;
  const by = holders;
  chunks = [];
  holders = [];
  for (let i = 0; i < due.length; i++) {
    const buffer = due[i].buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
    if (by[i]._holds(buffer) || _roomIn(buffer) || typeof buffer.transfer !== "function") continue;
    try {
      buffer.transfer(0);
    } catch { /* not detachable: the collector frees it */ }
  }
}
