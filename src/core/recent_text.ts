// The text message decoded last in this process, with the UTF-8 bytes it came from, so that
// sending the same text again (an echo, a proxy, a pipe between connections) reuses the bytes
// instead of encoding it anew. Valid UTF-8 decodes and encodes back to the same bytes, so any
// string equal to `text` encodes to `bytes`.
//
// The bytes are a view into memory nothing writes again once a message is decoded from it (a
// transport's read chunk, unmasked in place, or a decoder's own buffer), with one exception: an
// inflater may reuse its output buffer for the next message. Every message part the decoder
// takes therefore forgets the entry before anything else, so it never outlives the next inflate.

/** @internal The smallest and largest messages remembered: below, encoding costs next to nothing; above, the bytes held are not worth it. */
const MIN_BYTES = 256;
const MAX_BYTES = 64 * 1024;

let recentText: string | undefined;
let recentBytes: Uint8Array | undefined;

/** @internal Remembers a text message decoded whole from `bytes` (its payload, unmasked). */
export function _rememberText(text: string, bytes: Uint8Array): void {
  if (bytes.length < MIN_BYTES || bytes.length > MAX_BYTES) return;
  recentText = text;
  recentBytes = bytes;
}

/** @internal Forgets the remembered message: its bytes may be written over from now on. */
export function _forgetText(): void {
  recentText = recentBytes = undefined;
}

/** @internal The UTF-8 bytes of `text` if it is the message decoded last, else undefined. */
export function _recallText(text: string): Uint8Array | undefined {
  return recentText !== undefined && text.length === recentText.length && text === recentText ? recentBytes : undefined;
}
