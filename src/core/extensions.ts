// Sec-WebSocket-Extensions (RFC 6455 section 9.1) and permessage-deflate negotiation (RFC 7692
// sections 5 and 7.1).

/** One extension in a `Sec-WebSocket-Extensions` header: its name and its parameters in order. */
export interface Extension {
  /** The extension token, lower-cased. */
  name: string;
  /** The parameters as sent (names lower-cased, quoted values unquoted), duplicates kept. */
  params: [name: string, value: string | true][];
}

/**
 * The permessage-deflate parameters both ends agreed on (RFC 7692 section 7.1). Window bits are
 * the base-2 logarithm of the LZ77 window, 8 to 15.
 */
export interface DeflateParams {
  /** The server starts every message with a fresh compression context. */
  serverNoContextTakeover: boolean;
  /** The client starts every message with a fresh compression context. */
  clientNoContextTakeover: boolean;
  /** The largest window the server compresses with. */
  serverMaxWindowBits: number;
  /** The largest window the client compresses with. */
  clientMaxWindowBits: number;
}

/**
 * What one end wants from permessage-deflate, in the spirit of `ws`'s `perMessageDeflate`. A
 * boolean `true` requires or asks for a parameter, `false` refuses it, leaving it out accepts
 * whatever the peer asks. Window bits are 8 to 15.
 */
export interface PerMessageDeflateOptions {
  /**
   * Server: `true` resets its own context per message (and says so); `false` declines offers
   * that ask for it. Client: `true` asks the server to reset its context and fails if it does
   * not agree; `false` fails on a response where the server resets. @default {undefined}
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: `true` tells the client to reset its context per message. Client: `true` resets
   * its context per message (and hints so in the offer); `false` fails on a response that
   * demands it. @default {undefined}
   */
  clientNoContextTakeover?: boolean;
  /**
   * Server: the largest window it compresses with (an offer's smaller value still wins).
   * Client: asked of the server, which must answer with this value or less. @default {15}
   */
  serverMaxWindowBits?: number;
  /**
   * Server: the window the client must compress with; offers that do not allow the server to
   * choose (no `client_max_window_bits`) are declined when this is below 15. Client: the
   * largest window it compresses with, sent in the offer; `false` leaves `client_max_window_bits`
   * out of the offer, so a response that limits the client's window fails. @default {15}
   */
  clientMaxWindowBits?: number | false;
  /** Messages smaller than this many bytes are sent uncompressed. @default {1024} */
  threshold?: number;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PARAMS = ["server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits"];

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 section 9.1): extensions separated by
 * commas, parameters by semicolons, values as tokens or quoted strings whose unescaped content
 * is a token. Several header lines joined with `, ` (as `Headers.get` does) parse as one list.
 *
 * @throws {SyntaxError} When the value does not follow the grammar; the message says where.
 * @example
 * ```ts
 * import { parseExtensions } from "@wsflow/wsflow";
 *
 * parseExtensions('permessage-deflate; client_max_window_bits, x-foo; a="1"');
 * // [{ name: "permessage-deflate", params: [["client_max_window_bits", true]] },
 * //  { name: "x-foo", params: [["a", "1"]] }]
 * ```
 */
export function parseExtensions(header: string): Extension[] {
  const list: Extension[] = [];
  let i = 0;
  const n = header.length;
  const fail = (what: string): never => {
    throw new SyntaxError(`Cannot parse Sec-WebSocket-Extensions: ${what} at index ${i} of ${JSON.stringify(header)}`);
  };
  const skipSpace = () => {
    while (i < n && (header[i] === " " || header[i] === "\t")) i++;
  };
  const token = (what: string): string => {
    const start = i;
    while (i < n && TOKEN.test(header[i])) i++;
    if (i === start) fail(`expected ${what}`);
    return header.slice(start, i).toLowerCase();
  };
  for (;;) {
    skipSpace();
    if (i < n && header[i] === ",") {
      i++; // empty list elements are allowed by the #rule
      continue;
    }
    if (i >= n) break;
    const extension: Extension = { name: token("an extension name"), params: [] };
    list.push(extension);
    skipSpace();
    while (i < n && header[i] === ";") {
      i++;
      skipSpace();
      const name = token("a parameter name");
      skipSpace();
      let value: string | true = true;
      if (i < n && header[i] === "=") {
        i++;
        skipSpace();
        if (header[i] === '"') {
          let text = "";
          for (i++; ; i++) {
            if (i >= n) fail("unterminated quoted string");
            const c = header[i];
            if (c === '"') break;
            if (c === "\\") {
              if (++i >= n) fail("unterminated quoted string");
              text += header[i];
            } else text += c;
          }
          i++;
          if (!TOKEN.test(text)) fail(`quoted value ${JSON.stringify(text)} is not a token`);
          value = text;
        } else {
          const start = i;
          while (i < n && TOKEN.test(header[i])) i++;
          if (i === start) fail("expected a parameter value");
          value = header.slice(start, i);
        }
        skipSpace();
      }
      extension.params.push([name, value]);
    }
    if (i < n && header[i] !== ",") fail(`unexpected ${JSON.stringify(header[i])}`);
  }
  if (list.length === 0) throw new SyntaxError("Cannot parse Sec-WebSocket-Extensions: the value lists no extension");
  return list;
}

