import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  checkRequestHead,
  HttpHeadError,
  HttpHeadParser,
  type HttpHeadMode,
  type HttpHeadResult,
  requestFromHead,
  serializeRequestHead,
  serializeResponse,
  serializeResponseHead,
} from "../../src/core/http_head.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The ASCII `text` followed by the raw bytes `tail` (TextEncoder would turn 0x81 into two bytes). */
function bytesOf(text: string, ...tail: number[]): Uint8Array {
  const head = encoder.encode(text);
  const bytes = new Uint8Array(head.length + tail.length);
  bytes.set(head);
  bytes.set(tail, head.length);
  return bytes;
}

const REQUEST = "GET /chat?room=1 HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: keep-alive, Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "Sec-WebSocket-Protocol: chat\r\n" +
  "Sec-WebSocket-Protocol: superchat\r\n" +
  "Origin: http://example.com\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";

const RESPONSE = "HTTP/1.1 101 Switching Protocols\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/**
 * Pushes `chunks` in order until the parser answers. On a head, `rest` is replaced by the bytes
 * after the head including later chunks, as the next stage would see them.
 */
function feed<M extends HttpHeadMode>(
  parser: HttpHeadParser<M>,
  chunks: Uint8Array[],
): HttpHeadResult<M> | HttpHeadError | undefined {
  for (const [i, chunk] of chunks.entries()) {
    const result = parser.push(chunk);
    if (result === undefined) continue;
    if (result instanceof HttpHeadError) return result;
    const later = chunks.slice(i + 1).flatMap((part) => [...part]);
    return Object.assign(result, { rest: new Uint8Array([...result.rest, ...later]) });
  }
  return undefined;
}

function parsed<M extends HttpHeadMode>(result: HttpHeadResult<M> | HttpHeadError | undefined): HttpHeadResult<M> {
  assert.ok(result !== undefined, "the head is incomplete");
  assert.ok(!(result instanceof HttpHeadError), `unexpected error: ${result instanceof HttpHeadError && result.message}`);
  return result;
}

function failed(mode: HttpHeadMode, text: string): HttpHeadError {
  const result = new HttpHeadParser(mode).push(encoder.encode(text));
  assert.ok(result instanceof HttpHeadError, `expected an HttpHeadError for ${JSON.stringify(text)}`);
  return result;
}

