/**
 * The opening handshake of RFC 6455 section 4: the server's decision on an upgrade `Request`
 * (section 4.2) and the client's request and response checks (section 4.1). No I/O: adapters
 * write the headers these functions return.
 *
 * @module
 */

import { _parseList, _TOKEN } from "./http_head.ts";
import { _sha1, _sha1Padded } from "./sha1.ts";
import { _show } from "./shown.ts";
import { WebSocketError } from "./websocket_error.ts";
import type { HeadersLike } from "./web_types.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const _textEncoder = new TextEncoder();
const KEY = /^[A-Za-z0-9+/]{22}==$/;
const RESERVED = ["upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-accept", "sec-websocket-protocol", "sec-websocket-extensions"];

/**
 * Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64 of the SHA-1 of the key and
 * the RFC's GUID (RFC 6455 section 4.2.2, step 5.4).
 *
 * @example The example of RFC 6455 section 1.3
 * ```ts
 * import { computeAcceptKey } from "@wsflow/wsflow";
 *
 * console.log(await computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==")); // s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
 * ```
 */
export function computeAcceptKey(key: string): Promise<string> {
  return Promise.resolve(_acceptKey(key));
}

// The handshake's SHA-1 input for a 24-character key, padded to two blocks (section 5.1.1 of
// FIPS 180-4): the key, the GUID, a 1 bit, zeros, and the length (480 bits). Only the key's 24
// bytes change from one handshake to the next; the digest goes to memory of its own too.
const ACCEPT_INPUT = new Uint8Array(128);
const ACCEPT_VIEW = new DataView(ACCEPT_INPUT.buffer);
ACCEPT_INPUT.set(_textEncoder.encode(GUID), 24);
ACCEPT_INPUT[60] = 0x80;
ACCEPT_VIEW.setUint32(124, 60 * 8);
const ACCEPT_DIGEST = new Uint8Array(20);
const ACCEPT_DIGEST_VIEW = new DataView(ACCEPT_DIGEST.buffer);

// computeAcceptKey without the promise, for the handshake itself. A key of 24 ASCII characters
// (every valid one) is hashed in place, with no input or digest allocated.
function _acceptKey(key: string): string {
  if (key.length === 24 && _asciiInto(key, ACCEPT_INPUT)) {
    _sha1Padded(ACCEPT_VIEW, 128, ACCEPT_DIGEST_VIEW);
    return _base64(ACCEPT_DIGEST);
  }
  return _base64(_sha1(_textEncoder.encode(key + GUID)));
}

// Writes `text` into the start of `bytes` if every character is ASCII (its UTF-8 form), else
// returns false.
function _asciiInto(text: string, bytes: Uint8Array): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return false;
    bytes[i] = code;
  }
  return true;
}

/** Options of {@linkcode acceptUpgrade}. */
export interface AcceptOptions {
  /**
   * The subprotocol to speak, among those the client offered: a name (chosen when the client
   * offered it, as Deno's `protocol` option), a list in the server's order of preference (the
   * first one the client offered is chosen), or a function that gets the offered ones (in the
   * client's order) and returns one of them or `undefined`, called only when the client offered
   * at least one. When none fits, the upgrade goes ahead without a subprotocol.
   * @default {no subprotocol}
   */
  protocol?: string | readonly string[] | ((offered: string[], request: Request) => string | undefined | Promise<string | undefined>);
  /**
   * Allowed `Origin` values (exact, ASCII case-insensitive; a missing Origin is refused), or a
   * predicate that gets the Origin or `null`. A refusal is a 403 (RFC 6455 section 10.2).
   * @default {any origin}
   */
  origins?: string[] | ((origin: string | null) => boolean | Promise<boolean>);
  /**
   * Allowed `Host` values, as sent (with the port when the client sent one), ASCII
   * case-insensitive. A refusal is a 403; a request without a Host header gets a 400.
   * @default {any host}
   */
  hosts?: string[];
  /**
   * Extra headers for the 101, such as Set-Cookie. They may not set Upgrade, Connection or
   * Sec-WebSocket-*.
   * @default {none}
   */
  headers?: HeadersLike;
  /**
   * Negotiates extensions: gets the raw `Sec-WebSocket-Extensions` offer and returns the
   * response value, or `undefined` to accept none (RFC 6455 section 9.1).
   * @default {no extension is accepted}
   */
  extensions?: (offer: string) => string | undefined;
}

