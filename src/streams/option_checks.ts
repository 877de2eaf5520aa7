// The checks of a connection's options, made where they are read (the WebSocketStream constructor,
// a server's accept), so that misuse throws at once with a message that names the option and what
// is allowed, instead of looping, meaning "no limit" (NaN) or failing later as a 1006.
import type { CompressionOptions } from "./compression.ts";
import { _show } from "../core/shown.ts";
import { _handshakeTimeout } from "./handshake_deadline.ts";

/** @internal The longest delay setTimeout takes; a longer one fires at once (or every millisecond). */
export const _MAX_TIMER = 2 ** 31 - 1;

// ws's names for options wsflow spells otherwise.
const WS_NAMES: Record<string, string> = {
  maxPayload: "maxMessageSize (the largest message accepted, in bytes)",
  perMessageDeflate: "compression (true, false or { threshold, serverMaxWindowBits, ... })",
};

/**
 * @internal Checks the options a client and a server connection share (limits, fragment size,
 * heartbeat, closeTimeout, compression) and refuses ws's option names.
 *
 * @param options The options object (a server's accept options, say).
 * @param where The start of each message, for example `Cannot accept the upgrade`.
 * @throws {TypeError} For options that are not an object, a value of the wrong type, or one of
 *   ws's option names.
 * @throws {RangeError} For a number out of range.
 */
export function _checkConnectionOptions(options: unknown, where: string): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`${where}: options must be an object, got ${_show(options)}`);
  }
  for (const [name, instead] of Object.entries(WS_NAMES)) {
    if (name in options) throw new TypeError(`${where}: ${name} is ws's option; wsflow's is ${instead}`);
  }
  const values = options as Record<string, unknown>;
  for (const name of ["maxMessageSize", "maxFrameSize", "maxFragments", "fragmentSize"]) {
    _count(values[name], { where, name, unit: name === "maxFragments" ? "frames" : "bytes", infinite: true });
  }
  _heartbeat(values.heartbeat, where);
  _time(values.closeTimeout, { where, name: "closeTimeout" });
  _checkCompression(values.compression, where);
}

/**
 * @internal Checks `new WebSocketStream(url, options)`'s options: their shape (not a protocols
 * argument), the shared ones (see {@linkcode _checkConnectionOptions}), `handshakeTimeout`,
 * `maxHeadBytes`, `transport` and `signal`.
 *
 * @returns The options, `{}` for `undefined` or `null` (as WebIDL reads a null dictionary).
 * @throws {TypeError} For options that are not an object or a value of the wrong type.
 * @throws {RangeError} For a number out of range.
 */
export function _checkClientOptions<T extends object>(options: T | null | undefined): T {
  const where = "Cannot create WebSocketStream";
  if (options === undefined || options === null) return {} as T;
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(
      `${where}: options must be an object, got ${_show(options)}; to offer subprotocols pass { protocols: ${JSON.stringify(typeof options === "string" ? [options] : options)} }`,
    );
  }
  _checkConnectionOptions(options, where);
  const values = options as Record<string, unknown>;
  const timeout = values.handshakeTimeout;
  if (timeout !== undefined && typeof timeout !== "number") {
    throw new TypeError(`${where}: handshakeTimeout must be a number of milliseconds, got ${_show(timeout)}`);
  }
  _handshakeTimeout(timeout, where);
  _count(values.maxHeadBytes, { where, name: "maxHeadBytes", unit: "bytes" });
  const transport = values.transport as { readable?: { getReader?: unknown }; writable?: { getWriter?: unknown } } | undefined;
  if (
    transport !== undefined && typeof transport !== "function" &&
    (typeof transport !== "object" || transport === null || typeof transport.readable?.getReader !== "function" || typeof transport.writable?.getWriter !== "function")
  ) {
    throw new TypeError(`${where}: transport must be a { readable, writable } pair of byte streams or a function (url) => that pair, got ${_show(transport)}`);
  }
  const signal = values.signal as { addEventListener?: unknown; removeEventListener?: unknown } | undefined;
  if (
    signal !== undefined &&
    (typeof signal !== "object" || signal === null || typeof signal.addEventListener !== "function" || typeof signal.removeEventListener !== "function")
  ) {
    throw new TypeError(`${where}: signal must be an AbortSignal (such as AbortController's signal or AbortSignal.timeout(ms)), got ${_show(signal)}`);
  }
  return options;
}

/**
 * @internal Checks the `compression` option: `true`, `false`, or an object whose knobs are in
 * range (window bits 8 to 15, threshold and releaseIdleAfter at least 0, concurrencyLimit a
 * positive integer).
 *
 * @throws {TypeError} For another type, or a knob of the wrong type.
 * @throws {RangeError} For a knob out of range.
 */