describe("RFC 9112 section 3: request head", () => {
  test("HttpHeadParser reads method, target, version and headers, combining repeated fields", () => {
    const head = parsed(new HttpHeadParser("request").push(encoder.encode(REQUEST)));
    assert.equal(head.method, "GET");
    assert.equal(head.target, "/chat?room=1");
    assert.equal(head.version, "HTTP/1.1");
    assert.equal(head.headers.get("connection"), "keep-alive, Upgrade");
    assert.equal(head.headers.get("sec-websocket-protocol"), "chat, superchat");
    assert.equal(head.rest.length, 0);
  });

  test("HttpHeadParser gives the same head when the input is split at every byte boundary", () => {
    const bytes = bytesOf(REQUEST, 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f);
    for (let i = 0; i <= bytes.length; i++) {
      const head = parsed(feed(new HttpHeadParser("request"), [bytes.subarray(0, i), bytes.subarray(i)]));
      assert.equal(head.target, "/chat?room=1", `split at ${i}`);
      assert.equal(head.headers.get("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==", `split at ${i}`);
      assert.deepEqual([...head.rest], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f], `split at ${i}`);
    }
  });

  test("HttpHeadParser reads a head fed one byte at a time", () => {
    const bytes = bytesOf(REQUEST, 0x81);
    const chunks = [...bytes].map((byte) => new Uint8Array([byte]));
    const head = parsed(feed(new HttpHeadParser("request"), chunks));
    assert.equal(head.headers.get("origin"), "http://example.com");
    assert.deepEqual([...head.rest], [0x81]);
  });

  test("rest is a view into the chunk that ended the head, not a copy", () => {
    const bytes = bytesOf(REQUEST, 0x81, 0x00);
    const head = parsed(new HttpHeadParser("request").push(bytes));
    assert.equal(head.rest.buffer, bytes.buffer);
    assert.equal(head.rest.byteOffset, bytes.length - 2);
    const split = REQUEST.length - 3;
    const tail = bytes.subarray(split);
    const parser = new HttpHeadParser("request");
    assert.equal(parser.push(bytes.subarray(0, split)), undefined);
    const joined = parsed(parser.push(tail));
    assert.equal(joined.rest.buffer, bytes.buffer);
    assert.equal(joined.rest.byteOffset, bytes.length - 2);
  });

  test("HttpHeadParser keeps a partial head when the caller reuses the chunk's memory", () => {
    const bytes = encoder.encode(REQUEST);
    const parser = new HttpHeadParser("request");
    const reused = new Uint8Array(bytes.length);
    reused.set(bytes.subarray(0, 40));
    assert.equal(parser.push(reused.subarray(0, 40)), undefined);
    reused.fill(0x21);
    reused.set(bytes.subarray(40));
    const head = parsed(parser.push(reused.subarray(0, bytes.length - 40)));
    assert.equal(head.headers.get("host"), "server.example.com");
    assert.equal(head.headers.get("sec-websocket-version"), "13");
  });

  test("HttpHeadParser skips empty lines before the request line", () => {
    const head = parsed(new HttpHeadParser("request").push(encoder.encode("\r\n\r\n" + REQUEST)));
    assert.equal(head.method, "GET");
  });

  test("HttpHeadParser keeps obs-text bytes in values as Latin-1", () => {
    const bytes = bytesOf("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf", 0xe9, 0x0d, 0x0a, 0x0d, 0x0a);
    const head = parsed(new HttpHeadParser("request").push(bytes));
    assert.equal(head.headers.get("x-name"), "caf\u00e9");
  });

  test("HttpHeadParser answers a head longer than maxHeadBytes with 431", () => {
    const big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + "a".repeat(20000) + "\r\n\r\n";
    assert.equal(failed("request", big).status, 431);
    const small = new HttpHeadParser("request", { maxHeadBytes: 64 });
    const bytes = encoder.encode(REQUEST);
    let result;
    for (const byte of bytes) {
      result = small.push(new Uint8Array([byte]));
      if (result !== undefined) break;
    }
    assert.ok(result instanceof HttpHeadError);
    assert.equal(result.status, 431);
  });

  test("HttpHeadParser accepts a head of exactly maxHeadBytes", () => {
    const text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    parsed(new HttpHeadParser("request", { maxHeadBytes: text.length }).push(encoder.encode(text + "xyz")));
    const error = new HttpHeadParser("request", { maxHeadBytes: text.length - 1 }).push(encoder.encode(text));
    assert.ok(error instanceof HttpHeadError && error.status === 431);
  });

  test("HttpHeadParser answers malformed request and header lines with 400", () => {
    const cases = {
      "header line without a colon": "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
      "whitespace before the colon": "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
      "obsolete line folding": "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n",
      "name that is not a token": "GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n",
      "control character in a value": "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\n\r\n",
      "bare LF": "GET / HTTP/1.1\nHost: a\n\n",
      "bare CR": "GET / HTTP/1.1\rHost: a\r\n\r\n",
      "request line with two spaces": "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
      "request line without version": "GET /\r\nHost: a\r\n\r\n",
      "method that is not a token": "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
      "missing Host": "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
      "two Host fields": "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    };
    for (const [name, text] of Object.entries(cases)) {
      const error = failed("request", text);
      assert.equal(error.status, 400, name);
      assert.match(error.message, /^Cannot parse HTTP head: /, name);
    }
  });

  test("HttpHeadParser answers HTTP/1.0 with 505", () => {
    assert.equal(failed("request", "GET / HTTP/1.0\r\nHost: a\r\n\r\n").status, 505);
  });

  test("HttpHeadParser throws a TypeError when pushed to after the head", () => {
    const parser = new HttpHeadParser("request");
    parsed(parser.push(encoder.encode(REQUEST)));
    assert.throws(() => parser.push(new Uint8Array(1)), TypeError);
    const failing = new HttpHeadParser("request");
    assert.ok(failing.push(encoder.encode("\n")) instanceof HttpHeadError);
    assert.throws(() => failing.push(new Uint8Array(1)), TypeError);
  });

  test("HttpHeadParser throws a RangeError for a maxHeadBytes that is not a positive integer", () => {
    assert.throws(() => new HttpHeadParser("request", { maxHeadBytes: 0 }), RangeError);
    assert.throws(() => new HttpHeadParser("request", { maxHeadBytes: 1.5 }), RangeError);
  });
});

describe("checkRequestHead: the checks every server path applies (RFC 9112 sections 3.2 and 6.3)", () => {
  const upgrade = ["Host", "a", "Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="];

  test("checkRequestHead passes one Host, an upgrade with single handshake fields, and Content-Length: 0", () => {
    assert.equal(checkRequestHead("HTTP/1.1", ["Host", "a"]), undefined);
    assert.equal(checkRequestHead("HTTP/1.1", upgrade), undefined);
    assert.equal(checkRequestHead("HTTP/1.1", [...upgrade, "Content-Length", "0"]), undefined);
    // Without Upgrade, repeated Connection fields and a body are plain HTTP's business.
    assert.equal(checkRequestHead("HTTP/1.1", ["Host", "a", "Connection", "close", "Connection", "x", "Content-Length", "3"]), undefined);
  });

  test("checkRequestHead answers a version other than HTTP/1.1 with 505", () => {
    for (const version of ["HTTP/1.0", "HTTP/2.0", "HTTP/0.9"]) assert.equal(checkRequestHead(version, upgrade)?.status, 505, version);
  });

  test("checkRequestHead answers no Host, a second Host, Upgrade, Connection or Sec-WebSocket-Key in an upgrade, and a body, with 400", () => {
    const cases: Record<string, string[]> = {
      "no Host": upgrade.slice(2),
      "two Host fields": [...upgrade, "HOST", "b"],
      "two Upgrade fields": [...upgrade, "upgrade", "websocket"],
      "two Connection fields": [...upgrade, "Connection", "keep-alive"],
      "two Sec-WebSocket-Key fields": [...upgrade, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=="],
      "a Content-Length body": [...upgrade, "Content-Length", "7"],
      "Transfer-Encoding": [...upgrade, "Transfer-Encoding", "chunked"],
      "Transfer-Encoding: identity": [...upgrade, "transfer-encoding", "identity"],
    };
    for (const [name, fields] of Object.entries(cases)) {
      const error = checkRequestHead("HTTP/1.1", fields);
      assert.ok(error instanceof HttpHeadError, name);
      assert.equal(error.status, 400, name);
      assert.match(error.message, /^Cannot parse HTTP head: /, name);
    }
  });

  test("HttpHeadParser applies checkRequestHead: an upgrade request with a body or a second Upgrade is 400", () => {
    const head = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    assert.equal(failed("request", head + "Content-Length: 5\r\n\r\n").status, 400);
    assert.equal(failed("request", head + "Upgrade: websocket\r\n\r\n").status, 400);
  });
});

describe("RFC 9112 section 3.2: Request from a head", () => {
  test("requestFromHead keeps Connection, Upgrade, Host and Sec-WebSocket-* headers", () => {
    const head = parsed(new HttpHeadParser("request").push(encoder.encode(REQUEST)));
    const request = requestFromHead(head);
    assert.ok(request instanceof Request);
    assert.equal(request.url, "http://server.example.com/chat?room=1");
    assert.equal(request.method, "GET");
    for (const name of ["host", "connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol", "origin"]) {
      assert.equal(request.headers.get(name), head.headers.get(name), name);
    }
  });

  test("requestFromHead builds an https URL when asked and accepts an absolute-form target", () => {
    const head = parsed(new HttpHeadParser("request").push(encoder.encode("GET /x HTTP/1.1\r\nHost: a.test:8443\r\n\r\n")));
    const request = requestFromHead(head, { scheme: "https" });
    assert.ok(request instanceof Request);
    assert.equal(request.url, "https://a.test:8443/x");
    const absolute = parsed(new HttpHeadParser("request").push(encoder.encode("GET http://b.test/y HTTP/1.1\r\nHost: b.test\r\n\r\n")));
    assert.equal((requestFromHead(absolute) as Request).url, "http://b.test/y");
  });

  test("requestFromHead answers a Host that would change the path, or an asterisk target, with 400", () => {
    const head = parsed(new HttpHeadParser("request").push(encoder.encode("GET /x HTTP/1.1\r\nHost: a.test/evil\r\n\r\n")));
    const error = requestFromHead(head);
    assert.ok(error instanceof HttpHeadError);
    assert.equal(error.status, 400);
    const star = parsed(new HttpHeadParser("request").push(encoder.encode("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")));
    assert.ok(requestFromHead(star) instanceof HttpHeadError);
  });
});

describe("RFC 9112 section 4: response head", () => {
  test("HttpHeadParser reads status, reason phrase and headers at every byte boundary", () => {
    const bytes = bytesOf(RESPONSE, 0x81, 0x00);
    for (let i = 0; i <= bytes.length; i++) {
      const head = parsed(feed(new HttpHeadParser("response"), [bytes.subarray(0, i), bytes.subarray(i)]));
      assert.equal(head.status, 101, `split at ${i}`);
      assert.equal(head.statusText, "Switching Protocols", `split at ${i}`);
      assert.equal(head.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", `split at ${i}`);
      assert.deepEqual([...head.rest], [0x81, 0x00], `split at ${i}`);
    }
  });

  test("HttpHeadParser accepts a status line without a reason phrase", () => {
    const head = parsed(new HttpHeadParser("response").push(encoder.encode("HTTP/1.1 426\r\n\r\n")));
    assert.equal(head.status, 426);
    assert.equal(head.statusText, "");
  });

  test("HttpHeadParser answers a malformed status line with 400", () => {
    assert.equal(failed("response", "HTTP/1.1 1010 Nope\r\n\r\n").status, 400);
    assert.equal(failed("response", "SSH-2.0-OpenSSH\r\n\r\n").status, 400);
  });
});

describe("RFC 9112 sections 3 and 4: serializing heads", () => {
  test("serializeResponseHead writes the 101 with its default reason phrase", () => {
    const bytes = serializeResponseHead({ status: 101, headers: { Upgrade: "websocket" } });
    assert.equal(decoder.decode(bytes), "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n");
  });

  test("serializeResponseHead writes each Set-Cookie on its own line", () => {
    const headers = new Headers();
    headers.append("Set-Cookie", "a=1");
    headers.append("Set-Cookie", "b=2");
    const text = decoder.decode(serializeResponseHead({ status: 101, headers }));
    assert.match(text, /\r\nset-cookie: a=1\r\n/);
    assert.match(text, /\r\nset-cookie: b=2\r\n/);
  });

  test("a serialized head parses back to the same fields", () => {
    const bytes = serializeRequestHead({ method: "GET", target: "/a?b", headers: { Host: "h", "X-A": "caf\u00e9" } });
    const head = parsed(new HttpHeadParser("request").push(bytes));
    assert.equal(head.target, "/a?b");
    assert.equal(head.headers.get("x-a"), "caf\u00e9");
  });

  test("serializers refuse a bad method, target, status or reason phrase", () => {
    assert.throws(() => serializeRequestHead({ method: "G T", target: "/" }), TypeError);
    assert.throws(() => serializeRequestHead({ method: "GET", target: "/a b" }), TypeError);
    assert.throws(() => serializeResponseHead({ status: 99 }), RangeError);
    assert.throws(() => serializeResponseHead({ status: 200, statusText: "a\r\nb" }), TypeError);
  });

  test("serializeResponse writes status, Content-Length, Connection: close and the body", async () => {
    const response = new Response("Cannot upgrade", { status: 426, headers: { "Sec-WebSocket-Version": "13" } });
    const text = decoder.decode(await serializeResponse(response));
    const [head, body] = text.split("\r\n\r\n");
    const lines = head.split("\r\n");
    assert.equal(lines[0], "HTTP/1.1 426 Upgrade Required");
    assert.ok(lines.includes("content-length: 14"));
    assert.ok(lines.includes("connection: close"));
    assert.ok(lines.includes("sec-websocket-version: 13"));
    assert.equal(body, "Cannot upgrade");
  });
});