/** An accepted upgrade: the adapter answers 101 with `headers` and starts framing. */
export interface UpgradeAccepted {
  /** Discriminates an accepted upgrade. */
  ok: true;
  /** The status to answer with. */
  status: 101;
  /** Upgrade, Connection, Sec-WebSocket-Accept, the chosen protocol and extensions, and the caller's headers. */
  headers: Headers;
  /** The chosen subprotocol, or the empty string. */
  protocol: string;
  /** The accepted extensions as sent in the response, or the empty string. */
  extensions: string;
  /** The client's Sec-WebSocket-Key. */
  key: string;
}

/** A refused upgrade: the adapter sends `response` as is. */
export interface UpgradeRejected {
  /** Discriminates a refused upgrade. */
  ok: false;
  /** A 400, 403, 405 or 426 with a text body saying why. */
  response: Response;
}

/** The outcome of {@linkcode acceptUpgrade}. */
export type UpgradeDecision = UpgradeAccepted | UpgradeRejected;

/**
 * Decides on a WebSocket upgrade request (RFC 6455 section 4.2). It returns the 101's headers
 * rather than a 101 `Response`, since Node's `Response` refuses status 101. It reads only the
 * request's method, URL and headers, so it works after the caller awaited anything.
 *
 * Refusals: a method other than GET is 405 with `Allow: GET`; a missing `websocket` Upgrade
 * token, a Connection without the `upgrade` token (any case, any list position), a
 * Sec-WebSocket-Key that is not 16 bytes of base64, or a malformed Sec-WebSocket-Protocol is 400;
 * a Sec-WebSocket-Version other than 13 (or none) is 426 with `Sec-WebSocket-Version: 13`
 * (section 4.4); a refused Host or Origin is 403.
 *
 * @throws {TypeError} When `protocol` is not a name, a list or a function, or its function
 * returns a subprotocol the client did not offer, or `headers` sets a handshake header.
 *
 * @example
 * ```ts
 * import { acceptUpgrade } from "@wsflow/wsflow";
 *
 * const request = new Request("http://a.test/chat", {
 *   headers: {
 *     Upgrade: "websocket",
 *     Connection: "Upgrade",
 *     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "Sec-WebSocket-Version": "13",
 *     "Sec-WebSocket-Protocol": "chat, superchat",
 *   },
 * });
 * const decision = await acceptUpgrade(request, { protocol: (offered) => offered.at(-1) });
 * if (decision.ok) console.log(decision.protocol, decision.headers.get("sec-websocket-accept"));
 * // superchat s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
 * ```
 */
export async function acceptUpgrade(request: Request, options: AcceptOptions = {}): Promise<UpgradeDecision> {
  const headers = request.headers;
  if (request.method !== "GET") {
    return _reject(405, `the method is ${request.method}, expected GET`, { Allow: "GET" });
  }
  if (!_hasToken(headers.get("upgrade"), "websocket")) {
    return _reject(400, "the Upgrade header does not name websocket");
  }
  if (!_hasToken(headers.get("connection"), "upgrade")) {
    return _reject(400, "the Connection header does not contain upgrade");
  }
  const version = headers.get("sec-websocket-version");
  if (version !== "13") {
    const got = version === null ? "missing" : `${JSON.stringify(version)}`;
    return _reject(426, `Sec-WebSocket-Version is ${got}, expected 13`, { Upgrade: "websocket", "Sec-WebSocket-Version": "13" });
  }
  const key = headers.get("sec-websocket-key") ?? "";
  if (!KEY.test(key)) return _reject(400, "Sec-WebSocket-Key is missing or not 16 bytes of base64");
  if (options.hosts) {
    // The Host header only: a request without one (Deno.serve hands such a request on) has a URL
    // made up from the server's own address, which would pass a list naming it.
    const host = headers.get("host")?.toLowerCase();
    if (host === undefined) return _reject(400, "the Host header is missing");
    if (!options.hosts.some((allowed) => allowed.toLowerCase() === host)) return _reject(403, "the host is not allowed");
  }
  if (options.origins) {
    const origin = headers.get("origin");
    const allowed = typeof options.origins === "function"
      ? await options.origins(origin)
      : origin !== null && options.origins.some((item) => item.toLowerCase() === origin.toLowerCase());
    if (!allowed) return _reject(403, "the origin is not allowed");
  }
  const offered = _parseList(headers.get("sec-websocket-protocol"));
  if (!offered.every((item) => _TOKEN.test(item))) return _reject(400, "Sec-WebSocket-Protocol is not a list of tokens");
  const protocol = await _chooseProtocol(options.protocol, offered, request);
  const offer = headers.get("sec-websocket-extensions") ?? "";
  const extensions = (offer && options.extensions?.(offer)) || "";
  const response = _callerHeaders(options.headers, "Cannot accept upgrade");
  response.set("Upgrade", "websocket");
  response.set("Connection", "Upgrade");
  response.set("Sec-WebSocket-Accept", _acceptKey(key));
  if (protocol) response.set("Sec-WebSocket-Protocol", protocol);
  if (extensions) response.set("Sec-WebSocket-Extensions", extensions);
  return { ok: true, status: 101, headers: response, protocol, extensions, key };
}

