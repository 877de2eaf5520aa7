import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  acceptPerMessageDeflate,
  checkPerMessageDeflate,
  formatExtensions,
  offerPerMessageDeflate,
  parseExtensions,
  type PerMessageDeflateOptions,
} from "../../src/core/extensions.ts";

const defaults = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

describe("RFC 6455 section 9.1: Sec-WebSocket-Extensions grammar", () => {
  test("parseExtensions reads several offers, parameters, quoted values and any case", () => {
    assert.deepEqual(parseExtensions('Permessage-Deflate ; Client_Max_Window_Bits,permessage-deflate;server_max_window_bits="10" , x-foo'), [
      { name: "permessage-deflate", params: [["client_max_window_bits", true]] },
      { name: "permessage-deflate", params: [["server_max_window_bits", "10"]] },
      { name: "x-foo", params: [] },
    ]);
  });

  test("parseExtensions unescapes quoted values and keeps duplicates", () => {
    assert.deepEqual(parseExtensions('a; b="\\1\\0"; b=2'), [{ name: "a", params: [["b", "10"], ["b", "2"]] }]);
  });

  test("parseExtensions rejects what the grammar does not allow", () => {
    for (const bad of ["", ",", "a;", "a; =1", "a; b=", 'a; b="1', 'a; b="x y"', "a b", "a; b=1 c", "a/b", 'a; b=""']) {
      assert.throws(() => parseExtensions(bad), SyntaxError, bad);
    }
  });

  test("formatExtensions writes what parseExtensions reads", () => {
    const text = "permessage-deflate; server_no_context_takeover; client_max_window_bits=10, x-foo";
    assert.equal(formatExtensions(parseExtensions(text)), text);
  });
});

