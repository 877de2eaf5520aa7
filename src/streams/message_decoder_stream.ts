import type { Frame, FramePart } from "../core/frame.ts";
import { MessageDecoder, type MessageDecoderOptions } from "../core/message_decoder.ts";
import { ProtocolError } from "../core/protocol_error.ts";

/** Options for {@linkcode MessageDecoderStream}. */
export interface MessageDecoderStreamOptions extends MessageDecoderOptions {
  /**
   * Called with each control frame (close, ping, pong), which may arrive between the fragments
   * of a message. Without it control frames are dropped: this stream answers no ping and echoes
   * no close; a connection (WebSocketStream) does that.
   */
  onControlFrame?: (frame: Frame) => void;
}

/**
 * A TransformStream from frames to messages (RFC 6455 section 5.4): a thin shell over
 * {@linkcode MessageDecoder}. One output chunk is one message: a `string` for text, a
 * `Uint8Array` for binary. It takes whole frames or the parts a partial
 * {@linkcode FrameDecoderStream} hands out. A violation errors the stream with a
 * {@linkcode ProtocolError}, as does input that ends inside a message (with 1006).
 *
 * @example Bytes to messages
 * ```ts
 * import { FrameDecoderStream, MessageDecoderStream } from "@wsflow/wsflow";
 *
 * const bytes = ReadableStream.from([new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f])]);
 * const messages = bytes
 *   .pipeThrough(new FrameDecoderStream({ role: "client" }))
 *   .pipeThrough(new MessageDecoderStream());
 * for await (const message of messages) console.log(message); // "Hello"
 * ```
 */
export class MessageDecoderStream extends TransformStream<Frame | FramePart, string | Uint8Array> {
  /**
   * Creates the stream.
   *
   * @param options The limits and a callback for control frames.
   */
  constructor(options: MessageDecoderStreamOptions = {}) {
    const decoder = new MessageDecoder(options);
    const onControlFrame = options.onControlFrame;
    super({
      transform(frame, controller) {
        if (frame.opcode >= 0x8) {
          onControlFrame?.(frame);
          return;
        }
        const part = "length" in frame ? frame : { ...frame, offset: 0, length: frame.payload.length };
        const message = decoder.push(part);
        if (message instanceof ProtocolError) return controller.error(message);
        if (message !== undefined) controller.enqueue(message);
      },
      flush(controller) {
        if (decoder.inMessage) {
          controller.error(new ProtocolError("Cannot decode message: the frame stream ended inside a message", 1006));
        }
      },
    });
  }
}
