// What a connection offers the topics hub (src/topics/): the internal hook each kind of
// connection implements, so the hub reaches every server path without knowing any of them.
import type { DeflateEngines } from "../core/deflate.ts";
import type { _RunPiece } from "./frame_run.ts";

/**
 * @internal A runtime's own publish/subscribe that keeps the hub's guarantees (Bun.serve's
 * `server.publish`): the connections of one server share a group, which the hub publishes to
 * once, not once per connection.
 */
export interface _NativeGroup {
  /** Sends to every connection of the group subscribed to `topic`, each once. */
  publish(topic: string, data: string | Uint8Array): void;
}

/** @internal One connection's membership of its {@linkcode _NativeGroup}. */
export interface _NativeTopics {
  readonly group: _NativeGroup;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
}

/** @internal How a connection's own compression lets a publish share one compressed frame. */
export interface _SharedDeflate {
  engines: DeflateEngines;
  /** The compression window the peer accepts from us, in bits. */
  windowBits: number;
  /** Messages shorter than this go uncompressed. */
  threshold: number;
}

/** @internal What the topics hub needs of one connection. */
export interface _TopicSink {
  /**
   * `"frames"`: the connection runs wsflow's codec, so it takes frames encoded once for all
   * (`_sendFrame`) unless its compression keeps a context (`_deflate() === "own"`).
   * `"messages"`: a runtime frames each message itself (`_sendMessage`).
   */
  readonly _topicMode: "frames" | "messages";
  /** Bytes written to the connection that the peer has not taken yet. */
  _backlog(): number;
  /** Writes one whole, unmasked frame; false when the connection no longer sends. */
  _sendFrame(frame: Uint8Array): boolean;
  /**
   * Holds a piece of a topic's run of frames (whose holder is this sink), written when the
   * transport uncorks; false when it cannot (the transport has no runs, something is queued
   * before it, or the connection no longer sends): then each frame goes by `_sendFrame`.
   */
  _sendRun?(piece: _RunPiece): boolean;
  /** The connection's compression: none, shareable, or its own context for each message. */
  _deflate(): undefined | _SharedDeflate | "own";
  /** Sends one message with the connection's own framing (and compression); false when it no longer sends. */
  _sendMessage(data: string | Uint8Array): boolean;
  /** Starts the closing handshake now, ahead of anything queued: a subscriber past its backlog limit. */
  _closeNow(code: number, reason: string): void;
  /** The runtime's own publish/subscribe, when it has one the hub can use. */
  _native?(): _NativeTopics | undefined;
  /** Settles when the connection has closed. */
  readonly closed: Promise<unknown>;
  /** Whether the connection has closed (a subscription would never be left). */
  _ended(): boolean;
}
