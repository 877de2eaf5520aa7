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
export const _MIN_BYTES = 256;
const MAX_BYTES = 64 * 1024;

let recentText: string | undefined;
let recentBytes: Uint8Array | undefined;
// The message received last in the process, if its payload came whole in one frame of the
// transport's chunk with the frame's own header right before it: the text, or the very
// Uint8Array view handed out as a binary message, and its payload bytes. Sending that message
// back as it is (an echo) can then frame it in place (see _encodeInPlace): the header is written
// over the bytes of the header it came with, which nothing reads again, and the frame goes out
// as one chunk, with no copy of the payload and no second chunk for the header.
let roomFor: string | Uint8Array | undefined;
let roomBytes: Uint8Array | undefined;
let roomLength = 0;
// The one connection that may frame in place when its transport reuses the chunk's memory (any
// connection may otherwise: nothing writes a chunk again once it is read).
let roomOwner: object | undefined;

/** @internal Remembers a text message decoded whole from `bytes` (its payload, unmasked). */
export function _rememberText(text: string, bytes: Uint8Array): void {
  if (bytes.length < _MIN_BYTES || bytes.length > MAX_BYTES) return;
  recentText = text;
  recentBytes = bytes;
}

/** @internal Forgets the remembered message: its bytes may be written over from now on. */
export function _forgetText(): void {
  recentText = recentBytes = undefined;
  roomFor = roomBytes = roomOwner = undefined;
}

/** @internal Forgets the text message decoded last (not the room of an echo framed in place). */
export function _forgetRecentText(): void {
  recentText = recentBytes = undefined;
}

/**
 * @internal Remembers that `message` (a text's string, or a binary message's own view) has its
 * payload `bytes` in a transport's chunk, preceded in that chunk by the header it arrived with.
 * `bytes` is `_MIN_BYTES` long or more: the caller checks the length first, before it asks a view
 * for its buffer (see Session's #noteRoom). `owner`: the only one that may recall it (the chunk's
 * memory is reused once no one may).
 */
export function _rememberRoom(message: string | Uint8Array, bytes: Uint8Array, owner?: object): void {
  roomFor = message;
  roomBytes = bytes;
  roomLength = bytes.length;
  roomOwner = owner;
}

/**
 * @internal Whether an echo may still be framed in place in `buffer`: a transport that reuses
 * its read memory reads into it again only once this is false.
 */
export function _roomIn(buffer: ArrayBufferLike): boolean {
  return roomBytes !== undefined && roomBytes.buffer === buffer;
}

/**
 * @internal The payload bytes of `message` if it is the message received last and its frame's
 * header room precedes them (see _rememberRoom), else undefined. `by`: who frames in place.
 */
export function _recallRoom(message: string | Uint8Array, by: object): Uint8Array | undefined {
  if (roomFor === undefined || message !== roomFor || (roomOwner !== undefined && roomOwner !== by)) return undefined;
  // A binary message's view whose buffer was detached (transferred) since has no bytes left.
  return roomBytes!.length === roomLength ? roomBytes : undefined;
}

/** @internal The UTF-8 bytes of `text` if it is the message decoded last, else undefined. */
export function _recallText(text: string): Uint8Array | undefined {
  return recentText !== undefined && text.length === recentText.length && text === recentText ? recentBytes : undefined;
}
