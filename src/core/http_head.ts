import type { HeadersLike } from "./web_types.ts";
/**
 * HTTP/1.1 message heads over raw bytes (RFC 9112 sections 2-5), for adapters that own a socket
 * and must read the upgrade request or response themselves before handing the rest to the frame
 * decoder. Bytes are read and written as Latin-1, which is what `Headers` stores.
 *
 * @module
 */

/** Whether the parser reads a request head (server side) or a response head (client side). */
export type HttpHeadMode = "request" | "response";

/** A parsed request head (RFC 9112 section 3). */
export interface HttpRequestHead {
  /** The method, case-sensitive, for example `GET`. */
  method: string;
  /** The request-target as sent, for example `/chat?room=1`. */
  target: string;
  /** Always `HTTP/1.1`: other versions are refused with 505. */
  version: string;
  /** The header fields; repeated fields are combined with `, ` (RFC 9110 section 5.3). */
  headers: Headers;
}

/** A parsed response head (RFC 9112 section 4). */
export interface HttpResponseHead {
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  /** The three-digit status code. */
  status: number;
  /** The reason phrase, possibly empty. */
  statusText: string;
  /** The header fields; repeated fields are combined with `, ` (RFC 9110 section 5.3). */
  headers: Headers;
}

/** The head a parser in mode `M` yields, plus `rest`: the bytes after the head, untouched. */
export type HttpHeadResult<M extends HttpHeadMode> =
  & (M extends "request" ? HttpRequestHead : HttpResponseHead)
  & { rest: Uint8Array };

/** Options of {@linkcode HttpHeadParser}. */
export interface HttpHeadParserOptions {
  /**
   * The most bytes the head may take, start line and final empty line included.
   * @default {16384}
   */
  maxHeadBytes?: number;
}

/**
 * A malformed or oversized head, returned (never thrown) by {@linkcode HttpHeadParser.push},
 * with the status a server answers it with: 400 malformed, 431 too large, 505 wrong version.
 * For a response head the status only classifies the failure.
 *
 * @example
 * ```ts
 * import { HttpHeadError, HttpHeadParser } from "@wsflow/wsflow";
 *
 * const parser = new HttpHeadParser("request");
 * const result = parser.push(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
 * if (result instanceof HttpHeadError) console.log(result.status); // 505
 * ```
 */
export class HttpHeadError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;

  /**
   * Creates the error; the parser does, callers rarely need to.
   *
   * @param message What was wrong, as `Cannot parse HTTP head: detail`.
   * @param status The HTTP status to answer with.
   */
  constructor(message: string, status: number) {
    super(message);
    this.name = "HttpHeadError";
    this.status = status;
  }
}

const CR = 0x0d;
const LF = 0x0a;
/** @internal A token (RFC 9110 section 5.6.2). */
export const _TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const TARGET = /^[\x21-\x7e]+$/;
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?$/;

/**
 * A synchronous, resumable reader of one HTTP/1.1 head. Feed it chunks as they arrive; it scans
 * each byte once, and when one chunk holds the whole head it parses that chunk without copying.
 * A partial head is copied, so the caller may reuse a chunk's memory once `push` returns;
 * `rest` is a view into the last chunk, to hand on before that memory is reused.
 *
 * Strict on line endings: a bare CR or bare LF is a 400 (RFC 9112 section 2.2 lets a recipient
 * refuse them), so a peer cannot smuggle a line past a lenient proxy. Empty lines before the
 * start line are skipped. Obsolete line folding, a header line without a colon, whitespace
 * before the colon, a name that is not a token and control characters in a value are all 400
 * (RFC 9112 section 5). A request head then gets the checks of {@linkcode checkRequestHead}:
 * HTTP/1.1 only (505), exactly one Host field (400), and an upgrade request with a repeated
 * handshake field or a body is 400.
 *
 * @example Reading an upgrade request and keeping the bytes after it
 * ```ts
 * import { HttpHeadError, HttpHeadParser } from "@wsflow/wsflow";
 *
 * const parser = new HttpHeadParser("request");
 * const bytes = new TextEncoder().encode("GET /chat HTTP/1.1\r\nHost: a.test\r\n\r\nnext");
 * const head = parser.push(bytes);
 * if (head && !(head instanceof HttpHeadError)) {
 *   console.log(head.method, head.target, head.headers.get("host"), head.rest.length); // GET /chat a.test 4
 * }
 * ```
 */