// The subprotocol `choice` (the `protocol` option) picks among the `offered` ones, or "".
async function _chooseProtocol(choice: AcceptOptions["protocol"], offered: string[], request: Request): Promise<string> {
  if (choice === undefined) return "";
  if (typeof choice === "string") return offered.includes(choice) ? choice : "";
  if (Array.isArray(choice) && choice.every((item) => typeof item === "string")) return choice.find((item) => offered.includes(item)) ?? "";
  if (typeof choice !== "function") {
    throw new TypeError(`Cannot accept upgrade: the protocol option must be a subprotocol name, a list of them or a function, got ${typeof choice === "object" ? JSON.stringify(choice) : String(choice)}`);
  }
  if (offered.length === 0) return "";
  const protocol = (await choice(offered, request)) ?? "";
  if (protocol !== "" && !offered.includes(protocol)) {
    throw new TypeError(`Cannot accept upgrade: the protocol callback chose ${JSON.stringify(protocol)}, which the client did not offer; return one of ${JSON.stringify(offered)} or undefined`);
  }
  return protocol;
}

/** Options of {@linkcode rejectUpgrade}. */
export interface RejectOptions {
  /**
   * Headers for the response, such as WWW-Authenticate or Retry-After.
   * @default {none}
   */
  headers?: HeadersLike;
}

/**
 * Builds the `Response` that refuses an upgrade: the status, a `text/plain` body with the reason
 * and the given headers.
 *
 * @throws {RangeError} When `status` is not an integer in 400-599.
 *
 * @example Refusing before the upgrade when authentication fails
 * ```ts
 * import { rejectUpgrade } from "@wsflow/wsflow";
 *
 * const response = rejectUpgrade(401, "Log in first", { headers: { "WWW-Authenticate": "Bearer" } });
 * console.log(response.status, await response.text()); // 401 Log in first
 * ```
 */
export function rejectUpgrade(status: number, reason: string, options: RejectOptions = {}): Response {
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    throw new RangeError(`Cannot reject upgrade: status ${status} is not an integer in 400-599; use acceptUpgrade to accept`);
  }
  return new Response(reason, { status, headers: options.headers });
}

/** Options of {@linkcode createClientHandshake}. */
export interface ClientHandshakeOptions {
  /**
   * Subprotocols to offer, in order of preference; tokens, no duplicates.
   * @default {[]}
   */
  protocols?: string | string[];
  /**
   * The Sec-WebSocket-Extensions offer, as sent.
   * @default {""}
   */
  extensions?: string;
  /**
   * Extra request headers (Authorization, Cookie, a Host override). They may not set Upgrade,
   * Connection or Sec-WebSocket-*.
   * @default {none}
   */
  headers?: HeadersLike;
  /**
   * Returns `n` random bytes, for the key.
   * @default {crypto.getRandomValues}
   */
  randomBytes?: (n: number) => Uint8Array;
}

