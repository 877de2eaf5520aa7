
/** The close information a {@linkcode WebSocketError} carries. */
export interface WebSocketCloseInfo {
  /** The close code, 1000 or 3000-4999 when set by a caller. */
  closeCode?: number;
  /** The close reason, at most 123 bytes of UTF-8. */
  reason?: string;
}

const encoder = new TextEncoder();

/**
 * The error of the WHATWG WebSockets standard: a `DOMException` named `WebSocketError` with
 * `closeCode` and `reason`. `WebSocketStream` rejects `opened` and `closed` with it, and a caller
 * may pass one to `writable.abort()` or `readable.cancel()` to close with a code.
 *
 * @throws {DOMException} `InvalidAccessError` when `closeCode` is not 1000 or 3000-4999.
 * @throws {DOMException} `SyntaxError` when `reason` is longer than 123 bytes of UTF-8.
 *
 * @example
 * ```ts
 * import { WebSocketError } from "@wsflow/wsflow";
 *
 * const error = new WebSocketError("Shutting down", { closeCode: 4000, reason: "bye" });
 * console.log(error.name, error.closeCode, error.reason); // WebSocketError 4000 bye
 * ```
 */
export class WebSocketError extends DOMException {
  #closeCode: number | null;
  #reason: string;

  /**
   * Creates the error, validating the close code and reason as the WHATWG standard does.
   *
   * @param message The error message.
   * @param init The close code and reason. A reason without a code implies 1000.
   */
  constructor(message = "", init: WebSocketCloseInfo = {}) {
    super(message, "WebSocketError");
    const { closeCode, reason = "" } = init;
    if (closeCode !== undefined && closeCode !== 1000 && !(closeCode >= 3000 && closeCode <= 4999)) {
      throw new DOMException(
        `Cannot create WebSocketError: close code ${closeCode} is not 1000 or in 3000-4999`,
        "InvalidAccessError",
      );
    }
    if (encoder.encode(reason).byteLength > 123) {
      throw new DOMException(
        "Cannot create WebSocketError: the reason is longer than 123 bytes of UTF-8",
        "SyntaxError",
      );
    }
    this.#closeCode = closeCode ?? (reason ? 1000 : null);
    this.#reason = reason;
  }

  /**
   * @internal Builds an error with any close code a connection can end with (1006, 1002, 1009...),
   * which the public constructor refuses.
   */
  static _from(message: string, closeCode: number | null, reason: string): WebSocketError {
    const error = new WebSocketError(message);
    error.#closeCode = closeCode;
    error.#reason = reason;
    return error;
  }

  /** The close code of the connection, or null when there is none. */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  /** The close reason, or the empty string. */
  get reason(): string {
    return this.#reason;
  }
}
