import type { Frame } from "../core/frame.ts";
import { MessageEncoder, type MessageEncoderOptions } from "../core/message_encoder.ts";
import type { BufferSourceLike } from "../core/web_types.ts";

/**
 * A TransformStream from messages to data frames (RFC 6455 section 5.4): a thin shell over
 * {@linkcode MessageEncoder}. A `string` becomes a text message, a `BufferSource` a binary one,
 * split into fragments of at most `fragmentSize` bytes.
 *
 * @example Messages to bytes, as a client
 * ```ts
 * import { FrameEncoderStream, MessageEncoderStream } from "@wsflow/wsflow";
 *
 * const bytes = ReadableStream.from(["Hello", new Uint8Array([1, 2, 3])])
 *   .pipeThrough(new MessageEncoderStream({ fragmentSize: 4096 }))
 *   .pipeThrough(new FrameEncoderStream({ role: "client" }));
 * for await (const chunk of bytes) console.log(chunk.length); // 11, then 9
 * ```
 */
export class MessageEncoderStream extends TransformStream<string | BufferSourceLike, Frame> {
  /**
   * Creates the stream.
   *
   * @param options The fragment size.
   */
  constructor(options: MessageEncoderOptions = {}) {
    const encoder = new MessageEncoder(options);
    super({
      transform(message, controller) {
        for (const frame of encoder.encode(message)) controller.enqueue(frame);
      },
    });
  }
}