export class HttpHeadParser<M extends HttpHeadMode> {
  #mode: M;
  #max: number;
  #state: "reading" | "parsed" | "failed" = "reading";
  #buffer = new Uint8Array(0);
  #size = 0;
  #lineLength = 0;
  #cr = false;
  #started = false;

  /**
   * Creates a parser for one head.
   *
   * @param mode `"request"` on a server, `"response"` on a client.
   * @param options The head size limit.
   * @throws {RangeError} When `maxHeadBytes` is not a positive integer.
   */
  constructor(mode: M, options: HttpHeadParserOptions = {}) {
    const { maxHeadBytes = 16384 } = options;
    if (!Number.isSafeInteger(maxHeadBytes) || maxHeadBytes < 1) {
      throw new RangeError(`Cannot create HttpHeadParser: maxHeadBytes must be a positive integer, got ${maxHeadBytes}`);
    }
    this.#mode = mode;
    this.#max = maxHeadBytes;
  }

  /**
   * Reads the next chunk.
   *
   * @returns `undefined` while the head is incomplete; the head with `rest` (a view of the
   * chunk's bytes after the head) once complete; or an {@linkcode HttpHeadError}.
   * @throws {TypeError} When called again after a head or an error was returned.
   */
  push(chunk: Uint8Array): HttpHeadResult<M> | HttpHeadError | undefined {
    if (this.#state !== "reading") {
      throw new TypeError(`Cannot push to HttpHeadParser: the head was already ${this.#state}; hand later bytes to the next stage`);
    }
    const limit = Math.min(chunk.length, this.#max - this.#size);
    let end = -1;
    for (let i = 0; i < limit; i++) {
      const byte = chunk[i];
      if (this.#cr) {
        if (byte !== LF) return this.#fail("Cannot parse HTTP head: bare CR in a line", 400);
        this.#cr = false;
        if (this.#lineLength === 0 && this.#started) {
          end = i + 1;
          break;
        }
        this.#lineLength = 0;
      } else if (byte === CR) {
        this.#cr = true;
      } else if (byte === LF) {
        return this.#fail("Cannot parse HTTP head: bare LF line ending, expected CRLF", 400);
      } else {
        this.#lineLength++;
        this.#started = true;
      }
    }
    if (end === -1) {
      if (limit < chunk.length) {
        return this.#fail(`Cannot parse HTTP head: longer than maxHeadBytes (${this.#max})`, 431);
      }
      this.#append(chunk);
      return undefined;
    }
    let head = chunk.subarray(0, end);
    if (this.#size > 0) {
      this.#append(head);
      head = this.#buffer.subarray(0, this.#size);
    }
    const parsed = this.#parse(_latin1(head));
    if (parsed instanceof HttpHeadError) return this.#fail(parsed.message, parsed.status);
    this.#state = "parsed";
    this.#buffer = new Uint8Array(0);
    return Object.assign(parsed, { rest: chunk.subarray(end) }) as unknown as HttpHeadResult<M>;
  }

  /** Copies a partial head, so the caller may reuse its chunk's memory. */
  #append(bytes: Uint8Array): void {
    const size = this.#size + bytes.length;
    if (size > this.#buffer.length) {
      const buffer = new Uint8Array(Math.min(this.#max, Math.max(size, this.#buffer.length * 2, 1024)));
      buffer.set(this.#buffer.subarray(0, this.#size));
      this.#buffer = buffer;
    }
    this.#buffer.set(bytes, this.#size);
    this.#size = size;
  }

  #fail(message: string, status: number): HttpHeadError {
    this.#state = "failed";
    this.#buffer = new Uint8Array(0);
    return new HttpHeadError(message, status);
  }

  #parse(text: string): HttpRequestHead | HttpResponseHead | HttpHeadError {
    const lines = text.replace(/^(?:\r\n)+/, "").slice(0, -4).split("\r\n");
    const start = lines[0];
    const headers = new Headers();
    const fields: string[] = [];
    for (let n = 1; n < lines.length; n++) {
      const line = lines[n];
      if (line[0] === " " || line[0] === "\t") return _malformed("obsolete line folding", n);
      const colon = line.indexOf(":");
      if (colon === -1) return _malformed("header line has no colon", n);
      const name = line.slice(0, colon);
      if (/[ \t]$/.test(name)) return _malformed("whitespace before the colon", n);
      if (!_TOKEN.test(name)) return _malformed("header name is not a token", n);
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
      if (!FIELD_VALUE.test(value)) return _malformed(`control character in the value of ${name}`, n);
      fields.push(name, value);
      try {
        headers.append(name, value);
      } catch {
        return _malformed(`invalid header ${name}`, n);
      }
    }
    if (this.#mode === "response") {
      const match = /^(HTTP\/\d\.\d) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/.exec(start);
      if (!match) return _malformed("invalid status line", 0);
      if (!match[1].startsWith("HTTP/1.")) {
        return new HttpHeadError(`Cannot parse HTTP head: version ${match[1]} is not HTTP/1.x`, 505);
      }
      return { version: match[1], status: Number(match[2]), statusText: match[3] ?? "", headers };
    }
    const match = /^([^ ]+) ([^ ]+) (HTTP\/\d\.\d)$/.exec(start);
    if (!match || !_TOKEN.test(match[1]) || !TARGET.test(match[2])) return _malformed("invalid request line", 0);
    const invalid = checkRequestHead(match[3], fields);
    if (invalid) return invalid;
    return { method: match[1], target: match[2], version: match[3], headers };
  }
}

// Fields an upgrade request may carry once only: a second one means two parsers on the way
// (a proxy, then us) may each read a different value.
const SINGLE_IN_UPGRADE = ["upgrade", "connection", "sec-websocket-key"];

/**
 * The checks every wsflow server applies to a request head before its handler sees it, whoever
 * parsed the head ({@linkcode HttpHeadParser}, or Node's `http` parser): the version must be
 * HTTP/1.1 (505 otherwise), and there must be exactly one Host field (400; RFC 9112 section
 * 3.2). For an upgrade request (one with an Upgrade field) also: no second Upgrade, Connection,
 * Sec-WebSocket-Key or Host field, and no body (400 for a Content-Length other than 0 or any
 * Transfer-Encoding). A proxy counts the bytes after such a head as its body (RFC 9112 section
 * 6.3) while a WebSocket server would read them as frames: a request-smuggling split.
 *
 * @param version The HTTP-version as sent, for example `HTTP/1.1`.
 * @param fields The header fields as sent, flat: name, value, name, value (Node's `rawHeaders`).
 * @returns The error to answer with (its `status`), or `undefined` when the head passes.
 *
 * @example
 * ```ts
 * import { checkRequestHead } from "@wsflow/wsflow";
 *
 * const fields = ["Host", "a.test", "Upgrade", "websocket", "Content-Length", "6"];
 * console.log(checkRequestHead("HTTP/1.1", fields)?.status); // 400
 * console.log(checkRequestHead("HTTP/1.0", ["Host", "a.test"])?.status); // 505
 * console.log(checkRequestHead("HTTP/1.1", ["Host", "a.test"])); // undefined
 * ```
 */
export function checkRequestHead(version: string, fields: readonly string[]): HttpHeadError | undefined {
  if (version !== "HTTP/1.1") return new HttpHeadError(`Cannot parse HTTP head: version ${version} is not HTTP/1.1`, 505);
  const counts = new Map<string, number>();
  let body = "";
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i].toLowerCase();
    counts.set(name, (counts.get(name) ?? 0) + 1);
    if (name === "transfer-encoding" || (name === "content-length" && fields[i + 1].trim() !== "0")) body ||= fields[i];
  }
  const hosts = counts.get("host") ?? 0;
  if (hosts !== 1) return _malformed(hosts ? "more than one Host header" : "no Host header", 0);
  if (!counts.has("upgrade")) return undefined;
  const repeated = SINGLE_IN_UPGRADE.find((name) => counts.get(name)! > 1);
  if (repeated) return new HttpHeadError(`Cannot parse HTTP head: an upgrade request with more than one ${repeated} header`, 400);
  if (body) return new HttpHeadError(`Cannot parse HTTP head: an upgrade request may not have a body (${body})`, 400);
  return undefined;
}

