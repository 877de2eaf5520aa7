/**
 * A violation of RFC 6455 (or RFC 7692) by the peer, or a limit it crossed.
 *
 * The core never throws this for peer input: decoders return it, and the caller fails the
 * connection with {@linkcode ProtocolError.closeCode} (RFC 6455 section 7.1.7). The message says
 * what was wrong, in the form `Cannot decode frame: opcode 0x3 is reserved`; it is for our logs,
 * not for the peer (an internal failure closes with 1011 and an empty reason).
 *
 * @example Inspecting a failure returned by the decoder
 * ```ts
 * import { FrameDecoder, ProtocolError } from "@wsflow/wsflow";
 *
 * const decoder = new FrameDecoder({ role: "client" });
 * decoder.push(new Uint8Array([0x83, 0x00])); // opcode 0x3 is reserved
 * const result = decoder.next();
 * if (result instanceof ProtocolError) {
 *   console.log(result.closeCode, result.message); // 1002 "Cannot decode frame: opcode 0x3 is reserved"
 * }
 * ```
 */
export class ProtocolError extends Error {
  /** The close code the failure implies: 1002, 1007, 1009 or 1010. */
  readonly closeCode: number;

  /**
   * Creates the failure; the core does, callers rarely need to.
   *
   * @param message What was wrong, as `Cannot X: detail`.
   * @param closeCode The close code to fail the connection with.
   */
  constructor(message: string, closeCode: number) {
    super(message);
    this.name = "ProtocolError";
    this.closeCode = closeCode;
  }
}
