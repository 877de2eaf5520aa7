// Test glue: a node:net socket as a ByteDuplex (the Node adapter's), and an in-memory duplex pair.
import type { ByteDuplex } from "../src/streams/types.ts";

export { socketDuplex } from "../src/adapters/node/duplex.ts";

/** Two duplexes joined back to back in memory, each direction buffering `highWaterMark` chunks. */
export function duplexPair(highWaterMark = 4): [ByteDuplex, ByteDuplex] {
  const ab = new TransformStream<Uint8Array, Uint8Array>({}, { highWaterMark }, { highWaterMark });
  const ba = new TransformStream<Uint8Array, Uint8Array>({}, { highWaterMark }, { highWaterMark });
  return [{ readable: ba.readable, writable: ab.writable }, { readable: ab.readable, writable: ba.writable }];
}
