import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  acceptUpgrade,
  type AcceptOptions,
  checkServerResponse,
  type ClientHandshake,
  computeAcceptKey,
  createClientHandshake,
  rejectUpgrade,
  type UpgradeAccepted,
  type UpgradeRejected,
} from "../../src/core/handshake.ts";
import { WebSocketError } from "../../src/core/websocket_error.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** The upgrade request of RFC 6455 section 1.2, with `changes` applied (null deletes a header). */
function upgradeRequest(changes: Record<string, string | null> = {}, method = "GET"): Request {
  const headers = new Headers({
    Host: "server.example.com",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
    Origin: "http://example.com",
  });
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return new Request("http://server.example.com/chat", { method, headers });
}

async function accepted(request: Request, options?: AcceptOptions): Promise<UpgradeAccepted> {
  const decision = await acceptUpgrade(request, options);
  assert.ok(decision.ok, `expected an accepted upgrade, got ${!decision.ok && decision.response.status}`);
  return decision;
}

async function rejected(request: Request, options?: AcceptOptions): Promise<UpgradeRejected> {
  const decision = await acceptUpgrade(request, options);
  assert.ok(!decision.ok, "expected a rejected upgrade");
  return decision;
}

describe("RFC 6455 section 1.3: Sec-WebSocket-Accept", () => {
  test("computeAcceptKey turns the RFC's example key into the RFC's accept value", async () => {
    assert.equal(await computeAcceptKey(KEY), ACCEPT);
  });

  test("computeAcceptKey agrees with node:crypto for 500 random keys, and for keys of other lengths", async () => {
    const { createHash, randomBytes } = await import("node:crypto");
    const expected = (key: string) => createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
    for (let i = 0; i < 500; i++) {
      const key = randomBytes(16).toString("base64");
      assert.equal(await computeAcceptKey(key), expected(key), key);
    }
    for (const key of ["", "short", "x".repeat(23), "x".repeat(25), randomBytes(40).toString("base64")]) {
      assert.equal(await computeAcceptKey(key), expected(key), key);
    }
    // 24 characters, one of them not ASCII: hashed as its UTF-8 bytes.
    const wide = "dGhlIHNhbXBsZSBub25jZQ=\u00e9";
    assert.equal(await computeAcceptKey(wide), expected(wide));
  });
});

describe("RFC 6455 section 4.2.1: reading the client's opening handshake", () => {
  test("acceptUpgrade accepts the RFC's example request with the RFC's headers", async () => {
    const decision = await accepted(upgradeRequest());
    assert.equal(decision.status, 101);
    assert.equal(decision.key, KEY);
    assert.equal(decision.protocol, "");
    assert.equal(decision.extensions, "");
    assert.equal(decision.headers.get("upgrade"), "websocket");
    assert.equal(decision.headers.get("connection"), "Upgrade");
    assert.equal(decision.headers.get("sec-websocket-accept"), ACCEPT);
    assert.equal(decision.headers.has("sec-websocket-protocol"), false);
    assert.equal(decision.headers.has("sec-websocket-extensions"), false);
  });

  test("acceptUpgrade finds the Connection upgrade token in any case and list position", async () => {
    for (const connection of ["upgrade", "UPGRADE", "keep-alive, Upgrade", "Upgrade,keep-alive", "keep-alive , upgrade , x", ", ,\tUpgrade\t,", "x,,upgrade"]) {
      await accepted(upgradeRequest({ Connection: connection }));
    }
    await accepted(upgradeRequest({ Upgrade: "WebSocket" }));
  });

  test("acceptUpgrade answers a method other than GET with 405 and Allow: GET", async () => {
    const { response } = await rejected(upgradeRequest({}, "POST"));
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "GET");
    assert.match(await response.text(), /POST/);
  });

  test("acceptUpgrade answers a missing or wrong Upgrade header with 400", async () => {
    for (const upgrade of [null, "h2c", "websocketx", "web socket", "websocke", ","]) {
      const { response } = await rejected(upgradeRequest({ Upgrade: upgrade }));
      assert.equal(response.status, 400);
      assert.match(await response.text(), /Upgrade/);
    }
  });

  test("acceptUpgrade answers a Connection header without upgrade with 400", async () => {
    for (const connection of [null, "keep-alive", "upgrades", "up grade", "upgrad", "keep-alive,, x-upgrade"]) {
      const { response } = await rejected(upgradeRequest({ Connection: connection }));
      assert.equal(response.status, 400);
      assert.match(await response.text(), /Connection/);
    }
  });

  test("acceptUpgrade answers a wrong or missing Sec-WebSocket-Version with 426 and Sec-WebSocket-Version: 13", async () => {
    for (const version of ["8", null, "13, 8"]) {
      const { response } = await rejected(upgradeRequest({ "Sec-WebSocket-Version": version }));
      assert.equal(response.status, 426);
      assert.equal(response.headers.get("sec-websocket-version"), "13");
      assert.match(await response.text(), /Sec-WebSocket-Version/);
    }
  });

  test("acceptUpgrade answers a Sec-WebSocket-Key that is not 16 bytes of base64 with 400", async () => {
    for (const key of [null, "", "dGhlIHNhbXBsZQ==", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZSE=", `${KEY}, ${KEY}`]) {
      const { response } = await rejected(upgradeRequest({ "Sec-WebSocket-Key": key }));
      assert.equal(response.status, 400, String(key));
      assert.match(await response.text(), /Sec-WebSocket-Key/);
    }
  });

  test("acceptUpgrade answers a Sec-WebSocket-Protocol that is not a token list with 400", async () => {
    const { response } = await rejected(upgradeRequest({ "Sec-WebSocket-Protocol": "chat, a b" }));
    assert.equal(response.status, 400);
  });

  test("acceptUpgrade decides the same after the caller awaited other work", async () => {
    const request = upgradeRequest();
    await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
    await new Response("x").text();
    assert.equal((await accepted(request)).headers.get("sec-websocket-accept"), ACCEPT);
  });
});