/** The client's opening request (RFC 6455 section 4.1), to write and later check the response against. */
export interface ClientHandshake {
  /** The URL, with `http:`/`https:` mapped to `ws:`/`wss:`. */
  url: URL;
  /** The Sec-WebSocket-Key sent. */
  key: string;
  /** The request-target: pathname and search. */
  path: string;
  /** The Host value: the host, with the port only when it is not the scheme's default. */
  host: string;
  /** Host, Upgrade, Connection, Sec-WebSocket-Key, Sec-WebSocket-Version and the rest to send. */
  headers: Headers;
  /** The subprotocols offered. */
  protocols: string[];
  /** The extensions offered, or the empty string. */
  extensions: string;
}

/**
 * Prepares the client's opening handshake (RFC 6455 section 4.1) for a URL, as the WHATWG
 * WebSocket constructor validates it.
 *
 * @throws {DOMException} `SyntaxError` when the URL does not parse, has a scheme other than ws,
 * wss, http or https, or has a fragment, or when a protocol is not a token or is repeated.
 * @throws {TypeError} When `protocols` is not a name or a list of names, `headers` sets a
 * handshake header, or `randomBytes` does not return 16 bytes.
 *
 * @example
 * ```ts
 * import { createClientHandshake, serializeRequestHead } from "@wsflow/wsflow";
 *
 * const handshake = createClientHandshake("https://a.test/chat", { protocols: ["chat"] });
 * console.log(handshake.url.href, handshake.headers.get("sec-websocket-version")); // wss://a.test/chat 13
 * const bytes = serializeRequestHead({ method: "GET", target: handshake.path, headers: handshake.headers });
 * ```
 */
export function createClientHandshake(url: string | URL, options: ClientHandshakeOptions = {}): ClientHandshake {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DOMException(`Cannot create WebSocket handshake: ${JSON.stringify(String(url))} is not a valid URL`, "SyntaxError");
  }
  if (parsed.protocol === "http:" || parsed.protocol === "https:") parsed.protocol = parsed.protocol === "http:" ? "ws:" : "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new DOMException(`Cannot create WebSocket handshake: the scheme ${parsed.protocol} is not ws:, wss:, http: or https:`, "SyntaxError");
  }
  if (parsed.href.includes("#")) {
    throw new DOMException("Cannot create WebSocket handshake: the URL has a fragment", "SyntaxError");
  }
  const { protocols = [], extensions = "", randomBytes = _randomBytes } = options;
  const list = _protocolList(protocols);
  for (const [i, protocol] of list.entries()) {
    if (!_TOKEN.test(protocol) || list.indexOf(protocol) !== i) {
      throw new DOMException(`Cannot create WebSocket handshake: protocol ${JSON.stringify(protocol)} is not a token or is repeated`, "SyntaxError");
    }
  }
  const random = randomBytes(16);
  if (!(random instanceof Uint8Array) || random.length !== 16) {
    throw new TypeError("Cannot create WebSocket handshake: randomBytes(16) must return a Uint8Array of 16 bytes");
  }
  const key = _base64(random);
  const headers = _callerHeaders(options.headers, "Cannot create WebSocket handshake");
  if (!headers.has("host")) headers.set("Host", parsed.host);
  headers.set("Upgrade", "websocket");
  headers.set("Connection", "Upgrade");
  headers.set("Sec-WebSocket-Key", key);
  headers.set("Sec-WebSocket-Version", "13");
  if (list.length > 0) headers.set("Sec-WebSocket-Protocol", list.join(", "));
  if (extensions) headers.set("Sec-WebSocket-Extensions", extensions);
  const host = headers.get("host") ?? parsed.host;
  return { url: parsed, key, path: parsed.pathname + parsed.search, host, headers, protocols: list, extensions };
}

// The `protocols` option as a list: one name, or any iterable of names (an array, a Set).
function _protocolList(protocols: unknown): string[] {
  const list = typeof protocols === "string"
    ? [protocols]
    : typeof protocols === "object" && protocols !== null && Symbol.iterator in protocols
    ? [...(protocols as Iterable<unknown>)]
    : undefined;
  const bad = list ? list.findIndex((protocol) => typeof protocol !== "string") : -1;
  if (!list || bad >= 0) {
    const got = list ? `${_show(list[bad])} in the list` : _show(protocols);
    throw new TypeError(`Cannot create WebSocket handshake: protocols must be a list of subprotocol names (strings), such as ["chat"], got ${got}`);
  }
  return list as string[];
}

