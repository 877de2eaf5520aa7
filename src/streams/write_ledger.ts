// When a message handed to a runtime's WebSocket has really been written. Deno's socket keeps a
// message in `bufferedAmount` from `send()` until its write to the connection succeeds; a write
// that fails stays counted, and one the runtime drops because the connection has closed is
// uncounted only after the socket's `readyState` has left OPEN. So while the socket is open, the
// bytes it no longer counts are bytes it wrote, and a write can wait for exactly that.
import { WebSocketError } from "../core/websocket_error.ts";

/** @internal Runs a callback once the event loop has turned and the runtime's pending writes have had their turn (Deno: `setImmediate`). */
export type _NextTurn = (callback: () => void) => unknown;

/** @internal What a ledger reads of the socket, and its send. */
export interface _LedgerSocket {
  readonly bufferedAmount: number;
  /** 1 while open. */
  readonly readyState: number;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
}

interface Waiter {
  end: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * @internal Counts the bytes given to a socket whose `bufferedAmount` drops only as they are
 * written, and settles a promise per write: resolved once the socket has written everything up
 * to that write's last byte while open, rejected by {@linkcode _WriteLedger.fail} when the
 * connection ends first. One check serves every ledger: on each turn of the event loop while
 * writes are being written, then every `interval` ms once eight turns in a row wrote nothing.
 */
export class _WriteLedger {
  readonly #socket: _LedgerSocket;
  readonly #nextTurn: _NextTurn;
  readonly #interval: number;
  // Bytes the socket was given, as it counts them (a string's UTF-8 form).
  #given = 0;
  #waiting: Waiter[] = [];
  #head = 0;

  constructor(socket: _LedgerSocket, nextTurn: _NextTurn, interval: number) {
    this.#socket = socket;
    this.#nextTurn = nextTurn;
    this.#interval = interval;
  }

  /** Hands the socket one message, and counts what it added. */
  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    const socket = this.#socket;
    const before = socket.bufferedAmount;
    socket.send(data);
    this.#given += socket.bufferedAmount - before;
  }

  /** Resolves once every byte sent so far has been written while the socket was open. */
  written(): Promise<void> {
    return new Promise((resolve, reject) => this.track(resolve, reject));
  }

  /**
   * Calls `resolve` once every byte sent so far has been written while open, else `reject`.
   * `lazily`: no check is started for it; it settles with a later write's or `watch()`'s, and
   * what is written by the time it is tracked settles then.
   */
  track(resolve: () => void, reject: (error: unknown) => void, lazily = false): void {
    if (lazily) this._check();
    this.#waiting.push({ end: this.#given, resolve, reject });
    if (!lazily) this.watch();
  }

  /** Checks on the next turns until every write tracked so far has settled. */
  watch(): void {
    if (this.#head < this.#waiting.length) _watch(this, this.#nextTurn, this.#interval);
  }

  /** Rejects every write still waiting with `error` (the connection ended before they were written). */
  fail(error: unknown): void {
    const waiting = this.#waiting;
    const head = this.#head;
    this.#waiting = [];
    this.#head = 0;
    for (let i = head; i < waiting.length; i++) waiting[i].reject(error);
  }

  /** Resolves the writes now written. Returns `undefined` once none waits, else whether any resolved. */
  _check(): boolean | undefined {
    const waiting = this.#waiting;
    if (this.#head === waiting.length) return undefined;
    // Not open: the count is gone (Deno reads 0), and the close event settles what waits.
    if (this.#socket.readyState !== 1) return false;
    const written = this.#given - this.#socket.bufferedAmount;
    const from = this.#head;
    while (this.#head < waiting.length && waiting[this.#head].end <= written) waiting[this.#head++].resolve();
    if (this.#head === waiting.length) {
      this.#waiting = [];
      this.#head = 0;
      return undefined;
    }
    const moved = this.#head !== from;
    // A pipe that always has a write out never empties the list: drop what is settled.
    if (this.#head >= 64 && this.#head * 2 >= waiting.length) {
      this.#waiting = waiting.slice(this.#head);
      this.#head = 0;
    }
    return moved;
  }

  /** @internal How many entries the list of waiting writes holds, settled ones included (for tests). */
  _entries(): number {
    return this.#waiting.length;
  }
}

/** @internal The error of a write that the connection's end came before. */
export function _closedBeforeWritten(code: number, reason: string): WebSocketError {
  return WebSocketError._from(`Cannot send: the connection closed (code ${code}) before this message was written`, code, reason);
}

// One check for every ledger with writes waiting: on the next turn, or after a pause.
const watched = new Set<_WriteLedger>();
let armed: "turn" | "pause" | undefined;
let pause: ReturnType<typeof setTimeout> | undefined;
let stillTurns = 0;
let nextTurn: _NextTurn = (callback) => setTimeout(callback, 0);
let slowDelay = 5;

function _watch(ledger: _WriteLedger, turn: _NextTurn, interval: number): void {
  watched.add(ledger);
  nextTurn = turn;
  slowDelay = interval;
  stillTurns = 0;
  if (armed === "turn") return;
  if (armed === "pause") clearTimeout(pause);
  armed = "turn";
  nextTurn(check);
}

// Eight turns in a row with nothing written mean a peer slow to read: look less often.
function check(): void {
  armed = undefined;
  let moved = false;
  for (const ledger of watched) {
    const result = ledger._check();
    if (result === undefined) watched.delete(ledger);
    else if (result) moved = true;
  }
  if (watched.size === 0) return;
  stillTurns = moved ? 0 : stillTurns + 1;
  if (stillTurns < 8) {
    armed = "turn";
    nextTurn(check);
  } else {
    armed = "pause";
    pause = setTimeout(check, slowDelay);
  }
}
