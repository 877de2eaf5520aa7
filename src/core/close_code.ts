/**
 * Close codes of RFC 6455 section 7.4.1 and the IANA registry, as wire values.
 *
 * @example
 * ```ts
 * import { CloseCode } from "@wsflow/wsflow";
 *
 * console.log(CloseCode.MessageTooBig); // 1009
 * ```
 */
export const CloseCode = {
  /** 1000: the purpose of the connection has been fulfilled. */
  NormalClosure: 1000,
  /** 1001: the endpoint is going away (server shutdown, page navigation). */
  GoingAway: 1001,
  /** 1002: the peer broke the protocol. */
  ProtocolError: 1002,
  /** 1003: a data type the endpoint cannot accept. */
  UnsupportedData: 1003,
  /** 1005: no status code was present (never sent on the wire). */
  NoStatusReceived: 1005,
  /** 1006: the connection closed without a close frame (never sent on the wire). */
  AbnormalClosure: 1006,
  /** 1007: message data inconsistent with its type (for example text that is not UTF-8). */
  InvalidFramePayloadData: 1007,
  /** 1008: a message violates the endpoint's policy. */
  PolicyViolation: 1008,
  /** 1009: a message or frame is too big to process. */
  MessageTooBig: 1009,
  /** 1010: the client expected the server to negotiate an extension. */
  MandatoryExtension: 1010,
  /** 1011: the server met an unexpected condition. */
  InternalError: 1011,
  /** 1012: the service is restarting. */
  ServiceRestart: 1012,
  /** 1013: try again later. */
  TryAgainLater: 1013,
  /** 1014: the gateway received an invalid response. */
  BadGateway: 1014,
  /** 1015: the TLS handshake failed (never sent on the wire). */
  TlsHandshake: 1015,
} as const;

/**
 * Whether a peer may send `code` in a close frame (RFC 6455 section 7.4): 1000-1003,
 * 1007-1014 and 3000-4999. 1004, 1005, 1006 and 1015 are reserved or never sent.
 *
 * @example
 * ```ts
 * import { isValidCloseCode } from "@wsflow/wsflow";
 *
 * console.log(isValidCloseCode(1000), isValidCloseCode(1005)); // true false
 * ```
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/**
 * @internal Why an endpoint may not send `code` in a close frame, or undefined when it may.
 * Servers and clients alike may send every code of {@linkcode isValidCloseCode}: the browser's
 * narrower rule (1000 or 3000-4999) is for untrusted page scripts.
 */
export function _unsendableCode(code: number): string | undefined {
  if (Number.isInteger(code) && isValidCloseCode(code)) return undefined;
  return `close code ${code} may not be sent, use 1000-1003, 1007-1014 or 3000-4999`;
}