function _malformed(detail: string, line: number): HttpHeadError {
  return new HttpHeadError(`Cannot parse HTTP head: ${detail} (line ${line + 1})`, 400);
}

/** Options of {@linkcode requestFromHead}. */
export interface RequestFromHeadOptions {
  /**
   * The scheme of the URL built from an origin-form target: `https` behind TLS.
   * @default {"http"}
   */
  scheme?: "http" | "https";
}

/**
 * Builds the `Request` a server handler (and {@linkcode acceptUpgrade}) expects from a parsed
 * request head: `scheme://Host/target` for an origin-form target, the target itself for an
 * absolute-form one (RFC 9112 section 3.2). Node, Deno and Bun all keep the Connection, Upgrade,
 * Host and Sec-WebSocket-* headers on a constructed `Request`.
 *
 * @returns The request, or a 400 {@linkcode HttpHeadError} when the Host or target cannot make a
 * URL or the runtime refuses the method (Node and Deno refuse CONNECT, TRACE and TRACK).
 *
 * @example
 * ```ts
 * import { HttpHeadError, HttpHeadParser, requestFromHead } from "@wsflow/wsflow";
 *
 * const head = new HttpHeadParser("request")
 *   .push(new TextEncoder().encode("GET /chat HTTP/1.1\r\nHost: a.test:8080\r\n\r\n"));
 * if (head && !(head instanceof HttpHeadError)) {
 *   const request = requestFromHead(head);
 *   if (request instanceof Request) console.log(request.url); // http://a.test:8080/chat
 * }
 * ```
 */
