import { _unsendableCode, isValidCloseCode } from "./close_code.ts";
import { ProtocolError } from "./protocol_error.ts";

/** A close frame's content (RFC 6455 section 5.5.1). */
export interface CloseInfo {
  /** The close code; 1005 when the frame had no body. */
  code: number;
  /** The UTF-8 reason, or the empty string. */
  reason: string;
}

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/**
 * Parses the payload of a close frame the peer sent (RFC 6455 sections 5.5.1 and 7.4).
 *
 * An empty body means 1005 (no status received). A 1-byte body or a code a peer may not send
 * fails with 1002; a reason that is not UTF-8 fails with 1007. Failures are returned, not thrown.
 *
 * @example
 * ```ts
 * import { parseClosePayload } from "@wsflow/wsflow";
 *
 * console.log(parseClosePayload(new Uint8Array([0x03, 0xe8, 0x6f, 0x6b]))); // { code: 1000, reason: "ok" }
 * ```
 */
export function parseClosePayload(payload: Uint8Array): CloseInfo | ProtocolError {
  if (payload.length === 0) return { code: 1005, reason: "" };
  if (payload.length === 1) {
    return new ProtocolError("Cannot decode close frame: a 1-byte body has no room for a code", 1002);
  }
  const code = (payload[0] << 8) | payload[1];
  if (!isValidCloseCode(code)) {
    return new ProtocolError(`Cannot decode close frame: close code ${code} is not allowed`, 1002);
  }
  let reason = "";
  if (payload.length > 2) {
    try {
      reason = strictDecoder.decode(payload.subarray(2));
    } catch {
      return new ProtocolError("Cannot decode close frame: the reason is not valid UTF-8", 1007);
    }
  }
  return { code, reason };
}

/**
 * Builds the payload of a close frame we send. With no code the body is empty.
 *
 * @param code A code a peer may receive: 1000-1003, 1007-1014 or 3000-4999.
 * @param reason At most 123 bytes of UTF-8 (a control frame carries at most 125 bytes).
 * @throws {RangeError} When the code may not be sent, or the reason is too long.
 * @throws {TypeError} When a reason is given without a code.
 *
 * @example
 * ```ts
 * import { encodeClosePayload } from "@wsflow/wsflow";
 *
 * console.log(encodeClosePayload(1000, "ok")); // Uint8Array(4) [ 3, 232, 111, 107 ]
 * ```
 */
export function encodeClosePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) {
    if (reason !== "") {
      throw new TypeError("Cannot encode close frame: a reason needs a close code, pass one such as 1000");
    }
    return new Uint8Array(0);
  }
  const unsendable = _unsendableCode(code);
  if (unsendable) throw new RangeError(`Cannot encode close frame: ${unsendable}`);
  const text = encoder.encode(reason);
  if (text.length > 123) {
    throw new RangeError(
      `Cannot encode close frame: the reason is ${text.length} bytes of UTF-8, at most 123 fit`,
    );
  }
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return payload;
}
