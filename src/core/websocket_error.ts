import { _unsendableCode } from "./close_code.ts";

/** The close information a {@linkcode WebSocketError} carries. */
export interface WebSocketCloseInfo {
  /** The close code: 1000-1003, 1007-1014 or 3000-4999 when set by a caller. */
  closeCode?: number;
  /** The close reason, at most 123 bytes of UTF-8. */
  reason?: string;
}

/** The status and headers of a server's answer that refused a client's opening handshake. */
export interface RefusedResponse {
  /** The HTTP status, anything but 101. */
  status: number;
  /** The answer's headers. */
  headers: Headers;
}

const encoder = new TextEncoder();

/**
 * The error of the WHATWG WebSockets standard: a `DOMException` named `WebSocketError` with
 * `closeCode` and `reason`. `WebSocketStream` rejects `opened` and `closed` with it, and a caller
 * may pass one to `writable.abort()` or `readable.cancel()` to close with a code.
 *
 * @throws {DOMException} `InvalidAccessError` when `closeCode` is not one an endpoint may send
 * (1000-1003, 1007-1014, 3000-4999; the WHATWG standard allows page scripts only 1000 and
 * 3000-4999, wsflow every code RFC 6455 allows).
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
  #response: RefusedResponse | undefined;

  /**
   * Creates the error, validating the close code (one an endpoint may send) and the reason (at
   * most 123 bytes of UTF-8).
   *
   * @param message The error message.
   * @param init The close code and reason. A reason without a code implies 1000.
   */
  constructor(message = "", init: WebSocketCloseInfo = {}) {
    super(message, "WebSocketError");
    const { closeCode, reason } = _checkCloseInfo(init, "create WebSocketError");
    this.#closeCode = closeCode;
    this.#reason = reason;
  }

  /**
   * @internal Builds an error with any close code a connection can end with, 1005 and 1006 included,
   * which the public constructor refuses.
   */
  static _from(message: string, closeCode: number | null, reason: string): WebSocketError {
    const error = new WebSocketError(message);
    error.#closeCode = closeCode;
    error.#reason = reason;
    return error;
  }

  /**
   * @internal The error of a client whose opening handshake the server answered with `status`
   * instead of 101.
   */
  static _refused(message: string, status: number, headers: Headers): WebSocketError {
    const error = WebSocketError._from(message, 1006, "");
    error.#response = { status, headers };
    return error;
  }

  /**
   * The server's answer when it refused a client's opening handshake (a status other than 101:
   * a 401 with its `WWW-Authenticate`, a 429 with its `Retry-After`, a redirect), as the `ws`
   * package's `unexpected-response` event gives it; undefined for every other error. A browser
   * hides it; wsflow's client has it, since it reads the answer itself.
   *
   * @example
   * ```ts
   * import { WebSocketError, WebSocketStream } from "@wsflow/wsflow";
   * import { serve } from "@wsflow/wsflow/serve";
   *
   * const server = await serve({ port: 0 }, () => new Response("log in first", { status: 401, headers: { "WWW-Authenticate": "Bearer" } }));
   * const client = new WebSocketStream(`ws://127.0.0.1:${server.port}/`);
   * client.closed.catch(() => {});
   * try {
   *   await client.opened;
   * } catch (error) {
   *   const refused = (error as WebSocketError).response;
   *   console.log(refused?.status, refused?.headers.get("www-authenticate")); // 401 Bearer
   * }
   * await server.shutdown();
   * ```
   */
  get response(): RefusedResponse | undefined {
    return this.#response;
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

/**
 * @internal Checks a caller's close code and reason (for `close()` and `new WebSocketError()`),
 * throwing what the WHATWG standard throws; a reason without a code means 1000.
 */
export function _checkCloseInfo(init: WebSocketCloseInfo, action: string): { closeCode: number | null; reason: string } {
  const { closeCode, reason = "" } = init;
  const unsendable = closeCode === undefined ? undefined : _unsendableCode(closeCode);
  if (unsendable) throw new DOMException(`Cannot ${action}: ${unsendable}`, "InvalidAccessError");
  if (encoder.encode(reason).byteLength > 123) {
    throw new DOMException(`Cannot ${action}: the reason is longer than 123 bytes of UTF-8`, "SyntaxError");
  }
  return { closeCode: closeCode ?? (reason ? 1000 : null), reason };
}
