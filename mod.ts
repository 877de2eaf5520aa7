/**
 * wsflow: WebSocket (RFC 6455, with permessage-deflate from RFC 7692) on WHATWG Web Streams, for
 * Deno, Bun, Node and edge runtimes.
 *
 * This entry point is runtime-free: the protocol core (synchronous classes, no I/O) and the
 * codec streams built on it.
 *
 * @example Bytes in, messages out
 * ```ts
 * import { FrameDecoderStream, MessageDecoderStream } from "@wsflow/wsflow";
 *
 * const bytes = ReadableStream.from([new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])]);
 * const messages = bytes
 *   .pipeThrough(new FrameDecoderStream({ role: "client" }))
 *   .pipeThrough(new MessageDecoderStream());
 * for await (const message of messages) console.log(message); // "Hello"
 * ```
 *
 * @module
 */

export { CloseCode, isValidCloseCode } from "./src/core/close_code.ts";
export { type CloseInfo, encodeClosePayload, parseClosePayload } from "./src/core/close_payload.ts";
export type { Frame, FrameInit, FramePart } from "./src/core/frame.ts";
export { FrameDecoder, type FrameDecoderOptions } from "./src/core/frame_decoder.ts";
export { FrameEncoder, type FrameEncoderOptions } from "./src/core/frame_encoder.ts";
export { DEFAULT_MAX_FRAGMENTS, DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE } from "./src/core/limits.ts";
export { applyMask } from "./src/core/mask.ts";
export { MessageDecoder, type MessageDecoderOptions } from "./src/core/message_decoder.ts";
export { MessageEncoder, type MessageEncoderOptions, toBytes } from "./src/core/message_encoder.ts";
export { isControlOpcode, Opcode } from "./src/core/opcode.ts";
export { ProtocolError } from "./src/core/protocol_error.ts";
export { type RefusedResponse, type WebSocketCloseInfo, WebSocketError } from "./src/core/websocket_error.ts";
export { FrameDecoderStream, type FrameDecoderStreamOptions } from "./src/streams/frame_decoder_stream.ts";
export { FrameEncoderStream } from "./src/streams/frame_encoder_stream.ts";
export { MessageDecoderStream, type MessageDecoderStreamOptions } from "./src/streams/message_decoder_stream.ts";
export { MessageEncoderStream } from "./src/streams/message_encoder_stream.ts";
export {
  acceptUpgrade,
  type AcceptOptions,
  checkServerResponse,
  type ClientHandshake,
  type ClientHandshakeOptions,
  computeAcceptKey,
  createClientHandshake,
  type HandshakeResult,
  rejectUpgrade,
  type RejectOptions,
  type ServerResponseOptions,
  type UpgradeAccepted,
  type UpgradeDecision,
  type UpgradeRejected,
} from "./src/core/handshake.ts";
export {
  checkRequestHead,
  HttpHeadError,
  type HttpHeadMode,
  HttpHeadParser,
  type HttpHeadParserOptions,
  type HttpHeadResult,
  type HttpRequestHead,
  type HttpRequestHeadInit,
  type HttpResponseHead,
  type HttpResponseHeadInit,
  requestFromHead,
  type RequestFromHeadOptions,
  serializeRequestHead,
  serializeResponse,
  serializeResponseHead,
} from "./src/core/http_head.ts";
export { type MessagePart } from "./src/core/message_decoder.ts";
export { Session } from "./src/core/session.ts";
export type { HeartbeatOptions, SessionEvent, SessionOptions, SessionState } from "./src/core/session_types.ts";
export type { ByteDuplex, OutgoingMessage, WebSocketMessage, WebSocketSendable } from "./src/streams/types.ts";
export type { BufferSourceLike, HeadersLike } from "./src/core/web_types.ts";
export { readUpgradeRequest, type ReadUpgradeOptions, type UpgradeRequest } from "./src/streams/upgrade.ts";
export {
  type ConnectionOptions,
  WebSocketStream,
  type WebSocketStreamCloseInfo,
  type WebSocketStreamOpenInfo,
  type WebSocketStreamOptions,
} from "./src/streams/websocket_stream.ts";
export { type UpgradeOptions, type UpgradeResult, upgradeWebSocket } from "./src/streams/upgrade_web_socket.ts";
export {
  type CompressedMessage,
  type DeflateEngine,
  type DeflateEngines,
  type InflateEngine,
  DeflateContextPool,
  PerMessageDeflate,
  type PerMessageDeflateInit,
} from "./src/core/deflate.ts";
export {
  acceptPerMessageDeflate,
  checkPerMessageDeflate,
  type DeflateParams,
  type Extension,
  formatExtensions,
  offerPerMessageDeflate,
  parseExtensions,
  type PerMessageDeflateOptions,
} from "./src/core/extensions.ts";
export type { SendOptions } from "./src/core/session_types.ts";
export type { CompressionOptions } from "./src/streams/compression.ts";
export { Topics, type TopicsOptions } from "./src/topics/topics.ts";
export { type Backplane, InProcessBackplane } from "./src/topics/backplane.ts";
