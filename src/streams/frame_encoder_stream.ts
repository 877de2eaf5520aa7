import type { FrameInit } from "../core/frame.ts";
import { FrameEncoder, type FrameEncoderOptions } from "../core/frame_encoder.ts";

/**
 * A TransformStream from frames to bytes (RFC 6455 section 5.2): a thin shell over
 * {@linkcode FrameEncoder}. A client's frames are masked.
 *
 * @example Encode a ping as a server
 * ```ts
 * import { FrameEncoderStream, Opcode } from "@wsflow/wsflow";
 *
 * const frames = ReadableStream.from([{ opcode: Opcode.Ping, payload: new Uint8Array([1, 2]) }]);
 * for await (const bytes of frames.pipeThrough(new FrameEncoderStream({ role: "server" }))) {
 *   console.log(bytes); // Uint8Array [0x89, 0x02, 0x01, 0x02]
 * }
 * ```
 */
export class FrameEncoderStream extends TransformStream<FrameInit, Uint8Array> {
  /**
   * Creates the stream.
   *
   * @param options The role and the source of masking keys.
   */
  constructor(options: FrameEncoderOptions) {
    const encoder = new FrameEncoder(options);
    super({
      transform(frame, controller) {
        for (const chunk of encoder.encode(frame)) controller.enqueue(chunk);
      },
    });
  }
}
