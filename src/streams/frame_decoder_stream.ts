import type { FramePart } from "../core/frame.ts";
import { FrameDecoder, type FrameDecoderOptions } from "../core/frame_decoder.ts";
import { ProtocolError } from "../core/protocol_error.ts";

/** Options for {@linkcode FrameDecoderStream}. */
export interface FrameDecoderStreamOptions extends FrameDecoderOptions {
  /**
   * Hand out data frames in parts as their bytes arrive ({@linkcode FramePart}), instead of
   * gathering each frame whole. @default {false}
   */
  partial?: boolean;
}

/**
 * A TransformStream from bytes to WebSocket frames (RFC 6455 section 5.2): a thin shell over
 * {@linkcode FrameDecoder}. A protocol violation errors the stream with a
 * {@linkcode ProtocolError} that carries the close code; so does input that ends inside a frame
 * (with 1006).
 *
 * @example Decode frames from a byte stream
 * ```ts
 * import { FrameDecoderStream } from "@wsflow/wsflow";
 *
 * const bytes = ReadableStream.from([new Uint8Array([0x81, 0x02, 0x68]), new Uint8Array([0x69, 0x89, 0x00])]);
 * for await (const frame of bytes.pipeThrough(new FrameDecoderStream({ role: "client" }))) {
 *   console.log(frame.opcode, frame.payload); // 1 Uint8Array [104, 105], then 9 Uint8Array []
 * }
 * ```
 */
export class FrameDecoderStream extends TransformStream<Uint8Array, FramePart> {
  /**
   * Creates the stream.
   *
   * @param options The role, limits, negotiated RSV bits, and whether to hand out parts.
   */
  constructor(options: FrameDecoderStreamOptions) {
    const decoder = new FrameDecoder(options);
    const partial = options.partial ?? false;
    let gathered: Uint8Array | undefined;
    super({
      transform(chunk, controller) {
        decoder.push(chunk);
        for (let part = decoder.next(); part !== undefined; part = decoder.next()) {
          if (part instanceof ProtocolError) return controller.error(part);
          if (partial || (part.offset === 0 && part.payload.length === part.length)) {
            controller.enqueue(part);
            continue;
          }
          gathered ??= new Uint8Array(part.length);
          gathered.set(part.payload, part.offset);
          if (part.offset + part.payload.length === part.length) {
            controller.enqueue({ ...part, payload: gathered, offset: 0 });
            gathered = undefined;
          }
        }
      },
      flush(controller) {
        if (decoder.inFrame) {
          controller.error(new ProtocolError("Cannot decode frame: the byte stream ended inside a frame", 1006));
        }
      },
    });
  }
}
