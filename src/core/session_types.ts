import type { FrameDecoderOptions } from "./frame_decoder.ts";
import type { FrameEncoderOptions } from "./frame_encoder.ts";
import type { MessageDecoderOptions } from "./message_decoder.ts";
import type { PerMessageDeflate } from "./deflate.ts";
import type { ProtocolError } from "./protocol_error.ts";

/**
 * A connection's state (RFC 6455 section 7): the closing states are named by who started the
 * closing handshake.
 */
export type SessionState = "connecting" | "open" | "closingLocal" | "closingRemote" | "closed";

/** Heartbeat timing: a ping after `interval` ms without traffic, a failure after `timeout` more. */
export interface HeartbeatOptions {
  /** Milliseconds without any traffic from the peer before a ping is sent. @default {30000} */
  interval?: number;
  /** Milliseconds to wait for a pong (or any traffic) before the connection fails. @default {30000} */
  timeout?: number;
}

/** Options for {@linkcode Session}. */
export interface SessionOptions extends FrameDecoderOptions, FrameEncoderOptions, MessageDecoderOptions {
  /** The clock reading when the connection started (the handshake began), in milliseconds. */
  now: number;
  /** Answer each ping with a pong carrying the same payload (section 5.5.2). @default {true} */
  autoPong?: boolean;
  /**
   * Report each ping received as a `ping` event. `false` suits a caller that lets `autoPong`
   * answer and has no use for them: a peer that floods pings then costs no event per ping, held
   * until the caller takes its events. @default {true}
   */
  pingEvents?: boolean;
  /** Echo the peer's close frame at once (section 5.5.1); otherwise `close()` answers it. @default {true} */
  autoCloseReply?: boolean;
  /** Ping an idle peer and fail the connection when it stays silent; `false` turns it off. @default {{ interval: 30000, timeout: 30000 }} */
  heartbeat?: HeartbeatOptions | false;
  /** Milliseconds to wait for the peer's close frame, and for a server to close TCP, before closing anyway. @default {10000} */
  closeTimeout?: number;
  /** Milliseconds the opening handshake may take. @default {10000} */
  handshakeTimeout?: number;
  /** The largest frame payload to send; longer messages go out as fragments. @default {Infinity} */
  fragmentSize?: number;
  /** Hand out received messages piece by piece (`piece` events) instead of whole. @default {false} */
  streamMessages?: boolean;
  /** permessage-deflate as negotiated in the handshake (RFC 7692); RSV1 is then allowed. */
  deflate?: PerMessageDeflate;
  /**
   * Hold a peer's protocol violation at its place in the stream instead of failing the
   * connection at once: nothing after it is read, `pendingFailure` reports it, and the caller
   * calls `failPending(now)` once the messages before it are handled, so what the application
   * wrote in reply goes out before the close frame (section 7.1.7). @default {false}
   */
  deferFailure?: boolean;
  /**
   * Asked as each text message arrives whole in one uncompressed frame: a UTF-8 check (such as
   * `isUtf8` of `node:buffer`) has the message checked with it instead of decoded, and reported
   * as its bytes (`{ type: "message", data, text: true }`) for a caller that sends them on with
   * `send(data, { text: true })` and has no use for the string; `undefined` decodes it as usual.
   */
  textBytes?: () => ((bytes: Uint8Array) => boolean) | undefined;
  /**
   * @internal For a transport that writes a string as UTF-8 itself (Deno's and Bun's): the UTF-8
   * length of a string (such as `Buffer.byteLength`). Given it, a server's uncompressed text
   * message of at least `_textFrom` code units goes out as its frame's header followed by the
   * string itself, which `takeOutput()` then holds: no array is made for its bytes.
   */
  _textLength?: (text: string) => number;
  /** @internal The fewest code units of a text sent as a string (see `_textLength`). @default {4096} */
  _textFrom?: number;
}

/** Options for one message sent with {@linkcode Session.send}. */
export interface SendOptions {
  /** With permessage-deflate negotiated, `false` sends this message uncompressed. @default {true} */
  compress?: boolean;
  /** Sends a `Uint8Array` as a text message: its bytes must be UTF-8 (they are not checked). @default {false} */
  text?: boolean;
  /**
   * The current time, on the clock of `receive` and `handleTimeout`: with permessage-deflate it
   * dates the message, so idle zlib contexts are freed `releaseIdleAfter` ms after the last one.
   * Without it the session takes the last time it was given, which on a connection that only
   * sends can be long past. @default {the last `now` the session was given}
   */
  now?: number;
}

/** What a {@linkcode Session} reports, in order. */
export type SessionEvent =
  /**
   * A whole message: `string` for text, `Uint8Array` for binary. `view` (for wsflow's own
   * transports): a binary message that is a view into a chunk received with `reused`; copy it if
   * it must outlive the `receive` call's turn. `text`: the `Uint8Array` is a text message's UTF-8
   * bytes, checked (see `textBytes`).
   */
  | { type: "message"; data: string | Uint8Array; view?: true; text?: true }
  /** A piece of a message, with `streamMessages`: fragments as they arrive. */
  | { type: "piece"; binary: boolean; data: Uint8Array; first: boolean; last: boolean }
  /** A ping arrived (already answered unless `autoPong` is off); `data` is a copy of its payload. */
  | { type: "ping"; data: Uint8Array }
  /**
   * A pong arrived; `data` is a copy of its payload, `id` and `rtt` (milliseconds) are set when
   * it answers one of our pings.
   */
  | { type: "pong"; data: Uint8Array; id?: number; rtt?: number }
  /** The closing handshake started, by us (`local`) or by the peer (`remote`). */
  | { type: "closing"; code: number; reason: string; initiator: "local" | "remote" }
  /**
   * The connection is closed. `wasClean` when both close frames were exchanged; `error` when it
   * failed (a protocol violation, a timeout); `code` 1006 when no close frame arrived.
   */
  | { type: "closed"; code: number; reason: string; wasClean: boolean; error?: ProtocolError }
  /** Close the transport, after writing the output taken so far. */
  | { type: "closeTransport" };