describe("RFC 7692 section 7.1: the server accepts the first offer it can honour", () => {
  const cases: [string, PerMessageDeflateOptions, string | undefined, Partial<typeof defaults>?][] = [
    ["permessage-deflate", {}, "permessage-deflate", {}],
    ["permessage-deflate; client_max_window_bits", {}, "permessage-deflate", {}],
    ["permessage-deflate; server_no_context_takeover", {}, "permessage-deflate; server_no_context_takeover", { serverNoContextTakeover: true }],
    // The client's hint is echoed (section 7.1.1.2), unless refused.
    ["permessage-deflate; client_no_context_takeover", {}, "permessage-deflate; client_no_context_takeover", { clientNoContextTakeover: true }],
    ["permessage-deflate; client_no_context_takeover", { clientNoContextTakeover: false }, "permessage-deflate", {}],
    ["permessage-deflate", { serverNoContextTakeover: true, clientNoContextTakeover: true }, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", { serverNoContextTakeover: true, clientNoContextTakeover: true }],
    ["permessage-deflate; server_max_window_bits=10", {}, "permessage-deflate; server_max_window_bits=10", { serverMaxWindowBits: 10 }],
    ["permessage-deflate; server_max_window_bits=12", { serverMaxWindowBits: 9 }, "permessage-deflate; server_max_window_bits=9", { serverMaxWindowBits: 9 }],
    ["permessage-deflate; server_max_window_bits=8", { serverMaxWindowBits: 12 }, "permessage-deflate; server_max_window_bits=8", { serverMaxWindowBits: 8 }],
    // A smaller window than announced needs no announcement (section 7.1.2.1).
    ["permessage-deflate", { serverMaxWindowBits: 10 }, "permessage-deflate", { serverMaxWindowBits: 10 }],
    ["permessage-deflate; client_max_window_bits", { clientMaxWindowBits: 10 }, "permessage-deflate; client_max_window_bits=10", { clientMaxWindowBits: 10 }],
    ["permessage-deflate; client_max_window_bits=9", { clientMaxWindowBits: 12 }, "permessage-deflate; client_max_window_bits=9", { clientMaxWindowBits: 9 }],
    ["permessage-deflate; client_max_window_bits=9", {}, "permessage-deflate", { clientMaxWindowBits: 9 }],
    // Declined offers: the next one is tried.
    ["permessage-deflate; client_max_window_bits=10; client_max_window_bits=11, permessage-deflate", {}, "permessage-deflate", {}],
    ["permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=9", {}, "permessage-deflate; server_max_window_bits=9", { serverMaxWindowBits: 9 }],
    ["permessage-deflate; server_max_window_bits, permessage-deflate", {}, "permessage-deflate", {}],
    ["permessage-deflate; server_max_window_bits=010, permessage-deflate", {}, "permessage-deflate", {}],
    ["permessage-deflate; client_max_window_bits=16, permessage-deflate", {}, "permessage-deflate", {}],
    ["permessage-deflate; server_no_context_takeover=1, permessage-deflate", {}, "permessage-deflate", {}],
    ["permessage-deflate; x=1, permessage-deflate; client_no_context_takeover", {}, "permessage-deflate; client_no_context_takeover", { clientNoContextTakeover: true }],
    ["permessage-deflate; server_no_context_takeover, permessage-deflate", { serverNoContextTakeover: false }, "permessage-deflate", {}],
    ["permessage-deflate, permessage-deflate; client_max_window_bits", { clientMaxWindowBits: 10 }, "permessage-deflate; client_max_window_bits=10", { clientMaxWindowBits: 10 }],
    ["x-other, permessage-deflate", {}, "permessage-deflate", {}],
    // Nothing acceptable.
    ["permessage-deflate", { clientMaxWindowBits: 10 }, undefined],
    ["permessage-deflate; server_no_context_takeover", { serverNoContextTakeover: false }, undefined],
    ["permessage-deflate; server_max_window_bits=16", {}, undefined],
    ["x-other", {}, undefined],
    ["permessage-deflate; a=", {}, undefined],
  ];
  for (const [offer, options, response, params] of cases) {
    test(`acceptPerMessageDeflate(${JSON.stringify(offer)}, ${JSON.stringify(options)}) answers ${JSON.stringify(response)}`, () => {
      const accepted = acceptPerMessageDeflate(offer, options);
      if (response === undefined) return assert.equal(accepted, undefined);
      assert.equal(accepted?.response, response);
      assert.deepEqual(accepted?.params, { ...defaults, ...params });
    });
  }

  test("acceptPerMessageDeflate throws on window bits options outside 8 to 15", () => {
    assert.throws(() => acceptPerMessageDeflate("permessage-deflate", { serverMaxWindowBits: 16 }), RangeError);
    assert.throws(() => acceptPerMessageDeflate("permessage-deflate", { clientMaxWindowBits: 7 }), RangeError);
  });
});

describe("RFC 7692 section 5.1: the client offers, then checks the response", () => {
  test("offerPerMessageDeflate writes each option", () => {
    assert.equal(offerPerMessageDeflate(), "permessage-deflate; client_max_window_bits");
    assert.equal(
      offerPerMessageDeflate({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 }),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
    );
    assert.equal(offerPerMessageDeflate({ clientMaxWindowBits: false }), "permessage-deflate");
  });

  const accepted: [string, PerMessageDeflateOptions, Partial<typeof defaults>][] = [
    ["permessage-deflate", {}, {}],
    ["PerMessage-Deflate; Server_No_Context_Takeover", {}, { serverNoContextTakeover: true }],
    ["permessage-deflate; client_no_context_takeover", {}, { clientNoContextTakeover: true }],
    ["permessage-deflate", { clientNoContextTakeover: true }, { clientNoContextTakeover: true }],
    ["permessage-deflate; server_no_context_takeover", { serverNoContextTakeover: true }, { serverNoContextTakeover: true }],
    ["permessage-deflate; server_max_window_bits=10", {}, { serverMaxWindowBits: 10 }],
    ["permessage-deflate; server_max_window_bits=9", { serverMaxWindowBits: 10 }, { serverMaxWindowBits: 9 }],
    ["permessage-deflate; client_max_window_bits=10", {}, { clientMaxWindowBits: 10 }],
    ['permessage-deflate; client_max_window_bits="12"', { clientMaxWindowBits: 9 }, { clientMaxWindowBits: 9 }],
  ];
  for (const [response, options, params] of accepted) {
    test(`checkPerMessageDeflate accepts ${JSON.stringify(response)} for ${JSON.stringify(options)}`, () => {
      assert.deepEqual(checkPerMessageDeflate(response, options), { ...defaults, ...params });
    });
  }

  const failed: [string, PerMessageDeflateOptions, RegExp][] = [
    ["permessage-deflate; client_max_window_bits=10", { clientMaxWindowBits: false }, /client_max_window_bits, which the client did not offer/],
    ["permessage-deflate; client_max_window_bits", {}, /client_max_window_bits has no value/],
    ["permessage-deflate; server_max_window_bits=12", { serverMaxWindowBits: 10 }, /more than the 10 offered/],
    ["permessage-deflate", { serverMaxWindowBits: 10 }, /did not agree to server_max_window_bits=10/],
    ["permessage-deflate", { serverNoContextTakeover: true }, /did not agree to server_no_context_takeover/],
    ["permessage-deflate; server_no_context_takeover", { serverNoContextTakeover: false }, /which the client refuses/],
    ["permessage-deflate; client_no_context_takeover", { clientNoContextTakeover: false }, /which the client refuses/],
    ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}, /duplicated parameter server_no_context_takeover/],
    ["permessage-deflate; server_max_window_bits=7", {}, /server_max_window_bits must be 8 to 15/],
    ["permessage-deflate; server_max_window_bits", {}, /server_max_window_bits needs a value/],
    ["permessage-deflate; client_no_context_takeover=yes", {}, /client_no_context_takeover takes no value/],
    ["permessage-deflate; foo", {}, /unknown parameter foo/],
    ["permessage-deflate, permessage-deflate", {}, /only one permessage-deflate was offered/],
    ["x-foo", {}, /only one permessage-deflate was offered/],
    ["permessage-deflate;", {}, /Cannot parse/],
  ];
  for (const [response, options, message] of failed) {
    test(`checkPerMessageDeflate fails on ${JSON.stringify(response)} for ${JSON.stringify(options)}`, () => {
      assert.throws(() => checkPerMessageDeflate(response, options), (error: Error) => error instanceof SyntaxError && message.test(error.message));
    });
  }

  test("a client and a server agree on what the server answers", () => {
    for (const options of [{}, { serverNoContextTakeover: true }, { serverMaxWindowBits: 9, clientMaxWindowBits: 10 }, { clientNoContextTakeover: true }]) {
      const accepted = acceptPerMessageDeflate(offerPerMessageDeflate(options), options);
      assert.ok(accepted);
      assert.deepEqual(checkPerMessageDeflate(accepted.response, options), accepted.params, JSON.stringify(options));
    }
  });
});