describe("RFC 6455 section 10.2: Origin and Host checks", () => {
  test("acceptUpgrade accepts an allowed origin in any case and answers others with 403", async () => {
    await accepted(upgradeRequest(), { origins: ["HTTP://EXAMPLE.COM"] });
    const { response } = await rejected(upgradeRequest({ Origin: "http://evil.example" }), { origins: ["http://example.com"] });
    assert.equal(response.status, 403);
    assert.match(await response.text(), /origin/);
  });

  test("acceptUpgrade answers a missing Origin with 403 under an allow-list, and asks a predicate", async () => {
    assert.equal((await rejected(upgradeRequest({ Origin: null }), { origins: ["http://example.com"] })).response.status, 403);
    const seen: (string | null)[] = [];
    await accepted(upgradeRequest({ Origin: null }), { origins: (origin) => (seen.push(origin), origin === null) });
    assert.deepEqual(seen, [null]);
    await rejected(upgradeRequest(), { origins: async () => false });
  });

  test("acceptUpgrade answers a Host outside the allow-list with 403", async () => {
    await accepted(upgradeRequest(), { hosts: ["Server.Example.com"] });
    const { response } = await rejected(upgradeRequest({ Host: "other.example" }), { hosts: ["server.example.com"] });
    assert.equal(response.status, 403);
    assert.match(await response.text(), /host/);
  });

  test("with an allow-list, a request without a Host header gets 400, even when its URL names an allowed host", async () => {
    const request = new Request("http://server.example.com/chat", { headers: { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": KEY, "Sec-WebSocket-Version": "13" } });
    const { response } = await rejected(request, { hosts: ["server.example.com"] });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /Host header is missing/);
  });
});

describe("RFC 6455 section 4.2.2: the server's opening handshake", () => {
  test("acceptUpgrade hands the offered subprotocols in order to a sync callback and echoes its choice", async () => {
    let offered: string[] = [];
    const decision = await accepted(upgradeRequest({ "Sec-WebSocket-Protocol": "chat,  superchat" }), {
      protocol: (list) => (offered = list, "superchat"),
    });
    assert.deepEqual(offered, ["chat", "superchat"]);
    assert.equal(decision.protocol, "superchat");
    assert.equal(decision.headers.get("sec-websocket-protocol"), "superchat");
  });

  test("acceptUpgrade awaits an async subprotocol callback and sends none when it returns undefined", async () => {
    const request = upgradeRequest({ "Sec-WebSocket-Protocol": "chat" });
    const chosen = await accepted(request, { protocol: async (list, req) => (req === request ? list[0] : undefined) });
    assert.equal(chosen.protocol, "chat");
    const none = await accepted(upgradeRequest({ "Sec-WebSocket-Protocol": "chat" }), { protocol: async () => undefined });
    assert.equal(none.protocol, "");
    assert.equal(none.headers.has("sec-websocket-protocol"), false);
  });

  test("acceptUpgrade throws a TypeError when the callback picks a subprotocol the client did not offer", async () => {
    await assert.rejects(
      acceptUpgrade(upgradeRequest({ "Sec-WebSocket-Protocol": "chat" }), { protocol: () => "superchat" }),
      (error: unknown) => error instanceof TypeError && /did not offer/.test(error.message),
    );
  });

  test("acceptUpgrade puts the caller's extra headers on the 101 and refuses handshake headers there", async () => {
    const headers = new Headers([["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"], ["X-Server", "wsflow"]]);
    const decision = await accepted(upgradeRequest(), { headers });
    assert.deepEqual(decision.headers.getSetCookie(), ["a=1", "b=2"]);
    assert.equal(decision.headers.get("x-server"), "wsflow");
    await assert.rejects(acceptUpgrade(upgradeRequest(), { headers: { "Sec-WebSocket-Accept": "x" } }), TypeError);
  });

  test("acceptUpgrade accepts no extension by default and the hook's answer when given", async () => {
    const request = () => upgradeRequest({ "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits" });
    assert.equal((await accepted(request())).headers.has("sec-websocket-extensions"), false);
    let offer = "";
    const decision = await accepted(request(), { extensions: (value) => (offer = value, "permessage-deflate") });
    assert.equal(offer, "permessage-deflate; client_max_window_bits");
    assert.equal(decision.extensions, "permessage-deflate");
    assert.equal(decision.headers.get("sec-websocket-extensions"), "permessage-deflate");
  });

  test("rejectUpgrade builds a response with the status, reason and headers", async () => {
    const response = rejectUpgrade(401, "Log in first", { headers: { "WWW-Authenticate": "Bearer" } });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get("www-authenticate"), "Bearer");
    assert.equal(await response.text(), "Log in first");
  });

  test("rejectUpgrade throws a RangeError for a status outside 400-599", () => {
    for (const status of [101, 200, 399, 600, 404.5]) assert.throws(() => rejectUpgrade(status, "no"), RangeError);
  });
});

describe("RFC 6455 section 4.1: the client's opening handshake", () => {
  const fixedKey = () => Uint8Array.from({ length: 16 }, (_, i) => i);

  test("createClientHandshake builds the request headers from the URL and options", () => {
    const handshake = createClientHandshake("ws://a.test:8080/chat?room=1", {
      protocols: ["chat", "superchat"],
      extensions: "permessage-deflate",
      headers: { Authorization: "Bearer t" },
      randomBytes: fixedKey,
    });
    assert.equal(handshake.key, "AAECAwQFBgcICQoLDA0ODw==");
    assert.equal(handshake.path, "/chat?room=1");
    assert.equal(handshake.host, "a.test:8080");
    const headers = Object.fromEntries(handshake.headers);
    assert.deepEqual(headers, {
      authorization: "Bearer t",
      connection: "Upgrade",
      host: "a.test:8080",
      "sec-websocket-extensions": "permessage-deflate",
      "sec-websocket-key": "AAECAwQFBgcICQoLDA0ODw==",
      "sec-websocket-protocol": "chat, superchat",
      "sec-websocket-version": "13",
      upgrade: "websocket",
    });
  });

  test("createClientHandshake maps http: and https: to ws: and wss: and drops default ports from Host", () => {
    const plain = createClientHandshake("http://a.test:80/");
    assert.equal(plain.url.href, "ws://a.test/");
    assert.equal(plain.host, "a.test");
    const secure = createClientHandshake(new URL("https://a.test:8443"));
    assert.equal(secure.url.protocol, "wss:");
    assert.equal(secure.host, "a.test:8443");
    assert.equal(secure.path, "/");
    assert.equal(createClientHandshake("wss://a.test:443/x").host, "a.test");
  });

  test("createClientHandshake makes a fresh 16-byte key each time by default", () => {
    const a = createClientHandshake("ws://a.test/").key;
    const b = createClientHandshake("ws://a.test/").key;
    assert.match(a, /^[A-Za-z0-9+/]{22}==$/);
    assert.notEqual(a, b);
  });

  test("createClientHandshake throws a SyntaxError for bad URLs and protocols", () => {
    const cases: [string, string | string[]][] = [
      ["ftp://a.test/", []],
      ["/relative", []],
      ["ws://a.test/#frag", []],
      ["ws://a.test/#", []],
      ["ws://a.test/", ["chat", "chat"]],
      ["ws://a.test/", "a b"],
      ["ws://a.test/", [""]],
    ];
    for (const [url, protocols] of cases) {
      assert.throws(
        () => createClientHandshake(url, { protocols }),
        (error: unknown) => error instanceof DOMException && error.name === "SyntaxError",
        `${url} ${JSON.stringify(protocols)}`,
      );
    }
  });

  test("createClientHandshake throws a TypeError for handshake headers or a short random key", () => {
    assert.throws(() => createClientHandshake("ws://a.test/", { headers: { "Sec-WebSocket-Key": "x" } }), TypeError);
    assert.throws(() => createClientHandshake("ws://a.test/", { randomBytes: () => new Uint8Array(8) }), TypeError);
  });
});

describe("RFC 6455 section 4.1: checking the server's response", () => {
  const handshake: ClientHandshake = createClientHandshake("ws://server.example.com/chat", {
    protocols: ["chat", "superchat"],
    randomBytes: () => Uint8Array.from(atob(KEY), (c) => c.charCodeAt(0)),
  });

  function serverHeaders(changes: Record<string, string | null> = {}): Headers {
    const headers = new Headers({ Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Accept": ACCEPT });
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) headers.delete(name);
      else headers.set(name, value);
    }
    return headers;
  }

  async function failure(status: number, headers: Headers, pattern: RegExp, client = handshake) {
    await assert.rejects(checkServerResponse({ status, headers }, client), (error: unknown) => {
      assert.ok(error instanceof WebSocketError);
      assert.equal(error.closeCode, 1006);
      assert.match(error.message, /^Cannot complete WebSocket handshake: /);
      assert.match(error.message, pattern);
      return true;
    });
  }

  test("checkServerResponse accepts the RFC's example response and the chosen protocol", async () => {
    assert.equal(handshake.key, KEY);
    assert.deepEqual(await checkServerResponse({ status: 101, headers: serverHeaders() }, handshake), { protocol: "", extensions: "" });
    const chosen = await checkServerResponse({ status: 101, headers: serverHeaders({ "Sec-WebSocket-Protocol": "chat", Connection: "keep-alive, upgrade", Upgrade: "WebSocket" }) }, handshake);
    assert.equal(chosen.protocol, "chat");
  });

  test("checkServerResponse names a status other than 101", async () => {
    await failure(403, serverHeaders(), /403/);
    await failure(200, serverHeaders(), /200 instead of 101/);
  });

  test("checkServerResponse names a wrong Upgrade or Connection header", async () => {
    await failure(101, serverHeaders({ Upgrade: null }), /Upgrade/);
    await failure(101, serverHeaders({ Upgrade: "h2c" }), /Upgrade/);
    await failure(101, serverHeaders({ Connection: "keep-alive" }), /Connection/);
  });

  test("checkServerResponse names a wrong or missing Sec-WebSocket-Accept", async () => {
    await failure(101, serverHeaders({ "Sec-WebSocket-Accept": "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" }), /Sec-WebSocket-Accept/);
    await failure(101, serverHeaders({ "Sec-WebSocket-Accept": null }), /Sec-WebSocket-Accept/);
  });

  test("checkServerResponse names a protocol the client did not offer, or any when none was offered", async () => {
    await failure(101, serverHeaders({ "Sec-WebSocket-Protocol": "other" }), /protocol "other"/);
    await failure(101, serverHeaders({ "Sec-WebSocket-Protocol": "chat, superchat" }), /protocol/);
    const bare = { ...handshake, protocols: [] };
    await failure(101, serverHeaders({ "Sec-WebSocket-Protocol": "chat" }), /protocol "chat"/, bare);
  });

  test("checkServerResponse names extensions by default and defers to the extensions hook", async () => {
    const headers = serverHeaders({ "Sec-WebSocket-Extensions": "permessage-deflate" });
    await failure(101, headers, /extensions "permessage-deflate"/);
    const kept = await checkServerResponse({ status: 101, headers }, handshake, { extensions: () => true });
    assert.equal(kept.extensions, "permessage-deflate");
    const replaced = await checkServerResponse({ status: 101, headers }, handshake, { extensions: () => "pmd" });
    assert.equal(replaced.extensions, "pmd");
    await assert.rejects(checkServerResponse({ status: 101, headers }, handshake, { extensions: () => false }), WebSocketError);
  });
});