/** Writes extensions as a `Sec-WebSocket-Extensions` value: `name; a; b=1, other`. */
export function formatExtensions(list: Extension[]): string {
  return list
    .map(({ name, params }) => [name, ...params.map(([key, value]) => (value === true ? key : `${key}=${TOKEN.test(value) ? value : JSON.stringify(value)}`))].join("; "))
    .join(", ");
}

/** The permessage-deflate parameters as read from an offer or response, checked one by one. */
interface _Read {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | true | undefined;
}

// Reads one permessage-deflate element (RFC 7692 section 7.1); returns the problem as a string.
function _read(extension: Extension): _Read | string {
  const read: _Read = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: undefined, clientMaxWindowBits: undefined };
  const seen = new Set<string>();
  for (const [name, value] of extension.params) {
    if (!PARAMS.includes(name)) return `unknown parameter ${name}`;
    if (seen.has(name)) return `duplicated parameter ${name}`;
    seen.add(name);
    if (name.endsWith("no_context_takeover")) {
      if (value !== true) return `${name} takes no value`;
      if (name === "server_no_context_takeover") read.serverNoContextTakeover = true;
      else read.clientNoContextTakeover = true;
      continue;
    }
    // The value is 8 to 15 in decimal, without leading zeros (section 7.1.2.1).
    const bits = value === true ? true : /^(?:[89]|1[0-5])$/.test(value) ? Number(value) : undefined;
    if (bits === undefined) return `${name} must be 8 to 15, got ${JSON.stringify(value)}`;
    if (name === "client_max_window_bits") read.clientMaxWindowBits = bits;
    else if (bits === true) return "server_max_window_bits needs a value";
    else read.serverMaxWindowBits = bits;
  }
  return read;
}

function _checkBits(name: string, bits: number | false | undefined): void {
  if (bits !== undefined && bits !== false && !(Number.isInteger(bits) && bits >= 8 && bits <= 15)) {
    throw new RangeError(`Cannot use permessage-deflate: ${name} must be an integer from 8 to 15, got ${bits}`);
  }
}

/**
 * The server side of permessage-deflate negotiation (RFC 7692 section 5): accepts the first
 * permessage-deflate offer in the client's `Sec-WebSocket-Extensions` it can honour. An offer
 * with an unknown, invalid or duplicated parameter is declined and the next one is tried. The
 * response says exactly what the server will do. Other extensions are ignored.
 *
 * @returns The response value and the agreed parameters, or `undefined` when no offer can be
 * accepted (or the header is malformed): the connection then goes on without compression.
 * @throws {RangeError} When a window bits option is not 8 to 15.
 * @example
 * ```ts
 * import { acceptPerMessageDeflate } from "@wsflow/wsflow";
 *
 * const accepted = acceptPerMessageDeflate("permessage-deflate; client_max_window_bits", {});
 * console.log(accepted?.response); // "permessage-deflate"
 * ```
 */
export function acceptPerMessageDeflate(offer: string, options: PerMessageDeflateOptions = {}): { response: string; params: DeflateParams } | undefined {
  _checkBits("serverMaxWindowBits", options.serverMaxWindowBits);
  _checkBits("clientMaxWindowBits", options.clientMaxWindowBits);
  let list: Extension[];
  try {
    list = parseExtensions(offer);
  } catch {
    return undefined;
  }
  for (const extension of list) {
    if (extension.name !== "permessage-deflate") continue;
    const read = _read(extension);
    if (typeof read === "string") continue;
    if (read.serverNoContextTakeover && options.serverNoContextTakeover === false) continue;
    const wantClientBits = options.clientMaxWindowBits || 15;
    // The server may only limit the client's window when the client allows it (section 7.1.2.2).
    if (wantClientBits < 15 && read.clientMaxWindowBits === undefined) continue;
    const params: [string, string | true][] = [];
    const serverNoContextTakeover = read.serverNoContextTakeover || options.serverNoContextTakeover === true;
    if (serverNoContextTakeover) params.push(["server_no_context_takeover", true]);
    // The client's hint that it will not take over context (section 7.1.1.2) is echoed, so both
    // sides agree and our inflater can start each message afresh.
    const clientNoContextTakeover = options.clientNoContextTakeover === true ||
      (read.clientNoContextTakeover === true && options.clientNoContextTakeover !== false);
    if (clientNoContextTakeover) params.push(["client_no_context_takeover", true]);
    // Our own window: the offer's limit, or ours if smaller. It is only announced when the offer
    // asked (section 7.1.2.1); a smaller window than announced needs no announcement.
    const serverMaxWindowBits = Math.min(read.serverMaxWindowBits ?? 15, options.serverMaxWindowBits ?? 15);
    if (read.serverMaxWindowBits !== undefined) params.push(["server_max_window_bits", String(serverMaxWindowBits)]);
    // The client's window: the client compresses with at most the value it offered anyway.
    const offeredClientBits = typeof read.clientMaxWindowBits === "number" ? read.clientMaxWindowBits : 15;
    const clientMaxWindowBits = Math.min(offeredClientBits, wantClientBits);
    if (wantClientBits < 15) params.push(["client_max_window_bits", String(clientMaxWindowBits)]);
    return {
      response: formatExtensions([{ name: "permessage-deflate", params }]),
      params: { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits },
    };
  }
  return undefined;
}