export function requestFromHead(head: HttpRequestHead, options: RequestFromHeadOptions = {}): Request | HttpHeadError {
  const { scheme = "http" } = options;
  const host = head.headers.get("host") ?? "";
  let url: string;
  if (head.target.startsWith("/")) {
    if (!HOST.test(host)) return new HttpHeadError(`Cannot build request: invalid Host ${JSON.stringify(host)}`, 400);
    url = `${scheme}://${host}${head.target}`;
  } else if (/^https?:\/\//i.test(head.target)) {
    url = head.target;
  } else {
    return new HttpHeadError(`Cannot build request: unsupported target ${JSON.stringify(head.target)}`, 400);
  }
  try {
    return new Request(url, { method: head.method, headers: head.headers });
  } catch (error) {
    return new HttpHeadError(`Cannot build request: ${(error as Error).message}`, 400);
  }
}

/** What {@linkcode serializeRequestHead} writes. */
export interface HttpRequestHeadInit {
  /** The method, a token. */
  method: string;
  /** The request-target, for example `/chat?room=1`. */
  target: string;
  /** The header fields, written in the order `Headers` iterates them. */
  headers?: HeadersLike;
}

/** What {@linkcode serializeResponseHead} writes. */
export interface HttpResponseHeadInit {
  /** The status code, 100-999. */
  status: number;
  /**
   * The reason phrase.
   * @default {the RFC 9110 phrase for the status, or empty}
   */
  statusText?: string;
  /** The header fields, written in the order `Headers` iterates them. */
  headers?: HeadersLike;
}

