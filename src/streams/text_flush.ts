// A flush whose long text messages are strings (see _Transport.textLength), for the transports
// that join a flush into one buffer (Deno's and Bun's): a string is encoded straight into the
// join buffer, with no array of its own, or into a fresh array where a write keeps its chunks.
const encoder = new TextEncoder();

/**
 * @internal `node:buffer`'s `Buffer.byteLength`, where the runtime has it (found through
 * `process.getBuiltinModule`, which is no import): a string's UTF-8 length without encoding it,
 * a tenth or less of the time encoding 16 KiB takes on Deno and Bun. `undefined` elsewhere: the
 * transport then takes no strings.
 */
export const _utf8Length: ((text: string) => number) | undefined = (globalThis as {
  process?: { getBuiltinModule?: (id: string) => { Buffer?: { byteLength?: (text: string) => number } } | undefined };
}).process?.getBuiltinModule?.("node:buffer")?.Buffer?.byteLength;

/**
 * @internal The fewest code units of a text message these transports take as a string: any the
 * Session does not encode through its short-text scratch. Encoding 1 KiB with `TextEncoder.encode`
 * (a fresh array) took 2.6 us on Deno against 0.03 us for byteLength and 0.09 us for encodeInto.
 */
export const _TEXT_FROM = 256;

/** @internal Whether a flush holds a string. */
export function _hasText(chunks: (Uint8Array | string)[]): boolean {
  for (const chunk of chunks) if (typeof chunk === "string") return true;
  return false;
}

/** @internal The bytes a flush writes: its arrays' lengths, and each string's UTF-8 length. */
export function _flushLength(chunks: (Uint8Array | string)[], utf8Length: (text: string) => number): number {
  let total = 0;
  for (const chunk of chunks) total += typeof chunk === "string" ? utf8Length(chunk) : chunk.byteLength;
  return total;
}

/**
 * @internal Writes a flush into the start of `out` (which must hold `_flushLength` bytes), each
 * string as its UTF-8; returns `out`.
 */
export function _writeFlush(chunks: (Uint8Array | string)[], out: Uint8Array): Uint8Array {
  let at = 0;
  for (const chunk of chunks) {
    if (typeof chunk === "string") {
      at += encoder.encodeInto(chunk, at === 0 ? out : out.subarray(at)).written;
    } else {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
  }
  return out;
}

/** @internal A flush as byte arrays, each string encoded into one of its own (for a write that keeps its chunks). */
export function _flushBytes(chunks: (Uint8Array | string)[]): Uint8Array[] {
  return chunks.map((chunk) => typeof chunk === "string" ? encoder.encode(chunk) : chunk);
}
