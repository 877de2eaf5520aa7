/**
 * A WebSocket frame (RFC 6455 section 5.2) as the encoder takes it and the decoder streams
 * produce it: header bits plus the (unmasked) payload.
 */
export interface Frame {
  /** FIN: this frame ends its message. */
  fin: boolean;
  /** RSV1: set by an extension (permessage-deflate marks a compressed message with it). */
  rsv1: boolean;
  /** RSV2: reserved for extensions. */
  rsv2: boolean;
  /** RSV3: reserved for extensions. */
  rsv3: boolean;
  /** The opcode, one of {@linkcode Opcode}. */
  opcode: number;
  /** The payload, unmasked. */
  payload: Uint8Array;
}

/**
 * A piece of a frame, as {@linkcode FrameDecoder} hands it out: a data frame's payload is
 * delivered as it arrives, so one frame may come as several parts with the same header fields.
 * The frame is complete when `offset + payload.length === length`.
 */
export interface FramePart extends Frame {
  /** Where `payload` starts within the frame's payload. */
  offset: number;
  /** The length of the frame's whole payload. */
  length: number;
}

/** What {@linkcode FrameEncoder.encode} takes: a frame whose flags default to a final frame. */
export interface FrameInit {
  /** The opcode, one of {@linkcode Opcode}. */
  opcode: number;
  /** The payload; it is never modified. */
  payload: Uint8Array;
  /** FIN. @default {true} */
  fin?: boolean;
  /** RSV1 (compressed, under permessage-deflate). @default {false} */
  rsv1?: boolean;
}
