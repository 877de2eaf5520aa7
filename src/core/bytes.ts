// Byte helpers shared by the core, the streams and the adapters.

const EMPTY = new Uint8Array(0);

/** @internal The total length of byte arrays. */
export function _byteLength(chunks: Uint8Array[]): number {
  let total = 0;
  for (const chunk of chunks) total += chunk.byteLength;
  return total;
}

/** @internal Copies byte arrays one after the other into the start of `out` (which must fit them); returns `out`. */
export function _copyInto(chunks: Uint8Array[], out: Uint8Array): Uint8Array {
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * @internal `bytes` as a plain `Uint8Array` over the same memory (no copy): a subclass (Node's
 * `Buffer`) is wrapped once, so the views cut from it are plain arrays too. A subclass's views
 * are made through its constructor (on Node 20 and 24, decoding 16 B to 1 KiB messages from
 * `Buffer` reads ran 7% to 20% slower), carry its methods to the caller, and its `slice()` may
 * not copy (`Buffer`'s does not).
 */
export function _plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** @internal Joins byte arrays into one; a single array is returned as is. */
export function _concat(chunks: Uint8Array[], size?: number): Uint8Array {
  if (chunks.length === 0) return EMPTY;
  if (chunks.length === 1) return chunks[0];
  return _copyInto(chunks, new Uint8Array(size ?? _byteLength(chunks)));
}

/** @internal Reads a byte stream to its end and joins it (for paths that cannot send fragments). */
export async function _readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
  return _concat(chunks);
}