/** Options of {@linkcode checkServerResponse}. */
export interface ServerResponseOptions {
  /**
   * Judges a non-empty Sec-WebSocket-Extensions in the response: `false` fails the handshake,
   * `true` keeps the value, a string replaces it (RFC 6455 section 9.1).
   * @default {any extension in the response fails the handshake}
   */
  extensions?: (response: string) => boolean | string;
}

/** The outcome of a successful opening handshake. */
export interface HandshakeResult {
  /** The subprotocol the server chose, or the empty string. */
  protocol: string;
  /** The extensions in use, or the empty string. */
  extensions: string;
}

/**
 * Checks the server's response to a client handshake (RFC 6455 section 4.1, steps 1-6 of the
 * response checks). `response` can be a parsed head or a fetch `Response`.
 *
 * @throws {WebSocketError} With closeCode 1006 (as the WHATWG WebSocket reports a failed
 * connection) and a message naming the mismatch: the status, Upgrade, Connection,
 * Sec-WebSocket-Accept, Sec-WebSocket-Protocol or Sec-WebSocket-Extensions.
 *
 * @example
 * ```ts
 * import { checkServerResponse, computeAcceptKey, createClientHandshake } from "@wsflow/wsflow";
 *
 * const handshake = createClientHandshake("ws://a.test/");
 * const headers = new Headers({
 *   Upgrade: "websocket",
 *   Connection: "Upgrade",
 *   "Sec-WebSocket-Accept": await computeAcceptKey(handshake.key),
 * });
 * console.log(await checkServerResponse({ status: 101, headers }, handshake)); // { protocol: "", extensions: "" }
 * ```
 */
export async function checkServerResponse(
  response: { status: number; headers: Headers },
  handshake: ClientHandshake,
  options: ServerResponseOptions = {},
): Promise<HandshakeResult> {
  const { status, headers } = response;
  if (status !== 101) {
    throw WebSocketError._refused(`Cannot complete WebSocket handshake: the server answered ${status} instead of 101`, status, new Headers(headers));
  }
  if ((headers.get("upgrade") ?? "").toLowerCase() !== "websocket") _fail("the Upgrade header is not websocket");
  if (!_hasToken(headers.get("connection"), "upgrade")) _fail("the Connection header does not contain upgrade");
  if (headers.get("sec-websocket-accept") !== _acceptKey(handshake.key)) {
    _fail("Sec-WebSocket-Accept does not match the key");
  }
  const protocol = headers.get("sec-websocket-protocol") ?? "";
  if (protocol && !handshake.protocols.includes(protocol)) {
    _fail(`the server chose the protocol ${JSON.stringify(protocol)}, which was not offered`);
  }
  let extensions = headers.get("sec-websocket-extensions") ?? "";
  if (extensions) {
    const verdict = options.extensions?.(extensions) ?? false;
    if (verdict === false) _fail(`the server answered with extensions ${JSON.stringify(extensions)}, which the client does not accept`);
    if (typeof verdict === "string") extensions = verdict;
  }
  return { protocol, extensions };
}

function _fail(detail: string): never {
  throw WebSocketError._from(`Cannot complete WebSocket handshake: ${detail}`, 1006, "");
}

function _reject(status: number, detail: string, headers?: HeadersLike): UpgradeRejected {
  return { ok: false, response: rejectUpgrade(status, `Cannot upgrade to WebSocket: ${detail}`, { headers }) };
}

function _hasToken(value: string | null, token: string): boolean {
  return _parseList(value).some((item) => item.toLowerCase() === token);
}

function _callerHeaders(init: HeadersLike | undefined, prefix: string): Headers {
  const headers = new Headers(init);
  for (const name of RESERVED) {
    if (headers.has(name)) throw new TypeError(`${prefix}: headers may not set ${name}; use the options for the handshake headers`);
  }
  return headers;
}

function _randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function _base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode.apply(null, bytes as unknown as number[]));
}