/**
 * Writes an HTTP/1.1 request head, ending with the empty line (RFC 9112 section 3).
 *
 * @throws {TypeError} When the method is not a token, the target has spaces or control
 * characters, or `Headers` refuses a header.
 *
 * @example
 * ```ts
 * import { serializeRequestHead } from "@wsflow/wsflow";
 *
 * const bytes = serializeRequestHead({ method: "GET", target: "/", headers: { Host: "a.test" } });
 * console.log(new TextDecoder().decode(bytes)); // "GET / HTTP/1.1\r\nhost: a.test\r\n\r\n"
 * ```
 */
export function serializeRequestHead(head: HttpRequestHeadInit): Uint8Array {
  if (!_TOKEN.test(head.method)) throw new TypeError(`Cannot serialize request head: method ${JSON.stringify(head.method)} is not a token`);
  if (!TARGET.test(head.target)) throw new TypeError(`Cannot serialize request head: target ${JSON.stringify(head.target)} has spaces or control characters`);
  return _bytes(`${head.method} ${head.target} HTTP/1.1\r\n`, head.headers);
}

/**
 * Writes an HTTP/1.1 response head, ending with the empty line (RFC 9112 section 4), for example
 * `HTTP/1.1 101 Switching Protocols`. Use it for the 101, which a `Response` cannot carry on Node.
 *
 * @throws {RangeError} When the status is not an integer in 100-999.
 * @throws {TypeError} When the reason phrase has control characters, or `Headers` refuses a header.
 *
 * @example
 * ```ts
 * import { serializeResponseHead } from "@wsflow/wsflow";
 *
 * const bytes = serializeResponseHead({ status: 101, headers: { Upgrade: "websocket" } });
 * console.log(new TextDecoder().decode(bytes)); // "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n"
 * ```
 */
export function serializeResponseHead(head: HttpResponseHeadInit): Uint8Array {
  const { status, statusText = REASONS[status] ?? "" } = head;
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new RangeError(`Cannot serialize response head: status ${status} is not an integer in 100-999`);
  }
  if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(statusText)) {
    throw new TypeError("Cannot serialize response head: the reason phrase has control characters");
  }
  return _bytes(`HTTP/1.1 ${status} ${statusText}\r\n`, head.headers);
}

/**
 * Writes a whole `Response` (a rejection from {@linkcode acceptUpgrade} or
 * {@linkcode rejectUpgrade}) as HTTP/1.1 bytes for a byte-level server: the body is read in
 * full, `Content-Length` is set, `Transfer-Encoding` dropped and `Connection: close` added, so
 * the caller writes the bytes and closes the socket.
 *
 * @example
 * ```ts
 * import { serializeResponse } from "@wsflow/wsflow";
 *
 * const bytes = await serializeResponse(new Response("Forbidden", { status: 403 }));
 * console.log(new TextDecoder().decode(bytes).split("\r\n")[0]); // HTTP/1.1 403 Forbidden
 * ```
 */
export async function serializeResponse(response: Response): Promise<Uint8Array> {
  const body = new Uint8Array(await response.arrayBuffer());
  const headers = new Headers(response.headers);
  headers.delete("transfer-encoding");
  headers.set("content-length", String(body.length));
  headers.set("connection", "close");
  const head = serializeResponseHead({ status: response.status, statusText: response.statusText || undefined, headers });
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}

const REASONS: Record<number, string> = {
  101: "Switching Protocols", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
  404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 426: "Upgrade Required",
  429: "Too Many Requests", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
  502: "Bad Gateway", 503: "Service Unavailable", 505: "HTTP Version Not Supported",
};

/** @internal Splits a comma-separated field value into its trimmed, non-empty elements (RFC 9110 section 5.6.1). */
export function _parseList(value: string | null): string[] {
  if (!value) return [];
  return value.split(",").map((item) => item.trim()).filter((item) => item !== "");
}

function _latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return text;
}

function _bytes(start: string, init: HeadersLike | undefined): Uint8Array {
  let text = start;
  for (const [name, value] of init instanceof Headers ? init : new Headers(init)) text += `${name}: ${value}\r\n`;
  text += "\r\n";
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}