export function _checkCompression(compression: unknown, where: string): void {
  if (compression === undefined || typeof compression === "boolean") return;
  if (typeof compression !== "object" || compression === null || Array.isArray(compression)) {
    throw new TypeError(`${where}: compression must be true, false or an object of permessage-deflate options, got ${_show(compression)}`);
  }
  const options = compression as Record<keyof CompressionOptions, unknown>;
  for (const name of ["serverMaxWindowBits", "clientMaxWindowBits"] as const) {
    const bits = options[name];
    if (bits === undefined || bits === false) continue;
    if (!(typeof bits === "number" && Number.isInteger(bits) && bits >= 8 && bits <= 15)) {
      throw new RangeError(`${where}: compression.${name} must be an integer from 8 to 15, got ${_show(bits)}`);
    }
  }
  for (const name of ["serverNoContextTakeover", "clientNoContextTakeover"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "boolean") {
      throw new TypeError(`${where}: compression.${name} must be a boolean, got ${_show(options[name])}`);
    }
  }
  const threshold = options.threshold;
  if (threshold !== undefined) {
    if (typeof threshold !== "number") throw new TypeError(`${where}: compression.threshold must be a number of bytes, got ${_show(threshold)}`);
    if (!(threshold >= 0)) throw new RangeError(`${where}: compression.threshold must be a number of bytes from 0 (Infinity sends nothing compressed), got ${threshold}`);
  }
  _time(options.releaseIdleAfter, { where, name: "compression.releaseIdleAfter", infinite: true });
  _count(options.concurrencyLimit, { where, name: "compression.concurrencyLimit", unit: "connections", infinite: true });
  const engines = options.engines as Record<string, unknown> | undefined;
  if (engines !== undefined && (typeof engines !== "object" || engines === null || typeof engines.createDeflate !== "function" || typeof engines.createInflate !== "function")) {
    throw new TypeError(`${where}: compression.engines must be an object with createDeflate and createInflate (DeflateEngines), got ${_show(engines)}`);
  }
}

// What a number option allows, and how its messages start.
interface _Rule {
  where: string;
  name: string;
  // A count's unit: "bytes", "frames".
  unit?: string;
  // A time must be above 0, not only at least 0.
  positive?: boolean;
  // Infinity is allowed (no limit, never).
  infinite?: boolean;
}

// A count (a limit, a size): a positive integer, or Infinity where the rule allows it.
function _count(value: unknown, { where, name, unit, infinite }: _Rule): void {
  if (value === undefined) return;
  const allowed = `a positive integer (${unit})${infinite ? " or Infinity for no limit" : ""}`;
  if (typeof value !== "number") throw new TypeError(`${where}: ${name} must be ${allowed}, got ${_show(value)}`);
  if (!((Number.isSafeInteger(value) && value >= 1) || (infinite && value === Infinity))) {
    throw new RangeError(`${where}: ${name} must be ${allowed}, got ${value}`);
  }
}

// A time in milliseconds: from 0 (above 0 when `positive`) up to the longest a timer waits, or
// Infinity for never where the rule allows it.
function _time(value: unknown, { where, name, positive, infinite }: _Rule): void {
  if (value === undefined) return;
  const allowed = `${positive ? "a positive number of milliseconds up to" : "a number of milliseconds from 0 to"} ${_MAX_TIMER}${infinite ? " (or Infinity for never)" : ""}`;
  if (typeof value !== "number") throw new TypeError(`${where}: ${name} must be ${allowed}, got ${_show(value)}`);
  if (!(((positive ? value > 0 : value >= 0) && value <= _MAX_TIMER) || (infinite && value === Infinity))) {
    throw new RangeError(`${where}: ${name} must be ${allowed}, got ${value}`);
  }
}

// `heartbeat`: false, or { interval, timeout } in milliseconds.
function _heartbeat(heartbeat: unknown, where: string): void {
  if (heartbeat === undefined || heartbeat === false) return;
  if (typeof heartbeat !== "object" || heartbeat === null || Array.isArray(heartbeat)) {
    const hint = typeof heartbeat === "number" ? `; for a ping after ${heartbeat} ms of silence pass { interval: ${heartbeat} }` : "";
    throw new TypeError(`${where}: heartbeat must be false (off) or { interval, timeout } in milliseconds, got ${_show(heartbeat)}${hint}`);
  }
  const { interval, timeout } = heartbeat as { interval?: unknown; timeout?: unknown };
  _time(interval, { where, name: "heartbeat.interval", positive: true, infinite: true });
  _time(timeout, { where, name: "heartbeat.timeout", positive: true, infinite: true });
}
