import { rejectUpgrade } from "../core/handshake.ts";

// The longest delay setTimeout takes; a longer one fires at once.
const MAX_TIMER = 2 ** 31 - 1;

// The default of a server's `handshakeTimeout`, in milliseconds.
const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/**
 * @internal One server connection's opening handshake, from the first byte of its request head
 * to the server's answer (the 101, or the handler's Response): whoever settles it first owns the
 * socket. If nobody has within `handshakeTimeout` ms, `expire` gets a 408 to write (and must
 * close the connection); after that, the upgrade and the handler's Response are refused
 * (`settle()` returns false), so nothing else is ever written as HTTP.
 */
export class _HandshakeDeadline {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #settled = false;

  /**
   * @param timeout Milliseconds, or `Infinity` for no deadline (checked by {@linkcode _handshakeTimeout}).
   * @param expire Writes the 408 it gets and closes the connection.
   */
  constructor(timeout: number, expire: (response: Response) => void) {
    if (timeout > MAX_TIMER) return; // Infinity, or longer than a timer can wait
    this.#timer = setTimeout(() => {
      if (this.settle()) expire(_timedOut(timeout));
    }, timeout);
  }

  /** Whether the handshake was answered (or ended) already. */
  get settled(): boolean {
    return this.#settled;
  }

  /**
   * Settles the handshake (and stops the timer): true the first time, when the caller may write
   * its answer; false once the deadline or another answer came first.
   */
  settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return true;
  }

  /**
   * Settles the handshake for the 101: `undefined` when it may go out, or (the deadline
   * answered first) the 408 to hand the handler as its upgrade's `response`.
   */
  claimUpgrade(): Response | undefined {
    return this.settle() ? undefined : rejectUpgrade(408, "Cannot upgrade: the handshake deadline passed");
  }
}

/**
 * @internal Where the runtime reads the head itself (Deno.serve, Bun.serve): runs the handler's
 * `decide` for an upgrade request under the deadline, and resolves with its answer, or with the
 * 408 if it has not answered within `timeout` (after which its upgrade is refused).
 */
export function _decideWithin<T>(timeout: number, decide: (deadline: _HandshakeDeadline) => Promise<T>): Promise<T | Response> {
  let expire!: (response: Response) => void;
  const expired = new Promise<Response>((resolve) => (expire = resolve));
  const deadline = new _HandshakeDeadline(timeout, expire);
  return Promise.race([decide(deadline).finally(() => deadline.settle()), expired]);
}

/**
 * @internal A server option's `handshakeTimeout`, checked: a positive number of milliseconds,
 * or `Infinity` for none.
 *
 * @throws {RangeError} For anything else, naming `where` (for example `Cannot serve`).
 */
export function _handshakeTimeout(value: number | undefined, where: string): number {
  if (value === undefined) return DEFAULT_HANDSHAKE_TIMEOUT;
  if (typeof value !== "number" || !(value > 0)) {
    throw new RangeError(`${where}: handshakeTimeout must be a positive number of milliseconds (or Infinity for none), got ${String(value)}`);
  }
  return value;
}

// The answer to a handshake that did not complete in time (RFC 9110 section 15.5.9).
function _timedOut(timeout: number): Response {
  return rejectUpgrade(408, `Cannot upgrade: the request head and the upgrade decision took longer than handshakeTimeout (${timeout} ms)`, {
    headers: { Connection: "close" },
  });
}