/**
 * The client's permessage-deflate offer (RFC 7692 section 5.1) for `Sec-WebSocket-Extensions`.
 * Unless `clientMaxWindowBits` is `false`, it allows the server to limit the client's window
 * (`client_max_window_bits`), as browsers do.
 *
 * @throws {RangeError} When a window bits option is not 8 to 15.
 * @example
 * ```ts
 * import { offerPerMessageDeflate } from "@wsflow/wsflow";
 *
 * console.log(offerPerMessageDeflate({ serverMaxWindowBits: 10 }));
 * // "permessage-deflate; server_max_window_bits=10; client_max_window_bits"
 * ```
 */
export function offerPerMessageDeflate(options: PerMessageDeflateOptions = {}): string {
  _checkBits("serverMaxWindowBits", options.serverMaxWindowBits);
  _checkBits("clientMaxWindowBits", options.clientMaxWindowBits);
  const params: [string, string | true][] = [];
  if (options.serverNoContextTakeover === true) params.push(["server_no_context_takeover", true]);
  if (options.clientNoContextTakeover === true) params.push(["client_no_context_takeover", true]);
  if (options.serverMaxWindowBits !== undefined) params.push(["server_max_window_bits", String(options.serverMaxWindowBits)]);
  const clientBits = options.clientMaxWindowBits;
  if (clientBits !== false) params.push(["client_max_window_bits", clientBits === undefined ? true : String(clientBits)]);
  return formatExtensions([{ name: "permessage-deflate", params }]);
}

/**
 * The client side of permessage-deflate negotiation (RFC 7692 section 5.1): checks the server's
 * `Sec-WebSocket-Extensions` response against the offer {@linkcode offerPerMessageDeflate} made
 * with the same options, and returns what both ends will do.
 *
 * @throws {SyntaxError} When the response is malformed, names an extension other than one
 * permessage-deflate, has an invalid or duplicated parameter, or does not match the offer
 * (for example `client_max_window_bits` when none was offered); the message names the problem.
 * @example
 * ```ts
 * import { checkPerMessageDeflate } from "@wsflow/wsflow";
 *
 * checkPerMessageDeflate("permessage-deflate; client_max_window_bits=10", {});
 * // { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 10 }
 * ```
 */
export function checkPerMessageDeflate(response: string, options: PerMessageDeflateOptions = {}): DeflateParams {
  _checkBits("serverMaxWindowBits", options.serverMaxWindowBits);
  _checkBits("clientMaxWindowBits", options.clientMaxWindowBits);
  const fail = (what: string): never => {
    throw new SyntaxError(`Cannot use permessage-deflate: ${what}`);
  };
  const list = parseExtensions(response);
  if (list.length !== 1 || list[0].name !== "permessage-deflate") {
    fail(`the server answered ${JSON.stringify(response)}, but only one permessage-deflate was offered`);
  }
  const read = _read(list[0]);
  if (typeof read === "string") return fail(`the server's response has ${read}`);
  if (options.serverNoContextTakeover === true && !read.serverNoContextTakeover) {
    fail("the server did not agree to server_no_context_takeover");
  }
  if (options.serverNoContextTakeover === false && read.serverNoContextTakeover) {
    fail("the server answered with server_no_context_takeover, which the client refuses");
  }
  if (options.clientNoContextTakeover === false && read.clientNoContextTakeover) {
    fail("the server answered with client_no_context_takeover, which the client refuses");
  }
  const offeredServerBits = options.serverMaxWindowBits;
  if (offeredServerBits !== undefined) {
    if (read.serverMaxWindowBits === undefined) fail(`the server did not agree to server_max_window_bits=${offeredServerBits}`);
    if (read.serverMaxWindowBits! > offeredServerBits) {
      fail(`the server answered server_max_window_bits=${read.serverMaxWindowBits}, more than the ${offeredServerBits} offered`);
    }
  }
  // The server may limit the client's window only when offered, and must give a value (section 7.1.2.2).
  if (read.clientMaxWindowBits !== undefined && options.clientMaxWindowBits === false) {
    fail("the server answered with client_max_window_bits, which the client did not offer");
  }
  if (read.clientMaxWindowBits === true) fail("the server's client_max_window_bits has no value");
  const ownBits = options.clientMaxWindowBits || 15;
  return {
    serverNoContextTakeover: read.serverNoContextTakeover,
    clientNoContextTakeover: read.clientNoContextTakeover || options.clientNoContextTakeover === true,
    serverMaxWindowBits: read.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: Math.min(ownBits, (read.clientMaxWindowBits as number | undefined) ?? 15),
  };
}
